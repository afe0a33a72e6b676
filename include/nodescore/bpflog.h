/* SPDX-License-Identifier: MIT */
/* libbpf's own messages routed into ns_log (component "libbpf"). Kept out
 * of lib/log.c so that only the agent links libbpf. */
#ifndef NODESCORE_BPFLOG_H
#define NODESCORE_BPFLOG_H

void ns_bpflog_route(void);

#endif
