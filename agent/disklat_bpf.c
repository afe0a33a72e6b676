// SPDX-License-Identifier: MIT
/* biolat loader: opens, loads and attaches bpf/biolat.bpf.c and turns its
 * double-buffered histogram into per-interval quantiles and IOPS. */
#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf/biolat.h"
#include "bpf/biolat.skel.h"
#include "nodescore/clock.h"
#include "nodescore/lathist.h"
#include "nodescore/bpflog.h"
#include "nodescore/log.h"
#include "disklat_int.h"

struct ns_disklat_bpf {
	struct biolat_bpf *skel;
	const char *kind;
	uint32_t gen;
	uint64_t last_completed;
	uint64_t last_ns;
};

/* ns_bpf_open_fn for biolat: ctx is the struct biolat_bpf * being tried. */
static struct bpf_object_skeleton *open_kind(void *ctx, bool btf)
{
	struct biolat_bpf **sk = ctx, *skel;

	biolat_bpf__destroy(*sk);
	skel = *sk = biolat_bpf__open();
	if (!skel)
		return NULL;
	bpf_program__set_autoload(skel->progs.block_rq_issue_btf, btf);
	bpf_program__set_autoload(skel->progs.block_rq_complete_btf, btf);
	bpf_program__set_autoload(skel->progs.block_rq_issue_raw, !btf);
	bpf_program__set_autoload(skel->progs.block_rq_complete_raw, !btf);
	return skel->skeleton;
}

int ns_disklat_bpf_open(int raw_tp_only, struct ns_disklat_bpf **out, char *why, size_t whylen)
{
	struct ns_disklat_bpf *b = NULL;
	struct biolat_bpf *skel = NULL;
	const char *kind = NULL;
	int err;

	*out = NULL;
	err = ns_bpf_preflight(why, whylen);
	if (!err)
		err = ns_bpf_attach_first(open_kind, &skel, raw_tp_only, &kind, why, whylen);
	if (!err && !(b = calloc(1, sizeof(*b)))) {
		err = -ENOMEM;
		snprintf(why, whylen, "out_of_memory");
	}
	if (err) {
		biolat_bpf__destroy(skel);
		return err;
	}
	b->skel = skel;
	b->kind = kind;
	b->last_completed = __atomic_load_n(&skel->bss->completed, __ATOMIC_RELAXED);
	b->last_ns = ns_mono_ns();
	*out = b;
	return 0;
}

const char *ns_disklat_bpf_attach_kind(const struct ns_disklat_bpf *b)
{
	return b ? b->kind : "none";
}

int ns_disklat_bpf_read(struct ns_disklat_bpf *b, struct ns_disklat_stats *st)
{
	struct biolat_bpf__bss *bss = b->skel->bss;
	uint64_t snap[LATHIST_SLOTS], now, c;

	/* The probe's __u64 counters as ns_lathist_swap's uint64_t: the same
	 * 64-bit counters, two halves of LATHIST_SLOTS. */
	static_assert(sizeof(bss->hist[0][0]) == sizeof(uint64_t) &&
			  sizeof(bss->hist) == 2 * LATHIST_SLOTS * sizeof(uint64_t),
		      "hist: two halves of LATHIST_SLOTS 64-bit counters");
	ns_lathist_swap((uint64_t *)&bss->hist[0][0], LATHIST_SLOTS, &bss->gen, &b->gen, snap);
	now = ns_mono_ns();
	st->interval_s = (double)(now - b->last_ns) / 1e9;
	b->last_ns = now;
	st->p50_us = ns_lathist_quantile(snap, LATHIST_SLOTS, 0.50);
	st->p99_us = ns_lathist_quantile(snap, LATHIST_SLOTS, 0.99);
	c = __atomic_load_n(&bss->completed, __ATOMIC_RELAXED);
	/* A counter going backwards means someone wrote the map: report nothing. */
	st->ios = c >= b->last_completed ? c - b->last_completed : 0;
	b->last_completed = c;
	st->iops = st->interval_s > 0 ? (double)st->ios / st->interval_s : NAN;
	return 0;
}

void ns_disklat_bpf_close(struct ns_disklat_bpf *b)
{
	if (!b)
		return;
	biolat_bpf__destroy(b->skel);
	free(b);
}
