/* SPDX-License-Identifier: MIT */
/* libbpf's own messages routed into ns_log (component "libbpf"), and the
 * steps every BPF loader shares. Kept out of lib/ so that only the agent
 * links libbpf. */
#ifndef NODESCORE_BPFLOG_H
#define NODESCORE_BPFLOG_H

#include <stdbool.h>
#include <stddef.h>

struct bpf_object_skeleton;

void ns_bpflog_route(void);

/* First steps of every BPF loader: clears why, routes libbpf's messages and
 * checks for kernel BTF; -ENOENT with why "no_kernel_btf" without it. */
int ns_bpf_preflight(char *why, size_t whylen);

/* Opens a fresh skeleton in ctx (destroying the one before) with its
 * programs set up for tp_btf (btf) or raw_tp: its libbpf skeleton, or NULL
 * with errno set. */
typedef struct bpf_object_skeleton *(*ns_bpf_open_fn)(void *ctx, bool btf);

/* Opens, loads and attaches through open, tp_btf first unless raw_tp_only:
 * 0 with *kind the attach kind that worked, or the last error, with why
 * naming each failed step ("load_tp_btf_EPERM,attach_raw_tp_...", or
 * "open_<errno>" when opening fails, which stops the attempts). */
int ns_bpf_attach_first(ns_bpf_open_fn open, void *ctx, int raw_tp_only, const char **kind,
			char *why, size_t whylen);

#endif
