/* SPDX-License-Identifier: MIT */
/* Internal: the detector state the anomaly files share. anomaly.c owns the
 * detector (configuration, feature rows, refits, champion/challenger,
 * hysteresis, drift); anomaly_features.c the per-metric features;
 * anomaly_severity.c the likelihood and the tail-capped severity. Callers
 * use nodescore/anomaly.h. */
#ifndef NODESCORE_LIB_ANOMALY_INT_H
#define NODESCORE_LIB_ANOMALY_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/anomaly.h"
#include "nodescore/iforest.h"
#include "nodescore/rolling.h"

#define NF_PER NS_ANOMALY_FEATS_PER_METRIC
#define PSI_BINS 10

/* Window statistics that are empty read as 0 here: a feature of a metric
 * with no past is "no deviation". */
static inline double ns_anomaly_rmean(const struct ns_roll *w)
{
	return ns_roll_count(w) ? ns_roll_mean(w) : 0.0;
}

static inline double ns_anomaly_rstd(const struct ns_roll *w)
{
	return ns_roll_count(w) > 1 ? ns_roll_std(w) : 0.0;
}

struct metric {
	struct ns_roll *s, *m, *l;
	struct ns_roll *absz;	/* |z short| over the short window, for the rolling max */
	struct ns_roll *season; /* the last `season` values, for the same-phase residual */
	double prev, level, trend;
	int have;
};

/* Rows of slack around "one season ago": daily jobs drift by minutes
 * (+-10 minutes: 2 rows at 5 min, 120 at 5 s). */
static inline uint32_t ns_anomaly_season_slack(uint32_t season)
{
	return season / 144 ? season / 144 : 1;
}

struct ns_anomaly {
	struct ns_anomaly_config c;
	uint32_t nf;
	char names[NS_ANOMALY_MAX_METRICS * NF_PER][NS_IFOREST_NAME_MAX + 1];
	struct metric met[NS_ANOMALY_MAX_METRICS];

	/* feature rows, newest last */
	float *rows;
	uint32_t rcap, rn, rhead;
	float *train; /* scratch: contiguous training rows */
	double *scratch;

	struct ns_iforest *model;
	double
	    model_q99; /* 99th percentile of the model's scores on its training rows, NaN unknown */
	uint32_t since_fit;
	int refit_requested;
	int own_fit;

	struct ns_roll *sshort; /* last lik_short raw scores */
	struct ns_roll *ref;	/* smoothed scores: the reference distribution */

	uint32_t over_run, under_run;
	uint64_t last_det; /* tick of the last output detection */
	int flag, armed;

	float edges[NS_ANOMALY_MAX_METRICS * NF_PER][PSI_BINS - 1];
	double expect[NS_ANOMALY_MAX_METRICS * NF_PER][PSI_BINS];
	uint32_t recent[NS_ANOMALY_MAX_METRICS * NF_PER][PSI_BINS];
	uint32_t recent_n;

	uint64_t ticks;
	uint32_t refits, rejected;
};

/* Row i back from the newest (0 = newest). */
static inline float *ns_anomaly_row_back(const struct ns_anomaly *a, uint32_t i)
{
	uint32_t idx = (a->rhead + a->rcap - 1 - i) % a->rcap;
	return a->rows + (size_t)idx * a->nf;
}

/* Per-metric feature state (anomaly_features.c). step writes the
 * NS_ANOMALY_FEATS_PER_METRIC features of x to out, then x joins the past. */
int ns_anomaly_metric_init(struct metric *m, const struct ns_anomaly_config *c);
void ns_anomaly_metric_free(struct metric *m);
void ns_anomaly_metric_step(struct metric *m, double x, float *out);
/* Suffixes of the feature names, "<metric>.<suffix>". */
extern const char *const ns_anomaly_feat_suffix[NF_PER];

/* Likelihood of raw score s against the reference, which s then joins, and
 * severity of the newest row with top feature f (anomaly_severity.c; both
 * clobber scratch). */
double ns_anomaly_likelihood(struct ns_anomaly *a, double s);
double ns_anomaly_severity(struct ns_anomaly *a, uint32_t f);

#endif
