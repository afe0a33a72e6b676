/* SPDX-License-Identifier: MIT */
/* Score publisher: one nanomsg PUB socket connected to every extender
 * replica; sends never block the sampling loop. */
#ifndef NODESCORE_PUBLISH_H
#define NODESCORE_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#define NS_PUBLISH_MAX_ENDPOINTS 16

struct ns_publisher;

/* endpoints: comma-separated nanomsg addresses ("tcp://10.0.0.5:5555,..."),
 * 1..NS_PUBLISH_MAX_ENDPOINTS. Connects lazily (nanomsg reconnects on its
 * own), so an extender that is down is not an error. Returns 0, or -errno
 * with a one-line reason in err (bad address, too many endpoints). */
int ns_publish_open(const char *endpoints, struct ns_publisher **out, char *err, size_t errlen);

/* Sends one already-encoded message with NN_DONTWAIT. Returns 0 or -errno;
 * counts both. */
int ns_publish_send(struct ns_publisher *p, const uint8_t *buf, size_t len);

uint64_t ns_publish_sent(const struct ns_publisher *p);
uint64_t ns_publish_errors(const struct ns_publisher *p);
size_t ns_publish_endpoints(const struct ns_publisher *p);

/* NULL-safe. */
void ns_publish_close(struct ns_publisher *p);

#endif
