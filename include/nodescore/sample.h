/* SPDX-License-Identifier: MIT */
/* One node measurement: the vector every sampler fills, the history ring
 * stores, the CSV export writes and the feature pipeline consumes. */
#ifndef NODESCORE_SAMPLE_H
#define NODESCORE_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

/* Index into ns_sample.v and ns_metric_names. Append only: the order is part
 * of the history file format (NS_METRIC_COUNT is stored in its header). */
enum ns_metric {
	NS_M_CPU_UTIL = 0, /* 0..1, /proc/stat busy share over the interval */
	NS_M_MEM_UTIL,	   /* 0..1, 1 - MemAvailable / MemTotal */
	NS_M_LOAD1,	   /* /proc/loadavg */
	NS_M_LOAD5,
	NS_M_LOAD15,
	NS_M_NCPU, /* online CPUs */
	NS_M_MEM_TOTAL_MIB,
	NS_M_MEM_AVAIL_MIB,
	NS_M_PSI_CPU_SOME, /* PSI avg10, percent */
	NS_M_PSI_MEM_SOME,
	NS_M_PSI_MEM_FULL,
	NS_M_PSI_IO_SOME,
	NS_M_PSI_IO_FULL,
	NS_M_PODS,	      /* pods in the kubepods cgroup tree */
	NS_M_POD_CPU_REQ_M,   /* summed CPU requests, millicores */
	NS_M_POD_MEM_LIM_MIB, /* summed memory limits, MiB (unlimited pods excluded) */
	NS_M_POD_CPU_USE,     /* pods' CPU usage, cores */
	NS_M_POD_MEM_USE_MIB,
	NS_M_RTT_P50_US, /* TCP smoothed RTT over established sockets */
	NS_M_RTT_P99_US,
	NS_M_TCP_RETRANS, /* retransmits per second */
	NS_M_DISK_P50_US, /* block request latency */
	NS_M_DISK_P99_US,
	NS_M_DISK_IOPS,
	NS_METRIC_COUNT,
};

extern const char *const ns_metric_names[NS_METRIC_COUNT];

/* How the agent's /metrics exposes each history metric: the gauge
 * nodescore_node_<name> in Prometheus base units (seconds, bytes), whose
 * value is the history value x scale. The history, CSV and models keep the
 * units of ns_metric_names; nodescore-collect divides by scale on the way
 * back. */
struct ns_metric_expo {
	const char *name;
	double scale;
};
extern const struct ns_metric_expo ns_metric_expo[NS_METRIC_COUNT];

/* Health bit per source; a clear bit marks the message degraded. */
enum ns_source {
	NS_SRC_CPU = 1u << 0,
	NS_SRC_MEM = 1u << 1,
	NS_SRC_LOAD = 1u << 2,
	NS_SRC_PSI = 1u << 3,
	NS_SRC_PODS = 1u << 4,
	NS_SRC_NET = 1u << 5,
	NS_SRC_DISK = 1u << 6,
};

struct ns_sample {
	uint64_t ts_ms;		  /* unix ms */
	uint32_t health;	  /* ns_source bits of the sources that succeeded */
	float v[NS_METRIC_COUNT]; /* NaN where not measured */
};

/* Sets ts, clears health and fills v with NaN. */
void ns_sample_init(struct ns_sample *s, uint64_t ts_ms);

/* Index of a metric by its name, or -1. */
int ns_metric_index(const char *name);

#endif
