// SPDX-License-Identifier: MIT
/* Tests for lib/fileio.c: atomic replace, bounded whole-file read, parent fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "nodescore/fileio.h"

/* 0 when path holds exactly the n bytes at p. */
static int same(const char *path, const void *p, size_t n)
{
	char err[256];
	uint8_t *b;
	size_t len;
	int rc = ns_file_read_all(path, 1u << 30, &b, &len, err, sizeof(err));

	if (rc)
		return rc;
	rc = len == n && memcmp(b, p, n) == 0 ? 0 : -1;
	free(b);
	return rc;
}

static void test_round_trip_and_replace(void)
{
	static const char first[] = "binary\0bytes\n", second[] = "short";
	const char *path = fx_at("rt/data.bin");
	char err[256] = "stale";
	uint8_t *b = NULL, *big;
	size_t len = 0, n = 8u << 20;

	CHECK_EQ_INT(mkdir(fx_at("rt"), 0755), 0);
	CHECK_EQ_INT(ns_file_write_atomic(path, first, sizeof(first), 0644, err, sizeof(err)), 0);
	CHECK_EQ_STR(err, "");
	CHECK_EQ_INT(ns_file_read_all(path, 1024, &b, &len, err, sizeof(err)), 0);
	CHECK_EQ_INT(len, sizeof(first));
	CHECK(memcmp(b, first, len) == 0);
	CHECK_EQ_INT(b[len], 0);
	free(b);
	/* Replacing a longer file with a shorter one leaves no tail and no temp file. */
	CHECK_EQ_INT(ns_file_write_atomic(path, second, strlen(second), 0644, err, sizeof(err)), 0);
	CHECK_EQ_INT(same(path, second, strlen(second)), 0);
	CHECK_EQ_INT(fx_count_entries(fx_at("rt")), 1);
	/* Empty content, NULL buffer: an empty file. */
	CHECK_EQ_INT(ns_file_write_atomic(path, NULL, 0, 0644, err, sizeof(err)), 0);
	CHECK_EQ_INT(same(path, "", 0), 0);
	/* 8 MiB of varied bytes survive the round trip. */
	big = malloc(n);
	CHECK(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 2654435761u >> 24);
	if (ns_file_write_atomic(path, big, n, 0644, err, sizeof(err)) != 0 ||
	    same(path, big, n) != 0) {
		free(big);
		CHECK(0);
	}
	free(big);
	CHECK_EQ_INT(fx_count_entries(fx_at("rt")), 1);
	/* A bare name goes to the working directory. */
	CHECK_EQ_INT(chdir(fx_at("rt")), 0);
	CHECK_EQ_INT(ns_file_write_atomic("bare", "x", 1, 0644, NULL, 0), 0);
	CHECK_EQ_INT(chdir("/"), 0);
	CHECK_EQ_INT(same(fx_at("rt/bare"), "x", 1), 0);
}

static void test_mode_applied_whatever_the_umask(void)
{
	const char *path = fx_at("mode");
	char err[256];
	struct stat sb;
	mode_t old = umask(077);

	CHECK_EQ_INT(ns_file_write_atomic(path, "a", 1, 0644, err, sizeof(err)), 0);
	umask(old);
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0644);
	umask(022);
	CHECK_EQ_INT(ns_file_write_atomic(path, "b", 1, 0600, err, sizeof(err)), 0);
	umask(old);
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0600);
	CHECK_EQ_INT(ns_file_write_atomic(path, "c", 1, 0640, err, sizeof(err)), 0);
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0640);
	CHECK_EQ_INT(same(path, "c", 1), 0);
}

/* Root ignores directory permissions, so the failures are forced by paths
 * that cannot work for anyone. */
static void test_failed_write_leaves_target_and_no_temp(void)
{
	char err[256], longp[5000];
	struct stat sb;

	CHECK_EQ_INT(mkdir(fx_at("fail"), 0755), 0);

	/* Parent directory missing: nothing is created. */
	CHECK_EQ_INT(ns_file_write_atomic(fx_at("fail/none/x"), "new", 3, 0644, err, sizeof(err)),
		     -ENOENT);
	CHECK(strstr(err, "fail/none/x: "));
	CHECK(strstr(err, "temp file"));
	CHECK_EQ_INT(fx_count_entries(fx_at("fail")), 0);

	/* A "directory" that is a regular file: it keeps its content. */
	fx_write_bytes("fail/file", "old", 3);
	CHECK_EQ_INT(ns_file_write_atomic(fx_at("fail/file/x"), "new", 3, 0644, err, sizeof(err)),
		     -ENOTDIR);
	CHECK(strstr(err, "fail/file/x: "));
	CHECK_EQ_INT(same(fx_at("fail/file"), "old", 3), 0);
	CHECK_EQ_INT(fx_count_entries(fx_at("fail")), 1);

	/* The rename itself fails (target is a non-empty directory): the temp
	 * file was written, and must be gone again. */
	CHECK_EQ_INT(mkdir(fx_at("fail/target"), 0755), 0);
	fx_write_bytes("fail/target/keep", "kept", 4);
	CHECK(ns_file_write_atomic(fx_at("fail/target"), "new", 3, 0644, err, sizeof(err)) < 0);
	CHECK(strstr(err, "cannot rename"));
	CHECK_EQ_INT(stat(fx_at("fail/target"), &sb), 0);
	CHECK(S_ISDIR(sb.st_mode));
	CHECK_EQ_INT(same(fx_at("fail/target/keep"), "kept", 4), 0);
	CHECK_EQ_INT(fx_count_entries(fx_at("fail")), 2);

	/* No room for the temp name: refused before touching anything. */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	CHECK_EQ_INT(ns_file_write_atomic(longp, "x", 1, 0644, err, sizeof(err)), -ENAMETOOLONG);
	CHECK(strstr(err, "path too long"));
	/* A NULL err is allowed. */
	CHECK_EQ_INT(ns_file_write_atomic(fx_at("fail/none/x"), "x", 1, 0644, NULL, 0), -ENOENT);
	CHECK_EQ_INT(fx_count_entries(fx_at("fail")), 2);
}

static void test_read_all_refusals(void)
{
	static uint8_t sentinel[1];
	char err[256];
	uint8_t *b = sentinel;
	size_t len = 99;

	CHECK_EQ_INT(mkdir(fx_at("rd"), 0755), 0);

	CHECK_EQ_INT(ns_file_read_all(fx_at("rd/missing"), 16, &b, &len, err, sizeof(err)),
		     -ENOENT);
	CHECK(b == NULL && len == 0);
	CHECK(strstr(err, "rd/missing: cannot open"));

	CHECK_EQ_INT(ns_file_read_all(fx_at("rd"), 16, &b, &len, err, sizeof(err)), -EINVAL);
	CHECK(b == NULL);
	CHECK(strstr(err, "rd: not a regular file"));

	/* A FIFO with no writer is refused, not waited on. */
	CHECK_EQ_INT(mkfifo(fx_at("rd/fifo"), 0600), 0);
	alarm(10);
	CHECK_EQ_INT(ns_file_read_all(fx_at("rd/fifo"), 16, &b, &len, err, sizeof(err)), -EINVAL);
	alarm(0);
	CHECK(strstr(err, "not a regular file"));

	/* max is inclusive. */
	fx_write_bytes("rd/17", "0123456789abcdefg", 17);
	CHECK_EQ_INT(ns_file_read_all(fx_at("rd/17"), 16, &b, &len, err, sizeof(err)), -EFBIG);
	CHECK(b == NULL && len == 0);
	CHECK(strstr(err, "rd/17: file too large (17 bytes, max 16)"));
	CHECK_EQ_INT(ns_file_read_all(fx_at("rd/17"), 17, &b, &len, err, sizeof(err)), 0);
	CHECK_EQ_INT(len, 17);
	free(b);

	/* A sparse 4 GiB file is refused from its size, nothing read. */
	CHECK_EQ_INT(truncate(fx_at("rd/17"), (off_t)4 << 30), 0);
	CHECK_EQ_INT(ns_file_read_all(fx_at("rd/17"), 1u << 20, &b, &len, NULL, 0), -EFBIG);

	/* A file that grows past its fstat size (every /proc file claims 0 bytes). */
	CHECK_EQ_INT(ns_file_read_all("/proc/self/status", 1u << 20, &b, &len, err, sizeof(err)),
		     -EAGAIN);
	CHECK(b == NULL);
	CHECK(strstr(err, "changed while reading"));
}

static void test_read_all_empty_file(void)
{
	char err[256];
	uint8_t *b = NULL;
	size_t len = 99;

	fx_write_bytes("empty", "", 0);
	CHECK_EQ_INT(ns_file_read_all(fx_at("empty"), 0, &b, &len, err, sizeof(err)), 0);
	CHECK_EQ_INT(len, 0);
	CHECK(b != NULL);
	CHECK_EQ_INT(b[0], 0);
	free(b);
}

static void test_sync_dir_and_parent(void)
{
	CHECK_EQ_INT(ns_file_sync_parent(fx_at("anything")), 0);
	CHECK_EQ_INT(ns_file_sync_parent("/etc"), 0);
	CHECK_EQ_INT(ns_file_sync_parent("relative-name"), 0);
	CHECK_EQ_INT(ns_file_sync_parent(fx_at("no/such/dir/x")), -ENOENT);
	CHECK_EQ_INT(ns_file_sync_dir(fx_root), 0);
	fx_write_bytes("plain", "x", 1);
	CHECK_EQ_INT(ns_file_sync_dir(fx_at("plain")), -ENOTDIR);
}

int main(void)
{
	int rc;

	fx_new();
	RUN(test_round_trip_and_replace);
	RUN(test_mode_applied_whatever_the_umask);
	RUN(test_failed_write_leaves_target_and_no_temp);
	RUN(test_read_all_refusals);
	RUN(test_read_all_empty_file);
	RUN(test_sync_dir_and_parent);
	rc = CHECK_SUMMARY();
	fx_free();
	return rc;
}
