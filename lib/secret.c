// SPDX-License-Identifier: MIT
/* Secret file reading: regular, not world-readable, bounded, wiped on failure. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "nodescore/secret.h"

/* read(2) until n bytes or end of file; returns the byte count or -errno. */
static ssize_t read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int ns_secret_read(const char *path, const char *what, uint8_t *buf, size_t cap, size_t *len,
		   char *err, size_t errlen)
{
	struct stat sb;
	uint8_t extra;
	ssize_t n, more;
	int fd, e;

	*len = 0;
	/* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
	 * writer before fstat can refuse it. Regular files ignore the flag. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open %s path=%s: %s", what, path, strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s is not a regular file path=%s", what, path);
		return -EINVAL;
	}
	if (sb.st_mode & S_IROTH) {
		close(fd);
		snprintf(err, errlen,
			 "%s is world-readable path=%s mode=%04o (chmod 600, or defaultMode: "
			 "0400 on the Secret volume)",
			 what, path, (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	n = read_full(fd, buf, cap);
	/* One byte past cap tells a file of exactly cap bytes from a longer one. */
	more = n >= 0 ? read_full(fd, &extra, 1) : 0;
	close(fd);
	if (n < 0 || more < 0) {
		e = n < 0 ? (int)-n : (int)-more;
		sodium_memzero(buf, cap);
		snprintf(err, errlen, "cannot read %s path=%s: %s", what, path, strerror(e));
		return -e;
	}
	if (more > 0) {
		sodium_memzero(buf, cap);
		sodium_memzero(&extra, sizeof(extra));
		snprintf(err, errlen, "%s has more than %zu bytes path=%s", what, cap, path);
		return -EFBIG;
	}
	*len = (size_t)n;
	return 0;
}
