/* SPDX-License-Identifier: MIT */
/* For fuzz targets of files that end in a little-endian zlib CRC-32 of the
 * bytes before it (iforest, qtable). Header-only. */
#ifndef NODESCORE_FUZZ_CRC_REPAIR_H
#define NODESCORE_FUZZ_CRC_REPAIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* Runs one(data) and, for 8..max bytes, one() again on a copy whose last
 * four bytes are the CRC-32 of the rest: random bytes almost never carry a
 * valid CRC, and this way the checks behind it get fuzzed too. Returns 0
 * for LLVMFuzzerTestOneInput. */
static inline int fuzz_with_crc_repaired(const uint8_t *data, size_t size, size_t max,
					 void (*one)(const uint8_t *data, size_t size))
{
	uint8_t *fixed;
	uint32_t c;

	one(data, size);
	if (size < 8 || size > max)
		return 0;
	fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	c = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
	for (int i = 0; i < 4; i++)
		fixed[size - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
	one(fixed, size);
	free(fixed);
	return 0;
}

#endif
