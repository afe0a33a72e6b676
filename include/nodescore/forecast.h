/* SPDX-License-Identifier: MIT */
/* Load forecaster: gradient-boosted trees (trained by XGBoost) flattened
 * into one compact array walker; a set of models, one per target (metric,
 * mean or peak, horizon), fed by one ns_feat vector. */
#ifndef NODESCORE_FORECAST_H
#define NODESCORE_FORECAST_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/features.h"

enum ns_fc_stat {
	NS_FC_MEAN = 0, /* mean of the metric over (now, now + horizon] */
	NS_FC_PEAK = 1, /* max of the metric over (now, now + horizon] */
};

struct ns_fc_target {
	uint8_t metric;	    /* enum ns_metric */
	uint8_t stat;	    /* enum ns_fc_stat */
	uint32_t horizon_s; /* 1 .. 7 days */
};

/* Limits enforced on every model, whatever its origin. */
#define NS_FC_MAX_MODELS 64u
#define NS_FC_MAX_TREES 4096u
#define NS_FC_MAX_TREE_NODES 65535u
#define NS_FC_MAX_NODES (4u << 20)
#define NS_FC_MAX_FILE (64u << 20)
#define NS_FC_MAX_HORIZON_S (7u * 86400u)

struct ns_forecast;

/* An empty model set over the feature layout of cfg (metric mask and the
 * step the training data had). Returns 0, -EINVAL or -ENOMEM. */
int ns_forecast_new(const struct ns_feat_config *cfg, struct ns_forecast **out);

/* A model set is reference-counted so that many holders can share one
 * read-only copy (nodescore-sim's simulated nodes: one 1.6 MB bundle for
 * all of them instead of one per node). A count rather than a borrowed
 * pointer: every holder keeps freeing what it holds (reload, fallback,
 * teardown) with no owner flag, and the last one frees the trees.
 * ns_forecast_new and the loaders return a set with one reference;
 * ns_forecast_ref adds one and returns fc (NULL-safe); ns_forecast_free
 * drops one and frees at zero (NULL-safe). The count is atomic; the model
 * itself is only read after loading, so holders in several threads need
 * no lock. The two mutators, ns_forecast_add_xgb_json and
 * ns_forecast_set_flat_guard, are for building a model (the trainer) and
 * refuse (-EBUSY) a set that has more than one reference. */
struct ns_forecast *ns_forecast_ref(struct ns_forecast *fc);
void ns_forecast_free(struct ns_forecast *fc);

/* Adds one model from an XGBoost JSON model (XGBoosterSaveModelToBuffer
 * "json", or Booster.save_model("x.json")): gbtree, one output, identity
 * link (reg:squarederror, reg:pseudohubererror, reg:absoluteerror), numeric
 * splits only, features indexed like the ns_feat vector. offset is added to
 * every prediction (a bias correction learned at training time). A relative
 * model was trained on target - anchor, where the anchor is the metric's
 * current value (<metric>_cur, else <metric>_mean_1h, else 0): prediction =
 * trees + offset + anchor. Returns 0, -EINVAL with a reason in err, or
 * -ENOMEM, or -EBUSY when fc is shared (ns_forecast_ref); fc is unchanged
 * on error. */
int ns_forecast_add_xgb_json(struct ns_forecast *fc, const struct ns_fc_target *t, const char *json,
			     size_t len, float offset, int relative, char *err, size_t errlen);

/* Anchor value of model i for feature vector x (0 for absolute models), and
 * whether model i is relative. */
float ns_forecast_anchor(const struct ns_forecast *fc, size_t i, const float *x);
int ns_forecast_is_relative(const struct ns_forecast *fc, size_t i);

/* The anchor a relative model of metric would use for x (what the trainer
 * subtracts from the label). 0 when metric is not in the feature mask. */
float ns_forecast_anchor_for(const struct ns_forecast *fc, int metric, const float *x);

/* Serialises to the compact binary model format (little-endian, magic
 * "NSFC", version, typed header, per-tree node counts, CRC-32 trailer).
 * *buf is malloc'd, the caller frees it. Returns 0 or -ENOMEM. */
int ns_forecast_save(const struct ns_forecast *fc, uint8_t **buf, size_t *len);

/* Parses the binary format. Every length, index and value is checked
 * against the bytes present and the limits above; trees must point strictly
 * forward (no cycles). Returns 0, or -EINVAL with a reason in err, or
 * -ENOMEM. Never reads outside buf[0..len). */
int ns_forecast_load(const void *buf, size_t len, struct ns_forecast **out, char *err,
		     size_t errlen);

/* Loads "<dir>/forecast.nsf" through the bundle manifest (size and SHA-256
 * verified). Returns 0 or a negative errno with a reason in err. */
int ns_forecast_load_bundle(const char *dir, struct ns_forecast **out, char *err, size_t errlen);

/* Flat guard of model i: when the metric's std over the last hour
 * (<metric>_std_1h) is below thr, the model forecasts anchor + offset
 * (persistence) instead of walking its trees. thr 0 disables. Returns 0,
 * -EINVAL (bad index or threshold, metric not featured), or -EBUSY when fc
 * is shared (ns_forecast_ref): the guard is part of the model, set while
 * building it, never on a set other holders already predict with. */
int ns_forecast_set_flat_guard(struct ns_forecast *fc, size_t i, float thr);
float ns_forecast_flat_guard(const struct ns_forecast *fc, size_t i);

/* Model set description. */
const struct ns_feat_config *ns_forecast_feat_config(const struct ns_forecast *fc);
size_t ns_forecast_nfeat(const struct ns_forecast *fc);
size_t ns_forecast_ntargets(const struct ns_forecast *fc);
const struct ns_fc_target *ns_forecast_target(const struct ns_forecast *fc, size_t i);
size_t ns_forecast_ntrees(const struct ns_forecast *fc);

/* Index of the model for (metric, stat, horizon_s), or -1. */
int ns_forecast_find(const struct ns_forecast *fc, int metric, int stat, uint32_t horizon_s);

/* Predicts every target from one feature vector x of nfeat values (NaN =
 * missing, routed like XGBoost's default direction). out receives
 * ns_forecast_ntargets values in target order, in the metric's unit (0..1
 * utilisation), not clamped. Returns 0 or -EINVAL (nfeat or nout short). */
int ns_forecast_predict(const struct ns_forecast *fc, const float *x, size_t nfeat, float *out,
			size_t nout);

/* One target only (i from ns_forecast_find). */
float ns_forecast_predict_one(const struct ns_forecast *fc, size_t i, const float *x);

/* Name like "cpu_util_peak_1h" (horizon in h when whole hours, else m). */
void ns_forecast_target_name(const struct ns_fc_target *t, char *buf, size_t len);

#endif
