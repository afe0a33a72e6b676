/* SPDX-License-Identifier: MIT */
/* Pod density source: the kubelet's kubepods cgroup tree (cgroup v2 or v1,
 * systemd or cgroupfs driver): pod count, summed CPU requests and memory
 * limits, and the pods' aggregate CPU and memory usage. */
#ifndef NODESCORE_PODS_H
#define NODESCORE_PODS_H

#include <limits.h>
#include <stdint.h>

#include "nodescore/sample.h"
#include "nodescore/source.h"

/* More pod cgroups than this is garbage (the kubelet's hard limit is far lower). */
#define NS_PODS_MAX 8192

/* Default period of a full re-read of every pod's cpu.weight and memory.max
 * when the set of pods did not change (only in-place resizes need it). A full
 * read costs ~13 us per pod; rarer than 1 tick in 100 keeps the loop's p99. */
#define NS_PODS_RESCAN_MS 300000u

enum ns_pods_layout {
	NS_PODS_NONE = 0, /* no kubepods tree found (yet) */
	NS_PODS_V2_SYSTEMD,
	NS_PODS_V2_CGROUPFS,
	NS_PODS_V1_SYSTEMD,
	NS_PODS_V1_CGROUPFS,
	NS_PODS_LAYOUT_COUNT,
};

struct ns_pods {
	char root[PATH_MAX];
	enum ns_pods_layout layout;
	char cpu_dir[PATH_MAX];	 /* kubepods dir holding cpu.weight / cpu.shares */
	char acct_dir[PATH_MAX]; /* kubepods dir holding cpu.stat / cpuacct.usage */
	char mem_dir[PATH_MAX];	 /* kubepods dir holding memory.* */
	uint64_t prev_usage_ns;	 /* aggregate pod CPU time at the previous sample */
	uint64_t prev_mono_ns;
	int have_prev;
	/* Requests/limits of the last full read, reused while the pod directory
	 * listing (hash of names) is unchanged and the rescan period runs. */
	uint64_t rescan_ms; /* 0: read every pod every tick */
	uint64_t cache_hash, cache_pods, cache_req_m, cache_lim_bytes, cache_mono_ns;
	int have_cache;
	int settle;	  /* full reads left after the pod set changed */
	uint64_t rescans; /* full reads so far */
	struct ns_src_health health;
};

/* cgroup_root: where cgroupfs is mounted ("/sys/fs/cgroup" on a node). The
 * layout is detected on the first sample and again after any failure, so an
 * agent started before the kubelet picks the tree up later. */
int ns_pods_init(struct ns_pods *p, const char *cgroup_root);

/* Fills NS_M_PODS, NS_M_POD_CPU_REQ_M, NS_M_POD_MEM_LIM_MIB,
 * NS_M_POD_MEM_USE_MIB, NS_M_POD_CPU_USE (cores; NaN on the first sample)
 * and sets NS_SRC_PODS. No kubepods tree, an unreadable aggregate or a
 * malformed pod file: one WARNING per state change, values NaN, -errno.
 * A pod removed while the tree is walked is skipped, not an error.
 * Every pod's files are read only when the set of pod directories changed or
 * rescan_ms passed since the last full read; other ticks list directories and
 * read the two kubepods aggregates. */
int ns_pods_sample(struct ns_pods *p, struct ns_sample *s);

const char *ns_pods_layout_name(enum ns_pods_layout l);

/* cgroup v2: the kubelet (via runc/crun's linear conversion) writes
 *   shares = millicores * 1024 / 1000   (at least 2)
 *   weight = 1 + ((shares - 2) * 9999) / 262142
 * Integer division makes weight cover ~26 shares (~25.6 millicores) each;
 * the inverse returns the middle of that range, so it is within 13 m of the
 * request. Weight 1 (best-effort pods, shares 2, and requests up to 28 m)
 * is reported as 0. */
uint64_t ns_pods_weight_to_millicores(uint64_t weight);

/* cgroup v1: millicores = shares * 1000 / 1024, rounded; shares <= 2 is 0. */
uint64_t ns_pods_shares_to_millicores(uint64_t shares);

#endif
