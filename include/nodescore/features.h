/* SPDX-License-Identifier: MIT */
/* Incremental feature pipeline over ns_sample: time-based rolling windows,
 * lags, deltas, time of day/week. One implementation for the agent, the
 * trainer and the evaluation. O(1) per sample, fixed memory. */
#ifndef NODESCORE_FEATURES_H
#define NODESCORE_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/sample.h"

/*
 * Feature vector layout (names from ns_feat_name):
 *   tod_sin, tod_cos, dow_sin, dow_cos          time of the latest sample (UTC)
 *   then for each metric m in the mask, in ns_metric order, 34 features:
 *   <m>_cur                                     latest value
 *   <m>_{mean,std,max}_{1m,5m,1h,6h,24h}        window statistics
 *   <m>_lag_{5m,15m,1h,2h,4h,20h,22h,23h}       mean of the bucket that long ago
 *   <m>_d_5m, <m>_d_1h                          cur - lag_5m, cur - lag_1h
 *   <m>_dm_{1h,6h,24h}                          window mean - cur
 *   <m>_dlag_23h, <m>_dmax_1h                   lag_23h - cur, max_1h - cur
 *   <m>_z_1h, <m>_z_24h                         (cur - mean) / (std + 0.005)
 *   <m>_vr_1h                                   std_1h / (std_24h + 0.005)
 *
 * Time model: samples sit on a grid of step_ms starting at the first sample.
 * A sample on an already used grid step is dropped; missing steps (gaps) and
 * NaN values are empty slots: statistics are over the samples present, NaN
 * when a window holds none. Gaps longer than the 24 h history reset the
 * pipeline.
 *
 * Windows of 1 m and 5 m are over raw samples (the last round(W/step) steps).
 * For 1 h, 6 h, 24 h and the lags, samples are grouped into buckets of
 * B = max(1, round(60 s / step)) steps (1-minute buckets at 1 s sampling, raw
 * steps at >= 60 s), so memory stays bounded: a window covers the last
 * round(W / (B*step)) complete buckets, and lag L is the mean of the complete
 * bucket round(L / (B*step)) buckets before the latest complete one. Every
 * window is at least one slot. Statistics are exactly those of the raw
 * samples inside the covered slots (std is the population std).
 *
 * Memory: about 28 bytes per slot; at 1 s sampling 2,220 slots per metric
 * (62 KB), 1.5 MB with all 24 metrics.
 */

enum ns_feat_window {
	NS_FEAT_W_1M = 0,
	NS_FEAT_W_5M,
	NS_FEAT_W_1H,
	NS_FEAT_W_6H,
	NS_FEAT_W_24H,
	NS_FEAT_NWIN,
};

#define NS_FEAT_GLOBAL 4 /* tod_sin, tod_cos, dow_sin, dow_cos */
#define NS_FEAT_PER_METRIC 34
#define NS_FEAT_NLAG 8
#define NS_FEAT_MAX (NS_FEAT_GLOBAL + NS_FEAT_PER_METRIC * NS_METRIC_COUNT)

/* Step accepted: 1 s .. 1 h. */
#define NS_FEAT_STEP_MIN_MS 1000u
#define NS_FEAT_STEP_MAX_MS 3600000u

struct ns_feat_config {
	uint32_t step_ms;     /* sampling step of the input */
	uint32_t metric_mask; /* bit (1u << ns_metric) per featured metric */
};

/* Metrics the forecaster uses by default: CPU and memory utilisation. */
#define NS_FEAT_MASK_FORECAST ((1u << NS_M_CPU_UTIL) | (1u << NS_M_MEM_UTIL))

struct ns_feat;

/* Allocates a pipeline. Returns 0, -EINVAL (step out of range, empty or
 * unknown mask bits) or -ENOMEM. Free with ns_feat_free (NULL-safe). */
int ns_feat_new(const struct ns_feat_config *cfg, struct ns_feat **out);
void ns_feat_free(struct ns_feat *f);

/* Forgets all history. */
void ns_feat_reset(struct ns_feat *f);

/* Number of features and the name of feature i (NULL past the end). */
size_t ns_feat_count(const struct ns_feat *f);
const char *ns_feat_name(const struct ns_feat *f, size_t i);

/* Index of a feature by name, or -1. */
int ns_feat_index(const struct ns_feat *f, const char *name);

/* Feeds one sample. Returns 0 when taken, 1 when dropped (its grid step is
 * not after the previous sample's). */
int ns_feat_push(struct ns_feat *f, const struct ns_sample *s);

/* The caller's clock went back (a wall clock stepped back, or fixed after
 * running ahead): the next sample, dated ts_ms, is taken as the grid step
 * after the previous one, and the windows are kept. Without it every sample
 * would be dropped until the clock reached the old grid again. Nothing
 * pushed yet, or a ts_ms too small to anchor the grid: a fresh start. */
void ns_feat_clock_back(struct ns_feat *f, uint64_t ts_ms);

/* Writes the feature vector after the latest push into out (n must be at
 * least ns_feat_count). NaN marks a missing value. Returns 0 or -EINVAL. */
int ns_feat_get(const struct ns_feat *f, float *out, size_t n);

/* Bytes held by the pipeline (for the agent's memory budget). */
size_t ns_feat_memory(const struct ns_feat *f);

/* Grid geometry after ns_feat_new (for callers that derive targets). */
uint32_t ns_feat_bucket_steps(const struct ns_feat *f);

#endif
