// SPDX-License-Identifier: MIT
/* In-flight reservations: a small open-addressing table of holds, probed
 * in a window of a few slots, under one mutex taken once per request. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/reserve.h"

/* Slots probed per name: holds are few and short-lived, so a small window
 * keeps a lookup to one or two cache lines of hashes. */
#define WINDOW 8u
#define SLOTS_MIN 64u
#define SLOTS_MAX (1u << 20)

struct slot {
	uint64_t due_ms;       /* sender clock: a message at or after this has seen the pods */
	uint64_t made_mono_ms; /* last add */
	uint32_t cpu_m, mem_mib;
	uint8_t len; /* 0: free */
	char name[NS_WIRE_NAME_MAX];
};

struct ns_reserve {
	pthread_mutex_t mu;
	uint32_t *hash; /* beside the slots: the probe reads only these */
	struct slot *s;
	uint32_t mask;
	uint64_t settle_ms, hold_ms;
	atomic_uint active;
	_Atomic uint64_t made, settled, expired, replaced;
};

struct ns_reserve *ns_reserve_new(uint32_t slots, uint64_t settle_ms, uint64_t hold_ms)
{
	struct ns_reserve *r;
	uint32_t n = SLOTS_MIN;

	if (slots == 0 || slots > SLOTS_MAX || hold_ms == 0)
		return NULL;
	while (n < slots)
		n <<= 1;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->hash = calloc(n, sizeof(*r->hash));
	r->s = calloc(n, sizeof(*r->s));
	if (!r->hash || !r->s || pthread_mutex_init(&r->mu, NULL)) {
		free(r->hash);
		free(r->s);
		free(r);
		return NULL;
	}
	r->mask = n - 1;
	r->settle_ms = settle_ms;
	r->hold_ms = hold_ms;
	return r;
}

void ns_reserve_free(struct ns_reserve *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->hash);
	free(r->s);
	free(r);
}

void ns_reserve_lock(struct ns_reserve *r)
{
	pthread_mutex_lock(&r->mu);
}

void ns_reserve_unlock(struct ns_reserve *r)
{
	pthread_mutex_unlock(&r->mu);
}

uint32_t ns_reserve_active(const struct ns_reserve *r)
{
	return atomic_load_explicit(&((struct ns_reserve *)r)->active, memory_order_relaxed);
}

static struct slot *find(struct ns_reserve *r, const char *name, size_t len, uint32_t hash)
{
	for (uint32_t k = 0; k < WINDOW; k++) {
		uint32_t i = (hash + k) & r->mask;
		struct slot *s = &r->s[i];
		if (r->hash[i] == hash && s->len == len && memcmp(s->name, name, len) == 0)
			return s;
	}
	return NULL;
}

static void drop(struct ns_reserve *r, struct slot *s, _Atomic uint64_t *why)
{
	s->len = 0;
	r->hash[s - r->s] = 0;
	atomic_fetch_sub_explicit(&r->active, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(why, 1, memory_order_relaxed);
}

int ns_reserve_get(struct ns_reserve *r, const char *name, size_t len, uint32_t hash,
		   const struct ns_node_data *d, uint64_t now_mono_ms, uint32_t *cpu_m,
		   uint32_t *mem_mib)
{
	struct slot *s;

	if (len == 0 || len > NS_WIRE_NAME_MAX || !(s = find(r, name, len, hash)))
		return 0;
	if (d && d->ts_ms >= s->due_ms) {
		drop(r, s, &r->settled);
		return 0;
	}
	if (now_mono_ms > s->made_mono_ms && now_mono_ms - s->made_mono_ms > r->hold_ms) {
		drop(r, s, &r->expired);
		return 0;
	}
	*cpu_m = s->cpu_m;
	*mem_mib = s->mem_mib;
	return 1;
}

static uint32_t sat_add(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

int ns_reserve_add(struct ns_reserve *r, const char *name, size_t len, uint32_t hash,
		   uint64_t now_ms, uint64_t now_mono_ms, uint32_t cpu_m, uint32_t mem_mib)
{
	struct slot *s = NULL, *oldest = NULL;
	int rc = 0;

	if (len == 0 || len > NS_WIRE_NAME_MAX)
		return -EINVAL;
	if (!(s = find(r, name, len, hash))) {
		for (uint32_t k = 0; k < WINDOW && !s; k++) {
			struct slot *c = &r->s[(hash + k) & r->mask];
			if (!c->len || (now_mono_ms > c->made_mono_ms &&
					now_mono_ms - c->made_mono_ms > r->hold_ms))
				s = c;
			else if (!oldest || c->made_mono_ms < oldest->made_mono_ms)
				oldest = c;
		}
		if (!s) {
			s = oldest;
			drop(r, s, &r->replaced);
			rc = -ENOSPC;
		} else if (s->len) {
			drop(r, s, &r->expired);
		}
		memcpy(s->name, name, len);
		s->len = (uint8_t)len;
		s->cpu_m = s->mem_mib = 0;
		r->hash[s - r->s] = hash;
		atomic_fetch_add_explicit(&r->active, 1, memory_order_relaxed);
	}
	s->cpu_m = sat_add(s->cpu_m, cpu_m);
	s->mem_mib = sat_add(s->mem_mib, mem_mib);
	/* The newest pod sets when the whole hold has been measured. */
	s->due_ms = now_ms + r->settle_ms;
	s->made_mono_ms = now_mono_ms;
	atomic_fetch_add_explicit(&r->made, 1, memory_order_relaxed);
	return rc;
}

void ns_reserve_stats(const struct ns_reserve *r, struct ns_reserve_stats *out)
{
	struct ns_reserve *m = (struct ns_reserve *)r;

	out->made = atomic_load_explicit(&m->made, memory_order_relaxed);
	out->settled = atomic_load_explicit(&m->settled, memory_order_relaxed);
	out->expired = atomic_load_explicit(&m->expired, memory_order_relaxed);
	out->replaced = atomic_load_explicit(&m->replaced, memory_order_relaxed);
}
