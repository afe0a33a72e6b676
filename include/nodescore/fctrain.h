/* SPDX-License-Identifier: MIT */
/* Forecaster training and reference prediction through libxgboost (the
 * trainer, the evaluation and the tests; the agent never calls this). */
#ifndef NODESCORE_FCTRAIN_H
#define NODESCORE_FCTRAIN_H

#include <stddef.h>
#include <stdint.h>

struct ns_fctrain_params {
	unsigned ntrees; /* boosting rounds */
	unsigned max_depth;
	double eta;
	double subsample;
	double colsample; /* colsample_bytree */
	double min_child_weight;
	double lambda;	       /* L2 on leaf weights */
	const char *objective; /* reg:squarederror, reg:pseudohubererror, reg:absoluteerror */
	double huber_slope;    /* huber_slope for reg:pseudohubererror */
	unsigned nthread;
	unsigned seed;
	/* Called every 10 rounds (NULL for none); non-zero return aborts (-ECANCELED). */
	int (*progress)(unsigned round, unsigned total, void *arg);
	void *progress_arg;
};

/* Sensible defaults: 150 trees, depth 6, eta 0.08, subsample 0.8, colsample
 * 0.8, squared error, 1 thread, seed 1. */
void ns_fctrain_defaults(struct ns_fctrain_params *p);

/* Trains one single-output regressor on the row-major matrix X (n rows of
 * nfeat floats, NaN = missing) and labels y; rows with a NaN label must be
 * filtered by the caller; w holds optional row weights (NULL: all 1). *json receives XGBoost's JSON
 * model (malloc'd, *len bytes, not NUL-terminated). Returns 0, -EINVAL, -ENOMEM, -ECANCELED, or
 * -EIO with XGBoost's message in err. */
int ns_fctrain_fit(const float *X, const float *y, const float *w, size_t n, size_t nfeat,
		   const struct ns_fctrain_params *p, char **json, size_t *len, char *err,
		   size_t errlen);

/* Reference predictions of an XGBoost JSON model with libxgboost itself. */
int ns_fctrain_xgb_predict(const char *json, size_t len, const float *X, size_t n, size_t nfeat,
			   float *out, char *err, size_t errlen);

#endif
