// SPDX-License-Identifier: MIT
/* Filter and prioritize: decisions from the score table, replies in the
 * kube-scheduler extender v1 JSON shapes, and shadow mode (neutral replies,
 * the real decisions reported beside them). */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/extapi.h"
#include "nodescore/log.h"

/* Lookups prefetched ahead of use; enough to cover a DRAM miss. */
#define LOOKAHEAD 8

enum node_state {
	NODE_UNKNOWN = 0,
	NODE_STALE,
	NODE_FRESH,
	/* Shadow prioritize: fresh, but the filter would have removed it, so
	 * the real prioritize would never have seen it. */
	NODE_EXCLUDED,
};

enum fail_reason {
	FAIL_NONE = 0,
	FAIL_ANOMALY,
	FAIL_CPU,
	FAIL_MEM,
};

struct ns_extapi_view {
	struct ns_node_data d;
	uint8_t state;
	uint8_t fail;
	uint32_t hash;
	uint16_t raw;		       /* combined 0..1000 before normalisation */
	uint8_t score;		       /* 0..10 reply */
	uint8_t would;		       /* shadow: the 0..10 the real reply would have had */
	uint32_t held_cpu_m, held_mib; /* reservations against this node */
};

static _Atomic uint64_t fail_open_logged_s;

int ns_normalize_parse(const char *s, enum ns_normalize *out)
{
	if (s && strcmp(s, "linear") == 0)
		*out = NS_NORM_LINEAR;
	else if (s && strcmp(s, "rank") == 0)
		*out = NS_NORM_RANK;
	else
		return -EINVAL;
	return 0;
}

/* Replies echo request bytes (names, Node objects): bytes that are not
 * UTF-8 would make the reply invalid JSON, so such a request is refused.
 * Eight ASCII bytes at a time: 20 MB of Node objects are nearly all ASCII. */
static int utf8_valid(const char *str, size_t n)
{
	const unsigned char *p = (const unsigned char *)str, *end = p + n;

	while (p < end) {
		uint64_t w;
		unsigned c = *p, need;
		uint32_t cp, min;
		if ((size_t)(end - p) >= 8) {
			memcpy(&w, p, 8);
			if (!(w & 0x8080808080808080ull)) {
				p += 8;
				continue;
			}
		}
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f, min = 0x80;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f, min = 0x800;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		if ((size_t)(end - p) <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += need + 1;
	}
	return 1;
}

static void stats_reset(struct ns_extapi_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->top = st->base_top = SIZE_MAX;
}

/* Parses the request body into c->args. Returns 0 or an HTTP status with
 * the error already in c->args.err. */
static int parse(struct ns_extapi_ctx *c, const char *body, size_t len)
{
	struct ns_ext_args *a = &c->args;
	int rc = ns_extjson_parse(a, body, len);

	if (rc == -ENOMEM)
		return 500;
	if (rc < 0)
		return 400;
	for (size_t i = 0; i < a->n; i++) {
		const struct ns_ext_node *nd = &a->nodes[i];
		if (!utf8_valid(nd->name_tok, nd->name_tok_len) ||
		    !utf8_valid(nd->name, nd->name_len) ||
		    (a->mode == NS_EXT_OBJECTS && !utf8_valid(nd->obj, nd->obj_len))) {
			snprintf(a->err, sizeof(a->err),
				 "node %zu: name or object is not valid UTF-8", i);
			return 400;
		}
	}
	return 0;
}

/* Looks every candidate in c->args up once. Returns 0 or 500 with the
 * error in c->args.err. */
static int lookup(struct ns_extapi_ctx *c, const struct ns_table *t,
		  const struct ns_extapi_cfg *cfg, uint64_t now, struct ns_extapi_stats *st)
{
	struct ns_ext_args *a = &c->args;
	int held;

	if (a->n > c->vcap) {
		size_t cap = a->n < 256 ? 256 : a->n;
		struct ns_extapi_view *v = realloc(c->v, cap * sizeof(*v));
		if (!v) {
			snprintf(a->err, sizeof(a->err), "out of memory");
			return 500;
		}
		c->v = v;
		c->vcap = cap;
	}
	st->nodes = (uint32_t)a->n;
	/* Caller holds the reservation lock; no hold at all is the common case.
	 * Shadow mode neither reads nor makes holds: it places nothing. */
	held = !cfg->shadow && cfg->resv && ns_reserve_active(cfg->resv) > 0;
	/* Two-stage software pipeline: index slot 2 x LOOKAHEAD names ahead,
	 * entry LOOKAHEAD names ahead, lookup now. */
	for (size_t i = 0; i < a->n && i < 2 * LOOKAHEAD; i++) {
		c->v[i].hash = ns_table_hash(a->nodes[i].name, a->nodes[i].name_len);
		ns_table_prefetch(t, c->v[i].hash);
	}
	for (size_t i = 0; i < a->n && i < LOOKAHEAD; i++)
		ns_table_prefetch_entry(t, c->v[i].hash);
	for (size_t i = 0; i < a->n; i++) {
		struct ns_extapi_view *v = &c->v[i];
		size_t j = i + 2 * LOOKAHEAD;
		if (j < a->n) {
			c->v[j].hash = ns_table_hash(a->nodes[j].name, a->nodes[j].name_len);
			ns_table_prefetch(t, c->v[j].hash);
		}
		if (i + LOOKAHEAD < a->n)
			ns_table_prefetch_entry(t, c->v[i + LOOKAHEAD].hash);
		v->fail = FAIL_NONE;
		v->raw = 0;
		v->held_cpu_m = v->held_mib = 0;
		if (!ns_table_lookup_hash(t, a->nodes[i].name, a->nodes[i].name_len, v->hash,
					  &v->d)) {
			v->state = NODE_UNKNOWN;
			st->unknown++;
		} else if (now > v->d.recv_mono_ms && now - v->d.recv_mono_ms > cfg->ttl_ms) {
			v->state = NODE_STALE;
			st->stale++;
		} else {
			v->state = NODE_FRESH;
			if (held &&
			    ns_reserve_get(cfg->resv, a->nodes[i].name, a->nodes[i].name_len,
					   v->hash, &v->d, now, &v->held_cpu_m, &v->held_mib))
				st->held++;
		}
	}
	return 0;
}

/* Headroom left after what is held; unknown amounts stay unknown. */
static uint32_t left(uint32_t free_amount, uint32_t held)
{
	if (free_amount == NS_WIRE_FREE_UNKNOWN)
		return free_amount;
	return free_amount > held ? free_amount - held : 0;
}

static void put_error_filter(struct ns_buf *out, const char *err)
{
	out->len = 0;
	ns_buf_puts(out, "{\"Nodes\":null,\"NodeNames\":null,\"FailedNodes\":{},"
			 "\"FailedAndUnresolvableNodes\":{},\"Error\":");
	ns_buf_put_json_str(out, err, strlen(err));
	ns_buf_putc(out, '}');
}

static void put_error(struct ns_buf *out, const char *err)
{
	out->len = 0;
	ns_buf_puts(out, "{\"Error\":");
	ns_buf_put_json_str(out, err, strlen(err));
	ns_buf_putc(out, '}');
}

/* Reasons are formatted on the stack and appended once: a failed node per
 * few candidates is normal, and a dozen small appends each added up. */
struct line {
	char s[160];
	size_t n;
};

static void ln_str(struct line *l, const char *str)
{
	size_t k = strlen(str);

	memcpy(l->s + l->n, str, k);
	l->n += k;
}

static void ln_u64(struct line *l, uint64_t v)
{
	l->n += ns_fmt_u64(l->s + l->n, v);
}

static void put_reason(struct ns_buf *b, const struct ns_extapi_view *v, int64_t cpu_m,
		       int64_t mem_mib)
{
	struct line l = {.n = 0};
	unsigned a = v->d.anomaly;

	ln_str(&l, "\"nodescore: ");
	switch (v->fail) {
	case FAIL_ANOMALY:
		ln_str(&l, "node flagged anomalous (anomaly score ");
		ln_u64(&l, a / 1000);
		ln_str(&l, ".");
		l.s[l.n++] = (char)('0' + a / 100 % 10);
		l.s[l.n++] = (char)('0' + a / 10 % 10);
		l.s[l.n++] = (char)('0' + a % 10);
		ln_str(&l, ")");
		break;
	case FAIL_CPU:
		ln_str(&l, "forecast CPU headroom ");
		ln_u64(&l, left(v->d.free_millicores, v->held_cpu_m));
		ln_str(&l, "m < pod request ");
		ln_u64(&l, (uint64_t)cpu_m);
		ln_str(&l, "m");
		if (v->held_cpu_m)
			ln_str(&l, " (after pods placed since its last score)");
		break;
	default:
		ln_str(&l, "forecast memory headroom ");
		ln_u64(&l, left(v->d.free_mib, v->held_mib));
		ln_str(&l, "Mi < pod request ");
		ln_u64(&l, (uint64_t)mem_mib);
		ln_str(&l, "Mi");
		if (v->held_mib)
			ln_str(&l, " (after pods placed since its last score)");
		break;
	}
	ln_str(&l, "\"");
	ns_buf_put(b, l.s, l.n);
}

/* Requests round up to whole MiB: the message carries MiB. */
static int64_t pod_mib(const struct ns_ext_args *a)
{
	return a->mem_bytes / 1048576 + (a->mem_bytes % 1048576 != 0);
}

/* The filter decision for every candidate, into v->fail and st; fail open
 * (every fail cleared, st->fail_open set) when nothing would pass. */
static void decide_filter(struct ns_extapi_ctx *c, const struct ns_extapi_cfg *cfg,
			  uint64_t now_mono_ms, struct ns_extapi_stats *st)
{
	const struct ns_ext_args *a = &c->args;
	int64_t mem_mib = pod_mib(a);
	size_t passed = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct ns_extapi_view *v = &c->v[i];
		/* Unknown and stale nodes pass: no signal is not a bad signal. */
		if (v->state != NODE_FRESH)
			;
		else if (v->d.flags & NS_FLAG_ANOMALY)
			v->fail = FAIL_ANOMALY, st->failed_anomaly++;
		else if (a->cpu_milli > (int64_t)left(v->d.free_millicores, v->held_cpu_m))
			v->fail = FAIL_CPU, st->failed_cpu++;
		else if (mem_mib > (int64_t)left(v->d.free_mib, v->held_mib))
			v->fail = FAIL_MEM, st->failed_mem++;
		passed += v->fail == FAIL_NONE;
	}
	if (passed == 0 && a->n > 0) {
		/* Our signals are advisory: an empty set would block scheduling
		 * on data the scheduler cannot see. */
		st->fail_open = 1;
		/* A cluster-wide anomaly would otherwise log once per pod; in
		 * shadow mode the shadow log line and metrics say it instead. */
		uint64_t now_s = now_mono_ms / 1000, last = atomic_load(&fail_open_logged_s);
		if (!cfg->shadow && now_s != last &&
		    atomic_compare_exchange_strong(&fail_open_logged_s, &last, now_s))
			log_warning("extender",
				    "filter would remove every node, passing all nodes=%zu "
				    "anomalous=%u cpu=%u memory=%u (logged at most once a second)",
				    a->n, st->failed_anomaly, st->failed_cpu, st->failed_mem);
		for (size_t i = 0; i < a->n; i++)
			c->v[i].fail = FAIL_NONE;
	}
}

/* lookup under the reservation lock when there are holds to read; on
 * success with hold set, the lock stays taken for the caller to add one.
 * Returns 0 or 500. */
static int lookup_locked(struct ns_extapi_ctx *c, const struct ns_table *t,
			 const struct ns_extapi_cfg *cfg, uint64_t now_mono_ms,
			 struct ns_extapi_stats *st, int hold)
{
	int rc, locked = !cfg->shadow && cfg->resv;

	if (locked)
		ns_reserve_lock(cfg->resv);
	rc = lookup(c, t, cfg, now_mono_ms, st);
	if (locked && (rc || !hold))
		ns_reserve_unlock(cfg->resv);
	return rc;
}

/* The filter's decisions on c->args, into c->v[].fail; 0 or 500. */
static int filter_decide(struct ns_extapi_ctx *c, const struct ns_table *t,
			 const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			 struct ns_extapi_stats *st)
{
	int rc = lookup_locked(c, t, cfg, now.mono_ms, st, 0);

	if (rc)
		return rc;
	decide_filter(c, cfg, now.mono_ms, st);
	if (cfg->shadow)
		/* The decisions stay in st; the reply passes every node. */
		for (size_t i = 0; i < c->args.n; i++)
			c->v[i].fail = FAIL_NONE;
	return 0;
}

int ns_extapi_filter_args(struct ns_extapi_ctx *c, const struct ns_table *t,
			  const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			  struct ns_extapi_stats *st)
{
	stats_reset(st);
	return filter_decide(c, t, cfg, now, st) ? 500 : 200;
}

int ns_extapi_filter(struct ns_extapi_ctx *c, const struct ns_table *t,
		     const struct ns_extapi_cfg *cfg, struct ns_extapi_now now, const char *body,
		     size_t len, struct ns_buf *out, struct ns_extapi_stats *st)
{
	struct ns_ext_args *a = &c->args;
	int64_t mem_mib;
	size_t k, need;
	char *p;
	int rc, objects;

	out->len = 0;
	stats_reset(st);
	rc = parse(c, body, len);
	if (!rc)
		rc = filter_decide(c, t, cfg, now, st);
	if (rc) {
		put_error_filter(out, a->err);
		return out->oom ? 500 : rc;
	}
	mem_mib = pod_mib(a);

	objects = a->mode == NS_EXT_OBJECTS;
	/* Passing nodes echo their request bytes: size that part exactly and
	 * write it with plain stores; reasons go through ns_buf_put. */
	need = 64;
	for (size_t i = 0; i < a->n; i++)
		if (c->v[i].fail == FAIL_NONE)
			need += (objects ? a->nodes[i].obj_len : a->nodes[i].name_tok_len) + 1;
	ns_buf_puts(out, objects ? "{\"Nodes\":{\"metadata\":{},\"items\":["
				 : "{\"Nodes\":null,\"NodeNames\":[");
	if (ns_buf_reserve(out, need) < 0)
		return 500;
	p = out->p + out->len;
	k = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct ns_ext_node *nd = &a->nodes[i];
		if (c->v[i].fail != FAIL_NONE)
			continue;
		if (k++)
			*p++ = ',';
		if (objects) {
			memcpy(p, nd->obj, nd->obj_len);
			p += nd->obj_len;
		} else {
			memcpy(p, nd->name_tok, nd->name_tok_len);
			p += nd->name_tok_len;
		}
	}
	*p = '\0';
	out->len = (size_t)(p - out->p);
	ns_buf_puts(out,
		    objects ? "]},\"NodeNames\":null,\"FailedNodes\":{" : "],\"FailedNodes\":{");
	k = 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct ns_ext_node *nd = &a->nodes[i];
		if (c->v[i].fail == FAIL_NONE)
			continue;
		if (k++)
			ns_buf_putc(out, ',');
		ns_buf_put(out, nd->name_tok, nd->name_tok_len);
		ns_buf_putc(out, ':');
		put_reason(out, &c->v[i], a->cpu_milli, mem_mib);
	}
	ns_buf_puts(out, "},\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
	return out->oom ? 500 : 200;
}

static uint32_t held_factor(const struct ns_extapi_view *v);

/* Pod class shifts weight from the agent's score toward what the pod is
 * sensitive to. All integer, 0..1000. */
static void combine(struct ns_extapi_ctx *c, enum ns_pod_class cls)
{
	uint32_t rmin = UINT32_MAX, rmax = 0;
	size_t n = c->args.n;

	if (cls == NS_CLASS_LATENCY) {
		for (size_t i = 0; i < n; i++) {
			const struct ns_extapi_view *v = &c->v[i];
			if (v->state != NODE_FRESH)
				continue;
			if (v->d.rtt_p99_us < rmin)
				rmin = v->d.rtt_p99_us;
			if (v->d.rtt_p99_us > rmax)
				rmax = v->d.rtt_p99_us;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct ns_extapi_view *v = &c->v[i];
		uint32_t s = v->d.score, h, lat;
		if (v->state != NODE_FRESH)
			continue;
		if (v->d.flags & NS_FLAG_ANOMALY) {
			/* Only reached when filter failed open: rank it last. */
			v->raw = 0;
			continue;
		}
		switch (cls) {
		case NS_CLASS_LATENCY:
			/* Lowest network p99 among the candidates is best. */
			lat = rmax > rmin
				  ? (uint32_t)(1000ull * (rmax - v->d.rtt_p99_us) / (rmax - rmin))
				  : 1000;
			v->raw = (uint16_t)((3 * s + 7 * lat) / 10);
			break;
		case NS_CLASS_BATCH:
			h = v->d.cpu_peak_fc > v->d.mem_peak_fc ? v->d.cpu_peak_fc
								: v->d.mem_peak_fc;
			h = h > 1000 ? 0 : 1000 - h;
			v->raw = (uint16_t)((s + h) / 2);
			break;
		default:
			v->raw = (uint16_t)s;
			break;
		}
		if (v->held_cpu_m || v->held_mib)
			v->raw = (uint16_t)(v->raw * held_factor(v) / 1000);
	}
}

/* Share (per mille) of a headroom left after what is held: the score of a
 * node that just got pods shrinks as its headroom does. */
static uint32_t share_left(uint32_t free_amount, uint32_t held)
{
	if (!held || free_amount == NS_WIRE_FREE_UNKNOWN)
		return 1000;
	if (held >= free_amount)
		return 0;
	return (uint32_t)(1000ull * (free_amount - held) / free_amount);
}

static uint32_t held_factor(const struct ns_extapi_view *v)
{
	uint32_t c = share_left(v->d.free_millicores, v->held_cpu_m),
		 m = share_left(v->d.free_mib, v->held_mib);
	return c < m ? c : m;
}

static int add_hold(const struct ns_extapi_cfg *cfg, const char *name, size_t len, uint32_t hash,
		    int64_t cpu_milli, int64_t mem_bytes, struct ns_extapi_now now)
{
	uint64_t mib = (uint64_t)mem_bytes / 1048576 + (mem_bytes % 1048576 != 0);

	return ns_reserve_add(cfg->resv, name, len, hash, now.ms, now.mono_ms,
			      cpu_milli > UINT32_MAX ? UINT32_MAX
						     : (uint32_t)(cpu_milli > 0 ? cpu_milli : 0),
			      mib > UINT32_MAX ? UINT32_MAX : (uint32_t)mib);
}

/* Holds the pod's request against the candidate it ranks first (the
 * fresh, not anomalous one with the highest combined score; the first on
 * a tie): kube-scheduler adds the default plugins and usually agrees. */
static void reserve_top(struct ns_extapi_ctx *c, const struct ns_extapi_cfg *cfg,
			struct ns_extapi_now now, struct ns_extapi_stats *st)
{
	const struct ns_ext_args *a = &c->args;
	size_t best = SIZE_MAX;

	if (cfg->hold_at_bind || (a->cpu_milli <= 0 && a->mem_bytes <= 0))
		return;
	for (size_t i = 0; i < a->n; i++) {
		const struct ns_extapi_view *v = &c->v[i];
		if (v->state == NODE_FRESH && !(v->d.flags & NS_FLAG_ANOMALY) &&
		    (best == SIZE_MAX || v->raw > c->v[best].raw))
			best = i;
	}
	if (best == SIZE_MAX)
		return;
	add_hold(cfg, a->nodes[best].name, a->nodes[best].name_len, c->v[best].hash, a->cpu_milli,
		 a->mem_bytes, now);
	st->reserved = 1;
}

int ns_extapi_hold(const struct ns_extapi_cfg *cfg, const char *name, size_t len, int64_t cpu_milli,
		   int64_t mem_bytes, struct ns_extapi_now now)
{
	int rc;

	if (!cfg->resv)
		return -EINVAL;
	if (cpu_milli <= 0 && mem_bytes <= 0)
		return 0;
	ns_reserve_lock(cfg->resv);
	rc = add_hold(cfg, name, len, ns_table_hash(name, len), cpu_milli, mem_bytes, now);
	ns_reserve_unlock(cfg->resv);
	return rc;
}

static void normalise(struct ns_extapi_ctx *c, enum ns_normalize norm)
{
	static _Thread_local uint16_t dense[1001];
	unsigned rmin = 1001, rmax = 0, distinct = 0;
	size_t n = c->args.n;

	for (size_t i = 0; i < n; i++) {
		if (c->v[i].state != NODE_FRESH)
			continue;
		if (c->v[i].raw < rmin)
			rmin = c->v[i].raw;
		if (c->v[i].raw > rmax)
			rmax = c->v[i].raw;
	}
	if (norm == NS_NORM_RANK && rmax > rmin) {
		memset(dense, 0, sizeof(dense));
		for (size_t i = 0; i < n; i++)
			if (c->v[i].state == NODE_FRESH)
				dense[c->v[i].raw] = 1;
		for (unsigned r = rmin; r <= rmax; r++)
			if (dense[r])
				dense[r] = (uint16_t)distinct++;
	}
	for (size_t i = 0; i < n; i++) {
		struct ns_extapi_view *v = &c->v[i];
		if (v->state != NODE_FRESH)
			v->score = NS_EXT_SCORE_NEUTRAL;
		else if (rmax == rmin)
			/* Nothing to stretch: keep the absolute score on 0..10. */
			v->score = (uint8_t)((v->raw + 50) / 100);
		else if (norm == NS_NORM_RANK)
			v->score =
			    (uint8_t)((10u * dense[v->raw] + (distinct - 1) / 2) / (distinct - 1));
		else
			v->score =
			    (uint8_t)((10u * (v->raw - rmin) + (rmax - rmin) / 2) / (rmax - rmin));
	}
}

/* Least allocated by what the table has: the mean free share of CPU and
 * memory measured now (per mille each), as the scheduler's default
 * LeastAllocated averages free shares of allocatable with weights 1:1. */
static uint32_t least_alloc(const struct ns_node_data *d)
{
	uint32_t c = d->cpu_now > 1000 ? 1000 : d->cpu_now,
		 m = d->mem_now > 1000 ? 1000 : d->mem_now;

	return 2000 - c - m;
}

/* Shadow prioritize: the real prioritize would only have seen the nodes
 * the filter passed, so those are set aside before ranking; then the
 * would-be first choice is compared with the least-allocated first choice
 * among every candidate with a fresh message, and the reply turns neutral. */
static void shadow_exclude(struct ns_extapi_ctx *c, const struct ns_extapi_cfg *cfg,
			   uint64_t now_mono_ms, struct ns_extapi_stats *st)
{
	decide_filter(c, cfg, now_mono_ms, st);
	for (size_t i = 0; i < c->args.n; i++)
		if (c->v[i].fail != FAIL_NONE)
			c->v[i].state = NODE_EXCLUDED;
}

static void shadow_compare(struct ns_extapi_ctx *c, struct ns_extapi_stats *st)
{
	size_t n = c->args.n, top = SIZE_MAX, base = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		struct ns_extapi_view *v = &c->v[i];
		/* The same first choice reserve_top holds against. */
		if (v->state == NODE_FRESH && !(v->d.flags & NS_FLAG_ANOMALY) &&
		    (top == SIZE_MAX || v->raw > c->v[top].raw))
			top = i;
		if ((v->state == NODE_FRESH || v->state == NODE_EXCLUDED) &&
		    (base == SIZE_MAX || least_alloc(&v->d) > least_alloc(&c->v[base].d)))
			base = i;
		if (v->state != NODE_EXCLUDED)
			st->would_scores[v->score > NS_EXT_SCORE_MAX ? NS_EXT_SCORE_MAX
								     : v->score]++;
		v->would = v->score;
		v->score = NS_EXT_SCORE_NEUTRAL;
	}
	st->top = top;
	st->base_top = base;
	if (top == SIZE_MAX || base == SIZE_MAX)
		st->agree = NS_SHADOW_NO_SIGNAL;
	else
		/* A tie for least allocated is a coin toss for the baseline:
		 * any of the tied nodes is its choice. */
		st->agree = least_alloc(&c->v[top].d) == least_alloc(&c->v[base].d)
				? NS_SHADOW_AGREE
				: NS_SHADOW_DISAGREE;
}

size_t ns_extapi_shadow_ranking(const struct ns_extapi_ctx *c, size_t *idx, uint8_t *score,
				size_t k)
{
	size_t got = 0, n = c->args.n;

	/* One pass with a sorted top k: candidates come in request order, so
	 * a later one enters only with a strictly higher value, which keeps
	 * ties in request order; most are refused by one comparison. */
	for (size_t i = 0; i < n && k; i++) {
		const struct ns_extapi_view *v = &c->v[i];
		size_t j;
		if (v->state != NODE_FRESH || (got == k && v->raw <= c->v[idx[k - 1]].raw))
			continue;
		j = got < k ? got++ : k - 1;
		while (j > 0 && c->v[idx[j - 1]].raw < v->raw) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = i;
	}
	for (size_t j = 0; j < got; j++)
		score[j] = c->v[idx[j]].would;
	return got;
}

/* Prioritize's scores on c->args, into c->v[].score, and its hold; 0 or
 * 500. */
static int prioritize_decide(struct ns_extapi_ctx *c, const struct ns_table *t,
			     const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			     struct ns_extapi_stats *st)
{
	int locked = !cfg->shadow && cfg->resv;
	/* One lock for the lookup and the add: two concurrent calls must not
	 * both see a node without the other's hold. */
	int rc = lookup_locked(c, t, cfg, now.mono_ms, st, 1);

	if (rc)
		return rc;
	if (cfg->shadow)
		shadow_exclude(c, cfg, now.mono_ms, st);
	combine(c, c->args.cls);
	if (locked) {
		reserve_top(c, cfg, now, st);
		ns_reserve_unlock(cfg->resv);
	}
	normalise(c, cfg->norm);
	if (cfg->shadow)
		shadow_compare(c, st);
	return 0;
}

int ns_extapi_prioritize_args(struct ns_extapi_ctx *c, const struct ns_table *t,
			      const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			      struct ns_extapi_stats *st)
{
	stats_reset(st);
	return prioritize_decide(c, t, cfg, now, st) ? 500 : 200;
}

int ns_extapi_prioritize(struct ns_extapi_ctx *c, const struct ns_table *t,
			 const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			 const char *body, size_t len, struct ns_buf *out,
			 struct ns_extapi_stats *st)
{
	struct ns_ext_args *a = &c->args;
	size_t need;
	char *p;
	int rc;

	out->len = 0;
	stats_reset(st);
	rc = parse(c, body, len);
	if (!rc)
		rc = prioritize_decide(c, t, cfg, now, st);
	if (rc) {
		put_error(out, a->err);
		return out->oom ? 500 : rc;
	}
	/* One reservation, then plain stores: this loop is the hot path. */
	need = 2;
	for (size_t i = 0; i < a->n; i++)
		need += a->nodes[i].name_tok_len + sizeof("{\"Host\":,\"Score\":10},");
	if (ns_buf_reserve(out, need) < 0)
		return 500;
	p = out->p;
	*p++ = '[';
	for (size_t i = 0; i < a->n; i++) {
		const struct ns_ext_node *nd = &a->nodes[i];
		uint8_t sc = c->v[i].score;
		if (i)
			*p++ = ',';
		memcpy(p, "{\"Host\":", 8);
		p += 8;
		memcpy(p, nd->name_tok, nd->name_tok_len);
		p += nd->name_tok_len;
		memcpy(p, ",\"Score\":", 9);
		p += 9;
		if (sc >= 10)
			*p++ = '1', *p++ = '0';
		else
			*p++ = (char)('0' + sc);
		*p++ = '}';
	}
	*p++ = ']';
	*p = '\0';
	out->len = (size_t)(p - out->p);
	return out->oom ? 500 : 200;
}

int ns_extapi_removed(const struct ns_extapi_ctx *c, size_t i)
{
	return i < c->args.n && c->v[i].fail != FAIL_NONE;
}

uint8_t ns_extapi_score(const struct ns_extapi_ctx *c, size_t i)
{
	return i < c->args.n ? c->v[i].score : NS_EXT_SCORE_NEUTRAL;
}

void ns_extapi_ctx_free(struct ns_extapi_ctx *c)
{
	ns_extjson_free(&c->args);
	free(c->v);
	c->v = NULL;
	c->vcap = 0;
}
