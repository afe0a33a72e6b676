// SPDX-License-Identifier: MIT
/* nodescore-sim traces: the machine series (node backgrounds, pod usage
 * shapes) and the task arrivals loaded, checked and split into the training
 * and the test half (docs/sim.md). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/series.h"
#include "sim.h"
#include "simrun.h"

int sim_traces_push_task(struct sim_traces *tr, const struct sim_task *t)
{
	if (tr->ntask == tr->captask) {
		size_t nc = tr->captask ? tr->captask * 2 : 4096;
		struct sim_task *nt = realloc(tr->task, nc * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		tr->task = nt, tr->captask = nc;
	}
	if (!tr->ntask || t->create < tr->tmin)
		tr->tmin = t->create;
	if (!tr->ntask || t->create > tr->tmax)
		tr->tmax = t->create;
	tr->task[tr->ntask++] = *t;
	return 0;
}

int sim_traces_load(struct sim_traces *tr, const char *machines, enum ns_series_fmt bg_fmt,
		    const char *tasks, uint32_t step_s, char *err, size_t errlen)
{
	FILE *f;
	char line[512];
	unsigned long ln = 0;
	int rc;

	memset(tr, 0, sizeof(*tr));
	tr->bg.step_ms = step_s * 1000;
	rc = ns_series_load(machines, bg_fmt, &tr->bg, NULL, err, errlen);
	if (rc)
		return rc;
	/* Carry values over the grid's empty cells; a series too short for a day
	 * is of no use as a node. */
	for (size_t i = 0; i < tr->bg.n; i++) {
		struct ns_series *se = &tr->bg.s[i];
		for (int r = 0; r < NS_SERIES_NRES; r++) {
			float last = NAN;
			for (size_t k = 0; k < se->n; k++)
				if (isnan(se->v[r][k]))
					se->v[r][k] = last;
				else /* a VM bursting over its share (Bitbrains) is a busy machine
				      */
					last = se->v[r][k] = fminf(se->v[r][k], 1);
			for (size_t k = 0; k < se->n && isnan(se->v[r][k]); k++)
				se->v[r][k] = 0;
		}
	}
	/* A series too short for a day is of no use as a node: a Bitbrains VM
	 * that lived a few hours is dropped and counted, an Alibaba machine (the
	 * slice holds 8 days of each) means a broken file. */
	size_t kept = 0;
	for (size_t i = 0; i < tr->bg.n; i++) {
		struct ns_series *se = &tr->bg.s[i];
		if (se->n >= 86400u / step_s) {
			tr->bg.s[kept++] = *se;
			continue;
		}
		if (bg_fmt != NS_SERIES_FMT_BITBRAINS) {
			snprintf(err, errlen, "%s: machine %s has under a day of samples", machines,
				 se->id);
			return -EINVAL;
		}
		for (int r = 0; r < NS_SERIES_NRES; r++)
			free(se->v[r]);
		free(se->cnt);
		tr->short_dropped++;
	}
	tr->bg.n = kept;
	if (kept < 2) {
		snprintf(err, errlen, "%s: under 2 machines with a day of samples", machines);
		return -EINVAL;
	}
	tr->mean_cpu = calloc(tr->bg.n, sizeof(double));
	if (!tr->mean_cpu) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; i < tr->bg.n; i++) {
		double sum = 0;
		for (size_t k = 0; k < tr->bg.s[i].n; k++)
			sum += tr->bg.s[i].v[0][k];
		tr->mean_cpu[i] = sum / (double)tr->bg.s[i].n;
	}
	if (!tasks)
		return 0; /* arrivals come from elsewhere (Azure) */
	f = fopen(tasks, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", tasks, strerror(errno));
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		double create, end, inst, cpu, mem;
		char status[32];
		ln++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%lu: line too long", tasks, ln);
			fclose(f);
			return -EINVAL;
		}
		if (ln == 1 && strstr(line, "task_create_time"))
			continue;
		/* create,end,job,task,instances,status,plan_cpu,plan_mem */
		if (sscanf(line, "%lf,%lf,%*[^,],%*[^,],%lf,%31[^,],%lf,%lf", &create, &end, &inst,
			   status, &cpu, &mem) != 6) {
			/* rows without requests (empty plan_cpu) are counted, not used */
			if (sscanf(line, "%lf,%lf,%*[^,],%*[^,],%lf,%31[^,],", &create, &end, &inst,
				   status) == 4) {
				tr->skipped++;
				continue;
			}
			snprintf(err, errlen,
				 "%s:%lu: malformed row (want create,end,job,task,"
				 "instances,status,plan_cpu,plan_mem)",
				 tasks, ln);
			fclose(f);
			return -EINVAL;
		}
		if (!(end > create) || !(inst >= 1) || !(cpu > 0) || !(mem > 0) || cpu > 6400 ||
		    mem > 1 || inst > 1e6 || strcmp(status, "Terminated")) {
			tr->skipped++;
			continue;
		}
		if (sim_traces_push_task(tr, &(struct sim_task){create, end - create,
								(uint32_t)inst, cpu * 10, mem})) {
			fclose(f);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	fclose(f);
	if (tr->ntask == 0) {
		snprintf(err, errlen, "%s: no usable task rows (%lu lines)", tasks, ln);
		return -EINVAL;
	}
	return 0;
}

int sim_traces_split(struct sim_traces *tr, int which)
{
	double mid = tr->tmin + (tr->tmax - tr->tmin) / 2;
	size_t k = 0;

	if (which == SIM_SPLIT_ALL)
		return 0;
	if (tr->bg.n < 2) {
		errno = EINVAL;
		return -EINVAL;
	}
	/* Machines: even positions train, odd ones test. */
	for (size_t i = 0; i < tr->bg.n; i++) {
		if ((int)(i & 1) == (which == SIM_SPLIT_TEST)) {
			tr->bg.s[k] = tr->bg.s[i];
			tr->mean_cpu[k++] = tr->mean_cpu[i];
			continue;
		}
		for (int r = 0; r < NS_SERIES_NRES; r++)
			free(tr->bg.s[i].v[r]);
		free(tr->bg.s[i].cnt);
	}
	tr->bg.n = k;
	if (tr->tasks_split)
		return 0;
	/* Tasks: created in the first half of the trace train, the rest test. */
	k = tr->ntask;
	tr->ntask = 0; /* pushed back in place: never grows, so never reallocates */
	for (size_t i = 0; i < k; i++)
		if ((tr->task[i].create < mid) == (which == SIM_SPLIT_TRAIN))
			sim_traces_push_task(tr, &tr->task[i]);
	return tr->ntask ? 0 : -EINVAL;
}

void sim_traces_free(struct sim_traces *tr)
{
	ns_series_free(&tr->bg);
	free(tr->mean_cpu);
	free(tr->task);
}
