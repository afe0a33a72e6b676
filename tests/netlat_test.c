// SPDX-License-Identifier: MIT
/* Network latency source: histogram layout and quantiles, then the BPF and
 * sock_diag paths against real TCP request/response traffic on loopback in a
 * network namespace of our own (so every socket counted is ours). */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/tcp.h>

#include "bpf/lathist.h"
#include "nodescore/clock.h"
#include "nodescore/lathist.h"
#include "nodescore/log.h"
#include "nodescore/netlat.h"
#include "check.h"
#include "nobpf.h"

#define NCLIENTS 4
#define ROUNDS 300
#define ROUND_GAP_US 2000

static int have_netns; /* 1 when we run in a private network namespace */
static char netns_why[128] = "not tried";

static void test_slots(void)
{
	uint32_t prev = 0;
	double lo, w;

	for (uint64_t v = 0; v < (1ull << 33); v = v < 64 ? v + 1 : v + v / 7) {
		uint32_t s = lathist_slot(v);

		CHECK(s < LATHIST_SLOTS);
		CHECK(s >= prev);
		prev = s;
		if (v >= 0xFFFFFFFFull)
			continue;
		ns_lathist_bounds(s, &lo, &w);
		CHECK((double)v >= lo && (double)v < lo + w);
		/* 16 sub-buckets per power of two: no slot wider than 6.25 % of its value. */
		CHECK(w <= 1 || w / lo <= 0.0625 + 1e-9);
	}
	CHECK_EQ_INT(lathist_slot(0xFFFFFFFFull), LATHIST_SLOTS - 1);
	CHECK_EQ_INT(lathist_slot(UINT64_MAX), LATHIST_SLOTS - 1);
}

static void test_quantiles(void)
{
	uint64_t h[LATHIST_SLOTS] = {0};
	uint32_t v[1000];
	double a, b;

	CHECK(isnan(ns_lathist_quantile(h, LATHIST_SLOTS, 0.5)));
	CHECK(isnan(ns_lat_quantile_u32(v, 0, 0.5)));
	/* 1000 values spread over 100 us .. 100 ms, log-uniform. */
	for (int i = 0; i < 1000; i++) {
		v[i] = (uint32_t)(100.0 * pow(1000.0, i / 999.0));
		h[lathist_slot(v[i])]++;
	}
	ns_lat_sort_u32(v, 1000);
	for (double q = 0.01; q < 1.0; q += 0.07) {
		a = ns_lathist_quantile(h, LATHIST_SLOTS, q);
		b = ns_lat_quantile_u32(v, 1000, q);
		/* At worst one slot off: a slot is at most 6.25 % wide. */
		CHECK(fabs(a - b) / b <= 0.0625);
	}
	/* One value: every quantile is that value (within its slot). */
	memset(h, 0, sizeof(h));
	h[lathist_slot(5000)] = 1;
	a = ns_lathist_quantile(h, LATHIST_SLOTS, 0.99);
	CHECK(fabs(a - 5000) / 5000 < 0.035);
	v[0] = 7;
	CHECK(ns_lat_quantile_u32(v, 1, 0.5) == 7);
}

/* --- real traffic --- */

struct server {
	int lfd;
	int fds[NCLIENTS]; /* accepted, for the independent getsockopt reader */
	int naccepted;
	int family;
	uint16_t port;
	pthread_t th;
};

static void *echo_thread(void *arg)
{
	struct server *s = arg;
	int fds[NCLIENTS];
	char buf[256];
	int n = 0;

	while (n < NCLIENTS) {
		int fd = accept(s->lfd, NULL, NULL);

		if (fd < 0)
			break;
		fds[n] = fd;
		__atomic_store_n(&s->fds[n], fd, __ATOMIC_RELEASE);
		__atomic_store_n(&s->naccepted, ++n, __ATOMIC_RELEASE);
	}
	/* Echo until every client closed (bounded by the clients' own loop). */
	for (int open_fds = n; open_fds > 0;) {
		struct pollfd p[NCLIENTS];

		for (int i = 0; i < n; i++)
			p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		if (poll(p, (nfds_t)n, 5000) <= 0)
			break;
		for (int i = 0; i < n; i++) {
			ssize_t r;

			if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(fds[i], buf, sizeof(buf));
			if (r <= 0 || write(fds[i], buf, (size_t)r) != r) {
				close(fds[i]);
				fds[i] = -1;
				open_fds--;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

static int server_start(struct server *s, int family)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);

	s->family = family;
	s->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0)
		return -errno;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		sl = sizeof(*a);
	}
	if (bind(s->lfd, (struct sockaddr *)&ss, sl) < 0 || listen(s->lfd, NCLIENTS) < 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&ss, &sl) < 0) {
		int err = -errno;

		close(s->lfd);
		return err;
	}
	s->port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (pthread_create(&s->th, NULL, echo_thread, s)) {
		close(s->lfd);
		return -EAGAIN;
	}
	return 0;
}

static int client_connect(const struct server *s)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd = socket(s->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (s->family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		a->sin_port = htons(s->port);
		sl = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		a->sin6_port = htons(s->port);
		sl = sizeof(*a);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct traffic {
	struct server srv;
	int fds[NCLIENTS];
};

/* NCLIENTS connections to an echo server, ROUNDS request/response each. */
static int traffic_run(struct traffic *t, int family)
{
	char buf[64] = "ping";
	uint64_t deadline = ns_mono_ns() + 5000000000ull;
	int err;

	err = server_start(&t->srv, family);
	if (err)
		return err;
	for (int i = 0; i < NCLIENTS; i++) {
		t->fds[i] = client_connect(&t->srv);
		if (t->fds[i] < 0)
			return t->fds[i];
	}
	for (int r = 0; r < ROUNDS && ns_mono_ns() < deadline; r++) {
		for (int i = 0; i < NCLIENTS; i++) {
			if (write(t->fds[i], buf, sizeof(buf)) != (ssize_t)sizeof(buf))
				return -EIO;
			for (size_t got = 0; got < sizeof(buf);) {
				ssize_t n = read(t->fds[i], buf + got, sizeof(buf) - got);

				if (n <= 0)
					return -EIO;
				got += (size_t)n;
			}
		}
		usleep(ROUND_GAP_US);
	}
	return 0;
}

static void traffic_stop(struct traffic *t)
{
	for (int i = 0; i < NCLIENTS; i++)
		if (t->fds[i] >= 0)
			close(t->fds[i]);
	pthread_join(t->srv.th, NULL);
	close(t->srv.lfd);
}

/* Independent reader: tcpi_rtt of all our sockets (both ends) via getsockopt. */
static double rtt_median(const struct traffic *t)
{
	uint32_t v[2 * NCLIENTS];

	if (__atomic_load_n(&t->srv.naccepted, __ATOMIC_ACQUIRE) != NCLIENTS)
		return NAN;
	for (int i = 0; i < 2 * NCLIENTS; i++) {
		int fd = i < NCLIENTS ? t->fds[i] : t->srv.fds[i - NCLIENTS];
		struct tcp_info ti;
		socklen_t l = sizeof(ti);

		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
			return NAN;
		v[i] = ti.tcpi_rtt;
	}
	ns_lat_sort_u32(v, 2 * NCLIENTS);
	return ns_lat_quantile_u32(v, 2 * NCLIENTS, 0.5);
}

static int close_enough(double a, double b)
{
	/* 25 % plus 100 us: loopback RTTs are tens of microseconds and jitter. */
	return fabs(a - b) <= 0.25 * b + 100;
}

static void run_path(int no_bpf, int raw_tp, int family)
{
	struct ns_netlat_opts o = {.no_bpf = no_bpf, .own_netns = 1, .raw_tp = raw_tp};
	struct ns_netlat *n = NULL;
	struct ns_netlat_stats st, idle;
	struct ns_sample s;
	struct traffic t = {.fds = {-1, -1, -1, -1}};
	double ref;
	int err;

	if (!have_netns)
		SKIP("needs a private network namespace (root): %s", netns_why);
	err = ns_netlat_open(&o, &n);
	CHECK_EQ_INT(err, 0);
	if (!no_bpf && strcmp(ns_netlat_mode(n), "bpf") != 0) {
		ns_netlat_close(n);
		SKIP("BPF not permitted here (see the WARNING above for the reason)");
	}
	CHECK_EQ_STR(ns_netlat_mode(n), no_bpf ? "sock_diag" : "bpf");
	CHECK_EQ_STR(ns_netlat_attach_kind(n), no_bpf ? "none" : raw_tp ? "raw_tp" : "tp_btf");
	CHECK_EQ_INT(ns_netlat_read(n, &st), 0); /* start a fresh interval */
	err = traffic_run(&t, family);
	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT) {
		traffic_stop(&t);
		ns_netlat_close(n);
		SKIP("no ::1 in this namespace err=%d", err);
	}
	CHECK_EQ_INT(err, 0);
	err = ns_netlat_read(n, &st);
	ref = rtt_median(&t);
	traffic_stop(&t);
	CHECK_EQ_INT(err, 0);
	fprintf(stderr, "  %s %s: sockets=%llu p50=%.0f p99=%.0f us, getsockopt p50=%.0f us\n",
		ns_netlat_mode(n), family == AF_INET ? "ipv4" : "ipv6",
		(unsigned long long)st.nsocks, st.p50_us, st.p99_us, ref);
	/* Our namespace holds exactly our sockets: clients and the server's peers. */
	CHECK_EQ_INT(st.nsocks, 2 * NCLIENTS);
	CHECK(isfinite(st.p50_us) && isfinite(st.p99_us));
	CHECK(st.p50_us >= 1 && st.p99_us >= st.p50_us && st.p99_us < 1e6);
	CHECK(st.interval_s > 0.3 && st.interval_s < 10);
	CHECK_EQ_INT(st.retrans, 0);
	CHECK(isfinite(ref) && close_enough(st.p50_us, ref));
	/* Sockets are gone: once the FIN exchange is past, an interval is empty. */
	usleep(50000);
	CHECK_EQ_INT(ns_netlat_read(n, &idle), 0);
	usleep(50000);
	CHECK_EQ_INT(ns_netlat_read(n, &idle), 0);
	CHECK_EQ_INT(idle.nsocks, 0);
	CHECK(isnan(idle.p50_us));
	ns_sample_init(&s, 0);
	CHECK_EQ_INT(ns_netlat_sample(n, &s), 0);
	CHECK(s.health & NS_SRC_NET);
	CHECK(isnan(s.v[NS_M_RTT_P50_US]));
	CHECK(s.v[NS_M_TCP_RETRANS] == 0);
	ns_netlat_close(n);
}

static void test_bpf_ipv4(void)
{
	run_path(0, 0, AF_INET);
}

static void test_bpf_raw_tp_ipv4(void)
{
	run_path(0, 1, AF_INET);
}
static void test_bpf_ipv6(void)
{
	run_path(0, 0, AF_INET6);
}
static void test_sock_diag_ipv4(void)
{
	run_path(1, 0, AF_INET);
}
static void test_sock_diag_ipv6(void)
{
	run_path(1, 0, AF_INET6);
}

/* Both paths read the same traffic at the same moment and must agree. */
static void test_paths_agree(void)
{
	struct ns_netlat_opts ob = {.own_netns = 1}, od = {.no_bpf = 1};
	struct ns_netlat *b = NULL, *d = NULL;
	struct ns_netlat_stats sb, sd;
	struct traffic t = {.fds = {-1, -1, -1, -1}};
	int err;

	if (!have_netns)
		SKIP("needs a private network namespace (root): %s", netns_why);
	CHECK_EQ_INT(ns_netlat_open(&ob, &b), 0);
	if (strcmp(ns_netlat_mode(b), "bpf") != 0) {
		ns_netlat_close(b);
		SKIP("BPF not permitted here");
	}
	CHECK_EQ_INT(ns_netlat_open(&od, &d), 0);
	CHECK_EQ_INT(ns_netlat_read(b, &sb), 0);
	err = traffic_run(&t, AF_INET);
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(ns_netlat_read(b, &sb), 0);
	CHECK_EQ_INT(ns_netlat_read(d, &sd), 0);
	traffic_stop(&t);
	fprintf(stderr, "  bpf p50=%.0f p99=%.0f, sock_diag p50=%.0f p99=%.0f us\n", sb.p50_us,
		sb.p99_us, sd.p50_us, sd.p99_us);
	CHECK_EQ_INT(sb.nsocks, sd.nsocks);
	CHECK(close_enough(sb.p50_us, sd.p50_us));
	CHECK(close_enough(sb.p99_us, sd.p99_us));
	ns_netlat_close(b);
	ns_netlat_close(d);
}

static void test_null_safe(void)
{
	struct ns_netlat_stats st;

	ns_netlat_close(NULL);
	CHECK_EQ_INT(ns_netlat_read(NULL, &st), -EINVAL);
}

static int open_unprivileged(void)
{
	struct ns_netlat_opts o = {0};
	struct ns_netlat *n = NULL;
	struct ns_netlat_stats st;
	int rc = 1;

	if (ns_netlat_open(&o, &n) == 0 && strcmp(ns_netlat_mode(n), "sock_diag") == 0 &&
	    ns_netlat_read(n, &st) == 0)
		rc = 0;
	ns_netlat_close(n);
	return rc;
}

/* Without CAP_BPF the open falls back to sock_diag instead of failing. */
static void test_fallback_without_bpf_caps(void)
{
	int rc = in_child_without_bpf(open_unprivileged);

	if (rc == 77)
		SKIP("cannot drop capabilities here");
	CHECK_EQ_INT(rc, 0);
}

/* A network namespace of our own with lo up: only our sockets exist in it. */
static void enter_private_netns(void)
{
	struct ifreq ifr = {0};
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		snprintf(netns_why, sizeof(netns_why), "unshare(CLONE_NEWNET): %s",
			 strerror(errno));
		return;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		snprintf(netns_why, sizeof(netns_why), "bringing lo up: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	have_netns = 1;
}

int main(void)
{
	enter_private_netns();
	RUN(test_slots);
	RUN(test_quantiles);
	RUN(test_null_safe);
	RUN(test_bpf_ipv4);
	RUN(test_bpf_ipv6);
	RUN(test_bpf_raw_tp_ipv4);
	RUN(test_sock_diag_ipv4);
	RUN(test_sock_diag_ipv6);
	RUN(test_paths_agree);
	RUN(test_fallback_without_bpf_caps);
	return CHECK_SUMMARY();
}
