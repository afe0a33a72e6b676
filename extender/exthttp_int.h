/* SPDX-License-Identifier: MIT */
/* Internal: the server state the extender's HTTP files share. exthttp.c
 * owns the server and routing, exthttp_limits.c the body budget, buffers
 * and request deadlines, exthttp_auth.c TLS and the bearer token,
 * exthttp_metrics.c /metrics, exthttp_status.c the status page and
 * exthttp_shadow.c shadow-mode accounting. Callers use nodescore/exthttp.h. */
#ifndef NODESCORE_EXTENDER_EXTHTTP_INT_H
#define NODESCORE_EXTENDER_EXTHTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "nodescore/buf.h"
#include "nodescore/extapi.h"
#include "nodescore/exthttp.h"
#include "nodescore/httpsec.h"

enum verb {
	V_FILTER = 0,
	V_PRIORITIZE,
	V_HEALTHZ,
	V_METRICS,
	V_STATUS,
	V_OTHER,
	V_COUNT,
};

/* Label values of the verbs and the status codes counted (exthttp.c). */
extern const char *const ns_exthttp_verb_names[V_COUNT];

enum code {
	C_200 = 0,
	C_400,
	C_401,
	C_403,
	C_404,
	C_405,
	C_413,
	C_500,
	C_503,
	C_COUNT,
};

extern const unsigned ns_exthttp_code_values[C_COUNT];

/* Latency buckets (their bounds: bucket_us in exthttp_metrics.c). */
#define NBUCKETS 12

struct hist {
	_Atomic uint64_t le[NBUCKETS]; /* non-cumulative; summed when rendered */
	_Atomic uint64_t count, sum_ns;
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

/* Label values of enum ns_shadow_agree (exthttp_shadow.c). */
extern const char *const ns_exthttp_agree_names[NS_SHADOW_DISAGREE + 1];

struct pbuf {
	struct ns_buf b;
	struct pbuf *next;
	struct ns_exthttp *h;
};

/* One per open connection (exthttp_limits.c). */
struct conn;

/* A connection's client certificate under --tls-client-ca. */
enum ns_peer {
	NS_PEER_UNKNOWN = 0, /* not checked yet on this connection */
	NS_PEER_OK,
	NS_PEER_MISSING, /* none presented */
	NS_PEER_INVALID, /* presented, but does not chain to the CA, expired, ... */
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
	/* 403s for want of a valid client certificate, by enum ns_peer. */
	_Atomic uint64_t cert_refused[NS_PEER_INVALID + 1];
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

/* --- exthttp.c ------------------------------------------------------------ */
/* Queues pb (may be NULL: a 500) as the reply with status and ctype. */
enum MHD_Result ns_exthttp_reply(struct MHD_Connection *conn, struct ns_exthttp *h, struct req *r,
				 unsigned status, const char *ctype, struct pbuf *pb);
/* 1 at most once a second: whether a request's INFO line may be logged. */
int ns_exthttp_log_allowed(struct ns_exthttp *h);

/* --- exthttp_limits.c ------------------------------------------------------ */
/* Reserves n body bytes of --body-budget for r; -1 when that would exceed it. */
int ns_exthttp_budget_take(struct ns_exthttp *h, struct req *r, uint64_t n);
/* Returns every byte r holds to the budget. */
void ns_exthttp_budget_release(struct ns_exthttp *h, struct req *r);
/* An empty buffer from the pool (or a new one); NULL when out of memory. */
struct pbuf *ns_exthttp_pbuf_get(struct ns_exthttp *h);
/* Back to the pool; also MHD's free callback for replies. NULL-safe. */
void ns_exthttp_pbuf_put(void *cls);
/* Frees the pooled buffers (the server is stopping). */
void ns_exthttp_pool_free(struct ns_exthttp *h);
/* 413 or 503 for r's body, with the verb's error shape. */
enum MHD_Result ns_exthttp_refuse_body(struct MHD_Connection *conn, struct ns_exthttp *h,
				       struct req *r, struct pbuf *out);
/* The request on conn is complete: no deadline while the reply goes out. */
void ns_exthttp_conn_answering(struct ns_exthttp *h, struct MHD_Connection *conn);
/* The reply went out: the next request on conn gets its own deadline. */
void ns_exthttp_conn_rearm(struct ns_exthttp *h, struct MHD_Connection *conn);
/* MHD_OPTION_NOTIFY_CONNECTION callback: tracks connections (cls: h). */
void ns_exthttp_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
			    enum MHD_ConnectionNotificationCode code);
/* Thread closing connections past their request deadline (arg: h). */
void *ns_exthttp_watchdog(void *arg);
/* The client-certificate verdict cached on conn (NS_PEER_UNKNOWN when
 * untracked or not checked yet), and setting it. */
enum ns_peer ns_exthttp_conn_peer(struct MHD_Connection *conn);
void ns_exthttp_conn_set_peer(struct MHD_Connection *conn, enum ns_peer p);

/* --- exthttp_auth.c -------------------------------------------------------- */
/* Adds MHD_USE_TLS to *flags when cfg asks for TLS. Returns 0, or -EINVAL
 * (a certificate without a key or the reverse) or -ENOTSUP (MHD without
 * TLS) with a reason in err. */
int ns_exthttp_tls_flags(const struct ns_exthttp_cfg *cfg, unsigned *flags, char *err,
			 size_t errlen);
/* The TLS options for MHD_OPTION_ARRAY: empty (MHD_OPTION_END first)
 * without TLS. */
void ns_exthttp_tls_options(const struct ns_exthttp_cfg *cfg, struct MHD_OptionItem tls[5]);
/* Under --tls-client-ca: whether conn's client presented a certificate
 * that verifies against the CA (checked once per connection: the
 * handshake is). NS_PEER_OK without --tls-client-ca. */
enum ns_peer ns_exthttp_peer_check(struct ns_exthttp *h, struct MHD_Connection *conn);
/* The 403 reply for a request without a valid client certificate, its
 * counter and log line; the connection is closed after it. */
enum MHD_Result ns_exthttp_forbidden(struct MHD_Connection *conn, struct ns_exthttp *h,
				     struct req *r, enum ns_peer why, struct pbuf *out);
/* 1 when r may be served; 0 when it needs the bearer token and did not send
 * it (r->auth says why). */
int ns_exthttp_authorized(struct ns_exthttp *h, struct MHD_Connection *conn, struct req *r);
/* The 401 reply for an unauthorized r, its counter and log line. */
enum MHD_Result ns_exthttp_unauthorized(struct MHD_Connection *conn, struct ns_exthttp *h,
					struct req *r, struct pbuf *out);
/* WWW-Authenticate header of a 401 reply. */
void ns_exthttp_auth_challenge(struct MHD_Response *resp, const struct req *r);

/* --- exthttp_metrics.c ----------------------------------------------------- */
/* Counts one request of ns nanoseconds in hs. */
void ns_exthttp_observe(struct hist *hs, uint64_t ns);
/* The Prometheus text exposition of /metrics. */
void ns_exthttp_render_metrics(struct ns_exthttp *h, struct ns_buf *b);

/* --- exthttp_status.c ------------------------------------------------------ */
/* The HTML status page (GET /). */
void ns_exthttp_render_status(struct ns_exthttp *h, struct ns_buf *b);

/* --- exthttp_shadow.c ------------------------------------------------------ */
/* Counts and logs what a shadow filter or prioritize (verb) would have done. */
void ns_exthttp_shadow_account(struct ns_exthttp *h, const struct ns_extapi_ctx *c, enum verb verb,
			       const struct ns_extapi_stats *st);

#endif
