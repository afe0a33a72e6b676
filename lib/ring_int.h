/* SPDX-License-Identifier: MIT */
/* Internal: the handle and on-disk encoding the history ring files share.
 * ring.c owns the file (create, open, scan, append, read back, export);
 * ring_format.c the byte layout of the header and of a record, and their
 * checksum. Callers use nodescore/ring.h. */
#ifndef NODESCORE_LIB_RING_INT_H
#define NODESCORE_LIB_RING_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nodescore/ring.h"

#define MAGIC "NSRING\0\0"
#define HDR_USED 64u	     /* bytes of the header region that carry fields */
#define SEQ_MAX (1ull << 56) /* a bigger seq is garbage that passed the CRC by chance */
#define REC_PAYLOAD (24u + 4u * (unsigned)NS_METRIC_COUNT)
#define CHUNK_RECS 512u /* records per pread while scanning */

/* The library reports, its callers log: a failure's reason goes to err
 * (which may be NULL), worded as the operator will read it. */
#define NS_RING_ERR(...)                                                                           \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

_Static_assert(REC_PAYLOAD + 4u <= NS_RING_RECORD_SIZE, "record does not fit");
_Static_assert(NS_RING_HEADER_SIZE >= HDR_USED, "header does not fit");

struct ns_ring {
	int fd;
	int readonly;
	char *path;
	uint32_t capacity;
	uint32_t present;  /* slots that exist in the file (fewer when truncated) */
	uint64_t next_seq; /* seq of the next append; last_seq + 1 */
	uint64_t records;
	uint64_t corrupt;
	uint64_t stale;
	uint64_t appends;
	uint64_t syncs;
	uint32_t sync_every;
	uint32_t unsynced;
	uint8_t *valid; /* writer only: bit per slot, set when it holds a window record */
};

static inline uint64_t ns_ring_slot_off(uint32_t slot)
{
	return NS_RING_HEADER_SIZE + (uint64_t)slot * NS_RING_RECORD_SIZE;
}

static inline uint32_t ns_ring_slot_of(const struct ns_ring *r, uint64_t seq)
{
	return (uint32_t)((seq - 1) % r->capacity);
}

/* Seqs of the current window: (last - capacity, last]. */
static inline uint64_t ns_ring_window_lo(const struct ns_ring *r)
{
	uint64_t last = r->next_seq - 1;

	return last >= r->capacity ? last - r->capacity + 1 : 1;
}

enum rec_state { REC_EMPTY, REC_CORRUPT, REC_VALID };

/* Encodes s as the record with sequence number seq (NS_RING_RECORD_SIZE
 * bytes, checksum last). */
void ns_ring_encode_record(uint8_t *b, uint64_t seq, const struct ns_sample *s);
/* Classifies one record read from slot; s (may be NULL) gets a valid
 * record's sample. */
enum rec_state ns_ring_decode_record(const struct ns_ring *r, const uint8_t *b, uint32_t slot,
				     uint64_t *seq, struct ns_sample *s);
/* NS_RING_HEADER_SIZE bytes of header for a new ring of capacity records. */
void ns_ring_encode_header(uint8_t *h, uint32_t capacity);
/* Validates the first HDR_USED bytes of a header; on success *capacity is
 * the file's. want_cap 0 means take whatever the file says. -EINVAL with
 * the reason in err. */
int ns_ring_check_header(const char *path, const uint8_t *h, uint32_t want_cap, uint32_t *capacity,
			 char *err, size_t errlen);

#endif
