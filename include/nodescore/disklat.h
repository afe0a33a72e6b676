/* SPDX-License-Identifier: MIT */
/* Disk I/O source: block request latency histogram (p50/p99) and IOPS.
 * eBPF (tp_btf block_rq_issue/complete) first, /proc/diskstats fallback. */
#ifndef NODESCORE_DISKLAT_H
#define NODESCORE_DISKLAT_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/sample.h"

struct ns_disklat;

struct ns_disklat_opts {
	int no_bpf; /* force the diskstats path */
	int raw_tp; /* BPF path: skip tp_btf, attach the raw_tp programs only */
	/* Fallback only (BPF is still tried): "" or NULL reads /proc/diskstats,
	 * else <proc_root>/proc/diskstats (a host /proc mount, a fixture tree). */
	const char *proc_root;
};

/* One interval's figures. */
struct ns_disklat_stats {
	double p50_us; /* NaN when no request completed */
	double p99_us; /* NaN on the diskstats path */
	double iops;   /* completed requests per second */
	uint64_t ios;  /* completed requests in the interval */
	double interval_s;
};

/* Returns 0, or -errno only when no path works at all. */
int ns_disklat_open(const struct ns_disklat_opts *opts, struct ns_disklat **out);

/* "bpf" or "diskstats". */
const char *ns_disklat_mode(const struct ns_disklat *d);

/* BPF program type attached: "tp_btf" or "raw_tp"; "none" on diskstats. */
const char *ns_disklat_attach_kind(const struct ns_disklat *d);

/* Reads and resets the interval. Returns 0 or -errno (-EAGAIN: counters went
 * backwards, e.g. a disk was removed; the next interval is valid again). */
int ns_disklat_read(struct ns_disklat *d, struct ns_disklat_stats *st);

/* Fills NS_M_DISK_P50_US, NS_M_DISK_P99_US, NS_M_DISK_IOPS for the interval
 * since the previous call and sets NS_SRC_DISK on success. The diskstats path
 * knows only the mean latency: it reports it as p50 and leaves p99 NaN. */
int ns_disklat_sample(struct ns_disklat *d, struct ns_sample *s);

void ns_disklat_close(struct ns_disklat *d);

/* Totals over whole disks (partitions, loop, ram, zram, dm and md devices
 * excluded: their I/O is counted on the underlying disk or is not disk I/O). */
struct ns_diskstats_totals {
	uint64_t ios;	  /* reads + writes + discards + flushes completed */
	uint64_t busy_ms; /* time spent on them, ms */
	uint32_t ndisks;  /* whole disks counted */
	uint32_t nbad;	  /* malformed lines skipped */
};

/* Parses /proc/diskstats content of len bytes (no NUL needed; a last line
 * without newline counts). Malformed lines are skipped with a WARNING.
 * Returns 0, or -EINVAL when lines were present but none parsed. */
int ns_diskstats_parse(const char *buf, size_t len, struct ns_diskstats_totals *out);

/* Largest /proc/diskstats read; longer content is cut at the last full line. */
#define NS_DISKSTATS_MAX_BYTES (1u << 20)

#endif
