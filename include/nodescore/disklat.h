/* SPDX-License-Identifier: MIT */
/* Disk I/O source: block request latency histogram (p50/p99) and IOPS.
 * eBPF (tp_btf block_rq_issue/complete) first, /proc/diskstats fallback. */
#ifndef NODESCORE_DISKLAT_H
#define NODESCORE_DISKLAT_H

#include "nodescore/sample.h"

struct ns_disklat;

struct ns_disklat_opts {
	int no_bpf;		/* force the diskstats path */
	const char *proc_root;	/* "" or NULL for "/", else a fixture tree root */
};

/* Returns 0, or -errno only when no path works at all. */
int ns_disklat_open(const struct ns_disklat_opts *opts, struct ns_disklat **out);

/* "bpf" or "diskstats". */
const char *ns_disklat_mode(const struct ns_disklat *d);

/* Fills NS_M_DISK_P50_US, NS_M_DISK_P99_US, NS_M_DISK_IOPS for the interval
 * since the previous call and sets NS_SRC_DISK on success. The diskstats path
 * knows only the mean latency: it reports it as p50 and leaves p99 NaN. */
int ns_disklat_sample(struct ns_disklat *d, struct ns_sample *s);

void ns_disklat_close(struct ns_disklat *d);

#endif
