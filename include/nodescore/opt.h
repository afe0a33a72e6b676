/* SPDX-License-Identifier: MIT */
/* Command-line and environment configuration: every option is a long flag
 * --name and an environment variable NODESCORE_NAME (dashes become
 * underscores, upper case). Flags win over the environment, which wins over
 * the default. Typed parsers turn the strings into checked values. */
#ifndef NODESCORE_OPT_H
#define NODESCORE_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum ns_opt_kind {
	NS_OPT_STRING, /* takes a value */
	NS_OPT_BOOL,   /* a switch: value becomes "1" when given */
};

struct ns_opt {
	const char *name; /* long flag without dashes, e.g. "listen-http" */
	enum ns_opt_kind kind;
	const char *def; /* default value, NULL for none */
	const char *help;
	const char *value; /* out: flag, env or default (points into argv/environ/def) */
	int from;	   /* out: 0 default, 1 environment, 2 flag */
};

enum ns_opt_result {
	NS_OPT_RUN = 0, /* proceed */
	NS_OPT_HELP,	/* --help was given: print ns_opt_usage to stdout, exit 0 */
	NS_OPT_ERROR,	/* bad flag or value: err filled, exit 2 */
};

/* Parses argv against opts; prints nothing. --help/-h returns NS_OPT_HELP
 * (the caller prints ns_opt_usage). Positional arguments are returned
 * through *argi (index of the first one); with argi NULL they are an error. */
enum ns_opt_result ns_opt_parse_only(struct ns_opt *opts, size_t n, int argc, char **argv,
				     int *argi, char *err, size_t errlen);

/* Writes the usage text (prog, summary, each flag with its env name and
 * default) to out. Returns 0, or -EIO when out reports an error. */
int ns_opt_usage(const struct ns_opt *opts, size_t n, const char *prog, const char *summary,
		 FILE *out);

/* Mains use both through ns_main_opts (nodescore/mainopt.h). */

/* Value of an option by name (NULL when unset or unknown). */
const char *ns_opt_get(const struct ns_opt *opts, size_t n, const char *name);

/* The value of option name as an integer in min..max. Returns 0, or -EINVAL
 * with "bad value option=--name value=... range=min..max" in err. */
int ns_opt_u32(const struct ns_opt *opts, size_t n, const char *name, uint32_t min, uint32_t max,
	       uint32_t *out, char *err, size_t errlen);

/* Typed parsers: 0 on success, -EINVAL with a reason in err otherwise.
 * Durations accept ms, s, m, h, d suffixes ("2s", "500ms", "30d"); a bare
 * number is seconds. Sizes accept K, M, G, Ki, Mi, Gi suffixes. */
int ns_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int ns_parse_double(const char *s, double min, double max, double *out);
int ns_parse_duration_ms(const char *s, uint64_t *out);
int ns_parse_size(const char *s, uint64_t *out);
int ns_parse_bool(const char *s, int *out);

#endif
