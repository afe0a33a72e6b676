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

/* Sorts n values ascending, for ns_lat_quantile_u32. */
void ns_lat_sort_u32(uint32_t *v, size_t n);

/* q-quantile of n ascending values (linear interpolation between order
 * statistics). NaN when n is 0. */
double ns_lat_quantile_u32(const uint32_t *sorted, size_t n, double q);

#endif
