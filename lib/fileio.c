// SPDX-License-Identifier: MIT
/* Whole-file I/O: atomic replace (temp file, fsync, rename) and bounded reads. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodescore/fileio.h"

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
							  ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

int ns_file_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int ns_file_sync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	if (!slash)
		return ns_file_sync_dir(".");
	if (slash == path)
		return ns_file_sync_dir("/");
	if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return ns_file_sync_dir(dir);
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		/* write(2) returns 0 only for a zero count; do not spin on it. */
		if (w == 0)
			return -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ns_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, char *err,
			 size_t errlen)
{
	char tmp[PATH_MAX];
	int fd, rc;

	if (err && errlen)
		err[0] = '\0';
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= sizeof(tmp)) {
		set_err(err, errlen, "%.200s...: path too long", path);
		return -ENAMETOOLONG;
	}
	/* Same directory as path: rename(2) is atomic only within one filesystem. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot create temp file: %s", path, strerror(-rc));
		return rc;
	}
	rc = write_all(fd, buf, len);
	if (rc) {
		set_err(err, errlen, "%s: cannot write temp file: %s", path, strerror(-rc));
		goto fail;
	}
	/* mkostemp creates 0600; fchmod, unlike open's mode, ignores the umask. */
	if (fchmod(fd, mode) < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot set mode %04o: %s", path, (unsigned)mode,
			strerror(-rc));
		goto fail;
	}
	/* Data before the rename, or a crash can leave path naming an empty file. */
	if (fsync(fd) < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot sync temp file: %s", path, strerror(-rc));
		goto fail;
	}
	/* close can report a deferred write error (NFS): the file is not good then. */
	rc = close(fd) < 0 ? -errno : 0;
	fd = -1;
	if (rc) {
		set_err(err, errlen, "%s: cannot close temp file: %s", path, strerror(-rc));
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot rename temp file into place: %s", path,
			strerror(-rc));
		goto fail;
	}
	/* Best effort: the new file is in place and complete, and some
	 * filesystems refuse fsync on a directory; an error here must not
	 * make the caller believe the old file is still there. */
	ns_file_sync_parent(path);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return rc;
}

int ns_file_read_all(const char *path, size_t max, uint8_t **buf, size_t *len, char *err,
		     size_t errlen)
{
	struct stat sb;
	uint8_t *p;
	size_t want, got = 0;
	int fd, rc;

	*buf = NULL;
	*len = 0;
	if (err && errlen)
		err[0] = '\0';
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer before fstat can refuse it. Regular files ignore the flag. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		set_err(err, errlen, "%s: cannot open: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &sb) < 0) {
		rc = -errno;
		close(fd);
		set_err(err, errlen, "%s: cannot stat: %s", path, strerror(-rc));
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		close(fd);
		set_err(err, errlen, "%s: not a regular file", path);
		return -EINVAL;
	}
	/* The second test keeps want + 1 below SIZE_MAX where size_t is 32 bits. */
	if ((uint64_t)sb.st_size > max || (uint64_t)sb.st_size >= SIZE_MAX) {
		close(fd);
		set_err(err, errlen, "%s: file too large (%lld bytes, max %zu)", path,
			(long long)sb.st_size, max);
		return -EFBIG;
	}
	want = (size_t)sb.st_size;
	/* One spare byte detects a file that grew after fstat, and then holds the NUL. */
	p = malloc(want + 1);
	if (!p) {
		close(fd);
		set_err(err, errlen, "%s: out of memory for %zu bytes", path, want + 1);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r = read(fd, p + got, want + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			close(fd);
			free(p);
			set_err(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
			return rc;
		}
		if (r == 0 || (got += (size_t)r) > want)
			break;
	}
	close(fd);
	if (got != want) {
		free(p);
		set_err(err, errlen, "%s: file changed while reading", path);
		return -EAGAIN;
	}
	p[got] = '\0';
	*buf = p;
	*len = got;
	return 0;
}
