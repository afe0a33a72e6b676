// SPDX-License-Identifier: MIT
/* The extender's GET /metrics: request latency histograms and the
 * Prometheus text exposition of the server's, the table's, the holds' and
 * shadow mode's counters, followed by the process_* metrics. */
#include <assert.h>
#include <stdatomic.h>

#include "nodescore/clock.h"
#include "nodescore/procmetrics.h"
#include "nodescore/reserve.h"
#include "nodescore/table.h"
#include "exthttp_int.h"

/* Latency buckets in microseconds; the scheduler's budget is milliseconds. */
static const uint64_t bucket_us[] = {100,   250,   500,	  1000,	  2500,	  5000,
				     10000, 25000, 50000, 100000, 250000, 1000000};
static_assert(sizeof(bucket_us) / sizeof(bucket_us[0]) == NBUCKETS,
	      "NBUCKETS in exthttp_int.h is the number of bucket_us");

void ns_exthttp_observe(struct hist *hs, uint64_t ns)
{
	uint64_t us = ns / 1000;
	size_t i = 0;

	while (i < NBUCKETS && us > bucket_us[i])
		i++;
	if (i < NBUCKETS)
		atomic_fetch_add_explicit(&hs->le[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hs->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hs->sum_ns, ns, memory_order_relaxed);
}

static void metric_head(struct ns_buf *b, const char *name, const char *type, const char *help)
{
	ns_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One unlabelled sample with its HELP and TYPE lines. */
static void metric_one(struct ns_buf *b, const char *name, const char *type, const char *help,
		       unsigned long long v)
{
	metric_head(b, name, type, help);
	ns_buf_printf(b, "%s %llu\n", name, v);
}

/* A refusal counter with reason="missing" and reason="invalid". */
static void metric_refusals(struct ns_buf *b, const char *name, const char *help,
			    _Atomic uint64_t *missing, _Atomic uint64_t *invalid)
{
	metric_head(b, name, "counter", help);
	ns_buf_printf(b, "%s{reason=\"missing\"} %llu\n", name,
		      (unsigned long long)atomic_load(missing));
	ns_buf_printf(b, "%s{reason=\"invalid\"} %llu\n", name,
		      (unsigned long long)atomic_load(invalid));
}

/* Present in both modes, so dashboards and alerts need no second query. */
static void render_shadow_metrics(struct ns_exthttp *h, struct ns_buf *b)
{
	static const char *const reasons[3] = {"anomaly", "cpu", "memory"};
	struct shadow_last l;

	metric_one(b, "nodescore_extender_shadow", "gauge",
		   "1 when --shadow: replies are neutral and decisions only counted.",
		   (unsigned long long)(h->cfg.api.shadow != 0));
	metric_head(b, "nodescore_extender_shadow_requests_total", "counter",
		    "Filter and prioritize requests answered neutrally in shadow mode.");
	for (int v = 0; v < 2; v++)
		ns_buf_printf(b, "nodescore_extender_shadow_requests_total{verb=\"%s\"} %llu\n",
			      ns_exthttp_verb_names[v],
			      (unsigned long long)atomic_load(&h->sh_requests[v]));
	metric_one(
	    b, "nodescore_extender_shadow_compared_total", "counter",
	    "Shadow prioritize requests with both a would-be and a least-allocated first choice.",
	    atomic_load(&h->sh_compared));
	metric_one(b, "nodescore_extender_shadow_disagree_total", "counter",
		   "Compared shadow prioritize requests whose would-be first choice is not least "
		   "allocated.",
		   atomic_load(&h->sh_disagree));
	metric_head(b, "nodescore_extender_shadow_would_filter_total", "counter",
		    "Candidate nodes shadow filter would have removed, by reason.");
	for (int i = 0; i < 3; i++)
		ns_buf_printf(b,
			      "nodescore_extender_shadow_would_filter_total{reason=\"%s\"} %llu\n",
			      reasons[i], (unsigned long long)atomic_load(&h->sh_would[i]));
	metric_one(b, "nodescore_extender_shadow_would_fail_open_total", "counter",
		   "Shadow filter calls whose signals would have removed every node (fail open).",
		   atomic_load(&h->sh_fail_open));
	metric_head(b, "nodescore_extender_shadow_scores_total", "counter",
		    "Would-be prioritize scores given in shadow mode, by score.");
	for (int i = 0; i <= NS_EXT_SCORE_MAX; i++)
		ns_buf_printf(b, "nodescore_extender_shadow_scores_total{score=\"%d\"} %llu\n", i,
			      (unsigned long long)atomic_load(&h->sh_scores[i]));
	pthread_mutex_lock(&h->sh_mu);
	l = h->sh_last;
	pthread_mutex_unlock(&h->sh_mu);
	metric_head(
	    b, "nodescore_extender_shadow_last_ranking", "gauge",
	    "Would-be score of the first candidates of the last shadow prioritize, by rank.");
	for (size_t i = 0; i < l.n; i++)
		ns_buf_printf(
		    b, "nodescore_extender_shadow_last_ranking{rank=\"%zu\",node=\"%s\"} %u\n",
		    i + 1, l.node[i], l.score[i]);
}

void ns_exthttp_render_metrics(struct ns_exthttp *h, struct ns_buf *b)
{
	const struct ns_table *t = h->cfg.table;
	uint64_t now = ns_mono_ns() / 1000000u;

	metric_head(b, "nodescore_extender_requests_total", "counter",
		    "HTTP requests by verb and status code.");
	for (int v = 0; v < V_COUNT; v++)
		for (int c = 0; c < C_COUNT; c++)
			ns_buf_printf(
			    b, "nodescore_extender_requests_total{verb=\"%s\",code=\"%u\"} %llu\n",
			    ns_exthttp_verb_names[v], ns_exthttp_code_values[c],
			    (unsigned long long)atomic_load(&h->requests[v][c]));
	metric_head(b, "nodescore_extender_request_duration_seconds", "histogram",
		    "Time to answer filter and prioritize, body received to reply queued.");
	for (int v = 0; v < 2; v++) {
		uint64_t cum = 0;
		for (size_t i = 0; i < NBUCKETS; i++) {
			cum += atomic_load(&h->lat[v].le[i]);
			ns_buf_printf(
			    b,
			    "nodescore_extender_request_duration_seconds_bucket{verb=\"%s\","
			    "le=\"%g\"} %llu\n",
			    ns_exthttp_verb_names[v], (double)bucket_us[i] / 1e6,
			    (unsigned long long)cum);
		}
		ns_buf_printf(
		    b,
		    "nodescore_extender_request_duration_seconds_bucket{verb=\"%s\",le=\"+Inf\"} "
		    "%llu\n",
		    ns_exthttp_verb_names[v], (unsigned long long)atomic_load(&h->lat[v].count));
		ns_buf_printf(
		    b, "nodescore_extender_request_duration_seconds_sum{verb=\"%s\"} %.9f\n",
		    ns_exthttp_verb_names[v], (double)atomic_load(&h->lat[v].sum_ns) / 1e9);
		ns_buf_printf(
		    b, "nodescore_extender_request_duration_seconds_count{verb=\"%s\"} %llu\n",
		    ns_exthttp_verb_names[v], (unsigned long long)atomic_load(&h->lat[v].count));
	}
	metric_head(b, "nodescore_extender_table_nodes", "gauge", "Nodes in the score table.");
	ns_buf_printf(b, "nodescore_extender_table_nodes %u\n", ns_table_size(t));
	metric_head(b, "nodescore_extender_table_capacity", "gauge",
		    "Maximum nodes the table accepts (--max-nodes).");
	ns_buf_printf(b, "nodescore_extender_table_capacity %u\n", ns_table_max_nodes(t));
	metric_head(b, "nodescore_extender_table_evictions_total", "counter",
		    "Long-silent nodes dropped to make room in a full table.");
	ns_buf_printf(b, "nodescore_extender_table_evictions_total %llu\n",
		      (unsigned long long)ns_table_evicted(t));
	metric_head(b, "nodescore_extender_stale_nodes", "gauge",
		    "Nodes whose last message is older than the TTL.");
	ns_buf_printf(b, "nodescore_extender_stale_nodes %u\n",
		      ns_table_stale(t, now, h->cfg.api.ttl_ms));
	metric_head(b, "nodescore_extender_messages_accepted_total", "counter",
		    "Score messages verified and stored.");
	ns_buf_printf(b, "nodescore_extender_messages_accepted_total %llu\n",
		      (unsigned long long)ns_table_count(t, NS_WIRE_OK));
	metric_head(b, "nodescore_extender_messages_rejected_total", "counter",
		    "Score messages refused, by reason.");
	for (int s = 1; s < NS_WIRE_STATUS_COUNT; s++)
		ns_buf_printf(b, "nodescore_extender_messages_rejected_total{reason=\"%s\"} %llu\n",
			      ns_wire_strerror((enum ns_wire_status)s),
			      (unsigned long long)ns_table_count(t, (enum ns_wire_status)s));
	metric_one(b, "nodescore_extender_key_rotation", "gauge",
		   "1 while --key-file-next is set: messages failing the current master key's node "
		   "key are checked under the next one's.",
		   (unsigned long long)ns_table_has_next_key(t));
	metric_head(b, "nodescore_extender_messages_verified_total", "counter",
		    "Score messages whose MAC verified, by master key (current, next); counted "
		    "while --key-file-next is set.");
	ns_buf_printf(b, "nodescore_extender_messages_verified_total{key=\"current\"} %llu\n",
		      (unsigned long long)ns_table_key_verified(t, 0));
	ns_buf_printf(b, "nodescore_extender_messages_verified_total{key=\"next\"} %llu\n",
		      (unsigned long long)ns_table_key_verified(t, 1));
	metric_head(b, "nodescore_extender_filtered_nodes_total", "counter",
		    "Candidate nodes removed by filter, by reason.");
	ns_buf_printf(b, "nodescore_extender_filtered_nodes_total{reason=\"anomaly\"} %llu\n",
		      (unsigned long long)atomic_load(&h->failed_anomaly));
	ns_buf_printf(b, "nodescore_extender_filtered_nodes_total{reason=\"cpu\"} %llu\n",
		      (unsigned long long)atomic_load(&h->failed_cpu));
	ns_buf_printf(b, "nodescore_extender_filtered_nodes_total{reason=\"memory\"} %llu\n",
		      (unsigned long long)atomic_load(&h->failed_mem));
	metric_one(b, "nodescore_extender_fail_open_total", "counter",
		   "Filter calls that kept every node because its signals would remove all.",
		   atomic_load(&h->fail_open));
	metric_head(b, "nodescore_extender_candidates_without_signal_total", "counter",
		    "Candidates answered with the neutral score, by why.");
	ns_buf_printf(b,
		      "nodescore_extender_candidates_without_signal_total{why=\"unknown\"} %llu\n",
		      (unsigned long long)atomic_load(&h->unknown));
	ns_buf_printf(b, "nodescore_extender_candidates_without_signal_total{why=\"stale\"} %llu\n",
		      (unsigned long long)atomic_load(&h->stale));
	metric_one(b, "nodescore_extender_body_too_large_total", "counter",
		   "Requests refused because the body exceeded --max-body.",
		   atomic_load(&h->body_too_large));
	metric_one(b, "nodescore_extender_body_budget_exceeded_total", "counter",
		   "Requests refused with 503 because bodies in flight would exceed --body-budget.",
		   atomic_load(&h->over_budget));
	metric_one(b, "nodescore_extender_body_inflight_bytes", "gauge",
		   "Request body bytes reserved across connections now.",
		   atomic_load(&h->inflight));
	metric_one(
	    b, "nodescore_extender_request_deadline_closed_total", "counter",
	    "Connections closed because a request was not received within --request-timeout.",
	    atomic_load(&h->deadline_closed));
	metric_one(b, "nodescore_extender_bad_header_total", "counter",
		   "Requests refused with 400 for repeated or conflicting Content-Length headers.",
		   atomic_load(&h->bad_header));
	metric_refusals(b, "nodescore_extender_unauthorized_total",
			"Requests for /metrics or the status page refused with 401 "
			"(--auth-token-file), by reason: no Bearer credential, or a wrong one.",
			&h->unauthorized[NS_AUTH_MISSING], &h->unauthorized[NS_AUTH_INVALID]);
	metric_refusals(b, "nodescore_extender_client_cert_refused_total",
			"Requests refused with 403 under --tls-client-ca, by reason: no client "
			"certificate, or one that does not verify against the CA.",
			&h->cert_refused[NS_PEER_MISSING], &h->cert_refused[NS_PEER_INVALID]);
	if (h->cfg.api.resv) {
		struct ns_reserve_stats rs;
		ns_reserve_stats(h->cfg.api.resv, &rs);
		metric_one(
		    b, "nodescore_extender_reservations_active", "gauge",
		    "Nodes holding the requests of pods ranked first since their last score.",
		    ns_reserve_active(h->cfg.api.resv));
		metric_head(b, "nodescore_extender_reservations_total", "counter",
			    "Pod requests held against the node prioritize ranked first, and holds "
			    "ended, by outcome.");
		ns_buf_printf(b, "nodescore_extender_reservations_total{outcome=\"made\"} %llu\n",
			      (unsigned long long)rs.made);
		ns_buf_printf(b,
			      "nodescore_extender_reservations_total{outcome=\"settled\"} %llu\n",
			      (unsigned long long)rs.settled);
		ns_buf_printf(b,
			      "nodescore_extender_reservations_total{outcome=\"expired\"} %llu\n",
			      (unsigned long long)rs.expired);
		ns_buf_printf(b,
			      "nodescore_extender_reservations_total{outcome=\"replaced\"} %llu\n",
			      (unsigned long long)rs.replaced);
	}
	render_shadow_metrics(h, b);
	{
		char pm[2048];
		int n = ns_procmetrics(pm, sizeof(pm), "extender");
		if (n > 0)
			ns_buf_put(b, pm, (size_t)n);
	}
}
