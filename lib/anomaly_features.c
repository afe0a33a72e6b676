// SPDX-License-Identifier: MIT
/* Anomaly features of one metric against its own past (z-scores, change,
 * Holt residual, seasonal residual, volatility), streaming and over a whole
 * series for the trainer. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "anomaly_int.h"
#include "nodescore/anomaly.h"
#include "nodescore/rolling.h"

#define FEAT_CLAMP 1e6

int ns_anomaly_metric_init(struct metric *m, const struct ns_anomaly_config *c)
{
	memset(m, 0, sizeof(*m));
	if (ns_roll_new(c->win_short, &m->s) || ns_roll_new(c->win_mid, &m->m) ||
	    ns_roll_new(c->win_long, &m->l) || ns_roll_new(c->win_short, &m->absz) ||
	    (c->season && ns_roll_new(c->season, &m->season)))
		return -ENOMEM;
	return 0;
}

void ns_anomaly_metric_free(struct metric *m)
{
	ns_roll_free(m->s);
	ns_roll_free(m->m);
	ns_roll_free(m->l);
	ns_roll_free(m->absz);
	ns_roll_free(m->season);
	memset(m, 0, sizeof(*m));
}

static float clampf(double v)
{
	if (!(v == v))
		return 0.0f;
	return (float)(v > FEAT_CLAMP ? FEAT_CLAMP : v < -FEAT_CLAMP ? -FEAT_CLAMP : v);
}

/* Features of x against the metric's past only; then x joins the past.
 * Short and mid z-scores carry a share of the long-window spread in their
 * denominator so a quiet short window does not turn noise into huge values;
 * a tiny absolute floor keeps a flat line finite. */
void ns_anomaly_metric_step(struct metric *m, double x, float *out)
{
	double sl, floor_, zs, dz, pred;
	const struct ns_roll_chunk *same;

	if (!(x == x))
		x = m->have ? m->prev : 0.0;
	if (!m->have) {
		m->prev = m->level = x;
		m->trend = 0;
		m->have = 1;
	}
	sl = ns_anomaly_rstd(m->l);
	floor_ = 1e-9 * (1.0 + fabs(ns_anomaly_rmean(m->l))) + 1e-12;
	dz = sl + floor_;
	zs = (x - ns_anomaly_rmean(m->s)) / (ns_anomaly_rstd(m->s) + 0.1 * sl + floor_);
	out[NS_AF_Z_SHORT] = clampf(zs);
	out[NS_AF_Z_MID] =
	    clampf((x - ns_anomaly_rmean(m->m)) / (ns_anomaly_rstd(m->m) + 0.1 * sl + floor_));
	out[NS_AF_Z_LONG] = clampf((x - ns_anomaly_rmean(m->l)) / dz);
	out[NS_AF_DELTA] = clampf((x - m->prev) / dz);
	pred = m->level + m->trend; /* Holt's linear one-step forecast */
	out[NS_AF_RESID] = clampf((x - pred) / dz);
	out[NS_AF_VOL] = clampf(log((ns_anomaly_rstd(m->s) + 0.05 * sl + floor_) / dz));
	same = m->season && ns_roll_count(m->season) >= m->season->cap
		   ? ns_roll_at(m->season, m->season->cap - 1)
		   : NULL;
	out[NS_AF_SEASON] = clampf(same ? (x - same->mean) / dz : 0.0);

	ns_roll_push(m->s, x);
	ns_roll_push(m->m, x);
	ns_roll_push(m->l, x);
	ns_roll_push(m->absz, fabs(zs));
	if (m->season)
		ns_roll_push(m->season, x);
	out[NS_AF_MAXZ] = clampf(ns_roll_max(m->absz));

	{
		double lv = 0.5 * x + 0.5 * (m->level + m->trend);
		m->trend = 0.1 * (lv - m->level) + 0.9 * m->trend;
		m->level = lv;
	}
	m->prev = x;
}

const char *const ns_anomaly_feat_suffix[NF_PER] = {
    [NS_AF_Z_SHORT] = "z_short", [NS_AF_Z_MID] = "z_mid", [NS_AF_Z_LONG] = "z_long",
    [NS_AF_DELTA] = "delta",	 [NS_AF_RESID] = "resid", [NS_AF_MAXZ] = "maxz",
    [NS_AF_SEASON] = "season",	 [NS_AF_VOL] = "vol",
};

int ns_anomaly_features_series(const struct ns_anomaly_config *c, const float *values, size_t rows,
			       float *x_out)
{
	struct metric met[NS_ANOMALY_MAX_METRICS];
	char err[128];
	int rc = 0;

	if (ns_anomaly_config_check(c, err, sizeof(err)) || !values || !x_out)
		return -EINVAL;
	memset(met, 0, sizeof(met));
	for (uint32_t m = 0; m < c->n_metrics && !rc; m++)
		rc = ns_anomaly_metric_init(&met[m], c);
	for (size_t i = 0; i < rows && !rc; i++)
		for (uint32_t m = 0; m < c->n_metrics; m++)
			ns_anomaly_metric_step(&met[m], (double)values[i * c->n_metrics + m],
					       x_out + (i * c->n_metrics + m) * NF_PER);
	for (uint32_t m = 0; m < NS_ANOMALY_MAX_METRICS; m++)
		ns_anomaly_metric_free(&met[m]);
	return rc;
}
