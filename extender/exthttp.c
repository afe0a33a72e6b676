// SPDX-License-Identifier: MIT
/* Extender HTTP server on libmicrohttpd: start and stop, the connection
 * limits MHD enforces, request routing (/filter, /prioritize, /healthz,
 * /metrics, /), receiving bodies and queueing replies with their counters.
 * Bodies and deadlines: exthttp_limits.c; TLS and the token:
 * exthttp_auth.c; /metrics: exthttp_metrics.c; the status page:
 * exthttp_status.c; shadow accounting: exthttp_shadow.c. */
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

#include <microhttpd.h>

#include "nodescore/clock.h"
#include "nodescore/buf.h"
#include "nodescore/exthttp.h"
#include "nodescore/log.h"
#include "nodescore/opt.h"
#include "exthttp_int.h"

const char *const ns_exthttp_verb_names[V_COUNT] = {
    [V_FILTER] = "filter",   [V_PRIORITIZE] = "prioritize", [V_HEALTHZ] = "healthz",
    [V_METRICS] = "metrics", [V_STATUS] = "status",	    [V_OTHER] = "other",
};

const unsigned ns_exthttp_code_values[C_COUNT] = {
    [C_200] = 200, [C_400] = 400, [C_401] = 401, [C_403] = 403, [C_404] = 404,
    [C_405] = 405, [C_413] = 413, [C_500] = 500, [C_503] = 503,
};

/* Per-connection MHD memory: its read buffer lives here. 32 kB (the
 * default) meant a recv and a callback per 16 kB of a 20 MB body; MHD
 * clears the pool between requests, so 1 MB cost a 1 MB memset each. */
#define HTTP_CONN_MEMORY (128u << 10)
/* Bounds MHD's memory (x HTTP_CONN_MEMORY); the scheduler uses a handful. */
#define HTTP_MAX_CONNECTIONS 1024

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
		if (ns_exthttp_code_values[i] == status)
			return (enum code)i;
	return C_500;
}

/* Queues pb as the reply (ownership passes to MHD, back to the pool after
 * sending). pb may be NULL (out of memory): an empty 500 goes out. */
enum MHD_Result ns_exthttp_reply(struct MHD_Connection *conn, struct ns_exthttp *h, struct req *r,
				 unsigned status, const char *ctype, struct pbuf *pb)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (!pb || pb->b.oom) {
		ns_exthttp_pbuf_put(pb);
		pb = NULL;
		status = 500;
	}
	if (pb && pb->b.len)
		resp = MHD_create_response_from_buffer_with_free_callback_cls(
		    pb->b.len, pb->b.p, ns_exthttp_pbuf_put, pb);
	else
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		ns_exthttp_pbuf_put(pb);
		return MHD_NO;
	}
	if (pb && !pb->b.len)
		ns_exthttp_pbuf_put(pb);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	/* The body may be unread: the connection cannot carry another request. */
	if (status == 413 || status == 503 || r->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	ns_exthttp_conn_answering(h, conn);
	if (status == 405)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					r->verb <= V_PRIORITIZE ? "POST" : "GET");
	if (status == 401)
		ns_exthttp_auth_challenge(resp, r);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	atomic_fetch_add_explicit(&h->requests[r->verb][code_index(status)], 1,
				  memory_order_relaxed);
	return ret;
}

/* At most one bad-request line a second: a broken client must not flood
 * the log; the counters in /metrics are exact. */
int ns_exthttp_log_allowed(struct ns_exthttp *h)
{
	uint64_t now_s = ns_mono_ns() / 1000000000u, last = atomic_load(&h->bad_logged_s);

	return now_s != last && atomic_compare_exchange_strong(&h->bad_logged_s, &last, now_s);
}

static enum MHD_Result serve_verb(struct MHD_Connection *conn, struct ns_exthttp *h, struct req *r)
{
	struct ns_extapi_ctx *c = thread_ctx(h);
	struct ns_extapi_stats st;
	struct pbuf *out = ns_exthttp_pbuf_get(h);
	const char *body = r->body ? r->body->b.p : NULL;
	size_t blen = r->body ? r->body->b.len : 0;
	struct ns_extapi_now now = {ns_now_ms(), ns_mono_ns() / 1000000u};
	int status;

	if (!c || !out || (r->body && r->body->b.oom))
		return ns_exthttp_reply(conn, h, r, 500, "application/json", NULL);
	if (r->too_big || r->over_budget)
		return ns_exthttp_refuse_body(conn, h, r, out);
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
			ns_exthttp_shadow_account(h, c, r->verb, &st);
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
		if (ns_exthttp_log_allowed(h))
			log_info("http", "bad request verb=%s status=%d error=\"%s\"",
				 ns_exthttp_verb_names[r->verb], status, c->args.err);
	}
	/* The body is no longer referenced: recycle it before the reply goes
	 * out so a 20 MB body does not live for the whole send. */
	ns_exthttp_pbuf_put(r->body);
	r->body = NULL;
	ns_exthttp_budget_release(h, r);
	ns_exthttp_observe(&h->lat[r->verb], ns_mono_ns() - r->t0);
	return ns_exthttp_reply(conn, h, r, (unsigned)status, "application/json", out);
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
		/* Before any body is taken in: a client without the certificate
		 * gets nothing of the in-flight budget. */
		if (r->verb != V_HEALTHZ) {
			enum ns_peer p = ns_exthttp_peer_check(h, conn);
			if (p != NS_PEER_OK) {
				out = ns_exthttp_pbuf_get(h);
				if (!out)
					return MHD_NO;
				return ns_exthttp_forbidden(conn, h, r, p, out);
			}
		}
		if (count_content_length(conn, &cl) > 1) {
			/* Two lengths are a smuggling attempt or a broken proxy:
			 * which one a front end used is unknowable. */
			atomic_fetch_add_explicit(&h->bad_header, 1, memory_order_relaxed);
			r->close = 1;
			out = ns_exthttp_pbuf_get(h);
			if (!out)
				return MHD_NO;
			ns_buf_puts(&out->b, "repeated Content-Length header\n");
			return ns_exthttp_reply(conn, h, r, 400, "text/plain; charset=utf-8", out);
		}
		if (r->verb <= V_PRIORITIZE && r->post_ok) {
			uint64_t n = 0;
			if (cl && (ns_parse_u64(cl, 0, UINT64_MAX, &n) < 0 || n > h->cfg.max_body))
				r->too_big = 1;
			else if (cl && ns_exthttp_budget_take(h, r, n) < 0)
				r->over_budget = 1;
			else if (!(r->body = ns_exthttp_pbuf_get(h)))
				return MHD_NO;
			else if (cl && n)
				/* A claimed length is not data: reserve at most 16 MiB
				 * up front, grow past that only as bytes arrive. */
				ns_buf_reserve(&r->body->b,
					       (size_t)(n < (16u << 20) ? n : (16u << 20)));
			if (r->too_big || r->over_budget) {
				out = ns_exthttp_pbuf_get(h);
				if (!out)
					return MHD_NO;
				return ns_exthttp_refuse_body(conn, h, r, out);
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
			else if (len > r->reserved &&
				 ns_exthttp_budget_take(h, r, len - r->reserved) < 0)
				r->over_budget = 1;
			else
				ns_buf_put(&r->body->b, upload_data, *upload_data_size);
			if (r->too_big || r->over_budget) {
				ns_exthttp_pbuf_put(r->body);
				r->body = NULL;
				ns_exthttp_budget_release(h, r);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	out = ns_exthttp_pbuf_get(h);
	if (!out)
		return ns_exthttp_reply(conn, h, r, 500, "text/plain; charset=utf-8", NULL);
	if (r->verb == V_OTHER) {
		ns_buf_puts(&out->b, "not found\n");
		return ns_exthttp_reply(conn, h, r, 404, "text/plain; charset=utf-8", out);
	}
	if (!ns_exthttp_authorized(h, conn, r))
		return ns_exthttp_unauthorized(conn, h, r, out);
	if (!r->post_ok) {
		ns_buf_puts(&out->b, "method not allowed\n");
		return ns_exthttp_reply(conn, h, r, 405, "text/plain; charset=utf-8", out);
	}
	switch (r->verb) {
	case V_FILTER:
	case V_PRIORITIZE:
		ns_exthttp_pbuf_put(out);
		return serve_verb(conn, h, r);
	case V_HEALTHZ:
		ns_buf_puts(&out->b, "ok\n");
		return ns_exthttp_reply(conn, h, r, 200, "text/plain; charset=utf-8", out);
	case V_METRICS:
		ns_exthttp_render_metrics(h, &out->b);
		return ns_exthttp_reply(conn, h, r, 200, "text/plain; version=0.0.4; charset=utf-8",
					out);
	default:
		ns_exthttp_render_status(h, &out->b);
		return ns_exthttp_reply(conn, h, r, 200, "text/html; charset=utf-8", out);
	}
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct ns_exthttp *h = cls;
	struct req *r = *con_cls;

	(void)toe;
	if (!r)
		return;
	ns_exthttp_pbuf_put(r->body);
	ns_exthttp_budget_release(h, r);
	free(r);
	*con_cls = NULL;
	ns_exthttp_conn_rearm(h, conn);
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
	e = ns_exthttp_tls_flags(cfg, &flags, err, errlen);
	if (e < 0) {
		pthread_key_delete(h->ctx_key);
		free(h);
		return e;
	}
	/* MHD warns about a pool of one: leave the option out instead. */
	struct MHD_OptionItem pool[] = {
	    {h->cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
	     (intptr_t)h->cfg.threads, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	struct MHD_OptionItem tls[5];
	ns_exthttp_tls_options(cfg, tls);
	/* The logger must come first or MHD prints early messages itself. */
	atomic_store(&h->starting, 1);
	errno = 0;
	h->d = MHD_start_daemon(
	    flags, 0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
	    MHD_OPTION_SOCK_ADDR, &h->cfg.addr, MHD_OPTION_ARRAY, pool, MHD_OPTION_ARRAY, tls,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, h, MHD_OPTION_NOTIFY_CONNECTION,
	    ns_exthttp_notify_conn, h, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned)((h->cfg.request_timeout_ms + 999) / 1000),
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
	e = pthread_create(&h->watchdog, NULL, ns_exthttp_watchdog, h);
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
	ns_exthttp_pool_free(h);
	pthread_mutex_destroy(&h->pool_mu);
	pthread_mutex_destroy(&h->conn_mu);
	pthread_mutex_destroy(&h->sh_mu);
	free(h);
}
