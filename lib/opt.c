// SPDX-License-Identifier: MIT
/* Flags + NODESCORE_* environment configuration and typed value parsers. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/opt.h"

static void env_name(const char *name, char *out, size_t cap)
{
	size_t j = 0;
	const char *pfx = "NODESCORE_";

	for (; *pfx && j + 1 < cap; pfx++)
		out[j++] = *pfx;
	for (; *name && j + 1 < cap; name++)
		out[j++] = *name == '-' ? '_' : (char)toupper((unsigned char)*name);
	out[j] = '\0';
}

int ns_opt_usage(const struct ns_opt *opts, size_t n, const char *prog, const char *summary,
		 FILE *out)
{
	char env[96];

	fprintf(out,
		"Usage: %s [OPTIONS]\n%s\n\nOptions (flag / environment variable, flags win):\n",
		prog, summary);
	for (size_t i = 0; i < n; i++) {
		env_name(opts[i].name, env, sizeof(env));
		fprintf(out, "  --%s%s\n      %s  [env %s", opts[i].name,
			opts[i].kind == NS_OPT_STRING ? "=VALUE" : "", opts[i].help, env);
		if (opts[i].def)
			fprintf(out, ", default %s", *opts[i].def ? opts[i].def : "\"\"");
		fprintf(out, "]\n");
	}
	fprintf(out, "  --help\n      Show this help and exit.\n");
	return ferror(out) ? -EIO : 0;
}

enum ns_opt_result ns_opt_parse_only(struct ns_opt *opts, size_t n, int argc, char **argv,
				     int *argi, char *err, size_t errlen)
{
	char env[96];
	int i;

	for (size_t k = 0; k < n; k++) {
		const char *e;

		env_name(opts[k].name, env, sizeof(env));
		e = getenv(env);
		opts[k].value = opts[k].def;
		opts[k].from = 0;
		if (e) {
			opts[k].value = e;
			opts[k].from = 1;
		}
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *eq;
		size_t nl, k;

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return NS_OPT_HELP;
		if (strncmp(a, "--", 2) != 0)
			break;
		a += 2;
		eq = strchr(a, '=');
		nl = eq ? (size_t)(eq - a) : strlen(a);
		for (k = 0; k < n; k++)
			if (strlen(opts[k].name) == nl && strncmp(opts[k].name, a, nl) == 0)
				break;
		if (k == n) {
			snprintf(err, errlen, "unknown option --%.*s (see --help)", (int)nl, a);
			return NS_OPT_ERROR;
		}
		if (opts[k].kind == NS_OPT_BOOL) {
			if (eq) {
				int b;
				if (ns_parse_bool(eq + 1, &b) < 0) {
					snprintf(err, errlen, "--%s expects true/false, got '%s'",
						 opts[k].name, eq + 1);
					return NS_OPT_ERROR;
				}
				opts[k].value = b ? "1" : "0";
			} else {
				opts[k].value = "1";
			}
		} else if (eq) {
			opts[k].value = eq + 1;
		} else if (i + 1 < argc) {
			opts[k].value = argv[++i];
		} else {
			snprintf(err, errlen, "option --%s needs a value", opts[k].name);
			return NS_OPT_ERROR;
		}
		opts[k].from = 2;
	}
	if (argi)
		*argi = i;
	else if (i < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", argv[i]);
		return NS_OPT_ERROR;
	}
	return NS_OPT_RUN;
}

const char *ns_opt_get(const struct ns_opt *opts, size_t n, const char *name)
{
	for (size_t k = 0; k < n; k++)
		if (strcmp(opts[k].name, name) == 0)
			return opts[k].value;
	return NULL;
}

int ns_opt_u32(const struct ns_opt *opts, size_t n, const char *name, uint32_t min, uint32_t max,
	       uint32_t *out, char *err, size_t errlen)
{
	const char *v = ns_opt_get(opts, n, name);
	uint64_t u;

	if (ns_parse_u64(v, min, max, &u) < 0) {
		snprintf(err, errlen, "bad value option=--%s value=%s range=%u..%u", name,
			 v ? v : "(unset)", min, max);
		return -EINVAL;
	}
	*out = (uint32_t)u;
	return 0;
}

int ns_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int ns_parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_scaled(const char *s, const char *const *sfx, const double *mul, size_t nsfx,
			double def_mul, uint64_t *out)
{
	char *end;
	double v, m = def_mul;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (*end) {
		size_t k;
		for (k = 0; k < nsfx; k++)
			if (strcmp(end, sfx[k]) == 0)
				break;
		if (k == nsfx)
			return -EINVAL;
		m = mul[k];
	}
	v *= m;
	if (v > 1.8e19)
		return -EINVAL;
	*out = (uint64_t)llround(v);
	return 0;
}

int ns_parse_duration_ms(const char *s, uint64_t *out)
{
	static const char *const sfx[] = {"ms", "s", "m", "h", "d"};
	static const double mul[] = {1, 1e3, 60e3, 3600e3, 86400e3};

	return parse_scaled(s, sfx, mul, 5, 1e3, out);
}

int ns_parse_size(const char *s, uint64_t *out)
{
	static const char *const sfx[] = {"K", "M", "G", "Ki", "Mi", "Gi", "KiB", "MiB", "GiB"};
	static const double mul[] = {1e3,	   1e6,	   1e9,	      1024.0,	   1048576.0,
				     1073741824.0, 1024.0, 1048576.0, 1073741824.0};

	return parse_scaled(s, sfx, mul, 9, 1, out);
}

int ns_parse_bool(const char *s, int *out)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
		*out = 0;
		return 0;
	}
	return -EINVAL;
}
