// SPDX-License-Identifier: MIT
/* nodescore-train shared CLI plumbing: signals, horizon lists, data loading. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/log.h"
#include "nodescore/opt.h"
#include "traincli.h"

volatile sig_atomic_t train_stop;

static void on_signal(int sig)
{
	(void)sig;
	train_stop = 1;
}

void train_install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_parse_horizons(const char *s, uint32_t *h, size_t *nh, char *err, size_t errlen)
{
	char buf[256], *save = NULL, *tok;

	*nh = 0;
	if (!s || strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "bad --horizons");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		uint64_t ms;

		if (*nh >= 4 || ns_parse_duration_ms(tok, &ms) || ms < 60000 ||
		    ms > NS_FC_MAX_HORIZON_S * 1000ull || ms % 1000) {
			snprintf(err, errlen,
				 "--horizons: '%s' (1 to 4 durations, 1m..7d, e.g. 15m,1h,2h,4h)",
				 tok);
			return -EINVAL;
		}
		h[(*nh)++] = (uint32_t)(ms / 1000);
	}
	if (*nh == 0) {
		snprintf(err, errlen, "--horizons is empty");
		return -EINVAL;
	}
	return 0;
}

uint32_t cli_default_step_ms(enum ns_series_fmt f)
{
	return f == NS_SERIES_FMT_AGENT ? 60000u : 300000u;
}

int cli_load_data(int argc, char **argv, enum ns_series_fmt fmt, struct ns_series_set *set,
		  cJSON *provenance)
{
	char err[512];

	for (int i = 0; i < argc; i++) {
		size_t before = set->n;
		uint64_t rows = set->rows_read;
		int rc;

		log_info("train", "reading data path=%s format=%s", argv[i],
			 ns_series_format_name(fmt));
		set->skipped_files = 0; /* counted per path */
		rc = ns_series_load(argv[i], fmt, set, &train_stop, err, sizeof(err));
		if (rc) {
			log_error("train", "cannot read training data: %s", err);
			return rc;
		}
		if (set->skipped_files)
			log_warning(
			    "train",
			    "skipped files of no known trace format path=%s files=%zu first=%s",
			    argv[i], set->skipped_files, set->skipped_first);
		log_info("train", "read data path=%s series=%zu samples=%llu", argv[i],
			 set->n - before, (unsigned long long)(set->rows_read - rows));
		if (provenance) {
			cJSON *e = cJSON_CreateObject();

			cJSON_AddStringToObject(e, "path", argv[i]);
			cJSON_AddStringToObject(e, "format", ns_series_format_name(fmt));
			cJSON_AddNumberToObject(e, "series", (double)(set->n - before));
			cJSON_AddNumberToObject(e, "samples", (double)(set->rows_read - rows));
			cJSON_AddItemToArray(provenance, e);
		}
	}
	if (set->n == 0) {
		log_error("train", "no series in the input");
		return -EINVAL;
	}
	return 0;
}
