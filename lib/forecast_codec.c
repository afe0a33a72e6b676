// SPDX-License-Identifier: MIT
/* Forecaster binary format ("NSFC"): writer, the bounded validating loader
 * and loading through a bundle manifest. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "forecast_int.h"
#include "nodescore/bundle.h"
#include "nodescore/forecast.h"
#include "nodescore/le.h"

#define FC_MAGIC "NSFC"
#define FC_VERSION 1u

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
	if ((tag >> 16) != 0 || (tag >> 8) > 0xff || !ns_forecast_target_valid(&m->t)) {
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
	if (ns_forecast_finish_model(m, fc->nfeat)) {
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
	if (get_u32(&r, &nmodels) || !ns_forecast_cfg_valid(&cfg)) {
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
