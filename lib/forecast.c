// SPDX-License-Identifier: MIT
/* Forecaster model set: XGBoost JSON import, compact binary format with
 * bounded validating loader, flat tree walker for prediction. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <zlib.h>

#include "nodescore/bundle.h"
#include "nodescore/forecast.h"
#include "nodescore/le.h"

/* Node: 8 bytes. Children of a node are adjacent (left, left + 1) and always
 * after it, so a walk terminates and the file cannot encode a cycle. */
struct fc_node {
	float v;       /* split threshold, or leaf value */
	uint16_t feat; /* FC_LEAF | FC_DLEFT | feature index */
	uint16_t left; /* index of the left child within the tree */
};

#define FC_LEAF 0x8000u
#define FC_DLEFT 0x4000u
#define FC_FMASK 0x3fffu

#define FC_NO_ANCHOR 0xffffu

struct fc_model {
	struct ns_fc_target t;
	float base;	    /* XGBoost base_score (identity link: the margin start) */
	float offset;	    /* bias correction */
	uint16_t anchor[2]; /* relative models: feature added back, and its fallback */
	uint16_t flat_feat; /* flat guard: when x[flat_feat] < flat_thr, forecast */
	float flat_thr;	    /* anchor + offset (persistence) instead of the trees */
	uint32_t ntrees, nnodes;
	uint32_t *tree_off; /* ntrees + 1 node offsets */
	/* In memory, leaves loop to themselves (a padding feature that is NaN,
	 * default direction left = self) so every tree walks a fixed number of
	 * steps with no branch; a leaf keeps its value in v. */
	struct fc_node *nodes;
	uint8_t *depth; /* per tree */
};

struct ns_forecast {
	/* Holders of this model set (see ns_forecast_ref): atomic so holders in
	 * different threads may take and drop references without a lock. */
	atomic_uint refs;
	struct ns_feat_config cfg;
	size_t nfeat;
	size_t nmodels;
	struct fc_model m[NS_FC_MAX_MODELS];
};

#define FC_MAGIC "NSFC"
#define FC_VERSION 1u

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

static size_t popcount32(uint32_t x)
{
	size_t n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

static int cfg_valid(const struct ns_feat_config *cfg)
{
	return cfg && cfg->step_ms >= NS_FEAT_STEP_MIN_MS && cfg->step_ms <= NS_FEAT_STEP_MAX_MS &&
	       cfg->metric_mask != 0 && (cfg->metric_mask >> NS_METRIC_COUNT) == 0;
}

static int target_valid(const struct ns_fc_target *t)
{
	return t->metric < NS_METRIC_COUNT && t->stat <= NS_FC_PEAK && t->horizon_s >= 1 &&
	       t->horizon_s <= NS_FC_MAX_HORIZON_S;
}

int ns_forecast_new(const struct ns_feat_config *cfg, struct ns_forecast **out)
{
	struct ns_forecast *fc;

	*out = NULL;
	if (!cfg_valid(cfg))
		return -EINVAL;
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	atomic_init(&fc->refs, 1u);
	fc->cfg = *cfg;
	fc->nfeat = NS_FEAT_GLOBAL + NS_FEAT_PER_METRIC * popcount32(cfg->metric_mask);
	*out = fc;
	return 0;
}

static void model_clear(struct fc_model *m)
{
	free(m->tree_off);
	free(m->nodes);
	free(m->depth);
	memset(m, 0, sizeof(*m));
}

/* File encoding -> walker encoding (see struct fc_model). Nodes are
 * validated: children strictly after their parent within the tree. */
static int finish_model(struct fc_model *m, size_t nfeat)
{
	uint8_t *nd;

	m->depth = malloc(m->ntrees);
	nd = malloc(NS_FC_MAX_TREE_NODES);
	if (!m->depth || !nd) {
		free(nd);
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < m->ntrees; t++) {
		uint32_t base = m->tree_off[t], c = m->tree_off[t + 1] - base;
		unsigned maxd = 0;

		nd[0] = 0;
		for (uint32_t k = 0; k < c; k++) {
			struct fc_node *n = &m->nodes[base + k];

			if (n->feat & FC_LEAF) {
				n->feat = (uint16_t)(FC_LEAF | FC_DLEFT | nfeat);
				n->left = (uint16_t)k;
				if (nd[k] > maxd)
					maxd = nd[k];
				continue;
			}
			if (nd[k] >= 64) {
				free(nd);
				return -EINVAL;
			}
			nd[n->left] = nd[n->left + 1] = (uint8_t)(nd[k] + 1);
		}
		m->depth[t] = (uint8_t)maxd;
	}
	free(nd);
	return 0;
}

static void anchors_for(const struct ns_forecast *fc, int metric, uint16_t a[2])
{
	uint32_t below = fc->cfg.metric_mask & ((1u << metric) - 1u);
	size_t base = NS_FEAT_GLOBAL + NS_FEAT_PER_METRIC * popcount32(below);

	/* <metric>_cur, falling back to <metric>_mean_1h (see features.h). */
	a[0] = (uint16_t)base;
	a[1] = (uint16_t)(base + 1 + 3 * NS_FEAT_W_1H);
}

struct ns_forecast *ns_forecast_ref(struct ns_forecast *fc)
{
	/* Relaxed: the caller already holds a reference, so the model cannot
	 * go away meanwhile and nothing is published by taking another. */
	if (fc)
		atomic_fetch_add_explicit(&fc->refs, 1u, memory_order_relaxed);
	return fc;
}

/* A mutator on a model another holder also uses would change its
 * forecasts behind its back (and race with its walks). */
static int fc_shared(struct ns_forecast *fc)
{
	return atomic_load_explicit(&fc->refs, memory_order_acquire) > 1u;
}

void ns_forecast_free(struct ns_forecast *fc)
{
	/* acq_rel: the last holder must see every other holder's reads done
	 * before it frees the trees. */
	if (!fc || atomic_fetch_sub_explicit(&fc->refs, 1u, memory_order_acq_rel) != 1u)
		return;
	for (size_t i = 0; i < fc->nmodels; i++)
		model_clear(&fc->m[i]);
	free(fc);
}

/* --- XGBoost JSON import --- */

static const cJSON *jpath(const cJSON *o, const char *a, const char *b, const char *c)
{
	const char *k[3] = {a, b, c};

	for (int i = 0; i < 3 && o && k[i]; i++)
		o = cJSON_GetObjectItemCaseSensitive(o, k[i]);
	return o;
}

/* Array of n numbers into doubles; -1 when not an array of n numbers. */
static int jnums(const cJSON *a, double *out, int n)
{
	const cJSON *e;
	int i = 0;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
		return -1;
	cJSON_ArrayForEach(e, a)
	{
		if (cJSON_IsNumber(e))
			out[i] = e->valuedouble;
		else if (cJSON_IsBool(e))
			out[i] = cJSON_IsTrue(e) ? 1.0 : 0.0;
		else
			return -1;
		i++;
	}
	return 0;
}

/* Converts one JSON tree into BFS order with adjacent children. */
static int import_tree(const cJSON *tree, size_t nfeat, struct fc_node *dst, uint32_t room,
		       uint32_t *used, char *err, size_t errlen)
{
	const char *arr[5] = {"left_children", "right_children", "split_indices",
			      "split_conditions", "default_left"};
	double *col[5] = {0};
	const cJSON *st, *e;
	uint32_t *queue = NULL, *pos = NULL, head = 0, tail = 0;
	uint8_t *seen = NULL;
	int n, rc = -EINVAL;

	n = cJSON_GetArraySize(jpath(tree, "left_children", NULL, NULL));
	if (n < 1 || (uint32_t)n > NS_FC_MAX_TREE_NODES || (uint32_t)n > room) {
		ERR("tree has %d nodes (1..%u allowed, %u left in budget)", n, NS_FC_MAX_TREE_NODES,
		    room);
		return -EINVAL;
	}
	st = jpath(tree, "split_type", NULL, NULL);
	if (st) {
		cJSON_ArrayForEach(e, st)
		{
			if (!cJSON_IsNumber(e) || e->valuedouble != 0.0) {
				ERR("categorical splits are not supported");
				return -EINVAL;
			}
		}
	}
	for (int c = 0; c < 5; c++) {
		col[c] = malloc((size_t)n * sizeof(double));
		if (!col[c]) {
			rc = -ENOMEM;
			goto out;
		}
		if (jnums(jpath(tree, arr[c], NULL, NULL), col[c], n)) {
			ERR("tree field %s missing or not %d numbers", arr[c], n);
			goto out;
		}
	}
	queue = malloc((size_t)n * sizeof(*queue));
	pos = malloc((size_t)n * sizeof(*pos));
	seen = calloc((size_t)n, 1);
	if (!queue || !pos || !seen) {
		rc = -ENOMEM;
		goto out;
	}
	queue[tail++] = 0;
	seen[0] = 1;
	pos[0] = 0;
	while (head < tail) {
		uint32_t id = queue[head], at = pos[id];
		double l = col[0][id], r = col[1][id], f = col[2][id], v = col[3][id];

		head++;
		if (!isfinite(v) || fabs(v) > 3.4e38) {
			ERR("non-finite value at node %u", id);
			goto out;
		}
		dst[at].v = (float)v;
		if (l == -1.0) {
			dst[at].feat = FC_LEAF;
			dst[at].left = 0;
			continue;
		}
		if (l < 1 || r < 1 || l >= n || r >= n || l != floor(l) || r != floor(r) ||
		    seen[(uint32_t)l] || seen[(uint32_t)r] || l == r) {
			ERR("bad children at node %u", id);
			goto out;
		}
		if (f < 0 || f >= (double)nfeat || f != floor(f) || f > FC_FMASK) {
			ERR("split feature %.0f out of range (%zu features) at node %u", f, nfeat,
			    id);
			goto out;
		}
		seen[(uint32_t)l] = seen[(uint32_t)r] = 1;
		pos[(uint32_t)l] = tail;
		pos[(uint32_t)r] = tail + 1;
		dst[at].feat = (uint16_t)((uint32_t)f | (col[4][id] != 0.0 ? FC_DLEFT : 0u));
		dst[at].left = (uint16_t)tail;
		queue[tail++] = (uint32_t)l;
		queue[tail++] = (uint32_t)r;
	}
	*used = tail; /* nodes reachable from the root; orphans are dropped */
	rc = 0;
out:
	for (int c = 0; c < 5; c++)
		free(col[c]);
	free(queue);
	free(pos);
	free(seen);
	return rc;
}

int ns_forecast_add_xgb_json(struct ns_forecast *fc, const struct ns_fc_target *t, const char *json,
			     size_t len, float offset, int relative, char *err, size_t errlen)
{
	static const char *const objectives[] = {"reg:squarederror", "reg:pseudohubererror",
						 "reg:absoluteerror"};
	const cJSON *learner, *trees, *tree, *o;
	struct fc_model m = {0};
	cJSON *root = NULL;
	int ok = 0, rc = -EINVAL, nt;
	uint32_t room = NS_FC_MAX_NODES, total = 0;
	size_t all = 0;

	if (fc_shared(fc)) {
		ERR("model set is shared (ns_forecast_ref): cannot add to it");
		return -EBUSY;
	}
	if (fc->nmodels >= NS_FC_MAX_MODELS || !target_valid(t) || !isfinite(offset)) {
		ERR("too many models or bad target");
		return -EINVAL;
	}
	if (relative && !(fc->cfg.metric_mask & (1u << t->metric))) {
		ERR("relative model needs its metric in the feature mask");
		return -EINVAL;
	}
	if (ns_forecast_find(fc, t->metric, t->stat, t->horizon_s) >= 0) {
		ERR("duplicate target");
		return -EINVAL;
	}
	if (!json || len == 0 || len > NS_FC_MAX_FILE) {
		ERR("model JSON empty or larger than %u bytes", NS_FC_MAX_FILE);
		return -EINVAL;
	}
	for (size_t i = 0; i < fc->nmodels; i++)
		all += fc->m[i].nnodes;
	room = all >= NS_FC_MAX_NODES ? 0 : (uint32_t)(NS_FC_MAX_NODES - all);
	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		ERR("model is not valid JSON");
		return -EINVAL;
	}
	learner = jpath(root, "learner", NULL, NULL);
	o = jpath(learner, "objective", "name", NULL);
	for (size_t i = 0; cJSON_IsString(o) && i < sizeof(objectives) / sizeof(*objectives); i++)
		ok |= strcmp(o->valuestring, objectives[i]) == 0;
	if (!ok) {
		ERR("objective %s not supported (identity-link regression only)",
		    cJSON_IsString(o) ? o->valuestring : "(missing)");
		goto out;
	}
	o = jpath(learner, "gradient_booster", "name", NULL);
	if (!cJSON_IsString(o) || strcmp(o->valuestring, "gbtree") != 0) {
		ERR("booster must be gbtree");
		goto out;
	}
	o = jpath(learner, "learner_model_param", "base_score", NULL);
	if (!cJSON_IsString(o)) {
		ERR("base_score missing");
		goto out;
	}
	{
		char *end;
		double b = strtod(o->valuestring, &end);

		if (end == o->valuestring || *end || !isfinite(b) || fabs(b) > 1e30) {
			ERR("bad base_score");
			goto out;
		}
		m.base = (float)b;
	}
	o = jpath(learner, "learner_model_param", "num_target", NULL);
	if (o && !(cJSON_IsString(o) && strcmp(o->valuestring, "1") == 0)) {
		ERR("only single-output models are supported");
		goto out;
	}
	trees = jpath(learner, "gradient_booster", "model", "trees");
	nt = cJSON_GetArraySize(trees);
	if (!cJSON_IsArray(trees) || nt < 1 || (uint32_t)nt > NS_FC_MAX_TREES) {
		ERR("model has %d trees (1..%u allowed)", nt, NS_FC_MAX_TREES);
		goto out;
	}
	m.t = *t;
	m.offset = offset;
	m.ntrees = (uint32_t)nt;
	cJSON_ArrayForEach(tree, trees)
	{
		int tn = cJSON_GetArraySize(jpath(tree, "left_children", NULL, NULL));

		if (tn < 1 || (uint32_t)tn > room - total) {
			ERR("tree of %d nodes out of bounds (node budget %u)", tn, NS_FC_MAX_NODES);
			goto out;
		}
		total += (uint32_t)tn;
	}
	m.tree_off = malloc(((size_t)nt + 1) * sizeof(*m.tree_off));
	m.nodes = malloc((size_t)total * sizeof(*m.nodes));
	if (!m.tree_off || !m.nodes) {
		rc = -ENOMEM;
		goto out;
	}
	{
		uint32_t i = 0, cap = total;

		total = 0;
		cJSON_ArrayForEach(tree, trees)
		{
			uint32_t used = 0;

			m.tree_off[i] = total;
			rc = import_tree(tree, fc->nfeat, m.nodes + total, cap - total, &used, err,
					 errlen);
			if (rc)
				goto out;
			total += used;
			i++;
		}
		m.tree_off[i] = total;
	}
	m.nnodes = total;
	m.anchor[0] = m.anchor[1] = FC_NO_ANCHOR;
	m.flat_feat = FC_NO_ANCHOR;
	if (relative)
		anchors_for(fc, t->metric, m.anchor);
	rc = finish_model(&m, fc->nfeat);
	if (rc) {
		ERR("tree deeper than 64 levels");
		goto out;
	}
	fc->m[fc->nmodels++] = m;
	memset(&m, 0, sizeof(m));
	rc = 0;
out:
	model_clear(&m);
	cJSON_Delete(root);
	return rc;
}

/* --- binary format --- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int oom;
};

static void put(struct wbuf *w, const void *d, size_t n)
{
	if (w->oom)
		return;
	if (w->len + n > w->cap) {
		size_t nc = (w->cap ? w->cap * 2 : 4096);
		uint8_t *np;

		while (nc < w->len + n)
			nc *= 2;
		np = realloc(w->p, nc);
		if (!np) {
			w->oom = 1;
			return;
		}
		w->p = np;
		w->cap = nc;
	}
	memcpy(w->p + w->len, d, n);
	w->len += n;
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];

	put(w, b, (size_t)(ns_le_put_u32(b, v) - b));
}

static void put_f32(struct wbuf *w, float f)
{
	put_u32(w, ns_le_f32_bits(f));
}

int ns_forecast_save(const struct ns_forecast *fc, uint8_t **buf, size_t *len)
{
	struct wbuf w = {0};

	put(&w, FC_MAGIC, 4);
	put_u32(&w, FC_VERSION);
	put_u32(&w, fc->cfg.step_ms);
	put_u32(&w, fc->cfg.metric_mask);
	put_u32(&w, (uint32_t)fc->nfeat);
	put_u32(&w, (uint32_t)fc->nmodels);
	for (size_t i = 0; i < fc->nmodels; i++) {
		const struct fc_model *m = &fc->m[i];

		put_u32(&w, (uint32_t)m->t.metric | (uint32_t)m->t.stat << 8);
		put_u32(&w, m->t.horizon_s);
		put_f32(&w, m->base);
		put_f32(&w, m->offset);
		put_u32(&w, (uint32_t)m->anchor[0] | (uint32_t)m->anchor[1] << 16);
		put_u32(&w, m->flat_feat);
		put_f32(&w, m->flat_thr);
		put_u32(&w, m->ntrees);
		put_u32(&w, m->nnodes);
		for (uint32_t t = 0; t < m->ntrees; t++)
			put_u32(&w, m->tree_off[t + 1] - m->tree_off[t]);
		for (uint32_t k = 0; k < m->nnodes; k++) {
			const struct fc_node *n = &m->nodes[k];

			if (n->feat & FC_LEAF) {
				put_f32(&w, n->v);
				put_u32(&w, FC_LEAF);
			} else {
				put_f32(&w, n->v);
				put_u32(&w, (uint32_t)n->feat | (uint32_t)n->left << 16);
			}
		}
	}
	put_u32(&w, (uint32_t)crc32(0L, w.p, (uInt)w.len));
	if (w.oom) {
		free(w.p);
		return -ENOMEM;
	}
	*buf = w.p;
	*len = w.len;
	return 0;
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
};

static int get_u32(struct rbuf *r, uint32_t *v)
{
	if (r->len - r->off < 4)
		return -1;
	*v = ns_le_get_u32(r->p + r->off);
	r->off += 4;
	return 0;
}

static int get_f32(struct rbuf *r, float *f)
{
	uint32_t v;

	if (get_u32(r, &v))
		return -1;
	*f = ns_le_bits_f32(v);
	return isfinite(*f) ? 0 : -1;
}

static int load_model(struct rbuf *r, struct ns_forecast *fc, struct fc_model *m, uint32_t *budget,
		      char *err, size_t errlen)
{
	uint32_t tag, h, anc, flat;

	if (get_u32(r, &tag) || get_u32(r, &h) || get_f32(r, &m->base) || get_f32(r, &m->offset) ||
	    get_u32(r, &anc) || get_u32(r, &flat) || get_f32(r, &m->flat_thr) ||
	    get_u32(r, &m->ntrees) || get_u32(r, &m->nnodes)) {
		ERR("truncated or non-finite model header");
		return -EINVAL;
	}
	if ((flat != FC_NO_ANCHOR && flat >= fc->nfeat) || m->flat_thr < 0) {
		ERR("bad flat guard (feature %u, threshold %g)", flat, (double)m->flat_thr);
		return -EINVAL;
	}
	m->flat_feat = (uint16_t)flat;
	m->anchor[0] = (uint16_t)(anc & 0xffff);
	m->anchor[1] = (uint16_t)(anc >> 16);
	for (int a = 0; a < 2; a++)
		if (m->anchor[a] != FC_NO_ANCHOR && m->anchor[a] >= fc->nfeat) {
			ERR("anchor feature %u out of range", m->anchor[a]);
			return -EINVAL;
		}
	m->t.metric = (uint8_t)(tag & 0xff);
	m->t.stat = (uint8_t)(tag >> 8);
	m->t.horizon_s = h;
	if ((tag >> 16) != 0 || (tag >> 8) > 0xff || !target_valid(&m->t)) {
		ERR("bad target (metric %u stat %u horizon %u s)", tag & 0xff, tag >> 8, h);
		return -EINVAL;
	}
	if (ns_forecast_find(fc, m->t.metric, m->t.stat, m->t.horizon_s) >= 0) {
		ERR("duplicate target");
		return -EINVAL;
	}
	if (m->ntrees < 1 || m->ntrees > NS_FC_MAX_TREES || m->nnodes < m->ntrees ||
	    m->nnodes > *budget) {
		ERR("model with %u trees and %u nodes out of bounds", m->ntrees, m->nnodes);
		return -EINVAL;
	}
	/* Both arrays must fit in the bytes left before allocating them. */
	if ((r->len - r->off) / 4 < m->ntrees ||
	    (r->len - r->off - (size_t)m->ntrees * 4) / 8 < m->nnodes) {
		ERR("truncated: %u trees and %u nodes need more bytes than remain", m->ntrees,
		    m->nnodes);
		return -EINVAL;
	}
	*budget -= m->nnodes;
	m->tree_off = malloc(((size_t)m->ntrees + 1) * sizeof(*m->tree_off));
	m->nodes = malloc((size_t)m->nnodes * sizeof(*m->nodes));
	if (!m->tree_off || !m->nodes)
		return -ENOMEM;
	m->tree_off[0] = 0;
	for (uint32_t t = 0; t < m->ntrees; t++) {
		uint32_t c;

		get_u32(r, &c);
		if (c < 1 || c > NS_FC_MAX_TREE_NODES || c > m->nnodes - m->tree_off[t]) {
			ERR("tree %u has a bad node count %u", t, c);
			return -EINVAL;
		}
		m->tree_off[t + 1] = m->tree_off[t] + c;
	}
	if (m->tree_off[m->ntrees] != m->nnodes) {
		ERR("tree node counts do not add up to %u", m->nnodes);
		return -EINVAL;
	}
	for (uint32_t t = 0; t < m->ntrees; t++) {
		uint32_t base = m->tree_off[t], c = m->tree_off[t + 1] - base;

		for (uint32_t k = 0; k < c; k++) {
			struct fc_node *nd = &m->nodes[base + k];
			uint32_t packed;

			if (get_f32(r, &nd->v) || get_u32(r, &packed)) {
				ERR("non-finite value in tree %u node %u", t, k);
				return -EINVAL;
			}
			nd->feat = (uint16_t)(packed & 0xffff);
			nd->left = (uint16_t)(packed >> 16);
			if (nd->feat & FC_LEAF) {
				if (nd->feat != FC_LEAF || nd->left != 0) {
					ERR("bad leaf in tree %u node %u", t, k);
					return -EINVAL;
				}
				continue;
			}
			/* Forward-only children keep every walk finite. */
			if ((nd->feat & FC_FMASK) >= fc->nfeat || nd->left <= k ||
			    (uint32_t)nd->left + 1 >= c) {
				ERR("bad split in tree %u node %u", t, k);
				return -EINVAL;
			}
		}
	}
	if (finish_model(m, fc->nfeat)) {
		ERR("tree deeper than 64 levels");
		return -EINVAL;
	}
	return 0;
}

int ns_forecast_load(const void *buf, size_t len, struct ns_forecast **out, char *err,
		     size_t errlen)
{
	struct rbuf r = {.p = buf, .len = len};
	struct ns_feat_config cfg;
	struct ns_forecast *fc = NULL;
	uint32_t ver, nfeat, nmodels, crc, budget = NS_FC_MAX_NODES;
	int rc;

	*out = NULL;
	if (!buf || len < 32 || len > NS_FC_MAX_FILE) {
		ERR("model file size %zu out of range", len);
		return -EINVAL;
	}
	if (memcmp(buf, FC_MAGIC, 4) != 0) {
		ERR("not a forecaster model (bad magic)");
		return -EINVAL;
	}
	r.off = 4;
	r.len = len - 4;
	{
		const uint8_t *t = (const uint8_t *)buf + len - 4;

		crc = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
		      (uint32_t)t[3] << 24;
	}
	if ((uint32_t)crc32(0L, buf, (uInt)(len - 4)) != crc) {
		ERR("checksum mismatch (truncated or corrupt model file)");
		return -EINVAL;
	}
	get_u32(&r, &ver);
	if (ver != FC_VERSION) {
		ERR("model format version %u not supported (want %u)", ver, FC_VERSION);
		return -EINVAL;
	}
	get_u32(&r, &cfg.step_ms);
	get_u32(&r, &cfg.metric_mask);
	get_u32(&r, &nfeat);
	if (get_u32(&r, &nmodels) || !cfg_valid(&cfg)) {
		ERR("bad feature configuration");
		return -EINVAL;
	}
	rc = ns_forecast_new(&cfg, &fc);
	if (rc)
		return rc;
	if (nfeat != fc->nfeat || nmodels < 1 || nmodels > NS_FC_MAX_MODELS) {
		ERR("feature count %u (want %zu) or model count %u out of range", nfeat, fc->nfeat,
		    nmodels);
		ns_forecast_free(fc);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < nmodels; i++) {
		rc = load_model(&r, fc, &fc->m[i], &budget, err, errlen);
		fc->nmodels = i + 1; /* so free releases a half-built model */
		if (rc) {
			ns_forecast_free(fc);
			return rc;
		}
	}
	if (r.off != r.len) {
		ERR("%zu trailing bytes after the last model", r.len - r.off);
		ns_forecast_free(fc);
		return -EINVAL;
	}
	*out = fc;
	return 0;
}

int ns_forecast_load_bundle(const char *dir, struct ns_forecast **out, char *err, size_t errlen)
{
	struct ns_bundle *b = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	const char *kind;
	int rc;

	*out = NULL;
	rc = ns_bundle_open(dir, &b, err, errlen);
	if (rc)
		return rc;
	kind = ns_bundle_get(b, "kind");
	if (!kind || strcmp(kind, "forecast") != 0) {
		ERR("bundle %s is not a forecast bundle (kind=%s)", dir, kind ? kind : "(none)");
		ns_bundle_close(b);
		return -EINVAL;
	}
	rc = ns_bundle_read(b, "forecast.nsf", NS_FC_MAX_FILE, &buf, &len, err, errlen);
	ns_bundle_close(b);
	if (rc)
		return rc;
	rc = ns_forecast_load(buf, len, out, err, errlen);
	free(buf);
	return rc;
}

/* --- queries and prediction --- */

const struct ns_feat_config *ns_forecast_feat_config(const struct ns_forecast *fc)
{
	return &fc->cfg;
}

size_t ns_forecast_nfeat(const struct ns_forecast *fc)
{
	return fc->nfeat;
}

size_t ns_forecast_ntargets(const struct ns_forecast *fc)
{
	return fc->nmodels;
}

const struct ns_fc_target *ns_forecast_target(const struct ns_forecast *fc, size_t i)
{
	return i < fc->nmodels ? &fc->m[i].t : NULL;
}

size_t ns_forecast_ntrees(const struct ns_forecast *fc)
{
	size_t n = 0;

	for (size_t i = 0; i < fc->nmodels; i++)
		n += fc->m[i].ntrees;
	return n;
}

int ns_forecast_find(const struct ns_forecast *fc, int metric, int stat, uint32_t horizon_s)
{
	for (size_t i = 0; i < fc->nmodels; i++)
		if (fc->m[i].t.metric == metric && fc->m[i].t.stat == stat &&
		    fc->m[i].t.horizon_s == horizon_s)
			return (int)i;
	return -1;
}

/* One branch-free step: right when v >= thr, or when v is NaN and the
 * default direction is right (XGBoost: left iff v < thr, missing default). */
static inline uint32_t step(const struct fc_node *n, uint32_t k, const float *xp)
{
	struct fc_node nd = n[k];
	float v = xp[nd.feat & FC_FMASK];
	uint32_t dl = (nd.feat >> 14) & 1u;
	uint32_t right = (uint32_t)(v >= nd.v) | ((uint32_t)(v != v) & (dl ^ 1u));

	return (uint32_t)nd.left + right;
}

/* xp: features padded with NaN at index nfeat. */
static float walk(const struct fc_model *m, const float *xp)
{
	const uint32_t *off = m->tree_off;
	float sum = 0;
	uint32_t t = 0;

	/* Four trees at a time: independent loads overlap. */
	for (; t + 4 <= m->ntrees; t += 4) {
		const struct fc_node *n0 = m->nodes + off[t], *n1 = m->nodes + off[t + 1];
		const struct fc_node *n2 = m->nodes + off[t + 2], *n3 = m->nodes + off[t + 3];
		uint32_t k0 = 0, k1 = 0, k2 = 0, k3 = 0;
		unsigned d = m->depth[t];

		d = m->depth[t + 1] > d ? m->depth[t + 1] : d;
		d = m->depth[t + 2] > d ? m->depth[t + 2] : d;
		d = m->depth[t + 3] > d ? m->depth[t + 3] : d;
		for (unsigned i = 0; i < d; i++) {
			k0 = step(n0, k0, xp);
			k1 = step(n1, k1, xp);
			k2 = step(n2, k2, xp);
			k3 = step(n3, k3, xp);
		}
		sum += n0[k0].v + n1[k1].v + n2[k2].v + n3[k3].v;
	}
	for (; t < m->ntrees; t++) {
		uint32_t k = 0;

		for (unsigned i = 0; i < m->depth[t]; i++)
			k = step(m->nodes + off[t], k, xp);
		sum += m->nodes[off[t] + k].v;
	}
	return sum;
}

static float anchor_of(const struct fc_model *m, const float *x)
{
	for (int a = 0; a < 2; a++)
		if (m->anchor[a] != FC_NO_ANCHOR && isfinite(x[m->anchor[a]]))
			return x[m->anchor[a]];
	return 0.0f;
}

float ns_forecast_anchor_for(const struct ns_forecast *fc, int metric, const float *x)
{
	struct fc_model m;

	if (metric < 0 || metric >= NS_METRIC_COUNT || !(fc->cfg.metric_mask & (1u << metric)))
		return 0.0f;
	anchors_for(fc, metric, m.anchor);
	return anchor_of(&m, x);
}

float ns_forecast_anchor(const struct ns_forecast *fc, size_t i, const float *x)
{
	return anchor_of(&fc->m[i], x);
}

int ns_forecast_is_relative(const struct ns_forecast *fc, size_t i)
{
	return fc->m[i].anchor[0] != FC_NO_ANCHOR;
}

static float predict_model(const struct fc_model *m, const float *xp)
{
	/* Flat recent history: persistence (plus the peak offset) beats any
	 * learned drift there; the threshold was chosen on training data. */
	if (m->flat_feat != FC_NO_ANCHOR && xp[m->flat_feat] < m->flat_thr)
		return anchor_of(m, xp) + m->offset;
	return m->base + walk(m, xp) + m->offset + anchor_of(m, xp);
}

int ns_forecast_set_flat_guard(struct ns_forecast *fc, size_t i, float thr)
{
	uint16_t a[2];
	struct fc_model *m;

	if (fc_shared(fc))
		return -EBUSY;
	if (i >= fc->nmodels || !(thr >= 0) || !isfinite(thr))
		return -EINVAL;
	m = &fc->m[i];
	if (thr == 0) {
		m->flat_feat = FC_NO_ANCHOR;
		m->flat_thr = 0;
		return 0;
	}
	if (!(fc->cfg.metric_mask & (1u << m->t.metric)))
		return -EINVAL;
	anchors_for(fc, m->t.metric, a);
	/* <metric>_std_1h: cur, then mean/std/max per window. */
	m->flat_feat = (uint16_t)(a[0] + 1 + 3 * NS_FEAT_W_1H + 1);
	m->flat_thr = thr;
	return 0;
}

float ns_forecast_flat_guard(const struct ns_forecast *fc, size_t i)
{
	return fc->m[i].flat_feat == FC_NO_ANCHOR ? 0.0f : fc->m[i].flat_thr;
}

float ns_forecast_predict_one(const struct ns_forecast *fc, size_t i, const float *x)
{
	float xp[NS_FEAT_MAX + 1];

	memcpy(xp, x, fc->nfeat * sizeof(float));
	xp[fc->nfeat] = NAN;
	return predict_model(&fc->m[i], xp);
}

int ns_forecast_predict(const struct ns_forecast *fc, const float *x, size_t nfeat, float *out,
			size_t nout)
{
	float xp[NS_FEAT_MAX + 1];

	if (!x || !out || nfeat < fc->nfeat || nout < fc->nmodels)
		return -EINVAL;
	memcpy(xp, x, fc->nfeat * sizeof(float));
	xp[fc->nfeat] = NAN;
	for (size_t i = 0; i < fc->nmodels; i++)
		out[i] = predict_model(&fc->m[i], xp);
	return 0;
}

void ns_forecast_target_name(const struct ns_fc_target *t, char *buf, size_t len)
{
	const char *mn = t->metric < NS_METRIC_COUNT ? ns_metric_names[t->metric] : "unknown";
	const char *st = t->stat == NS_FC_PEAK ? "peak" : "mean";

	if (t->horizon_s % 3600 == 0)
		snprintf(buf, len, "%s_%s_%uh", mn, st, t->horizon_s / 3600);
	else
		snprintf(buf, len, "%s_%s_%um", mn, st, t->horizon_s / 60);
}
