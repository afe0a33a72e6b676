// SPDX-License-Identifier: MIT
/* nodescore-sim engine: trace-driven cluster on a fixed step (background
 * load replayed from machine traces, pods from task traces with usage that
 * differs from their requests), one policy per run on the same arrivals,
 * and the placement-quality metrics of docs/sim.md. The traces are loaded
 * in traces.c, the arrivals drawn in work.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/series.h"
#include "fit.h"
#include "sim.h"
#include "simrun.h"

void sim_window(const struct sim *s, uint32_t node, int res, uint32_t lag, uint32_t nsteps,
		double *mean, double *std, double *max)
{
	const float *h = res ? s->nodes[node].hist_mem : s->nodes[node].hist_cpu;
	double sum = 0, sq = 0, mx = 0;
	uint32_t n = 0;

	for (uint32_t i = 0; i < nsteps && lag + i < SIM_HIST && lag + i <= s->k; i++) {
		double v = h[(s->k - lag - i) % SIM_HIST];
		sum += v, sq += v * v, mx = fmax(mx, v), n++;
	}
	*mean = n ? sum / n : 0;
	*std = n ? sqrt(fmax(0, sq / n - *mean * *mean)) : 0;
	*max = mx;
}

enum sim_simd sim_simd(void)
{
	/* runs ask from several threads; each would compute the same */
	static int v = -1;
	int r = __atomic_load_n(&v, __ATOMIC_RELAXED);

	if (r < 0) {
		r = !getenv("NS_SIM_NO_AVX512") && __builtin_cpu_supports("avx512f")
			? SIM_SIMD_AVX512
		    : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
			? SIM_SIMD_AVX2
			: SIM_SIMD_NONE;
		__atomic_store_n(&v, r, __ATOMIC_RELAXED);
	}
	return (enum sim_simd)r;
}

/* --- one run --- */

uint32_t sim_nodes_to_find(uint32_t nodes, uint32_t pct)
{
	/* kubernetes pkg/scheduler/schedule_one.go numFeasibleNodesToFind:
	 * every node under 100, else an adaptive share (50 % minus 1 % per 125
	 * nodes, at least 5 %) but never under 100 nodes. */
	uint32_t n;

	if (nodes < 100 || pct >= 100)
		return nodes;
	if (!pct)
		pct = nodes / 125 >= 45 ? 5 : 50 - nodes / 125;
	n = (uint32_t)((uint64_t)nodes * pct / 100);
	return n < 100 ? 100 : n;
}

static double pod_cpu(const struct sim_pod *p, const struct sim_traces *tr, uint64_t k0, uint64_t k)
{
	const struct ns_series *se = &tr->bg.s[p->shape];
	double v = se->v[0][(p->shape_off + (k - k0)) % se->n];
	return p->cpu_req * p->r_cpu * sim_min(4, v / (tr->mean_cpu[p->shape] + 1e-3));
}

/* Adds pod p's CPU demand h = 1..H steps after step k to out[0..H) (or
 * sets it, add = 0), from its start to its end, as the engine will count
 * it. */
static void pod_future(const struct sim_pod *p, const struct sim_traces *tr, uint32_t step_s,
		       uint64_t k, uint32_t H, double *out, int add)
{
	uint64_t k0 = (uint64_t)(p->t_start / step_s);

	for (uint32_t h = 1; h <= H; h++) {
		double t = (double)(k + h) * step_s, v = 0;
		if (p->t_start <= t && p->t_end > t)
			v = pod_cpu(p, tr, k0, k + h);
		out[h - 1] = add ? out[h - 1] + v : v;
	}
}

/* A bound pod as the per-step loops over them read it, in one dense array
 * (the pod records are scattered over the pool): cpu_use = cpu_req x r_cpu
 * and mem_use = mem_req x r_mem, the first factors of pod_cpu and of the
 * memory demand, so the products are the same. */
struct running {
	double t_start, t_end, t_bind, cpu_use, mem_use, cpu_req, mem_req;
	uint64_t k0; /* step of t_start */
	uint32_t slot, node, shape, shape_off;
	uint32_t pos;  /* running_cpu's place in the shape, once live */
	int live, bad; /* bad: node crossed CPU 0.90 within 10 min of the bind */
};

/* Pod p's CPU demand at step k: called every step from its start to its
 * end, so it follows its place in its usage shape instead of dividing for
 * it (a 64-bit division per pod and step). */
static double running_cpu(struct running *p, const struct sim_traces *tr, uint64_t k)
{
	const struct ns_series *se = &tr->bg.s[p->shape];

	if (!p->live)
		p->pos = (uint32_t)((p->shape_off + (k - p->k0)) % se->n), p->live = 1;
	else if (++p->pos == se->n)
		p->pos = 0;
	return p->cpu_use * sim_min(4, se->v[0][p->pos] / (tr->mean_cpu[p->shape] + 1e-3));
}

/* A pod waiting for a node: what the fit scan and the wait need. */
struct waiting {
	double t_arr, cpu_req, mem_req;
	uint32_t slot;
};

/* The clairvoyant view of every node (struct sim fut): background and the
 * S3 pin h steps ahead, plus every running pod. */
static void fill_future(struct sim *s, const struct sim_cfg *c, const struct sim_traces *tr,
			const struct sim_pod *pods, const struct running *run, size_t nrun)
{
	uint32_t H = s->fut_h;

	for (uint32_t i = 0; i < s->nnodes; i++) {
		const struct sim_node *n = &s->nodes[i];
		const struct ns_series *se = &tr->bg.s[n->bg];
		for (uint32_t h = 1; h <= H; h++) {
			double t = (double)(s->k + h) * c->step_s, d;
			d = c->bg_scale * se->v[0][(n->bg_off + s->k + h) % se->n];
			if (c->hot_node == (int)i && t >= c->fault_t && t < c->fault_t + 1800)
				d = 1.0;
			s->fut[(size_t)i * H + h - 1] = d * n->cpu_cap;
		}
	}
	for (size_t r = 0; r < nrun; r++) {
		const struct sim_pod *p = &pods[run[r].slot];
		pod_future(p, tr, c->step_s, s->k, H, &s->fut[(size_t)p->node * H], 1);
	}
}

/* A drawn pod in the arrival heap: its arrival time, and the requests the
 * fit scan needs (so that a pod that fits nowhere never reads its record). */
struct arr {
	double t, cpu_req, mem_req;
	uint32_t slot;
};

/* Pod slots of one run: free slots on a stack, drawn pods not yet arrived
 * in a min-heap on arrival time. */
struct pool {
	struct sim_pod *pod;
	uint32_t *free;
	struct arr *heap;
	size_t n, cap, nfree, nheap;
};

/* A free slot (the free stack can always take every slot back), or -1. */
static int64_t pool_get(struct pool *pl)
{
	if (pl->nfree)
		return pl->free[--pl->nfree];
	if (pl->n == pl->cap) {
		size_t nc = pl->cap ? pl->cap * 2 : 4096;
		struct sim_pod *np = realloc(pl->pod, nc * sizeof(*np));
		uint32_t *nf;
		struct arr *nh;
		if (!np)
			return -1;
		pl->pod = np;
		nf = realloc(pl->free, nc * sizeof(*nf));
		if (!nf)
			return -1;
		pl->free = nf;
		nh = realloc(pl->heap, (nc + 1) * sizeof(*nh)); /* + heap_pop's sentinel */
		if (!nh)
			return -1;
		pl->heap = nh, pl->cap = nc;
	}
	return (int64_t)pl->n++;
}

/* The heap holds distinct slots: never more than the pool's capacity. */
static void heap_push(struct pool *pl, uint32_t slot)
{
	const struct sim_pod *p = &pl->pod[slot];
	struct arr a = {p->t_arr, p->cpu_req, p->mem_req, slot};
	size_t i = pl->nheap++;

	while (i > 0 && pl->heap[(i - 1) / 2].t > a.t) {
		pl->heap[i] = pl->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	pl->heap[i] = a;
}

static struct arr heap_pop(struct pool *pl)
{
	struct arr top = pl->heap[0];
	struct arr last = pl->heap[--pl->nheap];
	size_t i = 0, n = pl->nheap;

	/* past the end an infinitely late sentinel, so that the smaller child
	 * is picked without a branch (the heap of a 1,000-node cluster is 13
	 * levels deep, and that branch is a coin toss at each) */
	pl->heap[n].t = INFINITY;
	for (;;) {
		size_t l = 2 * i + 1, m;
		if (l >= n)
			break;
		m = l + (pl->heap[l + 1].t < pl->heap[l].t);
		if (!(pl->heap[m].t < last.t))
			break;
		pl->heap[i] = pl->heap[m];
		i = m;
	}
	if (n)
		pl->heap[i] = last;
	return top;
}

int sim_run(const struct sim_cfg *c, const struct sim_traces *tr, const struct sim_work *w0,
	    const struct sim_policy *proto, uint64_t seed, struct sim_result *res)
{
	struct sim s = {0};
	struct sim_policy pol = *proto;
	/* pods drawn and not yet arrived, bound or gone: a pool of slots, the
	 * arrived ones waiting in a heap on arrival time */
	struct pool pool = {0};
	struct sim_pod *pods = NULL;
	struct running *run = NULL;
	struct waiting *pend = NULL;
	uint32_t *cand = malloc((c->nodes + SIM_FIT_SLACK) * sizeof(uint32_t));
	double *cand_cpu = malloc((c->nodes + SIM_FIT_SLACK) * sizeof(double));
	double *cand_mem = malloc((c->nodes + SIM_FIT_SLACK) * sizeof(double));
	size_t nrun = 0, caprun = 0, next_occ = 0, next_burst = 0, npend = 0, cappend = 0;
	double *score = malloc(c->nodes * sizeof(double));
	uint8_t *keep = malloc(c->nodes);
	uint64_t nsteps = (uint64_t)(c->horizon_s / c->step_s),
		 warm = (uint64_t)(c->warmup_s / c->step_s);
	uint64_t bgrng = seed * 104729 + 3;
	uint32_t nfind = sim_nodes_to_find(c->nodes, c->score_pct);
	float *hist = NULL;
	struct sim_fit fit = {0};
	uint32_t *hist_u = NULL;
	double cv_sum = 0;
	uint64_t cv_n = 0;
	int rc = -ENOMEM;

	memset(res, 0, sizeof(*res));
	snprintf(res->policy, sizeof(res->policy), "%s", proto->name);
	s.nnodes = c->nodes;
	s.step_s = c->step_s;
	s.staleness_s = c->staleness_s;
	s.seed = seed;
	s.rng = seed * 31 + 1;
	s.models_dir = c->models_dir;
	s.ns_horizon_s = c->ns_horizon_s;
	s.oracle_horizon_s = c->oracle_horizon_s ? c->oracle_horizon_s : 600;
	s.ns_cpu_share = c->ns_cpu_share;
	s.nodes = calloc(c->nodes, sizeof(*s.nodes));
	s.req_cpu = calloc(c->nodes, sizeof(double));
	s.req_mem = calloc(c->nodes, sizeof(double));
	s.cap_cpu = c->node_cpu_m;
	s.cap_mem = c->node_mem_mib;
	hist = calloc((size_t)c->nodes * 2 * SIM_HIST, sizeof(float));
	hist_u = calloc((size_t)c->nodes * 201, sizeof(uint32_t));
	res->over_ts = calloc(nsteps / c->ts_every + 2, sizeof(float));
	s.cand_cpu = cand_cpu, s.cand_mem = cand_mem;
	if (!cand || !cand_cpu || !cand_mem || !score || !keep || !s.nodes || !s.req_cpu ||
	    !s.req_mem || !res->over_ts || !hist || !hist_u ||
	    sim_fit_init(&fit, s.req_cpu, s.req_mem, c->nodes, s.cap_cpu, s.cap_mem))
		goto out;
	for (uint32_t i = 0; i < c->nodes; i++) {
		struct sim_node *n = &s.nodes[i];
		n->hist_cpu = hist + (size_t)i * 2 * SIM_HIST;
		n->hist_mem = n->hist_cpu + SIM_HIST;
		n->hist_u = hist_u + (size_t)i * 201;
		n->cpu_cap = c->node_cpu_m;
		n->mem_cap = c->node_mem_mib;
		n->bg = (uint32_t)((i + seed) % tr->bg.n);
		n->bg_off = (uint32_t)(sim_rand(&bgrng) * (double)tr->bg.s[n->bg].n);
	}
	rc = pol.init ? pol.init(&pol, &s) : 0;
	if (rc) {
		fprintf(stderr, "ERROR sim: policy %s failed to start\n", pol.name);
		rc = -EINVAL;
		goto out;
	}
	if (s.fut_h) {
		s.fut = malloc((size_t)c->nodes * s.fut_h * sizeof(double));
		s.pod_fut = malloc(s.fut_h * sizeof(double));
		if (!s.fut || !s.pod_fut) {
			rc = -ENOMEM;
			goto out_pol;
		}
	}
	for (s.k = 0; s.k < nsteps; s.k++) {
		s.t = (double)s.k * c->step_s;
		pods = pool.pod;
		int counted = s.k >= warm;
		uint32_t over_nodes = 0;
		double usum = 0, usq = 0;

		/* departures and demand */
		for (uint32_t i = 0; i < c->nodes; i++) {
			struct sim_node *n = &s.nodes[i];
			const struct ns_series *se = &tr->bg.s[n->bg];
			size_t bk = (n->bg_off + s.k) % se->n;
			n->cpu_dem = c->bg_scale * se->v[0][bk];
			n->mem_dem = c->bg_scale * se->v[1][bk];
			if (c->hot_node == (int)i && s.t >= c->fault_t && s.t < c->fault_t + 1800)
				n->cpu_dem = 1.0; /* S3: pinned at 100 % */
			n->silent = c->silent_node == (int)i && s.t >= c->fault_t;
			if (c->leak_node == (int)i && s.t >= c->fault_t)
				/* S3: a leak of 10 % of the node's memory per hour, up to 60 % */
				n->mem_dem += fmin(0.6, 0.1 * (s.t - c->fault_t) / 3600);
		}
		for (size_t r = 0; r < nrun;) {
			struct running *p = &run[r];
			struct sim_node *n = &s.nodes[p->node];
			if (p->t_end <= s.t) {
				n->cpu_req -= p->cpu_req, n->mem_req -= p->mem_req, n->npods--;
				s.req_cpu[p->node] = n->cpu_req, s.req_mem[p->node] = n->mem_req;
				sim_fit_update(&fit, p->node);
				pool.free[pool.nfree++] = p->slot;
				run[r] = run[--nrun];
				continue;
			}
			if (p->t_start <= s.t) {
				n->cpu_dem += running_cpu(p, tr, s.k) / n->cpu_cap;
				n->mem_dem += p->mem_use / n->mem_cap;
			}
			r++;
		}
		for (uint32_t i = 0; i < c->nodes; i++) {
			struct sim_node *n = &s.nodes[i];
			n->hist_cpu[s.k % SIM_HIST] = (float)sim_min(1, n->cpu_dem);
			n->hist_mem[s.k % SIM_HIST] = (float)sim_min(1, n->mem_dem);
			over_nodes += n->cpu_dem > 0.9;
			if (!counted)
				continue;
			n->active_steps++;
			n->over_cpu += n->cpu_dem > 0.9;
			n->over_mem += n->mem_dem > 0.95;
			n->sla_cpu += n->cpu_dem > 1;
			n->unserved += fmax(0, n->cpu_dem - 1);
			n->demand_sum += n->cpu_dem;
			n->hist_u[(int)fmin(200, floor(n->cpu_dem * 100))]++;
			usum += n->cpu_dem, usq += n->cpu_dem * n->cpu_dem;
		}
		/* bad placements: pods bound in the last 10 minutes to a node over 0.90 */
		for (size_t r = 0; over_nodes && r < nrun; r++) {
			struct running *p = &run[r];
			if (!p->bad && s.t - p->t_bind <= 600 && p->t_bind >= c->warmup_s &&
			    s.nodes[p->node].cpu_dem > 0.9)
				p->bad = 1, res->bad++;
		}
		if (counted) {
			double m = usum / c->nodes;
			cv_sum += m > 0 ? sqrt(fmax(0, usq / c->nodes - m * m)) / m : 0;
			cv_n++;
		}
		/* hourly mean of the share of nodes over 0.90 */
		res->over_ts[s.k / c->ts_every] +=
		    (float)over_nodes / (float)c->nodes / (float)c->ts_every;
		res->n_ts = s.k / c->ts_every + 1;
		if (s.fut_h)
			fill_future(&s, c, tr, pods, run, nrun);
		if (pol.tick)
			pol.tick(&pol, &s);

		/* arrivals of this step, after the pending ones: the pods of
		 * every task occurrence that has begun are drawn, and those that
		 * arrive within the step leave the heap in arrival order */
		while (next_occ < w0->nocc && w0->occ[next_occ].t0 < s.t + c->step_s) {
			const struct sim_occ *o = &w0->occ[next_occ++];
			uint64_t rng = o->rng;
			for (uint32_t j = 0; j < o->n; j++) {
				int64_t slot = pool_get(&pool);
				if (slot < 0)
					goto out_pol;
				if (sim_draw_pod(&pool.pod[slot], tr, c, &tr->task[o->task], o->t0,
						 &rng))
					pool.free[pool.nfree++] = (uint32_t)slot;
				else
					heap_push(&pool, (uint32_t)slot);
			}
		}
		while (next_burst < w0->nburst && w0->p[next_burst].t_arr < s.t + c->step_s) {
			int64_t slot = pool_get(&pool);
			if (slot < 0)
				goto out_pol;
			pool.pod[slot] = w0->p[next_burst++];
			heap_push(&pool, (uint32_t)slot);
		}
		pods = pool.pod;
		while (pool.nheap && pool.heap[0].t < s.t + c->step_s) {
			if (npend == cappend) {
				size_t nc = cappend ? cappend * 2 : 4096;
				struct waiting *np = realloc(pend, nc * sizeof(*np));
				if (!np)
					goto out_pol;
				pend = np, cappend = nc;
			}
			struct arr a = heap_pop(&pool);
			pend[npend++] = (struct waiting){a.t, a.cpu_req, a.mem_req, a.slot};
		}
		size_t keptp = 0;
		for (size_t q = 0; q < npend; q++) {
			const struct waiting *wt = &pend[q];
			/* the next pod's record, for its rank and bind, unless no
			 * node can take it (prefetches of records never read, two
			 * thirds of them, held up the loop) */
			if (q + 1 < npend &&
			    sim_fit_maybe(&fit, pend[q + 1].cpu_req, pend[q + 1].mem_req))
				__builtin_prefetch(&pods[pend[q + 1].slot]);
			size_t best = 0, ties;
			size_t nc = sim_fit_scan(&fit, wt->cpu_req, wt->mem_req, nfind, cand,
						 cand_cpu, cand_mem);
			struct sim_pod *p = &pods[wt->slot]; /* read only if it fits somewhere */
			if (nc && s.fut_h) {
				/* as if bound now: t_start and t_end as set below */
				struct sim_pod as_bound = *p;
				as_bound.t_start = s.t + c->startup_s;
				as_bound.t_end = as_bound.t_start + as_bound.dur;
				pod_future(&as_bound, tr, c->step_s, s.k, s.fut_h, s.pod_fut, 0);
			}
			if (nc)
				pol.rank(&pol, &s, p, cand, nc, score, keep);
			ties = sim_select_host(score, keep, nc, &s.rng, &best);
			if (!ties) {
				if (s.t - wt->t_arr < c->pending_s) {
					pend[keptp++] = *wt;
					continue;
				}
				if (wt->t_arr >= c->warmup_s)
					res->failed++;
				pool.free[pool.nfree++] = wt->slot;
				continue;
			}
			uint32_t j = cand[best];
			struct sim_node *n = &s.nodes[j];
			p->node = (int)j;
			p->t_bind = s.t;
			p->t_start = s.t + c->startup_s;
			p->t_end = p->t_start + p->dur;
			n->cpu_req += p->cpu_req, n->mem_req += p->mem_req, n->npods++;
			s.req_cpu[j] = n->cpu_req, s.req_mem[j] = n->mem_req;
			sim_fit_update(&fit, j);
			if (pol.bound)
				pol.bound(&pol, &s, j, p);
			if (s.fut_h)
				pod_future(p, tr, c->step_s, s.k, s.fut_h,
					   &s.fut[(size_t)j * s.fut_h], 1);
			if (c->hot_node == (int)j && s.t >= c->fault_t && s.t < c->fault_t + 1800)
				res->hot_binds++;
			if (c->silent_node == (int)j && s.t >= c->fault_t + 180)
				res->silent_binds++;
			if (c->leak_node == (int)j && s.t >= c->fault_t && n->mem_dem > 0.85)
				res->leak_binds++;
			if (p->t_arr >= c->warmup_s) {
				uint64_t win = (uint64_t)(s.t / 60);
				res->placed++;
				if (n->herd_win != win)
					n->herd_win = win, n->herd_n = 0;
				if (++n->herd_n > res->herd)
					res->herd = n->herd_n;
			}
			if (nrun == caprun) {
				size_t ncap = caprun ? caprun * 2 : 4096;
				struct running *nr = realloc(run, ncap * sizeof(*nr));
				if (!nr)
					goto out_pol;
				run = nr, caprun = ncap;
			}
			run[nrun++] = (struct running){.t_start = p->t_start,
						       .t_end = p->t_end,
						       .t_bind = p->t_bind,
						       .cpu_use = p->cpu_req * p->r_cpu,
						       .mem_use = p->mem_req * p->r_mem,
						       .cpu_req = p->cpu_req,
						       .mem_req = p->mem_req,
						       .k0 = (uint64_t)(p->t_start / c->step_s),
						       .slot = wt->slot,
						       .node = j,
						       .shape = p->shape,
						       .shape_off = p->shape_off};
		}
		npend = keptp;
		if (c->progress && s.k % (nsteps / 10 + 1) == 0)
			fprintf(stderr, "INFO sim: policy=%s seed=%llu progress=%llu%%\n", pol.name,
				(unsigned long long)seed, (unsigned long long)(100 * s.k / nsteps));
	}
	{
		double p99[c->nodes ? c->nodes : 1];
		uint64_t act = 0, oc = 0, om = 0, sl = 0;
		double uns = 0, dem = 0;
		for (uint32_t i = 0; i < c->nodes; i++) {
			const struct sim_node *n = &s.nodes[i];
			uint64_t cum = 0, lim = (uint64_t)ceil(0.99 * (double)n->active_steps);
			act += n->active_steps, oc += n->over_cpu, om += n->over_mem,
			    sl += n->sla_cpu;
			uns += n->unserved, dem += n->demand_sum;
			p99[i] = 0;
			for (int b = 0; b <= 200; b++) {
				cum += n->hist_u[b];
				res->hist[b] += n->hist_u[b];
				if (cum >= lim) {
					p99[i] = (b + 1) / 100.0;
					break;
				}
			}
		}
		for (uint32_t i = 1; i < c->nodes; i++)
			for (uint32_t j = i; j > 0 && p99[j - 1] > p99[j]; j--) {
				double t = p99[j];
				p99[j] = p99[j - 1], p99[j - 1] = t;
			}
		res->overload_cpu = act ? (double)oc / (double)act : 0;
		res->overload_mem = act ? (double)om / (double)act : 0;
		res->slatah = act ? (double)sl / (double)act : 0;
		res->unserved = dem > 0 ? uns / dem : 0;
		res->mean_util = act ? dem / (double)act : 0;
		res->p99_med = p99[c->nodes / 2];
		res->p99_max = p99[c->nodes - 1];
		res->imbalance = cv_n ? cv_sum / (double)cv_n : 0;
	}
	rc = 0;
out_pol:
	if (pol.fini)
		pol.fini(&pol);
out:
	free(pool.pod), free(pool.free), free(pool.heap), free(run), free(cand), free(score),
	    free(keep), free(s.nodes), free(pend);
	free(s.req_cpu), free(s.req_mem), free(cand_cpu), free(cand_mem);
	sim_fit_free(&fit);
	free(hist), free(hist_u), free(s.fut), free(s.pod_fut);
	return rc;
}
