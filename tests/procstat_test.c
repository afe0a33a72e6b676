// SPDX-License-Identifier: MIT
/* CPU source (/proc/stat) against fixture trees: values, and every kind of bad file. */
#include <errno.h>
#include <math.h>

#include "nodescore/procstat.h"
#include "check.h"
#include "fixture.h"

#define STAT1                                                                                      \
	"cpu  100 0 100 800 0 0 0 0 0 0\n"                                                         \
	"cpu0 50 0 50 400 0 0 0 0 0 0\n"                                                           \
	"cpu1 50 0 50 400 0 0 0 0 0 0\n"                                                           \
	"intr 12345 1 2 3\nctxt 999\n"
/* +100 user, +100 system, +600 idle: busy 200 of 800 -> 0.25 */
#define STAT2                                                                                      \
	"cpu  200 0 200 1400 0 0 0 0 0 0\n"                                                        \
	"cpu0 100 0 100 700 0 0 0 0 0 0\n"                                                         \
	"cpu1 100 0 100 700 0 0 0 0 0 0\n"                                                         \
	"intr 12346 1 2 3\nctxt 1000\n"

static int sample(struct ns_procstat *p, struct ns_sample *s)
{
	ns_sample_init(s, 1);
	return ns_procstat_sample(p, s);
}

static void test_good_delta(void)
{
	struct ns_procstat p;
	struct ns_sample s;

	fx_new();
	fx_write("proc/stat", STAT1);
	CHECK_EQ_INT(ns_procstat_init(&p, fx_root), 0);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(isnan(s.v[NS_M_CPU_UTIL])); /* no delta yet */
	CHECK(s.v[NS_M_NCPU] == 2.0f);
	CHECK(s.health & NS_SRC_CPU);
	CHECK_EQ_INT(p.health.state, NS_SRC_STATE_OK);
	fx_write("proc/stat", STAT2);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(fabsf(s.v[NS_M_CPU_UTIL] - 0.25f) < 1e-6f);
	fx_free();
}

/* iowait is idle time; guest is already inside user and must not count twice. */
static void test_iowait_and_guest(void)
{
	struct ns_procstat p;
	struct ns_sample s;

	fx_new();
	fx_write("proc/stat", "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n");
	ns_procstat_init(&p, fx_root);
	CHECK_EQ_INT(sample(&p, &s), 0);
	/* user 300 (of which guest 100), iowait 100, idle 400, steal 200: total 1000, busy 500 */
	fx_write("proc/stat",
		 "cpu  300 0 0 400 100 0 0 200 100 0\ncpu0 300 0 0 400 100 0 0 200 100 0\n");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(fabsf(s.v[NS_M_CPU_UTIL] - 0.5f) < 1e-6f);
	/* Old kernels: four columns are enough. */
	fx_write("proc/stat", "cpu  400 0 0 500\ncpu0 400 0 0 500\n");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.health & NS_SRC_CPU);
	fx_free();
}

static void test_counters_backwards(void)
{
	struct ns_procstat p;
	struct ns_sample s;

	fx_new();
	fx_write("proc/stat", STAT2);
	ns_procstat_init(&p, fx_root);
	CHECK_EQ_INT(sample(&p, &s), 0);
	fx_write("proc/stat", STAT1);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(isnan(s.v[NS_M_CPU_UTIL])); /* no negative or huge utilisation */
	CHECK(s.health & NS_SRC_CPU);
	fx_write("proc/stat", STAT2);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(fabsf(s.v[NS_M_CPU_UTIL] - 0.25f) < 1e-6f);
	fx_free();
}

/* Each bad file: an error, values NaN, health clear, one WARNING, no crash. */
static void expect_bad(const char *what, int want_err)
{
	struct ns_procstat p;
	struct ns_sample s;
	const char *log;
	int r1, r2;

	ns_procstat_init(&p, fx_root);
	fx_capture_start();
	r1 = sample(&p, &s);
	r2 = sample(&p, &s);
	log = fx_capture_stop();
	if (r1 >= 0 || (want_err && r1 != want_err))
		fprintf(stderr, "  case %s: r1=%d\n", what, r1);
	CHECK(r1 < 0);
	if (want_err)
		CHECK_EQ_INT(r1, want_err);
	CHECK_EQ_INT(r2, r1);
	CHECK(isnan(s.v[NS_M_CPU_UTIL]) && isnan(s.v[NS_M_NCPU]));
	CHECK(!(s.health & NS_SRC_CPU));
	CHECK_EQ_INT(p.health.state, NS_SRC_STATE_FAILING);
	/* Rate limit: two failing ticks, one line. */
	CHECK_EQ_INT(fx_count(log, "WARNING sampler: source failing"), 1);
	CHECK(strstr(log, "source=procstat") != NULL);
	CHECK_EQ_INT((int)p.health.failures, 2);
}

static void test_bad_files(void)
{
	char big[200000];
	size_t n = 0;

	fx_new();
	expect_bad("missing", -ENOENT);
	fx_write("proc/stat", "");
	expect_bad("empty", -ENODATA);
	fx_write_garbage("proc/stat", 4000);
	expect_bad("binary", -EILSEQ);
	fx_write("proc/stat", "cpu  abc def\ncpu0 1 2 3 4\n");
	expect_bad("letters", -EINVAL);
	fx_write("proc/stat", "cpu  100 0 100 8");
	expect_bad("truncated aggregate", -EINVAL);
	fx_write("proc/stat", "cpu  100 0 100 800\ncpu0 1 2");
	expect_bad("truncated per-cpu", -EINVAL);
	fx_write("proc/stat", "cpu  1 2 3 4\nintr 5\n");
	expect_bad("no per-cpu lines", -EINVAL);
	fx_write("proc/stat", "cpu  99999999999999999999999 0 0 0\ncpu0 1 1 1 1\n");
	expect_bad("overflow", -EINVAL);
	fx_write("proc/stat", "cpu  1 2 3 4 x\ncpu0 1 2 3 4\n");
	expect_bad("trailing junk", -EINVAL);
	fx_write("proc/stat", "intr 1\ncpu  1 2 3 4\ncpu0 1 2 3 4\n");
	expect_bad("cpu not first", -EINVAL);
	fx_write_huge("proc/stat", "", 100000);
	expect_bad("huge text", -EINVAL);
	/* cpu lines that do not fit the buffer: refused, not a wrong CPU count */
	n += (size_t)snprintf(big + n, sizeof(big) - n, "cpu  1 2 3 4 5 6 7 8 9 10\n");
	for (int i = 0; n + 64 < sizeof(big); i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "cpu%d 1 2 3 4 5 6 7 8 9 10\n", i);
	fx_write_bytes("proc/stat", big, n);
	expect_bad("cpu lines beyond the buffer", -EINVAL);
	fx_free();
}

/* A real machine's long intr line after the cpu lines is fine. */
static void test_long_tail_ok(void)
{
	struct ns_procstat p;
	struct ns_sample s;
	static char buf[300000];
	size_t n;

	fx_new();
	n = (size_t)snprintf(buf, sizeof(buf), "%s", STAT1);
	while (n + 8 < sizeof(buf) - 2)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " 123456");
	buf[n++] = '\n';
	fx_write_bytes("proc/stat", buf, n);
	ns_procstat_init(&p, fx_root);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_NCPU] == 2.0f);
	fx_free();
}

static void test_recovery_logs_once(void)
{
	struct ns_procstat p;
	struct ns_sample s;
	const char *log;

	fx_new();
	fx_write("proc/stat", STAT1);
	ns_procstat_init(&p, fx_root);
	fx_capture_start();
	sample(&p, &s);
	fx_write("proc/stat", "garbage\n");
	sample(&p, &s);
	sample(&p, &s);
	sample(&p, &s);
	fx_write("proc/stat", STAT2);
	sample(&p, &s);
	log = fx_capture_stop();
	CHECK_EQ_INT(fx_count(log, "WARNING"), 1);
	CHECK_EQ_INT(fx_count(log, "INFO sampler: source recovered source=procstat"), 1);
	CHECK_EQ_INT(p.health.state, NS_SRC_STATE_OK);
	/* The delta restarted after the failure: no utilisation across a gap. */
	CHECK(isnan(s.v[NS_M_CPU_UTIL]));
	fx_free();
}

/* The real /proc/stat parses. */
static void test_real_proc(void)
{
	struct ns_procstat p;
	struct ns_sample s;

	CHECK_EQ_INT(ns_procstat_init(&p, ""), 0);
	CHECK_EQ_STR(p.path, "/proc/stat");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_NCPU] == (float)sysconf(_SC_NPROCESSORS_ONLN));
	usleep(20000);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_CPU_UTIL] >= 0.0f && s.v[NS_M_CPU_UTIL] <= 1.0f);
}

int main(void)
{
	RUN(test_good_delta);
	RUN(test_iowait_and_guest);
	RUN(test_counters_backwards);
	RUN(test_bad_files);
	RUN(test_long_tail_ok);
	RUN(test_recovery_logs_once);
	RUN(test_real_proc);
	fx_free();
	return CHECK_SUMMARY();
}
