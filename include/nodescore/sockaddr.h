/* SPDX-License-Identifier: MIT */
/* Listen addresses given on the command line. */
#ifndef NODESCORE_SOCKADDR_H
#define NODESCORE_SOCKADDR_H

#include <sys/socket.h>

/* Parses "127.0.0.1:9464", "[::1]:9464" or ":9464" (every IPv4 address):
 * numeric hosts only, port 0..65535 (0 picks a free one). Returns 0 with
 * *ss and *len set, or -EINVAL. */
int ns_sockaddr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len);

#endif
