// SPDX-License-Identifier: MIT
/* Rolling-window count/mean/std/max: Chan/Welford chunk merge with periodic
 * exact re-summation, max by a monotonic deque. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/rolling.h"

size_t ns_roll_storage_bytes(uint32_t cap)
{
	if (cap == 0 || cap > NS_ROLL_MAX_CAP)
		return 0;
	size_t n = (size_t)cap * sizeof(struct ns_roll_chunk) + (size_t)cap * sizeof(uint32_t);
	size_t a = _Alignof(struct ns_roll_chunk);

	/* Rounded up so windows can be laid out back to back in one block. */
	return (n + a - 1) / a * a;
}

void ns_roll_reset(struct ns_roll *r)
{
	r->head = r->filled = r->since_resum = r->seq = 0;
	r->dq_head = r->dq_len = 0;
	r->n = 0;
	r->mean = r->m2 = 0.0;
}

int ns_roll_init(struct ns_roll *r, uint32_t cap, void *mem, size_t len)
{
	size_t need = ns_roll_storage_bytes(cap);

	if (!r || !mem || need == 0 || len < need ||
	    ((uintptr_t)mem % _Alignof(struct ns_roll_chunk)) != 0)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	r->slot = mem;
	r->dq = (uint32_t *)(void *)(r->slot + cap);
	ns_roll_reset(r);
	return 0;
}

int ns_roll_new(uint32_t cap, struct ns_roll **out)
{
	size_t need = ns_roll_storage_bytes(cap);
	struct ns_roll *r;
	void *mem;

	*out = NULL;
	if (need == 0)
		return -EINVAL;
	r = malloc(sizeof(*r));
	mem = malloc(need);
	if (!r || !mem) {
		free(r);
		free(mem);
		return -ENOMEM;
	}
	ns_roll_init(r, cap, mem, need);
	r->owned = mem;
	*out = r;
	return 0;
}

void ns_roll_free(struct ns_roll *r)
{
	if (!r)
		return;
	free(r->owned);
	free(r);
}

void ns_roll_chunk_clear(struct ns_roll_chunk *c)
{
	memset(c, 0, sizeof(*c));
}

void ns_roll_chunk_add(struct ns_roll_chunk *c, double x)
{
	double d;

	if (!isfinite(x))
		return;
	if (c->n == 0 || (float)x > c->max)
		c->max = (float)x;
	c->n++;
	d = x - c->mean;
	c->mean += d / c->n;
	c->m2 += d * (x - c->mean);
}

/* Chan et al. pairwise merge of b into (n, mean, m2). */
static void agg_add(uint32_t *n, double *mean, double *m2, const struct ns_roll_chunk *b)
{
	double nt, d;

	if (b->n == 0)
		return;
	if (*n == 0) {
		*n = b->n;
		*mean = b->mean;
		*m2 = b->m2;
		return;
	}
	nt = (double)*n + (double)b->n;
	d = b->mean - *mean;
	*m2 += b->m2 + d * d * (double)*n * (double)b->n / nt;
	*mean += d * (double)b->n / nt;
	*n += b->n;
}

/* Inverse of agg_add; drift is bounded by the periodic re-summation. */
static void agg_remove(struct ns_roll *r, const struct ns_roll_chunk *b)
{
	double na, ma, d;

	if (b->n == 0)
		return;
	if (b->n >= r->n) {
		r->n = 0;
		r->mean = r->m2 = 0.0;
		return;
	}
	na = (double)r->n - (double)b->n;
	ma = ((double)r->n * r->mean - (double)b->n * b->mean) / na;
	d = b->mean - ma;
	r->m2 -= b->m2 + d * d * na * (double)b->n / (double)r->n;
	if (r->m2 < 0.0)
		r->m2 = 0.0;
	r->mean = ma;
	r->n -= b->n;
}

static void resum(struct ns_roll *r)
{
	r->n = 0;
	r->mean = r->m2 = 0.0;
	for (uint32_t i = 0; i < r->filled; i++)
		agg_add(&r->n, &r->mean, &r->m2, &r->slot[i]);
	r->since_resum = 0;
}

void ns_roll_push_chunk(struct ns_roll *r, const struct ns_roll_chunk *c)
{
	uint32_t h = r->head;

	if (r->filled == r->cap) {
		/* The slot at head is the oldest; it leaves the window now. */
		if (r->dq_len > 0 && r->dq[r->dq_head] == h) {
			r->dq_head = (r->dq_head + 1) % r->cap;
			r->dq_len--;
		}
		agg_remove(r, &r->slot[h]);
	} else {
		r->filled++;
	}
	r->slot[h] = *c;
	if (c->n == 0)
		r->slot[h].mean = r->slot[h].m2 = 0.0;
	agg_add(&r->n, &r->mean, &r->m2, &r->slot[h]);
	if (c->n > 0) {
		while (r->dq_len > 0) {
			uint32_t back = (r->dq_head + r->dq_len - 1) % r->cap;

			if (r->slot[r->dq[back]].max > c->max)
				break;
			r->dq_len--;
		}
		r->dq[(r->dq_head + r->dq_len) % r->cap] = h;
		r->dq_len++;
	}
	r->head = (h + 1) % r->cap;
	r->seq++;
	/* One exact pass per window length keeps the add/remove drift bounded
	 * at O(1) amortised cost. */
	if (++r->since_resum >= r->cap)
		resum(r);
}

void ns_roll_push(struct ns_roll *r, double x)
{
	struct ns_roll_chunk c;

	ns_roll_chunk_clear(&c);
	ns_roll_chunk_add(&c, x);
	ns_roll_push_chunk(r, &c);
}

uint32_t ns_roll_count(const struct ns_roll *r)
{
	return r->n;
}

double ns_roll_mean(const struct ns_roll *r)
{
	return r->n ? r->mean : NAN;
}

double ns_roll_std(const struct ns_roll *r)
{
	return r->n ? sqrt(r->m2 / (double)r->n) : NAN;
}

double ns_roll_max(const struct ns_roll *r)
{
	return r->dq_len ? (double)r->slot[r->dq[r->dq_head]].max : NAN;
}

const struct ns_roll_chunk *ns_roll_at(const struct ns_roll *r, uint32_t k)
{
	if (k >= r->filled)
		return NULL;
	return &r->slot[(r->head + r->cap - 1 - k) % r->cap];
}

void ns_roll_scan_means(const struct ns_roll *r, uint32_t k, double x, uint32_t *ge,
			double *max_mean)
{
	uint32_t have = k < r->filled ? k : r->filled, c = 0;
	/* The newest `have` slots end just before head: at most two runs of
	 * the ring, scanned without a modulo per slot (the anomaly detector's
	 * likelihood runs this over its whole reference window every tick). */
	uint32_t first = have < r->head ? have : r->head;
	const struct ns_roll_chunk *runs[2] = {r->slot + (r->head - first),
					       r->slot + (r->cap - (have - first))};
	uint32_t lens[2] = {first, have - first};
	double mx = *max_mean;

	for (int j = 0; j < 2; j++)
		for (uint32_t i = 0; i < lens[j]; i++) {
			double v = runs[j][i].mean;
			c += v >= x;
			mx = v > mx ? v : mx;
		}
	/* Slots past what the window holds read as empty (mean 0). */
	if (k > have && 0 >= x)
		c += k - have;
	*ge += c;
	*max_mean = mx;
}
