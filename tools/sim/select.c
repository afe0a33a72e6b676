// SPDX-License-Identifier: MIT
/* nodescore-sim's selectHost (kubernetes pkg/scheduler/schedule_one.go):
 * the best kept score, ties uniformly at random by reservoir sampling, one
 * draw per tie in candidate order as the scheduler draws. At 1,000 nodes a
 * placed pod has 420 candidates and about 46 of them tie at the best (nodes
 * holding the same requests score the same), so the plain loop, a branch
 * per candidate and a draw per tie, was a third of a run. The AVX-512 path
 * gives the same node and leaves the stream in the same state: it finds the
 * best and how often it comes first, counts without drawing the ties at
 * lower scores the loop would have met on its way to the first best (each
 * would only move the stream by one step), finds which tie at the best wins
 * from the draws alone, from the last tie back, and then where that tie
 * is, counting ties from the end eight scores at a time. */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "sim.h"

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

/* keep[i..i+8) as a lane mask; most policies keep every candidate */
__attribute__((target("avx512f"))) static inline __mmask8 keep8(const uint8_t *keep)
{
	uint64_t w;
	__m128i k;

	memcpy(&w, keep, sizeof(w));
	if (w == 0x0101010101010101ull)
		return 0xff;
	k = _mm_cvtsi64_si128((long long)w);
	return _mm512_test_epi64_mask(_mm512_cvtepu8_epi64(k), _mm512_cvtepu8_epi64(k));
}

__attribute__((target("avx512f,popcnt,bmi"))) static size_t
select_avx512(const double *score, const uint8_t *keep, size_t n, uint64_t *rng, size_t *best)
{
	__m512d vmax = _mm512_set1_pd(-INFINITY);
	__mmask8 nan = 0;
	size_t i = 0, n8 = n & ~(size_t)7, first = n;
	uint64_t skipped = 0;
	double m;

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
	total = (size_t)_mm512_reduce_add_epi64(
	    _mm512_maskz_mov_epi64(_mm512_cmp_pd_mask(vmax, _mm512_set1_pd(m), _CMP_EQ_OQ), vcnt));
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
	/* the first kept score equal to m */
	const __m512d vm = _mm512_set1_pd(m);
	for (i = 0; i < n8 && first == n; i += 8) {
		uint32_t eq = keep8(keep + i) &
			      _mm512_cmp_pd_mask(_mm512_loadu_pd(score + i), vm, _CMP_EQ_OQ);
		if (eq)
			first = i + (size_t)__builtin_ctz(eq);
	}
	for (i = n8; i < n && first == n; i++)
		if (keep[i] && score[i] == m)
			first = i;
	if (first == n)
		return 0; /* nothing kept */
	/* The loop on its way there: a kept score equal to the best kept one
	 * before it (and not the first kept) draws. Count them with the
	 * running maximum of each lane's predecessors, eight at a time; left
	 * out scores are -inf, so no kept -inf may be among them. */
	const __m512d ninf = _mm512_set1_pd(-INFINITY);
	const __m512i i1 = _mm512_setr_epi64(0, 0, 1, 2, 3, 4, 5, 6);
	const __m512i i2 = _mm512_setr_epi64(0, 0, 0, 1, 2, 3, 4, 5);
	const __m512i i4 = _mm512_setr_epi64(0, 0, 0, 0, 0, 1, 2, 3);
	const __m512i i7 = _mm512_set1_epi64(7);
	__m512d carry = ninf; /* the best kept score before this block */
	for (i = 0; i < first; i += 8) {
		size_t e = i + 8 <= first ? 8 : first - i;
		__mmask8 lanes = (__mmask8)((1u << e) - 1), k;
		__m512d x, inc, ex;
		if (i + 8 <= n) {
			k = keep8(keep + i) & lanes;
			x = _mm512_mask_loadu_pd(ninf, k, score + i);
		} else {
			double tmp[8];
			k = 0;
			for (size_t j = 0; j < 8; j++) {
				tmp[j] = j < e && keep[i + j] ? score[i + j] : -INFINITY;
				k |= (__mmask8)((j < e && keep[i + j]) << j);
			}
			x = _mm512_loadu_pd(tmp);
		}
		if (_mm512_mask_cmp_pd_mask(k, x, ninf, _CMP_EQ_OQ))
			return select_scalar(score, keep, n, rng, best);
		inc = _mm512_max_pd(x, _mm512_mask_permutexvar_pd(ninf, 0xfe, i1, x));
		inc = _mm512_max_pd(inc, _mm512_mask_permutexvar_pd(ninf, 0xfc, i2, inc));
		inc = _mm512_max_pd(inc, _mm512_mask_permutexvar_pd(ninf, 0xf0, i4, inc));
		inc = _mm512_max_pd(inc, carry);
		ex = _mm512_mask_permutexvar_pd(carry, 0xfe, i1, inc);
		skipped += (uint64_t)__builtin_popcount(k & _mm512_cmp_pd_mask(x, ex, _CMP_EQ_OQ));
		carry = _mm512_permutexvar_pd(i7, inc);
	}
	/* from there on every kept score equal to m is a tie that draws, the
	 * t-th tie (t >= 2) the (skipped + t - 1)-th draw, and the last tie
	 * whose draw u has u x t < 1 wins. Its t first, from the last tie back
	 * (draws only, half of them on average; the stream still moves past
	 * every one), then its place, counting ties from the end */
	const uint64_t st = *rng;
	size_t t = total, after;

	*rng = st + (skipped + total - 1) * SIM_RAND_STEP;
	for (; t >= 2; t--) {
		uint64_t z = st + (skipped + t - 2) * SIM_RAND_STEP; /* sim_rand adds one */
		if (sim_rand(&z) * (double)t < 1)
			break;
	}
	*best = first;
	if (t < 2)
		return total;
	after = total - t; /* ties behind the winner */
	for (i = n; i > n8; i--)
		if (keep[i - 1] && score[i - 1] == m && after-- == 0) {
			*best = i - 1;
			return total;
		}
	for (i = n8; i > 0; i -= 8) {
		uint32_t eq = keep8(keep + i - 8) &
			      _mm512_cmp_pd_mask(_mm512_loadu_pd(score + i - 8), vm, _CMP_EQ_OQ);
		size_t c = (size_t)__builtin_popcount(eq);
		if (c <= after) {
			after -= c;
			continue;
		}
		for (; after; after--)
			eq &= ~(1u << (31 - __builtin_clz(eq)));
		*best = i - 8 + (size_t)(31 - __builtin_clz(eq));
		break;
	}
	return total;
}

size_t sim_select_host(const double *score, const uint8_t *keep, size_t n, uint64_t *rng,
		       size_t *best)
{
	return sim_simd() == SIM_SIMD_AVX512 ? select_avx512(score, keep, n, rng, best)
					     : select_scalar(score, keep, n, rng, best);
}
