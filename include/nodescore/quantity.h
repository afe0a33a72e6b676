/* SPDX-License-Identifier: MIT */
/* Kubernetes resource quantities ("100m", "1.5", "512Mi", "1G", "2e3"). */
#ifndef NODESCORE_QUANTITY_H
#define NODESCORE_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

/* Parses the Kubernetes quantity grammar exactly:
 *   quantity ::= [+-] number suffix
 *   number   ::= digits | digits "." | digits "." digits | "." digits
 *   suffix   ::= "" | m | k | M | G | T | P | E          (decimal SI)
 *              | Ki | Mi | Gi | Ti | Pi | Ei            (binary SI)
 *              | (e|E) [+-] digits                      (decimal exponent)
 * s need not be NUL-terminated; at most len bytes are read. The value is
 * scaled by 10^scale (scale 3 gives millicores, 0 gives bytes) and rounded
 * up in magnitude, as Kubernetes' MilliValue()/Value() do.
 * Returns 0 with *out set, -EINVAL for anything outside the grammar (spaces,
 * "1K", "1e", "", more than 64 bytes), -ERANGE when |value| exceeds INT64_MAX. */
int ns_quantity_parse(const char *s, size_t len, int scale, int64_t *out);

#endif
