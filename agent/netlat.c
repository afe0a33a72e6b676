// SPDX-License-Identifier: MIT
/* Network latency source: picks the BPF path or the sock_diag fallback at
 * open time and turns an interval's figures into the sample vector. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "nodescore/netlat.h"
#include "netlat_int.h"

struct ns_netlat {
	struct ns_netlat_bpf *bpf;
	struct ns_netlat_diag *diag;
};

int ns_netlat_open(const struct ns_netlat_opts *opts, struct ns_netlat **out)
{
	struct ns_netlat *n;
	char why[128] = "no_bpf_option";
	int err;

	*out = NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	if (!opts || !opts->no_bpf) {
		uint64_t t0 = ns_mono_ns();

		err = ns_netlat_bpf_open(opts, &n->bpf, why, sizeof(why));
		if (!err) {
			log_info("netlat", "using bpf attach=%s load_ms=%.1f netns=%s",
				 ns_netlat_bpf_attach_kind(n->bpf),
				 (double)(ns_mono_ns() - t0) / 1e6,
				 opts && opts->own_netns ? "own" : "all");
			*out = n;
			return 0;
		}
	}
	if (!opts || !opts->no_bpf)
		log_warning("netlat", "bpf unavailable, falling back to sock_diag reason=%s", why);
	else
		log_info("netlat", "bpf not used reason=%s", why);
	err = ns_netlat_diag_open(&n->diag);
	if (err) {
		log_error("netlat", "no latency source works reason=%s sock_diag_err=%d", why, err);
		free(n);
		return err;
	}
	log_info("netlat", "using sock_diag netns=own");
	*out = n;
	return 0;
}

const char *ns_netlat_mode(const struct ns_netlat *n)
{
	return n && n->bpf ? "bpf" : "sock_diag";
}

const char *ns_netlat_attach_kind(const struct ns_netlat *n)
{
	return n && n->bpf ? ns_netlat_bpf_attach_kind(n->bpf) : "none";
}

int ns_netlat_read(struct ns_netlat *n, struct ns_netlat_stats *st)
{
	if (!n || !st)
		return -EINVAL;
	if (n->bpf)
		return ns_netlat_bpf_read(n->bpf, st);
	return ns_netlat_diag_read(n->diag, st);
}

int ns_netlat_sample(struct ns_netlat *n, struct ns_sample *s)
{
	struct ns_netlat_stats st;
	int err;

	s->v[NS_M_RTT_P50_US] = s->v[NS_M_RTT_P99_US] = s->v[NS_M_TCP_RETRANS] = NAN;
	err = ns_netlat_read(n, &st);
	if (err) {
		log_warning("netlat", "sample failed mode=%s err=%d", ns_netlat_mode(n), err);
		return err;
	}
	s->v[NS_M_RTT_P50_US] = (float)st.p50_us;
	s->v[NS_M_RTT_P99_US] = (float)st.p99_us;
	if (st.interval_s > 0)
		s->v[NS_M_TCP_RETRANS] = (float)((double)st.retrans / st.interval_s);
	s->health |= NS_SRC_NET;
	return 0;
}

void ns_netlat_close(struct ns_netlat *n)
{
	if (!n)
		return;
	ns_netlat_bpf_close(n->bpf);
	ns_netlat_diag_close(n->diag);
	free(n);
}
