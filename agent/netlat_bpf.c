// SPDX-License-Identifier: MIT
/* tcprtt loader: opens, configures, loads and attaches bpf/tcprtt.bpf.c and
 * turns its double-buffered histogram into per-interval quantiles. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "../bpf/tcprtt.h"
#include "bpf/tcprtt.skel.h"
#include "nodescore/lathist.h"
#include "nodescore/log.h"
#include "nodescore/opt.h"
#include "netlat_int.h"

struct ns_netlat_bpf {
	struct tcprtt_bpf *skel;
	const char *kind;
	uint32_t gen;
	uint64_t last_retrans;
	uint64_t last_ns;
};

/* tp_btf needs kernel BTF and BPF trampolines for tracepoints (5.5+); raw_tp
 * works on older kernels. fentry/kprobes are not used: tcp_probe covers it. */
/* "EPERM" rather than "Operation not permitted": the reason is a log value. */
static const char *errname(int err)
{
	const char *n = strerrorname_np(-err);

	return n ? n : "EUNKNOWN";
}

/* Reasons of every attempt, comma-separated: "load_tp_btf_EPERM,load_raw_tp_EPERM".
 * EPERM does not stop the attempts: some kernels refuse one program type
 * with EPERM even to root (fentry here) and accept another. */
static void add_reason(char *why, size_t whylen, const char *what, const char *kind, int err)
{
	size_t n = strnlen(why, whylen);

	if (n < whylen)
		snprintf(why + n, whylen - n, "%s%s_%s_%s", n ? "," : "", what, kind, errname(err));
}

static const char *const kinds[] = {"tp_btf", "raw_tp"};

static void set_kind(struct tcprtt_bpf *skel, bool btf)
{
	bpf_program__set_autoload(skel->progs.tcp_probe_btf, btf);
	bpf_program__set_autoload(skel->progs.tcp_retransmit_btf, btf);
	bpf_program__set_autoload(skel->progs.tcp_probe_raw, !btf);
	bpf_program__set_autoload(skel->progs.tcp_retransmit_raw, !btf);
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
	struct tcprtt_bpf *skel = NULL;
	uint32_t ino = 0;
	int err = 0;

	*out = NULL;
	if (whylen)
		why[0] = '\0';
	ns_log_route_libbpf();
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		err = -ENOENT;
		snprintf(why, whylen, "no_kernel_btf");
		goto cleanup;
	}
	if (o && o->own_netns) {
		err = netns_inode(&ino);
		if (err) {
			snprintf(why, whylen, "netns_inode_%s", errname(err));
			goto cleanup;
		}
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		err = -ENOMEM;
		snprintf(why, whylen, "out_of_memory");
		goto cleanup;
	}
	for (size_t i = o && o->raw_tp ? 1 : 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		tcprtt_bpf__destroy(skel);
		skel = tcprtt_bpf__open();
		if (!skel) {
			err = -errno;
			snprintf(why, whylen, "open_%s", errname(err));
			goto cleanup;
		}
		skel->rodata->filter_netns = ino;
		set_kind(skel, i == 0);
		err = tcprtt_bpf__load(skel);
		if (err) {
			add_reason(why, whylen, "load", kinds[i], err);
			continue;
		}
		err = tcprtt_bpf__attach(skel);
		if (err) {
			add_reason(why, whylen, "attach", kinds[i], err);
			continue;
		}
		b->kind = kinds[i];
		break;
	}
	if (err)
		goto cleanup;
	b->skel = skel;
	b->gen = 0;
	b->last_retrans = __atomic_load_n(&skel->bss->retrans, __ATOMIC_RELAXED);
	b->last_ns = ns_mono_ns();
	*out = b;
	return 0;
cleanup:
	tcprtt_bpf__destroy(skel);
	free(b);
	return err ? err : -EINVAL;
}

const char *ns_netlat_bpf_attach_kind(const struct ns_netlat_bpf *b)
{
	return b ? b->kind : "none";
}

int ns_netlat_bpf_read(struct ns_netlat_bpf *b, struct ns_netlat_stats *st)
{
	struct tcprtt_bpf__bss *bss = b->skel->bss;
	__u64 *h;
	uint64_t snap[LATHIST_SLOTS], now, r;
	uint64_t total = 0;

	/* Switch BPF to the other buffer first, then read the one it left. */
	h = bss->hist[b->gen & 1];
	b->gen++;
	__atomic_store_n(&bss->gen, b->gen, __ATOMIC_RELEASE);
	/* Copy out once: the quantiles must see one consistent snapshot. */
	for (size_t i = 0; i < LATHIST_SLOTS; i++)
		snap[i] = __atomic_load_n(&h[i], __ATOMIC_RELAXED);
	memset(h, 0, LATHIST_SLOTS * sizeof(*h));
	now = ns_mono_ns();
	st->interval_s = (double)(now - b->last_ns) / 1e9;
	b->last_ns = now;
	for (size_t i = 0; i < LATHIST_SLOTS; i++)
		total += snap[i];
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
