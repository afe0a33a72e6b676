/* SPDX-License-Identifier: MIT */
/* Load source: 1, 5 and 15 minute load averages from /proc/loadavg. */
#ifndef NODESCORE_LOADAVG_H
#define NODESCORE_LOADAVG_H

#include <limits.h>

#include "nodescore/sample.h"
#include "nodescore/source.h"

struct ns_loadavg {
	char path[PATH_MAX];
	struct ns_src_health health;
};

int ns_loadavg_init(struct ns_loadavg *l, const char *proc_root);

/* Fills NS_M_LOAD1/5/15 and sets NS_SRC_LOAD. Returns 0 or -errno (values NaN). */
int ns_loadavg_sample(struct ns_loadavg *l, struct ns_sample *s);

#endif
