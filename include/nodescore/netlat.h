/* SPDX-License-Identifier: MIT */
/* Network latency source: TCP smoothed RTT of established sockets (p50/p99
 * per interval) and retransmits. eBPF (tp_btf/raw_tp) first, libmnl
 * sock_diag dump of tcp_info as the fallback. */
#ifndef NODESCORE_NETLAT_H
#define NODESCORE_NETLAT_H

#include <stdint.h>

#include "nodescore/sample.h"

struct ns_netlat;

struct ns_netlat_opts {
	int no_bpf; /* force the sock_diag path */
	/* BPF path: count only sockets of the caller's network namespace.
	 * Default 0 counts every namespace (the agent runs with hostNetwork and
	 * pods have their own namespaces). sock_diag always sees only the
	 * caller's namespace. */
	int own_netns;
	int raw_tp; /* BPF path: skip tp_btf, attach the raw_tp programs only */
};

/* One interval's figures. */
struct ns_netlat_stats {
	double p50_us; /* NaN when no socket was seen in the interval */
	double p99_us;
	uint64_t nsocks;   /* sockets behind the quantiles */
	uint64_t retrans;  /* retransmitted segments in the interval */
	double interval_s; /* since the previous read (or open) */
};

/* Opens the best available path, logging which one was taken and why BPF
 * was not. Returns 0, or -errno only when no path works at all. */
int ns_netlat_open(const struct ns_netlat_opts *opts, struct ns_netlat **out);

/* "bpf" or "sock_diag". */
const char *ns_netlat_mode(const struct ns_netlat *n);

/* BPF program type attached: "tp_btf" or "raw_tp"; "none" on sock_diag. */
const char *ns_netlat_attach_kind(const struct ns_netlat *n);

/* Reads and resets the interval. BPF: sockets that received a segment in the
 * interval, each counted once at its latest srtt. sock_diag: every
 * established socket at the time of the call. Returns 0 or -errno. */
int ns_netlat_read(struct ns_netlat *n, struct ns_netlat_stats *st);

/* Fills NS_M_RTT_P50_US, NS_M_RTT_P99_US, NS_M_TCP_RETRANS (per second since
 * the previous call) and sets NS_SRC_NET on success; resets the interval.
 * Returns 0 or -errno (sample left NaN, source unhealthy). */
int ns_netlat_sample(struct ns_netlat *n, struct ns_sample *s);

/* NULL-safe. Detaches BPF programs. */
void ns_netlat_close(struct ns_netlat *n);

#endif
