// SPDX-License-Identifier: MIT
/* Isolation forest (Liu, Ting, Zhou 2008): training, scoring, attribution, model file. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "nodescore/le.h"
#include "nodescore/fileio.h"
#include "nodescore/iforest.h"

/* Scoring walks only this: 12 bytes, and the right child is always
 * left + 1 (the loader enforces it), so a step is a compare and an add with
 * no unpredictable branch. A leaf has feat -1 and keeps its whole
 * path-length contribution, depth + c(size), in thr so scoring adds one
 * number per tree. */
struct node {
	float thr;
	int32_t feat;
	uint32_t left;
};

struct ns_iforest {
	/* Holders of this forest (see ns_iforest_ref): atomic so holders in
	 * different threads may take and drop references without a lock. */
	atomic_uint refs;
	uint32_t nf, nt, psi;
	uint64_t seed;
	double cpsi;   /* c(psi): normalises the mean path length */
	uint32_t *off; /* nt + 1 offsets into nodes */
	struct node *nodes;
	uint32_t *size; /* training rows that reached each node */
	char names[NS_IFOREST_MAX_FEATURES][NS_IFOREST_NAME_MAX + 1];
};

/* Average path length of an unsuccessful BST search among n points: the
 * expected depth still to go below a leaf that holds n training rows. */
static double c_of(double n)
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
static struct ns_iforest *forest_alloc(void)
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
		b->nodes[id] =
		    (struct node){.thr = (float)((double)depth + c_of((double)cnt)), .feat = -1};
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

	f = forest_alloc();
	if (!f)
		goto fail;
	f->nf = (uint32_t)n_features;
	f->nt = p->n_trees;
	f->psi = psi;
	f->seed = p->seed;
	f->cpsi = c_of((double)psi);
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

/* ---- model file ---- */

#define HDR_BYTES (4u + 4u + 4u + 4u + 4u + 8u)
#define NODE_BYTES 20u /* feature, threshold, left, right, size */

int ns_iforest_serialize(const struct ns_iforest *f, uint8_t **buf, size_t *len)
{
	size_t n = HDR_BYTES + 4;
	uint8_t *b, *p;

	for (uint32_t i = 0; i < f->nf; i++)
		n += 2 + strlen(f->names[i]);
	n += (size_t)f->nt * 4 + (size_t)f->off[f->nt] * NODE_BYTES;
	b = malloc(n);
	if (!b)
		return -ENOMEM;
	memcpy(b, "NSIF", 4);
	p = ns_le_put_u32(b + 4, NS_IFOREST_VERSION);
	p = ns_le_put_u32(p, f->nf);
	p = ns_le_put_u32(p, f->nt);
	p = ns_le_put_u32(p, f->psi);
	p = ns_le_put_u32(p, (uint32_t)f->seed);
	p = ns_le_put_u32(p, (uint32_t)(f->seed >> 32));
	for (uint32_t i = 0; i < f->nf; i++) {
		size_t l = strlen(f->names[i]);
		*p++ = (uint8_t)l;
		*p++ = 0;
		memcpy(p, f->names[i], l);
		p += l;
	}
	for (uint32_t t = 0; t < f->nt; t++) {
		const struct node *nd = f->nodes + f->off[t];
		const uint32_t *sz = f->size + f->off[t];
		uint32_t nn = f->off[t + 1] - f->off[t];

		p = ns_le_put_u32(p, nn);
		for (uint32_t i = 0; i < nn; i++)
			p = ns_le_put_u32(p, (uint32_t)nd[i].feat);
		/* A leaf's in-memory thr is derived (depth + c(size)): store 0. */
		for (uint32_t i = 0; i < nn; i++)
			p = ns_le_put_u32(p, nd[i].feat < 0 ? 0u : ns_le_f32_bits(nd[i].thr));
		for (uint32_t i = 0; i < nn; i++)
			p = ns_le_put_u32(p, nd[i].left);
		for (uint32_t i = 0; i < nn; i++)
			p = ns_le_put_u32(p, nd[i].feat < 0 ? 0u : nd[i].left + 1);
		for (uint32_t i = 0; i < nn; i++)
			p = ns_le_put_u32(p, sz[i]);
	}
	ns_le_put_u32(p, (uint32_t)crc32(0L, b, (uInt)(n - 4)));
	*buf = b;
	*len = n;
	return 0;
}

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		rc = -EBADMSG;                                                                     \
		goto fail;                                                                         \
	} while (0)

/* Validates and loads tree t whose five arrays start at a (nn nodes each). */
static int load_tree(struct ns_iforest *f, uint32_t t, const uint8_t *a, uint32_t nn,
		     uint32_t *depth, uint8_t *seen, char *err, size_t errlen)
{
	struct node *nd = f->nodes + f->off[t];
	uint32_t *sz = f->size + f->off[t];
	const uint8_t *pf = a, *pt = a + 4 * (size_t)nn, *pl = a + 8 * (size_t)nn,
		      *pr = a + 12 * (size_t)nn, *ps = a + 16 * (size_t)nn;
	int rc = 0;

	for (uint32_t i = 0; i < nn; i++) {
		sz[i] = ns_le_get_u32(ps + 4 * (size_t)i);
		seen[i] = 0;
	}
	if (sz[0] < 1 || sz[0] > f->psi)
		BAD("tree=%u root size=%u outside 1..psi=%u", t, sz[0], f->psi);
	depth[0] = 0;
	for (uint32_t i = 0; i < nn; i++) {
		int32_t feat = (int32_t)ns_le_get_u32(pf + 4 * (size_t)i);
		float thr = ns_le_bits_f32(ns_le_get_u32(pt + 4 * (size_t)i));
		uint32_t l = ns_le_get_u32(pl + 4 * (size_t)i),
			 r = ns_le_get_u32(pr + 4 * (size_t)i);

		if (sz[i] < 1)
			BAD("tree=%u node=%u has size 0", t, i);
		if (feat == -1) {
			if (l != 0 || r != 0 || ns_le_get_u32(pt + 4 * (size_t)i) != 0)
				BAD("tree=%u leaf=%u has children or a threshold", t, i);
			nd[i] = (struct node){
			    .thr = (float)((double)depth[i] + c_of((double)sz[i])), .feat = -1};
			continue;
		}
		if (feat < 0 || (uint32_t)feat >= f->nf)
			BAD("tree=%u node=%u feature=%d outside 0..%u", t, i, feat, f->nf - 1);
		if (!isfinite(thr))
			BAD("tree=%u node=%u threshold is not finite", t, i);
		/* Children after their parent: no cycles, and depth known in one pass. */
		if (l <= i || l >= nn || r != l + 1 || r >= nn)
			BAD("tree=%u node=%u child index left=%u right=%u out of range (nodes=%u)",
			    t, i, l, r, nn);
		if (seen[l] || seen[r])
			BAD("tree=%u node=%u child referenced twice", t, i);
		seen[l] = seen[r] = 1;
		if ((uint64_t)sz[l] + sz[r] != sz[i])
			BAD("tree=%u node=%u size=%u != children %u+%u", t, i, sz[i], sz[l], sz[r]);
		depth[l] = depth[r] = depth[i] + 1;
		nd[i] = (struct node){.thr = thr, .feat = feat, .left = l};
	}
	for (uint32_t i = 1; i < nn; i++)
		if (!seen[i])
			BAD("tree=%u node=%u is unreachable", t, i);
	return 0;
fail:
	return rc;
}

int ns_iforest_deserialize(const uint8_t *buf, size_t len, struct ns_iforest **out, char *err,
			   size_t errlen)
{
	struct ns_iforest *f = NULL;
	uint32_t *depth = NULL;
	uint8_t *seen = NULL;
	size_t pos, body, total = 0, maxnn = 0;
	uint32_t crc, want;
	int rc = -EBADMSG;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!buf || len < HDR_BYTES + 4)
		BAD("model file too short (%zu bytes)", len);
	if (len > NS_IFOREST_FILE_MAX)
		BAD("model file too large (%zu bytes, max %u)", len, NS_IFOREST_FILE_MAX);
	if (memcmp(buf, "NSIF", 4) != 0)
		BAD("bad magic (not a nodescore isolation forest model)");
	if (ns_le_get_u32(buf + 4) != NS_IFOREST_VERSION)
		BAD("unsupported model version %u (this build reads %u)", ns_le_get_u32(buf + 4),
		    NS_IFOREST_VERSION);
	body = len - 4;
	want = ns_le_get_u32(buf + body);
	crc = (uint32_t)crc32(0L, buf, (uInt)body);
	if (crc != want)
		BAD("checksum mismatch (file corrupt or truncated)");

	f = forest_alloc();
	if (!f) {
		rc = -ENOMEM;
		goto fail;
	}
	f->nf = ns_le_get_u32(buf + 8);
	f->nt = ns_le_get_u32(buf + 12);
	f->psi = ns_le_get_u32(buf + 16);
	f->seed = (uint64_t)ns_le_get_u32(buf + 20) | (uint64_t)ns_le_get_u32(buf + 24) << 32;
	if (f->nf < 1 || f->nf > NS_IFOREST_MAX_FEATURES)
		BAD("n_features=%u outside 1..%d", f->nf, NS_IFOREST_MAX_FEATURES);
	if (f->nt < 1 || f->nt > NS_IFOREST_MAX_TREES)
		BAD("n_trees=%u outside 1..%d", f->nt, NS_IFOREST_MAX_TREES);
	if (f->psi < 2 || f->psi > NS_IFOREST_MAX_PSI)
		BAD("psi=%u outside 2..%d", f->psi, NS_IFOREST_MAX_PSI);
	f->cpsi = c_of((double)f->psi);
	pos = HDR_BYTES;
	for (uint32_t i = 0; i < f->nf; i++) {
		uint32_t l;

		if (body - pos < 2)
			BAD("truncated in feature name %u", i);
		l = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8;
		pos += 2;
		if (l < 1 || l > NS_IFOREST_NAME_MAX)
			BAD("feature name %u length=%u outside 1..%d", i, l, NS_IFOREST_NAME_MAX);
		if (body - pos < l)
			BAD("truncated in feature name %u", i);
		for (uint32_t k = 0; k < l; k++)
			if (buf[pos + k] < 0x21 || buf[pos + k] > 0x7e)
				BAD("feature name %u has a non-printable byte", i);
		memcpy(f->names[i], buf + pos, l);
		f->names[i][l] = '\0';
		pos += l;
	}
	/* First pass: tree lengths only, so the node arrays are allocated once. */
	for (uint32_t t = 0; t < f->nt; t++) {
		size_t nn;

		if (body - pos < 4)
			BAD("truncated before tree %u", t);
		nn = ns_le_get_u32(buf + pos);
		pos += 4;
		if (nn < 1 || nn > 2 * (size_t)f->psi - 1)
			BAD("tree=%u nodes=%zu outside 1..%u", t, nn, 2 * f->psi - 1);
		if ((body - pos) / NODE_BYTES < nn)
			BAD("tree=%u claims %zu nodes but only %zu bytes are left", t, nn,
			    body - pos);
		pos += nn * NODE_BYTES;
		total += nn;
		maxnn = nn > maxnn ? nn : maxnn;
	}
	if (pos != body)
		BAD("%zu unexpected bytes after the last tree", body - pos);

	f->off = calloc((size_t)f->nt + 1, sizeof(*f->off));
	f->nodes = calloc(total, sizeof(*f->nodes));
	f->size = calloc(total, sizeof(*f->size));
	depth = calloc(maxnn, sizeof(*depth));
	seen = calloc(maxnn, 1);
	if (!f->off || !f->nodes || !f->size || !depth || !seen) {
		rc = -ENOMEM;
		goto fail;
	}
	pos = HDR_BYTES;
	for (uint32_t i = 0; i < f->nf; i++)
		pos += 2 + strlen(f->names[i]);
	for (uint32_t t = 0; t < f->nt; t++) {
		uint32_t nn = ns_le_get_u32(buf + pos);

		f->off[t + 1] = f->off[t] + nn;
		rc = load_tree(f, t, buf + pos + 4, nn, depth, seen, err, errlen);
		if (rc)
			goto fail;
		pos += 4 + (size_t)nn * NODE_BYTES;
	}
	free(depth);
	free(seen);
	*out = f;
	return 0;
fail:
	free(depth);
	free(seen);
	ns_iforest_free(f);
	return rc;
}

int ns_iforest_save(const struct ns_iforest *f, const char *path, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	rc = ns_iforest_serialize(f, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "out of memory serialising the model");
		return rc;
	}
	rc = ns_file_write_atomic(path, buf, len, 0644, err, errlen);
	free(buf);
	return rc;
}

int ns_iforest_load(const char *path, struct ns_iforest **out, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	int rc;

	*out = NULL;
	rc = ns_file_read_all(path, NS_IFOREST_FILE_MAX, &buf, &len, err, errlen);
	/* An oversized file is a bad model file, as the decoder reports it. */
	if (rc)
		return rc == -EFBIG ? -EBADMSG : rc;
	rc = ns_iforest_deserialize(buf, len, out, err, errlen);
	free(buf);
	return rc;
}
