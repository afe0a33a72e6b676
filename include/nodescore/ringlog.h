/* SPDX-License-Identifier: MIT */
/* The history ring with its notes and errors logged (agent/ringlog.c):
 * for the agent, its history export, nodescore-ringbench and the tests.
 * lib/ring.c returns them instead (ns_ring_open_err, ns_ring_close_err). */
#ifndef NODESCORE_RINGLOG_H
#define NODESCORE_RINGLOG_H

#include <stdint.h>

#include "nodescore/ring.h"

/* ns_ring_open_err / ns_ring_open_readonly_err, logging what they note
 * (INFO or WARNING) and the error (ERROR), component "ring". Same returns. */
int ns_ringlog_open(const char *path, uint32_t capacity, struct ns_ring **out);
int ns_ringlog_open_readonly(const char *path, struct ns_ring **out);
/* ns_ring_close_err, logging a failed final sync as a WARNING. */
void ns_ringlog_close(struct ns_ring *r);

#endif
