/* SPDX-License-Identifier: MIT */
/* The agent: samplers, scoring loop, history, publishing and the snapshot
 * the HTTP endpoints read. main.c only parses options and calls these. */
#ifndef NODESCORE_AGENT_H
#define NODESCORE_AGENT_H

#include <signal.h>
#include <stdint.h>

#include "nodescore/key.h"
#include "nodescore/models.h"
#include "nodescore/sample.h"
#include "nodescore/score.h"
#include "nodescore/source.h"
#include "nodescore/wire.h"

struct ns_agent_config {
	const char *proc_root;	 /* "" for the real / */
	const char *cgroup_root; /* "/sys/fs/cgroup" on a node */
	const char *state_dir;	 /* history.ring lives here; NULL: no history */
	const char *publish;	 /* comma-separated endpoints; NULL: do not publish */
	const char *listen_http; /* NULL: no HTTP server */
	char node_name[NS_WIRE_NAME_MAX + 1];
	uint64_t interval_ms;
	uint64_t publish_interval_ms;
	uint64_t history_interval_ms; /* 0: no history */
	uint32_t history_capacity;
	uint64_t pods_rescan_ms; /* full re-read of pod files when the pod set is unchanged */
	struct ns_score_weights weights;
	int no_bpf;
	struct ns_key key;
};

/* Sources in metrics order; index of ns_agent_snapshot.src. */
enum ns_agent_src {
	NS_AGENT_SRC_CPU = 0,
	NS_AGENT_SRC_MEM,
	NS_AGENT_SRC_LOAD,
	NS_AGENT_SRC_PSI,
	NS_AGENT_SRC_PODS,
	NS_AGENT_SRC_NET,
	NS_AGENT_SRC_DISK,
	NS_AGENT_SRC_COUNT,
};

extern const char *const ns_agent_src_names[NS_AGENT_SRC_COUNT];

/* Upper bounds (seconds) of the loop duration histogram; +Inf is implied. */
#define NS_AGENT_LOOP_BUCKETS 10
extern const double ns_agent_loop_bounds[NS_AGENT_LOOP_BUCKETS];

struct ns_agent_hist {
	uint64_t bucket[NS_AGENT_LOOP_BUCKETS + 1]; /* last is +Inf */
	uint64_t count;
	double sum_s;
};

struct ns_agent_snapshot {
	char node[NS_WIRE_NAME_MAX + 1];
	uint64_t start_ms;
	uint64_t ticks;
	uint64_t last_tick_mono_ns;
	uint64_t interval_ms;
	struct ns_sample sample;
	struct ns_score_output score;
	char top_feature[64]; /* copy: the model's string may change */
	enum ns_src_state src[NS_AGENT_SRC_COUNT];
	uint64_t src_failures[NS_AGENT_SRC_COUNT];
	const char *net_mode;  /* "bpf", "sock_diag", or "none" */
	const char *disk_mode; /* "bpf", "diskstats", or "none" */
	const char *pods_layout;
	uint64_t published, publish_errors, publish_immediate;
	uint32_t publish_endpoints;
	uint32_t seq;
	uint64_t history_appends, history_errors;
	int history_enabled;		/* the ring is open (0: off, or the state dir failed) */
	uint64_t history_damaged;	/* corrupt + stale records skipped at the last open */
	uint64_t clock_jumps;		/* wall-clock steps seen (ns_agent_tick) */
	int64_t clock_jump_ms;		/* the last one, + ahead / - back; 0 before one */
	struct ns_agent_hist loop_wall; /* wall time per iteration */
	struct ns_agent_hist loop_cpu;	/* the loop thread's CPU time per iteration */
	int models_enabled;		/* ns_agent_set_models was called */
	struct ns_models_stats models;
};

struct ns_agent;

/* Opens samplers, the publisher, the history ring and the HTTP server as
 * configured. Everything that can be wrong with the configuration fails
 * here with a reason in err. Returns 0 or -errno. */
int ns_agent_open(const struct ns_agent_config *cfg, struct ns_agent **out, char *err,
		  size_t errlen);

/* Model seam: called every tick on the loop thread after the measurements
 * are in `in` (ns_score_input_from_sample) and before ns_score_compute. It
 * sets the model fields it has (anomaly, anomaly_flag, cpu_peak_fc,
 * mem_peak_fc, q_value, top_feature: a string that lives until the next call)
 * and leaves the others NaN/NULL, which keeps the heuristic for them. It must
 * not block and should not allocate. NULL fn removes it. Call before
 * ns_agent_run. */
typedef void (*ns_agent_model_fn)(void *ctx, const struct ns_sample *s, struct ns_score_input *in);
void ns_agent_set_model(struct ns_agent *a, ns_agent_model_fn fn, void *ctx);

/* Plugs the on-node models in through the seam above (ns_models_tick) and
 * copies their stats into the snapshot every tick for /metrics. m stays
 * owned by the caller and must outlive the agent's loop. */
void ns_agent_set_models(struct ns_agent *a, struct ns_models *m);

/* One iteration: sample, score, accumulate history, publish when due.
 * now_mono_ns is the tick's deadline clock (CLOCK_MONOTONIC), which paces
 * everything; the sample, its history row and its message are dated by the
 * wall clock (CLOCK_REALTIME). A wall clock that moves more than
 * NS_AGENT_CLOCK_JUMP_MS away from the monotonic one between two ticks is
 * a step (NTP, an operator): one WARNING and a count, nothing else
 * changes. */
#define NS_AGENT_CLOCK_JUMP_MS 1000
void ns_agent_tick(struct ns_agent *a, uint64_t now_mono_ns);

/* Ticks every interval on absolute CLOCK_MONOTONIC deadlines until *stop is
 * set (SIGTERM/SIGINT). Should the absolute sleep fail (other than EINTR) it
 * sleeps the rest of the interval with nanosleep instead of spinning, with
 * one WARNING. Returns 0. */
int ns_agent_run(struct ns_agent *a, volatile sig_atomic_t *stop);

/* Consistent copy of the latest state (takes the snapshot mutex briefly). */
void ns_agent_snapshot(struct ns_agent *a, struct ns_agent_snapshot *out);

/* Renders Prometheus text exposition of a snapshot into buf. Returns the
 * length, or -ENOSPC when cap is too small (buf then holds a prefix). */
int ns_agent_metrics(const struct ns_agent_snapshot *s, char *buf, size_t cap);

/* HTTP port actually bound (for --listen-http with port 0), or 0. */
uint16_t ns_agent_http_port(const struct ns_agent *a);

/* NULL-safe; flushes a partial history interval. */
void ns_agent_close(struct ns_agent *a);

#endif
