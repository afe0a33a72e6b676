/* SPDX-License-Identifier: MIT */
/* Bounded text output into a caller's buffer: printf appends until the
 * buffer would overflow, then records the overflow and writes no more, so
 * a renderer checks once at the end (the agent's /metrics, procmetrics). */
#ifndef NODESCORE_TEXTOUT_H
#define NODESCORE_TEXTOUT_H

#include <stddef.h>

struct ns_textout {
	char *buf;
	size_t cap, len;
	int overflow;
};

__attribute__((format(printf, 2, 3))) void ns_textout_printf(struct ns_textout *o, const char *fmt,
							     ...);

#endif
