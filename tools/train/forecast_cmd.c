// SPDX-License-Identifier: MIT
/* nodescore-train forecast: CSV -> feature rows -> one XGBoost model per
 * target (libxgboost in-process) -> bias-corrected peaks -> bundle. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodescore/clock.h"
#include "nodescore/bundle.h"
#include "nodescore/fctrain.h"
#include "nodescore/forecast.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "forecast_fit.h"
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

static int objective_ok(const char *s)
{
	return strcmp(s, "reg:squarederror") == 0 || strcmp(s, "reg:pseudohubererror") == 0 ||
	       strcmp(s, "reg:absoluteerror") == 0;
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
	calib = train_fc_mark_calibration(&r, 0.2);
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
		fp.total +=
		    p.ntrees * ((train_fc_peak_q(&r.tgt[t], q, qshort) > 0 || flat) ? 2.0 : 1.0);
	progress_start(&fp.pg, "train", "boosting");
	p.progress = on_round;
	p.progress_arg = &fp;
	tj = cJSON_AddArrayToObject(meta, "targets");
	for (size_t t = 0; t < r.ntarget && !train_stop; t++) {
		char name[48], *json = NULL;
		size_t n, jlen = 0;
		float offset = 0, guard = 0;
		double mae = 0, wfloor, tq = train_fc_peak_q(&r.tgt[t], q, qshort);
		struct ns_fctrain_params pt;
		cJSON *e;

		ns_forecast_target_name(&r.tgt[t], name, sizeof(name));
		free(wts);
		wfloor =
		    train_fc_target_params(&r.tgt[t], &p, ns_opt_get(o, no, "peak-objective"), &pt);
		wts = scaled ? train_fc_scale_weights(&r, t, wfloor) : NULL;
		if (scaled && !wts) {
			log_error("train", "out of memory");
			goto out;
		}
		n = train_fc_gather(&r, t, calib, -1, relp, wts, &X, &y, &W, &cap);
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

			n = train_fc_gather(&r, t, calib, 0, relp, wts, &X, &y, &W, &cap);
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
				n = train_fc_gather(&r, t, calib, 1, NULL, wts, &X, &y, &W, &cap);
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
				guard = train_fc_pick_flat_guard(&r, t, calib, tmp, offset);
			if (flat && guard > 0 && tq > 0) {
				/* Re-learn the peak shift with the guard in place:
				 * persistence under-predicts peaks on its own. */
				ns_forecast_set_flat_guard(tmp, 0, guard);
				n = train_fc_gather(&r, t, calib, 1, NULL, wts, &X, &y, &W, &cap);
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
		n = train_fc_gather(&r, t, calib, -1, relp, wts, &X, &y, &W, &cap);
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
