// SPDX-License-Identifier: MIT
/* Memory source (/proc/meminfo) against fixture trees. */
#include <errno.h>
#include <math.h>

#include "nodescore/meminfo.h"
#include "check.h"
#include "fixture.h"

#define GOOD                                                                                       \
	"MemTotal:        8388608 kB\n"                                                            \
	"MemFree:          1048576 kB\n"                                                           \
	"MemAvailable:     2097152 kB\n"                                                           \
	"Buffers:           102400 kB\n"                                                           \
	"HugePages_Total:        0\n"

static int sample(struct ns_meminfo *m, struct ns_sample *s)
{
	ns_sample_init(s, 1);
	return ns_meminfo_sample(m, s);
}

static void test_good(void)
{
	struct ns_meminfo m;
	struct ns_sample s;

	fx_new();
	fx_write("proc/meminfo", GOOD);
	CHECK_EQ_INT(ns_meminfo_init(&m, fx_root), 0);
	CHECK_EQ_INT(sample(&m, &s), 0);
	/* 8 GiB total, 2 GiB available: 8192 MiB, 2048 MiB, utilisation 0.75 */
	CHECK(s.v[NS_M_MEM_TOTAL_MIB] == 8192.0f);
	CHECK(s.v[NS_M_MEM_AVAIL_MIB] == 2048.0f);
	CHECK(fabsf(s.v[NS_M_MEM_UTIL] - 0.75f) < 1e-6f);
	CHECK(s.health & NS_SRC_MEM);
	fx_free();
}

static void expect_bad(const char *text, int want)
{
	struct ns_meminfo m;
	struct ns_sample s;
	const char *log;
	int r1, r2;

	if (text)
		fx_write("proc/meminfo", text);
	ns_meminfo_init(&m, fx_root);
	fx_capture_start();
	r1 = sample(&m, &s);
	r2 = sample(&m, &s);
	log = fx_capture_stop();
	CHECK_EQ_INT(r1, want);
	CHECK_EQ_INT(r2, want);
	CHECK(isnan(s.v[NS_M_MEM_UTIL]) && isnan(s.v[NS_M_MEM_TOTAL_MIB]) &&
	      isnan(s.v[NS_M_MEM_AVAIL_MIB]));
	CHECK(!(s.health & NS_SRC_MEM));
	CHECK_EQ_INT(m.health.state, NS_SRC_STATE_FAILING);
	CHECK_EQ_INT(fx_count(log, "WARNING sampler: source failing"), 1);
	CHECK(strstr(log, "source=meminfo") != NULL);
}

static void test_bad(void)
{
	fx_new();
	expect_bad(NULL, -ENOENT);
	expect_bad("", -ENODATA);
	expect_bad("MemTotal:        8388608 kB\nMemFree: 1 kB\n", -EINVAL); /* no MemAvailable */
	expect_bad("MemTotal:        100 kB\nMemAvailable:   200 kB\n",
		   -EINVAL); /* avail > total */
	expect_bad("MemTotal:        0 kB\nMemAvailable:   0 kB\n", -EINVAL);
	expect_bad("MemTotal:        8388608 kB\nMemAvailable:     20971", -EINVAL); /* cut */
	expect_bad("MemTotal:        8388608 kB\nMemAvailable:  12x4 kB\n", -EINVAL);
	expect_bad("MemTotal:  8388608 kB\nMemTotal:  8388608 kB\nMemAvailable: 1 kB\n", -EINVAL);
	expect_bad("MemTotal: 99999999999999999999999 kB\nMemAvailable: 1 kB\n", -EINVAL);
	expect_bad("MemTotal: 9007199254740992 kB\nMemAvailable: 1 kB\n", -EINVAL); /* > 1 PiB */
	fx_write_garbage("proc/meminfo", 3000);
	expect_bad(NULL, -EILSEQ);
	fx_write_huge("proc/meminfo", GOOD, 100000);
	expect_bad(NULL, -EFBIG);
	fx_free();
}

static void test_real_proc(void)
{
	struct ns_meminfo m;
	struct ns_sample s;

	ns_meminfo_init(&m, NULL);
	CHECK_EQ_STR(m.path, "/proc/meminfo");
	CHECK_EQ_INT(sample(&m, &s), 0);
	CHECK(s.v[NS_M_MEM_TOTAL_MIB] > 64.0f);
	CHECK(s.v[NS_M_MEM_UTIL] > 0.0f && s.v[NS_M_MEM_UTIL] < 1.0f);
}

int main(void)
{
	RUN(test_good);
	RUN(test_bad);
	RUN(test_real_proc);
	fx_free();
	return CHECK_SUMMARY();
}
