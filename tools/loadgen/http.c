// SPDX-License-Identifier: MIT
/* HTTP/1.1 client side for the load generator: send, read one response. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "http.h"

int lg_connect(struct lg_conn *c, const char *host, const char *port, int timeout_ms)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *ai;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int one = 1, rc;

	c->fd = -1;
	c->off = c->len = 0;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0)
		return -EINVAL;
	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		return rc;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		rc = -errno;
		freeaddrinfo(ai);
		lg_close(c);
		return rc;
	}
	freeaddrinfo(ai);
	return 0;
}

int lg_send(struct lg_conn *c, const char *head, size_t head_len, const char *body, size_t body_len)
{
	struct iovec iov[2] = {{(void *)head, head_len}, {(void *)body, body_len}};
	struct iovec *v = iov;
	int nv = body_len ? 2 : 1;

	while (nv > 0) {
		ssize_t n = writev(c->fd, v, nv);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		while (nv > 0 && (size_t)n >= v->iov_len) {
			n -= (ssize_t)v->iov_len;
			v++;
			nv--;
		}
		if (nv > 0) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* Makes at least one more byte available; 0, -EPIPE at EOF, or -errno. */
static int fill(struct lg_conn *c)
{
	ssize_t n;

	if (c->off == c->len)
		c->off = c->len = 0;
	if (c->len == sizeof(c->buf)) {
		if (c->off == 0)
			return -EPROTO;
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	do
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? -ETIMEDOUT : -errno;
	if (n == 0)
		return -EPIPE;
	c->len += (size_t)n;
	return 0;
}

/* Consumes up to want body bytes from the buffer/socket into r. */
static int take_body(struct lg_conn *c, struct lg_response *r, size_t want)
{
	while (want > 0) {
		size_t k;
		int rc;

		if (c->off == c->len && (rc = fill(c)) < 0)
			return rc;
		k = c->len - c->off;
		if (k > want)
			k = want;
		if (r->save && r->saved < r->save_cap) {
			size_t s = r->save_cap - r->saved < k ? r->save_cap - r->saved : k;
			memcpy(r->save + r->saved, c->buf + c->off, s);
			r->saved += s;
		}
		c->off += k;
		r->body_len += k;
		want -= k;
	}
	return 0;
}

/* Reads one CRLF-terminated line (at most cap-1 bytes) from the connection. */
static int read_line(struct lg_conn *c, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->buf + c->off, '\n', c->len - c->off);
		int rc;

		if (nl) {
			size_t n = (size_t)(nl - (c->buf + c->off));
			size_t m = n > 0 && nl[-1] == '\r' ? n - 1 : n;

			if (m >= cap)
				return -EPROTO;
			memcpy(out, c->buf + c->off, m);
			out[m] = '\0';
			c->off += n + 1;
			return 0;
		}
		if (c->len - c->off >= cap)
			return -EPROTO;
		if ((rc = fill(c)) < 0)
			return rc;
	}
}

int lg_read_response(struct lg_conn *c, struct lg_response *r)
{
	char line[1024];
	long long clen = -1;
	int chunked = 0, rc, nhdr = 0;

	r->status = 0;
	r->body_len = 0;
	r->close = 0;
	r->saved = 0;
	if ((rc = read_line(c, line, sizeof(line))) < 0)
		return rc;
	if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12)
		return -EPROTO;
	r->status = atoi(line + 9);
	if (line[7] == '0')
		r->close = 1;
	for (;;) {
		if ((rc = read_line(c, line, sizeof(line))) < 0)
			return rc;
		if (!line[0])
			break;
		if (++nhdr > 100)
			return -EPROTO;
		if (strncasecmp(line, "content-length:", 15) == 0) {
			char *end;
			clen = strtoll(line + 15, &end, 10);
			if (clen < 0)
				return -EPROTO;
		} else if (strncasecmp(line, "transfer-encoding:", 18) == 0) {
			chunked = strstr(line + 18, "chunked") != NULL;
		} else if (strncasecmp(line, "connection:", 11) == 0) {
			r->close = strcasestr(line + 11, "close") != NULL;
		}
	}
	if (chunked) {
		for (;;) {
			char *end;
			unsigned long long n;

			if ((rc = read_line(c, line, sizeof(line))) < 0)
				return rc;
			n = strtoull(line, &end, 16);
			if (end == line || n > (1ull << 32))
				return -EPROTO;
			if (n == 0)
				break;
			if ((rc = take_body(c, r, (size_t)n)) < 0)
				return rc;
			if ((rc = read_line(c, line, sizeof(line))) < 0 || line[0])
				return rc < 0 ? rc : -EPROTO;
		}
		/* Trailers, then the blank line. */
		do {
			if ((rc = read_line(c, line, sizeof(line))) < 0)
				return rc;
		} while (line[0]);
		return 0;
	}
	if (clen < 0) {
		/* Body until close: read it all, the connection is done. */
		r->close = 1;
		for (;;) {
			rc = take_body(c, r, sizeof(c->buf));
			if (rc == -EPIPE)
				return 0;
			if (rc < 0)
				return rc;
		}
	}
	return take_body(c, r, (size_t)clen);
}

void lg_close(struct lg_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->off = c->len = 0;
}
