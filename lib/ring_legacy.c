// SPDX-License-Identifier: MIT
/* Transitional (issue 14): the history ring's entry points from before the
 * library stopped logging, kept so that callers not yet moved to
 * ns_ring_open_err / ns_ring_close_err log exactly what they logged before.
 * The only file under lib/ that logs; delete it with its last caller. */
#include <stddef.h>

#include "nodescore/log.h"
#include "nodescore/ring.h"

static void log_open(int rc, const struct ns_ring_notes *nt, const char *err)
{
	for (unsigned i = 0; i < nt->n; i++)
		NS_LOG_(nt->note[i].warning ? NS_LOG_WARNING : NS_LOG_INFO, "ring", 0, "%s",
			nt->note[i].text);
	if (rc && err[0])
		log_error("ring", "%s", err);
}

int ns_ring_open(const char *path, uint32_t capacity, struct ns_ring **out)
{
	struct ns_ring_notes nt;
	char err[1024];
	int rc = ns_ring_open_err(path, capacity, out, &nt, err, sizeof(err));

	log_open(rc, &nt, err);
	return rc;
}

int ns_ring_open_readonly(const char *path, struct ns_ring **out)
{
	struct ns_ring_notes nt;
	char err[1024];
	int rc = ns_ring_open_readonly_err(path, out, &nt, err, sizeof(err));

	log_open(rc, &nt, err);
	return rc;
}

void ns_ring_close(struct ns_ring *r)
{
	char err[1024];

	if (ns_ring_close_err(r, err, sizeof(err)) < 0)
		log_warning("ring", "%s", err);
}
