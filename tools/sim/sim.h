/* SPDX-License-Identifier: MIT */
/* nodescore-sim internals: the cluster state a policy may look at, and the
 * policy interface. Engine in sim.c, peer policies in policy.c, nodescore
 * (agent models + extender verbs) in nsnode.c, CLI in main.c. */
#ifndef NODESCORE_SIM_H
#define NODESCORE_SIM_H

#include <stddef.h>
#include <stdint.h>

#define SIM_HIST 1440 /* history ring: steps of measured utilisation kept per node */

struct sim_pod {
	double t_arr, dur;
	double cpu_req, mem_req; /* millicores, MiB */
	double cpu_lim;		 /* 0 = none */
	float r_cpu, r_mem;	 /* usage / request */
	uint32_t shape, shape_off;
	/* run state */
	int node;
	double t_bind, t_start, t_end;
	int bad; /* node crossed CPU 0.90 within 10 min of the bind */
};

struct sim_node {
	double cpu_cap, mem_cap;
	double cpu_req, mem_req, cpu_lim_pred; /* sums over bound pods */
	uint32_t npods;
	uint32_t bg;		 /* background series */
	uint32_t bg_off;	 /* step offset into it */
	double cpu_dem, mem_dem; /* demand / capacity, this step, unclipped */
	/* measured (clipped) per step; out of line so that the fit scan over
	 * every node stays in cache (inline, they made a node 12 KB) */
	float *hist_cpu, *hist_mem;
	/* faults */
	int silent; /* agent / metrics pipeline stopped: policies see frozen data */
	/* metrics */
	uint64_t active_steps, over_cpu, over_mem, sla_cpu;
	double unserved, demand_sum, util_sum;
	uint32_t *hist_u; /* [201] per node CPU demand histogram, 0.01 bins, last = >= 2 */
	uint64_t herd_win;
	uint32_t herd_n;
};

struct sim;

/* A policy ranks the fit-feasible candidates of one pod: keep[i] = 0 drops
 * node cand[i] (its own filter), score[i] higher is better. */
struct sim_policy {
	const char *name;
	void *st;
	int (*init)(struct sim_policy *p, struct sim *s);
	void (*tick)(struct sim_policy *p, struct sim *s); /* every step, after usage */
	void (*rank)(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
		     const uint32_t *cand, size_t n, double *score, uint8_t *keep);
	void (*bound)(struct sim_policy *p, struct sim *s, uint32_t node,
		      const struct sim_pod *pod);
	void (*fini)(struct sim_policy *p);
};

struct sim {
	uint32_t nnodes;
	struct sim_node *nodes;
	uint32_t step_s;
	uint64_t k;	    /* current step */
	double t;	    /* current time, s */
	double staleness_s; /* extra age of the nodescore scores (S2) */
	uint64_t seed;
	uint64_t rng;
	const char *models_dir;
	uint32_t ns_horizon_s; /* forecast horizon of the nodescore agents */
	double ns_cpu_share;   /* their --headroom-cpu-share */
	/* Clairvoyant reference (oracle-future): a policy whose init sets
	 * fut_h > 0 gets, from the engine, fut[node * fut_h + h - 1] = the
	 * node's true CPU demand in millicores h steps ahead (background, the
	 * S3 pin, and every pod bound so far while it runs), and, before each
	 * rank, pod_fut[h - 1] = the ranked pod's own, were it bound now. */
	uint32_t fut_h;
	double *fut, *pod_fut;
	uint32_t oracle_horizon_s; /* how far ahead oracle-future looks */
	/* Dense copies of nodes[i].cpu_req and mem_req, kept in step by the
	 * engine, and the one capacity every node has: the fit scan and the
	 * default plugins read these instead of the node records. */
	double *req_cpu, *req_mem;
	double cap_cpu, cap_mem;
	/* While a policy ranks: the requests of each candidate cand[i], as
	 * the fit scan read them, side by side for the default plugins. */
	const double *cand_cpu, *cand_mem;
};

/* Window statistics of a node's measured utilisation over the nsteps steps
 * ending lag steps ago (res 0 cpu, 1 mem). */
void sim_window(const struct sim *s, uint32_t node, int res, uint32_t lag, uint32_t nsteps,
		double *mean, double *std, double *max);
/* sim_rand's state moves by this much per draw, so draws can be skipped
 * without making them */
#define SIM_RAND_STEP 0x9e3779b97f4a7c15ull
/* Uniform [0,1): splitmix64, deterministic per seed, the same stream on
 * every machine. Inline: selectHost draws once per tie. */
static inline double sim_rand(uint64_t *st)
{
	uint64_t z = (*st += SIM_RAND_STEP);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}
/* kube-scheduler's selectHost (select.c): among the kept scores, the
 * best, ties uniformly at random by reservoir sampling drawn from rng, one
 * draw per tie in candidate order. Returns the ties at the best (0:
 * nothing kept) and its index in *best. */
size_t sim_select_host(const double *score, const uint8_t *keep, size_t n, uint64_t *rng,
		       size_t *best);
/* The vector paths this CPU runs (sim.c): AVX-512 for the fit scan,
 * selectHost and the default plugins; AVX2 with FMA for the default
 * plugins alone; or none. NS_SIM_NO_AVX512 caps it at AVX2 (tests compare
 * the paths; every one gives the same results). */
enum sim_simd { SIM_SIMD_NONE, SIM_SIMD_AVX2, SIM_SIMD_AVX512 };
enum sim_simd sim_simd(void);
/* fmin/fmax without the NaN rules: libm calls on the per-node hot path
 * cost a fifth of a run, and no simulated quantity is NaN. */
static inline double sim_min(double a, double b)
{
	return a < b ? a : b;
}
static inline double sim_max(double a, double b)
{
	return a > b ? a : b;
}

/* Scores of kube-scheduler's default plugins (LeastAllocated + Balanced). */
double sim_k8s_default(const struct sim_node *n, const struct sim_pod *pod);
/* The same for n nodes whose requests are rc[i] and rm[i], bit for bit
 * (the same operations in the same order, several nodes at a time). */
void sim_k8s_default_many(const struct sim *s, const struct sim_pod *pod, const double *rc,
			  const double *rm, size_t n, double *score);

/* The nodescore policies (nsnode.c): "nodescore" with the agent's default
 * weights, "nodescore-q" with the design's 0.3/0.4/0.3 and the Q-table. */
int sim_ns_init(struct sim_policy *p, struct sim *s);
void sim_ns_tick(struct sim_policy *p, struct sim *s);
void sim_ns_rank(struct sim_policy *p, struct sim *s, const struct sim_pod *pod, const uint32_t *c,
		 size_t n, double *sc, uint8_t *keep);
void sim_ns_fini(struct sim_policy *p);
/* One agent model set per node (shipped forecaster and anomaly model, and
 * the Q-table when with_q), configured as the simulation steps. 0 or -1
 * after an ERROR line. */
struct ns_models;
int sim_ns_models_open(const struct sim *s, int with_q, struct ns_models **m);
/* What node i's agent would sample at ts_ms (measured use clipped at 1). */
struct ns_sample;
void sim_ns_sample(const struct sim *s, uint32_t i, uint64_t ts_ms, struct ns_sample *smp);

extern const struct sim_policy sim_policies[];
extern const size_t sim_npolicies;

#endif
