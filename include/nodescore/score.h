/* SPDX-License-Identifier: MIT */
/* Node score: w_f*headroom + w_q*Q + w_a*(1-anomaly), with a documented
 * heuristic standing in for every model output that is missing (NaN). This
 * is the seam the models plug into: fill the model fields of the input. */
#ifndef NODESCORE_SCORE_H
#define NODESCORE_SCORE_H

#include <stdint.h>

#include "nodescore/sample.h"

struct ns_score_weights {
	double f; /* headroom */
	double q; /* placement value (Q-table) */
	double a; /* 1 - anomaly */
	/* CPU's share of headroom, memory has the rest (--headroom-cpu-share):
	 * 1 ranks on CPU alone and leaves memory to the extender's filter. */
	double cpu_share;
};

#define NS_SCORE_CPU_SHARE_DEFAULT 0.5

/* DESIGN.md's 0.3/0.4/0.3 with no Q-table shipped: Q falls back to headroom,
 * so 0.3h + 0.4h + 0.3(1-a) == 0.7h + 0.3(1-a). Folding the Q weight into
 * headroom gives the same score without a permanent model-fallback flag. */
#define NS_SCORE_WEIGHTS_DEFAULT "0.7,0,0.3"

struct ns_score_input {
	/* Measurements (NaN when not measured). */
	double cpu_util; /* 0..1 */
	double mem_util; /* 0..1 */
	double load1;
	double ncpu;
	double mem_total_mib;
	double mem_avail_mib;
	double psi_cpu_some; /* percent avg10 */
	double psi_mem_some;
	double psi_io_some;
	int degraded; /* a sampler that should work failed */
	/* Model outputs: NaN / NULL when the model is absent or failed. */
	double anomaly;	    /* isolation forest score 0..1 */
	int anomaly_flag;   /* flag after hysteresis (only read when anomaly is set) */
	double cpu_peak_fc; /* forecast peak utilisation over the horizon, 0..1 */
	double mem_peak_fc;
	double q_value;		 /* placement value 0..1 */
	const char *top_feature; /* most anomalous feature name, or NULL */
};

struct ns_score_output {
	uint16_t score;		   /* 0..NS_SCORE_MAX */
	uint8_t flags;		   /* NS_FLAG_* */
	double headroom;	   /* 0..1 */
	double pressure;	   /* 0..1, max PSI "some" share used as penalty */
	double cpu_now, mem_now;   /* 0..1, as used (after fallbacks) */
	double cpu_peak, mem_peak; /* 0..1, model or current */
	double anomaly;		   /* 0..1, model or 0 */
	double q_value;		   /* 0..1, model or headroom */
	uint32_t free_millicores;
	uint32_t free_mib;
	const char *top_feature; /* from the input, or NULL */
};

/* Input with every field NaN / 0 / NULL. */
void ns_score_input_init(struct ns_score_input *in);

/* Copies the measured fields of a sample into in (model fields untouched). */
void ns_score_input_from_sample(struct ns_score_input *in, const struct ns_sample *s);

/* Parses "f,q,a": three numbers in [0,1] with a positive sum; they are
 * normalised to sum to 1, and cpu_share is set to its default. Returns 0
 * or -EINVAL. */
int ns_score_parse_weights(const char *s, struct ns_score_weights *w);

/* Pure function of its inputs, no allocation, no I/O. */
void ns_score_compute(const struct ns_score_weights *w, const struct ns_score_input *in,
		      struct ns_score_output *out);

#endif
