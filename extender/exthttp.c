// SPDX-License-Identifier: MIT
/* Extender HTTP endpoints on libmicrohttpd: routing, bounded bodies,
 * Prometheus metrics, the HTML status page and shadow-mode accounting;
 * optional TLS and a bearer token on /metrics and the status page. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "nodescore/buf.h"
#include "nodescore/exthttp.h"
#include "nodescore/procmetrics.h"
#include "nodescore/log.h"
#include "nodescore/opt.h"

enum verb {
	V_FILTER = 0,
	V_PRIORITIZE,
	V_HEALTHZ,
	V_METRICS,
	V_STATUS,
	V_OTHER,
	V_COUNT,
};

static const char *const verb_names[V_COUNT] = {
    [V_FILTER] = "filter",   [V_PRIORITIZE] = "prioritize", [V_HEALTHZ] = "healthz",
    [V_METRICS] = "metrics", [V_STATUS] = "status",	    [V_OTHER] = "other",
};

enum code {
	C_200 = 0,
	C_400,
	C_401,
	C_404,
	C_405,
	C_413,
	C_500,
	C_503,
	C_COUNT,
};

static const unsigned code_values[C_COUNT] = {
    [C_200] = 200, [C_400] = 400, [C_401] = 401, [C_404] = 404,
    [C_405] = 405, [C_413] = 413, [C_500] = 500, [C_503] = 503,
};

/* Latency buckets in microseconds; the scheduler's budget is milliseconds. */
static const uint64_t bucket_us[] = {100,   250,   500,	  1000,	  2500,	  5000,
				     10000, 25000, 50000, 100000, 250000, 1000000};
#define NBUCKETS (sizeof(bucket_us) / sizeof(bucket_us[0]))

struct hist {
	_Atomic uint64_t le[NBUCKETS]; /* non-cumulative; summed when rendered */
	_Atomic uint64_t count, sum_ns;
};

/* Reply and body buffers are recycled: fresh 100 kB+ buffers cost a page
 * fault per 4 kB on first write, which was most of a 5,000-name request. */
#define POOL_MAX 64
/* Large buffers (20 MB full-object bodies) are worth keeping too, up to a
 * total: re-faulting 5,000 pages per request cost more than the parse. */
#define POOL_KEEP_BYTES (128u << 20)
/* Per-connection MHD memory: its read buffer lives here. 32 kB (the
 * default) meant a recv and a callback per 16 kB of a 20 MB body; MHD
 * clears the pool between requests, so 1 MB cost a 1 MB memset each. */
#define HTTP_CONN_MEMORY (128u << 10)
/* Bounds MHD's memory (x HTTP_CONN_MEMORY); the scheduler uses a handful. */
#define HTTP_MAX_CONNECTIONS 1024
/* How often the deadline watchdog looks at the open connections. */
#define WATCHDOG_MS 200

/* One per open connection, for the request deadline: a client sending a
 * byte a second keeps MHD's idle timeout from ever firing. */
struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t deadline_ns; /* 0: answering, no deadline */
};

/* Candidates of the last shadow prioritize shown in /metrics and on the
 * status page: enough to see the ranking, few series for Prometheus. */
#define SHADOW_TOP 5
/* Names in logs and on the page; Kubernetes names are at most 253 bytes. */
#define SHADOW_NAME 254

/* The last shadow prioritize, copied out of the per-thread scratch. */
struct shadow_last {
	uint64_t seq; /* 0: none yet */
	char pod[2 * SHADOW_NAME];
	char node[SHADOW_TOP][SHADOW_NAME];
	uint8_t score[SHADOW_TOP];
	size_t n;
	char base[SHADOW_NAME];
	enum ns_shadow_agree agree;
};

static const char *const agree_names[] = {
    [NS_SHADOW_NO_SIGNAL] = "no_signal",
    [NS_SHADOW_AGREE] = "agree",
    [NS_SHADOW_DISAGREE] = "disagree",
};

struct pbuf {
	struct ns_buf b;
	struct pbuf *next;
	struct ns_exthttp *h;
};

struct ns_exthttp {
	struct MHD_Daemon *d;
	pthread_mutex_t pool_mu;
	struct pbuf *pool;
	unsigned pool_n;
	size_t pool_bytes;
	struct ns_exthttp_cfg cfg;
	pthread_key_t ctx_key;
	_Atomic uint64_t requests[V_COUNT][C_COUNT];
	struct hist lat[2]; /* filter, prioritize */
	_Atomic uint64_t fail_open, failed_anomaly, failed_cpu, failed_mem, unknown, stale;
	_Atomic uint64_t body_too_large, over_budget, deadline_closed, bad_header;
	/* 401s by enum ns_auth_result (NS_AUTH_MISSING, NS_AUTH_INVALID). */
	_Atomic uint64_t unauthorized[NS_AUTH_INVALID + 1];
	_Atomic uint64_t bad_logged_s;
	/* Shadow mode: requests by verb (filter, prioritize), prioritize
	 * requests compared with least allocated and those that disagreed,
	 * nodes filter would have removed (anomaly, cpu, memory), would-be
	 * fail-opens, would-be scores 0..10, last log second per verb. */
	_Atomic uint64_t sh_requests[2], sh_compared, sh_disagree, sh_would[3], sh_fail_open;
	_Atomic uint64_t sh_scores[NS_EXT_SCORE_MAX + 1];
	_Atomic uint64_t sh_logged_s[2];
	pthread_mutex_t sh_mu;
	struct shadow_last sh_last;
	/* Bytes reserved by bodies being received or held, across connections:
	 * the per-request limit alone let 24 parallel 60 MB bodies take 1.4 GB. */
	_Atomic uint64_t inflight;
	pthread_mutex_t conn_mu;
	struct conn *conns;
	pthread_t watchdog;
	int watchdog_started;
	atomic_int stopping;
	/* While MHD_start_daemon runs, its first message is kept for the error
	 * (GnuTLS's reason for refusing a certificate, a bind failure) instead
	 * of being logged apart from it. */
	atomic_int starting;
	char start_msg[256];
};

struct req {
	enum verb verb;
	int post_ok; /* the method fits the route */
	int too_big;
	int over_budget;
	int close;		  /* answer with Connection: close */
	enum ns_auth_result auth; /* why a 401 (NS_AUTH_OK otherwise) */
	uint64_t reserved;	  /* bytes of h->inflight this request holds */
	uint64_t t0;
	struct pbuf *body;
};

static int budget_take(struct ns_exthttp *h, struct req *r, uint64_t n)
{
	uint64_t cur = atomic_load(&h->inflight);

	do {
		if (cur + n > h->cfg.body_budget)
			return -1;
	} while (!atomic_compare_exchange_weak(&h->inflight, &cur, cur + n));
	r->reserved += n;
	return 0;
}

static void budget_release(struct ns_exthttp *h, struct req *r)
{
	if (r->reserved)
		atomic_fetch_sub(&h->inflight, r->reserved);
	r->reserved = 0;
}

static struct pbuf *pbuf_get(struct ns_exthttp *h)
{
	struct pbuf *pb;

	pthread_mutex_lock(&h->pool_mu);
	/* Take the largest pooled buffer: over the byte budget, pbuf_put keeps
	 * empty shells, and a LIFO pop of those after a burst of big requests
	 * made every later request regrow 20 MB (memmove + page faults). */
	struct pbuf **best = NULL;
	for (struct pbuf **pp = &h->pool; *pp; pp = &(*pp)->next)
		if (!best || (*pp)->b.cap > (*best)->b.cap)
			best = pp;
	pb = best ? *best : NULL;
	if (pb) {
		*best = pb->next;
		h->pool_n--;
		h->pool_bytes -= pb->b.cap;
	}
	pthread_mutex_unlock(&h->pool_mu);
	if (!pb) {
		pb = calloc(1, sizeof(*pb));
		if (!pb)
			return NULL;
		pb->h = h;
	}
	pb->b.len = 0;
	pb->b.oom = 0;
	return pb;
}

/* Also MHD's free callback for replies: runs once the reply is sent. */
static void pbuf_put(void *cls)
{
	struct pbuf *pb = cls;
	struct ns_exthttp *h;

	if (!pb)
		return;
	h = pb->h;
	if (pb->b.oom)
		ns_buf_free(&pb->b);
	pthread_mutex_lock(&h->pool_mu);
	if (h->pool_bytes + pb->b.cap > POOL_KEEP_BYTES ||
	    h->pool_bytes + pb->b.cap > h->cfg.body_budget)
		ns_buf_free(&pb->b);
	if (h->pool_n < POOL_MAX) {
		pb->next = h->pool;
		h->pool = pb;
		h->pool_n++;
		h->pool_bytes += pb->b.cap;
		pb = NULL;
	}
	pthread_mutex_unlock(&h->pool_mu);
	if (pb) {
		ns_buf_free(&pb->b);
		free(pb);
	}
}

static void ctx_destroy(void *p)
{
	ns_extapi_ctx_free(p);
	free(p);
}

/* One extapi scratch per MHD thread: no allocation per node per request. */
static struct ns_extapi_ctx *thread_ctx(struct ns_exthttp *h)
{
	struct ns_extapi_ctx *c = pthread_getspecific(h->ctx_key);

	if (!c) {
		c = calloc(1, sizeof(*c));
		if (c && pthread_setspecific(h->ctx_key, c) != 0) {
			free(c);
			c = NULL;
		}
	}
	return c;
}

static enum code code_index(unsigned status)
{
	for (int i = 0; i < C_COUNT; i++)
		if (code_values[i] == status)
			return (enum code)i;
	return C_500;
}

/* The request is complete: its deadline no longer applies while the reply
 * goes out (MHD's idle timeout bounds a slow reader). */
static void conn_answering(struct ns_exthttp *h, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn *c = ci ? ci->socket_context : NULL;

	if (!c)
		return;
	pthread_mutex_lock(&h->conn_mu);
	c->deadline_ns = 0;
	pthread_mutex_unlock(&h->conn_mu);
}

/* Queues pb as the reply (ownership passes to MHD, back to the pool after
 * sending). pb may be NULL (out of memory): an empty 500 goes out. */
static enum MHD_Result reply(struct MHD_Connection *conn, struct ns_exthttp *h, struct req *r,
			     unsigned status, const char *ctype, struct pbuf *pb)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!pb || pb->b.oom) {
		pbuf_put(pb);
		pb = NULL;
		status = 500;
	}
	if (pb && pb->b.len)
		resp = MHD_create_response_from_buffer_with_free_callback_cls(pb->b.len, pb->b.p,
									      pbuf_put, pb);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		pbuf_put(pb);
		return MHD_NO;
	}
	if (pb && !pb->b.len)
		pbuf_put(pb);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	/* The body may be unread: the connection cannot carry another request. */
	if (status == 413 || status == 503 || r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	conn_answering(h, conn);
	if (status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					r->verb <= V_PRIORITIZE ? "POST" : "GET");
	/* RFC 6750 section 3: the scheme always, the error only for a token
	 * that was sent and is wrong. */
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					r->auth == NS_AUTH_INVALID
					    ? "Bearer realm=\"nodescore\", error=\"invalid_token\""
					    : "Bearer realm=\"nodescore\"");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	atomic_fetch_add_explicit(&h->requests[r->verb][code_index(status)], 1,
				  memory_order_relaxed);
	return ret;
}

/* At most one bad-request line a second: a broken client must not flood
 * the log; the counters in /metrics are exact. */
static int log_allowed(struct ns_exthttp *h)
{
	uint64_t now_s = ns_mono_ns() / 1000000000u, last = atomic_load(&h->bad_logged_s);

	return now_s != last && atomic_compare_exchange_strong(&h->bad_logged_s, &last, now_s);
}

static void observe(struct hist *hs, uint64_t ns)
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
			      verb_names[v], (unsigned long long)atomic_load(&h->sh_requests[v]));
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

static void render_metrics(struct ns_exthttp *h, struct ns_buf *b)
{
	const struct ns_table *t = h->cfg.table;
	uint64_t now = ns_mono_ns() / 1000000u;

	metric_head(b, "nodescore_extender_requests_total", "counter",
		    "HTTP requests by verb and status code.");
	for (int v = 0; v < V_COUNT; v++)
		for (int c = 0; c < C_COUNT; c++)
			ns_buf_printf(
			    b, "nodescore_extender_requests_total{verb=\"%s\",code=\"%u\"} %llu\n",
			    verb_names[v], code_values[c],
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
			    verb_names[v], (double)bucket_us[i] / 1e6, (unsigned long long)cum);
		}
		ns_buf_printf(
		    b,
		    "nodescore_extender_request_duration_seconds_bucket{verb=\"%s\",le=\"+Inf\"} "
		    "%llu\n",
		    verb_names[v], (unsigned long long)atomic_load(&h->lat[v].count));
		ns_buf_printf(b,
			      "nodescore_extender_request_duration_seconds_sum{verb=\"%s\"} %.9f\n",
			      verb_names[v], (double)atomic_load(&h->lat[v].sum_ns) / 1e9);
		ns_buf_printf(
		    b, "nodescore_extender_request_duration_seconds_count{verb=\"%s\"} %llu\n",
		    verb_names[v], (unsigned long long)atomic_load(&h->lat[v].count));
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
	metric_head(
	    b, "nodescore_extender_unauthorized_total", "counter",
	    "Requests for /metrics or the status page refused with 401 (--auth-token-file), "
	    "by reason: no Bearer credential, or a wrong one.");
	ns_buf_printf(b, "nodescore_extender_unauthorized_total{reason=\"missing\"} %llu\n",
		      (unsigned long long)atomic_load(&h->unauthorized[NS_AUTH_MISSING]));
	ns_buf_printf(b, "nodescore_extender_unauthorized_total{reason=\"invalid\"} %llu\n",
		      (unsigned long long)atomic_load(&h->unauthorized[NS_AUTH_INVALID]));
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

static int by_score_desc(const void *a, const void *b)
{
	const struct ns_node_entry *x = a, *y = b;

	if (x->d.score != y->d.score)
		return x->d.score < y->d.score ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Names here went through safe_name ([A-Za-z0-9._-?]): safe in HTML. */
static void render_shadow_status(struct ns_exthttp *h, struct ns_buf *b)
{
	uint64_t cmp = atomic_load(&h->sh_compared), dis = atomic_load(&h->sh_disagree);
	struct shadow_last l;

	ns_buf_printf(b,
		      "<h2>Shadow mode</h2>\n<p>--shadow: /filter passes every node and "
		      "/prioritize gives every node %d; in-flight holds are off. What nodescore "
		      "would have done: %llu filter and %llu prioritize requests; first choice not "
		      "least allocated in %llu of %llu compared (%.1f %%); would have filtered "
		      "%llu anomalous, %llu short of CPU, %llu short of memory; would have failed "
		      "open %llu times.</p>\n",
		      NS_EXT_SCORE_NEUTRAL, (unsigned long long)atomic_load(&h->sh_requests[0]),
		      (unsigned long long)atomic_load(&h->sh_requests[1]), (unsigned long long)dis,
		      (unsigned long long)cmp, cmp ? 100.0 * (double)dis / (double)cmp : 0.0,
		      (unsigned long long)atomic_load(&h->sh_would[0]),
		      (unsigned long long)atomic_load(&h->sh_would[1]),
		      (unsigned long long)atomic_load(&h->sh_would[2]),
		      (unsigned long long)atomic_load(&h->sh_fail_open));
	pthread_mutex_lock(&h->sh_mu);
	l = h->sh_last;
	pthread_mutex_unlock(&h->sh_mu);
	if (!l.seq)
		return;
	ns_buf_printf(b,
		      "<p>Last prioritize: pod %s, least allocated %s, %s.</p>\n<table>\n"
		      "<tr><th>rank</th><th>node</th><th>would-be score</th></tr>\n",
		      l.pod, l.base[0] ? l.base : "-", agree_names[l.agree]);
	for (size_t i = 0; i < l.n; i++)
		ns_buf_printf(b, "<tr><td>%zu</td><td>%s</td><td>%u</td></tr>\n", i + 1, l.node[i],
			      l.score[i]);
	ns_buf_puts(b, "</table>\n");
}

/* Text for HTML: every byte that could end an element or an attribute is
 * escaped. Node names are DNS-1123 today (ns_wire_name_valid), but the page
 * must stay safe if that rule is ever relaxed: names are untrusted. */
static void html_text(struct ns_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			ns_buf_puts(b, "&amp;");
			break;
		case '<':
			ns_buf_puts(b, "&lt;");
			break;
		case '>':
			ns_buf_puts(b, "&gt;");
			break;
		case '"':
			ns_buf_puts(b, "&quot;");
			break;
		case '\'':
			ns_buf_puts(b, "&#39;");
			break;
		default:
			ns_buf_putc(b, *s);
		}
	}
}

void ns_exthttp_html_text(struct ns_buf *b, const char *s)
{
	html_text(b, s);
}

#define NA_UNMEASURED "<td class=\"na\">n/a (unmeasured)</td>"

/* Per mille as a percentage with one decimal. */
static void pct(struct ns_buf *b, unsigned pm)
{
	ns_buf_printf(b, "<td>%u.%u%%</td>", pm / 10, pm % 10);
}

/* What /prioritize gives a default-class pod when every fresh node in the
 * table is a candidate and nothing is held (extapi.c normalise): the same
 * linear or rank spread over the candidates' values. */
struct prio_spread {
	unsigned rmin, rmax, distinct;
	uint16_t dense[1001];
};

static unsigned prio_value(const struct ns_node_data *d)
{
	unsigned v = (d->flags & NS_FLAG_ANOMALY) ? 0 : d->score;

	return v > 1000 ? 1000 : v;
}

static void prio_prepare(struct prio_spread *p, const struct ns_node_entry *e, const int *fresh,
			 size_t n, enum ns_normalize norm)
{
	p->rmin = 1001;
	p->rmax = 0;
	p->distinct = 0;
	memset(p->dense, 0, sizeof(p->dense));
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (!fresh[i])
			continue;
		v = prio_value(&e[i].d);
		p->rmin = v < p->rmin ? v : p->rmin;
		p->rmax = v > p->rmax ? v : p->rmax;
		p->dense[v] = 1;
	}
	if (norm == NS_NORM_RANK && p->rmax > p->rmin)
		for (unsigned r = p->rmin; r <= p->rmax; r++)
			if (p->dense[r])
				p->dense[r] = (uint16_t)p->distinct++;
}

static unsigned prio_score(const struct prio_spread *p, unsigned v, enum ns_normalize norm)
{
	if (p->rmax == p->rmin)
		return (v + 50) / 100;
	if (norm == NS_NORM_RANK)
		return (10u * p->dense[v] + (p->distinct - 1) / 2) / (p->distinct - 1);
	return (10u * (v - p->rmin) + (p->rmax - p->rmin) / 2) / (p->rmax - p->rmin);
}

static void render_status(struct ns_exthttp *h, struct ns_buf *b)
{
	const struct ns_table *t = h->cfg.table;
	enum ns_normalize norm = h->cfg.api.norm;
	uint32_t cap = ns_table_max_nodes(t);
	struct ns_node_entry *e = malloc((size_t)cap * sizeof(*e));
	int *fresh = malloc((size_t)cap * sizeof(*fresh));
	struct prio_spread *ps = malloc(sizeof(*ps));
	uint64_t now = ns_mono_ns() / 1000000u, ttl = h->cfg.api.ttl_ms;
	size_t n, nfresh = 0;

	if (!e || !fresh || !ps) {
		free(e);
		free(fresh);
		free(ps);
		b->oom = 1;
		return;
	}
	n = ns_table_snapshot(t, e, cap);
	qsort(e, n, sizeof(*e), by_score_desc);
	for (size_t i = 0; i < n; i++) {
		uint64_t age = now > e[i].d.recv_mono_ms ? now - e[i].d.recv_mono_ms : 0;

		fresh[i] = age <= ttl;
		nfresh += (size_t)fresh[i];
	}
	prio_prepare(ps, e, fresh, n, norm);
	ns_buf_printf(
	    b,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"refresh\" content=\"5\"><title>nodescore "
	    "extender</title>\n<style>body{font-family:sans-serif;margin:12px 16px;"
	    "color:#222}h1{font-size:1.4em;margin:0 0 6px}h2{font-size:1.1em;margin:14px 0 "
	    "4px}p,li{max-width:1200px;font-size:.9em;margin:4px 0}table{border-collapse:"
	    "collapse;font-size:.85em}td,th{padding:2px 5px;text-align:right;border-bottom:"
	    "1px solid #e4e4e4;white-space:nowrap}th{background:#eef2f7;position:sticky;top:0;"
	    "vertical-align:bottom;white-space:normal}th:nth-child(2),th:nth-child(5),td:nth-child("
	    "2),td:nth-child(5){text-align:"
	    "left}td:nth-child(5){white-space:normal;min-width:220px;max-width:320px}tr.stale{"
	    "color:#999}"
	    "tr.anomaly{background:#fdd}tr.fallback td:nth-child(5),tr.degraded td:nth-child(5)"
	    "{color:#8a5a00}.na{color:#888;white-space:normal}.ok{color:#2a7a2a}.nw{white-space:"
	    "nowrap}</style></head><body>\n"
	    "<h1>nodescore extender</h1>\n<p>%zu nodes, %u stale (TTL %llu ms), %llu "
	    "messages accepted</p>\n",
	    n, ns_table_stale(t, now, ttl), (unsigned long long)ttl,
	    (unsigned long long)ns_table_count(t, NS_WIRE_OK));
	if (h->cfg.api.shadow)
		render_shadow_status(h, b);
	ns_buf_puts(
	    b,
	    "<h2>How the ranking is made</h2>\n<ul>\n"
	    "<li><b>score</b> (0..1000) is computed by each node's agent: with the default "
	    "weights 1000 x (0.7 x headroom + 0.3 x (1 - anomaly)), where the agent's headroom is "
	    "the mean free share of CPU and memory at the <b>forecast peak</b> minus a PSI "
	    "pressure penalty. The forecast peak is never below the current use.</li>\n"
	    "<li><b>headroom at peak</b> = 100 % - max(CPU peak, memory peak), as the "
	    "<code>batch</code> class uses it; <b>free mCPU / MiB</b> are what /filter compares "
	    "with a pod's request.</li>\n");
	if (nfresh && ps->rmax > ps->rmin)
		ns_buf_printf(
		    b,
		    "<li><b>prio 0..10</b> is what /prioritize gives a default pod if every "
		    "fresh node is a candidate: the scores spread %s, best %u -> 10, worst %u "
		    "-> 0 (an anomalous node counts as 0).</li>\n",
		    norm == NS_NORM_RANK ? "by rank" : "linearly", ps->rmax, ps->rmin);
	else
		ns_buf_puts(
		    b, "<li><b>prio 0..10</b> is what /prioritize gives a default pod if every "
		       "fresh node is a candidate: all fresh nodes have the same value, so "
		       "each gets score / 100.</li>\n");
	ns_buf_puts(
	    b, "<li>An <b>anomalous</b> node is removed by /filter; a <b>stale</b> one (no "
	       "message within the TTL) and an unknown one get the neutral 5. <b>degraded</b> and "
	       "<b>model fallback</b> only say how the agent computed its score.</li>\n</ul>\n"
	       "<h2>Nodes</h2>\n<table id=\"nodes\">\n<tr><th>#</th><th>node</th><th>score</th>"
	       "<th>prio 0..10</th><th>flags and reasons</th><th>cpu now</th><th>cpu peak "
	       "(forecast)</th><th>mem now</th><th>mem peak (forecast)</th><th>headroom at "
	       "peak</th><th>free mCPU</th><th>free MiB</th><th>anomaly</th><th>rtt p99 us</th>"
	       "<th>pods</th><th>age s</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		const struct ns_node_data *d = &e[i].d;
		uint64_t age = now > d->recv_mono_ms ? now - d->recv_mono_ms : 0;
		int stale = !fresh[i], an = (d->flags & NS_FLAG_ANOMALY) != 0;
		int cpu_na =
		    (d->flags & NS_FLAG_DEGRADED) && d->free_millicores == NS_WIRE_FREE_UNKNOWN;
		int mem_na = (d->flags & NS_FLAG_DEGRADED) && d->free_mib == NS_WIRE_FREE_UNKNOWN;
		unsigned peak = d->cpu_peak_fc > d->mem_peak_fc ? d->cpu_peak_fc : d->mem_peak_fc;
		const char *sep = "";

		/* Kept on one line, name cell then score cell: scripts grep for
		 * "<td>NAME</td><td>SCORE</td>" and class="stale". */
		ns_buf_printf(b, "<tr class=\"%s\"><td>%zu</td><td>",
			      stale				    ? "stale"
			      : an				    ? "anomaly"
			      : (d->flags & NS_FLAG_DEGRADED)	    ? "degraded"
			      : (d->flags & NS_FLAG_MODEL_FALLBACK) ? "fallback"
								    : "",
			      i + 1);
		html_text(b, e[i].name);
		ns_buf_printf(b, "</td><td>%u</td>", d->score);
		if (stale)
			ns_buf_printf(b, "<td>%d <span class=\"na\">(stale)</span></td>",
				      NS_EXT_SCORE_NEUTRAL);
		else if (an)
			ns_buf_puts(b, "<td>0 <span class=\"na\">(filtered)</span></td>");
		else
			ns_buf_printf(b, "<td>%u</td>", prio_score(ps, prio_value(d), norm));
		ns_buf_puts(b, "<td>");
		if (stale) {
			ns_buf_printf(
			    b, "stale: silent %.1f s &gt; TTL %.1f s, /prioritize gives %d",
			    (double)age / 1000.0, (double)ttl / 1000.0, NS_EXT_SCORE_NEUTRAL);
			sep = "; ";
		}
		if (an) {
			ns_buf_printf(b,
				      "%s<b>anomaly flagged</b> by the node's detector: /filter "
				      "removes it",
				      sep);
			sep = "; ";
		}
		if ((d->flags & NS_FLAG_DEGRADED) && (cpu_na || mem_na)) {
			ns_buf_printf(b,
				      "%sdegraded: %s not measured, so the agent sends the neutral "
				      "score 500",
				      sep,
				      cpu_na && mem_na ? "CPU and memory"
				      : cpu_na	       ? "CPU"
						       : "memory");
			sep = "; ";
		} else if (d->flags & NS_FLAG_DEGRADED) {
			ns_buf_printf(b,
				      "%sdegraded: one of the agent's samplers is failing (e.g. no "
				      "pods cgroup); the score uses what is measured",
				      sep);
			sep = "; ";
		}
		if (d->flags & NS_FLAG_MODEL_FALLBACK) {
			ns_buf_printf(b,
				      "%smodel fallback: a model output is missing (forecast or "
				      "detector not ready, or no model): peak = now, anomaly 0",
				      sep);
			sep = "; ";
		}
		if (d->flags & NS_FLAG_DRAINING) {
			ns_buf_printf(b, "%sdraining: the node reports it is draining", sep);
			sep = "; ";
		}
		if (!*sep)
			ns_buf_puts(b, "<span class=\"ok\">ok</span>");
		ns_buf_puts(b, "</td>");
		/* A degraded agent that could not measure CPU or memory sends
		 * stand-ins there and "unknown" free amounts: not numbers to show. */
		if (cpu_na) {
			ns_buf_puts(b,
				    "<td colspan=\"2\" class=\"na\">n/a (CPU not measured)</td>");
		} else {
			pct(b, d->cpu_now);
			pct(b, d->cpu_peak_fc);
		}
		if (mem_na) {
			ns_buf_puts(
			    b, "<td colspan=\"2\" class=\"na\">n/a (memory not measured)</td>");
		} else {
			pct(b, d->mem_now);
			pct(b, d->mem_peak_fc);
		}
		if (cpu_na || mem_na)
			ns_buf_puts(b, "<td class=\"na\">n/a</td>");
		else
			pct(b, peak > 1000 ? 0 : 1000 - peak);
		if (d->free_millicores == NS_WIRE_FREE_UNKNOWN)
			ns_buf_puts(b, cpu_na ? "<td class=\"na\">n/a</td>" : NA_UNMEASURED);
		else
			ns_buf_printf(b, "<td>%u</td>", d->free_millicores);
		if (d->free_mib == NS_WIRE_FREE_UNKNOWN)
			ns_buf_puts(b, mem_na ? "<td class=\"na\">n/a</td>" : NA_UNMEASURED);
		else
			ns_buf_printf(b, "<td>%u</td>", d->free_mib);
		ns_buf_printf(b, "<td>%u.%03u%s</td>", d->anomaly / 1000u, d->anomaly % 1000u,
			      an ? " <b>flagged</b>" : "");
		if (d->rtt_p99_us)
			ns_buf_printf(b, "<td>%u</td>", d->rtt_p99_us);
		else
			ns_buf_puts(b, "<td class=\"na nw\">n/a (no TCP)</td>");
		ns_buf_printf(b, "<td>%u</td><td>%.1f", d->pods, (double)age / 1000.0);
		ns_buf_puts(b, "</td></tr>\n");
	}
	ns_buf_puts(b, "</table>\n</body></html>\n");
	free(ps);
	free(fresh);
	free(e);
}

/* 413 for a body over --max-body, 503 while the bodies of other requests
 * hold the --body-budget; the reply has the verb's error shape. Queued at
 * the first call when Content-Length already says so: MHD then answers and
 * closes without reading the body, so the client is told at once. */
static enum MHD_Result refuse_body(struct MHD_Connection *conn, struct ns_exthttp *h, struct req *r,
				   struct pbuf *out)
{
	char msg[128];
	unsigned status;

	if (r->too_big) {
		atomic_fetch_add_explicit(&h->body_too_large, 1, memory_order_relaxed);
		snprintf(msg, sizeof(msg), "request body larger than --max-body (%zu bytes)",
			 h->cfg.max_body);
		status = 413;
	} else {
		atomic_fetch_add_explicit(&h->over_budget, 1, memory_order_relaxed);
		snprintf(msg, sizeof(msg),
			 "request bodies in flight exceed --body-budget (%zu bytes), retry",
			 h->cfg.body_budget);
		status = 503;
	}
	ns_buf_puts(&out->b, r->verb == V_FILTER
				 ? "{\"Nodes\":null,\"NodeNames\":null,\"FailedNodes\":{},"
				   "\"FailedAndUnresolvableNodes\":{},\"Error\":"
				 : "{\"Error\":");
	ns_buf_put_json_str(&out->b, msg, strlen(msg));
	ns_buf_putc(&out->b, '}');
	if (log_allowed(h))
		log_info("http", "request refused verb=%s status=%u error=\"%s\"",
			 verb_names[r->verb], status, msg);
	pbuf_put(r->body);
	r->body = NULL;
	budget_release(h, r);
	return reply(conn, h, r, status, "application/json", out);
}

/* Request names are untrusted and go into log lines, the status page and
 * label values: keep the characters Kubernetes names use, mark the rest. */
static void safe_name(char *dst, size_t cap, const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		char ch = s[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
		dst[k++] = ok ? ch : '?';
	}
	dst[k] = '\0';
}

static void pod_label(const struct ns_ext_args *a, char *dst, size_t cap)
{
	char ns[SHADOW_NAME], name[SHADOW_NAME];

	safe_name(ns, sizeof(ns), a->pod_ns ? a->pod_ns : "", a->pod_ns_len);
	safe_name(name, sizeof(name), a->pod_name ? a->pod_name : "", a->pod_name_len);
	snprintf(dst, cap, "%s%s%s", ns, ns[0] ? "/" : "", name[0] ? name : "-");
}

/* One rate-limited INFO line per request at most, per verb at most one a
 * second: a busy scheduler asks hundreds of times a second. */
static int shadow_log_allowed(struct ns_exthttp *h, int verb)
{
	uint64_t now_s = ns_mono_ns() / 1000000000u, last = atomic_load(&h->sh_logged_s[verb]);

	return now_s != last && atomic_compare_exchange_strong(&h->sh_logged_s[verb], &last, now_s);
}

static void shadow_account(struct ns_exthttp *h, const struct ns_extapi_ctx *c, enum verb verb,
			   const struct ns_extapi_stats *st)
{
	const struct ns_ext_args *a = &c->args;
	uint32_t would = st->fail_open ? 0 : st->failed_anomaly + st->failed_cpu + st->failed_mem;
	char pod[2 * SHADOW_NAME];

	atomic_fetch_add_explicit(&h->sh_requests[verb], 1, memory_order_relaxed);
	if (verb == V_FILTER) {
		/* Counted here only: prioritize re-derives the same removals and
		 * would count every pod twice. */
		if (st->fail_open) {
			atomic_fetch_add_explicit(&h->sh_fail_open, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&h->sh_would[0], st->failed_anomaly,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&h->sh_would[1], st->failed_cpu,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&h->sh_would[2], st->failed_mem,
						  memory_order_relaxed);
		}
		if ((would || st->fail_open) && shadow_log_allowed(h, V_FILTER)) {
			pod_label(a, pod, sizeof(pod));
			log_info("shadow",
				 "filter pod=%s candidates=%u would_filter=%u anomaly=%u cpu=%u "
				 "memory=%u fail_open=%d (at most one line a second)",
				 pod, st->nodes, would, st->fail_open ? 0 : st->failed_anomaly,
				 st->fail_open ? 0 : st->failed_cpu,
				 st->fail_open ? 0 : st->failed_mem, st->fail_open);
		}
		return;
	}
	for (int i = 0; i <= NS_EXT_SCORE_MAX; i++)
		if (st->would_scores[i])
			atomic_fetch_add_explicit(&h->sh_scores[i], st->would_scores[i],
						  memory_order_relaxed);
	if (st->agree != NS_SHADOW_NO_SIGNAL)
		atomic_fetch_add_explicit(&h->sh_compared, 1, memory_order_relaxed);
	if (st->agree == NS_SHADOW_DISAGREE)
		atomic_fetch_add_explicit(&h->sh_disagree, 1, memory_order_relaxed);

	struct shadow_last l;
	size_t idx[SHADOW_TOP];
	memset(&l, 0, sizeof(l));
	pod_label(a, l.pod, sizeof(l.pod));
	l.n = ns_extapi_shadow_ranking(c, idx, l.score, SHADOW_TOP);
	for (size_t i = 0; i < l.n; i++)
		safe_name(l.node[i], sizeof(l.node[i]), a->nodes[idx[i]].name,
			  a->nodes[idx[i]].name_len);
	if (st->base_top != SIZE_MAX)
		safe_name(l.base, sizeof(l.base), a->nodes[st->base_top].name,
			  a->nodes[st->base_top].name_len);
	l.agree = st->agree;
	pthread_mutex_lock(&h->sh_mu);
	l.seq = h->sh_last.seq + 1;
	h->sh_last = l;
	pthread_mutex_unlock(&h->sh_mu);
	if (shadow_log_allowed(h, V_PRIORITIZE)) {
		char top[SHADOW_NAME] = "-";
		if (st->top != SIZE_MAX)
			safe_name(top, sizeof(top), a->nodes[st->top].name,
				  a->nodes[st->top].name_len);
		log_info("shadow",
			 "prioritize pod=%s top=%s least_allocated=%s agreement=%s candidates=%u "
			 "would_filter=%u (at most one line a second)",
			 l.pod, top, l.base[0] ? l.base : "-", agree_names[st->agree], st->nodes,
			 would);
	}
}

static enum MHD_Result serve_verb(struct MHD_Connection *conn, struct ns_exthttp *h, struct req *r)
{
	struct ns_extapi_ctx *c = thread_ctx(h);
	struct ns_extapi_stats st;
	struct pbuf *out = pbuf_get(h);
	const char *body = r->body ? r->body->b.p : NULL;
	size_t blen = r->body ? r->body->b.len : 0;
	struct ns_extapi_now now = {ns_now_ms(), ns_mono_ns() / 1000000u};
	int status;

	if (!c || !out || (r->body && r->body->b.oom))
		return reply(conn, h, r, 500, "application/json", NULL);
	if (r->too_big || r->over_budget)
		return refuse_body(conn, h, r, out);
	if (r->verb == V_FILTER)
		status =
		    ns_extapi_filter(c, h->cfg.table, &h->cfg.api, now, body, blen, &out->b, &st);
	else
		status = ns_extapi_prioritize(c, h->cfg.table, &h->cfg.api, now, body, blen,
					      &out->b, &st);
	if (status == 200) {
		atomic_fetch_add_explicit(&h->unknown, st.unknown, memory_order_relaxed);
		atomic_fetch_add_explicit(&h->stale, st.stale, memory_order_relaxed);
		if (h->cfg.api.shadow) {
			/* Nothing was filtered: the real counters stay at zero. */
			shadow_account(h, c, r->verb, &st);
		} else if (r->verb == V_FILTER) {
			atomic_fetch_add_explicit(&h->fail_open, (uint64_t)st.fail_open,
						  memory_order_relaxed);
			if (!st.fail_open) {
				atomic_fetch_add_explicit(&h->failed_anomaly, st.failed_anomaly,
							  memory_order_relaxed);
				atomic_fetch_add_explicit(&h->failed_cpu, st.failed_cpu,
							  memory_order_relaxed);
				atomic_fetch_add_explicit(&h->failed_mem, st.failed_mem,
							  memory_order_relaxed);
			}
		}
	} else {
		if (log_allowed(h))
			log_info("http", "bad request verb=%s status=%d error=\"%s\"",
				 verb_names[r->verb], status, c->args.err);
	}
	/* The body is no longer referenced: recycle it before the reply goes
	 * out so a 20 MB body does not live for the whole send. */
	pbuf_put(r->body);
	r->body = NULL;
	budget_release(h, r);
	observe(&h->lat[r->verb], ns_mono_ns() - r->t0);
	return reply(conn, h, r, (unsigned)status, "application/json", out);
}

/* 401 for /metrics or the status page without the bearer token. The log
 * line names the client and the reason, never what it sent. */
static enum MHD_Result unauthorized(struct MHD_Connection *conn, struct ns_exthttp *h,
				    struct req *r, struct pbuf *out)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *why = r->auth == NS_AUTH_INVALID ? "invalid" : "missing";

	atomic_fetch_add_explicit(&h->unauthorized[r->auth], 1, memory_order_relaxed);
	if (log_allowed(h)) {
		char addr[INET6_ADDRSTRLEN] = "?";
		const struct sockaddr *sa = ci ? ci->client_addr : NULL;
		if (sa && sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
				  sizeof(addr));
		else if (sa && sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
				  sizeof(addr));
		log_warning("http",
			    "refused request without a valid bearer token verb=%s reason=%s "
			    "client=%s",
			    verb_names[r->verb], why, addr);
	}
	ns_buf_puts(&out->b,
		    "unauthorized: send Authorization: Bearer <token of --auth-token-file>\n");
	return reply(conn, h, r, 401, "text/plain; charset=utf-8", out);
}

static enum verb route(const char *url)
{
	if (strcmp(url, "/filter") == 0)
		return V_FILTER;
	if (strcmp(url, "/prioritize") == 0)
		return V_PRIORITIZE;
	if (strcmp(url, "/healthz") == 0)
		return V_HEALTHZ;
	if (strcmp(url, "/metrics") == 0)
		return V_METRICS;
	if (strcmp(url, "/") == 0)
		return V_STATUS;
	return V_OTHER;
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	unsigned *n = cls;

	(void)kind;
	(void)value;
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
		(*n)++;
	return MHD_YES;
}

/* How many Content-Length headers the request has; *first is the first. */
static unsigned count_content_length(struct MHD_Connection *conn, const char **first)
{
	unsigned n = 0;

	MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &n);
	*first = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	return n;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	struct ns_exthttp *h = cls;
	struct req *r = *con_cls;
	struct pbuf *out;

	(void)version;
	if (!r) {
		const char *cl;
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->t0 = ns_mono_ns();
		r->verb = route(url);
		r->post_ok = r->verb <= V_PRIORITIZE
				 ? strcmp(method, MHD_HTTP_METHOD_POST) == 0
				 : strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
				       strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
		/* Owned by MHD from here: completed() frees it on every path. */
		*con_cls = r;
		if (count_content_length(conn, &cl) > 1) {
			/* Two lengths are a smuggling attempt or a broken proxy:
			 * which one a front end used is unknowable. */
			atomic_fetch_add_explicit(&h->bad_header, 1, memory_order_relaxed);
			r->close = 1;
			out = pbuf_get(h);
			if (!out)
				return MHD_NO;
			ns_buf_puts(&out->b, "repeated Content-Length header\n");
			return reply(conn, h, r, 400, "text/plain; charset=utf-8", out);
		}
		if (r->verb <= V_PRIORITIZE && r->post_ok) {
			uint64_t n = 0;
			if (cl && (ns_parse_u64(cl, 0, UINT64_MAX, &n) < 0 || n > h->cfg.max_body))
				r->too_big = 1;
			else if (cl && budget_take(h, r, n) < 0)
				r->over_budget = 1;
			else if (!(r->body = pbuf_get(h)))
				return MHD_NO;
			else if (cl && n)
				/* A claimed length is not data: reserve at most 16 MiB
				 * up front, grow past that only as bytes arrive. */
				ns_buf_reserve(&r->body->b,
					       (size_t)(n < (16u << 20) ? n : (16u << 20)));
			if (r->too_big || r->over_budget) {
				out = pbuf_get(h);
				if (!out)
					return MHD_NO;
				return refuse_body(conn, h, r, out);
			}
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* Bodies of other routes and oversized bodies are read and dropped:
		 * answering mid-upload would leave the client writing into a
		 * closed socket. */
		if (r->body && !r->too_big && !r->over_budget) {
			size_t len = r->body->b.len + *upload_data_size;
			/* Chunked bodies (no Content-Length) reserve as they grow. */
			if (len > h->cfg.max_body)
				r->too_big = 1;
			else if (len > r->reserved && budget_take(h, r, len - r->reserved) < 0)
				r->over_budget = 1;
			else
				ns_buf_put(&r->body->b, upload_data, *upload_data_size);
			if (r->too_big || r->over_budget) {
				pbuf_put(r->body);
				r->body = NULL;
				budget_release(h, r);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	out = pbuf_get(h);
	if (!out)
		return reply(conn, h, r, 500, "text/plain; charset=utf-8", NULL);
	if (r->verb == V_OTHER) {
		ns_buf_puts(&out->b, "not found\n");
		return reply(conn, h, r, 404, "text/plain; charset=utf-8", out);
	}
	if ((r->verb == V_METRICS || r->verb == V_STATUS) && h->cfg.token &&
	    (r->auth = ns_httpsec_token_check(
		 h->cfg.token, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_AUTHORIZATION))) !=
		NS_AUTH_OK)
		return unauthorized(conn, h, r, out);
	if (!r->post_ok) {
		ns_buf_puts(&out->b, "method not allowed\n");
		return reply(conn, h, r, 405, "text/plain; charset=utf-8", out);
	}
	switch (r->verb) {
	case V_FILTER:
	case V_PRIORITIZE:
		pbuf_put(out);
		return serve_verb(conn, h, r);
	case V_HEALTHZ:
		ns_buf_puts(&out->b, "ok\n");
		return reply(conn, h, r, 200, "text/plain; charset=utf-8", out);
	case V_METRICS:
		render_metrics(h, &out->b);
		return reply(conn, h, r, 200, "text/plain; version=0.0.4; charset=utf-8", out);
	default:
		render_status(h, &out->b);
		return reply(conn, h, r, 200, "text/html; charset=utf-8", out);
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct ns_exthttp *h = cls;
	struct req *r = *con_cls;
	const union MHD_ConnectionInfo *ci;
	struct conn *c;

	(void)toe;
	if (!r)
		return;
	pbuf_put(r->body);
	budget_release(h, r);
	free(r);
	*con_cls = NULL;
	/* The next request on a keep-alive connection gets its own deadline. */
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	c = ci ? ci->socket_context : NULL;
	if (c) {
		pthread_mutex_lock(&h->conn_mu);
		c->deadline_ns = ns_mono_ns() + h->cfg.request_timeout_ms * 1000000ull;
		pthread_mutex_unlock(&h->conn_mu);
	}
}

/* Tracks connections for the watchdog; MHD calls this before it closes
 * the socket, so the watchdog never touches a reused descriptor. */
static void notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	struct ns_exthttp *h = cls;
	struct conn *c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		if (!c)
			return; /* untracked: MHD's idle timeout still applies */
		c->fd = ci ? ci->connect_fd : -1;
		c->deadline_ns = ns_mono_ns() + h->cfg.request_timeout_ms * 1000000ull;
		pthread_mutex_lock(&h->conn_mu);
		c->next = h->conns;
		if (h->conns)
			h->conns->prev = c;
		h->conns = c;
		pthread_mutex_unlock(&h->conn_mu);
		*socket_context = c;
		return;
	}
	if (!c)
		return;
	pthread_mutex_lock(&h->conn_mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&h->conn_mu);
	free(c);
	*socket_context = NULL;
}

/* Shuts down connections whose request (headers and body) is not complete
 * within --request-timeout of the connection opening or the previous reply.
 * shutdown() only wakes MHD's poll with an error; MHD closes and frees. */
static void *watchdog(void *arg)
{
	struct ns_exthttp *h = arg;
	struct timespec ts = {0, WATCHDOG_MS * 1000000L};

	while (!atomic_load(&h->stopping)) {
		uint64_t now, n = 0;
		nanosleep(&ts, NULL);
		now = ns_mono_ns();
		pthread_mutex_lock(&h->conn_mu);
		for (struct conn *c = h->conns; c; c = c->next)
			if (c->deadline_ns && now > c->deadline_ns && c->fd >= 0) {
				shutdown(c->fd, SHUT_RDWR);
				c->deadline_ns = 0;
				n++;
			}
		pthread_mutex_unlock(&h->conn_mu);
		if (n) {
			atomic_fetch_add_explicit(&h->deadline_closed, n, memory_order_relaxed);
			if (log_allowed(h))
				log_info("http",
					 "closed connections past the request deadline count=%llu",
					 (unsigned long long)n);
		}
	}
	return NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct ns_exthttp *h = cls;

	if (atomic_load(&h->starting)) {
		if (!h->start_msg[0]) {
			size_t n;
			vsnprintf(h->start_msg, sizeof(h->start_msg), fmt, ap);
			n = strlen(h->start_msg);
			while (n && (h->start_msg[n - 1] == '\n' || h->start_msg[n - 1] == '.'))
				h->start_msg[--n] = '\0';
		}
		return;
	}
	if (NS_LOG_WARNING <= ns_log_max)
		ns_log_vwrite(NS_LOG_WARNING, "http", 0, fmt, ap);
}

int ns_exthttp_parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon, *port;
	uint64_t p;
	size_t hl;

	if (!s || !*s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		hl = (size_t)(rb - s - 1);
		if (hl == 0 || hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, hl);
		port = rb + 2;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	if (ns_parse_u64(port, 0, 65535, &p) < 0)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		if (hl == 0)
			a4->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*len = sizeof(*a4);
	}
	return 0;
}

int ns_exthttp_start(const struct ns_exthttp_cfg *cfg, struct ns_exthttp **out, char *err,
		     size_t errlen)
{
	struct ns_exthttp *h = calloc(1, sizeof(*h));
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	int e;

	*out = NULL;
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->cfg = *cfg;
	pthread_mutex_init(&h->pool_mu, NULL);
	pthread_mutex_init(&h->conn_mu, NULL);
	pthread_mutex_init(&h->sh_mu, NULL);
	if (!h->cfg.body_budget)
		h->cfg.body_budget = h->cfg.max_body;
	if (!h->cfg.request_timeout_ms)
		h->cfg.request_timeout_ms = 10000;
	if (!h->cfg.per_ip_limit)
		h->cfg.per_ip_limit = 64;
	if (h->cfg.threads < 1)
		h->cfg.threads = 1;
	e = pthread_key_create(&h->ctx_key, ctx_destroy);
	if (e) {
		free(h);
		snprintf(err, errlen, "pthread_key_create: %s", strerror(e));
		return -e;
	}
	if (cfg->addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!cfg->tls_cert != !cfg->tls_key) {
		pthread_key_delete(h->ctx_key);
		free(h);
		snprintf(err, errlen, "TLS needs both a certificate and a key");
		return -EINVAL;
	}
	if (cfg->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			pthread_key_delete(h->ctx_key);
			free(h);
			snprintf(err, errlen, "this libmicrohttpd was built without TLS support");
			return -ENOTSUP;
		}
		flags |= MHD_USE_TLS;
	}
	/* MHD warns about a pool of one: leave the option out instead. */
	struct MHD_OptionItem pool[] = {
	    {h->cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
	     (intptr_t)h->cfg.threads, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	/* TLS 1.2 and 1.3 only: every kube-scheduler and Prometheus speaks
	 * them, and older versions only widen what a client can downgrade to. */
	struct MHD_OptionItem tls[] = {
	    {cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)cfg->tls_cert},
	    {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
	    {MHD_OPTION_END, 0, NULL},
	};
	/* The logger must come first or MHD prints early messages itself. */
	atomic_store(&h->starting, 1);
	errno = 0;
	h->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, &h->cfg.addr, MHD_OPTION_ARRAY, pool, MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION, notify_conn, h,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)((h->cfg.request_timeout_ms + 999) / 1000),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->cfg.per_ip_limit, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)HTTP_MAX_CONNECTIONS, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)HTTP_CONN_MEMORY, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
	atomic_store(&h->starting, 0);
	if (!h->d) {
		e = errno ? errno : EADDRINUSE;
		snprintf(err, errlen, "cannot start %s server: %s%s",
			 cfg->tls_cert ? "HTTPS" : "HTTP",
			 h->start_msg[0] ? h->start_msg : strerror(e),
			 cfg->tls_cert ? " (--tls-cert must be a PEM certificate and --tls-key its "
					 "unencrypted PEM key)"
				       : "");
		pthread_key_delete(h->ctx_key);
		free(h);
		return -e;
	}
	if (h->start_msg[0])
		log_warning("http", "%s", h->start_msg);
	e = pthread_create(&h->watchdog, NULL, watchdog, h);
	if (e) {
		MHD_stop_daemon(h->d);
		pthread_key_delete(h->ctx_key);
		free(h);
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		return -e;
	}
	h->watchdog_started = 1;
	*out = h;
	return 0;
}

uint16_t ns_exthttp_port(const struct ns_exthttp *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

	return i ? i->port : 0;
}

void ns_exthttp_stop(struct ns_exthttp *h)
{
	if (!h)
		return;
	atomic_store(&h->stopping, 1);
	if (h->watchdog_started)
		pthread_join(h->watchdog, NULL);
	MHD_stop_daemon(h->d);
	pthread_key_delete(h->ctx_key);
	while (h->pool) {
		struct pbuf *pb = h->pool;
		h->pool = pb->next;
		ns_buf_free(&pb->b);
		free(pb);
	}
	pthread_mutex_destroy(&h->pool_mu);
	pthread_mutex_destroy(&h->conn_mu);
	pthread_mutex_destroy(&h->sh_mu);
	free(h);
}
