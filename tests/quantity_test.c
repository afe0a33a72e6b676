// SPDX-License-Identifier: MIT
/* Kubernetes quantity parser: grammar, scaling, rounding, overflow. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nodescore/quantity.h"
#include "check.h"

static int q(const char *s, int scale, int64_t *v)
{
	return ns_quantity_parse(s, strlen(s), scale, v);
}

#define CHECK_Q(str, scale, want)                                                                  \
	do {                                                                                       \
		int64_t v_ = -12345;                                                               \
		CHECK_EQ_INT(q((str), (scale), &v_), 0);                                           \
		CHECK_EQ_INT(v_, (want));                                                          \
	} while (0)

static void test_cpu_millicores(void)
{
	CHECK_Q("100m", 3, 100);
	CHECK_Q("1", 3, 1000);
	CHECK_Q("1.5", 3, 1500);
	CHECK_Q("0.1", 3, 100);
	CHECK_Q(".5", 3, 500);
	CHECK_Q("2.", 3, 2000);
	CHECK_Q("2e3", 3, 2000000);
	CHECK_Q("2E3", 3, 2000000);
	CHECK_Q("1e-3", 3, 1);
	CHECK_Q("+250m", 3, 250);
	CHECK_Q("0", 3, 0);
	CHECK_Q("0m", 3, 0);
	CHECK_Q("000.000", 3, 0);
	/* Sub-millicore values round up, as MilliValue() does. */
	CHECK_Q("0.0001", 3, 1);
	CHECK_Q("1.0001", 3, 1001);
	CHECK_Q("100.5m", 3, 101);
	CHECK_Q("1k", 3, 1000000);
}

static void test_memory_bytes(void)
{
	CHECK_Q("512Mi", 0, 512ll << 20);
	CHECK_Q("1Ki", 0, 1024);
	CHECK_Q("1.5Gi", 0, 3ll << 29);
	CHECK_Q("1G", 0, 1000000000);
	CHECK_Q("128974848", 0, 128974848);
	CHECK_Q("129e6", 0, 129000000);
	CHECK_Q("123M", 0, 123000000);
	CHECK_Q("1Ti", 0, 1ll << 40);
	CHECK_Q("1Pi", 0, 1ll << 50);
	CHECK_Q("7Ei", 0, 7ll << 60);
	CHECK_Q("9E", 0, 9000000000000000000ll);
	CHECK_Q("1T", 0, 1000000000000ll);
	CHECK_Q("1P", 0, 1000000000000000ll);
	/* 1m of a byte is still one byte: rounded up. */
	CHECK_Q("1m", 0, 1);
	CHECK_Q("0.5Ki", 0, 512);
	CHECK_Q("-1Ki", 0, -1024);
	/* Long mantissas beyond 19 digits keep their magnitude. */
	CHECK_Q("1000000000000000000000m", 0, 1000000000000000000ll);
	CHECK_Q("0.00000000000000000000000001", 0, 1);
}

static void test_rejects(void)
{
	static const char *const bad[] = {
	    "",	   " 1",  "1 ",	  "1K",	  "1e",	   "1e+", "1.2.3",   ".",
	    "+",   "-",	  "1KiB", "1mi",  "m",	   "Mi",  "0x10",    "1_000",
	    "1,5", "inf", "nan",  "1ee3", "1e3.5", "1Mm", "1 Mi",    "++1",
	    "1ki", "1u",  "1n",	  "e3",	  "1E-",   "--1", "1.5e3Ki",
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (q(bad[i], 3, &v) != -EINVAL) {
			fprintf(stderr, "  accepted: '%s'\n", bad[i]);
			CHECK(0);
		}
	}
	/* An embedded NUL inside len is not the end of the string. */
	CHECK_EQ_INT(ns_quantity_parse("1\0", 2, 3, &v), -EINVAL);
	CHECK_EQ_INT(ns_quantity_parse(NULL, 0, 3, &v), -EINVAL);
	char longq[80];
	memset(longq, '1', sizeof(longq));
	CHECK_EQ_INT(ns_quantity_parse(longq, sizeof(longq), 0, &v), -EINVAL);
}

static void test_range(void)
{
	int64_t v;

	CHECK_EQ_INT(q("8Ei", 0, &v), -ERANGE);
	CHECK_EQ_INT(q("9E", 3, &v), -ERANGE);
	CHECK_EQ_INT(q("1e19", 0, &v), -ERANGE);
	CHECK_EQ_INT(q("1e400", 0, &v), -ERANGE);
	CHECK_EQ_INT(q("99999999999999999999999", 0, &v), -ERANGE);
	CHECK_Q("9223372036854775807", 0, INT64_MAX);
	CHECK_EQ_INT(q("9223372036854775808", 0, &v), -ERANGE);
	CHECK_Q("1e-400", 0, 1);
}

/* The parser reads exactly len bytes: put the input against a guard page. */
static void test_guard_page(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *p =
	    mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int64_t v;
	static const char *const inputs[] = {"512Mi", "1e3", "1.", "1E", "7", "1e-", "100m"};

	CHECK(p != MAP_FAILED);
	CHECK(mprotect(p + pg, (size_t)pg, PROT_NONE) == 0);
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		size_t n = strlen(inputs[i]);
		memcpy(p + pg - n, inputs[i], n);
		(void)ns_quantity_parse(p + pg - n, n, 3, &v);
	}
	memcpy(p + pg - 5, "512Mi", 5);
	CHECK_EQ_INT(ns_quantity_parse(p + pg - 5, 5, 0, &v), 0);
	CHECK_EQ_INT(v, 512ll << 20);
	munmap(p, (size_t)pg * 2);
}

int main(void)
{
	RUN(test_cpu_millicores);
	RUN(test_memory_bytes);
	RUN(test_rejects);
	RUN(test_range);
	RUN(test_guard_page);
	return CHECK_SUMMARY();
}
