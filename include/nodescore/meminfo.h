/* SPDX-License-Identifier: MIT */
/* Memory source: MemTotal and MemAvailable from /proc/meminfo. */
#ifndef NODESCORE_MEMINFO_H
#define NODESCORE_MEMINFO_H

#include <limits.h>

#include "nodescore/sample.h"
#include "nodescore/source.h"

struct ns_meminfo {
	char path[PATH_MAX];
	struct ns_src_health health;
};

int ns_meminfo_init(struct ns_meminfo *m, const char *proc_root);

/* Fills NS_M_MEM_UTIL (1 - MemAvailable/MemTotal), NS_M_MEM_TOTAL_MIB,
 * NS_M_MEM_AVAIL_MIB and sets NS_SRC_MEM. Returns 0 or -errno (values NaN). */
int ns_meminfo_sample(struct ns_meminfo *m, struct ns_sample *s);

#endif
