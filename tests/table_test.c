// SPDX-License-Identifier: MIT
/* Score table: ingest verification, replay, capacity, concurrent readers. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/clock.h"
#include "nodescore/table.h"
#include "check.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t key2[32] = "0123456789abcdef0123456789abcdeX";
#define NOW 1790000000000ull
#define SKEW 30000

static int enc(const char *name, uint32_t nonce, uint32_t seq, uint64_t ts, uint16_t score,
	       uint8_t *buf)
{
	struct ns_msg m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.boot_nonce = nonce;
	m.seq = seq;
	m.ts_ms = ts;
	m.score = score;
	m.anomaly = 100;
	m.free_millicores = score * 7u;
	m.free_mib = score * 3u;
	m.rtt_p99_us = score * 11u;
	m.cpu_peak_fc = 500;
	return ns_wire_encode_node(&m, key, sizeof(key), buf, NS_WIRE_MAX_LEN);
}

static enum ns_wire_status put(struct ns_table *t, const char *name, uint32_t nonce, uint32_t seq,
			       uint64_t ts, uint16_t score)
{
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n = enc(name, nonce, seq, ts, score, buf);

	if (n < 0)
		return NS_WIRE_ERR_NAME;
	return ns_table_ingest(t, buf, (size_t)n, key, sizeof(key), NOW, 5000, SKEW);
}

static void test_store_and_lookup(void)
{
	struct ns_table *t = ns_table_new(100);
	struct ns_node_data d;

	CHECK(t);
	CHECK_EQ_INT(put(t, "node-a", 1, 1, NOW, 700), NS_WIRE_OK);
	CHECK_EQ_INT(put(t, "node-b", 1, 1, NOW, 300), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_size(t), 2);
	CHECK_EQ_INT(ns_table_lookup(t, "node-a", 6, &d), 1);
	CHECK_EQ_INT(d.score, 700);
	CHECK_EQ_INT(d.free_millicores, 4900);
	CHECK_EQ_INT(d.free_mib, 2100);
	CHECK_EQ_INT(d.rtt_p99_us, 7700);
	CHECK_EQ_INT(d.cpu_peak_fc, 500);
	CHECK_EQ_INT(d.anomaly, 100);
	CHECK(d.ts_ms == NOW);
	CHECK_EQ_INT(d.recv_mono_ms, 5000);
	/* prefix, longer, unknown, empty, over-long names miss */
	CHECK_EQ_INT(ns_table_lookup(t, "node-", 5, &d), 0);
	CHECK_EQ_INT(ns_table_lookup(t, "node-ab", 7, &d), 0);
	CHECK_EQ_INT(ns_table_lookup(t, "node-c", 6, &d), 0);
	CHECK_EQ_INT(ns_table_lookup(t, "", 0, &d), 0);
	CHECK_EQ_INT(ns_table_lookup(t, "node-a", 300, &d), 0);
	/* a newer message replaces the payload, not the entry */
	CHECK_EQ_INT(put(t, "node-a", 1, 2, NOW + 1, 100), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_size(t), 2);
	CHECK_EQ_INT(ns_table_lookup(t, "node-a", 6, &d), 1);
	CHECK_EQ_INT(d.score, 100);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_OK), 3);
	ns_table_free(t);
}

static void test_rejections_leave_table_alone(void)
{
	struct ns_table *t = ns_table_new(4);
	struct ns_node_data d;
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n;

	CHECK(t);
	CHECK_EQ_INT(put(t, "n1", 9, 10, NOW, 500), NS_WIRE_OK);
	/* replayed: same nonce, same or older seq */
	CHECK_EQ_INT(put(t, "n1", 9, 10, NOW, 1), NS_WIRE_ERR_REPLAY);
	CHECK_EQ_INT(put(t, "n1", 9, 9, NOW, 1), NS_WIRE_ERR_REPLAY);
	/* skewed both ways, also for a node never seen */
	CHECK_EQ_INT(put(t, "n1", 9, 11, NOW + SKEW + 1, 1), NS_WIRE_ERR_SKEW);
	CHECK_EQ_INT(put(t, "n1", 9, 11, NOW - SKEW - 1, 1), NS_WIRE_ERR_SKEW);
	CHECK_EQ_INT(put(t, "n9", 9, 11, NOW - SKEW - 1, 1), NS_WIRE_ERR_SKEW);
	/* wrong key */
	n = enc("n1", 9, 12, NOW, 1, buf);
	CHECK_EQ_INT(ns_table_ingest(t, buf, (size_t)n, key2, sizeof(key2), NOW, 1, SKEW),
		     NS_WIRE_ERR_MAC);
	/* garbage and truncated */
	CHECK_EQ_INT(
	    ns_table_ingest(t, (const uint8_t *)"garbage", 7, key, sizeof(key), NOW, 1, SKEW),
	    NS_WIRE_ERR_LENGTH);
	CHECK_EQ_INT(ns_table_ingest(t, buf, (size_t)n - 1, key, sizeof(key), NOW, 1, SKEW),
		     NS_WIRE_ERR_LENGTH);
	CHECK_EQ_INT(ns_table_size(t), 1);
	CHECK_EQ_INT(ns_table_lookup(t, "n1", 2, &d), 1);
	CHECK_EQ_INT(d.score, 500);
	CHECK_EQ_INT(ns_table_lookup(t, "n9", 2, &d), 0);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_ERR_REPLAY), 2);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_ERR_SKEW), 3);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_ERR_MAC), 1);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_ERR_LENGTH), 2);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_OK), 1);
	/* capacity: max_nodes entries, then table_full for new names only */
	CHECK_EQ_INT(put(t, "n2", 1, 1, NOW, 1), NS_WIRE_OK);
	CHECK_EQ_INT(put(t, "n3", 1, 1, NOW, 1), NS_WIRE_OK);
	CHECK_EQ_INT(put(t, "n4", 1, 1, NOW, 1), NS_WIRE_OK);
	CHECK_EQ_INT(put(t, "n5", 1, 1, NOW, 1), NS_WIRE_ERR_TABLE_FULL);
	CHECK_EQ_INT(put(t, "n2", 1, 2, NOW, 2), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_size(t), 4);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_ERR_TABLE_FULL), 1);
	CHECK_EQ_INT(ns_table_stale(t, 5000 + 6000, 6000), 0);
	CHECK_EQ_INT(ns_table_stale(t, 5000 + 6001, 6000), 4);
	ns_table_free(t);
	CHECK(ns_table_new(0) == NULL);
	CHECK(ns_table_new(2000000) == NULL);
}

/* put() with the message signed by the node key derived from master (or,
 * shared, by master itself); the table verifies with key as current. */
static enum ns_wire_status put_signed(struct ns_table *t, const uint8_t *master, int shared,
				      const char *name, uint32_t seq, uint64_t ts)
{
	uint8_t buf[NS_WIRE_MAX_LEN];
	struct ns_msg m;
	int n;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	m.boot_nonce = 1;
	m.seq = seq;
	m.ts_ms = ts;
	m.score = 500;
	n = shared ? ns_wire_encode(&m, master, 32, buf, sizeof(buf))
		   : ns_wire_encode_node(&m, master, 32, buf, sizeof(buf));
	if (n < 0)
		return NS_WIRE_ERR_NAME;
	return ns_table_ingest(t, buf, (size_t)n, key, sizeof(key), NOW, 5000, SKEW);
}

/* Rotation window: old-key and next-key publishers both accepted (a node
 * may switch either way), which key verified is counted, a third key is
 * still bad_mac; ending the window rejects next-key messages again, even
 * for a node whose next-derived key was cached. */
static void test_key_rotation_window(void)
{
	static const uint8_t key3[32] = "0123456789abcdef0123456789abcdeZ";
	struct ns_table *t = ns_table_new(8);
	struct ns_key next;

	CHECK(t);
	CHECK_EQ_INT(ns_table_has_next_key(t), 0);
	/* Without a next key a key2 publisher is refused and nothing counted. */
	CHECK_EQ_INT(put_signed(t, key2, 0, "new-1", 1, NOW), NS_WIRE_ERR_MAC);
	CHECK_EQ_INT(put_signed(t, key, 0, "old-1", 1, NOW), NS_WIRE_OK);
	CHECK(ns_table_key_verified(t, 0) == 0 && ns_table_key_verified(t, 1) == 0);

	memcpy(next.bytes, key2, 32);
	next.len = 32;
	ns_table_set_next_key(t, &next);
	CHECK_EQ_INT(ns_table_has_next_key(t), 1);
	CHECK_EQ_INT(put_signed(t, key, 0, "old-1", 2, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(put_signed(t, key2, 0, "new-1", 2, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(put_signed(t, key2, 0, "new-1", 3, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_key_verified(t, 0), 1);
	CHECK_EQ_INT(ns_table_key_verified(t, 1), 2);
	/* old-1's agent restarts with the new key, then an old replica of it
	 * still signs with the old one: both verify. */
	CHECK_EQ_INT(put_signed(t, key2, 0, "old-1", 3, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(put_signed(t, key, 0, "old-1", 4, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_key_verified(t, 0), 2);
	CHECK_EQ_INT(ns_table_key_verified(t, 1), 3);
	/* Neither key, and one node's next-derived key for another name. */
	CHECK_EQ_INT(put_signed(t, key3, 0, "old-1", 5, NOW), NS_WIRE_ERR_MAC);
	CHECK_EQ_INT(put_signed(t, key3, 0, "stranger", 1, NOW), NS_WIRE_ERR_MAC);
	/* Replay protection is the same whichever key signed. */
	CHECK_EQ_INT(put_signed(t, key2, 0, "new-1", 3, NOW), NS_WIRE_ERR_REPLAY);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_ERR_MAC), 3);
	CHECK_EQ_INT(ns_table_size(t), 2);

	/* End of the window: new-1's cached next-derived key is forgotten. */
	ns_table_set_next_key(t, NULL);
	CHECK_EQ_INT(ns_table_has_next_key(t), 0);
	CHECK_EQ_INT(put_signed(t, key2, 0, "new-1", 4, NOW), NS_WIRE_ERR_MAC);
	CHECK_EQ_INT(put_signed(t, key, 0, "new-1", 4, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(put_signed(t, key, 0, "old-1", 6, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_count(t, NS_WIRE_ERR_MAC), 4);
	/* Not counted outside a window. */
	CHECK_EQ_INT(ns_table_key_verified(t, 0), 2);
	ns_table_free(t);

	/* Shared-key compatibility: the next master itself verifies. */
	t = ns_table_new(8);
	CHECK(t);
	ns_table_set_shared_keys(t, 1);
	ns_table_set_next_key(t, &next);
	CHECK_EQ_INT(put_signed(t, key, 1, "s-old", 1, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(put_signed(t, key2, 1, "s-new", 1, NOW), NS_WIRE_OK);
	CHECK_EQ_INT(put_signed(t, key3, 1, "s-bad", 1, NOW), NS_WIRE_ERR_MAC);
	CHECK_EQ_INT(ns_table_key_verified(t, 0), 1);
	CHECK_EQ_INT(ns_table_key_verified(t, 1), 1);
	ns_table_free(t);
}

static enum ns_wire_status put_at(struct ns_table *t, const char *name, uint32_t seq, uint64_t mono)
{
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n = enc(name, 1, seq, NOW, 100, buf);

	return ns_table_ingest(t, buf, (size_t)n, key, sizeof(key), NOW, mono, SKEW);
}

/* A full table drops nodes silent for longer than the eviction age to make
 * room for a new one, at most once a minute; live nodes are never dropped. */
static void test_eviction_when_full(void)
{
	struct ns_table *t = ns_table_new(3);
	struct ns_node_data d;
	uint64_t m0 = 1000000;

	CHECK(t);
	/* without eviction: full is full */
	CHECK_EQ_INT(put_at(t, "old-1", 1, m0), NS_WIRE_OK);
	CHECK_EQ_INT(put_at(t, "old-2", 1, m0), NS_WIRE_OK);
	CHECK_EQ_INT(put_at(t, "live", 1, m0), NS_WIRE_OK);
	CHECK_EQ_INT(put_at(t, "new-1", 1, m0 + 700000), NS_WIRE_ERR_TABLE_FULL);
	ns_table_set_eviction(t, 600000);
	/* "live" keeps talking; old-1 and old-2 went silent 700 s ago */
	CHECK_EQ_INT(put_at(t, "live", 2, m0 + 700000), NS_WIRE_OK);
	CHECK_EQ_INT(put_at(t, "new-1", 1, m0 + 700000), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_evicted(t), 2);
	CHECK_EQ_INT(ns_table_size(t), 2);
	CHECK_EQ_INT(ns_table_lookup(t, "old-1", 5, &d), 0);
	CHECK_EQ_INT(ns_table_lookup(t, "live", 4, &d), 1);
	CHECK_EQ_INT(ns_table_lookup(t, "new-1", 5, &d), 1);
	/* replay state survives the move */
	CHECK_EQ_INT(put_at(t, "live", 2, m0 + 700001), NS_WIRE_ERR_REPLAY);
	CHECK_EQ_INT(put_at(t, "new-2", 1, m0 + 700001), NS_WIRE_OK);
	/* full of live nodes: nothing to drop */
	CHECK_EQ_INT(put_at(t, "new-3", 1, m0 + 800000), NS_WIRE_ERR_TABLE_FULL);
	/* everything silent, but the last compaction was under a minute ago */
	CHECK_EQ_INT(put_at(t, "new-3", 1, m0 + 800000 + 59000), NS_WIRE_ERR_TABLE_FULL);
	CHECK_EQ_INT(put_at(t, "new-3", 1, m0 + 1400002), NS_WIRE_OK);
	CHECK_EQ_INT(ns_table_evicted(t), 5);
	CHECK_EQ_INT(ns_table_size(t), 1);
	ns_table_free(t);
}

static void test_ten_thousand_nodes(void)
{
	struct ns_table *t = ns_table_new(10000);
	struct ns_node_entry *snap;
	struct ns_node_data d;
	char name[32];
	uint64_t t0, dt;

	CHECK(t);
	t0 = ns_mono_ns();
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "worker-%05d.zone-a", i);
		CHECK_EQ_INT(put(t, name, 1, 1, NOW, (uint16_t)(i % 1001)), NS_WIRE_OK);
	}
	dt = ns_mono_ns() - t0;
	printf("  ingest: %.0f messages/s (verify + store, one thread)\n", 10000 / (dt / 1e9));
	CHECK_EQ_INT(ns_table_size(t), 10000);
	CHECK_EQ_INT(put(t, "one-too-many", 1, 1, NOW, 1), NS_WIRE_ERR_TABLE_FULL);
	t0 = ns_mono_ns();
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "worker-%05d.zone-a", i);
		CHECK_EQ_INT(ns_table_lookup(t, name, strlen(name), &d), 1);
		CHECK_EQ_INT(d.score, i % 1001);
	}
	dt = ns_mono_ns() - t0;
	printf("  lookup: %.0f ns each at 10,000 nodes\n", dt / 10000.0);
	snap = calloc(20000, sizeof(*snap));
	CHECK(snap);
	CHECK_EQ_INT(ns_table_snapshot(t, snap, 20000), 10000);
	CHECK_EQ_INT(ns_table_snapshot(t, snap, 10), 10);
	free(snap);
	ns_table_free(t);
}

struct race {
	struct ns_table *t;
	atomic_int stop;
	atomic_long torn, reads;
};

static void *reader(void *arg)
{
	struct race *r = arg;
	struct ns_node_data d;

	while (!atomic_load(&r->stop)) {
		if (!ns_table_lookup(r->t, "hot", 3, &d))
			continue;
		/* every field was written from the same score */
		if (d.free_millicores != d.score * 7u || d.free_mib != d.score * 3u ||
		    d.rtt_p99_us != d.score * 11u)
			atomic_fetch_add(&r->torn, 1);
		atomic_fetch_add(&r->reads, 1);
	}
	return NULL;
}

/* Readers racing the writer never see a mix of two messages. */
static void test_no_torn_reads(void)
{
	struct race r = {.t = ns_table_new(16)};
	pthread_t th[2];
	uint64_t t0 = ns_mono_ns();

	CHECK(r.t);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&th[i], NULL, reader, &r) == 0);
	for (uint32_t seq = 1; seq <= 100000 && ns_mono_ns() - t0 < 3000000000ull; seq++)
		put(r.t, "hot", 1, seq, NOW, (uint16_t)(seq % 1001));
	atomic_store(&r.stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("  %ld concurrent reads\n", (long)atomic_load(&r.reads));
	CHECK(atomic_load(&r.reads) > 0);
	CHECK_EQ_INT(atomic_load(&r.torn), 0);
	ns_table_free(r.t);
}

int main(void)
{
	RUN(test_store_and_lookup);
	RUN(test_rejections_leave_table_alone);
	RUN(test_key_rotation_window);
	RUN(test_eviction_when_full);
	RUN(test_ten_thousand_nodes);
	RUN(test_no_torn_reads);
	return CHECK_SUMMARY();
}
