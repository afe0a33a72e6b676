// SPDX-License-Identifier: MIT
/* Trace loading (lib/series.c): a directory of traces that also holds an
 * index CSV is read with the index skipped and counted; the same file
 * given alone, or a directory with a forced format, is still an error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "nodescore/series.h"

static char dir[] = "/tmp/ns-series-XXXXXX";

static int put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void test_dir_skips_unknown_files(void)
{
	struct ns_series_set set = {.step_ms = 300000};
	char err[512] = "", path[256];

	CHECK_EQ_INT(ns_series_load(dir, NS_SERIES_FMT_AUTO, &set, NULL, err, sizeof(err)), 0);
	CHECK_EQ_INT(set.n, 1);
	CHECK(!strcmp(set.s[0].id, "cpu"));
	CHECK_EQ_INT(set.skipped_files, 1);
	snprintf(path, sizeof(path), "%s/index.csv", dir);
	CHECK(!strcmp(set.skipped_first, path));
	ns_series_free(&set);
}

static void test_unknown_file_alone_is_an_error(void)
{
	struct ns_series_set set = {.step_ms = 300000};
	char err[512] = "", path[256];

	snprintf(path, sizeof(path), "%s/index.csv", dir);
	CHECK_EQ_INT(ns_series_load(path, NS_SERIES_FMT_AUTO, &set, NULL, err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "index.csv:1: unknown format") != NULL);
	ns_series_free(&set);
}

static void test_forced_format_still_strict(void)
{
	struct ns_series_set set = {.step_ms = 300000};
	char err[512] = "";

	CHECK_EQ_INT(ns_series_load(dir, NS_SERIES_FMT_NAB, &set, NULL, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "index.csv:1: header must be timestamp,value") != NULL);
	ns_series_free(&set);
}

int main(void)
{
	if (!mkdtemp(dir) ||
	    put("cpu.csv", "timestamp,value\n2014-04-01 00:00:00,12.5\n2014-04-01 00:05:00,20\n") ||
	    put("index.csv", "file,label\ncpu.csv,normal\n") || put("README.txt", "notes\n")) {
		perror("setup");
		return 1;
	}
	RUN(test_dir_skips_unknown_files);
	RUN(test_unknown_file_alone_is_an_error);
	RUN(test_forced_format_still_strict);
	{
		char p[256];
		const char *names[] = {"cpu.csv", "index.csv", "README.txt"};
		for (int i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
			unlink(p);
		}
	}
	rmdir(dir);
	return CHECK_SUMMARY();
}
