// SPDX-License-Identifier: MIT
/* Quantiles over the shared latency histogram layout and over value arrays. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/lathist.h"
#include "nodescore/lathist.h"

void ns_lathist_bounds(uint32_t slot, double *lo, double *width)
{
	uint32_t shift, sub;

	if (slot < LATHIST_SUB) {
		*lo = slot;
		*width = 1;
		return;
	}
	shift = (slot - LATHIST_SUB) / LATHIST_SUB;
	sub = (slot - LATHIST_SUB) % LATHIST_SUB;
	*lo = ldexp((double)(LATHIST_SUB + sub), (int)shift);
	*width = ldexp(1.0, (int)shift);
}

/* Value of the k-th (0-based) item, the c items of a slot spread evenly
 * across it, so histogram and array quantiles share one definition. */
static double item_value(const uint64_t *slots, size_t nslots, uint64_t k)
{
	uint64_t cum = 0;
	double lo, width;

	for (size_t i = 0; i < nslots; i++) {
		if (k < cum + slots[i]) {
			ns_lathist_bounds((uint32_t)i, &lo, &width);
			return lo + width * ((double)(k - cum) + 0.5) / (double)slots[i];
		}
		cum += slots[i];
	}
	return NAN;
}

double ns_lathist_quantile(const uint64_t *slots, size_t nslots, double q)
{
	uint64_t total = 0, i;
	double pos, frac, a;

	for (size_t s = 0; s < nslots; s++)
		total += slots[s];
	if (!total)
		return NAN;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	pos = q * (double)(total - 1);
	i = (uint64_t)pos;
	frac = pos - (double)i;
	a = item_value(slots, nslots, i);
	if (frac == 0 || i + 1 >= total)
		return a;
	return a + frac * (item_value(slots, nslots, i + 1) - a);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

void ns_lat_sort_u32(uint32_t *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u32);
}

double ns_lat_quantile_u32(const uint32_t *sorted, size_t n, double q)
{
	double pos, frac;
	size_t i;

	if (!n)
		return NAN;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	pos = q * (double)(n - 1);
	i = (size_t)pos;
	frac = pos - (double)i;
	if (i + 1 >= n)
		return sorted[n - 1];
	return (double)sorted[i] + frac * ((double)sorted[i + 1] - (double)sorted[i]);
}

uint64_t ns_lathist_swap(uint64_t *hist2, size_t nslots, uint32_t *gen_word, uint32_t *gen,
			 uint64_t *snap)
{
	/* Switch BPF to the other buffer first, then read the one it left. */
	uint64_t *h = hist2 + (*gen & 1) * nslots;
	uint64_t total = 0;

	(*gen)++;
	__atomic_store_n(gen_word, *gen, __ATOMIC_RELEASE);
	for (size_t i = 0; i < nslots; i++) {
		snap[i] = __atomic_load_n(&h[i], __ATOMIC_RELAXED);
		total += snap[i];
	}
	memset(h, 0, nslots * sizeof(*h));
	return total;
}

const char *ns_bpf_errname(int err)
{
	const char *n = strerrorname_np(-err);

	return n ? n : "EUNKNOWN";
}

/* EPERM does not stop the attempts: some kernels refuse one program type
 * with EPERM even to root (fentry here) and accept another. */
void ns_bpf_add_reason(char *why, size_t whylen, const char *what, const char *kind, int err)
{
	size_t n = strnlen(why, whylen);

	if (n < whylen)
		snprintf(why + n, whylen - n, "%s%s_%s_%s", n ? "," : "", what, kind,
			 ns_bpf_errname(err));
}
