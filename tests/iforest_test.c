// SPDX-License-Identifier: MIT
/* Tests for lib/iforest.c: separation, score range, attribution, model file round trip and
 * rejection. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "rng.h"
#include "nodescore/iforest.h"

#define NF 3
#define NROWS 1000

static float data[NROWS * NF];
static const char *const names[NF] = {"cpu", "mem", "rtt"};

static struct ns_iforest *trained(void)
{
	struct ns_iforest_params p;
	struct ns_iforest *f = NULL;

	rng_state = 12345;
	for (size_t i = 0; i < NROWS * NF; i++)
		data[i] = (float)gauss();
	ns_iforest_params_default(&p);
	if (ns_iforest_train(data, NROWS, NF, names, &p, &f))
		return NULL;
	return f;
}

static void test_separates_outlier_cluster(void)
{
	struct ns_iforest *f = trained();
	double in_sum = 0, out_min = 1, in_max = 0, s;
	float x[NF];

	CHECK(f != NULL);
	/* Inliers: fresh draws from the training distribution. */
	for (int i = 0; i < 200; i++) {
		for (int k = 0; k < NF; k++)
			x[k] = (float)gauss();
		CHECK_EQ_INT(ns_iforest_score(f, x, NF, &s), 0);
		in_sum += s;
		in_max = s > in_max ? s : in_max;
	}
	/* A tight cluster far away on two features (one-feature outliers in 3-D
	 * score ~0.58 here and in scikit-learn alike). */
	for (int i = 0; i < 20; i++) {
		x[0] = (float)(0.1 * gauss());
		x[1] = (float)(-6.0 + 0.1 * gauss());
		x[2] = (float)(8.0 + 0.1 * gauss());
		CHECK_EQ_INT(ns_iforest_score(f, x, NF, &s), 0);
		out_min = s < out_min ? s : out_min;
	}
	fprintf(stderr, "  inlier mean=%.3f max=%.3f outlier min=%.3f\n", in_sum / 200, in_max,
		out_min);
	CHECK(in_sum / 200 < 0.5);
	CHECK(out_min > 0.65);
	CHECK(in_max < 0.75);
	CHECK(out_min > in_max);
	ns_iforest_free(f);
}

static void test_score_range_and_bad_input(void)
{
	struct ns_iforest *f = trained();
	float x[NF] = {0, 0, 0};
	double s = -1;

	CHECK(f != NULL);
	for (int i = 0; i < 500; i++) {
		for (int k = 0; k < NF; k++)
			x[k] = (float)(gauss() * (i % 7) * 10.0);
		CHECK_EQ_INT(ns_iforest_score(f, x, NF, &s), 0);
		CHECK(s > 0.0 && s <= 1.0);
	}
	x[1] = NAN;
	CHECK_EQ_INT(ns_iforest_score(f, x, NF, &s), -EINVAL);
	x[1] = 0;
	CHECK_EQ_INT(ns_iforest_score(f, x, NF - 1, &s), -EINVAL);
	ns_iforest_free(f);
}

static void test_train_rejects_bad_data(void)
{
	struct ns_iforest_params p;
	struct ns_iforest *f = NULL;
	float bad[4 * 2] = {1, 2, 3, NAN, 5, 6, 7, 8};

	ns_iforest_params_default(&p);
	CHECK_EQ_INT(ns_iforest_train(bad, 4, 2, NULL, &p, &f), -EINVAL);
	CHECK(f == NULL);
	CHECK_EQ_INT(ns_iforest_train(bad, 1, 2, NULL, &p, &f), -EINVAL);
	p.psi = 1;
	bad[3] = 4;
	CHECK_EQ_INT(ns_iforest_train(bad, 4, 2, NULL, &p, &f), -EINVAL);
}

static void test_attribution_names_the_isolating_feature(void)
{
	struct ns_iforest *f = trained();
	double s, contrib[NF], sum = 0;
	float x[NF] = {0.1f, 9.0f, -0.2f};
	int top = -2;

	CHECK(f != NULL);
	CHECK_EQ_INT(ns_iforest_explain(f, x, NF, &s, &top, contrib), 0);
	CHECK_EQ_INT(top, 1);
	for (int k = 0; k < NF; k++)
		sum += contrib[k];
	CHECK(fabs(sum - 1.0) < 1e-9);
	x[1] = 0.0f;
	x[2] = -9.0f;
	CHECK_EQ_INT(ns_iforest_explain(f, x, NF, &s, &top, NULL), 0);
	CHECK_EQ_INT(top, 2);
	CHECK_EQ_STR(ns_iforest_feature_name(f, 2), "rtt");
	ns_iforest_free(f);
}

static void test_same_seed_same_forest(void)
{
	struct ns_iforest *a = trained(), *b = trained();
	uint8_t *ba = NULL, *bb = NULL;
	size_t la = 0, lb = 0;

	CHECK(a && b);
	CHECK_EQ_INT(ns_iforest_serialize(a, &ba, &la), 0);
	CHECK_EQ_INT(ns_iforest_serialize(b, &bb, &lb), 0);
	CHECK_EQ_INT(la, lb);
	CHECK(memcmp(ba, bb, la) == 0);
	free(ba);
	free(bb);
	ns_iforest_free(a);
	ns_iforest_free(b);
}

/* Two holders of one forest: freeing one leaves the other scoring the
 * same; the last free releases it (leaks show under make asan). */
static void test_ref_shared_forest(void)
{
	struct ns_iforest *f = trained(), *r;
	double want[50], s;

	CHECK(f);
	for (int i = 0; i < 50; i++)
		CHECK_EQ_INT(ns_iforest_score(f, data + i * NF, NF, &want[i]), 0);
	r = ns_iforest_ref(f);
	CHECK(r == f);
	CHECK(ns_iforest_ref(NULL) == NULL);
	ns_iforest_free(f);
	for (int i = 0; i < 50; i++) {
		CHECK_EQ_INT(ns_iforest_score(r, data + i * NF, NF, &s), 0);
		CHECK(s == want[i]);
	}
	ns_iforest_free(r);
}

static void test_save_load_round_trip_bit_exact(void)
{
	struct ns_iforest *f = trained(), *g = NULL;
	char path[] = "/tmp/nodescore-iforest-test-XXXXXX", model[64], err[256];
	uint8_t *b1 = NULL, *b2 = NULL;
	size_t l1 = 0, l2 = 0;
	float x[NF];

	CHECK(f != NULL);
	CHECK(mkdtemp(path) != NULL);
	snprintf(model, sizeof(model), "%s/m.nsif", path);
	CHECK_EQ_INT(ns_iforest_save(f, model, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_iforest_load(model, &g, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_iforest_n_trees(g), 100);
	CHECK_EQ_INT(ns_iforest_psi(g), 256);
	for (int i = 0; i < 1000; i++) {
		double s1, s2;
		for (int k = 0; k < NF; k++)
			x[k] = (float)(gauss() * (1 + i % 5));
		CHECK_EQ_INT(ns_iforest_score(f, x, NF, &s1), 0);
		CHECK_EQ_INT(ns_iforest_score(g, x, NF, &s2), 0);
		CHECK(memcmp(&s1, &s2, sizeof(s1)) == 0);
	}
	CHECK_EQ_INT(ns_iforest_serialize(f, &b1, &l1), 0);
	CHECK_EQ_INT(ns_iforest_serialize(g, &b2, &l2), 0);
	CHECK_EQ_INT(l1, l2);
	CHECK(memcmp(b1, b2, l1) == 0);
	free(b1);
	free(b2);
	unlink(model);
	rmdir(path);
	/* A missing file is an error, not a crash. */
	ns_iforest_free(g);
	g = NULL;
	CHECK(ns_iforest_load(model, &g, err, sizeof(err)) == -ENOENT);
	CHECK(g == NULL);
	ns_iforest_free(f);
}

/* A small forest so every truncation and byte flip runs fast. */
static int small_model(uint8_t **buf, size_t *len)
{
	struct ns_iforest_params p = {.n_trees = 3, .psi = 16, .seed = 7};
	struct ns_iforest *f = NULL;
	int rc;

	rng_state = 99;
	for (size_t i = 0; i < 64 * NF; i++)
		data[i] = (float)gauss();
	rc = ns_iforest_train(data, 64, NF, names, &p, &f);
	if (rc)
		return rc;
	rc = ns_iforest_serialize(f, buf, len);
	ns_iforest_free(f);
	return rc;
}

static void test_every_truncation_rejected(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];

	CHECK_EQ_INT(small_model(&buf, &len), 0);
	for (size_t n = 0; n < len; n++) {
		struct ns_iforest *g = NULL;
		/* Exact-size heap copy so ASan catches any read past the end. */
		uint8_t *cut = malloc(n ? n : 1);
		CHECK(cut != NULL);
		memcpy(cut, buf, n);
		if (ns_iforest_deserialize(cut, n, &g, err, sizeof(err)) != -EBADMSG || g) {
			free(cut);
			free(buf);
			CHECK(!"truncated model accepted");
		}
		free(cut);
	}
	free(buf);
}

static void test_every_byte_flip_rejected(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];
	int rejected = 0;

	CHECK_EQ_INT(small_model(&buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct ns_iforest *g = NULL;
			buf[i] ^= (uint8_t)(1u << bit);
			if (ns_iforest_deserialize(buf, len, &g, err, sizeof(err)) == -EBADMSG &&
			    !g)
				rejected++;
			ns_iforest_free(g);
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(buf);
	/* CRC-32 detects every single-bit error. */
	CHECK_EQ_INT(rejected, (int)(len * 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Structural checks behind the checksum: a valid CRC over bad content is still rejected. */
static void test_structural_errors_with_valid_checksum(void)
{
	uint8_t *buf = NULL;
	size_t len = 0, tree0;
	char err[256];
	struct ns_iforest *g = NULL;
	uint32_t nn;

	CHECK_EQ_INT(small_model(&buf, &len), 0);
	tree0 = 28;
	for (int i = 0; i < NF; i++)
		tree0 += 2 + strlen(names[i]);
	nn = rd32(buf + tree0);
	CHECK(nn >= 3);
	struct {
		size_t off;
		uint32_t val;
		const char *want;
	} cases[] = {
	    {tree0, 100000, "nodes="},				    /* node count beyond 2*psi-1 */
	    {tree0 + 4, 7, "feature="},				    /* root feature out of range */
	    {tree0 + 4 + 4 * (size_t)nn, 0x7fc00000u, "threshold"}, /* NaN threshold */
	    {tree0 + 4 + 8 * (size_t)nn, 0, "child index"}, /* root's left child points at itself */
	    {tree0 + 4 + 12 * (size_t)nn, nn, "child index"}, /* right child past the end */
	    {tree0 + 4 + 16 * (size_t)nn, 1000, "size"},      /* root size beyond psi */
	    {8, 0, "n_features"},
	    {12, 5000, "n_trees"},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		uint8_t *m = malloc(len);
		CHECK(m != NULL);
		memcpy(m, buf, len);
		wr32(m + cases[c].off, cases[c].val);
		wr32(m + len - 4, (uint32_t)crc32(0L, m, (uInt)(len - 4)));
		g = NULL;
		if (ns_iforest_deserialize(m, len, &g, err, sizeof(err)) != -EBADMSG || g ||
		    !strstr(err, cases[c].want)) {
			fprintf(stderr, "  case %zu: err=%s\n", c, err);
			free(m);
			free(buf);
			CHECK(!"structurally bad model accepted or wrong reason");
		}
		free(m);
	}
	free(buf);
}

/* Per-sample latency, asserted against the design budget (5 us, 100 trees)
 * with slack for a shared, loaded machine. */
static void test_score_speed(void)
{
	struct ns_iforest *f = trained();
	float x[64 * NF];
	volatile double sink = 0;
	uint64_t t0, t1;
	struct timespec ts;
	const int reps = 20000;

	CHECK(f != NULL);
	for (size_t i = 0; i < 64 * NF; i++)
		x[i] = (float)gauss();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	for (int i = 0; i < reps; i++) {
		double s;
		ns_iforest_score(f, x + (i % 64) * NF, NF, &s);
		sink += s;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	fprintf(stderr, "  score: %.2f us/sample (100 trees, psi 256)\n",
		(double)(t1 - t0) / 1e3 / reps);
	CHECK((double)(t1 - t0) / 1e3 / reps < 20.0);
	ns_iforest_free(f);
}

int main(void)
{
	RUN(test_separates_outlier_cluster);
	RUN(test_score_range_and_bad_input);
	RUN(test_train_rejects_bad_data);
	RUN(test_attribution_names_the_isolating_feature);
	RUN(test_same_seed_same_forest);
	RUN(test_ref_shared_forest);
	RUN(test_save_load_round_trip_bit_exact);
	RUN(test_every_truncation_rejected);
	RUN(test_every_byte_flip_rejected);
	RUN(test_structural_errors_with_valid_checksum);
	RUN(test_score_speed);
	return CHECK_SUMMARY();
}
