// SPDX-License-Identifier: MIT
/* libFuzzer target: ExtenderArgs reader + filter/prioritize + quantity parser.
 * Invariants: never crash, status is 200 or 400, error replies are valid
 * JSON, and replies are valid JSON whenever cJSON accepts the request (raw
 * echoed names may carry lone surrogates, which RFC 8259 allows but cJSON
 * does not). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nodescore/extapi.h"
#include "nodescore/log.h"
#include "nodescore/quantity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[32] = "0123456789abcdef0123456789abcdef";
static struct ns_table *table;
static struct ns_reserve *resv; /* holds persist across inputs, as in the server */
static struct ns_extapi_ctx ctx;
static struct ns_buf out;

static void setup(void)
{
	static const char *const names[] = {"node-a", "node-b", "node-c", "a"};

	ns_log_max = NS_LOG_ERROR; /* fail-open warnings are expected here */
	table = ns_table_new(16);
	resv = ns_reserve_new(64, 1000, 1000000);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct ns_msg m;
		uint8_t buf[NS_WIRE_MAX_LEN];
		memset(&m, 0, sizeof(m));
		strcpy(m.name, names[i]);
		m.boot_nonce = 1;
		m.seq = 1;
		m.ts_ms = 1000000;
		m.score = (uint16_t)(i * 300);
		m.flags = i == 1 ? NS_FLAG_ANOMALY : 0;
		m.free_millicores = (uint32_t)(i * 1000);
		m.free_mib = (uint32_t)(i * 512);
		m.rtt_p99_us = (uint32_t)(i * 100);
		int n = ns_wire_encode_node(&m, key, sizeof(key), buf, sizeof(buf));
		ns_table_ingest(table, buf, (size_t)n, key, sizeof(key), 1000000, 1, 30000);
	}
}

static void check_reply(int status, int input_ok)
{
	cJSON *j;

	if (status != 200 && status != 400)
		abort();
	if (status == 200 && !input_ok)
		return;
	j = cJSON_ParseWithLength(out.p, out.len);
	if (!j)
		abort();
	cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_extapi_stats st;
	struct ns_extapi_cfg cfg = {.ttl_ms = 6000,
				    .norm = (size & 1) ? NS_NORM_RANK : NS_NORM_LINEAR,
				    .resv = (size & 2) ? resv : NULL};
	struct ns_extapi_now now = {1700000000000ull, 2};
	/* Exact-size copy so ASan catches any read past the end. */
	char *body = malloc(size ? size : 1);
	cJSON *in;
	int input_ok;
	int64_t q;

	if (!table)
		setup();
	if (!body)
		return 0;
	memcpy(body, data, size);
	in = cJSON_ParseWithLength(body, size);
	input_ok = in != NULL;
	cJSON_Delete(in);
	check_reply(ns_extapi_filter(&ctx, table, &cfg, now, body, size, &out, &st), input_ok);
	check_reply(ns_extapi_prioritize(&ctx, table, &cfg, now, body, size, &out, &st), input_ok);
	if (size <= 64)
		(void)ns_quantity_parse(body, size, (int)(size % 4), &q);
	free(body);
	return 0;
}
