// SPDX-License-Identifier: MIT
/* libFuzzer target: the replay CSV parser on arbitrary bytes; accepted input
 * must hold only valid rows and survive a write/parse round trip. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodescore/pubcsv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(c)                                                                                 \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static size_t write_csv(const struct ns_msg *r, size_t n, char *out, size_t cap)
{
	size_t len = (size_t)snprintf(out, cap, "%s\n", NS_PUBCSV_HEADER);

	for (size_t i = 0; i < n && len < cap; i++)
		len += (size_t)snprintf(
		    out + len, cap - len, "%s,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u,%u\n", r[i].name,
		    r[i].score, r[i].flags, r[i].anomaly, r[i].cpu_now, r[i].mem_now,
		    r[i].cpu_peak_fc, r[i].mem_peak_fc, r[i].free_millicores, r[i].free_mib,
		    r[i].pods, r[i].rtt_p99_us);
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_msg *rows, *again;
	size_t n, n2, cap, len;
	char err[256], *buf, *copy;
	int rc;

	/* Exactly size bytes, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	err[0] = '\0';
	rc = ns_pubcsv_parse(copy, size, &rows, &n, err, sizeof(err));
	free(copy);
	if (rc < 0) {
		REQUIRE(rows == NULL && n == 0);
		REQUIRE(err[0] != '\0' && strlen(err) < sizeof(err) && !strchr(err, '\n'));
		return 0;
	}
	REQUIRE(n >= 1 && rows);
	for (size_t i = 0; i < n; i++) {
		REQUIRE(ns_wire_name_valid(rows[i].name, strlen(rows[i].name)));
		REQUIRE(rows[i].score <= NS_SCORE_MAX && rows[i].anomaly <= NS_PERMILLE &&
			rows[i].cpu_now <= NS_PERMILLE && rows[i].mem_now <= NS_PERMILLE &&
			rows[i].cpu_peak_fc <= NS_PERMILLE && rows[i].mem_peak_fc <= NS_PERMILLE);
	}
	cap = 256 + n * 160;
	buf = malloc(cap);
	REQUIRE(buf);
	len = write_csv(rows, n, buf, cap);
	REQUIRE(len < cap);
	REQUIRE(ns_pubcsv_parse(buf, len, &again, &n2, err, sizeof(err)) == 0);
	REQUIRE(n2 == n);
	for (size_t i = 0; i < n; i++)
		REQUIRE(memcmp(&rows[i], &again[i], sizeof(rows[i])) == 0);
	free(again);
	free(buf);
	free(rows);
	return 0;
}
