/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* biolat probe: constants shared by bpf/biolat.bpf.c and agent/disklat_bpf.c. */
#ifndef NODESCORE_BPF_BIOLAT_H
#define NODESCORE_BPF_BIOLAT_H

#include "lathist.h"

/* Requests in flight we can time at once (blk-mq queue depths are far lower). */
#define BIOLAT_MAX_INFLIGHT 10240

#endif
