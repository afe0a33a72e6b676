// SPDX-License-Identifier: MIT
/* Tests for lib/qtable.c: state buckets, lookup, table file round trip and rejection. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "fixture.h"
#include "nodescore/qtable.h"

/* magic, format, dims, episodes, version; states; crc */
#define FILE_BYTES (4 + 4 + 5 + 4 + NS_QTABLE_VERSION_MAX + NS_Q_STATES * 8 + 4)
#define OFF_DIMS 8
#define OFF_VERSION 17
#define OFF_STATES (OFF_VERSION + NS_QTABLE_VERSION_MAX)

struct bk {
	uint32_t cpu, trend, mem, anom, dens;
};

static struct bk split(uint32_t i)
{
	struct bk b;

	b.dens = i % NS_Q_DENS;
	i /= NS_Q_DENS;
	b.anom = i % NS_Q_ANOM;
	i /= NS_Q_ANOM;
	b.mem = i % NS_Q_MEM;
	i /= NS_Q_MEM;
	b.trend = i % NS_Q_TREND;
	b.cpu = i / NS_Q_TREND;
	return b;
}

static struct bk bucket(double cpu, double peak, double mem, int anom, double pods, double ncpu)
{
	struct ns_qstate_in in = {cpu, peak, mem, anom, pods, ncpu};

	return split(ns_qtable_state(&in));
}

/* A table with a distinct value per state, so a swapped state shows. */
static void fill(struct ns_qtable *t)
{
	memset(t, 0, sizeof(*t));
	for (uint32_t s = 0; s < NS_Q_STATES; s++) {
		t->q[s] = (float)s / (NS_Q_STATES - 1);
		t->visits[s] = s * 3 + 1;
	}
	t->episodes = 12345;
	snprintf(t->version, sizeof(t->version), "sim-s1_2026.01+a:b");
}

static void fix_crc(uint8_t *b, size_t len)
{
	uint32_t c = (uint32_t)crc32(0L, b, (uInt)(len - 4));

	for (int i = 0; i < 4; i++)
		b[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

static void put_q(uint8_t *b, uint32_t state, float q)
{
	uint32_t u;

	memcpy(&u, &q, sizeof(u));
	for (int i = 0; i < 4; i++)
		b[OFF_STATES + 8 * state + (uint32_t)i] = (uint8_t)(u >> (8 * i));
}

static int write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f)
		return -1;
	if (n && fwrite(p, 1, n, f) != n)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* Deserialises into a sentinel-filled table: on failure it must be untouched. */
static int decode_untouched(const uint8_t *b, size_t len, char *err, size_t errlen, int *touched)
{
	struct ns_qtable out, sentinel;
	int rc;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	out = sentinel;
	rc = ns_qtable_deserialize(b, len, &out, err, errlen);
	*touched = memcmp(&out, &sentinel, sizeof(out)) != 0;
	return rc;
}

/* The valid file each rejection test edits: fill()'s table, serialised. */
static int good_file(uint8_t **buf, size_t *len)
{
	struct ns_qtable t;

	fill(&t);
	return ns_qtable_serialize(&t, buf, len);
}

/* Re-seals the checksum, then decodes: a refusal is then the edited
 * field's, not the checksum's. */
static int resealed_decode(uint8_t *b, size_t len, char *err, size_t errlen, int *touched)
{
	fix_crc(b, len);
	return decode_untouched(b, len, err, errlen, touched);
}

/* Resealed, b must be refused with err naming want and the output untouched. */
static void refused(uint8_t *b, size_t len, const char *want)
{
	char err[256];
	int touched;

	CHECK_EQ_INT(resealed_decode(b, len, err, sizeof(err), &touched), -EINVAL);
	CHECK(!touched);
	CHECK(strstr(err, want));
}

/* Resealed, b must load. */
static void accepted(uint8_t *b, size_t len)
{
	char err[256];
	int touched;

	CHECK_EQ_INT(resealed_decode(b, len, err, sizeof(err), &touched), 0);
}

static void test_cpu_buckets(void)
{
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 0, 4).cpu, 0);
	CHECK_EQ_INT(bucket(0.0999, NAN, 0, 0, 0, 4).cpu, 0);
	CHECK_EQ_INT(bucket(0.1, NAN, 0, 0, 0, 4).cpu, 1);
	CHECK_EQ_INT(bucket(0.25, NAN, 0, 0, 0, 4).cpu, 2);
	CHECK_EQ_INT(bucket(0.5, NAN, 0, 0, 0, 4).cpu, 5);
	CHECK_EQ_INT(bucket(0.8999, NAN, 0, 0, 0, 4).cpu, 8);
	CHECK_EQ_INT(bucket(0.9, NAN, 0, 0, 0, 4).cpu, 9);
	CHECK_EQ_INT(bucket(1.0, NAN, 0, 0, 0, 4).cpu, 9);
	CHECK_EQ_INT(bucket(1.7, NAN, 0, 0, 0, 4).cpu, 9);
	CHECK_EQ_INT(bucket(1e300, NAN, 0, 0, 0, 4).cpu, 9);
	CHECK_EQ_INT(bucket(INFINITY, NAN, 0, 0, 0, 4).cpu, 9);
	CHECK_EQ_INT(bucket(-0.2, NAN, 0, 0, 0, 4).cpu, 0);
	CHECK_EQ_INT(bucket(-INFINITY, NAN, 0, 0, 0, 4).cpu, 0);
	CHECK_EQ_INT(bucket(NAN, NAN, 0, 0, 0, 4).cpu, 0);
}

/* Edges at 5 and 15 points from cpu 0, where the differences are exact. */
static void test_trend_buckets(void)
{
	CHECK_EQ_INT(bucket(0, 0, 0, 0, 0, 4).trend, 0);
	CHECK_EQ_INT(bucket(0, 0.0499, 0, 0, 0, 4).trend, 0);
	CHECK_EQ_INT(bucket(0, 0.05, 0, 0, 0, 4).trend, 1);
	CHECK_EQ_INT(bucket(0, 0.1499, 0, 0, 0, 4).trend, 1);
	CHECK_EQ_INT(bucket(0, 0.15, 0, 0, 0, 4).trend, 2);
	CHECK_EQ_INT(bucket(0.5, 1.0, 0, 0, 0, 4).trend, 2);
	CHECK_EQ_INT(bucket(0.5, 0.5625, 0, 0, 0, 4).trend, 1);
	/* A forecast below the present: no rise. */
	CHECK_EQ_INT(bucket(0.8, 0.2, 0, 0, 0, 4).trend, 0);
	CHECK_EQ_INT(bucket(0.5, NAN, 0, 0, 0, 4).trend, 0);
	CHECK_EQ_INT(bucket(NAN, 0.9, 0, 0, 0, 4).trend, 0);
	CHECK_EQ_INT(bucket(0.5, INFINITY, 0, 0, 0, 4).trend, 2);
	CHECK_EQ_INT(bucket(0.5, -INFINITY, 0, 0, 0, 4).trend, 0);
}

static void test_mem_anomaly_density_buckets(void)
{
	CHECK_EQ_INT(bucket(0, NAN, 0.4999, 0, 0, 4).mem, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0.5, 0, 0, 4).mem, 1);
	CHECK_EQ_INT(bucket(0, NAN, 0.6999, 0, 0, 4).mem, 1);
	CHECK_EQ_INT(bucket(0, NAN, 0.7, 0, 0, 4).mem, 2);
	CHECK_EQ_INT(bucket(0, NAN, 0.8499, 0, 0, 4).mem, 2);
	CHECK_EQ_INT(bucket(0, NAN, 0.85, 0, 0, 4).mem, 3);
	CHECK_EQ_INT(bucket(0, NAN, 1.3, 0, 0, 4).mem, 3);
	CHECK_EQ_INT(bucket(0, NAN, -1, 0, 0, 4).mem, 0);
	CHECK_EQ_INT(bucket(0, NAN, NAN, 0, 0, 4).mem, 0);

	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 0, 4).anom, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 1, 0, 4).anom, 1);
	CHECK_EQ_INT(bucket(0, NAN, 0, 7, 0, 4).anom, 1);
	CHECK_EQ_INT(bucket(0, NAN, 0, -3, 0, 4).anom, 1);

	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 1, 4).dens, 0); /* 0.25 */
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 2, 4).dens, 1); /* 0.5 */
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 5, 4).dens, 1); /* 1.25 */
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 6, 4).dens, 2); /* 1.5 */
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 110, 1).dens, 2);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 3, 1).dens, 2); /* ncpu exactly 1 counts */
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 100, NAN).dens, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 100, 0.5).dens, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 100, 0).dens, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 100, -4).dens, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, NAN, 4).dens, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, -5, 4).dens, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, 100, INFINITY).dens, 0);
	CHECK_EQ_INT(bucket(0, NAN, 0, 0, INFINITY, 4).dens, 2);
}

/* One input per bucket combination: every index is hit exactly once and
 * sits where the documented index order puts it. */
static void test_every_index_reachable_and_distinct(void)
{
	static const double rise[NS_Q_TREND] = {0.0, 0.1, 0.3};
	static const double mem[NS_Q_MEM] = {0.3, 0.6, 0.8, 0.9};
	static const double pods[NS_Q_DENS] = {1, 4, 10};
	static uint8_t seen[NS_Q_STATES];
	uint32_t n = 0;

	memset(seen, 0, sizeof(seen));
	for (uint32_t c = 0; c < NS_Q_CPU; c++)
		for (uint32_t t = 0; t < NS_Q_TREND; t++)
			for (uint32_t m = 0; m < NS_Q_MEM; m++)
				for (uint32_t a = 0; a < NS_Q_ANOM; a++)
					for (uint32_t d = 0; d < NS_Q_DENS; d++) {
						double cpu = (c + 0.5) / NS_Q_CPU;
						struct ns_qstate_in in = {
						    cpu, cpu + rise[t], mem[m], (int)a, pods[d], 4};
						uint32_t i = ns_qtable_state(&in);

						CHECK(i < NS_Q_STATES);
						CHECK_EQ_INT(
						    i, ((((c * NS_Q_TREND + t) * NS_Q_MEM + m) *
							     NS_Q_ANOM +
							 a) *
							    NS_Q_DENS +
							d));
						CHECK(!seen[i]);
						seen[i] = 1;
						n++;
					}
	CHECK_EQ_INT(n, NS_Q_STATES);
	CHECK_EQ_INT(NS_Q_STATES, 720);
}

/* Whatever comes in (NaN, infinities, garbage), the index is in range. */
static void test_hostile_inputs_stay_in_range(void)
{
	static const double v[] = {NAN, INFINITY, -INFINITY, -1e308, 1e308, -0.0, 0.5, 2, DBL_MIN};
	const size_t n = sizeof(v) / sizeof(v[0]);

	for (size_t a = 0; a < n; a++)
		for (size_t b = 0; b < n; b++)
			for (size_t c = 0; c < n; c++)
				for (size_t d = 0; d < n; d++) {
					struct ns_qstate_in in = {v[a],	  v[b], v[c],
								  (int)d, v[d], v[(a + d) % n]};

					CHECK(ns_qtable_state(&in) < NS_Q_STATES);
				}
}

static void test_value_lookup(void)
{
	struct ns_qtable t;

	fill(&t);
	for (uint32_t s = 0; s < NS_Q_STATES; s++)
		CHECK((float)ns_qtable_value(&t, s) == t.q[s]);
	CHECK(ns_qtable_value(&t, NS_Q_STATES - 1) == 1.0);
	CHECK(isnan(ns_qtable_value(&t, NS_Q_STATES)));
	CHECK(isnan(ns_qtable_value(&t, UINT32_MAX)));
	CHECK(isnan(ns_qtable_value(NULL, 0)));
}

static void test_round_trip_serialize_save_load(void)
{
	char dir[] = "/tmp/ns-qtable-test.XXXXXX", path[600], err[256];
	struct ns_qtable t, back;
	uint8_t *buf = NULL, *buf2 = NULL;
	size_t len = 0, len2 = 0;
	struct stat sb;

	fill(&t);
	/* Garbage after the version's NUL does not reach the file. */
	memset(t.version + strlen(t.version) + 1, 'x',
	       NS_QTABLE_VERSION_MAX - strlen(t.version) - 2);
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), 0);
	CHECK_EQ_INT(len, FILE_BYTES);
	CHECK(memcmp(buf, "NSQT\x01\x00\x00\x00", 8) == 0);
	CHECK_EQ_INT(buf[OFF_DIMS], NS_Q_CPU);
	CHECK_EQ_INT(buf[OFF_DIMS + 4], NS_Q_DENS);
	for (size_t i = OFF_VERSION + strlen(t.version); i < OFF_STATES; i++)
		CHECK_EQ_INT(buf[i], 0);
	CHECK_EQ_INT(ns_qtable_deserialize(buf, len, &back, err, sizeof(err)), 0);
	CHECK(memcmp(back.q, t.q, sizeof(t.q)) == 0);
	CHECK(memcmp(back.visits, t.visits, sizeof(t.visits)) == 0);
	CHECK_EQ_INT(back.episodes, 12345);
	CHECK_EQ_STR(back.version, "sim-s1_2026.01+a:b");
	/* Canonical: the decoded table gives the same bytes again. */
	CHECK_EQ_INT(ns_qtable_serialize(&back, &buf2, &len2), 0);
	CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
	free(buf2);

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/q.nsq", dir);
	CHECK_EQ_INT(ns_qtable_save(&t, path, err, sizeof(err)), 0);
	CHECK_EQ_INT(stat(path, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 0777, 0644);
	CHECK_EQ_INT(sb.st_size, FILE_BYTES);
	memset(&back, 0, sizeof(back));
	CHECK_EQ_INT(ns_qtable_load(path, &back, err, sizeof(err)), 0);
	CHECK(memcmp(back.q, t.q, sizeof(t.q)) == 0);
	CHECK(memcmp(back.visits, t.visits, sizeof(t.visits)) == 0);
	CHECK_EQ_STR(back.version, "sim-s1_2026.01+a:b");
	/* Overwrite in place: a new table, no temp file left behind. */
	t.q[3] = 0.125f;
	t.version[0] = '\0';
	CHECK_EQ_INT(ns_qtable_save(&t, path, err, sizeof(err)), 0);
	CHECK_EQ_INT(fx_count_entries(dir), 1);
	CHECK_EQ_INT(ns_qtable_load(path, &back, err, sizeof(err)), 0);
	CHECK(back.q[3] == 0.125f);
	CHECK_EQ_STR(back.version, "");
	/* A table the loader would refuse is never written. */
	t.q[5] = NAN;
	CHECK_EQ_INT(ns_qtable_save(&t, path, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "state=5"));
	CHECK_EQ_INT(fx_count_entries(dir), 1);
	snprintf(path, sizeof(path), "%s/missing/q.nsq", dir);
	t.q[5] = 0.5f;
	CHECK_EQ_INT(ns_qtable_save(&t, path, err, sizeof(err)), -ENOENT);
	CHECK(err[0]);
	snprintf(path, sizeof(path), "%s/q.nsq", dir);
	unlink(path);
	rmdir(dir);
	free(buf);
}

static void test_serialize_refuses_bad_tables(void)
{
	struct ns_qtable t;
	uint8_t *buf = NULL;
	size_t len = 0;

	fill(&t);
	t.q[0] = 1.0001f;
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), -EINVAL);
	t.q[0] = -0.0001f;
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), -EINVAL);
	t.q[0] = INFINITY;
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), -EINVAL);
	fill(&t);
	memset(t.version, 'a', sizeof(t.version)); /* no NUL */
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), -EINVAL);
	snprintf(t.version, sizeof(t.version), "has space");
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), -EINVAL);
	CHECK(buf == NULL);
	CHECK_EQ_INT(ns_qtable_serialize(NULL, &buf, &len), -EINVAL);
	/* Edges are valid. */
	fill(&t);
	t.q[0] = 0.0f;
	t.q[1] = 1.0f;
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), 0);
	free(buf);
}

static void test_every_truncation_rejected(void)
{
	uint8_t *buf = NULL, *big;
	size_t len = 0;
	char err[256];
	int touched;

	CHECK_EQ_INT(good_file(&buf, &len), 0);
	for (size_t l = 0; l < len; l++) {
		err[0] = '\0';
		if (decode_untouched(buf, l, err, sizeof(err), &touched) != -EINVAL || touched ||
		    !err[0]) {
			fprintf(stderr, "  truncation to %zu bytes accepted or out touched\n", l);
			free(buf);
			CHECK(0);
		}
	}
	CHECK_EQ_INT(decode_untouched(NULL, len, err, sizeof(err), &touched), -EINVAL);
	CHECK(!touched);
	/* One byte more, with the checksum moved to the end: still refused. */
	big = calloc(1, len + 1);
	CHECK(big);
	memcpy(big, buf, len - 4);
	CHECK_EQ_INT(resealed_decode(big, len + 1, err, sizeof(err), &touched), -EINVAL);
	CHECK(!touched);
	CHECK(strstr(err, "bytes"));
	free(big);
	free(buf);
}

static void test_every_byte_flip_rejected(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char err[256];
	int touched;

	CHECK_EQ_INT(good_file(&buf, &len), 0);
	for (size_t i = 0; i < len; i++) {
		int rc;

		buf[i] ^= 0x10;
		rc = decode_untouched(buf, len, err, sizeof(err), &touched);
		buf[i] ^= 0x10;
		/* Magic and format are checked first; everything else by the CRC. */
		if (rc != -EINVAL || touched || (i >= 8 && !strstr(err, "checksum mismatch"))) {
			fprintf(stderr, "  flip at byte %zu: rc=%d err=%s\n", i, rc, err);
			free(buf);
			CHECK(0);
		}
	}
	buf[0] ^= 1;
	CHECK_EQ_INT(decode_untouched(buf, len, err, sizeof(err), &touched), -EINVAL);
	CHECK_EQ_STR(err, "bad magic (not a nodescore Q-table)");
	buf[0] ^= 1;
	buf[4] = 2;
	CHECK_EQ_INT(resealed_decode(buf, len, err, sizeof(err), &touched), -EINVAL);
	CHECK(strstr(err, "unsupported Q-table format 2"));
	buf[4] = 1;
	CHECK_EQ_INT(resealed_decode(buf, len, err, sizeof(err), &touched), 0);
	CHECK(touched);
	free(buf);
}

/* A valid checksum does not make a table of another geometry loadable. */
static void test_wrong_dimension_refused_with_good_crc(void)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	CHECK_EQ_INT(good_file(&buf, &len), 0);
	for (int d = 0; d < 5; d++) {
		uint8_t keep = buf[OFF_DIMS + d];

		buf[OFF_DIMS + d] = (uint8_t)(keep + 1);
		refused(buf, len, "dimensions");
		buf[OFF_DIMS + d] = keep;
	}
	/* Fewer CPU buckets and a file sized for them: still another table. */
	buf[OFF_DIMS] = 5;
	refused(buf, len - (size_t)NS_Q_STATES / 2 * 8, "dimensions 5x3x4x2x3");
	free(buf);
}

static void test_bad_q_refused_with_good_crc(void)
{
	static const float bad[] = {NAN, INFINITY, -INFINITY, 1.0001f, -0.0001f, 2.0f, -1.0f};
	uint8_t *buf = NULL;
	size_t len = 0;

	CHECK_EQ_INT(good_file(&buf, &len), 0);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		put_q(buf, 7, bad[k]);
		refused(buf, len, "state=7");
	}
	/* The last state too, and the bounds themselves are fine. */
	put_q(buf, 7, 0.5f);
	put_q(buf, NS_Q_STATES - 1, 1.5f);
	refused(buf, len, "state=719");
	put_q(buf, NS_Q_STATES - 1, 1.0f);
	put_q(buf, 0, 0.0f);
	accepted(buf, len);
	free(buf);
}

static void test_bad_version_refused_with_good_crc(void)
{
	static const char *const bad[] = {"has space", "a/b",	   "quote\"",
					  "tab\t",     "\x80high", "semi;colon"};
	uint8_t *buf = NULL;
	size_t len = 0;

	CHECK_EQ_INT(good_file(&buf, &len), 0);
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		memset(buf + OFF_VERSION, 0, NS_QTABLE_VERSION_MAX);
		memcpy(buf + OFF_VERSION, bad[k], strlen(bad[k]));
		refused(buf, len, "version");
	}
	/* All 32 bytes used: no terminating NUL. */
	memset(buf + OFF_VERSION, 'a', NS_QTABLE_VERSION_MAX);
	refused(buf, len, "NUL-terminated");
	/* Bytes after the NUL. */
	memset(buf + OFF_VERSION, 0, NS_QTABLE_VERSION_MAX);
	memcpy(buf + OFF_VERSION, "ab\0c", 4);
	refused(buf, len, "NUL-padded");
	/* 31 characters, and the empty version, are fine. */
	memset(buf + OFF_VERSION, 'Z', NS_QTABLE_VERSION_MAX - 1);
	buf[OFF_VERSION + NS_QTABLE_VERSION_MAX - 1] = 0;
	accepted(buf, len);
	memset(buf + OFF_VERSION, 0, NS_QTABLE_VERSION_MAX);
	accepted(buf, len);
	free(buf);
}

static void test_load_errors_leave_out_untouched(void)
{
	char dir[] = "/tmp/ns-qtable-test.XXXXXX", path[600], err[256];
	struct ns_qtable t, out, sentinel;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd;

	memset(&sentinel, 0xa5, sizeof(sentinel));
	out = sentinel;
	CHECK(mkdtemp(dir));

	snprintf(path, sizeof(path), "%s/missing.nsq", dir);
	CHECK_EQ_INT(ns_qtable_load(path, &out, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "cannot open"));

	CHECK_EQ_INT(ns_qtable_load(dir, &out, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file"));

	/* Sparse, so the test writes nothing: refused before any read. */
	snprintf(path, sizeof(path), "%s/big.nsq", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(ftruncate(fd, (1 << 20) + 1), 0);
	close(fd);
	CHECK_EQ_INT(ns_qtable_load(path, &out, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "too large"));
	unlink(path);

	snprintf(path, sizeof(path), "%s/empty.nsq", dir);
	CHECK_EQ_INT(write_bytes(path, "", 0), 0);
	CHECK_EQ_INT(ns_qtable_load(path, &out, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "too short"));
	unlink(path);

	/* A real table with one byte changed. */
	fill(&t);
	CHECK_EQ_INT(ns_qtable_serialize(&t, &buf, &len), 0);
	buf[100] ^= 1;
	snprintf(path, sizeof(path), "%s/bad.nsq", dir);
	CHECK_EQ_INT(write_bytes(path, buf, len), 0);
	CHECK_EQ_INT(ns_qtable_load(path, &out, err, sizeof(err)), -EINVAL);
	CHECK_EQ_STR(err, "checksum mismatch (file corrupt or truncated)");
	/* Truncated on disk. */
	buf[100] ^= 1;
	CHECK_EQ_INT(write_bytes(path, buf, len - 1), 0);
	CHECK_EQ_INT(ns_qtable_load(path, &out, err, sizeof(err)), -EINVAL);
	CHECK(memcmp(&out, &sentinel, sizeof(out)) == 0);
	/* And the good one loads. */
	CHECK_EQ_INT(write_bytes(path, buf, len), 0);
	CHECK_EQ_INT(ns_qtable_load(path, &out, err, sizeof(err)), 0);
	CHECK(memcmp(out.q, t.q, sizeof(t.q)) == 0);
	unlink(path);
	rmdir(dir);
	free(buf);
}

int main(void)
{
	RUN(test_cpu_buckets);
	RUN(test_trend_buckets);
	RUN(test_mem_anomaly_density_buckets);
	RUN(test_every_index_reachable_and_distinct);
	RUN(test_hostile_inputs_stay_in_range);
	RUN(test_value_lookup);
	RUN(test_round_trip_serialize_save_load);
	RUN(test_serialize_refuses_bad_tables);
	RUN(test_every_truncation_rejected);
	RUN(test_every_byte_flip_rejected);
	RUN(test_wrong_dimension_refused_with_good_crc);
	RUN(test_bad_q_refused_with_good_crc);
	RUN(test_bad_version_refused_with_good_crc);
	RUN(test_load_errors_leave_out_untouched);
	return CHECK_SUMMARY();
}
