// SPDX-License-Identifier: MIT
/* nodescore-pub: fake agents publishing signed score messages over nanomsg PUB. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include <sodium.h>

#include "nodescore/clock.h"
#include "nodescore/key.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "nodescore/pubcsv.h"
#include "nodescore/wire.h"
#include "walk.h"

#define COMP "pub"
#define MAX_ENDPOINTS 16
/* nanomsg has no working linger: give the last round time to leave. */
#define DRAIN_MS 200

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* value and from are filled by ns_opt_parse. */
#define OPT(name, kind, def, help)                                                                 \
	{                                                                                          \
		name, kind, def, help, NULL, 0                                                     \
	}

static struct ns_opt opts[] = {
    OPT("connect", NS_OPT_STRING, "tcp://127.0.0.1:5555",
	"Comma-separated nanomsg endpoints to connect to (every extender replica)."),
    OPT("key-file", NS_OPT_STRING, NULL,
	"Master HMAC key file (mode 0600, 32..256 bytes); each fake node signs with its key "
	"derived from it."),
    OPT("node-key-file", NS_OPT_STRING, "",
	"Sign every message with this one key as is (a node key: hijack tests), instead of "
	"deriving."),
    OPT("shared-key", NS_OPT_BOOL, "0",
	"Sign with the master key itself (extenders run with --shared-key)."),
    OPT("nodes", NS_OPT_STRING, "100", "Number of fake nodes (random walk mode)."),
    OPT("prefix", NS_OPT_STRING, "node-", "Node name prefix; names are prefix + index."),
    OPT("node-cpu", NS_OPT_STRING, "16000", "Fake node size in millicores (headroom fields)."),
    OPT("node-mem", NS_OPT_STRING, "65536", "Fake node size in MiB (headroom fields)."),
    OPT("interval", NS_OPT_STRING, "1s", "Time between rounds (one message per node each)."),
    OPT("rounds", NS_OPT_STRING, "0", "Rounds to send, 0 = until SIGINT/SIGTERM."),
    OPT("seed", NS_OPT_STRING, "0", "Random walk seed, 0 = random."),
    OPT("replay", NS_OPT_STRING, "",
	"CSV file to publish every round instead of the random walk "
	"(header: " NS_PUBCSV_HEADER ")."),
    OPT("rate", NS_OPT_STRING, "0",
	"Messages per second cap; when set, rounds follow each other as fast as "
	"this allows (--interval ignored). 0 = off."),
    OPT("clock-offset", NS_OPT_STRING, "0",
	"Milliseconds added to every timestamp, may be negative (skew tests)."),
    OPT("spread", NS_OPT_BOOL, "0",
	"Spread each round's messages evenly over --interval, as unsynchronised agents "
	"would, instead of one burst per round."),
    OPT("connect-wait", NS_OPT_STRING, "300ms",
	"Pause between connecting and the first round: a new PUB connection is not seen "
	"by the subscriber for a few hundred ms."),
    OPT("sndbuf", NS_OPT_STRING, "16Mi",
	"Send buffer per connection; PUB drops what does not fit, so hold a whole round."),
    OPT("log-every", NS_OPT_STRING, "10", "Log one INFO line every N rounds (0 = never)."),
    OPT("log-level", NS_OPT_STRING, "info", "error, warning, success or info."),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

struct config {
	uint64_t nodes, node_cpu, node_mem, interval_ms, rounds, seed, rate, sndbuf, log_every;
	uint64_t connect_wait_ms;
	int64_t clock_offset_ms;
	int spread;
	const char *prefix, *connect, *replay, *key_file, *node_key_file;
	int derive; /* sign with each node's key derived from the master */
};

static const char *get(const char *name)
{
	return ns_opt_get(opts, NOPTS, name);
}

static int bad(const char *flag, const char *want)
{
	log_error(COMP, "invalid --%s value=%s (want %s)", flag, get(flag) ? get(flag) : "", want);
	return -EINVAL;
}

static int parse_config(struct config *c)
{
	char name[NS_WIRE_NAME_MAX + 2];
	const char *s;
	long long off;
	char *end;
	int n;

	memset(c, 0, sizeof(*c));
	if (ns_log_set_level(get("log-level")) < 0)
		return bad("log-level", "error, warning, success or info");
	if (ns_parse_u64(get("nodes"), 1, NS_PUBCSV_MAX_ROWS, &c->nodes) < 0)
		return bad("nodes", "1..100000");
	if (ns_parse_u64(get("node-cpu"), 1, UINT32_MAX, &c->node_cpu) < 0)
		return bad("node-cpu", "1..4294967295 millicores");
	if (ns_parse_u64(get("node-mem"), 1, UINT32_MAX, &c->node_mem) < 0)
		return bad("node-mem", "1..4294967295 MiB");
	if (ns_parse_duration_ms(get("interval"), &c->interval_ms) < 0 || c->interval_ms == 0 ||
	    c->interval_ms > 3600000)
		return bad("interval", "a duration 1ms..1h, e.g. 1s or 500ms");
	if (ns_parse_u64(get("rounds"), 0, UINT64_MAX, &c->rounds) < 0)
		return bad("rounds", "a count, 0 = forever");
	if (ns_parse_u64(get("seed"), 0, UINT64_MAX, &c->seed) < 0)
		return bad("seed", "an unsigned integer");
	if (ns_parse_u64(get("rate"), 0, 100000000, &c->rate) < 0)
		return bad("rate", "0..100000000 messages per second");
	if (ns_parse_size(get("sndbuf"), &c->sndbuf) < 0 || c->sndbuf < 4096 ||
	    c->sndbuf > (1u << 30))
		return bad("sndbuf", "a size 4K..1Gi");
	if (ns_parse_duration_ms(get("connect-wait"), &c->connect_wait_ms) < 0 ||
	    c->connect_wait_ms > 60000)
		return bad("connect-wait", "a duration 0..60s, e.g. 300ms");
	if (ns_parse_u64(get("log-every"), 0, UINT64_MAX, &c->log_every) < 0)
		return bad("log-every", "a round count");
	s = get("clock-offset");
	errno = 0;
	off = s && *s ? strtoll(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || off < -86400000LL * 365 || off > 86400000LL * 365)
		return bad("clock-offset", "milliseconds within +-1 year, e.g. -60000");
	c->clock_offset_ms = off;
	if (ns_parse_bool(get("spread"), &c->spread) < 0)
		return bad("spread", "true or false");
	c->prefix = get("prefix");
	c->connect = get("connect");
	c->replay = get("replay");
	c->key_file = get("key-file");
	c->node_key_file = get("node-key-file");
	if (ns_parse_bool(get("shared-key"), &c->derive) < 0)
		return bad("shared-key", "true or false");
	c->derive = !c->derive && !(c->node_key_file && *c->node_key_file);
	/* The longest generated name must still be a valid node name. */
	n = snprintf(name, sizeof(name), "%s%" PRIu64, c->prefix, c->nodes - 1);
	if (n < 0 || (size_t)n > NS_WIRE_NAME_MAX || !ns_wire_name_valid(name, (size_t)n))
		return bad("prefix", "[a-z0-9.-] such that prefix + index fits 63 characters");
	if (!c->connect || !*c->connect)
		return bad("connect", "one or more endpoints, e.g. tcp://127.0.0.1:5555");
	return 0;
}

static int open_socket(const struct config *c)
{
	char list[1024], *save = NULL, *ep;
	int sock, sndbuf = (int)c->sndbuf, neps = 0;

	if (strlen(c->connect) >= sizeof(list)) {
		log_error(COMP, "--connect too long len=%zu max=%zu", strlen(c->connect),
			  sizeof(list) - 1);
		return -EINVAL;
	}
	snprintf(list, sizeof(list), "%s", c->connect);
	sock = nn_socket(AF_SP, NN_PUB);
	if (sock < 0) {
		log_error(COMP, "nn_socket failed error=\"%s\"", nn_strerror(nn_errno()));
		return -1;
	}
	if (nn_setsockopt(sock, NN_SOL_SOCKET, NN_SNDBUF, &sndbuf, sizeof(sndbuf)) < 0)
		log_warning(COMP, "cannot set send buffer bytes=%d error=\"%s\"", sndbuf,
			    nn_strerror(nn_errno()));
	for (ep = strtok_r(list, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
		if (++neps > MAX_ENDPOINTS) {
			log_error(COMP, "too many --connect endpoints max=%d", MAX_ENDPOINTS);
			nn_close(sock);
			return -1;
		}
		if (nn_connect(sock, ep) < 0) {
			log_error(COMP, "cannot connect endpoint=%s error=\"%s\"", ep,
				  nn_strerror(nn_errno()));
			nn_close(sock);
			return -1;
		}
	}
	if (neps == 0) {
		log_error(COMP, "no endpoint in --connect value=%s", c->connect);
		nn_close(sock);
		return -1;
	}
	return sock;
}

/* Sleeps until the monotonic deadline; returns early when a signal asks to stop. */
static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000u),
			      .tv_nsec = (long)(deadline_ns % 1000000000u)};

	while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint32_t random_u32(void)
{
	uint32_t v = 0;

	while (getrandom(&v, sizeof(v), 0) < 0 && errno == EINTR)
		;
	return v;
}

static uint64_t random_seed(void)
{
	return (uint64_t)random_u32() << 32 | random_u32();
}

static uint64_t timestamp(int64_t offset_ms)
{
	int64_t t = (int64_t)ns_now_ms() + offset_ms;

	return t < 0 ? 0 : (uint64_t)t;
}

static int run(const struct config *c, const struct ns_key *key, struct ns_msg *msgs, size_t n,
	       struct pub_walk *walk, int sock)
{
	uint64_t round = 0, sent = 0, dropped = 0, failed = 0, seq = 0, t0, next_round;
	uint64_t log_sent = 0, log_t = 0;
	uint32_t nonce = random_u32();
	uint8_t buf[NS_WIRE_MAX_LEN], prk[NS_HKDF_HASH_LEN];
	uint8_t(*nkeys)[NS_NODE_KEY_LEN] = NULL;

	if (c->derive) {
		/* Derived once per node: the rate is the point of this tool. */
		nkeys = malloc(n * sizeof(*nkeys));
		if (!nkeys) {
			log_error(COMP, "out of memory nodes=%zu", n);
			return 1;
		}
		ns_key_node_prk(key, prk);
		for (size_t i = 0; i < n; i++)
			ns_key_node_from_prk(prk, msgs[i].name, strlen(msgs[i].name), nkeys[i]);
		sodium_memzero(prk, sizeof(prk));
	}
	log_info(COMP,
		 "publishing nodes=%zu mode=%s interval_ms=%" PRIu64 " rate=%" PRIu64
		 " rounds=%" PRIu64 " nonce=%08x clock_offset_ms=%" PRId64,
		 n, walk ? "walk" : "replay", c->interval_ms, c->rate, c->rounds, nonce,
		 c->clock_offset_ms);
	t0 = ns_mono_ns();
	log_t = t0;
	next_round = t0;
	while (!stop && (c->rounds == 0 || round < c->rounds)) {
		for (size_t i = 0; i < n && !stop; i++) {
			struct ns_msg *m = &msgs[i];
			int len;

			if (walk)
				pub_walk_step(walk, i, m);
			m->boot_nonce = nonce;
			m->seq = (uint32_t)++seq;
			m->ts_ms = timestamp(c->clock_offset_ms);
			len = nkeys ? ns_wire_encode(m, nkeys[i], NS_NODE_KEY_LEN, buf, sizeof(buf))
				    : ns_wire_encode(m, key->bytes, key->len, buf, sizeof(buf));
			if (len < 0) {
				/* Only a bad replay row could get here; the parser refuses those.
				 */
				failed++;
				continue;
			}
			if (nn_send(sock, buf, (size_t)len, NN_DONTWAIT) < 0) {
				if (nn_errno() == EINTR || nn_errno() == ETERM)
					break;
				dropped++;
				continue;
			}
			sent++;
			/* Check the clock every 64 messages: cheap and smooth enough. */
			if (c->rate && (sent & 63) == 0) {
				/* Split so sent * 1e9 cannot overflow on long runs. */
				uint64_t due = t0 + sent / c->rate * 1000000000u +
					       sent % c->rate * 1000000000u / c->rate;
				if (due > ns_mono_ns() + 1000000u)
					sleep_until(due);
			} else if (c->spread && !c->rate && (i & 15) == 15) {
				uint64_t due = next_round + (i + 1) * c->interval_ms * 1000000u / n;
				if (due > ns_mono_ns() + 1000000u)
					sleep_until(due);
			}
		}
		round++;
		if (c->log_every && round % c->log_every == 0) {
			uint64_t now = ns_mono_ns();
			double secs = (double)(now - log_t) / 1e9;

			log_info(COMP,
				 "progress rounds=%" PRIu64 " sent=%" PRIu64 " dropped=%" PRIu64
				 " msg_per_s=%.0f",
				 round, sent, dropped,
				 secs > 0 ? (double)(sent - log_sent) / secs : 0.0);
			log_sent = sent;
			log_t = now;
		}
		if (c->rounds && round >= c->rounds)
			break;
		if (!c->rate) {
			next_round += c->interval_ms * 1000000u;
			/* Behind schedule (suspended, overloaded): restart the cadence from now. */
			if (next_round < ns_mono_ns())
				next_round = ns_mono_ns();
			sleep_until(next_round);
		}
	}
	{
		/* Measured before the drain so msg_per_s is the sending rate. */
		double secs = (double)(ns_mono_ns() - t0) / 1e9;

		if (!stop)
			sleep_until(ns_mono_ns() + DRAIN_MS * 1000000ull);
		log_success(COMP,
			    "stopped rounds=%" PRIu64 " sent=%" PRIu64 " dropped=%" PRIu64
			    " invalid=%" PRIu64 " seconds=%.1f msg_per_s=%.0f",
			    round, sent, dropped, failed, secs,
			    secs > 0 ? (double)sent / secs : 0.0);
	}
	if (nkeys) {
		sodium_memzero(nkeys, n * sizeof(*nkeys));
		free(nkeys);
	}
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct pub_walk *walk = NULL;
	struct ns_msg *msgs = NULL;
	struct config c;
	struct ns_key key;
	char err[512];
	size_t n = 0;
	int sock = -1, rc = 2;

	int opt_rc = ns_main_opts(opts, NOPTS, "nodescore-pub",
				  "Fake nodescore agents: publishes N nodes' signed score messages "
				  "(random walk or CSV replay) to extenders.",
				  argc, argv, NULL, COMP);

	if (opt_rc >= 0)
		return opt_rc;
	if (parse_config(&c) < 0)
		return 2;
	if (ns_key_load(*c.node_key_file ? c.node_key_file : c.key_file, &key, err, sizeof(err)) <
	    0) {
		log_error(COMP, "%s", err);
		return 2;
	}
	if (*c.replay) {
		if (ns_pubcsv_load(c.replay, &msgs, &n, err, sizeof(err)) < 0) {
			log_error(COMP, "bad --replay file: %s", err);
			goto out;
		}
	} else {
		n = (size_t)c.nodes;
		msgs = calloc(n, sizeof(*msgs));
		if (!c.seed)
			c.seed = random_seed();
		walk = pub_walk_new(n, c.seed, (uint32_t)c.node_cpu, (uint32_t)c.node_mem);
		if (!msgs || !walk) {
			log_error(COMP, "out of memory nodes=%zu", n);
			rc = 1;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			snprintf(msgs[i].name, sizeof(msgs[i].name), "%s%zu", c.prefix, i);
		log_info(COMP, "random walk seed=%" PRIu64, c.seed);
	}
	sock = open_socket(&c);
	if (sock < 0) {
		rc = 2;
		goto out;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sleep_until(ns_mono_ns() + c.connect_wait_ms * 1000000u);
	rc = run(&c, &key, msgs, n, walk, sock);
out:
	if (sock >= 0)
		nn_close(sock);
	ns_key_wipe(&key);
	pub_walk_free(walk);
	free(msgs);
	return rc;
}
