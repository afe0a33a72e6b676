// SPDX-License-Identifier: MIT
/* Wire format, key file and replay guard tests. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "nodescore/key.h"
#include "nodescore/replay.h"
#include "nodescore/wire.h"
#include "check.h"

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
static const uint8_t key2[32] = "0123456789abcdef0123456789abcdeX";

static struct ns_msg sample_msg(const char *name)
{
	struct ns_msg m;

	memset(&m, 0, sizeof(m));
	m.flags = NS_FLAG_ANOMALY | NS_FLAG_MODEL_FALLBACK;
	m.boot_nonce = 0xdeadbeef;
	m.seq = 42;
	m.ts_ms = 1790000000123ull;
	m.score = 731;
	m.anomaly = 912;
	m.cpu_now = 455;
	m.mem_now = 600;
	m.cpu_peak_fc = 701;
	m.mem_peak_fc = 650;
	m.free_millicores = 12345;
	m.free_mib = 65432;
	m.pods = 37;
	m.rtt_p99_us = 1500;
	snprintf(m.name, sizeof(m.name), "%s", name);
	return m;
}

static void test_round_trip(void)
{
	struct ns_msg m = sample_msg("worker-1.example"), d;
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n = ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf));

	CHECK_EQ_INT(n, NS_WIRE_HDR_LEN + 16 + NS_WIRE_MAC_LEN);
	CHECK_EQ_INT(ns_wire_decode(buf, (size_t)n, key, sizeof(key), &d), NS_WIRE_OK);
	CHECK_EQ_STR(d.name, m.name);
	CHECK_EQ_INT(d.name_len, 16);
	CHECK_EQ_INT(d.flags, m.flags);
	CHECK_EQ_INT(d.boot_nonce, m.boot_nonce);
	CHECK_EQ_INT(d.seq, m.seq);
	CHECK(d.ts_ms == m.ts_ms);
	CHECK_EQ_INT(d.score, 731);
	CHECK_EQ_INT(d.anomaly, 912);
	CHECK_EQ_INT(d.cpu_now, 455);
	CHECK_EQ_INT(d.mem_now, 600);
	CHECK_EQ_INT(d.cpu_peak_fc, 701);
	CHECK_EQ_INT(d.mem_peak_fc, 650);
	CHECK_EQ_INT(d.free_millicores, 12345);
	CHECK_EQ_INT(d.free_mib, 65432);
	CHECK_EQ_INT(d.pods, 37);
	CHECK_EQ_INT(d.rtt_p99_us, 1500);
}

/* The layout is a contract with other implementations: pin the bytes. */
static void test_little_endian_layout(void)
{
	struct ns_msg m = sample_msg("a");
	uint8_t buf[NS_WIRE_MAX_LEN];

	CHECK(ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf)) > 0);
	CHECK_EQ_INT(buf[0], 'N');
	CHECK_EQ_INT(buf[1], 'S');
	CHECK_EQ_INT(buf[2], 1);
	CHECK_EQ_INT(buf[4], 0xef);
	CHECK_EQ_INT(buf[7], 0xde);
	CHECK_EQ_INT(buf[8], 42);
	CHECK_EQ_INT(buf[20], 731 & 0xff);
	CHECK_EQ_INT(buf[21], 731 >> 8);
	CHECK_EQ_INT(buf[46], 1);
	CHECK_EQ_INT(buf[47], 'a');
}

static void test_max_size(void)
{
	char name[64];
	struct ns_msg m;
	uint8_t buf[NS_WIRE_MAX_LEN];

	memset(name, 'n', 63);
	name[63] = 0;
	m = sample_msg(name);
	CHECK_EQ_INT(ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf)), 126);
	CHECK(NS_WIRE_MAX_LEN <= 128);
	/* 64 characters cannot be expressed. */
	m = sample_msg("x");
	memset(m.name, 'n', sizeof(m.name));
	CHECK_EQ_INT(ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(ns_wire_encode(&m, key, sizeof(key), buf, 10), -EINVAL);
	m = sample_msg("ok");
	CHECK_EQ_INT(ns_wire_encode(&m, key, sizeof(key), buf, 10), -ENOSPC);
}

static void test_encode_rejects(void)
{
	struct ns_msg m = sample_msg("Upper");
	uint8_t buf[NS_WIRE_MAX_LEN];

	CHECK_EQ_INT(ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf)), -EINVAL);
	m = sample_msg("");
	CHECK_EQ_INT(ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf)), -EINVAL);
	m = sample_msg("ok");
	m.score = 1001;
	CHECK_EQ_INT(ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf)), -EINVAL);
}

static void test_every_rejection(void)
{
	struct ns_msg m = sample_msg("node-7"), d;
	uint8_t buf[NS_WIRE_MAX_LEN + 8], bad[NS_WIRE_MAX_LEN + 8];
	int n = ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf));
	size_t len = (size_t)n;

	CHECK(n > 0);
	for (size_t l = 0; l < len; l++)
		CHECK(ns_wire_decode(buf, l, key, sizeof(key), &d) != NS_WIRE_OK);
	CHECK_EQ_INT(ns_wire_decode(buf, NS_WIRE_MIN_LEN - 1, key, sizeof(key), &d),
		     NS_WIRE_ERR_LENGTH);
	CHECK_EQ_INT(ns_wire_decode(buf, NS_WIRE_MAX_LEN + 1, key, sizeof(key), &d),
		     NS_WIRE_ERR_LENGTH);
	memcpy(bad, buf, len);
	bad[0] ^= 1;
	CHECK_EQ_INT(ns_wire_decode(bad, len, key, sizeof(key), &d), NS_WIRE_ERR_MAGIC);
	memcpy(bad, buf, len);
	bad[2] = 2;
	CHECK_EQ_INT(ns_wire_decode(bad, len, key, sizeof(key), &d), NS_WIRE_ERR_VERSION);
	memcpy(bad, buf, len);
	bad[46] = 7; /* name length disagrees with the message length */
	CHECK_EQ_INT(ns_wire_decode(bad, len, key, sizeof(key), &d), NS_WIRE_ERR_LENGTH);
	CHECK_EQ_INT(ns_wire_decode(buf, len, key2, sizeof(key2), &d), NS_WIRE_ERR_MAC);
	/* Every single bit flip in the signed part or the MAC is caught. */
	for (size_t i = 3; i < len; i++) {
		if (i == 46)
			continue;
		for (int b = 0; b < 8; b++) {
			memcpy(bad, buf, len);
			bad[i] ^= (uint8_t)(1u << b);
			CHECK_EQ_INT(ns_wire_decode(bad, len, key, sizeof(key), &d),
				     NS_WIRE_ERR_MAC);
		}
	}
}

static void resign(uint8_t *buf, size_t len)
{
	uint8_t full[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256(full, buf, len - NS_WIRE_MAC_LEN, key);
	memcpy(buf + len - NS_WIRE_MAC_LEN, full, NS_WIRE_MAC_LEN);
}

/* A holder of the key can still send nonsense: range and name checks apply
 * after the MAC. */
static void test_signed_but_invalid(void)
{
	struct ns_msg m = sample_msg("node-7"), d;
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n = ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf));
	size_t len = (size_t)n;

	CHECK(n > 0);
	buf[20] = 0xff;
	buf[21] = 0xff;
	resign(buf, len);
	CHECK_EQ_INT(ns_wire_decode(buf, len, key, sizeof(key), &d), NS_WIRE_ERR_RANGE);
	n = ns_wire_encode(&m, key, sizeof(key), buf, sizeof(buf));
	buf[NS_WIRE_HDR_LEN] = 'N';
	resign(buf, len);
	CHECK_EQ_INT(ns_wire_decode(buf, len, key, sizeof(key), &d), NS_WIRE_ERR_NAME);
	buf[NS_WIRE_HDR_LEN] = '\0';
	resign(buf, len);
	CHECK_EQ_INT(ns_wire_decode(buf, len, key, sizeof(key), &d), NS_WIRE_ERR_NAME);
	CHECK_EQ_STR(ns_wire_strerror(NS_WIRE_ERR_MAC), "bad_mac");
	CHECK_EQ_STR(ns_wire_strerror(NS_WIRE_ERR_REPLAY), "replay");
	CHECK_EQ_STR(ns_wire_strerror((enum ns_wire_status)99), "unknown");
}

static void test_replay_guard(void)
{
	struct ns_replay_state st = {0};
	struct ns_msg m = sample_msg("n");
	uint64_t now = m.ts_ms;

	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_OK);
	ns_replay_commit(&st, &m);
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_ERR_REPLAY);
	m.seq = 41;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_ERR_REPLAY);
	m.seq = 43;
	m.ts_ms += 1000;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_OK);
	ns_replay_commit(&st, &m);
	/* restart: new nonce, seq starts again, accepted only if newer */
	m.boot_nonce = 7;
	m.seq = 1;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_ERR_REPLAY);
	m.ts_ms += 1;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_OK);
	ns_replay_commit(&st, &m);
	/* the old boot's messages are now refused even with a higher seq */
	m.boot_nonce = 0xdeadbeef;
	m.seq = 1000;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_ERR_REPLAY);
	/* skew both ways */
	m.boot_nonce = 7;
	m.seq = 2;
	m.ts_ms = now + 30001;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_ERR_SKEW);
	m.ts_ms = now - 30001;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 30000, 30000), NS_WIRE_ERR_SKEW);
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	close(fd);
	return chmod(path, mode);
}

static void test_key_file(void)
{
	char dir[] = "/tmp/ns-key-XXXXXX", path[64], err[256];
	struct ns_key k;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/key", dir);
	CHECK_EQ_INT(ns_key_load(path, &k, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot open"));
	CHECK_EQ_INT(ns_key_load("", &k, err, sizeof(err)), -EINVAL);
	CHECK(write_file(path, "short\n", 6, 0600) == 0);
	CHECK_EQ_INT(ns_key_load(path, &k, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "need 32"));
	CHECK(write_file(path, key, 32, 0644) == 0);
	CHECK_EQ_INT(ns_key_load(path, &k, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "world-readable"));
	CHECK(write_file(path, "0123456789abcdef0123456789abcdef\n", 33, 0600) == 0);
	CHECK_EQ_INT(ns_key_load(path, &k, err, sizeof(err)), 0);
	CHECK_EQ_INT(k.len, 32);
	CHECK(memcmp(k.bytes, key, 32) == 0);
	ns_key_wipe(&k);
	CHECK_EQ_INT(k.len, 0);
	CHECK_EQ_INT(ns_key_load(dir, &k, err, sizeof(err)), -EINVAL);
	unlink(path);
	rmdir(dir);
}

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(h + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* RFC 5869 appendix A, test cases 1 and 3 (SHA-256). */
static void test_hkdf_rfc5869(void)
{
	uint8_t ikm[22], salt[13], info[10], prk[32], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	for (int i = 0; i < 13; i++)
		salt[i] = (uint8_t)i;
	for (int i = 0; i < 10; i++)
		info[i] = (uint8_t)(0xf0 + i);
	ns_hkdf_sha256_extract(salt, sizeof(salt), ikm, sizeof(ikm), prk);
	unhex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5", want, 32);
	CHECK(memcmp(prk, want, 32) == 0);
	CHECK_EQ_INT(ns_hkdf_sha256_expand(prk, info, sizeof(info), okm, sizeof(okm)), 0);
	unhex(
	    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
	    want, 42);
	CHECK(memcmp(okm, want, 42) == 0);
	ns_hkdf_sha256_extract(NULL, 0, ikm, sizeof(ikm), prk);
	unhex("19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04", want, 32);
	CHECK(memcmp(prk, want, 32) == 0);
	CHECK_EQ_INT(ns_hkdf_sha256_expand(prk, NULL, 0, okm, sizeof(okm)), 0);
	unhex(
	    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
	    want, 42);
	CHECK(memcmp(okm, want, 42) == 0);
	CHECK_EQ_INT(ns_hkdf_sha256_expand(prk, NULL, 0, okm, 255 * 32 + 1), -EINVAL);
}

/* Node A's key does not verify a message for node B; the derivation is
 * HKDF(master, info = name) and differs per name. */
static void test_node_keys(void)
{
	struct ns_key master = {.len = 32}, ka, kb, ka2;
	struct ns_msg m = sample_msg("node-b"), d;
	uint8_t buf[NS_WIRE_MAX_LEN];
	int n;

	memcpy(master.bytes, key, 32);
	ns_key_derive_node(&master, "node-a", 6, &ka);
	ns_key_derive_node(&master, "node-b", 6, &kb);
	ns_key_derive_node(&master, "node-a", 6, &ka2);
	CHECK_EQ_INT((int)ka.len, NS_NODE_KEY_LEN);
	CHECK(memcmp(ka.bytes, kb.bytes, 32) != 0);
	CHECK(memcmp(ka.bytes, ka2.bytes, 32) == 0);
	n = ns_wire_encode(&m, ka.bytes, ka.len, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK_EQ_INT(ns_wire_decode(buf, (size_t)n, kb.bytes, kb.len, &d), NS_WIRE_ERR_MAC);
	n = ns_wire_encode_node(&m, master.bytes, master.len, buf, sizeof(buf));
	CHECK_EQ_INT(ns_wire_decode(buf, (size_t)n, kb.bytes, kb.len, &d), NS_WIRE_OK);
}

static void test_dns1123_names(void)
{
	static const char *const good[] = {"a", "node-1", "a.b", "ip-10-0-0-1.ec2.internal", "0a"};
	static const char *const badn[] = {"-a",   "a-", "a..b", ".a",	"a.", "a.-b",
					   "a-.b", "A",	 "a_b",	 "a b", ""};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		CHECK(ns_wire_name_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(badn) / sizeof(badn[0]); i++)
		CHECK(!ns_wire_name_valid(badn[i], strlen(badn[i])));
	CHECK(ns_wire_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				 63));
	CHECK(!ns_wire_name_valid(
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64));
}

/* A new nonce dated ahead is refused past the future bound, and within it
 * can hold the running agent off only until its clock catches up. */
static void test_replay_future_bound(void)
{
	struct ns_replay_state st = {0};
	struct ns_msg m = sample_msg("n"), forged;
	uint64_t now = m.ts_ms;

	ns_replay_commit(&st, &m);
	forged = m;
	forged.boot_nonce = m.boot_nonce + 1;
	forged.ts_ms = now + 25000;
	CHECK_EQ_INT(ns_replay_check(&st, &forged, now, 30000, 2000), NS_WIRE_ERR_SKEW);
	forged.ts_ms = now + 2000;
	CHECK_EQ_INT(ns_replay_check(&st, &forged, now, 30000, 2000), NS_WIRE_OK);
	ns_replay_commit(&st, &forged);
	/* the real agent, next publish 2 s later, is dated after the forgery */
	m.seq++;
	m.ts_ms = now + 2001;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now + 2001, 30000, 2000), NS_WIRE_OK);
	/* future bound never exceeds the skew */
	m.ts_ms = now + 5000;
	m.seq++;
	CHECK_EQ_INT(ns_replay_check(&st, &m, now, 1000, 30000), NS_WIRE_ERR_SKEW);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_little_endian_layout);
	RUN(test_max_size);
	RUN(test_encode_rejects);
	RUN(test_every_rejection);
	RUN(test_signed_but_invalid);
	RUN(test_replay_guard);
	RUN(test_key_file);
	RUN(test_hkdf_rfc5869);
	RUN(test_node_keys);
	RUN(test_dns1123_names);
	RUN(test_replay_future_bound);
	return CHECK_SUMMARY();
}
