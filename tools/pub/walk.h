/* SPDX-License-Identifier: MIT */
/* Fake node load for nodescore-pub: a seeded random walk per node. */
#ifndef NODESCORE_PUB_WALK_H
#define NODESCORE_PUB_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/wire.h"

struct pub_walk;

/* n nodes of node_cpu millicores and node_mem MiB, reproducible from seed.
 * Returns NULL when out of memory. */
struct pub_walk *pub_walk_new(size_t n, uint64_t seed, uint32_t node_cpu, uint32_t node_mem);

/* Advances node i by one round and fills every measured field of m (flags,
 * score, anomaly, utilisation, forecasts, headroom, pods, rtt); leaves the
 * name, nonce, seq and timestamp alone. */
void pub_walk_step(struct pub_walk *w, size_t i, struct ns_msg *m);

void pub_walk_free(struct pub_walk *w);

#endif
