/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/* Latency histogram layout shared by the BPF programs and user space:
 * log2 buckets split into 16 linear sub-buckets, so a bucket is at most
 * 6.25 % wide (log2 alone is 100 %, too coarse for a 25 % RTT budget). */
#ifndef NODESCORE_BPF_LATHIST_H
#define NODESCORE_BPF_LATHIST_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LATHIST_SUB_BITS 4
#define LATHIST_SUB (1u << LATHIST_SUB_BITS)
/* Values 0..15 get one slot each, then 16 slots per power of two up to 2^32. */
#define LATHIST_SLOTS (LATHIST_SUB + (32 - LATHIST_SUB_BITS) * LATHIST_SUB)

/* Branch-only log2 so the BPF verifier and every clang version accept it. */
static inline __u32 lathist_log2(__u32 v)
{
	__u32 r, shift;

	r = (__u32)(v > 0xFFFF) << 4;
	v >>= r;
	shift = (__u32)(v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (__u32)(v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (__u32)(v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

/* Slot of a value in microseconds; always < LATHIST_SLOTS. */
static inline __u32 lathist_slot(__u64 v)
{
	__u32 x, msb, sub;

	if (v < LATHIST_SUB)
		return (__u32)v;
	x = v > 0xFFFFFFFFull ? 0xFFFFFFFFu : (__u32)v;
	msb = lathist_log2(x);
	sub = (x >> (msb - LATHIST_SUB_BITS)) & (LATHIST_SUB - 1);
	return LATHIST_SUB + (msb - LATHIST_SUB_BITS) * LATHIST_SUB + sub;
}

#endif
