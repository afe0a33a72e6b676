// SPDX-License-Identifier: MIT
/* Score table: open addressing hash of node name -> latest message. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "nodescore/replay.h"
#include "nodescore/table.h"

#define TABLE_MAX_NODES 1000000u
#define DATA_WORDS 6
#define HUGE_PAGE (2u << 20)
/* Compaction (dropping long-silent nodes when full) runs at most this
 * often; a retired slot array is freed one compaction later, so readers
 * get at least this long to finish with it. */
#define COMPACT_MIN_MS 60000u

/*
 * Slots are claimed by the single writer and never renamed, so a reader
 * that sees `used` (acquire) may read name/len/hash without a lock.
 * The payload changes on every message: it is a seqlock over atomic words,
 * so readers never block the subscriber and never see a torn copy.
 * A slot is two cache lines: the first holds everything but the name, the
 * second the name; the writer's replay state lives in a separate array.
 */
struct slot {
	_Alignas(64) atomic_uint used;
	uint32_t hash;
	atomic_uint seq;
	uint8_t len;
	_Atomic uint64_t w[DATA_WORDS];
	char name[NS_WIRE_NAME_MAX];
};

/* One generation of slots. Replaced as a whole by compaction (RCU-like:
 * readers load the pointer once per call). */
struct tab {
	struct slot *slots;
	struct ns_replay_state *replay; /* writer only, indexed like slots */
	uint32_t mask;
	atomic_uint size;
};

struct ns_table {
	_Atomic(struct tab *) cur;
	struct tab *retired; /* previous generation, freed at the next compaction */
	uint32_t max_nodes;
	uint64_t evict_ms; /* writer only; 0: never evict */
	uint64_t last_compact_ms;
	_Atomic uint64_t evicted;
	_Atomic uint64_t counts[NS_WIRE_STATUS_COUNT];
};

/* Eight bytes per multiply: byte-at-a-time hashes are a serial multiply
 * chain and showed up as a third of a 5,000-name prioritize. Names are
 * authenticated (agents) or come from the scheduler, so no keyed hash. */
uint32_t ns_table_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	if (n) {
		w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	}
	h ^= h >> 29;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static void tab_free(struct tab *tb)
{
	if (!tb)
		return;
	free(tb->slots);
	free(tb->replay);
	free(tb);
}

static struct tab *tab_new(uint32_t cap)
{
	struct tab *tb = calloc(1, sizeof(*tb));
	/* Huge pages where the kernel allows: a 5,000-name lookup touches
	 * 5,000 random slots, and 4 kB pages made that mostly TLB misses. */
	size_t bytes = ((size_t)cap * sizeof(struct slot) + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);

	if (!tb)
		return NULL;
	tb->slots = aligned_alloc(HUGE_PAGE, bytes);
	if (tb->slots)
		madvise(tb->slots, bytes, MADV_HUGEPAGE);
	tb->replay = calloc(cap, sizeof(*tb->replay));
	if (!tb->slots || !tb->replay) {
		tab_free(tb);
		return NULL;
	}
	memset(tb->slots, 0, bytes);
	tb->mask = cap - 1;
	return tb;
}

struct ns_table *ns_table_new(uint32_t max_nodes)
{
	struct ns_table *t;
	struct tab *tb;
	uint32_t cap = 16;

	if (max_nodes == 0 || max_nodes > TABLE_MAX_NODES)
		return NULL;
	while (cap < 2 * max_nodes)
		cap <<= 1;
	t = calloc(1, sizeof(*t));
	tb = tab_new(cap);
	if (!t || !tb) {
		free(t);
		tab_free(tb);
		return NULL;
	}
	atomic_init(&t->cur, tb);
	t->max_nodes = max_nodes;
	return t;
}

void ns_table_free(struct ns_table *t)
{
	if (!t)
		return;
	tab_free(atomic_load(&t->cur));
	tab_free(t->retired);
	free(t);
}

void ns_table_set_eviction(struct ns_table *t, uint64_t evict_after_ms)
{
	t->evict_ms = evict_after_ms;
}

uint64_t ns_table_evicted(const struct ns_table *t)
{
	return atomic_load_explicit(&t->evicted, memory_order_relaxed);
}

static const struct tab *cur(const struct ns_table *t)
{
	return atomic_load_explicit(&((struct ns_table *)t)->cur, memory_order_acquire);
}

/* Returns the slot holding name, or (insert != NULL) the empty slot where it would go. */
static struct slot *find(const struct tab *t, const char *name, size_t len, uint32_t h,
			 struct slot **empty)
{
	uint32_t i = h & t->mask;

	if (empty)
		*empty = NULL;
	/* Load stays <= 1/2, so an empty slot always ends the probe. */
	for (uint32_t n = 0; n <= t->mask; n++, i = (i + 1) & t->mask) {
		struct slot *s = &t->slots[i];
		if (!atomic_load_explicit(&s->used, memory_order_acquire)) {
			if (empty)
				*empty = s;
			return NULL;
		}
		if (s->hash == h && s->len == len && memcmp(s->name, name, len) == 0)
			return s;
	}
	return NULL;
}

static void pack(const struct ns_msg *m, uint64_t recv_mono_ms, uint64_t w[DATA_WORDS])
{
	w[0] = (uint64_t)m->score | (uint64_t)m->anomaly << 16 | (uint64_t)m->flags << 32 |
	       (uint64_t)m->pods << 40;
	w[1] = (uint64_t)m->cpu_now | (uint64_t)m->mem_now << 16 | (uint64_t)m->cpu_peak_fc << 32 |
	       (uint64_t)m->mem_peak_fc << 48;
	w[2] = (uint64_t)m->free_millicores | (uint64_t)m->free_mib << 32;
	w[3] = m->rtt_p99_us;
	w[4] = m->ts_ms;
	w[5] = recv_mono_ms;
}

static void unpack(const uint64_t w[DATA_WORDS], struct ns_node_data *d)
{
	d->score = (uint16_t)w[0];
	d->anomaly = (uint16_t)(w[0] >> 16);
	d->flags = (uint8_t)(w[0] >> 32);
	d->pods = (uint16_t)(w[0] >> 40);
	d->cpu_now = (uint16_t)w[1];
	d->mem_now = (uint16_t)(w[1] >> 16);
	d->cpu_peak_fc = (uint16_t)(w[1] >> 32);
	d->mem_peak_fc = (uint16_t)(w[1] >> 48);
	d->free_millicores = (uint32_t)w[2];
	d->free_mib = (uint32_t)(w[2] >> 32);
	d->rtt_p99_us = (uint32_t)w[3];
	d->ts_ms = w[4];
	d->recv_mono_ms = w[5];
}

static void store(struct slot *s, const uint64_t w[DATA_WORDS])
{
	unsigned q = atomic_load_explicit(&s->seq, memory_order_relaxed);

	atomic_store_explicit(&s->seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (int i = 0; i < DATA_WORDS; i++)
		atomic_store_explicit(&s->w[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&s->seq, q + 2, memory_order_release);
}

static void load(const struct slot *s, struct ns_node_data *d)
{
	uint64_t w[DATA_WORDS];
	unsigned q1, q2;

	/* The writer holds a slot odd for a few stores and never blocks inside,
	 * so this retries at most a handful of times. */
	do {
		q1 = atomic_load_explicit(&s->seq, memory_order_acquire);
		for (int i = 0; i < DATA_WORDS; i++)
			w[i] = atomic_load_explicit(&s->w[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		q2 = atomic_load_explicit(&s->seq, memory_order_relaxed);
	} while ((q1 & 1) || q1 != q2);
	unpack(w, d);
}

void ns_table_count_reject(struct ns_table *t, enum ns_wire_status st)
{
	if ((unsigned)st < NS_WIRE_STATUS_COUNT)
		atomic_fetch_add_explicit(&t->counts[st], 1, memory_order_relaxed);
}

/* Moves every node heard from within evict_ms into a fresh generation and
 * retires the current one. Writer only. Returns 1 if room was made. */
static int compact(struct ns_table *t, uint64_t now_mono_ms)
{
	struct tab *old = atomic_load_explicit(&t->cur, memory_order_relaxed), *nt;
	uint32_t victims = 0;

	if (!t->evict_ms || (t->last_compact_ms && now_mono_ms - t->last_compact_ms < COMPACT_MIN_MS))
		return 0;
	t->last_compact_ms = now_mono_ms;
	for (uint32_t i = 0; i <= old->mask; i++) {
		const struct slot *s = &old->slots[i];
		uint64_t recv = atomic_load_explicit(&s->w[5], memory_order_relaxed);
		if (atomic_load_explicit(&s->used, memory_order_relaxed) && now_mono_ms > recv &&
		    now_mono_ms - recv > t->evict_ms)
			victims++;
	}
	if (!victims || !(nt = tab_new(old->mask + 1)))
		return 0;
	for (uint32_t i = 0; i <= old->mask; i++) {
		const struct slot *s = &old->slots[i];
		struct slot *d, *empty;
		uint64_t recv = atomic_load_explicit(&s->w[5], memory_order_relaxed);
		if (!atomic_load_explicit(&s->used, memory_order_relaxed) ||
		    (now_mono_ms > recv && now_mono_ms - recv > t->evict_ms))
			continue;
		find(nt, s->name, s->len, s->hash, &empty);
		d = empty;
		d->hash = s->hash;
		d->len = s->len;
		memcpy(d->name, s->name, s->len);
		for (int k = 0; k < DATA_WORDS; k++)
			atomic_store_explicit(&d->w[k],
					      atomic_load_explicit(&s->w[k], memory_order_relaxed),
					      memory_order_relaxed);
		nt->replay[d - nt->slots] = old->replay[s - old->slots];
		atomic_store_explicit(&d->used, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&nt->size, 1, memory_order_relaxed);
	}
	atomic_store_explicit(&t->cur, nt, memory_order_release);
	/* Retired COMPACT_MIN_MS ago at least: no reader still holds it. */
	tab_free(t->retired);
	t->retired = old;
	atomic_fetch_add_explicit(&t->evicted, victims, memory_order_relaxed);
	return 1;
}

enum ns_wire_status ns_table_ingest(struct ns_table *t, const uint8_t *buf, size_t len,
				    const uint8_t *key, size_t key_len, uint64_t now_ms,
				    uint64_t now_mono_ms, uint64_t skew_ms)
{
	static const struct ns_replay_state fresh;
	struct tab *tb = atomic_load_explicit(&t->cur, memory_order_relaxed);
	struct ns_msg m;
	struct slot *s, *empty;
	enum ns_wire_status st;
	uint64_t w[DATA_WORDS];
	uint32_t h;

	st = ns_wire_decode(buf, len, key, key_len, &m);
	if (st != NS_WIRE_OK)
		goto out;
	h = ns_table_hash(m.name, m.name_len);
	s = find(tb, m.name, m.name_len, h, &empty);
	st = ns_replay_check(s ? &tb->replay[s - tb->slots] : &fresh, &m, now_ms, skew_ms);
	if (st != NS_WIRE_OK)
		goto out;
	pack(&m, now_mono_ms, w);
	if (!s) {
		if (atomic_load_explicit(&tb->size, memory_order_relaxed) >= t->max_nodes) {
			if (!compact(t, now_mono_ms)) {
				st = NS_WIRE_ERR_TABLE_FULL;
				goto out;
			}
			tb = atomic_load_explicit(&t->cur, memory_order_relaxed);
			find(tb, m.name, m.name_len, h, &empty);
			if (atomic_load_explicit(&tb->size, memory_order_relaxed) >= t->max_nodes) {
				st = NS_WIRE_ERR_TABLE_FULL;
				goto out;
			}
		}
		if (!empty) {
			st = NS_WIRE_ERR_TABLE_FULL;
			goto out;
		}
		s = empty;
		s->hash = h;
		s->len = m.name_len;
		memcpy(s->name, m.name, m.name_len);
		for (int i = 0; i < DATA_WORDS; i++)
			atomic_store_explicit(&s->w[i], w[i], memory_order_relaxed);
		ns_replay_commit(&tb->replay[s - tb->slots], &m);
		/* Publish the name and first payload together. */
		atomic_store_explicit(&s->used, 1, memory_order_release);
		atomic_fetch_add_explicit(&tb->size, 1, memory_order_relaxed);
		goto out;
	}
	store(s, w);
	ns_replay_commit(&tb->replay[s - tb->slots], &m);
out:
	ns_table_count_reject(t, st);
	return st;
}

void ns_table_prefetch(const struct ns_table *t, uint32_t hash)
{
	const struct tab *tb = cur(t);
	const char *s = (const char *)&tb->slots[hash & tb->mask];

	__builtin_prefetch(s);
	__builtin_prefetch(s + 64);
}

int ns_table_lookup_hash(const struct ns_table *t, const char *name, size_t len, uint32_t hash,
			 struct ns_node_data *out)
{
	const struct slot *s;

	if (len == 0 || len > NS_WIRE_NAME_MAX)
		return 0;
	s = find(cur(t), name, len, hash, NULL);
	if (!s)
		return 0;
	load(s, out);
	return 1;
}

int ns_table_lookup(const struct ns_table *t, const char *name, size_t len,
		    struct ns_node_data *out)
{
	/* Over-long names cannot be in the table: do not even hash them. */
	if (len == 0 || len > NS_WIRE_NAME_MAX)
		return 0;
	return ns_table_lookup_hash(t, name, len, ns_table_hash(name, len), out);
}

size_t ns_table_snapshot(const struct ns_table *t, struct ns_node_entry *out, size_t cap)
{
	const struct tab *tb = cur(t);
	size_t n = 0;

	for (uint32_t i = 0; i <= tb->mask && n < cap; i++) {
		const struct slot *s = &tb->slots[i];
		if (!atomic_load_explicit(&s->used, memory_order_acquire))
			continue;
		memcpy(out[n].name, s->name, s->len);
		out[n].name[s->len] = '\0';
		load(s, &out[n].d);
		n++;
	}
	return n;
}

uint32_t ns_table_size(const struct ns_table *t)
{
	return atomic_load_explicit(&cur(t)->size, memory_order_relaxed);
}

uint32_t ns_table_max_nodes(const struct ns_table *t)
{
	return t->max_nodes;
}

uint64_t ns_table_count(const struct ns_table *t, enum ns_wire_status st)
{
	if ((unsigned)st >= NS_WIRE_STATUS_COUNT)
		return 0;
	return atomic_load_explicit(&t->counts[st], memory_order_relaxed);
}

uint32_t ns_table_stale(const struct ns_table *t, uint64_t now_mono_ms, uint64_t ttl_ms)
{
	const struct tab *tb = cur(t);
	uint32_t n = 0;
	struct ns_node_data d;

	for (uint32_t i = 0; i <= tb->mask; i++) {
		const struct slot *s = &tb->slots[i];
		if (!atomic_load_explicit(&s->used, memory_order_acquire))
			continue;
		load(s, &d);
		if (now_mono_ms > d.recv_mono_ms && now_mono_ms - d.recv_mono_ms > ttl_ms)
			n++;
	}
	return n;
}
