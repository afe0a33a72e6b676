// SPDX-License-Identifier: MIT
/* History ring file: create and open with crash recovery by scanning,
 * append, read back, CSV export. The byte layout is in ring_format.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodescore/fileio.h"
#include "nodescore/ring.h"
#include "ring_int.h"

uint64_t ns_ring_file_size(uint32_t capacity)
{
	return NS_RING_HEADER_SIZE + (uint64_t)capacity * NS_RING_RECORD_SIZE;
}

/* Reads slots [first, first + n) into buf; bytes past the end of the file
 * (a truncated ring) read as zero, i.e. empty slots. */
static int read_slots(const struct ns_ring *r, uint32_t first, uint32_t n, uint8_t *buf)
{
	size_t want = (size_t)n * NS_RING_RECORD_SIZE, got = 0;
	ssize_t k;

	while (got < want) {
		k = pread(r->fd, buf + got, want - got, (off_t)(ns_ring_slot_off(first) + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	memset(buf + got, 0, want - got);
	return 0;
}

static void bit_set(uint8_t *bm, uint32_t i)
{
	bm[i / 8] = (uint8_t)(bm[i / 8] | (1u << (i % 8)));
}

static void bit_clear(uint8_t *bm, uint32_t i)
{
	bm[i / 8] = (uint8_t)(bm[i / 8] & ~(1u << (i % 8)));
}

static int bit_get(const uint8_t *bm, uint32_t i)
{
	return (bm[i / 8] >> (i % 8)) & 1;
}

/* Finds the head (newest valid seq) and counts the window's valid records.
 * Pass two only runs when an older lap's record survived (stale). Slots past
 * the end of a truncated file are empty and not read. */
static int scan(struct ns_ring *r)
{
	uint8_t *buf = malloc((size_t)CHUNK_RECS * NS_RING_RECORD_SIZE);
	uint64_t max = 0, min = UINT64_MAX, valid = 0, seq = 0, lo, tail_bad = 0;
	struct stat sb;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	if (fstat(r->fd, &sb) < 0) {
		err = -errno;
		goto out;
	}
	/* A partial last record still counts as present: its checksum rejects it. */
	r->present = r->capacity;
	if ((uint64_t)sb.st_size <= NS_RING_HEADER_SIZE)
		r->present = 0;
	else if ((uint64_t)sb.st_size < ns_ring_file_size(r->capacity))
		r->present = (uint32_t)(((uint64_t)sb.st_size - NS_RING_HEADER_SIZE +
					 NS_RING_RECORD_SIZE - 1) /
					NS_RING_RECORD_SIZE);
	if (r->valid)
		memset(r->valid, 0, ((size_t)r->capacity + 7) / 8);
	for (uint32_t first = 0; first < r->present; first += CHUNK_RECS) {
		uint32_t n = r->present - first < CHUNK_RECS ? r->present - first : CHUNK_RECS;

		err = read_slots(r, first, n, buf);
		if (err)
			goto out;
		for (uint32_t i = 0; i < n; i++) {
			enum rec_state rs = ns_ring_decode_record(
			    r, buf + (size_t)i * NS_RING_RECORD_SIZE, first + i, &seq, NULL);

			tail_bad += rs == REC_CORRUPT;
			if (rs != REC_VALID)
				continue;
			tail_bad = 0;
			valid++;
			max = seq > max ? seq : max;
			min = seq < min ? seq : min;
			if (r->valid)
				bit_set(r->valid, first + i);
		}
	}
	r->next_seq = max + 1;
	r->stale = 0;
	lo = ns_ring_window_lo(r);
	if (valid && min < lo) {
		valid = 0;
		for (uint32_t first = 0; first < r->present; first += CHUNK_RECS) {
			uint32_t n =
			    r->present - first < CHUNK_RECS ? r->present - first : CHUNK_RECS;

			err = read_slots(r, first, n, buf);
			if (err)
				goto out;
			for (uint32_t i = 0; i < n; i++) {
				if (ns_ring_decode_record(r, buf + (size_t)i * NS_RING_RECORD_SIZE,
							  first + i, &seq, NULL) != REC_VALID)
					continue;
				if (seq >= lo) {
					valid++;
				} else {
					r->stale++;
					if (r->valid)
						bit_clear(r->valid, first + i);
				}
			}
		}
	}
	r->records = valid;
	r->corrupt = (max - lo + 1) - valid;
	if (max == 0)
		r->corrupt = 0;
	/* Before the first wrap the slots past the head are outside the window and
	 * should be empty: damage there (the newest record torn or overwritten)
	 * counts too, as it does in a wrapped ring, whose next slot is in it. */
	if (max < r->capacity)
		r->corrupt += tail_bad;
out:
	free(buf);
	return err;
}

static int pwrite_all(int fd, const uint8_t *b, size_t n, uint64_t off)
{
	ssize_t k;

	while (n) {
		k = pwrite(fd, b, n, (off_t)off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO;
		b += k;
		n -= (size_t)k;
		off += (uint64_t)k;
	}
	return 0;
}

/* Creates a complete ring file (header, full size) under a temporary name and
 * only then links it into place, so path never names a half-made ring. With
 * replace set, an existing (empty) file at path is replaced. */
static int create_file(const char *path, uint32_t capacity, int replace)
{
	char tmp[PATH_MAX];
	uint8_t *h = NULL;
	uint64_t size = ns_ring_file_size(capacity);
	int fd, err = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	h = malloc(NS_RING_HEADER_SIZE);
	if (!h) {
		err = -ENOMEM;
		goto out;
	}
	ns_ring_encode_header(h, capacity);
	err = pwrite_all(fd, h, NS_RING_HEADER_SIZE, 0);
	if (err)
		goto out;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		goto out;
	}
	/* Reserve the blocks now so a full disk shows up at start, not mid-history. */
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, (off_t)size) < 0 && errno != EOPNOTSUPP) {
		err = -errno;
		goto out;
	}
	if (fchmod(fd, 0640) < 0 || fsync(fd) < 0) {
		err = -errno;
		goto out;
	}
	if (replace) {
		if (rename(tmp, path) < 0)
			err = -errno;
	} else {
		if (link(tmp, path) < 0)
			err = -errno;
	}
	if (!err)
		err = ns_file_sync_parent(path);
out:
	free(h);
	close(fd);
	unlink(tmp);
	return err;
}

/* Appends one line for the caller to log; a full list drops the rest. */
__attribute__((format(printf, 3, 4))) static void note(struct ns_ring_notes *nt, int warning,
						       const char *fmt, ...)
{
	va_list ap;

	if (!nt || nt->n >= NS_RING_MAX_NOTES)
		return;
	nt->note[nt->n].warning = warning;
	va_start(ap, fmt);
	vsnprintf(nt->note[nt->n].text, sizeof(nt->note[0].text), fmt, ap);
	va_end(ap);
	nt->n++;
}

static int ring_open(const char *path, uint32_t capacity, int readonly, struct ns_ring **out,
		     struct ns_ring_notes *notes, char *err, size_t errlen)
{
	struct ns_ring *r = NULL;
	uint8_t h[HDR_USED];
	struct stat sb;
	uint64_t size;
	ssize_t k;
	int e = 0, tries = 0;

	*out = NULL;
	if (notes)
		notes->n = 0;
	if (err && errlen)
		err[0] = '\0';
	if (!path || !*path) {
		NS_RING_ERR("no ring path given");
		return -EINVAL;
	}
	if (!readonly && (capacity == 0 || capacity > NS_RING_MAX_CAPACITY)) {
		NS_RING_ERR("ring capacity out of range capacity=%u min=1 max=%u", capacity,
			    NS_RING_MAX_CAPACITY);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		NS_RING_ERR("out of memory opening ring path=%s", path);
		return -ENOMEM;
	}
	r->fd = -1;
	r->readonly = readonly;
	r->path = strdup(path);
	if (!r->path) {
		e = -ENOMEM;
		NS_RING_ERR("out of memory opening ring path=%s", path);
		goto fail;
	}
again:
	r->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (r->fd < 0 && errno == ENOENT && !readonly && tries++ < 2) {
		e = create_file(path, capacity, 0);
		if (e && e != -EEXIST) {
			NS_RING_ERR("cannot create ring path=%s error=\"%s\"", path, strerror(-e));
			goto fail;
		}
		if (!e)
			note(notes, 0, "created history ring path=%s capacity=%u bytes=%llu", path,
			     capacity, (unsigned long long)ns_ring_file_size(capacity));
		goto again;
	}
	if (r->fd < 0) {
		e = -errno;
		NS_RING_ERR("cannot open ring path=%s error=\"%s\"", path, strerror(-e));
		goto fail;
	}
	if (!readonly && flock(r->fd, LOCK_EX | LOCK_NB) < 0) {
		e = errno == EWOULDBLOCK ? -EBUSY : -errno;
		NS_RING_ERR("ring is in use by another writer path=%s", path);
		goto fail;
	}
	if (fstat(r->fd, &sb) < 0) {
		e = -errno;
		NS_RING_ERR("cannot stat ring path=%s error=\"%s\"", path, strerror(-e));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		NS_RING_ERR("ring path is not a regular file path=%s", path);
		e = -EINVAL;
		goto fail;
	}
	if (sb.st_size == 0 && !readonly && tries++ < 2) {
		/* An empty file holds no history: a touch, or an interrupted copy. */
		note(notes, 0, "ring file is empty, initialising it path=%s", path);
		e = create_file(path, capacity, 1);
		if (e) {
			NS_RING_ERR("cannot initialise ring path=%s error=\"%s\"", path,
				    strerror(-e));
			goto fail;
		}
		close(r->fd);
		goto again;
	}
	if ((uint64_t)sb.st_size < NS_RING_HEADER_SIZE) {
		NS_RING_ERR("file too short for a ring header, refusing it path=%s bytes=%lld",
			    path, (long long)sb.st_size);
		e = -EINVAL;
		goto fail;
	}
	do
		k = pread(r->fd, h, sizeof(h), 0);
	while (k < 0 && errno == EINTR);
	if (k != (ssize_t)sizeof(h)) {
		e = k < 0 ? -errno : -EIO;
		NS_RING_ERR("cannot read ring header path=%s", path);
		goto fail;
	}
	e = ns_ring_check_header(path, h, readonly ? 0 : capacity, &r->capacity, err, errlen);
	if (e)
		goto fail;
	size = ns_ring_file_size(r->capacity);
	if ((uint64_t)sb.st_size > size) {
		NS_RING_ERR("ring file is larger than its layout, refusing it path=%s bytes=%lld "
			    "expected=%llu",
			    path, (long long)sb.st_size, (unsigned long long)size);
		e = -EINVAL;
		goto fail;
	}
	if ((uint64_t)sb.st_size < size) {
		note(notes, 1,
		     "ring file is truncated, missing records are lost path=%s bytes=%lld "
		     "expected=%llu",
		     path, (long long)sb.st_size, (unsigned long long)size);
		if (!readonly && ftruncate(r->fd, (off_t)size) < 0) {
			e = -errno;
			NS_RING_ERR("cannot extend truncated ring path=%s error=\"%s\"", path,
				    strerror(-e));
			goto fail;
		}
	}
	if (!readonly) {
		r->valid = calloc(1, ((size_t)r->capacity + 7) / 8);
		if (!r->valid) {
			e = -ENOMEM;
			NS_RING_ERR("out of memory opening ring path=%s", path);
			goto fail;
		}
	}
	e = scan(r);
	if (e) {
		NS_RING_ERR("cannot read ring path=%s error=\"%s\"", path, strerror(-e));
		goto fail;
	}
	if (r->corrupt || r->stale)
		note(notes, 1,
		     "ring has damaged records, skipping them path=%s corrupt=%llu "
		     "stale=%llu valid=%llu",
		     path, (unsigned long long)r->corrupt, (unsigned long long)r->stale,
		     (unsigned long long)r->records);
	*out = r;
	return 0;
fail:
	/* Nothing was appended: no sync can fail here. */
	ns_ring_close_err(r, NULL, 0);
	return e;
}

int ns_ring_open_err(const char *path, uint32_t capacity, struct ns_ring **out,
		     struct ns_ring_notes *notes, char *err, size_t errlen)
{
	return ring_open(path, capacity, 0, out, notes, err, errlen);
}

int ns_ring_open_readonly_err(const char *path, struct ns_ring **out, struct ns_ring_notes *notes,
			      char *err, size_t errlen)
{
	return ring_open(path, 0, 1, out, notes, err, errlen);
}

int ns_ring_sync(struct ns_ring *r)
{
	if (r->readonly)
		return 0;
	if (fdatasync(r->fd) < 0)
		return -errno;
	r->syncs++;
	r->unsynced = 0;
	return 0;
}

void ns_ring_set_sync_every(struct ns_ring *r, uint32_t n)
{
	r->sync_every = n;
}

int ns_ring_append(struct ns_ring *r, const struct ns_sample *s)
{
	uint8_t b[NS_RING_RECORD_SIZE];
	uint64_t seq = r->next_seq;
	uint32_t slot;
	int err;

	if (r->readonly)
		return -EROFS;
	if (seq > SEQ_MAX)
		return -EOVERFLOW;
	slot = ns_ring_slot_of(r, seq);
	ns_ring_encode_record(b, seq, s);
	err = pwrite_all(r->fd, b, sizeof(b), ns_ring_slot_off(slot));
	if (err)
		return err;
	r->next_seq++;
	r->appends++;
	if (!bit_get(r->valid, slot)) {
		bit_set(r->valid, slot);
		r->records++;
		/* The slot was a damaged record of the window, which it now leaves. */
		if (seq > r->capacity && r->corrupt)
			r->corrupt--;
	}
	if (r->sync_every && ++r->unsynced >= r->sync_every)
		return ns_ring_sync(r);
	return 0;
}

int ns_ring_foreach(struct ns_ring *r, int (*cb)(const struct ns_sample *s, void *arg), void *arg)
{
	uint8_t *buf;
	struct ns_sample s;
	uint64_t expect, last, seq = 0, bad = 0;
	uint32_t slot, n;
	int err = 0;

	/* A reader shares the file with a live writer: find its newest head first. */
	if (r->readonly) {
		err = scan(r);
		if (err)
			return err;
	}
	last = r->next_seq - 1;
	if (last == 0)
		return 0;
	buf = malloc((size_t)CHUNK_RECS * NS_RING_RECORD_SIZE);
	if (!buf)
		return -ENOMEM;
	expect = ns_ring_window_lo(r);
	while (expect <= last) {
		slot = ns_ring_slot_of(r, expect);
		n = r->capacity - slot;
		if (n > CHUNK_RECS)
			n = CHUNK_RECS;
		if (n > last - expect + 1)
			n = (uint32_t)(last - expect + 1);
		err = read_slots(r, slot, n, buf);
		if (err)
			goto out;
		for (uint32_t i = 0; i < n; i++, expect++) {
			/* A seq other than expected: an older lap (lost write) or, for a
			 * reader, a newer one the writer appended after our scan. */
			if (ns_ring_decode_record(r, buf + (size_t)i * NS_RING_RECORD_SIZE,
						  slot + i, &seq, &s) != REC_VALID ||
			    seq != expect) {
				bad++;
				continue;
			}
			if (cb(&s, arg))
				goto out;
		}
	}
	r->corrupt = bad;
out:
	free(buf);
	return err;
}

void ns_ring_get_stats(const struct ns_ring *r, struct ns_ring_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->records = r->records;
	st->corrupt = r->corrupt;
	st->capacity = r->capacity;
	st->file_bytes = ns_ring_file_size(r->capacity);
	st->stale = r->stale;
	st->last_seq = r->next_seq - 1;
	st->appends = r->appends;
	st->syncs = r->syncs;
}

static int csv_row(const struct ns_sample *s, void *arg)
{
	FILE *out = arg;

	fprintf(out, "%llu", (unsigned long long)s->ts_ms);
	for (unsigned i = 0; i < NS_METRIC_COUNT; i++) {
		if (isfinite(s->v[i]))
			fprintf(out, ",%.9g", (double)s->v[i]);
		else
			fputc(',', out);
	}
	fputc('\n', out);
	return ferror(out) ? 1 : 0;
}

int ns_ring_export_csv(struct ns_ring *r, FILE *out)
{
	int err;

	fputs("timestamp_ms", out);
	for (unsigned i = 0; i < NS_METRIC_COUNT; i++)
		fprintf(out, ",%s", ns_metric_names[i]);
	fputc('\n', out);
	err = ns_ring_foreach(r, csv_row, out);
	if (err)
		return err;
	if (fflush(out) != 0 || ferror(out))
		return -EIO;
	return 0;
}

int ns_ring_close_err(struct ns_ring *r, char *err, size_t errlen)
{
	int e = 0;

	if (!r)
		return 0;
	if (r->fd >= 0) {
		if (!r->readonly && r->sync_every && r->unsynced && (e = ns_ring_sync(r)) < 0)
			NS_RING_ERR("fdatasync at close failed path=%s error=\"%s\"", r->path,
				    strerror(-e));
		close(r->fd);
	}
	free(r->valid);
	free(r->path);
	free(r);
	return e;
}
