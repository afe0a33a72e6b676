// SPDX-License-Identifier: MIT
/* Forecaster model set: lifetime and shared references, queries, and the
 * flat tree walker that predicts. Import is in forecast_xgb.c, the binary
 * format in forecast_codec.c. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast_int.h"
#include "nodescore/forecast.h"

static size_t popcount32(uint32_t x)
{
	size_t n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

int ns_forecast_cfg_valid(const struct ns_feat_config *cfg)
{
	return cfg && cfg->step_ms >= NS_FEAT_STEP_MIN_MS && cfg->step_ms <= NS_FEAT_STEP_MAX_MS &&
	       cfg->metric_mask != 0 && (cfg->metric_mask >> NS_METRIC_COUNT) == 0;
}

int ns_forecast_target_valid(const struct ns_fc_target *t)
{
	return t->metric < NS_METRIC_COUNT && t->stat <= NS_FC_PEAK && t->horizon_s >= 1 &&
	       t->horizon_s <= NS_FC_MAX_HORIZON_S;
}

int ns_forecast_new(const struct ns_feat_config *cfg, struct ns_forecast **out)
{
	struct ns_forecast *fc;

	*out = NULL;
	if (!ns_forecast_cfg_valid(cfg))
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

void ns_forecast_model_clear(struct fc_model *m)
{
	free(m->tree_off);
	free(m->nodes);
	free(m->depth);
	memset(m, 0, sizeof(*m));
}

/* File encoding -> walker encoding (see struct fc_model). Nodes are
 * validated: children strictly after their parent within the tree. */
int ns_forecast_finish_model(struct fc_model *m, size_t nfeat)
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

void ns_forecast_anchors_for(const struct ns_forecast *fc, int metric, uint16_t a[2])
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
int ns_forecast_shared(struct ns_forecast *fc)
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
		ns_forecast_model_clear(&fc->m[i]);
	free(fc);
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
	ns_forecast_anchors_for(fc, metric, m.anchor);
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

	if (ns_forecast_shared(fc))
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
	ns_forecast_anchors_for(fc, m->t.metric, a);
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
