/* SPDX-License-Identifier: MIT */
/* nodescore-sim: kube-scheduler's search for feasible nodes (fit.c). */
#ifndef NODESCORE_SIM_FIT_H
#define NODESCORE_SIM_FIT_H

#include <stddef.h>
#include <stdint.h>

#define SIM_FIT_BLOCK 16 /* nodes per block; blocks per superblock too */
#define SIM_FIT_SLACK 16 /* entries past nfind the scan may write */

/* The request-based fit filter over every node (requests + pod <= the one
 * capacity, CPU and memory) with the smallest requests per block of nodes
 * and per superblock of blocks, so that nodes that cannot take a pod are
 * passed over whole: a sum only grows with its terms, rounding included. */
struct sim_fit {
	const double *req_cpu, *req_mem; /* the engine's dense requests, read only */
	double cap_cpu, cap_mem;
	uint32_t nodes, nblk, nsup;
	double *blk_cpu, *blk_mem, *sup_cpu, *sup_mem;
	double min_cpu, min_mem; /* over every node, unless dirty */
	int dirty;
	uint32_t start; /* round robin: where the next search begins */
	/* the search itself: AVX-512 where the CPU has it, else one node at a time */
	size_t (*scan)(struct sim_fit *f, double pc, double pm, uint32_t nfind, uint32_t *cand,
		       double *rc, double *rm);
};

/* req_cpu and req_mem hold nodes entries, all 0 at the start. 0 or -ENOMEM. */
int sim_fit_init(struct sim_fit *f, const double *req_cpu, const double *req_mem, uint32_t nodes,
		 double cap_cpu, double cap_mem);
void sim_fit_free(struct sim_fit *f);
/* After node's requests changed. */
void sim_fit_update(struct sim_fit *f, uint32_t node);
/* 0 when no node can take the pod (its smallest requests cannot). */
int sim_fit_maybe(struct sim_fit *f, double pc, double pm);
/* kube-scheduler's findNodesThatPassFilters: from where the last search
 * stopped, the first nfind nodes (or fewer, after one lap) that fit the
 * pod, in search order: their indices in cand and their requests in rc
 * and rm (each with room for nfind + SIM_FIT_SLACK entries). Returns how
 * many; moves the round robin start past the nodes looked at. */
size_t sim_fit_scan(struct sim_fit *f, double pc, double pm, uint32_t nfind, uint32_t *cand,
		    double *rc, double *rm);

#endif
