/* SPDX-License-Identifier: MIT */
/* Score subscriber: a nanomsg SUB socket bound for the agents' PUB
 * connections, feeding every message through ns_table_ingest on its own
 * thread (the table's single writer). */
#ifndef NODESCORE_EXTSUB_H
#define NODESCORE_EXTSUB_H

#include <stddef.h>
#include <stdint.h>

#include "nodescore/key.h"
#include "nodescore/table.h"

struct ns_extsub;

/* Binds url (e.g. "tcp://0.0.0.0:5555") and starts the receive thread.
 * key and t must outlive the subscriber. Returns 0 or -errno with a reason
 * in err (bad address, address in use). */
int ns_extsub_start(const char *url, struct ns_table *t, const struct ns_key *key, uint64_t skew_ms,
		    struct ns_extsub **out, char *err, size_t errlen);

/* Stops the thread (within ~100 ms), closes the socket, frees s. NULL-safe. */
void ns_extsub_stop(struct ns_extsub *s);

#endif
