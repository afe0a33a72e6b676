// SPDX-License-Identifier: MIT
/* What a client can hold of the extender's HTTP server: request body bytes
 * across connections (--body-budget; 413 and 503 replies), the recycled
 * reply and body buffers, and the per-connection request deadline
 * (--request-timeout) with the watchdog that enforces it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "exthttp_int.h"

/* Reply and body buffers are recycled: fresh 100 kB+ buffers cost a page
 * fault per 4 kB on first write, which was most of a 5,000-name request. */
#define POOL_MAX 64
/* Large buffers (20 MB full-object bodies) are worth keeping too, up to a
 * total: re-faulting 5,000 pages per request cost more than the parse. */
#define POOL_KEEP_BYTES (128u << 20)
/* How often the deadline watchdog looks at the open connections. */
#define WATCHDOG_MS 200

/* One per open connection, for the request deadline: a client sending a
 * byte a second keeps MHD's idle timeout from ever firing. */
struct conn {
	struct conn *prev, *next;
	int fd;
	uint64_t deadline_ns; /* 0: answering, no deadline */
	/* Only the thread serving the connection touches it: no lock. */
	enum ns_peer peer;
};

int ns_exthttp_budget_take(struct ns_exthttp *h, struct req *r, uint64_t n)
{
	uint64_t cur = atomic_load(&h->inflight);

	do {
		if (cur + n > h->cfg.body_budget)
			return -1;
	} while (!atomic_compare_exchange_weak(&h->inflight, &cur, cur + n));
	r->reserved += n;
	return 0;
}

void ns_exthttp_budget_release(struct ns_exthttp *h, struct req *r)
{
	if (r->reserved)
		atomic_fetch_sub(&h->inflight, r->reserved);
	r->reserved = 0;
}

struct pbuf *ns_exthttp_pbuf_get(struct ns_exthttp *h)
{
	struct pbuf *pb;

	pthread_mutex_lock(&h->pool_mu);
	/* Take the largest pooled buffer: over the byte budget, ns_exthttp_pbuf_put keeps
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
void ns_exthttp_pbuf_put(void *cls)
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

void ns_exthttp_pool_free(struct ns_exthttp *h)
{
	while (h->pool) {
		struct pbuf *pb = h->pool;
		h->pool = pb->next;
		ns_buf_free(&pb->b);
		free(pb);
	}
}

/* 413 for a body over --max-body, 503 while the bodies of other requests
 * hold the --body-budget; the reply has the verb's error shape. Queued at
 * the first call when Content-Length already says so: MHD then answers and
 * closes without reading the body, so the client is told at once. */
enum MHD_Result ns_exthttp_refuse_body(struct MHD_Connection *conn, struct ns_exthttp *h,
				       struct req *r, struct pbuf *out)
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
	if (ns_exthttp_log_allowed(h))
		log_info("http", "request refused verb=%s status=%u error=\"%s\"",
			 ns_exthttp_verb_names[r->verb], status, msg);
	ns_exthttp_pbuf_put(r->body);
	r->body = NULL;
	ns_exthttp_budget_release(h, r);
	return ns_exthttp_reply(conn, h, r, status, "application/json", out);
}

static struct conn *conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

/* The request is complete: its deadline no longer applies while the reply
 * goes out (MHD's idle timeout bounds a slow reader). */
/* Sets a connection's request deadline (0: none) under the lock the
 * watchdog reads it with. */
static void set_deadline(struct ns_exthttp *h, struct MHD_Connection *conn, uint64_t deadline_ns)
{
	struct conn *c = conn_of(conn);

	if (!c)
		return;
	pthread_mutex_lock(&h->conn_mu);
	c->deadline_ns = deadline_ns;
	pthread_mutex_unlock(&h->conn_mu);
}

void ns_exthttp_conn_answering(struct ns_exthttp *h, struct MHD_Connection *conn)
{
	set_deadline(h, conn, 0);
}

/* The next request on a keep-alive connection gets its own deadline. */
void ns_exthttp_conn_rearm(struct ns_exthttp *h, struct MHD_Connection *conn)
{
	set_deadline(h, conn, ns_mono_ns() + h->cfg.request_timeout_ms * 1000000ull);
}

enum ns_peer ns_exthttp_conn_peer(struct MHD_Connection *conn)
{
	struct conn *c = conn_of(conn);

	return c ? c->peer : NS_PEER_UNKNOWN;
}

void ns_exthttp_conn_set_peer(struct MHD_Connection *conn, enum ns_peer p)
{
	struct conn *c = conn_of(conn);

	if (c)
		c->peer = p;
}

/* Tracks connections for the watchdog; MHD calls this before it closes
 * the socket, so the watchdog never touches a reused descriptor. */
void ns_exthttp_notify_conn(void *cls, struct MHD_Connection *conn, void **socket_context,
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
void *ns_exthttp_watchdog(void *arg)
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
			if (ns_exthttp_log_allowed(h))
				log_info("http",
					 "closed connections past the request deadline count=%llu",
					 (unsigned long long)n);
		}
	}
	return NULL;
}
