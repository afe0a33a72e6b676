// SPDX-License-Identifier: MIT
/* libFuzzer target: ExtenderArgs reader + filter/prioritize + quantity parser,
 * each request through the normal and the shadow path (cfg.shadow).
 * Invariants: never crash, status is 200 or 400, error replies are valid
 * JSON, and replies are valid JSON whenever cJSON accepts the request (raw
 * echoed names may carry lone surrogates, which RFC 8259 allows but cJSON
 * does not). Shadow mode: the same status as the normal path; replies are
 * byte for byte the neutral ones (filter passes every candidate in request
 * order with FailedNodes empty, prioritize gives every candidate
 * NS_EXT_SCORE_NEUTRAL); no hold is read, made or ended; the would-be
 * filter decisions equal the real ones when no hold was involved; the
 * would-be scores count exactly the candidates the filter would pass, and
 * equal the real reply's scores when the filter would have passed all and
 * no hold was involved. */
#include <stdint.h>
#include <stdio.h>
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
/* The normal prioritize reply's scores; -max_len=65536 bodies hold fewer
 * candidates, longer ones skip the comparison. */
static uint8_t real_scores[65536];

#define REQUIRE(cond)                                                                              \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "extjson_fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

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

static int span_eq(const char **p, const char *end, const char *s, size_t n)
{
	if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
		return 0;
	*p += n;
	return 1;
}

/* A 200 filter reply must pass every candidate: the exact bytes the
 * extender writes when nothing fails, built from the parsed spans. */
static void check_filter_neutral(void)
{
	const struct ns_ext_args *a = &ctx.args;
	const int objects = a->mode == NS_EXT_OBJECTS;
	const char *p = out.p, *end = out.p + out.len;
	static const char head_n[] = "{\"Nodes\":null,\"NodeNames\":[",
			  head_o[] = "{\"Nodes\":{\"metadata\":{},\"items\":[",
			  mid_n[] = "],\"FailedNodes\":{",
			  mid_o[] = "]},\"NodeNames\":null,\"FailedNodes\":{",
			  tail[] = "},\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}";

	REQUIRE(objects ? span_eq(&p, end, head_o, sizeof(head_o) - 1)
			: span_eq(&p, end, head_n, sizeof(head_n) - 1));
	for (size_t i = 0; i < a->n; i++) {
		const struct ns_ext_node *nd = &a->nodes[i];
		REQUIRE(!i || span_eq(&p, end, ",", 1));
		REQUIRE(objects ? span_eq(&p, end, nd->obj, nd->obj_len)
				: span_eq(&p, end, nd->name_tok, nd->name_tok_len));
	}
	REQUIRE(objects ? span_eq(&p, end, mid_o, sizeof(mid_o) - 1)
			: span_eq(&p, end, mid_n, sizeof(mid_n) - 1));
	/* FailedNodes empty: the closing brace follows at once. */
	REQUIRE(span_eq(&p, end, tail, sizeof(tail) - 1));
	REQUIRE(p == end);
}

/* Walks a 200 prioritize reply, which must hold every candidate in request
 * order; stores their scores in sc[] unless sc is NULL, and requires
 * NS_EXT_SCORE_NEUTRAL for every one when neutral is set. */
static void read_prioritize(uint8_t *sc, int neutral)
{
	const struct ns_ext_args *a = &ctx.args;
	const char *p = out.p, *end = out.p + out.len;

	REQUIRE(span_eq(&p, end, "[", 1));
	for (size_t i = 0; i < a->n; i++) {
		REQUIRE(!i || span_eq(&p, end, ",", 1));
		REQUIRE(span_eq(&p, end, "{\"Host\":", 8));
		REQUIRE(span_eq(&p, end, a->nodes[i].name_tok, a->nodes[i].name_tok_len));
		REQUIRE(span_eq(&p, end, ",\"Score\":", 9));
		uint8_t v;
		if (span_eq(&p, end, "10", 2))
			v = 10;
		else {
			REQUIRE(p < end && *p >= '0' && *p <= '9');
			v = (uint8_t)(*p++ - '0');
		}
		REQUIRE(span_eq(&p, end, "}", 1));
		REQUIRE(!neutral || v == NS_EXT_SCORE_NEUTRAL);
		if (sc)
			sc[i] = v;
	}
	REQUIRE(span_eq(&p, end, "]", 1));
	REQUIRE(p == end);
}

static uint32_t failed(const struct ns_extapi_stats *st)
{
	return st->failed_anomaly + st->failed_cpu + st->failed_mem;
}

/* The same body through the shadow path, after the normal one: rf and rp
 * are the normal statuses, fst and pst their stats, have_real whether
 * real_scores[] holds the normal prioritize reply. */
static void run_shadow(const struct ns_extapi_cfg *real, struct ns_extapi_now now, const char *body,
		       size_t size, int input_ok, int rf, int rp, const struct ns_extapi_stats *fst,
		       const struct ns_extapi_stats *pst, int have_real)
{
	struct ns_extapi_cfg cfg = *real;
	struct ns_extapi_stats sf, sp;
	struct ns_reserve_stats r0, r1;
	uint32_t active0 = 0, sum = 0;
	size_t idx[8], k;
	uint8_t sc[8];
	int status;

	/* Holds stay untouched even with a table of them at hand. */
	cfg.shadow = 1;
	if (cfg.resv) {
		ns_reserve_stats(cfg.resv, &r0);
		active0 = ns_reserve_active(cfg.resv);
	}

	status = ns_extapi_filter(&ctx, table, &cfg, now, body, size, &out, &sf);
	check_reply(status, input_ok);
	REQUIRE(status == rf);
	if (status == 200) {
		check_filter_neutral();
		REQUIRE(sf.nodes == ctx.args.n);
		REQUIRE(failed(&sf) <= sf.nodes);
		/* Fail-open exactly when every candidate would have failed. */
		REQUIRE(sf.fail_open == (sf.nodes > 0 && failed(&sf) == sf.nodes));
		/* Without a hold against a candidate, what the real filter did
		 * is what the shadow says it would have done. */
		if (fst->held == 0)
			REQUIRE(sf.failed_anomaly == fst->failed_anomaly &&
				sf.failed_cpu == fst->failed_cpu &&
				sf.failed_mem == fst->failed_mem && sf.fail_open == fst->fail_open);
	}

	status = ns_extapi_prioritize(&ctx, table, &cfg, now, body, size, &out, &sp);
	check_reply(status, input_ok);
	REQUIRE(status == rp);
	if (status == 200) {
		read_prioritize(NULL, 1);
		REQUIRE(sp.held == 0 && !sp.reserved);
		/* Prioritize reports the filter's would-be decisions too. */
		REQUIRE(sp.failed_anomaly == sf.failed_anomaly && sp.failed_cpu == sf.failed_cpu &&
			sp.failed_mem == sf.failed_mem && sp.fail_open == sf.fail_open);
		/* One would-be score per candidate the would-be filter passes. */
		for (int s = 0; s <= NS_EXT_SCORE_MAX; s++)
			sum += sp.would_scores[s];
		REQUIRE(sum == sp.nodes - (sp.fail_open ? 0 : failed(&sp)));
		if (sp.agree == NS_SHADOW_NO_SIGNAL)
			REQUIRE(sp.top == SIZE_MAX || sp.base_top == SIZE_MAX);
		else
			REQUIRE(sp.top < sp.nodes && sp.base_top < sp.nodes);
		k = ns_extapi_shadow_ranking(&ctx, idx, sc, 8);
		REQUIRE(k <= 8 && k <= sum);
		REQUIRE(k == 0 || sp.base_top != SIZE_MAX);
		for (size_t j = 0; j < k; j++) {
			REQUIRE(idx[j] < sp.nodes && sc[j] <= NS_EXT_SCORE_MAX);
			REQUIRE(j == 0 || (sc[j] <= sc[j - 1] && idx[j] != idx[j - 1]));
			/* Nothing excluded and no hold: the would-be score is the
			 * one the real prioritize gave. */
			if (have_real && pst->held == 0 && (sp.fail_open || failed(&sp) == 0))
				REQUIRE(sc[j] == real_scores[idx[j]]);
		}
	}
	if (cfg.resv) {
		ns_reserve_stats(cfg.resv, &r1);
		REQUIRE(ns_reserve_active(cfg.resv) == active0);
		REQUIRE(r1.made == r0.made && r1.settled == r0.settled &&
			r1.expired == r0.expired && r1.replaced == r0.replaced);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_extapi_stats st, fst;
	struct ns_extapi_cfg cfg = {.ttl_ms = 6000,
				    .norm = (size & 1) ? NS_NORM_RANK : NS_NORM_LINEAR,
				    .resv = (size & 2) ? resv : NULL};
	struct ns_extapi_now now = {1700000000000ull, 2};
	/* Exact-size copy so ASan catches any read past the end. */
	char *body = malloc(size ? size : 1);
	cJSON *in;
	int input_ok, rf, rp, have_real = 0;
	int64_t q;

	if (!table)
		setup();
	if (!body)
		return 0;
	memcpy(body, data, size);
	in = cJSON_ParseWithLength(body, size);
	input_ok = in != NULL;
	cJSON_Delete(in);
	rf = ns_extapi_filter(&ctx, table, &cfg, now, body, size, &out, &fst);
	check_reply(rf, input_ok);
	rp = ns_extapi_prioritize(&ctx, table, &cfg, now, body, size, &out, &st);
	check_reply(rp, input_ok);
	if (rp == 200 && ctx.args.n <= sizeof(real_scores)) {
		read_prioritize(real_scores, 0);
		have_real = 1;
	}
	run_shadow(&cfg, now, body, size, input_ok, rf, rp, &fst, &st, have_real);
	if (size <= 64)
		(void)ns_quantity_parse(body, size, (int)(size % 4), &q);
	free(body);
	return 0;
}
