// SPDX-License-Identifier: MIT
/* The agent's forecaster: bundle load and validation, the feature pipeline
 * fed on the bundle's step grid, the two peaks the score uses, warm-up from
 * the history ring and hot reload of a changed bundle. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models_int.h"
#include "nodescore/clock.h"
#include "nodescore/bundle.h"
#include "nodescore/log.h"
#include "nodescore/ring.h"

static void fc_sigs(const struct ns_models *m, struct sig out[2])
{
	char p[PATH_CAP + 32];

	snprintf(p, sizeof(p), "%s/" NS_BUNDLE_MANIFEST, m->fc_path);
	out[0] = ns_models_sig_of(p);
	snprintf(p, sizeof(p), "%s/forecast.nsf", m->fc_path);
	out[1] = ns_models_sig_of(p);
}

/* Loads and fully validates a bundle; on success *fc and the peak indices.
 * shared (NULL = load the bundle) is a model already loaded from it: a
 * reference to it is taken instead, the rest is the same. */
static int fc_load(const struct ns_models *m, struct ns_forecast *shared, struct ns_forecast **fc,
		   int *cpu, int *mem, char *version, size_t vlen, char *err, size_t errlen)
{
	struct ns_bundle *b = NULL;
	const char *v;
	int rc;

	*fc = NULL;
	rc = ns_bundle_open(m->fc_path, &b, err, errlen);
	if (rc)
		return rc;
	v = ns_bundle_get(b, "version");
	snprintf(version, vlen, "%s", v && *v ? v : "unknown");
	/* It goes into log lines and a metric label: keep it to a safe charset. */
	for (char *c = version; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-+:", *c))
			*c = '_';
	ns_bundle_close(b);
	if (shared)
		*fc = ns_forecast_ref(shared);
	else if ((rc = ns_forecast_load_bundle(m->fc_path, fc, err, errlen)) != 0)
		return rc;
	*cpu = ns_forecast_find(*fc, NS_M_CPU_UTIL, NS_FC_PEAK, m->cfg.horizon_s);
	*mem = ns_forecast_find(*fc, NS_M_MEM_UTIL, NS_FC_PEAK, m->cfg.horizon_s);
	if (*cpu < 0 || *mem < 0) {
		snprintf(err, errlen,
			 "bundle has no cpu_util and mem_util peak model at horizon_s=%u "
			 "(--forecast-horizon)",
			 m->cfg.horizon_s);
		ns_forecast_free(*fc);
		*fc = NULL;
		return -EINVAL;
	}
	return 0;
}

static int feat_cfg_eq(const struct ns_feat_config *a, const struct ns_feat_config *b)
{
	return a->step_ms == b->step_ms && a->metric_mask == b->metric_mask;
}

static void fc_predict(struct ns_models *m)
{
	size_t nf = ns_feat_count(m->feat);
	uint64_t t0;
	double dt;

	if (ns_feat_get(m->feat, m->x, NS_FEAT_MAX) != 0)
		return;
	if (nf < ns_forecast_nfeat(m->fc))
		return;
	t0 = ns_mono_ns();
	/* Only the two peaks at the horizon are used: a bundle has up to
	 * NS_FC_MAX_MODELS targets (16 shipped), so walking them all would
	 * cost eight times as much. */
	m->out[m->fc_cpu] = ns_forecast_predict_one(m->fc, (size_t)m->fc_cpu, m->x);
	m->out[m->fc_mem] = ns_forecast_predict_one(m->fc, (size_t)m->fc_mem, m->x);
	dt = (double)(ns_mono_ns() - t0) / 1e9;
	m->st.predicts++;
	m->st.predict_s = dt;
	if (dt > m->st.predict_max_s)
		m->st.predict_max_s = dt;
	/* Relative models add their trees to the current value (or the hour's
	 * mean): without either the output is a bare delta, not a forecast. */
	m->st.cpu_peak_fc = isnan(m->x[m->x_cpu_cur]) && isnan(m->x[m->x_cpu_1h])
				? NAN
				: fmin(1.0, fmax(0.0, (double)m->out[m->fc_cpu]));
	m->st.mem_peak_fc = isnan(m->x[m->x_mem_cur]) && isnan(m->x[m->x_mem_1h])
				? NAN
				: fmin(1.0, fmax(0.0, (double)m->out[m->fc_mem]));
}

/* Takes ownership of fc. Keeps the pipeline (and its 24 h of history) when
 * the new model uses the same feature layout. */
static int fc_install(struct ns_models *m, struct ns_forecast *fc, int cpu, int mem, char *err,
		      size_t errlen)
{
	const struct ns_feat_config *fcfg = ns_forecast_feat_config(fc);
	struct ns_feat *feat = NULL;
	int rc, keep = m->feat && m->fc && feat_cfg_eq(fcfg, ns_forecast_feat_config(m->fc));

	if (!keep) {
		rc = ns_feat_new(fcfg, &feat);
		if (rc) {
			snprintf(err, errlen, "bundle feature layout unusable step_ms=%u mask=0x%x",
				 fcfg->step_ms, fcfg->metric_mask);
			ns_forecast_free(fc);
			return rc;
		}
		if (ns_feat_count(feat) != ns_forecast_nfeat(fc) ||
		    ns_feat_index(feat, "cpu_util_cur") < 0 ||
		    ns_feat_index(feat, "mem_util_cur") < 0) {
			snprintf(err, errlen,
				 "bundle features do not match the pipeline (%zu vs %zu)",
				 ns_forecast_nfeat(fc), ns_feat_count(feat));
			ns_feat_free(feat);
			ns_forecast_free(fc);
			return -EINVAL;
		}
		ns_feat_free(m->feat);
		m->feat = feat;
		m->fc_primed = 0;
		ns_history_reset(&m->fc_acc);
		m->st.cpu_peak_fc = m->st.mem_peak_fc = NAN;
		m->x_cpu_cur = ns_feat_index(feat, "cpu_util_cur");
		m->x_cpu_1h = ns_feat_index(feat, "cpu_util_mean_1h");
		m->x_mem_cur = ns_feat_index(feat, "mem_util_cur");
		m->x_mem_1h = ns_feat_index(feat, "mem_util_mean_1h");
		if (m->x_cpu_1h < 0)
			m->x_cpu_1h = m->x_cpu_cur;
		if (m->x_mem_1h < 0)
			m->x_mem_1h = m->x_mem_cur;
	}
	ns_forecast_free(m->fc);
	m->fc = fc;
	m->fc_cpu = cpu;
	m->fc_mem = mem;
	if (keep && m->fc_primed)
		fc_predict(m); /* the new model's view of the same features, now */
	return 0;
}

/* predict = 0 while replaying history: the forecast is made once at the end. */
void ns_models_fc_step(struct ns_models *m, const struct ns_sample *s, int predict)
{
	uint64_t step = ns_forecast_feat_config(m->fc)->step_ms;
	struct ns_sample mean;

	if (!m->fc_primed) {
		/* The first complete sample starts the grid and gives a forecast at
		 * once; every later point is the mean of one step, as in training. */
		if (isnan(s->v[NS_M_CPU_UTIL]) || isnan(s->v[NS_M_MEM_UTIL]))
			return;
		ns_feat_push(m->feat, s);
		if (predict)
			fc_predict(m);
		m->fc_primed = 1;
		m->fc_next_ms = s->ts_ms + step;
		ns_history_reset(&m->fc_acc);
		return;
	}
	/* Back in time: the open step's samples are dropped, the grid restarts
	 * at this sample and the pipeline takes its next point as the next step
	 * (its windows kept). Ahead in time is a stall: the gap below. */
	if (ns_models_went_back(s->ts_ms, m->fc_next_ms, step)) {
		if (predict)
			ns_models_log_went_back("forecast", s->ts_ms, m->fc_next_ms, step);
		ns_history_reset(&m->fc_acc);
		m->fc_next_ms = s->ts_ms + step;
		ns_feat_clock_back(m->feat, m->fc_next_ms);
	}
	/* A sample at or past the boundary opens the next step: close this one
	 * first, with only its own samples. */
	if (s->ts_ms >= m->fc_next_ms) {
		if (ns_history_mean(&m->fc_acc, m->fc_next_ms, &mean) == 0) {
			ns_feat_push(m->feat, &mean);
			if (predict)
				fc_predict(m);
		}
		ns_history_reset(&m->fc_acc);
		/* After a stall, skip to the next grid point: the pipeline sees a gap. */
		m->fc_next_ms += ((s->ts_ms - m->fc_next_ms) / step + 1) * step;
	}
	ns_history_add(&m->fc_acc, s);
}

struct warm {
	struct ns_models *m;
	uint64_t from_ms;
	uint64_t n;
};

static int warm_one(const struct ns_sample *s, void *arg)
{
	struct warm *w = arg;

	if (s->ts_ms >= w->from_ms) {
		ns_models_fc_step(w->m, s, 0);
		w->n++;
	}
	return 0;
}

int ns_models_warm_from_ring(struct ns_models *m, const char *path, uint64_t now_ms)
{
	struct ns_ring *r = NULL;
	struct ns_ring_notes nt;
	/* 25 h: the longest window (24 h) and lag (23 h) plus a margin. */
	struct warm w = {m, now_ms > 90000000u ? now_ms - 90000000u : 0, 0};
	char err[1024];
	int rc;

	if (!m->fc)
		return 0;
	rc = ns_ring_open_readonly_err(path, &r, &nt, err, sizeof(err));
	/* Under the ring's component, as the agent's own open logs them. */
	for (unsigned i = 0; i < nt.n; i++)
		NS_LOG_(nt.note[i].warning ? NS_LOG_WARNING : NS_LOG_INFO, "ring", 0, "%s",
			nt.note[i].text);
	if (rc) {
		log_error("ring", "%s", err);
		return rc;
	}
	rc = ns_ring_foreach(r, warm_one, &w);
	/* Read-only: no final sync, nothing to report. */
	ns_ring_close_err(r, NULL, 0);
	if (rc)
		return rc;
	if (m->fc_primed)
		fc_predict(m);
	log_info("models", "forecast pipeline warmed from history records=%llu path=%s",
		 (unsigned long long)w.n, path);
	return (int)(w.n > INT32_MAX ? INT32_MAX : w.n);
}

void ns_models_fc_open(struct ns_models *m)
{
	struct ns_forecast *fc = NULL;
	char err[256], version[64];
	int cpu, mem;

	if (!m->fc_path[0]) {
		log_info("models", "forecaster disabled (--forecast-model none): heuristic peaks");
		return;
	}
	fc_sigs(m, m->fc_sig);
	if (fc_load(m, m->cfg.forecast, &fc, &cpu, &mem, version, sizeof(version), err,
		    sizeof(err)) ||
	    fc_install(m, fc, cpu, mem, err, sizeof(err))) {
		log_warning(
		    "models",
		    "no forecaster, heuristic fallback (model-fallback) path=%s reason=\"%s\"",
		    m->fc_path, err);
		return;
	}
	m->st.forecast.loaded = 1;
	snprintf(m->st.forecast.version, sizeof(m->st.forecast.version), "%s", version);
	log_info("models",
		 "forecaster loaded path=%s version=%s targets=%zu trees=%zu step_ms=%u "
		 "horizon_s=%u",
		 m->fc_path, version, ns_forecast_ntargets(fc), ns_forecast_ntrees(fc),
		 ns_forecast_feat_config(fc)->step_ms, m->cfg.horizon_s);
}

int ns_models_fc_reload(struct ns_models *m)
{
	struct sig now[2];
	struct ns_forecast *fc = NULL;
	char err[256], version[64];
	int cpu, mem;

	if (!m->fc_path[0])
		return 0;
	fc_sigs(m, now);
	if (ns_models_sig_eq(&now[0], &m->fc_sig[0]) && ns_models_sig_eq(&now[1], &m->fc_sig[1]))
		return 0;
	/* Remembered whatever the outcome: a bad bundle is reported once, not
	 * every interval, and retried when it changes again. */
	m->fc_sig[0] = now[0];
	m->fc_sig[1] = now[1];
	/* A changed bundle: a new copy for this agent, never a shared model. */
	if (fc_load(m, NULL, &fc, &cpu, &mem, version, sizeof(version), err, sizeof(err)) ||
	    fc_install(m, fc, cpu, mem, err, sizeof(err))) {
		m->st.forecast.rejected++;
		log_error("models", "forecast bundle rejected, %s path=%s reason=\"%s\"",
			  m->fc ? "keeping the loaded one" : "still no forecaster", m->fc_path,
			  err);
		return 0;
	}
	m->st.forecast.reloads++;
	m->st.forecast.loaded = 1;
	snprintf(m->st.forecast.version, sizeof(m->st.forecast.version), "%s", version);
	log_success("models", "forecast bundle reloaded path=%s version=%s", m->fc_path, version);
	return 1;
}
