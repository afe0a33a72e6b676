/* SPDX-License-Identifier: MIT */
/* Internal: the two network latency paths behind ns_netlat. */
#ifndef NODESCORE_AGENT_NETLAT_INT_H
#define NODESCORE_AGENT_NETLAT_INT_H

#include <stddef.h>

#include "nodescore/netlat.h"

struct ns_netlat_bpf;
struct ns_netlat_diag;

/* Loads and attaches the tcprtt probe (tp_btf, else raw_tp). On failure
 * returns -errno and a short reason in why. */
int ns_netlat_bpf_open(const struct ns_netlat_opts *o, struct ns_netlat_bpf **out, char *why,
		       size_t whylen);
/* "tp_btf" or "raw_tp". */
const char *ns_netlat_bpf_attach_kind(const struct ns_netlat_bpf *b);
int ns_netlat_bpf_read(struct ns_netlat_bpf *b, struct ns_netlat_stats *st);
void ns_netlat_bpf_close(struct ns_netlat_bpf *b);

/* Opens a NETLINK_SOCK_DIAG socket and takes the retransmit baseline. */
int ns_netlat_diag_open(struct ns_netlat_diag **out);
int ns_netlat_diag_read(struct ns_netlat_diag *d, struct ns_netlat_stats *st);
void ns_netlat_diag_close(struct ns_netlat_diag *d);

#endif
