// SPDX-License-Identifier: MIT
/* The agent library without sockets: ticks over a fixture tree, snapshot,
 * Prometheus rendering, history interval means. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <time.h>

#include "nodescore/clock.h"
#include "nodescore/agent.h"
#include "nodescore/history.h"
#include "check.h"
#include "fixture.h"

static void fixture(int step)
{
	char stat[256];
	int u = 100 * step, i = 800 * step;

	fx_fmt(stat, sizeof(stat), "cpu  %d 0 %d %d 0 0 0 0 0 0\ncpu0 %d 0 %d %d 0 0 0 0 0 0\n", u,
	       u, i, u, u, i);
	fx_write("proc/stat", stat);
	fx_write("proc/meminfo", "MemTotal: 10485760 kB\nMemAvailable: 3145728 kB\n");
	fx_write("proc/loadavg", "0.52 0.40 0.30 2/300 4242\n");
	fx_write("proc/diskstats",
		 "   8       0 sda 1000 0 8000 500 2000 0 16000 1000 0 1500 1500 0 0 0 0 0 0\n");
	fx_mkdir("cg/kubepods.slice/kubepods-pod1111.slice");
	fx_write("cg/kubepods.slice/cpu.stat", "usage_usec 1000\n");
	fx_write("cg/kubepods.slice/memory.current", "1048576\n");
	fx_write("cg/kubepods.slice/kubepods-pod1111.slice/cpu.weight", "39\n");
	fx_write("cg/kubepods.slice/kubepods-pod1111.slice/memory.max", "max\n");
}

/* A fresh fixture tree in its first state, and an agent on it (cg: its
 * cgroup root); NULL when the agent does not open. */
static struct ns_agent *open_agent(char *cg, size_t cap)
{
	struct ns_agent_config cfg;
	struct ns_agent *a = NULL;
	char err[256];

	fx_new();
	fixture(1);
	memset(&cfg, 0, sizeof(cfg));
	fx_fmt(cg, cap, "%s/cg", fx_root);
	cfg.proc_root = fx_root;
	cfg.cgroup_root = cg;
	cfg.interval_ms = 50;
	cfg.publish_interval_ms = 1000;
	cfg.no_bpf = 1;
	cfg.pods_rescan_ms = 10000;
	snprintf(cfg.node_name, sizeof(cfg.node_name), "unit-node");
	ns_score_parse_weights(NS_SCORE_WEIGHTS_DEFAULT, &cfg.weights);
	if (ns_agent_open(&cfg, &a, err, sizeof(err)))
		fprintf(stderr, "  open: %s\n", err);
	return a;
}

static void test_tick_and_snapshot(void)
{
	struct ns_agent_snapshot s;
	struct ns_agent *a;
	char cg[512];

	a = open_agent(cg, sizeof(cg));
	CHECK(a != NULL);
	ns_agent_tick(a, ns_mono_ns());
	fixture(2);
	ns_agent_tick(a, ns_mono_ns());
	ns_agent_snapshot(a, &s);
	CHECK_EQ_STR(s.node, "unit-node");
	CHECK_EQ_INT(s.ticks, 2);
	CHECK(fabsf(s.sample.v[NS_M_CPU_UTIL] - 0.2f) < 1e-6f);
	CHECK(s.sample.v[NS_M_PODS] == 1.0f);
	CHECK_EQ_INT(s.src[NS_AGENT_SRC_PODS], NS_SRC_STATE_OK);
	CHECK_EQ_INT(s.src[NS_AGENT_SRC_PSI], NS_SRC_STATE_UNAVAILABLE); /* no pressure dir */
	CHECK(!(s.score.flags & NS_FLAG_DEGRADED));
	/* headroom 0.5*0.8 + 0.5*0.3 = 0.55 -> 1000*(0.7*0.55 + 0.3) = 685 */
	CHECK_EQ_INT(s.score.score, 685);
	CHECK_EQ_INT(s.loop_wall.count, 2);
	CHECK_EQ_INT(s.loop_cpu.count, 2);
	CHECK(s.loop_cpu.sum_s > 0 && s.loop_cpu.sum_s <= s.loop_wall.sum_s + 1e-3);
	CHECK_EQ_STR(s.pods_layout, "v2-systemd");
	/* a broken source flags the next snapshot degraded */
	fx_write("proc/meminfo", "garbage\n");
	fx_capture_start();
	ns_agent_tick(a, ns_mono_ns());
	fx_capture_stop();
	ns_agent_snapshot(a, &s);
	CHECK(s.score.flags & NS_FLAG_DEGRADED);
	CHECK_EQ_INT(s.src[NS_AGENT_SRC_MEM], NS_SRC_STATE_FAILING);
	ns_agent_close(a);
	fx_free();
}

static void test_metrics_render(void)
{
	static char buf[65536];
	struct ns_agent_snapshot s;
	struct ns_agent *a;
	char cg[512];
	int n;

	a = open_agent(cg, sizeof(cg));
	CHECK(a != NULL);
	ns_agent_tick(a, ns_mono_ns());
	ns_agent_snapshot(a, &s);
	n = ns_agent_metrics(&s, buf, sizeof(buf));
	CHECK(n > 0 && (size_t)n < sizeof(buf));
	CHECK_EQ_INT(strlen(buf), n);
	CHECK(strstr(buf, "\nnodescore_node_mem_util{node=\"unit-node\"} 0.69999998807907104\n"));
	CHECK(strstr(buf, "\nnodescore_node_cpu_util{node=\"unit-node\"} NaN\n")); /* first tick */
	CHECK(strstr(buf, "nodescore_agent_source_mode{node=\"unit-node\",source=\"net\",mode="
			  "\"sock_diag\"} 1\n"));
	CHECK(strstr(buf, "nodescore_agent_loop_duration_seconds_count{node=\"unit-node\"} 1\n"));
	CHECK(strstr(buf, "le=\"+Inf\"} 1\n"));
	CHECK(strstr(buf, "nodescore_agent_loop_cpu_seconds_count{node=\"unit-node\"} 1\n"));
	/* too small a buffer is an error, never an overflow */
	CHECK_EQ_INT(ns_agent_metrics(&s, buf, 100), -ENOSPC);
	CHECK(strlen(buf) < 100);
	CHECK_EQ_INT(ns_agent_metrics(&s, buf, 0), -ENOSPC);
	ns_agent_close(a);
	fx_free();
}

struct fake_model {
	int calls;
	double anomaly;
};

/* A stand-in for the real models, to test the seam, not a model. */
static void fake_model(void *ctx, const struct ns_sample *s, struct ns_score_input *in)
{
	struct fake_model *m = ctx;

	m->calls++;
	if (!isnan(s->v[NS_M_MEM_UTIL]))
		in->mem_peak_fc = 0.9;
	in->cpu_peak_fc = 0.6;
	in->q_value = 0.25;
	in->anomaly = m->anomaly;
	in->anomaly_flag = m->anomaly > 0.7;
	in->top_feature = "psi_io_some";
}

static void test_model_seam(void)
{
	static char buf[65536];
	struct fake_model m = {0, 0.8};
	struct ns_agent_snapshot s;
	struct ns_agent *a;
	char cg[512];

	a = open_agent(cg, sizeof(cg));
	CHECK(a != NULL);
	ns_agent_set_model(a, fake_model, &m);
	ns_agent_tick(a, ns_mono_ns());
	ns_agent_snapshot(a, &s);
	CHECK_EQ_INT(m.calls, 1);
	/* all model parts present: no fallback; headroom 0.5*(1-0.6) + 0.5*(1-0.9)
	 * = 0.25, 1000*(0.3*0.25 + 0.4*0.25 + 0.3*(1-0.8)) = 235 */
	CHECK_EQ_INT(s.score.flags, NS_FLAG_ANOMALY);
	CHECK_EQ_INT(s.score.score, 235);
	CHECK_EQ_INT(s.score.free_millicores, 400); /* (1 - 0.6) * 1 CPU */
	CHECK_EQ_INT(s.score.free_mib, 1024);	    /* (1 - 0.9) * 10240 */
	CHECK_EQ_STR(s.top_feature, "psi_io_some");
	CHECK(ns_agent_metrics(&s, buf, sizeof(buf)) > 0);
	CHECK(strstr(
	    buf,
	    "nodescore_agent_anomaly_top_feature{node=\"unit-node\",feature=\"psi_io_some\"} 1\n"));
	CHECK(strstr(buf, "flag=\"anomaly\"} 1\n"));
	ns_agent_set_model(a, NULL, NULL);
	ns_agent_tick(a, ns_mono_ns());
	ns_agent_snapshot(a, &s);
	CHECK_EQ_INT(m.calls, 1);
	CHECK_EQ_INT(s.score.flags, NS_FLAG_MODEL_FALLBACK);
	CHECK_EQ_STR(s.top_feature, "");
	ns_agent_close(a);
	fx_free();
}

static volatile sig_atomic_t stop_run;

static void *runner(void *arg)
{
	ns_agent_run(arg, &stop_run);
	return NULL;
}

/* Absolute deadlines: 1 s at 50 ms is 20 ticks (+1 at start), never more
 * (no catch-up bursts), and not many fewer. */
static void test_run_cadence(void)
{
	struct ns_agent_snapshot s;
	struct ns_agent *a;
	struct timespec ts = {1, 0};
	pthread_t th;
	char cg[512];

	a = open_agent(cg, sizeof(cg));
	CHECK(a != NULL);
	stop_run = 0;
	CHECK_EQ_INT(pthread_create(&th, NULL, runner, a), 0);
	nanosleep(&ts, NULL);
	stop_run = 1;
	pthread_join(th, NULL);
	ns_agent_snapshot(a, &s);
	fprintf(stderr, "  ticks in 1 s at 50 ms: %llu\n", (unsigned long long)s.ticks);
	CHECK(s.ticks >= 16 && s.ticks <= 22);
	ns_agent_close(a);
	fx_free();
}

static void test_history_mean(void)
{
	struct ns_history_acc h;
	struct ns_sample a, b, m;

	ns_history_reset(&h);
	CHECK_EQ_INT(ns_history_mean(&h, 5, &m), -ENODATA);
	ns_sample_init(&a, 1);
	ns_sample_init(&b, 2);
	a.v[NS_M_CPU_UTIL] = 0.2f;
	b.v[NS_M_CPU_UTIL] = 0.4f;
	b.v[NS_M_LOAD1] = 3.0f; /* measured once only */
	a.health = NS_SRC_CPU | NS_SRC_MEM;
	b.health = NS_SRC_CPU;
	ns_history_add(&h, &a);
	ns_history_add(&h, &b);
	CHECK_EQ_INT(ns_history_mean(&h, 9, &m), 0);
	CHECK(m.ts_ms == 9);
	CHECK(fabsf(m.v[NS_M_CPU_UTIL] - 0.3f) < 1e-6f);
	CHECK(m.v[NS_M_LOAD1] == 3.0f);
	CHECK(isnan(m.v[NS_M_MEM_UTIL]));
	CHECK_EQ_INT(m.health, NS_SRC_CPU);
}

int main(void)
{
	RUN(test_tick_and_snapshot);
	RUN(test_metrics_render);
	RUN(test_model_seam);
	RUN(test_run_cadence);
	RUN(test_history_mean);
	fx_free();
	return CHECK_SUMMARY();
}
