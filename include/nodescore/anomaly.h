/* SPDX-License-Identifier: MIT */
/* Streaming anomaly detector: windowed features -> isolation forest refit on
 * the detector's own recent history -> anomaly likelihood -> hysteresis flag,
 * plus feature drift (PSI) for /metrics. Uses only past samples. */
#ifndef NODESCORE_ANOMALY_H
#define NODESCORE_ANOMALY_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/iforest.h"

#define NS_ANOMALY_MAX_METRICS 8

/* Features per metric, in this order; names are "<metric>.<suffix>". */
enum ns_anomaly_feature {
	NS_AF_Z_SHORT = 0, /* z of the value against the short window (past only) */
	NS_AF_Z_MID,	   /* ... mid window */
	NS_AF_Z_LONG,	   /* ... long window */
	NS_AF_DELTA,	   /* change since the last sample, in long-window std */
	NS_AF_RESID,	   /* residual of a Holt linear one-step forecast, long std */
	NS_AF_MAXZ,	   /* rolling max of |z short| over the short window */
	NS_AF_SEASON,	   /* value minus the value one season ago, long std (0 if season == 0) */
	NS_AF_VOL,	   /* log of short-window std over long-window std */
	NS_ANOMALY_FEATS_PER_METRIC
};

/* All durations are in samples (ticks): the detector never looks at clocks,
 * so the same code runs on a node at 5 s and on NAB at 5 min. */
struct ns_anomaly_config {
	uint32_t n_metrics;				  /* 1..NS_ANOMALY_MAX_METRICS */
	const char *metric_names[NS_ANOMALY_MAX_METRICS]; /* prefixes of feature names */
	uint32_t win_short, win_mid, win_long;		  /* rolling windows for z-scores */
	uint32_t season;      /* samples per season (a day), 0 = no seasonal feature */
	uint32_t probation;   /* samples before the first own fit */
	uint32_t refit_every; /* samples between refits (a day of samples on a node) */
	uint32_t history;     /* training window: most recent feature rows */
	uint32_t n_trees, psi;
	uint64_t seed;
	uint32_t lik_short;	  /* raw scores averaged before the tail probability */
	uint32_t lik_long;	  /* past smoothed scores forming the reference distribution */
	double gate;		  /* likelihood at which the forest calls a sample unusual */
	double threshold;	  /* severity (std units) that counts as "over" */
	uint32_t enter_k;	  /* consecutive overs to raise the flag */
	uint32_t leave_m;	  /* consecutive unders to clear it (and to re-arm the output) */
	uint32_t rearm;		  /* at least this many ticks between two output detections */
	double challenger_margin; /* see ns_anomaly_update: allowed extra alarm rate */
	/* Tail cap of the severity: |top feature| is scaled by threshold / q, q the
	 * tail_q quantile of that feature's |value| over the last tail_window rows,
	 * when that is smaller: a feature whose recent tail already reaches the
	 * threshold (heavy-tailed, spiky series) must beat its own tail.
	 * 0 = off (the pre-2026-11 severity). */
	uint32_t tail_window;
	double tail_q;
	/* ...and a feature counts as out of its tail only at tail_margin times
	 * that quantile (>= 1; 1.25 by default, 1 = the plain quantile) */
	double tail_margin;
	/* A feature's tail is also at least its largest |value| within +-10
	 * minutes of the same phase on each of the last tail_season seasons
	 * (daily jobs are not news); 0 = off, at most 7. Each season kept costs
	 * season rows of feature memory (1.1 MB for 2 metrics at 5 s), so the
	 * agent default is 1. */
	uint32_t tail_season;
};

/* Defaults for n_metrics metrics sampled every 5 s on a node. */
void ns_anomaly_config_default(struct ns_anomaly_config *c, uint32_t n_metrics);

/* Checks ranges; 0 or -EINVAL with a reason in err. */
int ns_anomaly_config_check(const struct ns_anomaly_config *c, char *err, size_t errlen);

struct ns_anomaly;

/* Returns 0 and a detector (free with ns_anomaly_free), or -EINVAL (a
 * field out of range, as ns_anomaly_config_check says) or -ENOMEM, with the
 * reason in err (may be NULL with errlen 0). */
int ns_anomaly_new(const struct ns_anomaly_config *c, struct ns_anomaly **out, char *err,
		   size_t errlen);
void ns_anomaly_free(struct ns_anomaly *a);

/* Gives the detector a pre-trained model (e.g. the shipped
 * models/iforest-default.nsif) to score with until its own first fit. The
 * model's feature names must equal ns_anomaly_feature_name() in order.
 * On success the detector takes over the caller's reference to f (a forest
 * shared through ns_iforest_ref stays shared: a refit drops only this
 * detector's reference); on -EINVAL (mismatch, reason in err) the caller
 * still holds it. */
int ns_anomaly_set_model(struct ns_anomaly *a, struct ns_iforest *f, char *err, size_t errlen);

struct ns_anomaly_result {
	int ready;	   /* 0 until a model exists: the fields below are then 0 */
	double score;	   /* raw isolation forest score (0, 1] */
	double likelihood; /* 1 - tail probability of the (smoothed) score against the
			    * reference; above the reference maximum it keeps growing */
	double severity;   /* |value| of the top feature (std units, capped by its recent
			    * tail, see tail_window) when likelihood >= gate, else 0 */
	double output;	   /* severity / (severity + 10) while armed, 0 after a detection until
			    * re-armed: one detection per event (what NAB scores) */
	int flag;	   /* hysteresis state: 1 while anomalous */
	int onset;	   /* 1 on the tick the flag was raised */
	int top_feature;   /* index of the feature that isolated the sample most, -1 if none */
	int top_metric;	   /* metric of top_feature, -1 if none */
	int refit;	   /* 1 if a refit ran on this tick */
};

/* Feeds one sample (values[n_metrics], NaN = not measured: the last value is
 * carried) and fills *r. Refit schedule: first fit once `probation` samples
 * are in, then every `refit_every`. Champion/challenger: the challenger is
 * trained on the last `history` rows (flagged rows included: excluding them
 * scored worse on NAB, 42.6 vs 45.5, as real shifts then never become normal); each model's
 * alarm rate is the share of the last refit_every rows it scores above the
 * 99th percentile of its own training scores. The challenger is "worse" and
 * discarded when its alarm rate exceeds the champion's by more than
 * challenger_margin. Returns 0, -EINVAL, -ENOMEM (the tick is then dropped,
 * the detector stays usable). */
int ns_anomaly_update(struct ns_anomaly *a, const float *values, struct ns_anomaly_result *r);

/* Feature names "<metric>.<feature>", n_metrics * NS_ANOMALY_FEATS_PER_METRIC. */
size_t ns_anomaly_n_features(const struct ns_anomaly *a);
const char *ns_anomaly_feature_name(const struct ns_anomaly *a, size_t i);

/* Builds feature rows from a whole series (rows x n_metrics values) the way
 * the streaming detector does; x_out gets rows x n_features (the first
 * win_short rows are warm-up and still written). Used by nodescore-train so
 * the shipped model sees the same features as the agent. 0 or -EINVAL/-ENOMEM. */
int ns_anomaly_features_series(const struct ns_anomaly_config *c, const float *values, size_t rows,
			       float *x_out);

/* Feature row of the newest sample (ns_anomaly_n_features() values), NULL
 * before the first update; valid until the next update. For tools/nab. */
const float *ns_anomaly_last_row(const struct ns_anomaly *a);

/* Metrics for /metrics. */
uint64_t ns_anomaly_ticks(const struct ns_anomaly *a);
uint32_t ns_anomaly_refits(const struct ns_anomaly *a);	  /* challengers accepted */
uint32_t ns_anomaly_rejected(const struct ns_anomaly *a); /* challengers discarded */

/* Asks for a challenger fit on the next update instead of waiting for the
 * schedule (e.g. when drift is high). Champion/challenger still decides.
 * Ignored before the detector's own first fit (probation decides that). */
void ns_anomaly_request_refit(struct ns_anomaly *a);
/* Population stability index of each feature's values since the last fit
 * against the model's training rows (10 quantile bins); returns the largest
 * and its feature index in *worst (-1 before the first fit). */
double ns_anomaly_drift_psi(const struct ns_anomaly *a, int *worst);
/* Current model, NULL before the first fit or set_model; owned by the detector. */
const struct ns_iforest *ns_anomaly_model(const struct ns_anomaly *a);

#endif
