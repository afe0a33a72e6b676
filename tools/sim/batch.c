// SPDX-License-Identifier: MIT
/* One seed's policies run side by side on worker threads (--jobs). Each run
 * owns its simulator, policy state and result; the traces, the workload and
 * the configuration are only read, so the results are the ones a run one
 * after the other gives, and the caller writes them in policy order. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "simrun.h"

struct batch {
	const struct sim_cfg *c;
	const struct sim_traces *tr;
	const struct sim_work *w;
	uint64_t seed;
	const size_t *order; /* policy indices, the longest runs first */
	size_t n;
	atomic_size_t next;
	struct sim_result *res;
	int *rc;
};

static void *worker(void *arg)
{
	struct batch *b = arg;
	size_t k;

	while ((k = atomic_fetch_add(&b->next, 1)) < b->n) {
		size_t p = b->order[k];

		b->rc[p] = sim_run(b->c, b->tr, b->w, &sim_policies[p], b->seed, &b->res[p]);
	}
	return NULL;
}

/* The agent-running policies cost about ten times a peer's run: started
 * first, they end together with the short ones instead of after them. */
static int long_run(const struct sim_policy *p)
{
	return !strncmp(p->name, "nodescore", 9);
}

int sim_batch_run(const struct sim_cfg *c, const struct sim_traces *tr, const struct sim_work *w,
		  uint64_t seed, const uint8_t *want, unsigned jobs, struct sim_result *res,
		  int *rc)
{
	size_t order[64], n = 0;
	struct batch b = {
	    .c = c, .tr = tr, .w = w, .seed = seed, .order = order, .res = res, .rc = rc};
	pthread_t th[SIM_MAX_JOBS];
	unsigned started = 0;

	if (sim_npolicies > sizeof(order) / sizeof(order[0]))
		return -EINVAL;
	for (int pass = 0; pass < 2; pass++)
		for (size_t p = 0; p < sim_npolicies; p++)
			if (want[p] && long_run(&sim_policies[p]) == !pass)
				order[n++] = p;
	for (size_t p = 0; p < sim_npolicies; p++)
		rc[p] = 0;
	b.n = n;
	atomic_init(&b.next, 0);
	if (jobs > SIM_MAX_JOBS)
		jobs = SIM_MAX_JOBS;
	if (jobs > n)
		jobs = (unsigned)n;
	/* The calling thread is a worker too; a thread that does not start
	 * only means fewer of them. */
	for (unsigned j = 1; j < jobs; j++)
		if (pthread_create(&th[started], NULL, worker, &b) == 0)
			started++;
	worker(&b);
	for (unsigned j = 0; j < started; j++)
		pthread_join(th[j], NULL);
	return 0;
}
