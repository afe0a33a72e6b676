/* SPDX-License-Identifier: MIT */
/* Fixture trees for sampler tests: a temp root, files written into it, stderr
 * captured so tests can assert on the log lines. Header-only. */
#ifndef NODESCORE_FIXTURE_H
#define NODESCORE_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FX_FN static __attribute__((unused))

static char fx_root[256];

/* snprintf that aborts on truncation: a cut fixture path is a test bug. */
__attribute__((format(printf, 3, 4))) FX_FN void fx_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap)
		abort();
}

/* Creates a fresh temp root; returns it. Aborts on failure: no test can run. */
FX_FN const char *fx_new(void)
{
	snprintf(fx_root, sizeof(fx_root), "/tmp/nodescore-fx.XXXXXX");
	if (!mkdtemp(fx_root)) {
		perror("mkdtemp");
		abort();
	}
	return fx_root;
}

FX_FN int fx_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Absolute path of rel below the fixture root; four live at a time. */
FX_FN const char *fx_at(const char *rel)
{
	static char bufs[4][600];
	static int next;
	char *p = bufs[next++ % 4];

	fx_fmt(p, sizeof(bufs[0]), "%s/%s", fx_root, rel);
	return p;
}

FX_FN void fx_free(void)
{
	if (fx_root[0])
		nftw(fx_root, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fx_root[0] = '\0';
}

/* mkdir -p root/rel */
FX_FN void fx_mkdir(const char *rel)
{
	char p[1024];

	if (snprintf(p, sizeof(p), "%s/%s", fx_root, rel) >= (int)sizeof(p))
		abort();
	for (char *c = p + strlen(fx_root) + 1; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			mkdir(p, 0755);
			*c = '/';
		}
	}
	mkdir(p, 0755);
}

/* Writes len bytes to root/rel (parents created), replacing it atomically. */
FX_FN void fx_write_bytes(const char *rel, const void *buf, size_t len)
{
	char p[1024], tmp[1100], dir[1024];
	char *slash;
	int fd;

	if (snprintf(dir, sizeof(dir), "%s", rel) >= (int)sizeof(dir))
		abort();
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		fx_mkdir(dir);
	}
	if (snprintf(p, sizeof(p), "%s/%s", fx_root, rel) >= (int)sizeof(p) ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", p) >= (int)sizeof(tmp))
		abort();
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len || close(fd) != 0 || rename(tmp, p)) {
		perror(p);
		abort();
	}
}

FX_FN void fx_write(const char *rel, const char *text)
{
	fx_write_bytes(rel, text, strlen(text));
}

FX_FN void fx_remove(const char *rel)
{
	char p[1024];

	if (snprintf(p, sizeof(p), "%s/%s", fx_root, rel) >= (int)sizeof(p))
		abort();
	nftw(p, fx_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Entries in dir, "." and ".." aside; -1 when it cannot be opened. */
FX_FN int fx_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* size bytes of text lines (no NUL), starting with prefix. */
FX_FN void fx_write_huge(const char *rel, const char *prefix, size_t size)
{
	char *b = malloc(size);
	size_t pl = strlen(prefix);

	if (!b)
		abort();
	for (size_t i = 0; i < size; i++)
		b[i] = (i % 64 == 63) ? '\n' : '7';
	memcpy(b, prefix, pl < size ? pl : size);
	fx_write_bytes(rel, b, size);
	free(b);
}

/* Binary garbage with NUL bytes and high bytes, deterministic. */
FX_FN void fx_write_garbage(const char *rel, size_t size)
{
	unsigned char *b = malloc(size);
	uint32_t x = 2463534242u;

	if (!b)
		abort();
	for (size_t i = 0; i < size; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (unsigned char)x;
	}
	b[size / 2] = 0;
	fx_write_bytes(rel, b, size);
	free(b);
}

/* stderr capture: everything logged between start and stop lands in fx_log. */
static char fx_log[65536];
static int fx_saved_stderr = -1;
static char fx_log_path[64];

FX_FN void fx_capture_start(void)
{
	int fd;

	snprintf(fx_log_path, sizeof(fx_log_path), "/tmp/nodescore-fxlog.XXXXXX");
	fd = mkstemp(fx_log_path);
	if (fd < 0)
		abort();
	fflush(stderr);
	fx_saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

FX_FN const char *fx_capture_stop(void)
{
	ssize_t n;
	int fd;

	fflush(stderr);
	dup2(fx_saved_stderr, 2);
	close(fx_saved_stderr);
	fd = open(fx_log_path, O_RDONLY);
	n = fd >= 0 ? read(fd, fx_log, sizeof(fx_log) - 1) : -1;
	fx_log[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	unlink(fx_log_path);
	/* Echo so a failing test still shows what was logged. */
	fputs(fx_log, stderr);
	return fx_log;
}

/* Occurrences of needle in hay. */
FX_FN int fx_count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

#endif
