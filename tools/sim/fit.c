// SPDX-License-Identifier: MIT
/* nodescore-sim's fit filter and kube-scheduler's round-robin search for
 * feasible nodes (kubernetes pkg/scheduler/schedule_one.go,
 * findNodesThatPassFilters): at 1,000 nodes most searches find nothing
 * (the cluster is full of requests) and the others test 420 nodes, so this
 * is a third of a run. Blocks and superblocks of nodes that cannot take the
 * pod are passed over whole; the nodes of a block that may are tested 16 at
 * a time with AVX-512 where the CPU has it. Both searches give the same
 * candidates in the same order and stop at the same node as the plain loop
 * over every node. */
#include <errno.h>
#include <immintrin.h>
#include <stdlib.h>

#include "fit.h"
#include "sim.h"

#define B SIM_FIT_BLOCK

static void fit_min(const double *a, const double *b, uint32_t from, uint32_t to, double *ma,
		    double *mb)
{
	double x = a[from], y = b[from];

	for (uint32_t i = from + 1; i < to; i++)
		x = sim_min(x, a[i]), y = sim_min(y, b[i]);
	*ma = x, *mb = y;
}

void sim_fit_update(struct sim_fit *f, uint32_t node)
{
	uint32_t b = node / B, s = b / B;
	uint32_t be = (b + 1) * B < f->nodes ? (b + 1) * B : f->nodes;
	uint32_t se = (s + 1) * B < f->nblk ? (s + 1) * B : f->nblk;

	fit_min(f->req_cpu, f->req_mem, b * B, be, &f->blk_cpu[b], &f->blk_mem[b]);
	fit_min(f->blk_cpu, f->blk_mem, s * B, se, &f->sup_cpu[s], &f->sup_mem[s]);
	f->dirty = 1;
}

/* Tests nodes [i, i + m) (m <= 16, one block) one at a time until want
 * fit; *used: the nodes looked at. */
static inline size_t chunk_scalar(const struct sim_fit *f, uint32_t i, uint32_t m, double pc,
				  double pm, size_t want, uint32_t *cand, double *rc, double *rm,
				  uint32_t *used)
{
	size_t n = 0;
	uint32_t j = 0;

	for (; j < m && n < want; j++) {
		double c = f->req_cpu[i + j], r = f->req_mem[i + j];
		cand[n] = i + j, rc[n] = c, rm[n] = r;
		n += (c + pc <= f->cap_cpu) & (r + pm <= f->cap_mem);
	}
	*used = j;
	return n;
}

/* The same, 16 nodes in one go: the fit mask from two compares per
 * resource, cut after the want-th fitting node, and the candidates packed
 * with register compresses (a compress to memory is microcoded on some
 * CPUs) and full-width stores into the slack past want. */
__attribute__((target("avx512f,popcnt,bmi"))) static inline size_t
chunk_avx512(const struct sim_fit *f, uint32_t i, uint32_t m, double pc, double pm, size_t want,
	     uint32_t *cand, double *rc, double *rm, uint32_t *used)
{
	const __m512d vpc = _mm512_set1_pd(pc), vpm = _mm512_set1_pd(pm);
	const __m512d vcc = _mm512_set1_pd(f->cap_cpu), vcm = _mm512_set1_pd(f->cap_mem);
	const __mmask8 lo = (__mmask8)(m >= 8 ? 0xff : (1u << m) - 1);
	const __mmask8 hi = (__mmask8)(m > 8 ? (1u << (m - 8)) - 1 : 0);
	__m512d c0 = _mm512_maskz_loadu_pd(lo, f->req_cpu + i);
	__m512d r0 = _mm512_maskz_loadu_pd(lo, f->req_mem + i);
	__m512d c1 = _mm512_maskz_loadu_pd(hi, f->req_cpu + i + 8);
	__m512d r1 = _mm512_maskz_loadu_pd(hi, f->req_mem + i + 8);
	uint32_t f0 = _mm512_mask_cmp_pd_mask(lo, _mm512_add_pd(c0, vpc), vcc, _CMP_LE_OQ) &
		      _mm512_mask_cmp_pd_mask(lo, _mm512_add_pd(r0, vpm), vcm, _CMP_LE_OQ);
	uint32_t f1 = _mm512_mask_cmp_pd_mask(hi, _mm512_add_pd(c1, vpc), vcc, _CMP_LE_OQ) &
		      _mm512_mask_cmp_pd_mask(hi, _mm512_add_pd(r1, vpm), vcm, _CMP_LE_OQ);
	uint32_t fit = f0 | f1 << 8, n = (uint32_t)__builtin_popcount(fit), n0;

	*used = m;
	if (n >= want) {
		/* the want-th fitting node ends the search */
		uint32_t x = fit, last;
		for (size_t r = 1; r < want; r++)
			x &= x - 1;
		last = (uint32_t)__builtin_ctz(x);
		*used = last + 1;
		fit &= (2u << last) - 1;
		f0 = fit & 0xff, f1 = fit >> 8, n = (uint32_t)want;
	}
	n0 = (uint32_t)__builtin_popcount(f0);
	_mm512_storeu_si512(
	    cand,
	    _mm512_maskz_compress_epi32(
		(__mmask16)fit, _mm512_add_epi32(_mm512_set1_epi32((int)i),
						 _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
								   11, 12, 13, 14, 15))));
	_mm512_storeu_pd(rc, _mm512_maskz_compress_pd((__mmask8)f0, c0));
	_mm512_storeu_pd(rm, _mm512_maskz_compress_pd((__mmask8)f0, r0));
	_mm512_storeu_pd(rc + n0, _mm512_maskz_compress_pd((__mmask8)f1, c1));
	_mm512_storeu_pd(rm + n0, _mm512_maskz_compress_pd((__mmask8)f1, r1));
	return n;
}

/* The search; wide is a constant in each caller, so each gets one chunk
 * tester inlined. */
static inline __attribute__((always_inline)) size_t scan_body(struct sim_fit *f, double pc,
							      double pm, uint32_t nfind,
							      uint32_t *cand, double *rc,
							      double *rm, const int wide)
{
	const uint32_t N = f->nodes;
	uint32_t i = f->start, seen = 0;
	size_t nc = 0;

	while (seen < N && nc < nfind) {
		uint32_t b = i / B, s = b / B, m = (b + 1) * B - i, used;
		int skip = 1;
		if (!(f->sup_cpu[s] + pc <= f->cap_cpu) || !(f->sup_mem[s] + pm <= f->cap_mem))
			m = (s + 1) * B * B - i; /* nothing in this superblock fits */
		else if (f->blk_cpu[b] + pc <= f->cap_cpu && f->blk_mem[b] + pm <= f->cap_mem)
			skip = 0; /* some node of this block may fit */
		if (m > N - i)
			m = N - i;
		if (m > N - seen)
			m = N - seen;
		if (skip) {
			seen += m, i += m;
		} else {
			if (wide)
				nc += chunk_avx512(f, i, m, pc, pm, nfind - nc, cand + nc, rc + nc,
						   rm + nc, &used);
			else
				nc += chunk_scalar(f, i, m, pc, pm, nfind - nc, cand + nc, rc + nc,
						   rm + nc, &used);
			seen += used, i += used;
		}
		if (i == N)
			i = 0;
	}
	f->start = (uint32_t)((f->start + seen) % N);
	return nc;
}

static size_t scan_scalar(struct sim_fit *f, double pc, double pm, uint32_t nfind, uint32_t *cand,
			  double *rc, double *rm)
{
	return scan_body(f, pc, pm, nfind, cand, rc, rm, 0);
}

__attribute__((target("avx512f,popcnt,bmi"))) static size_t
scan_avx512(struct sim_fit *f, double pc, double pm, uint32_t nfind, uint32_t *cand, double *rc,
	    double *rm)
{
	return scan_body(f, pc, pm, nfind, cand, rc, rm, 1);
}

int sim_fit_maybe(struct sim_fit *f, double pc, double pm)
{
	if (f->dirty) {
		fit_min(f->sup_cpu, f->sup_mem, 0, f->nsup, &f->min_cpu, &f->min_mem);
		f->dirty = 0;
	}
	return f->min_cpu + pc <= f->cap_cpu && f->min_mem + pm <= f->cap_mem;
}

size_t sim_fit_scan(struct sim_fit *f, double pc, double pm, uint32_t nfind, uint32_t *cand,
		    double *rc, double *rm)
{
	/* a pod no node can take (two thirds of the searches at 1,000 nodes):
	 * the search would look at every node once and end where it began */
	if (!sim_fit_maybe(f, pc, pm))
		return 0;
	return f->scan(f, pc, pm, nfind, cand, rc, rm);
}

int sim_fit_init(struct sim_fit *f, const double *req_cpu, const double *req_mem, uint32_t nodes,
		 double cap_cpu, double cap_mem)
{
	*f = (struct sim_fit){.req_cpu = req_cpu,
			      .req_mem = req_mem,
			      .cap_cpu = cap_cpu,
			      .cap_mem = cap_mem,
			      .nodes = nodes};
	f->nblk = (nodes + B - 1) / B;
	f->nsup = (f->nblk + B - 1) / B;
	f->blk_cpu = calloc(f->nblk, sizeof(double));
	f->blk_mem = calloc(f->nblk, sizeof(double));
	f->sup_cpu = calloc(f->nsup, sizeof(double));
	f->sup_mem = calloc(f->nsup, sizeof(double));
	if (!nodes || !f->blk_cpu || !f->blk_mem || !f->sup_cpu || !f->sup_mem) {
		sim_fit_free(f);
		return -ENOMEM;
	}
	/* every request is 0, as are the minima: nothing to compute */
	f->scan = sim_simd() == SIM_SIMD_AVX512 ? scan_avx512 : scan_scalar;
	return 0;
}

void sim_fit_free(struct sim_fit *f)
{
	free(f->blk_cpu), free(f->blk_mem), free(f->sup_cpu), free(f->sup_mem);
	f->blk_cpu = f->blk_mem = f->sup_cpu = f->sup_mem = NULL;
}
