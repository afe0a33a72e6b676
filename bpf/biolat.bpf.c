// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* Block request latency (issue -> complete) into a latency histogram, plus
 * completions for IOPS; tp_btf programs with raw_tp twins. Kernel >= 5.11
 * (block_rq_issue with a single request argument). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "biolat.h"
#include "lathist.bpf.h"

__u32 gen;		      /* written by user space: selects hist[gen & 1] */
__u64 hist[2][LATHIST_SLOTS]; /* requests by latency slot (us) */
__u64 completed;	      /* timed completions since load (= histogram entries) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BIOLAT_MAX_INFLIGHT);
	__type(key, __u64);
	__type(value, __u64);
} start SEC(".maps");

/* Loop devices issue requests too, but their I/O lands again on a real disk:
 * counting it would double the IOPS (diskstats path skips them as well). */
#define LOOP_MAJOR 7

static __always_inline int on_issue(struct request *rq)
{
	__u64 key = (__u64)rq, ts = bpf_ktime_get_ns();

	if (BPF_CORE_READ(rq, q, disk, major) == LOOP_MAJOR)
		return 0;
	bpf_map_update_elem(&start, &key, &ts, BPF_ANY);
	return 0;
}

static __always_inline int on_complete(struct request *rq)
{
	__u64 key = (__u64)rq, *tsp, delta;
	__u32 g;

	tsp = bpf_map_lookup_elem(&start, &key);
	if (!tsp)
		return 0; /* a loop device, issued before we attached, or the map was full */
	__sync_fetch_and_add(&completed, 1);
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &key);
	g = *(volatile __u32 *)&gen;
	lathist_inc(hist[g & 1], lathist_slot(delta / 1000));
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(block_rq_issue_btf, struct request *rq)
{
	return on_issue(rq);
}

SEC("raw_tp/block_rq_issue")
int BPF_PROG(block_rq_issue_raw, struct request *rq)
{
	return on_issue(rq);
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(block_rq_complete_btf, struct request *rq)
{
	return on_complete(rq);
}

SEC("raw_tp/block_rq_complete")
int BPF_PROG(block_rq_complete_raw, struct request *rq)
{
	return on_complete(rq);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
