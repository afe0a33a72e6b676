// SPDX-License-Identifier: MIT
/* Pressure source (/proc/pressure/{cpu,memory,io}) against fixture trees. */
#include <errno.h>
#include <math.h>

#include "nodescore/psi.h"
#include "check.h"
#include "fixture.h"

#define CPU                                                                                        \
	"some avg10=1.50 avg60=2.00 avg300=3.00 total=12345\n"                                     \
	"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
#define MEM                                                                                        \
	"some avg10=4.25 avg60=1.00 avg300=0.50 total=999\n"                                       \
	"full avg10=2.75 avg60=0.50 avg300=0.10 total=500\n"
#define IO                                                                                         \
	"some avg10=10.00 avg60=5.00 avg300=1.00 total=7777\n"                                     \
	"full avg10=8.50 avg60=4.00 avg300=0.90 total=6666\n"

static int sample(struct ns_psi *p, struct ns_sample *s)
{
	ns_sample_init(s, 1);
	return ns_psi_sample(p, s);
}

static void write_good(void)
{
	fx_write("proc/pressure/cpu", CPU);
	fx_write("proc/pressure/memory", MEM);
	fx_write("proc/pressure/io", IO);
}

static void test_good(void)
{
	struct ns_psi p;
	struct ns_sample s;

	fx_new();
	write_good();
	ns_psi_init(&p, fx_root);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_PSI_CPU_SOME] == 1.5f);
	CHECK(s.v[NS_M_PSI_MEM_SOME] == 4.25f);
	CHECK(s.v[NS_M_PSI_MEM_FULL] == 2.75f);
	CHECK(s.v[NS_M_PSI_IO_SOME] == 10.0f);
	CHECK(s.v[NS_M_PSI_IO_FULL] == 8.5f);
	CHECK(s.health & NS_SRC_PSI);
	/* Kernels before 5.13 have no "full" line for cpu. */
	fx_write("proc/pressure/cpu", "some avg10=0.10 avg60=0.00 avg300=0.00 total=1\n");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_PSI_CPU_SOME] == 0.1f);
	fx_free();
}

/* No /proc/pressure: normal on kernels without PSI. INFO once, no WARNING. */
static void test_unavailable(void)
{
	struct ns_psi p;
	struct ns_sample s;
	const char *log;

	fx_new();
	fx_mkdir("proc");
	ns_psi_init(&p, fx_root);
	fx_capture_start();
	CHECK_EQ_INT(sample(&p, &s), -EOPNOTSUPP);
	CHECK_EQ_INT(sample(&p, &s), -EOPNOTSUPP);
	log = fx_capture_stop();
	CHECK_EQ_INT(p.health.state, NS_SRC_STATE_UNAVAILABLE);
	CHECK(!(s.health & NS_SRC_PSI));
	CHECK(isnan(s.v[NS_M_PSI_CPU_SOME]));
	CHECK_EQ_INT(fx_count(log, "INFO sampler: source unavailable on this node source=psi"), 1);
	CHECK_EQ_INT(fx_count(log, "WARNING"), 0);
	fx_free();
}

static void expect_bad(const char *file, const char *text, int want)
{
	struct ns_psi p;
	struct ns_sample s;
	const char *log;
	int r1, r2;

	write_good();
	if (text)
		fx_write(file, text);
	else
		fx_remove(file);
	ns_psi_init(&p, fx_root);
	fx_capture_start();
	r1 = sample(&p, &s);
	r2 = sample(&p, &s);
	log = fx_capture_stop();
	CHECK_EQ_INT(r1, want);
	CHECK_EQ_INT(r2, want);
	CHECK_EQ_INT(p.health.state, NS_SRC_STATE_FAILING);
	CHECK(!(s.health & NS_SRC_PSI));
	/* All or nothing: no value from the good files either. */
	for (int m = NS_M_PSI_CPU_SOME; m <= NS_M_PSI_IO_FULL; m++)
		CHECK(isnan(s.v[m]));
	CHECK_EQ_INT(fx_count(log, "WARNING sampler: source failing"), 1);
	CHECK(strstr(log, "source=psi") != NULL);
}

static void test_bad(void)
{
	fx_new();
	expect_bad("proc/pressure/io", NULL, -ENOENT);
	expect_bad("proc/pressure/cpu", "", -ENODATA);
	expect_bad("proc/pressure/memory", "some avg10=4.25 avg60=1.00 avg300=0.50 total=999\n",
		   -EINVAL); /* memory must have full */
	expect_bad("proc/pressure/cpu", "some avg10=1.50 avg60=2.0", -EINVAL);
	expect_bad("proc/pressure/cpu", "some avg10=1.50 avg60=2.00 avg300=3.00 total=\n", -EINVAL);
	expect_bad("proc/pressure/cpu", "some avg10=101.00 avg60=2.00 avg300=3.00 total=1\n",
		   -EINVAL);
	expect_bad("proc/pressure/cpu", "some avg10=-1.00 avg60=2.00 avg300=3.00 total=1\n",
		   -EINVAL);
	expect_bad("proc/pressure/cpu", "some avg10=abc avg60=2.00 avg300=3.00 total=1\n", -EINVAL);
	expect_bad("proc/pressure/cpu", "full avg10=1.00 avg60=2.00 avg300=3.00 total=1\n",
		   -EINVAL);
	/* total split onto the next line must not complete the "some" line */
	expect_bad("proc/pressure/io",
		   "some avg10=1.00 avg60=\nfull avg10=1.00 avg60=2.00 avg300=3.00 total=1\n",
		   -EINVAL);
	expect_bad("proc/pressure/cpu", CPU CPU, -EINVAL); /* repeated lines */
	fx_write_garbage("proc/pressure/memory", 300);
	expect_bad("proc/pressure/memory", NULL, -ENOENT);
	write_good();
	fx_write_garbage("proc/pressure/memory", 300);
	{
		struct ns_psi p;
		struct ns_sample s;

		ns_psi_init(&p, fx_root);
		fx_capture_start();
		CHECK_EQ_INT(sample(&p, &s), -EILSEQ);
		fx_capture_stop();
		fx_write_huge("proc/pressure/memory", MEM, 5000);
		fx_capture_start();
		CHECK_EQ_INT(sample(&p, &s), -EFBIG);
		fx_capture_stop();
		CHECK_EQ_INT(p.health.state, NS_SRC_STATE_FAILING);
		write_good();
		CHECK_EQ_INT(sample(&p, &s), 0);
		CHECK_EQ_INT(p.health.state, NS_SRC_STATE_OK);
	}
	fx_free();
}

static void test_real_proc(void)
{
	struct ns_psi p;
	struct ns_sample s;
	int r;

	ns_psi_init(&p, "");
	r = sample(&p, &s);
	if (r == -EOPNOTSUPP)
		SKIP("this kernel has no PSI");
	CHECK_EQ_INT(r, 0);
	CHECK(s.v[NS_M_PSI_CPU_SOME] >= 0.0f && s.v[NS_M_PSI_CPU_SOME] <= 100.0f);
}

int main(void)
{
	RUN(test_good);
	RUN(test_unavailable);
	RUN(test_bad);
	RUN(test_real_proc);
	fx_free();
	return CHECK_SUMMARY();
}
