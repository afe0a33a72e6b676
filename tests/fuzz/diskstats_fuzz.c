// SPDX-License-Identifier: MIT
/* libFuzzer target: the /proc/diskstats parser on arbitrary bytes. */
#include <stddef.h>
#include <stdint.h>

#include "nodescore/disklat.h"
#include "nodescore/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_diskstats_totals t;

	/* Malformed input is the point here: keep the WARNING lines out of the way. */
	ns_log_max = NS_LOG_ERROR;
	if (ns_diskstats_parse((const char *)data, size, &t) == 0 && t.ndisks > size)
		__builtin_trap(); /* a disk per byte or fewer is impossible */
	return 0;
}
