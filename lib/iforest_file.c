// SPDX-License-Identifier: MIT
/* The isolation forest model file (.nsif): serialise, validate and load,
 * save and load by path. Nothing read from a file is trusted: every
 * length, index and size is checked before use. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "iforest_int.h"
#include "nodescore/le.h"
#include "nodescore/fileio.h"
#include "nodescore/iforest.h"

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
			    .thr = (float)((double)depth[i] + ns_iforest_c_of((double)sz[i])),
			    .feat = -1};
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

	f = ns_iforest_alloc();
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
	f->cpsi = ns_iforest_c_of((double)f->psi);
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
