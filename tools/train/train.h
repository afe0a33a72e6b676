/* SPDX-License-Identifier: MIT */
/* nodescore-train internals: subcommands, training CSV readers, the
 * row builder shared by training, evaluation and feature export. */
#ifndef NODESCORE_TRAIN_H
#define NODESCORE_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "nodescore/forecast.h"

/* Subcommands (argv[0] is the subcommand name). */
int train_iforest_main(int argc, char **argv);
int train_forecast_main(int argc, char **argv);
int train_list_main(int argc, char **argv);
int train_eval_main(int argc, char **argv);

/* Set by SIGINT/SIGTERM: long loops stop and nothing partial is written. */
extern volatile sig_atomic_t train_stop;
void train_install_signals(void);

/* --- series.c: strict, bounded readers into gridded series --- */

enum train_fmt {
	TRAIN_FMT_AUTO = 0,
	TRAIN_FMT_AGENT,     /* nodescore-agent --export-history: timestamp_ms,<metric names> */
	TRAIN_FMT_BITBRAINS, /* GWA-T-12 per-VM files (.csv or .csv.gz), ';'-separated */
	TRAIN_FMT_ALIBABA,   /* cluster-trace-v2018 machine_usage.csv, many machines per file */
	TRAIN_FMT_NAB,	     /* NAB timestamp,value (CPU percent) */
};

#define TRAIN_NRES 2 /* resources forecast: cpu, mem */
#define TRAIN_MAX_SERIES 100000u
#define TRAIN_MAX_CELLS (4u << 20)  /* grid points per series */
#define TRAIN_MAX_LINE 4096
#define TRAIN_MAX_FILE_BYTES (2ull << 30)

extern const uint8_t train_res_metric[TRAIN_NRES]; /* NS_M_CPU_UTIL, NS_M_MEM_UTIL */

struct series {
	char id[64];
	uint64_t t0_ms;	    /* time of grid point 0 */
	size_t n, cap;	    /* grid points, allocated */
	float *v[TRAIN_NRES]; /* utilisation 0..1 per grid point, NaN = no data */
	uint32_t *cnt;	    /* scratch: samples per cell while reading */
};

struct series_set {
	uint32_t step_ms;
	struct series *s;
	size_t n, cap;
	uint64_t rows_read;
};

int train_parse_format(const char *s, enum train_fmt *out);
const char *train_format_name(enum train_fmt f);

/* Reads path (a file, or a directory whose *.csv / *.csv.gz files are read
 * in name order) in format fmt (AUTO sniffs the first line) into set, on a
 * grid of set->step_ms (cell mean, NaN where no sample). Returns 0, or
 * -EINVAL with "file:line: reason" in err, or -ECANCELED on a signal. */
int train_series_load(const char *path, enum train_fmt fmt, struct series_set *set, char *err,
		      size_t errlen);
void train_series_free(struct series_set *set);

/* --- rows.c: feature rows, targets and baselines --- */

#define TRAIN_MAX_TARGETS 16

struct rows_spec {
	uint32_t horizons_s[4];
	size_t nh;
	double train_frac;    /* first share of each series for training rows */
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
	float *X;	     /* n x nfeat */
	float *Y;	     /* n x ntarget, NaN when the horizon is not covered */
	float *B;	     /* n x ntarget x BASE_N baseline forecasts */
	uint8_t *test;	     /* 1 for test rows */
	uint32_t *sid;	     /* series index */
	uint64_t *ts;	     /* row time, ms */
	uint8_t *active;     /* per series: CPU std over its training part >= 2 pp */
	size_t nseries;
	char **feat_names;   /* nfeat names (owned) */
};

/* Target list order: for res in cpu, mem; for stat in mean, peak; for each
 * horizon. */
int train_rows_build(const struct series_set *set, const struct rows_spec *spec, struct rows *r,
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
