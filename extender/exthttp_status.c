// SPDX-License-Identifier: MIT
/* The extender's status page (GET /): the nodes of the score table with
 * their breakdown and plain-words reasons, the prioritize score a default
 * pod would get, shadow mode's summary, and the HTML escaping of names. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/clock.h"
#include "nodescore/table.h"
#include "exthttp_int.h"

static int by_score_desc(const void *a, const void *b)
{
	const struct ns_node_entry *x = a, *y = b;

	if (x->d.score != y->d.score)
		return x->d.score < y->d.score ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Names here went through safe_name in exthttp_shadow.c ([A-Za-z0-9._-?]):
 * safe in HTML. */
static void render_shadow_status(struct ns_exthttp *h, struct ns_buf *b)
{
	uint64_t cmp = atomic_load(&h->sh_compared), dis = atomic_load(&h->sh_disagree);
	struct shadow_last l;

	ns_buf_printf(b,
		      "<h2>Shadow mode</h2>\n<p>--shadow: /filter passes every node and "
		      "/prioritize gives every node %d; in-flight holds are off. What nodescore "
		      "would have done: %llu filter and %llu prioritize requests; first choice not "
		      "least allocated in %llu of %llu compared (%.1f %%); would have filtered "
		      "%llu anomalous, %llu short of CPU, %llu short of memory; would have failed "
		      "open %llu times.</p>\n",
		      NS_EXT_SCORE_NEUTRAL, (unsigned long long)atomic_load(&h->sh_requests[0]),
		      (unsigned long long)atomic_load(&h->sh_requests[1]), (unsigned long long)dis,
		      (unsigned long long)cmp, cmp ? 100.0 * (double)dis / (double)cmp : 0.0,
		      (unsigned long long)atomic_load(&h->sh_would[0]),
		      (unsigned long long)atomic_load(&h->sh_would[1]),
		      (unsigned long long)atomic_load(&h->sh_would[2]),
		      (unsigned long long)atomic_load(&h->sh_fail_open));
	pthread_mutex_lock(&h->sh_mu);
	l = h->sh_last;
	pthread_mutex_unlock(&h->sh_mu);
	if (!l.seq)
		return;
	ns_buf_printf(b,
		      "<p>Last prioritize: pod %s, least allocated %s, %s.</p>\n<table>\n"
		      "<tr><th>rank</th><th>node</th><th>would-be score</th></tr>\n",
		      l.pod, l.base[0] ? l.base : "-", ns_exthttp_agree_names[l.agree]);
	for (size_t i = 0; i < l.n; i++)
		ns_buf_printf(b, "<tr><td>%zu</td><td>%s</td><td>%u</td></tr>\n", i + 1, l.node[i],
			      l.score[i]);
	ns_buf_puts(b, "</table>\n");
}

/* Text for HTML: every byte that could end an element or an attribute is
 * escaped. Node names are DNS-1123 today (ns_wire_name_valid), but the page
 * must stay safe if that rule is ever relaxed: names are untrusted. */
static void html_text(struct ns_buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			ns_buf_puts(b, "&amp;");
			break;
		case '<':
			ns_buf_puts(b, "&lt;");
			break;
		case '>':
			ns_buf_puts(b, "&gt;");
			break;
		case '"':
			ns_buf_puts(b, "&quot;");
			break;
		case '\'':
			ns_buf_puts(b, "&#39;");
			break;
		default:
			ns_buf_putc(b, *s);
		}
	}
}

void ns_exthttp_html_text(struct ns_buf *b, const char *s)
{
	html_text(b, s);
}

#define NA_UNMEASURED "<td class=\"na\">n/a (unmeasured)</td>"

/* Per mille as a percentage with one decimal. */
static void pct(struct ns_buf *b, unsigned pm)
{
	ns_buf_printf(b, "<td>%u.%u%%</td>", pm / 10, pm % 10);
}

/* What /prioritize gives a default-class pod when every fresh node in the
 * table is a candidate and nothing is held (extapi.c normalise): the same
 * linear or rank spread over the candidates' values. */
struct prio_spread {
	unsigned rmin, rmax, distinct;
	uint16_t dense[1001];
};

static unsigned prio_value(const struct ns_node_data *d)
{
	unsigned v = (d->flags & NS_FLAG_ANOMALY) ? 0 : d->score;

	return v > 1000 ? 1000 : v;
}

static void prio_prepare(struct prio_spread *p, const struct ns_node_entry *e, const int *fresh,
			 size_t n, enum ns_normalize norm)
{
	p->rmin = 1001;
	p->rmax = 0;
	p->distinct = 0;
	memset(p->dense, 0, sizeof(p->dense));
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		if (!fresh[i])
			continue;
		v = prio_value(&e[i].d);
		p->rmin = v < p->rmin ? v : p->rmin;
		p->rmax = v > p->rmax ? v : p->rmax;
		p->dense[v] = 1;
	}
	if (norm == NS_NORM_RANK && p->rmax > p->rmin)
		for (unsigned r = p->rmin; r <= p->rmax; r++)
			if (p->dense[r])
				p->dense[r] = (uint16_t)p->distinct++;
}

static unsigned prio_score(const struct prio_spread *p, unsigned v, enum ns_normalize norm)
{
	if (p->rmax == p->rmin)
		return (v + 50) / 100;
	if (norm == NS_NORM_RANK)
		return (10u * p->dense[v] + (p->distinct - 1) / 2) / (p->distinct - 1);
	return (10u * (v - p->rmin) + (p->rmax - p->rmin) / 2) / (p->rmax - p->rmin);
}

void ns_exthttp_render_status(struct ns_exthttp *h, struct ns_buf *b)
{
	const struct ns_table *t = h->cfg.table;
	enum ns_normalize norm = h->cfg.api.norm;
	uint32_t cap = ns_table_max_nodes(t);
	struct ns_node_entry *e = malloc((size_t)cap * sizeof(*e));
	int *fresh = malloc((size_t)cap * sizeof(*fresh));
	struct prio_spread *ps = malloc(sizeof(*ps));
	uint64_t now = ns_mono_ns() / 1000000u, ttl = h->cfg.api.ttl_ms;
	size_t n, nfresh = 0;

	if (!e || !fresh || !ps) {
		free(e);
		free(fresh);
		free(ps);
		b->oom = 1;
		return;
	}
	n = ns_table_snapshot(t, e, cap);
	qsort(e, n, sizeof(*e), by_score_desc);
	for (size_t i = 0; i < n; i++) {
		uint64_t age = now > e[i].d.recv_mono_ms ? now - e[i].d.recv_mono_ms : 0;

		fresh[i] = age <= ttl;
		nfresh += (size_t)fresh[i];
	}
	prio_prepare(ps, e, fresh, n, norm);
	ns_buf_printf(
	    b,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<meta http-equiv=\"refresh\" content=\"5\"><title>nodescore "
	    "extender</title>\n<style>body{font-family:sans-serif;margin:12px 16px;"
	    "color:#222}h1{font-size:1.4em;margin:0 0 6px}h2{font-size:1.1em;margin:14px 0 "
	    "4px}p,li{max-width:1200px;font-size:.9em;margin:4px 0}table{border-collapse:"
	    "collapse;font-size:.85em}td,th{padding:2px 5px;text-align:right;border-bottom:"
	    "1px solid #e4e4e4;white-space:nowrap}th{background:#eef2f7;position:sticky;top:0;"
	    "vertical-align:bottom;white-space:normal}th:nth-child(2),th:nth-child(5),td:nth-child("
	    "2),td:nth-child(5){text-align:"
	    "left}td:nth-child(5){white-space:normal;min-width:220px;max-width:320px}tr.stale{"
	    "color:#999}"
	    "tr.anomaly{background:#fdd}tr.fallback td:nth-child(5),tr.degraded td:nth-child(5)"
	    "{color:#8a5a00}.na{color:#888;white-space:normal}.ok{color:#2a7a2a}.nw{white-space:"
	    "nowrap}</style></head><body>\n"
	    "<h1>nodescore extender</h1>\n<p>%zu nodes, %u stale (TTL %llu ms), %llu "
	    "messages accepted</p>\n",
	    n, ns_table_stale(t, now, ttl), (unsigned long long)ttl,
	    (unsigned long long)ns_table_count(t, NS_WIRE_OK));
	if (h->cfg.api.shadow)
		render_shadow_status(h, b);
	ns_buf_puts(
	    b,
	    "<h2>How the ranking is made</h2>\n<ul>\n"
	    "<li><b>score</b> (0..1000) is computed by each node's agent: with the default "
	    "weights 1000 x (0.7 x headroom + 0.3 x (1 - anomaly)), where the agent's headroom is "
	    "the mean free share of CPU and memory at the <b>forecast peak</b> minus a PSI "
	    "pressure penalty. The forecast peak is never below the current use.</li>\n"
	    "<li><b>headroom at peak</b> = 100 % - max(CPU peak, memory peak), as the "
	    "<code>batch</code> class uses it; <b>free mCPU / MiB</b> are what /filter compares "
	    "with a pod's request.</li>\n");
	if (nfresh && ps->rmax > ps->rmin)
		ns_buf_printf(
		    b,
		    "<li><b>prio 0..10</b> is what /prioritize gives a default pod if every "
		    "fresh node is a candidate: the scores spread %s, best %u -> 10, worst %u "
		    "-> 0 (an anomalous node counts as 0).</li>\n",
		    norm == NS_NORM_RANK ? "by rank" : "linearly", ps->rmax, ps->rmin);
	else
		ns_buf_puts(
		    b, "<li><b>prio 0..10</b> is what /prioritize gives a default pod if every "
		       "fresh node is a candidate: all fresh nodes have the same value, so "
		       "each gets score / 100.</li>\n");
	ns_buf_puts(
	    b, "<li>An <b>anomalous</b> node is removed by /filter; a <b>stale</b> one (no "
	       "message within the TTL) and an unknown one get the neutral 5. <b>degraded</b> and "
	       "<b>model fallback</b> only say how the agent computed its score.</li>\n</ul>\n"
	       "<h2>Nodes</h2>\n<table id=\"nodes\">\n<tr><th>#</th><th>node</th><th>score</th>"
	       "<th>prio 0..10</th><th>flags and reasons</th><th>cpu now</th><th>cpu peak "
	       "(forecast)</th><th>mem now</th><th>mem peak (forecast)</th><th>headroom at "
	       "peak</th><th>free mCPU</th><th>free MiB</th><th>anomaly</th><th>rtt p99 us</th>"
	       "<th>pods</th><th>age s</th></tr>\n");
	for (size_t i = 0; i < n; i++) {
		const struct ns_node_data *d = &e[i].d;
		uint64_t age = now > d->recv_mono_ms ? now - d->recv_mono_ms : 0;
		int stale = !fresh[i], an = (d->flags & NS_FLAG_ANOMALY) != 0;
		int cpu_na =
		    (d->flags & NS_FLAG_DEGRADED) && d->free_millicores == NS_WIRE_FREE_UNKNOWN;
		int mem_na = (d->flags & NS_FLAG_DEGRADED) && d->free_mib == NS_WIRE_FREE_UNKNOWN;
		unsigned peak = d->cpu_peak_fc > d->mem_peak_fc ? d->cpu_peak_fc : d->mem_peak_fc;
		const char *sep = "";

		/* Kept on one line, name cell then score cell: scripts grep for
		 * "<td>NAME</td><td>SCORE</td>" and class="stale". */
		ns_buf_printf(b, "<tr class=\"%s\"><td>%zu</td><td>",
			      stale				    ? "stale"
			      : an				    ? "anomaly"
			      : (d->flags & NS_FLAG_DEGRADED)	    ? "degraded"
			      : (d->flags & NS_FLAG_MODEL_FALLBACK) ? "fallback"
								    : "",
			      i + 1);
		html_text(b, e[i].name);
		ns_buf_printf(b, "</td><td>%u</td>", d->score);
		if (stale)
			ns_buf_printf(b, "<td>%d <span class=\"na\">(stale)</span></td>",
				      NS_EXT_SCORE_NEUTRAL);
		else if (an)
			ns_buf_puts(b, "<td>0 <span class=\"na\">(filtered)</span></td>");
		else
			ns_buf_printf(b, "<td>%u</td>", prio_score(ps, prio_value(d), norm));
		ns_buf_puts(b, "<td>");
		if (stale) {
			ns_buf_printf(
			    b, "stale: silent %.1f s &gt; TTL %.1f s, /prioritize gives %d",
			    (double)age / 1000.0, (double)ttl / 1000.0, NS_EXT_SCORE_NEUTRAL);
			sep = "; ";
		}
		if (an) {
			ns_buf_printf(b,
				      "%s<b>anomaly flagged</b> by the node's detector: /filter "
				      "removes it",
				      sep);
			sep = "; ";
		}
		if ((d->flags & NS_FLAG_DEGRADED) && (cpu_na || mem_na)) {
			ns_buf_printf(b,
				      "%sdegraded: %s not measured, so the agent sends the neutral "
				      "score 500",
				      sep,
				      cpu_na && mem_na ? "CPU and memory"
				      : cpu_na	       ? "CPU"
						       : "memory");
			sep = "; ";
		} else if (d->flags & NS_FLAG_DEGRADED) {
			ns_buf_printf(b,
				      "%sdegraded: one of the agent's samplers is failing (e.g. no "
				      "pods cgroup); the score uses what is measured",
				      sep);
			sep = "; ";
		}
		if (d->flags & NS_FLAG_MODEL_FALLBACK) {
			ns_buf_printf(b,
				      "%smodel fallback: a model output is missing (forecast or "
				      "detector not ready, or no model): peak = now, anomaly 0",
				      sep);
			sep = "; ";
		}
		if (d->flags & NS_FLAG_DRAINING) {
			ns_buf_printf(b, "%sdraining: the node reports it is draining", sep);
			sep = "; ";
		}
		if (!*sep)
			ns_buf_puts(b, "<span class=\"ok\">ok</span>");
		ns_buf_puts(b, "</td>");
		/* A degraded agent that could not measure CPU or memory sends
		 * stand-ins there and "unknown" free amounts: not numbers to show. */
		if (cpu_na) {
			ns_buf_puts(b,
				    "<td colspan=\"2\" class=\"na\">n/a (CPU not measured)</td>");
		} else {
			pct(b, d->cpu_now);
			pct(b, d->cpu_peak_fc);
		}
		if (mem_na) {
			ns_buf_puts(
			    b, "<td colspan=\"2\" class=\"na\">n/a (memory not measured)</td>");
		} else {
			pct(b, d->mem_now);
			pct(b, d->mem_peak_fc);
		}
		if (cpu_na || mem_na)
			ns_buf_puts(b, "<td class=\"na\">n/a</td>");
		else
			pct(b, peak > 1000 ? 0 : 1000 - peak);
		if (d->free_millicores == NS_WIRE_FREE_UNKNOWN)
			ns_buf_puts(b, cpu_na ? "<td class=\"na\">n/a</td>" : NA_UNMEASURED);
		else
			ns_buf_printf(b, "<td>%u</td>", d->free_millicores);
		if (d->free_mib == NS_WIRE_FREE_UNKNOWN)
			ns_buf_puts(b, mem_na ? "<td class=\"na\">n/a</td>" : NA_UNMEASURED);
		else
			ns_buf_printf(b, "<td>%u</td>", d->free_mib);
		ns_buf_printf(b, "<td>%u.%03u%s</td>", d->anomaly / 1000u, d->anomaly % 1000u,
			      an ? " <b>flagged</b>" : "");
		if (d->rtt_p99_us)
			ns_buf_printf(b, "<td>%u</td>", d->rtt_p99_us);
		else
			ns_buf_puts(b, "<td class=\"na nw\">n/a (no TCP)</td>");
		ns_buf_printf(b, "<td>%u</td><td>%.1f", d->pods, (double)age / 1000.0);
		ns_buf_puts(b, "</td></tr>\n");
	}
	ns_buf_puts(b, "</table>\n</body></html>\n");
	free(ps);
	free(fresh);
	free(e);
}
