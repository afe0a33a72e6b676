// SPDX-License-Identifier: MIT
/* Random-walk node load: mean-reverting cpu/mem, rare anomaly episodes. */
#include <math.h>
#include <stdlib.h>

#include "walk.h"

struct node {
	double cpu, mem;	   /* utilisation 0..1 now */
	double cpu_base, mem_base; /* where the walk reverts to */
	double pods, rtt_us;
	int anomaly_left; /* rounds left in the current anomaly episode */
};

struct pub_walk {
	uint64_t rng[2];
	uint32_t node_cpu, node_mem;
	size_t n;
	struct node nodes[];
};

/* xorshift128+: fast, good enough for load noise, reproducible per seed. */
static uint64_t next(struct pub_walk *w)
{
	uint64_t s1 = w->rng[0];
	const uint64_t s0 = w->rng[1];

	w->rng[0] = s0;
	s1 ^= s1 << 23;
	w->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
	return w->rng[1] + s0;
}

static double uniform(struct pub_walk *w)
{
	return (double)(next(w) >> 11) * (1.0 / 9007199254740992.0);
}

static double gauss(struct pub_walk *w)
{
	double u = uniform(w), v = uniform(w);

	return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static double clamp(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

static uint16_t permille(double x)
{
	return (uint16_t)lround(clamp(x, 0, 1) * 1000.0);
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct pub_walk *pub_walk_new(size_t n, uint64_t seed, uint32_t node_cpu, uint32_t node_mem)
{
	struct pub_walk *w = calloc(1, sizeof(*w) + n * sizeof(struct node));

	if (!w)
		return NULL;
	w->rng[0] = splitmix(&seed);
	w->rng[1] = splitmix(&seed);
	w->node_cpu = node_cpu;
	w->node_mem = node_mem;
	w->n = n;
	for (size_t i = 0; i < n; i++) {
		struct node *d = &w->nodes[i];

		/* A spread of busy and idle nodes, like a real cluster. */
		d->cpu_base = 0.15 + 0.6 * uniform(w);
		d->mem_base = 0.25 + 0.5 * uniform(w);
		d->cpu = d->cpu_base;
		d->mem = d->mem_base;
		d->pods = 10 + 80 * uniform(w);
		d->rtt_us = 150 + 600 * uniform(w);
	}
	return w;
}

void pub_walk_step(struct pub_walk *w, size_t i, struct ns_msg *m)
{
	struct node *d = &w->nodes[i];
	double cpu_pk, mem_pk, head, q, anom;

	if (d->anomaly_left > 0)
		d->anomaly_left--;
	else if (uniform(w) < 0.002)
		d->anomaly_left = 5 + (int)(25 * uniform(w));

	d->cpu += 0.2 * (d->cpu_base - d->cpu) + 0.04 * gauss(w);
	d->mem += 0.05 * (d->mem_base - d->mem) + 0.01 * gauss(w);
	d->pods = clamp(d->pods + 0.5 * gauss(w), 0, 110);
	d->rtt_us = clamp(d->rtt_us + 0.1 * (400 - d->rtt_us) + 40 * gauss(w), 50, 100000);
	if (d->anomaly_left) {
		/* An episode looks like a runaway process: cpu pinned, latency up. */
		d->cpu += 0.3 * (0.97 - d->cpu);
		d->rtt_us *= 1.2;
	}
	d->cpu = clamp(d->cpu, 0.01, 1);
	d->mem = clamp(d->mem, 0.05, 1);

	cpu_pk = clamp(fmax(d->cpu, d->cpu_base) + 0.05 + 0.05 * uniform(w), 0, 1);
	mem_pk = clamp(fmax(d->mem, d->mem_base) + 0.02 + 0.03 * uniform(w), 0, 1);
	anom = d->anomaly_left ? 0.75 + 0.25 * uniform(w) : 0.05 + 0.3 * uniform(w);
	head = 1 - fmax(cpu_pk, mem_pk);
	q = 0.5 * (1 - d->cpu) + 0.5 * (1 - d->pods / 110);
	/* The agent's default weights: w_f*headroom + w_q*Q + w_a*(1-anomaly). */
	m->score = (uint16_t)lround(clamp(0.3 * head + 0.4 * q + 0.3 * (1 - anom), 0, 1) * 1000);
	m->flags = d->anomaly_left ? NS_FLAG_ANOMALY : 0;
	m->anomaly = permille(anom);
	m->cpu_now = permille(d->cpu);
	m->mem_now = permille(d->mem);
	m->cpu_peak_fc = permille(cpu_pk);
	m->mem_peak_fc = permille(mem_pk);
	m->free_millicores = (uint32_t)lround((1 - cpu_pk) * w->node_cpu);
	m->free_mib = (uint32_t)lround((1 - mem_pk) * w->node_mem);
	m->pods = (uint16_t)lround(d->pods);
	m->rtt_p99_us = (uint32_t)lround(d->rtt_us);
}

void pub_walk_free(struct pub_walk *w)
{
	free(w);
}
