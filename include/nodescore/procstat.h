/* SPDX-License-Identifier: MIT */
/* CPU source: busy share of all CPUs from /proc/stat deltas, online CPU count. */
#ifndef NODESCORE_PROCSTAT_H
#define NODESCORE_PROCSTAT_H

#include <limits.h>
#include <stdint.h>

#include "nodescore/sample.h"
#include "nodescore/source.h"

/* Room for the cpu lines of ~1000 CPUs; the intr line after them may be cut. */
#define NS_PROCSTAT_BUF 65536

struct ns_procstat {
	char path[PATH_MAX];
	char buf[NS_PROCSTAT_BUF]; /* here, not on the stack: no allocation per tick */
	uint64_t prev_busy, prev_total;
	int have_prev;
	struct ns_src_health health;
};

/* proc_root: "" or NULL for the real /proc's parent "/", else a fixture root.
 * Returns 0 or -ENAMETOOLONG. */
int ns_procstat_init(struct ns_procstat *p, const char *proc_root);

/* Fills NS_M_CPU_UTIL (NaN on the first call and after counters went
 * backwards) and NS_M_NCPU, sets NS_SRC_CPU. On a read or parse failure logs
 * (once per state change), leaves the values NaN, forgets the previous
 * counters and returns -errno. */
int ns_procstat_sample(struct ns_procstat *p, struct ns_sample *s);

#endif
