// SPDX-License-Identifier: MIT
/* Disk latency source: the /proc/diskstats parser on fixtures (good,
 * malformed, truncated, huge; each behind a guard page), the diskstats path
 * on a fixture proc tree, and the BPF path against real block I/O. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

#include "nodescore/clock.h"
#include "nodescore/disklat.h"
#include "nodescore/log.h"
#include "check.h"
#include "nobpf.h"

#define FIXTURES "tests/fixtures/diskstats/"

/* Copies len bytes to the end of a mapping followed by a PROT_NONE page, so
 * any read past the end crashes the test instead of passing silently. */
struct guarded {
	char *map;
	size_t maplen;
	char *data;
};

static int guard(struct guarded *g, const char *src, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t data_pages = (len + pg - 1) / pg;

	g->maplen = (data_pages + 1) * pg;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->map == MAP_FAILED)
		return -errno;
	if (mprotect(g->map + data_pages * pg, pg, PROT_NONE) < 0)
		return -errno;
	g->data = g->map + data_pages * pg - len;
	memcpy(g->data, src, len);
	return 0;
}

static void unguard(struct guarded *g)
{
	munmap(g->map, g->maplen);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return NULL;
	}
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int parse_fixture(const char *name, struct ns_diskstats_totals *t)
{
	struct guarded g;
	size_t len = 0;
	char *buf = slurp(name, &len);
	int err;

	if (!buf)
		return -ENOENT;
	err = guard(&g, buf, len);
	free(buf);
	if (err)
		return err;
	err = ns_diskstats_parse(g.data, len, t);
	unguard(&g);
	return err;
}

static void test_parse_good(void)
{
	struct ns_diskstats_totals t;

	CHECK_EQ_INT(parse_fixture(FIXTURES "good.txt", &t), 0);
	/* sda, nvme0n1, nvme0n10 (a namespace, not a partition), mmcblk0, sr0;
	 * partitions, loop, ram, zram, dm and md are not counted. */
	CHECK_EQ_INT(t.ndisks, 5);
	CHECK_EQ_INT(t.nbad, 1); /* the 4-field mmcblk0 line */
	CHECK_EQ_INT(t.ios, 1500 + 3140 + 10 + 300 + 3);
	CHECK_EQ_INT(t.busy_ms, 5000 + 1560 + 1 + 600 + 7);
}

static void test_parse_malformed(void)
{
	struct ns_diskstats_totals t;

	CHECK_EQ_INT(parse_fixture(FIXTURES "malformed.txt", &t), 0);
	CHECK_EQ_INT(t.ndisks, 2); /* sda, sde */
	CHECK_EQ_INT(t.nbad, 7);
	CHECK_EQ_INT(t.ios, 1530);
	CHECK_EQ_INT(t.busy_ms, 5060);
}

static void test_parse_truncated(void)
{
	struct ns_diskstats_totals t;

	CHECK_EQ_INT(parse_fixture(FIXTURES "truncated.txt", &t), 0);
	CHECK_EQ_INT(t.ndisks, 1);
	CHECK_EQ_INT(t.nbad, 1);
	CHECK_EQ_INT(t.ios, 1500);
}

static void test_parse_edges(void)
{
	struct ns_diskstats_totals t;
	const char *line = "8 0 sda 1 0 0 2 3 0 0 4 0 0 0";
	struct guarded g;

	CHECK_EQ_INT(ns_diskstats_parse(NULL, 0, &t), -EINVAL);
	CHECK_EQ_INT(ns_diskstats_parse("", 0, &t), 0);
	CHECK_EQ_INT(t.ndisks, 0);
	CHECK_EQ_INT(ns_diskstats_parse("garbage\n\xff\xfe\n", 11, &t), -EINVAL);
	/* Every prefix of a valid line, each ending right at the guard page. */
	ns_log_max = NS_LOG_ERROR;
	for (size_t n = 0; n <= strlen(line); n++) {
		CHECK_EQ_INT(guard(&g, line, n), 0);
		ns_diskstats_parse(g.data, n, &t);
		unguard(&g);
		CHECK(t.ndisks <= 1);
	}
	ns_log_max = NS_LOG_INFO;
	CHECK_EQ_INT(ns_diskstats_parse(line, strlen(line), &t), 0);
	CHECK_EQ_INT(t.ios, 4);
	CHECK_EQ_INT(t.busy_ms, 6);
}

static int write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fputs(s, f);
	return fclose(f) ? -errno : 0;
}

static char tmproot[] = "/tmp/nodescore-disklat.XXXXXX";

static int make_root(void)
{
	char p[128];

	if (!mkdtemp(tmproot))
		return -errno;
	snprintf(p, sizeof(p), "%s/proc", tmproot);
	return mkdir(p, 0755) < 0 ? -errno : 0;
}

static int set_stats(const char *s)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/proc/diskstats", tmproot);
	return write_file(p, s);
}

static void test_diskstats_path(void)
{
	struct ns_disklat_opts o = {.no_bpf = 1, .proc_root = tmproot};
	struct ns_disklat *d = NULL;
	struct ns_disklat_stats st;
	struct ns_sample s;

	CHECK_EQ_INT(set_stats("8 0 sda 100 0 0 300 50 0 0 200 0 0 0\n"
			       "8 1 sda1 100 0 0 300 50 0 0 200 0 0 0\n"),
		     0);
	CHECK_EQ_INT(ns_disklat_open(&o, &d), 0);
	CHECK_EQ_STR(ns_disklat_mode(d), "diskstats");
	/* +80 reads taking 150 ms, +20 writes taking 100 ms: 100 I/Os, 2.5 ms mean. */
	CHECK_EQ_INT(set_stats("8 0 sda 180 0 0 450 70 0 0 300 0 0 0\n"
			       "8 1 sda1 180 0 0 450 70 0 0 300 0 0 0\n"),
		     0);
	usleep(20000);
	CHECK_EQ_INT(ns_disklat_read(d, &st), 0);
	CHECK_EQ_INT(st.ios, 100);
	CHECK(fabs(st.p50_us - 2500) < 1e-6);
	CHECK(isnan(st.p99_us));
	CHECK(st.interval_s > 0.01 && st.iops > 0 && fabs(st.iops - 100 / st.interval_s) < 1e-6);
	/* Counters going backwards (disk replaced): the interval is skipped. */
	CHECK_EQ_INT(set_stats("8 0 sda 5 0 0 5 0 0 0 0 0 0 0\n"), 0);
	CHECK_EQ_INT(ns_disklat_read(d, &st), -EAGAIN);
	/* Then it works again from the new baseline; no I/O means no latency. */
	CHECK_EQ_INT(ns_disklat_read(d, &st), 0);
	CHECK_EQ_INT(st.ios, 0);
	CHECK(isnan(st.p50_us));
	CHECK_EQ_INT(set_stats("8 0 sda 15 0 0 25 0 0 0 0 0 0 0\n"), 0);
	ns_sample_init(&s, 0);
	CHECK_EQ_INT(ns_disklat_sample(d, &s), 0);
	CHECK(s.health & NS_SRC_DISK);
	CHECK(fabs(s.v[NS_M_DISK_P50_US] - 2000) < 1e-3);
	CHECK(isnan(s.v[NS_M_DISK_P99_US]));
	CHECK(s.v[NS_M_DISK_IOPS] > 0);
	/* An unreadable file is an error for the tick, never a crash. */
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/proc/diskstats", tmproot);
		unlink(p);
	}
	ns_sample_init(&s, 0);
	CHECK_EQ_INT(ns_disklat_sample(d, &s), -ENOENT);
	CHECK(!(s.health & NS_SRC_DISK));
	CHECK(isnan(s.v[NS_M_DISK_P50_US]));
	ns_disklat_close(d);
}

static void test_missing_file(void)
{
	struct ns_disklat_opts o = {.no_bpf = 1, .proc_root = "/nonexistent-nodescore"};
	struct ns_disklat *d = (void *)1;

	CHECK_EQ_INT(ns_disklat_open(&o, &d), -ENOENT);
	CHECK(d == NULL);
	ns_disklat_close(NULL);
}

/* More than NS_DISKSTATS_MAX_BYTES: read up to the cap, cut at a line. */
static void test_huge(void)
{
	struct ns_disklat_opts o = {.no_bpf = 1, .proc_root = tmproot};
	struct ns_disklat *d = NULL;
	struct ns_disklat_stats st;
	struct ns_diskstats_totals t;
	char p[128], *buf;
	size_t len;
	FILE *f;

	snprintf(p, sizeof(p), "%s/proc/diskstats", tmproot);
	f = fopen(p, "w");
	CHECK(f != NULL);
	/* 30000 lines of 60+ bytes: about 2 MiB. */
	for (int i = 0; i < 30000; i++)
		fprintf(f, "%4d %7d vd%06dx 1 0 0 2 0 0 0 0 0 2 2 0 0 0 0 0 0\n", 252, i, i);
	CHECK_EQ_INT(fclose(f), 0);
	buf = slurp(p, &len);
	CHECK(buf != NULL && len > NS_DISKSTATS_MAX_BYTES);
	CHECK_EQ_INT(ns_diskstats_parse(buf, len, &t), 0);
	free(buf);
	CHECK_EQ_INT(t.ndisks, 30000);
	CHECK_EQ_INT(t.ios, 30000);
	CHECK_EQ_INT(ns_disklat_open(&o, &d), 0);
	CHECK_EQ_INT(ns_disklat_read(d, &st), 0);
	CHECK_EQ_INT(st.ios, 0);
	ns_disklat_close(d);
}

/* Major:minor of the block device under dir, if /proc/diskstats lists it. */
static int backing_device_listed(const char *dir, char *name, size_t nlen)
{
	struct stat sb;
	char line[512];
	FILE *f;
	int found = 0;

	if (stat(dir, &sb) < 0)
		return 0;
	f = fopen("/proc/diskstats", "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned ma, mi;
		char n[64];

		if (sscanf(line, "%u %u %63s", &ma, &mi, n) == 3 && ma == major(sb.st_dev) &&
		    mi == minor(sb.st_dev)) {
			snprintf(name, nlen, "%s", n);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

#define DIO_READS 64

static void real_io(int raw_tp)
{
	struct ns_disklat_opts o = {.raw_tp = raw_tp};
	struct ns_disklat *d = NULL;
	struct ns_disklat_stats st;
	char path[] = "/var/tmp/nodescore-disklat-io.XXXXXX", dev[64];
	char *blk = NULL;
	uint64_t t0;
	int fd, dfd = -1;

	if (!backing_device_listed("/var/tmp", dev, sizeof(dev)))
		SKIP("/var/tmp is not on a block device listed in /proc/diskstats");
	CHECK_EQ_INT(ns_disklat_open(&o, &d), 0);
	if (strcmp(ns_disklat_mode(d), "bpf") != 0) {
		ns_disklat_close(d);
		SKIP("BPF not permitted here (see the WARNING above for the reason)");
	}
	CHECK_EQ_STR(ns_disklat_attach_kind(d), raw_tp ? "raw_tp" : "tp_btf");
	fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK(posix_memalign((void **)&blk, 4096, 1 << 20) == 0);
	memset(blk, 'n', 1 << 20);
	CHECK_EQ_INT(ns_disklat_read(d, &st), 0); /* fresh interval */
	t0 = ns_mono_ns();
	CHECK(write(fd, blk, 1 << 20) == 1 << 20);
	CHECK_EQ_INT(fsync(fd), 0);
	/* O_DIRECT reads bypass the page cache: each one is a block request. */
	dfd = open(path, O_RDONLY | O_DIRECT);
	if (dfd < 0) {
		close(fd);
		unlink(path);
		free(blk);
		ns_disklat_close(d);
		SKIP("O_DIRECT not supported on /var/tmp (%s)", dev);
	}
	for (int i = 0; i < DIO_READS; i++)
		CHECK(pread(dfd, blk, 4096, (off_t)i * 8192) == 4096);
	CHECK_EQ_INT(ns_disklat_read(d, &st), 0);
	fprintf(stderr, "  bpf %s on %s: ios=%llu p50=%.0f p99=%.0f us iops=%.0f in %.3f s\n",
		ns_disklat_attach_kind(d), dev, (unsigned long long)st.ios, st.p50_us, st.p99_us,
		st.iops, (double)(ns_mono_ns() - t0) / 1e9);
	close(dfd);
	close(fd);
	unlink(path);
	free(blk);
	/* Other processes add I/O, so only lower bounds hold. */
	CHECK(st.ios >= DIO_READS);
	CHECK(isfinite(st.p50_us) && st.p50_us > 0 && st.p99_us >= st.p50_us);
	CHECK(st.p99_us < 10e6);
	ns_disklat_close(d);
}

static void test_bpf_real_io(void)
{
	real_io(0);
}

static void test_bpf_raw_tp_real_io(void)
{
	real_io(1);
}

static int open_unprivileged(void)
{
	struct ns_disklat_opts o = {0};
	struct ns_disklat *d = NULL;
	struct ns_disklat_stats st;
	int rc = 1, err;

	if (ns_disklat_open(&o, &d) == 0 && strcmp(ns_disklat_mode(d), "diskstats") == 0) {
		err = ns_disklat_read(d, &st);
		rc = err == 0 || err == -EAGAIN ? 0 : 1;
	}
	ns_disklat_close(d);
	return rc;
}

/* Without CAP_BPF the open falls back to /proc/diskstats instead of failing. */
static void test_fallback_without_bpf_caps(void)
{
	int rc;

	if (access("/proc/diskstats", R_OK) != 0)
		SKIP("no /proc/diskstats here");
	rc = in_child_without_bpf(open_unprivileged);
	if (rc == 77)
		SKIP("cannot drop capabilities here");
	CHECK_EQ_INT(rc, 0);
}

int main(void)
{
	int have_root = make_root() == 0;

	RUN(test_parse_good);
	RUN(test_parse_malformed);
	RUN(test_parse_truncated);
	RUN(test_parse_edges);
	if (have_root) {
		RUN(test_diskstats_path);
		RUN(test_huge);
	}
	RUN(test_missing_file);
	RUN(test_bpf_real_io);
	RUN(test_bpf_raw_tp_real_io);
	RUN(test_fallback_without_bpf_caps);
	if (have_root) {
		char p[128];

		snprintf(p, sizeof(p), "%s/proc/diskstats", tmproot);
		unlink(p);
		snprintf(p, sizeof(p), "%s/proc", tmproot);
		rmdir(p);
		rmdir(tmproot);
	}
	return CHECK_SUMMARY();
}
