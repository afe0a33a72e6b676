// SPDX-License-Identifier: MIT
/* libFuzzer target: the isolation forest model loader, plus scoring whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/iforest.h"
#include "crc_repair.h"

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
	return fuzz_with_crc_repaired(data, size, NS_IFOREST_FILE_MAX, one);
}
