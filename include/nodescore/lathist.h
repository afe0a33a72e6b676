/* SPDX-License-Identifier: MIT */
/* Quantiles of the latency histograms the BPF probes fill (layout in
 * bpf/lathist.h) and of plain value arrays (the fallback paths). */
#ifndef NODESCORE_LATHIST_H
#define NODESCORE_LATHIST_H

#include <stddef.h>
#include <stdint.h>

/* Lower bound and width (microseconds) of histogram slot. */
void ns_lathist_bounds(uint32_t slot, double *lo, double *width);

/* q-quantile (0..1) of a histogram of nslots counts, interpolated linearly
 * inside the slot. Returns NaN when the histogram is empty. */
double ns_lathist_quantile(const uint64_t *slots, size_t nslots, double q);

/* Double-buffered BPF histogram read: hist2 holds two halves of nslots
 * counters, BPF writes hist2[gen & 1]. Flips *gen (published to BPF through
 * gen_word), copies the half BPF left into snap, zeroes it, and returns the
 * total count. Copying once gives the quantiles one consistent snapshot.
 * The BPF side declares the counters __u64 (unsigned long long), the same
 * size and representation as uint64_t: a caller casts them and checks the
 * layout with static_assert (agent/netlat_bpf.c, agent/disklat_bpf.c). */
uint64_t ns_lathist_swap(uint64_t *hist2, size_t nslots, uint32_t *gen_word, uint32_t *gen,
			 uint64_t *snap);

/* Loader helpers shared by the BPF sources. "EPERM" rather than
 * "Operation not permitted": the reason is a log value. */
const char *ns_bpf_errname(int err);

/* Appends "<what>_<kind>_<ERRNAME>" to the comma-separated reasons in why,
 * e.g. "load_tp_btf_EPERM,load_raw_tp_EPERM". */
void ns_bpf_add_reason(char *why, size_t whylen, const char *what, const char *kind, int err);

/* Sorts n values ascending, for ns_lat_quantile_u32. */
void ns_lat_sort_u32(uint32_t *v, size_t n);

/* q-quantile of n ascending values (linear interpolation between order
 * statistics). NaN when n is 0. */
double ns_lat_quantile_u32(const uint32_t *sorted, size_t n, double q);

#endif
