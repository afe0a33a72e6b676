/* SPDX-License-Identifier: MIT */
/* Internal: the two disk latency paths behind ns_disklat. */
#ifndef NODESCORE_AGENT_DISKLAT_INT_H
#define NODESCORE_AGENT_DISKLAT_INT_H

#include <stddef.h>

#include "nodescore/disklat.h"

struct ns_disklat_bpf;
struct ns_disklat_ds;

/* Loads and attaches the biolat probe (tp_btf, else raw_tp; raw_tp only when
 * raw_tp_only). On failure
 * returns -errno and a short reason in why. */
int ns_disklat_bpf_open(int raw_tp_only, struct ns_disklat_bpf **out, char *why, size_t whylen);
const char *ns_disklat_bpf_attach_kind(const struct ns_disklat_bpf *b);
int ns_disklat_bpf_read(struct ns_disklat_bpf *b, struct ns_disklat_stats *st);
void ns_disklat_bpf_close(struct ns_disklat_bpf *b);

/* Reads <proc_root>/proc/diskstats once for the baseline. */
int ns_disklat_ds_open(const char *proc_root, struct ns_disklat_ds **out);
int ns_disklat_ds_read(struct ns_disklat_ds *d, struct ns_disklat_stats *st);
void ns_disklat_ds_close(struct ns_disklat_ds *d);

#endif
