/* SPDX-License-Identifier: MIT */
/* nodescore-train: helpers shared by the subcommand files. */
#ifndef NODESCORE_TRAINCLI_H
#define NODESCORE_TRAINCLI_H

#include <cjson/cJSON.h>

#include "train.h"

/* "15m,1h,2h,4h" -> seconds. */
int cli_parse_horizons(const char *s, uint32_t *h, size_t *nh, char *err, size_t errlen);

/* Grid step when --step is not given: 60 s for agent exports, else 300 s. */
uint32_t cli_default_step_ms(enum ns_series_fmt f);

/* Loads every DATA path; appends {path, format, series, samples} to
 * provenance (a JSON array) when not NULL. Logs the error itself. */
int cli_load_data(int argc, char **argv, enum ns_series_fmt fmt, struct ns_series_set *set,
		  cJSON *provenance);

#endif
