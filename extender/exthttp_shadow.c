// SPDX-License-Identifier: MIT
/* Shadow mode's accounting (--shadow): what filter and prioritize would
 * have done, counted for /metrics and the status page, the last prioritize
 * kept for both, and rate-limited log lines; request names made safe for
 * all three. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "exthttp_int.h"

const char *const ns_exthttp_agree_names[NS_SHADOW_DISAGREE + 1] = {
    [NS_SHADOW_NO_SIGNAL] = "no_signal",
    [NS_SHADOW_AGREE] = "agree",
    [NS_SHADOW_DISAGREE] = "disagree",
};

/* Request names are untrusted and go into log lines, the status page and
 * label values: keep the characters Kubernetes names use, mark the rest. */
static void safe_name(char *dst, size_t cap, const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k + 1 < cap; i++) {
		char ch = s[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_';
		dst[k++] = ok ? ch : '?';
	}
	dst[k] = '\0';
}

static void pod_label(const struct ns_ext_args *a, char *dst, size_t cap)
{
	char ns[SHADOW_NAME], name[SHADOW_NAME];

	safe_name(ns, sizeof(ns), a->pod_ns ? a->pod_ns : "", a->pod_ns_len);
	safe_name(name, sizeof(name), a->pod_name ? a->pod_name : "", a->pod_name_len);
	snprintf(dst, cap, "%s%s%s", ns, ns[0] ? "/" : "", name[0] ? name : "-");
}

/* One rate-limited INFO line per request at most, per verb at most one a
 * second: a busy scheduler asks hundreds of times a second. */
static int shadow_log_allowed(struct ns_exthttp *h, int verb)
{
	uint64_t now_s = ns_mono_ns() / 1000000000u, last = atomic_load(&h->sh_logged_s[verb]);

	return now_s != last && atomic_compare_exchange_strong(&h->sh_logged_s[verb], &last, now_s);
}

void ns_exthttp_shadow_account(struct ns_exthttp *h, const struct ns_extapi_ctx *c, enum verb verb,
			       const struct ns_extapi_stats *st)
{
	const struct ns_ext_args *a = &c->args;
	uint32_t would = st->fail_open ? 0 : st->failed_anomaly + st->failed_cpu + st->failed_mem;
	char pod[2 * SHADOW_NAME];

	atomic_fetch_add_explicit(&h->sh_requests[verb], 1, memory_order_relaxed);
	if (verb == V_FILTER) {
		/* Counted here only: prioritize re-derives the same removals and
		 * would count every pod twice. */
		if (st->fail_open) {
			atomic_fetch_add_explicit(&h->sh_fail_open, 1, memory_order_relaxed);
		} else {
			atomic_fetch_add_explicit(&h->sh_would[0], st->failed_anomaly,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&h->sh_would[1], st->failed_cpu,
						  memory_order_relaxed);
			atomic_fetch_add_explicit(&h->sh_would[2], st->failed_mem,
						  memory_order_relaxed);
		}
		if ((would || st->fail_open) && shadow_log_allowed(h, V_FILTER)) {
			pod_label(a, pod, sizeof(pod));
			log_info("shadow",
				 "filter pod=%s candidates=%u would_filter=%u anomaly=%u cpu=%u "
				 "memory=%u fail_open=%d (at most one line a second)",
				 pod, st->nodes, would, st->fail_open ? 0 : st->failed_anomaly,
				 st->fail_open ? 0 : st->failed_cpu,
				 st->fail_open ? 0 : st->failed_mem, st->fail_open);
		}
		return;
	}
	for (int i = 0; i <= NS_EXT_SCORE_MAX; i++)
		if (st->would_scores[i])
			atomic_fetch_add_explicit(&h->sh_scores[i], st->would_scores[i],
						  memory_order_relaxed);
	if (st->agree != NS_SHADOW_NO_SIGNAL)
		atomic_fetch_add_explicit(&h->sh_compared, 1, memory_order_relaxed);
	if (st->agree == NS_SHADOW_DISAGREE)
		atomic_fetch_add_explicit(&h->sh_disagree, 1, memory_order_relaxed);

	struct shadow_last l;
	size_t idx[SHADOW_TOP];
	memset(&l, 0, sizeof(l));
	pod_label(a, l.pod, sizeof(l.pod));
	l.n = ns_extapi_shadow_ranking(c, idx, l.score, SHADOW_TOP);
	for (size_t i = 0; i < l.n; i++)
		safe_name(l.node[i], sizeof(l.node[i]), a->nodes[idx[i]].name,
			  a->nodes[idx[i]].name_len);
	if (st->base_top != SIZE_MAX)
		safe_name(l.base, sizeof(l.base), a->nodes[st->base_top].name,
			  a->nodes[st->base_top].name_len);
	l.agree = st->agree;
	pthread_mutex_lock(&h->sh_mu);
	l.seq = h->sh_last.seq + 1;
	h->sh_last = l;
	pthread_mutex_unlock(&h->sh_mu);
	if (shadow_log_allowed(h, V_PRIORITIZE)) {
		char top[SHADOW_NAME] = "-";
		if (st->top != SIZE_MAX)
			safe_name(top, sizeof(top), a->nodes[st->top].name,
				  a->nodes[st->top].name_len);
		log_info("shadow",
			 "prioritize pod=%s top=%s least_allocated=%s agreement=%s candidates=%u "
			 "would_filter=%u (at most one line a second)",
			 l.pod, top, l.base[0] ? l.base : "-", ns_exthttp_agree_names[st->agree],
			 st->nodes, would);
	}
}
