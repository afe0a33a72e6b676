// SPDX-License-Identifier: MIT
/* Forecaster: beats persistence on a seasonal series, flat walker equals
 * libxgboost, binary and bundle round trips, shared model sets, corrupt
 * models rejected. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "nodescore/bundle.h"
#include "nodescore/fctrain.h"
#include "nodescore/forecast.h"

#define STEP_MS 300000u
#define NSTEP (12 * 24 * 10) /* 10 days at 5 min */
#define H 12		     /* 1 h ahead */

static uint64_t rng = 42;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

/* Shared fixture: features, targets and one trained model. */
static float *X, *Y, *CUR;
static size_t NF, NROW;
static char *JSON;
static size_t JSON_LEN;
static int fixture_rc = -1;

static int build_fixture(void)
{
	struct ns_feat_config cfg = {.step_ms = STEP_MS, .metric_mask = NS_FEAT_MASK_FORECAST};
	struct ns_fctrain_params p;
	struct ns_feat *f;
	float cpu[NSTEP];
	double ar = 0;
	char err[256];

	if (ns_feat_new(&cfg, &f))
		return -1;
	NF = ns_feat_count(f);
	X = malloc((size_t)NSTEP * NF * sizeof(float));
	Y = malloc(NSTEP * sizeof(float));
	CUR = malloc(NSTEP * sizeof(float));
	for (int i = 0; i < NSTEP; i++) {
		double tod = (double)(i % 288) / 288.0;

		ar = 0.9 * ar + 0.03 * (urand() - 0.5);
		cpu[i] = (float)(0.4 + 0.25 * sin(2 * M_PI * tod) + ar + 0.05 * (urand() - 0.5));
	}
	NROW = 0;
	for (int i = 0; i + H < NSTEP; i++) {
		struct ns_sample s;
		double m = 0;

		ns_sample_init(&s, 1700000000000ull + (uint64_t)i * STEP_MS);
		s.v[NS_M_CPU_UTIL] = cpu[i];
		s.v[NS_M_MEM_UTIL] = i % 50 == 7 ? NAN : 0.6f;
		ns_feat_push(f, &s);
		ns_feat_get(f, X + NROW * NF, NF);
		for (int k = 1; k <= H; k++)
			m += cpu[i + k];
		Y[NROW] = (float)(m / H);
		CUR[NROW] = cpu[i];
		NROW++;
	}
	ns_feat_free(f);
	ns_fctrain_defaults(&p);
	p.ntrees = 60;
	p.max_depth = 5;
	p.eta = 0.15;
	/* First 70 % of rows train. */
	return ns_fctrain_fit(X, Y, NULL, NROW * 7 / 10, NF, &p, &JSON, &JSON_LEN, err,
			      sizeof(err));
}

static struct ns_forecast *model_from_json(float offset, int relative)
{
	struct ns_feat_config cfg = {.step_ms = STEP_MS, .metric_mask = NS_FEAT_MASK_FORECAST};
	struct ns_fc_target t = {.metric = NS_M_CPU_UTIL, .stat = NS_FC_MEAN, .horizon_s = 3600};
	struct ns_forecast *fc = NULL;
	char err[256];

	if (ns_forecast_new(&cfg, &fc))
		return NULL;
	if (ns_forecast_add_xgb_json(fc, &t, JSON, JSON_LEN, offset, relative, err, sizeof(err))) {
		fprintf(stderr, "  add: %s\n", err);
		ns_forecast_free(fc);
		return NULL;
	}
	return fc;
}

static void test_beats_persistence(void)
{
	struct ns_forecast *fc;
	double mae = 0, mae_p = 0;
	size_t n = 0;

	CHECK_EQ_INT(fixture_rc, 0);
	fc = model_from_json(0, 0);
	CHECK(fc);
	for (size_t r = NROW * 7 / 10 + H; r < NROW; r++) {
		float out;

		CHECK_EQ_INT(ns_forecast_predict(fc, X + r * NF, NF, &out, 1), 0);
		mae += fabs(out - Y[r]);
		mae_p += fabs(CUR[r] - Y[r]);
		n++;
	}
	ns_forecast_free(fc);
	fprintf(stderr, "  test rows %zu: MAE ours %.4f persistence %.4f (MASE %.3f)\n", n, mae / n,
		mae_p / n, mae / mae_p);
	CHECK(n > 500);
	CHECK(mae < 0.8 * mae_p);
}

static void test_walker_equals_xgboost(void)
{
	struct ns_forecast *fc = model_from_json(0, 0);
	float *ref = malloc(NROW * sizeof(float));
	double worst = 0;
	char err[256];

	CHECK(fc && ref);
	CHECK_EQ_INT(ns_fctrain_xgb_predict(JSON, JSON_LEN, X, NROW, NF, ref, err, sizeof(err)), 0);
	for (size_t r = 0; r < NROW; r++) {
		double d = fabs(ns_forecast_predict_one(fc, 0, X + r * NF) - ref[r]);

		worst = fmax(worst, d / fmax(fabs(ref[r]), 1.0));
	}
	fprintf(stderr, "  %zu rows (first rows have NaN windows): worst relative diff %.2e\n",
		NROW, worst);
	CHECK(worst <= 1e-5);
	/* The offset is added to every prediction. */
	{
		struct ns_forecast *fo = model_from_json(0.25f, 0);

		CHECK(fo);
		CHECK(fabs(ns_forecast_predict_one(fo, 0, X) - (ref[0] + 0.25f)) < 1e-5);
		ns_forecast_free(fo);
	}
	/* A relative model adds the metric's current value (its anchor). */
	{
		struct ns_forecast *fr = model_from_json(0, 1);
		size_t r = NROW / 2;

		CHECK(fr && ns_forecast_is_relative(fr, 0) && !ns_forecast_is_relative(fc, 0));
		CHECK(ns_forecast_anchor(fr, 0, X + r * NF) == CUR[r]);
		CHECK(ns_forecast_anchor_for(fr, NS_M_CPU_UTIL, X + r * NF) == CUR[r]);
		CHECK(fabs(ns_forecast_predict_one(fr, 0, X + r * NF) - (ref[r] + CUR[r])) < 1e-5);
		/* Flat guard: below the threshold the forecast is the anchor. */
		CHECK_EQ_INT(ns_forecast_set_flat_guard(fr, 0, 10.0f), 0);
		CHECK(ns_forecast_predict_one(fr, 0, X + r * NF) == CUR[r]);
		CHECK_EQ_INT(ns_forecast_set_flat_guard(fr, 0, -1.0f), -EINVAL);
		CHECK_EQ_INT(ns_forecast_set_flat_guard(fr, 0, 0.0f), 0);
		CHECK(fabs(ns_forecast_predict_one(fr, 0, X + r * NF) - (ref[r] + CUR[r])) < 1e-5);
		ns_forecast_free(fr);
	}
	ns_forecast_free(fc);
	free(ref);
}

static void test_save_load_round_trip(void)
{
	struct ns_forecast *fc = model_from_json(0.01f, 1), *back = NULL;
	uint8_t *buf;
	size_t len;
	char err[256];

	CHECK(fc);
	CHECK_EQ_INT(ns_forecast_set_flat_guard(fc, 0, 0.01f), 0);
	CHECK_EQ_INT(ns_forecast_save(fc, &buf, &len), 0);
	CHECK_EQ_INT(ns_forecast_load(buf, len, &back, err, sizeof(err)), 0);
	CHECK(ns_forecast_flat_guard(back, 0) == 0.01f);
	CHECK_EQ_INT(ns_forecast_ntargets(back), 1);
	CHECK_EQ_INT(ns_forecast_ntrees(back), 60);
	CHECK_EQ_INT(ns_forecast_find(back, NS_M_CPU_UTIL, NS_FC_MEAN, 3600), 0);
	CHECK_EQ_INT(ns_forecast_find(back, NS_M_CPU_UTIL, NS_FC_PEAK, 3600), -1);
	for (size_t r = 0; r < NROW; r += 3)
		CHECK(ns_forecast_predict_one(fc, 0, X + r * NF) ==
		      ns_forecast_predict_one(back, 0, X + r * NF));
	{
		float o[1];

		CHECK_EQ_INT(ns_forecast_predict(back, X, NF - 1, o, 1), -EINVAL);
		CHECK_EQ_INT(ns_forecast_predict(back, X, NF, o, 0), -EINVAL);
	}
	free(buf);
	ns_forecast_free(fc);
	ns_forecast_free(back);
}

/* Two holders of one model set: each free drops one reference, the other
 * holder still predicts the same; the mutators refuse while it is shared
 * and work again once one holder is left. Leaks and use after free show
 * under make asan. */
static void test_ref_shared_model(void)
{
	struct ns_forecast *fc = model_from_json(0.01f, 1), *r;
	struct ns_fc_target t = {.metric = NS_M_CPU_UTIL, .stat = NS_FC_PEAK, .horizon_s = 3600};
	float want[64];
	char err[256];

	CHECK(fc);
	for (size_t k = 0; k < 64; k++)
		want[k] = ns_forecast_predict_one(fc, 0, X + (k * 37 % NROW) * NF);
	r = ns_forecast_ref(fc);
	CHECK(r == fc);
	CHECK(ns_forecast_ref(NULL) == NULL);
	CHECK_EQ_INT(ns_forecast_set_flat_guard(fc, 0, 0.01f), -EBUSY);
	CHECK_EQ_INT(ns_forecast_add_xgb_json(r, &t, JSON, JSON_LEN, 0, 1, err, sizeof(err)),
		     -EBUSY);
	CHECK(strstr(err, "shared") != NULL);
	CHECK(ns_forecast_flat_guard(r, 0) == 0);
	CHECK_EQ_INT(ns_forecast_ntargets(r), 1);
	ns_forecast_free(fc); /* one holder gone: r still predicts the same */
	for (size_t k = 0; k < 64; k++)
		CHECK(ns_forecast_predict_one(r, 0, X + (k * 37 % NROW) * NF) == want[k]);
	CHECK_EQ_INT(ns_forecast_set_flat_guard(r, 0, 0.01f), 0);
	ns_forecast_free(r);
}

/* Rewrites the CRC trailer so structural checks, not the CRC, must reject. */
static void fix_crc(uint8_t *b, size_t len)
{
	uint32_t c = (uint32_t)crc32(0L, b, (uInt)(len - 4));

	b[len - 4] = (uint8_t)c;
	b[len - 3] = (uint8_t)(c >> 8);
	b[len - 2] = (uint8_t)(c >> 16);
	b[len - 1] = (uint8_t)(c >> 24);
}

static int loads(const uint8_t *b, size_t len)
{
	struct ns_forecast *fc = NULL;
	char err[256] = "";
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	/* Exact-size heap copy so ASan catches any over-read. */
	memcpy(copy, b, len);
	rc = ns_forecast_load(copy, len, &fc, err, sizeof(err));
	if (rc == 0 && !fc)
		rc = 99;
	if (rc != 0 && err[0] == '\0')
		rc = 98; /* rejected without a reason */
	ns_forecast_free(fc);
	free(copy);
	return rc;
}

static void test_corrupt_rejected(void)
{
	struct ns_forecast *fc = model_from_json(0, 0);
	uint8_t *buf, *c;
	size_t len, rejected = 0, tried = 0;

	CHECK(fc);
	CHECK_EQ_INT(ns_forecast_save(fc, &buf, &len), 0);
	ns_forecast_free(fc);
	c = malloc(len);
	CHECK(c);
	/* Every truncation. */
	for (size_t l = 0; l < len; l++) {
		int rc = loads(buf, l);

		CHECK(rc < 0);
	}
	/* Every single-byte flip (the CRC catches them). */
	for (size_t i = 0; i < len; i += 1) {
		memcpy(c, buf, len);
		c[i] ^= 0x5a;
		CHECK(loads(c, len) < 0);
	}
	/* Flips with a valid CRC: structural checks reject or the model stays
	 * well formed (a changed threshold); never a crash or a silent error. */
	for (size_t i = 0; i + 4 < len; i += 3) {
		int rc;

		memcpy(c, buf, len);
		c[i] ^= (uint8_t)(1u << (i % 8));
		fix_crc(c, len);
		rc = loads(c, len);
		CHECK(rc <= 0 && rc != -98);
		rejected += rc < 0;
		tried++;
	}
	fprintf(stderr,
		"  %zu bytes: all truncations and flips rejected; CRC-fixed flips %zu/%zu "
		"rejected structurally\n",
		len, rejected, tried);
	/* Targeted structural corruptions with a valid CRC. */
	memcpy(c, buf, len);
	c[4] = 9; /* version */
	fix_crc(c, len);
	CHECK(loads(c, len) < 0);
	memcpy(c, buf, len);
	c[16] ^= 1; /* feature count */
	fix_crc(c, len);
	CHECK(loads(c, len) < 0);
	memcpy(c, buf, len);
	c[20] = 0; /* zero models */
	fix_crc(c, len);
	CHECK(loads(c, len) < 0);
	{
		/* Root of the first tree: point its children backwards. Layout:
		 * 24 header + 36 model header + 4 * ntrees counts. */
		size_t node0 = 24 + 36 + 4 * 60;

		memcpy(c, buf, len);
		CHECK((c[node0 + 5] & 0x80) == 0); /* root is a split */
		c[node0 + 6] = 0;
		c[node0 + 7] = 0;
		fix_crc(c, len);
		CHECK(loads(c, len) < 0);
		memcpy(c, buf, len);
		c[node0 + 4] = 0xff; /* feature index out of range */
		c[node0 + 5] = 0x3f;
		fix_crc(c, len);
		CHECK(loads(c, len) < 0);
		memcpy(c, buf, len);
		memcpy(c + node0, "\xff\xff\xff\x7f", 4); /* NaN threshold */
		fix_crc(c, len);
		CHECK(loads(c, len) < 0);
	}
	/* Appended garbage. */
	{
		uint8_t *big = malloc(len + 8);

		memcpy(big, buf, len - 4);
		memset(big + len - 4, 0, 8);
		fix_crc(big, len + 4);
		CHECK(loads(big, len + 4) < 0);
		free(big);
	}
	free(c);
	free(buf);
}

static void test_bad_json_rejected(void)
{
	struct ns_feat_config cfg = {.step_ms = STEP_MS, .metric_mask = NS_FEAT_MASK_FORECAST};
	struct ns_fc_target t = {.metric = NS_M_CPU_UTIL, .stat = NS_FC_MEAN, .horizon_s = 3600};
	struct ns_forecast *fc = NULL, *narrow = NULL;
	char err[256], *j;
	char *p;

	CHECK_EQ_INT(ns_forecast_new(&cfg, &fc), 0);
	CHECK(ns_forecast_add_xgb_json(fc, &t, "{", 1, 0, 0, err, sizeof(err)) < 0);
	CHECK(ns_forecast_add_xgb_json(fc, &t, "{}", 2, 0, 0, err, sizeof(err)) < 0);
	/* Every truncation of the real model is rejected (sampled). */
	for (size_t l = 0; l < JSON_LEN; l += JSON_LEN / 200 + 1)
		CHECK(ns_forecast_add_xgb_json(fc, &t, JSON, l, 0, 0, err, sizeof(err)) < 0);
	j = malloc(JSON_LEN + 1);
	memcpy(j, JSON, JSON_LEN);
	j[JSON_LEN] = 0;
	p = strstr(j, "reg:squarederror");
	CHECK(p);
	memcpy(p, "reg:squaredlogerror", 16); /* another objective */
	CHECK(ns_forecast_add_xgb_json(fc, &t, j, JSON_LEN, 0, 0, err, sizeof(err)) < 0);
	CHECK(strstr(err, "objective") != NULL);
	CHECK_EQ_INT(ns_forecast_ntargets(fc), 0);
	/* Features beyond the set's layout: one metric only. */
	cfg.metric_mask = 1u << NS_M_CPU_UTIL;
	CHECK_EQ_INT(ns_forecast_new(&cfg, &narrow), 0);
	CHECK(ns_forecast_add_xgb_json(narrow, &t, JSON, JSON_LEN, 0, 0, err, sizeof(err)) < 0);
	CHECK(strstr(err, "feature") != NULL);
	/* Good model, then the same target again. */
	CHECK_EQ_INT(ns_forecast_add_xgb_json(fc, &t, JSON, JSON_LEN, 0, 0, err, sizeof(err)), 0);
	CHECK(ns_forecast_add_xgb_json(fc, &t, JSON, JSON_LEN, 0, 0, err, sizeof(err)) < 0);
	t.horizon_s = 0;
	CHECK(ns_forecast_add_xgb_json(fc, &t, JSON, JSON_LEN, 0, 0, err, sizeof(err)) < 0);
	free(j);
	ns_forecast_free(fc);
	ns_forecast_free(narrow);
}

static void test_bundle_round_trip_and_tamper(void)
{
	struct ns_forecast *fc = model_from_json(0, 0), *back = NULL;
	char dir[] = "/tmp/nsfc-test-XXXXXX", path[256], err[256];
	struct ns_bundle_file file;
	cJSON *meta = cJSON_CreateObject();
	uint8_t *buf;
	size_t len;
	FILE *fp;

	CHECK(fc && meta && mkdtemp(dir));
	CHECK_EQ_INT(ns_forecast_save(fc, &buf, &len), 0);
	cJSON_AddStringToObject(meta, "kind", "forecast");
	cJSON_AddStringToObject(meta, "version", "test-1");
	file = (struct ns_bundle_file){.name = "forecast.nsf", .data = buf, .len = len};
	snprintf(path, sizeof(path), "%s/b", dir);
	CHECK_EQ_INT(ns_bundle_write(path, meta, &file, 1, err, sizeof(err)), 0);
	/* Writing again replaces the bundle in place. */
	CHECK_EQ_INT(ns_bundle_write(path, meta, &file, 1, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_forecast_load_bundle(path, &back, err, sizeof(err)), 0);
	CHECK(ns_forecast_predict_one(back, 0, X + 100 * NF) ==
	      ns_forecast_predict_one(fc, 0, X + 100 * NF));
	ns_forecast_free(back);
	back = NULL;
	/* One flipped byte in the model file: rejected by the manifest checksum. */
	snprintf(path, sizeof(path), "%s/b/forecast.nsf", dir);
	fp = fopen(path, "r+b");
	CHECK(fp);
	fseek(fp, 100, SEEK_SET);
	fputc(0x42, fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/b", dir);
	CHECK_EQ_INT(ns_forecast_load_bundle(path, &back, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "SHA-256") != NULL);
	/* Missing bundle and a bundle of another kind. */
	snprintf(path, sizeof(path), "%s/none", dir);
	CHECK(ns_forecast_load_bundle(path, &back, err, sizeof(err)) < 0);
	cJSON_ReplaceItemInObject(meta, "kind", cJSON_CreateString("iforest"));
	snprintf(path, sizeof(path), "%s/c", dir);
	CHECK_EQ_INT(ns_bundle_write(path, meta, &file, 1, err, sizeof(err)), 0);
	CHECK(ns_forecast_load_bundle(path, &back, err, sizeof(err)) < 0);
	CHECK(back == NULL);
	/* Bad file names are refused before anything is written. */
	file.name = "../x";
	snprintf(path, sizeof(path), "%s/d", dir);
	CHECK(ns_bundle_write(path, meta, &file, 1, err, sizeof(err)) < 0);
	CHECK(access(path, F_OK) != 0);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
	free(buf);
	cJSON_Delete(meta);
	ns_forecast_free(fc);
}

int main(void)
{
	fixture_rc = build_fixture();
	RUN(test_beats_persistence);
	RUN(test_walker_equals_xgboost);
	RUN(test_save_load_round_trip);
	RUN(test_ref_shared_model);
	RUN(test_corrupt_rejected);
	RUN(test_bad_json_rejected);
	RUN(test_bundle_round_trip_and_tamper);
	free(X);
	free(Y);
	free(CUR);
	free(JSON);
	return CHECK_SUMMARY();
}
