/* SPDX-License-Identifier: MIT */
/* nodescore-sim: traces, workloads, scenario configuration and results. */
#ifndef NODESCORE_SIMRUN_H
#define NODESCORE_SIMRUN_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/series.h"
#include "sim.h"

struct sim_task {
	double create, dur;
	uint32_t inst;
	double cpu_m; /* per instance */
	double mem;   /* share of a machine's memory */
};

struct sim_traces {
	struct ns_series_set bg; /* machine traces: node backgrounds and pod usage shapes */
	double *mean_cpu;	 /* per series */
	struct sim_task *task;
	size_t ntask, captask;
	double tmin, tmax;
	unsigned long skipped;
	size_t short_dropped; /* background series under a day long (Bitbrains VMs) */
	int tasks_split;      /* tasks already hold only the requested half (Azure) */
};

/* One task's instances in one loop of the task trace: its pods arrive in
 * [t0, t0 + 60 s) and are drawn only when the run gets there, from the
 * workload's random stream at rng (splitmix64 moves by a constant per draw,
 * so the state before any draw is known without drawing up to it). */
struct sim_occ {
	double t0;
	uint64_t rng;
	uint32_t task, n;
};

/* The same arrivals for every policy of one (scenario, seed), as a plan:
 * the pods themselves are drawn as a run reaches them (sim_run), in the
 * order and with the values a whole workload drawn up front and sorted by
 * arrival would have, without holding tens of millions of pods. */
struct sim_work {
	struct sim_pod *p; /* the S2 burst pods, sorted by arrival; occ shares its block */
	size_t n, cap;	   /* n: pods in the whole workload */
	size_t nburst;
	struct sim_occ *occ; /* sorted by t0 */
	size_t nocc;
};

struct sim_cfg {
	uint32_t nodes, step_s, ts_every;
	uint32_t score_pct; /* kube-scheduler percentageOfNodesToScore, 0 = adaptive */
	double node_cpu_m, node_mem_mib;
	double horizon_s, warmup_s, req_load, bg_scale;
	double startup_s, pending_s, staleness_s;
	uint32_t burst_n;
	double burst_t, burst_len_s;
	int hot_node, silent_node, leak_node;
	double fault_t;
	int progress;
	const char *models_dir;
	uint32_t ns_horizon_s;
	double ns_cpu_share;
	uint32_t oracle_horizon_s; /* oracle-future's view ahead */
};

struct sim_result {
	char policy[32];
	double overload_cpu, overload_mem, slatah, unserved, mean_util;
	double p99_med, p99_max, imbalance;
	uint64_t placed, failed, bad, herd;
	/* S3: binds onto the pinned node while pinned, onto the silent node
	 * once its data is older than 3 minutes, onto the leaking node while
	 * its memory is over 85 % */
	uint64_t hot_binds, silent_binds, leak_binds;
	uint64_t hist[201];
	float *over_ts;
	size_t n_ts;
};

/* machines: Alibaba 2018 machine_usage.csv (NS_SERIES_FMT_ALIBABA) or a
 * Bitbrains VM directory (NS_SERIES_FMT_BITBRAINS); tasks may be NULL. */
int sim_traces_load(struct sim_traces *tr, const char *machines, enum ns_series_fmt bg_fmt,
		    const char *tasks, uint32_t step_s, char *err, size_t errlen);
void sim_traces_free(struct sim_traces *tr);
/* Appends t and keeps tmin/tmax; 0 or -ENOMEM. */
int sim_traces_push_task(struct sim_traces *tr, const struct sim_task *t);
/* Keeps the training or the test half of the traces (docs/sim.md): even
 * machines and the first half of the task trace train, the rest test. */
enum { SIM_SPLIT_ALL, SIM_SPLIT_TRAIN, SIM_SPLIT_TEST };
int sim_traces_split(struct sim_traces *tr, int which);
/* Azure VM arrivals (azure.c) as the tasks, for the given half: the dev
 * trace trains, the test trace tests. Call after sim_traces_load with no
 * tasks file. */
int sim_tasks_load_azure(struct sim_traces *tr, const char *dir, int split, double node_mem_mib,
			 char *err, size_t errlen);
/* free(w->p) releases it. */
int sim_work_build(struct sim_work *w, const struct sim_traces *tr, const struct sim_cfg *c,
		   uint64_t seed);
/* One pod of task t in the trace loop where the task starts at t0 (work.c):
 * 0, or 1 when it would arrive at or after the horizon (then one draw is
 * used). */
int sim_draw_pod(struct sim_pod *pod, const struct sim_traces *tr, const struct sim_cfg *c,
		 const struct sim_task *t, double t0, uint64_t *rng);
/* How many feasible nodes kube-scheduler looks for before it stops its
 * search (numFeasibleNodesToFind, docs/sim.md). */
uint32_t sim_nodes_to_find(uint32_t nodes, uint32_t pct);
int sim_run(const struct sim_cfg *c, const struct sim_traces *tr, const struct sim_work *w,
	    const struct sim_policy *proto, uint64_t seed, struct sim_result *res);

/* Runs the policies p with want[p] on one seed's workload, `jobs` at a time
 * (batch.c); res[p] and rc[p] (sim_run's return) for each. Returns 0, or
 * -EINVAL when there are more policies than it can order. */
#define SIM_MAX_JOBS 16
int sim_batch_run(const struct sim_cfg *c, const struct sim_traces *tr, const struct sim_work *w,
		  uint64_t seed, const uint8_t *want, unsigned jobs, struct sim_result *res,
		  int *rc);

#endif
