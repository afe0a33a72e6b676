// SPDX-License-Identifier: MIT
/* nodescore-extender: options, wiring of subscriber + table + HTTP, signals. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "nodescore/exthttp.h"
#include "nodescore/extsub.h"
#include "nodescore/key.h"
#include "nodescore/log.h"
#include "nodescore/opt.h"
#include "nodescore/table.h"

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
	{"key-file", NS_OPT_STRING, NULL, "shared HMAC key file, mode 0600 (required)", NULL, 0},
	{"publish-interval", NS_OPT_STRING, "2s", "agents' publish interval; the TTL defaults to 3x",
	 NULL, 0},
	{"ttl", NS_OPT_STRING, NULL, "age after which a node is stale (default 3 x publish-interval)",
	 NULL, 0},
	{"skew", NS_OPT_STRING, "30s", "accepted clock difference for message timestamps", NULL, 0},
	{"max-body", NS_OPT_STRING, "64Mi", "largest accepted request body", NULL, 0},
	{"normalize", NS_OPT_STRING, "linear", "prioritize scores over the candidates: linear|rank",
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
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, host, sizeof(host));
		snprintf(out, cap, "[%s]:%u", host, port);
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, host, sizeof(host));
		snprintf(out, cap, "%s:%u", host, port);
	}
}

int main(int argc, char **argv)
{
	struct ns_exthttp_cfg hc;
	struct ns_exthttp *http = NULL;
	struct ns_extsub *sub = NULL;
	struct ns_table *table = NULL;
	struct ns_key key;
	struct sigaction sa;
	uint64_t interval, ttl, skew, max_body, max_nodes, threads, evict;
	const char *scores;
	char err[256], httpaddr[80];
	int rc = 1;

	switch (ns_opt_parse(opts, NOPTS, "nodescore-extender",
			     "Central kube-scheduler extender: keeps the latest signed score of every "
			     "node\nand answers /filter and /prioritize from them.",
			     argc, argv, NULL, err, sizeof(err))) {
	case NS_OPT_HELP:
		return 0;
	case NS_OPT_ERROR:
		log_error("extender", "%s", err);
		return 2;
	case NS_OPT_RUN:
		break;
	}
	if (ns_log_set_level(opt("log-level")) < 0)
		return bad("log-level", "expected error, warning, success or info");
	memset(&hc, 0, sizeof(hc));
	scores = opt("listen-scores");
	if (!scores || (strncmp(scores, "tcp://", 6) != 0 && strncmp(scores, "ipc://", 6) != 0) ||
	    strlen(scores) < 7)
		return bad("listen-scores", "expected tcp://host:port or ipc://path");
	if (ns_exthttp_parse_addr(opt("listen-http"), &hc.addr, &hc.addrlen) < 0)
		return bad("listen-http", "expected host:port or [v6]:port with a numeric host");
	if (ns_parse_duration_ms(opt("publish-interval"), &interval) < 0 || interval == 0 ||
	    interval > 3600000)
		return bad("publish-interval", "expected a duration in (0, 1h], e.g. 2s");
	ttl = 3 * interval;
	if (opt("ttl") && (ns_parse_duration_ms(opt("ttl"), &ttl) < 0 || ttl == 0))
		return bad("ttl", "expected a positive duration, e.g. 6s");
	if (ns_parse_duration_ms(opt("skew"), &skew) < 0 || skew > 86400000)
		return bad("skew", "expected a duration up to 1d, e.g. 30s");
	if (ns_parse_size(opt("max-body"), &max_body) < 0 || max_body < 1024 ||
	    max_body > (1ull << 32))
		return bad("max-body", "expected a size from 1Ki to 4Gi, e.g. 64Mi");
	if (ns_normalize_parse(opt("normalize"), &hc.api.norm) < 0)
		return bad("normalize", "expected linear or rank");
	if (ns_parse_u64(opt("max-nodes"), 1, 1000000, &max_nodes) < 0)
		return bad("max-nodes", "expected 1..1000000");
	if (ns_parse_u64(opt("http-threads"), 1, 64, &threads) < 0)
		return bad("http-threads", "expected 1..64");
	if (ns_key_load(opt("key-file"), &key, err, sizeof(err)) < 0) {
		log_error("extender", "%s", err);
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
	if (ns_extsub_start(scores, table, &key, skew, &sub, err, sizeof(err)) < 0) {
		log_error("extender", "%s", err);
		goto out;
	}
	hc.threads = (unsigned)threads;
	hc.max_body = (size_t)max_body;
	hc.api.ttl_ms = ttl;
	hc.table = table;
	if (ns_exthttp_start(&hc, &http, err, sizeof(err)) < 0) {
		log_error("extender", "%s address=%s", err, opt("listen-http"));
		goto out;
	}
	addr_str(&hc.addr, ns_exthttp_port(http), httpaddr, sizeof(httpaddr));
	log_success("extender",
		    "listening scores=%s http=%s max_nodes=%llu ttl_ms=%llu skew_ms=%llu "
		    "normalize=%s http_threads=%llu",
		    scores, httpaddr, (unsigned long long)max_nodes, (unsigned long long)ttl,
		    (unsigned long long)skew, opt("normalize"), (unsigned long long)threads);

	/* Signals interrupt poll(); the timeout only bounds a missed wakeup. */
	while (!stop)
		poll(NULL, 0, 1000);
	log_info("extender", "shutting down");
	rc = 0;
out:
	ns_exthttp_stop(http);
	ns_extsub_stop(sub);
	ns_table_free(table);
	ns_key_wipe(&key);
	if (rc == 0)
		log_info("extender", "stopped");
	return rc;
}
