// SPDX-License-Identifier: MIT
/* libFuzzer target: ns_wire_decode on arbitrary and on re-signed bytes, and
 * the encode/decode round trip on messages built from the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "nodescore/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seeds in corpus/wire_fuzz/ are signed with this key. */
static const uint8_t key[32] = "nodescore-fuzz-key-0123456789abc";

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static int in_range(const struct ns_msg *m)
{
	return m->score <= NS_SCORE_MAX && m->anomaly <= NS_PERMILLE && m->cpu_now <= NS_PERMILLE &&
	       m->mem_now <= NS_PERMILLE && m->cpu_peak_fc <= NS_PERMILLE &&
	       m->mem_peak_fc <= NS_PERMILLE;
}

/* A decoded message re-encodes to exactly the bytes it came from. */
static void check_decoded(const uint8_t *buf, size_t len, const struct ns_msg *m)
{
	uint8_t again[NS_WIRE_MAX_LEN];
	int n;

	REQUIRE(in_range(m));
	REQUIRE(m->name_len == strlen(m->name));
	REQUIRE(ns_wire_name_valid(m->name, m->name_len));
	n = ns_wire_encode(m, key, sizeof(key), again, sizeof(again));
	REQUIRE(n > 0 && (size_t)n == len && memcmp(again, buf, len) == 0);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

/* Builds a message from 44 input bytes plus a name, encodes, decodes. */
static void round_trip(const uint8_t *d, size_t size)
{
	struct ns_msg m, out;
	uint8_t buf[NS_WIRE_MAX_LEN];
	size_t nl;
	int n;

	if (size < 44)
		return;
	memset(&m, 0, sizeof(m));
	m.flags = d[0];
	m.boot_nonce = get32(d + 1);
	m.seq = get32(d + 5);
	m.ts_ms = (uint64_t)get32(d + 9) << 32 | get32(d + 13);
	/* Mostly in range, sometimes not, so both encode outcomes are reached. */
	m.score = get16(d + 17) % 1100;
	m.anomaly = get16(d + 19) % 1100;
	m.cpu_now = get16(d + 21) % 1100;
	m.mem_now = get16(d + 23) % 1100;
	m.cpu_peak_fc = get16(d + 25) % 1100;
	m.mem_peak_fc = get16(d + 27) % 1100;
	m.free_millicores = get32(d + 29);
	m.free_mib = get32(d + 33);
	m.pods = get16(d + 37);
	m.rtt_p99_us = get32(d + 39);
	nl = size - 43 > NS_WIRE_NAME_MAX + 1 ? NS_WIRE_NAME_MAX + 1 : size - 43;
	memcpy(m.name, d + 43, nl > NS_WIRE_NAME_MAX ? NS_WIRE_NAME_MAX : nl);
	m.name[nl > NS_WIRE_NAME_MAX ? NS_WIRE_NAME_MAX : nl] = '\0';

	n = ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf));
	if (n < 0) {
		REQUIRE(!in_range(&m) || !ns_wire_name_valid(m.name, strlen(m.name)));
		return;
	}
	REQUIRE(in_range(&m) && ns_wire_name_valid(m.name, strlen(m.name)));
	REQUIRE(ns_wire_decode(buf, (size_t)n, key, sizeof(key), &out) == NS_WIRE_OK);
	REQUIRE(out.flags == m.flags && out.boot_nonce == m.boot_nonce && out.seq == m.seq &&
		out.ts_ms == m.ts_ms && out.score == m.score && out.anomaly == m.anomaly &&
		out.cpu_now == m.cpu_now && out.mem_now == m.mem_now &&
		out.cpu_peak_fc == m.cpu_peak_fc && out.mem_peak_fc == m.mem_peak_fc &&
		out.free_millicores == m.free_millicores && out.free_mib == m.free_mib &&
		out.pods == m.pods && out.rtt_p99_us == m.rtt_p99_us &&
		strcmp(out.name, m.name) == 0);
	/* Any other key fails the MAC. */
	{
		uint8_t other[32];
		memcpy(other, key, sizeof(other));
		other[d[0] % 32] ^= (uint8_t)(1u << (d[1] % 8));
		REQUIRE(ns_wire_decode(buf, (size_t)n, other, sizeof(other), &out) ==
			NS_WIRE_ERR_MAC);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_msg m;
	uint8_t *copy;

	/* 1: raw bytes; a copy of exactly size bytes lets ASan catch any over-read. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (ns_wire_decode(copy, size, key, sizeof(key), &m) == NS_WIRE_OK)
		check_decoded(copy, size, &m);

	/* 2: the same bytes with a valid MAC, as a key holder sending garbage
	 * would: reaches the name and range checks behind the MAC. */
	if (size >= NS_WIRE_MIN_LEN && size <= NS_WIRE_MAX_LEN) {
		uint8_t full[crypto_auth_hmacsha256_BYTES];
		enum ns_wire_status st;

		crypto_auth_hmacsha256(full, copy, size - NS_WIRE_MAC_LEN, key);
		memcpy(copy + size - NS_WIRE_MAC_LEN, full, NS_WIRE_MAC_LEN);
		st = ns_wire_decode(copy, size, key, sizeof(key), &m);
		REQUIRE(st < NS_WIRE_STATUS_COUNT && st != NS_WIRE_ERR_MAC);
		if (st == NS_WIRE_OK)
			check_decoded(copy, size, &m);
	}
	free(copy);

	/* 3: round trip of a message built from the input. */
	round_trip(data, size);
	return 0;
}
