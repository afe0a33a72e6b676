/* SPDX-License-Identifier: MIT */
/* The extender verbs' test fixture, shared by extapi_test and shadow_test:
 * the key, a fixed "now", the TTL, the node table, and ingest_msg(), which
 * signs a message as an agent would and stores it in the table. Header-only,
 * for one test file each. */
#ifndef NODESCORE_EXTFIXTURE_H
#define NODESCORE_EXTFIXTURE_H

#include <errno.h>
#include <stdint.h>

#include "nodescore/table.h"
#include "nodescore/wire.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
#define NOW_MS 1790000000000ull
#define NOW_MONO 100000ull
#define NOW ((struct ns_extapi_now){NOW_MS, NOW_MONO})
#define TTL 6000ull

static struct ns_table *table;
static uint32_t seq;

/* Stores m in table as sent with boot nonce 1 and the next seq, received at
 * recv_ms (wall clock) and recv_mono; 0 when the table accepted it. */
static int ingest_msg(struct ns_msg *m, uint64_t recv_ms, uint64_t recv_mono)
{
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n;

	m->boot_nonce = 1;
	m->seq = ++seq;
	n = ns_wire_encode_node(m, key, sizeof(key), buf, sizeof(buf));
	if (n < 0)
		return n;
	return ns_table_ingest(table, buf, (size_t)n, key, sizeof(key), recv_ms, recv_mono,
			       30000) == NS_WIRE_OK
		   ? 0
		   : -EINVAL;
}

#endif
