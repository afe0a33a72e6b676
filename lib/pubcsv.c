// SPDX-License-Identifier: MIT
/* Strict, bounded parser of the nodescore-pub replay CSV. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/fileio.h"
#include "nodescore/pubcsv.h"

enum col {
	COL_NODE = 0,
	COL_SCORE,
	COL_FLAGS,
	COL_ANOMALY,
	COL_CPU_NOW,
	COL_MEM_NOW,
	COL_CPU_PEAK_FC,
	COL_MEM_PEAK_FC,
	COL_FREE_MILLICORES,
	COL_FREE_MIB,
	COL_PODS,
	COL_RTT_P99_US,
	COL_COUNT,
};

static const struct {
	const char *name;
	uint32_t max;
} cols[COL_COUNT] = {
    [COL_NODE] = {"node", 0},
    [COL_SCORE] = {"score", NS_SCORE_MAX},
    [COL_FLAGS] = {"flags", UINT8_MAX},
    [COL_ANOMALY] = {"anomaly", NS_PERMILLE},
    [COL_CPU_NOW] = {"cpu_now", NS_PERMILLE},
    [COL_MEM_NOW] = {"mem_now", NS_PERMILLE},
    [COL_CPU_PEAK_FC] = {"cpu_peak_fc", NS_PERMILLE},
    [COL_MEM_PEAK_FC] = {"mem_peak_fc", NS_PERMILLE},
    [COL_FREE_MILLICORES] = {"free_millicores", UINT32_MAX},
    [COL_FREE_MIB] = {"free_mib", UINT32_MAX},
    [COL_PODS] = {"pods", UINT16_MAX},
    [COL_RTT_P99_US] = {"rtt_p99_us", UINT32_MAX},
};

/* Prints at most 24 bytes of a field, replacing bytes that would garble a log line. */
static void quote(const char *p, size_t n, char out[32])
{
	size_t j = 0;

	for (size_t i = 0; i < n && j < 24; i++) {
		unsigned char c = (unsigned char)p[i];
		out[j++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (n > 24) {
		memcpy(out + j, "...", 3);
		j += 3;
	}
	out[j] = '\0';
}

static int parse_u32(const char *p, size_t n, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 10)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

static int set_field(struct ns_msg *m, enum col c, uint32_t v)
{
	switch (c) {
	case COL_SCORE:
		m->score = (uint16_t)v;
		break;
	case COL_FLAGS:
		m->flags = (uint8_t)v;
		break;
	case COL_ANOMALY:
		m->anomaly = (uint16_t)v;
		break;
	case COL_CPU_NOW:
		m->cpu_now = (uint16_t)v;
		break;
	case COL_MEM_NOW:
		m->mem_now = (uint16_t)v;
		break;
	case COL_CPU_PEAK_FC:
		m->cpu_peak_fc = (uint16_t)v;
		break;
	case COL_MEM_PEAK_FC:
		m->mem_peak_fc = (uint16_t)v;
		break;
	case COL_FREE_MILLICORES:
		m->free_millicores = v;
		break;
	case COL_FREE_MIB:
		m->free_mib = v;
		break;
	case COL_PODS:
		m->pods = (uint16_t)v;
		break;
	case COL_RTT_P99_US:
		m->rtt_p99_us = v;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/* One data line [p, p+n) without its line end. */
static int parse_row(const char *p, size_t n, size_t lineno, struct ns_msg *m, char *err,
		     size_t errlen)
{
	size_t start = 0, c = 0;
	char q[32];

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != ',')
			continue;
		size_t fl = i - start;
		const char *f = p + start;

		if (c >= COL_COUNT) {
			snprintf(err, errlen, "line %zu: more than %d columns", lineno, COL_COUNT);
			return -EINVAL;
		}
		if (c == COL_NODE) {
			if (!ns_wire_name_valid(f, fl)) {
				quote(f, fl, q);
				snprintf(err, errlen,
					 "line %zu: node: '%s' is not a name of 1..63 [a-z0-9.-]",
					 lineno, q);
				return -EINVAL;
			}
			memcpy(m->name, f, fl);
			m->name[fl] = '\0';
			m->name_len = (uint8_t)fl;
		} else {
			uint32_t v;
			int r = parse_u32(f, fl, cols[c].max, &v);

			quote(f, fl, q);
			if (r == -ERANGE) {
				snprintf(err, errlen, "line %zu: %s: %s > %u", lineno, cols[c].name,
					 q, cols[c].max);
				return -EINVAL;
			}
			if (r < 0) {
				snprintf(err, errlen,
					 "line %zu: %s: '%s' is not an unsigned decimal", lineno,
					 cols[c].name, q);
				return -EINVAL;
			}
			set_field(m, (enum col)c, v);
		}
		c++;
		start = i + 1;
	}
	if (c != COL_COUNT) {
		snprintf(err, errlen, "line %zu: %zu columns, need %d", lineno, c, COL_COUNT);
		return -EINVAL;
	}
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	const struct ns_msg *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* Sorting pointers keeps the rows in file order while finding duplicates in n log n. */
static int find_duplicate(const struct ns_msg *rows, size_t n, char *err, size_t errlen)
{
	const struct ns_msg **idx;
	int rc = 0;

	if (n < 2)
		return 0;
	idx = malloc(n * sizeof(*idx));
	if (!idx) {
		snprintf(err, errlen, "out of memory for %zu rows", n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = &rows[i];
	qsort(idx, n, sizeof(*idx), cmp_name);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(idx[i - 1]->name, idx[i]->name) == 0) {
			size_t a = (size_t)(idx[i - 1] - rows), b = (size_t)(idx[i] - rows);
			/* Header is line 1, row k is line k + 2. */
			snprintf(err, errlen, "line %zu: node %s already on line %zu",
				 (a > b ? a : b) + 2, idx[i]->name, (a < b ? a : b) + 2);
			rc = -EINVAL;
			break;
		}
	}
	free(idx);
	return rc;
}

int ns_pubcsv_parse(const char *buf, size_t len, struct ns_msg **rows, size_t *nrows, char *err,
		    size_t errlen)
{
	static const char header[] = NS_PUBCSV_HEADER;
	struct ns_msg *out = NULL;
	size_t n = 0, cap = 0, pos = 0, lineno = 0;
	int rc;

	*rows = NULL;
	*nrows = 0;
	if (len > NS_PUBCSV_MAX_BYTES) {
		snprintf(err, errlen, "input is %zu bytes, limit %u", len, NS_PUBCSV_MAX_BYTES);
		return -E2BIG;
	}
	if (len && memchr(buf, '\0', len)) {
		size_t at = (size_t)((const char *)memchr(buf, '\0', len) - buf), l = 1;
		for (size_t i = 0; i < at; i++)
			l += buf[i] == '\n';
		snprintf(err, errlen, "line %zu: NUL byte (not a text file?)", l);
		return -EINVAL;
	}
	while (pos < len) {
		const char *p = buf + pos, *nl = memchr(p, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - p) : len - pos;

		pos += ll + (nl ? 1 : 0);
		lineno++;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (lineno == 1) {
			if (ll != sizeof(header) - 1 || memcmp(p, header, ll) != 0) {
				snprintf(err, errlen, "line 1: header must be exactly '%s'",
					 header);
				rc = -EINVAL;
				goto fail;
			}
			continue;
		}
		if (ll == 0) {
			snprintf(err, errlen, "line %zu: empty line", lineno);
			rc = -EINVAL;
			goto fail;
		}
		if (n == NS_PUBCSV_MAX_ROWS) {
			snprintf(err, errlen, "line %zu: more than %u rows", lineno,
				 NS_PUBCSV_MAX_ROWS);
			rc = -E2BIG;
			goto fail;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct ns_msg *t;

			if (ncap > NS_PUBCSV_MAX_ROWS)
				ncap = NS_PUBCSV_MAX_ROWS;
			t = realloc(out, ncap * sizeof(*out));
			if (!t) {
				snprintf(err, errlen, "line %zu: out of memory", lineno);
				rc = -ENOMEM;
				goto fail;
			}
			out = t;
			cap = ncap;
		}
		rc = parse_row(p, ll, lineno, &out[n], err, errlen);
		if (rc < 0)
			goto fail;
		n++;
	}
	if (lineno == 0) {
		snprintf(err, errlen, "line 1: empty input, need the header '%s'", header);
		return -EINVAL;
	}
	if (n == 0) {
		snprintf(err, errlen, "line 2: no rows after the header");
		rc = -EINVAL;
		goto fail;
	}
	rc = find_duplicate(out, n, err, errlen);
	if (rc < 0)
		goto fail;
	*rows = out;
	*nrows = n;
	return 0;
fail:
	free(out);
	return rc;
}

int ns_pubcsv_load(const char *path, struct ns_msg **rows, size_t *nrows, char *err, size_t errlen)
{
	char why[200];
	uint8_t *buf;
	size_t len;
	int rc;

	*rows = NULL;
	*nrows = 0;
	rc = ns_file_read_all(path, NS_PUBCSV_MAX_BYTES, &buf, &len, err, errlen);
	/* Too big is -E2BIG here, as the parser's row limit. */
	if (rc)
		return rc == -EFBIG ? -E2BIG : rc;
	rc = ns_pubcsv_parse((const char *)buf, len, rows, nrows, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	free(buf);
	return rc;
}
