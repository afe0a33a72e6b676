// SPDX-License-Identifier: MIT
/* The agent's on-node models: open and configuration, the reload schedule,
 * the Q-table looked up every tick, the tick itself and stats for
 * /metrics. The forecaster is in models_forecast.c, the anomaly detector in
 * models_anomaly.c. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "models_int.h"
#include "nodescore/bundle.h"
#include "nodescore/log.h"

void ns_models_config_default(struct ns_models_config *c)
{
	memset(c, 0, sizeof(*c));
	c->horizon_s = 3600;
	c->anomaly_step_ms = 5000; /* ns_anomaly_config_default's windows are in 5 s samples */
	c->reload_ms = 30000;
}

struct sig ns_models_sig_of(const char *path)
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

int ns_models_sig_eq(const struct sig *a, const struct sig *b)
{
	return a->exists == b->exists && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
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

void ns_models_log_went_back(const char *grid, uint64_t ts_ms, uint64_t next_ms, uint64_t step_ms)
{
	log_info("models", "wall clock went back, step grid restarted grid=%s back_ms=%llu", grid,
		 (unsigned long long)(next_ms - step_ms - ts_ms));
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
	m->qt_sig = ns_models_sig_of(m->qt_path);
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
		rc = ns_models_an_open(m, err, errlen);
	m->cfg.anomaly_metrics = NULL;
	if (rc) {
		ns_models_free(m);
		return rc;
	}
	snprintf(m->st.forecast.path, sizeof(m->st.forecast.path), "%s", m->fc_path);
	snprintf(m->st.anomaly.path, sizeof(m->st.anomaly.path), "%s", m->an_path);
	snprintf(m->st.qtable.path, sizeof(m->st.qtable.path), "%s", m->qt_path);
	ns_models_fc_open(m);
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

static int reload_qtable(struct ns_models *m)
{
	struct sig now;
	char err[256];

	if (!m->qt_path[0])
		return 0;
	now = ns_models_sig_of(m->qt_path);
	if (ns_models_sig_eq(&now, &m->qt_sig))
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
	return ns_models_fc_reload(m) + ns_models_an_reload(m) + reload_qtable(m);
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
			 ns_models_went_back(s->ts_ms, m->next_reload_ms, m->cfg.reload_ms)) {
			ns_models_reload(m);
			m->next_reload_ms = s->ts_ms + m->cfg.reload_ms;
		}
	}
	if (m->fc)
		ns_models_fc_step(m, s, 1);
	if (m->det)
		ns_models_an_step(m, s);

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
