// SPDX-License-Identifier: MIT
/* The history ring opened and closed with its notes and errors logged
 * (component "ring", the words operators and tests know): the agent, its
 * history export and the ring's tools and tests. lib/ring.c itself only
 * returns them (ns_ring_open_err, ns_ring_close_err). */
#include <stddef.h>

#include "nodescore/log.h"
#include "nodescore/ring.h"
#include "nodescore/ringlog.h"

static void log_open(int rc, const struct ns_ring_notes *nt, const char *err)
{
	for (unsigned i = 0; i < nt->n; i++)
		NS_LOG_(nt->note[i].warning ? NS_LOG_WARNING : NS_LOG_INFO, "ring", 0, "%s",
			nt->note[i].text);
	if (rc && err[0])
		log_error("ring", "%s", err);
}

int ns_ringlog_open(const char *path, uint32_t capacity, struct ns_ring **out)
{
	struct ns_ring_notes nt;
	char err[1024];
	int rc = ns_ring_open_err(path, capacity, out, &nt, err, sizeof(err));

	log_open(rc, &nt, err);
	return rc;
}

int ns_ringlog_open_readonly(const char *path, struct ns_ring **out)
{
	struct ns_ring_notes nt;
	char err[1024];
	int rc = ns_ring_open_readonly_err(path, out, &nt, err, sizeof(err));

	log_open(rc, &nt, err);
	return rc;
}

void ns_ringlog_close(struct ns_ring *r)
{
	char err[1024];

	if (ns_ring_close_err(r, err, sizeof(err)) < 0)
		log_warning("ring", "%s", err);
}
