/* SPDX-License-Identifier: MIT */
/* Small HTTP endpoint server (libmicrohttpd, one internal polling thread):
 * a fixed table of GET routes, each rendering into a caller-sized buffer. */
#ifndef NODESCORE_HTTP_H
#define NODESCORE_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Renders a reply body into buf (cap bytes) and sets *len. Runs on the HTTP
 * thread: it must only take short locks. Returns the HTTP status. */
typedef int (*ns_http_handler)(void *arg, char *buf, size_t cap, size_t *len);

struct ns_http_route {
	const char *path; /* exact match, e.g. "/metrics" */
	const char *content_type;
	ns_http_handler handler;
	void *arg;
	size_t body_cap; /* buffer size for this route */
};

struct ns_http;

/* Starts serving the routes (the array must outlive the server). Port 0
 * picks a free port (see ns_http_port). Returns 0 or -errno with a reason in
 * err. */
int ns_http_start(const char *addr, const struct ns_http_route *routes, size_t nroutes,
		  struct ns_http **out, char *err, size_t errlen);

uint16_t ns_http_port(const struct ns_http *h);

/* NULL-safe; waits for the HTTP thread to finish. */
void ns_http_stop(struct ns_http *h);

#endif
