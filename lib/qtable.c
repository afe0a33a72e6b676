// SPDX-License-Identifier: MIT
/* Q-table placement value: state buckets, lookup, the checksummed table file. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "nodescore/le.h"
#include "nodescore/fileio.h"
#include "nodescore/qtable.h"

#define QT_FORMAT 1u
#define QT_FILE_MAX (1u << 20)
/* magic, format, five u8 dimensions, episodes, version */
#define QT_HDR_BYTES (4u + 4u + 5u + 4u + NS_QTABLE_VERSION_MAX)
#define QT_STATE_BYTES 8u /* float q, u32 visits */
#define QT_FILE_BYTES (QT_HDR_BYTES + (size_t)NS_Q_STATES * QT_STATE_BYTES + 4u)

_Static_assert(NS_Q_CPU <= 255 && NS_Q_TREND <= 255 && NS_Q_MEM <= 255 && NS_Q_ANOM <= 255 &&
		   NS_Q_DENS <= 255,
	       "the file stores each dimension in one byte");
_Static_assert(QT_FILE_BYTES <= QT_FILE_MAX, "a table must fit the load limit");

/* ---- state and value ---- */

uint32_t ns_qtable_state(const struct ns_qstate_in *in)
{
	double cpu = in->cpu_now, mem = in->mem_now, trend = in->cpu_peak_fc - in->cpu_now;
	double dens = in->pods / in->ncpu;
	uint32_t c = 0, t = 0, mb = 0, a = in->anomaly != 0, d = 0;

	/* Clamp in double: a huge or infinite input must not reach the cast. */
	if (!isnan(cpu)) {
		double b = floor(cpu * NS_Q_CPU);

		c = b <= 0 ? 0 : b >= NS_Q_CPU - 1 ? NS_Q_CPU - 1 : (uint32_t)b;
	}
	/* NaN trend (no forecast, or no cpu) compares false everywhere: bucket 0. */
	if (trend >= 0.15)
		t = 2;
	else if (trend >= 0.05)
		t = 1;
	if (mem >= 0.85)
		mb = 3;
	else if (mem >= 0.7)
		mb = 2;
	else if (mem >= 0.5)
		mb = 1;
	/* A core count below 1 is a measuring error, not a dense node. */
	if (!isnan(in->ncpu) && in->ncpu >= 1) {
		if (dens >= 1.5)
			d = 2;
		else if (dens >= 0.5)
			d = 1;
	}
	return (((c * NS_Q_TREND + t) * NS_Q_MEM + mb) * NS_Q_ANOM + a) * NS_Q_DENS + d;
}

double ns_qtable_value(const struct ns_qtable *t, uint32_t state)
{
	/* NaN is the score's "no model output": it falls back to headroom. */
	if (!t || state >= NS_Q_STATES)
		return NAN;
	return (double)t->q[state];
}

/* ---- table file ---- */

static int version_char_ok(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       (c && strchr("._+:-", c));
}

/* The rules a table must meet both ways: a trainer cannot write a file the
 * agent would refuse. The version ends up in log lines and a metric label. */
static int check_table(const struct ns_qtable *t, char *err, size_t errlen)
{
	size_t vl = strnlen(t->version, NS_QTABLE_VERSION_MAX);

	if (vl == NS_QTABLE_VERSION_MAX) {
		snprintf(err, errlen, "version is not NUL-terminated within %d bytes",
			 NS_QTABLE_VERSION_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < vl; i++)
		if (!version_char_ok((unsigned char)t->version[i])) {
			snprintf(err, errlen, "version has a byte outside [A-Za-z0-9._+:-] at %zu",
				 i);
			return -EINVAL;
		}
	for (uint32_t s = 0; s < NS_Q_STATES; s++) {
		if (!isfinite(t->q[s])) {
			snprintf(err, errlen, "state=%u q is not finite", s);
			return -EINVAL;
		}
		if (t->q[s] < 0.0f || t->q[s] > 1.0f) {
			snprintf(err, errlen, "state=%u q=%g outside 0..1", s, (double)t->q[s]);
			return -EINVAL;
		}
	}
	return 0;
}

static int serialize(const struct ns_qtable *t, uint8_t **buf, size_t *len, char *err,
		     size_t errlen)
{
	uint8_t *b, *p;
	size_t vl;
	int rc;

	if (!t || !buf || !len) {
		snprintf(err, errlen, "no table or no output");
		return -EINVAL;
	}
	rc = check_table(t, err, errlen);
	if (rc)
		return rc;
	b = calloc(1, QT_FILE_BYTES);
	if (!b) {
		snprintf(err, errlen, "out of memory serialising the Q-table");
		return -ENOMEM;
	}
	memcpy(b, "NSQT", 4);
	p = ns_le_put_u32(b + 4, QT_FORMAT);
	*p++ = NS_Q_CPU;
	*p++ = NS_Q_TREND;
	*p++ = NS_Q_MEM;
	*p++ = NS_Q_ANOM;
	*p++ = NS_Q_DENS;
	p = ns_le_put_u32(p, t->episodes);
	/* Only the string: bytes after its NUL are zero so equal tables give
	 * equal files. */
	vl = strlen(t->version);
	memcpy(p, t->version, vl);
	p += NS_QTABLE_VERSION_MAX;
	for (uint32_t s = 0; s < NS_Q_STATES; s++) {
		p = ns_le_put_u32(p, ns_le_f32_bits(t->q[s]));
		p = ns_le_put_u32(p, t->visits[s]);
	}
	ns_le_put_u32(p, (uint32_t)crc32(0L, b, (uInt)(QT_FILE_BYTES - 4)));
	*buf = b;
	*len = QT_FILE_BYTES;
	return 0;
}

int ns_qtable_serialize(const struct ns_qtable *t, uint8_t **buf, size_t *len)
{
	char err[128];

	return serialize(t, buf, len, err, sizeof(err));
}

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -EINVAL;                                                                    \
	} while (0)

int ns_qtable_deserialize(const uint8_t *buf, size_t len, struct ns_qtable *out, char *err,
			  size_t errlen)
{
	struct ns_qtable t;
	const uint8_t *p;
	size_t body;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!out)
		BAD("no output table");
	if (!buf || len < QT_HDR_BYTES + 4)
		BAD("Q-table file too short (%zu bytes)", len);
	if (len > QT_FILE_MAX)
		BAD("Q-table file too large (%zu bytes, max %u)", len, QT_FILE_MAX);
	if (memcmp(buf, "NSQT", 4) != 0)
		BAD("bad magic (not a nodescore Q-table)");
	if (ns_le_get_u32(buf + 4) != QT_FORMAT)
		BAD("unsupported Q-table format %u (this build reads %u)", ns_le_get_u32(buf + 4),
		    QT_FORMAT);
	body = len - 4;
	if ((uint32_t)crc32(0L, buf, (uInt)body) != ns_le_get_u32(buf + body))
		BAD("checksum mismatch (file corrupt or truncated)");
	p = buf + 8;
	if (p[0] != NS_Q_CPU || p[1] != NS_Q_TREND || p[2] != NS_Q_MEM || p[3] != NS_Q_ANOM ||
	    p[4] != NS_Q_DENS)
		BAD("Q-table dimensions %ux%ux%ux%ux%u (cpu, trend, mem, anomaly, density) differ "
		    "from this build's %ux%ux%ux%ux%u",
		    p[0], p[1], p[2], p[3], p[4], NS_Q_CPU, NS_Q_TREND, NS_Q_MEM, NS_Q_ANOM,
		    NS_Q_DENS);
	if (len != QT_FILE_BYTES)
		BAD("Q-table file is %zu bytes, want %zu for %d states", len, (size_t)QT_FILE_BYTES,
		    NS_Q_STATES);
	p += 5;
	memset(&t, 0, sizeof(t));
	t.episodes = ns_le_get_u32(p);
	p += 4;
	/* Canonical padding: a re-serialised table is the same file. */
	for (size_t i = strnlen((const char *)p, NS_QTABLE_VERSION_MAX); i < NS_QTABLE_VERSION_MAX;
	     i++)
		if (p[i])
			BAD("version field is not NUL-padded");
	memcpy(t.version, p, NS_QTABLE_VERSION_MAX);
	p += NS_QTABLE_VERSION_MAX;
	for (uint32_t s = 0; s < NS_Q_STATES; s++, p += QT_STATE_BYTES) {
		t.q[s] = ns_le_bits_f32(ns_le_get_u32(p));
		t.visits[s] = ns_le_get_u32(p + 4);
	}
	rc = check_table(&t, err, errlen);
	if (rc)
		return rc;
	*out = t;
	return 0;
}

int ns_qtable_save(const struct ns_qtable *t, const char *path, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	rc = serialize(t, &buf, &len, err, errlen);
	if (rc)
		return rc;
	rc = ns_file_write_atomic(path, buf, len, 0644, err, errlen);
	free(buf);
	return rc;
}

int ns_qtable_load(const char *path, struct ns_qtable *out, char *err, size_t errlen)
{
	uint8_t *buf;
	size_t len;
	int rc;

	rc = ns_file_read_all(path, QT_FILE_MAX, &buf, &len, err, errlen);
	/* Every refusal of the file itself is -EINVAL, as the decoder's. */
	if (rc)
		return rc == -EFBIG ? -EINVAL : rc;
	rc = ns_qtable_deserialize(buf, len, out, err, errlen);
	free(buf);
	return rc;
}
