/* SPDX-License-Identifier: MIT */
/* Wire message agent -> extender: fixed little-endian header, length-prefixed
 * node name, truncated HMAC-SHA256. Layout (offsets in bytes):
 *
 *   0 u16 magic 0x534e ("NS")   2 u8 version (1)      3 u8 flags
 *   4 u32 boot nonce            8 u32 sequence       12 u64 timestamp ms (unix)
 *  20 u16 score 0..1000        22 u16 anomaly 0..1000
 *  24 u16 cpu now   (per mille) 26 u16 mem now   (per mille)
 *  28 u16 cpu peak forecast     30 u16 mem peak forecast (per mille)
 *  32 u32 free millicores at the forecast horizon
 *  36 u32 free MiB at the forecast horizon
 *  40 u16 pod count            42 u32 network RTT p99 (us)
 *  46 u8  name length (1..63)  47 name bytes, then 16 bytes of MAC over all before.
 *
 * 126 bytes for a 63-character name.
 */
#ifndef NODESCORE_WIRE_H
#define NODESCORE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define NS_WIRE_MAGIC 0x534eu
#define NS_WIRE_VERSION 1
#define NS_WIRE_HDR_LEN 47
#define NS_WIRE_MAC_LEN 16
#define NS_WIRE_NAME_MAX 63
#define NS_WIRE_MAX_LEN (NS_WIRE_HDR_LEN + NS_WIRE_NAME_MAX + NS_WIRE_MAC_LEN)
#define NS_WIRE_MIN_LEN (NS_WIRE_HDR_LEN + 1 + NS_WIRE_MAC_LEN)

#define NS_SCORE_MAX 1000
/* free_millicores / free_mib value of a node that could not measure it
 * (degraded): the largest value, so no headroom filter removes the node on
 * a number nobody measured. */
#define NS_WIRE_FREE_UNKNOWN UINT32_MAX
#define NS_PERMILLE 1000

enum ns_wire_flag {
	NS_FLAG_ANOMALY = 1u << 0,
	NS_FLAG_DEGRADED = 1u << 1,
	NS_FLAG_MODEL_FALLBACK = 1u << 2,
	NS_FLAG_DRAINING = 1u << 3,
};

struct ns_msg {
	uint8_t flags;
	uint32_t boot_nonce;
	uint32_t seq;
	uint64_t ts_ms;
	uint16_t score;	  /* 0..1000, higher is a better placement */
	uint16_t anomaly; /* 0..1000, isolation-forest score x 1000 */
	uint16_t cpu_now; /* per mille of node capacity */
	uint16_t mem_now;
	uint16_t cpu_peak_fc; /* forecast peak over the horizon, per mille */
	uint16_t mem_peak_fc;
	uint32_t free_millicores;
	uint32_t free_mib;
	uint16_t pods;
	uint32_t rtt_p99_us;
	uint8_t name_len;
	char name[NS_WIRE_NAME_MAX + 1]; /* NUL-terminated */
};

/* Why a message was refused; indexes ns_wire_reason_names. */
enum ns_wire_status {
	NS_WIRE_OK = 0,
	NS_WIRE_ERR_LENGTH,
	NS_WIRE_ERR_MAGIC,
	NS_WIRE_ERR_VERSION,
	NS_WIRE_ERR_NAME,
	NS_WIRE_ERR_RANGE,
	NS_WIRE_ERR_MAC,
	NS_WIRE_ERR_SKEW,
	NS_WIRE_ERR_REPLAY,
	NS_WIRE_ERR_TABLE_FULL,
	NS_WIRE_STATUS_COUNT,
};

/* Short snake_case reason, used as the Prometheus label value. */
const char *ns_wire_strerror(enum ns_wire_status st);

/* Node names are DNS-1123 subdomains, 1..63 bytes as the wire allows:
 * dot-separated labels of [a-z0-9-], none empty, none starting or ending
 * with '-'. Returns 1 when valid. */
int ns_wire_name_valid(const char *name, size_t len);

/* Encodes and signs msg into buf (at least NS_WIRE_MAX_LEN bytes). The name is
 * taken from msg->name (msg->name_len is ignored). Returns the byte count, or
 * -EINVAL for an invalid name or out-of-range field. */
int ns_wire_encode(const struct ns_msg *msg, const uint8_t *key, size_t key_len, uint8_t *buf,
		   size_t cap);

/* ns_wire_encode with the key of msg->name derived from the master key
 * (ns_key_derive_node): what an agent holding the master key sends. */
int ns_wire_encode_node(const struct ns_msg *msg, const uint8_t *master, size_t master_len,
			uint8_t *buf, size_t cap);

/* The claimed node name of an unverified message, to pick its key: checks
 * length, magic, version and the name's syntax only. Never reads past len. */
enum ns_wire_status ns_wire_peek_name(const uint8_t *buf, size_t len, const char **name,
				      size_t *name_len);

/* Verifies and decodes buf. Checks length, magic, version, name, field ranges
 * and the MAC (constant time). Never reads past len. */
enum ns_wire_status ns_wire_decode(const uint8_t *buf, size_t len, const uint8_t *key,
				   size_t key_len, struct ns_msg *out);

#endif
