/* SPDX-License-Identifier: MIT */
/* nodescore-collect internals: the PromQL expressions behind each CSV
 * column, query_range chunking and request bodies, the parser of
 * query_range replies into per-node series on one time grid, the CSV
 * writer (nodescore-agent --export-history format) and the HTTP client. */
#ifndef NODESCORE_COLLECT_PROMQ_H
#define NODESCORE_COLLECT_PROMQ_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/buf.h"

/* Prometheus refuses a query_range over 11,000 points per series. */
#define PQ_PROM_MAX_POINTS 11000u
#define PQ_MAX_NODES 10000u
#define PQ_MAX_POINTS (4u << 20) /* grid points per node (nodescore-train's own limit) */
#define PQ_MAX_CELLS (64u << 20) /* nodes x columns x points, 256 MiB of floats */
#define PQ_MAX_LABEL 256	 /* bytes of a node label value */
#define PQ_MAX_SELECTOR 1024
#define PQ_MAX_QUERY 4096

enum pq_status {
	PQ_OK = 0,
	PQ_ERR_PROM,   /* Prometheus answered with status "error" (message in err) */
	PQ_ERR_FORMAT, /* not JSON, or not a query_range matrix reply */
	PQ_ERR_LIMIT,  /* over a bound (nodes, cells, label length) */
	PQ_ERR_NOMEM,
};
const char *pq_strerror(enum pq_status s);

enum pq_source {
	PQ_SRC_NODE_EXPORTER = 0, /* prometheus-node-exporter metrics, node = instance */
	PQ_SRC_AGENT,		  /* nodescore-agent nodescore_node_* gauges, node = node */
};

/* One CSV column: the agent history metric name and its PromQL template.
 * In the template $SEL becomes the label matchers, $W the rate/average
 * window and $BY the node label. */
struct pq_column {
	const char *name;
	const char *expr;
	int util; /* a 0..1 share: clamped, as nodescore-train refuses > 1.5 */
};

int pq_source_parse(const char *s, enum pq_source *out);
const char *pq_source_name(enum pq_source s);
const char *pq_source_default_label(enum pq_source s);
/* The column table of a source (static storage) and its length. */
const struct pq_column *pq_columns(enum pq_source s, size_t *n);

/* Checks a user selector (label matchers without braces, e.g.
 * job="node",instance=~"10\\..*"): bounded, printable, and no brace or
 * newline outside a quoted string, so it cannot end the selector it is put
 * in. Returns 0 or -EINVAL with a reason in err. */
int pq_selector_check(const char *sel, char *err, size_t errlen);

/* The matchers used in every query: sel (may be empty) plus, when node_re is
 * non-empty, label=~"node_re" with the regex quoted for PromQL. Returns 0 or
 * -ENAMETOOLONG. */
int pq_matchers(const char *sel, const char *label, const char *node_re, char *out, size_t cap);

/* Expands a column template. Returns 0 or -ENAMETOOLONG. */
int pq_expand(const char *tmpl, const char *matchers, const char *window, const char *by, char *out,
	      size_t cap);

/* A time range on a grid: points at start_ms + k * step_ms, k = 0..n-1. */
struct pq_range {
	int64_t start_ms;
	uint32_t step_ms;
	uint32_t n;
};

/* Chunks of at most per points covering r (per >= 1). */
uint32_t pq_chunk_count(const struct pq_range *r, uint32_t per);
/* First point and point count of chunk i. */
void pq_chunk(const struct pq_range *r, uint32_t per, uint32_t i, uint32_t *first, uint32_t *count);

/* application/x-www-form-urlencoded body of a query_range request over
 * points first..first+count-1 of r; timeout_ms 0 leaves Prometheus' own. */
void pq_request_body(struct ns_buf *b, const char *query, const struct pq_range *r, uint32_t first,
		     uint32_t count, uint64_t timeout_ms);

struct pq_node {
	char name[PQ_MAX_LABEL];
	float *v; /* ncol x r.n, NaN = no value */
};

/* Per-node series, one float per column and grid point. */
struct pq_table {
	struct pq_range r;
	size_t ncol;
	struct pq_node *nodes;
	size_t n, cap;
	uint64_t values; /* values stored, over every node and column */
};

void pq_table_init(struct pq_table *t, const struct pq_range *r, size_t ncol);
void pq_table_free(struct pq_table *t);

/* Parses one query_range reply (json, len bytes, need not be NUL-ended)
 * for column col, whose series carry the node in label, into t. Values must
 * sit on t's grid inside points first..first+count-1; NaN and +-Inf become
 * missing; util columns are clamped to 0..1. *series gets the number of
 * series in the reply, *warning Prometheus' first warning ("" when none).
 * Returns PQ_OK or a status with a reason (Prometheus' own message for
 * PQ_ERR_PROM) in err. */
enum pq_status pq_parse_reply(struct pq_table *t, size_t col, int util, const char *label,
			      const char *json, size_t len, uint32_t first, uint32_t count,
			      size_t *series, char *warning, size_t warnlen, char *err,
			      size_t errlen);

/* A file name for a node label value: [A-Za-z0-9._-] kept, anything else
 * '_', at most 59 bytes plus ".csv", never "." or "..". */
void pq_node_filename(const char *node, char *out, size_t cap);

/* Writes node i of t as CSV: header timestamp_ms,<names of the columns c
 * with keep[c] set (keep NULL: all)>, one row per grid point where a kept
 * column has a value, empty fields for missing values. Returns the number
 * of data rows. */
size_t pq_write_csv(const struct pq_table *t, size_t i, const struct pq_column *cols,
		    const uint8_t *keep, struct ns_buf *b);

/* HTTP POST of a form body to url (libcurl): only http and https, no
 * redirects, whole request within timeout_ms, reply at most max bytes.
 * Returns 0 with the HTTP status in *http and the body in resp, or -1 with
 * the reason (unreachable, timeout, too large) in err. */
int pq_http_post(const char *url, const char *body, size_t body_len, uint64_t timeout_ms,
		 size_t max, long *http, struct ns_buf *resp, char *err, size_t errlen);

#endif
