// SPDX-License-Identifier: MIT
/* Q-learning of the placement value (models/qtable-default.nsq) in
 * nodescore-sim: every simulated node runs the agent's own models, its
 * state comes from the agent's own ns_models_qstate, pods are
 * placed by the default plugins plus the current Q (epsilon-greedy), and
 * each placement is scored 10 minutes later (1: the node stayed at or
 * under 90 % CPU, 0: it crossed it). One action ("place here"), so the
 * update is Q(s) += alpha * ((1 - gamma) * r + gamma * Q(s') - Q(s)), s'
 * the node's state when the reward is known; (1 - gamma) keeps Q in 0..1.
 * An episode is one simulated hour of placements on a cluster that keeps
 * running (a continuing task cut into episodes for the learning curve). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/models.h"
#include "nodescore/qtable.h"
#include "nodescore/sample.h"
#include "nodescore/score.h"
#include "qlearn.h"
#include "sim.h"

#define T0_MS 1700000000000ull
#define REWARD_WINDOW_S 600.0
#define GAMMA 0.5
#define EPSILON 0.1
#define Q_INIT 0.5
#define Q_BONUS 100.0 /* Q's weight beside the default plugins (0..200) */

struct pending {
	uint32_t node, state;
	double t_bind;
};

struct qst {
	struct ns_models **m;
	uint32_t nnodes;
	uint32_t *state;   /* per node, this step */
	double *last_over; /* per node: last time CPU demand was over 0.90 */
	double q[NS_Q_STATES];
	uint32_t visits[NS_Q_STATES];
	struct pending *pd;
	size_t npd, cap;
	uint64_t rng;
	/* episodes */
	const struct sim_qtrain_cfg *cfg;
	double warmup_s;
	uint32_t ep;
	double ep_r;
	uint64_t ep_n;
	double *curve;
	float *snap; /* the table at the end of each episode */
};

/* The trainer is one run: its state outlives the policy's fini. */
static struct qst *qs;

static int q_init(struct sim_policy *p, struct sim *s)
{
	(void)p;
	qs->nnodes = s->nnodes;
	qs->m = calloc(s->nnodes, sizeof(*qs->m));
	qs->state = calloc(s->nnodes, sizeof(*qs->state));
	qs->last_over = calloc(s->nnodes, sizeof(*qs->last_over));
	if (!qs->m || !qs->state || !qs->last_over)
		return -ENOMEM;
	for (uint32_t i = 0; i < s->nnodes; i++)
		qs->last_over[i] = -1;
	return sim_ns_models_open(s, 0, qs->m) ? -EINVAL : 0;
}

static void episode_end(void)
{
	double r = qs->ep_n ? qs->ep_r / (double)qs->ep_n : NAN;

	qs->curve[qs->ep] = r;
	for (uint32_t i = 0; i < NS_Q_STATES; i++)
		qs->snap[(size_t)qs->ep * NS_Q_STATES + i] = (float)qs->q[i];
	if (qs->cfg->progress && (qs->ep + 1) % 10 == 0)
		fprintf(stderr, "INFO sim: qlearn episode=%u reward=%.5f placements=%llu\n",
			qs->ep + 1, r, (unsigned long long)qs->ep_n);
	qs->ep++;
	qs->ep_r = 0;
	qs->ep_n = 0;
}

static void q_tick(struct sim_policy *p, struct sim *s)
{
	uint64_t ts = T0_MS + (uint64_t)(s->t * 1000);
	size_t k = 0;

	(void)p;
	for (uint32_t i = 0; i < s->nnodes; i++) {
		struct ns_sample smp;
		struct ns_score_input in;

		if (s->nodes[i].cpu_dem > 0.9)
			qs->last_over[i] = s->t;
		sim_ns_sample(s, i, ts, &smp);
		ns_score_input_init(&in);
		ns_score_input_from_sample(&in, &smp);
		ns_models_tick(qs->m[i], &smp, &in);
		/* the simulation always measures CPU and memory */
		ns_models_qstate(qs->m[i], &smp, &qs->state[i]);
	}
	/* Placements whose 10 minutes are up: reward, then the TD update. */
	for (size_t j = 0; j < qs->npd; j++) {
		struct pending *d = &qs->pd[j];
		double r, target, alpha;
		if (s->t - d->t_bind < REWARD_WINDOW_S) {
			qs->pd[k++] = *d;
			continue;
		}
		r = qs->last_over[d->node] > d->t_bind ? 0 : 1;
		target = (1 - GAMMA) * r + GAMMA * qs->q[qs->state[d->node]];
		/* 1/n steps: the table converges to the mean target (a floor
		 * made it chase the cluster's daily load cycle instead) */
		alpha = 1.0 / (1.0 + qs->visits[d->state]);
		qs->q[d->state] += alpha * (target - qs->q[d->state]);
		qs->visits[d->state]++;
		if (d->t_bind >= qs->warmup_s) {
			qs->ep_r += r;
			qs->ep_n++;
		}
	}
	qs->npd = k;
	while (s->t >= qs->warmup_s + (qs->ep + 1) * qs->cfg->episode_s &&
	       qs->ep < qs->cfg->episodes)
		episode_end();
}

static void q_rank(struct sim_policy *p, struct sim *s, const struct sim_pod *pod,
		   const uint32_t *c, size_t n, double *sc, uint8_t *keep)
{
	int explore = sim_rand(&qs->rng) < EPSILON;

	(void)p;
	for (size_t i = 0; i < n; i++) {
		keep[i] = 1;
		sc[i] = explore ? sim_rand(&qs->rng)
				: sim_k8s_default(&s->nodes[c[i]], pod) +
				      Q_BONUS * qs->q[qs->state[c[i]]];
	}
}

static void q_bound(struct sim_policy *p, struct sim *s, uint32_t node, const struct sim_pod *pod)
{
	(void)p;
	(void)pod;
	if (qs->npd == qs->cap) {
		size_t nc = qs->cap ? 2 * qs->cap : 4096;
		struct pending *np = realloc(qs->pd, nc * sizeof(*np));
		if (!np)
			return; /* one sample fewer, never a wrong one */
		qs->pd = np, qs->cap = nc;
	}
	qs->pd[qs->npd++] = (struct pending){node, qs->state[node], s->t};
}

static void q_fini(struct sim_policy *p)
{
	(void)p;
	for (uint32_t i = 0; qs->m && i < qs->nnodes; i++)
		ns_models_free(qs->m[i]);
	free(qs->m), free(qs->state), free(qs->last_over), free(qs->pd);
	qs->m = NULL, qs->state = NULL, qs->last_over = NULL, qs->pd = NULL;
}

/* States never met in training take the value of the nearest visited CPU
 * bucket with the same other dimensions, else the mean of all visited. */
static void fill_table(struct ns_qtable *t)
{
	double sum = 0;
	uint32_t nv = 0;
	const uint32_t stride = NS_Q_STATES / NS_Q_CPU;

	for (uint32_t i = 0; i < NS_Q_STATES; i++) {
		t->q[i] = (float)fmin(1, fmax(0, qs->q[i]));
		t->visits[i] = qs->visits[i];
		if (qs->visits[i])
			sum += qs->q[i], nv++;
	}
	for (uint32_t i = 0; i < NS_Q_STATES; i++) {
		uint32_t cpu = i / stride, rest = i % stride;
		int best = -1;
		if (qs->visits[i])
			continue;
		for (uint32_t d = 1; d < NS_Q_CPU && best < 0; d++) {
			if (cpu >= d && qs->visits[(cpu - d) * stride + rest])
				best = (int)((cpu - d) * stride + rest);
			else if (cpu + d < NS_Q_CPU && qs->visits[(cpu + d) * stride + rest])
				best = (int)((cpu + d) * stride + rest);
		}
		t->q[i] = (float)(best >= 0 ? qs->q[best] : nv ? sum / nv : Q_INIT);
	}
}

/* Episodes until the 25-episode moving average of the reward stays within
 * 1 % of the final reward (mean of the last 50 episodes). */
static uint32_t converged_at(const double *c, uint32_t n, double *final)
{
	uint32_t w = 25, tail = n < 50 ? n : 50, at = n;
	double f = 0;

	for (uint32_t i = n - tail; i < n; i++)
		f += c[i];
	f /= tail;
	*final = f;
	for (uint32_t e = n; e-- > 0;) {
		double ma = 0;
		uint32_t lo = e + 1 >= w ? e + 1 - w : 0;
		for (uint32_t i = lo; i <= e; i++)
			ma += c[i];
		ma /= (double)(e - lo + 1);
		if (fabs(ma - f) > 0.01 * fabs(f))
			break;
		at = e + 1;
	}
	return at;
}

/* Visit-weighted mean distance of episode e's table to the final one. */
static double table_distance(uint32_t e)
{
	double d = 0, w = 0;

	for (uint32_t i = 0; i < NS_Q_STATES; i++) {
		d += qs->visits[i] * fabs(qs->snap[(size_t)e * NS_Q_STATES + i] - qs->q[i]);
		w += qs->visits[i];
	}
	return w > 0 ? d / w : 0;
}

int sim_qtrain(const struct sim_cfg *c0, const struct sim_traces *tr,
	       const struct sim_qtrain_cfg *qc, struct sim_qtrain_result *res)
{
	struct sim_cfg c = *c0;
	struct sim_work w;
	struct sim_result r;
	struct sim_policy pol = {"nodescore-qtrain", NULL, q_init, q_tick, q_rank, q_bound, q_fini};
	struct ns_qtable *t;
	char err[256];
	int rc;

	memset(res, 0, sizeof(*res));
	qs = calloc(1, sizeof(*qs));
	t = calloc(1, sizeof(*t));
	if (!qs || !t || !(qs->curve = calloc(qc->episodes, sizeof(double))) ||
	    !(qs->snap = calloc((size_t)qc->episodes * NS_Q_STATES, sizeof(float)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < NS_Q_STATES; i++)
		qs->q[i] = Q_INIT;
	qs->cfg = qc;
	qs->rng = qc->seed * 2654435761u + 11;
	qs->warmup_s = c.warmup_s;
	c.horizon_s =
	    c.warmup_s + (double)qc->episodes * qc->episode_s + REWARD_WINDOW_S + c.step_s;
	c.progress = 0;
	if ((rc = sim_work_build(&w, tr, &c, qc->seed)))
		goto out;
	rc = sim_run(&c, tr, &w, &pol, qc->seed, &r);
	free(w.p);
	free(r.over_ts);
	if (rc)
		goto out;
	while (qs->ep < qc->episodes)
		episode_end();
	fill_table(t);
	t->episodes = qc->episodes;
	snprintf(t->version, sizeof(t->version), "%s", qc->version);
	if ((rc = ns_qtable_save(t, qc->out_path, err, sizeof(err)))) {
		fprintf(stderr, "ERROR sim: %s\n", err);
		goto out;
	}
	res->converged = converged_at(qs->curve, qc->episodes, &res->final_reward);
	res->first_reward = qs->curve[0];
	res->table_converged = qc->episodes;
	for (uint32_t e = qc->episodes; e-- > 0 && table_distance(e) <= 0.01;)
		res->table_converged = e + 1;
	for (uint32_t i = 0; i < NS_Q_STATES; i++)
		res->visited += qs->visits[i] > 0;
	if (qc->curve_path) {
		FILE *f = fopen(qc->curve_path, "w");
		if (!f) {
			fprintf(stderr, "ERROR sim: cannot write %s\n", qc->curve_path);
			rc = -EIO;
			goto out;
		}
		fprintf(f, "episode,reward,table_distance\n");
		for (uint32_t i = 0; i < qc->episodes; i++)
			fprintf(f, "%u,%.6f,%.6f\n", i + 1, qs->curve[i], table_distance(i));
		fclose(f);
	}
	rc = 0;
out:
	if (qs)
		free(qs->curve), free(qs->snap);
	free(qs);
	qs = NULL;
	free(t);
	return rc;
}
