// SPDX-License-Identifier: MIT
/* Load source: /proc/loadavg. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "nodescore/loadavg.h"

/* /proc/loadavg (proc(5)): three averages, runnable/total tasks, last pid.
 *
 *   0.52 0.58 0.59 2/1234 56789
 *
 * The whole line is required, so a file cut after "0.5" is an error rather
 * than a load of 0.5.
 */
enum loadavg_field {
	FIELD_LOAD1 = 0,
	FIELD_LOAD5,
	FIELD_LOAD15,
	FIELD_COUNT,
};

static const enum ns_metric field_metric[FIELD_COUNT] = {
    [FIELD_LOAD1] = NS_M_LOAD1,
    [FIELD_LOAD5] = NS_M_LOAD5,
    [FIELD_LOAD15] = NS_M_LOAD15,
};

/* The kernel's fixed-point load tops out far below this. */
#define MAX_LOAD 1e7

int ns_loadavg_init(struct ns_loadavg *l, const char *proc_root)
{
	memset(l, 0, sizeof(*l));
	ns_src_health_init(&l->health, "loadavg");
	return ns_src_path(l->path, sizeof(l->path), proc_root, "/proc/loadavg");
}

int ns_loadavg_sample(struct ns_loadavg *l, struct ns_sample *s)
{
	char buf[256];
	double v[FIELD_COUNT];
	uint64_t run, tasks, pid;
	const char *q, *end;
	size_t len;
	int err;

	for (int f = 0; f < FIELD_COUNT; f++)
		s->v[field_metric[f]] = NAN;
	err = ns_src_read(l->path, buf, sizeof(buf), &len, 0, NULL);
	if (err)
		return ns_src_fail(&l->health, err, l->path, ns_src_read_reason(err));
	q = buf;
	end = buf + len;
	for (int f = 0; f < FIELD_COUNT; f++) {
		if (ns_src_double(&q, end, &v[f]) || v[f] < 0 || v[f] > MAX_LOAD)
			goto bad;
		if (q >= end || *q != ' ')
			goto bad;
	}
	if (ns_src_u64(&q, end, &run) || q >= end || *q++ != '/' || ns_src_u64(&q, end, &tasks) ||
	    ns_src_u64(&q, end, &pid) || (q < end && *q != '\n'))
		goto bad;
	for (int f = 0; f < FIELD_COUNT; f++)
		s->v[field_metric[f]] = (float)v[f];
	s->health |= NS_SRC_LOAD;
	ns_src_ok(&l->health);
	return 0;
bad:
	return ns_src_fail(&l->health, -EINVAL, l->path, "expected 'L1 L5 L15 R/T PID'");
}
