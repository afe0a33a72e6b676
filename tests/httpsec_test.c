// SPDX-License-Identifier: MIT
/* Tests for lib/secret.c and extender/httpsec.c: the secret file checks,
 * the PEM framing of the TLS certificate and key, the bearer token file
 * and the Authorization header check. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fixture.h"
#include "nodescore/httpsec.h"
#include "nodescore/secret.h"

static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
static const char key_pem[] = "-----BEGIN PRIVATE KEY-----\nMIGH\n-----END PRIVATE KEY-----\n";

/* Writes rel with mode (umask does not apply). */
static void put(const char *rel, const void *buf, size_t n, mode_t mode)
{
	fx_write_bytes(rel, buf, n);
	if (chmod(fx_at(rel), mode) != 0)
		abort();
}

static void test_secret_read(void)
{
	uint8_t buf[16];
	char err[256];
	size_t len = 99;

	put("s", "0123456789abcdef", 16, 0600);
	CHECK_EQ_INT(ns_secret_read(fx_at("s"), "thing", buf, sizeof(buf), &len, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(len, 16);
	CHECK(memcmp(buf, "0123456789abcdef", 16) == 0);
	/* Exactly cap is fine, one more byte is not. */
	put("s17", "0123456789abcdefX", 17, 0600);
	CHECK_EQ_INT(
	    ns_secret_read(fx_at("s17"), "thing", buf, sizeof(buf), &len, err, sizeof(err)),
	    -EFBIG);
	CHECK(strstr(err, "thing has more than 16 bytes"));
	CHECK_EQ_INT(len, 0);
	/* Nothing of a refused file is left behind. */
	for (size_t i = 0; i < sizeof(buf); i++)
		CHECK_EQ_INT(buf[i], 0);
	put("open", "x", 1, 0604);
	CHECK_EQ_INT(
	    ns_secret_read(fx_at("open"), "thing", buf, sizeof(buf), &len, err, sizeof(err)),
	    -EPERM);
	CHECK(strstr(err, "thing is world-readable"));
	CHECK(strstr(err, "mode=0604"));
	/* Group read is what fsGroup gives a Secret volume. */
	put("group", "x", 1, 0640);
	CHECK_EQ_INT(
	    ns_secret_read(fx_at("group"), "thing", buf, sizeof(buf), &len, err, sizeof(err)), 0);
	CHECK_EQ_INT(len, 1);
	CHECK_EQ_INT(
	    ns_secret_read(fx_at("none"), "thing", buf, sizeof(buf), &len, err, sizeof(err)),
	    -ENOENT);
	CHECK(strstr(err, "cannot open thing path="));
	fx_mkdir("dir");
	CHECK_EQ_INT(
	    ns_secret_read(fx_at("dir"), "thing", buf, sizeof(buf), &len, err, sizeof(err)),
	    -EINVAL);
	CHECK(strstr(err, "thing is not a regular file"));
	CHECK(mkfifo(fx_at("fifo"), 0600) == 0);
	/* A FIFO is refused at once, not waited on. */
	CHECK_EQ_INT(
	    ns_secret_read(fx_at("fifo"), "thing", buf, sizeof(buf), &len, err, sizeof(err)),
	    -EINVAL);
}

static void test_tls_load(void)
{
	struct ns_tls_pem p;
	char err[256];

	put("c.pem", cert_pem, strlen(cert_pem), 0644);
	put("k.pem", key_pem, strlen(key_pem), 0600);
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("c.pem"), fx_at("k.pem"), &p, err, sizeof(err)), 0);
	CHECK_EQ_STR(p.cert, cert_pem);
	CHECK_EQ_STR(p.key, key_pem);
	ns_httpsec_tls_free(&p);
	CHECK(p.cert == NULL && p.key == NULL);
	ns_httpsec_tls_free(&p);

	/* The key follows the secret rules, the certificate is public. */
	put("k644.pem", key_pem, strlen(key_pem), 0644);
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("c.pem"), fx_at("k644.pem"), &p, err, sizeof(err)),
		     -EPERM);
	CHECK(strstr(err, "cannot use --tls-key: TLS key file is world-readable"));
	CHECK(p.cert == NULL && p.key == NULL);
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("k.pem"), fx_at("k.pem"), &p, err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "invalid --tls-cert"));
	CHECK(strstr(err, "no -----BEGIN CERTIFICATE----- block"));
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("c.pem"), fx_at("c.pem"), &p, err, sizeof(err)),
		     -EPERM);
	put("c600.pem", cert_pem, strlen(cert_pem), 0600);
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("c.pem"), fx_at("c600.pem"), &p, err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "PRIVATE KEY----- block"));
	put("enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n", 40, 0600);
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("c.pem"), fx_at("enc.pem"), &p, err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "is encrypted"));
	put("nul.pem", "-----BEGIN PRIVATE KEY-----\n\0-----END PRIVATE KEY-----\n", 55, 0600);
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("c.pem"), fx_at("nul.pem"), &p, err, sizeof(err)),
		     -EINVAL);
	CHECK(strstr(err, "NUL byte"));
	CHECK_EQ_INT(ns_httpsec_tls_load(fx_at("none.pem"), fx_at("k.pem"), &p, err, sizeof(err)),
		     -ENOENT);
	CHECK(strstr(err, "cannot use --tls-cert"));
	{
		/* One byte over the bound: refused before anything is parsed. */
		size_t n = NS_TLS_KEY_MAX + 1;
		char *big = malloc(n);
		CHECK(big);
		memset(big, 'A', n);
		memcpy(big, key_pem, strlen(key_pem));
		put("big.pem", big, n, 0600);
		free(big);
		CHECK_EQ_INT(
		    ns_httpsec_tls_load(fx_at("c.pem"), fx_at("big.pem"), &p, err, sizeof(err)),
		    -EFBIG);
		CHECK(strstr(err, "has more than 65536 bytes"));
	}
}

static void test_token_load(void)
{
	struct ns_token t;
	char err[256], big[NS_TOKEN_MAX + 3];

	put("t", "abc.DEF-123_~+/=\n", 17, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("t"), &t, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer abc.DEF-123_~+/="), NS_AUTH_OK);
	/* CRLF from an editor on another system is trimmed the same way. */
	put("crlf", "abc.DEF-123_~+/=\r\n", 18, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("crlf"), &t, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer abc.DEF-123_~+/="), NS_AUTH_OK);
	/* Only one newline goes: a blank second line is an invalid byte. */
	put("two", "abc\n\n", 5, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("two"), &t, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "at offset 3"));
	put("empty", "\n", 1, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("empty"), &t, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "token file is empty"));
	put("space", "se cret\n", 8, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("space"), &t, err, sizeof(err)), -EINVAL);
	/* The reason never quotes the token. */
	CHECK(!strstr(err, "se cret") && !strstr(err, "cret"));
	put("open", "secret\n", 7, 0644);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("open"), &t, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "token file is world-readable"));
	memset(big, 'a', sizeof(big));
	put("max", big, NS_TOKEN_MAX, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("max"), &t, err, sizeof(err)), 0);
	put("max-nl", big, NS_TOKEN_MAX + 1, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("max-nl"), &t, err, sizeof(err)), -EFBIG);
	CHECK(strstr(err, "longer than 1024 bytes"));
	put("huge", big, sizeof(big), 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("huge"), &t, err, sizeof(err)), -EFBIG);
	CHECK(strstr(err, "longer than 1024 bytes"));
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("nope"), &t, err, sizeof(err)), -ENOENT);
}

static void test_token_check(void)
{
	struct ns_token t;
	char err[256], hdr[NS_TOKEN_MAX + 16];

	put("t", "s3cret\n", 7, 0600);
	CHECK_EQ_INT(ns_httpsec_token_load(fx_at("t"), &t, err, sizeof(err)), 0);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer s3cret"), NS_AUTH_OK);
	/* The scheme is case-insensitive (RFC 7235), spaces around are not
	 * part of the credential. */
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "bearer s3cret"), NS_AUTH_OK);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "BEARER   s3cret  "), NS_AUTH_OK);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, NULL), NS_AUTH_MISSING);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, ""), NS_AUTH_MISSING);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Basic czNjcmV0"), NS_AUTH_MISSING);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer"), NS_AUTH_MISSING);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearers3cret"), NS_AUTH_MISSING);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer "), NS_AUTH_INVALID);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer s3cre"), NS_AUTH_INVALID);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer s3crett"), NS_AUTH_INVALID);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer S3cret"), NS_AUTH_INVALID);
	CHECK_EQ_INT(ns_httpsec_token_check(&t, "Bearer s3 cret"), NS_AUTH_INVALID);
	/* Longer than any token: refused without hashing it all. */
	memcpy(hdr, "Bearer ", 7);
	memset(hdr + 7, 'a', NS_TOKEN_MAX + 1);
	hdr[7 + NS_TOKEN_MAX + 1] = '\0';
	CHECK_EQ_INT(ns_httpsec_token_check(&t, hdr), NS_AUTH_INVALID);
	/* A fresh load keys the digest afresh: the stored digest differs. */
	{
		struct ns_token t2;
		CHECK_EQ_INT(ns_httpsec_token_load(fx_at("t"), &t2, err, sizeof(err)), 0);
		CHECK(memcmp(t.digest, t2.digest, sizeof(t.digest)) != 0);
		CHECK_EQ_INT(ns_httpsec_token_check(&t2, "Bearer s3cret"), NS_AUTH_OK);
	}
}

int main(void)
{
	int rc;

	fx_new();
	RUN(test_secret_read);
	RUN(test_tls_load);
	RUN(test_token_load);
	RUN(test_token_check);
	rc = CHECK_SUMMARY();
	fx_free();
	return rc;
}
