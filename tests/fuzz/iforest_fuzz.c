// SPDX-License-Identifier: MIT
/* libFuzzer target: the isolation forest model loader, plus scoring whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "nodescore/iforest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const uint8_t *data, size_t size)
{
	struct ns_iforest *f = NULL;
	char err[256];
	float x[NS_IFOREST_MAX_FEATURES];
	double s, contrib[NS_IFOREST_MAX_FEATURES];
	uint8_t *buf = NULL;
	size_t len = 0;
	int top;

	if (ns_iforest_deserialize(data, size, &f, err, sizeof(err)) != 0)
		return;
	memset(x, 0, sizeof(x));
	/* An accepted model must score, explain and re-serialise to the same bytes. */
	if (ns_iforest_score(f, x, ns_iforest_n_features(f), &s) || !(s > 0 && s <= 1))
		__builtin_trap();
	if (ns_iforest_explain(f, x, ns_iforest_n_features(f), &s, &top, contrib))
		__builtin_trap();
	if (ns_iforest_serialize(f, &buf, &len) == 0) {
		if (len != size || memcmp(buf, data, size) != 0)
			__builtin_trap();
		free(buf);
	}
	ns_iforest_free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	one(data, size);
	/* Random bytes almost never carry a valid CRC: also try the input with
	 * its checksum repaired so the structural checks behind it get fuzzed. */
	if (size < 8 || size > NS_IFOREST_FILE_MAX)
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
