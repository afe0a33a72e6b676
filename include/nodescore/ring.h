/* SPDX-License-Identifier: MIT */
/* Crash-safe on-disk history ring of ns_sample records: fixed-size records,
 * each with its own checksum, bounded file size, oldest overwritten first.
 *
 * File layout (little-endian, docs/history.md has the details):
 *   [0, 4096)   header: magic "NSRING\0\0", version, header size, record size,
 *               NS_METRIC_COUNT, capacity, created_ms, CRC32C. Written once at
 *               creation (temp file + link), never rewritten.
 *   then capacity records of NS_RING_RECORD_SIZE bytes; the record with
 *   sequence number seq (1, 2, ...) lives in slot (seq - 1) % capacity:
 *     u64 seq, u64 ts_ms, u32 health, u32 zero, f32 v[NS_METRIC_COUNT],
 *     zero padding, u32 CRC32C over every preceding byte of the record.
 * There is no head pointer: open scans every slot and the newest valid
 * sequence number is the head, so a crash can only tear the record being
 * written, which the checksum then rejects. */
#ifndef NODESCORE_RING_H
#define NODESCORE_RING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nodescore/sample.h"

/* 30 days at 10 s. */
#define NS_RING_DEFAULT_CAPACITY (30u * 24u * 360u)
/* Keeps the file below 8.6 GB and the in-memory slot bitmap below 8 MiB. */
#define NS_RING_MAX_CAPACITY (1u << 26)

#define NS_RING_VERSION 1u
#define NS_RING_HEADER_SIZE 4096u
/* seq + ts + health + pad + floats + crc, rounded up to 64 so that with the
 * default metric count a record never straddles a 512-byte sector. */
#define NS_RING_RECORD_SIZE ((24u + 4u * (unsigned)NS_METRIC_COUNT + 63u) & ~63u)

struct ns_ring;

struct ns_ring_stats {
	uint64_t records; /* valid records readable now */
	uint64_t corrupt; /* slots of the current window that held no valid record at the
			   * last scan (bad checksum, torn, truncated, garbage), and before
			   * the first wrap damaged slots past the newest record */
	uint32_t capacity;
	uint64_t file_bytes;
	uint64_t stale;	   /* valid records of an older lap found at the last scan
			    * (a newer write to their slot never reached the disk) */
	uint64_t last_seq; /* sequence number of the newest record, 0 when empty */
	uint64_t appends;  /* appends through this handle */
	uint64_t syncs;	   /* fdatasync calls through this handle */
};

/* Bytes on disk of a ring with this capacity: header + capacity records. */
uint64_t ns_ring_file_size(uint32_t capacity);

/* What an open did or found that an operator should hear about, in order,
 * for the caller to log under component "ring" (INFO, or WARNING when
 * warning is set): the file created or an empty one initialised, a
 * truncated file, damaged records skipped. Filled on failure too. The
 * library itself never logs. */
#define NS_RING_MAX_NOTES 4
struct ns_ring_notes {
	unsigned n;
	struct {
		int warning;
		char text[1024];
	} note[NS_RING_MAX_NOTES];
};

/* Opens or creates the ring file at path with room for capacity records
 * (1..NS_RING_MAX_CAPACITY) for appending. The file is locked (flock) against
 * a second writer (-EBUSY). An existing file with another capacity or record
 * layout, a bad header or a size larger than its layout is refused (-EINVAL)
 * rather than silently truncated; an empty file is initialised; a truncated
 * file is extended (missing records count as corrupt). Returns 0 or -errno
 * with the reason in err ("... path=<path> ..."; err may be NULL); notes (may
 * be NULL) gets what the caller should log either way. */
int ns_ring_open_err(const char *path, uint32_t capacity, struct ns_ring **out,
		     struct ns_ring_notes *notes, char *err, size_t errlen);

/* Opens an existing ring read-only, taking the capacity from its header; no
 * lock, no writes, safe while an agent appends. foreach rescans the file so it
 * sees the writer's newest records. Same refusals and reporting as
 * ns_ring_open_err. */
int ns_ring_open_readonly_err(const char *path, struct ns_ring **out, struct ns_ring_notes *notes,
			      char *err, size_t errlen);

/* Appends one record (one pwrite of a whole record). Returns 0 or -errno
 * (-EROFS on a read-only handle). On error nothing is advanced: the next
 * append rewrites the same slot. */
int ns_ring_append(struct ns_ring *r, const struct ns_sample *s);

/* fdatasync after every n appends (0, the default: never, rely on the page
 * cache; 1: every record). A failed fdatasync is returned by the append that
 * triggered it; that record was written but may not be durable. */
void ns_ring_set_sync_every(struct ns_ring *r, uint32_t n);

/* fdatasync now. Returns 0 or -errno. */
int ns_ring_sync(struct ns_ring *r);

/* Calls cb for each valid record, oldest first, skipping corrupt ones.
 * cb returns non-zero to stop early. Returns 0 or -errno. */
int ns_ring_foreach(struct ns_ring *r, int (*cb)(const struct ns_sample *s, void *arg), void *arg);

void ns_ring_get_stats(const struct ns_ring *r, struct ns_ring_stats *st);

/* Writes every valid record as CSV: header "timestamp_ms,<ns_metric_names...>",
 * rows oldest first, values "%.9g" (exact for float), empty fields for NaN
 * and infinities. Returns 0 or -errno (-EIO when out reports an error). */
int ns_ring_export_csv(struct ns_ring *r, FILE *out);

/* Syncs when a sync policy is set, unlocks, frees. NULL-safe. Returns 0, or
 * the -errno of that final sync with the reason in err (the handle is freed
 * all the same). */
int ns_ring_close_err(struct ns_ring *r, char *err, size_t errlen);

#endif
