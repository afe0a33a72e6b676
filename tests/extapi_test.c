// SPDX-License-Identifier: MIT
/* Extender verbs: filter/prioritize decisions and replies byte-checked
 * against tests/fixtures/extender, the streaming reader's strictness. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nodescore/clock.h"
#include "nodescore/extapi.h"
#include "nodescore/extjson.h"
#include "check.h"
#include "extfixture.h"
#include "nodespec.h"

/* Publishes s as sent at ts (sender clock) and received at ts. */
static int add_at(const struct node_spec *s, uint64_t ts)
{
	struct ns_msg m;

	node_spec_msg(s, ts, &m);
	return ingest_msg(&m, ts, s->recv_mono);
}

static int add(const struct node_spec *s)
{
	return add_at(s, NOW_MS);
}

/* The cluster every fixture was written against (see docs/extender.md). */
static const struct node_spec cluster[] = {
    {"node-a", 0, 800, 50, 400, 300, 4000, 8192, 300, NOW_MONO},
    {"node-b", NS_FLAG_ANOMALY, 400, 912, 100, 100, 4000, 8192, 300, NOW_MONO},
    {"node-c", 0, 600, 20, 700, 500, 900, 8192, 200, NOW_MONO},
    {"node-d", 0, 300, 10, 200, 100, 4000, 300, 5000, NOW_MONO},
    /* node-e is never published: unknown */
    {"node-f", 0, 900, 0, 100, 100, 8000, 8192, 100, NOW_MONO - TTL - 1},
};

static const struct ns_extapi_cfg cfg = {.ttl_ms = TTL, .norm = NS_NORM_LINEAR};

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	fclose(f);
	if (!p)
		return NULL;
	/* Fixture files end with one newline for editors; replies do not. */
	if (n > 0 && p[n - 1] == '\n')
		n--;
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}

enum verb { FILTER, PRIORITIZE };

static int call(enum verb v, const struct ns_extapi_cfg *c, const char *body, size_t len,
		struct ns_buf *out, struct ns_extapi_stats *st)
{
	static struct ns_extapi_ctx ctx;

	return v == FILTER ? ns_extapi_filter(&ctx, table, c, NOW, body, len, out, st)
			   : ns_extapi_prioritize(&ctx, table, c, NOW, body, len, out, st);
}

static int fixture(enum verb v, const char *name)
{
	char req[256], rep[256];
	size_t rl, pl;
	char *body, *want;
	struct ns_buf out = {0};
	struct ns_extapi_stats st;
	int code, ok;

	snprintf(req, sizeof(req), "tests/fixtures/extender/%s_request.json", name);
	snprintf(rep, sizeof(rep), "tests/fixtures/extender/%s_reply.json", name);
	body = slurp(req, &rl);
	want = slurp(rep, &pl);
	if (!body || !want) {
		fprintf(stderr, "  missing fixture %s\n", name);
		free(body);
		free(want);
		return 0;
	}
	code = call(v, &cfg, body, rl, &out, &st);
	ok = code == 200 && out.len == pl && memcmp(out.p, want, pl) == 0;
	if (!ok)
		fprintf(stderr, "  %s: code %d\n    got:  %.*s\n    want: %.*s\n", name, code,
			(int)(out.len > 600 ? 600 : out.len), out.p ? out.p : "",
			(int)(pl > 600 ? 600 : pl), want);
	ns_buf_free(&out);
	free(body);
	free(want);
	return ok;
}

static void test_fixtures_names_mode(void)
{
	CHECK(fixture(FILTER, "filter_names"));
	CHECK(fixture(PRIORITIZE, "prioritize_names"));
}

static void test_fixtures_objects_mode(void)
{
	CHECK(fixture(FILTER, "filter_objects"));
	CHECK(fixture(PRIORITIZE, "prioritize_objects"));
}

static void test_fixtures_pod_classes(void)
{
	CHECK(fixture(PRIORITIZE, "prioritize_latency"));
	CHECK(fixture(PRIORITIZE, "prioritize_batch"));
}

static int run_str(enum verb v, const struct ns_extapi_cfg *c, const char *body, struct ns_buf *out,
		   struct ns_extapi_stats *st)
{
	return call(v, c, body, strlen(body), out, st);
}

#define POD "\"Pod\":{\"metadata\":{\"name\":\"p\"}}"

static void test_filter_stats_and_fail_open(void)
{
	struct ns_buf out = {0};
	struct ns_extapi_stats st;

	CHECK_EQ_INT(run_str(FILTER, &cfg,
			     "{" POD
			     ",\"NodeNames\":[\"node-a\",\"node-b\",\"node-e\",\"node-f\"]}",
			     &out, &st),
		     200);
	CHECK_EQ_INT(st.nodes, 4);
	CHECK_EQ_INT(st.unknown, 1);
	CHECK_EQ_INT(st.stale, 1);
	CHECK_EQ_INT(st.failed_anomaly, 1);
	CHECK_EQ_INT(st.fail_open, 0);
	/* Only the anomalous node is a candidate: removing it would leave
	 * nothing, so it passes and a warning is logged. */
	CHECK_EQ_INT(run_str(FILTER, &cfg, "{" POD ",\"NodeNames\":[\"node-b\"]}", &out, &st), 200);
	CHECK_EQ_INT(st.fail_open, 1);
	CHECK_EQ_STR(out.p, "{\"Nodes\":null,\"NodeNames\":[\"node-b\"],\"FailedNodes\":{},"
			    "\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
	/* A pod too big for every known node: fail open as well. */
	CHECK_EQ_INT(run_str(FILTER, &cfg,
			     "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
			     "{\"cpu\":\"64\"}}}]}},\"NodeNames\":[\"node-a\",\"node-c\"]}",
			     &out, &st),
		     200);
	CHECK_EQ_INT(st.failed_cpu, 2);
	CHECK_EQ_INT(st.fail_open, 1);
	CHECK(strstr(out.p, "\"NodeNames\":[\"node-a\",\"node-c\"]"));
	/* Zero candidates is not a failure to open. */
	CHECK_EQ_INT(run_str(FILTER, &cfg, "{" POD ",\"NodeNames\":[]}", &out, &st), 200);
	CHECK_EQ_INT(st.fail_open, 0);
	CHECK_EQ_STR(out.p, "{\"Nodes\":null,\"NodeNames\":[],\"FailedNodes\":{},"
			    "\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
	ns_buf_free(&out);
}

static void test_prioritize_normalisation(void)
{
	struct ns_buf out = {0};
	struct ns_extapi_stats st;
	struct ns_extapi_cfg rank = {.ttl_ms = TTL, .norm = NS_NORM_RANK};
	const char *req = "{" POD ",\"NodeNames\":[\"node-d\",\"node-c\",\"node-a\",\"nope\"]}";

	CHECK_EQ_INT(run_str(PRIORITIZE, &rank, req, &out, &st), 200);
	CHECK_EQ_STR(out.p, "[{\"Host\":\"node-d\",\"Score\":0},{\"Host\":\"node-c\",\"Score\":5},"
			    "{\"Host\":\"node-a\",\"Score\":10},{\"Host\":\"nope\",\"Score\":5}]");
	/* One fresh candidate: nothing to stretch, its own score on 0..10. */
	CHECK_EQ_INT(
	    run_str(PRIORITIZE, &cfg, "{" POD ",\"NodeNames\":[\"node-c\",\"x\"]}", &out, &st),
	    200);
	CHECK_EQ_STR(out.p, "[{\"Host\":\"node-c\",\"Score\":6},{\"Host\":\"x\",\"Score\":5}]");
	/* Duplicates are answered as asked. */
	CHECK_EQ_INT(run_str(PRIORITIZE, &cfg,
			     "{" POD ",\"NodeNames\":[\"node-a\",\"node-d\",\"node-a\"]}", &out,
			     &st),
		     200);
	CHECK_EQ_STR(out.p, "[{\"Host\":\"node-a\",\"Score\":10},{\"Host\":\"node-d\",\"Score\":0},"
			    "{\"Host\":\"node-a\",\"Score\":10}]");
	/* Anomalous nodes only reach prioritize after a fail-open: last. */
	CHECK_EQ_INT(
	    run_str(PRIORITIZE, &cfg, "{" POD ",\"NodeNames\":[\"node-b\",\"node-d\"]}", &out, &st),
	    200);
	CHECK_EQ_STR(out.p,
		     "[{\"Host\":\"node-b\",\"Score\":0},{\"Host\":\"node-d\",\"Score\":10}]");
	ns_buf_free(&out);
}

/* Names are looked up decoded and echoed exactly as sent. */
static void test_escapes_and_lowercase_keys(void)
{
	struct ns_buf out = {0};
	struct ns_extapi_stats st;

	CHECK_EQ_INT(
	    run_str(PRIORITIZE, &cfg,
		    "{\"pod\":{},\"nodes\":null,\"nodenames\":[\"node-\\u0061\",\"node\\u002dd\","
		    "\"\\ud83d\\ude00\",\"a\\\"b\"]}",
		    &out, &st),
	    200);
	CHECK_EQ_STR(out.p,
		     "[{\"Host\":\"node-\\u0061\",\"Score\":10},{\"Host\":\"node\\u002dd\","
		     "\"Score\":0},{\"Host\":\"\\ud83d\\ude00\",\"Score\":5},{\"Host\":\"a\\\"b\","
		     "\"Score\":5}]");
	CHECK_EQ_INT(st.unknown, 2);
	/* objects mode: metadata.name with an escape, key case folded */
	CHECK_EQ_INT(
	    run_str(FILTER, &cfg,
		    "{\"POD\":{},\"Nodes\":{\"Items\":[{\"Metadata\":{\"Name\":\"node-\\u0062\"}},"
		    " {\"metadata\":{\"name\":\"node-a\"},\"x\":[1,2.5e3,true,null]}]}}",
		    &out, &st),
	    200);
	CHECK_EQ_STR(
	    out.p,
	    "{\"Nodes\":{\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"node-a\"},"
	    "\"x\":[1,2.5e3,true,null]}]},\"NodeNames\":null,\"FailedNodes\":{\"node-\\u0062\":"
	    "\"nodescore: node flagged anomalous (anomaly score 0.912)\"},"
	    "\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
	ns_buf_free(&out);
}

static int parse(struct ns_ext_args *a, const char *body)
{
	return ns_extjson_parse(a, body, strlen(body));
}

static void test_pod_requests(void)
{
	struct ns_ext_args a;

	memset(&a, 0, sizeof(a));
	/* containers summed; init containers max; overhead added */
	CHECK_EQ_INT(parse(&a,
			   "{\"Pod\":{\"spec\":{\"overhead\":{\"cpu\":\"10m\",\"memory\":\"1Mi\"},"
			   "\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"100m\","
			   "\"memory\":\"1Gi\"}}},{\"resources\":{\"requests\":{\"cpu\":0.5,"
			   "\"ephemeral-storage\":\"1Gi\"},\"limits\":{\"cpu\":\"4\"}}}],"
			   "\"initContainers\":[{\"resources\":{\"requests\":{\"cpu\":\"2\","
			   "\"memory\":\"10Mi\"}}}]}},\"NodeNames\":[]}"),
		     0);
	CHECK_EQ_INT(a.cpu_milli, 2010);
	CHECK_EQ_INT(a.mem_bytes, (1ll << 30) + (1 << 20));
	CHECK_EQ_INT(a.mode, NS_EXT_NAMES);
	CHECK_EQ_INT(a.cls, NS_CLASS_DEFAULT);
	/* sidecar (restartable init container) runs alongside everything after it */
	CHECK_EQ_INT(
	    parse(&a,
		  "{\"Pod\":{\"metadata\":{\"labels\":{\"nodescore.io/class\":\"batch\"}},"
		  "\"spec\":{\"initContainers\":["
		  "{\"name\":\"side\",\"restartPolicy\":\"Always\",\"resources\":{\"requests\":"
		  "{\"cpu\":\"300m\"}}},{\"name\":\"init\",\"resources\":{\"requests\":{\"cpu\":"
		  "\"1\"}}}],\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"500m\"}}}]}},"
		  "\"Nodes\":{\"items\":[]}}"),
	    0);
	/* max(500m + 300m, 1000m + 300m) */
	CHECK_EQ_INT(a.cpu_milli, 1300);
	CHECK_EQ_INT(a.mode, NS_EXT_OBJECTS);
	CHECK_EQ_INT(a.cls, NS_CLASS_BATCH);
	CHECK_EQ_INT(parse(&a, "{\"Pod\":{\"metadata\":{\"labels\":{\"nodescore.io/class\":"
			       "\"latency-critical\"}},\"spec\":null},\"NodeNames\":[]}"),
		     0);
	CHECK_EQ_INT(a.cls, NS_CLASS_LATENCY);
	CHECK_EQ_INT(a.cpu_milli, 0);
	CHECK_EQ_INT(parse(&a, "{\"Pod\":{\"metadata\":{\"labels\":{\"nodescore.io/class\":"
			       "\"gold\"}}},\"NodeNames\":[]}"),
		     0);
	CHECK_EQ_INT(a.cls, NS_CLASS_DEFAULT);
	ns_extjson_free(&a);
}

static void test_rejects_bad_requests(void)
{
	static const char *const bad[] = {
	    "",
	    "   ",
	    "null",
	    "[]",
	    "{",
	    "{}",
	    "{\"Pod\":{}}",
	    "{\"NodeNames\":[]}",
	    "{\"Pod\":null,\"NodeNames\":[]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\",]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\"],}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\"]}x",
	    "{\"Pod\":{},\"NodeNames\":[\"a\"]}{}",
	    "{\"Pod\":{},\"NodeNames\":[1]}",
	    "{\"Pod\":{},\"NodeNames\":\"a\"}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\"],\"Nodes\":{\"items\":[]}}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\"],\"NodeNames\":[\"b\"]}",
	    "{\"Pod\":{},\"Nodes\":{\"items\":[{\"metadata\":{}}]}}",
	    "{\"Pod\":{},\"Nodes\":{\"items\":[{\"metadata\":{\"name\":7}}]}}",
	    "{\"Pod\":{},\"Nodes\":{\"items\":[\"a\"]}}",
	    "{\"Pod\":{},\"Nodes\":[]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\x01\"]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\\x\"]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\\u12\"]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\\u12g4\"]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a]}",
	    "{\"Pod\":{\"x\":01},\"NodeNames\":[]}",
	    "{\"Pod\":{\"x\":1.},\"NodeNames\":[]}",
	    "{\"Pod\":{\"x\":-},\"NodeNames\":[]}",
	    "{\"Pod\":{\"x\":1e},\"NodeNames\":[]}",
	    "{\"Pod\":{\"x\":+1},\"NodeNames\":[]}",
	    "{\"Pod\":{\"x\":tru},\"NodeNames\":[]}",
	    "{\"Pod\":{\"x\":NaN},\"NodeNames\":[]}",
	    "{\"Pod\":{\"x\" 1},\"NodeNames\":[]}",
	    "{\"Pod\":{x:1},\"NodeNames\":[]}",
	    "{\"Pod\":{'x':1},\"NodeNames\":[]}",
	    "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1K\"}}}]}}"
	    ","
	    "\"NodeNames\":[]}",
	    "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"-1\"}}}]}}"
	    ","
	    "\"NodeNames\":[]}",
	    "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":{\"memory\":true}}}]}"
	    "},"
	    "\"NodeNames\":[]}",
	    "{\"Pod\":{\"spec\":{\"containers\":{}}},\"NodeNames\":[]}",
	    "{\"Pod\":{\"metadata\":{\"labels\":{\"nodescore.io/class\":1}}},\"NodeNames\":[]}",
	    "{\"Pod\":{},\"NodeNames\":[\"a\"]",
	};
	struct ns_buf out = {0};
	struct ns_extapi_stats st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int v = FILTER; v <= PRIORITIZE; v++) {
			cJSON *j, *e;
			int code = run_str((enum verb)v, &cfg, bad[i], &out, &st);
			if (code != 400) {
				fprintf(stderr, "  accepted (%d): %s\n", code, bad[i]);
				CHECK(0);
			}
			/* The reply is valid JSON with a non-empty Error string. */
			j = cJSON_ParseWithLength(out.p, out.len);
			CHECK(j);
			e = cJSON_GetObjectItemCaseSensitive(j, "Error");
			CHECK(cJSON_IsString(e) && e->valuestring[0]);
			if (v == FILTER)
				CHECK(
				    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(j, "NodeNames")));
			cJSON_Delete(j);
		}
	}
	/* An embedded NUL ends nothing: it is a bad token. */
	CHECK_EQ_INT(call(FILTER, &cfg, "{\"Pod\":{},\"NodeNames\":[]}\0", 27, &out, &st), 400);
	ns_buf_free(&out);
}

/* Writes a request whose Pod field x holds n nested arrays into b (room for
 * 2n + 64 bytes); returns its length. */
static size_t nested_request(char *b, size_t n)
{
	size_t len = (size_t)sprintf(b, "{\"Pod\":{\"x\":");

	memset(b + len, '[', n);
	len += n;
	memset(b + len, ']', n);
	len += n;
	len += (size_t)sprintf(b + len, "},\"NodeNames\":[]}");
	return len;
}

static void test_depth_limit(void)
{
	struct ns_ext_args a;
	size_t n = 100000, len;
	char *b = malloc(2 * n + 64);

	CHECK(b);
	memset(&a, 0, sizeof(a));
	len = nested_request(b, n);
	CHECK_EQ_INT(ns_extjson_parse(&a, b, len), -EINVAL);
	CHECK(strstr(a.err, "too deep"));
	/* just under the limit is fine: top object + Pod + x = 3 levels */
	n = NS_EXTJSON_MAX_DEPTH - 3;
	len = nested_request(b, n);
	CHECK_EQ_INT(ns_extjson_parse(&a, b, len), 0);
	free(b);
	ns_extjson_free(&a);
}

/* Every prefix of a valid body placed against a guard page: a read past
 * the end faults; every strict prefix must be rejected. */
static void test_guard_page_prefixes(void)
{
	size_t len;
	char *body = slurp("tests/fixtures/extender/filter_objects_request.json", &len);
	long pg = sysconf(_SC_PAGESIZE);
	size_t span = (len / (size_t)pg + 2) * (size_t)pg;
	char *m = mmap(NULL, span + (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	struct ns_ext_args a;

	CHECK(body);
	CHECK(m != MAP_FAILED);
	CHECK(mprotect(m + span, (size_t)pg, PROT_NONE) == 0);
	memset(&a, 0, sizeof(a));
	for (size_t l = 0; l <= len; l++) {
		char *p = m + span - l;
		memcpy(p, body, l);
		int rc = ns_extjson_parse(&a, p, l);
		if (l < len)
			CHECK_EQ_INT(rc, -EINVAL);
		else
			CHECK_EQ_INT(rc, 0);
	}
	CHECK_EQ_INT(a.n, 6);
	CHECK_EQ_INT(a.cpu_milli, 1000);
	munmap(m, span + (size_t)pg);
	free(body);
	ns_extjson_free(&a);
}

static void test_buf_json_and_growth(void)
{
	struct ns_buf b = {0};
	char *p;
	size_t len;

	ns_buf_put_json_str(&b, "a\"b\\c\n\x01\x1f/\xc3\xa9", 11);
	CHECK_EQ_STR(b.p, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f/\xc3\xa9\"");
	b.len = 0;
	for (int i = 0; i < 100000; i++)
		ns_buf_put_u64(&b, (unsigned long long)i % 10);
	CHECK_EQ_INT(b.len, 100000);
	CHECK(b.cap > b.len && b.p[b.len] == '\0');
	ns_buf_printf(&b, "%s=%d", "x", 18446);
	CHECK_EQ_INT(b.len, 100007);
	CHECK(memcmp(b.p + 100000, "x=18446", 7) == 0);
	p = ns_buf_take(&b, &len);
	CHECK_EQ_INT(len, 100007);
	CHECK(b.p == NULL && b.len == 0);
	free(p);
	ns_buf_put_u64(&b, 18446744073709551615ull);
	CHECK_EQ_STR(b.p, "18446744073709551615");
	ns_buf_free(&b);
}

static void test_scale_5000(void)
{
	struct ns_buf body = {0}, out = {0};
	struct ns_extapi_stats st;
	struct ns_extapi_ctx ctx;
	size_t nodes_len;
	char *nodefix = slurp("tests/fixtures/extender/filter_objects_request.json", &nodes_len);
	const char *item, *end;
	uint64_t t0, best = UINT64_MAX;

	memset(&ctx, 0, sizeof(ctx));
	CHECK(nodefix);
	for (int i = 0; i < 5000; i++) {
		char name[32];
		struct node_spec s = {name, 0,	  (uint16_t)(i % 1001), 0,	 500, 500,
				      4000, 4000, (uint32_t)i,		NOW_MONO};
		snprintf(name, sizeof(name), "worker-%05d.zone-a", i);
		CHECK_EQ_INT(add(&s), 0);
	}
	ns_buf_puts(&body, "{\"Pod\":{},\"Nodes\":null,\"NodeNames\":[");
	for (int i = 0; i < 5000; i++)
		ns_buf_printf(&body, "%s\"worker-%05d.zone-a\"", i ? "," : "", i);
	ns_buf_puts(&body, "]}");
	for (int r = 0; r < 20; r++) {
		t0 = ns_mono_ns();
		CHECK_EQ_INT(
		    ns_extapi_prioritize(&ctx, table, &cfg, NOW, body.p, body.len, &out, &st), 200);
		t0 = ns_mono_ns() - t0;
		if (t0 < best)
			best = t0;
	}
	CHECK_EQ_INT(st.nodes, 5000);
	CHECK_EQ_INT(st.unknown, 0);
	printf("  prioritize, 5,000 names: %.3f ms (best of 20, parse + lookup + reply)\n",
	       best / 1e6);

	/* 5,000 full Node objects (~13 MB) cut from the fixture's first item. */
	item = strstr(nodefix, "\"items\":[") + 9;
	end = strstr(item, "},{\"metadata\"") + 1;
	body.len = 0;
	ns_buf_puts(&body, "{\"Pod\":{},\"Nodes\":{\"metadata\":{},\"items\":[");
	for (int i = 0; i < 5000; i++) {
		if (i)
			ns_buf_putc(&body, ',');
		ns_buf_put(&body, item, (size_t)(end - item));
	}
	ns_buf_puts(&body, "]},\"NodeNames\":null}");
	best = UINT64_MAX;
	for (int r = 0; r < 5; r++) {
		t0 = ns_mono_ns();
		CHECK_EQ_INT(ns_extapi_filter(&ctx, table, &cfg, NOW, body.p, body.len, &out, &st),
			     200);
		t0 = ns_mono_ns() - t0;
		if (t0 < best)
			best = t0;
	}
	CHECK_EQ_INT(st.nodes, 5000);
	CHECK(out.len > body.len - 100);
	printf("  filter, 5,000 Node objects (%.1f MB): %.2f ms (best of 5)\n", body.len / 1e6,
	       best / 1e6);
	ns_extapi_ctx_free(&ctx);
	ns_buf_free(&body);
	ns_buf_free(&out);
	free(nodefix);
}

/* Two nodes close in score: without holds every pod between two messages
 * gets the same best node (the herd nodescore-sim measured); with holds
 * the second pod goes to the other node, the filter counts what is held,
 * and a message measured after the settle time ends the hold. */
static void test_reservations(void)
{
	static const struct node_spec r1 = {"r-1", 0, 800, 0, 300, 300, 4000, 8192, 100, NOW_MONO};
	static const struct node_spec r2 = {"r-2", 0, 780, 0, 300, 300, 4000, 8192, 100, NOW_MONO};
	const char *pod =
	    "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
	    "{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}},\"NodeNames\":[\"r-1\",\"r-2\"]}";
	const char *big = "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
			  "{\"cpu\":\"3500m\"}}}]}},\"NodeNames\":[\"r-1\",\"r-2\"]}";
	const char *first = "[{\"Host\":\"r-1\",\"Score\":10},{\"Host\":\"r-2\",\"Score\":0}]";
	const char *second = "[{\"Host\":\"r-1\",\"Score\":0},{\"Host\":\"r-2\",\"Score\":10}]";
	struct ns_extapi_cfg rc = cfg;
	struct ns_reserve_stats rs;
	struct ns_extapi_stats st;
	struct ns_buf out = {0};
	struct ns_reserve *r = ns_reserve_new(64, 5000, TTL);

	CHECK(r != NULL);
	if (!r)
		return;
	rc.resv = r;
	CHECK_EQ_INT(add(&r1), 0);
	CHECK_EQ_INT(add(&r2), 0);
	/* no holds: the same answer twice */
	for (int i = 0; i < 2; i++) {
		CHECK_EQ_INT(call(PRIORITIZE, &cfg, pod, strlen(pod), &out, &st), 200);
		CHECK_EQ_STR(out.p, first);
	}
	CHECK_EQ_INT(call(PRIORITIZE, &rc, pod, strlen(pod), &out, &st), 200);
	CHECK_EQ_STR(out.p, first);
	CHECK_EQ_INT(st.reserved, 1);
	CHECK_EQ_INT(ns_reserve_active(r), 1);
	/* r-1 holds 1000m of its 4000m: a 3500m pod no longer fits there */
	CHECK_EQ_INT(call(FILTER, &rc, big, strlen(big), &out, &st), 200);
	CHECK_EQ_INT(st.held, 1);
	CHECK_EQ_INT(st.failed_cpu, 1);
	CHECK(strstr(out.p, "\"r-1\":\"nodescore: forecast CPU headroom 3000m < pod request 3500m "
			    "(after pods placed since its last score)\"") != NULL);
	/* 800 x 3/4 of its headroom left ranks below 780 */
	CHECK_EQ_INT(call(PRIORITIZE, &rc, pod, strlen(pod), &out, &st), 200);
	CHECK_EQ_STR(out.p, second);
	CHECK_EQ_INT(ns_reserve_active(r), 2);
	/* a message sent before the settle time keeps the hold ... */
	CHECK_EQ_INT(add_at(&r1, NOW_MS + 4999), 0);
	CHECK_EQ_INT(call(FILTER, &rc, big, strlen(big), &out, &st), 200);
	CHECK_EQ_INT(st.held, 2);
	/* ... one sent after it ends it */
	CHECK_EQ_INT(add_at(&r1, NOW_MS + 5000), 0);
	CHECK_EQ_INT(call(FILTER, &rc, big, strlen(big), &out, &st), 200);
	CHECK_EQ_INT(st.held, 1);
	CHECK_EQ_INT(st.failed_cpu, 1);
	CHECK(strstr(out.p, "\"NodeNames\":[\"r-1\"]") != NULL);
	ns_reserve_stats(r, &rs);
	CHECK_EQ_INT(rs.made, 2);
	CHECK_EQ_INT(rs.settled, 1);
	ns_reserve_free(r);
	ns_buf_free(&out);
}

static void test_reserve_table(void)
{
	struct ns_reserve *r = ns_reserve_new(64, 1000, 10000);
	struct ns_node_data d = {.ts_ms = 0};
	struct ns_reserve_stats rs;
	uint32_t c = 0, m = 0, h = 7;
	char name[16];

	CHECK(ns_reserve_new(0, 1000, 1000) == NULL);
	CHECK(ns_reserve_new(64, 1000, 0) == NULL);
	CHECK(ns_reserve_new((1u << 20) + 1, 1000, 1000) == NULL);
	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_EQ_INT(ns_reserve_add(r, "", 0, h, 1000, 1, 100, 1), -EINVAL);
	CHECK_EQ_INT(ns_reserve_add(r, "a", 1, h, 1000, 1, 100, 1), 0);
	CHECK_EQ_INT(ns_reserve_add(r, "a", 1, h, 1000, 2, UINT32_MAX, 2), 0);
	CHECK_EQ_INT(ns_reserve_get(r, "a", 1, h, &d, 3, &c, &m), 1);
	CHECK(c == UINT32_MAX); /* saturates */
	CHECK_EQ_INT((int)m, 3);
	/* same hash, other name: not the same hold */
	CHECK_EQ_INT(ns_reserve_get(r, "b", 1, h, &d, 3, &c, &m), 0);
	/* age ends a hold whatever the node sends */
	CHECK_EQ_INT(ns_reserve_get(r, "a", 1, h, &d, 10003, &c, &m), 0);
	CHECK_EQ_INT(ns_reserve_active(r), 0);
	/* nine live names on one probe window of eight: the oldest is replaced */
	for (int i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		CHECK_EQ_INT(
		    ns_reserve_add(r, name, strlen(name), h, 1000, (uint64_t)(100 + i), 1, 1),
		    i < 8 ? 0 : -ENOSPC);
	}
	CHECK_EQ_INT(ns_reserve_active(r), 8);
	CHECK_EQ_INT(ns_reserve_get(r, "n0", 2, h, &d, 200, &c, &m), 0);
	CHECK_EQ_INT(ns_reserve_get(r, "n8", 2, h, &d, 200, &c, &m), 1);
	ns_reserve_stats(r, &rs);
	CHECK_EQ_INT(rs.replaced, 1);
	CHECK_EQ_INT(rs.expired, 1);
	ns_reserve_free(r);
}

/* hold_at_bind: prioritize holds nothing; ns_extapi_hold holds the pod
 * where it was bound, and filter and prioritize then count that hold. */
static void test_hold_at_bind(void)
{
	static const struct node_spec b1 = {"b-1", 0, 800, 0, 300, 300, 4000, 8192, 100, NOW_MONO};
	static const struct node_spec b2 = {"b-2", 0, 780, 0, 300, 300, 4000, 8192, 100, NOW_MONO};
	const char *pod =
	    "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
	    "{\"cpu\":\"1\",\"memory\":\"1Gi\"}}}]}},\"NodeNames\":[\"b-1\",\"b-2\"]}";
	const char *big = "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
			  "{\"cpu\":\"3500m\"}}}]}},\"NodeNames\":[\"b-1\",\"b-2\"]}";
	struct ns_extapi_cfg bc = cfg;
	struct ns_extapi_stats st;
	struct ns_buf out = {0};
	struct ns_reserve *r = ns_reserve_new(64, 5000, TTL);

	CHECK(r != NULL);
	if (!r)
		return;
	CHECK_EQ_INT(ns_extapi_hold(&bc, "b-2", 3, 1000, 0, NOW), -EINVAL); /* no table */
	bc.resv = r;
	bc.hold_at_bind = 1;
	CHECK_EQ_INT(add(&b1), 0);
	CHECK_EQ_INT(add(&b2), 0);
	CHECK_EQ_INT(call(PRIORITIZE, &bc, pod, strlen(pod), &out, &st), 200);
	CHECK_EQ_INT(st.reserved, 0);
	CHECK_EQ_INT(ns_reserve_active(r), 0);
	/* the scheduler bound it to b-2, not to the extender's first choice */
	CHECK_EQ_INT(ns_extapi_hold(&bc, "b-2", 3, 1000, 1 << 30, NOW), 0);
	CHECK_EQ_INT(ns_reserve_active(r), 1);
	CHECK_EQ_INT(call(FILTER, &bc, big, strlen(big), &out, &st), 200);
	CHECK_EQ_INT(st.held, 1);
	CHECK_EQ_INT(st.failed_cpu, 1);
	CHECK(strstr(out.p, "\"NodeNames\":[\"b-1\"]") != NULL);
	/* a pod with no requests holds nothing */
	CHECK_EQ_INT(ns_extapi_hold(&bc, "b-1", 3, 0, 0, NOW), 0);
	CHECK_EQ_INT(ns_reserve_active(r), 1);
	ns_reserve_free(r);
	ns_buf_free(&out);
}

/* nodescore-sim calls the verbs on a request it builds (the _args entry
 * points): they must decide exactly what the JSON path decides, holds
 * included. Each path gets its own context and hold table; the pods go
 * through both in turn and every removal, score, stat and hold must match. */
static int args_from(struct ns_extapi_ctx *c, const char *const *names, size_t n, int64_t cpu_m,
		     int64_t mib)
{
	if (ns_extjson_reset(&c->args, n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		c->args.nodes[i].name = names[i];
		c->args.nodes[i].name_len = strlen(names[i]);
	}
	c->args.n = n;
	c->args.cpu_milli = cpu_m;
	c->args.mem_bytes = mib * 1048576;
	return 0;
}

static void test_args_paths_agree(void)
{
	static const char *const names[] = {"node-a", "node-b", "node-c", "node-d",
					    "node-e", "node-f", "r-1",	  "r-2"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	static const int64_t cpu[] = {500, 1500, 3900, 0, 1000, 1000};
	static const int64_t mib[] = {512, 600, 100, 8193, 1024, 1024};
	struct ns_extapi_ctx cj = {0}, ca = {0};
	struct ns_extapi_cfg fj = cfg, fa = cfg;
	struct ns_extapi_stats sj, sa;
	struct ns_buf body = {0}, out = {0};
	int same = 1, holds = 0;

	fj.resv = ns_reserve_new(64, 5000, TTL);
	fa.resv = ns_reserve_new(64, 5000, TTL);
	CHECK(fj.resv && fa.resv);
	for (size_t p = 0; fj.resv && fa.resv && p < sizeof(cpu) / sizeof(cpu[0]); p++) {
		char tmp[200];
		body.len = 0;
		snprintf(tmp, sizeof(tmp),
			 "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
			 "{\"cpu\":\"%lldm\",\"memory\":\"%lldMi\"}}}]}},\"NodeNames\":[",
			 (long long)cpu[p], (long long)mib[p]);
		ns_buf_puts(&body, tmp);
		for (size_t i = 0; i < N; i++) {
			snprintf(tmp, sizeof(tmp), "%s\"%s\"", i ? "," : "", names[i]);
			ns_buf_puts(&body, tmp);
		}
		ns_buf_puts(&body, "]}");
		CHECK_EQ_INT(ns_extapi_filter(&cj, table, &fj, NOW, body.p, body.len, &out, &sj),
			     200);
		CHECK_EQ_INT(args_from(&ca, names, N, cpu[p], mib[p]), 0);
		CHECK_EQ_INT(ns_extapi_filter_args(&ca, table, &fa, NOW, &sa), 200);
		for (size_t i = 0; i < N; i++)
			same &= ns_extapi_removed(&cj, i) == ns_extapi_removed(&ca, i);
		same &= sj.failed_cpu == sa.failed_cpu && sj.failed_mem == sa.failed_mem &&
			sj.failed_anomaly == sa.failed_anomaly && sj.fail_open == sa.fail_open &&
			sj.held == sa.held && sj.stale == sa.stale && sj.unknown == sa.unknown;
		CHECK_EQ_INT(
		    ns_extapi_prioritize(&cj, table, &fj, NOW, body.p, body.len, &out, &sj), 200);
		CHECK_EQ_INT(ns_extapi_prioritize_args(&ca, table, &fa, NOW, &sa), 200);
		for (size_t i = 0; i < N; i++)
			same &= ns_extapi_score(&cj, i) == ns_extapi_score(&ca, i);
		same &= sj.reserved == sa.reserved && sj.held == sa.held;
		holds += sa.reserved;
	}
	CHECK(same);
	/* the case must exercise holds and filtering, or it shows nothing */
	CHECK(holds >= 3);
	CHECK_EQ_INT(ns_reserve_active(fj.resv), ns_reserve_active(fa.resv));
	ns_reserve_free(fj.resv);
	ns_reserve_free(fa.resv);
	ns_extapi_ctx_free(&cj);
	ns_extapi_ctx_free(&ca);
	ns_buf_free(&body);
	ns_buf_free(&out);
}

int main(void)
{
	table = ns_table_new(10000);
	if (!table)
		return 1;
	for (size_t i = 0; i < sizeof(cluster) / sizeof(cluster[0]); i++)
		if (add(&cluster[i]) < 0)
			return 1;
	RUN(test_fixtures_names_mode);
	RUN(test_fixtures_objects_mode);
	RUN(test_fixtures_pod_classes);
	RUN(test_filter_stats_and_fail_open);
	RUN(test_prioritize_normalisation);
	RUN(test_escapes_and_lowercase_keys);
	RUN(test_pod_requests);
	RUN(test_rejects_bad_requests);
	RUN(test_depth_limit);
	RUN(test_guard_page_prefixes);
	RUN(test_buf_json_and_growth);
	RUN(test_scale_5000);
	RUN(test_reservations);
	RUN(test_reserve_table);
	RUN(test_args_paths_agree);
	RUN(test_hold_at_bind);
	ns_table_free(table);
	return CHECK_SUMMARY();
}
