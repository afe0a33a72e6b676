// SPDX-License-Identifier: MIT
/* The agent's history ring under --state-dir: opening it, retrying with
 * backoff while it is unavailable, and appending each interval's mean
 * (history.c owns the accumulator the mean comes from). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_int.h"
#include "nodescore/log.h"
#include "nodescore/ringlog.h"

int ns_agent_history_open(struct ns_agent *a, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int e;

	if (mkdir(a->cfg.state_dir, 0755) < 0 && errno != EEXIST) {
		e = -errno;
		snprintf(err, errlen, "cannot create --state-dir path=%s: %s", a->cfg.state_dir,
			 strerror(errno));
		return e;
	}
	if (snprintf(path, sizeof(path), "%s/history.ring", a->cfg.state_dir) >=
	    (int)sizeof(path)) {
		snprintf(err, errlen, "--state-dir too long");
		return -ENAMETOOLONG;
	}
	e = ns_ringlog_open(path, a->cfg.history_capacity, &a->ring);
	if (e) {
		snprintf(err, errlen, "cannot open history path=%s: %s%s", path, strerror(-e),
			 e == -EBUSY ? " (another agent uses this --state-dir)"
			 : e == -EINVAL
			     ? " (another --history-capacity or a damaged file: move it away)"
			     : "");
		return e;
	}
	{
		struct ns_ring_stats rs;

		ns_ring_get_stats(a->ring, &rs);
		a->history_damaged = rs.corrupt + rs.stale;
	}
	log_info("agent", "history path=%s capacity=%u interval_ms=%llu", path,
		 a->cfg.history_capacity, (unsigned long long)a->cfg.history_interval_ms);
	return 0;
}

/* History is an aid to the models, not the agent's job: a state directory
 * that is read-only, full or failing must not stop sampling and publishing.
 * Errors that are the configuration's (another agent on the directory,
 * another capacity, a damaged header) still refuse to start. */
int ns_agent_history_fatal(int e)
{
	return e == -EBUSY || e == -EINVAL || e == -ENAMETOOLONG;
}

/* Without a ring: retries the open, backing off from one history interval
 * to 64; the intervals meanwhile are lost and counted as errors. */
void ns_agent_history_retry(struct ns_agent *a, uint64_t now_ns)
{
	char err[PATH_MAX + 128];
	uint64_t max = a->cfg.history_interval_ms * 1000000ull * 64;

	if (now_ns >= a->history_retry_ns) {
		if (ns_agent_history_open(a, err, sizeof(err)) == 0) {
			log_success("agent", "history available again");
			return;
		}
		a->history_backoff_ns =
		    a->history_backoff_ns * 2 > max ? max : a->history_backoff_ns * 2;
		a->history_retry_ns = now_ns + a->history_backoff_ns;
	}
	a->history_errors++;
	ns_history_reset(&a->hist);
}

/* Appends the interval mean; a failed append is counted, never fatal. */
void ns_agent_history_flush(struct ns_agent *a, uint64_t ts_ms)
{
	struct ns_sample mean;
	int e;

	if (!a->ring || ns_history_mean(&a->hist, ts_ms, &mean))
		return;
	e = ns_ring_append(a->ring, &mean);
	if (e) {
		if (a->history_errors++ == 0 || a->last_history_err != e)
			log_warning("agent", "history append failed error=\"%s\"", strerror(-e));
		a->last_history_err = e;
	} else {
		a->history_appends++;
		a->last_history_err = 0;
	}
	ns_history_reset(&a->hist);
}
