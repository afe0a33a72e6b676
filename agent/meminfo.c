// SPDX-License-Identifier: MIT
/* Memory source: /proc/meminfo MemTotal and MemAvailable. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "nodescore/meminfo.h"

/* /proc/meminfo (proc(5)), values in KiB whatever the "kB" says:
 *
 *   MemTotal:       16307412 kB
 *   MemFree:         1130868 kB
 *   MemAvailable:    9508208 kB
 *   Buffers:          412772 kB
 *
 * MemAvailable exists since Linux 3.14; without it the file is refused
 * rather than guessed from MemFree + caches.
 */
enum meminfo_row {
	ROW_TOTAL = 0,
	ROW_AVAILABLE,
	ROW_COUNT,
};

static const char *const row_keys[ROW_COUNT] = {
    [ROW_TOTAL] = "MemTotal:",
    [ROW_AVAILABLE] = "MemAvailable:",
};

/* 1 PiB in KiB: more is garbage, and it keeps the float conversion exact enough. */
#define MAX_KIB (1ull << 40)

int ns_meminfo_init(struct ns_meminfo *m, const char *proc_root)
{
	memset(m, 0, sizeof(*m));
	ns_src_health_init(&m->health, "meminfo");
	return ns_src_path(m->path, sizeof(m->path), proc_root, "/proc/meminfo");
}

int ns_meminfo_sample(struct ns_meminfo *m, struct ns_sample *s)
{
	char buf[NS_SRC_BUF];
	uint64_t val[ROW_COUNT] = {0};
	int seen[ROW_COUNT] = {0};
	const char *q, *end;
	size_t len;
	int err;

	s->v[NS_M_MEM_UTIL] = NAN;
	s->v[NS_M_MEM_TOTAL_MIB] = NAN;
	s->v[NS_M_MEM_AVAIL_MIB] = NAN;
	err = ns_src_read(m->path, buf, sizeof(buf), &len, 0, NULL);
	if (err)
		return ns_src_fail(&m->health, err, m->path, ns_src_read_reason(err));
	q = buf;
	end = buf + len;
	while (q < end) {
		for (int r = 0; r < ROW_COUNT; r++) {
			const char *v = q + strlen(row_keys[r]);
			const char *nl;

			if (!ns_src_starts(q, end, row_keys[r]))
				continue;
			if (seen[r] || ns_src_u64(&v, end, &val[r]))
				goto bad;
			/* Unit and nothing else: a cut-off number must not pass. */
			nl = memchr(v, '\n', (size_t)(end - v));
			if (!nl || (nl - v != 3 && nl - v != 0) ||
			    (nl - v == 3 && memcmp(v, " kB", 3)))
				goto bad;
			seen[r] = 1;
			break;
		}
		ns_src_next_line(&q, end);
	}
	for (int r = 0; r < ROW_COUNT; r++)
		if (!seen[r])
			goto bad;
	if (val[ROW_TOTAL] == 0 || val[ROW_TOTAL] > MAX_KIB || val[ROW_AVAILABLE] > val[ROW_TOTAL])
		goto bad;
	s->v[NS_M_MEM_TOTAL_MIB] = (float)((double)val[ROW_TOTAL] / 1024.0);
	s->v[NS_M_MEM_AVAIL_MIB] = (float)((double)val[ROW_AVAILABLE] / 1024.0);
	s->v[NS_M_MEM_UTIL] = (float)(1.0 - (double)val[ROW_AVAILABLE] / (double)val[ROW_TOTAL]);
	s->health |= NS_SRC_MEM;
	ns_src_ok(&m->health);
	return 0;
bad:
	return ns_src_fail(&m->health, -EINVAL, m->path,
			   "MemTotal/MemAvailable missing, repeated or out of range");
}
