/* SPDX-License-Identifier: MIT */
/* Score table: latest verified message per node, open addressing, one
 * writer (the subscriber thread) and any number of lock-free readers. */
#ifndef NODESCORE_TABLE_H
#define NODESCORE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/key.h"
#include "nodescore/wire.h"

struct ns_table;

/* What a reader gets for one node: a consistent copy, never torn. */
struct ns_node_data {
	uint8_t flags;
	uint16_t score; /* 0..1000 */
	uint16_t anomaly;
	uint16_t cpu_now, mem_now, cpu_peak_fc, mem_peak_fc; /* per mille */
	uint16_t pods;
	uint32_t free_millicores, free_mib, rtt_p99_us;
	uint64_t ts_ms;	       /* sender clock, unix ms */
	uint64_t recv_mono_ms; /* receiver monotonic clock when stored */
};

struct ns_node_entry {
	char name[NS_WIRE_NAME_MAX + 1];
	struct ns_node_data d;
};

/* Allocates a table for up to max_nodes nodes (1..1,000,000): a dense
 * entry array of max_nodes and an index of the next power of two >=
 * 2 * max_nodes slots, so probes stay short.
 * Returns NULL on a bad size or out of memory. */
struct ns_table *ns_table_new(uint32_t max_nodes);
void ns_table_free(struct ns_table *t);

/* Verifies one wire message (length, MAC, fields, skew, replay) and stores
 * it. key is the master key: the MAC is checked with the key derived for
 * the message's node name (ns_key_node_from_prk), cached per entry, so one
 * node's key cannot sign for another. Timestamps may lag now_ms by skew_ms
 * and lead it by the future skew (ns_table_set_future_skew). Single writer: call from one thread
 * only. now_ms is the wall clock (for the skew window), now_mono_ms the monotonic clock (for ages).
 * Returns NS_WIRE_OK or the rejection reason; a rejected message never
 * changes the table. Every outcome is counted (ns_table_count). */
enum ns_wire_status ns_table_ingest(struct ns_table *t, const uint8_t *buf, size_t len,
				    const uint8_t *key, size_t key_len, uint64_t now_ms,
				    uint64_t now_mono_ms, uint64_t skew_ms);

/* Lets a full table make room for a new node by dropping nodes not heard
 * from for evict_after_ms (at most once a minute; the dropped slots are
 * freed a minute later, after any reader is done with them). Must exceed
 * the skew window, so a dropped node's old messages cannot be replayed.
 * 0 (the default) never drops anything. Call before ingesting. */
void ns_table_set_eviction(struct ns_table *t, uint64_t evict_after_ms);
/* Largest lead of a message timestamp over the receiver clock (default
 * NS_REPLAY_FUTURE_MS, never more than the skew): bounds how long a new
 * boot nonce dated ahead can lock the node's running agent out. */
void ns_table_set_future_skew(struct ns_table *t, uint64_t future_ms);
/* Compatibility for agents older than per-node keys: verify every message
 * with the master key itself (any key holder can then sign for any node). */
void ns_table_set_shared_keys(struct ns_table *t, int shared);
/* Master key rotation window: while next is set, a message whose MAC
 * fails under the node key derived from the current master (the key passed
 * to ns_table_ingest) is checked under the node key derived from next (in
 * shared-key mode: under next itself). The key that verified a node's last
 * message is cached and tried first, so a node costs one MAC check per
 * message whichever key it signs with. Which key verified is counted
 * (ns_table_key_verified) while next is set. next is copied (the caller may
 * wipe its copy); NULL ends the window and forgets node keys derived from
 * the old next. Writer only (before ingesting, or from the ingesting
 * thread). Without a next key ns_table_ingest does no more work than
 * before. */
void ns_table_set_next_key(struct ns_table *t, const struct ns_key *next);
int ns_table_has_next_key(const struct ns_table *t);
/* Messages verified under the current (next == 0) or the next master key
 * (next != 0) so far, counted only while a next key is set. */
uint64_t ns_table_key_verified(const struct ns_table *t, int next);
/* Nodes dropped so far. */
uint64_t ns_table_evicted(const struct ns_table *t);

/* Counts an outcome that never reached ns_table_ingest (e.g. an oversized
 * frame). */
void ns_table_count_reject(struct ns_table *t, enum ns_wire_status st);

/* Looks a node up by name (any bytes, len need not be NUL-terminated).
 * Thread-safe against the writer. Returns 1 and fills out, or 0. */
int ns_table_lookup(const struct ns_table *t, const char *name, size_t len,
		    struct ns_node_data *out);

/* Batch form of ns_table_lookup for long candidate lists: hash every name,
 * prefetch its index slot some names ahead (ns_table_prefetch), its entry
 * a few names later (ns_table_prefetch_entry, which reads the then cached
 * slot), then look up with the hash. Memory latency, not work, dominates a
 * cold 5,000-name lookup. Prefetches are hints: any order is correct. */
uint32_t ns_table_hash(const char *name, size_t len);
void ns_table_prefetch(const struct ns_table *t, uint32_t hash);
void ns_table_prefetch_entry(const struct ns_table *t, uint32_t hash);
int ns_table_lookup_hash(const struct ns_table *t, const char *name, size_t len, uint32_t hash,
			 struct ns_node_data *out);

/* Copies up to cap entries into out (unordered); returns how many. */
size_t ns_table_snapshot(const struct ns_table *t, struct ns_node_entry *out, size_t cap);

uint32_t ns_table_size(const struct ns_table *t);
uint32_t ns_table_max_nodes(const struct ns_table *t);
/* Messages with outcome st so far (NS_WIRE_OK: accepted). */
uint64_t ns_table_count(const struct ns_table *t, enum ns_wire_status st);
/* Entries whose last message is older than ttl_ms. */
uint32_t ns_table_stale(const struct ns_table *t, uint64_t now_mono_ms, uint64_t ttl_ms);

#endif
