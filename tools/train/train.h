/* SPDX-License-Identifier: MIT */
/* nodescore-train internals: subcommands, training CSV readers, the
 * row builder shared by training, evaluation and feature export. */
#ifndef NODESCORE_TRAIN_H
#define NODESCORE_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "nodescore/forecast.h"
#include "nodescore/series.h"

/* Subcommands (argv[0] is the subcommand name). */
int train_iforest_main(int argc, char **argv);
int train_forecast_main(int argc, char **argv);
int train_list_main(int argc, char **argv);
int train_eval_main(int argc, char **argv);

/* Set by SIGINT/SIGTERM: long loops stop and nothing partial is written. */
extern volatile sig_atomic_t train_stop;
void train_install_signals(void);

/* Series readers: nodescore/series.h (lib/series.c). */

/* --- rows.c: feature rows, targets and baselines --- */

#define TRAIN_MAX_TARGETS 16

struct rows_spec {
	uint32_t horizons_s[4];
	size_t nh;
	double train_frac;     /* first share of each series for training rows */
	uint32_t train_stride; /* grid points between training rows */
	uint32_t test_stride;  /* between test rows (0: no test rows) */
	uint32_t mask;	       /* feature metric mask */
	size_t max_train_rows; /* 0: unlimited; else training rows thinned evenly */
};

enum { BASE_PERSIST = 0, BASE_SNAIVE, BASE_EWMA, BASE_N };
extern const char *const train_base_names[BASE_N];

struct rows {
	size_t nfeat, ntarget;
	struct ns_fc_target tgt[TRAIN_MAX_TARGETS];
	size_t n, cap;
	float *X;	 /* n x nfeat */
	float *Y;	 /* n x ntarget, NaN when the horizon is not covered */
	float *B;	 /* n x ntarget x BASE_N baseline forecasts */
	uint8_t *test;	 /* 1 for test rows */
	uint32_t *sid;	 /* series index */
	uint64_t *ts;	 /* row time, ms */
	uint8_t *active; /* per series: CPU std over its training part >= 2 pp */
	size_t nseries;
	char **feat_names; /* nfeat names (owned) */
};

/* Target list order: for res in cpu, mem; for stat in mean, peak; for each
 * horizon. */
int train_rows_build(const struct ns_series_set *set, const struct rows_spec *spec, struct rows *r,
		     char *err, size_t errlen);
void train_rows_free(struct rows *r);

/* Progress: "INFO <comp>: <what> progress=37% eta=12s" at most every 2 s. */
struct progress {
	const char *comp, *what;
	uint64_t start_ns, last_ns;
};
void progress_start(struct progress *p, const char *comp, const char *what);
void progress_tick(struct progress *p, double frac);

#endif
