/* SPDX-License-Identifier: MIT */
/* Minimal HTTP/1.1 keep-alive client connection for nodescore-loadgen. */
#ifndef NODESCORE_LOADGEN_HTTP_H
#define NODESCORE_LOADGEN_HTTP_H

#include <stddef.h>

/* Longest response head (status line + headers) accepted. */
#define LG_HEAD_MAX 16384

struct lg_conn {
	int fd;
	char buf[65536]; /* read buffer; bytes [off, len) are unread */
	size_t off, len;
};

struct lg_response {
	int status;
	size_t body_len;
	int close;  /* server asked to close the connection */
	char *save; /* when non-NULL on entry: receives up to save_cap body bytes */
	size_t save_cap, saved;
};

/* Connects to host:port (numeric IPv4/IPv6) with TCP_NODELAY and a receive
 * timeout of timeout_ms. Returns 0 or -errno. */
int lg_connect(struct lg_conn *c, const char *host, const char *port, int timeout_ms);

/* Sends the whole request (head and body); returns 0 or -errno. */
int lg_send(struct lg_conn *c, const char *head, size_t head_len, const char *body,
	    size_t body_len);

/* Reads one response: status line, headers, body by Content-Length or
 * chunked encoding. The body is discarded except what fits in r->save.
 * Returns 0, -EPROTO for a malformed response, -ETIMEDOUT, or -errno. */
int lg_read_response(struct lg_conn *c, struct lg_response *r);

void lg_close(struct lg_conn *c);

#endif
