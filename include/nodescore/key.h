/* SPDX-License-Identifier: MIT */
/* HMAC keys: the master key file and the per-node keys derived from it. */
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

/* HKDF-SHA256 (RFC 5869). salt NULL or empty means HashLen zero bytes.
 * expand writes out_len <= 255 * 32 bytes; returns 0 or -EINVAL. */
#define NS_HKDF_HASH_LEN 32
void ns_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
			    size_t ikm_len, uint8_t prk[NS_HKDF_HASH_LEN]);
int ns_hkdf_sha256_expand(const uint8_t prk[NS_HKDF_HASH_LEN], const uint8_t *info, size_t info_len,
			  uint8_t *out, size_t out_len);

/* Per-node key: HKDF-SHA256(salt = none, IKM = master key, info = node
 * name, L = 32). An agent holding only its node's key cannot sign for
 * another name. The PRK step depends only on the master key, so a
 * receiver computes it once and pays one HMAC per new name. */
#define NS_NODE_KEY_LEN 32
void ns_key_node_prk(const struct ns_key *master, uint8_t prk[NS_HKDF_HASH_LEN]);
void ns_key_node_from_prk(const uint8_t prk[NS_HKDF_HASH_LEN], const char *name, size_t name_len,
			  uint8_t out[NS_NODE_KEY_LEN]);
void ns_key_derive_node(const struct ns_key *master, const char *name, size_t name_len,
			struct ns_key *out);

#endif
