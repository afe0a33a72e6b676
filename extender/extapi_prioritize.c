// SPDX-License-Identifier: MIT
/* The prioritize verb: the pod-class blend of the agents' scores,
 * normalisation to 0..10, the in-flight hold against the first choice, and
 * shadow mode's comparison with a least-allocated ranking. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "extapi_int.h"

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

static void put_error(struct ns_buf *out, const char *err)
{
	out->len = 0;
	ns_buf_puts(out, "{\"Error\":");
	ns_buf_put_json_str(out, err, strlen(err));
	ns_buf_putc(out, '}');
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
	ns_extapi_decide_filter(c, cfg, now_mono_ms, st);
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
	int rc = ns_extapi_lookup_locked(c, t, cfg, now.mono_ms, st, 1);

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
	ns_extapi_stats_reset(st);
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
	ns_extapi_stats_reset(st);
	rc = ns_extapi_parse(c, body, len);
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

uint8_t ns_extapi_score(const struct ns_extapi_ctx *c, size_t i)
{
	return i < c->args.n ? c->v[i].score : NS_EXT_SCORE_NEUTRAL;
}
