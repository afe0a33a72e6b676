/* SPDX-License-Identifier: MIT */
/* Growing byte buffer for HTTP replies: amortised appends, one allocation
 * per doubling, a sticky out-of-memory flag instead of per-call checks. */
#ifndef NODESCORE_BUF_H
#define NODESCORE_BUF_H

#include <stddef.h>

struct ns_buf {
	char *p;
	size_t len, cap;
	int oom; /* set once an append failed; later appends are no-ops */
};

/* Makes room for n more bytes; returns 0 or -ENOMEM (and sets oom). */
int ns_buf_reserve(struct ns_buf *b, size_t n);
void ns_buf_put(struct ns_buf *b, const void *s, size_t n);
void ns_buf_puts(struct ns_buf *b, const char *s);
void ns_buf_putc(struct ns_buf *b, char c);
void ns_buf_put_u64(struct ns_buf *b, unsigned long long v);
/* Writes v in decimal to dst (room for 20 bytes, no NUL); returns the
 * number of digits. */
size_t ns_fmt_u64(char *dst, unsigned long long v);
void ns_buf_printf(struct ns_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes added; ", \ and controls escaped). */
void ns_buf_put_json_str(struct ns_buf *b, const char *s, size_t n);
/* Hands the bytes to the caller (who frees them) and resets b. */
char *ns_buf_take(struct ns_buf *b, size_t *len);
void ns_buf_free(struct ns_buf *b);

#endif
