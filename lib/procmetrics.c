// SPDX-License-Identifier: MIT
/* process_* metrics from /proc/self and nodescore_build_info. Names,
 * types and units follow the Prometheus client libraries, so dashboards
 * and promtool treat them like any other process. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nodescore/procmetrics.h"
#include "nodescore/textout.h"

#ifndef NS_VERSION
#define NS_VERSION "unknown"
#endif

const char *ns_build_version(void)
{
	return NS_VERSION;
}

/* Whole small /proc file into buf (NUL terminated); length or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* /proc/stat's btime (boot, seconds since the epoch), 0 until read: it does
 * not change while the process runs, so the first scrape that reads it keeps
 * it. Scrapes racing to read it first store the same value; a failed read
 * is tried again at the next scrape. */
static _Atomic unsigned long long btime_cached;

static int boot_time(unsigned long long *btime)
{
	char buf[16384];
	const char *p;
	unsigned long long v = atomic_load_explicit(&btime_cached, memory_order_relaxed);

	if (!v) {
		if (read_small("/proc/stat", buf, sizeof(buf)) < 0 ||
		    !(p = strstr(buf, "\nbtime ")) || sscanf(p + 7, "%llu", &v) != 1)
			return -1;
		atomic_store_explicit(&btime_cached, v, memory_order_relaxed);
	}
	*btime = v;
	return 0;
}

static void metric(struct ns_textout *o, const char *name, const char *type, const char *help,
		   double v)
{
	ns_textout_printf(o, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name,
			  v);
}

int ns_procmetrics(char *dst, size_t cap, const char *binary)
{
	struct ns_textout o = {dst, cap, 0, 0};
	char buf[1024];
	const char *p;
	unsigned long long utime, stime, start, vsize, btime;
	long long rss;
	long tck = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct rlimit rl;
	DIR *d;

	if (!cap)
		return -ENOSPC;
	dst[0] = '\0';
	ns_textout_printf(&o,
			  "# HELP nodescore_build_info Build of this binary, value 1.\n"
			  "# TYPE nodescore_build_info gauge\n"
			  "nodescore_build_info{binary=\"%s\",version=\"%s\"} 1\n",
			  binary, ns_build_version());
	/* Fields after the command name, which may hold spaces and ')': parse
	 * from the last ')' (proc(5): state is field 3, utime 14, stime 15,
	 * starttime 22, vsize 23, rss 24). */
	if (read_small("/proc/self/stat", buf, sizeof(buf)) > 0 && (p = strrchr(buf, ')')) &&
	    sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d "
		   "%llu %llu %lld",
		   &utime, &stime, &start, &vsize, &rss) == 5 &&
	    tck > 0 && page > 0) {
		metric(&o, "process_cpu_seconds_total", "counter",
		       "Total user and system CPU time spent in seconds.",
		       (double)(utime + stime) / (double)tck);
		metric(&o, "process_resident_memory_bytes", "gauge",
		       "Resident memory size in bytes.", (double)rss * (double)page);
		metric(&o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
		       (double)vsize);
		if (!boot_time(&btime))
			metric(&o, "process_start_time_seconds", "gauge",
			       "Start time of the process since unix epoch in seconds.",
			       (double)btime + (double)start / (double)tck);
	}
	if ((d = opendir("/proc/self/fd"))) {
		struct dirent *e;
		long n = 0;
		while ((e = readdir(d)))
			n += e->d_name[0] != '.';
		closedir(d);
		metric(&o, "process_open_fds", "gauge", "Number of open file descriptors.",
		       (double)(n - 1)); /* less the one opendir holds */
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY)
		metric(&o, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
		       (double)rl.rlim_cur);
	if (o.overflow)
		return -ENOSPC;
	return (int)o.len;
}
