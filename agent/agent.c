// SPDX-License-Identifier: MIT
/* The agent's loop: samplers -> score -> history -> publish, and the snapshot
 * the HTTP thread reads. Nothing here allocates once the agent is open. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "agent_int.h"
#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "nodescore/procmetrics.h"
#include "nodescore/ringlog.h"

const char *const ns_agent_src_names[NS_AGENT_SRC_COUNT] = {
    [NS_AGENT_SRC_CPU] = "cpu",	  [NS_AGENT_SRC_MEM] = "mem",	[NS_AGENT_SRC_LOAD] = "load",
    [NS_AGENT_SRC_PSI] = "psi",	  [NS_AGENT_SRC_PODS] = "pods", [NS_AGENT_SRC_NET] = "net",
    [NS_AGENT_SRC_DISK] = "disk",
};

const double ns_agent_loop_bounds[NS_AGENT_LOOP_BUCKETS] = {
    50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 250e-3,
};

#define METRICS_CAP (64 * 1024)

static int metrics_handler(void *arg, char *buf, size_t cap, size_t *len)
{
	struct ns_agent *a = arg;
	struct ns_agent_snapshot s;
	int n;

	ns_agent_snapshot(a, &s);
	n = ns_agent_metrics(&s, buf, cap);
	if (n >= 0) {
		int m = ns_procmetrics(buf + n, cap - (size_t)n, "agent");
		n = m < 0 ? m : n + m;
	}
	if (n < 0) {
		*len = (size_t)snprintf(buf, cap, "metrics buffer too small\n");
		return 500;
	}
	*len = (size_t)n;
	return 200;
}

static int healthz_handler(void *arg, char *buf, size_t cap, size_t *len)
{
	struct ns_agent *a = arg;
	uint64_t last, ticks, stale_ns;
	int n;

	pthread_mutex_lock(&a->mu);
	last = a->snap.last_tick_mono_ns;
	ticks = a->snap.ticks;
	pthread_mutex_unlock(&a->mu);
	/* Three missed intervals (plus slack) means the loop is stuck. */
	stale_ns = (3 * a->cfg.interval_ms + 1000) * 1000000ull;
	if (ticks == 0 || ns_mono_ns() - last > stale_ns) {
		n = snprintf(buf, cap, "stale: no sample in the last %llu ms\n",
			     (unsigned long long)(stale_ns / 1000000));
		*len = n > 0 ? (size_t)n : 0;
		return 503;
	}
	n = snprintf(buf, cap, "ok\n");
	*len = n > 0 ? (size_t)n : 0;
	return 200;
}

int ns_agent_open(const struct ns_agent_config *cfg, struct ns_agent **out, char *err,
		  size_t errlen)
{
	struct ns_agent *a;
	int e;

	*out = NULL;
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->cfg = *cfg;
	pthread_mutex_init(&a->mu, NULL);
	ns_history_reset(&a->hist);
	if (ns_procstat_init(&a->procstat, cfg->proc_root) ||
	    ns_meminfo_init(&a->meminfo, cfg->proc_root) ||
	    ns_loadavg_init(&a->loadavg, cfg->proc_root) || ns_psi_init(&a->psi, cfg->proc_root) ||
	    ns_pods_init(&a->pods, cfg->cgroup_root)) {
		snprintf(err, errlen, "--proc-root or --cgroup-root path too long");
		e = -ENAMETOOLONG;
		goto fail;
	}
	a->pods.rescan_ms = cfg->pods_rescan_ms;
	a->health[NS_AGENT_SRC_CPU] = &a->procstat.health;
	a->health[NS_AGENT_SRC_MEM] = &a->meminfo.health;
	a->health[NS_AGENT_SRC_LOAD] = &a->loadavg.health;
	a->health[NS_AGENT_SRC_PSI] = &a->psi.health;
	a->health[NS_AGENT_SRC_PODS] = &a->pods.health;
	a->health[NS_AGENT_SRC_NET] = &a->net_health;
	a->health[NS_AGENT_SRC_DISK] = &a->disk_health;
	/* A random nonce per start lets the extender tell a restart from a replay. */
	if (getrandom(&a->nonce, sizeof(a->nonce), 0) != sizeof(a->nonce)) {
		e = -errno;
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		goto fail;
	}
	snprintf(a->snap.node, sizeof(a->snap.node), "%s", cfg->node_name);
	a->snap.start_ms = ns_now_ms();
	a->snap.interval_ms = cfg->interval_ms;
	a->snap.pods_layout = "none";
	ns_src_health_init(&a->net_health, "net");
	ns_src_health_init(&a->disk_health, "disk");
	ns_agent_latency_open(a);
	ns_sample_init(&a->snap.sample, 0);
	if (cfg->state_dir && cfg->history_interval_ms) {
		a->history_wanted = 1;
		e = ns_agent_history_open(a, err, errlen);
		if (e && ns_agent_history_fatal(e))
			goto fail;
		a->snap.history_enabled = e == 0; /* before HTTP starts: no lock needed */
		if (e) {
			log_error("agent",
				  "history unavailable, sampling and publishing without it "
				  "reason=\"%s\"",
				  err);
			a->history_backoff_ns = cfg->history_interval_ms * 1000000ull;
			a->history_retry_ns = ns_mono_ns() + a->history_backoff_ns;
			err[0] = '\0';
		}
	}
	if (cfg->publish) {
		e = ns_publish_open(cfg->publish, &a->pub, err, errlen);
		if (e)
			goto fail;
		a->snap.publish_endpoints = (uint32_t)ns_publish_endpoints(a->pub);
	}
	if (cfg->listen_http) {
		a->routes[0] = (struct ns_http_route){"/metrics", "text/plain; version=0.0.4",
						      metrics_handler, a, METRICS_CAP};
		a->routes[1] =
		    (struct ns_http_route){"/healthz", "text/plain", healthz_handler, a, 256};
		e = ns_http_start(cfg->listen_http, a->routes, 2, &a->http, err, errlen);
		if (e)
			goto fail;
	}
	*out = a;
	return 0;
fail:
	ns_agent_close(a);
	return e;
}

void ns_agent_set_model(struct ns_agent *a, ns_agent_model_fn fn, void *ctx)
{
	a->model = fn;
	a->model_ctx = ctx;
	a->models = NULL;
}

void ns_agent_set_models(struct ns_agent *a, struct ns_models *m)
{
	ns_agent_set_model(a, m ? ns_models_tick : NULL, m);
	a->models = m;
}

uint16_t ns_agent_http_port(const struct ns_agent *a)
{
	return a->http ? ns_http_port(a->http) : 0;
}

static uint16_t permille(double v)
{
	if (!(v > 0))
		return 0;
	return v >= 1 ? NS_PERMILLE : (uint16_t)lround(v * NS_PERMILLE);
}

static void publish(struct ns_agent *a, const struct ns_sample *s, const struct ns_score_output *o)
{
	struct ns_msg m;
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n;
	float pods = s->v[NS_M_PODS], rtt = s->v[NS_M_RTT_P99_US];

	memset(&m, 0, sizeof(m));
	m.flags = o->flags;
	m.boot_nonce = a->nonce;
	m.seq = ++a->seq;
	m.ts_ms = s->ts_ms;
	m.score = o->score;
	m.anomaly = permille(o->anomaly);
	m.cpu_now = permille(o->cpu_now);
	m.mem_now = permille(o->mem_now);
	m.cpu_peak_fc = permille(o->cpu_peak);
	m.mem_peak_fc = permille(o->mem_peak);
	m.free_millicores = o->free_millicores;
	m.free_mib = o->free_mib;
	m.pods = pods > 0 ? (pods > 65535 ? 65535 : (uint16_t)pods) : 0;
	m.rtt_p99_us = rtt > 0 ? (rtt > 4e9f ? 4000000000u : (uint32_t)rtt) : 0;
	snprintf(m.name, sizeof(m.name), "%s", a->cfg.node_name);
	n = ns_wire_encode(&m, a->cfg.key.bytes, a->cfg.key.len, buf, sizeof(buf));
	if (n < 0) {
		/* Fields are clamped above, so this is a bug, not an input problem. */
		log_error("publish", "cannot encode message seq=%u", m.seq);
		return;
	}
	ns_publish_send(a->pub, buf, (size_t)n);
	a->last_sent_flags = o->flags;
	a->sent_once = 1;
}

static void record_loop(struct ns_agent_hist *h, double secs)
{
	int b = 0;

	while (b < NS_AGENT_LOOP_BUCKETS && secs > ns_agent_loop_bounds[b])
		b++;
	h->bucket[b]++;
	h->count++;
	h->sum_s += secs;
}

/* CPU time of the calling thread: the loop's own cost, without the time
 * slices other processes took from it (which the wall time includes). */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A wall clock that moved apart from the monotonic one since the last tick
 * was stepped. Everything keeps its pace (monotonic); what the step changes
 * is the date on the samples, the history rows and the messages, which the
 * extender refuses beyond its --skew / --future-skew until the clock is
 * right again. */
static void check_clock(struct ns_agent *a, uint64_t now_ns, uint64_t wall_ms)
{
	if (a->clk_mono_ns) {
		int64_t dw = (int64_t)(wall_ms - a->clk_wall_ms);
		int64_t dm = (int64_t)((now_ns - a->clk_mono_ns) / 1000000u);
		int64_t jump = dw - dm;

		if (jump > NS_AGENT_CLOCK_JUMP_MS || jump < -NS_AGENT_CLOCK_JUMP_MS) {
			a->clock_jumps++;
			a->clock_jump_ms = jump;
			log_warning("agent",
				    "wall clock jumped jump_ms=%+lld: messages and history rows "
				    "carry the new time, the extender refuses messages beyond its "
				    "skew bounds until the clock is right",
				    (long long)jump);
		}
	}
	a->clk_mono_ns = now_ns;
	a->clk_wall_ms = wall_ms;
}

void ns_agent_tick(struct ns_agent *a, uint64_t now_ns)
{
	struct ns_sample s;
	struct ns_score_input in;
	struct ns_score_output o;
	enum ns_src_state st[NS_AGENT_SRC_COUNT];
	uint64_t fails[NS_AGENT_SRC_COUNT];
	uint64_t t0 = ns_mono_ns(), c0 = thread_cpu_ns();
	int degraded = 0, immediate = 0;
	const uint8_t watch = NS_FLAG_ANOMALY | NS_FLAG_DEGRADED;

	ns_sample_init(&s, ns_now_ms());
	check_clock(a, t0, s.ts_ms);
	ns_procstat_sample(&a->procstat, &s);
	ns_meminfo_sample(&a->meminfo, &s);
	ns_loadavg_sample(&a->loadavg, &s);
	ns_psi_sample(&a->psi, &s);
	ns_pods_sample(&a->pods, &s);
	ns_agent_sample_net(a, &s);
	ns_agent_sample_disk(a, &s);

	for (int i = 0; i < NS_AGENT_SRC_COUNT; i++) {
		st[i] = a->health[i]->state;
		fails[i] = a->health[i]->failures;
	}
	/* Unavailable (no PSI in this kernel) is normal; failing is degraded. */
	for (int i = 0; i < NS_AGENT_SRC_COUNT; i++)
		if (st[i] == NS_SRC_STATE_FAILING)
			degraded = 1;

	ns_score_input_init(&in);
	ns_score_input_from_sample(&in, &s);
	in.degraded = degraded;
	/* Model seam: the anomaly detector, forecaster and Q-table fill their
	 * fields; what they leave NaN keeps the heuristic. */
	if (a->model)
		a->model(a->model_ctx, &s, &in);
	ns_score_compute(&a->cfg.weights, &in, &o);

	ns_history_add(&a->hist, &s);
	if (a->history_wanted) {
		uint64_t step = a->cfg.history_interval_ms * 1000000ull;

		if (a->next_history_ns == 0) {
			a->next_history_ns = now_ns + step;
		} else if (now_ns >= a->next_history_ns) {
			if (!a->ring)
				ns_agent_history_retry(a, now_ns);
			ns_agent_history_flush(a, s.ts_ms);
			a->next_history_ns += step;
			if (now_ns >= a->next_history_ns)
				a->next_history_ns = now_ns + step;
		}
	}

	if (a->pub) {
		if (!a->sent_once || now_ns >= a->next_publish_ns) {
			publish(a, &s, &o);
		} else if ((o.flags & watch) != (a->last_sent_flags & watch)) {
			/* The scheduler should hear about a sick node now, not next interval. */
			publish(a, &s, &o);
			immediate = 1;
		}
		if (now_ns >= a->next_publish_ns) {
			uint64_t step = a->cfg.publish_interval_ms * 1000000ull;

			if (a->next_publish_ns == 0 || now_ns - a->next_publish_ns > step)
				a->next_publish_ns = now_ns + step;
			else
				a->next_publish_ns += step;
		}
	}

	pthread_mutex_lock(&a->mu);
	a->snap.sample = s;
	a->snap.score = o;
	a->snap.top_feature[0] = '\0';
	if (o.top_feature)
		snprintf(a->snap.top_feature, sizeof(a->snap.top_feature), "%s", o.top_feature);
	a->snap.score.top_feature = NULL;
	memcpy(a->snap.src, st, sizeof(st));
	memcpy(a->snap.src_failures, fails, sizeof(fails));
	a->snap.pods_layout = ns_pods_layout_name(a->pods.layout);
	if (a->pub) {
		a->snap.published = ns_publish_sent(a->pub);
		a->snap.publish_errors = ns_publish_errors(a->pub);
	}
	a->snap.publish_immediate += (uint64_t)immediate;
	a->snap.seq = a->seq;
	a->snap.history_appends = a->history_appends;
	a->snap.history_errors = a->history_errors;
	a->snap.history_enabled = a->ring != NULL;
	a->snap.history_damaged = a->history_damaged;
	a->snap.clock_jumps = a->clock_jumps;
	a->snap.clock_jump_ms = a->clock_jump_ms;
	a->snap.models_enabled = a->models != NULL;
	if (a->models)
		ns_models_stats(a->models, &a->snap.models);
	a->snap.ticks++;
	a->snap.last_tick_mono_ns = now_ns > t0 ? now_ns : t0;
	record_loop(&a->snap.loop_wall, (double)(ns_mono_ns() - t0) / 1e9);
	record_loop(&a->snap.loop_cpu, (double)(thread_cpu_ns() - c0) / 1e9);
	pthread_mutex_unlock(&a->mu);
}

int ns_agent_run(struct ns_agent *a, volatile sig_atomic_t *stop)
{
	uint64_t step = a->cfg.interval_ms * 1000000ull;
	uint64_t next = ns_mono_ns();
	int abs_failed = 0;

	while (!*stop) {
		struct timespec ts;
		uint64_t now;
		int r;

		ts.tv_sec = (time_t)(next / 1000000000ull);
		ts.tv_nsec = (long)(next % 1000000000ull);
		r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (r == EINTR)
			continue; /* a signal: the loop condition decides */
		if (r) {
			/* Refused (libfaketime 0.9.10 with DONT_FAKE_MONOTONIC gives
			 * EINVAL here): going on would tick as fast as the CPU allows.
			 * Sleep what is left of the interval as a relative time. */
			if (!abs_failed)
				log_warning("agent",
					    "absolute sleep failed, sleeping relative intervals "
					    "error=\"%s\"",
					    strerror(r));
			abs_failed = 1;
			now = ns_mono_ns();
			if (next > now) {
				ts.tv_sec = (time_t)((next - now) / 1000000000ull);
				ts.tv_nsec = (long)((next - now) % 1000000000ull);
				if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
					continue;
			}
		}
		if (*stop)
			break;
		now = ns_mono_ns();
		ns_agent_tick(a, now);
		/* Absolute deadlines: no drift. After a stall, skip the missed ticks
		 * instead of bursting to catch up. */
		next += step;
		if (now > next)
			next += ((now - next) / step + 1) * step;
	}
	return 0;
}

void ns_agent_snapshot(struct ns_agent *a, struct ns_agent_snapshot *out)
{
	pthread_mutex_lock(&a->mu);
	*out = a->snap;
	pthread_mutex_unlock(&a->mu);
}

void ns_agent_close(struct ns_agent *a)
{
	if (!a)
		return;
	/* HTTP first: its thread reads the snapshot. */
	ns_http_stop(a->http);
	if (a->ring && a->hist.count)
		ns_agent_history_flush(a, ns_now_ms());
	ns_ringlog_close(a->ring);
	ns_publish_close(a->pub);
	ns_netlat_close(a->netlat);
	ns_disklat_close(a->disklat);
	pthread_mutex_destroy(&a->mu);
	ns_key_wipe(&a->cfg.key);
	free(a);
}
