// SPDX-License-Identifier: MIT
/* nodescore-sim's selectHost (kubernetes pkg/scheduler/schedule_one.go):
 * the best kept score, ties uniformly at random by reservoir sampling, one
 * draw per tie in candidate order as the scheduler draws. At 1,000 nodes a
 * placed pod has 420 candidates and about 46 of them tie at the best (nodes
 * holding the same requests score the same), so the plain loop, a branch
 * per candidate and a draw per tie, was a third of a run. The AVX-512 path
 * gives the same node and leaves the stream in the same state: it finds the
 * best first, counts without drawing the ties at lower scores the loop
 * would have met on its way there (each would only move the stream by one
 * step), then draws for the ties at the best, which it picks out eight
 * scores at a time. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>

#include "sim.h"

int sim_avx512(void)
{
	static int v = -1; /* every thread computes the same value */

	if (v < 0)
		v = !getenv("NS_SIM_NO_AVX512") && __builtin_cpu_supports("avx512f");
	return v;
}

static size_t select_scalar(const double *score, const uint8_t *keep, size_t n, uint64_t *rng,
			    size_t *best)
{
	size_t ties = 0;
	double bs = 0; /* score[*best] */

	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		if (!ties || score[i] > bs)
			*best = i, bs = score[i], ties = 1;
		else if (score[i] == bs && sim_rand(rng) * (double)++ties < 1)
			*best = i;
	}
	return ties;
}

/* keep[i..i+8) as a lane mask */
__attribute__((target("avx512f"))) static inline __mmask8 keep8(const uint8_t *keep)
{
	__m128i k = _mm_loadl_epi64((const __m128i *)keep);
	return _mm512_test_epi64_mask(_mm512_cvtepu8_epi64(k), _mm512_cvtepu8_epi64(k));
}

__attribute__((target("avx512f,popcnt,bmi"))) static size_t
select_avx512(const double *score, const uint8_t *keep, size_t n, uint64_t *rng, size_t *best)
{
	__m512d vmax = _mm512_set1_pd(-INFINITY);
	__mmask8 nan = 0;
	size_t i = 0, n8 = n & ~(size_t)7, first = n, ties = 0;
	uint64_t skipped = 0;
	double m, bs = 0;

	/* the best kept score and how often it comes, per lane then across
	 * lanes; a NaN (no policy keeps one) goes the plain way */
	__m512i vcnt = _mm512_setzero_si512();
	const __m512i one = _mm512_set1_epi64(1);
	size_t total;
	for (; i < n8; i += 8) {
		__mmask8 k = keep8(keep + i);
		__m512d v = _mm512_loadu_pd(score + i);
		__mmask8 gt = _mm512_mask_cmp_pd_mask(k, v, vmax, _CMP_GT_OQ);
		__mmask8 eq = _mm512_mask_cmp_pd_mask(k, v, vmax, _CMP_EQ_OQ);
		nan |= _mm512_mask_cmp_pd_mask(k, v, v, _CMP_UNORD_Q);
		vmax = _mm512_mask_mov_pd(vmax, gt, v);
		vcnt = _mm512_mask_mov_epi64(vcnt, gt, one);
		vcnt = _mm512_mask_add_epi64(vcnt, eq, vcnt, one);
	}
	m = _mm512_reduce_max_pd(vmax);
	total = (size_t)_mm512_reduce_add_epi64(_mm512_maskz_mov_epi64(
	    _mm512_cmp_pd_mask(vmax, _mm512_set1_pd(m), _CMP_EQ_OQ), vcnt));
	for (; i < n; i++)
		if (keep[i]) {
			if (isnan(score[i]))
				nan = 1;
			else if (score[i] > m)
				m = score[i], total = 1;
			else if (score[i] == m)
				total++;
		}
	if (nan)
		return select_scalar(score, keep, n, rng, best);
	/* the loop on its way to the first best: every tie with the best so
	 * far would draw; count them, eight scores under it at a time passed
	 * over, and stop at the first kept score equal to m */
	for (i = 0; i < n && first == n;) {
		size_t e = i + 8 <= n ? i + 8 : n;
		if (ties && e - i == 8) {
			__m512d v = _mm512_loadu_pd(score + i);
			if (!(keep8(keep + i) & _mm512_cmp_pd_mask(v, _mm512_set1_pd(bs), _CMP_GE_OQ))) {
				i = e;
				continue;
			}
		}
		for (; i < e; i++) {
			if (!keep[i])
				continue;
			if (score[i] == m) {
				first = i;
				break;
			}
			if (!ties || score[i] > bs)
				bs = score[i], ties = 1;
			else if (score[i] == bs)
				skipped++;
		}
	}
	if (first == n)
		return 0; /* nothing kept */
	/* from there on every kept score equal to m is a tie that draws, the
	 * t-th tie (t >= 2) the (skipped + t - 1)-th draw, and the last tie
	 * whose draw u has u x t < 1 wins: look for it from the end (half the
	 * draws on average; the stream still moves past every one) */
	const __m512d vm = _mm512_set1_pd(m);
	const uint64_t st = *rng;
	size_t head = (first + 8) & ~(size_t)7, tail;

	if (head > n)
		head = n;
	tail = n8 > head ? n8 : head;
	ties = total;
	*rng = st + (skipped + ties - 1) * SIM_RAND_STEP;
	*best = first;
	size_t t = ties;
#define SELECT_TRY(idx)                                                                        \
	do {                                                                                   \
		uint64_t z = st + (skipped + t - 2) * SIM_RAND_STEP; /* draws one more */      \
		if (sim_rand(&z) * (double)t < 1) {                                            \
			*best = (idx);                                                         \
			return ties;                                                           \
		}                                                                              \
		t--;                                                                           \
	} while (0)
	for (i = n; i > tail; i--)
		if (keep[i - 1] && score[i - 1] == m)
			SELECT_TRY(i - 1);
	for (i = tail; i > head; i -= 8) {
		uint32_t eq = keep8(keep + i - 8) &
			      _mm512_cmp_pd_mask(_mm512_loadu_pd(score + i - 8), vm, _CMP_EQ_OQ);
		for (; eq; eq &= ~(1u << (31 - __builtin_clz(eq))))
			SELECT_TRY(i - 8 + (size_t)(31 - __builtin_clz(eq)));
	}
	for (i = head; i > first + 1; i--)
		if (keep[i - 1] && score[i - 1] == m)
			SELECT_TRY(i - 1);
#undef SELECT_TRY
	return ties;
}

size_t sim_select_host(const double *score, const uint8_t *keep, size_t n, uint64_t *rng,
		       size_t *best, int wide)
{
	return wide ? select_avx512(score, keep, n, rng, best)
		    : select_scalar(score, keep, n, rng, best);
}
