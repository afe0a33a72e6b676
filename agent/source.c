// SPDX-License-Identifier: MIT
/* Sampler plumbing: bounded reads, number parsers, health with rate-limited logs. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nodescore/log.h"
#include "nodescore/source.h"

void ns_src_health_init(struct ns_src_health *h, const char *name)
{
	memset(h, 0, sizeof(*h));
	h->name = name;
}

void ns_src_ok(struct ns_src_health *h)
{
	if (h->state == NS_SRC_STATE_FAILING)
		log_info("sampler", "source recovered source=%s", h->name);
	h->state = NS_SRC_STATE_OK;
	h->err = 0;
	h->ok++;
}

int ns_src_fail(struct ns_src_health *h, int err, const char *path, const char *why)
{
	if (err >= 0)
		err = -EINVAL;
	if (h->state != NS_SRC_STATE_FAILING || h->err != err)
		log_warning("sampler",
			    "source failing, skipping its values until it recovers source=%s "
			    "path=%s reason=\"%s\" error=\"%s\"",
			    h->name, path ? path : "-", why ? why : "-", strerror(-err));
	h->state = NS_SRC_STATE_FAILING;
	h->err = err;
	h->failures++;
	return err;
}

void ns_src_unavailable(struct ns_src_health *h, const char *why)
{
	if (h->state != NS_SRC_STATE_UNAVAILABLE)
		log_info("sampler", "source unavailable on this node source=%s reason=\"%s\"",
			 h->name, why);
	h->state = NS_SRC_STATE_UNAVAILABLE;
	h->err = 0;
}

const char *ns_src_read_reason(int err)
{
	switch (err) {
	case -EFBIG:
		return "file larger than the read buffer";
	case -EILSEQ:
		return "binary content (NUL byte)";
	case -ENODATA:
		return "empty file";
	case -ENOENT:
		return "file missing";
	default:
		return "cannot read";
	}
}

const char *ns_src_state_name(enum ns_src_state st)
{
	static const char *const names[] = {
	    [NS_SRC_STATE_UNKNOWN] = "unknown",
	    [NS_SRC_STATE_OK] = "ok",
	    [NS_SRC_STATE_FAILING] = "failing",
	    [NS_SRC_STATE_UNAVAILABLE] = "unavailable",
	};
	if ((unsigned)st >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[st];
}

int ns_src_path(char *out, size_t cap, const char *root, const char *abs)
{
	size_t rl = root ? strlen(root) : 0;
	int n;

	/* "/" and "" mean the real root: avoid "//proc" in log lines. */
	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	n = snprintf(out, cap, "%.*s%s%s", (int)rl, rl ? root : "", *abs == '/' || !*abs ? "" : "/",
		     abs);
	if (n < 0 || (size_t)n >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int ns_src_read(const char *path, char *buf, size_t cap, size_t *len, int prefix_ok, int *truncated)
{
	return ns_src_readat(AT_FDCWD, path, buf, cap, len, prefix_ok, truncated);
}

int ns_src_readat(int dirfd, const char *path, char *buf, size_t cap, size_t *len, int prefix_ok,
		  int *truncated)
{
	size_t n = 0;
	ssize_t r;
	int fd, err = 0;

	*len = 0;
	if (truncated)
		*truncated = 0;
	if (cap < 2)
		return -EINVAL;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	/* /proc files report size 0: read until EOF, never trust st_size. */
	while (n < cap - 1) {
		r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!err && n == cap - 1) {
		char extra;

		do
			r = read(fd, &extra, 1);
		while (r < 0 && errno == EINTR);
		if (r > 0) {
			if (!prefix_ok)
				err = -EFBIG;
			else if (truncated)
				*truncated = 1;
		}
	}
	close(fd);
	if (err)
		return err;
	if (n == 0)
		return -ENODATA;
	if (memchr(buf, '\0', n))
		return -EILSEQ;
	buf[n] = '\0';
	*len = n;
	return 0;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

int ns_src_u64(const char **pp, const char *end, uint64_t *out)
{
	const char *p = skip_blanks(*pp, end);
	uint64_t v = 0;
	int digits = 0;

	while (p < end && *p >= '0' && *p <= '9') {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
		p++;
		digits++;
	}
	if (!digits)
		return -EINVAL;
	*out = v;
	*pp = p;
	return 0;
}

int ns_src_double(const char **pp, const char *end, double *out)
{
	const char *p = skip_blanks(*pp, end);
	double v = 0, scale = 1;
	int digits = 0, neg = 0;

	/* Hand-rolled rather than strtod: no locale, no "inf"/"nan"/hex, and it
	 * never looks past end. /proc prints plain decimals. */
	if (p < end && *p == '-') {
		neg = 1;
		p++;
	}
	while (p < end && *p >= '0' && *p <= '9' && digits < 18) {
		v = v * 10 + (*p++ - '0');
		digits++;
	}
	if (p < end && *p >= '0' && *p <= '9')
		return -EINVAL; /* more digits than a /proc value ever has */
	if (p < end && *p == '.') {
		p++;
		while (p < end && *p >= '0' && *p <= '9') {
			if (scale > 1e-15) {
				scale /= 10;
				v += (*p - '0') * scale;
			}
			p++;
			digits++;
		}
	}
	if (!digits || !isfinite(v))
		return -EINVAL;
	*out = neg ? -v : v;
	*pp = p;
	return 0;
}

void ns_src_next_line(const char **p, const char *end)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	*p = nl ? nl + 1 : end;
}

int ns_src_starts(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);

	return (size_t)(end - p) >= n && memcmp(p, w, n) == 0;
}
