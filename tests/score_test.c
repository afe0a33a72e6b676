// SPDX-License-Identifier: MIT
/* Score: weights parsing, the heuristic by hand, the model seam, clamping. */
#include <math.h>

#include "nodescore/score.h"
#include "nodescore/wire.h"
#include "check.h"

static struct ns_score_weights W;

static struct ns_score_input base(void)
{
	struct ns_score_input in;

	ns_score_input_init(&in);
	in.cpu_util = 0.2;
	in.mem_util = 0.4;
	in.ncpu = 4;
	in.mem_total_mib = 8192;
	in.mem_avail_mib = 4915;
	in.psi_cpu_some = 0;
	in.psi_mem_some = 0;
	in.psi_io_some = 0;
	return in;
}

static void test_weights(void)
{
	struct ns_score_weights w;

	CHECK_EQ_INT(ns_score_parse_weights("0.3,0.4,0.3", &w), 0);
	CHECK(fabs(w.f - 0.3) < 1e-12 && fabs(w.q - 0.4) < 1e-12 && fabs(w.a - 0.3) < 1e-12);
	/* The shipped default: the Q weight folded into headroom (no Q-table). */
	CHECK_EQ_INT(ns_score_parse_weights(NS_SCORE_WEIGHTS_DEFAULT, &w), 0);
	CHECK(fabs(w.f - 0.7) < 1e-12 && w.q == 0 && fabs(w.a - 0.3) < 1e-12);
	CHECK_EQ_INT(ns_score_parse_weights("1,1,1", &w), 0);
	CHECK(fabs(w.f - 1.0 / 3) < 1e-12);
	CHECK_EQ_INT(ns_score_parse_weights("1,0,0", &w), 0);
	CHECK(w.f == 1 && w.q == 0 && w.a == 0);
	CHECK(ns_score_parse_weights("", &w) < 0);
	CHECK(ns_score_parse_weights(NULL, &w) < 0);
	CHECK(ns_score_parse_weights("0.3,0.4", &w) < 0);
	CHECK(ns_score_parse_weights("0.3,0.4,0.3,0.1", &w) < 0);
	CHECK(ns_score_parse_weights("a,b,c", &w) < 0);
	CHECK(ns_score_parse_weights("-0.1,0.5,0.5", &w) < 0);
	CHECK(ns_score_parse_weights("1.5,0,0", &w) < 0);
	CHECK(ns_score_parse_weights("0,0,0", &w) < 0);
	CHECK(ns_score_parse_weights("nan,0.5,0.5", &w) < 0);
	CHECK(ns_score_parse_weights("0.3,,0.3", &w) < 0);
	CHECK(ns_score_parse_weights("0.3,0.4,0.3x", &w) < 0);
}

/* cpu 0.2, mem 0.4, no pressure: headroom 0.5*0.8 + 0.5*0.6 = 0.7, Q = 0.7,
 * anomaly 0: 1000 * (0.3*0.7 + 0.4*0.7 + 0.3*1) = 790. */
static void test_heuristic_by_hand(void)
{
	struct ns_score_input in = base();
	struct ns_score_output o;

	ns_score_compute(&W, &in, &o);
	CHECK(fabs(o.headroom - 0.7) < 1e-9);
	CHECK(fabs(o.q_value - 0.7) < 1e-9);
	CHECK_EQ_INT(o.score, 790);
	CHECK_EQ_INT(o.flags, NS_FLAG_MODEL_FALLBACK);
	CHECK(o.cpu_peak == 0.2 && o.mem_peak == 0.4);
	CHECK_EQ_INT(o.free_millicores, 3200); /* (1 - 0.2) * 4 * 1000 */
	CHECK_EQ_INT(o.free_mib, 4915);	       /* MemAvailable */
	CHECK(o.top_feature == NULL);
}

/* PSI penalty: max(10, 5, 30) / 100 = 0.3 -> headroom 0.4 -> 1000*(0.7*0.4 + 0.3) = 580. */
static void test_pressure_penalty(void)
{
	struct ns_score_input in = base();
	struct ns_score_output o;

	in.psi_cpu_some = 10;
	in.psi_mem_some = 5;
	in.psi_io_some = 30;
	ns_score_compute(&W, &in, &o);
	CHECK(fabs(o.pressure - 0.3) < 1e-9);
	CHECK(fabs(o.headroom - 0.4) < 1e-9);
	CHECK_EQ_INT(o.score, 580);
	/* Pressure alone cannot push the score below the anomaly term. */
	in.psi_io_some = 100;
	ns_score_compute(&W, &in, &o);
	CHECK(o.headroom == 0);
	CHECK_EQ_INT(o.score, 300);
}

/* Every model present: no fallback flag. anomaly 0.8 flagged, peaks 0.9/0.5, Q 0.6:
 * headroom 0.5*0.1 + 0.5*0.5 = 0.3; 1000*(0.3*0.3 + 0.4*0.6 + 0.3*0.2) = 390. */
static void test_models_present(void)
{
	struct ns_score_input in = base();
	struct ns_score_output o;

	in.anomaly = 0.8;
	in.anomaly_flag = 1;
	in.cpu_peak_fc = 0.9;
	in.mem_peak_fc = 0.5;
	in.q_value = 0.6;
	in.top_feature = "psi_io_some";
	ns_score_compute(&W, &in, &o);
	CHECK(fabs(o.headroom - 0.3) < 1e-9);
	CHECK_EQ_INT(o.score, 390);
	CHECK_EQ_INT(o.flags, NS_FLAG_ANOMALY);
	CHECK_EQ_STR(o.top_feature, "psi_io_some");
	CHECK_EQ_INT(o.free_millicores, 400); /* (1 - 0.9) * 4 * 1000 */
	CHECK_EQ_INT(o.free_mib, 4096);	      /* (1 - 0.5) * 8192 */
	/* One model missing is enough for the fallback flag. */
	in.q_value = NAN;
	ns_score_compute(&W, &in, &o);
	CHECK_EQ_INT(o.flags, NS_FLAG_ANOMALY | NS_FLAG_MODEL_FALLBACK);
	/* ... unless its weight is 0: it then changes nothing in the score. */
	{
		struct ns_score_weights w0 = {0.5, 0, 0.5, NS_SCORE_CPU_SHARE_DEFAULT};

		ns_score_compute(&w0, &in, &o);
		CHECK_EQ_INT(o.flags, NS_FLAG_ANOMALY);
		in.anomaly = NAN;
		w0 = (struct ns_score_weights){0.5, 0.5, 0, NS_SCORE_CPU_SHARE_DEFAULT};
		in.q_value = 0.6;
		ns_score_compute(&w0, &in, &o);
		CHECK_EQ_INT(o.flags, 0);
		in.anomaly = 0.8;
	}
	/* CPU's share of headroom: 1 ranks on CPU alone, 0 on memory alone. */
	{
		struct ns_score_weights wc = {1, 0, 0, 1};
		struct ns_score_input b = base(); /* cpu 0.2, mem 0.4, no pressure */

		ns_score_compute(&wc, &b, &o);
		CHECK(fabs(o.headroom - 0.8) < 1e-9);
		CHECK_EQ_INT(o.score, 800);
		wc.cpu_share = 0;
		ns_score_compute(&wc, &b, &o);
		CHECK(fabs(o.headroom - 0.6) < 1e-9);
		wc.cpu_share = NS_SCORE_CPU_SHARE_DEFAULT;
		ns_score_compute(&wc, &b, &o);
		CHECK(fabs(o.headroom - 0.7) < 1e-9);
	}
	/* A forecast below the present is not believed. */
	in = base();
	in.cpu_peak_fc = 0.05;
	ns_score_compute(&W, &in, &o);
	CHECK(o.cpu_peak == 0.2);
	/* The anomaly flag means nothing without a score. */
	in = base();
	in.anomaly_flag = 1;
	ns_score_compute(&W, &in, &o);
	CHECK(!(o.flags & NS_FLAG_ANOMALY));
}

static void test_missing_measurements(void)
{
	struct ns_score_input in;
	struct ns_score_output o;

	/* Nothing known (broken /proc): the neutral score and the degraded flag,
	 * free amounts unknown rather than a made-up 650 with zero headroom. */
	ns_score_input_init(&in);
	ns_score_compute(&W, &in, &o);
	CHECK(fabs(o.headroom - 0.5) < 1e-9);
	CHECK_EQ_INT(o.score, NS_SCORE_MAX / 2);
	CHECK(o.flags & NS_FLAG_DEGRADED);
	CHECK(o.free_millicores == NS_WIRE_FREE_UNKNOWN && o.free_mib == NS_WIRE_FREE_UNKNOWN);
	/* Memory measured, CPU not: still neutral and degraded. */
	in.mem_util = 0.2;
	ns_score_compute(&W, &in, &o);
	CHECK_EQ_INT(o.score, NS_SCORE_MAX / 2);
	CHECK(o.flags & NS_FLAG_DEGRADED);
	/* First tick: no CPU delta yet, load1/ncpu stands in: 3/4 = 0.75. */
	in = base();
	in.cpu_util = NAN;
	in.load1 = 3;
	ns_score_compute(&W, &in, &o);
	CHECK(fabs(o.cpu_now - 0.75) < 1e-9);
	CHECK_EQ_INT(o.free_millicores, 1000);
}

static void test_clamping_and_flags(void)
{
	struct ns_score_input in = base();
	struct ns_score_output o;

	in.cpu_util = 1.7;
	in.mem_util = -3;
	in.anomaly = 42;
	in.q_value = -1;
	in.psi_cpu_some = INFINITY;
	in.degraded = 1;
	ns_score_compute(&W, &in, &o);
	CHECK(o.score <= NS_SCORE_MAX);
	CHECK(o.headroom >= 0 && o.headroom <= 1);
	CHECK(o.cpu_now == 1 && o.mem_now == 0 && o.anomaly == 1);
	CHECK(o.flags & NS_FLAG_DEGRADED);
	CHECK_EQ_INT(o.free_millicores, 0);
	in = base();
	in.ncpu = 1e12; /* absurd: clamped, not wrapped */
	in.mem_avail_mib = 1e15;
	ns_score_compute(&W, &in, &o);
	CHECK(o.free_millicores == UINT32_MAX && o.free_mib == UINT32_MAX);
}

/* Busier node, lower score: the property the scheduler relies on. */
static void test_monotonic(void)
{
	struct ns_score_input in = base();
	struct ns_score_output o;
	int prev = NS_SCORE_MAX + 1;

	for (int i = 0; i <= 100; i++) {
		in.cpu_util = i / 100.0;
		ns_score_compute(&W, &in, &o);
		CHECK(o.score <= prev);
		prev = o.score;
	}
	CHECK(prev < 790);
}

int main(void)
{
	/* DESIGN.md weights with a Q term, so every part of the formula is exercised. */
	ns_score_parse_weights("0.3,0.4,0.3", &W);
	RUN(test_weights);
	RUN(test_heuristic_by_hand);
	RUN(test_pressure_penalty);
	RUN(test_models_present);
	RUN(test_missing_measurements);
	RUN(test_clamping_and_flags);
	RUN(test_monotonic);
	return CHECK_SUMMARY();
}
