// SPDX-License-Identifier: MIT
/* Trace readers (agent export, Bitbrains, Alibaba machine_usage, NAB) into
 * series on a fixed time grid; strict and bounded, errors name the file and
 * line. Used by nodescore-train and nodescore-sim. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <zlib.h>

#include "nodescore/sample.h"
#include "nodescore/series.h"

const uint8_t ns_series_res_metric[NS_SERIES_NRES] = {NS_M_CPU_UTIL, NS_M_MEM_UTIL};

static const char *const fmt_names[] = {
    [NS_SERIES_FMT_AUTO] = "auto",
    [NS_SERIES_FMT_AGENT] = "agent",
    [NS_SERIES_FMT_BITBRAINS] = "bitbrains",
    [NS_SERIES_FMT_ALIBABA] = "alibaba",
    [NS_SERIES_FMT_NAB] = "nab",
};

int ns_series_parse_format(const char *s, enum ns_series_fmt *out)
{
	for (size_t i = 0; i < sizeof(fmt_names) / sizeof(*fmt_names); i++)
		if (strcmp(s, fmt_names[i]) == 0) {
			*out = (enum ns_series_fmt)i;
			return 0;
		}
	return -EINVAL;
}

const char *ns_series_format_name(enum ns_series_fmt f)
{
	return fmt_names[f];
}

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

struct reader {
	gzFile gz;
	const char *path;
	unsigned long line;
	char buf[NS_SERIES_MAX_LINE];
	uint64_t bytes;
};

/* Next line without its newline: 1 on a line, 0 at EOF, -1 on error. */
static int next_line(struct reader *r, char *err, size_t errlen)
{
	size_t l;

	if (!gzgets(r->gz, r->buf, sizeof(r->buf))) {
		int e;
		const char *m = gzerror(r->gz, &e);

		if (e != Z_OK && e != Z_STREAM_END) {
			ERR("%s:%lu: read error: %s", r->path, r->line + 1, m);
			return -1;
		}
		return 0;
	}
	r->line++;
	l = strlen(r->buf);
	r->bytes += l;
	if (r->bytes > NS_SERIES_MAX_FILE_BYTES) {
		ERR("%s: larger than %llu bytes", r->path,
		    (unsigned long long)NS_SERIES_MAX_FILE_BYTES);
		return -1;
	}
	if (l == sizeof(r->buf) - 1 && r->buf[l - 1] != '\n') {
		ERR("%s:%lu: line longer than %d bytes", r->path, r->line, NS_SERIES_MAX_LINE - 1);
		return -1;
	}
	while (l > 0 && (r->buf[l - 1] == '\n' || r->buf[l - 1] == '\r'))
		r->buf[--l] = '\0';
	return 1;
}

/* Splits s in place on sep into at most max fields, trimming blanks. */
static size_t split(char *s, char sep, char **f, size_t max)
{
	size_t n = 0;

	for (;;) {
		char *e = strchr(s, sep), *end;

		if (e)
			*e = '\0';
		while (*s == ' ' || *s == '\t')
			s++;
		end = s + strlen(s);
		while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (n < max)
			f[n] = s;
		n++;
		if (!e)
			break;
		s = e + 1;
	}
	return n;
}

/* Strict number: the whole field, finite. Empty = NaN when allow_empty. */
static int num(const char *s, int allow_empty, double *out)
{
	char *end;

	if (*s == '\0') {
		*out = NAN;
		return allow_empty ? 0 : -1;
	}
	errno = 0;
	*out = strtod(s, &end);
	return (end == s || *end || errno == ERANGE || !isfinite(*out)) ? -1 : 0;
}

static struct ns_series *series_get(struct ns_series_set *set, const char *id, char *err,
				    size_t errlen)
{
	struct ns_series *s;

	/* Rows of one series come together in every supported format. */
	if (set->n && strcmp(set->s[set->n - 1].id, id) == 0)
		return &set->s[set->n - 1];
	for (size_t i = 0; i < set->n; i++)
		if (strcmp(set->s[i].id, id) == 0)
			return &set->s[i];
	if (set->n >= NS_SERIES_MAX_SERIES) {
		ERR("more than %u series", NS_SERIES_MAX_SERIES);
		return NULL;
	}
	if (set->n == set->cap) {
		size_t nc = set->cap ? set->cap * 2 : 64;
		struct ns_series *ns = realloc(set->s, nc * sizeof(*ns));

		if (!ns) {
			ERR("out of memory");
			return NULL;
		}
		set->s = ns;
		set->cap = nc;
	}
	s = &set->s[set->n++];
	memset(s, 0, sizeof(*s));
	snprintf(s->id, sizeof(s->id), "%s", id);
	return s;
}

/* Adds one observation at unix ms t to s (mean per grid cell). */
static int series_add(struct ns_series_set *set, struct ns_series *s, uint64_t t, const double *v,
		      struct reader *r, char *err, size_t errlen)
{
	uint64_t cell;

	if (s->n == 0)
		s->t0_ms = t - t % set->step_ms;
	if (t < s->t0_ms) {
		ERR("%s:%lu: timestamp goes back before the series start", r->path, r->line);
		return -EINVAL;
	}
	cell = (t - s->t0_ms) / set->step_ms;
	if (cell >= NS_SERIES_MAX_CELLS) {
		ERR("%s:%lu: series spans more than %u steps", r->path, r->line,
		    NS_SERIES_MAX_CELLS);
		return -EINVAL;
	}
	if (cell >= s->n) {
		size_t nn = (size_t)cell + 1;

		if (nn > s->cap) {
			size_t cap = s->cap ? s->cap : 1024;
			uint32_t *nc;

			while (cap < nn)
				cap *= 2;
			nc = realloc(s->cnt, cap * sizeof(*nc));
			if (!nc) {
				ERR("out of memory");
				return -ENOMEM;
			}
			s->cnt = nc;
			for (int k = 0; k < NS_SERIES_NRES; k++) {
				float *nv = realloc(s->v[k], cap * sizeof(float));

				if (!nv) {
					ERR("out of memory");
					return -ENOMEM;
				}
				s->v[k] = nv;
			}
			s->cap = cap;
		}
		for (size_t i = s->n; i < nn; i++) {
			s->cnt[i] = 0;
			for (int k = 0; k < NS_SERIES_NRES; k++)
				s->v[k][i] = NAN;
		}
		s->n = nn;
	}
	/* Running mean per cell; a NaN observation leaves the cell alone. */
	s->cnt[cell]++;
	for (int k = 0; k < NS_SERIES_NRES; k++) {
		float *c = &s->v[k][cell];

		if (isnan(v[k]))
			continue;
		if (isnan(*c))
			*c = (float)v[k];
		else
			*c += (float)((v[k] - *c) / s->cnt[cell]);
	}
	set->rows_read++;
	return 0;
}

static int check_util(double x, double max_pct, struct reader *r, const char *what, char *err,
		      size_t errlen)
{
	if (isnan(x) || (x >= 0 && x <= max_pct))
		return 0;
	ERR("%s:%lu: %s %g out of range [0, %g]", r->path, r->line, what, x, max_pct);
	return -EINVAL;
}

static int read_agent(struct reader *r, struct ns_series_set *set, const char *id, char *err,
		      size_t errlen)
{
	char *f[NS_METRIC_COUNT + 2];
	int col[NS_SERIES_NRES] = {-1, -1}, rc;
	size_t nf;
	struct ns_series *s;

	if ((rc = next_line(r, err, errlen)) <= 0) {
		if (rc == 0)
			ERR("%s: empty file", r->path);
		return -EINVAL;
	}
	nf = split(r->buf, ',', f, NS_METRIC_COUNT + 2);
	if (nf < 2 || nf > NS_METRIC_COUNT + 1 || strcmp(f[0], "timestamp_ms") != 0) {
		ERR("%s:1: header must be timestamp_ms,<metric names>", r->path);
		return -EINVAL;
	}
	for (size_t i = 1; i < nf; i++) {
		int m = ns_metric_index(f[i]);

		if (m < 0) {
			ERR("%s:1: unknown metric column '%s'", r->path, f[i]);
			return -EINVAL;
		}
		for (int k = 0; k < NS_SERIES_NRES; k++)
			if (m == ns_series_res_metric[k])
				col[k] = (int)i;
	}
	if (col[0] < 0 && col[1] < 0) {
		ERR("%s:1: neither cpu_util nor mem_util present", r->path);
		return -EINVAL;
	}
	s = series_get(set, id, err, errlen);
	if (!s)
		return -EINVAL;
	while ((rc = next_line(r, err, errlen)) > 0) {
		double t, v[NS_SERIES_NRES];
		size_t n = split(r->buf, ',', f, NS_METRIC_COUNT + 2);

		if (n != nf || num(f[0], 0, &t) || t < 0 || t > 1e15) {
			ERR("%s:%lu: expected %zu fields and a timestamp_ms", r->path, r->line, nf);
			return -EINVAL;
		}
		for (int k = 0; k < NS_SERIES_NRES; k++) {
			v[k] = NAN;
			if (col[k] >= 0 && num(f[col[k]], 1, &v[k])) {
				ERR("%s:%lu: bad number '%s'", r->path, r->line, f[col[k]]);
				return -EINVAL;
			}
			if (check_util(v[k], 1.5, r, "utilisation", err, errlen))
				return -EINVAL;
		}
		if (series_add(set, s, (uint64_t)t, v, r, err, errlen))
			return -EINVAL;
	}
	return rc < 0 ? -EINVAL : 0;
}

/*
 * Timestamp [ms];	CPU cores;	CPU capacity provisioned [MHZ];	CPU usage [MHZ];	CPU
 * usage [%];	Memory capacity provisioned [KB];	Memory usage [KB];	... 1372629804; 2;
 * 5851.9989;	87.7799835;	1.5;	8218624.0;	1034592.8;	160.86;	21.73;	0.26;	1.46
 * (the "ms" timestamp is in seconds)
 */
static int read_bitbrains(struct reader *r, struct ns_series_set *set, const char *id, char *err,
			  size_t errlen)
{
	char *f[12];
	struct ns_series *s;
	int rc;

	if ((rc = next_line(r, err, errlen)) <= 0 || strncmp(r->buf, "Timestamp", 9) != 0) {
		if (rc >= 0)
			ERR("%s:1: not a Bitbrains header", r->path);
		return -EINVAL;
	}
	s = series_get(set, id, err, errlen);
	if (!s)
		return -EINVAL;
	while ((rc = next_line(r, err, errlen)) > 0) {
		double t, cpu, cap, use, v[NS_SERIES_NRES];

		if (split(r->buf, ';', f, 12) != 11 || num(f[0], 0, &t) || num(f[4], 0, &cpu) ||
		    num(f[5], 0, &cap) || num(f[6], 0, &use) || t < 0 || t > 1e11) {
			ERR("%s:%lu: expected 11 ';'-separated numbers", r->path, r->line);
			return -EINVAL;
		}
		if (check_util(cpu, 1000, r, "CPU usage [%]", err, errlen))
			return -EINVAL;
		if (cap < 0 || use < 0) {
			ERR("%s:%lu: negative memory", r->path, r->line);
			return -EINVAL;
		}
		v[0] = cpu / 100.0;
		v[1] = cap > 0 ? fmin(use / cap, 1.5) : NAN;
		if (series_add(set, s, (uint64_t)t * 1000u, v, r, err, errlen))
			return -EINVAL;
	}
	return rc < 0 ? -EINVAL : 0;
}

/* m_1932,386640,41,92,,,43.04,33.08,5
 * machine_id,time_stamp(s),cpu_util_percent,mem_util_percent,mem_gps,mkpi,net_in,net_out,disk_io */
static int read_alibaba(struct reader *r, struct ns_series_set *set, char *err, size_t errlen)
{
	char *f[10];
	int rc;

	while ((rc = next_line(r, err, errlen)) > 0) {
		double t, v[NS_SERIES_NRES];
		struct ns_series *s;

		if (split(r->buf, ',', f, 10) != 9 || f[0][0] == '\0' || strlen(f[0]) >= 64 ||
		    num(f[1], 0, &t) || t < 0 || t > 1e10 || num(f[2], 1, &v[0]) ||
		    num(f[3], 1, &v[1])) {
			ERR("%s:%lu: expected machine_id,time_stamp,cpu,mem,... (9 fields)",
			    r->path, r->line);
			return -EINVAL;
		}
		if (check_util(v[0], 100, r, "cpu_util_percent", err, errlen) ||
		    check_util(v[1], 100, r, "mem_util_percent", err, errlen))
			return -EINVAL;
		v[0] /= 100.0;
		v[1] /= 100.0;
		s = series_get(set, f[0], err, errlen);
		if (!s || series_add(set, s, (uint64_t)t * 1000u, v, r, err, errlen))
			return -EINVAL;
	}
	return rc < 0 ? -EINVAL : 0;
}

/* 2014-02-14 14:30:00,0.132  (value = CPU percent) */
static int read_nab(struct reader *r, struct ns_series_set *set, const char *id, char *err,
		    size_t errlen)
{
	struct ns_series *s;
	char *f[3];
	int rc;

	if ((rc = next_line(r, err, errlen)) <= 0 || strcmp(r->buf, "timestamp,value") != 0) {
		if (rc >= 0)
			ERR("%s:1: header must be timestamp,value", r->path);
		return -EINVAL;
	}
	s = series_get(set, id, err, errlen);
	if (!s)
		return -EINVAL;
	while ((rc = next_line(r, err, errlen)) > 0) {
		struct tm tm = {0};
		double v[NS_SERIES_NRES] = {NAN, NAN};
		const char *e;
		time_t t;

		if (split(r->buf, ',', f, 3) != 2 ||
		    !(e = strptime(f[0], "%Y-%m-%d %H:%M:%S", &tm)) || *e || num(f[1], 0, &v[0])) {
			ERR("%s:%lu: expected 'YYYY-MM-DD HH:MM:SS,value'", r->path, r->line);
			return -EINVAL;
		}
		t = timegm(&tm);
		if (t < 0 || check_util(v[0], 100, r, "CPU percent", err, errlen))
			return -EINVAL;
		v[0] /= 100.0;
		if (series_add(set, s, (uint64_t)t * 1000u, v, r, err, errlen))
			return -EINVAL;
	}
	return rc < 0 ? -EINVAL : 0;
}

static enum ns_series_fmt sniff(const char *line)
{
	if (strncmp(line, "timestamp_ms,", 13) == 0)
		return NS_SERIES_FMT_AGENT;
	if (strncmp(line, "Timestamp [ms]", 14) == 0)
		return NS_SERIES_FMT_BITBRAINS;
	if (strncmp(line, "timestamp,value", 15) == 0)
		return NS_SERIES_FMT_NAB;
	if (line[0] == 'm' && line[1] == '_' && isdigit((unsigned char)line[2]))
		return NS_SERIES_FMT_ALIBABA;
	return NS_SERIES_FMT_AUTO;
}

static int load_file(const char *path, enum ns_series_fmt fmt, struct ns_series_set *set,
		     int in_dir, char *err, size_t errlen)
{
	struct reader r = {.path = path};
	char id[64];
	const char *base = strrchr(path, '/');
	int rc;

	base = base ? base + 1 : path;
	snprintf(id, sizeof(id), "%s", base);
	for (char *dot; (dot = strrchr(id, '.')) && (!strcmp(dot, ".gz") || !strcmp(dot, ".csv"));)
		*dot = '\0';
	r.gz = gzopen(path, "rb");
	if (!r.gz) {
		ERR("%s: cannot open: %s", path, strerror(errno ? errno : EIO));
		return -EINVAL;
	}
	gzbuffer(r.gz, 1u << 16);
	if (fmt == NS_SERIES_FMT_AUTO) {
		char first[64] = "";

		if (gzgets(r.gz, first, sizeof(first)))
			fmt = sniff(first);
		gzrewind(r.gz);
		if (fmt == NS_SERIES_FMT_AUTO && in_dir) {
			/* A directory of traces often carries an index or notes. */
			if (!set->skipped_files++)
				snprintf(set->skipped_first, sizeof(set->skipped_first), "%s",
					 path);
			gzclose(r.gz);
			return 0;
		}
		if (fmt == NS_SERIES_FMT_AUTO) {
			ERR("%s:1: unknown format (use --format)", path);
			gzclose(r.gz);
			return -EINVAL;
		}
	}
	switch (fmt) {
	case NS_SERIES_FMT_AGENT:
		rc = read_agent(&r, set, id, err, errlen);
		break;
	case NS_SERIES_FMT_BITBRAINS:
		rc = read_bitbrains(&r, set, id, err, errlen);
		break;
	case NS_SERIES_FMT_ALIBABA:
		rc = read_alibaba(&r, set, err, errlen);
		break;
	case NS_SERIES_FMT_NAB:
		rc = read_nab(&r, set, id, err, errlen);
		break;
	default:
		rc = -EINVAL;
	}
	gzclose(r.gz);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t lx = strlen(x), ly = strlen(y);

	/* Numeric-looking names (Bitbrains 1..500) in numeric order. */
	return lx != ly ? (lx < ly ? -1 : 1) : strcmp(x, y);
}

int ns_series_load(const char *path, enum ns_series_fmt fmt, struct ns_series_set *set,
		   const volatile sig_atomic_t *cancel, char *err, size_t errlen)
{
	struct stat st;
	char **names = NULL, full[4096];
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) < 0) {
		ERR("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (!S_ISDIR(st.st_mode))
		return load_file(path, fmt, set, 0, err, errlen);
	d = opendir(path);
	if (!d) {
		ERR("%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (e->d_name[0] == '.' || !((l > 4 && !strcmp(e->d_name + l - 4, ".csv")) ||
					     (l > 7 && !strcmp(e->d_name + l - 7, ".csv.gz"))))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 256) * sizeof(*nn));

			if (!nn) {
				rc = -ENOMEM;
				break;
			}
			names = nn;
		}
		if (n >= NS_SERIES_MAX_SERIES || !(names[n] = strdup(e->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (rc == 0 && n == 0) {
		ERR("%s: no *.csv or *.csv.gz files", path);
		rc = -EINVAL;
	}
	if (rc == 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; rc == 0 && i < n && !(cancel && *cancel); i++) {
		snprintf(full, sizeof(full), "%s/%s", path, names[i]);
		rc = load_file(full, fmt, set, 1, err, errlen);
	}
	if (rc == 0 && cancel && *cancel) {
		ERR("interrupted");
		rc = -ECANCELED;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

void ns_series_free(struct ns_series_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		for (int k = 0; k < NS_SERIES_NRES; k++)
			free(set->s[i].v[k]);
		free(set->s[i].cnt);
	}
	free(set->s);
	set->s = NULL;
	set->n = set->cap = 0;
}
