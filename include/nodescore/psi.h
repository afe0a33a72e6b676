/* SPDX-License-Identifier: MIT */
/* Pressure source: PSI avg10 of /proc/pressure/{cpu,memory,io}. */
#ifndef NODESCORE_PSI_H
#define NODESCORE_PSI_H

#include <limits.h>

#include "nodescore/sample.h"
#include "nodescore/source.h"

enum ns_psi_resource {
	NS_PSI_CPU = 0,
	NS_PSI_MEMORY,
	NS_PSI_IO,
	NS_PSI_COUNT,
};

struct ns_psi {
	char dir[PATH_MAX];
	char path[NS_PSI_COUNT][PATH_MAX];
	struct ns_src_health health;
};

int ns_psi_init(struct ns_psi *p, const char *proc_root);

/* Fills NS_M_PSI_* (percent, 0..100) and sets NS_SRC_PSI. A kernel without
 * PSI (no /proc/pressure, or reads failing with EOPNOTSUPP when booted with
 * psi=0) marks the source unavailable with one INFO line and returns
 * -EOPNOTSUPP; that is normal, not a degraded node. Any other failure is
 * -errno with one WARNING per state change. */
int ns_psi_sample(struct ns_psi *p, struct ns_sample *s);

#endif
