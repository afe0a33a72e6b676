// SPDX-License-Identifier: MIT
/* Score table: open addressing index of node name -> latest message. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium.h>

#include "nodescore/key.h"
#include "nodescore/replay.h"
#include "nodescore/table.h"

#define TABLE_MAX_NODES 1000000u
#define DATA_WORDS 6
#define HUGE_PAGE (2u << 20)
/* Compaction (dropping long-silent nodes when full) runs at most this
 * often; a retired generation is freed one compaction later, so readers
 * get at least this long to finish with it. */
#define COMPACT_MIN_MS 60000u

/* Which master key a cached node key was derived from (tab.keys_valid). */
enum key_slot {
	KEY_NONE = 0,
	KEY_CURRENT = 1,
	KEY_NEXT = 2,
};

/*
 * Two arrays per generation:
 *  - idx: the open addressing index, power of two >= 2 x max_nodes, one
 *    64-bit word per slot: hash << 32 | (entry number + 1), 0 when empty.
 *    256 kB for 10,000 nodes: probes stay in cache.
 *  - entries: dense, in insertion order, two cache lines each (payload
 *    line, name line); only as many are touched as there are nodes.
 * Entries are filled by the single writer before their index word is
 * published (release) and are never renamed, so readers need no lock for
 * the name. The payload changes on every message: it is a seqlock over
 * atomic words, so readers never block the subscriber and never see a torn
 * copy. The writer's replay state lives in a third array, off the read path.
 */
struct entry {
	_Alignas(64) atomic_uint seq;
	uint32_t hash;
	uint8_t len;
	_Atomic uint64_t w[DATA_WORDS];
	char name[NS_WIRE_NAME_MAX];
};

/* One generation. Replaced as a whole by compaction (RCU-like: readers
 * load the pointer once per call). */
struct tab {
	_Atomic uint64_t *idx;
	struct entry *entries;
	struct ns_replay_state *replay;	  /* writer only, indexed like entries */
	uint8_t (*keys)[NS_NODE_KEY_LEN]; /* writer only: each node's derived key */
	uint8_t *keys_valid; /* writer only: enum key_slot keys[i] came from, KEY_NONE: none */
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
	uint64_t future_ms; /* writer only */
	/* Writer only: the master key the PRK was computed from. */
	struct ns_key master;
	uint8_t prk[NS_HKDF_HASH_LEN];
	int shared_keys; /* compatibility: agents sign with the master key itself */
	/* Rotation window (writer only): the next master key and its PRK. */
	int has_next;
	struct ns_key next;
	uint8_t next_prk[NS_HKDF_HASH_LEN];
	/* Messages verified under the current and the next master key, counted
	 * while has_next (indexed by enum key_slot - 1). */
	_Atomic uint64_t verified[2];
};

/* Eight bytes per multiply: byte-at-a-time hashes are a serial multiply
 * chain and showed up as a third of a 5,000-name prioritize. The tail is
 * one overlapping load (a byte-wise copy into a word stalled on store
 * forwarding). Names are authenticated (agents) or come from the
 * scheduler, so no keyed hash. */
uint32_t ns_table_hash(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
	const char *p = s;
	size_t left = n;

	for (; left > 8; p += 8, left -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	if (n >= 8) {
		memcpy(&w, s + n - 8, 8);
	} else if (n >= 4) {
		uint32_t lo, hi;
		memcpy(&lo, s, 4);
		memcpy(&hi, s + n - 4, 4);
		w = (uint64_t)hi << 32 | lo;
	} else {
		w = 0;
		for (size_t i = 0; i < n; i++)
			w = w << 8 | (uint8_t)s[i];
	}
	h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 29;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 32;
	return (uint32_t)h;
}

static void tab_free(struct tab *tb)
{
	if (!tb)
		return;
	free(tb->idx);
	free(tb->entries);
	free(tb->replay);
	if (tb->keys)
		sodium_memzero(tb->keys, (size_t)(tb->mask + 1) / 2 * NS_NODE_KEY_LEN);
	free(tb->keys);
	free(tb->keys_valid);
	free(tb);
}

/* Huge pages where the kernel allows: a 5,000-name lookup touches 5,000
 * random places, and 4 kB pages made that mostly TLB misses. */
static void *alloc_zeroed_huge(size_t bytes)
{
	void *p;

	bytes = (bytes + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	p = aligned_alloc(HUGE_PAGE, bytes);
	if (!p)
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE);
	memset(p, 0, bytes);
	return p;
}

static struct tab *tab_new(uint32_t cap, uint32_t max_nodes)
{
	struct tab *tb = calloc(1, sizeof(*tb));

	if (!tb)
		return NULL;
	tb->idx = alloc_zeroed_huge((size_t)cap * sizeof(*tb->idx));
	tb->entries = alloc_zeroed_huge((size_t)max_nodes * sizeof(*tb->entries));
	tb->replay = calloc(max_nodes, sizeof(*tb->replay));
	tb->keys = calloc(cap / 2, sizeof(*tb->keys));
	tb->keys_valid = calloc(cap / 2, 1);
	if (!tb->idx || !tb->entries || !tb->replay || !tb->keys || !tb->keys_valid) {
		tab_free(tb);
		return NULL;
	}
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
	tb = tab_new(cap, max_nodes);
	if (!t || !tb) {
		free(t);
		tab_free(tb);
		return NULL;
	}
	atomic_init(&t->cur, tb);
	t->max_nodes = max_nodes;
	t->future_ms = NS_REPLAY_FUTURE_MS;
	return t;
}

void ns_table_free(struct ns_table *t)
{
	if (!t)
		return;
	tab_free(atomic_load(&t->cur));
	tab_free(t->retired);
	ns_key_wipe(&t->master);
	sodium_memzero(t->prk, sizeof(t->prk));
	ns_key_wipe(&t->next);
	sodium_memzero(t->next_prk, sizeof(t->next_prk));
	free(t);
}

void ns_table_set_future_skew(struct ns_table *t, uint64_t future_ms)
{
	t->future_ms = future_ms;
}

void ns_table_set_shared_keys(struct ns_table *t, int shared)
{
	t->shared_keys = shared;
}

void ns_table_set_next_key(struct ns_table *t, const struct ns_key *next)
{
	struct tab *tb = atomic_load_explicit(&t->cur, memory_order_relaxed);

	ns_key_wipe(&t->next);
	sodium_memzero(t->next_prk, sizeof(t->next_prk));
	t->has_next = next != NULL;
	if (next) {
		t->next = *next;
		ns_key_node_prk(&t->next, t->next_prk);
	}
	/* Keys cached from a next key that is gone must not verify again. */
	for (uint32_t i = 0; i < (tb->mask + 1) / 2; i++)
		if (tb->keys_valid[i] == KEY_NEXT) {
			sodium_memzero(tb->keys[i], NS_NODE_KEY_LEN);
			tb->keys_valid[i] = KEY_NONE;
		}
}

int ns_table_has_next_key(const struct ns_table *t)
{
	return t->has_next;
}

uint64_t ns_table_key_verified(const struct ns_table *t, int next)
{
	return atomic_load_explicit(&t->verified[next ? 1 : 0], memory_order_relaxed);
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

/* Returns the entry holding name, or NULL and (if empty != NULL) the index
 * slot where it would go. */
static struct entry *find(const struct tab *tb, const char *name, size_t len, uint32_t h,
			  _Atomic uint64_t **empty)
{
	uint32_t i = h & tb->mask;

	if (empty)
		*empty = NULL;
	/* Load stays <= 1/2, so an empty slot always ends the probe. */
	for (uint32_t n = 0; n <= tb->mask; n++, i = (i + 1) & tb->mask) {
		uint64_t v = atomic_load_explicit(&tb->idx[i], memory_order_acquire);
		struct entry *e;
		if (!v) {
			if (empty)
				*empty = &tb->idx[i];
			return NULL;
		}
		if ((uint32_t)(v >> 32) != h)
			continue;
		e = &tb->entries[(uint32_t)v - 1];
		if (e->len == len && memcmp(e->name, name, len) == 0)
			return e;
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

static void store(struct entry *e, const uint64_t w[DATA_WORDS])
{
	unsigned q = atomic_load_explicit(&e->seq, memory_order_relaxed);

	atomic_store_explicit(&e->seq, q + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (int i = 0; i < DATA_WORDS; i++)
		atomic_store_explicit(&e->w[i], w[i], memory_order_relaxed);
	atomic_store_explicit(&e->seq, q + 2, memory_order_release);
}

static void load(const struct entry *e, struct ns_node_data *d)
{
	uint64_t w[DATA_WORDS];
	unsigned q1, q2;

	/* The writer holds an entry odd for a few stores and never blocks
	 * inside, so this retries at most a handful of times. */
	do {
		q1 = atomic_load_explicit(&e->seq, memory_order_acquire);
		for (int i = 0; i < DATA_WORDS; i++)
			w[i] = atomic_load_explicit(&e->w[i], memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		q2 = atomic_load_explicit(&e->seq, memory_order_relaxed);
	} while ((q1 & 1) || q1 != q2);
	unpack(w, d);
}

void ns_table_count_reject(struct ns_table *t, enum ns_wire_status st)
{
	if ((unsigned)st < NS_WIRE_STATUS_COUNT)
		atomic_fetch_add_explicit(&t->counts[st], 1, memory_order_relaxed);
}

/* Appends a new entry (writer only) and publishes it in slot. */
static struct entry *insert(struct tab *tb, _Atomic uint64_t *slot, const char *name, uint8_t len,
			    uint32_t h, const uint64_t w[DATA_WORDS],
			    const struct ns_replay_state *rs, const uint8_t *key)
{
	uint32_t n = atomic_load_explicit(&tb->size, memory_order_relaxed);
	struct entry *e = &tb->entries[n];

	e->hash = h;
	e->len = len;
	memcpy(e->name, name, len);
	for (int i = 0; i < DATA_WORDS; i++)
		atomic_store_explicit(&e->w[i], w[i], memory_order_relaxed);
	tb->replay[n] = *rs;
	memcpy(tb->keys[n], key, NS_NODE_KEY_LEN);
	/* Publish the name and first payload together. */
	atomic_store_explicit(slot, (uint64_t)h << 32 | (n + 1), memory_order_release);
	atomic_store_explicit(&tb->size, n + 1, memory_order_release);
	return e;
}

/* Moves every node heard from within evict_ms into a fresh generation and
 * retires the current one. Writer only. Returns 1 if room was made. */
static int compact(struct ns_table *t, uint64_t now_mono_ms)
{
	struct tab *old = atomic_load_explicit(&t->cur, memory_order_relaxed), *nt;
	uint32_t n = atomic_load_explicit(&old->size, memory_order_relaxed), victims = 0;

	if (!t->evict_ms ||
	    (t->last_compact_ms && now_mono_ms - t->last_compact_ms < COMPACT_MIN_MS))
		return 0;
	t->last_compact_ms = now_mono_ms;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t recv = atomic_load_explicit(&old->entries[i].w[5], memory_order_relaxed);
		victims += now_mono_ms > recv && now_mono_ms - recv > t->evict_ms;
	}
	if (!victims || !(nt = tab_new(old->mask + 1, t->max_nodes)))
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct entry *e = &old->entries[i];
		uint64_t w[DATA_WORDS];
		_Atomic uint64_t *slot;
		for (int k = 0; k < DATA_WORDS; k++)
			w[k] = atomic_load_explicit(&e->w[k], memory_order_relaxed);
		if (now_mono_ms > w[5] && now_mono_ms - w[5] > t->evict_ms)
			continue;
		find(nt, e->name, e->len, e->hash, &slot);
		insert(nt, slot, e->name, e->len, e->hash, w, &old->replay[i], old->keys[i]);
		nt->keys_valid[atomic_load_explicit(&nt->size, memory_order_relaxed) - 1] =
		    old->keys_valid[i];
	}
	atomic_store_explicit(&t->cur, nt, memory_order_release);
	/* Retired COMPACT_MIN_MS ago at least: no reader still holds it. */
	tab_free(t->retired);
	t->retired = old;
	atomic_fetch_add_explicit(&t->evicted, victims, memory_order_relaxed);
	return 1;
}

/* The per-node key of name under master key slot (KEY_CURRENT or KEY_NEXT). */
static void node_key(const struct ns_table *t, enum key_slot slot, const char *name,
		     size_t name_len, uint8_t out[NS_NODE_KEY_LEN])
{
	ns_key_node_from_prk(slot == KEY_NEXT ? t->next_prk : t->prk, name, name_len, out);
}

/* Verification during a rotation window: first the key that verified the
 * node's last message (cached with its entry; a new node starts with the
 * current key), then the other master's key for the name. A node that
 * has moved to the next key thus costs one MAC check per message, as
 * before; only a message that fails both costs two. On return nkey holds
 * the key tried last and *slot its master. */
static enum ns_wire_status verify_rotating(const struct ns_table *t, const struct tab *tb,
					   const struct entry *e, const uint8_t *buf, size_t len,
					   const char *name, size_t name_len,
					   uint8_t nkey[NS_NODE_KEY_LEN], enum key_slot *slot,
					   struct ns_msg *m)
{
	enum ns_wire_status st;
	size_t i = e ? (size_t)(e - tb->entries) : 0;

	*slot = KEY_CURRENT;
	if (e && tb->keys_valid[i] != KEY_NONE) {
		*slot = (enum key_slot)tb->keys_valid[i];
		memcpy(nkey, tb->keys[i], NS_NODE_KEY_LEN);
	} else {
		node_key(t, *slot, name, name_len, nkey);
	}
	st = ns_wire_decode(buf, len, nkey, NS_NODE_KEY_LEN, m);
	if (st != NS_WIRE_ERR_MAC)
		return st;
	*slot = *slot == KEY_CURRENT ? KEY_NEXT : KEY_CURRENT;
	node_key(t, *slot, name, name_len, nkey);
	return ns_wire_decode(buf, len, nkey, NS_NODE_KEY_LEN, m);
}

enum ns_wire_status ns_table_ingest(struct ns_table *t, const uint8_t *buf, size_t len,
				    const uint8_t *key, size_t key_len, uint64_t now_ms,
				    uint64_t now_mono_ms, uint64_t skew_ms)
{
	static const struct ns_replay_state fresh;
	struct tab *tb = atomic_load_explicit(&t->cur, memory_order_relaxed);
	struct ns_replay_state rs = fresh;
	_Atomic uint64_t *slot;
	struct ns_msg m;
	struct entry *e;
	enum ns_wire_status st;
	uint64_t w[DATA_WORDS];
	uint8_t nkey[NS_NODE_KEY_LEN];
	enum key_slot kslot = KEY_CURRENT;
	const char *name;
	size_t name_len;
	uint32_t h;

	st = ns_wire_peek_name(buf, len, &name, &name_len);
	if (st != NS_WIRE_OK)
		goto out;
	if (key_len != t->master.len || sodium_memcmp(key, t->master.bytes, key_len) != 0) {
		memcpy(t->master.bytes, key, key_len);
		t->master.len = key_len;
		ns_key_node_prk(&t->master, t->prk);
		/* Cached node keys came from the old master: start over. */
		sodium_memzero(tb->keys, (size_t)(tb->mask + 1) / 2 * NS_NODE_KEY_LEN);
		memset(tb->keys_valid, 0, (size_t)(tb->mask + 1) / 2);
	}
	h = ns_table_hash(name, name_len);
	e = find(tb, name, name_len, h, &slot);
	if (t->shared_keys) {
		st = ns_wire_decode(buf, len, key, key_len, &m);
		if (st == NS_WIRE_ERR_MAC && t->has_next) {
			kslot = KEY_NEXT;
			st = ns_wire_decode(buf, len, t->next.bytes, t->next.len, &m);
		}
		memset(nkey, 0, sizeof(nkey));
	} else if (!t->has_next) {
		/* The name is unverified here: it only selects which key to try;
		 * a node's key is derived once and cached with its entry. */
		if (e && tb->keys_valid[e - tb->entries])
			memcpy(nkey, tb->keys[e - tb->entries], sizeof(nkey));
		else
			ns_key_node_from_prk(t->prk, name, name_len, nkey);
		st = ns_wire_decode(buf, len, nkey, sizeof(nkey), &m);
	} else {
		st = verify_rotating(t, tb, e, buf, len, name, name_len, nkey, &kslot, &m);
	}
	if (st != NS_WIRE_OK)
		goto out;
	if (t->has_next)
		atomic_fetch_add_explicit(&t->verified[kslot - 1], 1, memory_order_relaxed);
	if (e && !t->shared_keys && tb->keys_valid[e - tb->entries] != kslot) {
		memcpy(tb->keys[e - tb->entries], nkey, sizeof(nkey));
		tb->keys_valid[e - tb->entries] = (uint8_t)kslot;
	}
	st = ns_replay_check(e ? &tb->replay[e - tb->entries] : &fresh, &m, now_ms, skew_ms,
			     t->future_ms);
	if (st != NS_WIRE_OK)
		goto out;
	pack(&m, now_mono_ms, w);
	if (e) {
		store(e, w);
		ns_replay_commit(&tb->replay[e - tb->entries], &m);
		goto out;
	}
	if (atomic_load_explicit(&tb->size, memory_order_relaxed) >= t->max_nodes) {
		if (!compact(t, now_mono_ms)) {
			st = NS_WIRE_ERR_TABLE_FULL;
			goto out;
		}
		tb = atomic_load_explicit(&t->cur, memory_order_relaxed);
		find(tb, m.name, m.name_len, h, &slot);
		if (atomic_load_explicit(&tb->size, memory_order_relaxed) >= t->max_nodes) {
			st = NS_WIRE_ERR_TABLE_FULL;
			goto out;
		}
	}
	if (!slot) {
		st = NS_WIRE_ERR_TABLE_FULL;
		goto out;
	}
	ns_replay_commit(&rs, &m);
	e = insert(tb, slot, m.name, m.name_len, h, w, &rs, nkey);
	tb->keys_valid[e - tb->entries] = t->shared_keys ? KEY_NONE : (uint8_t)kslot;
out:
	sodium_memzero(nkey, sizeof(nkey));
	ns_table_count_reject(t, st);
	return st;
}

void ns_table_prefetch(const struct ns_table *t, uint32_t hash)
{
	const struct tab *tb = cur(t);

	__builtin_prefetch(&tb->idx[hash & tb->mask]);
}

void ns_table_prefetch_entry(const struct ns_table *t, uint32_t hash)
{
	const struct tab *tb = cur(t);
	uint64_t v = atomic_load_explicit(&tb->idx[hash & tb->mask], memory_order_relaxed);

	/* First probe only: with the index at most half full that is the
	 * entry nearly always. */
	if (v && (uint32_t)(v >> 32) == hash) {
		const char *e = (const char *)&tb->entries[(uint32_t)v - 1];
		__builtin_prefetch(e);
		__builtin_prefetch(e + 64);
	}
}

int ns_table_lookup_hash(const struct ns_table *t, const char *name, size_t len, uint32_t hash,
			 struct ns_node_data *out)
{
	const struct entry *e;

	if (len == 0 || len > NS_WIRE_NAME_MAX)
		return 0;
	e = find(cur(t), name, len, hash, NULL);
	if (!e)
		return 0;
	load(e, out);
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
	/* Entries below size are complete: size is stored after each one. */
	uint32_t n = atomic_load_explicit(&tb->size, memory_order_acquire);
	size_t k = 0;

	for (uint32_t i = 0; i < n && k < cap; i++, k++) {
		const struct entry *e = &tb->entries[i];
		memcpy(out[k].name, e->name, e->len);
		out[k].name[e->len] = '\0';
		load(e, &out[k].d);
	}
	return k;
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
	uint32_t n = atomic_load_explicit(&tb->size, memory_order_acquire), stale = 0;
	struct ns_node_data d;

	for (uint32_t i = 0; i < n; i++) {
		load(&tb->entries[i], &d);
		stale += now_mono_ms > d.recv_mono_ms && now_mono_ms - d.recv_mono_ms > ttl_ms;
	}
	return stale;
}
