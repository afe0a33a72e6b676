// SPDX-License-Identifier: MIT
/* Replay CSV parser tests, and nodescore-pub run as a real process against a real SUB socket. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nanomsg/nn.h>
#include <nanomsg/pubsub.h>

#include "nodescore/clock.h"
#include "nodescore/pubcsv.h"
#include "nodescore/key.h"
#include "nodescore/wire.h"
#include "check.h"

#define HDR NS_PUBCSV_HEADER "\n"

static char err[512];

static int parse(const char *s, struct ns_msg **rows, size_t *n)
{
	return ns_pubcsv_parse(s, strlen(s), rows, n, err, sizeof(err));
}

/* Expects the parse of s to fail with an error containing want. */
static int fails_with(const char *s, const char *want)
{
	struct ns_msg *rows = (struct ns_msg *)1;
	size_t n = 7;
	int rc = parse(s, &rows, &n);

	if (rc == 0 || rows != NULL || n != 0 || !strstr(err, want)) {
		fprintf(stderr, "  input: %.60s\n  rc=%d err=%s want=%s\n", s, rc, err, want);
		free(rc == 0 ? rows : NULL);
		return 0;
	}
	return 1;
}

static void test_valid_rows(void)
{
	struct ns_msg *rows;
	size_t n;

	CHECK_EQ_INT(parse(HDR "node-a,731,1,912,455,600,701,650,12345,65432,37,1500\r\n"
			       "b.example,0,0,0,0,0,0,0,0,0,0,4294967295",
			   &rows, &n),
		     0);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_STR(rows[0].name, "node-a");
	CHECK_EQ_INT(rows[0].name_len, 6);
	CHECK_EQ_INT(rows[0].score, 731);
	CHECK_EQ_INT(rows[0].flags, NS_FLAG_ANOMALY);
	CHECK_EQ_INT(rows[0].anomaly, 912);
	CHECK_EQ_INT(rows[0].cpu_now, 455);
	CHECK_EQ_INT(rows[0].mem_now, 600);
	CHECK_EQ_INT(rows[0].cpu_peak_fc, 701);
	CHECK_EQ_INT(rows[0].mem_peak_fc, 650);
	CHECK_EQ_INT(rows[0].free_millicores, 12345);
	CHECK_EQ_INT(rows[0].free_mib, 65432);
	CHECK_EQ_INT(rows[0].pods, 37);
	CHECK_EQ_INT(rows[0].rtt_p99_us, 1500);
	CHECK_EQ_INT(rows[0].seq, 0);
	CHECK_EQ_STR(rows[1].name, "b.example");
	CHECK(rows[1].rtt_p99_us == 4294967295u);
	free(rows);
	/* One trailing newline is the normal end of a file, not an empty row. */
	CHECK_EQ_INT(parse(HDR "x,1,0,0,0,0,0,0,0,0,0,0\n", &rows, &n), 0);
	CHECK_EQ_INT(n, 1);
	free(rows);
}

static void test_rejections_name_the_line(void)
{
	CHECK(fails_with("", "line 1: empty input"));
	CHECK(fails_with("node,score\n", "line 1: header must be exactly"));
	CHECK(fails_with(" " HDR, "line 1: header"));
	CHECK(fails_with(HDR, "line 2: no rows"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,0,0,0,0\nb,1,0,0,0,0,0,0,0,0,0\n",
			 "line 3: 11 columns, need 12"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,0,0,0,0,9\n", "line 2: more than 12 columns"));
	CHECK(fails_with(HDR "a,1001,0,0,0,0,0,0,0,0,0,0\n", "line 2: score: 1001 > 1000"));
	CHECK(fails_with(HDR "a,1,256,0,0,0,0,0,0,0,0,0\n", "line 2: flags: 256 > 255"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,1001,0,0,0,0\n", "mem_peak_fc: 1001 > 1000"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,0,0,65536,0\n", "pods: 65536 > 65535"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,4294967296,0,0,0\n", "free_millicores: 4294967296"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,99999999999,0,0,0\n", "not an unsigned decimal"));
	CHECK(fails_with(HDR "a,-1,0,0,0,0,0,0,0,0,0,0\n", "score: '-1' is not an unsigned"));
	CHECK(fails_with(HDR "a,+1,0,0,0,0,0,0,0,0,0,0\n", "score: '+1'"));
	CHECK(fails_with(HDR "a, 1,0,0,0,0,0,0,0,0,0,0\n", "score: ' 1'"));
	CHECK(fails_with(HDR "a,,0,0,0,0,0,0,0,0,0,0\n", "score: ''"));
	CHECK(fails_with(HDR "a,1.5,0,0,0,0,0,0,0,0,0,0\n", "score: '1.5'"));
	CHECK(fails_with(HDR "Node-A,1,0,0,0,0,0,0,0,0,0,0\n", "line 2: node: 'Node-A'"));
	CHECK(fails_with(HDR ",1,0,0,0,0,0,0,0,0,0,0\n", "line 2: node: ''"));
	CHECK(fails_with(HDR "\"a\",1,0,0,0,0,0,0,0,0,0,0\n", "node: '\"a\"'"));
	CHECK(fails_with(
	    HDR "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,1,0,0,0,0,"
		"0,0,0,0,0,0\n",
	    "line 2: node: 'aaaaaaaaaaaaaaaaaaaaaaaa...'"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,0,0,0,0\n\nb,1,0,0,0,0,0,0,0,0,0,0\n",
			 "line 3: empty line"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,0,0,0,0\n\n", "line 3: empty line"));
	CHECK(fails_with(HDR "a,1,0,0,0,0,0,0,0,0,0,0\nb,1,0,0,0,0,0,0,0,0,0,0\n"
			     "a,2,0,0,0,0,0,0,0,0,0,0\n",
			 "line 4: node a already on line 2"));
	/* Control bytes are shown as '?' so an error line stays one line. */
	CHECK(fails_with(HDR "a,1\x1b[0m,0,0,0,0,0,0,0,0,0,0\n", "score: '1?[0m'"));
}

static void test_nul_byte(void)
{
	static const char s[] = HDR "a,1,0,0\0,0,0,0,0,0,0,0,0\n";
	struct ns_msg *rows;
	size_t n;

	CHECK_EQ_INT(ns_pubcsv_parse(s, sizeof(s) - 1, &rows, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "line 2: NUL byte"));
}

/* The input ends where a PROT_NONE page begins: any read past len faults. */
static void test_no_overread(void)
{
	static const char *const inputs[] = {
	    HDR "a,1,0,0,0,0,0,0,0,0,0,0",
	    HDR "a,1,0,0,0,0,0,0,0,0,0,",
	    HDR "a,1,0,0,0,0,0,0,0,0,0,12345678901",
	    HDR "a,1,0,0,0,0,0,0,0,0,0,0\r",
	    NS_PUBCSV_HEADER,
	    "node,sc",
	};
	long pg = sysconf(_SC_PAGESIZE);
	char *map =
	    mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	CHECK(map != MAP_FAILED);
	CHECK(mprotect(map + pg, (size_t)pg, PROT_NONE) == 0);
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t len = strlen(inputs[i]);
		char *p = map + pg - len;
		struct ns_msg *rows = NULL;
		size_t n = 0;
		int rc;

		memcpy(p, inputs[i], len);
		rc = ns_pubcsv_parse(p, len, &rows, &n, err, sizeof(err));
		CHECK_EQ_INT(rc, i == 0 || i == 3 ? 0 : -EINVAL);
		CHECK_EQ_INT(n, rc == 0 ? 1 : 0);
		free(rows);
	}
	munmap(map, (size_t)pg * 2);
}

static void test_limits(void)
{
	size_t cap = sizeof(NS_PUBCSV_HEADER) + (size_t)(NS_PUBCSV_MAX_ROWS + 1) * 40;
	char *buf = malloc(cap);
	struct ns_msg *rows;
	size_t len, n;
	int w;

	CHECK(buf);
	len = (size_t)snprintf(buf, cap, "%s\n", NS_PUBCSV_HEADER);
	for (unsigned i = 0; i < NS_PUBCSV_MAX_ROWS; i++) {
		w = snprintf(buf + len, cap - len, "n%u,1,0,0,0,0,0,0,0,0,0,0\n", i);
		len += (size_t)w;
	}
	CHECK_EQ_INT(ns_pubcsv_parse(buf, len, &rows, &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, NS_PUBCSV_MAX_ROWS);
	CHECK_EQ_STR(rows[n - 1].name, "n99999");
	free(rows);
	w = snprintf(buf + len, cap - len, "x,1,0,0,0,0,0,0,0,0,0,0\n");
	len += (size_t)w;
	CHECK_EQ_INT(ns_pubcsv_parse(buf, len, &rows, &n, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "line 100002: more than 100000 rows"));
	CHECK_EQ_INT(ns_pubcsv_parse(buf, NS_PUBCSV_MAX_BYTES + 1u, &rows, &n, err, sizeof(err)),
		     -E2BIG);
	free(buf);
}

static int write_file(const char *path, const char *s, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t len = strlen(s);

	if (fd < 0)
		return -1;
	if (write(fd, s, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static char tmpdir[64];

static const char *tmp_path(const char *name)
{
	static char p[4][128];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", tmpdir, name);
	return p[k];
}

static void test_load(void)
{
	struct ns_msg *rows;
	size_t n;

	CHECK_EQ_INT(ns_pubcsv_load(tmp_path("missing.csv"), &rows, &n, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot open") && strstr(err, "missing.csv"));
	CHECK_EQ_INT(ns_pubcsv_load(tmpdir, &rows, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file"));
	CHECK(write_file(tmp_path("bad.csv"), HDR "a,1,0,0,0,0,0,0,0,0,0,0\nb,x\n", 0600) == 0);
	CHECK_EQ_INT(ns_pubcsv_load(tmp_path("bad.csv"), &rows, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "bad.csv: line 3:"));
	CHECK(write_file(tmp_path("good.csv"), HDR "a,1,0,0,0,0,0,0,0,0,0,0\n", 0600) == 0);
	CHECK_EQ_INT(ns_pubcsv_load(tmp_path("good.csv"), &rows, &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, 1);
	free(rows);
}

/* --- nodescore-pub as a real process --- */

static const uint8_t key[32] = "pubcsv-test-key-0123456789abcdef";

/* pub signs each node with its key derived from the master (key.h). */
static enum ns_wire_status node_decode(const uint8_t *buf, size_t len, struct ns_msg *m)
{
	struct ns_key master = {.len = sizeof(key)}, nk;
	const char *name;
	size_t nlen;
	enum ns_wire_status st = ns_wire_peek_name(buf, len, &name, &nlen);

	if (st != NS_WIRE_OK)
		return st;
	memcpy(master.bytes, key, sizeof(key));
	ns_key_derive_node(&master, name, nlen, &nk);
	return ns_wire_decode(buf, len, nk.bytes, nk.len, m);
}

static int make_key(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok = fd >= 0 && write(fd, key, sizeof(key)) == (ssize_t)sizeof(key);

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlink(tmp_path(e->d_name));
	if (d)
		closedir(d);
	rmdir(tmpdir);
}

static char pub_bin[PATH_MAX];

static int find_pub(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	/* BUILD/tests/pubcsv_test -> BUILD/nodescore-pub */
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	snprintf(pub_bin, sizeof(pub_bin), "%.*s/nodescore-pub", (int)(sizeof(pub_bin) - 20), self);
	return access(pub_bin, X_OK);
}

/* A SUB socket bound on a free loopback port; returns the socket, endpoint in ep. */
static int bind_sub(char *ep, size_t cap)
{
	int s = nn_socket(AF_SP, NN_SUB), tmo = 200, buf = 8 << 20;

	if (s < 0)
		return -1;
	nn_setsockopt(s, NN_SUB, NN_SUB_SUBSCRIBE, "", 0);
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVTIMEO, &tmo, sizeof(tmo));
	nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVBUF, &buf, sizeof(buf));
	for (int i = 0; i < 50; i++) {
		uint16_t r;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			break;
		snprintf(ep, cap, "tcp://127.0.0.1:%u", 20000u + r % 40000u);
		if (nn_bind(s, ep) >= 0)
			return s;
	}
	nn_close(s);
	return -1;
}

/* Runs pub with args (NULL-terminated), stderr into errfile; returns the pid. */
static pid_t spawn_pub(char *const *args, const char *errfile)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 2);
		if (null >= 0)
			dup2(null, 1);
		execv(pub_bin, args);
		_exit(127);
	}
	return pid;
}

/* Waits at most ms for pid; kills it past that. Returns the exit status or -1. */
static int reap(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int file_has(const char *path, const char *want)
{
	char buf[8192];
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, want) != NULL;
}

struct seen {
	unsigned count;
	uint32_t last_seq;
	struct ns_msg last;
};

/* Receives until the process exits and the socket is quiet; decodes every message. */
static int collect(int sub, pid_t pid, struct seen *seen, size_t nnodes, const char *prefix,
		   unsigned *total, unsigned *bad, uint32_t *nonce, int *status)
{
	uint64_t deadline = ns_mono_ns() + 10000000000ull;
	int exited = 0, quiet = 0;

	*total = *bad = 0;
	*status = -1;
	while (ns_mono_ns() < deadline && quiet < 3) {
		uint8_t buf[256];
		struct ns_msg m;
		int n = nn_recv(sub, buf, sizeof(buf), 0);

		if (!exited) {
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				exited = 1;
				*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
			}
		}
		if (n < 0) {
			quiet += exited;
			continue;
		}
		(*total)++;
		if (node_decode(buf, (size_t)n, &m) != NS_WIRE_OK ||
		    strncmp(m.name, prefix, strlen(prefix)) != 0) {
			(*bad)++;
			continue;
		}
		size_t i = (size_t)strtoul(m.name + strlen(prefix), NULL, 10);
		if (i >= nnodes || (*total - *bad > 1 && m.boot_nonce != *nonce) ||
		    (seen[i].count && m.seq <= seen[i].last_seq)) {
			(*bad)++;
			continue;
		}
		*nonce = m.boot_nonce;
		seen[i].count++;
		seen[i].last_seq = m.seq;
		seen[i].last = m;
	}
	if (!exited)
		*status = reap(pid, 3000);
	return exited;
}

static void test_pub_replay(void)
{
	char ep[64], keyf[128], csv[128], logf[128];
	struct seen seen[3] = {{0}};
	unsigned total, bad;
	uint32_t nonce = 0;
	int sub, status;
	pid_t pid;

	if (find_pub() < 0)
		SKIP("nodescore-pub not built next to the tests (%s)", pub_bin);
	snprintf(keyf, sizeof(keyf), "%s", tmp_path("key"));
	snprintf(csv, sizeof(csv), "%s", tmp_path("replay.csv"));
	snprintf(logf, sizeof(logf), "%s", tmp_path("pub-replay.log"));
	CHECK(write_file(csv,
			 HDR "r0,900,0,100,200,300,250,350,12000,40000,10,400\n"
			     "r1,100,1,990,970,500,990,520,160,31000,80,9000\n"
			     "r2,500,2,300,500,500,550,550,7200,29000,45,800\n",
			 0600) == 0);
	sub = bind_sub(ep, sizeof(ep));
	CHECK(sub >= 0);
	char *args[] = {
	    pub_bin, "--connect-wait", "1s", "--connect",  ep,	    "--key-file", keyf, "--replay",
	    csv,     "--rounds",       "4",  "--interval", "100ms", NULL};
	pid = spawn_pub(args, logf);
	CHECK(pid > 0);
	collect(sub, pid, seen, 3, "r", &total, &bad, &nonce, &status);
	nn_close(sub);
	CHECK_EQ_INT(status, 0);
	CHECK_EQ_INT(bad, 0);
	/* The connect wait means no round is lost on loopback. */
	CHECK_EQ_INT(total, 12);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(seen[i].count, 4);
	CHECK_EQ_INT(seen[1].last.score, 100);
	CHECK_EQ_INT(seen[1].last.flags, NS_FLAG_ANOMALY);
	CHECK_EQ_INT(seen[1].last.anomaly, 990);
	CHECK_EQ_INT(seen[1].last.free_millicores, 160);
	CHECK_EQ_INT(seen[1].last.rtt_p99_us, 9000);
	CHECK_EQ_INT(seen[2].last.pods, 45);
	{
		uint64_t now = ns_now_ms(), ts = seen[0].last.ts_ms;
		CHECK(ts <= now && now - ts < 10000);
	}
	CHECK(file_has(logf, "SUCCESS pub: stopped rounds=4 sent=12 dropped=0"));
}

static void test_pub_walk_skewed(void)
{
	char ep[64], keyf[128], logf[128];
	struct seen seen[50] = {{0}};
	unsigned total, bad, anomalies = 0;
	uint32_t nonce = 0;
	int sub, status;
	uint64_t now;
	pid_t pid;

	if (find_pub() < 0)
		SKIP("nodescore-pub not built next to the tests (%s)", pub_bin);
	snprintf(keyf, sizeof(keyf), "%s", tmp_path("key"));
	snprintf(logf, sizeof(logf), "%s", tmp_path("pub-walk.log"));
	sub = bind_sub(ep, sizeof(ep));
	CHECK(sub >= 0);
	char *args[] = {pub_bin,  "--connect-wait",
			"1s",	  "--connect",
			ep,	  "--key-file",
			keyf,	  "--nodes",
			"50",	  "--prefix",
			"w-",	  "--rounds",
			"3",	  "--interval",
			"50ms",	  "--clock-offset",
			"-60000", "--node-cpu",
			"4000",	  "--seed",
			"7",	  NULL};
	pid = spawn_pub(args, logf);
	CHECK(pid > 0);
	collect(sub, pid, seen, 50, "w-", &total, &bad, &nonce, &status);
	nn_close(sub);
	now = ns_now_ms();
	CHECK_EQ_INT(status, 0);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(total, 150);
	for (int i = 0; i < 50; i++) {
		const struct ns_msg *m = &seen[i].last;

		CHECK_EQ_INT(seen[i].count, 3);
		/* Skewed by the offset, give or take the run time. */
		CHECK(m->ts_ms < now - 55000 && m->ts_ms > now - 70000);
		CHECK(m->free_millicores <= 4000);
		CHECK(m->free_mib <= 65536);
		CHECK(m->cpu_peak_fc >= m->cpu_now);
		CHECK(m->score > 0 && m->score < 1000);
		anomalies += (m->flags & NS_FLAG_ANOMALY) != 0;
	}
	/* Rare by design: a random walk with most nodes anomalous is broken. */
	CHECK(anomalies < 10);
}

static void test_pub_bad_config(void)
{
	char keyf[128], logf[128], csv[128];
	pid_t pid;

	if (find_pub() < 0)
		SKIP("nodescore-pub not built next to the tests (%s)", pub_bin);
	snprintf(keyf, sizeof(keyf), "%s", tmp_path("key"));
	snprintf(logf, sizeof(logf), "%s", tmp_path("pub-bad.log"));
	snprintf(csv, sizeof(csv), "%s", tmp_path("bad.csv"));
	CHECK(write_file(csv, HDR "a,1,0,0,0,0,0,0,0,0,0,0\nb,x\n", 0600) == 0);
	{
		char *args[] = {pub_bin, "--key-file", keyf, "--replay", csv, NULL};
		pid = spawn_pub(args, logf);
		CHECK_EQ_INT(reap(pid, 5000), 2);
		CHECK(file_has(logf, "ERROR pub: bad --replay file:"));
		CHECK(file_has(logf, "line 3:"));
	}
	{
		char *args[] = {pub_bin, "--key-file", keyf, "--prefix", "Bad_", NULL};
		pid = spawn_pub(args, logf);
		CHECK_EQ_INT(reap(pid, 5000), 2);
		CHECK(file_has(logf, "ERROR pub: invalid --prefix value=Bad_"));
	}
	{
		char *args[] = {pub_bin, "--key-file", keyf, "--connect", "nope://x", NULL};
		pid = spawn_pub(args, logf);
		CHECK_EQ_INT(reap(pid, 5000), 2);
		CHECK(file_has(logf, "ERROR pub: cannot connect endpoint=nope://x"));
	}
	{
		char *args[] = {pub_bin, "--key-file", (char *)tmp_path("nokey"), NULL};
		pid = spawn_pub(args, logf);
		CHECK_EQ_INT(reap(pid, 5000), 2);
		CHECK(file_has(logf, "ERROR pub: cannot open key file"));
	}
	{
		char *args[] = {pub_bin, "--help", NULL};
		pid = spawn_pub(args, logf);
		CHECK_EQ_INT(reap(pid, 5000), 0);
	}
}

/* Runs nodescore-pub --connect-wait 1s --connect <sub> --key-file <key>
 * extra... (log in logf), receives up to want messages and checks that it
 * sent exactly want and exited 0. *span: first message to last, in ns. */
static void paced_run(const char *logf, char *const *extra, unsigned want, uint64_t *span)
{
	char ep[64], keyf[128];
	char *args[24] = {pub_bin, "--connect-wait", "1s", "--connect", ep, "--key-file", keyf};
	size_t n = 7;
	uint64_t first = 0, last = 0;
	unsigned got = 0;
	int sub;
	pid_t pid;

	while (*extra && n + 1 < sizeof(args) / sizeof(args[0]))
		args[n++] = *extra++;
	snprintf(keyf, sizeof(keyf), "%s", tmp_path("key"));
	sub = bind_sub(ep, sizeof(ep));
	CHECK(sub >= 0);
	pid = spawn_pub(args, logf);
	CHECK(pid > 0);
	for (int i = 0; i < 40 && got < want; i++) {
		uint8_t buf[256];
		while (got < want && nn_recv(sub, buf, sizeof(buf), 0) > 0) {
			last = ns_mono_ns();
			if (!got++)
				first = last;
		}
	}
	nn_close(sub);
	CHECK_EQ_INT(reap(pid, 3000), 0);
	CHECK_EQ_INT(got, want);
	*span = last - first;
}

/* --spread paces a round over the interval instead of one burst. */
static void test_pub_spread(void)
{
	char *extra[] = {"--nodes", "64", "--rounds", "1", "--interval", "400ms", "--spread", NULL};
	uint64_t span = 0;

	if (find_pub() < 0)
		SKIP("nodescore-pub not built next to the tests (%s)", pub_bin);
	paced_run(tmp_path("pub-spread.log"), extra, 64, &span);
	/* Four bursts of 16 at 0, 100, 200 and 300 ms. */
	CHECK(span >= 250000000u);
	CHECK(span < 1000000000u);
}

/* --rate caps the message rate, whatever --interval says. */
static void test_pub_rate(void)
{
	char *extra[] = {"--nodes", "100",    "--rounds", "10", "--interval",
			 "1h",	    "--rate", "2000",	  NULL};
	char logf[128];
	uint64_t span = 0;

	if (find_pub() < 0)
		SKIP("nodescore-pub not built next to the tests (%s)", pub_bin);
	snprintf(logf, sizeof(logf), "%s", tmp_path("pub-rate.log"));
	paced_run(logf, extra, 1000, &span);
	/* 1,000 messages at 2,000/s: half a second, not one burst, not 10 hours. */
	CHECK(span >= 400000000u);
	CHECK(span < 2000000000u);
	CHECK(file_has(logf, "SUCCESS pub: stopped rounds=10 sent=1000 dropped=0"));
}

/* SIGTERM stops an endless run cleanly with a summary line. */
static void test_pub_sigterm(void)
{
	char keyf[128], logf[128];
	int sub;
	char ep[64];
	pid_t pid;

	if (find_pub() < 0)
		SKIP("nodescore-pub not built next to the tests (%s)", pub_bin);
	snprintf(keyf, sizeof(keyf), "%s", tmp_path("key"));
	snprintf(logf, sizeof(logf), "%s", tmp_path("pub-term.log"));
	sub = bind_sub(ep, sizeof(ep));
	CHECK(sub >= 0);
	char *args[] = {pub_bin, "--connect-wait", "1s", "--connect",  ep,   "--key-file",
			keyf,	 "--nodes",	   "10", "--interval", "1h", NULL};
	pid = spawn_pub(args, logf);
	CHECK(pid > 0);
	{
		uint8_t buf[256];
		int got = 0;
		/* The whole first round, so the signal lands in the hour-long sleep. */
		for (int i = 0; i < 25 && got < 10; i++)
			got += nn_recv(sub, buf, sizeof(buf), 0) > 0;
		nn_close(sub);
		CHECK_EQ_INT(got, 10);
	}
	CHECK(kill(pid, SIGTERM) == 0);
	CHECK_EQ_INT(reap(pid, 3000), 0);
	CHECK(file_has(logf, "SUCCESS pub: stopped rounds=1 sent=10"));
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ns-pubcsv-XXXXXX");
	if (!mkdtemp(tmpdir) || make_key(tmp_path("key")) < 0) {
		perror("test setup");
		return 1;
	}
	RUN(test_valid_rows);
	RUN(test_rejections_name_the_line);
	RUN(test_nul_byte);
	RUN(test_no_overread);
	RUN(test_limits);
	RUN(test_load);
	RUN(test_pub_replay);
	RUN(test_pub_walk_skewed);
	RUN(test_pub_bad_config);
	RUN(test_pub_spread);
	RUN(test_pub_rate);
	RUN(test_pub_sigterm);
	remove_tmpdir();
	return CHECK_SUMMARY();
}
