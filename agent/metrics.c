// SPDX-License-Identifier: MIT
/* Prometheus text exposition of the agent snapshot. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nodescore/agent.h"
#include "nodescore/textout.h"

static void gauge_head(struct ns_textout *o, const char *name, const char *type, const char *help)
{
	ns_textout_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Prometheus spells the special values NaN, +Inf, -Inf. */
static void put_value(struct ns_textout *o, double v)
{
	if (isnan(v))
		ns_textout_printf(o, " NaN\n");
	else if (isinf(v))
		ns_textout_printf(o, v > 0 ? " +Inf\n" : " -Inf\n");
	else
		ns_textout_printf(o, " %.17g\n", v);
}

static void simple(struct ns_textout *o, const char *name, const char *type, const char *help,
		   const char *node, double v)
{
	gauge_head(o, name, type, help);
	ns_textout_printf(o, "%s{node=\"%s\"}", name, node);
	put_value(o, v);
}

static const char *const metric_help[NS_METRIC_COUNT] = {
    [NS_M_CPU_UTIL] = "CPU busy share over the last interval, 0..1 (/proc/stat).",
    [NS_M_MEM_UTIL] = "Memory utilisation, 1 - MemAvailable/MemTotal.",
    [NS_M_LOAD1] = "1-minute load average.",
    [NS_M_LOAD5] = "5-minute load average.",
    [NS_M_LOAD15] = "15-minute load average.",
    [NS_M_NCPU] = "Online CPUs.",
    [NS_M_MEM_TOTAL_MIB] = "MemTotal, bytes.",
    [NS_M_MEM_AVAIL_MIB] = "MemAvailable, bytes.",
    [NS_M_PSI_CPU_SOME] = "PSI cpu some avg10, percent.",
    [NS_M_PSI_MEM_SOME] = "PSI memory some avg10, percent.",
    [NS_M_PSI_MEM_FULL] = "PSI memory full avg10, percent.",
    [NS_M_PSI_IO_SOME] = "PSI io some avg10, percent.",
    [NS_M_PSI_IO_FULL] = "PSI io full avg10, percent.",
    [NS_M_PODS] = "Pods in the kubepods cgroup tree.",
    [NS_M_POD_CPU_REQ_M] = "Summed pod CPU requests, cores (from cpu.weight/cpu.shares).",
    [NS_M_POD_MEM_LIM_MIB] = "Summed pod memory limits, bytes (unlimited pods excluded).",
    [NS_M_POD_CPU_USE] = "CPU used by all pods, cores.",
    [NS_M_POD_MEM_USE_MIB] = "Memory used by all pods, bytes.",
    [NS_M_RTT_P50_US] = "TCP smoothed RTT p50 over established sockets, seconds.",
    [NS_M_RTT_P99_US] = "TCP smoothed RTT p99 over established sockets, seconds.",
    [NS_M_TCP_RETRANS] = "TCP retransmits per second.",
    [NS_M_DISK_P50_US] = "Block request latency p50, seconds.",
    [NS_M_DISK_P99_US] = "Block request latency p99, seconds.",
    [NS_M_DISK_IOPS] = "Block requests completed per second.",
};

static void histogram(struct ns_textout *o, const char *name, const char *help, const char *node,
		      const struct ns_agent_hist *h)
{
	uint64_t cum = 0;

	gauge_head(o, name, "histogram", help);
	for (int b = 0; b < NS_AGENT_LOOP_BUCKETS; b++) {
		cum += h->bucket[b];
		ns_textout_printf(o, "%s_bucket{node=\"%s\",le=\"%g\"} %llu\n", name, node,
				  ns_agent_loop_bounds[b], (unsigned long long)cum);
	}
	cum += h->bucket[NS_AGENT_LOOP_BUCKETS];
	ns_textout_printf(o, "%s_bucket{node=\"%s\",le=\"+Inf\"} %llu\n", name, node,
			  (unsigned long long)cum);
	ns_textout_printf(o, "%s_sum{node=\"%s\"} %.9f\n", name, node, h->sum_s);
	ns_textout_printf(o, "%s_count{node=\"%s\"} %llu\n", name, node,
			  (unsigned long long)h->count);
}

/* Label values come from model files (manifest version) and feature names:
 * keep to a safe charset so a hostile manifest cannot break the exposition. */
static void label(char *dst, size_t cap, const char *src)
{
	size_t n = 0;

	for (; src && *src && n + 1 < cap; src++) {
		unsigned char c = (unsigned char)*src;

		dst[n++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '_';
	}
	dst[n] = '\0';
}

static void models(struct ns_textout *o, const char *node, const struct ns_models_stats *m)
{
	const struct {
		const char *name;
		const struct ns_models_model_stats *st;
	} mods[] = {{"forecast", &m->forecast}, {"anomaly", &m->anomaly}, {"qtable", &m->qtable}};
	const size_t nmods = sizeof(mods) / sizeof(mods[0]);
	char v[80];

	gauge_head(o, "nodescore_agent_model_loaded", "gauge",
		   "1 when the model is loaded and used (version from the bundle manifest or the "
		   "model file).");
	for (size_t i = 0; i < nmods; i++) {
		label(v, sizeof(v), mods[i].st->loaded ? mods[i].st->version : "");
		ns_textout_printf(
		    o, "nodescore_agent_model_loaded{node=\"%s\",model=\"%s\",version=\"%s\"} %d\n",
		    node, mods[i].name, v, mods[i].st->loaded);
	}
	gauge_head(o, "nodescore_agent_model_reloads_total", "counter",
		   "Changed model files validated and swapped in.");
	for (size_t i = 0; i < nmods; i++)
		ns_textout_printf(
		    o, "nodescore_agent_model_reloads_total{node=\"%s\",model=\"%s\"} %llu\n", node,
		    mods[i].name, (unsigned long long)mods[i].st->reloads);
	gauge_head(o, "nodescore_agent_model_reload_rejected_total", "counter",
		   "Changed model files refused (the previous model stays).");
	for (size_t i = 0; i < nmods; i++)
		ns_textout_printf(
		    o,
		    "nodescore_agent_model_reload_rejected_total{node=\"%s\",model=\"%s\"} %llu\n",
		    node, mods[i].name, (unsigned long long)mods[i].st->rejected);

	gauge_head(o, "nodescore_agent_forecast_peak", "gauge",
		   "Forecaster output: peak utilisation 0..1 over the horizon (NaN without one).");
	ns_textout_printf(
	    o, "nodescore_agent_forecast_peak{node=\"%s\",resource=\"cpu\",horizon_seconds=\"%u\"}",
	    node, m->horizon_s);
	put_value(o, m->cpu_peak_fc);
	ns_textout_printf(
	    o, "nodescore_agent_forecast_peak{node=\"%s\",resource=\"mem\",horizon_seconds=\"%u\"}",
	    node, m->horizon_s);
	put_value(o, m->mem_peak_fc);
	simple(o, "nodescore_agent_forecast_predictions_total", "counter",
	       "Forecaster runs (one per feature step).", node, (double)m->predicts);
	simple(o, "nodescore_agent_forecast_predict_seconds", "gauge",
	       "Wall time of the last forecaster run.", node, m->predict_s);
	simple(o, "nodescore_agent_forecast_predict_max_seconds", "gauge",
	       "Wall time of the slowest forecaster run since start.", node, m->predict_max_s);

	simple(o, "nodescore_agent_anomaly_raw_score", "gauge",
	       "Isolation forest score (0,1] of the last detector step (NaN before a model).", node,
	       m->anomaly_raw);
	simple(o, "nodescore_agent_anomaly_severity", "gauge",
	       "Std units of the feature that isolated the last step, 0 when ordinary.", node,
	       m->severity);
	simple(o, "nodescore_agent_anomaly_flag", "gauge",
	       "Detector flag after hysteresis (same as nodescore_agent_flag{flag=anomaly}).", node,
	       m->anomaly_flag);
	simple(o, "nodescore_agent_anomaly_updates_total", "counter",
	       "Detector steps (mean of the ticks of one --anomaly-step).", node,
	       (double)m->anomaly_updates);
	simple(o, "nodescore_agent_anomaly_refits_total", "counter",
	       "On-node refits whose challenger was kept.", node, (double)m->refits);
	simple(o, "nodescore_agent_anomaly_refits_rejected_total", "counter",
	       "On-node refits whose challenger was worse and discarded.", node,
	       (double)m->refits_rejected);
	label(v, sizeof(v), m->drift_feature);
	gauge_head(o, "nodescore_agent_anomaly_drift_psi", "gauge",
		   "Largest feature population stability index since the last fit (NaN before).");
	ns_textout_printf(o, "nodescore_agent_anomaly_drift_psi{node=\"%s\",feature=\"%s\"}", node,
			  v);
	put_value(o, m->drift_psi);
	simple(o, "nodescore_agent_anomaly_early_refits_total", "counter",
	       "Challenger fits asked for early because drift PSI was above 0.25.", node,
	       (double)m->early_refits);
	simple(o, "nodescore_agent_anomaly_drift_shifted", "gauge",
	       "1 when the drift PSI is above 0.25 (an early refit is asked for, at most hourly).",
	       node, m->drift_psi > 0.25 ? 1 : 0);
}

int ns_agent_metrics(const struct ns_agent_snapshot *s, char *buf, size_t cap)
{
	struct ns_textout o = {buf, cap, 0, 0};
	const char *node = s->node;
	char name[96];
	static const struct {
		unsigned bit;
		const char *name;
	} flags[] = {
	    {NS_FLAG_ANOMALY, "anomaly"},
	    {NS_FLAG_DEGRADED, "degraded"},
	    {NS_FLAG_MODEL_FALLBACK, "model_fallback"},
	    {NS_FLAG_DRAINING, "draining"},
	};
	static const enum ns_src_state states[] = {NS_SRC_STATE_UNKNOWN, NS_SRC_STATE_OK,
						   NS_SRC_STATE_FAILING, NS_SRC_STATE_UNAVAILABLE};
	if (cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	for (int i = 0; i < NS_METRIC_COUNT; i++) {
		snprintf(name, sizeof(name), "nodescore_node_%s", ns_metric_expo[i].name);
		simple(&o, name, "gauge", metric_help[i], node,
		       s->sample.v[i] * ns_metric_expo[i].scale);
	}

	simple(&o, "nodescore_agent_score", "gauge",
	       "Published node score, 0..1000 (higher is a better placement).", node,
	       s->score.score);
	simple(&o, "nodescore_agent_headroom", "gauge", "Headroom used by the score, 0..1.", node,
	       s->score.headroom);
	simple(&o, "nodescore_agent_pressure", "gauge",
	       "PSI penalty used by the score (max some avg10 / 100).", node, s->score.pressure);
	simple(&o, "nodescore_agent_anomaly_score", "gauge",
	       "Anomaly score 0..1 (0 while no anomaly model is loaded).", node, s->score.anomaly);
	simple(&o, "nodescore_agent_q_value", "gauge",
	       "Placement value used by the score (headroom without a Q-table).", node,
	       s->score.q_value);
	simple(&o, "nodescore_agent_cpu_peak_forecast", "gauge",
	       "Forecast CPU peak 0..1 (current value without a forecaster).", node,
	       s->score.cpu_peak);
	simple(&o, "nodescore_agent_mem_peak_forecast", "gauge",
	       "Forecast memory peak 0..1 (current value without a forecaster).", node,
	       s->score.mem_peak);
	simple(&o, "nodescore_agent_free_millicores", "gauge",
	       "Free CPU at the forecast horizon, millicores.", node, s->score.free_millicores);
	simple(&o, "nodescore_agent_free_mib", "gauge", "Free memory at the forecast horizon, MiB.",
	       node, s->score.free_mib);
	gauge_head(&o, "nodescore_agent_flag", "gauge", "Message flags, 1 when set.");
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		ns_textout_printf(&o, "nodescore_agent_flag{node=\"%s\",flag=\"%s\"} %d\n", node,
				  flags[i].name, (s->score.flags & flags[i].bit) ? 1 : 0);
	if (s->top_feature[0]) {
		label(name, sizeof(name), s->top_feature);
		gauge_head(&o, "nodescore_agent_anomaly_top_feature", "gauge",
			   "Feature contributing most to the anomaly score.");
		ns_textout_printf(
		    &o, "nodescore_agent_anomaly_top_feature{node=\"%s\",feature=\"%s\"} 1\n", node,
		    name);
	}

	if (s->models_enabled)
		models(&o, node, &s->models);

	gauge_head(&o, "nodescore_agent_source_healthy", "gauge",
		   "1 when the source's last sample succeeded (unavailable counts as healthy).");
	for (int i = 0; i < NS_AGENT_SRC_COUNT; i++)
		ns_textout_printf(
		    &o, "nodescore_agent_source_healthy{node=\"%s\",source=\"%s\"} %d\n", node,
		    ns_agent_src_names[i],
		    s->src[i] == NS_SRC_STATE_OK || s->src[i] == NS_SRC_STATE_UNAVAILABLE);
	gauge_head(&o, "nodescore_agent_source_state", "gauge",
		   "Source state, one series per state, 1 for the current one.");
	for (int i = 0; i < NS_AGENT_SRC_COUNT; i++)
		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
			ns_textout_printf(
			    &o,
			    "nodescore_agent_source_state{node=\"%s\",source=\"%s\",state=\"%s\"} "
			    "%d\n",
			    node, ns_agent_src_names[i], ns_src_state_name(states[k]),
			    s->src[i] == states[k]);
	gauge_head(&o, "nodescore_agent_source_failures_total", "counter",
		   "Failed samples per source.");
	for (int i = 0; i < NS_AGENT_SRC_COUNT; i++)
		ns_textout_printf(
		    &o, "nodescore_agent_source_failures_total{node=\"%s\",source=\"%s\"} %llu\n",
		    node, ns_agent_src_names[i], (unsigned long long)s->src_failures[i]);
	gauge_head(&o, "nodescore_agent_source_mode", "gauge",
		   "Measurement path per source: bpf or the fallback (sock_diag, diskstats).");
	ns_textout_printf(&o,
			  "nodescore_agent_source_mode{node=\"%s\",source=\"net\",mode=\"%s\"} 1\n",
			  node, s->net_mode);
	ns_textout_printf(
	    &o, "nodescore_agent_source_mode{node=\"%s\",source=\"disk\",mode=\"%s\"} 1\n", node,
	    s->disk_mode);
	ns_textout_printf(
	    &o, "nodescore_agent_source_mode{node=\"%s\",source=\"pods\",mode=\"%s\"} 1\n", node,
	    s->pods_layout);

	simple(&o, "nodescore_agent_publish_total", "counter", "Messages sent.", node,
	       (double)s->published);
	simple(&o, "nodescore_agent_publish_errors_total", "counter",
	       "Messages that failed to send.", node, (double)s->publish_errors);
	simple(&o, "nodescore_agent_publish_immediate_total", "counter",
	       "Messages sent early because the anomaly or degraded flag changed.", node,
	       (double)s->publish_immediate);
	simple(&o, "nodescore_agent_publish_endpoints", "gauge", "Extender endpoints connected to.",
	       node, s->publish_endpoints);
	simple(&o, "nodescore_agent_publish_seq", "gauge", "Sequence number of the last message.",
	       node, s->seq);
	simple(&o, "nodescore_agent_history_appends_total", "counter",
	       "Records appended to the history ring.", node, (double)s->history_appends);
	simple(&o, "nodescore_agent_history_errors_total", "counter",
	       "History intervals not written: failed appends, or the ring unavailable.", node,
	       (double)s->history_errors);
	simple(&o, "nodescore_agent_history_available", "gauge",
	       "1 while the history ring is open and written; 0 when off or the state dir failed.",
	       node, s->history_enabled);
	simple(&o, "nodescore_agent_history_damaged_records", "gauge",
	       "Damaged records (corrupt or stale) skipped when the ring was last opened.", node,
	       (double)s->history_damaged);
	simple(&o, "nodescore_agent_ticks_total", "counter", "Sampling loop iterations.", node,
	       (double)s->ticks);
	simple(&o, "nodescore_agent_interval_seconds", "gauge", "Sampling interval.", node,
	       (double)s->interval_ms / 1000.0);
	simple(&o, "nodescore_agent_start_time_seconds", "gauge", "Agent start, unix seconds.",
	       node, (double)s->start_ms / 1000.0);
	simple(&o, "nodescore_agent_clock_jumps_total", "counter",
	       "Wall-clock steps seen: the wall clock moved over 1 s apart from the monotonic one "
	       "between two ticks.",
	       node, (double)s->clock_jumps);
	simple(&o, "nodescore_agent_clock_jump_last_seconds", "gauge",
	       "The last wall-clock step, seconds (+ ahead, - back); 0 before one.", node,
	       (double)s->clock_jump_ms / 1000.0);

	histogram(&o, "nodescore_agent_loop_duration_seconds",
		  "Wall time of one sampling loop iteration (sample, score, publish).", node,
		  &s->loop_wall);
	histogram(&o, "nodescore_agent_loop_cpu_seconds",
		  "CPU time of the loop thread in one iteration (excludes preemption).", node,
		  &s->loop_cpu);
	if (o.overflow)
		return -ENOSPC;
	return (int)o.len;
}
