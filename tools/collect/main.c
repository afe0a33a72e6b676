// SPDX-License-Identifier: MIT
/* nodescore-collect: pulls node series from Prometheus (query_range) into
 * the CSV that nodescore-train reads (the agent history export format),
 * one file per node. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>

#include "nodescore/clock.h"
#include "nodescore/fileio.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "promq.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Unix seconds ("1700000000", "1700000000.5") or RFC 3339 UTC / with an
 * offset ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00+02:00"), to ms. */
static int parse_time(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *e;
	char *end;
	double d;

	d = strtod(s, &end);
	if (end != s && !*end) {
		if (!isfinite(d) || d < 0 || d > 1e11)
			return -EINVAL;
		*ms = (int64_t)llround(d * 1000.0);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!e)
		return -EINVAL;
	*ms = (int64_t)timegm(&tm) * 1000;
	if (*e == '.') /* fractions of a second are dropped */
		for (e++; *e >= '0' && *e <= '9'; e++)
			;
	if (strcmp(e, "Z") == 0)
		return *ms >= 0 ? 0 : -EINVAL;
	if ((e[0] == '+' || e[0] == '-') && strlen(e) == 6 && e[3] == ':' &&
	    isdigit((unsigned char)e[1]) && isdigit((unsigned char)e[2]) &&
	    isdigit((unsigned char)e[4]) && isdigit((unsigned char)e[5])) {
		int h = (e[1] - '0') * 10 + (e[2] - '0'), m = (e[4] - '0') * 10 + (e[5] - '0');

		if (h < 0 || h > 23 || m < 0 || m > 59)
			return -EINVAL;
		*ms -= (int64_t)(e[0] == '+' ? 1 : -1) * (h * 60 + m) * 60000;
		return *ms >= 0 ? 0 : -EINVAL;
	}
	return -EINVAL;
}

/* Printable excerpt of a non-JSON error body for the log. */
static void excerpt(const char *p, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < cap && i < 200; i++)
		out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : ' ';
	out[o] = '\0';
}

struct run {
	const char *url, *label;
	char matchers[PQ_MAX_SELECTOR + 512];
	char window[32];
	const struct pq_column *cols;
	size_t ncol;
	uint64_t timeout_ms;
	size_t max_response;
	uint32_t per;
	struct pq_table t;
	uint64_t *col_values; /* values stored per column, over all chunks */
};

/* Runs every column query over every chunk into r->t. Returns 0 or 1. */
static int collect(struct run *r)
{
	char endpoint[2100], query[PQ_MAX_QUERY], err[1024], warn[512];
	uint32_t nchunks = pq_chunk_count(&r->t.r, r->per);
	uint64_t t0 = ns_mono_ns();
	size_t l = strlen(r->url);

	while (l > 0 && r->url[l - 1] == '/')
		l--;
	snprintf(endpoint, sizeof(endpoint), "%.*s/api/v1/query_range", (int)l, r->url);
	for (uint32_t ci = 0; ci < nchunks; ci++) {
		uint32_t first, count;
		size_t max_series = 0;

		pq_chunk(&r->t.r, r->per, ci, &first, &count);
		for (size_t c = 0; c < r->ncol; c++) {
			struct ns_buf body = {0}, resp = {0};
			uint64_t before = r->t.values;
			enum pq_status st;
			size_t series;
			long http;

			if (stop) {
				log_error("collect", "interrupted, nothing written");
				return 1;
			}
			if (pq_expand(r->cols[c].expr, r->matchers, r->window, r->label, query,
				      sizeof(query))) {
				log_error("collect", "query too long column=%s", r->cols[c].name);
				return 1;
			}
			pq_request_body(&body, query, &r->t.r, first, count, r->timeout_ms);
			if (body.oom ||
			    pq_http_post(endpoint, body.p, body.len, r->timeout_ms, r->max_response,
					 &http, &resp, err, sizeof(err))) {
				log_error(
				    "collect", "cannot query Prometheus url=%s column=%s error=%s",
				    endpoint, r->cols[c].name, body.oom ? "out of memory" : err);
				ns_buf_free(&body);
				ns_buf_free(&resp);
				return 1;
			}
			ns_buf_free(&body);
			st = pq_parse_reply(&r->t, c, r->cols[c].util, r->label,
					    resp.p ? resp.p : "", resp.len, first, count, &series,
					    warn, sizeof(warn), err, sizeof(err));
			if (st == PQ_ERR_FORMAT && http != 200) {
				char ex[256];

				excerpt(resp.p ? resp.p : "", resp.len, ex, sizeof(ex));
				log_error("collect",
					  "query failed url=%s column=%s http=%ld body=\"%s\"",
					  endpoint, r->cols[c].name, http, ex);
			} else if (st != PQ_OK) {
				log_error("collect",
					  "query failed column=%s http=%ld reason=%s error=%s",
					  r->cols[c].name, http, pq_strerror(st), err);
				if (st == PQ_ERR_PROM)
					log_error("collect", "query was: %s", query);
			}
			ns_buf_free(&resp);
			if (st != PQ_OK)
				return 1;
			if (http != 200) {
				log_error("collect", "unexpected HTTP status url=%s http=%ld",
					  endpoint, http);
				return 1;
			}
			if (warn[0])
				log_warning("collect", "Prometheus warning column=%s warning=%s",
					    r->cols[c].name, warn);
			r->col_values[c] += r->t.values - before;
			max_series = series > max_series ? series : max_series;
		}
		log_info("collect", "chunk %u/%u points=%u series=%zu nodes=%zu elapsed=%.1fs",
			 ci + 1, nchunks, count, max_series, r->t.n,
			 (double)(ns_mono_ns() - t0) / 1e9);
	}
	return 0;
}

/* --print-queries: every column's query as it would be sent, so scripts and
 * tests can check the series asked for without a Prometheus. Returns 0 or 1. */
static int print_queries(const struct run *r)
{
	char query[PQ_MAX_QUERY];

	for (size_t c = 0; c < r->ncol; c++) {
		if (pq_expand(r->cols[c].expr, r->matchers, r->window, r->label, query,
			      sizeof(query))) {
			log_error("collect", "query too long column=%s", r->cols[c].name);
			return 1;
		}
		printf("%s\t%s\n", r->cols[c].name, query);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Writes the CSVs: out (exactly one node) or one <node>.csv per node in
 * dir. Every file is complete or absent (atomic replace). Returns 0 or 1. */
static int write_out(struct run *r, const char *out, const char *dir, const uint8_t *keep)
{
	char(*names)[72] = calloc(r->t.n ? r->t.n : 1, sizeof(*names));
	size_t nkeep = 0, rows_total = 0;
	int rc = 1;

	if (!names) {
		log_error("collect", "out of memory");
		return 1;
	}
	for (size_t c = 0; c < r->ncol; c++)
		nkeep += keep[c] != 0;
	if (*out && r->t.n != 1) {
		log_error("collect",
			  "--out takes one node but the selection matched nodes=%zu (first=%s); "
			  "use --out-dir DIR or narrow --node",
			  r->t.n, r->t.nodes[0].name);
		goto done;
	}
	/* Checked before anything is written: a run writes all files or none. */
	for (size_t i = 0; i < r->t.n; i++) {
		pq_node_filename(r->t.nodes[i].name, names[i], sizeof(names[i]));
		for (size_t j = 0; *dir && j < i; j++)
			if (strcmp(names[i], names[j]) == 0) {
				log_error("collect",
					  "nodes map to the same file node=%s node=%s file=%s",
					  r->t.nodes[j].name, r->t.nodes[i].name, names[i]);
				goto done;
			}
	}
	if (*dir && mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_error_errno("collect", "cannot create --out-dir dir=%s", dir);
		goto done;
	}
	for (size_t i = 0; i < r->t.n; i++) {
		struct ns_buf b = {0};
		char path[4200], err[512];
		size_t rows = pq_write_csv(&r->t, i, r->cols, keep, &b);

		if (b.oom) {
			log_error("collect", "out of memory");
			ns_buf_free(&b);
			goto done;
		}
		if (*out)
			snprintf(path, sizeof(path), "%s", out);
		else
			snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (ns_file_write_atomic(path, b.p, b.len, 0644, err, sizeof(err))) {
			log_error("collect", "cannot write CSV error=%s", err);
			ns_buf_free(&b);
			goto done;
		}
		ns_buf_free(&b);
		rows_total += rows;
		log_info("collect", "wrote node=%s path=%s rows=%zu columns=%zu",
			 r->t.nodes[i].name, path, rows, nkeep);
	}
	log_success("collect", "collected nodes=%zu rows=%zu columns=%zu out=%s", r->t.n,
		    rows_total, nkeep, *out ? out : dir);
	rc = 0;
done:
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	struct ns_opt o[] = {
	    {"prometheus", NS_OPT_STRING, "http://127.0.0.1:9090",
	     "Prometheus base URL (http or https)", NULL, 0},
	    {"source", NS_OPT_STRING, "node-exporter",
	     "metrics to read: node-exporter (node_* series) or agent (nodescore_node_* gauges of "
	     "nodescore-agent)",
	     NULL, 0},
	    {"days", NS_OPT_STRING, "",
	     "range: the last N days (default 7 when no --hours or --start)", NULL, 0},
	    {"hours", NS_OPT_STRING, "", "range: the last N hours", NULL, 0},
	    {"start", NS_OPT_STRING, "",
	     "range start: unix seconds or RFC 3339 (2024-05-01T00:00:00Z)", NULL, 0},
	    {"end", NS_OPT_STRING, "", "range end, same forms (default now)", NULL, 0},
	    {"step", NS_OPT_STRING, "60s",
	     "grid step, 1s..1h (nodescore-train --step must match or be a multiple)", NULL, 0},
	    {"window", NS_OPT_STRING, "auto",
	     "rate / average window ending at each point; auto = max(step, 1m), which needs a "
	     "scrape interval of 30 s or less",
	     NULL, 0},
	    {"node", NS_OPT_STRING, "",
	     "regex on the node label selecting nodes (fully anchored, PromQL =~)", NULL, 0},
	    {"selector", NS_OPT_STRING, "",
	     "extra label matchers for every series, e.g. job=\"node\",env!=\"dev\"", NULL, 0},
	    {"node-label", NS_OPT_STRING, "",
	     "label naming the node (default instance for node-exporter, node for agent)", NULL, 0},
	    {"out", NS_OPT_STRING, "", "CSV file to write (the selection must match one node)",
	     NULL, 0},
	    {"out-dir", NS_OPT_STRING, "",
	     "directory for one <node>.csv per node (created if missing)", NULL, 0},
	    {"timeout", NS_OPT_STRING, "60s",
	     "per request (connect, query, reply), also sent as the query timeout", NULL, 0},
	    {"chunk-points", NS_OPT_STRING, "10000",
	     "points per series per request (Prometheus refuses more than 11000)", NULL, 0},
	    {"max-response", NS_OPT_STRING, "32Mi",
	     "largest reply accepted per request (after decompression)", NULL, 0},
	    {"print-queries", NS_OPT_BOOL, "0",
	     "print each column's PromQL query (column, tab, query) and exit without contacting "
	     "Prometheus; --out and --out-dir are then not needed",
	     NULL, 0},
	    {"log-level", NS_OPT_STRING, "info", "error|warning|success|info", NULL, 0},
	};
	const size_t no = sizeof(o) / sizeof(o[0]);
	struct run r = {0};
	struct pq_range range = {0};
	enum pq_source src;
	char err[512];
	const char *out, *dir, *sel, *url;
	uint8_t *keep = NULL;
	uint64_t u, step, win, timeout;
	int64_t start = -1, end;
	int argi = 0, rc = 1, have_cpu_mem = 0, print;

	int opt_rc = ns_main_opts(
	    o, no, "nodescore-collect",
	    "Pull node series from Prometheus (/api/v1/query_range) into the CSV that\n"
	    "nodescore-train reads (--format agent), one file per node; give exactly one\n"
	    "of --out FILE and --out-dir DIR. Queries and limits: docs/collect.md.",
	    argc, argv, &argi, "collect");

	if (opt_rc >= 0)
		return opt_rc;
	if (ns_log_set_level(ns_opt_get(o, no, "log-level"))) {
		log_error("collect", "bad --log-level");
		return 2;
	}
	if (argi < argc) {
		log_error("collect", "unexpected argument '%s' (see --help)", argv[argi]);
		return 2;
	}
	url = ns_opt_get(o, no, "prometheus");
	if ((strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
	    strlen(url) > 2000) {
		log_error("collect", "bad --prometheus '%s' (an http:// or https:// URL)", url);
		return 2;
	}
	if (pq_source_parse(ns_opt_get(o, no, "source"), &src)) {
		log_error("collect", "bad --source '%s' (node-exporter|agent)",
			  ns_opt_get(o, no, "source"));
		return 2;
	}
	if (ns_parse_bool(ns_opt_get(o, no, "print-queries"), &print)) {
		log_error("collect", "bad --print-queries (true|false)");
		return 2;
	}
	out = ns_opt_get(o, no, "out");
	dir = ns_opt_get(o, no, "out-dir");
	if (!print && !*out == !*dir) {
		log_error("collect", "give exactly one of --out FILE and --out-dir DIR");
		return 2;
	}
	if (ns_parse_duration_ms(ns_opt_get(o, no, "step"), &step) || step < 1000 ||
	    step > 3600000) {
		log_error("collect", "bad --step '%s' (1s..1h)", ns_opt_get(o, no, "step"));
		return 2;
	}
	if (strcmp(ns_opt_get(o, no, "window"), "auto") == 0)
		win = step > 60000 ? step : 60000;
	else if (ns_parse_duration_ms(ns_opt_get(o, no, "window"), &win) || win < 1000 ||
		 win > 86400000) {
		log_error("collect", "bad --window '%s' (auto or 1s..1d)",
			  ns_opt_get(o, no, "window"));
		return 2;
	}
	if (ns_parse_duration_ms(ns_opt_get(o, no, "timeout"), &timeout) || timeout < 100 ||
	    timeout > 3600000) {
		log_error("collect", "bad --timeout (100ms..1h)");
		return 2;
	}
	if (ns_opt_u32(o, no, "chunk-points", 1, PQ_PROM_MAX_POINTS, &r.per, err, sizeof(err))) {
		log_error("collect", "%s", err);
		return 2;
	}
	if (ns_parse_size(ns_opt_get(o, no, "max-response"), &u) || u < 4096 || u > (1ull << 32)) {
		log_error("collect", "bad --max-response (4Ki..4Gi)");
		return 2;
	}
	r.max_response = (size_t)u;
	sel = ns_opt_get(o, no, "selector");
	if (pq_selector_check(sel, err, sizeof(err))) {
		log_error("collect", "bad --selector: %s", err);
		return 2;
	}
	r.label = *ns_opt_get(o, no, "node-label") ? ns_opt_get(o, no, "node-label")
						   : pq_source_default_label(src);
	for (const char *p = r.label; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
		      (p > r.label && *p >= '0' && *p <= '9')) ||
		    p - r.label > 100) {
			log_error("collect", "bad --node-label '%s' (a Prometheus label name)",
				  r.label);
			return 2;
		}
	if (strlen(ns_opt_get(o, no, "node")) > 512 ||
	    pq_matchers(sel, r.label, ns_opt_get(o, no, "node"), r.matchers, sizeof(r.matchers))) {
		log_error("collect", "--node regex too long (512 bytes)");
		return 2;
	}

	/* Range: --start/--end, or the last --days/--hours before --end. */
	end = (int64_t)ns_now_ms();
	if (*ns_opt_get(o, no, "end") && parse_time(ns_opt_get(o, no, "end"), &end)) {
		log_error("collect", "bad --end '%s' (unix seconds or RFC 3339)",
			  ns_opt_get(o, no, "end"));
		return 2;
	}
	if (*ns_opt_get(o, no, "start") && parse_time(ns_opt_get(o, no, "start"), &start)) {
		log_error("collect", "bad --start '%s' (unix seconds or RFC 3339)",
			  ns_opt_get(o, no, "start"));
		return 2;
	}
	{
		int given = (*ns_opt_get(o, no, "start") != 0) + (*ns_opt_get(o, no, "days") != 0) +
			    (*ns_opt_get(o, no, "hours") != 0);
		double d;

		if (given > 1) {
			log_error("collect", "give one of --start, --days and --hours");
			return 2;
		}
		if (*ns_opt_get(o, no, "hours")) {
			if (ns_parse_double(ns_opt_get(o, no, "hours"), 0.001, 24.0 * 3660, &d)) {
				log_error("collect", "bad --hours (0.001..87840)");
				return 2;
			}
			start = end - (int64_t)(d * 3600000.0);
		} else if (start < 0) {
			const char *days =
			    *ns_opt_get(o, no, "days") ? ns_opt_get(o, no, "days") : "7";

			if (ns_parse_double(days, 0.001, 3660, &d)) {
				log_error("collect", "bad --days (0.001..3660)");
				return 2;
			}
			start = end - (int64_t)(d * 86400000.0);
		}
	}
	/* The grid of absolute multiples of the step, as nodescore-train's. */
	range.step_ms = (uint32_t)step;
	range.start_ms = (start + (int64_t)step - 1) / (int64_t)step * (int64_t)step;
	end = end / (int64_t)step * (int64_t)step;
	if (end < range.start_ms) {
		log_error("collect",
			  "empty range: --end is before --start (or shorter than one step)");
		return 2;
	}
	if ((end - range.start_ms) / (int64_t)step + 1 > PQ_MAX_POINTS) {
		log_error("collect", "range has more than %u points; use a larger --step",
			  PQ_MAX_POINTS);
		return 2;
	}
	range.n = (uint32_t)((end - range.start_ms) / (int64_t)step + 1);
	if (win % 1000)
		snprintf(r.window, sizeof(r.window), "%llums", (unsigned long long)win);
	else
		snprintf(r.window, sizeof(r.window), "%llus", (unsigned long long)(win / 1000));
	r.url = url;
	r.timeout_ms = timeout;
	r.cols = pq_columns(src, &r.ncol);
	if (print)
		return print_queries(&r);
	r.col_values = calloc(r.ncol, sizeof(*r.col_values));
	keep = calloc(r.ncol, 1);
	if (!r.col_values || !keep) {
		log_error("collect", "out of memory");
		goto out;
	}
	pq_table_init(&r.t, &range, r.ncol);
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_error("collect", "libcurl initialisation failed");
		goto out;
	}
	log_info("collect",
		 "collecting url=%s source=%s start=%lld end=%lld step=%us window=%s points=%u "
		 "chunks=%u columns=%zu matchers=%s",
		 url, pq_source_name(src), (long long)(range.start_ms / 1000),
		 (long long)(end / 1000), range.step_ms / 1000, r.window, range.n,
		 pq_chunk_count(&range, r.per), r.ncol, *r.matchers ? r.matchers : "(none)");
	rc = collect(&r);
	curl_global_cleanup();
	if (rc == 0 && stop) { /* during the last request */
		log_error("collect", "interrupted, nothing written");
		rc = 1;
	}
	if (rc)
		goto out;
	rc = 1;
	if (r.t.n == 0 || r.t.values == 0) {
		log_error(
		    "collect",
		    "empty result: no series matched source=%s matchers=%s in the range (check "
		    "--node, --selector, --source and that Prometheus scrapes those targets)",
		    pq_source_name(src), *r.matchers ? r.matchers : "(none)");
		goto out;
	}
	for (size_t c = 0; c < r.ncol; c++) {
		keep[c] = r.col_values[c] > 0;
		if (!keep[c])
			log_warning("collect", "no data, column left out column=%s",
				    r.cols[c].name);
		else if (strcmp(r.cols[c].name, "cpu_util") == 0 ||
			 strcmp(r.cols[c].name, "mem_util") == 0)
			have_cpu_mem = 1;
	}
	if (!have_cpu_mem) {
		log_error("collect",
			  "neither cpu_util nor mem_util has data; nodescore-train needs one");
		goto out;
	}
	rc = write_out(&r, out, dir, keep);
out:
	pq_table_free(&r.t);
	free(r.col_values);
	free(keep);
	return rc;
}
