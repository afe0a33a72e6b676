// SPDX-License-Identifier: MIT
/* Tests for lib/anomaly.c: hysteresis, step detection delay, quiet on noise, drift, refits, model
 * hand-over. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rng.h"
#include "nodescore/anomaly.h"
#include "nodescore/iforest.h"

static void small_config(struct ns_anomaly_config *c, uint32_t n_metrics)
{
	ns_anomaly_config_default(c, n_metrics);
	c->metric_names[0] = "cpu_util";
	c->metric_names[1] = "mem_util";
	c->win_short = 8;
	c->win_mid = 32;
	c->win_long = 2000;
	c->season = 0;
	c->probation = 300;
	c->refit_every = 300;
	c->history = 1000;
	c->n_trees = 50;
	c->lik_long = 500;
	c->enter_k = 3;
	c->leave_m = 5;
	c->rearm = 50;
}

/* The flag must follow exactly: raise after enter_k consecutive overs, clear
 * after leave_m consecutive unders; recomputed here from the severities. */
static void test_hysteresis_enter_leave_counts(void)
{
	struct ns_anomaly_config c;
	struct ns_anomaly *a = NULL;
	uint32_t over_run = 0, under_run = 0, onsets = 0, clears = 0;
	int flag = 0;

	small_config(&c, 1);
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, NULL, 0), 0);
	rng_state = 1;
	for (int t = 0; t < 6000; t++) {
		struct ns_anomaly_result r;
		/* Bursts of large spikes of varying length between quiet stretches. */
		int phase = t % 400;
		float v = (float)(10.0 + gauss());
		if (t > 1000 && phase < (t / 400) % 9)
			v += 60.0f + 5.0f * (float)phase;
		CHECK_EQ_INT(ns_anomaly_update(a, &v, &r), 0);
		if (!r.ready)
			continue;
		if (r.severity >= c.threshold) {
			under_run = 0;
			if (++over_run >= c.enter_k && !flag) {
				flag = 1;
				onsets++;
				CHECK_EQ_INT(r.onset, 1);
			}
		} else {
			over_run = 0;
			if (++under_run >= c.leave_m && flag) {
				flag = 0;
				clears++;
			}
		}
		CHECK_EQ_INT(r.flag, flag);
	}
	fprintf(stderr, "  onsets=%u clears=%u\n", onsets, clears);
	CHECK(onsets >= 3);
	CHECK(clears >= 3);
	ns_anomaly_free(a);
}

static void test_step_flagged_within_bounded_delay(void)
{
	struct ns_anomaly_config c;
	struct ns_anomaly *a = NULL;
	int onset_at = -1, onsets_before = 0, top_metric = -2;

	small_config(&c, 2);
	c.enter_k = 2; /* the node default */
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, NULL, 0), 0);
	rng_state = 2;
	for (int t = 0; t < 3000; t++) {
		struct ns_anomaly_result r;
		float v[2] = {(float)(0.30 + 0.02 * gauss()), (float)(0.50 + 0.02 * gauss())};
		if (t >= 2500)
			v[0] += 0.25f; /* CPU steps up by 12 std */
		CHECK_EQ_INT(ns_anomaly_update(a, v, &r), 0);
		if (r.onset && t < 2500)
			onsets_before++;
		if (r.onset && t >= 2500 && onset_at < 0) {
			onset_at = t;
			top_metric = r.top_metric;
		}
	}
	fprintf(stderr, "  onsets before step=%d, step flagged after %d samples, metric=%d\n",
		onsets_before, onset_at - 2500, top_metric);
	CHECK(onset_at >= 2500);
	CHECK(onset_at - 2500 <= 10);
	CHECK_EQ_INT(top_metric, 0);
	ns_anomaly_free(a);
}

static void test_stationary_noise_not_flagged(void)
{
	struct ns_anomaly_config c;
	struct ns_anomaly *a = NULL;
	int onsets = 0, ready = 0;

	small_config(&c, 2);
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, NULL, 0), 0);
	rng_state = 3;
	for (int t = 0; t < 20000; t++) {
		struct ns_anomaly_result r;
		float v[2] = {(float)(0.30 + 0.02 * gauss()), (float)(0.50 + 0.02 * gauss())};
		CHECK_EQ_INT(ns_anomaly_update(a, v, &r), 0);
		onsets += r.onset;
		ready += r.ready;
	}
	fprintf(stderr, "  onsets=%d over %d scored samples, refits=%u rejected=%u\n", onsets,
		ready, ns_anomaly_refits(a), ns_anomaly_rejected(a));
	CHECK(ready > 19000);
	CHECK_EQ_INT(onsets, 0);
	CHECK(ns_anomaly_refits(a) + ns_anomaly_rejected(a) >= 60);
	ns_anomaly_free(a);
}

/* Spikes of a spiky series (5 % of samples, 6..10 std): the tail cap
 * (tail_window) scales the severity of a sample down to threshold * how far
 * its most extreme feature lies beyond that feature's recent 98th
 * percentile, so ordinary spikes score lower (never higher) and raise the
 * flag no more often, while a real level step is still flagged at once. */
static void spiky_onsets(uint32_t tail_window, int *onsets_out, int *step_delay, double *sev_sum)
{
	struct ns_anomaly_config c;
	struct ns_anomaly *a = NULL;
	int onsets = 0;

	small_config(&c, 1);
	c.enter_k = 1;
	c.tail_window = tail_window;
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, NULL, 0), 0);
	rng_state = 6;
	*onsets_out = 0;
	*step_delay = -1;
	*sev_sum = 0;
	for (int t = 0; t < 8000; t++) {
		struct ns_anomaly_result r;
		float v = (float)(0.30 + 0.02 * gauss());
		if (fabs(gauss()) > 1.96) /* 5 % of samples: spikes of 6..10 std */
			v += (float)(0.02 * (6.0 + 4.0 * (0.5 + 0.5 * erf(gauss() / M_SQRT2))));
		if (t >= 7500)
			v += 0.6f; /* a level step of 30 std */
		CHECK_EQ_INT(ns_anomaly_update(a, &v, &r), 0);
		if (r.onset && t >= 1000 && t < 7500)
			onsets++;
		if (t >= 1000 && t < 7500)
			*sev_sum += r.severity;
		if (r.onset && t >= 7500 && *step_delay < 0)
			*step_delay = t - 7500;
	}
	ns_anomaly_free(a);
	*onsets_out = onsets;
}

static void test_tail_cap_quiets_ordinary_spikes(void)
{
	int d_off = -1, d_on = -1, off = 0, on = 0;
	double s_off = 0, s_on = 0;

	spiky_onsets(0, &off, &d_off, &s_off);
	spiky_onsets(2016, &on, &d_on, &s_on);
	fprintf(stderr,
		"  spiky series: onsets off=%d on=%d, severity sum off=%.1f on=%.1f, "
		"step delay off=%d on=%d\n",
		off, on, s_off, s_on, d_off, d_on);
	CHECK(on <= off);
	CHECK(s_on < 0.95 * s_off);
	CHECK(d_off >= 0 && d_off <= 10);
	CHECK(d_on >= 0 && d_on <= 10);
}

/* A daily job (3 samples of +10 std at the same phase, +-1 sample of
 * jitter) on a noisy series with season = 288: the seasonal tail
 * (tail_season) flags it on fewer days (some feature of a noisy repeat can
 * still pass 1.25 times its past values), while a spike of the same size at
 * a new phase is still flagged at once. */
static void daily_job(uint32_t tail_season, int *job_onsets, int *novel_delay)
{
	struct ns_anomaly_config c;
	struct ns_anomaly *a = NULL;

	small_config(&c, 1);
	c.season = 288;
	c.enter_k = 1;
	c.tail_season = tail_season;
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, NULL, 0), 0);
	rng_state = 9;
	*job_onsets = 0;
	*novel_delay = -1;
	for (int t = 0; t < 12 * 288; t++) {
		struct ns_anomaly_result r;
		int day = t / 288, ph = t % 288, job = 100 + (day % 3) - 1;
		float v = (float)(0.30 + 0.02 * gauss());
		if (ph >= job && ph < job + 3)
			v += 0.2f;
		if (day == 11 && ph >= 200 && ph < 203)
			v += 0.2f; /* the same spike at a phase never seen before */
		CHECK_EQ_INT(ns_anomaly_update(a, &v, &r), 0);
		if (r.onset && day >= 3 && ph >= 95 && ph < 115)
			(*job_onsets)++;
		if (r.onset && day == 11 && ph >= 200 && ph < 210 && *novel_delay < 0)
			*novel_delay = ph - 200;
	}
	ns_anomaly_free(a);
}

static void test_seasonal_tail_quiets_daily_job(void)
{
	int off = 0, on1 = 0, on3 = 0, d_off = -1, d_on1 = -1, d_on3 = -1;

	daily_job(0, &off, &d_off);
	daily_job(1, &on1, &d_on1);
	daily_job(3, &on3, &d_on3);
	fprintf(stderr,
		"  daily job onsets on days 3-11: seasonal tail off=%d, 1 day=%d, "
		"3 days=%d; novel spike delay %d / %d / %d\n",
		off, on1, on3, d_off, d_on1, d_on3);
	CHECK(off >= 6);
	CHECK(on1 * 3 <= off * 2); /* at least a third of the repeats gone */
	CHECK(on3 <= on1);
	CHECK(d_on1 >= 0 && d_on1 <= 2);
	CHECK(d_on3 >= 0 && d_on3 <= 2);
}

static void test_drift_psi_rises_on_shift(void)
{
	struct ns_anomaly_config c;
	struct ns_anomaly *a = NULL;
	double before, after, w = 0;
	int worst = -2;

	small_config(&c, 1);
	c.refit_every = 100000; /* one fit, then watch the features drift */
	c.win_long = 200;	/* windows full long before the fit */
	c.probation = 1000;
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, NULL, 0), 0);
	rng_state = 4;
	CHECK(ns_anomaly_drift_psi(a, &worst) == 0.0 && worst == -1);
	for (int t = 0; t < 2000; t++) {
		struct ns_anomaly_result r;
		float v = (float)(5.0 + gauss());
		CHECK_EQ_INT(ns_anomaly_update(a, &v, &r), 0);
	}
	before = ns_anomaly_drift_psi(a, &worst);
	/* Features are scale-free, so a new variance alone is absorbed; a new
	 * dynamic (white noise -> slow AR(1) wander) is what drift means here. */
	for (int t = 0; t < 1000; t++) {
		struct ns_anomaly_result r;
		float v;
		w = 0.98 * w + 0.2 * gauss();
		v = (float)(5.0 + w);
		CHECK_EQ_INT(ns_anomaly_update(a, &v, &r), 0);
	}
	after = ns_anomaly_drift_psi(a, &worst);
	fprintf(stderr, "  psi before=%.3f after=%.3f worst=%s\n", before, after,
		ns_anomaly_feature_name(a, (size_t)worst));
	CHECK(before < 0.1);
	CHECK(after > 0.25);
	CHECK(worst >= 0);
	ns_anomaly_free(a);
}

static void test_config_and_model_handover(void)
{
	struct ns_anomaly_config c;
	struct ns_anomaly *a = NULL;
	struct ns_iforest *f = NULL;
	struct ns_iforest_params p = {.n_trees = 10, .psi = 64, .seed = 1};
	float *x, v[2] = {0.3f, 0.5f};
	const char *names[2 * NS_ANOMALY_FEATS_PER_METRIC];
	char err[256];
	struct ns_anomaly_result r;
	size_t nf;

	small_config(&c, 2);
	c.win_mid = 4; /* below win_short */
	CHECK_EQ_INT(ns_anomaly_config_check(&c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "windows") != NULL);
	err[0] = '\0';
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, err, sizeof(err)), -EINVAL);
	CHECK(a == NULL);
	CHECK_EQ_STR(err,
		     "windows must satisfy 2 <= short <= mid <= long <= 1000000 (got 8/4/2000)");
	small_config(&c, 2);
	c.gate = 1.5;
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "gate=1.5 outside (0, 1)");
	small_config(&c, 2);
	CHECK_EQ_INT(ns_anomaly_new(&c, &a, err, sizeof(err)), 0);
	nf = ns_anomaly_n_features(a);
	CHECK_EQ_INT(nf, 2 * NS_ANOMALY_FEATS_PER_METRIC);
	CHECK_EQ_STR(ns_anomaly_feature_name(a, 0), "cpu_util.z_short");
	CHECK_EQ_STR(ns_anomaly_feature_name(a, NS_ANOMALY_FEATS_PER_METRIC + NS_AF_VOL),
		     "mem_util.vol");

	/* A model over the same features, built the way nodescore-train does. */
	x = calloc(400 * 2, sizeof(float));
	float *feat = calloc(400 * nf, sizeof(float));
	CHECK(x && feat);
	rng_state = 5;
	for (int i = 0; i < 800; i++)
		x[i] = (float)(0.4 + 0.02 * gauss());
	CHECK_EQ_INT(ns_anomaly_features_series(&c, x, 400, feat), 0);
	for (size_t i = 0; i < nf; i++)
		names[i] = ns_anomaly_feature_name(a, i);
	CHECK_EQ_INT(ns_iforest_train(feat, 400, nf, NULL, &p, &f), 0);
	/* Default names f0.. do not match: refused, caller keeps the model. */
	CHECK_EQ_INT(ns_anomaly_set_model(a, f, err, sizeof(err)), -EINVAL);
	ns_iforest_free(f);
	f = NULL;
	CHECK_EQ_INT(ns_iforest_train(feat, 400, nf, names, &p, &f), 0);
	CHECK_EQ_INT(ns_anomaly_set_model(a, f, err, sizeof(err)), 0);
	CHECK(ns_anomaly_model(a) == f);
	/* Scored from the first sample, before the detector's own probation. */
	CHECK_EQ_INT(ns_anomaly_update(a, v, &r), 0);
	CHECK_EQ_INT(r.ready, 1);
	CHECK(r.score > 0 && r.score <= 1);
	free(x);
	free(feat);
	ns_anomaly_free(a);
}

int main(void)
{
	RUN(test_hysteresis_enter_leave_counts);
	RUN(test_step_flagged_within_bounded_delay);
	RUN(test_stationary_noise_not_flagged);
	RUN(test_tail_cap_quiets_ordinary_spikes);
	RUN(test_seasonal_tail_quiets_daily_job);
	RUN(test_drift_psi_rises_on_shift);
	RUN(test_config_and_model_handover);
	return CHECK_SUMMARY();
}
