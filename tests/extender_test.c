// SPDX-License-Identifier: MIT
/* nodescore-extender end to end: the real binary on 127.0.0.1, real signed
 * messages over a nanomsg PUB socket, real HTTP over loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "nodescore/clock.h"
#include "nodescore/buf.h"
#include "nodescore/wire.h"
#include "check.h"
#include "nodespec.h"

static char bin[4096], dir[] = "/tmp/ns-ext-test-XXXXXX", keypath[256], logpath[256];
static uint8_t key[32];
static pid_t child = -1;
static int http_port, pub = -1;
static uint32_t seq = 100;

/* ---- processes ---- */

static int free_tcp_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &l) < 0)
		return -1;
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t p = fork();

	if (p == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

/* Waits up to ms for the child to exit; returns its exit status or -1. */
static int wait_exit(pid_t p, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		pid_t r = waitpid(p, &st, WNOHANG);
		if (r == p)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	return -1;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct ns_buf b = {0};
	char tmp[65536];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		ns_buf_put(&b, tmp, n);
	fclose(f);
	if (!b.p)
		ns_buf_put(&b, "", 0);
	*len = b.len;
	return b.p;
}

/* ---- HTTP client: one request per connection, bounded by time ---- */

struct resp {
	int status;
	struct ns_buf raw;
	const char *body;
	size_t body_len;
};

static int http(const char *method, const char *path, const char *body, size_t len, struct resp *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)http_port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char hdr[512], buf[65536];
	uint64_t deadline = ns_mono_ns() + 10000000000ull;
	size_t off = 0;
	int n;

	memset(r, 0, sizeof(*r));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto fail;
	n = snprintf(hdr, sizeof(hdr),
		     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		     method, path, len);
	if (write(fd, hdr, (size_t)n) != n)
		goto fail;
	while (off < len) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		ssize_t w;
		if (ns_mono_ns() > deadline || poll(&p, 1, 1000) < 0)
			goto fail;
		w = write(fd, body + off, len - off);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			break; /* the server may answer and close early */
		if (w > 0)
			off += (size_t)w;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t rd;
		if (ns_mono_ns() > deadline)
			goto fail;
		if (poll(&p, 1, 1000) <= 0)
			continue;
		rd = read(fd, buf, sizeof(buf));
		if (rd < 0 && errno == EINTR)
			continue;
		if (rd <= 0)
			break;
		ns_buf_put(&r->raw, buf, (size_t)rd);
	}
	close(fd);
	if (!r->raw.p || sscanf(r->raw.p, "HTTP/1.1 %d", &r->status) != 1)
		return -1;
	r->body = strstr(r->raw.p, "\r\n\r\n");
	if (!r->body)
		return -1;
	r->body += 4;
	r->body_len = r->raw.len - (size_t)(r->body - r->raw.p);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

static int post(const char *path, const char *body, struct resp *r)
{
	return http("POST", path, body, strlen(body), r);
}

/* Value of one exact series line in /metrics, or -1. */
static long long metric(const char *series)
{
	struct resp r;
	const char *p;
	long long v = -1;
	size_t n = strlen(series);

	if (http("GET", "/metrics", "", 0, &r) < 0 || r.status != 200)
		goto out;
	for (p = r.body; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			v = atoll(p + n + 1);
			break;
		}
	}
out:
	ns_buf_free(&r.raw);
	return v;
}

/* Polls a metric until it reaches want (5 s at most). */
static int wait_metric(const char *series, long long want)
{
	for (int i = 0; i < 100; i++) {
		if (metric(series) >= want)
			return 1;
		usleep(50000);
	}
	fprintf(stderr, "  %s stayed at %lld, wanted %lld\n", series, metric(series), want);
	return 0;
}

/* ---- publishing ---- */

/* Same cluster as tests/extapi_test.c, which the fixtures describe. */
static const struct node_spec cluster[] = {
    {"node-a", 0, 800, 50, 400, 300, 4000, 8192, 300, 0},
    {"node-b", NS_FLAG_ANOMALY, 400, 912, 100, 100, 4000, 8192, 300, 0},
    {"node-c", 0, 600, 20, 700, 500, 900, 8192, 200, 0},
    {"node-d", 0, 300, 10, 200, 100, 4000, 300, 5000, 0},
};
static const struct node_spec stale_f = {"node-f", 0, 900, 0, 100, 100, 8000, 8192, 100, 0};

static int encode(const struct node_spec *s, uint64_t ts, const uint8_t *k, uint8_t *buf)
{
	struct ns_msg m;

	node_spec_msg(s, ts, &m);
	m.boot_nonce = 7;
	m.seq = ++seq;
	return ns_wire_encode_node(&m, k, 32, buf, NS_WIRE_MAX_LEN);
}

static int send_raw(const void *buf, size_t len)
{
	return nn_send(pub, buf, len, 0) == (int)len ? 0 : -1;
}

static int publish(const struct node_spec *s)
{
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n = encode(s, ns_now_ms(), key, buf);

	return n < 0 ? -1 : send_raw(buf, (size_t)n);
}

static const char *acc = "nodescore_extender_messages_accepted_total";

static long long accepted(void)
{
	return metric(acc);
}

static int publish_cluster(void)
{
	long long before = accepted();

	for (size_t i = 0; i < sizeof(cluster) / sizeof(cluster[0]); i++)
		if (publish(&cluster[i]) < 0)
			return 0;
	return wait_metric(acc, before + 4);
}

/* ---- tests ---- */

static int check_fixture(const char *path, const char *name)
{
	char req[256], rep[256];
	size_t rl, pl;
	char *body, *want;
	struct resp r;
	int ok;

	snprintf(req, sizeof(req), "tests/fixtures/extender/%s_request.json", name);
	snprintf(rep, sizeof(rep), "tests/fixtures/extender/%s_reply.json", name);
	body = slurp(req, &rl);
	want = slurp(rep, &pl);
	if (!body || !want)
		return 0;
	if (pl && want[pl - 1] == '\n')
		pl--;
	ok = http("POST", path, body, rl, &r) == 0 && r.status == 200 && r.body_len == pl &&
	     memcmp(r.body, want, pl) == 0;
	if (!ok)
		fprintf(stderr, "  %s: status %d body %.300s\n", name, r.status,
			r.body ? r.body : "(none)");
	ns_buf_free(&r.raw);
	free(body);
	free(want);
	return ok;
}

static void test_startup_and_first_message(void)
{
	char *argv[] = {bin,	       "--key-file",	   keypath, "--listen-http",
			"127.0.0.1:0", "--listen-scores",  NULL,    "--ttl",
			"2500ms",      "--max-body",	   "64Ki",  "--max-nodes",
			"6",	       "--reserve-settle", "0",	    NULL};
	char scores[64], *log = NULL, *p;
	size_t len;
	int port = free_tcp_port();

	CHECK(port > 0);
	snprintf(scores, sizeof(scores), "tcp://127.0.0.1:%d", port);
	argv[6] = scores;
	child = spawn(argv, logpath);
	CHECK(child > 0);
	for (int i = 0; i < 100 && !http_port; i++) {
		usleep(50000);
		free(log);
		log = slurp(logpath, &len);
		if (log && (p = strstr(log, "SUCCESS extender: listening")) &&
		    (p = strstr(p, "http=127.0.0.1:")))
			http_port = atoi(p + strlen("http=127.0.0.1:"));
	}
	free(log);
	CHECK(http_port > 0);
	pub = nn_socket(AF_SP, NN_PUB);
	CHECK(pub >= 0);
	CHECK(nn_connect(pub, scores) >= 0);
	/* A new SUB connection drops messages until it is up: publish until
	 * the first one is counted, bounded at 5 s. */
	for (int i = 0; i < 100 && accepted() < 1; i++) {
		CHECK_EQ_INT(publish(&stale_f), 0);
		usleep(50000);
	}
	CHECK(accepted() >= 1);
}

static void test_filter_prioritize_match_fixtures(void)
{
	struct resp r;

	CHECK(http_port > 0);
	/* node-f was published first; let it age past the 2.5 s TTL while the
	 * others stay fresh. */
	usleep(2600000);
	CHECK(publish_cluster());
	CHECK_EQ_INT(metric("nodescore_extender_stale_nodes"), 1);
	CHECK_EQ_INT(metric("nodescore_extender_table_nodes"), 5);
	CHECK(check_fixture("/filter", "filter_names"));
	CHECK(check_fixture("/filter", "filter_objects"));
	CHECK(check_fixture("/prioritize", "prioritize_names"));
	CHECK(check_fixture("/prioritize", "prioritize_objects"));
	CHECK(check_fixture("/prioritize", "prioritize_latency"));
	CHECK(check_fixture("/prioritize", "prioritize_batch"));
	CHECK(metric("nodescore_extender_filtered_nodes_total{reason=\"anomaly\"}") >= 2);
	CHECK(metric("nodescore_extender_filtered_nodes_total{reason=\"cpu\"}") >= 2);
	CHECK(metric("nodescore_extender_candidates_without_signal_total{why=\"unknown\"}") >= 1);
	/* fail open: the only candidate is anomalous */
	CHECK_EQ_INT(post("/filter", "{\"Pod\":{},\"NodeNames\":[\"node-b\"]}", &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strstr(r.body, "\"NodeNames\":[\"node-b\"],\"FailedNodes\":{}"));
	ns_buf_free(&r.raw);
	CHECK_EQ_INT(metric("nodescore_extender_fail_open_total"), 1);
}

/* node-a's absolute score on 0..10 when it is the only candidate. */
static int score_a(void)
{
	struct resp r;
	int s = -1;
	const char *p;

	if (post("/prioritize", "{\"Pod\":{},\"NodeNames\":[\"node-a\"]}", &r) == 0 &&
	    r.status == 200 && (p = strstr(r.body, "\"Score\":")))
		s = atoi(p + 8);
	ns_buf_free(&r.raw);
	return s;
}

static void test_bad_messages_rejected_and_counted(void)
{
	struct node_spec evil = cluster[0];
	uint8_t buf[NS_WIRE_MAX_LEN], other[32], big[300];
	long long before;
	int n;

	CHECK(http_port > 0);
	CHECK(publish_cluster());
	CHECK_EQ_INT(score_a(), 8);
	evil.score = 0;
	memset(other, 'x', sizeof(other));
	/* bad HMAC */
	n = encode(&evil, ns_now_ms(), other, buf);
	CHECK_EQ_INT(send_raw(buf, (size_t)n), 0);
	CHECK(wait_metric("nodescore_extender_messages_rejected_total{reason=\"bad_mac\"}", 1));
	/* skewed timestamp, both directions */
	n = encode(&evil, ns_now_ms() - 120000, key, buf);
	CHECK_EQ_INT(send_raw(buf, (size_t)n), 0);
	n = encode(&evil, ns_now_ms() + 120000, key, buf);
	CHECK_EQ_INT(send_raw(buf, (size_t)n), 0);
	CHECK(wait_metric("nodescore_extender_messages_rejected_total{reason=\"clock_skew\"}", 2));
	/* replay: a valid message accepted once, then sent again */
	evil.score = 800;
	n = encode(&evil, ns_now_ms(), key, buf);
	before = accepted();
	CHECK_EQ_INT(send_raw(buf, (size_t)n), 0);
	CHECK(wait_metric(acc, before + 1));
	evil.score = 0;
	CHECK_EQ_INT(send_raw(buf, (size_t)n), 0);
	CHECK(wait_metric("nodescore_extender_messages_rejected_total{reason=\"replay\"}", 1));
	/* garbage, a truncated message, an oversized frame */
	CHECK_EQ_INT(send_raw("hello, extender", 15), 0);
	CHECK_EQ_INT(send_raw(buf, (size_t)n - 3), 0);
	memset(big, 0xab, sizeof(big));
	CHECK_EQ_INT(send_raw(big, sizeof(big)), 0);
	CHECK(wait_metric("nodescore_extender_messages_rejected_total{reason=\"bad_length\"}", 3));
	/* A frame far over the message size is counted and the connection
	 * stays: the next valid message on it is accepted. */
	{
		static uint8_t huge[20000];
		memset(huge, 0xcd, sizeof(huge));
		before = accepted();
		CHECK_EQ_INT(send_raw(huge, sizeof(huge)), 0);
		CHECK(wait_metric(
		    "nodescore_extender_messages_rejected_total{reason=\"bad_length\"}", 4));
		CHECK_EQ_INT(publish(&cluster[0]), 0);
		CHECK(wait_metric(acc, before + 1));
	}
	/* a valid message from a 7th node: the table holds 6 at most, 5 used */
	{
		struct node_spec g = cluster[0], h = cluster[0];
		g.name = "node-g";
		h.name = "node-h";
		CHECK_EQ_INT(publish(&g), 0);
		CHECK_EQ_INT(publish(&h), 0);
		CHECK(wait_metric(
		    "nodescore_extender_messages_rejected_total{reason=\"table_full\"}", 1));
	}
	CHECK_EQ_INT(metric("nodescore_extender_table_nodes"), 6);
	/* none of it changed node-a */
	CHECK_EQ_INT(score_a(), 8);
}

static void test_http_errors(void)
{
	static const char *const bad[] = {
	    "",
	    "{",
	    "null",
	    "{\"Pod\":{}}",
	    "{\"Pod\":{},\"NodeNames\":[1]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\"]}garbage",
	    "\xff\xfe",
	    "{\"Pod\":[],\"NodeNames\":[]}",
	};
	struct resp r;
	struct ns_buf big = {0};
	long long before =
	    metric("nodescore_extender_requests_total{verb=\"filter\",code=\"400\"}");

	CHECK(http_port > 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_EQ_INT(post("/filter", bad[i], &r), 0);
		CHECK_EQ_INT(r.status, 400);
		CHECK(strstr(r.body, "\"Error\":\"") && !strstr(r.body, "\"Error\":\"\""));
		ns_buf_free(&r.raw);
		CHECK_EQ_INT(post("/prioritize", bad[i], &r), 0);
		CHECK_EQ_INT(r.status, 400);
		CHECK(strncmp(r.body, "{\"Error\":\"", 10) == 0);
		ns_buf_free(&r.raw);
	}
	CHECK_EQ_INT(metric("nodescore_extender_requests_total{verb=\"filter\",code=\"400\"}"),
		     before + (long long)(sizeof(bad) / sizeof(bad[0])));
	/* over --max-body (64Ki) */
	ns_buf_puts(&big, "{\"Pod\":{},\"NodeNames\":[");
	for (int i = 0; i < 10000; i++)
		ns_buf_printf(&big, "%s\"node-%d\"", i ? "," : "", i);
	ns_buf_puts(&big, "]}");
	CHECK(big.len > 65536);
	CHECK_EQ_INT(http("POST", "/prioritize", big.p, big.len, &r), 0);
	CHECK_EQ_INT(r.status, 413);
	CHECK(strstr(r.body, "max-body"));
	ns_buf_free(&r.raw);
	ns_buf_free(&big);
	CHECK_EQ_INT(metric("nodescore_extender_body_too_large_total"), 1);
	/* methods and paths */
	CHECK_EQ_INT(http("GET", "/filter", "", 0, &r), 0);
	CHECK_EQ_INT(r.status, 405);
	CHECK(strstr(r.raw.p, "Allow: POST"));
	ns_buf_free(&r.raw);
	CHECK_EQ_INT(http("DELETE", "/metrics", "", 0, &r), 0);
	CHECK_EQ_INT(r.status, 405);
	ns_buf_free(&r.raw);
	CHECK_EQ_INT(http("GET", "/nope", "", 0, &r), 0);
	CHECK_EQ_INT(r.status, 404);
	ns_buf_free(&r.raw);
	CHECK_EQ_INT(http("GET", "/healthz", "", 0, &r), 0);
	CHECK_EQ_INT(r.status, 200);
	ns_buf_free(&r.raw);
	/* status page lists nodes ranked by score */
	CHECK_EQ_INT(http("GET", "/", "", 0, &r), 0);
	CHECK_EQ_INT(r.status, 200);
	CHECK(strstr(r.body, "<td>node-a</td>") && strstr(r.body, "<td>node-d</td>"));
	CHECK(strstr(r.body, "<td>node-a</td>") < strstr(r.body, "<td>node-d</td>"));
	CHECK(strstr(r.body, "anomaly "));
	ns_buf_free(&r.raw);
	/* still alive after all of it */
	CHECK_EQ_INT(score_a(), 8);
}

static void test_sigterm_clean_exit(void)
{
	size_t len;
	char *log;

	CHECK(child > 0);
	CHECK_EQ_INT(kill(child, SIGTERM), 0);
	CHECK_EQ_INT(wait_exit(child, 5000), 0);
	child = -1;
	log = slurp(logpath, &len);
	CHECK(log);
	CHECK(strstr(log, "INFO extender: stopped"));
	/* only the four levels, no stray output */
	for (char *l = log; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		if (!*l)
			break;
		if (strncmp(l, "ERROR ", 6) && strncmp(l, "WARNING ", 8) &&
		    strncmp(l, "INFO ", 5) && strncmp(l, "SUCCESS ", 8)) {
			fprintf(stderr, "  bad log line: %.80s\n", l);
			free(log);
			CHECK(0);
		}
	}
	free(log);
}

/* [v6]:port listening and an ipc:// scores address. */
static void test_ipv6_and_ipc(void)
{
	char ipc[300], path[300], *log = NULL, *p, buf[256];
	char *argv[] = {bin,	   "--key-file",      keypath, "--listen-http",
			"[::1]:0", "--listen-scores", ipc,     NULL};
	struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	int port = 0, fd, n = 0;
	size_t len;
	pid_t pid;

	snprintf(ipc, sizeof(ipc), "ipc://%s/scores.ipc", dir);
	snprintf(path, sizeof(path), "%s/v6.log", dir);
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		if (fd >= 0)
			close(fd);
		SKIP("no IPv6 loopback here");
	}
	close(fd);
	pid = spawn(argv, path);
	CHECK(pid > 0);
	for (int i = 0; i < 100 && !port; i++) {
		usleep(50000);
		free(log);
		log = slurp(path, &len);
		if (log && (p = strstr(log, "http=[::1]:")))
			port = atoi(p + strlen("http=[::1]:"));
	}
	free(log);
	if (port > 0) {
		a.sin6_port = htons((uint16_t)port);
		fd = socket(AF_INET6, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
			struct pollfd pf = {.fd = fd, .events = POLLIN};
			if (poll(&pf, 1, 5000) == 1)
				n = (int)read(fd, buf, sizeof(buf) - 1);
		}
		if (fd >= 0)
			close(fd);
	}
	kill(pid, SIGTERM);
	CHECK_EQ_INT(wait_exit(pid, 5000), 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/scores.ipc", dir);
	unlink(path);
	CHECK(port > 0);
	CHECK(n > 12);
	buf[n] = '\0';
	CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0);
}

static void test_bad_flags_exit_2(void)
{
	static const char *const cases[][2] = {
	    {"--max-nodes", "0"},
	    {"--http-threads", "many"},
	    {"--normalize", "cubic"},
	    {"--listen-http", "nohost"},
	    {"--ttl", "-1s"},
	    {"--max-body", "1"},
	    {"--listen-scores", "udp://x"},
	    {"--publish-interval", "0"},
	};
	char path[300];

	snprintf(path, sizeof(path), "%s/flags.log", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[] = {
		    bin, "--key-file", keypath, (char *)cases[i][0], (char *)cases[i][1], NULL};
		pid_t p = spawn(argv, path);
		size_t len;
		char *log;
		CHECK_EQ_INT(wait_exit(p, 5000), 2);
		log = slurp(path, &len);
		CHECK(log && strncmp(log, "ERROR extender: invalid ", 24) == 0);
		free(log);
	}
	{
		char *argv[] = {bin, NULL};
		pid_t p = spawn(argv, path);
		CHECK_EQ_INT(wait_exit(p, 5000), 2); /* no key file */
	}
	{
		char *argv[] = {bin, "--help", NULL};
		pid_t p = spawn(argv, path);
		CHECK_EQ_INT(wait_exit(p, 5000), 0);
	}
}

int main(int argc, char **argv)
{
	char tmp[4096];
	int fd;

	(void)argc;
	snprintf(tmp, sizeof(tmp), "%s", argv[0]);
	snprintf(bin, sizeof(bin), "%s/../nodescore-extender", dirname(tmp));
	if (access(bin, X_OK) != 0 || !mkdtemp(dir)) {
		printf("FAIL setup: %s not built or no temp dir\n0 passed, 1 failed, 0 skipped\n",
		       bin);
		return 1;
	}
	snprintf(keypath, sizeof(keypath), "%s/key", dir);
	snprintf(logpath, sizeof(logpath), "%s/extender.log", dir);
	memcpy(key, "nodescore-extender-test-key-0001", 32);
	fd = open(keypath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, key, sizeof(key)) != (ssize_t)sizeof(key))
		return 1;
	close(fd);

	RUN(test_startup_and_first_message);
	RUN(test_filter_prioritize_match_fixtures);
	RUN(test_bad_messages_rejected_and_counted);
	RUN(test_http_errors);
	RUN(test_sigterm_clean_exit);
	RUN(test_ipv6_and_ipc);
	RUN(test_bad_flags_exit_2);

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (pub >= 0)
		nn_close(pub);
	snprintf(tmp, sizeof(tmp), "%s/flags.log", dir);
	unlink(tmp);
	unlink(keypath);
	unlink(logpath);
	rmdir(dir);
	return CHECK_SUMMARY();
}
