/* SPDX-License-Identifier: MIT */
/* Replay CSV for nodescore-pub: one score message per row, strictly parsed.
 *
 *   node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,
 *     free_mib,pods,rtt_p99_us   (one line in the file)
 *   node-0,731,0,120,455,600,701,650,12345,65432,37,1500
 *
 * Every field is an unsigned decimal without sign, spaces or quotes; names
 * follow ns_wire_name_valid; per-mille fields are 0..1000, flags 0..255,
 * pods 0..65535, the rest 0..4294967295. LF or CRLF line ends; the last line
 * may lack its newline. Empty lines, NUL bytes, duplicate node names and any
 * column count other than 12 are errors. */
#ifndef NODESCORE_PUBCSV_H
#define NODESCORE_PUBCSV_H

#include <stddef.h>

#include "nodescore/wire.h"

#define NS_PUBCSV_HEADER                                                                           \
	"node,score,flags,anomaly,cpu_now,mem_now,cpu_peak_fc,mem_peak_fc,free_millicores,"        \
	"free_mib,pods,rtt_p99_us"
#define NS_PUBCSV_MAX_ROWS 100000u
#define NS_PUBCSV_MAX_BYTES (16u << 20)

/* Parses len bytes of buf (need not be NUL-terminated; never read past len).
 * On success *rows is a malloc'd array of *nrows messages (caller frees)
 * with the row fields set and boot_nonce, seq and ts_ms zero. On error
 * returns -EINVAL (or -ENOMEM, -E2BIG), *rows is NULL and err holds a
 * one-line reason naming the 1-based line, e.g. "line 3: score: 1001 > 1000". */
int ns_pubcsv_parse(const char *buf, size_t len, struct ns_msg **rows, size_t *nrows, char *err,
		    size_t errlen);

/* Reads path (at most NS_PUBCSV_MAX_BYTES) and parses it as above; err also
 * names the file. Returns 0 or -errno. */
int ns_pubcsv_load(const char *path, struct ns_msg **rows, size_t *nrows, char *err, size_t errlen);

#endif
