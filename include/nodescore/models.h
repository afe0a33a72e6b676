/* SPDX-License-Identifier: MIT */
/* On-node models in the agent: the forecaster (feature pipeline + tree
 * walker), the streaming anomaly detector and the Q-table placement value,
 * fed from the agent's ticks, with hot reload of their files and counters
 * for /metrics. A missing or bad model is never fatal: its score inputs stay
 * NaN and the score falls back to the heuristic. */
#ifndef NODESCORE_MODELS_H
#define NODESCORE_MODELS_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/sample.h"
#include "nodescore/score.h"

/* Installed by `make install` (PREFIX=/usr/local); the source-tree copy is
 * tried next so the agent finds its models when run from a checkout. */
#ifndef NS_MODELS_SHARE_DIR
#define NS_MODELS_SHARE_DIR "/usr/local/share/nodescore/models"
#endif
#define NS_MODELS_FORECAST_DEFAULT "forecast-default"
#define NS_MODELS_ANOMALY_DEFAULT "iforest-default.nsif"
#define NS_MODELS_QTABLE_DEFAULT "qtable-default.nsq"
/* Anomaly metrics when no model file says which (names from lib/sample.c). */
#define NS_MODELS_ANOMALY_METRICS_WIDE                                                             \
	"cpu_util,mem_util,psi_cpu_some,psi_mem_some,psi_io_some,rtt_p99_us,disk_p99_us"

struct ns_forecast;
struct ns_iforest;

struct ns_models_config {
	/* Bundle directory / .nsif / .nsq file; NULL or "" = the defaults above
	 * (first that exists), "none" = disabled (fallback, one INFO line). */
	const char *forecast_path;
	const char *anomaly_path;
	const char *qtable_path;
	/* Comma-separated ns_metric names; NULL or "" = the metrics the
	 * anomaly model file was trained on, else NS_MODELS_ANOMALY_METRICS_WIDE. */
	const char *anomaly_metrics;
	uint32_t horizon_s;	  /* forecast horizon of the peaks used in the score */
	uint64_t anomaly_step_ms; /* detector sample period (mean of the ticks in it) */
	uint64_t reload_ms;	  /* stat the model files this often; 0 = never */
	/* Test hook (--test-anomaly-file), NULL or "" = off: while this file
	 * holds a feature name the anomaly flag is forced on with it as the
	 * top feature. For end-to-end tests of the alert path only. */
	const char *test_anomaly_file;
	/* Already-loaded models to use instead of loading forecast_path and
	 * anomaly_path again; NULL = load them (the agent passes none). For a
	 * process running many nodes' models over the same files
	 * (nodescore-sim, one ns_models per simulated node): one read-only copy
	 * then serves them all. open takes its own reference (ns_forecast_ref,
	 * ns_iforest_ref); the caller keeps and frees its own. The model must
	 * have been loaded from the path given: the path still gives the
	 * bundle version and the file signatures for reload, the model the
	 * horizon lookup and the detector's metrics, as when loaded here. A
	 * changed file is reloaded into a new copy for this ns_models only,
	 * and the detector's own refits replace only its own model. Ignored
	 * when the path is "none". */
	struct ns_forecast *forecast;
	struct ns_iforest *anomaly;
};

void ns_models_config_default(struct ns_models_config *c);

struct ns_models_model_stats {
	int loaded;
	char path[256];	   /* resolved path, "" when none */
	char version[64];  /* bundle manifest "version", "nsif-1", "own-fit", or the
			    * Q-table's version ("qtable-1" when it has none) */
	uint64_t reloads;  /* changed files swapped in */
	uint64_t rejected; /* changed files refused (old model kept) */
};

struct ns_models_stats {
	struct ns_models_model_stats forecast, anomaly, qtable;
	/* Forecaster */
	uint32_t horizon_s;
	double cpu_peak_fc, mem_peak_fc; /* last forecast at the horizon, 0..1, NaN when none */
	uint64_t predicts;
	double predict_s, predict_max_s; /* wall time of the last / slowest predict */
	/* Anomaly detector */
	int anomaly_ready;
	double anomaly_score; /* 0..1 as given to the score */
	double anomaly_raw;   /* forest score (0, 1] */
	double severity;      /* std units of the isolating feature, 0 when ordinary */
	int anomaly_flag;
	char top_feature[64]; /* "" when none */
	uint32_t refits, refits_rejected;
	uint32_t early_refits;	/* challenger fits asked for by high drift */
	double drift_psi;	/* largest PSI since the last fit, NaN before one */
	char drift_feature[64]; /* its feature, "" before the first fit */
	uint64_t anomaly_updates;
};

struct ns_models;

/* Loads what it can (one WARNING per model that is missing or bad) and
 * never fails because of a model file. Returns 0, -EINVAL with a reason in
 * err for a bad configuration (unknown metric name, zero step), or -ENOMEM. */
int ns_models_open(const struct ns_models_config *c, struct ns_models **out, char *err,
		   size_t errlen);

/* NULL-safe. */
void ns_models_free(struct ns_models *m);

/* One agent tick (ns_agent_model_fn signature, ctx = struct ns_models *):
 * accumulates s, runs the detector and the forecaster on their step
 * boundaries (sample time s->ts_ms), checks the files every reload_ms, and
 * sets in->anomaly, anomaly_flag, top_feature, cpu_peak_fc, mem_peak_fc from
 * the latest results and q_value from the Q-table over this sample's state
 * (NaN when a model is absent, or for q_value when cpu or memory is not
 * measured). */
void ns_models_tick(void *ctx, const struct ns_sample *s, struct ns_score_input *in);

/* Replays the last 25 h of the history ring at path (read-only, safe while
 * the agent appends) into the forecast pipeline, so its 24 h windows and lags
 * are filled at start, and predicts once. Call before the first tick.
 * Returns the records used, or -errno (the agent then just starts cold). */
int ns_models_warm_from_ring(struct ns_models *m, const char *path, uint64_t now_ms);

/* Stats the model files now and swaps in any that changed and validate.
 * Returns the number of models swapped in. */
int ns_models_reload(struct ns_models *m);

void ns_models_stats(const struct ns_models *m, struct ns_models_stats *out);

/* The Q-table state (ns_qtable_state) of sample s with the models' latest
 * forecast and anomaly flag, as the agent looks it up; call after
 * ns_models_tick. Returns 0, or -EINVAL when CPU or memory use is not
 * measured. Needs no table loaded (the trainer uses it). */
int ns_models_qstate(const struct ns_models *m, const struct ns_sample *s, uint32_t *state);

#endif
