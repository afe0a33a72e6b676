// SPDX-License-Identifier: MIT
/* Wire format encode/decode and HMAC-SHA256 signing (libsodium). */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "nodescore/key.h"
#include "nodescore/le.h"
#include "nodescore/wire.h"

static const char *const reason_names[NS_WIRE_STATUS_COUNT] = {
    [NS_WIRE_OK] = "ok",
    [NS_WIRE_ERR_LENGTH] = "bad_length",
    [NS_WIRE_ERR_MAGIC] = "bad_magic",
    [NS_WIRE_ERR_VERSION] = "bad_version",
    [NS_WIRE_ERR_NAME] = "bad_name",
    [NS_WIRE_ERR_RANGE] = "bad_field",
    [NS_WIRE_ERR_MAC] = "bad_mac",
    [NS_WIRE_ERR_SKEW] = "clock_skew",
    [NS_WIRE_ERR_REPLAY] = "replay",
    [NS_WIRE_ERR_TABLE_FULL] = "table_full",
};

const char *ns_wire_strerror(enum ns_wire_status st)
{
	if ((unsigned)st >= NS_WIRE_STATUS_COUNT)
		return "unknown";
	return reason_names[st];
}

int ns_wire_name_valid(const char *name, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > NS_WIRE_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			/* Empty label, or one ending in '-'. */
			if (label == 0 || name[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		label++;
	}
	return name[len - 1] != '-' && name[len - 1] != '.';
}

static void mac(const uint8_t *data, size_t len, const uint8_t *key, size_t key_len,
		uint8_t out[NS_WIRE_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;
	uint8_t full[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, full);
	memcpy(out, full, NS_WIRE_MAC_LEN);
	sodium_memzero(full, sizeof(full));
}

static int fields_in_range(const struct ns_msg *m)
{
	return m->score <= NS_SCORE_MAX && m->anomaly <= NS_PERMILLE && m->cpu_now <= NS_PERMILLE &&
	       m->mem_now <= NS_PERMILLE && m->cpu_peak_fc <= NS_PERMILLE &&
	       m->mem_peak_fc <= NS_PERMILLE;
}

int ns_wire_encode(const struct ns_msg *msg, const uint8_t *key, size_t key_len, uint8_t *buf,
		   size_t cap)
{
	size_t n = strnlen(msg->name, sizeof(msg->name));

	if (!ns_wire_name_valid(msg->name, n) || !fields_in_range(msg))
		return -EINVAL;
	if (cap < NS_WIRE_HDR_LEN + n + NS_WIRE_MAC_LEN)
		return -ENOSPC;
	ns_le_put_u16(buf + 0, NS_WIRE_MAGIC);
	buf[2] = NS_WIRE_VERSION;
	buf[3] = msg->flags;
	ns_le_put_u32(buf + 4, msg->boot_nonce);
	ns_le_put_u32(buf + 8, msg->seq);
	ns_le_put_u64(buf + 12, msg->ts_ms);
	ns_le_put_u16(buf + 20, msg->score);
	ns_le_put_u16(buf + 22, msg->anomaly);
	ns_le_put_u16(buf + 24, msg->cpu_now);
	ns_le_put_u16(buf + 26, msg->mem_now);
	ns_le_put_u16(buf + 28, msg->cpu_peak_fc);
	ns_le_put_u16(buf + 30, msg->mem_peak_fc);
	ns_le_put_u32(buf + 32, msg->free_millicores);
	ns_le_put_u32(buf + 36, msg->free_mib);
	ns_le_put_u16(buf + 40, msg->pods);
	ns_le_put_u32(buf + 42, msg->rtt_p99_us);
	buf[46] = (uint8_t)n;
	memcpy(buf + NS_WIRE_HDR_LEN, msg->name, n);
	mac(buf, NS_WIRE_HDR_LEN + n, key, key_len, buf + NS_WIRE_HDR_LEN + n);
	return (int)(NS_WIRE_HDR_LEN + n + NS_WIRE_MAC_LEN);
}

/* Length, magic, version and the name length byte against len: the checks
 * that come before anything else in both peek and decode. */
static enum ns_wire_status check_frame(const uint8_t *buf, size_t len, size_t *name_len)
{
	size_t n;

	if (len < NS_WIRE_MIN_LEN || len > NS_WIRE_MAX_LEN)
		return NS_WIRE_ERR_LENGTH;
	if (ns_le_get_u16(buf) != NS_WIRE_MAGIC)
		return NS_WIRE_ERR_MAGIC;
	if (buf[2] != NS_WIRE_VERSION)
		return NS_WIRE_ERR_VERSION;
	n = buf[46];
	if (NS_WIRE_HDR_LEN + n + NS_WIRE_MAC_LEN != len)
		return NS_WIRE_ERR_LENGTH;
	*name_len = n;
	return NS_WIRE_OK;
}

enum ns_wire_status ns_wire_peek_name(const uint8_t *buf, size_t len, const char **name,
				      size_t *name_len)
{
	size_t n;
	enum ns_wire_status st = check_frame(buf, len, &n);

	if (st != NS_WIRE_OK)
		return st;
	if (!ns_wire_name_valid((const char *)buf + NS_WIRE_HDR_LEN, n))
		return NS_WIRE_ERR_NAME;
	*name = (const char *)buf + NS_WIRE_HDR_LEN;
	*name_len = n;
	return NS_WIRE_OK;
}

enum ns_wire_status ns_wire_decode(const uint8_t *buf, size_t len, const uint8_t *key,
				   size_t key_len, struct ns_msg *out)
{
	uint8_t want[NS_WIRE_MAC_LEN];
	size_t n;
	enum ns_wire_status st = check_frame(buf, len, &n);

	if (st != NS_WIRE_OK)
		return st;
	/* Authenticate before interpreting anything an attacker could shape. */
	mac(buf, NS_WIRE_HDR_LEN + n, key, key_len, want);
	if (sodium_memcmp(want, buf + NS_WIRE_HDR_LEN + n, NS_WIRE_MAC_LEN) != 0)
		return NS_WIRE_ERR_MAC;
	if (!ns_wire_name_valid((const char *)buf + NS_WIRE_HDR_LEN, n))
		return NS_WIRE_ERR_NAME;

	memset(out, 0, sizeof(*out));
	out->flags = buf[3];
	out->boot_nonce = ns_le_get_u32(buf + 4);
	out->seq = ns_le_get_u32(buf + 8);
	out->ts_ms = ns_le_get_u64(buf + 12);
	out->score = ns_le_get_u16(buf + 20);
	out->anomaly = ns_le_get_u16(buf + 22);
	out->cpu_now = ns_le_get_u16(buf + 24);
	out->mem_now = ns_le_get_u16(buf + 26);
	out->cpu_peak_fc = ns_le_get_u16(buf + 28);
	out->mem_peak_fc = ns_le_get_u16(buf + 30);
	out->free_millicores = ns_le_get_u32(buf + 32);
	out->free_mib = ns_le_get_u32(buf + 36);
	out->pods = ns_le_get_u16(buf + 40);
	out->rtt_p99_us = ns_le_get_u32(buf + 42);
	out->name_len = (uint8_t)n;
	memcpy(out->name, buf + NS_WIRE_HDR_LEN, n);
	out->name[n] = '\0';
	if (!fields_in_range(out))
		return NS_WIRE_ERR_RANGE;
	return NS_WIRE_OK;
}

int ns_wire_encode_node(const struct ns_msg *msg, const uint8_t *master, size_t master_len,
			uint8_t *buf, size_t cap)
{
	uint8_t prk[NS_HKDF_HASH_LEN], nk[NS_NODE_KEY_LEN];
	int n;

	ns_hkdf_sha256_extract(NULL, 0, master, master_len, prk);
	ns_key_node_from_prk(prk, msg->name, strnlen(msg->name, sizeof(msg->name)), nk);
	n = ns_wire_encode(msg, nk, sizeof(nk), buf, cap);
	sodium_memzero(prk, sizeof(prk));
	sodium_memzero(nk, sizeof(nk));
	return n;
}
