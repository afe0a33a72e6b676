// SPDX-License-Identifier: MIT
/* CPU source: /proc/stat aggregate line deltas and per-CPU line count. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "nodescore/procstat.h"

/* /proc/stat (proc(5)); only the leading cpu lines are read:
 *
 *   cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
 *   cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0
 *   cpu1 1335779 30843 517223 13389003 4032 0 3280 0 22847 0
 *   intr 1462898 44 0 ...
 *
 * Columns are USER_HZ ticks. guest and guest_nice are already counted in
 * user and nice, so they are not added again. Kernels before 2.6.33 print
 * fewer columns: at least the first four are required.
 */
enum procstat_col {
	COL_USER = 0,
	COL_NICE,
	COL_SYSTEM,
	COL_IDLE,
	COL_IOWAIT,
	COL_IRQ,
	COL_SOFTIRQ,
	COL_STEAL,
	COL_GUEST,
	COL_GUEST_NICE,
	COL_COUNT,
};

static const int col_counts_in_total[COL_COUNT] = {
    [COL_USER] = 1, [COL_NICE] = 1,    [COL_SYSTEM] = 1, [COL_IDLE] = 1,  [COL_IOWAIT] = 1,
    [COL_IRQ] = 1,  [COL_SOFTIRQ] = 1, [COL_STEAL] = 1,	 [COL_GUEST] = 0, [COL_GUEST_NICE] = 0,
};

#define MIN_COLS (COL_IDLE + 1)
/* Far beyond any machine; a bigger count is garbage. */
#define MAX_CPUS 65536

int ns_procstat_init(struct ns_procstat *p, const char *proc_root)
{
	memset(p, 0, sizeof(*p));
	ns_src_health_init(&p->health, "procstat");
	return ns_src_path(p->path, sizeof(p->path), proc_root, "/proc/stat");
}

/* Parses the columns after "cpu" / "cpuN". Returns 0 or -EINVAL. */
static int parse_cols(const char *q, const char *end, uint64_t *busy, uint64_t *total)
{
	uint64_t col[COL_COUNT] = {0};
	int n = 0;

	while (n < COL_COUNT && ns_src_u64(&q, end, &col[n]) == 0)
		n++;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (n < MIN_COLS || (q < end && *q != '\n'))
		return -EINVAL;
	*total = 0;
	for (int i = 0; i < COL_COUNT; i++) {
		if (!col_counts_in_total[i])
			continue;
		if (*total > UINT64_MAX - col[i])
			return -EINVAL;
		*total += col[i];
	}
	*busy = *total - col[COL_IDLE] - col[COL_IOWAIT];
	return 0;
}

int ns_procstat_sample(struct ns_procstat *p, struct ns_sample *s)
{
	char *buf = p->buf;
	const char *q, *end;
	uint64_t busy = 0, total = 0, b, t;
	size_t len;
	int err, truncated, have_agg = 0, ncpu = 0;

	s->v[NS_M_CPU_UTIL] = NAN;
	s->v[NS_M_NCPU] = NAN;
	/* intr/softirq lines can be very long on big machines: keep the prefix. */
	err = ns_src_read(p->path, buf, sizeof(p->buf), &len, 1, &truncated);
	if (err) {
		p->have_prev = 0;
		return ns_src_fail(&p->health, err, p->path, ns_src_read_reason(err));
	}
	q = buf;
	end = buf + len;
	while (q < end && ns_src_starts(q, end, "cpu")) {
		const char *line = q, *nl = memchr(q, '\n', (size_t)(end - q));
		const char *lend = nl ? nl : end;

		/* A line cut off by the buffer is not trusted. */
		if (!nl && truncated)
			goto bad;
		if (line[3] == ' ') {
			if (have_agg || parse_cols(line + 3, lend, &busy, &total))
				goto bad;
			have_agg = 1;
		} else if (line[3] >= '0' && line[3] <= '9') {
			if (!have_agg ||
			    parse_cols(line + 3 + strspn(line + 3, "0123456789"), lend, &b, &t))
				goto bad;
			if (++ncpu > MAX_CPUS)
				goto bad;
		} else {
			goto bad;
		}
		q = nl ? nl + 1 : end;
	}
	if (!have_agg || ncpu == 0)
		goto bad;
	/* The per-CPU lines must have ended inside what we read. */
	if (q >= end && truncated)
		goto bad;

	s->v[NS_M_NCPU] = (float)ncpu;
	if (p->have_prev && total > p->prev_total && busy >= p->prev_busy &&
	    busy - p->prev_busy <= total - p->prev_total)
		s->v[NS_M_CPU_UTIL] =
		    (float)((double)(busy - p->prev_busy) / (double)(total - p->prev_total));
	/* Counters that went backwards (hotplug, a different file) restart the delta. */
	p->prev_busy = busy;
	p->prev_total = total;
	p->have_prev = 1;
	s->health |= NS_SRC_CPU;
	ns_src_ok(&p->health);
	return 0;
bad:
	p->have_prev = 0;
	s->v[NS_M_NCPU] = NAN;
	return ns_src_fail(&p->health, -EINVAL, p->path, "malformed cpu lines");
}
