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
	/* With resv: prioritize makes no hold; the caller that learns where
	 * the pod was bound (a bind verb, nodescore-sim) holds it there with
	 * ns_extapi_hold. */
	int hold_at_bind;
	/* Shadow mode: the replies are neutral (filter passes every node,
	 * prioritize gives every node NS_EXT_SCORE_NEUTRAL) and what the real
	 * replies would have been goes into ns_extapi_stats. Holds are neither
	 * read nor made, whatever resv is. */
	int shadow;
};

/* Shadow prioritize: the candidates' ranking next to a least-allocated one. */
enum ns_shadow_agree {
	NS_SHADOW_NO_SIGNAL = 0, /* no candidate with a fresh message: nothing to compare */
	NS_SHADOW_AGREE,	 /* the would-be first choice is least allocated (ties count) */
	NS_SHADOW_DISAGREE,
};

/* What one call saw, for metrics and logs. */
struct ns_extapi_stats {
	uint32_t nodes;	  /* candidates in the request */
	uint32_t unknown; /* not in the table */
	uint32_t stale;
	uint32_t failed_anomaly, failed_cpu, failed_mem;
	int fail_open; /* filter kept every node because its signals removed all */
	uint32_t held; /* candidates with a reservation against them */
	int reserved;  /* prioritize made a reservation */
	/* Shadow mode. failed_* and fail_open above are then what filter
	 * would have done (prioritize fills them too: those nodes would not
	 * have reached it). The rest is prioritize only: request indices of
	 * the would-be first choice and of the least-allocated first choice
	 * (SIZE_MAX: none), and how often each would-be score 0..10 would
	 * have been given to candidates that pass the would-be filter. */
	enum ns_shadow_agree agree;
	size_t top, base_top;
	uint32_t would_scores[NS_EXT_SCORE_MAX + 1];
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
/* After a shadow prioritize that returned 200: the request indices of up
 * to k candidates in the order the real reply would have ranked them
 * (combined value, best first; request order on ties), leaving out nodes
 * without a fresh message and nodes the filter would have removed, with
 * the 0..10 score each would have got. Returns how many were written. */
size_t ns_extapi_shadow_ranking(const struct ns_extapi_ctx *c, size_t *idx, uint8_t *score,
				size_t k);

/* After a filter or prioritize that returned 200, for in-process callers
 * (nodescore-sim) that would otherwise parse the reply back: whether the
 * filter removed candidate i (request order; valid until the next call)
 * and the 0..10 score prioritize gave it. */
int ns_extapi_removed(const struct ns_extapi_ctx *c, size_t i);
/* The same verbs for in-process callers that build the request themselves
 * (nodescore-sim: ns_extjson_reset, then c->args' names and requests): the
 * decisions, holds and stats without parsing a body or writing a reply.
 * 200, or 500 when out of memory. */
int ns_extapi_filter_args(struct ns_extapi_ctx *c, const struct ns_table *t,
			  const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			  struct ns_extapi_stats *st);
int ns_extapi_prioritize_args(struct ns_extapi_ctx *c, const struct ns_table *t,
			      const struct ns_extapi_cfg *cfg, struct ns_extapi_now now,
			      struct ns_extapi_stats *st);
uint8_t ns_extapi_score(const struct ns_extapi_ctx *c, size_t i);

/* Holds a pod's request (millicores, bytes) against the node it was bound
 * to, as prioritize holds its first choice; for cfg->hold_at_bind. 0, or
 * -EINVAL without cfg->resv; -ENOSPC as ns_reserve_add. */
int ns_extapi_hold(const struct ns_extapi_cfg *cfg, const char *name, size_t len, int64_t cpu_milli,
		   int64_t mem_bytes, struct ns_extapi_now now);

void ns_extapi_ctx_free(struct ns_extapi_ctx *c);

#endif
