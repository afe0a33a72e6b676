// SPDX-License-Identifier: MIT
/* nodescore-nab: runs the streaming anomaly detector over NAB series and writes NAB result files.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/anomaly.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"

#define MAX_ROWS 2000000u
#define PATH_CAP 4096
#define LINE_MAX_ 256

/* snprintf into a path buffer; a path that does not fit is an error, not a truncation. */
static int pathf(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) {
		log_error("nab", "path too long fmt=%s", fmt);
		return -ENAMETOOLONG;
	}
	return 0;
}

struct series {
	char (*ts)[32];
	float *v;
	size_t n;
};

static void series_free(struct series *s)
{
	free(s->ts);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* NAB data file: header "timestamp,value", then "YYYY-MM-DD HH:MM:SS,<float>".
 * Returns 0 or -EINVAL/-ENOMEM/-errno with a reason in err. */
static int read_series(const char *path, struct series *s, char *err, size_t errlen)
{
	char line[LINE_MAX_];
	size_t cap = 0, lineno = 0;
	FILE *fp = fopen(path, "re");
	int rc = 0;

	memset(s, 0, sizeof(*s));
	if (!fp) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %.200s: %s", path, strerror(errno));
		return rc;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *comma, *end;
		size_t l = strlen(line);
		double v;

		lineno++;
		if (l == sizeof(line) - 1 && line[l - 1] != '\n') {
			snprintf(err, errlen, "%.200s:%zu: line too long", path, lineno);
			rc = -EINVAL;
			break;
		}
		while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (lineno == 1) {
			if (strcmp(line, "timestamp,value") != 0) {
				snprintf(err, errlen, "%.200s: header is not timestamp,value",
					 path);
				rc = -EINVAL;
				break;
			}
			continue;
		}
		comma = strchr(line, ',');
		if (!comma || (size_t)(comma - line) >= sizeof(s->ts[0]) || comma == line) {
			snprintf(err, errlen, "%.200s:%zu: expected timestamp,value", path, lineno);
			rc = -EINVAL;
			break;
		}
		errno = 0;
		v = strtod(comma + 1, &end);
		if (errno || end == comma + 1 || *end || !isfinite(v)) {
			snprintf(err, errlen, "%.200s:%zu: bad value", path, lineno);
			rc = -EINVAL;
			break;
		}
		if (s->n == cap) {
			size_t nc = cap ? cap * 2 : 4096;
			void *a, *b;
			if (nc > MAX_ROWS) {
				snprintf(err, errlen, "%.200s: more than %u rows", path, MAX_ROWS);
				rc = -EINVAL;
				break;
			}
			a = realloc(s->ts, nc * sizeof(s->ts[0]));
			if (a)
				s->ts = a;
			b = realloc(s->v, nc * sizeof(s->v[0]));
			if (b)
				s->v = b;
			if (!a || !b) {
				rc = -ENOMEM;
				snprintf(err, errlen, "out of memory");
				break;
			}
			cap = nc;
		}
		*comma = '\0';
		/* comma - line < sizeof(ts[0]) was checked above: the copy (with its
		 * NUL) fits, and no snprintf truncation warning at -O0/-Og. */
		memcpy(s->ts[s->n], line, (size_t)(comma - line) + 1);
		s->v[s->n++] = (float)v;
	}
	if (!rc && ferror(fp)) {
		rc = -EIO;
		snprintf(err, errlen, "%.200s: read error", path);
	}
	fclose(fp);
	if (rc)
		series_free(s);
	return rc;
}

struct run_stats {
	size_t files, rows, onsets;
	uint64_t ns;
};

/* NAB's own probationary period (nab/util.py getProbationPeriod): floor(frac *
 * rows), at most frac * 5000; the scorer leaves those rows unscored. One rule
 * for every file: only the file's length is used, never its values or labels. */
static double prob_frac;

static int run_file(const struct ns_anomaly_config *cfg0, const char *in, const char *out_path,
		    struct run_stats *st)
{
	struct ns_anomaly_config cfgv = *cfg0, *cfg = &cfgv;
	struct ns_anomaly *a = NULL;
	struct series s;
	char err[512], tmp[PATH_CAP];
	FILE *fp = NULL;
	uint64_t t0;
	int rc;

	rc = read_series(in, &s, err, sizeof(err));
	if (rc) {
		log_error("nab", "cannot read series reason=\"%s\"", err);
		return rc;
	}
	if (prob_frac > 0) {
		double p = floor(prob_frac * (double)s.n), cap = prob_frac * 5000.0;

		if (p > cap)
			p = cap;
		cfg->probation = p < 16 ? 16 : (uint32_t)p;
	}
	rc = ns_anomaly_new(cfg, &a, err, sizeof(err));
	if (rc) {
		log_error("nab", "cannot create the detector path=%s reason=\"%s\"", in, err);
		series_free(&s);
		return rc;
	}
	if (pathf(tmp, sizeof(tmp), "%s.tmp", out_path)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	fp = fopen(tmp, "we");
	if (!fp) {
		rc = -errno;
		log_error_errno("nab", "cannot create result path=%s", tmp);
		goto out;
	}
	fprintf(fp, "timestamp,value,anomaly_score,raw_score,likelihood,severity,flag");
	for (size_t f = 0; f < ns_anomaly_n_features(a); f++)
		fprintf(fp, ",%s", ns_anomaly_feature_name(a, f));
	fputc('\n', fp);
	t0 = ns_mono_ns();
	for (size_t i = 0; i < s.n; i++) {
		struct ns_anomaly_result r;

		rc = ns_anomaly_update(a, &s.v[i], &r);
		if (rc) {
			log_error("nab", "detector failed path=%s row=%zu rc=%d", in, i, rc);
			goto out;
		}
		st->onsets += (size_t)r.onset;
		fprintf(fp, "%s,%.9g,%.8f,%.6f,%.8f,%.4f,%d", s.ts[i], (double)s.v[i], r.output,
			r.score, r.likelihood, r.severity, r.flag);
		{
			const float *row = ns_anomaly_last_row(a);
			for (size_t f = 0; row && f < ns_anomaly_n_features(a); f++)
				fprintf(fp, ",%.4g", (double)row[f]);
		}
		fputc('\n', fp);
	}
	st->ns += ns_mono_ns() - t0;
	st->rows += s.n;
	st->files++;
	if (fflush(fp) || ferror(fp)) {
		rc = -EIO;
		log_error("nab", "write failed path=%s", tmp);
		goto out;
	}
	fclose(fp);
	fp = NULL;
	if (rename(tmp, out_path) < 0) {
		rc = -errno;
		log_error_errno("nab", "cannot rename path=%s", tmp);
	}
out:
	if (fp) {
		fclose(fp);
		unlink(tmp);
	}
	ns_anomaly_free(a);
	series_free(&s);
	return rc;
}

static int wanted(const char *filter, const char *rel)
{
	char buf[512];
	char *tok, *save = NULL;

	if (!filter || !*filter)
		return 1;
	snprintf(buf, sizeof(buf), "%s", filter);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strstr(rel, tok))
			return 1;
	return 0;
}

static int is_dir(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int mkdir_p(const char *path)
{
	char buf[PATH_CAP];

	if (pathf(buf, sizeof(buf), "%s", path))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int csv_filter(const struct dirent *d)
{
	size_t l = strlen(d->d_name);

	return l > 4 && strcmp(d->d_name + l - 4, ".csv") == 0;
}

static int dir_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static struct ns_opt opts[] = {
    {"data", NS_OPT_STRING, "../shared/data/nab/data", "NAB data folder (<corpus>/<name>.csv)",
     NULL, 0},
    {"results", NS_OPT_STRING, "build/nab-results", "output folder (NAB results layout)", NULL, 0},
    {"detector", NS_OPT_STRING, "nodescore",
     "detector name: <results>/<detector>/<corpus>/<detector>_<name>.csv", NULL, 0},
    {"files", NS_OPT_STRING, "",
     "comma list of substrings of <corpus>/<name>.csv to run (default all)", NULL, 0},
    {"win-short", NS_OPT_STRING, "12", "short rolling window, samples", NULL, 0},
    {"win-mid", NS_OPT_STRING, "72", "mid rolling window, samples", NULL, 0},
    {"win-long", NS_OPT_STRING, "20000", "long rolling window, samples", NULL, 0},
    {"probation", NS_OPT_STRING, "150", "samples before the first fit", NULL, 0},
    {"probation-frac", NS_OPT_STRING, "0",
     "if > 0, probation = floor(frac * rows), at most frac * 5000 (NAB's rule; 0.15 = NAB's own), "
     "replaces --probation",
     NULL, 0},
    {"refit-every", NS_OPT_STRING, "288", "samples between refits (a day at 5 min)", NULL, 0},
    {"history", NS_OPT_STRING, "2016", "training window, samples (a week at 5 min)", NULL, 0},
    {"trees", NS_OPT_STRING, "200", "trees per forest (the agent default is 100)", NULL, 0},
    {"psi", NS_OPT_STRING, "256", "sub-sample size per tree", NULL, 0},
    {"lik-short", NS_OPT_STRING, "6", "raw scores averaged for the likelihood", NULL, 0},
    {"lik-long", NS_OPT_STRING, "1000", "raw scores in the likelihood reference", NULL, 0},
    {"season", NS_OPT_STRING, "288",
     "samples per season for the same-phase feature (a day at 5 min), 0 = none", NULL, 0},
    {"gate", NS_OPT_STRING, "0.98",
     "forest likelihood at which a sample counts as unusual (the agent default is 0.99)", NULL, 0},
    {"threshold", NS_OPT_STRING, "5",
     "severity (std units) that counts as over: flag and one detection", NULL, 0},
    {"enter-k", NS_OPT_STRING, "2", "consecutive overs to raise the flag (agent default)", NULL, 0},
    {"leave-m", NS_OPT_STRING, "12", "consecutive unders to clear the flag", NULL, 0},
    {"rearm", NS_OPT_STRING, "75", "at least this many samples between two output detections", NULL,
     0},
    {"tail-window", NS_OPT_STRING, "12000",
     "rows whose top-feature tail caps the severity, 0 = off (agent default)", NULL, 0},
    {"tail-q", NS_OPT_STRING, "0.98", "quantile of that tail (agent default)", NULL, 0},
    {"tail-margin", NS_OPT_STRING, "1.25",
     "a feature is out of its tail only beyond this multiple of its tail quantile (agent default)",
     NULL, 0},
    {"tail-season", NS_OPT_STRING, "3",
     "past seasons whose same-phase values (+-10 minutes) also bound a feature's tail, 0 = off "
     "(the agent default is 1)",
     NULL, 0},
    {"seed", NS_OPT_STRING, "42", "forest seed", NULL, 0},
};
#define NOPT (sizeof(opts) / sizeof(opts[0]))

static int u32_opt(const char *name, uint32_t min, uint32_t max, uint32_t *out)
{
	char err[256];
	int rc = ns_opt_u32(opts, NOPT, name, min, max, out, err, sizeof(err));

	if (rc < 0)
		log_error("nab", "%s", err);
	return rc;
}

int main(int argc, char **argv)
{
	struct ns_anomaly_config cfg;
	struct run_stats st = {0};
	struct dirent **corp = NULL;
	const char *data, *results, *det, *filter;
	char err[256];
	uint64_t seed;
	int nc, rc = 0, failed = 0;

	int opt_rc =
	    ns_main_opts(opts, NOPT, "nodescore-nab",
			 "Run the streaming isolation-forest detector over NAB series (one "
			 "parameter set, past data only) and write NAB result CSVs.",
			 argc, argv, NULL, "nab");

	if (opt_rc >= 0)
		return opt_rc;
	data = ns_opt_get(opts, NOPT, "data");
	results = ns_opt_get(opts, NOPT, "results");
	det = ns_opt_get(opts, NOPT, "detector");
	filter = ns_opt_get(opts, NOPT, "files");
	ns_anomaly_config_default(&cfg, 1);
	cfg.metric_names[0] = "value";
	if (u32_opt("win-short", 2, 100000, &cfg.win_short) ||
	    u32_opt("win-mid", 2, 100000, &cfg.win_mid) ||
	    u32_opt("win-long", 2, 1000000, &cfg.win_long) ||
	    u32_opt("probation", 16, 1000000, &cfg.probation) ||
	    u32_opt("refit-every", 1, 1000000, &cfg.refit_every) ||
	    u32_opt("history", 16, 1000000, &cfg.history) ||
	    u32_opt("trees", 1, NS_IFOREST_MAX_TREES, &cfg.n_trees) ||
	    u32_opt("psi", 2, NS_IFOREST_MAX_PSI, &cfg.psi) ||
	    u32_opt("lik-short", 1, 100000, &cfg.lik_short) ||
	    u32_opt("lik-long", 8, 1000000, &cfg.lik_long) ||
	    u32_opt("enter-k", 1, 100000, &cfg.enter_k) ||
	    u32_opt("leave-m", 1, 100000, &cfg.leave_m) ||
	    u32_opt("season", 0, 1000000, &cfg.season) ||
	    u32_opt("rearm", 0, 1000000, &cfg.rearm) ||
	    u32_opt("tail-window", 0, 1000000, &cfg.tail_window) ||
	    u32_opt("tail-season", 0, 7, &cfg.tail_season))
		return 2;
	if (ns_parse_u64(ns_opt_get(opts, NOPT, "seed"), 0, UINT64_MAX, &seed) < 0 ||
	    ns_parse_double(ns_opt_get(opts, NOPT, "threshold"), 0, 1e6, &cfg.threshold) < 0 ||
	    ns_parse_double(ns_opt_get(opts, NOPT, "gate"), 0, 1, &cfg.gate) < 0 ||
	    ns_parse_double(ns_opt_get(opts, NOPT, "tail-q"), 0, 1, &cfg.tail_q) < 0 ||
	    ns_parse_double(ns_opt_get(opts, NOPT, "tail-margin"), 1, 100, &cfg.tail_margin) < 0 ||
	    ns_parse_double(ns_opt_get(opts, NOPT, "probation-frac"), 0, 1, &prob_frac) < 0) {
		log_error(
		    "nab",
		    "bad --seed, --threshold, --gate, --tail-q, --tail-margin or --probation-frac");
		return 2;
	}
	cfg.seed = seed;
	if (ns_anomaly_config_check(&cfg, err, sizeof(err))) {
		log_error("nab", "bad detector configuration reason=\"%s\"", err);
		return 2;
	}
	if (!is_dir(data)) {
		log_error("nab", "data folder not found path=%s (see --help)", data);
		return 2;
	}
	nc = scandir(data, &corp, dir_filter, alphasort);
	if (nc < 0) {
		log_error_errno("nab", "cannot list path=%s", data);
		return 1;
	}
	for (int c = 0; c < nc; c++) {
		char cdir[PATH_CAP], odir[PATH_CAP];
		struct dirent **fl = NULL;
		int nfl;

		if (pathf(cdir, sizeof(cdir), "%s/%s", data, corp[c]->d_name) || !is_dir(cdir))
			continue;
		nfl = scandir(cdir, &fl, csv_filter, alphasort);
		for (int k = 0; k < nfl; k++) {
			char rel[PATH_CAP], in[PATH_CAP], outp[PATH_CAP];

			if (pathf(rel, sizeof(rel), "%s/%s", corp[c]->d_name, fl[k]->d_name) ||
			    pathf(odir, sizeof(odir), "%s/%s/%s", results, det, corp[c]->d_name) ||
			    pathf(in, sizeof(in), "%s/%s", cdir, fl[k]->d_name) ||
			    pathf(outp, sizeof(outp), "%s/%s_%s", odir, det, fl[k]->d_name)) {
				failed++;
				continue;
			}
			if (!wanted(filter, rel))
				continue;
			if ((rc = mkdir_p(odir)) < 0) {
				log_error("nab", "cannot create path=%s error=%s", odir,
					  strerror(-rc));
				failed++;
				continue;
			}
			if (run_file(&cfg, in, outp, &st))
				failed++;
			else if (st.files % 10 == 0)
				log_info("nab", "progress files=%zu rows=%zu", st.files, st.rows);
		}
		for (int k = 0; k < nfl; k++)
			free(fl[k]);
		free(fl);
	}
	for (int c = 0; c < nc; c++)
		free(corp[c]);
	free(corp);
	if (!st.files) {
		log_error("nab", "no series matched path=%s files=%s", data, filter);
		return 1;
	}
	log_info("nab", "done files=%zu rows=%zu onsets=%zu us_per_sample=%.2f failed=%d", st.files,
		 st.rows, st.onsets, (double)st.ns / 1e3 / (double)st.rows, failed);
	return failed ? 1 : 0;
}
