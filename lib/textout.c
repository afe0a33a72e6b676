// SPDX-License-Identifier: MIT
/* Bounded printf-append into a fixed buffer (include/nodescore/textout.h). */
#include <stdarg.h>
#include <stdio.h>

#include "nodescore/textout.h"

void ns_textout_printf(struct ns_textout *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = 1;
		return;
	}
	o->len += (size_t)n;
}
