// SPDX-License-Identifier: MIT
/* TLS certificate and key loading. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
