/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* BPF-side helpers for the shared latency histograms (bpf/lathist.h). */
#ifndef NODESCORE_BPF_LATHIST_BPF_H
#define NODESCORE_BPF_LATHIST_BPF_H

#include "lathist.h"

/* Histograms are double-buffered in .bss: user space bumps gen, then reads and
 * clears the buffer BPF no longer writes. */
/* Hides the value from clang so it keeps the bound check the verifier needs
 * (clang can prove slot < LATHIST_SLOTS; the verifier cannot). */
#define lathist_opaque(x) asm volatile("" : "+r"(x))

static __always_inline void lathist_inc(__u64 *hist, __u32 slot)
{
	lathist_opaque(slot);
	if (slot < LATHIST_SLOTS)
		__sync_fetch_and_add(&hist[slot], 1);
}

/* Never below zero: a racing user-space clear must not wrap a count to 2^64-1. */
static __always_inline void lathist_dec(__u64 *hist, __u32 slot)
{
	lathist_opaque(slot);
	if (slot < LATHIST_SLOTS && hist[slot])
		__sync_fetch_and_add(&hist[slot], -1);
}

#endif
