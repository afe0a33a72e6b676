/* SPDX-License-Identifier: MIT */
/* Strict, bounded readers of utilisation traces (agent history export,
 * Bitbrains GWA-T-12, Alibaba 2018 machine_usage, NAB) into series on a
 * regular grid. Shared by nodescore-train and nodescore-sim. */
#ifndef NODESCORE_SERIES_H
#define NODESCORE_SERIES_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

enum ns_series_fmt {
	NS_SERIES_FMT_AUTO = 0,
	NS_SERIES_FMT_AGENT,	 /* nodescore-agent --export-history: timestamp_ms,<metric names> */
	NS_SERIES_FMT_BITBRAINS, /* GWA-T-12 per-VM files (.csv or .csv.gz), ';'-separated */
	NS_SERIES_FMT_ALIBABA,	 /* cluster-trace-v2018 machine_usage.csv, many machines per file */
	NS_SERIES_FMT_NAB,	 /* NAB timestamp,value (CPU percent) */
};

#define NS_SERIES_NRES 2 /* resources forecast: cpu, mem */
#define NS_SERIES_MAX_SERIES 100000u
#define NS_SERIES_MAX_CELLS (4u << 20) /* grid points per series */
#define NS_SERIES_MAX_LINE 4096
#define NS_SERIES_MAX_FILE_BYTES (2ull << 30)

extern const uint8_t ns_series_res_metric[NS_SERIES_NRES]; /* NS_M_CPU_UTIL, NS_M_MEM_UTIL */

struct ns_series {
	char id[64];
	uint64_t t0_ms;		  /* time of grid point 0 */
	size_t n, cap;		  /* grid points, allocated */
	float *v[NS_SERIES_NRES]; /* utilisation 0..1 per grid point, NaN = no data */
	uint32_t *cnt;		  /* scratch: samples per cell while reading */
};

struct ns_series_set {
	uint32_t step_ms;
	struct ns_series *s;
	size_t n, cap;
	uint64_t rows_read;
	/* Files of a directory read with format AUTO whose first line is no
	 * known format (an index CSV, notes): skipped, counted, first named. */
	size_t skipped_files;
	char skipped_first[256];
};

int ns_series_parse_format(const char *s, enum ns_series_fmt *out);
const char *ns_series_format_name(enum ns_series_fmt f);

/* Reads path (a file, or a directory whose *.csv / *.csv.gz files are read
 * in name order; with AUTO, files of no known format there are skipped and
 * counted in set->skipped_files) in format fmt (AUTO sniffs the first line) into set, on a
 * grid of set->step_ms (cell mean, NaN where no sample). Returns 0, or
 * -EINVAL with "file:line: reason" in err, or -ECANCELED once *cancel
 * (NULL: never) is set, e.g. by a signal handler. */
int ns_series_load(const char *path, enum ns_series_fmt fmt, struct ns_series_set *set,
		   const volatile sig_atomic_t *cancel, char *err, size_t errlen);
void ns_series_free(struct ns_series_set *set);

#endif
