// SPDX-License-Identifier: MIT
/* Feature pipeline: per-metric rolling windows, minute buckets for the long
 * windows and lags, time of day/week. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/features.h"
#include "nodescore/rolling.h"

#define FEAT_NAME_LEN 40

static const uint32_t win_ms[NS_FEAT_NWIN] = {
    [NS_FEAT_W_1M] = 60000u,	[NS_FEAT_W_5M] = 300000u,    [NS_FEAT_W_1H] = 3600000u,
    [NS_FEAT_W_6H] = 21600000u, [NS_FEAT_W_24H] = 86400000u,
};
static const char *const win_name[NS_FEAT_NWIN] = {
    [NS_FEAT_W_1M] = "1m", [NS_FEAT_W_5M] = "5m",   [NS_FEAT_W_1H] = "1h",
    [NS_FEAT_W_6H] = "6h", [NS_FEAT_W_24H] = "24h",
};
/* Windows below this index run over raw samples, the rest over buckets. */
#define FEAT_FIRST_BUCKET_WIN NS_FEAT_W_1H

static const uint32_t lag_ms[NS_FEAT_NLAG] = {
    300000u, 900000u, 3600000u, 7200000u, 14400000u, 72000000u, 79200000u, 82800000u,
};
static const char *const lag_name[NS_FEAT_NLAG] = {
    "5m", "15m", "1h", "2h", "4h", "20h", "22h", "23h",
};

struct feat_metric {
	int metric;
	struct ns_roll win[NS_FEAT_NWIN];
	struct ns_roll_chunk bucket; /* bucket being filled */
};

struct ns_feat {
	struct ns_feat_config cfg;
	uint32_t bucket_steps;
	uint32_t lag_k[NS_FEAT_NLAG];
	uint64_t reset_gap; /* steps of gap that wipe every window */
	int started;
	uint64_t t0_ms, last_idx, last_ts_ms;
	size_t nmetric, nfeat, bytes;
	float cur[NS_METRIC_COUNT];
	struct feat_metric m[NS_METRIC_COUNT];
	char names[NS_FEAT_MAX][FEAT_NAME_LEN];
	void *storage;
};

static uint32_t div_round(uint64_t a, uint64_t b)
{
	uint64_t q = (a + b / 2) / b;

	return q < 1 ? 1u : (uint32_t)q;
}

/* Level-free features after the deltas: the forecaster learns the change
 * from the current value, and differences and z-scores against the current
 * value carry that change directly, where trees over raw levels need many
 * splits per level to express it. */
static const char *const rel_name[] = {
    "dm_1h", "dm_6h", "dm_24h", "dlag_23h", "dmax_1h", "z_1h", "z_24h", "vr_1h",
};

/* Keeps z-scores and the volatility ratio finite on flat series (0.5 pp). */
#define FEAT_STD_FLOOR 0.005

static void build_names(struct ns_feat *f)
{
	static const char *const glob[NS_FEAT_GLOBAL] = {"tod_sin", "tod_cos", "dow_sin",
							 "dow_cos"};
	static const char *const stat[3] = {"mean", "std", "max"};
	size_t k = 0;

	for (size_t i = 0; i < NS_FEAT_GLOBAL; i++)
		snprintf(f->names[k++], FEAT_NAME_LEN, "%s", glob[i]);
	for (size_t j = 0; j < f->nmetric; j++) {
		const char *mn = ns_metric_names[f->m[j].metric];

		snprintf(f->names[k++], FEAT_NAME_LEN, "%s_cur", mn);
		for (size_t w = 0; w < NS_FEAT_NWIN; w++)
			for (size_t s = 0; s < 3; s++)
				snprintf(f->names[k++], FEAT_NAME_LEN, "%s_%s_%s", mn, stat[s],
					 win_name[w]);
		for (size_t l = 0; l < NS_FEAT_NLAG; l++)
			snprintf(f->names[k++], FEAT_NAME_LEN, "%s_lag_%s", mn, lag_name[l]);
		snprintf(f->names[k++], FEAT_NAME_LEN, "%s_d_5m", mn);
		snprintf(f->names[k++], FEAT_NAME_LEN, "%s_d_1h", mn);
		for (size_t r = 0; r < sizeof(rel_name) / sizeof(rel_name[0]); r++)
			snprintf(f->names[k++], FEAT_NAME_LEN, "%s_%s", mn, rel_name[r]);
	}
	f->nfeat = k;
}

void ns_feat_reset(struct ns_feat *f)
{
	f->started = 0;
	f->t0_ms = f->last_idx = f->last_ts_ms = 0;
	for (size_t j = 0; j < f->nmetric; j++) {
		for (size_t w = 0; w < NS_FEAT_NWIN; w++)
			ns_roll_reset(&f->m[j].win[w]);
		ns_roll_chunk_clear(&f->m[j].bucket);
	}
	for (size_t i = 0; i < NS_METRIC_COUNT; i++)
		f->cur[i] = NAN;
}

int ns_feat_new(const struct ns_feat_config *cfg, struct ns_feat **out)
{
	uint32_t cap[NS_FEAT_NWIN];
	size_t per = 0, off = 0;
	struct ns_feat *f;
	uint64_t bucket_ms;

	*out = NULL;
	if (!cfg || cfg->step_ms < NS_FEAT_STEP_MIN_MS || cfg->step_ms > NS_FEAT_STEP_MAX_MS ||
	    cfg->metric_mask == 0 || (cfg->metric_mask >> NS_METRIC_COUNT) != 0)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	f->bucket_steps = cfg->step_ms >= 60000u ? 1u : div_round(60000u, cfg->step_ms);
	bucket_ms = (uint64_t)f->bucket_steps * cfg->step_ms;
	for (size_t w = 0; w < NS_FEAT_NWIN; w++) {
		cap[w] = w < FEAT_FIRST_BUCKET_WIN ? div_round(win_ms[w], cfg->step_ms)
						   : div_round(win_ms[w], bucket_ms);
		per += ns_roll_storage_bytes(cap[w]);
	}
	for (size_t l = 0; l < NS_FEAT_NLAG; l++)
		f->lag_k[l] = div_round(lag_ms[l], bucket_ms);
	f->reset_gap = (uint64_t)cap[NS_FEAT_W_24H] * f->bucket_steps + f->bucket_steps;
	for (int i = 0; i < NS_METRIC_COUNT; i++)
		if (cfg->metric_mask & (1u << i))
			f->m[f->nmetric++].metric = i;
	f->storage = malloc(per * f->nmetric);
	if (!f->storage) {
		free(f);
		return -ENOMEM;
	}
	for (size_t j = 0; j < f->nmetric; j++)
		for (size_t w = 0; w < NS_FEAT_NWIN; w++) {
			size_t b = ns_roll_storage_bytes(cap[w]);

			if (ns_roll_init(&f->m[j].win[w], cap[w], (char *)f->storage + off, b)) {
				free(f->storage);
				free(f);
				return -EINVAL;
			}
			off += b;
		}
	f->bytes = sizeof(*f) + per * f->nmetric;
	build_names(f);
	ns_feat_reset(f);
	*out = f;
	return 0;
}

void ns_feat_free(struct ns_feat *f)
{
	if (!f)
		return;
	free(f->storage);
	free(f);
}

size_t ns_feat_count(const struct ns_feat *f)
{
	return f->nfeat;
}

const char *ns_feat_name(const struct ns_feat *f, size_t i)
{
	return i < f->nfeat ? f->names[i] : NULL;
}

int ns_feat_index(const struct ns_feat *f, const char *name)
{
	for (size_t i = 0; i < f->nfeat; i++)
		if (strcmp(f->names[i], name) == 0)
			return (int)i;
	return -1;
}

size_t ns_feat_memory(const struct ns_feat *f)
{
	return f->bytes;
}

uint32_t ns_feat_bucket_steps(const struct ns_feat *f)
{
	return f->bucket_steps;
}

/* Advances the grid by one step at index idx with value x per metric (NaN
 * for a gap). */
static void step_one(struct ns_feat *f, uint64_t idx, const float *v)
{
	int bucket_done = (idx % f->bucket_steps) == f->bucket_steps - 1;

	for (size_t j = 0; j < f->nmetric; j++) {
		struct feat_metric *fm = &f->m[j];
		double x = v ? (double)v[fm->metric] : NAN;

		for (size_t w = 0; w < FEAT_FIRST_BUCKET_WIN; w++)
			ns_roll_push(&fm->win[w], x);
		ns_roll_chunk_add(&fm->bucket, x);
		if (bucket_done) {
			for (size_t w = FEAT_FIRST_BUCKET_WIN; w < NS_FEAT_NWIN; w++)
				ns_roll_push_chunk(&fm->win[w], &fm->bucket);
			ns_roll_chunk_clear(&fm->bucket);
		}
	}
}

int ns_feat_push(struct ns_feat *f, const struct ns_sample *s)
{
	uint64_t idx;

	if (!f->started) {
		ns_feat_reset(f);
		f->started = 1;
		f->t0_ms = s->ts_ms;
		f->last_idx = 0;
		idx = 0;
	} else {
		if (s->ts_ms < f->t0_ms)
			return 1;
		idx = (s->ts_ms - f->t0_ms + f->cfg.step_ms / 2) / f->cfg.step_ms;
		if (idx <= f->last_idx)
			return 1;
		if (idx - f->last_idx > f->reset_gap) {
			/* Nothing of the old history would stay in any window;
			 * wipe it without walking the gap. */
			uint64_t t0 = f->t0_ms;

			ns_feat_reset(f);
			f->started = 1;
			f->t0_ms = t0;
		} else {
			for (uint64_t g = f->last_idx + 1; g < idx; g++)
				step_one(f, g, NULL);
		}
	}
	step_one(f, idx, s->v);
	for (size_t j = 0; j < f->nmetric; j++) {
		int m = f->m[j].metric;

		f->cur[m] = isfinite(s->v[m]) ? s->v[m] : NAN;
	}
	f->last_idx = idx;
	f->last_ts_ms = s->ts_ms;
	return 0;
}

void ns_feat_clock_back(struct ns_feat *f, uint64_t ts_ms)
{
	uint64_t span;

	if (!f->started)
		return;
	span = (f->last_idx + 1) * f->cfg.step_ms;
	if (ts_ms < span) {
		ns_feat_reset(f);
		return;
	}
	/* idx = (ts - t0 + step / 2) / step = last_idx + 1 for this ts. */
	f->t0_ms = ts_ms - span;
}

static float lag_value(const struct ns_roll *r, uint32_t k)
{
	const struct ns_roll_chunk *c = ns_roll_at(r, k);

	return (c && c->n) ? (float)c->mean : NAN;
}

int ns_feat_get(const struct ns_feat *f, float *out, size_t n)
{
	const double two_pi = 6.283185307179586;
	size_t k = 0;
	double day, week;

	if (!out || n < f->nfeat)
		return -EINVAL;
	if (!f->started) {
		for (size_t i = 0; i < f->nfeat; i++)
			out[i] = NAN;
		return 0;
	}
	day = (double)(f->last_ts_ms % 86400000u) / 86400000.0;
	/* 1970-01-01 was a Thursday: shift so the week starts on Monday. */
	week = ((double)((f->last_ts_ms / 86400000u + 3u) % 7u) + day) / 7.0;
	out[k++] = (float)sin(two_pi * day);
	out[k++] = (float)cos(two_pi * day);
	out[k++] = (float)sin(two_pi * week);
	out[k++] = (float)cos(two_pi * week);
	for (size_t j = 0; j < f->nmetric; j++) {
		const struct feat_metric *fm = &f->m[j];
		float cur = f->cur[fm->metric], lag[NS_FEAT_NLAG];
		const struct ns_roll *bw = &fm->win[NS_FEAT_W_24H];
		size_t k0 = k;

		out[k++] = cur;
		for (size_t w = 0; w < NS_FEAT_NWIN; w++) {
			out[k++] = (float)ns_roll_mean(&fm->win[w]);
			out[k++] = (float)ns_roll_std(&fm->win[w]);
			out[k++] = (float)ns_roll_max(&fm->win[w]);
		}
		for (size_t l = 0; l < NS_FEAT_NLAG; l++) {
			lag[l] = lag_value(bw, f->lag_k[l]);
			out[k++] = lag[l];
		}
		out[k++] = cur - lag[0];
		out[k++] = cur - lag[2];
		{
			/* This metric's block: cur, then mean/std/max per window. */
			const float *b = out + k0 + 1;
			double m1h = b[3 * NS_FEAT_W_1H], s1h = b[3 * NS_FEAT_W_1H + 1];
			double x1h = b[3 * NS_FEAT_W_1H + 2], m24 = b[3 * NS_FEAT_W_24H];
			double s24 = b[3 * NS_FEAT_W_24H + 1];

			out[k++] = (float)(m1h - cur);
			out[k++] = (float)(b[3 * NS_FEAT_W_6H] - cur);
			out[k++] = (float)(m24 - cur);
			out[k++] = lag[NS_FEAT_NLAG - 1] - cur;
			out[k++] = (float)(x1h - cur);
			out[k++] = (float)((cur - m1h) / (s1h + FEAT_STD_FLOOR));
			out[k++] = (float)((cur - m24) / (s24 + FEAT_STD_FLOOR));
			out[k++] = (float)(s1h / (s24 + FEAT_STD_FLOOR));
		}
	}
	return 0;
}
