// SPDX-License-Identifier: MIT
/* nodescore-train forecast: CSV -> feature rows -> one XGBoost model per
 * target (libxgboost in-process) -> bias-corrected peaks -> bundle. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodescore/bundle.h"
#include "nodescore/fctrain.h"
#include "nodescore/forecast.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "traincli.h"

struct fit_progress {
	struct progress pg;
	double done, total; /* in boosting rounds over every fit */
};

static int on_round(unsigned round, unsigned total, void *arg)
{
	struct fit_progress *fp = arg;

	(void)total;
	progress_tick(&fp->pg, (fp->done + round) / fp->total);
	return train_stop != 0;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

/* Row weights 1 / (persistence MAE of the row's series on target t over its
 * training rows), floored and normalised to mean 1: the loss then tracks the
 * per-series scaled error (MASE) instead of being dominated by the most
 * volatile series. */
static float *scale_weights(const struct rows *r, size_t t, double floor)
{
	float *w = malloc((r->n ? r->n : 1) * sizeof(float));
	double tot = 0;
	size_t i = 0, cnt = 0;

	if (!w)
		return NULL;
	while (i < r->n) {
		size_t j = i, k = 0;
		double s = 0;

		while (j < r->n && r->sid[j] == r->sid[i]) {
			float y = r->Y[j * r->ntarget + t], p = r->B[(j * r->ntarget + t) * BASE_N];

			if (!r->test[j] && !isnan(y) && !isnan(p)) {
				s += fabs(y - p);
				k++;
			}
			j++;
		}
		for (size_t q = i; q < j; q++)
			w[q] = (float)(1.0 / fmax(k ? s / (double)k : 0.0, floor));
		i = j;
	}
	for (i = 0; i < r->n; i++)
		if (!r->test[i]) {
			tot += w[i];
			cnt++;
		}
	for (i = 0; i < r->n && tot > 0; i++)
		w[i] = (float)(w[i] * (double)cnt / tot);
	return w;
}

/* Per-target settings, returning the row weight floor. CPU MASE is decided
 * on calm VMs whose persistence errs by a few tenths of a point: a 0.1 pp
 * weight floor (0.5 pp before) lets them count, and a leaf needs less
 * hessian mass than the default 5 to fit those few heavily weighted rows
 * (Bitbrains CPU mean 1/2/4 h MASE 0.920/0.868/0.850 -> 0.911/0.841/0.811);
 * L2 5 on the CPU mean leaves then keeps those small leaves from chasing
 * single rows (-> 0.887/0.830/0.820). Memory keeps 0.5 pp and 5: the same
 * change made every memory cell worse (Bitbrains 1 h 0.688 -> 0.711).
 * Peak residuals are dominated by spikes,
 * so peak models default to pseudo-Huber; its slope is 5 pp because at
 * 2 pp the bounded gradients underfit the large level changes of Alibaba
 * machines (CPU peak 4 h MASE 0.28 -> 0.86). */
static double target_params(const struct ns_fc_target *t, const struct ns_fctrain_params *base,
			    const char *peak_objective, struct ns_fctrain_params *p)
{
	*p = *base;
	if (t->stat == NS_FC_PEAK) {
		p->objective = peak_objective;
		p->huber_slope = 0.05;
	}
	if (t->metric == NS_M_CPU_UTIL) {
		p->min_child_weight = 1.0;
		if (t->stat == NS_FC_MEAN)
			p->lambda = 5.0;
		return 0.001;
	}
	return 0.005;
}

static int objective_ok(const char *s)
{
	return strcmp(s, "reg:squarederror") == 0 || strcmp(s, "reg:pseudohubererror") == 0 ||
	       strcmp(s, "reg:absoluteerror") == 0;
}

/* Peak shift quantile of target t (0 for mean targets). */
static double peak_q(const struct ns_fc_target *t, double q, double qshort)
{
	if (t->stat != NS_FC_PEAK)
		return 0;
	return t->horizon_s <= 3600 ? qshort : q;
}

/* Flat-guard threshold (on <metric>_std_1h) minimising the per-series mean
 * of MAE / persistence MAE over the calibration rows; 0 = no guard. */
static float pick_flat_guard(const struct rows *r, size_t t, const uint8_t *calib,
			     struct ns_forecast *tmp, float offset)
{
	static const float cand[] = {0, 0.001f, 0.002f, 0.005f, 0.01f, 0.02f};
	enum { NC = sizeof(cand) / sizeof(cand[0]) };
	double ratio[NC] = {0}, em[NC] = {0}, ep = 0;
	size_t nser = 0, best = 0;

	for (size_t i = 0; i <= r->n; i++) {
		if (i == r->n || (i > 0 && r->sid[i] != r->sid[i - 1])) {
			if (ep > 1e-9) {
				for (size_t c = 0; c < NC; c++)
					ratio[c] += em[c] / ep;
				nser++;
			}
			memset(em, 0, sizeof(em));
			ep = 0;
			if (i == r->n)
				break;
		}
		float y = r->Y[i * r->ntarget + t], pp = r->B[(i * r->ntarget + t) * BASE_N];

		if (r->test[i] || !calib[i] || isnan(y) || isnan(pp))
			continue;
		ep += fabs(pp - y);
		for (size_t c = 0; c < NC; c++) {
			ns_forecast_set_flat_guard(tmp, 0, cand[c]);
			em[c] +=
			    fabs(ns_forecast_predict_one(tmp, 0, r->X + i * r->nfeat) + offset - y);
		}
	}
	for (size_t c = 1; c < NC && nser; c++)
		if (ratio[c] < ratio[best])
			best = c;
	ns_forecast_set_flat_guard(tmp, 0, 0);
	return cand[best];
}

/* Rows usable for target t: training rows with a label; calib selects the
 * calibration tail (1), the rest (0) or all (-1). */
static size_t gather(const struct rows *r, size_t t, const uint8_t *calib, int which,
		     const struct ns_forecast *rel, const float *wsrc, float **X, float **y,
		     float **w, size_t *cap)
{
	size_t n = 0;

	for (size_t i = 0; i < r->n; i++) {
		float lab = r->Y[i * r->ntarget + t];

		/* Relative models learn the change from the current level. */
		if (rel)
			lab -= ns_forecast_anchor_for(rel, r->tgt[t].metric, r->X + i * r->nfeat);

		if (r->test[i] || isnan(lab) || (which >= 0 && calib[i] != which))
			continue;
		if (n == *cap) {
			size_t nc = *cap ? *cap * 2 : 4096;
			float *nx = realloc(*X, nc * r->nfeat * sizeof(float));
			float *ny = nx ? realloc(*y, nc * sizeof(float)) : NULL;
			float *nw;

			if (nx)
				*X = nx;
			if (ny)
				*y = ny;
			nw = ny ? realloc(*w, nc * sizeof(float)) : NULL;
			if (!nx || !ny || !nw)
				return (size_t)-1;
			*w = nw;
			*cap = nc;
		}
		memcpy(*X + n * r->nfeat, r->X + i * r->nfeat, r->nfeat * sizeof(float));
		(*w)[n] = wsrc ? wsrc[i] : 1.0f;
		(*y)[n++] = lab;
	}
	return n;
}

/* Marks the last share of each series' training rows as calibration rows. */
static uint8_t *mark_calibration(const struct rows *r, double share)
{
	uint8_t *c = calloc(r->n ? r->n : 1, 1);
	size_t i = 0;

	if (!c)
		return NULL;
	while (i < r->n) {
		size_t j = i, cnt = 0, k = 0;

		while (j < r->n && r->sid[j] == r->sid[i])
			cnt += !r->test[j++];
		for (size_t q = i; q < j; q++)
			if (!r->test[q])
				c[q] = (double)k++ >= (1.0 - share) * (double)cnt;
		i = j;
	}
	return c;
}

int train_forecast_main(int argc, char **argv)
{
	struct ns_opt o[] = {
	    {"format", NS_OPT_STRING, "auto", "auto|agent|bitbrains|alibaba|nab", NULL, 0},
	    {"out", NS_OPT_STRING, "forecast-bundle",
	     "bundle directory to write (replaced atomically)", NULL, 0},
	    {"step", NS_OPT_STRING, "",
	     "grid step the data is resampled to (default 60s for agent exports, 300s otherwise)",
	     NULL, 0},
	    {"horizons", NS_OPT_STRING, "15m,1h,2h,4h", "forecast horizons (1 to 4)", NULL, 0},
	    {"train-frac", NS_OPT_STRING, "1.0",
	     "leading share of each series used for training (0.7 leaves the last 30% unseen for "
	     "eval)",
	     NULL, 0},
	    {"stride", NS_OPT_STRING, "30m", "time between training rows", NULL, 0},
	    {"max-rows", NS_OPT_STRING, "120000", "cap on training rows (rows are thinned evenly)",
	     NULL, 0},
	    {"trees", NS_OPT_STRING, "150", "boosting rounds per target", NULL, 0},
	    {"depth", NS_OPT_STRING, "6", "max tree depth", NULL, 0},
	    {"eta", NS_OPT_STRING, "0.08", "learning rate", NULL, 0},
	    {"objective", NS_OPT_STRING, "reg:squarederror",
	     "objective of the mean models: "
	     "reg:squarederror|reg:pseudohubererror|reg:absoluteerror",
	     NULL, 0},
	    {"peak-objective", NS_OPT_STRING, "reg:pseudohubererror",
	     "objective of the peak models (the same choices; pseudo-Huber with a 5 pp slope "
	     "resists the spikes that dominate peak residuals)",
	     NULL, 0},
	    {"peak-quantile", NS_OPT_STRING, "0.8",
	     "peak bias correction: shift peak forecasts by this quantile of residuals on a "
	     "held-back tail of the training split (0 = off)",
	     NULL, 0},
	    {"peak-quantile-short", NS_OPT_STRING, "0.75",
	     "the same for horizons up to 1 h, where the level drifts less and a smaller shift "
	     "keeps under-prediction below half (0 = off)",
	     NULL, 0},
	    {"relative", NS_OPT_BOOL, "1",
	     "learn the change from the current level (target - current value) rather than the "
	     "level",
	     NULL, 0},
	    {"scale-weights", NS_OPT_BOOL, "1",
	     "weight rows by 1 / their series' persistence error, so the loss follows per-series "
	     "scaled error (MASE)",
	     NULL, 0},
	    {"flat-guard", NS_OPT_BOOL, "1",
	     "learn, on the training tail, a threshold on the last hour's std below which "
	     "persistence is forecast",
	     NULL, 0},
	    {"nthread", NS_OPT_STRING, "1", "XGBoost threads", NULL, 0},
	    {"version", NS_OPT_STRING, "", "bundle version string (default fc-<UTC date-time>)",
	     NULL, 0},
	    {"log-level", NS_OPT_STRING, "info", "error|warning|success|info", NULL, 0},
	};
	const size_t no = sizeof(o) / sizeof(o[0]);
	struct ns_series_set set = {0};
	struct rows_spec spec = {.mask = NS_FEAT_MASK_FORECAST};
	struct rows r = {0};
	struct ns_fctrain_params p;
	struct ns_forecast *fc = NULL;
	struct fit_progress fp;
	enum ns_series_fmt fmt;
	cJSON *meta = NULL, *prov, *tj, *pj;
	uint8_t *calib = NULL, *bin = NULL;
	float *X = NULL, *y = NULL, *W = NULL, *wts = NULL;
	size_t cap = 0, binlen = 0;
	uint64_t u, ms, t_start = ns_mono_ns();
	double d, q, qshort;
	char err[512], version[64], created[32];
	int argi = 0, rc = 1, relative, scaled, flat;
	const struct ns_forecast *relp;

	int opt_rc = ns_main_opts(
	    o, no, "nodescore-train forecast",
	    "Train the load forecaster (CPU/memory, mean and peak per horizon) from CSV.\n"
	    "Usage: nodescore-train forecast [OPTIONS] DATA...   (files or directories)",
	    argc, argv, &argi, "train");
	if (opt_rc >= 0)
		return opt_rc;
	if (ns_log_set_level(ns_opt_get(o, no, "log-level"))) {
		log_error("train", "bad --log-level");
		return 2;
	}
	if (argi >= argc) {
		log_error("train", "no DATA given (see --help)");
		return 2;
	}
	ns_fctrain_defaults(&p);
	if (ns_series_parse_format(ns_opt_get(o, no, "format"), &fmt)) {
		log_error("train", "bad --format '%s' (auto|agent|bitbrains|alibaba|nab)",
			  ns_opt_get(o, no, "format"));
		return 2;
	}
	if (cli_parse_horizons(ns_opt_get(o, no, "horizons"), spec.horizons_s, &spec.nh, err,
			       sizeof(err))) {
		log_error("train", "%s", err);
		return 2;
	}
	set.step_ms = cli_default_step_ms(fmt);
	if (*ns_opt_get(o, no, "step")) {
		if (ns_parse_duration_ms(ns_opt_get(o, no, "step"), &ms) ||
		    ms < NS_FEAT_STEP_MIN_MS || ms > NS_FEAT_STEP_MAX_MS) {
			log_error("train", "bad --step (1s..1h)");
			return 2;
		}
		set.step_ms = (uint32_t)ms;
	}
	if (ns_parse_double(ns_opt_get(o, no, "train-frac"), 0.05, 1.0, &spec.train_frac) ||
	    ns_parse_duration_ms(ns_opt_get(o, no, "stride"), &ms) || ms < set.step_ms ||
	    ns_parse_u64(ns_opt_get(o, no, "max-rows"), 0, 50000000, &u)) {
		log_error("train", "bad --train-frac (0.05..1), --stride (>= step) or --max-rows");
		return 2;
	}
	spec.train_stride = (uint32_t)(ms / set.step_ms);
	spec.max_train_rows = (size_t)u;
	if (ns_parse_u64(ns_opt_get(o, no, "trees"), 1, NS_FC_MAX_TREES, &u)) {
		log_error("train", "bad --trees (1..%u)", NS_FC_MAX_TREES);
		return 2;
	}
	p.ntrees = (unsigned)u;
	if (ns_parse_u64(ns_opt_get(o, no, "depth"), 1, 12, &u)) {
		log_error("train", "bad --depth (1..12)");
		return 2;
	}
	p.max_depth = (unsigned)u;
	if (ns_parse_double(ns_opt_get(o, no, "eta"), 0.001, 1.0, &p.eta) ||
	    ns_parse_double(ns_opt_get(o, no, "peak-quantile"), 0.0, 0.99, &q) ||
	    ns_parse_double(ns_opt_get(o, no, "peak-quantile-short"), 0.0, 0.99, &qshort) ||
	    ns_parse_u64(ns_opt_get(o, no, "nthread"), 1, 64, &u)) {
		log_error("train",
			  "bad --eta (0.001..1), --peak-quantile(-short) (0..0.99) or --nthread");
		return 2;
	}
	p.nthread = (unsigned)u;
	p.objective = ns_opt_get(o, no, "objective");
	if (!objective_ok(p.objective) || !objective_ok(ns_opt_get(o, no, "peak-objective"))) {
		log_error("train", "bad --objective or --peak-objective "
				   "(reg:squarederror|reg:pseudohubererror|reg:absoluteerror)");
		return 2;
	}
	if (ns_parse_bool(ns_opt_get(o, no, "relative"), &relative) ||
	    ns_parse_bool(ns_opt_get(o, no, "scale-weights"), &scaled) ||
	    ns_parse_bool(ns_opt_get(o, no, "flat-guard"), &flat)) {
		log_error("train", "bad --relative, --scale-weights or --flat-guard");
		return 2;
	}
	{
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
		strftime(version, sizeof(version), "fc-%Y%m%d-%H%M%S", &tm);
		if (*ns_opt_get(o, no, "version"))
			snprintf(version, sizeof(version), "%s", ns_opt_get(o, no, "version"));
	}
	train_install_signals();
	meta = cJSON_CreateObject();
	cJSON_AddStringToObject(meta, "kind", "forecast");
	cJSON_AddNumberToObject(meta, "format_version", 1);
	cJSON_AddStringToObject(meta, "version", version);
	cJSON_AddStringToObject(meta, "created", created);
	cJSON_AddStringToObject(meta, "tool", "nodescore-train forecast");
	prov = cJSON_AddArrayToObject(meta, "data");
	if (cli_load_data(argc - argi, argv + argi, fmt, &set, prov))
		goto out;
	if (train_rows_build(&set, &spec, &r, err, sizeof(err))) {
		log_error("train", "building rows: %s", err);
		goto out;
	}
	{
		size_t ntr = 0;

		for (size_t i = 0; i < r.n; i++)
			ntr += !r.test[i];
		log_info("train", "rows ready train_rows=%zu features=%zu targets=%zu series=%zu",
			 ntr, r.nfeat, r.ntarget, set.n);
		if (ntr < 100) {
			log_error("train",
				  "too few training rows rows=%zu (need 100; longer series?)", ntr);
			goto out;
		}
	}
	calib = mark_calibration(&r, 0.2);
	{
		struct ns_feat_config cfg = {.step_ms = set.step_ms, .metric_mask = spec.mask};

		if (!calib || ns_forecast_new(&cfg, &fc)) {
			log_error("train", "out of memory");
			goto out;
		}
	}
	relp = relative ? fc : NULL;
	memset(&fp, 0, sizeof(fp));
	fp.total = 0;
	for (size_t t = 0; t < r.ntarget; t++)
		fp.total += p.ntrees * ((peak_q(&r.tgt[t], q, qshort) > 0 || flat) ? 2.0 : 1.0);
	progress_start(&fp.pg, "train", "boosting");
	p.progress = on_round;
	p.progress_arg = &fp;
	tj = cJSON_AddArrayToObject(meta, "targets");
	for (size_t t = 0; t < r.ntarget && !train_stop; t++) {
		char name[48], *json = NULL;
		size_t n, jlen = 0;
		float offset = 0, guard = 0;
		double mae = 0, wfloor, tq = peak_q(&r.tgt[t], q, qshort);
		struct ns_fctrain_params pt;
		cJSON *e;

		ns_forecast_target_name(&r.tgt[t], name, sizeof(name));
		free(wts);
		wfloor = target_params(&r.tgt[t], &p, ns_opt_get(o, no, "peak-objective"), &pt);
		wts = scaled ? scale_weights(&r, t, wfloor) : NULL;
		if (scaled && !wts) {
			log_error("train", "out of memory");
			goto out;
		}
		n = gather(&r, t, calib, -1, relp, wts, &X, &y, &W, &cap);
		if (n != (size_t)-1 && n < 50) {
			log_warning("train", "skipping target without data target=%s rows=%zu",
				    name, n);
			fp.done += p.ntrees * ((tq > 0 || flat) ? 2.0 : 1.0);
			continue;
		}
		if (tq > 0 || flat) {
			/* Fit on the head of the training split, look at its tail: an
			 * out-of-sample peak shift against under-prediction, and the
			 * flat-guard threshold with the best per-series scaled error. */
			struct ns_forecast *tmp = NULL;
			float *res;
			size_t nc = 0;

			n = gather(&r, t, calib, 0, relp, wts, &X, &y, &W, &cap);
			if (n == (size_t)-1 || n < 50 ||
			    ns_fctrain_fit(X, y, W, n, r.nfeat, &pt, &json, &jlen, err,
					   sizeof(err)) ||
			    ns_forecast_new(ns_forecast_feat_config(fc), &tmp) ||
			    ns_forecast_add_xgb_json(tmp, &r.tgt[t], json, jlen, 0, relative, err,
						     sizeof(err))) {
				log_error("train", "calibration fit failed target=%s: %s", name,
					  train_stop ? "interrupted" : err);
				ns_forecast_free(tmp);
				free(json);
				goto out;
			}
			free(json);
			json = NULL;
			fp.done += p.ntrees;
			if (tq > 0) {
				n = gather(&r, t, calib, 1, NULL, wts, &X, &y, &W, &cap);
				res = malloc((n ? n : 1) * sizeof(float));
				for (size_t i = 0; res && i < n; i++)
					res[nc++] =
					    y[i] - ns_forecast_predict_one(tmp, 0, X + i * r.nfeat);
				if (res && nc > 20) {
					qsort(res, nc, sizeof(float), cmp_float);
					offset = res[(size_t)(tq * (double)(nc - 1))];
				}
				free(res);
			}
			if (flat)
				guard = pick_flat_guard(&r, t, calib, tmp, offset);
			if (flat && guard > 0 && tq > 0) {
				/* Re-learn the peak shift with the guard in place:
				 * persistence under-predicts peaks on its own. */
				ns_forecast_set_flat_guard(tmp, 0, guard);
				n = gather(&r, t, calib, 1, NULL, wts, &X, &y, &W, &cap);
				res = malloc((n ? n : 1) * sizeof(float));
				nc = 0;
				for (size_t i = 0; res && i < n; i++)
					res[nc++] =
					    y[i] - ns_forecast_predict_one(tmp, 0, X + i * r.nfeat);
				if (res && nc > 20) {
					qsort(res, nc, sizeof(float), cmp_float);
					offset = res[(size_t)(tq * (double)(nc - 1))];
				}
				free(res);
			}
			ns_forecast_free(tmp);
		}
		n = gather(&r, t, calib, -1, relp, wts, &X, &y, &W, &cap);
		if (n == (size_t)-1 || n < 50) {
			log_error("train", "too few labelled rows target=%s rows=%zu", name, n);
			goto out;
		}
		if (ns_fctrain_fit(X, y, W, n, r.nfeat, &pt, &json, &jlen, err, sizeof(err)) ||
		    ns_forecast_add_xgb_json(fc, &r.tgt[t], json, jlen, offset, relative, err,
					     sizeof(err))) {
			log_error("train", "fit failed target=%s: %s", name,
				  train_stop ? "interrupted" : err);
			free(json);
			goto out;
		}
		free(json);
		fp.done += p.ntrees;
		ns_forecast_set_flat_guard(fc, ns_forecast_ntargets(fc) - 1, guard);
		for (size_t i = 0; i < n; i++)
			mae += fabs(
			    ns_forecast_predict_one(fc, ns_forecast_ntargets(fc) - 1,
						    X + i * r.nfeat) -
			    ns_forecast_anchor(fc, ns_forecast_ntargets(fc) - 1, X + i * r.nfeat) -
			    y[i]);
		mae /= (double)n;
		log_info("train",
			 "target done target=%s rows=%zu train_mae_pp=%.2f offset_pp=%.2f "
			 "flat_guard_pp=%.2f",
			 name, n, 100.0 * mae, 100.0 * offset, 100.0 * guard);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "name", name);
		cJSON_AddNumberToObject(e, "rows", (double)n);
		cJSON_AddNumberToObject(e, "train_mae_pp", round(1e4 * mae) / 100.0);
		cJSON_AddNumberToObject(e, "peak_offset_pp", round(1e4 * offset) / 100.0);
		cJSON_AddNumberToObject(e, "flat_guard_pp", round(1e4 * guard) / 100.0);
		cJSON_AddStringToObject(e, "objective", pt.objective);
		cJSON_AddNumberToObject(e, "min_child_weight", pt.min_child_weight);
		if (scaled)
			cJSON_AddNumberToObject(e, "weight_floor_pp", round(1e4 * wfloor) / 100.0);
		cJSON_AddItemToArray(tj, e);
	}
	if (!train_stop && ns_forecast_ntargets(fc) == 0) {
		log_error("train", "no target could be trained (no CPU or memory data?)");
		goto out;
	}
	if (train_stop) {
		log_warning("train", "interrupted, nothing written out=%s",
			    ns_opt_get(o, no, "out"));
		rc = 130;
		goto out;
	}
	pj = cJSON_AddObjectToObject(meta, "features");
	cJSON_AddNumberToObject(pj, "count", (double)r.nfeat);
	cJSON_AddNumberToObject(pj, "step_ms", set.step_ms);
	{
		cJSON *mets = cJSON_AddArrayToObject(pj, "metrics");

		for (int k = 0; k < NS_SERIES_NRES; k++)
			cJSON_AddItemToArray(
			    mets, cJSON_CreateString(ns_metric_names[ns_series_res_metric[k]]));
	}
	pj = cJSON_AddObjectToObject(meta, "training");
	cJSON_AddNumberToObject(pj, "train_frac", spec.train_frac);
	cJSON_AddNumberToObject(pj, "series", (double)set.n);
	cJSON_AddNumberToObject(pj, "trees", p.ntrees);
	cJSON_AddNumberToObject(pj, "max_depth", p.max_depth);
	cJSON_AddNumberToObject(pj, "eta", p.eta);
	cJSON_AddStringToObject(pj, "objective", p.objective);
	cJSON_AddStringToObject(pj, "peak_objective", ns_opt_get(o, no, "peak-objective"));
	cJSON_AddNumberToObject(pj, "peak_quantile", q);
	cJSON_AddNumberToObject(pj, "peak_quantile_short", qshort);
	cJSON_AddBoolToObject(pj, "relative", relative);
	cJSON_AddBoolToObject(pj, "scale_weights", scaled);
	cJSON_AddBoolToObject(pj, "flat_guard", flat);
	cJSON_AddNumberToObject(pj, "seconds", round((double)(ns_mono_ns() - t_start) / 1e9));
	cJSON_AddStringToObject(pj, "xgboost", "libxgboost C API, tree_method=hist");
	if (ns_forecast_save(fc, &bin, &binlen)) {
		log_error("train", "out of memory");
		goto out;
	}
	{
		struct ns_bundle_file f = {.name = "forecast.nsf", .data = bin, .len = binlen};

		if (ns_bundle_write(ns_opt_get(o, no, "out"), meta, &f, 1, err, sizeof(err))) {
			log_error("train", "writing bundle: %s", err);
			goto out;
		}
	}
	d = (double)(ns_mono_ns() - t_start) / 1e9;
	log_success("train",
		    "bundle written out=%s version=%s targets=%zu trees=%zu bytes=%zu seconds=%.0f",
		    ns_opt_get(o, no, "out"), version, ns_forecast_ntargets(fc),
		    ns_forecast_ntrees(fc), binlen, d);
	rc = 0;
out:
	if (rc && train_stop && rc != 130) {
		log_warning("train", "interrupted, nothing written out=%s",
			    ns_opt_get(o, no, "out"));
		rc = 130;
	}
	free(X);
	free(y);
	free(W);
	free(wts);
	free(calib);
	free(bin);
	ns_forecast_free(fc);
	cJSON_Delete(meta);
	train_rows_free(&r);
	ns_series_free(&set);
	return rc;
}
