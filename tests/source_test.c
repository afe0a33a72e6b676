// SPDX-License-Identifier: MIT
/* Sampler plumbing: bounded parsers never read past end (inputs sit at the
 * end of a page followed by a PROT_NONE page), bounded file reads. */
#include <errno.h>
#include <math.h>
#include <sys/mman.h>

#include "nodescore/source.h"
#include "check.h"
#include "fixture.h"

static char *page;
static long pagesz;

/* Copies s (without NUL) so that its last byte is the last before the guard. */
static const char *at_guard(const char *s, const char **end)
{
	size_t n = strlen(s);
	char *p = page + pagesz - n;

	memcpy(p, s, n);
	*end = page + pagesz;
	return p;
}

static void test_u64_bounded(void)
{
	const char *end, *p;
	uint64_t v;

	p = at_guard("  12345", &end);
	CHECK_EQ_INT(ns_src_u64(&p, end, &v), 0);
	CHECK(v == 12345 && p == end);
	p = at_guard("18446744073709551615", &end);
	CHECK_EQ_INT(ns_src_u64(&p, end, &v), 0);
	CHECK(v == UINT64_MAX);
	p = at_guard("18446744073709551616", &end);
	CHECK_EQ_INT(ns_src_u64(&p, end, &v), -EINVAL);
	p = at_guard("   ", &end);
	CHECK_EQ_INT(ns_src_u64(&p, end, &v), -EINVAL);
	p = at_guard("-5", &end);
	CHECK_EQ_INT(ns_src_u64(&p, end, &v), -EINVAL);
	p = end;
	CHECK_EQ_INT(ns_src_u64(&p, end, &v), -EINVAL);
}

static void test_double_bounded(void)
{
	const char *end, *p;
	double v;

	p = at_guard("0.52", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), 0);
	CHECK(fabs(v - 0.52) < 1e-12 && p == end);
	p = at_guard("7.", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), 0);
	CHECK(v == 7.0);
	p = at_guard("-3.25", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), 0);
	CHECK(v == -3.25);
	p = at_guard(".", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), -EINVAL);
	p = at_guard("-", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), -EINVAL);
	p = at_guard("nan", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), -EINVAL);
	p = at_guard("1234567890123456789012", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), -EINVAL);
	p = at_guard("0.00000000000000000000000000000000000001", &end);
	CHECK_EQ_INT(ns_src_double(&p, end, &v), 0);
	CHECK(p == end);
}

static void test_lines_bounded(void)
{
	const char *end, *p;

	p = at_guard("abc", &end);
	ns_src_next_line(&p, end);
	CHECK(p == end);
	p = at_guard("ab\ncd", &end);
	ns_src_next_line(&p, end);
	CHECK(p == end - 2);
	p = at_guard("cp", &end);
	CHECK(!ns_src_starts(p, end, "cpu"));
	p = at_guard("cpu", &end);
	CHECK(ns_src_starts(p, end, "cpu"));
}

static void test_read_bounds(void)
{
	char buf[16], path[512];
	size_t len;
	int trunc;

	fx_new();
	fx_fmt(path, sizeof(path), "%s/f", fx_root);
	fx_write("f", "123456789012345"); /* exactly cap - 1 */
	CHECK_EQ_INT(ns_src_read(path, buf, sizeof(buf), &len, 0, NULL), 0);
	CHECK_EQ_INT(len, 15);
	CHECK_EQ_STR(buf, "123456789012345");
	fx_write("f", "1234567890123456"); /* one more */
	CHECK_EQ_INT(ns_src_read(path, buf, sizeof(buf), &len, 0, NULL), -EFBIG);
	CHECK_EQ_INT(ns_src_read(path, buf, sizeof(buf), &len, 1, &trunc), 0);
	CHECK(trunc == 1 && len == 15);
	fx_write_bytes("f", "ab\0cd", 5);
	CHECK_EQ_INT(ns_src_read(path, buf, sizeof(buf), &len, 0, NULL), -EILSEQ);
	fx_write("f", "");
	CHECK_EQ_INT(ns_src_read(path, buf, sizeof(buf), &len, 0, NULL), -ENODATA);
	fx_mkdir("d");
	fx_fmt(path, sizeof(path), "%s/d", fx_root);
	CHECK_EQ_INT(ns_src_read(path, buf, sizeof(buf), &len, 0, NULL), -EISDIR);
	/* A FIFO with no writer must not block the sampler. */
	fx_fmt(path, sizeof(path), "%s/fifo", fx_root);
	CHECK_EQ_INT(mkfifo(path, 0600), 0);
	CHECK(ns_src_read(path, buf, sizeof(buf), &len, 0, NULL) < 0);
	fx_free();
}

static void test_path_join(void)
{
	char out[64];

	CHECK_EQ_INT(ns_src_path(out, sizeof(out), "", "/proc/stat"), 0);
	CHECK_EQ_STR(out, "/proc/stat");
	CHECK_EQ_INT(ns_src_path(out, sizeof(out), NULL, "/proc/stat"), 0);
	CHECK_EQ_STR(out, "/proc/stat");
	CHECK_EQ_INT(ns_src_path(out, sizeof(out), "/", "/proc/stat"), 0);
	CHECK_EQ_STR(out, "/proc/stat");
	CHECK_EQ_INT(ns_src_path(out, sizeof(out), "/tmp/x//", "/proc/stat"), 0);
	CHECK_EQ_STR(out, "/tmp/x/proc/stat");
	CHECK_EQ_INT(ns_src_path(out, 8, "/tmp/x", "/proc/stat"), -ENAMETOOLONG);
}

int main(void)
{
	pagesz = sysconf(_SC_PAGESIZE);
	page = mmap(NULL, (size_t)pagesz * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (page == MAP_FAILED || mprotect(page + pagesz, (size_t)pagesz, PROT_NONE))
		return 1;
	RUN(test_u64_bounded);
	RUN(test_double_bounded);
	RUN(test_lines_bounded);
	RUN(test_read_bounds);
	RUN(test_path_join);
	fx_free();
	return CHECK_SUMMARY();
}
