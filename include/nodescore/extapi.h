/* SPDX-License-Identifier: MIT */
/* kube-scheduler extender v1 verbs: filter and prioritize over the score
 * table, from a request body to a reply body. No I/O: exthttp.c serves it. */
#ifndef NODESCORE_EXTAPI_H
#define NODESCORE_EXTAPI_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/buf.h"
#include "nodescore/extjson.h"
#include "nodescore/reserve.h"
#include "nodescore/table.h"

#define NS_EXT_SCORE_MAX 10    /* MaxExtenderPriority */
#define NS_EXT_SCORE_NEUTRAL 5 /* unknown and stale nodes */

enum ns_normalize {
	NS_NORM_LINEAR = 0, /* best candidate 10, worst 0, linear in between */
	NS_NORM_RANK,	    /* by rank among distinct candidate scores */
};

/* "linear" or "rank"; 0 or -EINVAL. */
int ns_normalize_parse(const char *s, enum ns_normalize *out);

struct ns_extapi_cfg {
	uint64_t ttl_ms; /* a node whose last message is older is stale */
	enum ns_normalize norm;
	/* In-flight reservations (reserve.h), or NULL: prioritize holds the
	 * pod's request against the node it ranks first, and both verbs count
	 * what is held against a node's headroom until the node measured it. */
	struct ns_reserve *resv;
};

/* What one call saw, for metrics and logs. */
struct ns_extapi_stats {
	uint32_t nodes;	  /* candidates in the request */
	uint32_t unknown; /* not in the table */
	uint32_t stale;
	uint32_t failed_anomaly, failed_cpu, failed_mem;
	int fail_open; /* filter kept every node because its signals removed all */
	uint32_t held;	/* candidates with a reservation against them */
	int reserved;	/* prioritize made a reservation */
};

struct ns_extapi_view;

/* Per-caller scratch, reused across calls so a request allocates nothing
 * per node. Zero it before first use. */
struct ns_extapi_ctx {
	struct ns_ext_args args;
	struct ns_extapi_view *v;
	size_t vcap;
};

/* Both verbs parse body[0..len) and write the reply JSON into out (which
 * is reset first). Return the HTTP status: 200; 400 for a bad request (the
 * reply is then the verb's result with Error set: ExtenderFilterResult for
 * filter, {"Error":...} for prioritize); 500 when out of memory.
 * now_mono_ms is compared against the table's receive times, now_ms (wall
 * clock) against message timestamps for reservations. */
struct ns_extapi_now {
	uint64_t ms, mono_ms;
};
int ns_extapi_filter(struct ns_extapi_ctx *c, const struct ns_table *t,
		     const struct ns_extapi_cfg *cfg, struct ns_extapi_now now, const char *body,
		     size_t len, struct ns_buf *out, struct ns_extapi_stats *st);
int ns_extapi_prioritize(struct ns_extapi_ctx *c, const struct ns_table *t,
			 const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			 const char *body, size_t len, struct ns_buf *out,
			 struct ns_extapi_stats *st);
void ns_extapi_ctx_free(struct ns_extapi_ctx *c);

#endif
