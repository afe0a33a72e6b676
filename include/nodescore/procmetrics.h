/* SPDX-License-Identifier: MIT */
/* The process_* metrics Prometheus client libraries export (CPU, memory,
 * start time, file descriptors, from /proc/self) and nodescore_build_info,
 * rendered in the text exposition format for the agent's and the
 * extender's /metrics. */
#ifndef NODESCORE_PROCMETRICS_H
#define NODESCORE_PROCMETRICS_H

#include <stddef.h>

/* Version compiled in (git describe at build time, else "unknown"). */
const char *ns_build_version(void);

/* Writes the metrics of this process into dst (at most cap bytes, NUL
 * terminated). binary labels nodescore_build_info. A /proc value that
 * cannot be read is left out rather than reported as 0. Returns the length,
 * or -ENOSPC when cap is too small. */
int ns_procmetrics(char *dst, size_t cap, const char *binary);

#endif
