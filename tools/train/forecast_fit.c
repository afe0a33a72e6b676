// SPDX-License-Identifier: MIT
/* nodescore-train forecast, the data side of each target's fits: row
 * weights, per-target parameters, the calibration tail the peak shift and
 * flat guard are chosen on, and the labelled rows a fit takes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast_fit.h"

/* Row weights 1 / (persistence MAE of the row's series on target t over its
 * training rows), floored and normalised to mean 1: the loss then tracks the
 * per-series scaled error (MASE) instead of being dominated by the most
 * volatile series. */
float *train_fc_scale_weights(const struct rows *r, size_t t, double floor)
{
	float *w = malloc((r->n ? r->n : 1) * sizeof(float));
	double tot = 0;
	size_t i = 0, cnt = 0;

	if (!w)
		return NULL;
	while (i < r->n) {
		size_t j = i, k = 0;
		double s = 0;

		while (j < r->n && r->sid[j] == r->sid[i]) {
			float y = r->Y[j * r->ntarget + t], p = r->B[(j * r->ntarget + t) * BASE_N];

			if (!r->test[j] && !isnan(y) && !isnan(p)) {
				s += fabs(y - p);
				k++;
			}
			j++;
		}
		for (size_t q = i; q < j; q++)
			w[q] = (float)(1.0 / fmax(k ? s / (double)k : 0.0, floor));
		i = j;
	}
	for (i = 0; i < r->n; i++)
		if (!r->test[i]) {
			tot += w[i];
			cnt++;
		}
	for (i = 0; i < r->n && tot > 0; i++)
		w[i] = (float)(w[i] * (double)cnt / tot);
	return w;
}

/* Per-target settings, returning the row weight floor. CPU MASE is decided
 * on calm VMs whose persistence errs by a few tenths of a point: a 0.1 pp
 * weight floor (0.5 pp before) lets them count, and a leaf needs less
 * hessian mass than the default 5 to fit those few heavily weighted rows
 * (Bitbrains CPU mean 1/2/4 h MASE 0.920/0.868/0.850 -> 0.911/0.841/0.811);
 * L2 5 on the CPU mean leaves then keeps those small leaves from chasing
 * single rows (-> 0.887/0.830/0.820). Memory keeps 0.5 pp and 5: the same
 * change made every memory cell worse (Bitbrains 1 h 0.688 -> 0.711).
 * Peak residuals are dominated by spikes,
 * so peak models default to pseudo-Huber; its slope is 5 pp because at
 * 2 pp the bounded gradients underfit the large level changes of Alibaba
 * machines (CPU peak 4 h MASE 0.28 -> 0.86). */
double train_fc_target_params(const struct ns_fc_target *t, const struct ns_fctrain_params *base,
			      const char *peak_objective, struct ns_fctrain_params *p)
{
	*p = *base;
	if (t->stat == NS_FC_PEAK) {
		p->objective = peak_objective;
		p->huber_slope = 0.05;
	}
	if (t->metric == NS_M_CPU_UTIL) {
		p->min_child_weight = 1.0;
		if (t->stat == NS_FC_MEAN)
			p->lambda = 5.0;
		return 0.001;
	}
	return 0.005;
}

/* Peak shift quantile of target t (0 for mean targets). */
double train_fc_peak_q(const struct ns_fc_target *t, double q, double qshort)
{
	if (t->stat != NS_FC_PEAK)
		return 0;
	return t->horizon_s <= 3600 ? qshort : q;
}

/* Flat-guard threshold (on <metric>_std_1h) minimising the per-series mean
 * of MAE / persistence MAE over the calibration rows; 0 = no guard. */
float train_fc_pick_flat_guard(const struct rows *r, size_t t, const uint8_t *calib,
			       struct ns_forecast *tmp, float offset)
{
	static const float cand[] = {0, 0.001f, 0.002f, 0.005f, 0.01f, 0.02f};
	enum { NC = sizeof(cand) / sizeof(cand[0]) };
	double ratio[NC] = {0}, em[NC] = {0}, ep = 0;
	size_t nser = 0, best = 0;

	for (size_t i = 0; i <= r->n; i++) {
		if (i == r->n || (i > 0 && r->sid[i] != r->sid[i - 1])) {
			if (ep > 1e-9) {
				for (size_t c = 0; c < NC; c++)
					ratio[c] += em[c] / ep;
				nser++;
			}
			memset(em, 0, sizeof(em));
			ep = 0;
			if (i == r->n)
				break;
		}
		float y = r->Y[i * r->ntarget + t], pp = r->B[(i * r->ntarget + t) * BASE_N];

		if (r->test[i] || !calib[i] || isnan(y) || isnan(pp))
			continue;
		ep += fabs(pp - y);
		for (size_t c = 0; c < NC; c++) {
			ns_forecast_set_flat_guard(tmp, 0, cand[c]);
			em[c] +=
			    fabs(ns_forecast_predict_one(tmp, 0, r->X + i * r->nfeat) + offset - y);
		}
	}
	for (size_t c = 1; c < NC && nser; c++)
		if (ratio[c] < ratio[best])
			best = c;
	ns_forecast_set_flat_guard(tmp, 0, 0);
	return cand[best];
}

/* Rows usable for target t: training rows with a label; calib selects the
 * calibration tail (1), the rest (0) or all (-1). */
size_t train_fc_gather(const struct rows *r, size_t t, const uint8_t *calib, int which,
		       const struct ns_forecast *rel, const float *wsrc, float **X, float **y,
		       float **w, size_t *cap)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		float lab = r->Y[i * r->ntarget + t];

		/* Relative models learn the change from the current level. */
		if (rel)
			lab -= ns_forecast_anchor_for(rel, r->tgt[t].metric, r->X + i * r->nfeat);

		if (r->test[i] || isnan(lab) || (which >= 0 && calib[i] != which))
			continue;
		if (n == *cap) {
			size_t nc = *cap ? *cap * 2 : 4096;
			float *nx = realloc(*X, nc * r->nfeat * sizeof(float));
			float *ny = nx ? realloc(*y, nc * sizeof(float)) : NULL;
			float *nw;

			if (nx)
				*X = nx;
			if (ny)
				*y = ny;
			nw = ny ? realloc(*w, nc * sizeof(float)) : NULL;
			if (!nx || !ny || !nw)
				return (size_t)-1;
			*w = nw;
			*cap = nc;
		}
		memcpy(*X + n * r->nfeat, r->X + i * r->nfeat, r->nfeat * sizeof(float));
		(*w)[n] = wsrc ? wsrc[i] : 1.0f;
		(*y)[n++] = lab;
	}
	return n;
}

/* Marks the last share of each series' training rows as calibration rows. */
uint8_t *train_fc_mark_calibration(const struct rows *r, double share)
{
	uint8_t *c = calloc(r->n ? r->n : 1, 1);
	size_t i = 0;

	if (!c)
		return NULL;
	while (i < r->n) {
		size_t j = i, cnt = 0, k = 0;

		while (j < r->n && r->sid[j] == r->sid[i])
			cnt += !r->test[j++];
		for (size_t q = i; q < j; q++)
			if (!r->test[q])
				c[q] = (double)k++ >= (1.0 - share) * (double)cnt;
		i = j;
	}
	return c;
}
