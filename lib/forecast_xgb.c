// SPDX-License-Identifier: MIT
/* Forecaster import: one XGBoost JSON model (gbtree, identity link, numeric
 * splits) validated and flattened into a model of the set. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "forecast_int.h"
#include "nodescore/forecast.h"

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

	if (ns_forecast_shared(fc)) {
		ERR("model set is shared (ns_forecast_ref): cannot add to it");
		return -EBUSY;
	}
	if (fc->nmodels >= NS_FC_MAX_MODELS || !ns_forecast_target_valid(t) || !isfinite(offset)) {
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
		ns_forecast_anchors_for(fc, t->metric, m.anchor);
	rc = ns_forecast_finish_model(&m, fc->nfeat);
	if (rc) {
		ERR("tree deeper than 64 levels");
		goto out;
	}
	fc->m[fc->nmodels++] = m;
	memset(&m, 0, sizeof(m));
	rc = 0;
out:
	ns_forecast_model_clear(&m);
	cJSON_Delete(root);
	return rc;
}
