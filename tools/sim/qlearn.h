/* SPDX-License-Identifier: MIT */
/* nodescore-sim --train-q: Q-learning of the placement value (qlearn.c). */
#ifndef NODESCORE_SIM_QLEARN_H
#define NODESCORE_SIM_QLEARN_H

#include <stdint.h>

#include "simrun.h"

struct sim_qtrain_cfg {
	uint32_t episodes;
	double episode_s; /* simulated time per episode */
	uint64_t seed;
	const char *out_path;	/* Q-table file written at the end */
	const char *curve_path; /* learning curve CSV, NULL = none */
	const char *version;	/* stored in the table */
	int progress;
};

struct sim_qtrain_result {
	uint32_t converged; /* episodes to within 1 % of the final reward */
	/* episodes until the table stays within 0.01 (visit-weighted mean
	 * absolute difference) of the final one */
	uint32_t table_converged;
	double first_reward, final_reward;
	uint32_t visited; /* states met in training */
};

/* Trains on the traces in tr with the scenario c (its warm-up first) and
 * writes the table. Returns 0 or -errno. */
int sim_qtrain(const struct sim_cfg *c, const struct sim_traces *tr,
	       const struct sim_qtrain_cfg *qc, struct sim_qtrain_result *res);

#endif
