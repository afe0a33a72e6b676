/* SPDX-License-Identifier: MIT */
/* Rolling-window statistics over the last N pushes: count, mean, std, max in
 * O(1) per push, in fixed storage. */
#ifndef NODESCORE_ROLLING_H
#define NODESCORE_ROLLING_H

#include <stddef.h>
#include <stdint.h>

/* A group of samples pushed as one slot (a raw sample is a chunk of n=1; a
 * downsampled bucket, e.g. one minute of 1 s samples, is a chunk of n<=60).
 * n == 0 is an empty slot (a NaN sample or a gap): it occupies a window slot
 * but contributes nothing. Statistics over the window are exactly those of
 * all raw samples inside its chunks. */
struct ns_roll_chunk {
	uint32_t n;
	float max;   /* max of the samples, meaningless when n == 0 */
	double mean; /* mean of the samples */
	double m2;   /* sum of squared deviations from mean (Welford) */
};

/* Window state. Treat as opaque; it is public so callers can embed it and
 * give it caller-owned storage (no allocation on the hot path). */
struct ns_roll {
	uint32_t cap;	 /* window length in slots, >= 1 */
	uint32_t head;	 /* slot written next */
	uint32_t filled; /* slots pushed so far, saturates at cap */
	uint32_t since_resum;
	uint32_t seq; /* pushes so far, wraps (only differences are used) */
	uint32_t dq_head, dq_len;
	uint32_t n;		    /* samples in the window */
	double mean, m2;	    /* aggregate of the window */
	struct ns_roll_chunk *slot; /* cap slots */
	uint32_t *dq;		    /* cap sequence numbers: monotonic max deque */
	void *owned;		    /* storage from ns_roll_new, else NULL */
};

/* Maximum window length accepted (keeps sequence arithmetic unambiguous). */
#define NS_ROLL_MAX_CAP (1u << 24)

/* Bytes of storage a window of cap slots needs, a multiple of the chunk
 * alignment (0 if cap is out of range). */
size_t ns_roll_storage_bytes(uint32_t cap);

/* Initialises r over caller storage mem of len bytes (aligned for double;
 * at least ns_roll_storage_bytes(cap)). Returns 0 or -EINVAL. */
int ns_roll_init(struct ns_roll *r, uint32_t cap, void *mem, size_t len);

/* Allocates a window with its own storage. Returns 0, -EINVAL or -ENOMEM.
 * Free with ns_roll_free (NULL-safe). */
int ns_roll_new(uint32_t cap, struct ns_roll **out);
void ns_roll_free(struct ns_roll *r);

/* Empties the window (keeps storage). */
void ns_roll_reset(struct ns_roll *r);

/* Pushes one sample; NaN (or inf) pushes an empty slot. */
void ns_roll_push(struct ns_roll *r, double x);

/* Pushes one chunk (an empty chunk when c->n == 0). */
void ns_roll_push_chunk(struct ns_roll *r, const struct ns_roll_chunk *c);

/* Chunk helpers: build a bucket sample by sample. NaN samples are ignored. */
void ns_roll_chunk_clear(struct ns_roll_chunk *c);
void ns_roll_chunk_add(struct ns_roll_chunk *c, double x);

/* Window statistics over the samples in the last cap slots. mean/std/max
 * return NaN when the window holds no sample; std is the population standard
 * deviation (divides by n). */
uint32_t ns_roll_count(const struct ns_roll *r);
double ns_roll_mean(const struct ns_roll *r);
double ns_roll_std(const struct ns_roll *r);
double ns_roll_max(const struct ns_roll *r);

/* The chunk pushed k pushes ago (0 = latest), or NULL when k reaches past
 * what the window still holds. */
const struct ns_roll_chunk *ns_roll_at(const struct ns_roll *r, uint32_t k);

/* Over the means of the k newest chunks (as ns_roll_at(r, 0..k-1), a slot
 * past what the window holds counting as mean 0): adds to *ge how many are
 * >= x and raises *max_mean to their largest. */
void ns_roll_scan_means(const struct ns_roll *r, uint32_t k, double x, uint32_t *ge,
			double *max_mean);

#endif
