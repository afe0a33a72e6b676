/* SPDX-License-Identifier: MIT */
/* Internal: the state the agent's model files share. models.c owns open,
 * reload scheduling, the Q-table and the tick; models_forecast.c the
 * forecaster (bundle load, feature pipeline, history warm-up);
 * models_anomaly.c the streaming anomaly detector. Callers use
 * nodescore/models.h. */
#ifndef NODESCORE_AGENT_MODELS_INT_H
#define NODESCORE_AGENT_MODELS_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "nodescore/anomaly.h"
#include "nodescore/features.h"
#include "nodescore/forecast.h"
#include "nodescore/history.h"
#include "nodescore/models.h"
#include "nodescore/qtable.h"

#define PATH_CAP 256

/* What identifies a file's content without reading it: a ConfigMap update
 * swaps a symlink (new inode), an editor rewrites in place (new mtime/size). */
struct sig {
	int exists;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

struct ns_models {
	struct ns_models_config cfg;
	struct ns_models_stats st;
	uint64_t next_reload_ms;

	/* Forecaster */
	char fc_path[PATH_CAP]; /* "" = disabled */
	struct sig fc_sig[2];	/* manifest.json, forecast.nsf */
	struct ns_forecast *fc;
	struct ns_feat *feat;
	int fc_cpu, fc_mem; /* model indices of the peaks at the horizon */
	int x_cpu_cur, x_cpu_1h, x_mem_cur, x_mem_1h; /* anchors: forecast only with one */
	int fc_primed;
	uint64_t fc_next_ms;
	struct ns_history_acc fc_acc;
	float x[NS_FEAT_MAX];
	float out[NS_FC_MAX_MODELS];

	/* Anomaly detector */
	char an_path[PATH_CAP];
	struct sig an_sig;
	struct ns_anomaly *det;
	int an_metric[NS_ANOMALY_MAX_METRICS];
	uint32_t an_n;
	int an_explicit; /* --anomaly-metrics given: never follow a model's metrics */
	int an_primed;
	uint64_t an_next_ms;
	struct ns_history_acc an_acc;
	int an_err_logged;
	uint64_t an_since_fit;	  /* scored rows since the detector's last fit */
	char test_path[PATH_CAP]; /* --test-anomaly-file, "" = off */
	char test_feature[64];	  /* its feature while forced, "" = not forced */

	/* Q-table: ns_qtable_load writes qt only when the whole file is valid,
	 * so a bad reload leaves the loaded table in place. */
	char qt_path[PATH_CAP];
	struct sig qt_sig;
	int qt_default; /* path is the default, not given */
	struct ns_qtable qt;
};

struct sig ns_models_sig_of(const char *path);
int ns_models_sig_eq(const struct sig *a, const struct sig *b);

/* The step grids run on sample time (the wall clock). A sample dated before
 * the open step began means that clock went back (stepped by NTP or by
 * hand, or fixed after running ahead): waiting for it to reach the old
 * boundary would stop the grid for as long as the jump. True when so. */
static inline int ns_models_went_back(uint64_t ts_ms, uint64_t next_ms, uint64_t step_ms)
{
	return ts_ms + step_ms < next_ms;
}

/* One INFO line per restart of a step grid (grid "forecast" or "anomaly"). */
void ns_models_log_went_back(const char *grid, uint64_t ts_ms, uint64_t next_ms, uint64_t step_ms);

/* Forecaster (models_forecast.c). Open never fails: a missing or bad bundle
 * leaves the heuristic peaks, with one WARNING. Reload returns 1 when a
 * changed bundle was swapped in. predict = 0 while replaying history. */
void ns_models_fc_open(struct ns_models *m);
int ns_models_fc_reload(struct ns_models *m);
void ns_models_fc_step(struct ns_models *m, const struct ns_sample *s, int predict);

/* Anomaly detector (models_anomaly.c). Open fails only on a bad
 * configuration (reason in err); a missing model file is a WARNING. */
int ns_models_an_open(struct ns_models *m, char *err, size_t errlen);
int ns_models_an_reload(struct ns_models *m);
void ns_models_an_step(struct ns_models *m, const struct ns_sample *s);

#endif
