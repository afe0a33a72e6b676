// SPDX-License-Identifier: MIT
/* Clock helpers: the wall clock for timestamps that leave the process
 * (messages, history rows, logs) and the monotonic clock for intervals and
 * deadlines, which a wall-clock step must not stretch or shrink. */
#ifndef NODESCORE_CLOCK_H
#define NODESCORE_CLOCK_H

#include <stdint.h>

uint64_t ns_now_ms(void);  /* CLOCK_REALTIME in ms */
uint64_t ns_mono_ns(void); /* CLOCK_MONOTONIC in ns */

#endif
