/* SPDX-License-Identifier: MIT */
/* Internal: the agent's state, shared by its files. agent.c owns open,
 * close, the tick and the loop; agent_latency.c the network and disk
 * latency sources; agent_history.c the history ring. Callers use
 * nodescore/agent.h. */
#ifndef NODESCORE_AGENT_AGENT_INT_H
#define NODESCORE_AGENT_AGENT_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "nodescore/agent.h"
#include "nodescore/disklat.h"
#include "nodescore/history.h"
#include "nodescore/http.h"
#include "nodescore/loadavg.h"
#include "nodescore/meminfo.h"
#include "nodescore/netlat.h"
#include "nodescore/pods.h"
#include "nodescore/procstat.h"
#include "nodescore/psi.h"
#include "nodescore/publish.h"
#include "nodescore/ring.h"

struct ns_agent {
	struct ns_agent_config cfg;
	struct ns_procstat procstat;
	struct ns_meminfo meminfo;
	struct ns_loadavg loadavg;
	struct ns_psi psi;
	struct ns_pods pods;
	struct ns_netlat *netlat; /* NULL when no path works: source failing */
	struct ns_disklat *disklat;
	struct ns_src_health net_health, disk_health;
	struct ns_src_health *health[NS_AGENT_SRC_COUNT]; /* each source's, by index */
	struct ns_publisher *pub;
	struct ns_http *http;
	struct ns_http_route routes[2];
	struct ns_history_acc hist;
	struct ns_ring *ring; /* NULL: history off or unavailable */
	int history_wanted;   /* configured; ring NULL means the state dir failed */
	uint64_t history_retry_ns, history_backoff_ns;
	uint64_t history_damaged; /* corrupt + stale records found at the last open */
	ns_agent_model_fn model;
	void *model_ctx;
	struct ns_models *models; /* for the snapshot; NULL without models */
	uint64_t next_publish_ns, next_history_ns;
	uint32_t nonce, seq;
	uint8_t last_sent_flags;
	int sent_once;
	uint64_t history_appends, history_errors;
	int last_history_err;
	/* Wall-clock step detection: both clocks at the previous tick. */
	uint64_t clk_mono_ns, clk_wall_ms;
	uint64_t clock_jumps;
	int64_t clock_jump_ms;
	pthread_mutex_t mu;
	struct ns_agent_snapshot snap; /* guarded by mu */
};

/* Latency sources choose BPF or their fallback and log which (agent_latency.c). */
void ns_agent_latency_open(struct ns_agent *a);
/* One interval of each latency source into s; NaN and a health count when
 * the source is missing or failing. */
void ns_agent_sample_net(struct ns_agent *a, struct ns_sample *s);
void ns_agent_sample_disk(struct ns_agent *a, struct ns_sample *s);

/* Opens the ring under cfg.state_dir (agent_history.c). 0 or -errno,
 * reason in err. */
int ns_agent_history_open(struct ns_agent *a, char *err, size_t errlen);
/* Whether an open error is the configuration's, which refuses to start. */
int ns_agent_history_fatal(int e);
void ns_agent_history_retry(struct ns_agent *a, uint64_t now_ns);
void ns_agent_history_flush(struct ns_agent *a, uint64_t ts_ms);

#endif
