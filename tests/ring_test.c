// SPDX-License-Identifier: MIT
/* History ring tests: real files, byte-level damage, a real writer killed
 * with SIGKILL at random moments. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "nodescore/ring.h"
#include "nodescore/ringlog.h"
#include "check.h"
#include "crc32c_ref.h"

static char dir[64];

/* Rotating buffers: a test may hold a few paths at once. */
static const char *tpath(const char *name)
{
	static char p[4][256];
	static unsigned i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

/* Deterministic payload of record k, so any record can be checked alone. */
static void payload(uint64_t k, struct ns_sample *s)
{
	ns_sample_init(s, 1700000000000ull + k);
	s->health = (uint32_t)(k * 7u) & 0x7fu;
	for (unsigned i = 0; i < NS_METRIC_COUNT; i++)
		s->v[i] = (float)((k * 2654435761ull + i * 40503ull) % 1000003ull) / 64.0f;
	if (k % 17 == 0)
		s->v[3] = NAN;
}

static int same_sample(const struct ns_sample *a, const struct ns_sample *b)
{
	return a->ts_ms == b->ts_ms && a->health == b->health &&
	       memcmp(a->v, b->v, sizeof(a->v)) == 0;
}

struct collect {
	uint64_t k[4096];
	size_t n;
	int mismatch; /* records whose payload differs from payload(k) */
};

static int collect_cb(const struct ns_sample *s, void *arg)
{
	struct collect *c = arg;
	struct ns_sample want;
	uint64_t k = s->ts_ms - 1700000000000ull;

	payload(k, &want);
	if (!same_sample(s, &want))
		c->mismatch++;
	if (c->n < sizeof(c->k) / sizeof(c->k[0]))
		c->k[c->n] = k;
	c->n++;
	return 0;
}

static int append_range(struct ns_ring *r, uint64_t from, uint64_t to)
{
	struct ns_sample s;
	int err;

	for (uint64_t k = from; k <= to; k++) {
		payload(k, &s);
		err = ns_ring_append(r, &s);
		if (err)
			return err;
	}
	return 0;
}

/* Creates path with capacity cap holding records 1..n, closed. */
static int make_ring(const char *path, uint32_t cap, uint64_t n)
{
	struct ns_ring *r;
	int err = ns_ringlog_open(path, cap, &r);

	if (err)
		return err;
	err = append_range(r, 1, n);
	ns_ringlog_close(r);
	return err;
}

static off_t file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void poke(const char *path, off_t off, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY);

	if (fd >= 0) {
		if (pwrite(fd, b, n, off) != (ssize_t)n)
			fprintf(stderr, "  poke failed\n");
		close(fd);
	}
}

static off_t rec_off(uint32_t cap, uint64_t seq)
{
	return (off_t)(NS_RING_HEADER_SIZE + ((seq - 1) % cap) * NS_RING_RECORD_SIZE);
}

static void test_file_size_default(void)
{
	/* 30 days at 10 s: the documented on-disk size. */
	CHECK_EQ_INT(NS_RING_DEFAULT_CAPACITY, 259200);
	CHECK_EQ_INT(NS_RING_RECORD_SIZE, 128);
	CHECK_EQ_INT(ns_ring_file_size(NS_RING_DEFAULT_CAPACITY), 33181696);
}

static void test_round_trip(void)
{
	const char *p = tpath("rt.ring");
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect c = {0};

	CHECK_EQ_INT(make_ring(p, 16, 5), 0);
	CHECK_EQ_INT(file_size(p), (off_t)ns_ring_file_size(16));
	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(st.records, 5);
	CHECK_EQ_INT(st.last_seq, 5);
	CHECK_EQ_INT(st.corrupt, 0);
	CHECK_EQ_INT(st.capacity, 16);
	CHECK_EQ_INT(st.file_bytes, 4096 + 16 * 128);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(c.n, 5);
	CHECK_EQ_INT(c.mismatch, 0);
	for (size_t i = 0; i < 5; i++)
		CHECK_EQ_INT(c.k[i], i + 1);
}

static int copy_first_cb(const struct ns_sample *x, void *arg)
{
	*(struct ns_sample *)arg = *x;
	return 1;
}

static void test_nan_and_bits_preserved(void)
{
	const char *p = tpath("bits.ring");
	struct ns_ring *r;
	struct ns_sample s, got;

	ns_sample_init(&s, 42);
	s.health = 0xdeadbeef;
	s.v[0] = -0.0f;
	s.v[1] = 1e-38f;
	s.v[2] = 3.4e38f;
	s.v[3] = INFINITY;
	CHECK_EQ_INT(ns_ringlog_open(p, 4, &r), 0);
	CHECK_EQ_INT(ns_ring_append(r, &s), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(ns_ringlog_open_readonly(p, &r), 0);
	memset(&got, 0, sizeof(got));
	CHECK_EQ_INT(ns_ring_foreach(r, copy_first_cb, &got), 0);
	ns_ringlog_close(r);
	CHECK(same_sample(&s, &got));
	CHECK(isnan(got.v[4]));
	CHECK(signbit(got.v[0]));
}

static void test_wrap_keeps_newest_in_order(void)
{
	const char *p = tpath("wrap.ring");
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect live = {0}, c = {0};

	CHECK_EQ_INT(ns_ringlog_open(p, 10, &r), 0);
	CHECK_EQ_INT(append_range(r, 1, 37), 0);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &live), 0);
	ns_ring_get_stats(r, &st);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.records, 10);
	CHECK_EQ_INT(st.last_seq, 37);
	CHECK_EQ_INT(st.appends, 37);
	CHECK_EQ_INT(live.n, 10);
	CHECK_EQ_INT(live.k[0], 28);
	CHECK_EQ_INT(file_size(p), (off_t)ns_ring_file_size(10));

	/* Same answer from a fresh scan, and appending continues the sequence. */
	CHECK_EQ_INT(ns_ringlog_open(p, 10, &r), 0);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 10);
	CHECK_EQ_INT(c.mismatch, 0);
	for (size_t i = 0; i < 10; i++)
		CHECK_EQ_INT(c.k[i], 28 + i);
	CHECK_EQ_INT(append_range(r, 38, 41), 0);
	memset(&c, 0, sizeof(c));
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	ns_ring_get_stats(r, &st);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.last_seq, 41);
	CHECK_EQ_INT(c.n, 10);
	CHECK_EQ_INT(c.k[0], 32);
	CHECK_EQ_INT(c.k[9], 41);
}

static void test_corrupt_middle_skipped_and_counted(void)
{
	const char *p = tpath("mid.ring");
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect c = {0};
	uint8_t b[1];

	CHECK_EQ_INT(make_ring(p, 20, 15), 0);
	/* One flipped bit in a value of record 7, one in the seq field of record 11. */
	b[0] = 0x10;
	int fd = open(p, O_RDWR);
	uint8_t x;
	CHECK(fd >= 0);
	CHECK(pread(fd, &x, 1, rec_off(20, 7) + 40) == 1);
	x ^= b[0];
	CHECK(pwrite(fd, &x, 1, rec_off(20, 7) + 40) == 1);
	CHECK(pread(fd, &x, 1, rec_off(20, 11)) == 1);
	x ^= 0x01;
	CHECK(pwrite(fd, &x, 1, rec_off(20, 11)) == 1);
	close(fd);

	CHECK_EQ_INT(ns_ringlog_open(p, 20, &r), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(st.records, 13);
	CHECK_EQ_INT(st.corrupt, 2);
	CHECK_EQ_INT(st.last_seq, 15);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	CHECK_EQ_INT(c.n, 13);
	CHECK_EQ_INT(c.mismatch, 0);
	for (size_t i = 0, k = 1; i < c.n; i++, k++) {
		if (k == 7 || k == 11)
			k++;
		CHECK_EQ_INT(c.k[i], k);
	}
	/* Once the ring wraps past them the damaged slots are rewritten. */
	CHECK_EQ_INT(append_range(r, 16, 31), 0);
	ns_ring_get_stats(r, &st);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.records, 20);
	CHECK_EQ_INT(st.corrupt, 0);
	CHECK_EQ_INT(ns_ringlog_open(p, 20, &r), 0);
	ns_ring_get_stats(r, &st);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.records, 20);
	CHECK_EQ_INT(st.corrupt, 0);
}

/* A write torn by power loss: the newest record is half new, half old. */
static void test_torn_newest_record(void)
{
	const char *p = tpath("torn.ring");
	uint8_t zero[NS_RING_RECORD_SIZE / 2] = {0};
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect c = {0};

	CHECK_EQ_INT(make_ring(p, 8, 10), 0);
	poke(p, rec_off(8, 10) + NS_RING_RECORD_SIZE / 2, zero, sizeof(zero));
	CHECK_EQ_INT(ns_ringlog_open(p, 8, &r), 0);
	ns_ring_get_stats(r, &st);
	/* Head falls back to 9. The torn slot held 2, the oldest record, which the
	 * write of 10 was replacing anyway: 3..9 survive. */
	CHECK_EQ_INT(st.last_seq, 9);
	CHECK_EQ_INT(st.records, 7);
	CHECK_EQ_INT(st.corrupt, 1);
	CHECK_EQ_INT(append_range(r, 10, 10), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(ns_ringlog_open(p, 8, &r), 0);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(c.n, 8);
	CHECK_EQ_INT(c.mismatch, 0);
	CHECK_EQ_INT(c.k[0], 3);
	CHECK_EQ_INT(c.k[7], 10);
}

/* Before the first wrap: the newest record damaged (torn, or bytes
 * overwritten) is lost alone and counted, as in a wrapped ring. */
static void test_torn_newest_record_unwrapped(void)
{
	const char *p = tpath("torn-unwrapped.ring");
	uint8_t junk[16];
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect c = {0};

	memset(junk, 'X', sizeof(junk));
	CHECK_EQ_INT(make_ring(p, 16, 5), 0);
	poke(p, rec_off(16, 5) + 40, junk, sizeof(junk));
	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(st.last_seq, 4);
	CHECK_EQ_INT(st.records, 4);
	CHECK_EQ_INT(st.corrupt, 1);
	CHECK_EQ_INT(append_range(r, 5, 5), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.corrupt, 0);
	CHECK_EQ_INT(c.n, 5);
	CHECK_EQ_INT(c.mismatch, 0);
}

/* Power loss after page-cache writeback out of order: slot of seq 8 still
 * holds seq 3 from the previous lap, valid but stale. */
static void test_stale_lap_record_skipped(void)
{
	const char *p = tpath("stale.ring"), *q = tpath("stale-src.ring");
	uint8_t old[NS_RING_RECORD_SIZE];
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect c = {0};
	int fd;

	CHECK_EQ_INT(make_ring(p, 5, 12), 0);
	CHECK_EQ_INT(make_ring(q, 5, 3), 0);
	fd = open(q, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(pread(fd, old, sizeof(old), rec_off(5, 3)) == (ssize_t)sizeof(old));
	close(fd);
	poke(p, rec_off(5, 8), old, sizeof(old));
	CHECK_EQ_INT(ns_ringlog_open(p, 5, &r), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(st.last_seq, 12);
	CHECK_EQ_INT(st.stale, 1);
	CHECK_EQ_INT(st.corrupt, 1);
	CHECK_EQ_INT(st.records, 4);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(c.n, 4);
	CHECK_EQ_INT(c.mismatch, 0);
	CHECK_EQ_INT(c.k[0], 9);
	CHECK_EQ_INT(c.k[3], 12);
}

/* A valid record in the wrong slot (a misdirected write) is not trusted. */
static void test_misplaced_record_rejected(void)
{
	const char *p = tpath("shift.ring");
	uint8_t b[NS_RING_RECORD_SIZE];
	struct ns_ring *r;
	struct ns_ring_stats st;
	int fd;

	CHECK_EQ_INT(make_ring(p, 8, 6), 0);
	fd = open(p, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, b, sizeof(b), rec_off(8, 2)) == (ssize_t)sizeof(b));
	CHECK(pwrite(fd, b, sizeof(b), rec_off(8, 6)) == (ssize_t)sizeof(b));
	close(fd);
	CHECK_EQ_INT(ns_ringlog_open(p, 8, &r), 0);
	ns_ring_get_stats(r, &st);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.last_seq, 5);
	CHECK_EQ_INT(st.records, 5);
}

static void test_truncated_file(void)
{
	const char *p = tpath("trunc.ring");
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect c = {0};

	CHECK_EQ_INT(make_ring(p, 20, 15), 0);
	/* Cut inside record 11: 1..10 survive, 11 is torn, 12..15 are gone. */
	CHECK_EQ_INT(truncate(p, rec_off(20, 11) + 50), 0);
	CHECK_EQ_INT(ns_ringlog_open(p, 20, &r), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(st.last_seq, 10);
	CHECK_EQ_INT(st.records, 10);
	CHECK_EQ_INT(file_size(p), (off_t)ns_ring_file_size(20));
	CHECK_EQ_INT(append_range(r, 11, 12), 0);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(c.n, 12);
	CHECK_EQ_INT(c.mismatch, 0);
	CHECK_EQ_INT(c.k[11], 12);

	/* Cut inside the header: refused, and the file is left as it was. */
	CHECK_EQ_INT(truncate(p, 100), 0);
	CHECK_EQ_INT(ns_ringlog_open(p, 20, &r), -EINVAL);
	CHECK(r == NULL);
	CHECK_EQ_INT(file_size(p), 100);
	CHECK_EQ_INT(ns_ringlog_open_readonly(p, &r), -EINVAL);
}

static void test_garbage_file_refused_untouched(void)
{
	const char *p = tpath("garbage.ring");
	static uint8_t junk[64 * 1024], back[sizeof(junk)];
	struct ns_ring *r;
	int fd;

	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, junk, sizeof(junk)) == (ssize_t)sizeof(junk));
	close(fd);
	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), -EINVAL);
	CHECK_EQ_INT(ns_ringlog_open_readonly(p, &r), -EINVAL);
	fd = open(p, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(read(fd, back, sizeof(back)) == (ssize_t)sizeof(back));
	close(fd);
	CHECK(memcmp(junk, back, sizeof(junk)) == 0);
}

/* A valid header over random records (e.g. a disk that returned junk): every
 * record is rejected, the ring starts empty and works. */
static void test_garbage_records_recovered(void)
{
	const char *p = tpath("junkrec.ring");
	static uint8_t junk[8 * NS_RING_RECORD_SIZE];
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct collect c = {0};

	CHECK_EQ_INT(make_ring(p, 8, 0), 0);
	srand(11);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)rand();
	poke(p, NS_RING_HEADER_SIZE, junk, sizeof(junk));
	CHECK_EQ_INT(ns_ringlog_open(p, 8, &r), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(st.records, 0);
	CHECK_EQ_INT(st.last_seq, 0);
	CHECK_EQ_INT(append_range(r, 1, 3), 0);
	CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(c.n, 3);
	CHECK_EQ_INT(c.mismatch, 0);
}

static void test_wrong_capacity_or_layout_refused(void)
{
	const char *p = tpath("cap.ring");
	uint8_t h[64];
	struct ns_ring *r;
	struct ns_ring_stats st;
	int fd;

	CHECK_EQ_INT(make_ring(p, 16, 3), 0);
	CHECK_EQ_INT(ns_ringlog_open(p, 32, &r), -EINVAL);
	CHECK_EQ_INT(ns_ringlog_open(p, 8, &r), -EINVAL);
	CHECK_EQ_INT(file_size(p), (off_t)ns_ring_file_size(16));
	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), 0);
	ns_ring_get_stats(r, &st);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.records, 3);
	CHECK_EQ_INT(ns_ringlog_open(p, 0, &r), -EINVAL);
	CHECK_EQ_INT(ns_ringlog_open(p, NS_RING_MAX_CAPACITY + 1, &r), -EINVAL);

	/* Another metric count with a correct header checksum: a layout change. */
	fd = open(p, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h));
	h[20] = (uint8_t)(NS_METRIC_COUNT + 1);
	uint32_t crc = crc32c_ref(h, 60);
	for (int i = 0; i < 4; i++)
		h[60 + i] = (uint8_t)(crc >> (8 * i));
	CHECK(pwrite(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h));
	close(fd);
	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), -EINVAL);
	CHECK_EQ_INT(ns_ringlog_open_readonly(p, &r), -EINVAL);

	/* The same byte changed without fixing the checksum: a corrupt header. */
	h[20] = (uint8_t)NS_METRIC_COUNT;
	poke(p, 0, h, sizeof(h));
	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), -EINVAL);
	CHECK_EQ_INT(file_size(p), (off_t)ns_ring_file_size(16));
}

static void test_larger_file_refused(void)
{
	const char *p = tpath("big.ring");
	struct ns_ring *r;

	CHECK_EQ_INT(make_ring(p, 4, 2), 0);
	CHECK_EQ_INT(truncate(p, (off_t)ns_ring_file_size(4) + 1), 0);
	CHECK_EQ_INT(ns_ringlog_open(p, 4, &r), -EINVAL);
	CHECK_EQ_INT(file_size(p), (off_t)ns_ring_file_size(4) + 1);
}

static void test_empty_file_initialised(void)
{
	const char *p = tpath("empty.ring");
	struct ns_ring *r;
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	close(fd);
	CHECK_EQ_INT(ns_ringlog_open_readonly(p, &r), -EINVAL);
	CHECK_EQ_INT(ns_ringlog_open(p, 4, &r), 0);
	CHECK_EQ_INT(append_range(r, 1, 1), 0);
	ns_ringlog_close(r);
	CHECK_EQ_INT(file_size(p), (off_t)ns_ring_file_size(4));
}

/* Runs f with stderr going to a file; returns what it wrote (static buffer). */
static const char *stderr_of(void (*f)(void *), void *arg)
{
	static char out[4096];
	const char *p = tpath("stderr.txt");
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600), saved = dup(2);
	ssize_t n;

	out[0] = '\0';
	if (fd < 0 || saved < 0)
		return "(cannot capture stderr)";
	dup2(fd, 2);
	f(arg);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	return out;
}

struct err_api {
	const char *p;
	int rc_new, rc_close, rc_trunc, rc_cap, rc_absent;
	struct ns_ring_notes created, truncated, absent;
	char err_cap[1024], err_absent[1024], err_close[64];
};

static void err_api_calls(void *arg)
{
	struct err_api *e = arg;
	struct ns_ring *r = NULL;

	e->rc_new = ns_ring_open_err(e->p, 8, &r, &e->created, NULL, 0);
	if (!e->rc_new) {
		append_range(r, 1, 5);
		ns_ring_set_sync_every(r, 10);
		e->rc_close = ns_ring_close_err(r, e->err_close, sizeof(e->err_close));
	}
	if (truncate(e->p, (off_t)ns_ring_file_size(8) - NS_RING_RECORD_SIZE) != 0)
		return;
	r = NULL;
	e->rc_trunc = ns_ring_open_err(e->p, 8, &r, &e->truncated, NULL, 0);
	ns_ring_close_err(r, NULL, 0);
	e->rc_cap = ns_ring_open_err(e->p, 16, &r, NULL, e->err_cap, sizeof(e->err_cap));
	e->rc_absent = ns_ring_open_readonly_err(tpath("absent.ring"), &r, &e->absent,
						 e->err_absent, sizeof(e->err_absent));
}

static void legacy_open_call(void *arg)
{
	struct ns_ring *r = NULL;

	*(int *)arg = ns_ringlog_open(tpath("errapi.ring"), 16, &r);
}

/* The library reports through its return value, err and notes and writes
 * nothing itself; the transitional ns_ring_open logs the same words. */
static void test_errors_reported_not_logged(void)
{
	struct err_api e = {.p = tpath("errapi.ring")};
	const char *logged = stderr_of(err_api_calls, &e);
	int rc = 0;

	CHECK_EQ_STR(logged, "");
	CHECK_EQ_INT(e.rc_new, 0);
	CHECK_EQ_INT(e.created.n, 1);
	CHECK_EQ_INT(e.created.note[0].warning, 0);
	CHECK(strncmp(e.created.note[0].text, "created history ring path=", 26) == 0);
	CHECK_EQ_INT(e.rc_close, 0);
	CHECK_EQ_INT(e.rc_trunc, 0);
	CHECK_EQ_INT(e.truncated.n, 1);
	CHECK_EQ_INT(e.truncated.note[0].warning, 1);
	CHECK(strncmp(e.truncated.note[0].text,
		      "ring file is truncated, missing records are lost path=", 54) == 0);
	CHECK_EQ_INT(e.rc_cap, -EINVAL);
	CHECK(strstr(e.err_cap, "ring capacity differs") != NULL);
	CHECK(strstr(e.err_cap, "file_capacity=8 requested=16") != NULL);
	CHECK_EQ_INT(e.rc_absent, -ENOENT);
	CHECK_EQ_INT(e.absent.n, 0);
	CHECK(strstr(e.err_absent, "cannot open ring path=") != NULL);
	CHECK(strstr(e.err_absent, "error=\"") != NULL);

	logged = stderr_of(legacy_open_call, &rc);
	CHECK_EQ_INT(rc, -EINVAL);
	CHECK(strncmp(logged, "ERROR ring: ring capacity differs, refusing to resize it", 56) == 0);
}

static void test_single_writer_and_live_reader(void)
{
	const char *p = tpath("rw.ring");
	struct ns_ring *w, *w2, *ro;
	struct ns_ring_stats st;
	struct ns_sample s;
	struct collect c = {0};

	CHECK_EQ_INT(ns_ringlog_open_readonly(tpath("nope.ring"), &ro), -ENOENT);
	CHECK_EQ_INT(file_size(tpath("nope.ring")), -1);
	CHECK_EQ_INT(ns_ringlog_open(p, 64, &w), 0);
	CHECK_EQ_INT(ns_ringlog_open(p, 64, &w2), -EBUSY);
	CHECK_EQ_INT(append_range(w, 1, 5), 0);
	CHECK_EQ_INT(ns_ringlog_open_readonly(p, &ro), 0);
	ns_ring_get_stats(ro, &st);
	CHECK_EQ_INT(st.records, 5);
	CHECK_EQ_INT(st.capacity, 64);
	payload(6, &s);
	CHECK_EQ_INT(ns_ring_append(ro, &s), -EROFS);
	CHECK_EQ_INT(append_range(w, 6, 8), 0);
	CHECK_EQ_INT(ns_ring_foreach(ro, collect_cb, &c), 0);
	ns_ringlog_close(ro);
	ns_ringlog_close(w);
	CHECK_EQ_INT(c.n, 8);
	CHECK_EQ_INT(c.mismatch, 0);
}

static void test_sync_policy(void)
{
	const char *p = tpath("sync.ring");
	struct ns_ring *r;
	struct ns_ring_stats st;

	CHECK_EQ_INT(ns_ringlog_open(p, 16, &r), 0);
	ns_ring_set_sync_every(r, 3);
	CHECK_EQ_INT(append_range(r, 1, 7), 0);
	ns_ring_get_stats(r, &st);
	CHECK_EQ_INT(st.syncs, 2);
	CHECK_EQ_INT(ns_ring_sync(r), 0);
	ns_ring_get_stats(r, &st);
	ns_ringlog_close(r);
	CHECK_EQ_INT(st.syncs, 3);
}

static void test_csv_export_exact(void)
{
	const char *p = tpath("csv.ring");
	struct ns_ring *r;
	struct ns_sample s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	CHECK_EQ_INT(ns_ringlog_open(p, 2, &r), 0);
	for (uint64_t k = 1; k <= 3; k++) {
		ns_sample_init(&s, 1790000000000ull + k * 10000);
		s.v[NS_M_CPU_UTIL] = 0.25f * (float)k;
		s.v[NS_M_MEM_UTIL] = 1.0f / 3.0f;
		s.v[NS_M_PODS] = (float)(40 + k);
		s.v[NS_M_DISK_IOPS] = 123456.789f;
		if (k == 3)
			s.v[NS_M_MEM_UTIL] = NAN;
		CHECK_EQ_INT(ns_ring_append(r, &s), 0);
	}
	f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	CHECK_EQ_INT(ns_ring_export_csv(r, f), 0);
	fclose(f);
	ns_ringlog_close(r);
	CHECK_EQ_STR(buf,
		     "timestamp_ms,cpu_util,mem_util,load1,load5,load15,ncpu,mem_total_mib,"
		     "mem_avail_mib,psi_cpu_some,psi_mem_some,psi_mem_full,psi_io_some,psi_io_full,"
		     "pods,pod_cpu_req_m,pod_mem_lim_mib,pod_cpu_use,pod_mem_use_mib,rtt_p50_us,"
		     "rtt_p99_us,tcp_retrans,disk_p50_us,disk_p99_us,disk_iops\n"
		     "1790000020000,0.5,0.333333343,,,,,,,,,,,,42,,,,,,,,,,123456.789\n"
		     "1790000030000,0.75,,,,,,,,,,,,,43,,,,,,,,,,123456.789\n");
	free(buf);
}

/* --- kill -9: a real writer process killed at random moments --- */

#define KILL_CAP 1000u
#define KILL_MIN_ROUNDS 60  /* kills in all */
#define KILL_MIN_WRITING 50 /* kills that landed while the writer was appending */
#define KILL_MAX_ROUNDS 300
#define KILL_BUDGET_MS 50000u

struct shared {
	_Atomic uint64_t done; /* k of the last append that returned */
};

static void writer(const char *p, struct shared *sh)
{
	struct ns_ring *r;
	struct ns_ring_stats st;
	struct ns_sample s;
	uint64_t t0 = ns_mono_ns();

	if (ns_ringlog_open(p, KILL_CAP, &r))
		_exit(2);
	ns_ring_get_stats(r, &st);
	/* Bounded even if the parent never kills us. */
	for (uint64_t k = st.last_seq + 1; ns_mono_ns() - t0 < 5000000000ull; k++) {
		payload(k, &s);
		if (ns_ring_append(r, &s))
			_exit(3);
		atomic_store(&sh->done, k);
	}
	_exit(0);
}

static void test_kill9_random_moments(void)
{
	const char *p = tpath("kill.ring");
	struct shared *sh;
	struct ns_ring *r;
	struct ns_ring_stats st;
	static struct collect c;
	uint64_t t0 = ns_mono_ns(), prev_done = 0, progressed = 0, max_batch = 0;
	int rounds = 0, status;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(sh != MAP_FAILED);
	atomic_store(&sh->done, 0);
	srand((unsigned)time(NULL));
	/* Until enough kills hit a writer that was appending: on a loaded machine
	 * some land before the child has run at all. */
	for (; rounds < KILL_MAX_ROUNDS &&
	       (rounds < KILL_MIN_ROUNDS || progressed < KILL_MIN_WRITING);
	     rounds++) {
		if ((ns_mono_ns() - t0) / 1000000 > KILL_BUDGET_MS)
			break;
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			writer(p, sh);
		usleep((useconds_t)(rand() % 20001));
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

		uint64_t done = atomic_load(&sh->done);
		/* The lock died with the writer: a new writer may open at once. */
		CHECK_EQ_INT(ns_ringlog_open(p, KILL_CAP, &r), 0);
		ns_ring_get_stats(r, &st);
		memset(&c, 0, sizeof(c));
		CHECK_EQ_INT(ns_ring_foreach(r, collect_cb, &c), 0);
		ns_ringlog_close(r);
		/* Every append that returned is on disk; the one in flight may be too. */
		CHECK(st.last_seq == done || st.last_seq == done + 1);
		CHECK_EQ_INT(st.corrupt, 0);
		CHECK_EQ_INT(st.stale, 0);
		uint64_t want = st.last_seq < KILL_CAP ? st.last_seq : KILL_CAP;
		CHECK_EQ_INT(st.records, want);
		CHECK_EQ_INT(c.n, want);
		CHECK_EQ_INT(c.mismatch, 0);
		for (size_t i = 0; i < c.n && i < sizeof(c.k) / sizeof(c.k[0]); i++)
			CHECK_EQ_INT(c.k[i], st.last_seq - want + 1 + i);
		if (st.last_seq > prev_done)
			progressed++;
		if (st.last_seq - prev_done > max_batch)
			max_batch = st.last_seq - prev_done;
		/* The next writer resumes after what is on disk. */
		atomic_store(&sh->done, st.last_seq);
		prev_done = st.last_seq;
	}
	munmap(sh, sizeof(*sh));
	fprintf(stderr,
		"  kill9: rounds=%d killed_while_writing=%llu records=%llu max_per_round=%llu "
		"ms=%llu\n",
		rounds, (unsigned long long)progressed, (unsigned long long)prev_done,
		(unsigned long long)max_batch, (unsigned long long)((ns_mono_ns() - t0) / 1000000));
	CHECK(rounds >= KILL_MIN_ROUNDS);
	/* Kills must land while records are being written, or the test proves little. */
	CHECK(progressed >= KILL_MIN_WRITING);
	CHECK(prev_done > KILL_CAP);
}

struct order {
	uint64_t last, n;
	int bad; /* out of order or wrong payload */
};

static int order_cb(const struct ns_sample *s, void *arg)
{
	struct order *o = arg;
	struct ns_sample want;
	uint64_t k = s->ts_ms - 1700000000000ull;

	payload(k, &want);
	if (!same_sample(s, &want) || k <= o->last)
		o->bad++;
	o->last = k;
	o->n++;
	return 0;
}

/* The CSV export runs while the agent appends: a reader must only ever see
 * whole records, in order, however the writer's pwrites interleave. */
static void test_reader_during_writes(void)
{
	const char *p = tpath("live.ring");
	struct ns_ring *r;
	struct order o;
	int status, passes = 0, saw_full = 0;
	pid_t pid;

	CHECK_EQ_INT(make_ring(p, 500, 1), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct ns_sample s;
		uint64_t t0 = ns_mono_ns();

		if (ns_ringlog_open(p, 500, &r))
			_exit(2);
		for (uint64_t k = 2; ns_mono_ns() - t0 < 400000000ull; k++) {
			payload(k, &s);
			if (ns_ring_append(r, &s))
				_exit(3);
		}
		ns_ringlog_close(r);
		_exit(0);
	}
	for (uint64_t t0 = ns_mono_ns(); ns_mono_ns() - t0 < 300000000ull && passes < 2000;
	     passes++) {
		CHECK_EQ_INT(ns_ringlog_open_readonly(p, &r), 0);
		memset(&o, 0, sizeof(o));
		int err = ns_ring_foreach(r, order_cb, &o);
		ns_ringlog_close(r);
		CHECK_EQ_INT(err, 0);
		CHECK_EQ_INT(o.bad, 0);
		CHECK(o.n <= 500);
		saw_full += o.n >= 400;
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fprintf(stderr, "  live reader: passes=%d mostly_full=%d\n", passes, saw_full);
	CHECK(passes >= 10);
	CHECK(saw_full > 0);
}

static void test_export_error_reported(void)
{
	const char *p = tpath("full.ring");
	struct ns_ring *r;
	FILE *f = fopen("/dev/full", "w");

	CHECK(f != NULL);
	CHECK_EQ_INT(make_ring(p, 16, 16), 0);
	CHECK_EQ_INT(ns_ringlog_open_readonly(p, &r), 0);
	CHECK_EQ_INT(ns_ring_export_csv(r, f), -EIO);
	ns_ringlog_close(r);
	fclose(f);
}

static int rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[512];

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		unlink(p);
	}
	closedir(d);
	return rmdir(path);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ring_test.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	/* Refusals log on purpose; keep the test output to results. */
	ns_log_max = NS_LOG_ERROR;
	RUN(test_file_size_default);
	RUN(test_round_trip);
	RUN(test_nan_and_bits_preserved);
	RUN(test_wrap_keeps_newest_in_order);
	RUN(test_corrupt_middle_skipped_and_counted);
	RUN(test_torn_newest_record);
	RUN(test_torn_newest_record_unwrapped);
	RUN(test_stale_lap_record_skipped);
	RUN(test_misplaced_record_rejected);
	RUN(test_truncated_file);
	RUN(test_garbage_file_refused_untouched);
	RUN(test_garbage_records_recovered);
	RUN(test_wrong_capacity_or_layout_refused);
	RUN(test_larger_file_refused);
	RUN(test_empty_file_initialised);
	RUN(test_errors_reported_not_logged);
	RUN(test_single_writer_and_live_reader);
	RUN(test_sync_policy);
	RUN(test_csv_export_exact);
	RUN(test_export_error_reported);
	RUN(test_reader_during_writes);
	RUN(test_kill9_random_moments);
	rm_tree(dir);
	return CHECK_SUMMARY();
}
