// SPDX-License-Identifier: MIT
/* nodescore-extender: options, wiring of subscriber + table + HTTP, signals. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sodium.h>

#include "nodescore/exthttp.h"
#include "nodescore/extsub.h"
#include "nodescore/httpsec.h"
#include "nodescore/key.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "nodescore/sockaddr.h"
#include "nodescore/table.h"
#include "nodescore/wire.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct ns_opt opts[] = {
    {"listen-scores", NS_OPT_STRING, "tcp://0.0.0.0:5555",
     "nanomsg SUB address the agents publish to (tcp://host:port or ipc://path)", NULL, 0},
    {"listen-http", NS_OPT_STRING, "0.0.0.0:8888",
     "HTTP address for the scheduler, metrics and status page (host:port, [v6]:port; port 0 "
     "picks one)",
     NULL, 0},
    {"key-file", NS_OPT_STRING, NULL,
     "master HMAC key file, mode 0600 (required); each node's key is derived from it", NULL, 0},
    {"key-file-next", NS_OPT_STRING, NULL,
     "rotation window: the next master key file; messages failing the --key-file node key are "
     "checked under this one's (README \"Master key rotation\")",
     NULL, 0},
    {"tls-cert", NS_OPT_STRING, NULL,
     "PEM certificate (chain) for HTTPS on --listen-http; with --tls-key (default: plain HTTP)",
     NULL, 0},
    {"tls-key", NS_OPT_STRING, NULL,
     "PEM private key of --tls-cert, unencrypted, not world-readable; with --tls-cert", NULL, 0},
    {"tls-client-ca", NS_OPT_STRING, NULL,
     "mTLS: PEM CA certificate(s); every route but /healthz then needs a client certificate "
     "issued by them (403 otherwise); needs --tls-cert (default: no client certificates)",
     NULL, 0},
    {"auth-token-file", NS_OPT_STRING, NULL,
     "bearer token file (not world-readable) that GET /metrics and / require; /filter, "
     "/prioritize and /healthz stay open (default: no token)",
     NULL, 0},
    {"shared-key", NS_OPT_BOOL, "0",
     "compatibility: verify with the master key itself, as agents before per-node keys signed",
     NULL, 0},
    {"derive-key", NS_OPT_STRING, NULL,
     "write the per-node key of NODE (HKDF-SHA256 of --key-file) to stdout and exit", NULL, 0},
    {"publish-interval", NS_OPT_STRING, "2s", "agents' publish interval; the TTL defaults to 3x",
     NULL, 0},
    {"ttl", NS_OPT_STRING, NULL, "age after which a node is stale (default 3 x publish-interval)",
     NULL, 0},
    {"skew", NS_OPT_STRING, "30s", "accepted age of message timestamps (sender clock behind)", NULL,
     0},
    {"future-skew", NS_OPT_STRING, "2s",
     "accepted lead of message timestamps (sender clock ahead); bounds a restart lock-out", NULL,
     0},
    {"max-body", NS_OPT_STRING, "32Mi",
     "largest accepted request body (5,000 full Node objects are about 19 MB); larger gets 413",
     NULL, 0},
    {"body-budget", NS_OPT_STRING, "96Mi",
     "request body bytes held at once across all connections; past it 503", NULL, 0},
    {"request-timeout", NS_OPT_STRING, "10s",
     "a request's headers and body must arrive within this, else the connection is closed", NULL,
     0},
    {"max-conns-per-ip", NS_OPT_STRING, "64", "open HTTP connections per source address", NULL, 0},
    {"normalize", NS_OPT_STRING, "linear", "prioritize scores over the candidates: linear|rank",
     NULL, 0},
    {"reserve-settle", NS_OPT_STRING, "10s",
     "hold each pod's request against the node prioritize ranks first until that node sends a "
     "message this much later (pod started and measured); 0 turns holds off",
     NULL, 0},
    {"shadow", NS_OPT_BOOL, "0",
     "answer neutrally (filter passes all, prioritize scores all 5), log and count what "
     "nodescore would have done and how often it disagrees with least allocated; no holds",
     NULL, 0},
    {"max-nodes", NS_OPT_STRING, "10000", "score table capacity in nodes", NULL, 0},
    {"http-threads", NS_OPT_STRING, "2", "HTTP worker threads", NULL, 0},
    {"log-level", NS_OPT_STRING, "info", "error|warning|success|info", NULL, 0},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static const char *opt(const char *name)
{
	return ns_opt_get(opts, NOPTS, name);
}

static int bad(const char *name, const char *why)
{
	log_error("extender", "invalid --%s value=\"%s\": %s", name, opt(name) ? opt(name) : "",
		  why);
	return 2;
}

static void addr_str(const struct sockaddr_storage *ss, uint16_t port, char *out, size_t cap)
{
	char host[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, host,
			  sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, port);
	}
}

/* Raw key bytes to stdout, for a per-node Secret: refuses a terminal. */
static int derive_key(struct ns_key *master, const char *node)
{
	struct ns_key nk;
	size_t len = strlen(node);
	int ok;

	if (!ns_wire_name_valid(node, len)) {
		ns_key_wipe(master);
		log_error("extender",
			  "invalid --derive-key node=\"%.80s\" (a DNS-1123 subdomain of "
			  "1..63 characters)",
			  node);
		return 2;
	}
	if (isatty(STDOUT_FILENO)) {
		ns_key_wipe(master);
		log_error("extender",
			  "--derive-key writes raw key bytes: redirect stdout to a file");
		return 2;
	}
	ns_key_derive_node(master, node, len, &nk);
	ns_key_wipe(master);
	ok = fwrite(nk.bytes, 1, nk.len, stdout) == nk.len && fflush(stdout) == 0;
	ns_key_wipe(&nk);
	if (!ok) {
		log_error_errno("extender", "cannot write the derived key");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ns_exthttp_cfg hc;
	struct ns_exthttp *http = NULL;
	struct ns_extsub *sub = NULL;
	struct ns_table *table = NULL;
	struct ns_key key, next;
	struct ns_tls_pem tls;
	char *client_ca = NULL;
	struct ns_token token;
	struct sigaction sa;
	uint64_t interval, ttl, skew, future, max_body, budget, req_timeout, per_ip, max_nodes,
	    threads, evict, settle;
	struct ns_reserve *resv = NULL;
	const char *scores;
	char err[256], httpaddr[80];
	int rc = 1, shared = 0, shadow = 0;

	int opt_rc =
	    ns_main_opts(opts, NOPTS, "nodescore-extender",
			 "Central kube-scheduler extender: keeps the latest signed score of every "
			 "node\nand answers /filter and /prioritize from them.",
			 argc, argv, NULL, "extender");

	if (opt_rc >= 0)
		return opt_rc;
	if (ns_log_set_level(opt("log-level")) < 0)
		return bad("log-level", "expected error, warning, success or info");
	memset(&hc, 0, sizeof(hc));
	memset(&tls, 0, sizeof(tls));
	memset(&next, 0, sizeof(next));
	memset(&token, 0, sizeof(token));
	scores = opt("listen-scores");
	if (!scores || (strncmp(scores, "tcp://", 6) != 0 && strncmp(scores, "ipc://", 6) != 0) ||
	    strlen(scores) < 7)
		return bad("listen-scores", "expected tcp://host:port or ipc://path");
	if (ns_sockaddr_parse(opt("listen-http"), &hc.addr, &hc.addrlen) < 0)
		return bad("listen-http", "expected host:port or [v6]:port with a numeric host");
	if (ns_parse_duration_ms(opt("publish-interval"), &interval) < 0 || interval == 0 ||
	    interval > 3600000)
		return bad("publish-interval", "expected a duration in (0, 1h], e.g. 2s");
	ttl = 3 * interval;
	if (opt("ttl") && (ns_parse_duration_ms(opt("ttl"), &ttl) < 0 || ttl == 0))
		return bad("ttl", "expected a positive duration, e.g. 6s");
	if (ns_parse_duration_ms(opt("skew"), &skew) < 0 || skew > 86400000)
		return bad("skew", "expected a duration up to 1d, e.g. 30s");
	if (ns_parse_duration_ms(opt("future-skew"), &future) < 0 || future > skew)
		return bad("future-skew", "expected a duration up to --skew, e.g. 2s");
	if (ns_parse_bool(opt("shared-key"), &shared) < 0)
		return bad("shared-key", "expected true or false");
	if (ns_parse_size(opt("max-body"), &max_body) < 0 || max_body < 1024 ||
	    max_body > (1ull << 32))
		return bad("max-body", "expected a size from 1Ki to 4Gi, e.g. 32Mi");
	if (ns_parse_size(opt("body-budget"), &budget) < 0 || budget < max_body ||
	    budget > (1ull << 36))
		return bad("body-budget", "expected a size from --max-body to 64Gi, e.g. 96Mi");
	if (ns_parse_duration_ms(opt("request-timeout"), &req_timeout) < 0 || req_timeout < 100 ||
	    req_timeout > 3600000)
		return bad("request-timeout", "expected a duration from 100ms to 1h, e.g. 10s");
	if (ns_parse_u64(opt("max-conns-per-ip"), 1, 1024, &per_ip) < 0)
		return bad("max-conns-per-ip", "expected 1..1024");
	if (ns_normalize_parse(opt("normalize"), &hc.api.norm) < 0)
		return bad("normalize", "expected linear or rank");
	if (ns_parse_u64(opt("max-nodes"), 1, 1000000, &max_nodes) < 0)
		return bad("max-nodes", "expected 1..1000000");
	if (ns_parse_u64(opt("http-threads"), 1, 64, &threads) < 0)
		return bad("http-threads", "expected 1..64");
	if (ns_parse_duration_ms(opt("reserve-settle"), &settle) < 0 || settle > 600000)
		return bad("reserve-settle", "expected a duration up to 10m, e.g. 10s, or 0");
	if (ns_parse_bool(opt("shadow"), &shadow) < 0)
		return bad("shadow", "expected true or false");
	if (ns_key_load(opt("key-file"), &key, err, sizeof(err)) < 0) {
		log_error("extender", "%s", err);
		return 2;
	}
	if (opt("derive-key"))
		return derive_key(&key, opt("derive-key"));
	if (opt("key-file-next")) {
		if (ns_key_load(opt("key-file-next"), &next, err, sizeof(err)) < 0) {
			ns_key_wipe(&key);
			log_error("extender", "invalid --key-file-next: %s", err);
			return 2;
		}
		/* Not fatal (the window simply changes nothing), but surely a
		 * copy of the wrong file. */
		if (next.len == key.len && sodium_memcmp(next.bytes, key.bytes, key.len) == 0)
			log_warning(
			    "extender",
			    "--key-file-next holds the same key as --key-file: the rotation "
			    "window changes nothing path=%s",
			    opt("key-file-next"));
	}
	if (!opt("tls-cert") != !opt("tls-key")) {
		ns_key_wipe(&key);
		return bad(opt("tls-cert") ? "tls-cert" : "tls-key",
			   "--tls-cert and --tls-key go together: give both (HTTPS) or neither "
			   "(plain HTTP)");
	}
	if (opt("tls-cert") &&
	    ns_httpsec_tls_load(opt("tls-cert"), opt("tls-key"), &tls, err, sizeof(err)) < 0) {
		ns_key_wipe(&key);
		log_error("extender", "%s", err);
		return 2;
	}
	if (opt("tls-client-ca") && !opt("tls-cert")) {
		ns_key_wipe(&key);
		return bad("tls-client-ca", "client certificates need HTTPS: give --tls-cert and "
					    "--tls-key too");
	}
	if (opt("tls-client-ca") &&
	    ns_httpsec_ca_load(opt("tls-client-ca"), &client_ca, err, sizeof(err)) < 0) {
		ns_key_wipe(&key);
		ns_httpsec_tls_free(&tls);
		log_error("extender", "%s", err);
		return 2;
	}
	if (opt("auth-token-file") &&
	    ns_httpsec_token_load(opt("auth-token-file"), &token, err, sizeof(err)) < 0) {
		ns_key_wipe(&key);
		ns_httpsec_tls_free(&tls);
		free(client_ca);
		log_error("extender", "invalid --auth-token-file: %s", err);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	table = ns_table_new((uint32_t)max_nodes);
	if (!table) {
		log_error("extender", "cannot allocate the score table max_nodes=%llu",
			  (unsigned long long)max_nodes);
		goto out;
	}
	/* A full table may drop nodes silent for 10 minutes (node churn), never
	 * within the skew window (their old messages could be replayed) nor
	 * while they could merely be late. */
	evict = 600000;
	if (evict < 2 * skew)
		evict = 2 * skew;
	if (evict < 10 * ttl)
		evict = 10 * ttl;
	ns_table_set_eviction(table, evict);
	ns_table_set_future_skew(table, future);
	ns_table_set_shared_keys(table, shared);
	if (opt("key-file-next")) {
		ns_table_set_next_key(table, &next);
		ns_key_wipe(&next);
		log_info("extender",
			 "key rotation window: messages are accepted under the next master key too "
			 "(nodescore_extender_messages_verified_total{key=\"next\"}); remove "
			 "--key-file-next once it is the --key-file of every extender path=%s",
			 opt("key-file-next"));
	}
	if (shared)
		log_warning("extender", "--shared-key: every agent holding the master key can sign "
					"for any node");
	if (ns_extsub_start(scores, table, &key, skew, &sub, err, sizeof(err)) < 0) {
		log_error("extender", "%s", err);
		goto out;
	}
	hc.threads = (unsigned)threads;
	hc.max_body = (size_t)max_body;
	hc.body_budget = (size_t)budget;
	hc.request_timeout_ms = req_timeout;
	hc.per_ip_limit = (unsigned)per_ip;
	hc.api.ttl_ms = ttl;
	hc.table = table;
	hc.api.shadow = shadow;
	hc.tls_cert = tls.cert;
	hc.tls_key = tls.key;
	hc.tls_client_ca = client_ca;
	hc.token = opt("auth-token-file") ? &token : NULL;
	/* Shadow mode places nothing, so a hold would be held against a node
	 * no pod was sent to: no reservation table at all. */
	if (shadow)
		settle = 0;
	/* A hold outlives no TTL: past it the node is stale and neutral anyway. */
	if (settle) {
		resv = ns_reserve_new(max_nodes < 16384 ? 2 * (uint32_t)max_nodes : 32768, settle,
				      ttl);
		if (!resv) {
			log_error("extender", "cannot allocate the reservation table");
			goto out;
		}
		hc.api.resv = resv;
	}
	if (ns_exthttp_start(&hc, &http, err, sizeof(err)) < 0) {
		log_error("extender", "%s address=%s", err, opt("listen-http"));
		goto out;
	}
	addr_str(&hc.addr, ns_exthttp_port(http), httpaddr, sizeof(httpaddr));
	log_success("extender",
		    "listening scores=%s http=%s max_nodes=%llu ttl_ms=%llu skew_ms=%llu "
		    "future_skew_ms=%llu normalize=%s http_threads=%llu reserve_settle_ms=%llu "
		    "shadow=%s tls=%s auth_token=%s key_next=%s client_ca=%s",
		    scores, httpaddr, (unsigned long long)max_nodes, (unsigned long long)ttl,
		    (unsigned long long)skew, (unsigned long long)future, opt("normalize"),
		    (unsigned long long)threads, (unsigned long long)settle, shadow ? "on" : "off",
		    tls.cert ? "on" : "off", hc.token ? "on" : "off",
		    opt("key-file-next") ? "on" : "off", client_ca ? "on" : "off");
	if (shadow)
		log_info("extender",
			 "shadow mode: /filter passes every node, /prioritize gives every node %d; "
			 "would-be decisions in the log and nodescore_extender_shadow_* metrics; "
			 "in-flight holds off",
			 NS_EXT_SCORE_NEUTRAL);

	/* Signals interrupt poll(); the timeout only bounds a missed wakeup. */
	while (!stop)
		poll(NULL, 0, 1000);
	log_info("extender", "shutting down");
	rc = 0;
out:
	ns_exthttp_stop(http);
	ns_extsub_stop(sub);
	ns_table_free(table);
	ns_reserve_free(resv);
	ns_key_wipe(&key);
	ns_key_wipe(&next);
	ns_httpsec_tls_free(&tls);
	free(client_ca);
	sodium_memzero(&token, sizeof(token));
	if (rc == 0)
		log_info("extender", "stopped");
	return rc;
}
