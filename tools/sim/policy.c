// SPDX-License-Identifier: MIT
/* Placement policies of nodescore-sim: random, the Kubernetes defaults and
 * the load-aware peers, each as its project defines it (docs/sim.md cites
 * the source of every formula). Each keeps its own stale metric view. */
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

/* --- Kubernetes NodeResourcesFit (LeastAllocated / MostAllocated) and
 * NodeResourcesBalancedAllocation, requests only, cpu and memory weight 1:
 * LeastAllocated ((cap - req - pod) x 100 / cap, averaged over cpu and
 * memory) plus Balanced ((1 - std of the two requested fractions) x 100,
 * std = |fc - fm| / 2). rc, rm: the node's requests. */
static inline double k8s_score(double rc, double rm, double cc, double cm, double pc, double pm)
{
	double c = (cc - rc - pc) * 100 / cc;
	double m = (cm - rm - pm) * 100 / cm;
	double fc = sim_min(1, (rc + pc) / cc);
	double fm = sim_min(1, (rm + pm) / cm);
	return (sim_max(c, 0) + sim_max(m, 0)) / 2 + (1 - fabs(fc - fm) / 2) * 100;
}

double sim_k8s_default(const struct sim_node *n, const struct sim_pod *p)
{
	return k8s_score(n->cpu_req, n->mem_req, n->cpu_cap, n->mem_cap, p->cpu_req, p->mem_req);
}

/* a / b correctly rounded, as the division gives it, from y = 1 / b
 * rounded: q = a y is within an ulp of a / b, a - q b is exact in one
 * FMA, and one more FMA rounds q + (a - q b) y to the quotient (Markstein's
 * theorem; also checked on 1.9 billion random quotients against the
 * division; by a power of two, the remainder is 0 and q is exact). A
 * division of eight doubles costs several of these. */
__attribute__((target("avx512f"))) static inline __m512d div_rn(__m512d a, __m512d b, __m512d y)
{
	__m512d q = _mm512_mul_pd(a, y);
	return _mm512_fmadd_pd(_mm512_fnmadd_pd(q, b, a), y, q);
}

/* k8s_score for eight candidates at a time: the same IEEE operations in the
 * same order (no contraction under -std=c11), so the same bits; max/min/
 * fabs as masks, the divisions as div_rn. */
__attribute__((target("avx512f"))) static void k8s_many_avx512(const struct sim *s,
							       const struct sim_pod *pod,
							       const double *rcv, const double *rmv,
							       size_t n, double *score)
{
	const double pc = pod->cpu_req, pm = pod->mem_req;
	const __m512d cc = _mm512_set1_pd(s->cap_cpu), cm = _mm512_set1_pd(s->cap_mem);
	const __m512d icc = _mm512_set1_pd(1 / s->cap_cpu), icm = _mm512_set1_pd(1 / s->cap_mem);
	const __m512d vpc = _mm512_set1_pd(pc), vpm = _mm512_set1_pd(pm);
	const __m512d zero = _mm512_setzero_pd(), one = _mm512_set1_pd(1);
	const __m512d half = _mm512_set1_pd(0.5), hundred = _mm512_set1_pd(100);
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m512d rc = _mm512_loadu_pd(&rcv[i]), rm = _mm512_loadu_pd(&rmv[i]);
		__m512d c = div_rn(
		    _mm512_mul_pd(_mm512_sub_pd(_mm512_sub_pd(cc, rc), vpc), hundred), cc, icc);
		__m512d m = div_rn(
		    _mm512_mul_pd(_mm512_sub_pd(_mm512_sub_pd(cm, rm), vpm), hundred), cm, icm);
		__m512d fc = div_rn(_mm512_add_pd(rc, vpc), cc, icc);
		__m512d fm = div_rn(_mm512_add_pd(rm, vpm), cm, icm);
		c = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(c, zero, _CMP_GT_OQ), c);
		m = _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(m, zero, _CMP_GT_OQ), m);
		fc = _mm512_mask_mov_pd(fc, _mm512_cmp_pd_mask(one, fc, _CMP_LT_OQ), one);
		fm = _mm512_mask_mov_pd(fm, _mm512_cmp_pd_mask(one, fm, _CMP_LT_OQ), one);
		__m512d d = _mm512_abs_pd(_mm512_sub_pd(fc, fm));
		d = _mm512_add_pd(
		    _mm512_mul_pd(_mm512_add_pd(c, m), half),
		    _mm512_mul_pd(_mm512_sub_pd(one, _mm512_mul_pd(d, half)), hundred));
		_mm512_storeu_pd(&score[i], d);
	}
	for (; i < n; i++)
		score[i] = k8s_score(rcv[i], rmv[i], s->cap_cpu, s->cap_mem, pc, pm);
}

/* The same four at a time for CPUs with AVX2 and FMA but no AVX-512. */
__attribute__((target("avx2,fma"))) static inline __m256d div_rn4(__m256d a, __m256d b, __m256d y)
{
	__m256d q = _mm256_mul_pd(a, y);
	return _mm256_fmadd_pd(_mm256_fnmadd_pd(q, b, a), y, q);
}

__attribute__((target("avx2,fma"))) static void k8s_many_avx2(const struct sim *s,
							      const struct sim_pod *pod,
							      const double *rcv, const double *rmv,
							      size_t n, double *score)
{
	const double pc = pod->cpu_req, pm = pod->mem_req;
	const __m256d cc = _mm256_set1_pd(s->cap_cpu), cm = _mm256_set1_pd(s->cap_mem);
	const __m256d icc = _mm256_set1_pd(1 / s->cap_cpu), icm = _mm256_set1_pd(1 / s->cap_mem);
	const __m256d vpc = _mm256_set1_pd(pc), vpm = _mm256_set1_pd(pm);
	const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1);
	const __m256d half = _mm256_set1_pd(0.5), hundred = _mm256_set1_pd(100);
	const __m256d nosign = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffll));
	size_t i = 0;

	for (; i + 4 <= n; i += 4) {
		__m256d rc = _mm256_loadu_pd(&rcv[i]), rm = _mm256_loadu_pd(&rmv[i]);
		__m256d c = div_rn4(
		    _mm256_mul_pd(_mm256_sub_pd(_mm256_sub_pd(cc, rc), vpc), hundred), cc, icc);
		__m256d m = div_rn4(
		    _mm256_mul_pd(_mm256_sub_pd(_mm256_sub_pd(cm, rm), vpm), hundred), cm, icm);
		__m256d fc = div_rn4(_mm256_add_pd(rc, vpc), cc, icc);
		__m256d fm = div_rn4(_mm256_add_pd(rm, vpm), cm, icm);
		c = _mm256_and_pd(c, _mm256_cmp_pd(c, zero, _CMP_GT_OQ));
		m = _mm256_and_pd(m, _mm256_cmp_pd(m, zero, _CMP_GT_OQ));
		fc = _mm256_blendv_pd(fc, one, _mm256_cmp_pd(one, fc, _CMP_LT_OQ));
		fm = _mm256_blendv_pd(fm, one, _mm256_cmp_pd(one, fm, _CMP_LT_OQ));
		__m256d d = _mm256_and_pd(_mm256_sub_pd(fc, fm), nosign);
		d = _mm256_add_pd(
		    _mm256_mul_pd(_mm256_add_pd(c, m), half),
		    _mm256_mul_pd(_mm256_sub_pd(one, _mm256_mul_pd(d, half)), hundred));
		_mm256_storeu_pd(&score[i], d);
	}
	for (; i < n; i++)
		score[i] = k8s_score(rcv[i], rmv[i], s->cap_cpu, s->cap_mem, pc, pm);
}

void sim_k8s_default_many(const struct sim *s, const struct sim_pod *pod, const double *rc,
			  const double *rm, size_t n, double *score)
{
	switch (sim_simd()) {
	case SIM_SIMD_AVX512:
		k8s_many_avx512(s, pod, rc, rm, n, score);
		return;
	case SIM_SIMD_AVX2:
		k8s_many_avx2(s, pod, rc, rm, n, score);
		return;
	case SIM_SIMD_NONE:
		break;
	}
	for (size_t i = 0; i < n; i++)
		score[i] =
		    k8s_score(rc[i], rm[i], s->cap_cpu, s->cap_mem, pod->cpu_req, pod->mem_req);
}

static void rank_random(struct sim_policy *pol, struct sim *s, const struct sim_pod *p,
			const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	(void)pol, (void)p, (void)c;
	for (size_t i = 0; i < n; i++)
		sc[i] = sim_rand(&s->rng), keep[i] = 1;
}

static void rank_default(struct sim_policy *pol, struct sim *s, const struct sim_pod *p,
			 const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	(void)pol, (void)c;
	sim_k8s_default_many(s, p, s->cand_cpu, s->cand_mem, n, sc);
	memset(keep, 1, n);
}

static void rank_most(struct sim_policy *pol, struct sim *s, const struct sim_pod *p,
		      const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	(void)pol;
	for (size_t i = 0; i < n; i++) {
		const struct sim_node *d = &s->nodes[c[i]];
		sc[i] = (fmin(1, (d->cpu_req + p->cpu_req) / d->cpu_cap) +
			 fmin(1, (d->mem_req + p->mem_req) / d->mem_cap)) *
			50;
		keep[i] = 1;
	}
}

/* --- Load-aware peers: a per-node snapshot refreshed on the peer's period. */
struct view {
	double period_s, last_s;
	double *a, *b, *c, *d, *e, *f; /* metric slots, meaning per policy */
	double *since;		       /* load bound since the last refresh */
	double *ts;		       /* sim time of each node's last fresh data */
	uint32_t *binds;	       /* Crane hot value: bind times ring per node */
	double *bind_t;
	uint32_t *hot; /* per node: binds in the ring within 5 min, within 1 min */
	double *base;  /* Crane: the score before the hot value, per step; NAN: filtered */
};

#define HOT_RING 16

static int view_init(struct sim_policy *p, struct sim *s)
{
	struct view *v = calloc(1, sizeof(*v));
	size_t n = s->nnodes;

	if (!v)
		return -1;
	v->a = calloc(n, sizeof(double)), v->b = calloc(n, sizeof(double));
	v->c = calloc(n, sizeof(double)), v->d = calloc(n, sizeof(double));
	v->e = calloc(n, sizeof(double)), v->f = calloc(n, sizeof(double));
	v->since = calloc(n, sizeof(double)), v->ts = calloc(n, sizeof(double));
	v->binds = calloc(n, sizeof(uint32_t));
	v->bind_t = calloc(n * HOT_RING, sizeof(double));
	v->hot = calloc(2 * n, sizeof(uint32_t));
	v->base = calloc(n, sizeof(double));
	v->last_s = -1e18;
	for (size_t i = 0; v->bind_t && i < n * HOT_RING; i++)
		v->bind_t[i] = -1e18;
	p->st = v;
	return v->a && v->b && v->c && v->d && v->e && v->f && v->since && v->ts && v->binds &&
		       v->bind_t && v->hot && v->base
		   ? 0
		   : -1;
}

static void view_fini(struct sim_policy *p)
{
	struct view *v = p->st;

	if (!v)
		return;
	free(v->a), free(v->b), free(v->c), free(v->d), free(v->e), free(v->f);
	free(v->since), free(v->ts), free(v->binds), free(v->bind_t), free(v->hot);
	free(v->base);
	free(v);
	p->st = NULL;
}

static uint32_t steps(const struct sim *s, double sec)
{
	uint32_t n = (uint32_t)lround(sec / s->step_s);
	return n ? n : 1;
}

/* Every 60 s: each reporting node's CPU and memory mean and std over
 * window_s (slots a/b and c/d), bound-since counters reset. */
static void snapshot(struct view *v, struct sim *s, double window_s)
{
	if (s->t - v->last_s < 60)
		return;
	v->last_s = s->t;
	for (uint32_t i = 0; i < s->nnodes; i++) {
		double max;
		if (s->nodes[i].silent)
			continue;
		sim_window(s, i, 0, 0, steps(s, window_s), &v->a[i], &v->b[i], &max);
		sim_window(s, i, 1, 0, steps(s, window_s), &v->c[i], &v->d[i], &max);
		v->since[i] = v->e[i] = 0;
		v->ts[i] = s->t;
	}
}

/* Trimaran: load-watcher serves the 15-minute average, fetched every 60 s. */
static void tick_trimaran(struct sim_policy *p, struct sim *s)
{
	snapshot(p->st, s, 900);
}

static double tlp_pred(const struct sim_pod *p)
{
	/* limits when set, else requests x 1.5 (requestsMultiplier) */
	return p->cpu_lim > 0 ? p->cpu_lim : p->cpu_req * 1.5;
}

static void bound_trimaran(struct sim_policy *p, struct sim *s, uint32_t node,
			   const struct sim_pod *pod)
{
	struct view *v = p->st;
	(void)s;
	v->since[node] += tlp_pred(pod);
}

static void rank_tlp(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
		     const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	struct view *v = p->st;
	const double target = 40;

	for (size_t i = 0; i < n; i++) {
		const struct sim_node *d = &s->nodes[c[i]];
		double u =
		    (v->a[c[i]] * d->cpu_cap + v->since[c[i]] + tlp_pred(pod)) * 100 / d->cpu_cap;
		keep[i] = 1;
		if (u > 100)
			sc[i] = 0;
		else if (u > target)
			sc[i] = round(target * (100 - u) / (100 - target));
		else
			sc[i] = round((100 - target) * u / target + target);
	}
}

static void rank_lvrb(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
		      const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	struct view *v = p->st;
	const double margin = 1, sens = 1;

	for (size_t i = 0; i < n; i++) {
		const struct sim_node *d = &s->nodes[c[i]];
		double muc = v->a[c[i]] + (pod->cpu_req + v->since[c[i]] / 1.5) / d->cpu_cap;
		double mum = v->c[c[i]] + pod->mem_req / d->mem_cap;
		double rc = (fmin(muc, 1) + margin * pow(v->b[c[i]], 1 / sens)) / 2;
		double rm = (fmin(mum, 1) + margin * pow(v->d[c[i]], 1 / sens)) / 2;
		keep[i] = 1;
		sc[i] = round(fmin(1 - fmin(rc, 1), 1 - fmin(rm, 1)) * 100);
	}
}

/* Crane: annotations cpu/mem_usage_avg_5m (synced every 3 min),
 * max_avg_1h (15 min), max_avg_1d (3 h); hot value from recent binds. */
static void tick_crane(struct sim_policy *p, struct sim *s)
{
	struct view *v = p->st;
	static const double period[3] = {180, 900, 10800};
	double *slot[3][2] = {{v->a, v->b}, {v->c, v->d}, {v->e, v->f}};

	/* The hot counts at this step's time; binds within it update them. */
	for (uint32_t i = 0; i < s->nnodes; i++) {
		uint32_t h5 = 0, h1 = 0;
		for (int h = 0; h < HOT_RING; h++) {
			double dt = s->t - v->bind_t[i * HOT_RING + h];
			h5 += dt <= 300, h1 += dt <= 60;
		}
		v->hot[2 * i] = h5, v->hot[2 * i + 1] = h1;
	}

	for (int w = 0; w < 3; w++) {
		uint64_t every = steps(s, period[w]);
		if (s->k % every)
			continue;
		for (uint32_t i = 0; i < s->nnodes; i++) {
			double mean, std, max, best[2] = {0, 0};
			if (s->nodes[i].silent)
				continue;
			for (int r = 0; r < 2; r++) {
				if (w == 0) {
					sim_window(s, i, r, 0, steps(s, 300), &mean, &std, &max);
					best[r] = mean;
				} else {
					/* max over the window of the 5-minute averages */
					uint32_t len = steps(s, w == 1 ? 3600 : 86400),
						 five = steps(s, 300);
					for (uint32_t lag = 0;
					     lag + five <= len && lag + five <= SIM_HIST;
					     lag += five) {
						sim_window(s, i, r, lag, five, &mean, &std, &max);
						best[r] = fmax(best[r], mean);
					}
				}
				slot[w][r][i] = best[r];
			}
			if (w == 0)
				v->ts[i] = s->t;
		}
	}
	/* Filter and score depend on the node's annotations only: once a step. */
	for (uint32_t j = 0; j < s->nnodes; j++) {
		int fresh = s->t - v->ts[j] <= 3 * 180; /* annotation older: ignored */
		if (fresh && (v->a[j] > 0.65 || v->c[j] > 0.75 || v->b[j] > 0.65 || v->d[j] > 0.75))
			v->base[j] = NAN;
		else
			v->base[j] = fresh ? (0.2 * (1 - v->a[j]) + 0.3 * (1 - v->c[j]) +
					      0.5 * (1 - v->e[j]) + 0.2 * (1 - v->b[j]) +
					      0.3 * (1 - v->d[j]) + 0.5 * (1 - v->f[j])) /
						 2.0 * 100
					   : 0;
	}
}

static void bound_crane(struct sim_policy *p, struct sim *s, uint32_t node,
			const struct sim_pod *pod)
{
	struct view *v = p->st;
	double *old = &v->bind_t[node * HOT_RING + v->binds[node]++ % HOT_RING];
	(void)pod;
	/* The new bind counts in both windows; the one it overwrites leaves. */
	v->hot[2 * node] += 1u - (s->t - *old <= 300);
	v->hot[2 * node + 1] += 1u - (s->t - *old <= 60);
	*old = s->t;
}

static void rank_crane(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
		       const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	struct view *v = p->st;
	(void)pod, (void)s;
	for (size_t i = 0; i < n; i++) {
		uint32_t j = c[i];
		keep[i] = !isnan(v->base[j]);
		/* hotValue: binds in 5 min / 5 + binds in 1 min / 2, x 10 points */
		sc[i] = v->base[j] - 10 * (v->hot[2 * j] / 5 + v->hot[2 * j + 1] / 2);
	}
}

/* Koordinator: NodeMetric (the 300 s average) reported every 60 s, expired
 * after 180 s (then filtered out, the code default); pods bound since are
 * estimated at 85 % of their CPU and 70 % of their memory request. */
static void tick_koord(struct sim_policy *p, struct sim *s)
{
	snapshot(p->st, s, 300);
}

static void bound_koord(struct sim_policy *p, struct sim *s, uint32_t node,
			const struct sim_pod *pod)
{
	struct view *v = p->st;
	(void)s;
	v->since[node] += 0.85 * pod->cpu_req;
	v->e[node] += 0.70 * pod->mem_req;
}

static void rank_koord(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
		       const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	struct view *v = p->st;

	for (size_t i = 0; i < n; i++) {
		uint32_t j = c[i];
		const struct sim_node *d = &s->nodes[j];
		int expired = s->t - v->ts[j] > 180;
		double uc, um;
		if (expired) {
			keep[i] = 0, sc[i] = 0;
			continue;
		}
		keep[i] = !(v->a[j] * 100 >= 65 || v->c[j] * 100 >= 95);
		uc = v->a[j] * d->cpu_cap + v->since[j] + 0.85 * pod->cpu_req;
		um = v->c[j] * d->mem_cap + v->e[j] + 0.70 * pod->mem_req;
		sc[i] = (fmax(0, (d->cpu_cap - uc) * 100 / d->cpu_cap) +
			 fmax(0, (d->mem_cap - um) * 100 / d->mem_cap)) /
			2;
	}
}

/* nodescore lives in nsnode.c. */

/* Reference, not a product: fresh true CPU demand every step plus each pod
 * bound since at its true mean use (request x its usage ratio). What any
 * load-aware ranking could know at best without seeing the future. */
static void tick_oracle(struct sim_policy *p, struct sim *s)
{
	struct view *v = p->st;

	for (uint32_t i = 0; i < s->nnodes; i++)
		v->a[i] = s->nodes[i].cpu_dem * s->nodes[i].cpu_cap, v->since[i] = 0;
}

static void bound_oracle(struct sim_policy *p, struct sim *s, uint32_t node,
			 const struct sim_pod *pod)
{
	struct view *v = p->st;
	(void)s;
	v->since[node] += pod->cpu_req * pod->r_cpu;
}

static void rank_oracle(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
			const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	struct view *v = p->st;

	for (size_t i = 0; i < n; i++) {
		const struct sim_node *d = &s->nodes[c[i]];
		keep[i] = 1;
		sc[i] = -(v->a[c[i]] + v->since[c[i]] + pod->cpu_req * pod->r_cpu) / d->cpu_cap;
	}
}

/* Reference, not a product: clairvoyant. Knows every node's true CPU
 * demand over the next --oracle-horizon (10 minutes: the bad-placement
 * window) and the new pod's own, and picks the node whose peak over that
 * window, with the pod, is lowest. What no placement-time signal can beat: if this does not cut
 * overload, no ranking will. */
static int init_future(struct sim_policy *p, struct sim *s)
{
	(void)p;
	s->fut_h = (s->oracle_horizon_s + s->step_s - 1) / s->step_s;
	return 0;
}

static void rank_future(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
			const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	uint32_t H = s->fut_h;
	(void)p;
	(void)pod;
	for (size_t i = 0; i < n; i++) {
		const double *f = &s->fut[(size_t)c[i] * H];
		double peak = 0;
		for (uint32_t h = 0; h < H; h++)
			peak = sim_max(peak, f[h] + s->pod_fut[h]);
		keep[i] = 1;
		sc[i] = -peak / s->nodes[c[i]].cpu_cap;
	}
}

const struct sim_policy sim_policies[] = {
    {"random", NULL, NULL, NULL, rank_random, NULL, NULL},
    {"k8s-default", NULL, NULL, NULL, rank_default, NULL, NULL},
    {"most-allocated", NULL, NULL, NULL, rank_most, NULL, NULL},
    {"trimaran-tlp", NULL, view_init, tick_trimaran, rank_tlp, bound_trimaran, view_fini},
    {"trimaran-lvrb", NULL, view_init, tick_trimaran, rank_lvrb, bound_trimaran, view_fini},
    {"crane", NULL, view_init, tick_crane, rank_crane, bound_crane, view_fini},
    {"koordinator", NULL, view_init, tick_koord, rank_koord, bound_koord, view_fini},
    {"nodescore", NULL, sim_ns_init, sim_ns_tick, sim_ns_rank, NULL, sim_ns_fini},
    {"nodescore-q", NULL, sim_ns_init, sim_ns_tick, sim_ns_rank, NULL, sim_ns_fini},
    {"oracle-least-used", NULL, view_init, tick_oracle, rank_oracle, bound_oracle, view_fini},
    {"oracle-future", NULL, init_future, NULL, rank_future, NULL, NULL},
};
const size_t sim_npolicies = sizeof(sim_policies) / sizeof(sim_policies[0]);
