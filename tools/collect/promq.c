// SPDX-License-Identifier: MIT
/* nodescore-collect: PromQL per CSV column, query_range chunks and request
 * bodies, the strict parser of query_range replies into per-node series on
 * one grid, and the CSV writer (the agent history export format). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nodescore/sample.h"
#include "promq.h"

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

static const char *const status_names[] = {
    [PQ_OK] = "ok",
    [PQ_ERR_PROM] = "Prometheus error",
    [PQ_ERR_FORMAT] = "malformed reply",
    [PQ_ERR_LIMIT] = "limit exceeded",
    [PQ_ERR_NOMEM] = "out of memory",
};

const char *pq_strerror(enum pq_status s)
{
	return (unsigned)s < sizeof(status_names) / sizeof(*status_names) ? status_names[s]
									  : "unknown";
}

/*
 * node-exporter. Every expression is an average over the window $W ending
 * at the grid point (rate() of counters, avg_over_time() of gauges), so a
 * row is the mean of its interval, as the forecaster's training data are.
 * cpu_util counts iowait as idle, like the agent's /proc/stat sampler
 * (busy = total - idle - iowait). PSI: the share of the window stalled,
 * in percent, the closest counter form of the kernel's avg10. CPUs are
 * counted over the window too: a bare instant selector would look back 5
 * minutes and leave ncpu-only rows after a node's data ends.
 */
static const struct pq_column cols_node_exporter[] = {
    {"cpu_util",
     "sum by ($BY) (rate(node_cpu_seconds_total{mode!~\"idle|iowait\"$ASEL}[$W])) / "
     "count by ($BY) (avg_over_time(node_cpu_seconds_total{mode=\"idle\"$ASEL}[$W]))",
     1},
    {"mem_util",
     "1 - sum by ($BY) (avg_over_time(node_memory_MemAvailable_bytes{$SEL}[$W])) / "
     "sum by ($BY) (avg_over_time(node_memory_MemTotal_bytes{$SEL}[$W]))",
     1},
    {"load1", "max by ($BY) (avg_over_time(node_load1{$SEL}[$W]))", 0},
    {"load5", "max by ($BY) (avg_over_time(node_load5{$SEL}[$W]))", 0},
    {"load15", "max by ($BY) (avg_over_time(node_load15{$SEL}[$W]))", 0},
    {"ncpu", "count by ($BY) (avg_over_time(node_cpu_seconds_total{mode=\"idle\"$ASEL}[$W]))", 0},
    {"mem_total_mib",
     "max by ($BY) (avg_over_time(node_memory_MemTotal_bytes{$SEL}[$W])) / 1048576", 0},
    {"mem_avail_mib",
     "max by ($BY) (avg_over_time(node_memory_MemAvailable_bytes{$SEL}[$W])) / 1048576", 0},
    {"psi_cpu_some", "100 * max by ($BY) (rate(node_pressure_cpu_waiting_seconds_total{$SEL}[$W]))",
     0},
    {"psi_mem_some",
     "100 * max by ($BY) (rate(node_pressure_memory_waiting_seconds_total{$SEL}[$W]))", 0},
    {"psi_mem_full",
     "100 * max by ($BY) (rate(node_pressure_memory_stalled_seconds_total{$SEL}[$W]))", 0},
    {"psi_io_some", "100 * max by ($BY) (rate(node_pressure_io_waiting_seconds_total{$SEL}[$W]))",
     0},
    {"psi_io_full", "100 * max by ($BY) (rate(node_pressure_io_stalled_seconds_total{$SEL}[$W]))",
     0},
    {"tcp_retrans", "max by ($BY) (rate(node_netstat_Tcp_RetransSegs{$SEL}[$W]))", 0},
    {"disk_iops",
     "sum by ($BY) (rate(node_disk_reads_completed_total{$SEL}[$W])) + "
     "sum by ($BY) (rate(node_disk_writes_completed_total{$SEL}[$W]))",
     0},
};

/* nodescore-agent: its /metrics carries every history metric as the gauge
 * nodescore_node_<exposed name>{node="..."} in base units (seconds, bytes),
 * and the query scales it back to the CSV's units. Names and scales come
 * from ns_metric_expo, the table the agent exposes them by, so the two
 * cannot drift; tests/collect_itest.sh checks the queries (--print-queries)
 * against the agent's own /metrics. Filled on first use: the tool is single
 * threaded. */
static struct pq_column cols_agent[NS_METRIC_COUNT];
static char agent_expr[NS_METRIC_COUNT][128];

static void agent_columns_init(void)
{
	if (cols_agent[0].name)
		return;
	for (int m = 0; m < NS_METRIC_COUNT; m++) {
		const struct ns_metric_expo *e = &ns_metric_expo[m];
		char back[40] = "";

		if (e->scale > 1)
			snprintf(back, sizeof(back), " / %.17g", e->scale);
		else if (e->scale < 1)
			snprintf(back, sizeof(back), " * %.17g", 1.0 / e->scale);
		snprintf(agent_expr[m], sizeof(agent_expr[m]),
			 "max by ($BY) (avg_over_time(nodescore_node_%s{$SEL}[$W]))%s", e->name,
			 back);
		cols_agent[m] = (struct pq_column){ns_metric_names[m], agent_expr[m],
						   m == NS_M_CPU_UTIL || m == NS_M_MEM_UTIL};
	}
}

static const struct {
	const char *name, *label;
	const struct pq_column *cols;
	size_t n;
} sources[] = {
    [PQ_SRC_NODE_EXPORTER] = {"node-exporter", "instance", cols_node_exporter,
			      sizeof(cols_node_exporter) / sizeof(*cols_node_exporter)},
    [PQ_SRC_AGENT] = {"agent", "node", cols_agent, sizeof(cols_agent) / sizeof(*cols_agent)},
};

int pq_source_parse(const char *s, enum pq_source *out)
{
	for (size_t i = 0; i < sizeof(sources) / sizeof(*sources); i++)
		if (strcmp(s, sources[i].name) == 0) {
			*out = (enum pq_source)i;
			return 0;
		}
	return -EINVAL;
}

const char *pq_source_name(enum pq_source s)
{
	return sources[s].name;
}

const char *pq_source_default_label(enum pq_source s)
{
	return sources[s].label;
}

const struct pq_column *pq_columns(enum pq_source s, size_t *n)
{
	if (s == PQ_SRC_AGENT)
		agent_columns_init();
	*n = sources[s].n;
	return sources[s].cols;
}

int pq_selector_check(const char *sel, char *err, size_t errlen)
{
	int quoted = 0;

	if (strlen(sel) > PQ_MAX_SELECTOR) {
		ERR("selector longer than %d bytes", PQ_MAX_SELECTOR);
		return -EINVAL;
	}
	for (const char *p = sel; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f) {
			ERR("selector has a control character at offset %zu", (size_t)(p - sel));
			return -EINVAL;
		}
		if (quoted && c == '\\' && p[1]) {
			p++;
			continue;
		}
		if (c == '"')
			quoted = !quoted;
		else if (!quoted && (c == '{' || c == '}')) {
			ERR("selector must be label matchers without braces, e.g. job=\"node\"");
			return -EINVAL;
		}
	}
	if (quoted) {
		ERR("selector has an unterminated string");
		return -EINVAL;
	}
	return 0;
}

int pq_matchers(const char *sel, const char *label, const char *node_re, char *out, size_t cap)
{
	size_t o = 0;
	int n = snprintf(out, cap, "%s", sel);

	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	o = (size_t)n;
	if (!node_re || !*node_re)
		return 0;
	n = snprintf(out + o, cap - o, "%s%s=~\"", o ? "," : "", label);
	if (n < 0 || (size_t)n >= cap - o)
		return -ENAMETOOLONG;
	o += (size_t)n;
	/* A PromQL double-quoted string: escape the quote and the backslash
	 * so the regex reaches Prometheus as typed. */
	for (const char *p = node_re; *p; p++) {
		if (o + 3 >= cap)
			return -ENAMETOOLONG;
		if (*p == '"' || *p == '\\')
			out[o++] = '\\';
		out[o++] = *p;
	}
	if (o + 2 > cap)
		return -ENAMETOOLONG;
	out[o++] = '"';
	out[o] = '\0';
	return 0;
}

int pq_expand(const char *tmpl, const char *matchers, const char *window, const char *by, char *out,
	      size_t cap)
{
	size_t o = 0;

	for (const char *p = tmpl; *p;) {
		const char *rep = NULL, *pre = "";
		size_t skip = 0;

		if (strncmp(p, "$ASEL", 5) == 0) {
			rep = matchers;
			pre = *matchers ? "," : "";
			skip = 5;
		} else if (strncmp(p, "$SEL", 4) == 0) {
			rep = matchers;
			skip = 4;
		} else if (strncmp(p, "$BY", 3) == 0) {
			rep = by;
			skip = 3;
		} else if (strncmp(p, "$W", 2) == 0) {
			rep = window;
			skip = 2;
		}
		if (rep) {
			int n = snprintf(out + o, cap - o, "%s%s", pre, rep);

			if (n < 0 || (size_t)n >= cap - o)
				return -ENAMETOOLONG;
			o += (size_t)n;
			p += skip;
			continue;
		}
		if (o + 1 >= cap)
			return -ENAMETOOLONG;
		out[o++] = *p++;
	}
	if (o >= cap)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

uint32_t pq_chunk_count(const struct pq_range *r, uint32_t per)
{
	return (r->n + per - 1) / per;
}

void pq_chunk(const struct pq_range *r, uint32_t per, uint32_t i, uint32_t *first, uint32_t *count)
{
	*first = i * per;
	*count = r->n - *first < per ? r->n - *first : per;
}

static void put_enc(struct ns_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			ns_buf_putc(b, (char)c);
		} else {
			ns_buf_putc(b, '%');
			ns_buf_putc(b, hex[c >> 4]);
			ns_buf_putc(b, hex[c & 15]);
		}
	}
}

/* Unix seconds with milliseconds, exact (no float rounding). */
static void put_secs(struct ns_buf *b, int64_t ms)
{
	ns_buf_printf(b, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
}

void pq_request_body(struct ns_buf *b, const char *query, const struct pq_range *r, uint32_t first,
		     uint32_t count, uint64_t timeout_ms)
{
	int64_t s = r->start_ms + (int64_t)first * r->step_ms;
	int64_t e = s + (int64_t)(count - 1) * r->step_ms;

	ns_buf_puts(b, "query=");
	put_enc(b, query);
	ns_buf_puts(b, "&start=");
	put_secs(b, s);
	ns_buf_puts(b, "&end=");
	put_secs(b, e);
	ns_buf_puts(b, "&step=");
	put_secs(b, r->step_ms);
	if (timeout_ms) {
		ns_buf_puts(b, "&timeout=");
		ns_buf_printf(b, "%llums", (unsigned long long)timeout_ms);
	}
}

void pq_table_init(struct pq_table *t, const struct pq_range *r, size_t ncol)
{
	memset(t, 0, sizeof(*t));
	t->r = *r;
	t->ncol = ncol;
}

void pq_table_free(struct pq_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->nodes[i].v);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

/* Node index of name, created (all NaN) if new; hint is tried first since
 * every reply lists the nodes in the same order. */
static enum pq_status node_get(struct pq_table *t, const char *name, size_t hint, size_t *out,
			       char *err, size_t errlen)
{
	struct pq_node *nd;
	size_t cells;

	if (hint < t->n && strcmp(t->nodes[hint].name, name) == 0) {
		*out = hint;
		return PQ_OK;
	}
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->nodes[i].name, name) == 0) {
			*out = i;
			return PQ_OK;
		}
	if (t->n >= PQ_MAX_NODES) {
		ERR("more than %u nodes; narrow the selection with --node or --selector",
		    PQ_MAX_NODES);
		return PQ_ERR_LIMIT;
	}
	cells = t->ncol * (size_t)t->r.n;
	if ((t->n + 1) * cells > PQ_MAX_CELLS) {
		ERR("%zu nodes x %zu columns x %u points exceed %u values; use a larger --step, a "
		    "shorter range or fewer nodes",
		    t->n + 1, t->ncol, t->r.n, PQ_MAX_CELLS);
		return PQ_ERR_LIMIT;
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		struct pq_node *nn = realloc(t->nodes, nc * sizeof(*nn));

		if (!nn)
			return PQ_ERR_NOMEM;
		t->nodes = nn;
		t->cap = nc;
	}
	nd = &t->nodes[t->n];
	snprintf(nd->name, sizeof(nd->name), "%s", name);
	nd->v = malloc(cells * sizeof(float));
	if (!nd->v)
		return PQ_ERR_NOMEM;
	for (size_t i = 0; i < cells; i++)
		nd->v[i] = NAN;
	*out = t->n++;
	return PQ_OK;
}

/* A sample value: Prometheus sends it as a string ("0.25", "NaN", "+Inf"). */
static int parse_value(const char *s, double *out)
{
	char *end;

	if (!*s || strlen(s) > 64)
		return -1;
	/* Overflow gives +-Inf, which is missing like Prometheus' own Inf. */
	*out = strtod(s, &end);
	if (end == s || *end)
		return -1;
	if (!isfinite(*out))
		*out = NAN;
	return 0;
}

static enum pq_status parse_series(struct pq_table *t, size_t col, int util, const char *label,
				   const cJSON *e, size_t k, uint32_t first, uint32_t count,
				   char *err, size_t errlen)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "metric");
	const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "values");
	const cJSON *l, *p;
	float *v;
	size_t ni, nv = 0;
	enum pq_status st;

	if (!cJSON_IsObject(m) || !cJSON_IsArray(vals)) {
		ERR("series %zu: no metric object or values array", k);
		return PQ_ERR_FORMAT;
	}
	l = cJSON_GetObjectItemCaseSensitive(m, label);
	if (!cJSON_IsString(l) || !l->valuestring[0]) {
		ERR("series %zu has no label '%s' (set --node-label to the label naming the node)",
		    k, label);
		return PQ_ERR_FORMAT;
	}
	if (strlen(l->valuestring) >= PQ_MAX_LABEL) {
		ERR("series %zu: label %s longer than %d bytes", k, label, PQ_MAX_LABEL - 1);
		return PQ_ERR_LIMIT;
	}
	st = node_get(t, l->valuestring, k, &ni, err, errlen);
	if (st != PQ_OK) {
		if (st == PQ_ERR_NOMEM)
			ERR("out of memory");
		return st;
	}
	v = t->nodes[ni].v + col * t->r.n;
	cJSON_ArrayForEach(p, vals)
	{
		const cJSON *ts = cJSON_GetArrayItem(p, 0), *sv = cJSON_GetArrayItem(p, 1);
		double x, ms;
		int64_t off;

		if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 || !cJSON_IsNumber(ts) ||
		    !cJSON_IsString(sv) || parse_value(sv->valuestring, &x)) {
			ERR("series %s: point %zu is not [time, \"value\"]", l->valuestring, nv);
			return PQ_ERR_FORMAT;
		}
		ms = ts->valuedouble * 1000.0;
		if (!isfinite(ms) || fabs(ms) > 1e15) {
			ERR("series %s: point %zu has a bad time", l->valuestring, nv);
			return PQ_ERR_FORMAT;
		}
		off = (int64_t)llround(ms) - t->r.start_ms;
		if (off < 0 || off % t->r.step_ms || off / t->r.step_ms < first ||
		    off / t->r.step_ms >= (int64_t)first + count) {
			ERR("series %s: point at %.3f is off the requested grid", l->valuestring,
			    ts->valuedouble);
			return PQ_ERR_FORMAT;
		}
		if (!isnan(x) && util)
			x = x < 0 ? 0 : x > 1 ? 1 : x;
		if (!isnan(x) && isnan(v[off / t->r.step_ms]))
			t->values++;
		v[off / t->r.step_ms] = (float)x;
		nv++;
	}
	return PQ_OK;
}

enum pq_status pq_parse_reply(struct pq_table *t, size_t col, int util, const char *label,
			      const char *json, size_t len, uint32_t first, uint32_t count,
			      size_t *series, char *warning, size_t warnlen, char *err,
			      size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *status, *data, *rt, *res, *w, *e;
	enum pq_status st = PQ_OK;
	size_t k = 0;

	*series = 0;
	if (warning && warnlen)
		warning[0] = '\0';
	if (!root) {
		ERR("not JSON (is the URL a Prometheus server?)");
		return PQ_ERR_FORMAT;
	}
	status = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (!cJSON_IsString(status)) {
		ERR("no \"status\" in the reply (is the URL a Prometheus server?)");
		st = PQ_ERR_FORMAT;
		goto out;
	}
	if (strcmp(status->valuestring, "success") != 0) {
		const cJSON *et = cJSON_GetObjectItemCaseSensitive(root, "errorType");
		const cJSON *em = cJSON_GetObjectItemCaseSensitive(root, "error");

		ERR("%s: %s", cJSON_IsString(et) ? et->valuestring : status->valuestring,
		    cJSON_IsString(em) ? em->valuestring : "(no message)");
		st = PQ_ERR_PROM;
		goto out;
	}
	w = cJSON_GetObjectItemCaseSensitive(root, "warnings");
	if (warning && warnlen && cJSON_IsArray(w) && cJSON_IsString(cJSON_GetArrayItem(w, 0)))
		snprintf(warning, warnlen, "%s", cJSON_GetArrayItem(w, 0)->valuestring);
	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	rt = cJSON_GetObjectItemCaseSensitive(data, "resultType");
	res = cJSON_GetObjectItemCaseSensitive(data, "result");
	if (!cJSON_IsObject(data) || !cJSON_IsString(rt) || !cJSON_IsArray(res)) {
		ERR("no data.resultType / data.result in the reply");
		st = PQ_ERR_FORMAT;
		goto out;
	}
	if (strcmp(rt->valuestring, "matrix") != 0) {
		ERR("resultType is '%s', expected 'matrix'", rt->valuestring);
		st = PQ_ERR_FORMAT;
		goto out;
	}
	cJSON_ArrayForEach(e, res)
	{
		st = parse_series(t, col, util, label, e, k++, first, count, err, errlen);
		if (st != PQ_OK)
			goto out;
	}
	*series = k;
out:
	cJSON_Delete(root);
	return st;
}

void pq_node_filename(const char *node, char *out, size_t cap)
{
	size_t o = 0;

	if (cap < 8) {
		if (cap)
			out[0] = '\0';
		return;
	}
	for (const char *p = node; *p && o < 59 && o + 5 < cap; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';

		out[o++] = ok ? c : '_';
	}
	/* No hidden file, no "." or "..": the directory reader skips dot files. */
	if (o == 0)
		out[o++] = '_';
	else if (out[0] == '.')
		out[0] = '_';
	snprintf(out + o, cap - o, ".csv");
}

size_t pq_write_csv(const struct pq_table *t, size_t i, const struct pq_column *cols,
		    const uint8_t *keep, struct ns_buf *b)
{
	const float *v = t->nodes[i].v;
	size_t rows = 0;

	ns_buf_puts(b, "timestamp_ms");
	for (size_t c = 0; c < t->ncol; c++)
		if (!keep || keep[c]) {
			ns_buf_putc(b, ',');
			ns_buf_puts(b, cols[c].name);
		}
	ns_buf_putc(b, '\n');
	for (uint32_t k = 0; k < t->r.n; k++) {
		int any = 0;

		for (size_t c = 0; c < t->ncol && !any; c++)
			any = (!keep || keep[c]) && !isnan(v[c * t->r.n + k]);
		if (!any)
			continue;
		ns_buf_printf(b, "%lld", (long long)(t->r.start_ms + (int64_t)k * t->r.step_ms));
		for (size_t c = 0; c < t->ncol; c++) {
			float x = v[c * t->r.n + k];

			if (keep && !keep[c])
				continue;
			ns_buf_putc(b, ',');
			if (!isnan(x))
				ns_buf_printf(b, "%.7g", (double)x);
		}
		ns_buf_putc(b, '\n');
		rows++;
	}
	return rows;
}
