// SPDX-License-Identifier: MIT
/* nodescore-ringbench: history ring micro-benchmark (append, sync, recovery scan, export). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "nodescore/ring.h"
#include "nodescore/ringlog.h"

#define COMP "ringbench"

static struct ns_opt opts[] = {
    {"dir", NS_OPT_STRING, "/var/tmp",
     "Directory for the temporary ring file (use a real disk for sync figures).", NULL, 0},
    {"capacity", NS_OPT_STRING, "259200", "Ring capacity in records (default: 30 d at 10 s).", NULL,
     0},
    {"records", NS_OPT_STRING, "1000000", "Appends to time without fdatasync.", NULL, 0},
    {"sync-records", NS_OPT_STRING, "1000",
     "Appends to time with fdatasync after each one (0 = skip).", NULL, 0},
    {"log-level", NS_OPT_STRING, "warning", "error, warning, success or info.", NULL, 0},
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void fill(struct ns_sample *s, uint64_t k)
{
	ns_sample_init(s, 1790000000000ull + k * 10000);
	for (unsigned i = 0; i < NS_METRIC_COUNT; i++)
		s->v[i] = (float)(k % 1000) / 1000.0f + (float)i;
	s->health = 0x7f;
}

/* Times n appends; lat (n entries) gets each append's latency in ns. */
static int time_appends(struct ns_ring *r, uint64_t n, uint64_t *lat, uint64_t *total_ns)
{
	struct ns_sample s;
	uint64_t t0 = ns_mono_ns(), t;
	int err;

	for (uint64_t k = 0; k < n; k++) {
		fill(&s, k);
		t = ns_mono_ns();
		err = ns_ring_append(r, &s);
		lat[k] = ns_mono_ns() - t;
		if (err)
			return err;
	}
	*total_ns = ns_mono_ns() - t0;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	return 0;
}

static int count_cb(const struct ns_sample *s, void *arg)
{
	(void)s;
	(*(uint64_t *)arg)++;
	return 0;
}

int main(int argc, char **argv)
{
	char path[4096];
	uint64_t cap, n, nsync, total, t, *lat = NULL, seen = 0;
	struct ns_ring *r = NULL;
	struct ns_ring_stats st;
	FILE *devnull = NULL;
	int argi, err = 0, fd;

	int opt_rc =
	    ns_main_opts(opts, NOPTS, "nodescore-ringbench",
			 "Measures history ring appends (with and without fdatasync), the "
			 "recovery scan at open and the CSV export; prints a markdown table.",
			 argc, argv, &argi, COMP);

	if (opt_rc >= 0)
		return opt_rc;
	if (ns_log_set_level(ns_opt_get(opts, NOPTS, "log-level")) < 0) {
		log_error(COMP, "invalid --log-level (want error, warning, success or info)");
		return 2;
	}
	if (ns_parse_u64(ns_opt_get(opts, NOPTS, "capacity"), 1, NS_RING_MAX_CAPACITY, &cap) < 0 ||
	    ns_parse_u64(ns_opt_get(opts, NOPTS, "records"), 1, 100000000, &n) < 0 ||
	    ns_parse_u64(ns_opt_get(opts, NOPTS, "sync-records"), 0, 1000000, &nsync) < 0) {
		log_error(COMP,
			  "invalid --capacity (1..%u), --records (1..1e8) or --sync-records "
			  "(0..1e6)",
			  NS_RING_MAX_CAPACITY);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/nodescore-ringbench.XXXXXX",
		 ns_opt_get(opts, NOPTS, "dir"));
	/* A unique name that the ring then creates itself. */
	fd = mkstemp(path);
	if (fd < 0) {
		log_error_errno(COMP, "cannot create a file in --dir path=%s", path);
		return 1;
	}
	close(fd);
	unlink(path);
	lat = calloc(n > nsync ? n : nsync, sizeof(*lat));
	devnull = fopen("/dev/null", "w");
	if (!lat || !devnull) {
		err = -ENOMEM;
		goto out;
	}

	printf("| ring (capacity %llu, %u B records, file %.1f MiB) | value |\n|---|---|\n",
	       (unsigned long long)cap, NS_RING_RECORD_SIZE,
	       (double)ns_ring_file_size((uint32_t)cap) / 1048576.0);
	t = ns_mono_ns();
	err = ns_ringlog_open(path, (uint32_t)cap, &r);
	if (err)
		goto out;
	printf("| create (fallocate + fsync) | %.2f ms |\n", (double)(ns_mono_ns() - t) / 1e6);

	err = time_appends(r, n, lat, &total);
	if (err)
		goto out;
	printf("| append, no sync: records/s | %.0f |\n", (double)n * 1e9 / (double)total);
	printf("| append, no sync: mean / p50 / p99 / max us | %.2f / %.2f / %.2f / %.1f |\n",
	       (double)total / (double)n / 1e3, (double)lat[n / 2] / 1e3,
	       (double)lat[n * 99 / 100] / 1e3, (double)lat[n - 1] / 1e3);

	if (nsync) {
		ns_ring_set_sync_every(r, 1);
		err = time_appends(r, nsync, lat, &total);
		if (err)
			goto out;
		ns_ring_set_sync_every(r, 0);
		printf("| append + fdatasync each: mean / p99 us | %.1f / %.1f |\n",
		       (double)total / (double)nsync / 1e3, (double)lat[nsync * 99 / 100] / 1e3);
	}
	ns_ringlog_close(r);
	r = NULL;

	/* What an agent restart (or a crash) costs: the head is found by a full scan. */
	t = ns_mono_ns();
	err = ns_ringlog_open(path, (uint32_t)cap, &r);
	if (err)
		goto out;
	ns_ring_get_stats(r, &st);
	printf("| reopen = recovery scan, warm cache (%llu records) | %.1f ms |\n",
	       (unsigned long long)st.records, (double)(ns_mono_ns() - t) / 1e6);

	t = ns_mono_ns();
	err = ns_ring_foreach(r, count_cb, &seen);
	if (err)
		goto out;
	printf("| foreach: records/s | %.0f |\n", (double)seen * 1e9 / (double)(ns_mono_ns() - t));
	t = ns_mono_ns();
	err = ns_ring_export_csv(r, devnull);
	if (err)
		goto out;
	printf("| CSV export: records/s | %.0f |\n",
	       (double)seen * 1e9 / (double)(ns_mono_ns() - t));
	if (seen != st.records) {
		log_error(COMP, "foreach saw a different count seen=%llu records=%llu",
			  (unsigned long long)seen, (unsigned long long)st.records);
		err = -EIO;
	}
out:
	if (err) {
		errno = -err;
		log_error_errno(COMP, "benchmark failed path=%s", path);
	}
	ns_ringlog_close(r);
	unlink(path);
	if (devnull)
		fclose(devnull);
	free(lat);
	return err ? 1 : 0;
}
