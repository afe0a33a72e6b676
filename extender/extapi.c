// SPDX-License-Identifier: MIT
/* The request path both verbs share (parse, UTF-8 check, table lookup under
 * the reservation lock) and the filter verb: decisions, fail open, and the
 * reply with its reasons. Prioritize is in extapi_prioritize.c. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extapi_int.h"
#include "nodescore/log.h"

/* Lookups prefetched ahead of use; enough to cover a DRAM miss. */
#define LOOKAHEAD 8

static _Atomic uint64_t fail_open_logged_s;

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

void ns_extapi_stats_reset(struct ns_extapi_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->top = st->base_top = SIZE_MAX;
}

int ns_extapi_parse(struct ns_extapi_ctx *c, const char *body, size_t len)
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

void ns_extapi_decide_filter(struct ns_extapi_ctx *c, const struct ns_extapi_cfg *cfg,
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

int ns_extapi_lookup_locked(struct ns_extapi_ctx *c, const struct ns_table *t,
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
	int rc = ns_extapi_lookup_locked(c, t, cfg, now.mono_ms, st, 0);

	if (rc)
		return rc;
	ns_extapi_decide_filter(c, cfg, now.mono_ms, st);
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
	ns_extapi_stats_reset(st);
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
	ns_extapi_stats_reset(st);
	rc = ns_extapi_parse(c, body, len);
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

int ns_extapi_removed(const struct ns_extapi_ctx *c, size_t i)
{
	return i < c->args.n && c->v[i].fail != FAIL_NONE;
}

void ns_extapi_ctx_free(struct ns_extapi_ctx *c)
{
	ns_extjson_free(&c->args);
	free(c->v);
	c->v = NULL;
	c->vcap = 0;
}
