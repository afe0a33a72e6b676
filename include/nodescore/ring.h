/* SPDX-License-Identifier: MIT */
/* Crash-safe on-disk history ring of ns_sample records: fixed-size records,
 * each with its own checksum, bounded file size, oldest overwritten first. */
#ifndef NODESCORE_RING_H
#define NODESCORE_RING_H

#include <stdint.h>
#include <stdio.h>

#include "nodescore/sample.h"

/* 30 days at 10 s. */
#define NS_RING_DEFAULT_CAPACITY (30u * 24u * 360u)

struct ns_ring;

struct ns_ring_stats {
	uint64_t records;  /* valid records readable now */
	uint64_t corrupt;  /* records skipped by the last scan (bad checksum) */
	uint32_t capacity;
	uint64_t file_bytes;
};

/* Opens or creates the ring file at path with room for capacity records. An
 * existing file with another capacity or record layout is refused (-EINVAL,
 * reason logged) rather than silently truncated. */
int ns_ring_open(const char *path, uint32_t capacity, struct ns_ring **out);

/* Appends one record (one pwrite of a whole record). Returns 0 or -errno. */
int ns_ring_append(struct ns_ring *r, const struct ns_sample *s);

/* Calls cb for each valid record, oldest first, skipping corrupt ones.
 * cb returns non-zero to stop early. Returns 0 or -errno. */
int ns_ring_foreach(struct ns_ring *r, int (*cb)(const struct ns_sample *s, void *arg),
		    void *arg);

void ns_ring_get_stats(const struct ns_ring *r, struct ns_ring_stats *st);

/* Writes every valid record as CSV: header "timestamp_ms,<ns_metric_names...>",
 * empty fields for NaN. Returns 0 or -errno. */
int ns_ring_export_csv(struct ns_ring *r, FILE *out);

/* NULL-safe. */
void ns_ring_close(struct ns_ring *r);

#endif
