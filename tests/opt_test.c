// SPDX-License-Identifier: MIT
/* Options (flags + NODESCORE_* environment) and typed value parsers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "check.h"

static struct ns_opt opts_template[] = {
    {"listen-http", NS_OPT_STRING, "0.0.0.0:8888", "HTTP address", NULL, 0},
    {"ttl", NS_OPT_STRING, NULL, "node TTL", NULL, 0},
    {"no-bpf", NS_OPT_BOOL, "0", "disable BPF", NULL, 0},
};

#define NOPTS (sizeof(opts_template) / sizeof(opts_template[0]))

static enum ns_opt_result parse(struct ns_opt *o, int argc, char **argv, char *err)
{
	for (size_t i = 0; i < NOPTS; i++)
		o[i] = opts_template[i];
	return ns_opt_parse_only(o, NOPTS, argc, argv, NULL, err, 128);
}

static void test_defaults_env_flags(void)
{
	struct ns_opt o[NOPTS];
	char err[128];
	char *argv1[] = {"t", NULL};
	char *argv2[] = {"t", "--listen-http", "127.0.0.1:1", "--no-bpf", NULL};
	char *argv3[] = {"t", "--listen-http=[::1]:2", "--no-bpf=false", NULL};

	unsetenv("NODESCORE_LISTEN_HTTP");
	CHECK_EQ_INT(parse(o, 1, argv1, err), NS_OPT_RUN);
	CHECK_EQ_STR(ns_opt_get(o, NOPTS, "listen-http"), "0.0.0.0:8888");
	CHECK(ns_opt_get(o, NOPTS, "ttl") == NULL);
	CHECK(ns_opt_get(o, NOPTS, "nope") == NULL);
	setenv("NODESCORE_LISTEN_HTTP", "10.0.0.1:3", 1);
	setenv("NODESCORE_TTL", "9s", 1);
	CHECK_EQ_INT(parse(o, 1, argv1, err), NS_OPT_RUN);
	CHECK_EQ_STR(ns_opt_get(o, NOPTS, "listen-http"), "10.0.0.1:3");
	CHECK_EQ_INT(o[0].from, 1);
	CHECK_EQ_STR(ns_opt_get(o, NOPTS, "ttl"), "9s");
	/* flags win over the environment */
	CHECK_EQ_INT(parse(o, 4, argv2, err), NS_OPT_RUN);
	CHECK_EQ_STR(ns_opt_get(o, NOPTS, "listen-http"), "127.0.0.1:1");
	CHECK_EQ_INT(o[0].from, 2);
	CHECK_EQ_STR(ns_opt_get(o, NOPTS, "no-bpf"), "1");
	CHECK_EQ_INT(parse(o, 3, argv3, err), NS_OPT_RUN);
	CHECK_EQ_STR(ns_opt_get(o, NOPTS, "listen-http"), "[::1]:2");
	CHECK_EQ_STR(ns_opt_get(o, NOPTS, "no-bpf"), "0");
	unsetenv("NODESCORE_LISTEN_HTTP");
	unsetenv("NODESCORE_TTL");
}

static void test_errors(void)
{
	struct ns_opt o[NOPTS];
	char err[128];
	char *a1[] = {"t", "--bogus", NULL};
	char *a2[] = {"t", "--ttl", NULL};
	char *a3[] = {"t", "--no-bpf=maybe", NULL};
	char *a4[] = {"t", "stray", NULL};

	CHECK_EQ_INT(parse(o, 2, a1, err), NS_OPT_ERROR);
	CHECK(strstr(err, "unknown option --bogus"));
	CHECK_EQ_INT(parse(o, 2, a2, err), NS_OPT_ERROR);
	CHECK(strstr(err, "needs a value"));
	CHECK_EQ_INT(parse(o, 2, a3, err), NS_OPT_ERROR);
	CHECK_EQ_INT(parse(o, 2, a4, err), NS_OPT_ERROR);
	CHECK(strstr(err, "unexpected argument"));
}

static void test_u32_option(void)
{
	struct ns_opt o[NOPTS];
	char err[128];
	char *a[] = {"t", "--ttl", "70000", NULL};
	uint32_t v = 7;

	CHECK_EQ_INT(parse(o, 3, a, err), NS_OPT_RUN);
	CHECK_EQ_INT(ns_opt_u32(o, NOPTS, "ttl", 1, 65535, &v, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "bad value option=--ttl value=70000 range=1..65535");
	CHECK_EQ_INT(v, 7);
	CHECK_EQ_INT(ns_opt_u32(o, NOPTS, "ttl", 1, 70000, &v, err, sizeof(err)), 0);
	CHECK_EQ_INT(v, 70000);
	CHECK_EQ_INT(ns_opt_u32(o, NOPTS, "listen-http", 1, 9, &v, err, sizeof(err)), -EINVAL);
}

/* A main's --help (ns_main_opts): usage on stdout, exit status 0. */
static void test_help(void)
{
	struct ns_opt o[NOPTS];
	char *a[] = {"t", "--help", NULL};
	FILE *saved = stdout;
	char buf[4096] = {0};

	for (size_t i = 0; i < NOPTS; i++)
		o[i] = opts_template[i];
	stdout = fmemopen(buf, sizeof(buf) - 1, "w");
	CHECK(stdout);
	int r = ns_main_opts(o, NOPTS, "t", "test", 2, a, NULL, "test");
	fclose(stdout);
	stdout = saved;
	CHECK_EQ_INT(r, 0);
	CHECK(strstr(buf, "--listen-http=VALUE"));
	CHECK(strstr(buf, "NODESCORE_LISTEN_HTTP"));
	CHECK(strstr(buf, "default 0.0.0.0:8888"));
	CHECK(strstr(buf, "NODESCORE_NO_BPF"));
}

/* The library parses and formats; printing is the caller's. */
static void test_help_printed_by_caller(void)
{
	struct ns_opt o[NOPTS];
	char err[128], buf[4096] = {0}, quiet[64] = {0};
	char *a[] = {"t", "--help", NULL};
	FILE *saved = stdout, *f;

	for (size_t i = 0; i < NOPTS; i++)
		o[i] = opts_template[i];
	stdout = fmemopen(quiet, sizeof(quiet) - 1, "w");
	CHECK(stdout);
	enum ns_opt_result r = ns_opt_parse_only(o, NOPTS, 2, a, NULL, err, sizeof(err));
	fclose(stdout);
	stdout = saved;
	CHECK_EQ_INT(r, NS_OPT_HELP);
	CHECK_EQ_STR(quiet, "");
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	CHECK(f);
	CHECK_EQ_INT(ns_opt_usage(o, NOPTS, "t", "test", f), 0);
	fclose(f);
	CHECK(strncmp(buf, "Usage: t [OPTIONS]\ntest\n", 23) == 0);
	CHECK(strstr(buf, "--listen-http=VALUE"));
	CHECK(strstr(buf, "default 0.0.0.0:8888"));
}

static void test_parsers(void)
{
	uint64_t u;
	double d;
	int b;

	CHECK_EQ_INT(ns_parse_duration_ms("2s", &u), 0);
	CHECK_EQ_INT(u, 2000);
	CHECK_EQ_INT(ns_parse_duration_ms("500ms", &u), 0);
	CHECK_EQ_INT(u, 500);
	CHECK_EQ_INT(ns_parse_duration_ms("1.5m", &u), 0);
	CHECK_EQ_INT(u, 90000);
	CHECK_EQ_INT(ns_parse_duration_ms("30d", &u), 0);
	CHECK_EQ_INT(u, 30ull * 86400000ull);
	CHECK_EQ_INT(ns_parse_duration_ms("7", &u), 0);
	CHECK_EQ_INT(u, 7000);
	CHECK_EQ_INT(ns_parse_duration_ms("-1s", &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_duration_ms("1x", &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_duration_ms("", &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_duration_ms("nan", &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_size("64Mi", &u), 0);
	CHECK_EQ_INT(u, 64ull << 20);
	CHECK_EQ_INT(ns_parse_size("1G", &u), 0);
	CHECK_EQ_INT(u, 1000000000ull);
	CHECK_EQ_INT(ns_parse_size("1e30", &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_u64("10000", 1, 100000, &u), 0);
	CHECK_EQ_INT(u, 10000);
	CHECK_EQ_INT(ns_parse_u64("0", 1, 10, &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_u64("-3", 0, 10, &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_u64("3 ", 0, 10, &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_u64("99999999999999999999999", 0, UINT64_MAX, &u), -EINVAL);
	CHECK_EQ_INT(ns_parse_double("0.25", 0, 1, &d), 0);
	CHECK(d == 0.25);
	CHECK_EQ_INT(ns_parse_double("1.5", 0, 1, &d), -EINVAL);
	CHECK_EQ_INT(ns_parse_double("inf", 0, 1e9, &d), -EINVAL);
	CHECK_EQ_INT(ns_parse_bool("yes", &b), 0);
	CHECK_EQ_INT(b, 1);
	CHECK_EQ_INT(ns_parse_bool("off", &b), 0);
	CHECK_EQ_INT(b, 0);
	CHECK_EQ_INT(ns_parse_bool("2", &b), -EINVAL);
}

static void test_log_format(void)
{
	int p[2], saved;
	char buf[512] = {0};
	ssize_t n;

	CHECK(pipe(p) == 0);
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	CHECK_EQ_INT(ns_log_set_level("warning"), 0);
	log_info("comp", "hidden key=%d", 1);
	log_warning("comp", "shown key=%d", 2);
	errno = ENOENT;
	log_error_errno("comp", "open failed path=%s", "/x");
	CHECK_EQ_INT(ns_log_set_level("verbose"), -EINVAL);
	CHECK_EQ_INT(ns_log_set_level("info"), 0);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	CHECK(n > 0);
	CHECK_EQ_STR(buf, "WARNING comp: shown key=2\n"
			  "ERROR comp: open failed path=/x error=\"No such file or directory\"\n");
}

int main(void)
{
	RUN(test_defaults_env_flags);
	RUN(test_errors);
	RUN(test_u32_option);
	RUN(test_help);
	RUN(test_help_printed_by_caller);
	RUN(test_parsers);
	RUN(test_log_format);
	return CHECK_SUMMARY();
}
