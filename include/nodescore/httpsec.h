/* SPDX-License-Identifier: MIT */
/* Security material of the extender's HTTP port: the TLS certificate and
 * key (PEM, handed to libmicrohttpd) and the bearer token that guards
 * /metrics and the status page. */
#ifndef NODESCORE_HTTPSEC_H
#define NODESCORE_HTTPSEC_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on what is read: a certificate chain of a dozen certificates,
 * an RSA 16384 key in PEM, a token far longer than any generator makes. */
#define NS_TLS_CERT_MAX (256u << 10)
#define NS_TLS_KEY_MAX (64u << 10)
#define NS_TOKEN_MAX 1024
#define NS_TOKEN_DIGEST_LEN 32

/* PEM text, NUL-terminated (libmicrohttpd takes C strings). */
struct ns_tls_pem {
	char *cert;
	char *key;
	size_t key_len; /* wiped over this many bytes by ns_httpsec_tls_free */
};

/* Reads the certificate (chain) at cert_path, at most NS_TLS_CERT_MAX
 * bytes, and the private key at key_path, at most NS_TLS_KEY_MAX bytes,
 * with the checks of ns_secret_read (not world-readable). Both must be PEM:
 * the certificate holds a CERTIFICATE block, the key an unencrypted
 * PRIVATE KEY block, neither a NUL byte. Whether they parse and match is
 * known only when the server starts (ns_exthttp_start). Returns 0, or
 * -errno with a one-line reason naming the flag and path in err; on
 * failure out holds nothing to free. */
int ns_httpsec_tls_load(const char *cert_path, const char *key_path, struct ns_tls_pem *out,
			char *err, size_t errlen);
/* Reads the CA certificate(s) that client certificates must chain to
 * (--tls-client-ca), at most NS_TLS_CERT_MAX bytes of PEM with a
 * CERTIFICATE block, into *pem (NUL-terminated, the caller frees). Public
 * material: no permission rule. Returns 0 or -errno with a reason naming
 * the flag and path in err. */
int ns_httpsec_ca_load(const char *path, char **pem, char *err, size_t errlen);
/* Wipes the key, frees both. NULL-safe, idempotent. */
void ns_httpsec_tls_free(struct ns_tls_pem *p);

/* The bearer token, kept only as a keyed BLAKE2b digest (random key per
 * process), so requests are compared in constant time whatever their
 * length and the token itself is not left in memory. */
struct ns_token {
	uint8_t hkey[32];
	uint8_t digest[NS_TOKEN_DIGEST_LEN];
};

/* Reads the token file at path (checks of ns_secret_read): one trailing
 * newline (LF or CRLF) is dropped; the rest must be 1..NS_TOKEN_MAX
 * printable ASCII bytes without spaces (what an Authorization header can
 * carry). Returns 0, or -errno with a reason in err (never the token). */
int ns_httpsec_token_load(const char *path, struct ns_token *out, char *err, size_t errlen);

/* Checks an Authorization header value. Returns NS_AUTH_OK for "Bearer
 * <token>" (scheme case-insensitive, as RFC 7235 says), NS_AUTH_MISSING
 * for no header (authorization NULL) or another scheme, NS_AUTH_INVALID
 * for a Bearer credential that is not the token. */
enum ns_auth_result {
	NS_AUTH_OK = 0,
	NS_AUTH_MISSING,
	NS_AUTH_INVALID,
};
enum ns_auth_result ns_httpsec_token_check(const struct ns_token *t, const char *authorization);

#endif
