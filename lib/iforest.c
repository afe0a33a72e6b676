// SPDX-License-Identifier: MIT
/* Isolation forest (Liu, Ting, Zhou 2008): training, scoring, attribution.
 * The model file is in iforest_file.c. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iforest_int.h"
#include "nodescore/iforest.h"

/* Average path length of an unsuccessful BST search among n points: the
 * expected depth still to go below a leaf that holds n training rows. */
double ns_iforest_c_of(double n)
{
	if (n <= 1.0)
		return 0.0;
	if (n <= 2.0)
		return 1.0;
	return 2.0 * (log(n - 1.0) + 0.5772156649015329) - 2.0 * (n - 1.0) / n;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double rnd_unit(uint64_t *s)
{
	return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

static uint32_t rnd_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((splitmix64(s) >> 32) * (uint64_t)n) >> 32);
}

void ns_iforest_params_default(struct ns_iforest_params *p)
{
	p->n_trees = 100;
	p->psi = 256;
	p->seed = 0x6e6f64657363ull;
}

/* Every forest starts with one reference, its creator's. */
struct ns_iforest *ns_iforest_alloc(void)
{
	struct ns_iforest *f = calloc(1, sizeof(*f));

	if (f)
		atomic_init(&f->refs, 1u);
	return f;
}

struct ns_iforest *ns_iforest_ref(struct ns_iforest *f)
{
	/* Relaxed: the caller already holds a reference, so the forest cannot
	 * go away meanwhile and nothing is published by taking another. */
	if (f)
		atomic_fetch_add_explicit(&f->refs, 1u, memory_order_relaxed);
	return f;
}

void ns_iforest_free(struct ns_iforest *f)
{
	/* acq_rel: the last holder must see every other holder's reads done
	 * before it frees the trees. */
	if (!f || atomic_fetch_sub_explicit(&f->refs, 1u, memory_order_acq_rel) != 1u)
		return;
	free(f->off);
	free(f->nodes);
	free(f->size);
	free(f);
}

struct builder {
	const float *x;
	size_t nf;
	uint32_t *idx;
	struct node *nodes; /* of the current tree */
	uint32_t *size;
	uint32_t n, cap;
	uint32_t limit;
	uint64_t rng;
};

/* Builds the subtree for rows idx[lo, hi) at node slot id. Recursion depth is
 * bounded by the height limit (<= 16 for psi <= 65536). */
static void build(struct builder *b, uint32_t id, uint32_t lo, uint32_t hi, uint32_t depth)
{
	uint32_t cnt = hi - lo, feat = 0, tries, i, mid;
	float mn = 0, mx = 0, thr;
	int found = 0;

	b->size[id] = cnt;
	if (depth < b->limit && cnt > 1) {
		/* A constant column cannot split: draw again, at most nf times. */
		for (tries = 0; tries < b->nf && !found; tries++) {
			feat = rnd_below(&b->rng, (uint32_t)b->nf);
			mn = mx = b->x[(size_t)b->idx[lo] * b->nf + feat];
			for (i = lo + 1; i < hi; i++) {
				float v = b->x[(size_t)b->idx[i] * b->nf + feat];
				mn = v < mn ? v : mn;
				mx = v > mx ? v : mx;
			}
			found = mn < mx;
		}
	}
	if (!found) {
		b->nodes[id] = (struct node){
		    .thr = (float)((double)depth + ns_iforest_c_of((double)cnt)), .feat = -1};
		return;
	}
	thr = (float)((double)mn + rnd_unit(&b->rng) * ((double)mx - (double)mn));
	if (thr <= mn) /* rounding: keep the left side non-empty */
		thr = nextafterf(mn, mx);
	/* Partition idx[lo, hi): x < thr to the front. */
	mid = lo;
	for (i = lo; i < hi; i++) {
		if (b->x[(size_t)b->idx[i] * b->nf + feat] < thr) {
			uint32_t t = b->idx[i];
			b->idx[i] = b->idx[mid];
			b->idx[mid++] = t;
		}
	}
	b->nodes[id] = (struct node){.thr = thr, .feat = (int32_t)feat, .left = b->n};
	b->n += 2;
	build(b, b->nodes[id].left, lo, mid, depth + 1);
	build(b, b->nodes[id].left + 1, mid, hi, depth + 1);
}

static void set_names(struct ns_iforest *f, const char *const *names)
{
	for (uint32_t i = 0; i < f->nf; i++) {
		if (names && names[i])
			snprintf(f->names[i], sizeof(f->names[i]), "%s", names[i]);
		else
			snprintf(f->names[i], sizeof(f->names[i]), "f%u", i);
	}
}

int ns_iforest_train(const float *x, size_t n_rows, size_t n_features, const char *const *names,
		     const struct ns_iforest_params *p, struct ns_iforest **out)
{
	struct ns_iforest_params def;
	struct ns_iforest *f = NULL;
	struct builder b = {0};
	uint32_t psi, per_tree, t;
	int err = -ENOMEM;

	*out = NULL;
	if (!p) {
		ns_iforest_params_default(&def);
		p = &def;
	}
	if (!x || n_rows < 2 || n_rows > UINT32_MAX || n_features < 1 ||
	    n_features > NS_IFOREST_MAX_FEATURES || p->n_trees < 1 ||
	    p->n_trees > NS_IFOREST_MAX_TREES || p->psi < 2 || p->psi > NS_IFOREST_MAX_PSI)
		return -EINVAL;
	for (size_t i = 0; i < n_rows * n_features; i++)
		if (!isfinite(x[i]))
			return -EINVAL;
	psi = n_rows < p->psi ? (uint32_t)n_rows : p->psi;
	per_tree = 2 * psi - 1;

	f = ns_iforest_alloc();
	if (!f)
		goto fail;
	f->nf = (uint32_t)n_features;
	f->nt = p->n_trees;
	f->psi = psi;
	f->seed = p->seed;
	f->cpsi = ns_iforest_c_of((double)psi);
	set_names(f, names);
	f->off = calloc((size_t)f->nt + 1, sizeof(*f->off));
	f->nodes = calloc((size_t)f->nt * per_tree, sizeof(*f->nodes));
	f->size = calloc((size_t)f->nt * per_tree, sizeof(*f->size));
	b.idx = malloc(n_rows * sizeof(*b.idx));
	if (!f->off || !f->nodes || !f->size || !b.idx)
		goto fail;
	for (uint32_t i = 0; i < n_rows; i++)
		b.idx[i] = i;
	b.x = x;
	b.nf = n_features;
	b.rng = p->seed;
	b.limit = (uint32_t)ceil(log2((double)psi));

	for (t = 0; t < f->nt; t++) {
		/* Partial Fisher-Yates: idx[0, psi) becomes a fresh sample without replacement. */
		for (uint32_t i = 0; i < psi; i++) {
			uint32_t j = i + rnd_below(&b.rng, (uint32_t)n_rows - i);
			uint32_t tmp = b.idx[i];
			b.idx[i] = b.idx[j];
			b.idx[j] = tmp;
		}
		b.nodes = f->nodes + f->off[t];
		b.size = f->size + f->off[t];
		b.n = 1;
		build(&b, 0, 0, psi, 0);
		f->off[t + 1] = f->off[t] + b.n;
	}
	free(b.idx);
	*out = f;
	return 0;
fail:
	free(b.idx);
	ns_iforest_free(f);
	return err;
}

static double mean_path(const struct ns_iforest *f, const float *x)
{
	double h = 0;

	for (uint32_t t = 0; t < f->nt; t++) {
		const struct node *nd = f->nodes + f->off[t];
		uint32_t i = 0;

		while (nd[i].feat >= 0)
			i = nd[i].left + (uint32_t) !(x[nd[i].feat] < nd[i].thr);
		h += nd[i].thr;
	}
	return h / f->nt;
}

static int check_x(const struct ns_iforest *f, const float *x, size_t n_features)
{
	if (!f || !x || n_features != f->nf)
		return -EINVAL;
	for (size_t i = 0; i < n_features; i++)
		if (isnan(x[i]))
			return -EINVAL;
	return 0;
}

int ns_iforest_score(const struct ns_iforest *f, const float *x, size_t n_features, double *score)
{
	int err = check_x(f, x, n_features);

	if (err)
		return err;
	*score = exp2(-mean_path(f, x) / f->cpsi);
	return 0;
}

int ns_iforest_score_batch(const struct ns_iforest *f, const float *x, size_t n_rows,
			   size_t n_features, double *out)
{
	for (size_t r = 0; r < n_rows; r++) {
		int err = ns_iforest_score(f, x + r * n_features, n_features, &out[r]);
		if (err)
			return err;
	}
	return 0;
}

int ns_iforest_explain(const struct ns_iforest *f, const float *x, size_t n_features, double *score,
		       int *top, double *contrib)
{
	double acc[NS_IFOREST_MAX_FEATURES] = {0}, total = 0, best = 0, h = 0;
	int err = check_x(f, x, n_features);

	if (err)
		return err;
	for (uint32_t t = 0; t < f->nt; t++) {
		const struct node *nd = f->nodes + f->off[t];
		const uint32_t *sz = f->size + f->off[t];
		uint32_t i = 0;

		while (nd[i].feat >= 0) {
			uint32_t c = nd[i].left + (uint32_t) !(x[nd[i].feat] < nd[i].thr);
			acc[nd[i].feat] += log2((double)sz[i] / (double)sz[c]);
			i = c;
		}
		h += nd[i].thr;
	}
	*score = exp2(-(h / f->nt) / f->cpsi);
	*top = -1;
	for (uint32_t k = 0; k < f->nf; k++) {
		total += acc[k];
		if (acc[k] > best) {
			best = acc[k];
			*top = (int)k;
		}
	}
	if (contrib)
		for (uint32_t k = 0; k < f->nf; k++)
			contrib[k] = total > 0 ? acc[k] / total : 0.0;
	return 0;
}

size_t ns_iforest_n_features(const struct ns_iforest *f)
{
	return f->nf;
}

size_t ns_iforest_n_trees(const struct ns_iforest *f)
{
	return f->nt;
}

uint32_t ns_iforest_psi(const struct ns_iforest *f)
{
	return f->psi;
}

const char *ns_iforest_feature_name(const struct ns_iforest *f, size_t i)
{
	return f && i < f->nf ? f->names[i] : NULL;
}
