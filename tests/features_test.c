// SPDX-License-Identifier: MIT
/* Feature pipeline against a direct (slow) recomputation from the grid. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "nodescore/features.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int close_rel(double got, double want)
{
	if (isnan(want))
		return isnan(got);
	return fabs(got - want) <= 1e-5 * fmax(fabs(want), 1.0);
}

struct acc {
	double s, ss, mx;
	uint32_t n;
};

static void acc_range(const float *g, int64_t lo, int64_t hi, struct acc *a)
{
	a->s = a->ss = 0;
	a->mx = -INFINITY;
	a->n = 0;
	for (int64_t i = lo < 0 ? 0 : lo; i <= hi; i++) {
		if (isnan(g[i]))
			continue;
		a->s += g[i];
		a->mx = fmax(a->mx, g[i]);
		a->n++;
	}
	if (a->n) {
		double m = a->s / a->n;

		for (int64_t i = lo < 0 ? 0 : lo; i <= hi; i++)
			if (!isnan(g[i]))
				a->ss += (g[i] - m) * (g[i] - m);
	}
}

static const uint64_t win_ms[5] = {60000, 300000, 3600000, 21600000, 86400000};
static const uint64_t lag_ms[8] = {300000,   900000,   3600000,	 7200000,
				   14400000, 72000000, 79200000, 82800000};

static uint64_t rnd_div(uint64_t a, uint64_t b)
{
	uint64_t q = (a + b / 2) / b;

	return q < 1 ? 1 : q;
}

/* Compares every feature of metric column mi (grid g of that metric) at
 * grid index s. Returns the first mismatching feature index or -1. */
static int compare_metric(const float *out, size_t base, const float *g, int64_t s, uint64_t step,
			  uint64_t B)
{
	int64_t blast = (s + 1) / (int64_t)B - 1;
	size_t k = base;
	struct acc a;
	double lag[8], mean[5], sd[5], mx[5];

	if (!close_rel(out[k], g[s]))
		return (int)k;
	k++;
	for (int w = 0; w < 5; w++) {
		if (w < 2) {
			int64_t c = (int64_t)rnd_div(win_ms[w], step);

			acc_range(g, s - c + 1, s, &a);
		} else {
			int64_t c = (int64_t)rnd_div(win_ms[w], step * B);

			acc_range(g, (blast - c + 1) * (int64_t)B,
				  blast * (int64_t)B + (int64_t)B - 1, &a);
		}
		mean[w] = a.n ? a.s / a.n : NAN;
		sd[w] = a.n ? sqrt(a.ss / a.n) : NAN;
		mx[w] = a.n ? a.mx : NAN;
		if (!close_rel(out[k++], mean[w]))
			return (int)k - 1;
		if (!close_rel(out[k++], sd[w]))
			return (int)k - 1;
		if (!close_rel(out[k++], mx[w]))
			return (int)k - 1;
	}
	for (int l = 0; l < 8; l++) {
		int64_t b = blast - (int64_t)rnd_div(lag_ms[l], step * B);

		if (b < 0) {
			lag[l] = NAN;
		} else {
			acc_range(g, b * (int64_t)B, b * (int64_t)B + (int64_t)B - 1, &a);
			lag[l] = a.n ? a.s / a.n : NAN;
		}
		if (!close_rel(out[k++], lag[l]))
			return (int)k - 1;
	}
	if (!close_rel(out[k++], g[s] - lag[0]))
		return (int)k - 1;
	if (!close_rel(out[k++], g[s] - lag[2]))
		return (int)k - 1;
	{
		const double rel[8] = {
		    mean[2] - g[s],
		    mean[3] - g[s],
		    mean[4] - g[s],
		    lag[7] - g[s],
		    mx[2] - g[s],
		    (g[s] - mean[2]) / (sd[2] + 0.005),
		    (g[s] - mean[4]) / (sd[4] + 0.005),
		    sd[2] / (sd[4] + 0.005),
		};

		/* Differences of nearly equal values: compare on the inputs' scale. */
		for (int r = 0; r < 8; r++, k++)
			if (isnan(rel[r]) ? !isnan(out[k])
					  : fabs(out[k] - rel[r]) > 1e-4 * fmax(fabs(rel[r]), 1.0))
				return (int)k;
	}
	return -1;
}

static void run_config(uint32_t step_ms, size_t nsteps, size_t check_every)
{
	struct ns_feat_config cfg = {.step_ms = step_ms, .metric_mask = NS_FEAT_MASK_FORECAST};
	float *gc = malloc(nsteps * sizeof(float)), *gm = malloc(nsteps * sizeof(float));
	float out[NS_FEAT_MAX];
	struct ns_feat *f = NULL;
	uint64_t B, t0 = 1700000000000ull;
	size_t checks = 0;

	CHECK(gc && gm);
	CHECK_EQ_INT(ns_feat_new(&cfg, &f), 0);
	CHECK_EQ_INT(ns_feat_count(f), NS_FEAT_GLOBAL + 2 * NS_FEAT_PER_METRIC);
	B = ns_feat_bucket_steps(f);
	for (size_t i = 0; i < nsteps; i++) {
		struct ns_sample s;
		/* Jitter within a third of a step still lands on grid step i. */
		int64_t jit = (int64_t)((urand() - 0.5) * 0.6 * step_ms);
		int gap = (i % 3000) >= 1000 && (i % 3000) < 1000 + (i / 3000) * 40;

		ns_sample_init(&s, (uint64_t)((int64_t)(t0 + i * step_ms) + (i ? jit : 0)));
		s.v[NS_M_CPU_UTIL] = urand() < 0.05 ? NAN : (float)(urand() * urand());
		s.v[NS_M_MEM_UTIL] = urand() < 0.02 ? NAN : (float)(0.5 + 0.1 * urand());
		s.v[NS_M_LOAD1] = 3.0f; /* not in the mask: must not matter */
		if (gap) {
			gc[i] = gm[i] = NAN;
			continue;
		}
		gc[i] = s.v[NS_M_CPU_UTIL];
		gm[i] = s.v[NS_M_MEM_UTIL];
		CHECK_EQ_INT(ns_feat_push(f, &s), 0);
		if (i > 0 && i % 97 == 0)
			CHECK_EQ_INT(ns_feat_push(f, &s), 1); /* same step again: dropped */
		if (i % check_every == 0 || i + 1 == nsteps) {
			int bad;

			CHECK_EQ_INT(ns_feat_get(f, out, NS_FEAT_MAX), 0);
			bad = compare_metric(out, NS_FEAT_GLOBAL, gc, (int64_t)i, step_ms, B);
			if (bad < 0)
				bad = compare_metric(out, NS_FEAT_GLOBAL + NS_FEAT_PER_METRIC, gm,
						     (int64_t)i, step_ms, B);
			if (bad >= 0)
				fprintf(stderr, "  step=%u i=%zu feature %s = %g\n", step_ms, i,
					ns_feat_name(f, (size_t)bad), out[bad]);
			CHECK(bad < 0);
			checks++;
		}
	}
	CHECK(checks > 10);
	ns_feat_free(f);
	free(gc);
	free(gm);
}

static void test_step_5min(void)
{
	run_config(300000, 12000, 7);
}

static void test_step_10s_buckets(void)
{
	run_config(10000, 40000, 131);
}

static void test_step_1s_minute_buckets(void)
{
	run_config(1000, 100000, 4999);
}

static void test_names_and_time(void)
{
	struct ns_feat_config cfg = {.step_ms = 60000, .metric_mask = NS_FEAT_MASK_FORECAST};
	struct ns_feat *f;
	struct ns_sample s;
	float out[NS_FEAT_MAX];

	CHECK_EQ_INT(ns_feat_new(&cfg, &f), 0);
	CHECK_EQ_STR(ns_feat_name(f, 0), "tod_sin");
	CHECK_EQ_STR(ns_feat_name(f, 4), "cpu_util_cur");
	CHECK_EQ_STR(ns_feat_name(f, 5), "cpu_util_mean_1m");
	CHECK_EQ_INT(ns_feat_index(f, "mem_util_max_24h"),
		     NS_FEAT_GLOBAL + NS_FEAT_PER_METRIC + 15);
	CHECK_EQ_INT(ns_feat_index(f, "mem_util_d_1h"), NS_FEAT_GLOBAL + NS_FEAT_PER_METRIC + 25);
	CHECK_EQ_INT(ns_feat_index(f, "mem_util_vr_1h"),
		     NS_FEAT_GLOBAL + 2 * NS_FEAT_PER_METRIC - 1);
	CHECK(ns_feat_name(f, ns_feat_count(f)) == NULL);
	/* 2024-01-01 was a Monday; 06:00 UTC is a quarter of the day. */
	ns_sample_init(&s, 1704088800000ull);
	s.v[NS_M_CPU_UTIL] = 0.5f;
	CHECK_EQ_INT(ns_feat_push(f, &s), 0);
	CHECK_EQ_INT(ns_feat_get(f, out, NS_FEAT_MAX), 0);
	CHECK(fabs(out[0] - 1.0) < 1e-6 && fabs(out[1]) < 1e-6);
	CHECK(fabs(out[2] - sin(2 * M_PI * 0.25 / 7)) < 1e-6);
	CHECK(out[4] == 0.5f && isnan(out[4 + NS_FEAT_PER_METRIC]));
	CHECK_EQ_INT(ns_feat_get(f, out, 3), -EINVAL);
	/* A gap longer than the 24 h history wipes every window. */
	ns_sample_init(&s, 1704088800000ull + 3 * 86400000ull);
	s.v[NS_M_CPU_UTIL] = 0.25f;
	CHECK_EQ_INT(ns_feat_push(f, &s), 0);
	CHECK_EQ_INT(ns_feat_get(f, out, NS_FEAT_MAX), 0);
	CHECK(out[4] == 0.25f && out[ns_feat_index(f, "cpu_util_mean_24h")] == 0.25f);
	CHECK(isnan(out[ns_feat_index(f, "cpu_util_lag_5m")]));
	ns_feat_free(f);
}

static void test_bad_config(void)
{
	struct ns_feat_config cfg = {.step_ms = 10, .metric_mask = 1};
	struct ns_feat *f = (struct ns_feat *)1;

	CHECK_EQ_INT(ns_feat_new(&cfg, &f), -EINVAL);
	CHECK(f == NULL);
	cfg.step_ms = 1000;
	cfg.metric_mask = 0;
	CHECK_EQ_INT(ns_feat_new(&cfg, &f), -EINVAL);
	cfg.metric_mask = 1u << NS_METRIC_COUNT;
	CHECK_EQ_INT(ns_feat_new(&cfg, &f), -EINVAL);
	cfg.metric_mask = (1u << NS_METRIC_COUNT) - 1;
	CHECK_EQ_INT(ns_feat_new(&cfg, &f), 0);
	CHECK_EQ_INT(ns_feat_count(f), NS_FEAT_MAX);
	/* Memory budget: every metric at 1 s stays well under the agent's 16 MiB. */
	CHECK(ns_feat_memory(f) < 4u << 20);
	ns_feat_free(f);
}

/* A wall clock stepped back: without ns_feat_clock_back every sample is
 * dropped until the clock reaches the old grid again; with it the next
 * sample is the next step and the windows keep what they had. */
static void test_clock_back(void)
{
	struct ns_feat_config cfg = {60000u, 1u << NS_M_CPU_UTIL};
	struct ns_feat *f = NULL;
	struct ns_sample s;
	float out[NS_FEAT_MAX];
	const uint64_t t0 = 1795392000000ull, step = 60000u;
	int cur, mean1h;

	CHECK_EQ_INT(ns_feat_new(&cfg, &f), 0);
	cur = ns_feat_index(f, "cpu_util_cur");
	mean1h = ns_feat_index(f, "cpu_util_mean_1h");
	CHECK(cur >= 0 && mean1h >= 0);
	ns_feat_clock_back(f, t0); /* nothing pushed yet: no effect */
	for (int i = 0; i < 30; i++) {
		ns_sample_init(&s, t0 + (uint64_t)i * step);
		s.v[NS_M_CPU_UTIL] = 0.2f;
		CHECK_EQ_INT(ns_feat_push(f, &s), 0);
	}
	/* One hour back: dropped as it stands. */
	ns_sample_init(&s, t0 + 30 * step - 3600000u);
	s.v[NS_M_CPU_UTIL] = 0.6f;
	CHECK_EQ_INT(ns_feat_push(f, &s), 1);
	ns_feat_clock_back(f, s.ts_ms);
	CHECK_EQ_INT(ns_feat_push(f, &s), 0);
	s.ts_ms += step;
	CHECK_EQ_INT(ns_feat_push(f, &s), 0);
	CHECK_EQ_INT(ns_feat_get(f, out, NS_FEAT_MAX), 0);
	CHECK(fabsf(out[cur] - 0.6f) < 1e-6f);
	/* 30 points of 0.2 and 2 of 0.6, none lost to the jump. */
	CHECK(fabsf(out[mean1h] - (30 * 0.2f + 2 * 0.6f) / 32) < 1e-4f);
	/* A time too small to anchor the grid: a fresh start. */
	ns_feat_clock_back(f, 1000);
	ns_sample_init(&s, 1000);
	s.v[NS_M_CPU_UTIL] = 0.4f;
	CHECK_EQ_INT(ns_feat_push(f, &s), 0);
	CHECK_EQ_INT(ns_feat_get(f, out, NS_FEAT_MAX), 0);
	CHECK(fabsf(out[mean1h] - 0.4f) < 1e-6f);
	ns_feat_free(f);
}

int main(void)
{
	RUN(test_step_5min);
	RUN(test_step_10s_buckets);
	RUN(test_step_1s_minute_buckets);
	RUN(test_names_and_time);
	RUN(test_bad_config);
	RUN(test_clock_back);
	return CHECK_SUMMARY();
}
