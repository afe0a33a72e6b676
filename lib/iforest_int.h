/* SPDX-License-Identifier: MIT */
/* Internal: the forest in memory, shared by iforest.c (training, scoring)
 * and iforest_file.c (the model file). Callers use nodescore/iforest.h. */
#ifndef NODESCORE_LIB_IFOREST_INT_H
#define NODESCORE_LIB_IFOREST_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "nodescore/iforest.h"

/* Scoring walks only this: 12 bytes, and the right child is always
 * left + 1 (the loader enforces it), so a step is a compare and an add with
 * no unpredictable branch. A leaf has feat -1 and keeps its whole
 * path-length contribution, depth + c(size), in thr so scoring adds one
 * number per tree. */
struct node {
	float thr;
	int32_t feat;
	uint32_t left;
};

struct ns_iforest {
	/* Holders of this forest (see ns_iforest_ref): atomic so holders in
	 * different threads may take and drop references without a lock. */
	atomic_uint refs;
	uint32_t nf, nt, psi;
	uint64_t seed;
	double cpsi;   /* c(psi): normalises the mean path length */
	uint32_t *off; /* nt + 1 offsets into nodes */
	struct node *nodes;
	uint32_t *size; /* training rows that reached each node */
	char names[NS_IFOREST_MAX_FEATURES][NS_IFOREST_NAME_MAX + 1];
};

/* Average path length of an unsuccessful BST search among n points, c(n). */
double ns_iforest_c_of(double n);
/* A zeroed forest holding one reference, its creator's; NULL when out of
 * memory. */
struct ns_iforest *ns_iforest_alloc(void);

#endif
