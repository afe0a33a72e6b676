/* SPDX-License-Identifier: MIT */
/* Shared HMAC key, read from a file. */
#ifndef NODESCORE_KEY_H
#define NODESCORE_KEY_H

#include <stddef.h>
#include <stdint.h>

#define NS_KEY_MIN 32
#define NS_KEY_MAX 256

struct ns_key {
	uint8_t bytes[NS_KEY_MAX];
	size_t len;
};

/* Loads the key file at path: its raw bytes with one trailing newline removed.
 * Refuses a missing or unreadable file, a non-regular file, one readable by
 * "other" (mode & 004), fewer than NS_KEY_MIN or more than NS_KEY_MAX bytes.
 * Returns 0 or -errno; on error writes a one-line reason into err. */
int ns_key_load(const char *path, struct ns_key *key, char *err, size_t errlen);

/* Wipes the key from memory. */
void ns_key_wipe(struct ns_key *key);

#endif
