// SPDX-License-Identifier: MIT
/* Node score with heuristic fallbacks for missing model outputs. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/score.h"
#include "nodescore/wire.h"

/* Heuristic, used wherever a model output is NaN (see docs/agent.md):
 *
 *   cpu      = cpu_util, else load1/ncpu, else 0.5 (unknown: neither good nor bad)
 *   mem      = mem_util, else 0.5
 *   peak     = forecast peak, else the current value
 *   pressure = max(psi cpu some, memory some, io some) / 100, 0 when unknown
 *   headroom = clamp(c*(1-cpu_peak) + (1-c)*(1-mem_peak) - pressure, 0, 1),
 *              c = --headroom-cpu-share (0.5)
 *   Q        = Q-table value, else headroom
 *   anomaly  = isolation forest score, else 0
 *   score    = 1000 * clamp(w_f*headroom + w_q*Q + w_a*(1-anomaly), 0, 1)
 *
 * Except when CPU or memory use is not measured at all (a broken /proc):
 * the message then carries the neutral score 500, the degraded flag, and
 * NS_WIRE_FREE_UNKNOWN for the free amounts it cannot know, rather than a
 * score and zero headroom made up from the 0.5 stand-ins, which made the
 * extender filter a healthy node out.
 */

static double clamp01(double v)
{
	if (isnan(v))
		return 0;
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

static int have(double v)
{
	return !isnan(v);
}

void ns_score_input_init(struct ns_score_input *in)
{
	in->cpu_util = in->mem_util = in->load1 = in->ncpu = NAN;
	in->mem_total_mib = in->mem_avail_mib = NAN;
	in->psi_cpu_some = in->psi_mem_some = in->psi_io_some = NAN;
	in->degraded = 0;
	in->anomaly = in->cpu_peak_fc = in->mem_peak_fc = in->q_value = NAN;
	in->anomaly_flag = 0;
	in->top_feature = NULL;
}

void ns_score_input_from_sample(struct ns_score_input *in, const struct ns_sample *s)
{
	in->cpu_util = s->v[NS_M_CPU_UTIL];
	in->mem_util = s->v[NS_M_MEM_UTIL];
	in->load1 = s->v[NS_M_LOAD1];
	in->ncpu = s->v[NS_M_NCPU];
	in->mem_total_mib = s->v[NS_M_MEM_TOTAL_MIB];
	in->mem_avail_mib = s->v[NS_M_MEM_AVAIL_MIB];
	in->psi_cpu_some = s->v[NS_M_PSI_CPU_SOME];
	in->psi_mem_some = s->v[NS_M_PSI_MEM_SOME];
	in->psi_io_some = s->v[NS_M_PSI_IO_SOME];
}

int ns_score_parse_weights(const char *s, struct ns_score_weights *w)
{
	double v[3], sum = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		char *end;

		if (*p == ' ' || *p == '\0')
			return -EINVAL;
		errno = 0;
		v[i] = strtod(p, &end);
		if (errno || end == p || !isfinite(v[i]) || v[i] < 0 || v[i] > 1)
			return -EINVAL;
		p = end;
		if (i < 2 && *p++ != ',')
			return -EINVAL;
		sum += v[i];
	}
	if (*p != '\0' || sum <= 0)
		return -EINVAL;
	w->f = v[0] / sum;
	w->q = v[1] / sum;
	w->a = v[2] / sum;
	w->cpu_share = NS_SCORE_CPU_SHARE_DEFAULT;
	return 0;
}

static double to_u32(double v)
{
	if (!(v > 0))
		return 0;
	return v > 4294967295.0 ? 4294967295.0 : round(v);
}

void ns_score_compute(const struct ns_score_weights *w, const struct ns_score_input *in,
		      struct ns_score_output *out)
{
	int fallback = 0, cpu_unknown = 0, mem_unknown;
	double cpu, mem, pressure = 0, headroom, q, anomaly, total;

	memset(out, 0, sizeof(*out));
	if (have(in->cpu_util))
		cpu = clamp01(in->cpu_util);
	else if (have(in->load1) && in->ncpu >= 1)
		cpu = clamp01(in->load1 / in->ncpu);
	else
		cpu = 0.5, cpu_unknown = 1;
	mem = have(in->mem_util) ? clamp01(in->mem_util) : 0.5;
	mem_unknown = !have(in->mem_util);
	out->cpu_now = cpu;
	out->mem_now = mem;

	/* Forecast: never below now, a peak cannot be lower than the present. */
	if (have(in->cpu_peak_fc))
		out->cpu_peak = fmax(cpu, clamp01(in->cpu_peak_fc));
	else {
		out->cpu_peak = cpu;
		fallback = 1;
	}
	if (have(in->mem_peak_fc))
		out->mem_peak = fmax(mem, clamp01(in->mem_peak_fc));
	else {
		out->mem_peak = mem;
		fallback = 1;
	}

	if (have(in->psi_cpu_some))
		pressure = fmax(pressure, in->psi_cpu_some);
	if (have(in->psi_mem_some))
		pressure = fmax(pressure, in->psi_mem_some);
	if (have(in->psi_io_some))
		pressure = fmax(pressure, in->psi_io_some);
	pressure = clamp01(pressure / 100.0);
	out->pressure = pressure;

	headroom = clamp01(w->cpu_share * (1 - out->cpu_peak) +
			   (1 - w->cpu_share) * (1 - out->mem_peak) - pressure);
	out->headroom = headroom;

	/* A missing part with weight 0 changes nothing in the score, so it does
	 * not make the score a fallback (e.g. --weights 0.5,0,0.5 without a Q-table). */
	if (have(in->q_value))
		q = clamp01(in->q_value);
	else {
		q = headroom;
		fallback |= w->q > 0;
	}
	out->q_value = q;

	if (have(in->anomaly)) {
		anomaly = clamp01(in->anomaly);
		if (in->anomaly_flag)
			out->flags |= NS_FLAG_ANOMALY;
		out->top_feature = in->top_feature;
	} else {
		anomaly = 0;
		fallback |= w->a > 0;
	}
	out->anomaly = anomaly;

	total = clamp01(w->f * headroom + w->q * q + w->a * (1 - anomaly));
	out->score = (uint16_t)lround(total * NS_SCORE_MAX);
	if (fallback)
		out->flags |= NS_FLAG_MODEL_FALLBACK;
	if (in->degraded)
		out->flags |= NS_FLAG_DEGRADED;

	out->free_millicores = NS_WIRE_FREE_UNKNOWN;
	out->free_mib = NS_WIRE_FREE_UNKNOWN;
	if (in->ncpu >= 1 && !cpu_unknown)
		out->free_millicores = (uint32_t)to_u32((1 - out->cpu_peak) * in->ncpu * 1000.0);
	if (have(in->mem_peak_fc) && have(in->mem_total_mib) && !mem_unknown)
		out->free_mib = (uint32_t)to_u32((1 - out->mem_peak) * in->mem_total_mib);
	else if (have(in->mem_avail_mib))
		out->free_mib = (uint32_t)to_u32(in->mem_avail_mib);
	if (cpu_unknown || mem_unknown) {
		out->score = NS_SCORE_MAX / 2;
		out->flags |= NS_FLAG_DEGRADED;
	}
}
