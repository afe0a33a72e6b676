/* SPDX-License-Identifier: MIT */
/* History interval accumulator: the mean of each metric over one
 * --history-interval, which becomes one record of the history ring. */
#ifndef NODESCORE_HISTORY_H
#define NODESCORE_HISTORY_H

#include <stdint.h>

#include "nodescore/sample.h"

struct ns_history_acc {
	double sum[NS_METRIC_COUNT];
	uint32_t n[NS_METRIC_COUNT]; /* samples where the metric was measured */
	uint32_t health;	     /* AND of the health bits of every sample */
	uint32_t count;		     /* samples added */
};

void ns_history_reset(struct ns_history_acc *h);

void ns_history_add(struct ns_history_acc *h, const struct ns_sample *s);

/* Writes the interval mean (NaN where a metric was never measured; health is
 * the AND over the interval, so one failing tick shows) stamped ts_ms.
 * Returns 0, or -ENODATA when nothing was added. */
int ns_history_mean(const struct ns_history_acc *h, uint64_t ts_ms, struct ns_sample *out);

#endif
