// SPDX-License-Identifier: MIT
/* HMAC keys: key file loading (ns_secret_read, length checks) and HKDF. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "nodescore/key.h"
#include "nodescore/secret.h"

int ns_key_load(const char *path, struct ns_key *key, char *err, size_t errlen)
{
	/* The key and one trailing newline. */
	uint8_t buf[NS_KEY_MAX + 1];
	size_t len = 0;
	int rc;

	memset(key, 0, sizeof(*key));
	if (!path || !*path) {
		snprintf(err, errlen, "no key file given (--key-file or NODESCORE_KEY_FILE)");
		return -EINVAL;
	}
	rc = ns_secret_read(path, "key file", buf, sizeof(buf), &len, err, errlen);
	if (rc == -EFBIG) {
		snprintf(err, errlen, "key file has %zu+ bytes, need %d..%d path=%s",
			 sizeof(buf) + 1, NS_KEY_MIN, NS_KEY_MAX, path);
		return -EINVAL;
	}
	if (rc < 0)
		return rc;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len < NS_KEY_MIN || len > NS_KEY_MAX) {
		sodium_memzero(buf, sizeof(buf));
		snprintf(err, errlen, "key file has %zu bytes, need %d..%d path=%s", len,
			 NS_KEY_MIN, NS_KEY_MAX, path);
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

/* RFC 5869 with HMAC-SHA256 (libsodium 1.0.18 has no crypto_kdf_hkdf). */
void ns_hkdf_sha256_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
			    size_t ikm_len, uint8_t prk[NS_HKDF_HASH_LEN])
{
	static const uint8_t zeros[NS_HKDF_HASH_LEN];
	crypto_auth_hmacsha256_state st;

	if (!salt || !salt_len) {
		salt = zeros;
		salt_len = sizeof(zeros);
	}
	crypto_auth_hmacsha256_init(&st, salt, salt_len);
	crypto_auth_hmacsha256_update(&st, ikm, ikm_len);
	crypto_auth_hmacsha256_final(&st, prk);
	sodium_memzero(&st, sizeof(st));
}

int ns_hkdf_sha256_expand(const uint8_t prk[NS_HKDF_HASH_LEN], const uint8_t *info, size_t info_len,
			  uint8_t *out, size_t out_len)
{
	uint8_t t[NS_HKDF_HASH_LEN];
	size_t done = 0, tlen = 0;
	uint8_t ctr = 1;

	if (out_len > 255 * NS_HKDF_HASH_LEN)
		return -EINVAL;
	while (done < out_len) {
		crypto_auth_hmacsha256_state st;
		size_t k = out_len - done < sizeof(t) ? out_len - done : sizeof(t);
		crypto_auth_hmacsha256_init(&st, prk, NS_HKDF_HASH_LEN);
		crypto_auth_hmacsha256_update(&st, t, tlen);
		if (info_len)
			crypto_auth_hmacsha256_update(&st, info, info_len);
		crypto_auth_hmacsha256_update(&st, &ctr, 1);
		crypto_auth_hmacsha256_final(&st, t);
		sodium_memzero(&st, sizeof(st));
		memcpy(out + done, t, k);
		done += k;
		tlen = sizeof(t);
		ctr++;
	}
	sodium_memzero(t, sizeof(t));
	return 0;
}

void ns_key_node_prk(const struct ns_key *master, uint8_t prk[NS_HKDF_HASH_LEN])
{
	ns_hkdf_sha256_extract(NULL, 0, master->bytes, master->len, prk);
}

void ns_key_node_from_prk(const uint8_t prk[NS_HKDF_HASH_LEN], const char *name, size_t name_len,
			  uint8_t out[NS_NODE_KEY_LEN])
{
	/* Cannot fail: NS_NODE_KEY_LEN is one block. */
	(void)ns_hkdf_sha256_expand(prk, (const uint8_t *)name, name_len, out, NS_NODE_KEY_LEN);
}

void ns_key_derive_node(const struct ns_key *master, const char *name, size_t name_len,
			struct ns_key *out)
{
	uint8_t prk[NS_HKDF_HASH_LEN];

	memset(out, 0, sizeof(*out));
	ns_key_node_prk(master, prk);
	ns_key_node_from_prk(prk, name, name_len, out->bytes);
	out->len = NS_NODE_KEY_LEN;
	sodium_memzero(prk, sizeof(prk));
}
