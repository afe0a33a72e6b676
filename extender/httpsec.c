// SPDX-License-Identifier: MIT
/* TLS certificate, key and client CA loading, bearer token loading and
 * checking. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "nodescore/fileio.h"
#include "nodescore/httpsec.h"
#include "nodescore/secret.h"

/* Reason for PEM text that cannot be what it claims, or NULL. Only the
 * framing is checked here: GnuTLS parses the content at server start. */
static const char *pem_problem(const char *text, size_t len, int key)
{
	if (memchr(text, '\0', len))
		return "has a NUL byte: expected PEM text";
	if (!key)
		return strstr(text, "-----BEGIN CERTIFICATE-----")
			   ? NULL
			   : "has no -----BEGIN CERTIFICATE----- block: expected a PEM certificate";
	if (strstr(text, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
	    strstr(text, "Proc-Type: 4,ENCRYPTED"))
		return "is encrypted: the extender takes an unencrypted key (protect it with file "
		       "permissions, e.g. a Secret with defaultMode: 0400)";
	if (!strstr(text, "-----BEGIN ") || !strstr(text, "PRIVATE KEY-----"))
		return "has no -----BEGIN ... PRIVATE KEY----- block: expected a PEM private key";
	return NULL;
}

int ns_httpsec_tls_load(const char *cert_path, const char *key_path, struct ns_tls_pem *out,
			char *err, size_t errlen)
{
	char why[256];
	const char *bad;
	uint8_t *cert = NULL, *key;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ns_file_read_all(cert_path, NS_TLS_CERT_MAX, &cert, &len, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "cannot use --tls-cert: %s", why);
		return rc;
	}
	if ((bad = pem_problem((const char *)cert, len, 0))) {
		snprintf(err, errlen, "invalid --tls-cert path=%s: the file %s", cert_path, bad);
		free(cert);
		return -EINVAL;
	}
	/* Room for the NUL after the longest accepted key. */
	key = malloc(NS_TLS_KEY_MAX + 1);
	if (!key) {
		free(cert);
		snprintf(err, errlen, "out of memory for --tls-key");
		return -ENOMEM;
	}
	rc = ns_secret_read(key_path, "TLS key file", key, NS_TLS_KEY_MAX, &len, why, sizeof(why));
	if (rc == 0 && (bad = pem_problem((const char *)key, len, 1))) {
		snprintf(why, sizeof(why), "TLS key file path=%s %s", key_path, bad);
		rc = -EINVAL;
	}
	if (rc < 0) {
		sodium_memzero(key, NS_TLS_KEY_MAX + 1);
		free(key);
		free(cert);
		snprintf(err, errlen, "cannot use --tls-key: %s", why);
		return rc;
	}
	key[len] = '\0';
	out->cert = (char *)cert;
	out->key = (char *)key;
	out->key_len = NS_TLS_KEY_MAX + 1;
	return 0;
}

int ns_httpsec_ca_load(const char *path, char **pem, char *err, size_t errlen)
{
	char why[256];
	const char *bad;
	uint8_t *ca = NULL;
	size_t len;
	int rc;

	*pem = NULL;
	rc = ns_file_read_all(path, NS_TLS_CERT_MAX, &ca, &len, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "cannot use --tls-client-ca: %s", why);
		return rc;
	}
	if ((bad = pem_problem((const char *)ca, len, 0))) {
		snprintf(err, errlen, "invalid --tls-client-ca path=%s: the file %s", path, bad);
		free(ca);
		return -EINVAL;
	}
	*pem = (char *)ca;
	return 0;
}

void ns_httpsec_tls_free(struct ns_tls_pem *p)
{
	if (!p)
		return;
	if (p->key)
		sodium_memzero(p->key, p->key_len);
	free(p->key);
	free(p->cert);
	memset(p, 0, sizeof(*p));
}

static void token_digest(const struct ns_token *t, const uint8_t *s, size_t n,
			 uint8_t out[NS_TOKEN_DIGEST_LEN])
{
	crypto_generichash(out, NS_TOKEN_DIGEST_LEN, s, n, t->hkey, sizeof(t->hkey));
}

int ns_httpsec_token_load(const char *path, struct ns_token *out, char *err, size_t errlen)
{
	/* The token and a CRLF. */
	uint8_t buf[NS_TOKEN_MAX + 2];
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sodium_init() < 0) {
		snprintf(err, errlen, "cannot initialise libsodium");
		return -EIO;
	}
	rc = ns_secret_read(path, "token file", buf, sizeof(buf), &len, err, errlen);
	if (rc == -EFBIG) {
		snprintf(err, errlen, "token file is longer than %d bytes path=%s", NS_TOKEN_MAX,
			 path);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (len && buf[len - 1] == '\n')
		len--;
	if (len && buf[len - 1] == '\r')
		len--;
	rc = 0;
	if (len == 0) {
		snprintf(err, errlen, "token file is empty path=%s", path);
		rc = -EINVAL;
	} else if (len > NS_TOKEN_MAX) {
		snprintf(err, errlen, "token file is longer than %d bytes path=%s", NS_TOKEN_MAX,
			 path);
		rc = -EFBIG;
	}
	for (size_t i = 0; rc == 0 && i < len; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e) {
			/* The offset only, never the byte: it is part of a secret. */
			snprintf(err, errlen,
				 "token file has a space, control or non-ASCII byte at offset %zu "
				 "path=%s (an Authorization header carries printable ASCII only)",
				 i, path);
			rc = -EINVAL;
		}
	if (rc == 0) {
		randombytes_buf(out->hkey, sizeof(out->hkey));
		token_digest(out, buf, len, out->digest);
	}
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

enum ns_auth_result ns_httpsec_token_check(const struct ns_token *t, const char *authorization)
{
	uint8_t got[NS_TOKEN_DIGEST_LEN];
	const char *cred;
	size_t n;
	int ok;

	if (!authorization || strncasecmp(authorization, "Bearer", 6) != 0 ||
	    (authorization[6] != ' ' && authorization[6] != '\t'))
		return NS_AUTH_MISSING;
	cred = authorization + 7;
	while (*cred == ' ' || *cred == '\t')
		cred++;
	n = strnlen(cred, NS_TOKEN_MAX + 1);
	while (n && (cred[n - 1] == ' ' || cred[n - 1] == '\t'))
		n--;
	/* Longer than any token: wrong, and not worth hashing. */
	if (n == 0 || n > NS_TOKEN_MAX)
		return NS_AUTH_INVALID;
	/* Digests of equal length: the comparison time says nothing about
	 * how much of the token matched, nor its length. */
	token_digest(t, (const uint8_t *)cred, n, got);
	ok = sodium_memcmp(got, t->digest, sizeof(got)) == 0;
	sodium_memzero(got, sizeof(got));
	return ok ? NS_AUTH_OK : NS_AUTH_INVALID;
}
