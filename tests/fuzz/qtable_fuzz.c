// SPDX-License-Identifier: MIT
/* libFuzzer target: the Q-table file loader, plus lookups in whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/qtable.h"
#include "crc_repair.h"

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
	return fuzz_with_crc_repaired(data, size, 1u << 20, one);
}
