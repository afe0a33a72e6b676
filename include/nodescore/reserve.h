/* SPDX-License-Identifier: MIT */
/* In-flight reservations: the resources of pods the extender ranked first
 * on a node, held against that node until the node has measured them.
 *
 * A node's score changes only when its agent publishes, so without this
 * every pod scheduled between two messages sees the same best node and
 * lands on it (the herd measured by nodescore-sim, docs/sim.md). Trimaran
 * and Koordinator solve the same problem by adding pods bound since the
 * last metrics; the extender does not see bindings, so it assumes the pod
 * goes to the node it ranked first. A wrong guess costs that node a
 * little rank until its next message: the hold is a hint, never a filter
 * on its own. */
#ifndef NODESCORE_RESERVE_H
#define NODESCORE_RESERVE_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/table.h"

struct ns_reserve;

/* slots: reservations held at once (rounded up to a power of two, 64 ..
 * 1,048,576); a full probe window replaces its oldest hold. settle_ms: a
 * hold ends when the node sends a message timestamped at least settle_ms
 * after the reservation (the pod has started and the agent measured it).
 * hold_ms: a hold ends after this long whatever the node sends (a node
 * that went silent is stale by then). NULL on bad arguments or no memory. */
struct ns_reserve *ns_reserve_new(uint32_t slots, uint64_t settle_ms, uint64_t hold_ms);
void ns_reserve_free(struct ns_reserve *r);

/* Held while looking up or adding; the verbs take it once per request,
 * and only when some hold is active (ns_reserve_active). */
void ns_reserve_lock(struct ns_reserve *r);
void ns_reserve_unlock(struct ns_reserve *r);
uint32_t ns_reserve_active(const struct ns_reserve *r);

/* What is held against a node whose latest data is d. Drops the hold
 * (and returns 0) once d shows a message after it settled or it is older
 * than hold_ms (monotonic). Returns 1 and fills cpu_m/mem_mib, or 0.
 * Caller holds the lock. */
int ns_reserve_get(struct ns_reserve *r, const char *name, size_t len, uint32_t hash,
		   const struct ns_node_data *d, uint64_t now_mono_ms, uint32_t *cpu_m,
		   uint32_t *mem_mib);

/* Adds a pod's request to the node's hold (a new hold if none). now_ms is
 * the wall clock: the hold settles on a message the node timestamps
 * settle_ms later, so node and extender clocks must agree (as the replay
 * window already requires). Returns 0,
 * or -ENOSPC when the probe window was full of live holds and the oldest
 * was replaced. Caller holds the lock. */
int ns_reserve_add(struct ns_reserve *r, const char *name, size_t len, uint32_t hash,
		   uint64_t now_ms, uint64_t now_mono_ms, uint32_t cpu_m, uint32_t mem_mib);

/* Counters for /metrics: holds made (one per reserving request), ended by
 * a newer message, ended by age, replaced while live. */
struct ns_reserve_stats {
	uint64_t made, settled, expired, replaced;
};
void ns_reserve_stats(const struct ns_reserve *r, struct ns_reserve_stats *out);

#endif
