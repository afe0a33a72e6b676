// SPDX-License-Identifier: MIT
/* Growing byte buffer: the extender builds its HTTP replies in it, nodescore-collect
 * its Prometheus queries and responses. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/buf.h"

int ns_buf_reserve(struct ns_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -ENOMEM;
	if (b->cap - b->len > n)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap - b->len <= n) {
		if (cap > SIZE_MAX / 2) {
			b->oom = 1;
			return -ENOMEM;
		}
		cap *= 2;
	}
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return -ENOMEM;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void ns_buf_put(struct ns_buf *b, const void *s, size_t n)
{
	if (ns_buf_reserve(b, n) < 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ns_buf_puts(struct ns_buf *b, const char *s)
{
	ns_buf_put(b, s, strlen(s));
}

void ns_buf_putc(struct ns_buf *b, char c)
{
	ns_buf_put(b, &c, 1);
}

size_t ns_fmt_u64(char *dst, unsigned long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(dst, tmp + i, sizeof(tmp) - i);
	return sizeof(tmp) - i;
}

void ns_buf_put_u64(struct ns_buf *b, unsigned long long v)
{
	char tmp[24];

	ns_buf_put(b, tmp, ns_fmt_u64(tmp, v));
}

void ns_buf_printf(struct ns_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || ns_buf_reserve(b, (size_t)n + 1) < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void ns_buf_put_json_str(struct ns_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	ns_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			ns_buf_put(b, e, 2);
		} else if (c < 0x20) {
			char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			ns_buf_put(b, e, 6);
		} else {
			ns_buf_putc(b, (char)c);
		}
	}
	ns_buf_putc(b, '"');
}

char *ns_buf_take(struct ns_buf *b, size_t *len)
{
	char *p = b->p;

	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void ns_buf_free(struct ns_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->oom = 0;
}
