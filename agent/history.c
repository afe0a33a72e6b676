// SPDX-License-Identifier: MIT
/* History interval accumulator (mean per metric, NaN-aware). */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "nodescore/history.h"

void ns_history_reset(struct ns_history_acc *h)
{
	memset(h, 0, sizeof(*h));
	h->health = UINT32_MAX;
}

void ns_history_add(struct ns_history_acc *h, const struct ns_sample *s)
{
	for (int i = 0; i < NS_METRIC_COUNT; i++) {
		if (isnan(s->v[i]) || isinf(s->v[i]))
			continue;
		h->sum[i] += s->v[i];
		h->n[i]++;
	}
	h->health &= s->health;
	h->count++;
}

int ns_history_mean(const struct ns_history_acc *h, uint64_t ts_ms, struct ns_sample *out)
{
	ns_sample_init(out, ts_ms);
	if (h->count == 0)
		return -ENODATA;
	for (int i = 0; i < NS_METRIC_COUNT; i++)
		if (h->n[i])
			out->v[i] = (float)(h->sum[i] / h->n[i]);
	out->health = h->health;
	return 0;
}
