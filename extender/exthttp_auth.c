// SPDX-License-Identifier: MIT
/* Who may talk to the extender's HTTP server: TLS on the listener (the PEM
 * material of --tls-cert and --tls-key, TLS 1.2 and 1.3 only) and the bearer
 * token of --auth-token-file on /metrics and the status page (the check,
 * the 401 reply with its challenge, its counter and log line). The PEM
 * checks and the token comparison are httpsec.c's. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>

#include "nodescore/log.h"
#include "exthttp_int.h"

int ns_exthttp_tls_flags(const struct ns_exthttp_cfg *cfg, unsigned *flags, char *err,
			 size_t errlen)
{
	if (!cfg->tls_cert != !cfg->tls_key) {
		snprintf(err, errlen, "TLS needs both a certificate and a key");
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
void ns_exthttp_tls_options(const struct ns_exthttp_cfg *cfg, struct MHD_OptionItem tls[4])
{
	tls[0] = (struct MHD_OptionItem){cfg->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
					 0, (void *)cfg->tls_cert};
	tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key};
	tls[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
					 (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
	tls[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
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
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const char *why = r->auth == NS_AUTH_INVALID ? "invalid" : "missing";

	atomic_fetch_add_explicit(&h->unauthorized[r->auth], 1, memory_order_relaxed);
	if (ns_exthttp_log_allowed(h)) {
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
