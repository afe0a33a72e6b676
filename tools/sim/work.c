// SPDX-License-Identifier: MIT
/* nodescore-sim workload: the same arrivals for every policy of one
 * (scenario, seed): task occurrences with their positions in the random
 * stream, the S2 burst, and each pod's draws (arrival, duration, usage that
 * differs from its request). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "simrun.h"

static double rand_norm(uint64_t *st)
{
	double u = sim_rand(st), v = sim_rand(st);
	return sqrt(-2 * log(u > 0 ? u : 1e-12)) * cos(6.283185307179586 * v);
}

static int cmp_arr(const void *a, const void *b)
{
	double x = ((const struct sim_pod *)a)->t_arr, y = ((const struct sim_pod *)b)->t_arr;
	return x < y ? -1 : x > y;
}

static int cmp_occ(const void *a, const void *b)
{
	double x = ((const struct sim_occ *)a)->t0, y = ((const struct sim_occ *)b)->t0;
	return x < y ? -1 : x > y;
}

static void draw_usage(struct sim_pod *p, const struct sim_traces *tr, uint64_t *rng)
{
	/* Usage differs from the request: a per-pod ratio (lognormal, median
	 * 0.6) times a real machine's CPU shape normalised to mean 1. */
	p->r_cpu = (float)fmin(3, fmax(0.05, 0.6 * exp(0.5 * rand_norm(rng))));
	p->r_mem = (float)fmin(1.5, fmax(0.1, 0.7 * exp(0.25 * rand_norm(rng))));
	p->shape = (uint32_t)(sim_rand(rng) * (double)tr->bg.n);
	p->shape_off = (uint32_t)(sim_rand(rng) * (double)tr->bg.s[p->shape].n);
	p->node = -1;
}

/* Draws of one pod (arrival, duration, usage: 1 + 1 + 2 + 2 + 1 + 1). */
#define POD_DRAWS 8

int sim_draw_pod(struct sim_pod *pod, const struct sim_traces *tr, const struct sim_cfg *c,
		 const struct sim_task *t, double t0, uint64_t *rng)
{
	memset(pod, 0, sizeof(*pod));
	pod->t_arr = t0 + sim_rand(rng) * 60;
	if (pod->t_arr >= c->horizon_s)
		return 1;
	pod->dur = fmax(c->step_s, fmin(t->dur, 86400) * (0.5 + 0.5 * sim_rand(rng)));
	pod->cpu_req = t->cpu_m;
	pod->mem_req = t->mem * c->node_mem_mib;
	draw_usage(pod, tr, rng);
	return 0;
}

int sim_work_build(struct sim_work *w, const struct sim_traces *tr, const struct sim_cfg *c,
		   uint64_t seed)
{
	uint64_t rng = seed * 7919 + 17;
	double span = tr->tmax - tr->tmin + 60, offered = 0, p;
	double cores = (double)c->nodes * c->node_cpu_m;
	struct sim_occ *occ = NULL;
	struct sim_pod *burst = NULL;
	size_t nocc = 0, capocc = 0;

	memset(w, 0, sizeof(*w));
	for (size_t i = 0; i < tr->ntask; i++)
		offered +=
		    tr->task[i].cpu_m * tr->task[i].inst * fmin(tr->task[i].dur, 86400) * 0.75;
	offered /= span;
	p = c->req_load * cores / offered;
	/* The plan of the draws: each task occurrence's count here, its pods'
	 * own draws skipped over (drawn one by one only near the horizon, where
	 * some fall after it and use one draw instead of POD_DRAWS). */
	for (double base = 0; base < c->horizon_s; base += span) {
		for (size_t i = 0; i < tr->ntask; i++) {
			const struct sim_task *t = &tr->task[i];
			double exp_n = t->inst * p, t0;
			uint32_t n = (uint32_t)exp_n + (sim_rand(&rng) < exp_n - floor(exp_n));
			if (!n)
				continue;
			t0 = base + t->create - tr->tmin;
			if (t0 < c->horizon_s) {
				if (nocc == capocc) {
					size_t nc = capocc ? capocc * 2 : 4096;
					struct sim_occ *no = realloc(occ, nc * sizeof(*no));
					if (!no) {
						free(occ);
						return -ENOMEM;
					}
					occ = no, capocc = nc;
				}
				occ[nocc++] = (struct sim_occ){t0, rng, (uint32_t)i, n};
			}
			if (t0 + 60 < c->horizon_s) {
				rng += (uint64_t)n * POD_DRAWS * SIM_RAND_STEP;
				w->n += n;
				continue;
			}
			for (uint32_t j = 0; j < n; j++) {
				struct sim_pod pod;
				w->n += !sim_draw_pod(&pod, tr, c, t, t0, &rng);
			}
		}
	}
	if (c->burst_n) {
		/* S2: pods of the same request mix, all within burst_len_s */
		burst = calloc(c->burst_n, sizeof(*burst));
		if (!burst) {
			free(occ);
			return -ENOMEM;
		}
		for (uint32_t j = 0; j < c->burst_n; j++) {
			const struct sim_task *t =
			    &tr->task[(size_t)(sim_rand(&rng) * (double)tr->ntask)];
			struct sim_pod *pod = &burst[j];
			pod->t_arr = c->burst_t + sim_rand(&rng) * c->burst_len_s;
			pod->dur = 3600;
			pod->cpu_req = t->cpu_m;
			pod->mem_req = t->mem * c->node_mem_mib;
			draw_usage(pod, tr, &rng);
			pod->r_cpu = (float)fmax(pod->r_cpu, 0.8); /* a burst of busy pods */
		}
		qsort(burst, c->burst_n, sizeof(*burst), cmp_arr);
		w->n += c->burst_n;
	}
	qsort(occ, nocc, sizeof(*occ), cmp_occ);
	/* one block, so that free(w->p) releases the whole plan */
	w->p = malloc(c->burst_n * sizeof(*burst) + nocc * sizeof(*occ) + 1);
	if (!w->p) {
		free(occ), free(burst);
		return -ENOMEM;
	}
	if (c->burst_n)
		memcpy(w->p, burst, c->burst_n * sizeof(*burst));
	w->nburst = c->burst_n;
	w->occ = (struct sim_occ *)(void *)(w->p + c->burst_n);
	if (nocc)
		memcpy(w->occ, occ, nocc * sizeof(*occ));
	w->nocc = nocc;
	free(occ), free(burst);
	return 0;
}
