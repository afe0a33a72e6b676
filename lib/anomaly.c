// SPDX-License-Identifier: MIT
/* Streaming anomaly detector: configuration, feature rows, refit schedule
 * with champion/challenger, hysteresis flag, drift (PSI). Features are in
 * anomaly_features.c, likelihood and severity in anomaly_severity.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly_int.h"
#include "nodescore/anomaly.h"
#include "nodescore/iforest.h"
#include "nodescore/rolling.h"

void ns_anomaly_config_default(struct ns_anomaly_config *c, uint32_t n_metrics)
{
	memset(c, 0, sizeof(*c));
	c->n_metrics = n_metrics;
	/* 5 s samples: 1 min, 10 min and 1 day windows, daily season; first fit
	 * after 4 h, refit daily on the last ~14 h of ordinary samples. */
	c->win_short = 12;
	c->win_mid = 120;
	c->win_long = 17280;
	c->season = 17280;
	c->probation = 2880;
	c->refit_every = 17280;
	c->history = 10000;
	c->n_trees = 100;
	c->psi = 256;
	c->seed = 42;
	c->lik_short = 1;
	c->lik_long = 2880;
	c->gate = 0.99;
	c->threshold = 5.0;
	c->enter_k = 2;
	c->leave_m = 12;
	c->rearm = 720;
	c->challenger_margin = 0.005;
	c->tail_window = 12000;
	c->tail_q = 0.98;
	c->tail_margin = 1.25;
	c->tail_season = 1;
}

#define CFG_BAD(...)                                                                               \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -EINVAL;                                                                    \
	} while (0)

int ns_anomaly_config_check(const struct ns_anomaly_config *c, char *err, size_t errlen)
{
	if (c->n_metrics < 1 || c->n_metrics > NS_ANOMALY_MAX_METRICS)
		CFG_BAD("n_metrics=%u outside 1..%d", c->n_metrics, NS_ANOMALY_MAX_METRICS);
	if (c->win_short < 2 || c->win_mid < c->win_short || c->win_long < c->win_mid ||
	    c->win_long > 1000000)
		CFG_BAD("windows must satisfy 2 <= short <= mid <= long <= 1000000 (got %u/%u/%u)",
			c->win_short, c->win_mid, c->win_long);
	if (c->history < 16 || c->history > 1000000)
		CFG_BAD("history=%u outside 16..1000000", c->history);
	if (c->probation < 16 || c->refit_every < 1)
		CFG_BAD("probation must be >= 16 and refit_every >= 1");
	if (c->n_trees < 1 || c->n_trees > NS_IFOREST_MAX_TREES || c->psi < 2 ||
	    c->psi > NS_IFOREST_MAX_PSI)
		CFG_BAD("n_trees=%u or psi=%u out of range", c->n_trees, c->psi);
	if (c->lik_short < 1 || c->lik_long < 8 || c->lik_short > c->lik_long ||
	    c->lik_long > 1000000)
		CFG_BAD("likelihood windows must satisfy 1 <= short <= long, long >= 8");
	if (!(c->gate > 0 && c->gate < 1))
		CFG_BAD("gate=%g outside (0, 1)", c->gate);
	if (!(c->threshold > 0 && c->threshold < 1e6))
		CFG_BAD("threshold=%g outside (0, 1e6)", c->threshold);
	if (c->season > 1000000)
		CFG_BAD("season=%u above 1000000", c->season);
	if (c->enter_k < 1 || c->leave_m < 1)
		CFG_BAD("enter_k and leave_m must be >= 1");
	if (!(c->challenger_margin >= 0 && c->challenger_margin <= 1))
		CFG_BAD("challenger_margin outside 0..1");
	if (c->tail_window > 1000000 || (c->tail_window && !(c->tail_q > 0 && c->tail_q < 1)))
		CFG_BAD("tail_window above 1000000 or tail_q outside (0, 1)");
	if (!(c->tail_margin >= 1 && c->tail_margin <= 100))
		CFG_BAD("tail_margin=%g outside 1..100", c->tail_margin);
	if (c->tail_season > 7)
		CFG_BAD("tail_season=%u above 7", c->tail_season);
	return 0;
}

void ns_anomaly_free(struct ns_anomaly *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; i < NS_ANOMALY_MAX_METRICS; i++)
		ns_anomaly_metric_free(&a->met[i]);
	ns_roll_free(a->sshort);
	ns_roll_free(a->ref);
	free(a->rows);
	free(a->train);
	free(a->scratch);
	ns_iforest_free(a->model);
	free(a);
}

int ns_anomaly_new(const struct ns_anomaly_config *c, struct ns_anomaly **out, char *err,
		   size_t errlen)
{
	struct ns_anomaly *a;
	int rc;

	*out = NULL;
	rc = ns_anomaly_config_check(c, err, errlen);
	if (rc)
		return rc;
	a = calloc(1, sizeof(*a));
	if (!a)
		goto nomem;
	a->c = *c;
	a->nf = c->n_metrics * NF_PER;
	for (uint32_t m = 0; m < c->n_metrics; m++) {
		for (uint32_t k = 0; k < NF_PER; k++) {
			const char *mn = c->metric_names[m];
			char def[16];
			if (!mn) {
				snprintf(def, sizeof(def), "m%u", m);
				mn = def;
			}
			snprintf(a->names[m * NF_PER + k], sizeof(a->names[0]), "%.40s.%s", mn,
				 ns_anomaly_feat_suffix[k]);
		}
		if (ns_anomaly_metric_init(&a->met[m], c))
			goto nomem;
	}
	a->rcap = c->history;
	if (c->lik_long > a->rcap)
		a->rcap = c->lik_long;
	if (c->refit_every > a->rcap)
		a->rcap = c->refit_every;
	if (c->tail_window >= a->rcap)
		a->rcap = c->tail_window + 1;
	if (c->tail_window && c->tail_season && c->season &&
	    c->tail_season * c->season + ns_anomaly_season_slack(c->season) >= a->rcap)
		a->rcap = c->tail_season * c->season + ns_anomaly_season_slack(c->season) + 1;
	a->rows = calloc((size_t)a->rcap * a->nf, sizeof(float));
	a->train = calloc((size_t)a->rcap * a->nf, sizeof(float));
	a->scratch = calloc(a->rcap, sizeof(double));
	if (!a->rows || !a->train || !a->scratch || ns_roll_new(c->lik_short, &a->sshort) ||
	    ns_roll_new(c->lik_long, &a->ref))
		goto nomem;
	a->model_q99 = NAN;
	a->armed = 1;
	*out = a;
	return 0;
nomem:
	ns_anomaly_free(a);
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

size_t ns_anomaly_n_features(const struct ns_anomaly *a)
{
	return a->nf;
}

const char *ns_anomaly_feature_name(const struct ns_anomaly *a, size_t i)
{
	return i < a->nf ? a->names[i] : NULL;
}

const float *ns_anomaly_last_row(const struct ns_anomaly *a)
{
	return a->rn ? ns_anomaly_row_back(a, 0) : NULL;
}

uint64_t ns_anomaly_ticks(const struct ns_anomaly *a)
{
	return a->ticks;
}

void ns_anomaly_request_refit(struct ns_anomaly *a)
{
	a->refit_requested = 1;
}

uint32_t ns_anomaly_refits(const struct ns_anomaly *a)
{
	return a->refits;
}

uint32_t ns_anomaly_rejected(const struct ns_anomaly *a)
{
	return a->rejected;
}

const struct ns_iforest *ns_anomaly_model(const struct ns_anomaly *a)
{
	return a->model;
}

static int cmp_double(const void *x, const void *y)
{
	double p = *(const double *)x, q = *(const double *)y;
	return (p > q) - (p < q);
}

static int cmp_float(const void *x, const void *y)
{
	float p = *(const float *)x, q = *(const float *)y;
	return (p > q) - (p < q);
}

static uint32_t bin_of(const float *edges, float v)
{
	uint32_t b = 0;

	while (b < PSI_BINS - 1 && v >= edges[b])
		b++;
	return b;
}

/* Quantile edges and expected bin shares of every feature over n training rows. */
static void drift_reset(struct ns_anomaly *a, const float *x, uint32_t n)
{
	float *col = (float *)a->scratch; /* rcap doubles hold rcap floats */

	for (uint32_t f = 0; f < a->nf; f++) {
		for (uint32_t i = 0; i < n; i++)
			col[i] = x[(size_t)i * a->nf + f];
		qsort(col, n, sizeof(*col), cmp_float);
		for (uint32_t b = 0; b < PSI_BINS - 1; b++)
			a->edges[f][b] = col[(size_t)n * (b + 1) / PSI_BINS];
		for (uint32_t b = 0; b < PSI_BINS; b++)
			a->expect[f][b] = 0;
		for (uint32_t i = 0; i < n; i++)
			a->expect[f][bin_of(a->edges[f], x[(size_t)i * a->nf + f])] += 1.0 / n;
	}
	memset(a->recent, 0, sizeof(a->recent));
	a->recent_n = 0;
}

double ns_anomaly_drift_psi(const struct ns_anomaly *a, int *worst)
{
	double best = 0;

	*worst = -1;
	if (!a->model || !a->recent_n)
		return 0;
	for (uint32_t f = 0; f < a->nf; f++) {
		double psi = 0;
		for (uint32_t b = 0; b < PSI_BINS; b++) {
			double e = a->expect[f][b] > 1e-4 ? a->expect[f][b] : 1e-4;
			double o = (double)a->recent[f][b] / a->recent_n;
			o = o > 1e-4 ? o : 1e-4;
			psi += (o - e) * log(o / e);
		}
		if (*worst < 0 || psi > best) {
			best = psi;
			*worst = (int)f;
		}
	}
	return best;
}

/* 99th percentile of model scores over n rows (scratch is clobbered). */
static int q99_of(struct ns_anomaly *a, const struct ns_iforest *m, const float *x, uint32_t n,
		  double *q)
{
	int err = ns_iforest_score_batch(m, x, n, a->nf, a->scratch);

	if (err)
		return err;
	qsort(a->scratch, n, sizeof(double), cmp_double);
	*q = a->scratch[(size_t)(0.99 * (n - 1))];
	return 0;
}

/* Share of the newest n rows that model m scores above q. */
static double alarm_rate(const struct ns_anomaly *a, const struct ns_iforest *m, double q,
			 uint32_t n)
{
	uint32_t hits = 0;

	for (uint32_t i = 0; i < n; i++) {
		double s;
		if (ns_iforest_score(m, ns_anomaly_row_back(a, i), a->nf, &s) == 0 && s > q)
			hits++;
	}
	return n ? (double)hits / n : 0.0;
}

/* Rebuilds the likelihood reference from the stored rows under the new model,
 * so a refit does not mix two models' score scales. */
static void rescore_reference(struct ns_anomaly *a)
{
	uint32_t n = a->rn < a->c.lik_long ? a->rn : a->c.lik_long;

	ns_roll_reset(a->sshort);
	ns_roll_reset(a->ref);
	for (uint32_t i = n; i-- > 0;) {
		double s;
		if (ns_iforest_score(a->model, ns_anomaly_row_back(a, i), a->nf, &s) == 0)
			ns_anomaly_likelihood(a, s);
	}
}

/* Trains a challenger on the newest `history` rows and installs it unless
 * it is worse (see anomaly.h). */
static int refit(struct ns_anomaly *a)
{
	struct ns_iforest_params p = {.n_trees = a->c.n_trees, .psi = a->c.psi, .seed = a->c.seed};
	const char *names[NS_ANOMALY_MAX_METRICS * NF_PER];
	struct ns_iforest *ch = NULL;
	uint32_t lim = a->rn < a->c.history ? a->rn : a->c.history, n = 0;
	double q_ch;
	int err;

	for (uint32_t i = lim; i-- > 0;) {
		uint32_t idx = (a->rhead + a->rcap - 1 - i) % a->rcap;
		/* Rows from before the mid window filled describe the warm-up, not the node. */
		if (a->ticks - i <= a->c.win_mid)
			continue;
		memcpy(a->train + (size_t)n * a->nf, a->rows + (size_t)idx * a->nf,
		       a->nf * sizeof(float));
		n++;
	}
	if (n < 16)
		return 0; /* too few rows: keep the champion, try next time */
	for (uint32_t f = 0; f < a->nf; f++)
		names[f] = a->names[f];
	p.seed += a->refits + a->rejected; /* fresh trees each refit, still reproducible */
	err = ns_iforest_train(a->train, n, a->nf, names, &p, &ch);
	if (err)
		return err;
	err = q99_of(a, ch, a->train, n, &q_ch);
	if (err)
		goto drop;
	if (a->model && a->own_fit) {
		uint32_t en = a->c.refit_every < a->rn ? a->c.refit_every : a->rn;
		double r_ch, r_cur;

		if (isnan(a->model_q99) && q99_of(a, a->model, a->train, n, &a->model_q99))
			goto drop;
		r_ch = alarm_rate(a, ch, q_ch, en);
		r_cur = alarm_rate(a, a->model, a->model_q99, en);
		if (r_ch > r_cur + a->c.challenger_margin) {
			a->rejected++;
			ns_iforest_free(ch);
			return 0;
		}
	}
	ns_iforest_free(a->model);
	a->model = ch;
	a->model_q99 = q_ch;
	a->own_fit = 1;
	a->refits++;
	drift_reset(a, a->train, n);
	rescore_reference(a);
	return 0;
drop:
	ns_iforest_free(ch);
	return err;
}

int ns_anomaly_set_model(struct ns_anomaly *a, struct ns_iforest *f, char *err, size_t errlen)
{
	if (!f || ns_iforest_n_features(f) != a->nf) {
		snprintf(err, errlen, "model has %zu features, detector needs %u",
			 f ? ns_iforest_n_features(f) : 0, a->nf);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < a->nf; i++)
		if (strcmp(ns_iforest_feature_name(f, i), a->names[i]) != 0) {
			snprintf(err, errlen, "model feature %u is %s, detector needs %s", i,
				 ns_iforest_feature_name(f, i), a->names[i]);
			return -EINVAL;
		}
	ns_iforest_free(a->model);
	a->model = f;
	a->model_q99 = NAN;
	a->own_fit = 0;
	return 0;
}

int ns_anomaly_update(struct ns_anomaly *a, const float *values, struct ns_anomaly_result *r)
{
	float *row;
	double s;
	int over, err = 0;
	uint32_t idx;

	memset(r, 0, sizeof(*r));
	r->top_feature = r->top_metric = -1;
	if (!values)
		return -EINVAL;
	a->ticks++;
	idx = a->rhead;
	row = a->rows + (size_t)idx * a->nf;
	for (uint32_t m = 0; m < a->c.n_metrics; m++)
		ns_anomaly_metric_step(&a->met[m], (double)values[m], row + m * NF_PER);
	a->rhead = (a->rhead + 1) % a->rcap;
	if (a->rn < a->rcap)
		a->rn++;

	if (a->model && ns_iforest_score(a->model, row, a->nf, &s) == 0) {
		r->ready = 1;
		r->score = s;
		r->likelihood = ns_anomaly_likelihood(a, s);
		/* The forest decides whether the sample is unusual; how far off it
		 * is comes from the feature that isolated it, because forest scores
		 * saturate for every point outside the training range. */
		if (r->likelihood >= a->c.gate) {
			double es;
			int top;
			if (ns_iforest_explain(a->model, row, a->nf, &es, &top, NULL) == 0 &&
			    top >= 0) {
				r->top_feature = top;
				r->top_metric = top / NF_PER;
				r->severity = ns_anomaly_severity(a, (uint32_t)top);
			}
		}
		over = r->severity >= a->c.threshold;
		if (over) {
			a->under_run = 0;
			a->over_run++;
			if (!a->flag && a->over_run >= a->c.enter_k) {
				a->flag = 1;
				r->onset = 1;
			}
		} else {
			a->over_run = 0;
			a->under_run++;
			if (a->flag && a->under_run >= a->c.leave_m)
				a->flag = 0;
		}
		r->flag = a->flag;
		/* One output detection per event: after one, stay silent until the
		 * severity has been under threshold for leave_m ticks and at least
		 * rearm ticks have passed. */
		if (!a->armed && a->ticks - a->last_det >= a->c.rearm &&
		    a->under_run >= a->c.leave_m)
			a->armed = 1;
		if (a->armed) {
			r->output = r->severity / (r->severity + 10.0);
			if (over) {
				a->armed = 0;
				a->last_det = a->ticks;
			}
		}
		for (uint32_t f = 0; f < a->nf; f++)
			a->recent[f][bin_of(a->edges[f], row[f])]++;
		a->recent_n++;
	}

	a->since_fit++;
	if ((!a->own_fit && a->ticks >= a->c.probation) ||
	    (a->own_fit && (a->since_fit >= a->c.refit_every || a->refit_requested))) {
		err = refit(a);
		a->since_fit = 0;
		a->refit_requested = 0;
		r->refit = 1;
	}
	return err;
}
