// SPDX-License-Identifier: MIT
/* The agent's on-node models: forecaster and anomaly detector fed at their
 * own steps, the Q-table looked up every tick, hot reload of their files,
 * stats for /metrics. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nodescore/anomaly.h"
#include "nodescore/bundle.h"
#include "nodescore/features.h"
#include "nodescore/forecast.h"
#include "nodescore/history.h"
#include "nodescore/iforest.h"
#include "nodescore/log.h"
#include "nodescore/models.h"
#include "nodescore/opt.h"
#include "nodescore/qtable.h"
#include "nodescore/ring.h"

#define PATH_CAP 256
#define DRIFT_MIN_ROWS 100
/* Drift above this PSI (the usual "significant shift" bound) asks for an
 * early challenger fit, at most once per DRIFT_REFIT_MIN_ROWS detector steps
 * (1 h at 5 s) so a noisy PSI cannot turn into a refit storm. */
#define DRIFT_REFIT_PSI 0.25
#define DRIFT_REFIT_MIN_ROWS 720

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

void ns_models_config_default(struct ns_models_config *c)
{
	memset(c, 0, sizeof(*c));
	c->horizon_s = 3600;
	c->anomaly_step_ms = 5000; /* ns_anomaly_config_default's windows are in 5 s samples */
	c->reload_ms = 30000;
}

static struct sig sig_of(const char *path)
{
	struct sig s;
	struct stat st;

	memset(&s, 0, sizeof(s));
	/* stat, not fstat of an open fd: the path is what a ConfigMap update moves. */
	if (stat(path, &st) == 0) {
		s.exists = 1;
		s.dev = st.st_dev;
		s.ino = st.st_ino;
		s.size = st.st_size;
		s.mtime = st.st_mtim;
	}
	return s;
}

static int sig_eq(const struct sig *a, const struct sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static void fc_sigs(const struct ns_models *m, struct sig out[2])
{
	char p[PATH_CAP + 32];

	snprintf(p, sizeof(p), "%s/" NS_BUNDLE_MANIFEST, m->fc_path);
	out[0] = sig_of(p);
	snprintf(p, sizeof(p), "%s/forecast.nsf", m->fc_path);
	out[1] = sig_of(p);
}

/* Explicit path, "none", or the first default that exists (else the
 * installed one, watched until it appears). */
static int resolve(const char *given, const char *name, int dir, char *out, size_t cap, char *err,
		   size_t errlen)
{
	const char *cands[2] = {NS_MODELS_SHARE_DIR, "models"};
	char p[PATH_CAP + 32];

	out[0] = '\0';
	if (given && strcmp(given, "none") == 0)
		return 0;
	if (given && *given) {
		if (strlen(given) >= cap) {
			snprintf(err, errlen, "model path too long path=%.64s...", given);
			return -EINVAL;
		}
		snprintf(out, cap, "%s", given);
		return 0;
	}
	for (int i = 0; i < 2; i++) {
		struct stat st;

		snprintf(p, sizeof(p), "%s/%s%s", cands[i], name,
			 dir ? "/" NS_BUNDLE_MANIFEST : "");
		if (stat(p, &st) == 0) {
			snprintf(out, cap, "%s/%s", cands[i], name);
			return 0;
		}
	}
	snprintf(out, cap, "%s/%s", cands[0], name);
	return 0;
}

/* --- forecaster --- */

/* Loads and fully validates a bundle; on success *fc and the peak indices.
 * shared (NULL = load the bundle) is a model already loaded from it: a
 * reference to it is taken instead, the rest is the same. */
static int fc_load(const struct ns_models *m, struct ns_forecast *shared, struct ns_forecast **fc,
		   int *cpu, int *mem, char *version, size_t vlen, char *err, size_t errlen)
{
	struct ns_bundle *b = NULL;
	const char *v;
	int rc;

	*fc = NULL;
	rc = ns_bundle_open(m->fc_path, &b, err, errlen);
	if (rc)
		return rc;
	v = ns_bundle_get(b, "version");
	snprintf(version, vlen, "%s", v && *v ? v : "unknown");
	/* It goes into log lines and a metric label: keep it to a safe charset. */
	for (char *c = version; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-+:", *c))
			*c = '_';
	ns_bundle_close(b);
	if (shared)
		*fc = ns_forecast_ref(shared);
	else if ((rc = ns_forecast_load_bundle(m->fc_path, fc, err, errlen)) != 0)
		return rc;
	*cpu = ns_forecast_find(*fc, NS_M_CPU_UTIL, NS_FC_PEAK, m->cfg.horizon_s);
	*mem = ns_forecast_find(*fc, NS_M_MEM_UTIL, NS_FC_PEAK, m->cfg.horizon_s);
	if (*cpu < 0 || *mem < 0) {
		snprintf(err, errlen,
			 "bundle has no cpu_util and mem_util peak model at horizon_s=%u "
			 "(--forecast-horizon)",
			 m->cfg.horizon_s);
		ns_forecast_free(*fc);
		*fc = NULL;
		return -EINVAL;
	}
	return 0;
}

static int feat_cfg_eq(const struct ns_feat_config *a, const struct ns_feat_config *b)
{
	return a->step_ms == b->step_ms && a->metric_mask == b->metric_mask;
}

static void fc_predict(struct ns_models *m)
{
	size_t nf = ns_feat_count(m->feat);
	uint64_t t0;
	double dt;

	if (ns_feat_get(m->feat, m->x, NS_FEAT_MAX) != 0)
		return;
	if (nf < ns_forecast_nfeat(m->fc))
		return;
	t0 = ns_mono_ns();
	/* Only the two peaks at the horizon are used: a bundle has up to
	 * NS_FC_MAX_MODELS targets (16 shipped), so walking them all would
	 * cost eight times as much. */
	m->out[m->fc_cpu] = ns_forecast_predict_one(m->fc, (size_t)m->fc_cpu, m->x);
	m->out[m->fc_mem] = ns_forecast_predict_one(m->fc, (size_t)m->fc_mem, m->x);
	dt = (double)(ns_mono_ns() - t0) / 1e9;
	m->st.predicts++;
	m->st.predict_s = dt;
	if (dt > m->st.predict_max_s)
		m->st.predict_max_s = dt;
	/* Relative models add their trees to the current value (or the hour's
	 * mean): without either the output is a bare delta, not a forecast. */
	m->st.cpu_peak_fc = isnan(m->x[m->x_cpu_cur]) && isnan(m->x[m->x_cpu_1h])
				? NAN
				: fmin(1.0, fmax(0.0, (double)m->out[m->fc_cpu]));
	m->st.mem_peak_fc = isnan(m->x[m->x_mem_cur]) && isnan(m->x[m->x_mem_1h])
				? NAN
				: fmin(1.0, fmax(0.0, (double)m->out[m->fc_mem]));
}

/* Takes ownership of fc. Keeps the pipeline (and its 24 h of history) when
 * the new model uses the same feature layout. */
static int fc_install(struct ns_models *m, struct ns_forecast *fc, int cpu, int mem, char *err,
		      size_t errlen)
{
	const struct ns_feat_config *fcfg = ns_forecast_feat_config(fc);
	struct ns_feat *feat = NULL;
	int rc, keep = m->feat && m->fc && feat_cfg_eq(fcfg, ns_forecast_feat_config(m->fc));

	if (!keep) {
		rc = ns_feat_new(fcfg, &feat);
		if (rc) {
			snprintf(err, errlen, "bundle feature layout unusable step_ms=%u mask=0x%x",
				 fcfg->step_ms, fcfg->metric_mask);
			ns_forecast_free(fc);
			return rc;
		}
		if (ns_feat_count(feat) != ns_forecast_nfeat(fc) ||
		    ns_feat_index(feat, "cpu_util_cur") < 0 ||
		    ns_feat_index(feat, "mem_util_cur") < 0) {
			snprintf(err, errlen,
				 "bundle features do not match the pipeline (%zu vs %zu)",
				 ns_forecast_nfeat(fc), ns_feat_count(feat));
			ns_feat_free(feat);
			ns_forecast_free(fc);
			return -EINVAL;
		}
		ns_feat_free(m->feat);
		m->feat = feat;
		m->fc_primed = 0;
		ns_history_reset(&m->fc_acc);
		m->st.cpu_peak_fc = m->st.mem_peak_fc = NAN;
		m->x_cpu_cur = ns_feat_index(feat, "cpu_util_cur");
		m->x_cpu_1h = ns_feat_index(feat, "cpu_util_mean_1h");
		m->x_mem_cur = ns_feat_index(feat, "mem_util_cur");
		m->x_mem_1h = ns_feat_index(feat, "mem_util_mean_1h");
		if (m->x_cpu_1h < 0)
			m->x_cpu_1h = m->x_cpu_cur;
		if (m->x_mem_1h < 0)
			m->x_mem_1h = m->x_mem_cur;
	}
	ns_forecast_free(m->fc);
	m->fc = fc;
	m->fc_cpu = cpu;
	m->fc_mem = mem;
	if (keep && m->fc_primed)
		fc_predict(m); /* the new model's view of the same features, now */
	return 0;
}

/* The step grids run on sample time (the wall clock). A sample dated before
 * the open step began means that clock went back (stepped by NTP or by
 * hand, or fixed after running ahead): waiting for it to reach the old
 * boundary would stop the grid for as long as the jump. True when so. */
static int went_back(uint64_t ts_ms, uint64_t next_ms, uint64_t step_ms)
{
	return ts_ms + step_ms < next_ms;
}

static void log_went_back(const char *grid, uint64_t ts_ms, uint64_t next_ms, uint64_t step_ms)
{
	log_info("models", "wall clock went back, step grid restarted grid=%s back_ms=%llu", grid,
		 (unsigned long long)(next_ms - step_ms - ts_ms));
}

/* predict = 0 while replaying history: the forecast is made once at the end. */
static void fc_step(struct ns_models *m, const struct ns_sample *s, int predict)
{
	uint64_t step = ns_forecast_feat_config(m->fc)->step_ms;
	struct ns_sample mean;

	if (!m->fc_primed) {
		/* The first complete sample starts the grid and gives a forecast at
		 * once; every later point is the mean of one step, as in training. */
		if (isnan(s->v[NS_M_CPU_UTIL]) || isnan(s->v[NS_M_MEM_UTIL]))
			return;
		ns_feat_push(m->feat, s);
		if (predict)
			fc_predict(m);
		m->fc_primed = 1;
		m->fc_next_ms = s->ts_ms + step;
		ns_history_reset(&m->fc_acc);
		return;
	}
	/* Back in time: the open step's samples are dropped, the grid restarts
	 * at this sample and the pipeline takes its next point as the next step
	 * (its windows kept). Ahead in time is a stall: the gap below. */
	if (went_back(s->ts_ms, m->fc_next_ms, step)) {
		if (predict)
			log_went_back("forecast", s->ts_ms, m->fc_next_ms, step);
		ns_history_reset(&m->fc_acc);
		m->fc_next_ms = s->ts_ms + step;
		ns_feat_clock_back(m->feat, m->fc_next_ms);
	}
	/* A sample at or past the boundary opens the next step: close this one
	 * first, with only its own samples. */
	if (s->ts_ms >= m->fc_next_ms) {
		if (ns_history_mean(&m->fc_acc, m->fc_next_ms, &mean) == 0) {
			ns_feat_push(m->feat, &mean);
			if (predict)
				fc_predict(m);
		}
		ns_history_reset(&m->fc_acc);
		/* After a stall, skip to the next grid point: the pipeline sees a gap. */
		m->fc_next_ms += ((s->ts_ms - m->fc_next_ms) / step + 1) * step;
	}
	ns_history_add(&m->fc_acc, s);
}

struct warm {
	struct ns_models *m;
	uint64_t from_ms;
	uint64_t n;
};

static int warm_one(const struct ns_sample *s, void *arg)
{
	struct warm *w = arg;

	if (s->ts_ms >= w->from_ms) {
		fc_step(w->m, s, 0);
		w->n++;
	}
	return 0;
}

int ns_models_warm_from_ring(struct ns_models *m, const char *path, uint64_t now_ms)
{
	struct ns_ring *r = NULL;
	/* 25 h: the longest window (24 h) and lag (23 h) plus a margin. */
	struct warm w = {m, now_ms > 90000000u ? now_ms - 90000000u : 0, 0};
	int rc;

	if (!m->fc)
		return 0;
	rc = ns_ring_open_readonly(path, &r);
	if (rc)
		return rc;
	rc = ns_ring_foreach(r, warm_one, &w);
	ns_ring_close(r);
	if (rc)
		return rc;
	if (m->fc_primed)
		fc_predict(m);
	log_info("models", "forecast pipeline warmed from history records=%llu path=%s",
		 (unsigned long long)w.n, path);
	return (int)(w.n > INT32_MAX ? INT32_MAX : w.n);
}

/* --- anomaly detector --- */

/* Metric indices from "a,b,c". */
static int parse_metrics(const char *list, int *idx, uint32_t *n, char *err, size_t errlen)
{
	char buf[512], *save = NULL;

	if (strlen(list) >= sizeof(buf)) {
		snprintf(err, errlen, "--anomaly-metrics too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", list);
	*n = 0;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = ns_metric_index(t);

		if (i < 0) {
			snprintf(err, errlen, "unknown metric in --anomaly-metrics name=%.64s", t);
			return -EINVAL;
		}
		if (*n >= NS_ANOMALY_MAX_METRICS) {
			snprintf(err, errlen, "--anomaly-metrics: at most %d metrics",
				 NS_ANOMALY_MAX_METRICS);
			return -EINVAL;
		}
		idx[(*n)++] = i;
	}
	if (*n == 0) {
		snprintf(err, errlen, "--anomaly-metrics is empty");
		return -EINVAL;
	}
	return 0;
}

/* The metrics a model was trained on, from its "<metric>.<feature>" names. */
static int model_metrics(const struct ns_iforest *f, int *idx, uint32_t *n)
{
	size_t nf = ns_iforest_n_features(f);

	if (nf == 0 || nf % NS_ANOMALY_FEATS_PER_METRIC ||
	    nf / NS_ANOMALY_FEATS_PER_METRIC > NS_ANOMALY_MAX_METRICS)
		return -EINVAL;
	*n = (uint32_t)(nf / NS_ANOMALY_FEATS_PER_METRIC);
	for (uint32_t i = 0; i < *n; i++) {
		const char *name = ns_iforest_feature_name(f, i * NS_ANOMALY_FEATS_PER_METRIC);
		const char *dot = name ? strchr(name, '.') : NULL;
		char mn[64];

		if (!dot || (size_t)(dot - name) >= sizeof(mn))
			return -EINVAL;
		memcpy(mn, name, (size_t)(dot - name));
		mn[dot - name] = '\0';
		idx[i] = ns_metric_index(mn);
		if (idx[i] < 0)
			return -EINVAL;
	}
	return 0;
}

static int an_new(struct ns_models *m)
{
	struct ns_anomaly_config c;

	ns_anomaly_config_default(&c, m->an_n);
	for (uint32_t i = 0; i < m->an_n; i++)
		c.metric_names[i] = ns_metric_names[m->an_metric[i]];
	return ns_anomaly_new(&c, &m->det);
}

static void an_step_one(struct ns_models *m, const struct ns_sample *s)
{
	struct ns_anomaly_result r;
	float v[NS_ANOMALY_MAX_METRICS];
	int worst = -1, rc;

	for (uint32_t i = 0; i < m->an_n; i++)
		v[i] = s->v[m->an_metric[i]];
	rc = ns_anomaly_update(m->det, v, &r);
	m->st.anomaly_updates++;
	if (rc && !m->an_err_logged) {
		log_warning("models", "anomaly update failed error=\"%s\"", strerror(-rc));
		m->an_err_logged = 1;
	}
	m->st.anomaly_ready = r.ready;
	if (r.ready) {
		const char *tf = r.top_feature >= 0
				     ? ns_anomaly_feature_name(m->det, (size_t)r.top_feature)
				     : NULL;

		m->st.anomaly_raw = r.score;
		m->st.severity = r.severity;
		/* 0 while the forest finds nothing unusual, rising with how many
		 * std the isolating feature is off: the raw forest score sits near
		 * 0.4-0.5 on every ordinary sample and would tax every node. */
		m->st.anomaly_score = r.severity / (r.severity + 10.0);
		m->st.anomaly_flag = r.flag;
		if (tf)
			snprintf(m->st.top_feature, sizeof(m->st.top_feature), "%s", tf);
		else if (!r.flag)
			m->st.top_feature[0] = '\0';
		if (r.onset)
			log_warning("models", "anomaly flag raised feature=%s severity=%.1f",
				    m->st.top_feature[0] ? m->st.top_feature : "?", r.severity);
	} else {
		m->st.anomaly_score = m->st.anomaly_raw = m->st.severity = NAN;
		m->st.anomaly_flag = 0;
		m->st.top_feature[0] = '\0';
	}
	if (r.refit)
		log_info("models", "anomaly refit accepted=%u rejected=%u",
			 ns_anomaly_refits(m->det), ns_anomaly_rejected(m->det));
	m->st.refits = ns_anomaly_refits(m->det);
	m->st.refits_rejected = ns_anomaly_rejected(m->det);
	if (r.refit)
		m->an_since_fit = 0;
	else if (r.ready)
		m->an_since_fit++;
	/* Drift needs the training distribution of a fit made here (a model
	 * file brings none: the PSI would be against empty bins) and enough
	 * rows since for 10 bins to mean something. */
	m->st.drift_psi =
	    m->st.refits + m->st.refits_rejected > 0 && m->an_since_fit >= DRIFT_MIN_ROWS
		? ns_anomaly_drift_psi(m->det, &worst)
		: NAN;
	m->st.drift_feature[0] = '\0';
	if (worst >= 0)
		snprintf(m->st.drift_feature, sizeof(m->st.drift_feature), "%s",
			 ns_anomaly_feature_name(m->det, (size_t)worst));
	else
		m->st.drift_psi = NAN;
	if (m->st.drift_psi > DRIFT_REFIT_PSI && m->an_since_fit >= DRIFT_REFIT_MIN_ROWS) {
		ns_anomaly_request_refit(m->det);
		m->st.early_refits++;
		log_info("models", "drift high, early anomaly refit psi=%.3f feature=%s",
			 m->st.drift_psi, m->st.drift_feature);
	}
	m->st.anomaly.loaded = ns_anomaly_model(m->det) != NULL;
	if (m->st.refits > 0)
		snprintf(m->st.anomaly.version, sizeof(m->st.anomaly.version), "own-fit");
}

static void an_step(struct ns_models *m, const struct ns_sample *s)
{
	struct ns_sample mean;

	if (!m->an_primed) {
		int any = 0;

		for (uint32_t i = 0; i < m->an_n; i++)
			any |= !isnan(s->v[m->an_metric[i]]);
		if (!any)
			return;
		an_step_one(m, s);
		m->an_primed = 1;
		m->an_next_ms = s->ts_ms + m->cfg.anomaly_step_ms;
		ns_history_reset(&m->an_acc);
		return;
	}
	/* Back in time: as for the forecaster; the detector has no time axis. */
	if (went_back(s->ts_ms, m->an_next_ms, m->cfg.anomaly_step_ms)) {
		log_went_back("anomaly", s->ts_ms, m->an_next_ms, m->cfg.anomaly_step_ms);
		ns_history_reset(&m->an_acc);
		m->an_next_ms = s->ts_ms + m->cfg.anomaly_step_ms;
	}
	if (s->ts_ms >= m->an_next_ms) {
		if (ns_history_mean(&m->an_acc, m->an_next_ms, &mean) == 0)
			an_step_one(m, &mean);
		ns_history_reset(&m->an_acc);
		m->an_next_ms += ((s->ts_ms - m->an_next_ms) / m->cfg.anomaly_step_ms + 1) *
				 m->cfg.anomaly_step_ms;
	}
	ns_history_add(&m->an_acc, s);
}

/* A detector that has never had a model and whose metrics were not given
 * explicitly follows the first file that appears (a ConfigMap mounted
 * late): rebuilt over that file's metrics. The old one is kept on failure. */
static int an_adopt(struct ns_models *m, struct ns_iforest *f, char *err, size_t errlen)
{
	struct ns_anomaly *old = m->det;
	int idx[NS_ANOMALY_MAX_METRICS], old_idx[NS_ANOMALY_MAX_METRICS];
	uint32_t n, old_n = m->an_n;
	int rc;

	if (m->an_explicit || ns_anomaly_model(old) || model_metrics(f, idx, &n))
		return -EINVAL;
	memcpy(old_idx, m->an_metric, sizeof(old_idx));
	memcpy(m->an_metric, idx, sizeof(idx));
	m->an_n = n;
	rc = an_new(m);
	if (!rc)
		rc = ns_anomaly_set_model(m->det, f, err, errlen);
	if (rc) {
		if (m->det != old)
			ns_anomaly_free(m->det);
		m->det = old;
		memcpy(m->an_metric, old_idx, sizeof(old_idx));
		m->an_n = old_n;
		return rc;
	}
	ns_anomaly_free(old);
	m->an_primed = 0;
	ns_history_reset(&m->an_acc);
	log_info("models", "anomaly detector rebuilt over the model's metrics=%u", n);
	return 0;
}

/* Loads the .nsif and gives it to the detector. 0 or -errno, reason in err. */
static int an_load(struct ns_models *m, char *err, size_t errlen)
{
	struct ns_iforest *f = NULL;
	int rc = ns_iforest_load(m->an_path, &f, err, errlen);

	if (rc)
		return rc;
	rc = ns_anomaly_set_model(m->det, f, err, errlen);
	if (rc && an_adopt(m, f, err, errlen) == 0)
		rc = 0;
	if (rc) {
		ns_iforest_free(f);
		return rc;
	}
	snprintf(m->st.anomaly.version, sizeof(m->st.anomaly.version), "nsif-%u",
		 NS_IFOREST_VERSION);
	m->st.anomaly.loaded = 1;
	return 0;
}

/* --- Q-table --- */

static void qt_set_version(struct ns_models *m)
{
	snprintf(m->st.qtable.version, sizeof(m->st.qtable.version), "%s",
		 m->qt.version[0] ? m->qt.version : "qtable-1");
}

static void open_qtable(struct ns_models *m)
{
	char err[256];
	int rc;

	if (!m->qt_path[0]) {
		log_info("models", "Q-table disabled (--qtable none): score uses headroom for the "
				   "Q term");
		return;
	}
	m->qt_sig = sig_of(m->qt_path);
	rc = ns_qtable_load(m->qt_path, &m->qt, err, sizeof(err));
	if (rc) {
		/* No table is shipped yet and the default weights give Q no
		 * weight: its absence is the normal case, not a problem. */
		if (rc == -ENOENT && m->qt_default)
			log_info("models", "no Q-table, score uses headroom for the Q term path=%s",
				 m->qt_path);
		else
			log_warning("models",
				    "no Q-table, score uses headroom for the Q term path=%s "
				    "reason=\"%s\"",
				    m->qt_path, err);
		return;
	}
	m->st.qtable.loaded = 1;
	qt_set_version(m);
	log_info("models", "Q-table loaded path=%s version=%s episodes=%u states=%d", m->qt_path,
		 m->st.qtable.version, m->qt.episodes, NS_Q_STATES);
}

int ns_models_qstate(const struct ns_models *m, const struct ns_sample *s, uint32_t *state)
{
	struct ns_qstate_in q;

	if (isnan(s->v[NS_M_CPU_UTIL]) || isnan(s->v[NS_M_MEM_UTIL]))
		return -EINVAL;
	q.cpu_now = s->v[NS_M_CPU_UTIL];
	q.cpu_peak_fc = m->st.cpu_peak_fc;
	q.mem_now = s->v[NS_M_MEM_UTIL];
	q.anomaly = m->st.anomaly_ready && m->st.anomaly_flag;
	q.pods = s->v[NS_M_PODS];
	q.ncpu = s->v[NS_M_NCPU];
	*state = ns_qtable_state(&q);
	return 0;
}

/* The table's value for this sample's state; NaN when there is no table
 * or cpu or memory is unmeasured (the state would be a guess). */
static double qt_value(const struct ns_models *m, const struct ns_sample *s)
{
	uint32_t state;

	if (!m->st.qtable.loaded || ns_models_qstate(m, s, &state))
		return NAN;
	return ns_qtable_value(&m->qt, state);
}

/* --- open, reload --- */

static void open_forecast(struct ns_models *m)
{
	struct ns_forecast *fc = NULL;
	char err[256], version[64];
	int cpu, mem;

	if (!m->fc_path[0]) {
		log_info("models", "forecaster disabled (--forecast-model none): heuristic peaks");
		return;
	}
	fc_sigs(m, m->fc_sig);
	if (fc_load(m, m->cfg.forecast, &fc, &cpu, &mem, version, sizeof(version), err,
		    sizeof(err)) ||
	    fc_install(m, fc, cpu, mem, err, sizeof(err))) {
		log_warning(
		    "models",
		    "no forecaster, heuristic fallback (model-fallback) path=%s reason=\"%s\"",
		    m->fc_path, err);
		return;
	}
	m->st.forecast.loaded = 1;
	snprintf(m->st.forecast.version, sizeof(m->st.forecast.version), "%s", version);
	log_info("models",
		 "forecaster loaded path=%s version=%s targets=%zu trees=%zu step_ms=%u "
		 "horizon_s=%u",
		 m->fc_path, version, ns_forecast_ntargets(fc), ns_forecast_ntrees(fc),
		 ns_forecast_feat_config(fc)->step_ms, m->cfg.horizon_s);
}

static int open_anomaly(struct ns_models *m, char *err, size_t errlen)
{
	struct ns_iforest *f = NULL;
	char why[256] = "";
	int rc, have_file = 0;

	/* A bad flag is an error even when the detector is off. */
	if (m->cfg.anomaly_metrics && *m->cfg.anomaly_metrics) {
		m->an_explicit = 1;
		rc = parse_metrics(m->cfg.anomaly_metrics, m->an_metric, &m->an_n, err, errlen);
		if (rc)
			return rc;
	}
	if (!m->an_path[0]) {
		log_info("models", "anomaly detector disabled (--anomaly-model none)");
		return 0;
	}
	m->an_sig = sig_of(m->an_path);
	/* A shared forest is taken as if loaded: the same metric choice and
	 * set_model checks below, and the detector's refits or a reload
	 * replace only this detector's reference. */
	if (m->cfg.anomaly) {
		f = ns_iforest_ref(m->cfg.anomaly);
		rc = 0;
	} else {
		rc = ns_iforest_load(m->an_path, &f, why, sizeof(why));
	}
	have_file = rc == 0;
	/* Given metrics win (set_model then refuses a model over others);
	 * otherwise the model's, else the wide default list. */
	if (!m->an_explicit && (!have_file || model_metrics(f, m->an_metric, &m->an_n) != 0)) {
		if (have_file)
			snprintf(why, sizeof(why), "feature names are not <metric>.<feature>");
		parse_metrics(NS_MODELS_ANOMALY_METRICS_WIDE, m->an_metric, &m->an_n, err, errlen);
		ns_iforest_free(f);
		f = NULL;
		have_file = 0;
	}
	rc = an_new(m);
	if (rc) {
		ns_iforest_free(f);
		snprintf(err, errlen, "cannot create the anomaly detector: %s", strerror(-rc));
		return rc;
	}
	if (have_file && ns_anomaly_set_model(m->det, f, why, sizeof(why)) != 0) {
		ns_iforest_free(f);
		have_file = 0;
	}
	if (have_file) {
		snprintf(m->st.anomaly.version, sizeof(m->st.anomaly.version), "nsif-%u",
			 NS_IFOREST_VERSION);
		m->st.anomaly.loaded = 1;
		log_info("models", "anomaly model loaded path=%s metrics=%u step_ms=%llu",
			 m->an_path, m->an_n, (unsigned long long)m->cfg.anomaly_step_ms);
	} else {
		log_warning("models",
			    "no anomaly model, fallback until the detector's own first fit "
			    "(model-fallback) path=%s reason=\"%s\"",
			    m->an_path, why);
	}
	return 0;
}

int ns_models_open(const struct ns_models_config *c, struct ns_models **out, char *err,
		   size_t errlen)
{
	struct ns_models *m;
	int rc;

	*out = NULL;
	if (c->anomaly_step_ms == 0 || c->horizon_s == 0 || c->horizon_s > NS_FC_MAX_HORIZON_S) {
		snprintf(err, errlen, "bad models configuration (step or horizon)");
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->cfg = *c;
	m->cfg.forecast_path = m->cfg.anomaly_path = m->cfg.anomaly_metrics = NULL;
	m->cfg.qtable_path = NULL;
	m->cfg.test_anomaly_file = NULL;
	if (c->test_anomaly_file && snprintf(m->test_path, sizeof(m->test_path), "%s",
					     c->test_anomaly_file) >= (int)sizeof(m->test_path)) {
		snprintf(err, errlen, "--test-anomaly-file too long");
		free(m);
		return -ENAMETOOLONG;
	}
	if (c->anomaly_metrics && *c->anomaly_metrics)
		m->cfg.anomaly_metrics = c->anomaly_metrics; /* read in open only */
	m->st.horizon_s = c->horizon_s;
	m->st.cpu_peak_fc = m->st.mem_peak_fc = NAN;
	m->st.anomaly_score = m->st.anomaly_raw = m->st.severity = m->st.drift_psi = NAN;
	ns_history_reset(&m->fc_acc);
	ns_history_reset(&m->an_acc);
	rc = resolve(c->forecast_path, NS_MODELS_FORECAST_DEFAULT, 1, m->fc_path,
		     sizeof(m->fc_path), err, errlen);
	if (!rc)
		rc = resolve(c->anomaly_path, NS_MODELS_ANOMALY_DEFAULT, 0, m->an_path,
			     sizeof(m->an_path), err, errlen);
	if (!rc)
		rc = resolve(c->qtable_path, NS_MODELS_QTABLE_DEFAULT, 0, m->qt_path,
			     sizeof(m->qt_path), err, errlen);
	m->qt_default = !c->qtable_path || !*c->qtable_path;
	if (!rc)
		rc = open_anomaly(m, err, errlen);
	m->cfg.anomaly_metrics = NULL;
	if (rc) {
		ns_models_free(m);
		return rc;
	}
	snprintf(m->st.forecast.path, sizeof(m->st.forecast.path), "%s", m->fc_path);
	snprintf(m->st.anomaly.path, sizeof(m->st.anomaly.path), "%s", m->an_path);
	snprintf(m->st.qtable.path, sizeof(m->st.qtable.path), "%s", m->qt_path);
	open_forecast(m);
	/* The caller's models are referenced by now; a later reload loads. */
	m->cfg.forecast = NULL;
	m->cfg.anomaly = NULL;
	open_qtable(m);
	*out = m;
	return 0;
}

void ns_models_free(struct ns_models *m)
{
	if (!m)
		return;
	ns_forecast_free(m->fc);
	ns_feat_free(m->feat);
	ns_anomaly_free(m->det);
	free(m);
}

static int reload_forecast(struct ns_models *m)
{
	struct sig now[2];
	struct ns_forecast *fc = NULL;
	char err[256], version[64];
	int cpu, mem;

	if (!m->fc_path[0])
		return 0;
	fc_sigs(m, now);
	if (sig_eq(&now[0], &m->fc_sig[0]) && sig_eq(&now[1], &m->fc_sig[1]))
		return 0;
	/* Remembered whatever the outcome: a bad bundle is reported once, not
	 * every interval, and retried when it changes again. */
	m->fc_sig[0] = now[0];
	m->fc_sig[1] = now[1];
	/* A changed bundle: a new copy for this agent, never a shared model. */
	if (fc_load(m, NULL, &fc, &cpu, &mem, version, sizeof(version), err, sizeof(err)) ||
	    fc_install(m, fc, cpu, mem, err, sizeof(err))) {
		m->st.forecast.rejected++;
		log_error("models", "forecast bundle rejected, %s path=%s reason=\"%s\"",
			  m->fc ? "keeping the loaded one" : "still no forecaster", m->fc_path,
			  err);
		return 0;
	}
	m->st.forecast.reloads++;
	m->st.forecast.loaded = 1;
	snprintf(m->st.forecast.version, sizeof(m->st.forecast.version), "%s", version);
	log_success("models", "forecast bundle reloaded path=%s version=%s", m->fc_path, version);
	return 1;
}

static int reload_anomaly(struct ns_models *m)
{
	struct sig now;
	char err[256];

	if (!m->an_path[0])
		return 0;
	now = sig_of(m->an_path);
	if (sig_eq(&now, &m->an_sig))
		return 0;
	m->an_sig = now;
	if (an_load(m, err, sizeof(err))) {
		m->st.anomaly.rejected++;
		log_error("models",
			  "anomaly model rejected, keeping the current one path=%s "
			  "reason=\"%s\"",
			  m->an_path, err);
		return 0;
	}
	m->st.anomaly.reloads++;
	log_success("models", "anomaly model reloaded path=%s", m->an_path);
	return 1;
}

static int reload_qtable(struct ns_models *m)
{
	struct sig now;
	char err[256];

	if (!m->qt_path[0])
		return 0;
	now = sig_of(m->qt_path);
	if (sig_eq(&now, &m->qt_sig))
		return 0;
	m->qt_sig = now;
	if (ns_qtable_load(m->qt_path, &m->qt, err, sizeof(err))) {
		m->st.qtable.rejected++;
		log_warning("models", "Q-table rejected, %s path=%s reason=\"%s\"",
			    m->st.qtable.loaded ? "keeping the loaded one" : "still no Q-table",
			    m->qt_path, err);
		return 0;
	}
	m->st.qtable.reloads++;
	m->st.qtable.loaded = 1;
	qt_set_version(m);
	log_success("models", "Q-table reloaded path=%s version=%s episodes=%u", m->qt_path,
		    m->st.qtable.version, m->qt.episodes);
	return 1;
}

int ns_models_reload(struct ns_models *m)
{
	return reload_forecast(m) + reload_anomaly(m) + reload_qtable(m);
}

/* --test-anomaly-file: the detector cannot flag within seconds of a cold
 * start (its first rows saturate the likelihood reference), so the alert
 * path's end-to-end test forces the flag here. The file holds one feature
 * name ([a-z0-9_.], < 64 bytes); absent or invalid = the detector's own
 * flag, back within one --anomaly-step. */
static void test_anomaly(struct ns_models *m, struct ns_score_input *in)
{
	char buf[64];
	FILE *f = fopen(m->test_path, "r");
	size_t n = 0;
	int ok = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			n--;
		buf[n] = '\0';
		ok = n > 0;
		for (size_t i = 0; i < n && ok; i++)
			ok = islower((unsigned char)buf[i]) || isdigit((unsigned char)buf[i]) ||
			     buf[i] == '_' || buf[i] == '.';
	}
	if (!ok) {
		if (m->test_feature[0]) {
			log_info("models", "test anomaly ended path=%s", m->test_path);
			m->test_feature[0] = '\0';
			m->st.anomaly_flag = 0;
			m->st.top_feature[0] = '\0';
		}
		return;
	}
	if (strcmp(buf, m->test_feature) != 0) {
		log_warning("models", "test anomaly forced feature=%s path=%s", buf, m->test_path);
		memcpy(m->test_feature, buf, n + 1);
	}
	m->st.anomaly_flag = 1;
	memcpy(m->st.top_feature, m->test_feature, n + 1);
	in->anomaly_flag = 1;
	in->top_feature = m->st.top_feature;
}

void ns_models_tick(void *ctx, const struct ns_sample *s, struct ns_score_input *in)
{
	struct ns_models *m = ctx;

	if (m->cfg.reload_ms) {
		if (m->next_reload_ms == 0)
			m->next_reload_ms = s->ts_ms + m->cfg.reload_ms;
		else if (s->ts_ms >= m->next_reload_ms ||
			 went_back(s->ts_ms, m->next_reload_ms, m->cfg.reload_ms)) {
			ns_models_reload(m);
			m->next_reload_ms = s->ts_ms + m->cfg.reload_ms;
		}
	}
	if (m->fc)
		fc_step(m, s, 1);
	if (m->det)
		an_step(m, s);

	in->cpu_peak_fc = m->fc ? m->st.cpu_peak_fc : NAN;
	in->mem_peak_fc = m->fc ? m->st.mem_peak_fc : NAN;
	if (m->st.anomaly_ready) {
		in->anomaly = m->st.anomaly_score;
		in->anomaly_flag = m->st.anomaly_flag;
		in->top_feature = m->st.top_feature[0] ? m->st.top_feature : NULL;
	}
	if (m->test_path[0])
		test_anomaly(m, in);
	/* After the models above: the state uses this tick's forecast and flag. */
	in->q_value = qt_value(m, s);
}

void ns_models_stats(const struct ns_models *m, struct ns_models_stats *out)
{
	*out = m->st;
}
