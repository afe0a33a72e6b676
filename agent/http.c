// SPDX-License-Identifier: MIT
/* HTTP endpoints on libmicrohttpd: exact-path GET routes, bounded bodies. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "nodescore/http.h"
#include "nodescore/log.h"
#include "nodescore/opt.h"
#include "nodescore/sockaddr.h"

struct ns_http {
	struct MHD_Daemon *d;
	const struct ns_http_route *routes;
	size_t nroutes;
	uint16_t port;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct ns_http *h = cls;
	static char not_found[] = "not found\n";
	static char bad_method[] = "method not allowed\n";
	static char oom[] = "out of memory\n";

	(void)version;
	(void)upload;
	(void)con_cls;
	/* Answer on the first call, before any body: nothing here takes a body, and
	 * MHD then discards it instead of us buffering it. */
	*upload_size = 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", bad_method,
			     sizeof(bad_method) - 1, MHD_RESPMEM_PERSISTENT);
	for (size_t i = 0; i < h->nroutes; i++) {
		const struct ns_http_route *rt = &h->routes[i];
		size_t len = 0;
		char *buf;
		int status;

		if (strcmp(url, rt->path) != 0)
			continue;
		buf = malloc(rt->body_cap);
		if (!buf)
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", oom,
				     sizeof(oom) - 1, MHD_RESPMEM_PERSISTENT);
		status = rt->handler(rt->arg, buf, rt->body_cap, &len);
		if (len > rt->body_cap)
			len = rt->body_cap;
		return reply(c, (unsigned)status, rt->content_type, buf, len,
			     MHD_RESPMEM_MUST_FREE);
	}
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain", not_found, sizeof(not_found) - 1,
		     MHD_RESPMEM_PERSISTENT);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (NS_LOG_WARNING <= ns_log_max)
		ns_log_vwrite(NS_LOG_WARNING, "http", 0, fmt, ap);
}

int ns_http_start(const char *addr, const struct ns_http_route *routes, size_t nroutes,
		  struct ns_http **out, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	struct ns_http *h;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;

	*out = NULL;
	if (ns_sockaddr_parse(addr, &ss, &sl)) {
		snprintf(err, errlen,
			 "bad HTTP listen address '%s' (want 127.0.0.1:9464, [::1]:9464 or :9464)",
			 addr ? addr : "");
		return -EINVAL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->routes = routes;
	h->nroutes = nroutes;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	/* The logger must come first or MHD prints early messages its own way. */
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER,
				mhd_log, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
				10u, MHD_OPTION_END);
	if (!h->d) {
		int e = errno ? errno : EADDRINUSE;

		snprintf(err, errlen, "cannot listen on %s: %s", addr, strerror(e));
		free(h);
		return -e;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	*out = h;
	return 0;
}

uint16_t ns_http_port(const struct ns_http *h)
{
	return h->port;
}

void ns_http_stop(struct ns_http *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	free(h);
}
