/* SPDX-License-Identifier: MIT */
/* A node as the extender tests describe it (the cluster the fixtures under
 * tests/fixtures/ describe), and the score message its agent sends.
 * Header-only. */
#ifndef NODESCORE_NODESPEC_H
#define NODESCORE_NODESPEC_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nodescore/wire.h"

struct node_spec {
	const char *name;
	uint8_t flags;
	uint16_t score, anomaly, cpu_peak, mem_peak;
	uint32_t free_m, free_mib, rtt;
	uint64_t recv_mono; /* when the extender received it (extapi_test's table) */
};

/* The message s's agent sends at ts (its clock); boot nonce and seq 0. */
static inline void node_spec_msg(const struct node_spec *s, uint64_t ts, struct ns_msg *m)
{
	memset(m, 0, sizeof(*m));
	snprintf(m->name, sizeof(m->name), "%s", s->name);
	m->flags = s->flags;
	m->ts_ms = ts;
	m->score = s->score;
	m->anomaly = s->anomaly;
	m->cpu_peak_fc = s->cpu_peak;
	m->mem_peak_fc = s->mem_peak;
	m->free_millicores = s->free_m;
	m->free_mib = s->free_mib;
	m->rtt_p99_us = s->rtt;
}

#endif
