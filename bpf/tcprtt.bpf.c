// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/* TCP smoothed RTT of established sockets into a latency histogram, plus
 * retransmits; tp_btf programs with raw_tp twins for kernels without tp_btf. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "lathist.bpf.h"
#include "tcprtt.h"

/* 0: every network namespace; else only sockets in the netns with this inode. */
const volatile __u32 filter_netns = 0;

__u32 gen;		      /* written by user space: selects hist[gen & 1] */
__u64 hist[2][LATHIST_SLOTS]; /* sockets by srtt slot (us) */
__u64 retrans;		      /* retransmitted segments since load */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TCPRTT_MAX_SOCKS);
	__type(key, __u64);
	__type(value, struct tcprtt_sock);
} socks SEC(".maps");

static __always_inline bool netns_ok(const struct sock *sk)
{
	if (!filter_netns)
		return true;
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum) == filter_netns;
}

static __always_inline int on_probe(struct sock *sk)
{
	struct tcprtt_sock *st, nst;
	__u32 g, srtt, slot;
	__u64 key = (__u64)sk;
	__u64 *h;

	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_ESTABLISHED || !netns_ok(sk))
		return 0;
	/* srtt_us holds 8 x the smoothed RTT in microseconds; 0 means no sample yet. */
	srtt = BPF_CORE_READ((struct tcp_sock *)sk, srtt_us) >> 3;
	if (!srtt)
		return 0;
	slot = lathist_slot(srtt);
	g = *(volatile __u32 *)&gen;
	h = hist[g & 1];
	st = bpf_map_lookup_elem(&socks, &key);
	if (st && st->gen == g) {
		if (st->slot != slot) {
			lathist_dec(h, st->slot);
			lathist_inc(h, slot);
			st->slot = slot;
		}
		return 0;
	}
	lathist_inc(h, slot);
	nst.gen = g;
	nst.slot = slot;
	bpf_map_update_elem(&socks, &key, &nst, BPF_ANY);
	return 0;
}

/* Counts segments, not skbs: a retransmitted GSO skb carries several, and
 * tcpi_total_retrans (the sock_diag path, ss) counts segments too. */
static __always_inline int on_retransmit(const struct sock *sk, const struct sk_buff *skb)
{
	const struct tcp_skb_cb *cb;
	__u16 segs;

	if (!netns_ok(sk))
		return 0;
	cb = (const void *)skb + bpf_core_field_offset(struct sk_buff, cb);
	segs = BPF_CORE_READ(cb, tcp_gso_segs);
	__sync_fetch_and_add(&retrans, segs ? segs : 1);
	return 0;
}

SEC("tp_btf/tcp_probe")
int BPF_PROG(tcp_probe_btf, struct sock *sk)
{
	return on_probe(sk);
}

SEC("raw_tp/tcp_probe")
int BPF_PROG(tcp_probe_raw, struct sock *sk)
{
	return on_probe(sk);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_btf, const struct sock *sk, const struct sk_buff *skb)
{
	return on_retransmit(sk, skb);
}

SEC("raw_tp/tcp_retransmit_skb")
int BPF_PROG(tcp_retransmit_raw, const struct sock *sk, const struct sk_buff *skb)
{
	return on_retransmit(sk, skb);
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
