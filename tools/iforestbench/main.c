// SPDX-License-Identifier: MIT
/* nodescore-iforestbench: isolation forest training and scoring speed (single sample and batch). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "nodescore/iforest.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"

static struct ns_opt opts[] = {
    {"features", NS_OPT_STRING, "8", "features per sample", NULL, 0},
    {"rows", NS_OPT_STRING, "10000", "training rows (standard normal, fixed seed)", NULL, 0},
    {"trees", NS_OPT_STRING, "100", "trees", NULL, 0},
    {"psi", NS_OPT_STRING, "256", "sub-sample size", NULL, 0},
    {"samples", NS_OPT_STRING, "200000", "single-sample calls to time", NULL, 0},
};
#define NOPT (sizeof(opts) / sizeof(opts[0]))

static uint64_t st = 7;

/* CPU time of this process: the machine is shared, and wall time under
 * someone else's load would measure them, not the forest. */
static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double unit(void)
{
	uint64_t z = (st += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 1.0) * 0x1.0p-53;
}

static double gauss(void)
{
	return sqrt(-2.0 * log(unit())) * cos(2.0 * M_PI * unit());
}

int main(int argc, char **argv)
{
	struct ns_iforest_params p;
	struct ns_iforest *f = NULL;
	uint64_t nf, rows, trees, psi, ns, t0, t_train, t_single, t_batch;
	float *X, *Q;
	double *out, sink = 0;
	const size_t nq = 1000;
	int reps;

	int opt_rc = ns_main_opts(opts, NOPT, "nodescore-iforestbench",
				  "Time isolation forest training and scoring: one sample per call "
				  "(the agent's case) and batches of 1,000.",
				  argc, argv, NULL, "iforestbench");

	if (opt_rc >= 0)
		return opt_rc;
	if (ns_parse_u64(ns_opt_get(opts, NOPT, "features"), 1, NS_IFOREST_MAX_FEATURES, &nf) ||
	    ns_parse_u64(ns_opt_get(opts, NOPT, "rows"), 2, 10000000, &rows) ||
	    ns_parse_u64(ns_opt_get(opts, NOPT, "trees"), 1, NS_IFOREST_MAX_TREES, &trees) ||
	    ns_parse_u64(ns_opt_get(opts, NOPT, "psi"), 2, NS_IFOREST_MAX_PSI, &psi) ||
	    ns_parse_u64(ns_opt_get(opts, NOPT, "samples"), 1000, 100000000, &ns)) {
		log_error("iforestbench", "bad option value (see --help)");
		return 2;
	}
	X = malloc(rows * nf * sizeof(float));
	Q = malloc(nq * nf * sizeof(float));
	out = malloc(nq * sizeof(double));
	if (!X || !Q || !out) {
		log_error("iforestbench", "out of memory");
		return 1;
	}
	for (size_t i = 0; i < rows * nf; i++)
		X[i] = (float)gauss();
	for (size_t i = 0; i < nq * nf; i++)
		Q[i] = (float)(gauss() * 1.5);
	p.n_trees = (uint32_t)trees;
	p.psi = (uint32_t)psi;
	p.seed = 42;
	t0 = cpu_ns();
	if (ns_iforest_train(X, rows, nf, NULL, &p, &f)) {
		log_error("iforestbench", "training failed");
		return 1;
	}
	t_train = cpu_ns() - t0;

	t0 = cpu_ns();
	for (uint64_t i = 0; i < ns; i++) {
		double s;
		ns_iforest_score(f, Q + (i % nq) * nf, nf, &s);
		sink += s;
	}
	t_single = cpu_ns() - t0;

	reps = 50;
	t0 = cpu_ns();
	for (int r = 0; r < reps; r++) {
		ns_iforest_score_batch(f, Q, nq, nf, out);
		sink += out[r];
	}
	t_batch = cpu_ns() - t0;
	/* One parseable line for tools/eval/nab.sh. */
	printf("iforest features=%llu trees=%llu psi=%llu train_ms=%.2f single_us=%.3f "
	       "batch1000_us_per_sample=%.3f (cpu time) checksum=%.3f\n",
	       (unsigned long long)nf, (unsigned long long)trees, (unsigned long long)psi,
	       (double)t_train / 1e6, (double)t_single / 1e3 / (double)ns,
	       (double)t_batch / 1e3 / (double)(reps * nq), sink);
	ns_iforest_free(f);
	free(X);
	free(Q);
	free(out);
	return 0;
}
