/* SPDX-License-Identifier: MIT */
/* Internal: the per-candidate view and the request path the two extapi
 * files share. extapi.c owns parsing, lookup and the filter verb,
 * extapi_prioritize.c the prioritize verb, holds and shadow comparison.
 * Callers use nodescore/extapi.h. */
#ifndef NODESCORE_EXTENDER_EXTAPI_INT_H
#define NODESCORE_EXTENDER_EXTAPI_INT_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/extapi.h"

enum node_state {
	NODE_UNKNOWN = 0,
	NODE_STALE,
	NODE_FRESH,
	/* Shadow prioritize: fresh, but the filter would have removed it, so
	 * the real prioritize would never have seen it. */
	NODE_EXCLUDED,
};

enum fail_reason {
	FAIL_NONE = 0,
	FAIL_ANOMALY,
	FAIL_CPU,
	FAIL_MEM,
};

struct ns_extapi_view {
	struct ns_node_data d;
	uint8_t state;
	uint8_t fail;
	uint32_t hash;
	uint16_t raw;		       /* combined 0..1000 before normalisation */
	uint8_t score;		       /* 0..10 reply */
	uint8_t would;		       /* shadow: the 0..10 the real reply would have had */
	uint32_t held_cpu_m, held_mib; /* reservations against this node */
};

void ns_extapi_stats_reset(struct ns_extapi_stats *st);
/* Parses the request body into c->args. Returns 0 or an HTTP status with
 * the error already in c->args.err. */
int ns_extapi_parse(struct ns_extapi_ctx *c, const char *body, size_t len);
/* Looks every candidate up, under the reservation lock when there are holds
 * to read; with hold set and on success the lock stays taken for the caller
 * to add one. Returns 0 or 500 (error in c->args.err). */
int ns_extapi_lookup_locked(struct ns_extapi_ctx *c, const struct ns_table *t,
			    const struct ns_extapi_cfg *cfg, uint64_t now_mono_ms,
			    struct ns_extapi_stats *st, int hold);
/* The filter decision for every candidate, into v->fail and st; fail open
 * (every fail cleared, st->fail_open set) when nothing would pass. */
void ns_extapi_decide_filter(struct ns_extapi_ctx *c, const struct ns_extapi_cfg *cfg,
			     uint64_t now_mono_ms, struct ns_extapi_stats *st);

#endif
