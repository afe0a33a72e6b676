// SPDX-License-Identifier: MIT
/* nodescore-sim: compares placement policies on real traces, every policy
 * on the same arrivals, several seeds, mean and 95 % CI per metric. */
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "nodescore/qtable.h"
#include "qlearn.h"
#include "simrun.h"

#define OPT(name, kind, def, help)                                                                 \
	{                                                                                          \
		name, kind, def, help, NULL, 0                                                     \
	}

static struct ns_opt opts[] = {
    OPT("scenario", NS_OPT_STRING, "s1",
	"s1 steady, s2 burst (500 pods in 10 s), s3 faults (hot node, silent agent, memory "
	"leak), s4 packing (s1 at the offered --load, e.g. 0.8)."),
    OPT("machines", NS_OPT_STRING,
	"../shared/data/alibaba-v2018-machine-usage-slice/machine_usage.csv",
	"Alibaba 2018 machine_usage.csv: node backgrounds and pod usage shapes."),
    OPT("background", NS_OPT_STRING, "alibaba",
	"Node backgrounds and pod usage shapes: alibaba (--machines) or bitbrains (--bitbrains "
	"VMs)."),
    OPT("bitbrains", NS_OPT_STRING, "../shared/data/bitbrains-rnd-2013-7/rnd/2013-7",
	"Bitbrains GWA-T-12 Rnd directory of per-VM CSV files (.csv or .csv.gz)."),
    OPT("tasks", NS_OPT_STRING, "../shared/data/alibaba-v2017-batch-task/batch_task.csv",
	"Alibaba 2017 batch_task.csv: pod arrivals, requests, durations."),
    OPT("arrivals", NS_OPT_STRING, "alibaba",
	"Pod arrivals: alibaba (--tasks, batch tasks) or azure (--azure, VM arrivals)."),
    OPT("azure", NS_OPT_STRING, "../shared/data/azure-v1-vm-arrivals-huawei/resources",
	"Azure 2017 VM arrivals (maps/ and traces/ of the Huawei processed set)."),
    OPT("nodes", NS_OPT_STRING, "100", "Nodes (32 cores, 128 GiB each)."),
    OPT("nodes-to-score", NS_OPT_STRING, "0",
	"kube-scheduler percentageOfNodesToScore for every policy: 0 adaptive (all under 100 "
	"nodes, 42 % of 1,000), 100 all."),
    OPT("days", NS_OPT_STRING, "2", "Simulated days after the warm-up."),
    OPT("seeds", NS_OPT_STRING, "5", "Seeds 1..N (same arrivals for every policy per seed)."),
    OPT("load", NS_OPT_STRING, "0.75", "Offered CPU request load, share of cluster CPU."),
    OPT("bg-scale", NS_OPT_STRING, "0.3",
	"Background load = this x the machine trace's utilisation (0..1)."),
    OPT("staleness", NS_OPT_STRING, "0", "Extra age of nodescore scores, seconds (S2)."),
    OPT("policies", NS_OPT_STRING, "all", "Comma-separated policy names, or all."),
    OPT("models", NS_OPT_STRING, "models", "Models directory (forecast-default, iforest)."),
    OPT("ns-horizon", NS_OPT_STRING, "3600",
	"Forecast horizon of the nodescore agents, seconds (the agent's --forecast-horizon)."),
    OPT("oracle-horizon", NS_OPT_STRING, "600",
	"How far ahead the oracle-future reference sees every node's true demand, seconds."),
    OPT("ns-cpu-share", NS_OPT_STRING, "0.5",
	"CPU's share of the nodescore agents' headroom (the agent's --headroom-cpu-share)."),
    OPT("out", NS_OPT_STRING, "", "Directory for CSV and the Markdown table ('' = none)."),
    OPT("split", NS_OPT_STRING, "test",
	"Trace half: train (even machines, first half of tasks), test (the rest), all."),
    OPT("train-q", NS_OPT_STRING, "0",
	"Train the Q-table for this many 1-hour episodes on the train split, then exit."),
    OPT("q-out", NS_OPT_STRING, "models/qtable-default.nsq", "Q-table written by --train-q."),
    OPT("q-curve", NS_OPT_STRING, "", "Learning curve CSV written by --train-q ('' = none)."),
    OPT("jobs", NS_OPT_STRING, "0",
	"Policies run at the same time, one thread each (0: one per online CPU, at most 16); "
	"results do not depend on it."),
    OPT("quiet", NS_OPT_BOOL, "0", "No progress on stderr."),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

#define NMET 14
static const char *met_names[NMET] = {
    "overload_cpu", "overload_mem", "slatah",	      "unserved",  "p99_med",
    "p99_max",	    "imbalance_cv", "bad_placements", "herd",	   "placed",
    "failed",	    "hot_binds",    "silent_binds",   "leak_binds"};

static void metrics_of(const struct sim_result *r, double *v)
{
	v[0] = r->overload_cpu, v[1] = r->overload_mem, v[2] = r->slatah, v[3] = r->unserved;
	v[4] = r->p99_med, v[5] = r->p99_max, v[6] = r->imbalance, v[7] = (double)r->bad;
	v[8] = (double)r->herd, v[9] = (double)r->placed, v[10] = (double)r->failed;
	v[11] = (double)r->hot_binds, v[12] = (double)r->silent_binds,
	v[13] = (double)r->leak_binds;
}

/* Exact names in a comma-separated list ("nodescore" is not "nodescore-q"). */
static int wanted(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (!strcmp(list, "all"))
		return 1;
	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/* Every name in list is a policy (a typo would silently drop a policy from
 * the comparison); 0, or -1 with the first unknown name in err. */
static int policies_known(const char *list, char *err, size_t errlen)
{
	if (!strcmp(list, "all"))
		return 0;
	for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
		size_t n = strcspn(p, ","), i;
		for (i = 0; i < sim_npolicies; i++)
			if (strlen(sim_policies[i].name) == n &&
			    !strncmp(p, sim_policies[i].name, n))
				break;
		if (i == sim_npolicies) {
			snprintf(err, errlen, "unknown policy '%.*s' in --policies",
				 (int)(n > 64 ? 64 : n), p);
			return -1;
		}
	}
	return 0;
}

static int train_q(const struct sim_cfg *c, const struct sim_traces *tr, uint32_t episodes)
{
	struct sim_qtrain_cfg qc = {0};
	struct sim_qtrain_result r;
	const char *curve = ns_opt_get(opts, NOPTS, "q-curve");
	int rc;

	qc.episodes = episodes;
	qc.episode_s = 3600;
	qc.seed = 1;
	qc.out_path = ns_opt_get(opts, NOPTS, "q-out");
	qc.curve_path = curve[0] ? curve : NULL;
	qc.version = "qtable-1";
	qc.progress = c->progress;
	fprintf(stderr, "INFO sim: qlearn episodes=%u nodes=%u out=%s\n", episodes, c->nodes,
		qc.out_path);
	rc = sim_qtrain(c, tr, &qc, &r);
	if (rc) {
		fprintf(stderr, "ERROR sim: Q-learning failed: %s\n", strerror(-rc));
		return 1;
	}
	fprintf(stderr,
		"SUCCESS sim: qtable written path=%s episodes=%u states_visited=%u/%u "
		"first_reward=%.5f final_reward=%.5f converged_episodes=%u "
		"table_converged_episodes=%u\n",
		qc.out_path, episodes, r.visited, (unsigned)NS_Q_STATES, r.first_reward,
		r.final_reward, r.converged, r.table_converged);
	return 0;
}

static const double t975[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262};

int main(int argc, char **argv)
{
	struct sim_cfg c = {0};
	struct sim_traces tr;
	char err[512] = "", path[1024];
	int argi;
	uint32_t nodes, days, seeds, episodes, jobs;
	int split;
	double load, stale;
	const char *sc, *pols, *out, *arr, *bgs;
	int bitb;
	FILE *csv = NULL, *md = NULL, *hist = NULL, *ots = NULL;

	int opt_rc =
	    ns_main_opts(opts, NOPTS, "nodescore-sim",
			 "Trace-driven cluster simulator: placement policies side by side.", argc,
			 argv, &argi, "sim");
	if (opt_rc >= 0)
		return opt_rc;
	if (ns_opt_u32(opts, NOPTS, "nodes", 2, 20000, &nodes, err, sizeof(err)) ||
	    ns_opt_u32(opts, NOPTS, "days", 1, 30, &days, err, sizeof(err)) ||
	    ns_opt_u32(opts, NOPTS, "nodes-to-score", 0, 100, &c.score_pct, err, sizeof(err)) ||
	    ns_opt_u32(opts, NOPTS, "seeds", 1, 10, &seeds, err, sizeof(err)) ||
	    ns_opt_u32(opts, NOPTS, "jobs", 0, SIM_MAX_JOBS, &jobs, err, sizeof(err)) ||
	    ns_opt_u32(opts, NOPTS, "train-q", 0, 100000, &episodes, err, sizeof(err)) ||
	    ns_opt_u32(opts, NOPTS, "ns-horizon", 900, 14400, &c.ns_horizon_s, err, sizeof(err)) ||
	    ns_opt_u32(opts, NOPTS, "oracle-horizon", 60, 14400, &c.oracle_horizon_s, err,
		       sizeof(err)) ||
	    ns_parse_double(ns_opt_get(opts, NOPTS, "load"), 0.01, 2, &load) ||
	    ns_parse_double(ns_opt_get(opts, NOPTS, "ns-cpu-share"), 0, 1, &c.ns_cpu_share) ||
	    ns_parse_double(ns_opt_get(opts, NOPTS, "staleness"), 0, 3600, &stale) ||
	    ns_parse_double(ns_opt_get(opts, NOPTS, "bg-scale"), 0, 1, &c.bg_scale)) {
		if (err[0])
			fprintf(stderr, "ERROR sim: %s\n", err);
		else
			fprintf(stderr, "ERROR sim: bad option (load, staleness, bg-scale or "
					"ns-cpu-share)\n");
		return 2;
	}
	if (jobs == 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = cpus < 1 ? 1 : cpus > SIM_MAX_JOBS ? SIM_MAX_JOBS : (uint32_t)cpus;
	}
	/* One agent per simulated node would log per node; set once here, not
	 * by each run's threads. */
	ns_log_max = NS_LOG_ERROR;
	sc = ns_opt_get(opts, NOPTS, "split");
	split = !strcmp(sc, "all")     ? SIM_SPLIT_ALL
		: !strcmp(sc, "train") ? SIM_SPLIT_TRAIN
		: !strcmp(sc, "test")  ? SIM_SPLIT_TEST
				       : -1;
	if (split < 0) {
		fprintf(stderr, "ERROR sim: bad option --split %s (train, test, all)\n", sc);
		return 2;
	}
	if (episodes)
		split = SIM_SPLIT_TRAIN; /* the Q-table never sees the test half */
	sc = ns_opt_get(opts, NOPTS, "scenario");
	pols = ns_opt_get(opts, NOPTS, "policies");
	if (policies_known(pols, err, sizeof(err))) {
		fprintf(stderr, "ERROR sim: %s (names: see docs/sim.md, or all)\n", err);
		return 2;
	}
	out = ns_opt_get(opts, NOPTS, "out");
	c.nodes = nodes;
	c.node_cpu_m = 32000;
	c.node_mem_mib = 131072;
	c.step_s = 60;
	c.warmup_s = 86400;
	c.horizon_s = c.warmup_s + days * 86400.0;
	c.req_load = load;
	c.startup_s = 5;
	c.pending_s = 600;
	c.staleness_s = stale;
	c.hot_node = c.silent_node = c.leak_node = -1;
	c.progress = !atoi(ns_opt_get(opts, NOPTS, "quiet"));
	c.models_dir = ns_opt_get(opts, NOPTS, "models");
	if (!strcmp(sc, "s2")) {
		/* 8 h to a steady state, then 500 pods in 10 s, 1 h after it */
		c.step_s = 10;
		c.warmup_s = 8 * 3600;
		c.horizon_s = 9 * 3600;
		c.burst_n = 500;
		c.burst_t = c.warmup_s + 60;
		c.burst_len_s = 10;
	} else if (!strcmp(sc, "s3")) {
		c.hot_node = 0;
		c.silent_node = 1;
		c.leak_node = 2;
		c.fault_t = c.warmup_s + 6 * 3600;
	} else if (strcmp(sc, "s1") && strcmp(sc, "s4")) {
		fprintf(stderr, "ERROR sim: unknown scenario %s (s1, s2, s3, s4)\n", sc);
		return 2;
	}
	c.ts_every = (uint32_t)(3600 / c.step_s);
	arr = ns_opt_get(opts, NOPTS, "arrivals");
	if (strcmp(arr, "alibaba") && strcmp(arr, "azure")) {
		fprintf(stderr, "ERROR sim: bad option --arrivals %s (alibaba, azure)\n", arr);
		return 2;
	}
	bgs = ns_opt_get(opts, NOPTS, "background");
	if (strcmp(bgs, "alibaba") && strcmp(bgs, "bitbrains")) {
		fprintf(stderr, "ERROR sim: bad option --background %s (alibaba, bitbrains)\n",
			bgs);
		return 2;
	}
	bitb = !strcmp(bgs, "bitbrains");
	if (sim_traces_load(&tr, ns_opt_get(opts, NOPTS, bitb ? "bitbrains" : "machines"),
			    bitb ? NS_SERIES_FMT_BITBRAINS : NS_SERIES_FMT_ALIBABA,
			    strcmp(arr, "azure") ? ns_opt_get(opts, NOPTS, "tasks") : NULL,
			    c.step_s, err, sizeof(err)) ||
	    (!strcmp(arr, "azure") &&
	     sim_tasks_load_azure(&tr, ns_opt_get(opts, NOPTS, "azure"), split, c.node_mem_mib, err,
				  sizeof(err)))) {
		fprintf(stderr, "ERROR sim: %s\n", err);
		return 1;
	}
	if (sim_traces_split(&tr, split)) {
		fprintf(stderr, "ERROR sim: cannot split the traces (need 2 machines and tasks in "
				"both halves); use --split all\n");
		return 1;
	}
	fprintf(stderr,
		"INFO sim: traces machines=%zu short_dropped=%zu tasks=%zu skipped_rows=%lu "
		"scenario=%s split=%s arrivals=%s background=%s\n",
		tr.bg.n, tr.short_dropped, tr.ntask, tr.skipped, sc,
		ns_opt_get(opts, NOPTS, "split"), arr, bgs);
	if (episodes) {
		int trc = train_q(&c, &tr, episodes);
		sim_traces_free(&tr);
		return trc;
	}
	if (out[0]) {
		if (mkdir(out, 0755) && errno != EEXIST) {
			fprintf(stderr, "ERROR sim: cannot create %s: %s\n", out, strerror(errno));
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s-runs.csv", out, sc);
		csv = fopen(path, "w");
		snprintf(path, sizeof(path), "%s/%s.md", out, sc);
		md = fopen(path, "w");
		snprintf(path, sizeof(path), "%s/%s-hist.csv", out, sc);
		hist = fopen(path, "w");
		snprintf(path, sizeof(path), "%s/%s-overtime.csv", out, sc);
		ots = fopen(path, "w");
		if (!csv || !md || !hist || !ots) {
			fprintf(stderr, "ERROR sim: cannot write into %s: %s\n", out,
				strerror(errno));
			return 1;
		}
		fprintf(csv, "scenario,policy,seed,mean_util");
		for (int m = 0; m < NMET; m++)
			fprintf(csv, ",%s", met_names[m]);
		fprintf(csv, "\n");
		fprintf(hist, "policy,seed,cpu_demand_bin,node_steps\n");
		fprintf(ots, "policy,seed,hour,overloaded_node_share\n");
	}
	double(*acc)[10][NMET + 1] = calloc(sim_npolicies, sizeof(*acc));
	if (!acc) {
		fprintf(stderr, "ERROR sim: out of memory\n");
		return 1;
	}
	struct sim_result *rs = calloc(sim_npolicies, sizeof(*rs));
	int *rcs = calloc(sim_npolicies, sizeof(*rcs));
	uint8_t *want = calloc(sim_npolicies, 1);
	if (!rs || !rcs || !want) {
		fprintf(stderr, "ERROR sim: out of memory\n");
		return 1;
	}
	for (size_t p = 0; p < sim_npolicies; p++)
		want[p] = (uint8_t)wanted(pols, sim_policies[p].name);
	for (uint32_t sd = 1; sd <= seeds; sd++) {
		struct sim_work w;
		if (sim_work_build(&w, &tr, &c, sd)) {
			fprintf(stderr, "ERROR sim: out of memory building the workload\n");
			return 1;
		}
		if (sim_batch_run(&c, &tr, &w, sd, want, jobs, rs, rcs)) {
			fprintf(stderr, "ERROR sim: too many policies to run\n");
			return 1;
		}
		for (size_t p = 0; p < sim_npolicies; p++) {
			struct sim_result r = rs[p];
			double v[NMET];
			if (!want[p])
				continue;
			if (rcs[p]) {
				fprintf(stderr, "ERROR sim: run failed policy=%s\n",
					sim_policies[p].name);
				return 1;
			}
			metrics_of(&r, v);
			acc[p][sd - 1][0] = r.mean_util;
			memcpy(&acc[p][sd - 1][1], v, sizeof(v));
			if (csv) {
				fprintf(csv, "%s,%s,%u,%.5f", sc, r.policy, sd, r.mean_util);
				for (int m = 0; m < NMET; m++)
					fprintf(csv, ",%.6g", v[m]);
				fprintf(csv, "\n");
				fflush(csv);
				/* demand in 0.01 bins (last: >= 2), counted node-steps */
				for (int b = 0; b <= 200; b++)
					fprintf(hist, "%s,%u,%.2f,%llu\n", r.policy, sd, b / 100.0,
						(unsigned long long)r.hist[b]);
				for (size_t k = 0; k < r.n_ts; k++)
					fprintf(ots, "%s,%u,%zu,%.4f\n", r.policy, sd, k,
						r.over_ts[k]);
			}
			fprintf(stderr,
				"SUCCESS sim: run policy=%s seed=%u pods=%zu overload_cpu=%.4f "
				"slatah=%.5f "
				"mean_util=%.3f placed=%llu failed=%llu herd=%llu\n",
				r.policy, sd, w.n, r.overload_cpu, r.slatah, r.mean_util,
				(unsigned long long)r.placed, (unsigned long long)r.failed,
				(unsigned long long)r.herd);
			free(r.over_ts);
		}
		free(w.p);
	}
	/* Markdown: mean +- 95 % CI (t, n-1 degrees of freedom) */
	FILE *o = md ? md : stdout;
	fprintf(o, "| policy | mean util |");
	for (int m = 0; m < NMET; m++)
		fprintf(o, " %s |", met_names[m]);
	fprintf(o, "\n|---|---|");
	for (int m = 0; m < NMET; m++)
		fprintf(o, "---|");
	fprintf(o, "\n");
	for (size_t p = 0; p < sim_npolicies; p++) {
		if (!wanted(pols, sim_policies[p].name))
			continue;
		fprintf(o, "| %s |", sim_policies[p].name);
		for (int m = 0; m <= NMET; m++) {
			double s = 0, q = 0, mean, ci;
			for (uint32_t sd = 0; sd < seeds; sd++)
				s += acc[p][sd][m];
			mean = s / seeds;
			for (uint32_t sd = 0; sd < seeds; sd++)
				q += (acc[p][sd][m] - mean) * (acc[p][sd][m] - mean);
			ci = seeds > 1 ? t975[seeds - 1] * sqrt(q / (seeds - 1)) / sqrt(seeds) : 0;
			if (m <= 7)
				fprintf(o, " %.4f +- %.4f |", mean, ci);
			else
				fprintf(o, " %.1f +- %.1f |", mean, ci);
		}
		fprintf(o, "\n");
	}
	if (md) {
		fclose(md);
		snprintf(path, sizeof(path), "%s/%s.md", out, sc);
		fprintf(stderr, "SUCCESS sim: table written path=%s\n", path);
	}
	if (csv)
		fclose(csv);
	if (hist)
		fclose(hist);
	if (ots)
		fclose(ots);
	free(acc);
	free(rs), free(rcs), free(want);
	sim_traces_free(&tr);
	return 0;
}
