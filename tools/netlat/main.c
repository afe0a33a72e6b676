// SPDX-License-Identifier: MIT
/* nodescore-netlat: prints the agent's network (or disk) latency figures per
 * interval, through the same modules the agent uses. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "nodescore/clock.h"
#include "nodescore/disklat.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/netlat.h"
#include "nodescore/opt.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static struct ns_opt opts[] = {
    {"interval", NS_OPT_STRING, "1s", "length of one interval (e.g. 500ms, 2s)", NULL, 0},
    {"count", NS_OPT_STRING, "0", "intervals to print, 0 = until SIGINT/SIGTERM", NULL, 0},
    {"no-bpf", NS_OPT_BOOL, "0", "use the fallback (sock_diag or /proc/diskstats)", NULL, 0},
    {"own-netns", NS_OPT_BOOL, "0",
     "BPF path: only sockets of this network namespace (default: all namespaces)", NULL, 0},
    {"raw-tp", NS_OPT_BOOL, "0", "BPF path: attach raw_tp programs, skip tp_btf", NULL, 0},
    {"disk", NS_OPT_BOOL, "0", "report block I/O latency instead of TCP RTT", NULL, 0},
    {"proc-root", NS_OPT_STRING, "",
     "--disk fallback: read <root>/proc/diskstats (host /proc mount or fixture tree)", NULL, 0},
    {"log-level", NS_OPT_STRING, "info", "error, warning, success or info", NULL, 0},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

/* Sleeps up to ms; returns early on a signal. */
static void nap(uint64_t ms)
{
	uint64_t end = ns_mono_ns() + ms * 1000000u;

	while (!stop) {
		uint64_t now = ns_mono_ns();

		if (now >= end)
			return;
		poll(NULL, 0, (int)((end - now) / 1000000u + 1));
	}
}

/* Every iv_ms until stopped or count intervals: print_line reads src and
 * prints one line, or returns the read's error, logged as comp's warning. */
static void each_interval(uint64_t iv_ms, uint64_t count, const char *comp,
			  int (*print_line)(void *src), void *src)
{
	for (uint64_t i = 0; !stop && (!count || i < count); i++) {
		int err;

		nap(iv_ms);
		if (stop)
			break;
		err = print_line(src);
		if (err) {
			log_warning(comp, "read failed err=%d", err);
			continue;
		}
		fflush(stdout);
	}
}

static int net_line(void *src)
{
	struct ns_netlat *n = src;
	struct ns_netlat_stats st;
	int err = ns_netlat_read(n, &st);

	if (err)
		return err;
	printf("mode=%s interval_s=%.3f sockets=%llu rtt_p50_us=%.0f rtt_p99_us=%.0f "
	       "retrans=%llu\n",
	       ns_netlat_mode(n), st.interval_s, (unsigned long long)st.nsocks, st.p50_us,
	       st.p99_us, (unsigned long long)st.retrans);
	return 0;
}

static int run_net(int no_bpf, int own, int raw, uint64_t iv_ms, uint64_t count)
{
	struct ns_netlat_opts o = {.no_bpf = no_bpf, .own_netns = own, .raw_tp = raw};
	struct ns_netlat *n;
	int err;

	err = ns_netlat_open(&o, &n);
	if (err)
		return err;
	each_interval(iv_ms, count, "netlat", net_line, n);
	ns_netlat_close(n);
	return 0;
}

static int disk_line(void *src)
{
	struct ns_disklat *d = src;
	struct ns_disklat_stats st;
	int err = ns_disklat_read(d, &st);

	if (err)
		return err;
	printf("mode=%s interval_s=%.3f ios=%llu iops=%.1f disk_p50_us=%.0f "
	       "disk_p99_us=%.0f\n",
	       ns_disklat_mode(d), st.interval_s, (unsigned long long)st.ios, st.iops, st.p50_us,
	       st.p99_us);
	return 0;
}

static int run_disk(int no_bpf, int raw, const char *root, uint64_t iv_ms, uint64_t count)
{
	struct ns_disklat_opts o = {.no_bpf = no_bpf, .raw_tp = raw, .proc_root = root};
	struct ns_disklat *d;
	int err;

	err = ns_disklat_open(&o, &d);
	if (err)
		return err;
	each_interval(iv_ms, count, "disklat", disk_line, d);
	ns_disklat_close(d);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t iv_ms, count;
	int no_bpf, own, disk, raw, rc;
	struct sigaction sa = {.sa_handler = on_signal};

	int opt_rc =
	    ns_main_opts(opts, NOPTS, "nodescore-netlat",
			 "Prints TCP RTT p50/p99 and retransmits (or block I/O latency with "
			 "--disk) per interval, via eBPF or the fallback.",
			 argc, argv, NULL, "netlat");

	if (opt_rc >= 0)
		return opt_rc;
	if (ns_log_set_level(ns_opt_get(opts, NOPTS, "log-level")) < 0) {
		log_error("netlat", "bad --log-level value=%s",
			  ns_opt_get(opts, NOPTS, "log-level"));
		return 2;
	}
	if (ns_parse_duration_ms(ns_opt_get(opts, NOPTS, "interval"), &iv_ms) < 0 || iv_ms < 10 ||
	    iv_ms > 3600000) {
		log_error("netlat", "bad --interval (10ms..1h) value=%s",
			  ns_opt_get(opts, NOPTS, "interval"));
		return 2;
	}
	if (ns_parse_u64(ns_opt_get(opts, NOPTS, "count"), 0, 1000000000, &count) < 0) {
		log_error("netlat", "bad --count value=%s", ns_opt_get(opts, NOPTS, "count"));
		return 2;
	}
	if (ns_parse_bool(ns_opt_get(opts, NOPTS, "no-bpf"), &no_bpf) < 0 ||
	    ns_parse_bool(ns_opt_get(opts, NOPTS, "own-netns"), &own) < 0 ||
	    ns_parse_bool(ns_opt_get(opts, NOPTS, "disk"), &disk) < 0 ||
	    ns_parse_bool(ns_opt_get(opts, NOPTS, "raw-tp"), &raw) < 0) {
		log_error("netlat", "bad boolean option");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (disk)
		rc = run_disk(no_bpf, raw, ns_opt_get(opts, NOPTS, "proc-root"), iv_ms, count);
	else
		rc = run_net(no_bpf, own, raw, iv_ms, count);
	if (rc) {
		log_error("netlat", "no source available err=%d", rc);
		return 1;
	}
	return 0;
}
