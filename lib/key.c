// SPDX-License-Identifier: MIT
/* Key file loading with permission and length checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "nodescore/key.h"

int ns_key_load(const char *path, struct ns_key *key, char *err, size_t errlen)
{
	uint8_t buf[NS_KEY_MAX + 2];
	struct stat sb;
	ssize_t n;
	size_t len = 0;
	int fd, e;

	memset(key, 0, sizeof(*key));
	if (!path || !*path) {
		snprintf(err, errlen, "no key file given (--key-file or NODESCORE_KEY_FILE)");
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open key file path=%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		snprintf(err, errlen, "key file is not a regular file path=%s", path);
		return -EINVAL;
	}
	if (sb.st_mode & S_IROTH) {
		close(fd);
		snprintf(err, errlen,
			 "key file is world-readable path=%s mode=%04o (chmod 600, or defaultMode: "
			 "0400 on the Secret volume)",
			 path, (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			close(fd);
			sodium_memzero(buf, sizeof(buf));
			snprintf(err, errlen, "cannot read key file path=%s: %s", path, strerror(e));
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len < NS_KEY_MIN || len > NS_KEY_MAX) {
		sodium_memzero(buf, sizeof(buf));
		snprintf(err, errlen, "key file has %zu%s bytes, need %d..%d path=%s", len,
			 len > NS_KEY_MAX ? "+" : "", NS_KEY_MIN, NS_KEY_MAX, path);
		return -EINVAL;
	}
	memcpy(key->bytes, buf, len);
	key->len = len;
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

void ns_key_wipe(struct ns_key *key)
{
	sodium_memzero(key, sizeof(*key));
}
