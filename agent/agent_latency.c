// SPDX-License-Identifier: MIT
/* The agent's latency sources: network (TCP RTT, retransmits) and disk,
 * each opened on its BPF path or fallback and read once per tick. */
#include <errno.h>
#include <math.h>

#include "agent_int.h"
#include "nodescore/log.h"

/* Latency sources choose BPF or their fallback here and log which. Not
 * fatal: without them the node is published degraded, not left out. */
void ns_agent_latency_open(struct ns_agent *a)
{
	struct ns_netlat_opts no = {.no_bpf = a->cfg.no_bpf, .own_netns = 0};
	struct ns_disklat_opts dop = {.no_bpf = a->cfg.no_bpf, .proc_root = a->cfg.proc_root};
	int err;

	err = ns_netlat_open(&no, &a->netlat);
	if (err)
		ns_src_fail(&a->net_health, err, NULL, "no network latency path works");
	err = ns_disklat_open(&dop, &a->disklat);
	if (err)
		ns_src_fail(&a->disk_health, err, NULL, "no disk latency path works");
	a->snap.net_mode = a->netlat ? ns_netlat_mode(a->netlat) : "none";
	a->snap.disk_mode = a->disklat ? ns_disklat_mode(a->disklat) : "none";
	log_info("agent", "latency sources net=%s disk=%s", a->snap.net_mode, a->snap.disk_mode);
}

/* The sources' own _sample helpers log every failure; reading the interval
 * here keeps one WARNING per state change like every other source. */
void ns_agent_sample_net(struct ns_agent *a, struct ns_sample *s)
{
	struct ns_netlat_stats st;
	int err;

	s->v[NS_M_RTT_P50_US] = s->v[NS_M_RTT_P99_US] = s->v[NS_M_TCP_RETRANS] = NAN;
	if (!a->netlat) {
		a->net_health.failures++;
		return;
	}
	err = ns_netlat_read(a->netlat, &st);
	if (err) {
		ns_src_fail(&a->net_health, err, NULL, ns_netlat_mode(a->netlat));
		return;
	}
	s->v[NS_M_RTT_P50_US] = (float)st.p50_us;
	s->v[NS_M_RTT_P99_US] = (float)st.p99_us;
	if (st.interval_s > 0)
		s->v[NS_M_TCP_RETRANS] = (float)((double)st.retrans / st.interval_s);
	s->health |= NS_SRC_NET;
	ns_src_ok(&a->net_health);
}

void ns_agent_sample_disk(struct ns_agent *a, struct ns_sample *s)
{
	struct ns_disklat_stats st;
	int err;

	s->v[NS_M_DISK_P50_US] = s->v[NS_M_DISK_P99_US] = s->v[NS_M_DISK_IOPS] = NAN;
	if (!a->disklat) {
		a->disk_health.failures++;
		return;
	}
	err = ns_disklat_read(a->disklat, &st);
	if (err == -EAGAIN)
		return; /* counters restarted (disk removed): one empty interval, not a fault */
	if (err) {
		ns_src_fail(&a->disk_health, err, NULL, ns_disklat_mode(a->disklat));
		return;
	}
	s->v[NS_M_DISK_P50_US] = (float)st.p50_us;
	s->v[NS_M_DISK_P99_US] = (float)st.p99_us;
	s->v[NS_M_DISK_IOPS] = (float)st.iops;
	s->health |= NS_SRC_DISK;
	ns_src_ok(&a->disk_health);
}
