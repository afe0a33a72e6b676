// SPDX-License-Identifier: MIT
/* Streaming anomaly detector: features, refit schedule, likelihood, hysteresis, drift. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/anomaly.h"
#include "nodescore/iforest.h"

#define NF_PER NS_ANOMALY_FEATS_PER_METRIC
#define PSI_BINS 10
#define FEAT_CLAMP 1e6

/* ---- rolling window (sliding mean and variance, Welford form) ---- */

struct win {
	double *buf;
	uint32_t cap, n, head;
	double mean, m2;
};

static int win_init(struct win *w, uint32_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = calloc(cap, sizeof(*w->buf));
	w->cap = cap;
	return w->buf ? 0 : -ENOMEM;
}

static void win_free(struct win *w)
{
	free(w->buf);
	w->buf = NULL;
}

static void win_push(struct win *w, double x)
{
	if (w->n < w->cap) {
		double d = x - w->mean;
		w->buf[(w->head + w->n) % w->cap] = x;
		w->n++;
		w->mean += d / w->n;
		w->m2 += d * (x - w->mean);
	} else {
		double y = w->buf[w->head], old = w->mean;
		w->buf[w->head] = x;
		w->head = (w->head + 1) % w->cap;
		w->mean += (x - y) / w->n;
		w->m2 += (x - y) * (x - w->mean + y - old);
	}
	if (w->m2 < 0)
		w->m2 = 0;
}

static double win_mean(const struct win *w)
{
	return w->mean;
}

static double win_std(const struct win *w)
{
	return w->n > 1 ? sqrt(w->m2 / w->n) : 0.0;
}

/* ---- per-metric feature state ---- */

struct metric {
	struct win s, m, l;
	struct win absz; /* |z short| over the short window, for the rolling max */
	double prev, level, trend;
	int have;
};

static int metric_init(struct metric *m, const struct ns_anomaly_config *c)
{
	memset(m, 0, sizeof(*m));
	if (win_init(&m->s, c->win_short) || win_init(&m->m, c->win_mid) ||
	    win_init(&m->l, c->win_long) || win_init(&m->absz, c->win_short))
		return -ENOMEM;
	return 0;
}

static void metric_free(struct metric *m)
{
	win_free(&m->s);
	win_free(&m->m);
	win_free(&m->l);
	win_free(&m->absz);
}

static float clampf(double v)
{
	if (!(v == v))
		return 0.0f;
	return (float)(v > FEAT_CLAMP ? FEAT_CLAMP : v < -FEAT_CLAMP ? -FEAT_CLAMP : v);
}

/* Features of x against the metric's past only; then x joins the past.
 * Denominators carry a share of the long-window spread so a quiet short
 * window does not turn noise into huge z-scores, and a tiny absolute floor
 * so a flat line stays finite. */
static void metric_step(struct metric *m, double x, float *out)
{
	double sl, floor_, zs, dz, mx = 0, pred;

	if (!(x == x))
		x = m->have ? m->prev : 0.0;
	if (!m->have) {
		m->prev = m->level = x;
		m->trend = 0;
		m->have = 1;
	}
	sl = win_std(&m->l);
	floor_ = 1e-9 * (1.0 + fabs(win_mean(&m->l))) + 1e-12;
	dz = sl + floor_;
	zs = m->s.n ? (x - win_mean(&m->s)) / (win_std(&m->s) + 0.1 * sl + floor_) : 0;
	out[0] = clampf(zs);
	out[1] = clampf(m->m.n ? (x - win_mean(&m->m)) / (win_std(&m->m) + 0.1 * sl + floor_) : 0);
	out[2] = clampf(m->l.n ? (x - win_mean(&m->l)) / dz : 0);
	out[3] = clampf((x - m->prev) / dz);
	pred = m->level + m->trend; /* Holt's linear one-step forecast */
	out[4] = clampf((x - pred) / dz);

	win_push(&m->s, x);
	win_push(&m->m, x);
	win_push(&m->l, x);
	win_push(&m->absz, fabs(zs));
	out[5] = clampf(m->l.n ? (win_mean(&m->s) - win_mean(&m->l)) / dz : 0);
	for (uint32_t i = 0; i < m->absz.n; i++)
		mx = m->absz.buf[i] > mx ? m->absz.buf[i] : mx;
	out[6] = clampf(mx);

	{
		double lv = 0.5 * x + 0.5 * (m->level + m->trend);
		m->trend = 0.1 * (lv - m->level) + 0.9 * m->trend;
		m->level = lv;
	}
	m->prev = x;
}

static const char *const feat_suffix[NF_PER] = {
	"z_short", "z_mid", "z_long", "delta", "resid", "level", "maxz",
};

/* ---- detector ---- */

struct ns_anomaly {
	struct ns_anomaly_config c;
	uint32_t nf;
	char names[NS_ANOMALY_MAX_METRICS * NF_PER][NS_IFOREST_NAME_MAX + 1];
	struct metric met[NS_ANOMALY_MAX_METRICS];

	/* feature rows, newest last */
	float *rows;
	uint8_t *over; /* row was over the threshold: kept out of training */
	uint32_t rcap, rn, rhead;
	float *train;  /* scratch: contiguous training rows */
	double *scratch;

	struct ns_iforest *model;
	double model_q99; /* 99th percentile of the model's scores on its training rows, NaN unknown */
	uint32_t since_fit;
	int own_fit;

	struct win lik;	     /* raw scores: reference distribution */
	double *shortbuf;    /* last lik_short raw scores */
	uint32_t short_n, short_head;

	uint32_t over_run, under_run, refr_left;
	int flag;

	float edges[NS_ANOMALY_MAX_METRICS * NF_PER][PSI_BINS - 1];
	double expect[NS_ANOMALY_MAX_METRICS * NF_PER][PSI_BINS];
	uint32_t recent[NS_ANOMALY_MAX_METRICS * NF_PER][PSI_BINS];
	uint32_t recent_n;

	uint64_t ticks;
	uint32_t refits, rejected;
};

void ns_anomaly_config_default(struct ns_anomaly_config *c, uint32_t n_metrics)
{
	memset(c, 0, sizeof(*c));
	c->n_metrics = n_metrics;
	/* 5 s samples: 1 min, 10 min, 2 h windows; refit daily on the last ~14 h. */
	c->win_short = 12;
	c->win_mid = 120;
	c->win_long = 1440;
	c->probation = 2880;
	c->refit_every = 17280;
	c->history = 10000;
	c->n_trees = 100;
	c->psi = 256;
	c->seed = 42;
	c->lik_short = 3;
	c->lik_long = 2880;
	c->threshold = 0.999;
	c->enter_k = 2;
	c->leave_m = 12;
	c->refractory = 0;
	c->challenger_margin = 0.005;
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
	if (!(c->threshold > 0 && c->threshold < 1))
		CFG_BAD("threshold=%g outside (0, 1)", c->threshold);
	if (c->enter_k < 1 || c->leave_m < 1)
		CFG_BAD("enter_k and leave_m must be >= 1");
	if (!(c->challenger_margin >= 0 && c->challenger_margin <= 1))
		CFG_BAD("challenger_margin outside 0..1");
	return 0;
}

void ns_anomaly_free(struct ns_anomaly *a)
{
	if (!a)
		return;
	for (uint32_t i = 0; i < NS_ANOMALY_MAX_METRICS; i++)
		metric_free(&a->met[i]);
	win_free(&a->lik);
	free(a->rows);
	free(a->over);
	free(a->train);
	free(a->scratch);
	free(a->shortbuf);
	ns_iforest_free(a->model);
	free(a);
}

int ns_anomaly_new(const struct ns_anomaly_config *c, struct ns_anomaly **out)
{
	struct ns_anomaly *a;
	char err[128];

	*out = NULL;
	if (ns_anomaly_config_check(c, err, sizeof(err)))
		return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
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
				 feat_suffix[k]);
		}
		if (metric_init(&a->met[m], c))
			goto nomem;
	}
	a->rcap = c->history;
	if (c->lik_long > a->rcap)
		a->rcap = c->lik_long;
	if (c->refit_every > a->rcap)
		a->rcap = c->refit_every;
	a->rows = calloc((size_t)a->rcap * a->nf, sizeof(float));
	a->over = calloc(a->rcap, 1);
	a->train = calloc((size_t)a->rcap * a->nf, sizeof(float));
	a->scratch = calloc(a->rcap, sizeof(double));
	a->shortbuf = calloc(c->lik_short, sizeof(double));
	if (!a->rows || !a->over || !a->train || !a->scratch || !a->shortbuf ||
	    win_init(&a->lik, c->lik_long))
		goto nomem;
	a->model_q99 = NAN;
	*out = a;
	return 0;
nomem:
	ns_anomaly_free(a);
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

uint64_t ns_anomaly_ticks(const struct ns_anomaly *a)
{
	return a->ticks;
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

/* Row i back from the newest (0 = newest). */
static float *row_back(const struct ns_anomaly *a, uint32_t i)
{
	uint32_t idx = (a->rhead + a->rcap - 1 - i) % a->rcap;
	return a->rows + (size_t)idx * a->nf;
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
		if (ns_iforest_score(m, row_back(a, i), a->nf, &s) == 0 && s > q)
			hits++;
	}
	return n ? (double)hits / n : 0.0;
}

/* Rebuilds the likelihood reference from the stored rows under the new model,
 * so a refit does not mix two models' score scales. */
static void rescore_reference(struct ns_anomaly *a)
{
	uint32_t n = a->rn < a->c.lik_long ? a->rn : a->c.lik_long;

	a->lik.n = a->lik.head = 0;
	a->lik.mean = a->lik.m2 = 0;
	a->short_n = a->short_head = 0;
	for (uint32_t i = n; i-- > 0;) {
		double s;
		if (ns_iforest_score(a->model, row_back(a, i), a->nf, &s) == 0) {
			win_push(&a->lik, s);
			if (i < a->c.lik_short) {
				a->shortbuf[a->short_head] = s;
				a->short_head = (a->short_head + 1) % a->c.lik_short;
				if (a->short_n < a->c.lik_short)
					a->short_n++;
			}
		}
	}
}

/* Trains a challenger on the newest `history` rows that were not over the
 * threshold and installs it unless it is worse (see anomaly.h). */
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
		if (a->over[idx])
			continue;
		memcpy(a->train + (size_t)n * a->nf, a->rows + (size_t)idx * a->nf,
		       a->nf * sizeof(float));
		n++;
	}
	if (n < 16)
		return 0; /* too few ordinary rows: keep the champion, try next time */
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
	double s, sm = 0, sd, z, lik;
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
		metric_step(&a->met[m], (double)values[m], row + m * NF_PER);
	a->rhead = (a->rhead + 1) % a->rcap;
	if (a->rn < a->rcap)
		a->rn++;
	a->over[idx] = 0;

	if (a->model && ns_iforest_score(a->model, row, a->nf, &s) == 0) {
		r->ready = 1;
		r->score = s;
		win_push(&a->lik, s);
		a->shortbuf[a->short_head] = s;
		a->short_head = (a->short_head + 1) % a->c.lik_short;
		if (a->short_n < a->c.lik_short)
			a->short_n++;
		for (uint32_t i = 0; i < a->short_n; i++)
			sm += a->shortbuf[i];
		sm /= a->short_n;
		sd = win_std(&a->lik);
		/* The 1e-3 floor keeps a near-constant score history from turning
		 * rounding noise into certainty. */
		z = a->lik.n >= 8 ? (sm - win_mean(&a->lik)) / (sd > 1e-3 ? sd : 1e-3) : 0;
		lik = 0.5 * erfc(-z / sqrt(2.0));
		r->likelihood = lik;
		over = lik >= a->c.threshold;
		a->over[idx] = (uint8_t)over;

		if (a->refr_left) {
			a->refr_left--;
			r->output = 0;
		} else {
			r->output = lik;
			if (over)
				a->refr_left = a->c.refractory;
		}
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
		if (over || a->flag) {
			double es;
			int top;
			if (ns_iforest_explain(a->model, row, a->nf, &es, &top, NULL) == 0 &&
			    top >= 0) {
				r->top_feature = top;
				r->top_metric = top / NF_PER;
			}
		}
		for (uint32_t f = 0; f < a->nf; f++)
			a->recent[f][bin_of(a->edges[f], row[f])]++;
		a->recent_n++;
	}

	a->since_fit++;
	if ((!a->own_fit && a->ticks >= a->c.probation) ||
	    (a->own_fit && a->since_fit >= a->c.refit_every)) {
		err = refit(a);
		a->since_fit = 0;
		r->refit = 1;
	}
	return err;
}

int ns_anomaly_features_series(const struct ns_anomaly_config *c, const float *values,
			       size_t rows, float *x_out)
{
	struct metric met[NS_ANOMALY_MAX_METRICS];
	char err[128];
	int rc = 0;

	if (ns_anomaly_config_check(c, err, sizeof(err)) || !values || !x_out)
		return -EINVAL;
	memset(met, 0, sizeof(met));
	for (uint32_t m = 0; m < c->n_metrics && !rc; m++)
		rc = metric_init(&met[m], c);
	for (size_t i = 0; i < rows && !rc; i++)
		for (uint32_t m = 0; m < c->n_metrics; m++)
			metric_step(&met[m], (double)values[i * c->n_metrics + m],
				    x_out + (i * c->n_metrics + m) * NF_PER);
	for (uint32_t m = 0; m < NS_ANOMALY_MAX_METRICS; m++)
		metric_free(&met[m]);
	return rc;
}
