/* SPDX-License-Identifier: MIT */
/* Tiny test harness: CHECK* macros, RUN() per test, a summary line
 * "N passed, N failed" that tests/run.sh adds up. Header-only. */
#ifndef NODESCORE_CHECK_H
#define NODESCORE_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_passed, check_failed, check_skipped;
static int check_cur_failed, check_cur_skipped;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
			check_cur_failed = 1;                                                      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		if (check_a_ != check_b_) {                                                        \
			fprintf(stderr, "  %s:%d: CHECK failed: %s == %s (%lld != %lld)\n",        \
				__FILE__, __LINE__, #a, #b, check_a_, check_b_);                   \
			check_cur_failed = 1;                                                      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                   \
			fprintf(stderr,                                                            \
				"  %s:%d: CHECK failed: %s == %s\n    got:  %s\n    want: %s\n",   \
				__FILE__, __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",        \
				check_b_ ? check_b_ : "(null)");                                   \
			check_cur_failed = 1;                                                      \
			return;                                                                    \
		}                                                                                  \
	} while (0)

/* Marks the current test skipped with a reason (e.g. BPF not permitted). */
#define SKIP(...)                                                                                  \
	do {                                                                                       \
		fprintf(stderr, "  skip: ");                                                       \
		fprintf(stderr, __VA_ARGS__);                                                      \
		fprintf(stderr, "\n");                                                             \
		check_cur_skipped = 1;                                                             \
		return;                                                                            \
	} while (0)

#define RUN(fn)                                                                                    \
	do {                                                                                       \
		check_cur_failed = check_cur_skipped = 0;                                          \
		fn();                                                                              \
		if (check_cur_failed) {                                                            \
			check_failed++;                                                            \
			printf("FAIL %s\n", #fn);                                                  \
		} else if (check_cur_skipped) {                                                    \
			check_skipped++;                                                           \
			printf("SKIP %s\n", #fn);                                                  \
		} else {                                                                           \
			check_passed++;                                                            \
			printf("PASS %s\n", #fn);                                                  \
		}                                                                                  \
		fflush(stdout);                                                                    \
	} while (0)

#define CHECK_SUMMARY()                                                                            \
	(printf("%d passed, %d failed, %d skipped\n", check_passed, check_failed, check_skipped),  \
	 check_failed ? 1 : 0)

#endif
