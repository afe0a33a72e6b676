// SPDX-License-Identifier: MIT
/* tcprtt loader: opens, configures, loads and attaches bpf/tcprtt.bpf.c and
 * turns its double-buffered histogram into per-interval quantiles. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/tcprtt.h"
#include "bpf/tcprtt.skel.h"
#include "nodescore/clock.h"
#include "nodescore/lathist.h"
#include "nodescore/bpflog.h"
#include "nodescore/log.h"
#include "netlat_int.h"

struct ns_netlat_bpf {
	struct tcprtt_bpf *skel;
	const char *kind;
	uint32_t gen;
	uint64_t last_retrans;
	uint64_t last_ns;
};

/* Both attach kinds (ns_bpf_attach_first) hook tcp_probe and
 * tcp_retransmit_skb: fentry/kprobes are not used, tcp_probe covers it. */
struct
try {
	struct tcprtt_bpf *skel;
	uint32_t ino; /* filter_netns: 0 for every namespace */
};

/* ns_bpf_open_fn for tcprtt: ctx is the struct try. */
static struct bpf_object_skeleton *open_kind(void *ctx, bool btf)
{
	struct try *t = ctx;
	struct tcprtt_bpf *skel;

	tcprtt_bpf__destroy(t->skel);
	skel = t->skel = tcprtt_bpf__open();
	if (!skel)
		return NULL;
	skel->rodata->filter_netns = t->ino;
	bpf_program__set_autoload(skel->progs.tcp_probe_btf, btf);
	bpf_program__set_autoload(skel->progs.tcp_retransmit_btf, btf);
	bpf_program__set_autoload(skel->progs.tcp_probe_raw, !btf);
	bpf_program__set_autoload(skel->progs.tcp_retransmit_raw, !btf);
	return skel->skeleton;
}

static int netns_inode(uint32_t *ino)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st) < 0)
		return -errno;
	if (st.st_ino > UINT32_MAX)
		return -ERANGE;
	*ino = (uint32_t)st.st_ino;
	return 0;
}

int ns_netlat_bpf_open(const struct ns_netlat_opts *o, struct ns_netlat_bpf **out, char *why,
		       size_t whylen)
{
	struct ns_netlat_bpf *b = NULL;
	struct try t = {NULL, 0};
	const char *kind = NULL;
	int err;

	*out = NULL;
	err = ns_bpf_preflight(why, whylen);
	if (!err && o && o->own_netns) {
		err = netns_inode(&t.ino);
		if (err)
			snprintf(why, whylen, "netns_inode_%s", ns_bpf_errname(err));
	}
	if (!err)
		err = ns_bpf_attach_first(open_kind, &t, o && o->raw_tp, &kind, why, whylen);
	if (!err && !(b = calloc(1, sizeof(*b)))) {
		err = -ENOMEM;
		snprintf(why, whylen, "out_of_memory");
	}
	if (err) {
		tcprtt_bpf__destroy(t.skel);
		return err;
	}
	b->skel = t.skel;
	b->kind = kind;
	b->gen = 0;
	b->last_retrans = __atomic_load_n(&t.skel->bss->retrans, __ATOMIC_RELAXED);
	b->last_ns = ns_mono_ns();
	*out = b;
	return 0;
}

const char *ns_netlat_bpf_attach_kind(const struct ns_netlat_bpf *b)
{
	return b ? b->kind : "none";
}

int ns_netlat_bpf_read(struct ns_netlat_bpf *b, struct ns_netlat_stats *st)
{
	struct tcprtt_bpf__bss *bss = b->skel->bss;
	uint64_t snap[LATHIST_SLOTS], now, r, total;

	/* The probe's __u64 counters as ns_lathist_swap's uint64_t: the same
	 * 64-bit counters, two halves of LATHIST_SLOTS. */
	static_assert(sizeof(bss->hist[0][0]) == sizeof(uint64_t) &&
			  sizeof(bss->hist) == 2 * LATHIST_SLOTS * sizeof(uint64_t),
		      "hist: two halves of LATHIST_SLOTS 64-bit counters");
	total =
	    ns_lathist_swap((uint64_t *)&bss->hist[0][0], LATHIST_SLOTS, &bss->gen, &b->gen, snap);
	now = ns_mono_ns();
	st->interval_s = (double)(now - b->last_ns) / 1e9;
	b->last_ns = now;
	st->nsocks = total;
	st->p50_us = ns_lathist_quantile(snap, LATHIST_SLOTS, 0.50);
	st->p99_us = ns_lathist_quantile(snap, LATHIST_SLOTS, 0.99);
	r = __atomic_load_n(&bss->retrans, __ATOMIC_RELAXED);
	/* A counter going backwards means someone wrote the map: report nothing. */
	st->retrans = r >= b->last_retrans ? r - b->last_retrans : 0;
	b->last_retrans = r;
	return 0;
}

void ns_netlat_bpf_close(struct ns_netlat_bpf *b)
{
	if (!b)
		return;
	tcprtt_bpf__destroy(b->skel);
	free(b);
}
