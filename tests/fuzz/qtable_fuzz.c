// SPDX-License-Identifier: MIT
/* libFuzzer target: the Q-table file loader, plus lookups in whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "nodescore/qtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size)
{
	struct ns_qtable t, sentinel;
	char err[256];
	uint8_t *buf = NULL;
	size_t len = 0;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	t = sentinel;
	if (ns_qtable_deserialize(data, size, &t, err, sizeof(err)) != 0) {
		/* A refused file must leave the caller's table as it was. */
		if (memcmp(&t, &sentinel, sizeof(t)) != 0 || !err[0])
			__builtin_trap();
		return;
	}
	/* An accepted table gives values in 0..1 and re-serialises to the same bytes. */
	for (uint32_t s = 0; s < NS_Q_STATES; s++) {
		double v = ns_qtable_value(&t, s);

		if (!(v >= 0 && v <= 1))
			__builtin_trap();
	}
	if (ns_qtable_serialize(&t, &buf, &len) != 0 || len != size || memcmp(buf, data, size))
		__builtin_trap();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	one(data, size);
	/* Random bytes almost never carry a valid CRC: also try the input with
	 * its checksum repaired so the checks behind it get fuzzed. */
	if (size < 8 || size > (1u << 20))
		return 0;
	fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	{
		uint32_t c = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
		for (int i = 0; i < 4; i++)
			fixed[size - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
	}
	one(fixed, size);
	free(fixed);
	return 0;
}
