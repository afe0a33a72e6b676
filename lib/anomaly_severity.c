// SPDX-License-Identifier: MIT
/* How unusual the detector's newest sample is: the anomaly likelihood of the
 * forest score, and the severity of the isolating feature capped by its own
 * recent and same-phase tails. */
#include <math.h>
#include <stdint.h>

#include "anomaly_int.h"
#include "nodescore/rolling.h"

/* Anomaly likelihood of raw score s: the mean of the last lik_short raw
 * scores against the last lik_long such means. The empirical tail (share of
 * the reference at least as high) is used because forest scores are far
 * from Gaussian: regular events (a daily batch job) sit in the reference and
 * cap at 1 - k/n, while a score above everything seen keeps growing with its
 * distance past the reference maximum, in units of the reference spread. */
double ns_anomaly_likelihood(struct ns_anomaly *a, double s)
{
	uint32_t n = ns_roll_count(a->ref), ge = 0;
	double sm, mx = 0, sd, tail;

	ns_roll_push(a->sshort, s);
	sm = ns_roll_mean(a->sshort);
	ns_roll_scan_means(a->ref, n, sm, &ge, &mx);
	sd = ns_anomaly_rstd(a->ref);
	ns_roll_push(a->ref, sm);
	if (n < 8)
		return 0;
	if (ge)
		tail = (double)ge / n;
	else
		tail = exp(-(sm - mx) / (sd + 1e-6)) / n;
	return 1.0 - tail;
}

#define TAIL_MIN_ROWS 50

/* k-th smallest of v[0..n-1] (Wirth's selection, linear on average); on
 * return v[0..k-1] <= v[k] <= v[k+1..n-1]. */
static double select_kth(double *v, uint32_t n, uint32_t k)
{
	int64_t l = 0, m = (int64_t)n - 1, kk = k;

	while (l < m) {
		double x = v[kk];
		int64_t i = l, j = m;
		do {
			while (v[i] < x)
				i++;
			while (x < v[j])
				j--;
			if (i <= j) {
				double t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		} while (i <= j);
		if (j < kk)
			l = i;
		if (kk < i)
			m = j;
	}
	return v[kk];
}

/* tail_q quantile of |feature k| over the w rows before the newest (scratch
 * is clobbered). */
static double tail_quantile(struct ns_anomaly *a, uint32_t k, uint32_t w)
{
	double pos = a->c.tail_q * (double)(w - 1), q;
	uint32_t lo = (uint32_t)pos;

	for (uint32_t i = 0; i < w; i++)
		a->scratch[i] = fabs((double)ns_anomaly_row_back(a, i + 1)[k]);
	q = select_kth(a->scratch, w, lo);
	if (lo + 1 < w) {
		double hi = a->scratch[lo + 1];
		for (uint32_t i = lo + 2; i < w; i++)
			hi = a->scratch[i] < hi ? a->scratch[i] : hi;
		q += (pos - lo) * (hi - q);
	}
	return q > 1e-6 ? q : 1e-6;
}

/* Largest |feature k| within +-ns_anomaly_season_slack rows of the same phase in each
 * of the last tail_season seasons (those already stored; 0 when none or
 * when off): what happened at this time on recent days, to the same degree,
 * is not news today. */
static double season_max(const struct ns_anomaly *a, uint32_t k)
{
	uint32_t sl = ns_anomaly_season_slack(a->c.season);
	double mx = 0;

	for (uint32_t d = 1; d <= a->c.tail_season; d++) {
		uint32_t at = d * a->c.season;
		if (!a->c.season || a->rn <= at + sl)
			break;
		for (uint32_t b = at - sl; b <= at + sl; b++) {
			double v = fabs((double)ns_anomaly_row_back(a, b)[k]);
			mx = v > mx ? v : mx;
		}
	}
	return mx;
}

/* Severity of the newest row, whose top feature is f: |value of f| in std
 * units, capped at threshold * the largest ratio of a feature's |value| to
 * the tail_q quantile of its |value| over the previous tail_window rows. A
 * sample is then over only if some feature also leaves its own recent tail,
 * so a spiky, heavy-tailed series does not cross the threshold on every
 * ordinary spike (scratch is clobbered).
 * Cost: up to n_features linear selections over tail_window rows, on gated
 * samples only (~1 %). */
double ns_anomaly_severity(struct ns_anomaly *a, uint32_t f)
{
	const float *row = ns_anomaly_row_back(a, 0);
	double v = fabs((double)row[f]), need, ratio = 0;
	uint32_t w = a->rn - 1;

	if (!a->c.tail_window)
		return v;
	if (w > a->c.tail_window)
		w = a->c.tail_window;
	if (w < TAIL_MIN_ROWS)
		return v;
	/* The cap binds only if every feature's ratio is below
	 * v * margin / threshold: the top feature first, stop as soon as one
	 * reaches it. */
	need = v * a->c.tail_margin / a->c.threshold;
	for (uint32_t n = 0; n < a->nf && ratio < need; n++) {
		uint32_t k = n == 0 ? f : (n <= f ? n - 1 : n);
		double q = tail_quantile(a, k, w), sm = season_max(a, k);
		double r = fabs((double)row[k]) / (sm > q ? sm : q);
		ratio = r > ratio ? r : ratio;
	}
	return fmin(v, a->c.threshold * ratio / a->c.tail_margin);
}
