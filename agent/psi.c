// SPDX-License-Identifier: MIT
/* Pressure source: /proc/pressure/{cpu,memory,io} avg10. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "nodescore/psi.h"

/* /proc/pressure/<resource> (Documentation/accounting/psi.rst):
 *
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *
 * Only avg10 is used. "full" for cpu exists since 5.13 and is always zero at
 * the system level, so it is not required.
 */
enum psi_line {
	LINE_SOME = 0,
	LINE_FULL,
	LINE_COUNT,
};

static const char *const line_prefix[LINE_COUNT] = {
    [LINE_SOME] = "some avg10=",
    [LINE_FULL] = "full avg10=",
};

static const char *const resource_file[NS_PSI_COUNT] = {
    [NS_PSI_CPU] = "/proc/pressure/cpu",
    [NS_PSI_MEMORY] = "/proc/pressure/memory",
    [NS_PSI_IO] = "/proc/pressure/io",
};

/* Metric per (resource, line); -1 where the line is not exported. */
static const int psi_metric[NS_PSI_COUNT][LINE_COUNT] = {
    [NS_PSI_CPU] = {[LINE_SOME] = NS_M_PSI_CPU_SOME, [LINE_FULL] = -1},
    [NS_PSI_MEMORY] = {[LINE_SOME] = NS_M_PSI_MEM_SOME, [LINE_FULL] = NS_M_PSI_MEM_FULL},
    [NS_PSI_IO] = {[LINE_SOME] = NS_M_PSI_IO_SOME, [LINE_FULL] = NS_M_PSI_IO_FULL},
};

int ns_psi_init(struct ns_psi *p, const char *proc_root)
{
	int err;

	memset(p, 0, sizeof(*p));
	ns_src_health_init(&p->health, "psi");
	err = ns_src_path(p->dir, sizeof(p->dir), proc_root, "/proc/pressure");
	for (int r = 0; r < NS_PSI_COUNT && !err; r++)
		err = ns_src_path(p->path[r], sizeof(p->path[r]), proc_root, resource_file[r]);
	return err;
}

/* Parses one pressure file into avg10 per line. Returns 0 or -EINVAL. */
static int parse(const char *buf, size_t len, double avg[LINE_COUNT], int seen[LINE_COUNT])
{
	const char *q = buf, *end = buf + len;

	while (q < end) {
		for (int l = 0; l < LINE_COUNT; l++) {
			const char *v = q + strlen(line_prefix[l]);
			const char *lend, *t;
			uint64_t total;

			if (!ns_src_starts(q, end, line_prefix[l]))
				continue;
			if (seen[l] || ns_src_double(&v, end, &avg[l]) || avg[l] < 0 ||
			    avg[l] > 100)
				return -EINVAL;
			/* The rest of the line must be there: a cut line is not trusted. */
			lend = memchr(v, '\n', (size_t)(end - v));
			if (!lend)
				lend = end;
			if (!ns_src_starts(v, lend, " avg60="))
				return -EINVAL;
			t = memmem(v, (size_t)(lend - v), " total=", 7);
			if (!t)
				return -EINVAL;
			t += 7;
			if (ns_src_u64(&t, lend, &total) || t != lend)
				return -EINVAL;
			seen[l] = 1;
			break;
		}
		ns_src_next_line(&q, end);
	}
	return seen[LINE_SOME] ? 0 : -EINVAL;
}

int ns_psi_sample(struct ns_psi *p, struct ns_sample *s)
{
	double avg[NS_PSI_COUNT][LINE_COUNT];
	char buf[512];
	struct stat st;
	size_t len;
	int err;

	for (int r = 0; r < NS_PSI_COUNT; r++)
		for (int l = 0; l < LINE_COUNT; l++)
			if (psi_metric[r][l] >= 0)
				s->v[psi_metric[r][l]] = NAN;
	if (stat(p->dir, &st) < 0 && errno == ENOENT) {
		ns_src_unavailable(&p->health, "no /proc/pressure: kernel without PSI");
		return -EOPNOTSUPP;
	}
	for (int r = 0; r < NS_PSI_COUNT; r++) {
		int seen[LINE_COUNT] = {0};

		err = ns_src_read(p->path[r], buf, sizeof(buf), &len, 0, NULL);
		if (err == -EOPNOTSUPP) {
			ns_src_unavailable(&p->health,
					   "PSI disabled (psi=0 on the kernel command line)");
			return err;
		}
		if (err)
			return ns_src_fail(&p->health, err, p->path[r], ns_src_read_reason(err));
		if (parse(buf, len, avg[r], seen))
			return ns_src_fail(&p->health, -EINVAL, p->path[r],
					   "expected 'some avg10=X avg60=X avg300=X total=N'");
		for (int l = 0; l < LINE_COUNT; l++) {
			if (psi_metric[r][l] < 0)
				continue;
			if (!seen[l])
				return ns_src_fail(&p->health, -EINVAL, p->path[r],
						   "missing 'full' line");
		}
	}
	for (int r = 0; r < NS_PSI_COUNT; r++)
		for (int l = 0; l < LINE_COUNT; l++)
			if (psi_metric[r][l] >= 0)
				s->v[psi_metric[r][l]] = (float)avg[r][l];
	s->health |= NS_SRC_PSI;
	ns_src_ok(&p->health);
	return 0;
}
