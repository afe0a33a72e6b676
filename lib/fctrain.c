// SPDX-License-Identifier: MIT
/* libxgboost training loop and reference prediction for the forecaster. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "nodescore/fctrain.h"

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

void ns_fctrain_defaults(struct ns_fctrain_params *p)
{
	memset(p, 0, sizeof(*p));
	p->ntrees = 150;
	p->max_depth = 6;
	p->eta = 0.08;
	p->subsample = 0.8;
	p->colsample = 0.8;
	p->min_child_weight = 5.0;
	p->lambda = 1.0;
	p->objective = "reg:squarederror";
	p->huber_slope = 0.02;
	p->nthread = 1;
	p->seed = 1;
}

/* Frees what a call made (either may be NULL) and passes rc on. */
static int release(BoosterHandle b, DMatrixHandle dm, int rc)
{
	if (b)
		XGBoosterFree(b);
	if (dm)
		XGDMatrixFree(dm);
	return rc;
}

static int set_param(BoosterHandle b, const char *k, const char *v, char *err, size_t errlen)
{
	if (XGBoosterSetParam(b, k, v) != 0) {
		ERR("xgboost parameter %s=%s: %s", k, v, XGBGetLastError());
		return -EIO;
	}
	return 0;
}

static int set_num(BoosterHandle b, const char *k, double v, char *err, size_t errlen)
{
	char s[64];

	snprintf(s, sizeof(s), "%.17g", v);
	return set_param(b, k, s, err, errlen);
}

int ns_fctrain_fit(const float *X, const float *y, const float *w, size_t n, size_t nfeat,
		   const struct ns_fctrain_params *p, char **json, size_t *len, char *err,
		   size_t errlen)
{
	DMatrixHandle dm = NULL;
	BoosterHandle b = NULL;
	bst_ulong olen = 0;
	const char *obuf = NULL;
	int rc = -EIO;

	*json = NULL;
	*len = 0;
	if (!X || !y || n < 2 || nfeat < 1 || p->ntrees < 1 || p->ntrees > 4096 ||
	    p->max_depth < 1 || p->max_depth > 12) {
		ERR("bad training arguments (rows %zu, features %zu)", n, nfeat);
		return -EINVAL;
	}
	if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)nfeat, NAN, &dm) != 0 ||
	    XGDMatrixSetFloatInfo(dm, "label", y, (bst_ulong)n) != 0 ||
	    (w && XGDMatrixSetFloatInfo(dm, "weight", w, (bst_ulong)n) != 0) ||
	    XGBoosterCreate(&dm, 1, &b) != 0) {
		ERR("xgboost: %s", XGBGetLastError());
		goto out;
	}
	if (set_param(b, "tree_method", "hist", err, errlen) ||
	    set_param(b, "objective", p->objective, err, errlen) ||
	    set_num(b, "max_depth", p->max_depth, err, errlen) ||
	    set_num(b, "eta", p->eta, err, errlen) ||
	    set_num(b, "subsample", p->subsample, err, errlen) ||
	    set_num(b, "colsample_bytree", p->colsample, err, errlen) ||
	    set_num(b, "min_child_weight", p->min_child_weight, err, errlen) ||
	    set_num(b, "lambda", p->lambda, err, errlen) ||
	    set_num(b, "nthread", p->nthread ? p->nthread : 1, err, errlen) ||
	    set_num(b, "seed", p->seed, err, errlen) || set_param(b, "verbosity", "0", err, errlen))
		goto out;
	{
		/* Start from the label mean, not XGBoost's 0.5: relative targets
		 * are centred near 0 and would spend trees undoing the offset. */
		double m = 0;

		for (size_t i = 0; i < n; i++)
			m += y[i];
		if (set_num(b, "base_score", m / (double)n, err, errlen))
			goto out;
	}
	if (strcmp(p->objective, "reg:pseudohubererror") == 0 &&
	    set_num(b, "huber_slope", p->huber_slope, err, errlen))
		goto out;
	for (unsigned i = 0; i < p->ntrees; i++) {
		if (XGBoosterUpdateOneIter(b, (int)i, dm) != 0) {
			ERR("xgboost round %u: %s", i, XGBGetLastError());
			goto out;
		}
		if (p->progress && (i + 1) % 10 == 0 &&
		    p->progress(i + 1, p->ntrees, p->progress_arg)) {
			ERR("training cancelled");
			rc = -ECANCELED;
			goto out;
		}
	}
	if (XGBoosterSaveModelToBuffer(b, "{\"format\":\"json\"}", &olen, &obuf) != 0) {
		ERR("xgboost save: %s", XGBGetLastError());
		goto out;
	}
	*json = malloc((size_t)olen);
	if (!*json) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(*json, obuf, (size_t)olen);
	*len = (size_t)olen;
	rc = 0;
out:
	return release(b, dm, rc);
}

int ns_fctrain_xgb_predict(const char *json, size_t len, const float *X, size_t n, size_t nfeat,
			   float *out, char *err, size_t errlen)
{
	DMatrixHandle dm = NULL;
	BoosterHandle b = NULL;
	const bst_ulong *shape = NULL;
	bst_ulong dim = 0;
	const float *res = NULL;
	int rc = -EIO;

	if (XGBoosterCreate(NULL, 0, &b) != 0 ||
	    XGBoosterLoadModelFromBuffer(b, json, (bst_ulong)len) != 0 ||
	    XGBoosterSetParam(b, "nthread", "1") != 0 ||
	    XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)nfeat, NAN, &dm) != 0 ||
	    XGBoosterPredictFromDMatrix(b, dm,
					"{\"type\":0,\"training\":false,\"iteration_begin\":0,"
					"\"iteration_end\":0,\"strict_shape\":false}",
					&shape, &dim, &res) != 0) {
		ERR("xgboost predict: %s", XGBGetLastError());
		goto out;
	}
	memcpy(out, res, n * sizeof(float));
	rc = 0;
out:
	return release(b, dm, rc);
}
