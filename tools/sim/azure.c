// SPDX-License-Identifier: MIT
/* Azure 2017 VM arrivals (Huawei's processed Azure Public Dataset V1,
 * ../shared/data/azure-v1-vm-arrivals-huawei) as pod arrivals for
 * nodescore-sim: one pod per VM, its flavour's vCPU and memory as the
 * request, its lifetime bin's midpoint as the duration (a censored VM
 * runs at least its bin's lower edge: that edge is used). The dev trace is
 * the training half, the test trace the test half. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simrun.h"

#define AZ_BINS 64
#define AZ_LINE_MAX (1u << 22) /* one 300-s bin of arrivals */

struct az_maps {
	double cores[26], mem_gb[26]; /* by flavour letter; 0 = unknown */
	double lo[AZ_BINS], hi[AZ_BINS];
	int nbins;
};

static int read_maps(const char *dir, struct az_maps *m, char *err, size_t errlen)
{
	char path[1024], line[256];
	unsigned long ln = 0;
	FILE *f;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/maps/flav_map.txt", dir);
	if (!(f = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		double c, g;
		char fl;
		ln++;
		if (sscanf(line, "%lf,%lf %c", &c, &g, &fl) != 3 || fl < 'a' || fl > 'z' ||
		    !(c > 0 && c <= 1024) || !(g > 0 && g <= 65536)) {
			snprintf(err, errlen, "%s:%lu: want 'vcpu,memGB letter'", path, ln);
			fclose(f);
			return -EINVAL;
		}
		m->cores[fl - 'a'] = c;
		m->mem_gb[fl - 'a'] = g;
	}
	fclose(f);
	snprintf(path, sizeof(path), "%s/maps/v1.interval_map.txt", dir);
	if (!(f = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	for (int b = 0; b < AZ_BINS; b++)
		m->lo[b] = -1;
	ln = 0;
	while (fgets(line, sizeof(line), f)) {
		double s;
		int b;
		ln++;
		if (sscanf(line, "%lf %d", &s, &b) != 2 || b < 0 || b >= AZ_BINS || !(s >= 0)) {
			snprintf(err, errlen, "%s:%lu: want 'seconds bin' (bin < %d)", path, ln,
				 AZ_BINS);
			fclose(f);
			return -EINVAL;
		}
		if (m->lo[b] < 0 || s < m->lo[b])
			m->lo[b] = s;
		if (s + 300 > m->hi[b])
			m->hi[b] = s + 300;
		if (b + 1 > m->nbins)
			m->nbins = b + 1;
	}
	fclose(f);
	if (m->nbins == 0) {
		snprintf(err, errlen, "%s: no bins", path);
		return -EINVAL;
	}
	return 0;
}

/* One flavour trace and its lifetime trace, token by token. */
static int read_pair(const char *dir, const char *name, const char *life, const struct az_maps *m,
		     double node_mem_mib, struct sim_traces *tr, char *err, size_t errlen)
{
	char pf[1024], pl[1024];
	char *a = malloc(AZ_LINE_MAX), *b = malloc(AZ_LINE_MAX);
	FILE *ff = NULL, *fl = NULL;
	unsigned long ln = 0;
	int rc = -EINVAL;

	snprintf(pf, sizeof(pf), "%s/traces/%s", dir, name);
	snprintf(pl, sizeof(pl), "%s/traces/%s", dir, life);
	if (!a || !b) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (!(ff = fopen(pf, "r")) || !(fl = fopen(pl, "r"))) {
		snprintf(err, errlen, "%s: %s", ff ? pl : pf, strerror(errno));
		goto out;
	}
	while (fgets(a, AZ_LINE_MAX, ff)) {
		char *sa, *sb, *ta, *tb;
		double t, t2;
		ln++;
		if (!fgets(b, AZ_LINE_MAX, fl)) {
			snprintf(err, errlen, "%s: ends before %s (line %lu)", pl, pf, ln);
			goto out;
		}
		if (!strchr(a, '\n') || !strchr(b, '\n')) {
			snprintf(err, errlen, "%s:%lu: line too long or truncated", pf, ln);
			goto out;
		}
		ta = strtok_r(a, " \n", &sa);
		tb = strtok_r(b, " \n", &sb);
		if (!ta || !tb || sscanf(ta, "%lf", &t) != 1 || sscanf(tb, "%lf", &t2) != 1 ||
		    t != t2 || !(t >= 0)) {
			snprintf(err, errlen, "%s:%lu: timestamps of the two traces differ", pf,
				 ln);
			goto out;
		}
		ta = strtok_r(NULL, " \n", &sa);
		tb = strtok_r(NULL, " \n", &sb);
		if (!ta || !tb) /* a bin without arrivals */
			continue;
		for (char *xa, *xb, *va = strtok_r(ta, ",", &xa), *vb = strtok_r(tb, ",", &xb);
		     va || vb; va = strtok_r(NULL, ",", &xa), vb = strtok_r(NULL, ",", &xb)) {
			struct sim_task k = {0};
			int fi, bin;
			if (!va || !vb) {
				snprintf(err, errlen,
					 "%s:%lu: token counts of the two traces differ", pf, ln);
				goto out;
			}
			if (!strcmp(va, "|") && !strcmp(vb, "|"))
				continue;
			fi = va[0] - 'a';
			if (va[1] || fi < 0 || fi >= 26 || m->cores[fi] <= 0 ||
			    (vb[0] != 'U' && vb[0] != 'C') || sscanf(vb + 1, "%d", &bin) != 1 ||
			    bin < 0 || bin >= m->nbins || m->lo[bin] < 0) {
				snprintf(err, errlen, "%s:%lu: bad token '%s' / '%s'", pf, ln, va,
					 vb);
				goto out;
			}
			/* arrivals in the 300 s before the line's timestamp */
			k.create = t - 300;
			k.dur = vb[0] == 'C' ? m->lo[bin] : (m->lo[bin] + m->hi[bin]) / 2;
			if (k.dur < 60)
				k.dur = 60;
			k.inst = 1;
			k.cpu_m = m->cores[fi] * 1000;
			k.mem = m->mem_gb[fi] * 1024 / node_mem_mib;
			if (k.mem > 1) {
				tr->skipped++;
				continue;
			}
			if ((rc = sim_traces_push_task(tr, &k))) {
				snprintf(err, errlen, "out of memory");
				goto out;
			}
			rc = -EINVAL;
		}
	}
	rc = 0;
out:
	if (ff)
		fclose(ff);
	if (fl)
		fclose(fl);
	free(a), free(b);
	return rc;
}

int sim_tasks_load_azure(struct sim_traces *tr, const char *dir, int split, double node_mem_mib,
			 char *err, size_t errlen)
{
	struct az_maps m;
	int rc;

	if ((rc = read_maps(dir, &m, err, errlen)))
		return rc;
	if (split != SIM_SPLIT_TEST && (rc = read_pair(dir, "v1.dev.txt", "v1.dev.c2100000.txt", &m,
						       node_mem_mib, tr, err, errlen)))
		return rc;
	if (split != SIM_SPLIT_TRAIN && (rc = read_pair(dir, "v1.test.txt", "v1.test.c2591400.txt",
							&m, node_mem_mib, tr, err, errlen)))
		return rc;
	if (tr->ntask == 0) {
		snprintf(err, errlen, "%s: no VM arrivals", dir);
		return -EINVAL;
	}
	tr->tasks_split = 1;
	return 0;
}
