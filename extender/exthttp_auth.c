// SPDX-License-Identifier: MIT
/* Who may talk to the extender's HTTP server: TLS on the listener (the PEM
 * material of --tls-cert and --tls-key, TLS 1.2 and 1.3 only), client
 * certificates under --tls-client-ca (mTLS: the check, the 403 reply, its
 * counter and log line) and the bearer token of --auth-token-file on
 * /metrics and the status page (the check, the 401 reply with its
 * challenge, its counter and log line). The PEM checks and the token
 * comparison are httpsec.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>

#include "nodescore/log.h"
#include "exthttp_int.h"

int ns_exthttp_tls_flags(const struct ns_exthttp_cfg *cfg, unsigned *flags, char *err,
			 size_t errlen)
{
	if (!cfg->tls_cert != !cfg->tls_key) {
		snprintf(err, errlen, "TLS needs both a certificate and a key");
		return -EINVAL;
	}
	if (cfg->tls_client_ca && !cfg->tls_cert) {
		snprintf(err, errlen, "client certificates need TLS: a certificate and a key");
		return -EINVAL;
	}
	if (cfg->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "this libmicrohttpd was built without TLS support");
			return -ENOTSUP;
		}
		*flags |= MHD_USE_TLS;
	}
	return 0;
}

/* TLS 1.2 and 1.3 only: every kube-scheduler and Prometheus speaks
 * them, and older versions only widen what a client can downgrade to. */
void ns_exthttp_tls_options(const struct ns_exthttp_cfg *cfg, struct MHD_OptionItem tls[5])
{
	tls[0] = (struct MHD_OptionItem){cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
					 0, (void *)cfg->tls_cert};
	tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key};
	tls[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
					 (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
	/* MHD then asks every client for a certificate but leaves it optional
	 * (so the kubelet's probes still connect): ns_exthttp_peer_check
	 * decides per route. */
	tls[3] = (struct MHD_OptionItem){cfg->tls_client_ca ? MHD_OPTION_HTTPS_MEM_TRUST
							    : MHD_OPTION_END,
					 0, (void *)cfg->tls_client_ca};
	tls[4] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
}

enum ns_peer ns_exthttp_peer_check(struct ns_exthttp *h, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci;
	gnutls_session_t s;
	unsigned status = 0, n = 0;
	enum ns_peer p;

	if (!h->cfg.tls_client_ca)
		return NS_PEER_OK;
	if ((p = ns_exthttp_conn_peer(conn)) != NS_PEER_UNKNOWN)
		return p;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	s = ci ? (gnutls_session_t)ci->tls_session : NULL;
	if (!s || !gnutls_certificate_get_peers(s, &n) || n == 0)
		p = NS_PEER_MISSING;
	else if (gnutls_certificate_verify_peers2(s, &status) < 0 || status != 0)
		p = NS_PEER_INVALID;
	else
		p = NS_PEER_OK;
	ns_exthttp_conn_set_peer(conn, p);
	return p;
}

static void client_addr(struct MHD_Connection *conn, char addr[INET6_ADDRSTRLEN])
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(addr, INET6_ADDRSTRLEN, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
			  INET6_ADDRSTRLEN);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
			  INET6_ADDRSTRLEN);
}

enum MHD_Result ns_exthttp_forbidden(struct MHD_Connection *conn, struct ns_exthttp *h,
				     struct req *r, enum ns_peer why, struct pbuf *out)
{
	atomic_fetch_add_explicit(&h->cert_refused[why], 1, memory_order_relaxed);
	if (ns_exthttp_log_allowed(h)) {
		char addr[INET6_ADDRSTRLEN];
		client_addr(conn, addr);
		log_warning("http",
			    "refused request without a valid client certificate verb=%s reason=%s "
			    "client=%s",
			    ns_exthttp_verb_names[r->verb],
			    why == NS_PEER_MISSING ? "missing" : "invalid", addr);
	}
	r->close = 1;
	ns_buf_puts(&out->b, "forbidden: this port needs a client certificate issued by the CA of "
			     "--tls-client-ca\n");
	return ns_exthttp_reply(conn, h, r, 403, "text/plain; charset=utf-8", out);
}

/* /filter, /prioritize and /healthz never ask for the token (the
 * scheduler's extender client and the kubelet's probes send none). */
int ns_exthttp_authorized(struct ns_exthttp *h, struct MHD_Connection *conn, struct req *r)
{
	if ((r->verb == V_METRICS || r->verb == V_STATUS) && h->cfg.token &&
	    (r->auth = ns_httpsec_token_check(
		 h->cfg.token, MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							   MHD_HTTP_HEADER_AUTHORIZATION))) !=
		NS_AUTH_OK)
		return 0;
	return 1;
}

/* 401 for /metrics or the status page without the bearer token. The log
 * line names the client and the reason, never what it sent. */
enum MHD_Result ns_exthttp_unauthorized(struct MHD_Connection *conn, struct ns_exthttp *h,
					struct req *r, struct pbuf *out)
{
	const char *why = r->auth == NS_AUTH_INVALID ? "invalid" : "missing";

	atomic_fetch_add_explicit(&h->unauthorized[r->auth], 1, memory_order_relaxed);
	if (ns_exthttp_log_allowed(h)) {
		char addr[INET6_ADDRSTRLEN];
		client_addr(conn, addr);
		log_warning("http",
			    "refused request without a valid bearer token verb=%s reason=%s "
			    "client=%s",
			    ns_exthttp_verb_names[r->verb], why, addr);
	}
	ns_buf_puts(&out->b,
		    "unauthorized: send Authorization: Bearer <token of --auth-token-file>\n");
	return ns_exthttp_reply(conn, h, r, 401, "text/plain; charset=utf-8", out);
}

/* RFC 6750 section 3: the scheme always, the error only for a token
 * that was sent and is wrong. */
void ns_exthttp_auth_challenge(struct MHD_Response *resp, const struct req *r)
{
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				r->auth == NS_AUTH_INVALID
				    ? "Bearer realm=\"nodescore\", error=\"invalid_token\""
				    : "Bearer realm=\"nodescore\"");
}
