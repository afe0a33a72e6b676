/* SPDX-License-Identifier: MIT */
/* nodescore-train forecast: the fit data helpers of forecast_fit.c, used by
 * forecast_cmd.c. */
#ifndef NODESCORE_TRAIN_FORECAST_FIT_H
#define NODESCORE_TRAIN_FORECAST_FIT_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/fctrain.h"
#include "nodescore/forecast.h"
#include "train.h"

/* Row weights of target t for every row (malloc'd, NULL when out of
 * memory), mean 1 over the training rows. */
float *train_fc_scale_weights(const struct rows *r, size_t t, double floor);
/* Fit parameters of target t in *p from base; returns its row weight floor. */
double train_fc_target_params(const struct ns_fc_target *t, const struct ns_fctrain_params *base,
			      const char *peak_objective, struct ns_fctrain_params *p);
/* Peak shift quantile of target t (0 for mean targets). */
double train_fc_peak_q(const struct ns_fc_target *t, double q, double qshort);
/* Flat-guard threshold for target t, chosen on the calibration rows with
 * tmp (target 0 = t) and its peak offset; 0 = no guard. */
float train_fc_pick_flat_guard(const struct rows *r, size_t t, const uint8_t *calib,
			       struct ns_forecast *tmp, float offset);
/* Labelled training rows of target t into *X, *y, *w (grown as needed,
 * capacity *cap): calibration rows (which 1), the rest (0) or all (-1);
 * rel set makes labels relative to its anchor. Returns the row count or
 * (size_t)-1 when out of memory. */
size_t train_fc_gather(const struct rows *r, size_t t, const uint8_t *calib, int which,
		       const struct ns_forecast *rel, const float *wsrc, float **X, float **y,
		       float **w, size_t *cap);
/* 1 for the last share of each series' training rows (calloc'd, NULL when
 * out of memory). */
uint8_t *train_fc_mark_calibration(const struct rows *r, double share);

#endif
