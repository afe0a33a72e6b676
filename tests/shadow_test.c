// SPDX-License-Identifier: MIT
/* Extender shadow mode: neutral replies, the would-be decisions in the
 * stats, the least-allocated comparison and that holds are left alone. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/clock.h"
#include "nodescore/extapi.h"
#include "nodescore/extjson.h"
#include "check.h"
#include "extfixture.h"

static struct ns_extapi_ctx ctx;

struct node_spec {
	const char *name;
	uint8_t flags;
	uint16_t score, cpu_now, mem_now;
	uint32_t free_m;
};

static int add(const struct node_spec *s)
{
	struct ns_msg m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", s->name);
	m.flags = s->flags;
	m.ts_ms = NOW_MS;
	m.score = s->score;
	m.anomaly = s->flags ? 900 : 10;
	m.cpu_now = s->cpu_now;
	m.mem_now = s->mem_now;
	m.cpu_peak_fc = m.mem_peak_fc = 300;
	m.free_millicores = s->free_m;
	m.free_mib = 8192;
	m.rtt_p99_us = 100;
	return ingest_msg(&m, NOW_MS, NOW_MONO);
}

/* s-a ranks well but is busy; s-b is the least allocated that nodescore
 * keeps; s-c ranks best but has 500m of forecast CPU headroom; s-d is the
 * least allocated of all but anomalous; s-e ties s-b on allocation. s-x
 * never publishes. */
static const struct node_spec cluster[] = {
    {"s-a", 0, 900, 700, 600, 4000}, {"s-b", 0, 500, 200, 200, 4000},
    {"s-c", 0, 950, 100, 100, 500},  {"s-d", NS_FLAG_ANOMALY, 1000, 0, 0, 4000},
    {"s-e", 0, 400, 200, 200, 4000},
};

static const struct ns_extapi_cfg real = {.ttl_ms = TTL, .norm = NS_NORM_LINEAR};
static const struct ns_extapi_cfg shadow = {.ttl_ms = TTL, .norm = NS_NORM_LINEAR, .shadow = 1};

#define POD_1CPU                                                                                   \
	"\"Pod\":{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\"},\"spec\":{"             \
	"\"containers\":[{\"resources\":{\"requests\":{\"cpu\":\"1\"}}}]}}"
#define POD_NONE "\"Pod\":{\"metadata\":{\"name\":\"idle\"}}"
#define ALL "\"NodeNames\":[\"s-a\",\"s-b\",\"s-c\",\"s-d\",\"s-x\"]"

static int filter(const struct ns_extapi_cfg *c, const char *body, struct ns_buf *out,
		  struct ns_extapi_stats *st)
{
	return ns_extapi_filter(&ctx, table, c, NOW, body, strlen(body), out, st);
}

static int prioritize(const struct ns_extapi_cfg *c, const char *body, struct ns_buf *out,
		      struct ns_extapi_stats *st)
{
	return ns_extapi_prioritize(&ctx, table, c, NOW, body, strlen(body), out, st);
}

/* Name of request candidate i of the last call, for comparisons. */
static const char *cand(size_t i, char *buf, size_t cap)
{
	if (i == SIZE_MAX)
		return "(none)";
	snprintf(buf, cap, "%.*s", (int)ctx.args.nodes[i].name_len, ctx.args.nodes[i].name);
	return buf;
}

static void test_filter_neutral_names(void)
{
	const char *req = "{" POD_1CPU "," ALL "}";
	struct ns_buf out = {0};
	struct ns_extapi_stats st;

	/* The real filter removes the anomalous node and the one short of CPU. */
	CHECK_EQ_INT(filter(&real, req, &out, &st), 200);
	CHECK(strstr(out.p, "\"NodeNames\":[\"s-a\",\"s-b\",\"s-x\"]") != NULL);
	CHECK(strstr(out.p,
		     "\"s-c\":\"nodescore: forecast CPU headroom 500m < pod request 1000m\"") !=
	      NULL);
	/* Shadow: every node passes, no failures, the decisions in the stats. */
	CHECK_EQ_INT(filter(&shadow, req, &out, &st), 200);
	CHECK_EQ_STR(out.p,
		     "{\"Nodes\":null,\"NodeNames\":[\"s-a\",\"s-b\",\"s-c\",\"s-d\",\"s-x\"],"
		     "\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":{},\"Error\":\"\"}");
	CHECK_EQ_INT(st.nodes, 5);
	CHECK_EQ_INT(st.unknown, 1);
	CHECK_EQ_INT(st.failed_anomaly, 1);
	CHECK_EQ_INT(st.failed_cpu, 1);
	CHECK_EQ_INT(st.failed_mem, 0);
	CHECK_EQ_INT(st.fail_open, 0);
	ns_buf_free(&out);
}

static void test_filter_neutral_objects(void)
{
	const char *req =
	    "{" POD_1CPU ",\"Nodes\":{\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"s-c\"},"
	    "\"spec\":{}},{\"metadata\":{\"name\":\"s-d\",\"labels\":{\"x\":\"y\"}}}]},"
	    "\"NodeNames\":null}";
	struct ns_buf out = {0};
	struct ns_extapi_stats st;

	/* Both would fail: the real filter fails open, so shadow counts that. */
	CHECK_EQ_INT(filter(&shadow, req, &out, &st), 200);
	CHECK_EQ_STR(out.p,
		     "{\"Nodes\":{\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"s-c\"},"
		     "\"spec\":{}},{\"metadata\":{\"name\":\"s-d\",\"labels\":{\"x\":\"y\"}}}]},"
		     "\"NodeNames\":null,\"FailedNodes\":{},\"FailedAndUnresolvableNodes\":{},"
		     "\"Error\":\"\"}");
	CHECK_EQ_INT(st.fail_open, 1);
	CHECK_EQ_INT(st.failed_anomaly, 1);
	CHECK_EQ_INT(st.failed_cpu, 1);
	/* A bad request is still a 400 in shadow mode: neutral is not blind. */
	CHECK_EQ_INT(filter(&shadow, "{\"Pod\":{},\"NodeNames\":[1]}", &out, &st), 400);
	CHECK(strstr(out.p, "\"Error\":\"") != NULL);
	ns_buf_free(&out);
}

static void test_prioritize_neutral(void)
{
	const char *req = "{" POD_1CPU "," ALL "}";
	struct ns_buf out = {0};
	struct ns_extapi_stats st;
	char b1[64], b2[64];

	/* The real answer over the same request is spread out. */
	CHECK_EQ_INT(prioritize(&real, req, &out, &st), 200);
	CHECK_EQ_STR(out.p, "[{\"Host\":\"s-a\",\"Score\":9},{\"Host\":\"s-b\",\"Score\":5},"
			    "{\"Host\":\"s-c\",\"Score\":10},{\"Host\":\"s-d\",\"Score\":0},"
			    "{\"Host\":\"s-x\",\"Score\":5}]");
	CHECK_EQ_INT(st.agree, NS_SHADOW_NO_SIGNAL); /* not computed outside shadow */
	CHECK_EQ_INT(prioritize(&shadow, req, &out, &st), 200);
	CHECK_EQ_STR(out.p, "[{\"Host\":\"s-a\",\"Score\":5},{\"Host\":\"s-b\",\"Score\":5},"
			    "{\"Host\":\"s-c\",\"Score\":5},{\"Host\":\"s-d\",\"Score\":5},"
			    "{\"Host\":\"s-x\",\"Score\":5}]");
	/* s-c and s-d would have been filtered before prioritize: the would-be
	 * first choice is s-a, spread against s-b alone; least allocated among
	 * all fresh candidates is s-d. */
	CHECK_EQ_STR(cand(st.top, b1, sizeof(b1)), "s-a");
	CHECK_EQ_STR(cand(st.base_top, b2, sizeof(b2)), "s-d");
	CHECK_EQ_INT(st.agree, NS_SHADOW_DISAGREE);
	CHECK_EQ_INT(st.failed_cpu, 1);
	CHECK_EQ_INT(st.failed_anomaly, 1);
	CHECK_EQ_INT(st.would_scores[10], 1); /* s-a */
	CHECK_EQ_INT(st.would_scores[0], 1);  /* s-b */
	CHECK_EQ_INT(st.would_scores[5], 1);  /* s-x, unknown */
	{
		uint32_t total = 0;
		for (int i = 0; i <= NS_EXT_SCORE_MAX; i++)
			total += st.would_scores[i];
		CHECK_EQ_INT(total, 3);
	}
	ns_buf_free(&out);
}

static void test_agreement(void)
{
	struct ns_buf out = {0};
	struct ns_extapi_stats st;
	char b1[64], b2[64];

	/* s-c fits a pod without requests, ranks best and is least allocated. */
	CHECK_EQ_INT(
	    prioritize(&shadow, "{" POD_NONE ",\"NodeNames\":[\"s-b\",\"s-c\"]}", &out, &st), 200);
	CHECK_EQ_STR(cand(st.top, b1, sizeof(b1)), "s-c");
	CHECK_EQ_STR(cand(st.base_top, b2, sizeof(b2)), "s-c");
	CHECK_EQ_INT(st.agree, NS_SHADOW_AGREE);
	/* s-a ranks first, s-b is less allocated. */
	CHECK_EQ_INT(
	    prioritize(&shadow, "{" POD_NONE ",\"NodeNames\":[\"s-a\",\"s-b\"]}", &out, &st), 200);
	CHECK_EQ_STR(cand(st.top, b1, sizeof(b1)), "s-a");
	CHECK_EQ_STR(cand(st.base_top, b2, sizeof(b2)), "s-b");
	CHECK_EQ_INT(st.agree, NS_SHADOW_DISAGREE);
	/* s-e and s-b tie on allocation: either is the baseline's choice. */
	CHECK_EQ_INT(
	    prioritize(&shadow, "{" POD_NONE ",\"NodeNames\":[\"s-e\",\"s-b\"]}", &out, &st), 200);
	CHECK_EQ_STR(cand(st.top, b1, sizeof(b1)), "s-b");
	CHECK_EQ_STR(cand(st.base_top, b2, sizeof(b2)), "s-e");
	CHECK_EQ_INT(st.agree, NS_SHADOW_AGREE);
	/* Only unknown nodes: nothing to compare. */
	CHECK_EQ_INT(
	    prioritize(&shadow, "{" POD_NONE ",\"NodeNames\":[\"s-x\",\"s-y\"]}", &out, &st), 200);
	CHECK_EQ_INT(st.agree, NS_SHADOW_NO_SIGNAL);
	CHECK(st.top == SIZE_MAX && st.base_top == SIZE_MAX);
	CHECK_EQ_STR(out.p, "[{\"Host\":\"s-x\",\"Score\":5},{\"Host\":\"s-y\",\"Score\":5}]");
	/* Only an anomalous node: the filter fails open, nodescore has no
	 * choice it would hold against, so nothing is compared. */
	CHECK_EQ_INT(prioritize(&shadow, "{" POD_NONE ",\"NodeNames\":[\"s-d\"]}", &out, &st), 200);
	CHECK_EQ_INT(st.fail_open, 1);
	CHECK_EQ_INT(st.agree, NS_SHADOW_NO_SIGNAL);
	CHECK_EQ_STR(cand(st.base_top, b2, sizeof(b2)), "s-d");
	ns_buf_free(&out);
}

static void test_ranking(void)
{
	struct ns_buf out = {0};
	struct ns_extapi_stats st;
	size_t idx[8];
	uint8_t sc[8];
	char b[64];

	CHECK_EQ_INT(prioritize(&shadow,
				"{" POD_NONE ",\"NodeNames\":[\"s-x\",\"s-e\",\"s-a\",\"s-b\","
				"\"s-c\",\"s-a\"]}",
				&out, &st),
		     200);
	/* Best first, the duplicate after its twin, unknown nodes left out. */
	CHECK_EQ_INT(ns_extapi_shadow_ranking(&ctx, idx, sc, 8), 5);
	CHECK_EQ_STR(cand(idx[0], b, sizeof(b)), "s-c");
	CHECK_EQ_INT(sc[0], 10);
	CHECK_EQ_STR(cand(idx[1], b, sizeof(b)), "s-a");
	CHECK_EQ_INT(idx[1], 2);
	CHECK_EQ_INT(idx[2], 5);
	CHECK_EQ_INT(sc[1], sc[2]);
	CHECK_EQ_STR(cand(idx[3], b, sizeof(b)), "s-b");
	CHECK_EQ_STR(cand(idx[4], b, sizeof(b)), "s-e");
	CHECK_EQ_INT(sc[4], 0);
	CHECK_EQ_INT(ns_extapi_shadow_ranking(&ctx, idx, sc, 2), 2);
	CHECK_EQ_INT(idx[1], 2);
	ns_buf_free(&out);
}

static void test_holds_untouched(void)
{
	const char *big = "{\"Pod\":{\"spec\":{\"containers\":[{\"resources\":{\"requests\":"
			  "{\"cpu\":\"3500m\"}}}]}},\"NodeNames\":[\"s-a\",\"s-b\"]}";
	const char *one = "{" POD_1CPU ",\"NodeNames\":[\"s-a\",\"s-b\"]}";
	struct ns_reserve *r = ns_reserve_new(64, 5000, TTL);
	struct ns_extapi_cfg rs = real, sh = shadow;
	struct ns_reserve_stats before, after;
	struct ns_extapi_stats st;
	struct ns_buf out = {0};

	CHECK(r != NULL);
	if (!r)
		return;
	rs.resv = sh.resv = r;
	/* Shadow makes no hold, whatever the configuration carries. */
	CHECK_EQ_INT(prioritize(&sh, one, &out, &st), 200);
	CHECK_EQ_INT(st.reserved, 0);
	CHECK_EQ_INT(ns_reserve_active(r), 0);
	/* A real hold of 3500m on s-a: the real filter then refuses s-a for
	 * a 1-CPU pod; shadow neither reads nor ends that hold. */
	CHECK_EQ_INT(prioritize(&rs, big, &out, &st), 200);
	CHECK_EQ_INT(ns_reserve_active(r), 1);
	ns_reserve_stats(r, &before);
	CHECK_EQ_INT(filter(&rs, one, &out, &st), 200);
	CHECK_EQ_INT(st.held, 1);
	CHECK_EQ_INT(st.failed_cpu, 1);
	CHECK_EQ_INT(filter(&sh, one, &out, &st), 200);
	CHECK_EQ_INT(st.held, 0);
	CHECK_EQ_INT(st.failed_cpu, 0);
	CHECK_EQ_INT(prioritize(&sh, big, &out, &st), 200);
	CHECK_EQ_INT(st.reserved, 0);
	CHECK_EQ_INT(ns_reserve_active(r), 1);
	ns_reserve_stats(r, &after);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0);
	ns_reserve_free(r);
	ns_buf_free(&out);
}

static void test_pod_name(void)
{
	struct ns_buf out = {0};
	struct ns_extapi_stats st;

	CHECK_EQ_INT(filter(&shadow, "{" POD_1CPU ",\"NodeNames\":[]}", &out, &st), 200);
	CHECK(ctx.args.pod_name && ctx.args.pod_ns);
	CHECK(ctx.args.pod_name_len == 5 && memcmp(ctx.args.pod_name, "web-1", 5) == 0);
	CHECK(ctx.args.pod_ns_len == 4 && memcmp(ctx.args.pod_ns, "shop", 4) == 0);
	/* Escapes are decoded; the next request does not inherit the name. */
	CHECK_EQ_INT(filter(&shadow,
			    "{\"Pod\":{\"metadata\":{\"name\":\"a\\u002db\"}},\"NodeNames\":[]}",
			    &out, &st),
		     200);
	CHECK(ctx.args.pod_name_len == 3 && memcmp(ctx.args.pod_name, "a-b", 3) == 0);
	CHECK(ctx.args.pod_ns == NULL);
	/* A name of another type is ignored, as before names were read. */
	CHECK_EQ_INT(filter(&shadow,
			    "{\"Pod\":{\"metadata\":{\"name\":{\"x\":[1]},\"namespace\":7}},"
			    "\"NodeNames\":[]}",
			    &out, &st),
		     200);
	CHECK(ctx.args.pod_name == NULL && ctx.args.pod_ns == NULL);
	/* ... but it must still be valid JSON. */
	CHECK_EQ_INT(
	    filter(&shadow, "{\"Pod\":{\"metadata\":{\"name\":\"x}},\"NodeNames\":[]}", &out, &st),
	    400);
	ns_buf_free(&out);
}

/* What shadow costs on the hot path: the same 5,000-name prioritize both
 * ways, printed (a shared VM makes a time bound flaky); the shadow reply
 * must still be all 5 and its comparison made. */
static void test_scale_5000(void)
{
	struct ns_buf body = {0}, out = {0};
	struct ns_extapi_stats st;
	uint64_t best[2] = {UINT64_MAX, UINT64_MAX};
	size_t idx[5];
	uint8_t sc[5];
	char name[32];

	for (int i = 0; i < 5000; i++) {
		struct node_spec sp = {
		    name, 0, (uint16_t)(i * 7 % 1001), (uint16_t)(i % 900), (uint16_t)(i * 3 % 900),
		    4000};
		snprintf(name, sizeof(name), "worker-%05d", i);
		CHECK_EQ_INT(add(&sp), 0);
	}
	ns_buf_puts(&body, "{" POD_1CPU ",\"NodeNames\":[");
	for (int i = 0; i < 5000; i++)
		ns_buf_printf(&body, "%s\"worker-%05d\"", i ? "," : "", i);
	ns_buf_puts(&body, "]}");
	for (int r = 0; r < 40; r++) {
		const struct ns_extapi_cfg *c = r % 2 ? &shadow : &real;
		uint64_t t0 = ns_mono_ns();
		CHECK_EQ_INT(ns_extapi_prioritize(&ctx, table, c, NOW, body.p, body.len, &out, &st),
			     200);
		/* The HTTP layer takes the first five for /metrics on every call. */
		if (c->shadow)
			CHECK_EQ_INT(ns_extapi_shadow_ranking(&ctx, idx, sc, 5), 5);
		t0 = ns_mono_ns() - t0;
		if (t0 < best[r % 2])
			best[r % 2] = t0;
	}
	/* The last call was shadow. */
	CHECK_EQ_INT(st.nodes, 5000);
	CHECK(st.agree != NS_SHADOW_NO_SIGNAL);
	CHECK(strstr(out.p, "\"Score\":0") == NULL && strstr(out.p, "\"Score\":10") == NULL);
	printf("  prioritize, 5,000 names: %.3f ms real, %.3f ms shadow (best of 20 each; shadow "
	       "with its top 5)\n",
	       (double)best[0] / 1e6, (double)best[1] / 1e6);
	ns_buf_free(&body);
	ns_buf_free(&out);
}

int main(void)
{
	table = ns_table_new(8192);
	if (!table)
		return 1;
	for (size_t i = 0; i < sizeof(cluster) / sizeof(cluster[0]); i++)
		if (add(&cluster[i]) < 0) {
			fprintf(stderr, "cannot publish %s\n", cluster[i].name);
			return 1;
		}
	RUN(test_filter_neutral_names);
	RUN(test_filter_neutral_objects);
	RUN(test_prioritize_neutral);
	RUN(test_agreement);
	RUN(test_ranking);
	RUN(test_holds_untouched);
	RUN(test_pod_name);
	RUN(test_scale_5000);
	ns_extapi_ctx_free(&ctx);
	ns_table_free(table);
	return CHECK_SUMMARY();
}
