// SPDX-License-Identifier: MIT
/* Load source (/proc/loadavg) against fixture trees. */
#include <errno.h>
#include <math.h>

#include "nodescore/loadavg.h"
#include "check.h"
#include "fixture.h"

static int sample(struct ns_loadavg *l, struct ns_sample *s)
{
	ns_sample_init(s, 1);
	return ns_loadavg_sample(l, s);
}

static void test_good(void)
{
	struct ns_loadavg l;
	struct ns_sample s;

	fx_new();
	fx_write("proc/loadavg", "0.52 1.50 12.25 3/456 7890\n");
	ns_loadavg_init(&l, fx_root);
	CHECK_EQ_INT(sample(&l, &s), 0);
	CHECK(s.v[NS_M_LOAD1] == 0.52f);
	CHECK(s.v[NS_M_LOAD5] == 1.5f);
	CHECK(s.v[NS_M_LOAD15] == 12.25f);
	CHECK(s.health & NS_SRC_LOAD);
	/* no trailing newline is still a whole line */
	fx_write("proc/loadavg", "0.00 0.01 0.05 1/1 1");
	CHECK_EQ_INT(sample(&l, &s), 0);
	CHECK(s.v[NS_M_LOAD15] == 0.05f);
	fx_free();
}

static void expect_bad(const char *text, int want)
{
	struct ns_loadavg l;
	struct ns_sample s;
	const char *log;
	int r1, r2;

	if (text)
		fx_write("proc/loadavg", text);
	ns_loadavg_init(&l, fx_root);
	fx_capture_start();
	r1 = sample(&l, &s);
	r2 = sample(&l, &s);
	log = fx_capture_stop();
	CHECK_EQ_INT(r1, want);
	CHECK_EQ_INT(r2, want);
	CHECK(isnan(s.v[NS_M_LOAD1]) && isnan(s.v[NS_M_LOAD5]) && isnan(s.v[NS_M_LOAD15]));
	CHECK(!(s.health & NS_SRC_LOAD));
	CHECK_EQ_INT(fx_count(log, "WARNING sampler: source failing"), 1);
	CHECK(strstr(log, "source=loadavg") != NULL);
}

static void test_bad(void)
{
	fx_new();
	expect_bad(NULL, -ENOENT);
	expect_bad("", -ENODATA);
	expect_bad("0.52 1.5", -EINVAL);
	expect_bad("0.52 1.50 2.00\n", -EINVAL);
	expect_bad("0.52 1.50 2.00 3/", -EINVAL);
	expect_bad("-1.00 1.50 2.00 3/4 5\n", -EINVAL);
	expect_bad("nan nan nan 1/2 3\n", -EINVAL);
	expect_bad("inf 1 1 1/2 3\n", -EINVAL);
	expect_bad("0x10 1 1 1/2 3\n", -EINVAL);
	expect_bad("99999999.0 1 1 1/2 3\n", -EINVAL);
	expect_bad("1.0 2.0 3.0 1/2 3 extra\n", -EINVAL);
	fx_write_garbage("proc/loadavg", 200);
	expect_bad(NULL, -EILSEQ);
	fx_write_huge("proc/loadavg", "0.52 1.50 2.00 3/456 7890\n", 10000);
	expect_bad(NULL, -EFBIG);
	fx_free();
}

static void test_real_proc(void)
{
	struct ns_loadavg l;
	struct ns_sample s;

	ns_loadavg_init(&l, "/");
	CHECK_EQ_STR(l.path, "/proc/loadavg");
	CHECK_EQ_INT(sample(&l, &s), 0);
	CHECK(s.v[NS_M_LOAD1] >= 0.0f);
}

int main(void)
{
	RUN(test_good);
	RUN(test_bad);
	RUN(test_real_proc);
	fx_free();
	return CHECK_SUMMARY();
}
