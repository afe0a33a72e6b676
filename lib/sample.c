// SPDX-License-Identifier: MIT
/* Metric names of the node measurement vector. */
#include <math.h>
#include <string.h>

#include "nodescore/sample.h"

const char *const ns_metric_names[NS_METRIC_COUNT] = {
    [NS_M_CPU_UTIL] = "cpu_util",
    [NS_M_MEM_UTIL] = "mem_util",
    [NS_M_LOAD1] = "load1",
    [NS_M_LOAD5] = "load5",
    [NS_M_LOAD15] = "load15",
    [NS_M_NCPU] = "ncpu",
    [NS_M_MEM_TOTAL_MIB] = "mem_total_mib",
    [NS_M_MEM_AVAIL_MIB] = "mem_avail_mib",
    [NS_M_PSI_CPU_SOME] = "psi_cpu_some",
    [NS_M_PSI_MEM_SOME] = "psi_mem_some",
    [NS_M_PSI_MEM_FULL] = "psi_mem_full",
    [NS_M_PSI_IO_SOME] = "psi_io_some",
    [NS_M_PSI_IO_FULL] = "psi_io_full",
    [NS_M_PODS] = "pods",
    [NS_M_POD_CPU_REQ_M] = "pod_cpu_req_m",
    [NS_M_POD_MEM_LIM_MIB] = "pod_mem_lim_mib",
    [NS_M_POD_CPU_USE] = "pod_cpu_use",
    [NS_M_POD_MEM_USE_MIB] = "pod_mem_use_mib",
    [NS_M_RTT_P50_US] = "rtt_p50_us",
    [NS_M_RTT_P99_US] = "rtt_p99_us",
    [NS_M_TCP_RETRANS] = "tcp_retrans",
    [NS_M_DISK_P50_US] = "disk_p50_us",
    [NS_M_DISK_P99_US] = "disk_p99_us",
    [NS_M_DISK_IOPS] = "disk_iops",
};

#define MIB 1048576.0
const struct ns_metric_expo ns_metric_expo[NS_METRIC_COUNT] = {
    [NS_M_CPU_UTIL] = {"cpu_util", 1},
    [NS_M_MEM_UTIL] = {"mem_util", 1},
    [NS_M_LOAD1] = {"load1", 1},
    [NS_M_LOAD5] = {"load5", 1},
    [NS_M_LOAD15] = {"load15", 1},
    [NS_M_NCPU] = {"ncpu", 1},
    [NS_M_MEM_TOTAL_MIB] = {"mem_total_bytes", MIB},
    [NS_M_MEM_AVAIL_MIB] = {"mem_avail_bytes", MIB},
    [NS_M_PSI_CPU_SOME] = {"psi_cpu_some", 1},
    [NS_M_PSI_MEM_SOME] = {"psi_mem_some", 1},
    [NS_M_PSI_MEM_FULL] = {"psi_mem_full", 1},
    [NS_M_PSI_IO_SOME] = {"psi_io_some", 1},
    [NS_M_PSI_IO_FULL] = {"psi_io_full", 1},
    [NS_M_PODS] = {"pods", 1},
    [NS_M_POD_CPU_REQ_M] = {"pod_cpu_requests_cores", 1e-3},
    [NS_M_POD_MEM_LIM_MIB] = {"pod_mem_limit_bytes", MIB},
    [NS_M_POD_CPU_USE] = {"pod_cpu_use_cores", 1},
    [NS_M_POD_MEM_USE_MIB] = {"pod_mem_use_bytes", MIB},
    [NS_M_RTT_P50_US] = {"rtt_p50_seconds", 1e-6},
    [NS_M_RTT_P99_US] = {"rtt_p99_seconds", 1e-6},
    [NS_M_TCP_RETRANS] = {"tcp_retransmits_per_second", 1},
    [NS_M_DISK_P50_US] = {"disk_p50_seconds", 1e-6},
    [NS_M_DISK_P99_US] = {"disk_p99_seconds", 1e-6},
    [NS_M_DISK_IOPS] = {"disk_iops", 1},
};

void ns_sample_init(struct ns_sample *s, uint64_t ts_ms)
{
	s->ts_ms = ts_ms;
	s->health = 0;
	for (size_t i = 0; i < NS_METRIC_COUNT; i++)
		s->v[i] = NAN;
}

int ns_metric_index(const char *name)
{
	for (int i = 0; i < NS_METRIC_COUNT; i++)
		if (strcmp(ns_metric_names[i], name) == 0)
			return i;
	return -1;
}
