// SPDX-License-Identifier: MIT
/* Tests for agent/models.c: the shipped models driven by a synthetic node,
 * level shift, spike detection, Q-table lookup, hot reload of bad and good
 * files, fallback, models shared between several ns_models. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "rng.h"
#include "nodescore/clock.h"
#include "nodescore/forecast.h"
#include "nodescore/iforest.h"
#include "nodescore/models.h"
#include "nodescore/qtable.h"
#include "nodescore/ring.h"
#include "nodescore/ringlog.h"
#include "nodescore/score.h"
#include "nodescore/wire.h"

#define FC_DIR "models/forecast-default"
#define IF_FILE "models/iforest-default.nsif"
/* 2026-11-23 00:00 UTC: sample time, simulated; nothing here sleeps. */
#define T0_MS 1795392000000ull

static void node_sample(struct ns_sample *s, uint64_t ts, double cpu, double mem)
{
	ns_sample_init(s, ts);
	s->v[NS_M_CPU_UTIL] = (float)cpu;
	s->v[NS_M_MEM_UTIL] = (float)mem;
	s->v[NS_M_NCPU] = 4;
	s->v[NS_M_MEM_TOTAL_MIB] = 16384;
	s->v[NS_M_MEM_AVAIL_MIB] = (float)((1 - mem) * 16384);
	s->health = 0x7f;
}

static void tick(struct ns_models *m, uint64_t ts, double cpu, double mem,
		 struct ns_score_input *in)
{
	struct ns_sample s;

	node_sample(&s, ts, cpu, mem);
	ns_score_input_init(in);
	ns_score_input_from_sample(in, &s);
	ns_models_tick(m, &s, in);
}

static int open_models(const char *fc, const char *an, uint64_t reload_ms, struct ns_models **m)
{
	struct ns_models_config c;
	char err[256];

	ns_models_config_default(&c);
	c.forecast_path = fc;
	c.anomaly_path = an;
	c.reload_ms = reload_ms;
	return ns_models_open(&c, m, err, sizeof(err));
}

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out, rc = 0;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (n < 0)
		rc = -1;
	close(in);
	close(out);
	return rc;
}

static int copy_bundle(const char *to)
{
	char a[512], b[512];

	if (mkdir(to, 0755) < 0 && errno != EEXIST)
		return -1;
	snprintf(a, sizeof(a), FC_DIR "/manifest.json");
	snprintf(b, sizeof(b), "%s/manifest.json", to);
	if (copy_file(a, b))
		return -1;
	snprintf(a, sizeof(a), FC_DIR "/forecast.nsf");
	snprintf(b, sizeof(b), "%s/forecast.nsf", to);
	return copy_file(a, b);
}

/* Flips one byte in place (same size, same inode) and moves the mtime on,
 * as an in-place edit would. */
static int flip_byte(const char *path, off_t at)
{
	int fd = open(path, O_RDWR);
	unsigned char c;
	struct timespec ts[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
	int rc = -1;

	if (fd < 0)
		return -1;
	if (pread(fd, &c, 1, at) == 1) {
		c ^= 0x5a;
		if (pwrite(fd, &c, 1, at) == 1)
			rc = 0;
	}
	/* Some filesystems keep mtime at coarse granularity: force a change. */
	ts[1].tv_sec = time(NULL) + 7;
	ts[1].tv_nsec = 0;
	futimens(fd, ts);
	close(fd);
	return rc;
}

static void rm_tree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "  cannot remove %s\n", dir);
}

static void test_shipped_models_load(void)
{
	struct ns_models *m = NULL;
	struct ns_models_stats st;

	CHECK_EQ_INT(open_models(FC_DIR, IF_FILE, 0, &m), 0);
	ns_models_stats(m, &st);
	CHECK(st.forecast.loaded);
	CHECK(st.anomaly.loaded);
	CHECK(strncmp(st.forecast.version, "forecast-default", 16) == 0);
	CHECK_EQ_STR(st.anomaly.version, "nsif-1");
	CHECK_EQ_INT(st.horizon_s, 3600);
	ns_models_free(m);
}

/* 8 h at a calm level, then a lasting shift: forecasts stay in [0,1] and
 * follow the new level within a few 5-minute steps. */
static void test_forecast_follows_level_shift(void)
{
	struct ns_models *m = NULL;
	struct ns_score_input in;
	struct ns_models_stats st;
	double before_cpu = NAN, before_mem = NAN;
	uint64_t ts = T0_MS;
	int ok_range = 1;

	CHECK_EQ_INT(open_models(FC_DIR, "none", 0, &m), 0);
	rng_state = 7;
	for (int i = 0; i < 8 * 360; i++, ts += 10000) { /* 10 s ticks */
		tick(m, ts, 0.20 + 0.01 * gauss(), 0.30 + 0.005 * gauss(), &in);
		if (!isnan(in.cpu_peak_fc))
			ok_range &= in.cpu_peak_fc >= 0 && in.cpu_peak_fc <= 1 &&
				    in.mem_peak_fc >= 0 && in.mem_peak_fc <= 1;
	}
	CHECK(ok_range);
	before_cpu = in.cpu_peak_fc;
	before_mem = in.mem_peak_fc;
	CHECK(before_cpu >= 0.18 && before_cpu < 0.45);
	CHECK(before_mem >= 0.28 && before_mem < 0.45);
	for (int i = 0; i < 3600 / 10; i++, ts += 10000) { /* one hour at the new level */
		tick(m, ts, 0.70 + 0.01 * gauss(), 0.65 + 0.005 * gauss(), &in);
		if (!isnan(in.cpu_peak_fc))
			ok_range &= in.cpu_peak_fc >= 0 && in.cpu_peak_fc <= 1 &&
				    in.mem_peak_fc >= 0 && in.mem_peak_fc <= 1;
	}
	CHECK(ok_range);
	fprintf(stderr, "  cpu peak 1h %.3f -> %.3f, mem %.3f -> %.3f\n", before_cpu,
		in.cpu_peak_fc, before_mem, in.mem_peak_fc);
	CHECK(in.cpu_peak_fc >= 0.6);
	CHECK(in.mem_peak_fc >= 0.6);
	ns_models_stats(m, &st);
	/* one prediction per 5-minute step (plus the first sample), not per tick */
	CHECK(st.predicts >= 9 * 12 && st.predicts <= 9 * 12 + 2);
	fprintf(stderr, "  predict last %.1f us, max %.1f us over %llu runs\n", st.predict_s * 1e6,
		st.predict_max_s * 1e6, (unsigned long long)st.predicts);
	ns_models_free(m);
}

/* The shipped detector scores from the first sample: a calm node stays
 * unflagged; a CPU step from 0.2 to 0.95 raises the flag within a bounded
 * number of 5 s steps, and the score input carries it. */
static void test_anomaly_calm_then_spike(void)
{
	struct ns_models *m = NULL;
	struct ns_score_input in;
	struct ns_models_stats st;
	uint64_t ts = T0_MS;
	int flagged_calm = 0, delay = -1;

	CHECK_EQ_INT(open_models("none", IF_FILE, 0, &m), 0);
	rng_state = 11;
	for (int i = 0; i < 2000; i++, ts += 5000) { /* ~2.8 h of 5 s ticks, under probation */
		tick(m, ts, 0.25 + 0.02 * gauss(), 0.40 + 0.005 * gauss(), &in);
		CHECK(!isnan(in.anomaly));
		CHECK(in.anomaly >= 0 && in.anomaly <= 1);
		flagged_calm |= in.anomaly_flag;
	}
	CHECK(!flagged_calm);
	for (int i = 0; i < 30 && delay < 0; i++, ts += 5000) {
		tick(m, ts, 0.95 + 0.02 * gauss(), 0.40 + 0.005 * gauss(), &in);
		if (in.anomaly_flag)
			delay = i;
	}
	fprintf(stderr, "  flag after %d steps, anomaly=%.3f top=%s\n", delay, in.anomaly,
		in.top_feature ? in.top_feature : "-");
	CHECK(delay >= 0 && delay <= 5);
	CHECK(in.top_feature && strncmp(in.top_feature, "cpu_util.", 9) == 0);
	CHECK(in.anomaly > 0.2);
	ns_models_stats(m, &st);
	CHECK(st.anomaly_flag);
	/* one update per tick once started, minus the boundary right after the
	 * first sample (that step held only the first sample, already used) */
	CHECK(st.anomaly_updates == 2000 + (uint64_t)delay);
	ns_models_free(m);
}

/* Past probation the detector fits on the node's own history: counted, the
 * model reported as own-fit, drift measured against that fit (NaN before)
 * and high after the node's level moves. */
static void test_anomaly_own_fit_and_drift(void)
{
	struct ns_models *m = NULL;
	struct ns_score_input in;
	struct ns_models_stats st;
	uint64_t ts = T0_MS;
	double calm_psi;

	CHECK_EQ_INT(open_models("none", IF_FILE, 0, &m), 0);
	rng_state = 5;
	for (int i = 0; i < 2870; i++, ts += 5000)
		tick(m, ts, 0.30 + 0.02 * gauss(), 0.50 + 0.01 * gauss(), &in);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.refits, 0);
	CHECK(isnan(st.drift_psi));
	CHECK_EQ_STR(st.anomaly.version, "nsif-1");
	for (int i = 0; i < 400; i++, ts += 5000) /* probation (2,880) passes */
		tick(m, ts, 0.30 + 0.02 * gauss(), 0.50 + 0.01 * gauss(), &in);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.refits, 1);
	CHECK_EQ_STR(st.anomaly.version, "own-fit");
	CHECK(st.anomaly.loaded);
	calm_psi = st.drift_psi;
	CHECK(!isnan(calm_psi));
	for (int i = 0; i < 600; i++, ts += 5000)
		tick(m, ts, 0.60 + 0.05 * gauss(), 0.80 + 0.03 * gauss(), &in);
	ns_models_stats(m, &st);
	fprintf(stderr, "  drift psi calm %.3f, after the shift %.3f (%s)\n", calm_psi,
		st.drift_psi, st.drift_feature);
	CHECK(st.drift_psi > 0.25 && st.drift_psi > 3 * calm_psi);
	CHECK(st.drift_feature[0] != '\0');
	/* High drift asked for one early challenger fit (at most one per 720
	 * steps), which champion/challenger then judged. */
	fprintf(stderr, "  early refits %u, refits %u, rejected %u\n", st.early_refits, st.refits,
		st.refits_rejected);
	CHECK_EQ_INT(st.early_refits, 1);
	CHECK_EQ_INT(st.refits + st.refits_rejected, 2);
	ns_models_free(m);
}

/* Ticks faster than the step are averaged: 1 s ticks, 5 s step -> one
 * detector update per 5 ticks. */
static void test_anomaly_step_averages_ticks(void)
{
	struct ns_models *m = NULL;
	struct ns_score_input in;
	struct ns_models_stats st;
	uint64_t ts = T0_MS;

	CHECK_EQ_INT(open_models("none", IF_FILE, 0, &m), 0);
	for (int i = 0; i < 501; i++, ts += 1000)
		tick(m, ts, 0.3, 0.5, &in);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.anomaly_updates, 101); /* the first sample + 100 steps */
	ns_models_free(m);
}

static void test_reload_bad_bundle_keeps_old(void)
{
	char dir[] = "/tmp/ns-models-test.XXXXXX", b[600], nsf[700], an[600], an2[600], link[600];
	struct ns_models *m = NULL;
	struct ns_score_input in;
	struct ns_models_stats st;
	uint64_t ts = T0_MS;
	double fc_before;

	CHECK(mkdtemp(dir));
	snprintf(b, sizeof(b), "%s/fc", dir);
	snprintf(nsf, sizeof(nsf), "%s/forecast.nsf", b);
	snprintf(an, sizeof(an), "%s/a.nsif", dir);
	snprintf(an2, sizeof(an2), "%s/b.nsif", dir);
	snprintf(link, sizeof(link), "%s/current.nsif", dir);
	CHECK_EQ_INT(copy_bundle(b), 0);
	CHECK_EQ_INT(copy_file(IF_FILE, an), 0);
	CHECK_EQ_INT(symlink("a.nsif", link), 0);
	/* reload checked by sample time every 30 s */
	CHECK_EQ_INT(open_models(b, link, 30000, &m), 0);
	for (int i = 0; i < 10; i++, ts += 5000)
		tick(m, ts, 0.3, 0.5, &in);
	CHECK(!isnan(in.cpu_peak_fc) && !isnan(in.anomaly));
	fc_before = in.cpu_peak_fc;

	/* Corrupt bundle: one byte flipped in place -> SHA-256 mismatch. */
	CHECK_EQ_INT(flip_byte(nsf, 4000), 0);
	for (int i = 0; i < 8; i++, ts += 5000) /* crosses a 30 s reload check */
		tick(m, ts, 0.3, 0.5, &in);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.forecast.rejected, 1);
	CHECK_EQ_INT(st.forecast.reloads, 0);
	CHECK(st.forecast.loaded);
	CHECK(!isnan(in.cpu_peak_fc) && fabs(in.cpu_peak_fc - fc_before) < 0.05);
	/* Reported once, not at every check while it stays bad. */
	CHECK_EQ_INT(ns_models_reload(m), 0);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.forecast.rejected, 1);

	/* A bad anomaly file swapped in through the symlink: truncated copy. */
	CHECK_EQ_INT(copy_file(IF_FILE, an2), 0);
	CHECK_EQ_INT(truncate(an2, 1000), 0);
	CHECK_EQ_INT(unlink(link), 0);
	CHECK_EQ_INT(symlink("b.nsif", link), 0);
	CHECK_EQ_INT(ns_models_reload(m), 0);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.anomaly.rejected, 1);
	CHECK(st.anomaly.loaded);
	tick(m, ts += 5000, 0.3, 0.5, &in);
	CHECK(!isnan(in.anomaly));

	/* Good files again: both swapped in and counted. */
	CHECK_EQ_INT(unlink(nsf), 0); /* new inode, as a ConfigMap update gives */
	CHECK_EQ_INT(copy_bundle(b), 0);
	CHECK_EQ_INT(copy_file(IF_FILE, an2), 0);
	{
		uint64_t t0 = ns_mono_ns();

		CHECK_EQ_INT(ns_models_reload(m), 2);
		fprintf(stderr, "  reload of both shipped models: %.1f ms\n",
			(double)(ns_mono_ns() - t0) / 1e6);
	}
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.forecast.reloads, 1);
	CHECK_EQ_INT(st.anomaly.reloads, 1);
	CHECK_EQ_INT(st.forecast.rejected, 1);
	CHECK_EQ_INT(st.anomaly.rejected, 1);
	/* unchanged files: nothing to do */
	CHECK_EQ_INT(ns_models_reload(m), 0);
	tick(m, ts += 5000, 0.3, 0.5, &in);
	CHECK(!isnan(in.cpu_peak_fc) && !isnan(in.anomaly));
	ns_models_free(m);
	rm_tree(dir);
}

static int same_d(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* The model outputs of one tick, exactly. */
static int same_in(const struct ns_score_input *a, const struct ns_score_input *b)
{
	return same_d(a->cpu_peak_fc, b->cpu_peak_fc) && same_d(a->mem_peak_fc, b->mem_peak_fc) &&
	       same_d(a->anomaly, b->anomaly) && a->anomaly_flag == b->anomaly_flag;
}

/* nodescore-sim's set-up: the models loaded once and given to several
 * ns_models (ns_models_config.forecast, .anomaly). Each tick is exactly
 * that of an ns_models that loaded its own copy, with the same versions;
 * the caller's and another holder's frees leave it working; a refit and a
 * reload replace only that holder's model. Use after free and leaks show
 * under make asan. */
static void test_shared_models(void)
{
	char dir[] = "/tmp/ns-models-test.XXXXXX", b[600], nsf[700], an[600], err[256];
	struct ns_models_config c;
	struct ns_models *m1 = NULL, *m2 = NULL, *solo1 = NULL, *solo2 = NULL;
	struct ns_models_stats s0, st;
	struct ns_score_input in1, in2, ins1, ins2;
	struct ns_forecast *fc = NULL;
	struct ns_iforest *f = NULL;
	uint64_t ts = T0_MS, ts1;
	int same = 1;

	CHECK(mkdtemp(dir));
	snprintf(b, sizeof(b), "%s/fc", dir);
	snprintf(nsf, sizeof(nsf), "%s/forecast.nsf", b);
	snprintf(an, sizeof(an), "%s/a.nsif", dir);
	CHECK_EQ_INT(copy_bundle(b), 0);
	CHECK_EQ_INT(copy_file(IF_FILE, an), 0);
	CHECK_EQ_INT(ns_forecast_load_bundle(b, &fc, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_iforest_load(an, &f, err, sizeof(err)), 0);
	ns_models_config_default(&c);
	c.forecast_path = b;
	c.anomaly_path = an;
	c.reload_ms = 0;
	c.forecast = fc;
	c.anomaly = f;
	CHECK_EQ_INT(ns_models_open(&c, &m1, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_models_open(&c, &m2, err, sizeof(err)), 0);
	/* Shared now: the trainer's mutator refuses to change it under them. */
	CHECK_EQ_INT(ns_forecast_set_flat_guard(fc, 0, 0.01f), -EBUSY);
	ns_forecast_free(fc);
	ns_iforest_free(f);
	CHECK_EQ_INT(open_models(b, an, 0, &solo1), 0);
	CHECK_EQ_INT(open_models(b, an, 0, &solo2), 0);
	ns_models_stats(solo1, &s0);
	ns_models_stats(m1, &st);
	CHECK(st.forecast.loaded && st.anomaly.loaded);
	CHECK_EQ_STR(st.forecast.version, s0.forecast.version);
	CHECK_EQ_STR(st.anomaly.version, s0.anomaly.version);
	CHECK_EQ_STR(st.forecast.path, s0.forecast.path);

	rng_state = 11;
	for (int i = 0; i < 1440; i++, ts += 5000) { /* 2 h at 5 s */
		double cpu = 0.3 + 0.02 * gauss(), mem = 0.5 + 0.01 * gauss();

		tick(m1, ts, cpu, mem, &in1);
		tick(m2, ts, cpu, mem, &in2);
		tick(solo1, ts, cpu, mem, &ins1);
		tick(solo2, ts, cpu, mem, &ins2);
		same &= same_in(&in1, &ins1) && same_in(&in2, &ins2) && same_in(&in1, &in2);
	}
	CHECK(same);
	CHECK(!isnan(in1.cpu_peak_fc) && !isnan(in1.anomaly));

	/* m1 alone past probation: its own fit replaces its forest only. */
	ts1 = ts;
	for (int i = 0; i < 1900; i++, ts1 += 5000) {
		double cpu = 0.3 + 0.02 * gauss(), mem = 0.5 + 0.01 * gauss();

		tick(m1, ts1, cpu, mem, &in1);
		tick(solo1, ts1, cpu, mem, &ins1);
		same &= same_in(&in1, &ins1);
	}
	CHECK(same);
	ns_models_stats(m1, &st);
	CHECK_EQ_INT(st.refits, 1);
	CHECK_EQ_STR(st.anomaly.version, "own-fit");
	ns_models_stats(m2, &st);
	CHECK_EQ_INT(st.refits, 0);
	CHECK_EQ_STR(st.anomaly.version, "nsif-1");
	ns_models_free(m1);
	ns_models_free(solo1);

	/* m2 is the last holder of both shared models: still the same as a copy. */
	for (int i = 0; i < 600; i++, ts += 5000) {
		double cpu = (i < 300 ? 0.3 : 0.9) + 0.02 * gauss(), mem = 0.5 + 0.01 * gauss();

		tick(m2, ts, cpu, mem, &in2);
		tick(solo2, ts, cpu, mem, &ins2);
		same &= same_in(&in2, &ins2);
	}
	CHECK(same);
	CHECK(!isnan(in2.cpu_peak_fc) && !isnan(in2.anomaly));

	/* A changed bundle is loaded into m2's own copy (the shared one freed). */
	CHECK_EQ_INT(unlink(nsf), 0);
	CHECK_EQ_INT(copy_bundle(b), 0);
	CHECK_EQ_INT(ns_models_reload(m2), 1);
	ns_models_stats(m2, &st);
	CHECK_EQ_INT(st.forecast.reloads, 1);
	CHECK(st.forecast.loaded);
	for (int i = 0; i < 120; i++, ts += 5000)
		tick(m2, ts, 0.9, 0.5, &in2);
	CHECK(!isnan(in2.cpu_peak_fc) && !isnan(in2.anomaly));
	ns_models_free(m2);
	ns_models_free(solo2);
	rm_tree(dir);
}

/* A bundle whose horizon is not the one asked for is refused as a whole. */
static void test_missing_horizon_is_fallback(void)
{
	struct ns_models_config c;
	struct ns_models *m = NULL;
	struct ns_models_stats st;
	char err[256];

	ns_models_config_default(&c);
	c.forecast_path = FC_DIR;
	c.anomaly_path = "none";
	c.horizon_s = 3 * 3600; /* shipped: 15m, 1h, 2h, 4h */
	CHECK_EQ_INT(ns_models_open(&c, &m, err, sizeof(err)), 0);
	ns_models_stats(m, &st);
	CHECK(!st.forecast.loaded);
	ns_models_free(m);
}

static void test_missing_models_fallback_then_appear(void)
{
	char dir[] = "/tmp/ns-models-test.XXXXXX", b[600], an[600];
	struct ns_models *m = NULL;
	struct ns_score_input in;
	struct ns_score_output o;
	struct ns_score_weights w = {0.3, 0.4, 0.3, NS_SCORE_CPU_SHARE_DEFAULT};
	struct ns_models_stats st;
	uint64_t ts = T0_MS;

	CHECK(mkdtemp(dir));
	snprintf(b, sizeof(b), "%s/fc", dir);
	snprintf(an, sizeof(an), "%s/a.nsif", dir);
	CHECK_EQ_INT(open_models(b, an, 0, &m), 0);
	ns_models_stats(m, &st);
	CHECK(!st.forecast.loaded && !st.anomaly.loaded);
	tick(m, ts, 0.3, 0.5, &in);
	CHECK(isnan(in.cpu_peak_fc) && isnan(in.mem_peak_fc) && isnan(in.anomaly));
	in.q_value = 0.5; /* no Q-table exists yet: supplied so only our parts decide */
	ns_score_compute(&w, &in, &o);
	CHECK(o.flags & NS_FLAG_MODEL_FALLBACK);

	/* The files appear (ConfigMap mounted late): picked up by the reload check. */
	CHECK_EQ_INT(copy_bundle(b), 0);
	CHECK_EQ_INT(copy_file(IF_FILE, an), 0);
	CHECK_EQ_INT(ns_models_reload(m), 2);
	tick(m, ts += 5000, 0.3, 0.5, &in);
	CHECK(!isnan(in.cpu_peak_fc) && !isnan(in.mem_peak_fc) && !isnan(in.anomaly));
	in.q_value = 0.5;
	ns_score_compute(&w, &in, &o);
	CHECK(!(o.flags & NS_FLAG_MODEL_FALLBACK));
	CHECK(o.cpu_peak >= 0.3 && o.mem_peak >= 0.5);
	ns_models_free(m);
	rm_tree(dir);
}

static void test_bad_config(void)
{
	struct ns_models_config c;
	struct ns_models *m = NULL;
	char err[256];

	ns_models_config_default(&c);
	c.forecast_path = c.anomaly_path = "none";
	c.anomaly_metrics = "cpu_util,bogus";
	CHECK_EQ_INT(ns_models_open(&c, &m, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bogus"));
	CHECK(m == NULL);
	c.anomaly_metrics = NULL;
	c.anomaly_step_ms = 0;
	CHECK_EQ_INT(ns_models_open(&c, &m, err, sizeof(err)), -EINVAL);
}

/* Explicit metrics that the model was not trained on: the file is refused
 * (fallback until the detector's own fit), the agent keeps going. */
static void test_metrics_mismatch_refuses_model(void)
{
	struct ns_models_config c;
	struct ns_models *m = NULL;
	struct ns_models_stats st;
	struct ns_score_input in;
	char err[256];

	ns_models_config_default(&c);
	c.forecast_path = "none";
	c.anomaly_path = IF_FILE;
	c.anomaly_metrics = "cpu_util,mem_util,psi_io_some";
	CHECK_EQ_INT(ns_models_open(&c, &m, err, sizeof(err)), 0);
	ns_models_stats(m, &st);
	CHECK(!st.anomaly.loaded);
	tick(m, T0_MS, 0.3, 0.5, &in);
	CHECK(isnan(in.anomaly));
	ns_models_free(m);
}

/* A restart replays the last 25 h of the history ring into the forecast
 * pipeline: a forecast exists before the first tick and reflects the history. */
static void test_warm_from_ring(void)
{
	char dir[] = "/tmp/ns-models-test.XXXXXX", path[600];
	struct ns_ring *r = NULL;
	struct ns_models *m = NULL;
	struct ns_models_stats st;
	struct ns_score_input in;
	struct ns_sample s;
	uint64_t now = T0_MS + 30ull * 3600 * 1000, ts;
	int n;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/history.ring", dir);
	CHECK_EQ_INT(ns_ringlog_open(path, 20000, &r), 0);
	rng_state = 3;
	/* 30 h of 10 s records; the last 25 h are used */
	for (ts = T0_MS; ts < now; ts += 10000) {
		node_sample(&s, ts, 0.55 + 0.01 * gauss(), 0.45);
		CHECK_EQ_INT(ns_ring_append(r, &s), 0);
	}
	ns_ringlog_close(r);
	CHECK_EQ_INT(open_models(FC_DIR, "none", 0, &m), 0);
	n = ns_models_warm_from_ring(m, path, now);
	CHECK(n >= 25 * 360 - 1 && n <= 25 * 360 + 1);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.predicts, 1);
	CHECK(st.cpu_peak_fc > 0.5 && st.cpu_peak_fc < 0.7);
	CHECK(st.mem_peak_fc > 0.4 && st.mem_peak_fc < 0.55);
	tick(m, now, 0.55, 0.45, &in);
	CHECK(!isnan(in.cpu_peak_fc));
	snprintf(path, sizeof(path), "%s/missing.ring", dir);
	CHECK(ns_models_warm_from_ring(m, path, now) < 0);
	ns_models_free(m);
	rm_tree(dir);
}

static int open_qtable_only(const char *qt, struct ns_models **m)
{
	struct ns_models_config c;
	char err[256];

	ns_models_config_default(&c);
	c.forecast_path = c.anomaly_path = "none";
	c.qtable_path = qt;
	c.reload_ms = 0;
	return ns_models_open(&c, m, err, sizeof(err));
}

static int save_uniform_qtable(const char *path, float q, const char *version)
{
	struct ns_qtable t;
	char err[256];

	memset(&t, 0, sizeof(t));
	for (uint32_t s = 0; s < NS_Q_STATES; s++)
		t.q[s] = q;
	t.episodes = 10;
	snprintf(t.version, sizeof(t.version), "%s", version);
	return ns_qtable_save(&t, path, err, sizeof(err));
}

/* The Q-table's value reaches the score input every tick; a corrupt
 * replacement is refused and the loaded table keeps answering; a good one
 * is swapped in and looked up at this sample's state. */
static void test_qtable_value_and_reload(void)
{
	char dir[] = "/tmp/ns-models-test.XXXXXX", path[600];
	struct ns_models *m = NULL;
	struct ns_models_stats st;
	struct ns_score_input in;
	struct ns_sample s;
	struct ns_qtable t;
	struct ns_qstate_in q = {0.3, NAN, 0.5, 0, 6, 4};
	uint64_t ts = T0_MS;
	char err[256];

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/q.nsq", dir);
	CHECK_EQ_INT(save_uniform_qtable(path, 0.25f, ""), 0);
	CHECK_EQ_INT(open_qtable_only(path, &m), 0);
	ns_models_stats(m, &st);
	CHECK(st.qtable.loaded);
	CHECK_EQ_STR(st.qtable.version, "qtable-1");
	CHECK_EQ_STR(st.qtable.path, path);
	tick(m, ts, 0.3, 0.5, &in);
	CHECK(in.q_value == 0.25);
	/* No cpu measurement: no state to look up. */
	tick(m, ts += 1000, NAN, 0.5, &in);
	CHECK(isnan(in.q_value));
	tick(m, ts += 1000, 0.3, NAN, &in);
	CHECK(isnan(in.q_value));

	/* Corrupt in place (same inode, new mtime): rejected, old table kept. */
	CHECK_EQ_INT(flip_byte(path, 100), 0);
	CHECK_EQ_INT(ns_models_reload(m), 0);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.qtable.rejected, 1);
	CHECK_EQ_INT(st.qtable.reloads, 0);
	CHECK(st.qtable.loaded);
	tick(m, ts += 1000, 0.3, 0.5, &in);
	CHECK(in.q_value == 0.25);
	/* Reported once while it stays bad. */
	CHECK_EQ_INT(ns_models_reload(m), 0);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.qtable.rejected, 1);

	/* A trained table (one value per state) written atomically: swapped in. */
	memset(&t, 0, sizeof(t));
	for (uint32_t i = 0; i < NS_Q_STATES; i++)
		t.q[i] = (float)i / (NS_Q_STATES - 1);
	snprintf(t.version, sizeof(t.version), "trained-2");
	CHECK_EQ_INT(ns_qtable_save(&t, path, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_models_reload(m), 1);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.qtable.reloads, 1);
	CHECK_EQ_INT(st.qtable.rejected, 1);
	CHECK_EQ_STR(st.qtable.version, "trained-2");
	node_sample(&s, ts += 1000, 0.3, 0.5);
	s.v[NS_M_PODS] = 6; /* 1.5 pods per core */
	ns_score_input_init(&in);
	ns_score_input_from_sample(&in, &s);
	ns_models_tick(m, &s, &in);
	/* cpu 3, trend 0 (no forecaster), mem 1, no anomaly, density 2 */
	CHECK_EQ_INT(ns_qtable_state(&q), 224);
	CHECK(in.q_value == (double)t.q[224]);
	ns_models_free(m);

	/* Disabled: nothing looked up. */
	CHECK_EQ_INT(open_qtable_only("none", &m), 0);
	ns_models_stats(m, &st);
	CHECK(!st.qtable.loaded);
	CHECK_EQ_STR(st.qtable.path, "");
	tick(m, ts += 1000, 0.3, 0.5, &in);
	CHECK(isnan(in.q_value));
	CHECK_EQ_INT(ns_models_reload(m), 0);
	ns_models_free(m);

	/* Given but missing: fallback, then picked up when it appears. */
	snprintf(path, sizeof(path), "%s/later.nsq", dir);
	CHECK_EQ_INT(open_qtable_only(path, &m), 0);
	tick(m, ts += 1000, 0.3, 0.5, &in);
	CHECK(isnan(in.q_value));
	CHECK_EQ_INT(save_uniform_qtable(path, 0.75f, "v3"), 0);
	CHECK_EQ_INT(ns_models_reload(m), 1);
	tick(m, ts += 1000, 0.3, 0.5, &in);
	CHECK(in.q_value == 0.75);
	ns_models_stats(m, &st);
	CHECK_EQ_STR(st.qtable.version, "v3");
	CHECK_EQ_INT(st.qtable.rejected, 0);
	ns_models_free(m);
	rm_tree(dir);
}

/* Cost per tick on the agent's loop thread: between steps only the
 * accumulator runs; on a step the pipeline, the walker and the detector. */
static void test_tick_cost(void)
{
	struct ns_models *m = NULL;
	struct ns_score_input in;
	uint64_t ts = T0_MS, worst_quiet = 0, worst_step = 0, sum = 0;
	int n = 0;

	CHECK_EQ_INT(open_models(FC_DIR, IF_FILE, 30000, &m), 0);
	for (int i = 0; i < 1200; i++, ts += 1000) {
		uint64_t t0 = ns_mono_ns(), dt;

		tick(m, ts, 0.3 + 0.01 * gauss(), 0.5, &in);
		dt = ns_mono_ns() - t0;
		sum += dt;
		n++;
		if ((ts - T0_MS) % 300000 == 0) {
			if (dt > worst_step)
				worst_step = dt;
		} else if (dt > worst_quiet) {
			worst_quiet = dt;
		}
	}
	fprintf(stderr,
		"  tick mean %.2f us, worst non-forecast tick %.1f us, worst forecast "
		"tick %.1f us\n",
		(double)sum / n / 1e3, (double)worst_quiet / 1e3, (double)worst_step / 1e3);
	/* Generous: the machine is shared; the agent's loop budget is 1 ms. */
	CHECK(sum / (uint64_t)n < 100000);
	ns_models_free(m);
}

/* The step grids run on sample time, the wall clock. Stepped back an hour,
 * or put right after running an hour ahead, the forecaster and the
 * detector go on stepping at once instead of waiting an hour for the clock
 * to reach their old grid; a reload check is due at once too. */
static void test_clock_steps(void)
{
	char dir[] = "/tmp/ns-models-clock.XXXXXX", an[600];
	struct ns_models *m = NULL;
	struct ns_score_input in;
	struct ns_models_stats st;
	uint64_t ts = T0_MS, p, u;
	const uint64_t hour = 3600000u;

	CHECK(mkdtemp(dir));
	snprintf(an, sizeof(an), "%s/a.nsif", dir);
	CHECK_EQ_INT(copy_file(IF_FILE, an), 0);
	/* Forecast steps of 5 min, detector steps of 5 s, reload check 30 s;
	 * a tick every 10 s. */
	CHECK_EQ_INT(open_models(FC_DIR, an, 30000, &m), 0);
	for (int i = 0; i < 180; i++, ts += 10000) /* 30 min */
		tick(m, ts, 0.3, 0.5, &in);
	ns_models_stats(m, &st);
	p = st.predicts;
	u = st.anomaly_updates;
	CHECK(p >= 6 && u >= 170);

	/* Back 1 h for 15 min: three forecast steps and 90 detector steps. */
	ts -= hour;
	for (int i = 0; i < 90; i++, ts += 10000)
		tick(m, ts, 0.3, 0.5, &in);
	ns_models_stats(m, &st);
	CHECK(st.predicts >= p + 2);
	CHECK(st.anomaly_updates >= u + 85);
	CHECK(!isnan(in.cpu_peak_fc));
	/* A changed model file is still picked up within one reload period. */
	CHECK_EQ_INT(copy_file(IF_FILE, an), 0);
	CHECK_EQ_INT(utimensat(AT_FDCWD, an, (struct timespec[2]){{0, UTIME_NOW}, {1, 0}}, 0), 0);
	for (int i = 0; i < 4; i++, ts += 10000)
		tick(m, ts, 0.3, 0.5, &in);
	ns_models_stats(m, &st);
	CHECK_EQ_INT(st.anomaly.reloads, 1);

	/* Ahead 1 h (a gap to the grid), then put right (back 1 h). */
	p = st.predicts;
	u = st.anomaly_updates;
	ts += hour;
	for (int i = 0; i < 30; i++, ts += 10000)
		tick(m, ts, 0.3, 0.5, &in);
	ts -= hour;
	ns_models_stats(m, &st);
	CHECK(st.predicts >= p + 1 && st.anomaly_updates >= u + 25);
	p = st.predicts;
	u = st.anomaly_updates;
	for (int i = 0; i < 90; i++, ts += 10000)
		tick(m, ts, 0.3, 0.5, &in);
	ns_models_stats(m, &st);
	CHECK(st.predicts >= p + 2);
	CHECK(st.anomaly_updates >= u + 85);
	ns_models_free(m);
	unlink(an);
	rmdir(dir);
}

int main(void)
{
	RUN(test_shipped_models_load);
	RUN(test_forecast_follows_level_shift);
	RUN(test_anomaly_calm_then_spike);
	RUN(test_anomaly_step_averages_ticks);
	RUN(test_anomaly_own_fit_and_drift);
	RUN(test_reload_bad_bundle_keeps_old);
	RUN(test_shared_models);
	RUN(test_missing_horizon_is_fallback);
	RUN(test_missing_models_fallback_then_appear);
	RUN(test_bad_config);
	RUN(test_metrics_mismatch_refuses_model);
	RUN(test_warm_from_ring);
	RUN(test_qtable_value_and_reload);
	RUN(test_tick_cost);
	RUN(test_clock_steps);
	return CHECK_SUMMARY();
}
