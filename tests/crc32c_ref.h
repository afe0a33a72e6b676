/* SPDX-License-Identifier: MIT */
/* Bitwise CRC-32C (Castagnoli, reflected): a reference independent of the
 * table-driven one in lib/, for tests and fuzzers that build or check ring
 * files byte by byte. Header-only. */
#ifndef NODESCORE_CRC32C_REF_H
#define NODESCORE_CRC32C_REF_H

#include <stddef.h>
#include <stdint.h>

static inline uint32_t crc32c_ref(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--) {
		c ^= *p++;
		for (int i = 0; i < 8; i++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

#endif
