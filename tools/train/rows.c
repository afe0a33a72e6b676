// SPDX-License-Identifier: MIT
/* Feature rows, horizon targets (mean and peak over the next H) and the
 * simple baselines, from gridded series through the shared ns_feat
 * pipeline: the same rows feed training, evaluation and feature export. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/clock.h"
#include "nodescore/features.h"
#include "nodescore/log.h"
#include "train.h"

const char *const train_base_names[BASE_N] = {
    [BASE_PERSIST] = "persistence",
    [BASE_SNAIVE] = "seasonal_naive",
    [BASE_EWMA] = "ewma",
};

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

/* A series is "active" when its CPU moves: std over the training part of at
 * least 2 percentage points. Flat (idle) series make every method look good. */
#define ACTIVE_STD 0.02

void progress_start(struct progress *p, const char *comp, const char *what)
{
	p->comp = comp;
	p->what = what;
	p->start_ns = p->last_ns = ns_mono_ns();
}

void progress_tick(struct progress *p, double frac)
{
	uint64_t now = ns_mono_ns();
	double el;

	if (now - p->last_ns < 2000000000ull && frac < 1.0)
		return;
	p->last_ns = now;
	el = (double)(now - p->start_ns) / 1e9;
	log_info(p->comp, "%s progress=%.0f%% elapsed=%.0fs eta=%.0fs", p->what, 100.0 * frac, el,
		 frac > 0.001 ? el * (1.0 - frac) / frac : 0.0);
}

static int grow(struct rows *r)
{
	size_t nc = r->cap ? r->cap * 2 : 4096;
	float *x = realloc(r->X, nc * r->nfeat * sizeof(float));

	if (!x)
		return -ENOMEM;
	r->X = x;
	x = realloc(r->Y, nc * r->ntarget * sizeof(float));
	if (!x)
		return -ENOMEM;
	r->Y = x;
	x = realloc(r->B, nc * r->ntarget * BASE_N * sizeof(float));
	if (!x)
		return -ENOMEM;
	r->B = x;
	{
		uint8_t *t = realloc(r->test, nc);
		uint32_t *s;
		uint64_t *ts;

		if (!t)
			return -ENOMEM;
		r->test = t;
		s = realloc(r->sid, nc * sizeof(*s));
		if (!s)
			return -ENOMEM;
		r->sid = s;
		ts = realloc(r->ts, nc * sizeof(*ts));
		if (!ts)
			return -ENOMEM;
		r->ts = ts;
	}
	r->cap = nc;
	return 0;
}

/* Mean and max of v[a..b] over valid values; NaN when under half valid. */
static void window_stats(const float *v, size_t n, int64_t a, int64_t b, float *mean, float *max)
{
	double s = 0, m = -INFINITY;
	int64_t cnt = 0, len = b - a + 1;

	*mean = *max = NAN;
	if (a < 0 || b >= (int64_t)n || len <= 0)
		return;
	for (int64_t i = a; i <= b; i++) {
		if (isnan(v[i]))
			continue;
		s += v[i];
		m = fmax(m, v[i]);
		cnt++;
	}
	if (cnt * 2 < len)
		return;
	*mean = (float)(s / (double)cnt);
	*max = (float)m;
}

int train_rows_build(const struct ns_series_set *set, const struct rows_spec *spec, struct rows *r,
		     char *err, size_t errlen)
{
	struct ns_feat_config cfg = {.step_ms = set->step_ms, .metric_mask = spec->mask};
	struct ns_feat *f = NULL;
	uint32_t hs[4], hmax = 0, day = (uint32_t)(86400000u / set->step_ms);
	uint32_t train_stride = spec->train_stride ? spec->train_stride : 1;
	size_t cand = 0, skipped = 0;
	struct progress pg;
	int rc;

	memset(r, 0, sizeof(*r));
	if (spec->nh < 1 || spec->nh > 4) {
		ERR("1 to 4 horizons");
		return -EINVAL;
	}
	rc = ns_feat_new(&cfg, &f);
	if (rc) {
		ERR("feature pipeline: step %u ms not supported", set->step_ms);
		return rc;
	}
	r->nfeat = ns_feat_count(f);
	r->feat_names = calloc(r->nfeat, sizeof(char *));
	if (!r->feat_names) {
		ns_feat_free(f);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->nfeat; i++)
		r->feat_names[i] = strdup(ns_feat_name(f, i));
	for (size_t h = 0; h < spec->nh; h++) {
		hs[h] = spec->horizons_s[h] * 1000u / set->step_ms;
		if (hs[h] < 1 || spec->horizons_s[h] * 1000ull % set->step_ms) {
			ERR("horizon %u s is not a multiple of the %u ms step", spec->horizons_s[h],
			    set->step_ms);
			ns_feat_free(f);
			return -EINVAL;
		}
		hmax = hs[h] > hmax ? hs[h] : hmax;
	}
	for (int res = 0; res < NS_SERIES_NRES; res++)
		for (int st = 0; st < 2; st++)
			for (size_t h = 0; h < spec->nh; h++)
				r->tgt[r->ntarget++] = (struct ns_fc_target){
				    .metric = ns_series_res_metric[res],
				    .stat = (uint8_t)st,
				    .horizon_s = spec->horizons_s[h],
				};
	r->nseries = set->n;
	r->active = calloc(set->n ? set->n : 1, 1);
	if (!r->active) {
		ns_feat_free(f);
		return -ENOMEM;
	}
	/* Thin training rows evenly when they would exceed the budget. */
	for (size_t si = 0; si < set->n; si++) {
		size_t split = (size_t)((double)set->s[si].n * spec->train_frac);

		cand += split > hmax ? (split - hmax) / train_stride : 0;
	}
	if (spec->max_train_rows && cand > spec->max_train_rows) {
		train_stride = (uint32_t)((cand * train_stride + spec->max_train_rows - 1) /
					  spec->max_train_rows);
		log_info("train", "thinning training rows stride=%u rows_before=%zu max=%zu",
			 train_stride, cand, spec->max_train_rows);
	}
	progress_start(&pg, "train", "building feature rows");
	for (size_t si = 0; si < set->n && !train_stop; si++) {
		const struct ns_series *s = &set->s[si];
		size_t split = (size_t)((double)s->n * spec->train_frac);
		float last[NS_SERIES_NRES] = {NAN, NAN}, ewma[NS_SERIES_NRES][4];
		double alpha[4], sum = 0, sum2 = 0;
		size_t cnt = 0;

		/* Enough for a day of history plus the longest horizon. */
		if (s->n < (size_t)day + 2u * hmax ||
		    (spec->train_frac < 1.0 && s->n - split <= hmax)) {
			skipped++;
			continue;
		}
		for (size_t i = 0; i < (split ? split : s->n); i++)
			if (!isnan(s->v[0][i])) {
				sum += s->v[0][i];
				sum2 += (double)s->v[0][i] * s->v[0][i];
				cnt++;
			}
		r->active[si] =
		    cnt > 1 &&
		    sqrt(fmax(0, sum2 / (double)cnt - (sum / (double)cnt) * (sum / (double)cnt))) >=
			ACTIVE_STD;
		for (size_t h = 0; h < spec->nh; h++) {
			/* EWMA half-life of half the horizon. */
			alpha[h] = 1.0 - pow(0.5, 2.0 / hs[h]);
			for (int k = 0; k < NS_SERIES_NRES; k++)
				ewma[k][h] = NAN;
		}
		ns_feat_reset(f);
		for (size_t i = 0; i < s->n; i++) {
			struct ns_sample smp;
			int is_test, take;
			size_t row;

			ns_sample_init(&smp, s->t0_ms + (uint64_t)i * set->step_ms);
			for (int k = 0; k < NS_SERIES_NRES; k++) {
				float x = s->v[k][i];

				smp.v[ns_series_res_metric[k]] = x;
				if (isnan(x))
					continue;
				last[k] = x;
				for (size_t h = 0; h < spec->nh; h++)
					ewma[k][h] =
					    isnan(ewma[k][h])
						? x
						: (float)(ewma[k][h] + alpha[h] * (x - ewma[k][h]));
			}
			ns_feat_push(f, &smp);
			is_test = i >= split;
			if (!is_test)
				take = i + hmax < split && i % train_stride == 0 &&
				       (uint64_t)i * set->step_ms >= 3600000u;
			else
				take = spec->test_stride && i + hmax < s->n &&
				       (i - split) % spec->test_stride == 0;
			if (!take || (isnan(last[0]) && isnan(last[1])))
				continue;
			if (r->n == r->cap && (rc = grow(r)) != 0) {
				ns_feat_free(f);
				return rc;
			}
			row = r->n++;
			ns_feat_get(f, r->X + row * r->nfeat, r->nfeat);
			r->test[row] = (uint8_t)is_test;
			r->sid[row] = (uint32_t)si;
			r->ts[row] = smp.ts_ms;
			for (size_t t = 0; t < r->ntarget; t++) {
				int res = (int)(t / (2 * spec->nh)), st = (int)(t / spec->nh) % 2;
				size_t h = t % spec->nh;
				float mean, max, smean, smax,
				    *b = r->B + (row * r->ntarget + t) * BASE_N;

				window_stats(s->v[res], s->n, (int64_t)i + 1, (int64_t)(i + hs[h]),
					     &mean, &max);
				r->Y[row * r->ntarget + t] = st ? max : mean;
				window_stats(s->v[res], s->n, (int64_t)i + 1 - day,
					     (int64_t)i + hs[h] - day, &smean, &smax);
				b[BASE_PERSIST] = last[res];
				/* Seasonal naive falls back to persistence without a day of data.
				 */
				b[BASE_SNAIVE] = isnan(smean) ? last[res] : (st ? smax : smean);
				b[BASE_EWMA] = ewma[res][h];
			}
		}
		progress_tick(&pg, (double)(si + 1) / (double)set->n);
	}
	ns_feat_free(f);
	if (train_stop) {
		ERR("interrupted");
		return -ECANCELED;
	}
	if (skipped)
		log_warning("train", "series too short, skipped count=%zu need_days=%.1f", skipped,
			    (double)(day + 2u * hmax) * set->step_ms / 86400000.0);
	return 0;
}

void train_rows_free(struct rows *r)
{
	free(r->X);
	free(r->Y);
	free(r->B);
	free(r->test);
	free(r->sid);
	free(r->ts);
	free(r->active);
	if (r->feat_names)
		for (size_t i = 0; i < r->nfeat; i++)
			free(r->feat_names[i]);
	free(r->feat_names);
	memset(r, 0, sizeof(*r));
}
