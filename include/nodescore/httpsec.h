/* SPDX-License-Identifier: MIT */
/* Security material of the extender's HTTP port: the TLS certificate and
 * key (PEM, handed to libmicrohttpd). */
#ifndef NODESCORE_HTTPSEC_H
#define NODESCORE_HTTPSEC_H

#include <stddef.h>
#include <stdint.h>

/* Bounds on what is read: a certificate chain of a dozen certificates,
 * an RSA 16384 key in PEM. */
#define NS_TLS_CERT_MAX (256u << 10)
#define NS_TLS_KEY_MAX (64u << 10)

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
/* Wipes the key, frees both. NULL-safe, idempotent. */
void ns_httpsec_tls_free(struct ns_tls_pem *p);

#endif
