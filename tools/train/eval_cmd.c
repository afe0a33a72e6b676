// SPDX-License-Identifier: MIT
/* nodescore-train eval: a forecast bundle against persistence, seasonal
 * naive and EWMA on the held-out tail of each series; optional feature CSV
 * export (same rows, same features) for the Python baselines. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/bundle.h"
#include "nodescore/forecast.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "traincli.h"

enum { M_PERSIST = 0, M_SNAIVE, M_EWMA, M_OURS, M_N };
static const char *const method_names[M_N] = {"persistence", "seasonal_naive", "ewma", "ours"};

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct score {
	double mae, bias, within, under, mase;
	size_t n, nseries;
};

static float pred_of(const struct rows *r, const float *ours, size_t i, size_t t, int m)
{
	if (m == M_OURS)
		return ours[i * r->ntarget + t];
	return r->B[(i * r->ntarget + t) * BASE_N + (size_t)m];
}

/* Scores method m on target t over test rows (active series only if
 * only_active). MASE: per series MAE / persistence MAE, averaged over series
 * whose persistence MAE is not zero. */
static void score_one(const struct rows *r, const float *ours, size_t t, int m, int only_active,
		      struct score *s)
{
	double sum_m = 0, sum_p = 0, mase_sum = 0;
	size_t cnt = 0;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i <= r->n; i++) {
		if (i == r->n || (i > 0 && r->sid[i] != r->sid[i - 1])) {
			if (cnt > 0 && sum_p > 1e-12) {
				mase_sum += sum_m / sum_p;
				s->nseries++;
			}
			sum_m = sum_p = 0;
			cnt = 0;
			if (i == r->n)
				break;
		}
		float y = r->Y[i * r->ntarget + t], p = pred_of(r, ours, i, t, m);
		float pp = pred_of(r, ours, i, t, M_PERSIST);

		if (!r->test[i] || (only_active && !r->active[r->sid[i]]) || isnan(y) || isnan(p) ||
		    isnan(pp))
			continue;
		s->mae += fabs(p - y);
		s->bias += p - y;
		s->within += fabs(p - y) <= 0.10;
		s->under += p < y;
		s->n++;
		sum_m += fabs(p - y);
		sum_p += fabs(pp - y);
		cnt++;
	}
	if (s->n) {
		s->mae /= (double)s->n;
		s->bias /= (double)s->n;
		s->within /= (double)s->n;
		s->under /= (double)s->n;
	}
	s->mase = s->nseries ? mase_sum / (double)s->nseries : NAN;
}

static int export_csv(const char *path, const struct rows *r, const float *ours)
{
	char tmp[4200], name[48];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "series,active,test,ts_ms");
	for (size_t k = 0; k < r->nfeat; k++)
		fprintf(f, ",%s", r->feat_names[k]);
	for (int m = -1; m < M_N; m++)
		for (size_t t = 0; t < r->ntarget; t++) {
			ns_forecast_target_name(&r->tgt[t], name, sizeof(name));
			fprintf(f, ",%s_%s", m < 0 ? "y" : method_names[m], name);
		}
	fputc('\n', f);
	for (size_t i = 0; i < r->n && !train_stop; i++) {
		fprintf(f, "%u,%u,%u,%llu", r->sid[i], r->active[r->sid[i]], r->test[i],
			(unsigned long long)r->ts[i]);
		for (size_t k = 0; k < r->nfeat; k++)
			fprintf(f, ",%.6g", r->X[i * r->nfeat + k]);
		for (int m = -1; m < M_N; m++)
			for (size_t t = 0; t < r->ntarget; t++)
				fprintf(f, ",%.6g",
					m < 0 ? r->Y[i * r->ntarget + t]
					      : pred_of(r, ours, i, t, m));
		fputc('\n', f);
	}
	if (train_stop || ferror(f) || fflush(f) || fsync(fileno(f))) {
		fclose(f);
		unlink(tmp);
		return train_stop ? -ECANCELED : -EIO;
	}
	fclose(f);
	return rename(tmp, path) ? -errno : 0;
}

int train_eval_main(int argc, char **argv)
{
	struct ns_opt o[] = {
	    {"format", NS_OPT_STRING, "auto", "auto|agent|bitbrains|alibaba|nab", NULL, 0},
	    {"step", NS_OPT_STRING, "", "grid step (default: the bundle's training step)", NULL, 0},
	    {"train-frac", NS_OPT_STRING, "0.7",
	     "leading share of each series that was used for training; the rest is evaluated (0 = "
	     "evaluate everything)",
	     NULL, 0},
	    {"test-stride", NS_OPT_STRING, "30m", "time between evaluated rows", NULL, 0},
	    {"stride", NS_OPT_STRING, "30m",
	     "time between training rows (for --export; match the training run)", NULL, 0},
	    {"max-rows", NS_OPT_STRING, "120000",
	     "cap on training rows (for --export; match the training run)", NULL, 0},
	    {"export", NS_OPT_STRING, "",
	     "write every row (features, targets, baselines, ours) to this CSV", NULL, 0},
	    {"log-level", NS_OPT_STRING, "info", "error|warning|success|info", NULL, 0},
	};
	const size_t no = sizeof(o) / sizeof(o[0]);
	struct ns_series_set set = {0};
	struct rows_spec spec = {0};
	struct rows r = {0};
	struct ns_forecast *fc = NULL;
	enum ns_series_fmt fmt;
	float *ours = NULL;
	uint64_t ms, u;
	char err[512];
	int argi = 0, rc = 1;
	size_t ntest = 0;

	int opt_rc = ns_main_opts(o, no, "nodescore-train eval",
				  "Evaluate a forecast bundle against simple baselines on data.\n"
				  "Usage: nodescore-train eval [OPTIONS] BUNDLE DATA...",
				  argc, argv, &argi, "eval");

	if (opt_rc >= 0)
		return opt_rc;
	if (ns_log_set_level(ns_opt_get(o, no, "log-level"))) {
		log_error("eval", "bad --log-level");
		return 2;
	}
	if (argc - argi < 2) {
		log_error("eval", "need BUNDLE and DATA (see --help)");
		return 2;
	}
	if (ns_series_parse_format(ns_opt_get(o, no, "format"), &fmt)) {
		log_error("eval", "bad --format");
		return 2;
	}
	if (ns_forecast_load_bundle(argv[argi], &fc, err, sizeof(err))) {
		log_error("eval", "cannot load bundle %s: %s", argv[argi], err);
		return 1;
	}
	set.step_ms = ns_forecast_feat_config(fc)->step_ms;
	if (*ns_opt_get(o, no, "step")) {
		if (ns_parse_duration_ms(ns_opt_get(o, no, "step"), &ms) ||
		    ms < NS_FEAT_STEP_MIN_MS || ms > NS_FEAT_STEP_MAX_MS) {
			log_error("eval", "bad --step");
			goto out;
		}
		set.step_ms = (uint32_t)ms;
	}
	spec.mask = ns_forecast_feat_config(fc)->metric_mask;
	if (ns_parse_double(ns_opt_get(o, no, "train-frac"), 0.0, 0.95, &spec.train_frac) ||
	    ns_parse_duration_ms(ns_opt_get(o, no, "test-stride"), &ms) || ms < set.step_ms) {
		log_error("eval", "bad --train-frac (0..0.95) or --test-stride (>= step)");
		goto out;
	}
	spec.test_stride = (uint32_t)(ms / set.step_ms);
	if (ns_parse_duration_ms(ns_opt_get(o, no, "stride"), &ms) || ms < set.step_ms ||
	    ns_parse_u64(ns_opt_get(o, no, "max-rows"), 0, 50000000, &u)) {
		log_error("eval", "bad --stride or --max-rows");
		goto out;
	}
	spec.train_stride = (uint32_t)(ms / set.step_ms);
	spec.max_train_rows = (size_t)u;
	/* Horizons: every distinct horizon of the bundle, at most 4. */
	for (size_t i = 0; i < ns_forecast_ntargets(fc); i++) {
		uint32_t h = ns_forecast_target(fc, i)->horizon_s;
		size_t k = 0;

		while (k < spec.nh && spec.horizons_s[k] != h)
			k++;
		if (k == spec.nh && spec.nh < 4)
			spec.horizons_s[spec.nh++] = h;
	}
	train_install_signals();
	if (cli_load_data(argc - argi - 1, argv + argi + 1, fmt, &set, NULL))
		goto out;
	if (train_rows_build(&set, &spec, &r, err, sizeof(err))) {
		log_error("eval", "building rows: %s", err);
		goto out;
	}
	if (r.nfeat != ns_forecast_nfeat(fc)) {
		log_error("eval", "bundle expects %zu features, pipeline gives %zu",
			  ns_forecast_nfeat(fc), r.nfeat);
		goto out;
	}
	ours = malloc((r.n ? r.n : 1) * r.ntarget * sizeof(float));
	if (!ours)
		goto out;
	{
		int idx[TRAIN_MAX_TARGETS];
		float tmp[NS_FC_MAX_MODELS];
		uint64_t t0, t1;
		size_t reps = 0;

		for (size_t t = 0; t < r.ntarget; t++) {
			idx[t] = ns_forecast_find(fc, r.tgt[t].metric, r.tgt[t].stat,
						  r.tgt[t].horizon_s);
			if (idx[t] < 0) {
				char name[48];

				ns_forecast_target_name(&r.tgt[t], name, sizeof(name));
				log_warning("eval", "bundle has no model, not scored target=%s",
					    name);
			}
		}
		t0 = ns_mono_ns();
		for (size_t i = 0; i < r.n; i++) {
			ns_forecast_predict(fc, r.X + i * r.nfeat, r.nfeat, tmp, NS_FC_MAX_MODELS);
			for (size_t t = 0; t < r.ntarget; t++)
				ours[i * r.ntarget + t] = idx[t] >= 0 ? tmp[idx[t]] : NAN;
			ntest += r.test[i];
		}
		/* Time whole-bundle predictions on real rows, repeated to >= 0.3 s
		 * of thread CPU time (the machine is shared: wall time would
		 * count other processes' time slices). */
		t0 = thread_cpu_ns();
		do {
			for (size_t i = 0; i < r.n && i < 2000; i++, reps++)
				ns_forecast_predict(fc, r.X + i * r.nfeat, r.nfeat, tmp,
						    NS_FC_MAX_MODELS);
			t1 = thread_cpu_ns();
		} while (t1 - t0 < 300000000ull && r.n);
		log_info("eval", "predict timing targets=%zu trees=%zu cpu_us_per_sample=%.2f",
			 ns_forecast_ntargets(fc), ns_forecast_ntrees(fc),
			 reps ? (double)(t1 - t0) / 1e3 / (double)reps : 0.0);
		printf("predict_cpu_us_per_sample %.3f (all %zu targets, %zu trees, one core)\n",
		       reps ? (double)(t1 - t0) / 1e3 / (double)reps : 0.0,
		       ns_forecast_ntargets(fc), ns_forecast_ntrees(fc));
	}
	if (ntest == 0) {
		log_error("eval", "no test rows (series too short for the horizons?)");
		goto out;
	}
	for (int act = 0; act < 2; act++) {
		size_t na = 0;

		for (size_t i = 0; i < r.nseries; i++)
			na += r.active[i];
		printf("\n%s series (%zu of %zu active: CPU std over the training part >= 2 pp)\n",
		       act ? "Active" : "All", na, r.nseries);
		printf("| target | MASE persistence | MASE seasonal naive | MASE EWMA | MASE ours "
		       "| MAE ours (pp) | within 10 pp ours | bias ours (pp) | under-predicted "
		       "ours |\n");
		printf("|---|---|---|---|---|---|---|---|---|\n");
		for (size_t t = 0; t < r.ntarget; t++) {
			struct score s[M_N];
			char name[48];

			ns_forecast_target_name(&r.tgt[t], name, sizeof(name));
			for (int m = 0; m < M_N; m++)
				score_one(&r, ours, t, m, act, &s[m]);
			printf(
			    "| %s | %.3f | %.3f | %.3f | %.3f | %.2f | %.1f%% | %+.2f | %.1f%% |\n",
			    name, s[M_PERSIST].mase, s[M_SNAIVE].mase, s[M_EWMA].mase,
			    s[M_OURS].mase, 100 * s[M_OURS].mae, 100 * s[M_OURS].within,
			    100 * s[M_OURS].bias, 100 * s[M_OURS].under);
		}
	}
	fflush(stdout);
	if (*ns_opt_get(o, no, "export")) {
		int e = export_csv(ns_opt_get(o, no, "export"), &r, ours);

		if (e) {
			log_error("eval", "cannot write %s: %s", ns_opt_get(o, no, "export"),
				  strerror(-e));
			goto out;
		}
		log_info("eval", "feature rows exported path=%s rows=%zu",
			 ns_opt_get(o, no, "export"), r.n);
	}
	rc = 0;
out:
	free(ours);
	ns_forecast_free(fc);
	train_rows_free(&r);
	ns_series_free(&set);
	return rc;
}
