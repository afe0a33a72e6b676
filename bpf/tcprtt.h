/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* tcprtt probe: types shared by bpf/tcprtt.bpf.c and agent/netlat_bpf.c. */
#ifndef NODESCORE_BPF_TCPRTT_H
#define NODESCORE_BPF_TCPRTT_H

#include "lathist.h"

/* Sockets remembered per interval; beyond this the LRU forgets the oldest,
 * which can only count an idle socket twice. */
#define TCPRTT_MAX_SOCKS 16384

/* Per socket: the interval (gen) and slot it is counted in, so a socket is in
 * the histogram once, at its latest srtt. */
struct tcprtt_sock {
	__u32 gen;
	__u32 slot;
};

#endif
