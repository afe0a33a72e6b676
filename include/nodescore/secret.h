/* SPDX-License-Identifier: MIT */
/* Secret files (HMAC keys, the TLS private key, the bearer token): one
 * bounded read with the permission check every secret gets. */
#ifndef NODESCORE_SECRET_H
#define NODESCORE_SECRET_H

#include <stddef.h>
#include <stdint.h>

/* Reads the whole file at path into buf (cap bytes, caller-owned). Refuses
 * a missing or unreadable file, a non-regular file (-EINVAL; a FIFO does
 * not block), one that "other" may read (mode & 004: -EPERM) and one of
 * more than cap bytes (-EFBIG). Group read is allowed on purpose: a
 * Kubernetes Secret volume with fsGroup is mode 0440 for a non-root uid.
 * what names the file in messages ("key file", "TLS key file").
 * Returns 0 with *len set, or -errno with a one-line reason in err; on
 * failure nothing read is left in buf. */
int ns_secret_read(const char *path, const char *what, uint8_t *buf, size_t cap, size_t *len,
		   char *err, size_t errlen);

#endif
