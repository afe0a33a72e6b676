// SPDX-License-Identifier: MIT
/* The agent's anomaly detector: metric choice (given, the model file's, or
 * the wide default), the detector fed at its own step, drift-driven early
 * refits, and load and hot reload of the .nsif model. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models_int.h"
#include "nodescore/iforest.h"
#include "nodescore/log.h"

#define DRIFT_MIN_ROWS 100
/* Drift above this PSI (the usual "significant shift" bound) asks for an
 * early challenger fit, at most once per DRIFT_REFIT_MIN_ROWS detector steps
 * (1 h at 5 s) so a noisy PSI cannot turn into a refit storm. */
#define DRIFT_REFIT_PSI 0.25
#define DRIFT_REFIT_MIN_ROWS 720

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

static int an_new(struct ns_models *m, char *err, size_t errlen)
{
	struct ns_anomaly_config c;

	ns_anomaly_config_default(&c, m->an_n);
	for (uint32_t i = 0; i < m->an_n; i++)
		c.metric_names[i] = ns_metric_names[m->an_metric[i]];
	return ns_anomaly_new(&c, &m->det, err, errlen);
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

void ns_models_an_step(struct ns_models *m, const struct ns_sample *s)
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
	if (ns_models_went_back(s->ts_ms, m->an_next_ms, m->cfg.anomaly_step_ms)) {
		ns_models_log_went_back("anomaly", s->ts_ms, m->an_next_ms, m->cfg.anomaly_step_ms);
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
	rc = an_new(m, err, errlen);
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

int ns_models_an_open(struct ns_models *m, char *err, size_t errlen)
{
	struct ns_iforest *f = NULL;
	char why[256] = "", reason[256];
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
	m->an_sig = ns_models_sig_of(m->an_path);
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
	rc = an_new(m, reason, sizeof(reason));
	if (rc) {
		ns_iforest_free(f);
		snprintf(err, errlen, "cannot create the anomaly detector: %s", reason);
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

int ns_models_an_reload(struct ns_models *m)
{
	struct sig now;
	char err[256];

	if (!m->an_path[0])
		return 0;
	now = ns_models_sig_of(m->an_path);
	if (ns_models_sig_eq(&now, &m->an_sig))
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
