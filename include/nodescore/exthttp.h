/* SPDX-License-Identifier: MIT */
/* Extender HTTP server (libmicrohttpd, epoll thread pool): POST /filter,
 * POST /prioritize, GET /healthz, GET /metrics, GET / (status page). */
#ifndef NODESCORE_EXTHTTP_H
#define NODESCORE_EXTHTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "nodescore/extapi.h"
#include "nodescore/httpsec.h"
#include "nodescore/table.h"

struct ns_exthttp;

struct ns_exthttp_cfg {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned threads;   /* MHD thread pool size, >= 1 */
	size_t max_body;    /* larger request bodies get 413 */
	size_t body_budget; /* bodies in flight across connections; past it 503 (0: max_body) */
	uint64_t request_timeout_ms; /* headers + body must arrive within this (0: 10 s) */
	unsigned per_ip_limit;	     /* connections per source address (0: 64) */
	struct ns_extapi_cfg api;    /* ttl and normalisation */
	const struct ns_table *table;
	/* HTTPS when both are set (PEM, ns_httpsec_tls_load); NULL: plain HTTP.
	 * Not copied: they must outlive the server. */
	const char *tls_cert, *tls_key;
	/* mTLS: PEM CA certificate(s) client certificates must chain to; every
	 * route but /healthz (the kubelet's probes present no certificate)
	 * answers 403 without one. Needs tls_cert. NULL: no client
	 * certificates. Must outlive the server. */
	const char *tls_client_ca;
	/* Bearer token for /metrics and the status page; NULL: open. /filter,
	 * /prioritize and /healthz never ask for it (the scheduler's extender
	 * client and the kubelet's probes send none). Must outlive the server. */
	const struct ns_token *token;
};

/* Starts serving. cfg is copied; cfg->table, the TLS PEM text and the
 * token must outlive the server. Returns 0 or -errno with a reason in err
 * (with TLS: also a certificate or key GnuTLS cannot use, or a key that
 * does not match the certificate). */
int ns_exthttp_start(const struct ns_exthttp_cfg *cfg, struct ns_exthttp **out, char *err,
		     size_t errlen);
/* The bound port (useful after port 0). */
uint16_t ns_exthttp_port(const struct ns_exthttp *h);
/* Appends s to b as HTML text, escaping & < > " ' (the status page writes
 * every node name through it). */
void ns_exthttp_html_text(struct ns_buf *b, const char *s);
/* Stops accepting, finishes in-flight requests, frees h. NULL-safe. */
void ns_exthttp_stop(struct ns_exthttp *h);

#endif
