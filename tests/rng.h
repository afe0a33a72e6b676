/* SPDX-License-Identifier: MIT */
/* Deterministic test data: a standard normal by Box-Muller on a splitmix64
 * stream. Each test file has its own stream; set rng_state to reseed.
 * Header-only. */
#ifndef NODESCORE_TEST_RNG_H
#define NODESCORE_TEST_RNG_H

#include <math.h>
#include <stdint.h>

static uint64_t rng_state;

static inline double gauss(void)
{
	double u[2];

	for (int i = 0; i < 2; i++) {
		uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		u[i] = ((double)(z >> 11) + 1.0) * 0x1.0p-53;
	}
	return sqrt(-2.0 * log(u[0])) * cos(2.0 * M_PI * u[1]);
}

#endif
