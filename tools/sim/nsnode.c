// SPDX-License-Identifier: MIT
/* The nodescore policy in nodescore-sim: every simulated node runs the
 * agent's own models (ns_models: features, forecaster, anomaly detector)
 * and score (ns_score_compute), signs a real wire message, and the
 * extender's own table and verbs (ns_table_ingest, ns_extapi_filter_args
 * and ns_extapi_prioritize_args: the verbs' decisions and holds on the
 * request, without its JSON) decide, combined with
 * kube-scheduler's default plugins as daemonset/scheduler-config.yaml
 * configures it (extender weight 2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/extapi.h"
#include "nodescore/forecast.h"
#include "nodescore/iforest.h"
#include "nodescore/log.h"
#include "nodescore/models.h"
#include "nodescore/sample.h"
#include "nodescore/score.h"
#include "nodescore/table.h"
#include "nodescore/wire.h"
#include "sim.h"

/* daemonset/scheduler-config.yaml; NODESCORE_SIM_EXT_WEIGHT overrides it for experiments */
#define EXT_WEIGHT 2
#define T0_MS 1700000000000ull
#define RESERVE_SETTLE_MS 10000

struct pending_msg {
	double due;
	uint8_t buf[NS_WIRE_MAX_LEN];
	int len;
};

/* Node names are "node-<i>"; formatted once, copied per request. */
struct nsname {
	char s[16];
	uint8_t len;
};

struct nsst {
	struct ns_models **m;
	struct ns_score_weights w;
	struct ns_table *table;
	struct ns_extapi_ctx ctx;
	struct ns_extapi_cfg cfg;
	uint8_t key[32];
	uint32_t seq;
	/* messages in flight (staleness): a ring per node of one, the newest wins */
	struct pending_msg *q;
	size_t qn, qcap;
	struct nsname *names;	  /* per node */
	uint32_t *kept, *kept_at; /* candidates the filter passed, their index in the request */
	uint32_t nnodes;
	double ext_weight;
	struct ns_reserve *resv;
};

int sim_ns_models_open(const struct sim *s, int with_q, struct ns_models **m)
{
	struct ns_models_config mc;
	struct ns_models_stats ms;
	struct ns_forecast *fcm = NULL;
	struct ns_iforest *ifm = NULL;
	char fc[512], an[512], qt[512], err[256];
	int rc = 0;

	snprintf(fc, sizeof(fc), "%s/forecast-default", s->models_dir);
	snprintf(an, sizeof(an), "%s/iforest-default.nsif", s->models_dir);
	snprintf(qt, sizeof(qt), "%s/qtable-default.nsq", s->models_dir);
	ns_models_config_default(&mc);
	mc.forecast_path = fc;
	mc.anomaly_path = an;
	mc.qtable_path = with_q ? qt : "none";
	mc.reload_ms = 0;
	mc.horizon_s = s->ns_horizon_s; /* the agent's --forecast-horizon */
	/* one detector sample per simulated step (its windows are in samples) */
	mc.anomaly_step_ms = (uint64_t)s->step_s * 1000;
	/* One read-only copy of the forecaster and the forest for all nodes
	 * (ns_models_config.forecast / .anomaly): a copy per node cost 1.8 MB
	 * each (1.8 GB at 1,000 nodes), ~5 % of a run in loading, and cache
	 * misses as every node walked its own trees. Each node still keeps
	 * its own features, detector state and refits. A model that does not
	 * load here is left to each node's open, which falls back as before. */
	if (ns_forecast_load_bundle(fc, &fcm, err, sizeof(err)))
		fcm = NULL;
	if (ns_iforest_load(an, &ifm, err, sizeof(err)))
		ifm = NULL;
	mc.forecast = fcm;
	mc.anomaly = ifm;
	for (uint32_t i = 0; i < s->nnodes && !rc; i++)
		if (ns_models_open(&mc, &m[i], err, sizeof(err))) {
			fprintf(stderr, "ERROR sim: models: %s\n", err);
			rc = -1;
		}
	/* Each node holds its own reference now. */
	ns_forecast_free(fcm);
	ns_iforest_free(ifm);
	if (rc)
		return rc;
	if (with_q && s->nnodes && (ns_models_stats(m[0], &ms), !ms.qtable.loaded)) {
		fprintf(stderr,
			"ERROR sim: models: no usable Q-table in %s (train one: "
			"nodescore-sim --train-q)\n",
			s->models_dir);
		return -1;
	}
	return 0;
}

/* The simulated wall clock, ms: what agents stamp and the extender reads. */
static uint64_t sim_ms(const struct sim *s)
{
	return T0_MS + (uint64_t)(s->t * 1000);
}

/* The pod's one container's requests as its JSON body would carry them:
 * "%.0fm" of CPU, whole MiB of memory rounded up. */
static int64_t pod_cpu_milli(const struct sim_pod *pod)
{
	return (int64_t)nearbyint(pod->cpu_req);
}

static int64_t pod_mem_bytes(const struct sim_pod *pod)
{
	return (int64_t)ceil(pod->mem_req) * 1048576;
}

/* NODESCORE_SIM_HOLD=bind: the extender learns where each pod was bound
 * (as it would as the scheduler's binder, bindVerb) and holds the pod's
 * request there, instead of on its own first choice. */
static void ns_bound(struct sim_policy *p, struct sim *s, uint32_t node, const struct sim_pod *pod)
{
	struct nsst *st = p->st;
	uint64_t ms = sim_ms(s);

	ns_extapi_hold(&st->cfg, st->names[node].s, st->names[node].len, pod_cpu_milli(pod),
		       pod_mem_bytes(pod), (struct ns_extapi_now){ms, ms});
}

int sim_ns_init(struct sim_policy *p, struct sim *s)
{
	struct nsst *st = calloc(1, sizeof(*st));
	int with_q = !strcmp(p->name, "nodescore-q");
	const char *weights = getenv("NODESCORE_SIM_WEIGHTS");
	const char *ew = getenv("NODESCORE_SIM_EXT_WEIGHT"), *rs;

	if (!st)
		return -1;
	p->st = st;
	if (!weights)
		weights = with_q ? "0.3,0.4,0.3" : NS_SCORE_WEIGHTS_DEFAULT;
	if (ns_score_parse_weights(weights, &st->w))
		return -1;
	st->w.cpu_share = s->ns_cpu_share;
	st->nnodes = s->nnodes;
	st->ext_weight = ew ? atof(ew) : EXT_WEIGHT;
	if (!(st->ext_weight >= 0 && st->ext_weight <= 100))
		return -1;
	st->m = calloc(s->nnodes, sizeof(*st->m));
	st->names = calloc(s->nnodes, sizeof(*st->names));
	st->kept = calloc(s->nnodes, sizeof(*st->kept));
	st->kept_at = calloc(s->nnodes, sizeof(*st->kept_at));
	st->table = ns_table_new(s->nnodes + 16);
	if (!st->m || !st->names || !st->kept || !st->kept_at || !st->table)
		return -1;
	for (uint32_t i = 0; i < s->nnodes; i++)
		st->names[i].len =
		    (uint8_t)snprintf(st->names[i].s, sizeof(st->names[i].s), "node-%u", i);
	ns_table_set_future_skew(st->table, 2000);
	for (size_t i = 0; i < sizeof(st->key); i++)
		st->key[i] = (uint8_t)(0x5a ^ i);
	if (sim_ns_models_open(s, with_q, st->m))
		return -1;
	st->cfg.ttl_ms = 3ull * s->step_s * 1000 + (uint64_t)(s->staleness_s * 1000);
	st->cfg.norm = NS_NORM_LINEAR;
	/* The extender's default hold (--reserve-settle); 0 turns it off to
	 * measure what it is worth. */
	if (!(rs = getenv("NODESCORE_SIM_RESERVE_SETTLE")) || atof(rs) > 0) {
		st->resv = ns_reserve_new(2 * s->nnodes,
					  rs ? (uint64_t)(atof(rs) * 1000) : RESERVE_SETTLE_MS,
					  st->cfg.ttl_ms);
		if (!st->resv)
			return -1;
		st->cfg.resv = st->resv;
		if ((rs = getenv("NODESCORE_SIM_HOLD")) && !strcmp(rs, "bind")) {
			st->cfg.hold_at_bind = 1;
			p->bound = ns_bound;
		}
	}
	return 0;
}

static void deliver(struct nsst *st, struct sim *s)
{
	uint64_t now = sim_ms(s);
	size_t k = 0;

	for (size_t i = 0; i < st->qn; i++) {
		if (st->q[i].due <= s->t)
			ns_table_ingest(st->table, st->q[i].buf, (size_t)st->q[i].len, st->key,
					sizeof(st->key), now, now,
					30000 + (uint64_t)(s->staleness_s * 1000));
		else
			st->q[k++] = st->q[i];
	}
	st->qn = k;
}

void sim_ns_sample(const struct sim *s, uint32_t i, uint64_t ts_ms, struct ns_sample *smp)
{
	const struct sim_node *d = &s->nodes[i];
	double cpu = fmin(1, d->cpu_dem), mem = fmin(1, d->mem_dem);

	ns_sample_init(smp, ts_ms);
	smp->health = NS_SRC_CPU | NS_SRC_MEM | NS_SRC_LOAD;
	smp->v[NS_M_CPU_UTIL] = (float)cpu;
	smp->v[NS_M_MEM_UTIL] = (float)mem;
	smp->v[NS_M_NCPU] = (float)(d->cpu_cap / 1000);
	smp->v[NS_M_MEM_TOTAL_MIB] = (float)d->mem_cap;
	smp->v[NS_M_MEM_AVAIL_MIB] = (float)((1 - mem) * d->mem_cap);
	smp->v[NS_M_PODS] = (float)d->npods;
}

void sim_ns_tick(struct sim_policy *p, struct sim *s)
{
	struct nsst *st = p->st;
	uint64_t ts = sim_ms(s);

	for (uint32_t i = 0; i < s->nnodes; i++) {
		const struct sim_node *d = &s->nodes[i];
		struct ns_sample smp;
		struct ns_score_input in;
		struct ns_score_output out;
		struct ns_msg msg;
		struct pending_msg *pm;

		if (d->silent)
			continue;
		sim_ns_sample(s, i, ts, &smp);
		ns_score_input_init(&in);
		ns_score_input_from_sample(&in, &smp);
		ns_models_tick(st->m[i], &smp, &in);
		ns_score_compute(&st->w, &in, &out);
		memset(&msg, 0, sizeof(msg));
		msg.flags = out.flags;
		msg.boot_nonce = 1;
		msg.seq = ++st->seq;
		msg.ts_ms = ts;
		msg.score = out.score;
		msg.anomaly = (uint16_t)lround(out.anomaly * 1000);
		msg.cpu_now = (uint16_t)lround(out.cpu_now * 1000);
		msg.mem_now = (uint16_t)lround(out.mem_now * 1000);
		msg.cpu_peak_fc = (uint16_t)lround(out.cpu_peak * 1000);
		msg.mem_peak_fc = (uint16_t)lround(out.mem_peak * 1000);
		msg.free_millicores = out.free_millicores;
		msg.free_mib = out.free_mib;
		msg.pods = (uint16_t)(d->npods > 65535 ? 65535 : d->npods);
		snprintf(msg.name, sizeof(msg.name), "node-%u", i);
		if (st->qn == st->qcap) {
			size_t nc = st->qcap ? st->qcap * 2 : 1024;
			struct pending_msg *nq = realloc(st->q, nc * sizeof(*nq));
			if (!nq)
				continue;
			st->q = nq, st->qcap = nc;
		}
		pm = &st->q[st->qn];
		pm->len =
		    ns_wire_encode_node(&msg, st->key, sizeof(st->key), pm->buf, sizeof(pm->buf));
		if (pm->len <= 0)
			continue;
		pm->due = s->t + s->staleness_s;
		st->qn++;
	}
	deliver(st, s);
}

/* The request kube-scheduler would send, built in place: the pod's
 * requests and the candidates' names. */
static int put_args(struct nsst *st, const struct sim_pod *pod, const uint32_t *c, size_t n)
{
	struct ns_ext_args *a = &st->ctx.args;

	if (ns_extjson_reset(a, n) < 0)
		return -1;
	a->cpu_milli = pod_cpu_milli(pod);
	a->mem_bytes = pod_mem_bytes(pod);
	for (size_t i = 0; i < n; i++) {
		a->nodes[i].name = st->names[c[i]].s;
		a->nodes[i].name_len = st->names[c[i]].len;
	}
	a->n = n;
	return 0;
}

void sim_ns_rank(struct sim_policy *p, struct sim *s, const struct sim_pod *pod, const uint32_t *c,
		 size_t n, double *sc, uint8_t *keep)
{
	struct nsst *st = p->st;
	struct ns_extapi_stats es;
	uint64_t ms = sim_ms(s);
	struct ns_extapi_now now = {ms, ms};
	size_t kn = 0;

	for (size_t i = 0; i < n; i++) {
		keep[i] = 1;
		sc[i] = sim_k8s_default(&s->nodes[c[i]], pod);
	}
	/* The verbs' own decisions on the request they would parse, without
	 * the JSON round trip (tests/extapi_test checks that both paths
	 * decide the same; JSON was 40 % of a nodescore run). */
	if (put_args(st, pod, c, n) < 0)
		return;
	/* filter: nodes it fails are dropped (it fails open by itself) */
	if (ns_extapi_filter_args(&st->ctx, st->table, &st->cfg, now, &es) == 200)
		for (size_t i = 0; i < n; i++)
			keep[i] = !ns_extapi_removed(&st->ctx, i);
	/* kube-scheduler sends prioritize only the nodes that passed every
	 * filter, so the extender's min-max spread is over those alone. */
	for (size_t i = 0; i < n; i++)
		if (keep[i]) {
			st->kept_at[kn] = (uint32_t)i;
			st->kept[kn++] = c[i];
		}
	if (put_args(st, pod, st->kept, kn) < 0 ||
	    ns_extapi_prioritize_args(&st->ctx, st->table, &st->cfg, now, &es) != 200)
		return; /* ignorable: true, the default plugins alone decide */
	for (size_t k = 0; k < kn; k++)
		sc[st->kept_at[k]] += ns_extapi_score(&st->ctx, k) * 10 * st->ext_weight;
}

void sim_ns_fini(struct sim_policy *p)
{
	struct nsst *st = p->st;

	if (!st)
		return;
	for (size_t i = 0; st->m && i < st->nnodes; i++)
		ns_models_free(st->m[i]);
	free(st->m);
	ns_table_free(st->table);
	ns_reserve_free(st->resv);
	ns_extapi_ctx_free(&st->ctx);
	free(st->q), free(st->names), free(st->kept), free(st->kept_at);
	free(st);
	p->st = NULL;
}
