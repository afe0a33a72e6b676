// SPDX-License-Identifier: MIT
/* nodescore-train iforest: agent-history CSVs -> detector features -> isolation forest model file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/clock.h"
#include "nodescore/anomaly.h"
#include "nodescore/iforest.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "nodescore/sample.h"
#include "train.h"

#define IF_MAX_ROWS_PER_FILE 10000000u
#define IF_LINE_MAX 8192

/* One agent export: header "timestamp_ms,<metric>,..." then one row per
 * sample. Keeps only the chosen columns, in --features order; an empty or
 * "nan" cell is NaN (the detector carries the last value). Returns 0 or
 * -EINVAL/-ENOMEM with "path:line: reason" in err. */
static int read_agent_csv(const char *path, const char *const *want, uint32_t nw, float **out,
			  size_t *rows, char *err, size_t errlen)
{
	char line[IF_LINE_MAX];
	int col_of[NS_ANOMALY_MAX_METRICS];
	size_t cap = 0, n = 0, lineno = 0;
	float *v = NULL;
	FILE *fp = fopen(path, "re");
	int rc = 0, ncols = 0;

	*out = NULL;
	*rows = 0;
	if (!fp) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %.300s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), fp)) {
		size_t l = strlen(line);
		char *save = NULL, *tok;
		float cell[NS_ANOMALY_MAX_METRICS];
		int c = 0;

		lineno++;
		if (l == sizeof(line) - 1 && line[l - 1] != '\n') {
			snprintf(err, errlen, "%.300s:%zu: line too long", path, lineno);
			rc = -EINVAL;
			break;
		}
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (lineno == 1) {
			for (uint32_t k = 0; k < nw; k++)
				col_of[k] = -1;
			for (tok = strtok_r(line, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save), c++) {
				if (c == 0 && strcmp(tok, "timestamp_ms") != 0)
					break;
				for (uint32_t k = 0; k < nw; k++)
					if (strcmp(tok, want[k]) == 0)
						col_of[k] = c;
			}
			if (c == 0) {
				snprintf(err, errlen, "%.300s: header must start with timestamp_ms",
					 path);
				rc = -EINVAL;
				break;
			}
			ncols = c;
			for (uint32_t k = 0; k < nw; k++)
				if (col_of[k] < 0) {
					snprintf(err, errlen, "%.300s: no column %s in the header",
						 path, want[k]);
					rc = -EINVAL;
					break;
				}
			if (rc)
				break;
			continue;
		}
		if (!l)
			continue;
		for (uint32_t k = 0; k < nw; k++)
			cell[k] = NAN;
		/* strtok_r would merge empty cells: walk the commas by hand. */
		for (char *p = line; c < ncols; c++) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			for (uint32_t k = 0; k < nw; k++) {
				char *end;
				double d;
				if (col_of[k] != c || !*p || strcmp(p, "nan") == 0)
					continue;
				errno = 0;
				d = strtod(p, &end);
				if (errno || *end || !isfinite(d)) {
					snprintf(err, errlen, "%.300s:%zu: bad value in column %s",
						 path, lineno, want[k]);
					rc = -EINVAL;
					break;
				}
				cell[k] = (float)d;
			}
			if (rc)
				break;
			if (!comma) {
				c++;
				break;
			}
			p = comma + 1;
		}
		if (rc)
			break;
		if (c != ncols) {
			snprintf(err, errlen, "%.300s:%zu: %d cells, header has %d", path, lineno,
				 c, ncols);
			rc = -EINVAL;
			break;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16384;
			float *nv;
			if (nc > IF_MAX_ROWS_PER_FILE) {
				snprintf(err, errlen, "%.300s: more than %u rows", path,
					 IF_MAX_ROWS_PER_FILE);
				rc = -EINVAL;
				break;
			}
			nv = realloc(v, nc * nw * sizeof(float));
			if (!nv) {
				snprintf(err, errlen, "out of memory");
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = nc;
		}
		memcpy(v + n * nw, cell, nw * sizeof(float));
		n++;
	}
	if (!rc && lineno == 0) {
		snprintf(err, errlen, "%.300s: empty file", path);
		rc = -EINVAL;
	}
	fclose(fp);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*rows = n;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct ns_opt opts[] = {
    {"output", NS_OPT_STRING, "models/iforest-default.nsif", "model file to write (atomically)",
     NULL, 0},
    {"features", NS_OPT_STRING, "cpu_util,mem_util", "comma list of metric columns to model", NULL,
     0},
    {"trees", NS_OPT_STRING, "100", "trees in the forest", NULL, 0},
    {"psi", NS_OPT_STRING, "256", "sub-sample size per tree", NULL, 0},
    {"seed", NS_OPT_STRING, "42", "random seed (same data + seed = same file)", NULL, 0},
    {"max-rows", NS_OPT_STRING, "200000", "feature rows kept for training (evenly thinned)", NULL,
     0},
    {"win-short", NS_OPT_STRING, "12", "short window, samples (must match the agent)", NULL, 0},
    {"win-mid", NS_OPT_STRING, "120", "mid window, samples (must match the agent)", NULL, 0},
    {"win-long", NS_OPT_STRING, "17280", "long window, samples (must match the agent)", NULL, 0},
    {"season", NS_OPT_STRING, "17280", "season, samples, 0 = none (must match the agent)", NULL, 0},
};
#define NOPT (sizeof(opts) / sizeof(opts[0]))

static int u32_opt(const char *name, uint32_t min, uint32_t max, uint32_t *out)
{
	char err[256];
	int rc = ns_opt_u32(opts, NOPT, name, min, max, out, err, sizeof(err));

	if (rc < 0)
		log_error("train", "%s", err);
	return rc;
}

int train_iforest_main(int argc, char **argv)
{
	struct ns_anomaly_config cfg;
	struct ns_iforest_params p;
	struct ns_iforest *f = NULL;
	struct ns_anomaly *names_src = NULL;
	char featbuf[512], err[512], *save = NULL, *tok;
	const char *want[NS_ANOMALY_MAX_METRICS], *fnames[NS_IFOREST_MAX_FEATURES];
	float *X = NULL;
	double *sc = NULL;
	size_t nX = 0, capX = 0, nf, total_rows = 0;
	uint32_t nw = 0, max_rows, seed32;
	uint64_t seed, t0, t_train;
	int argi = 0, rc = 1;

	int opt_rc =
	    ns_main_opts(opts, NOPT, "nodescore-train iforest",
			 "Train the anomaly isolation forest from agent history CSVs "
			 "(timestamp_ms,<metric>,...; one node per file) on the detector's own "
			 "features.\nUsage: nodescore-train iforest [OPTIONS] FILE.csv...",
			 argc, argv, &argi, "train");

	if (opt_rc >= 0)
		return opt_rc;
	if (argi >= argc) {
		log_error("train", "no input CSV given (see --help)");
		return 2;
	}
	ns_anomaly_config_default(&cfg, 1);
	snprintf(featbuf, sizeof(featbuf), "%s", ns_opt_get(opts, NOPT, "features"));
	for (tok = strtok_r(featbuf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (nw == NS_ANOMALY_MAX_METRICS) {
			log_error("train", "too many --features max=%d", NS_ANOMALY_MAX_METRICS);
			return 2;
		}
		if (ns_metric_index(tok) < 0)
			log_warning("train",
				    "feature is not an agent metric name=%s (the agent "
				    "will not match it)",
				    tok);
		want[nw++] = tok;
	}
	if (!nw) {
		log_error("train", "--features is empty");
		return 2;
	}
	if (u32_opt("trees", 1, NS_IFOREST_MAX_TREES, &p.n_trees) ||
	    u32_opt("psi", 2, NS_IFOREST_MAX_PSI, &p.psi) ||
	    u32_opt("max-rows", 16, 50000000, &max_rows) ||
	    u32_opt("win-short", 2, 1000000, &cfg.win_short) ||
	    u32_opt("win-mid", 2, 1000000, &cfg.win_mid) ||
	    u32_opt("win-long", 2, 1000000, &cfg.win_long) ||
	    u32_opt("season", 0, 1000000, &cfg.season))
		return 2;
	if (ns_parse_u64(ns_opt_get(opts, NOPT, "seed"), 0, UINT32_MAX, &seed) < 0) {
		log_error("train", "bad --seed value=%s", ns_opt_get(opts, NOPT, "seed"));
		return 2;
	}
	seed32 = (uint32_t)seed;
	p.seed = seed32;
	cfg.n_metrics = nw;
	for (uint32_t k = 0; k < nw; k++)
		cfg.metric_names[k] = want[k];
	if (ns_anomaly_new(&cfg, &names_src, err, sizeof(err))) {
		log_error("train", "bad detector configuration reason=\"%s\"", err);
		return 2;
	}
	nf = ns_anomaly_n_features(names_src);
	for (size_t i = 0; i < nf; i++)
		fnames[i] = ns_anomaly_feature_name(names_src, i);
	train_install_signals();

	for (int a = argi; a < argc && !train_stop; a++) {
		float *v = NULL, *feat;
		size_t n = 0;

		if (read_agent_csv(argv[a], want, nw, &v, &n, err, sizeof(err))) {
			log_error("train", "cannot read input reason=\"%s\"", err);
			goto out;
		}
		if (n <= cfg.win_mid) {
			log_warning("train", "too short, skipped path=%s rows=%zu need>%u", argv[a],
				    n, cfg.win_mid);
			free(v);
			continue;
		}
		feat = malloc(n * nf * sizeof(float));
		if (!feat || ns_anomaly_features_series(&cfg, v, n, feat)) {
			log_error("train", "out of memory building features path=%s", argv[a]);
			free(v);
			free(feat);
			goto out;
		}
		/* Warm-up rows (before the mid window fills) are left out, as on the node. */
		if (nX + n - cfg.win_mid > capX) {
			size_t nc = (nX + n) * 2;
			float *nx = realloc(X, nc * nf * sizeof(float));
			if (!nx) {
				log_error("train", "out of memory rows=%zu", nX + n);
				free(v);
				free(feat);
				goto out;
			}
			X = nx;
			capX = nc;
		}
		memcpy(X + nX * nf, feat + (size_t)cfg.win_mid * nf,
		       (n - cfg.win_mid) * nf * sizeof(float));
		nX += n - cfg.win_mid;
		total_rows += n;
		log_info("train", "read path=%s rows=%zu feature_rows=%zu", argv[a], n, nX);
		free(v);
		free(feat);
	}
	if (train_stop) {
		log_warning("train", "interrupted: no model written");
		goto out;
	}
	if (nX < 16) {
		log_error("train", "too few feature rows rows=%zu need>=16", nX);
		goto out;
	}
	if (nX > max_rows) {
		/* Even thinning keeps every part of every series represented. */
		for (size_t i = 0; i < max_rows; i++)
			memmove(X + i * nf, X + (i * nX / max_rows) * nf, nf * sizeof(float));
		nX = max_rows;
	}
	t0 = ns_mono_ns();
	if (ns_iforest_train(X, nX, nf, fnames, &p, &f)) {
		log_error("train", "training failed rows=%zu", nX);
		goto out;
	}
	t_train = ns_mono_ns() - t0;
	sc = malloc(nX * sizeof(double));
	if (!sc) {
		log_error("train", "out of memory");
		goto out;
	}
	t0 = ns_mono_ns();
	ns_iforest_score_batch(f, X, nX, nf, sc);
	{
		double us = (double)(ns_mono_ns() - t0) / 1e3 / (double)nX;
		qsort(sc, nX, sizeof(double), cmp_double);
		log_info("train",
			 "trained inputs=%d samples=%zu rows=%zu features=%zu trees=%u psi=%u "
			 "train_ms=%.1f score_us=%.2f score_p50=%.3f score_p99=%.3f score_max=%.3f",
			 argc - argi, total_rows, nX, nf, p.n_trees, ns_iforest_psi(f),
			 (double)t_train / 1e6, us, sc[nX / 2],
			 sc[(size_t)(0.99 * (double)(nX - 1))], sc[nX - 1]);
	}
	if (train_stop) {
		log_warning("train", "interrupted: no model written");
		goto out;
	}
	if (ns_iforest_save(f, ns_opt_get(opts, NOPT, "output"), err, sizeof(err))) {
		log_error("train", "cannot write model reason=\"%s\"", err);
		goto out;
	}
	log_success("train", "model written path=%s", ns_opt_get(opts, NOPT, "output"));
	rc = 0;
out:
	free(X);
	free(sc);
	ns_iforest_free(f);
	ns_anomaly_free(names_src);
	return rc;
}
