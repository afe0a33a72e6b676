/* SPDX-License-Identifier: MIT */
/* Whole-file I/O: the atomic replace of a file and the bounded read of one. */
#ifndef NODESCORE_FILEIO_H
#define NODESCORE_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Replaces path with len bytes of buf: a temp file next to path
 * (path.tmp.XXXXXX), every byte written, fchmod(mode) (umask does not
 * apply), fsync, rename over path, fsync of the parent directory. A crash
 * or a failure leaves the old file (or none), never a partial one; on
 * failure the temp file is removed. Returns 0 or -errno with
 * "path: reason" in err (err may be NULL). */
int ns_file_write_atomic(const char *path, const void *buf, size_t len, mode_t mode, char *err,
			 size_t errlen);

/* Reads the whole regular file at path, at most max bytes. Refuses a
 * non-regular file (-EINVAL; a FIFO does not block), a larger file (-EFBIG)
 * and one whose size changes while read (-EAGAIN); other failures are
 * -errno. On success *buf is malloc'd (caller frees), *len bytes long and
 * followed by a NUL not counted in *len, so text parses in place; a
 * zero-length file gives *len 0 and a non-NULL *buf. On failure *buf is
 * NULL and err holds "path: reason" (err may be NULL). */
int ns_file_read_all(const char *path, size_t max, uint8_t **buf, size_t *len, char *err,
		     size_t errlen);

/* fsyncs the directory dir, which makes the creation, rename or removal of
 * an entry in it durable. Returns 0 or -errno. */
int ns_file_sync_dir(const char *dir);

/* ns_file_sync_dir of the directory that holds path ("." for a bare name). */
int ns_file_sync_parent(const char *path);

#endif
