// SPDX-License-Identifier: MIT
/* Rolling windows against a direct recomputation on random data with NaNs. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "nodescore/rolling.h"

static uint64_t rng = 88172645463325252ull;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int close_rel(double got, double want, double scale)
{
	if (isnan(want))
		return isnan(got);
	return fabs(got - want) <= 1e-5 * fmax(fabs(want), scale);
}

/* Direct stats over the last cap values of xs[0..n). */
static void direct(const float *xs, size_t n, uint32_t cap, uint32_t *cnt, double *mean, double *sd,
		   double *mx)
{
	size_t lo = n > cap ? n - cap : 0;
	double s = 0, ss = 0, m = -INFINITY;
	uint32_t c = 0;

	for (size_t i = lo; i < n; i++) {
		if (isnan(xs[i]))
			continue;
		s += xs[i];
		if (xs[i] > m)
			m = xs[i];
		c++;
	}
	*cnt = c;
	*mean = c ? s / c : NAN;
	for (size_t i = lo; i < n && c; i++)
		if (!isnan(xs[i]))
			ss += (xs[i] - *mean) * (xs[i] - *mean);
	*sd = c ? sqrt(ss / c) : NAN;
	*mx = c ? m : NAN;
}

static void run_random(uint32_t cap, double offset, double nan_share, size_t n)
{
	float *xs = malloc(n * sizeof(*xs));
	struct ns_roll *r;

	CHECK(xs);
	CHECK_EQ_INT(ns_roll_new(cap, &r), 0);
	for (size_t i = 0; i < n; i++) {
		/* Runs of NaN model gaps; a large offset stresses cancellation. */
		int gap = urand() < nan_share || (i % 500 >= 200 && i % 500 < 200 + cap / 2);

		xs[i] = gap ? NAN : (float)(offset + 10.0 * urand() * urand());
		ns_roll_push(r, xs[i]);
		if (i % 7 == 0 || i + 1 == n) {
			uint32_t c;
			double m, sd, mx;

			direct(xs, i + 1, cap, &c, &m, &sd, &mx);
			if (ns_roll_count(r) != c || !close_rel(ns_roll_mean(r), m, 1.0) ||
			    !close_rel(ns_roll_std(r), sd, 1.0) ||
			    !close_rel(ns_roll_max(r), mx, 1.0)) {
				fprintf(
				    stderr,
				    "  i=%zu cap=%u count %u/%u mean %g/%g std %g/%g max %g/%g\n",
				    i, cap, ns_roll_count(r), c, ns_roll_mean(r), m, ns_roll_std(r),
				    sd, ns_roll_max(r), mx);
				free(xs);
				ns_roll_free(r);
				CHECK(0);
			}
		}
	}
	free(xs);
	ns_roll_free(r);
}

static void test_random_small(void)
{
	run_random(1, 0.0, 0.1, 2000);
	run_random(5, 0.0, 0.2, 5000);
}

static void test_random_windows(void)
{
	run_random(60, 0.0, 0.05, 20000);
	run_random(300, 1000.0, 0.3, 20000);
}

static void test_large_offset_drift(void)
{
	/* 1e6 MiB-sized values with small spread: std must not drift. */
	run_random(1440, 1e6, 0.01, 30000);
}

static void test_all_nan_is_nan(void)
{
	struct ns_roll *r;

	CHECK_EQ_INT(ns_roll_new(4, &r), 0);
	ns_roll_push(r, 3.0);
	for (int i = 0; i < 4; i++)
		ns_roll_push(r, NAN);
	CHECK_EQ_INT(ns_roll_count(r), 0);
	CHECK(isnan(ns_roll_mean(r)) && isnan(ns_roll_std(r)) && isnan(ns_roll_max(r)));
	ns_roll_push(r, INFINITY);
	CHECK_EQ_INT(ns_roll_count(r), 0);
	ns_roll_push(r, 2.0);
	CHECK(ns_roll_mean(r) == 2.0 && ns_roll_std(r) == 0.0 && ns_roll_max(r) == 2.0);
	ns_roll_free(r);
}

static void test_chunks_equal_raw(void)
{
	/* Buckets of 6 pushed as chunks equal the raw window over 6x slots. */
	struct ns_roll *raw, *bk;
	struct ns_roll_chunk c;

	CHECK_EQ_INT(ns_roll_new(60, &raw), 0);
	CHECK_EQ_INT(ns_roll_new(10, &bk), 0);
	ns_roll_chunk_clear(&c);
	for (int i = 0; i < 6000; i++) {
		double x = urand() < 0.1 ? NAN : 50.0 + 20.0 * urand();

		ns_roll_push(raw, x);
		ns_roll_chunk_add(&c, x);
		if (i % 6 == 5) {
			ns_roll_push_chunk(bk, &c);
			ns_roll_chunk_clear(&c);
			CHECK_EQ_INT(ns_roll_count(raw), ns_roll_count(bk));
			CHECK(close_rel(ns_roll_mean(bk), ns_roll_mean(raw), 1.0));
			CHECK(close_rel(ns_roll_std(bk), ns_roll_std(raw), 1.0));
			CHECK(close_rel(ns_roll_max(bk), ns_roll_max(raw), 1.0));
		}
	}
	ns_roll_free(raw);
	ns_roll_free(bk);
}

static void test_at_and_storage(void)
{
	_Alignas(double) unsigned char mem[512];
	struct ns_roll r;

	CHECK_EQ_INT(ns_roll_init(&r, 0, mem, sizeof(mem)), -EINVAL);
	CHECK_EQ_INT(ns_roll_init(&r, 100, mem, sizeof(mem)), -EINVAL);
	CHECK_EQ_INT(ns_roll_init(&r, 4, mem + 1, sizeof(mem) - 1), -EINVAL);
	CHECK(ns_roll_storage_bytes(NS_ROLL_MAX_CAP + 1) == 0);
	CHECK_EQ_INT(ns_roll_init(&r, 4, mem, sizeof(mem)), 0);
	CHECK(ns_roll_at(&r, 0) == NULL);
	for (int i = 1; i <= 6; i++)
		ns_roll_push(&r, i);
	CHECK(ns_roll_at(&r, 0)->mean == 6.0);
	CHECK(ns_roll_at(&r, 3)->mean == 3.0);
	CHECK(ns_roll_at(&r, 4) == NULL);
	CHECK(ns_roll_max(&r) == 6.0 && ns_roll_mean(&r) == 4.5);
}

/* The scan's answer is the one a loop over ns_roll_at gives, for every k
 * (inside the window, past what it holds, past the window) and threshold. */
static void test_scan_means_equals_at(void)
{
	static const uint32_t caps[] = {1, 4, 7, 64};
	int bad = 0;

	for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
		struct ns_roll *r;
		uint32_t cap = caps[ci];

		CHECK_EQ_INT(ns_roll_new(cap, &r), 0);
		for (uint32_t step = 0; step < 3 * cap + 5; step++) {
			for (uint32_t k = 0; k <= cap + 2; k++)
				for (int xi = 0; xi < 4; xi++) {
					double x = xi == 3 ? NAN : (double)xi * 0.4 - 0.2;
					uint32_t ge = 0, ge_at = 0;
					double mx = 0, mx_at = 0;

					ns_roll_scan_means(r, k, x, &ge, &mx);
					for (uint32_t j = 0; j < k; j++) {
						const struct ns_roll_chunk *c = ns_roll_at(r, j);
						double v = c ? c->mean : 0;
						ge_at += v >= x;
						mx_at = v > mx_at ? v : mx_at;
					}
					bad += ge != ge_at || mx != mx_at;
				}
			ns_roll_push(r, urand() < 0.15 ? NAN : urand() * 1.2 - 0.1);
		}
		ns_roll_free(r);
	}
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	RUN(test_random_small);
	RUN(test_random_windows);
	RUN(test_large_offset_drift);
	RUN(test_all_nan_is_nan);
	RUN(test_chunks_equal_raw);
	RUN(test_at_and_storage);
	RUN(test_scan_means_equals_at);
	return CHECK_SUMMARY();
}
