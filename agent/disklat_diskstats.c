// SPDX-License-Identifier: MIT
/* /proc/diskstats fallback: completed I/Os and time spent on them, summed
 * over whole disks; mean latency and IOPS per interval. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/disklat.h"
#include "nodescore/log.h"
#include "disklat_int.h"

/*
 * /proc/diskstats (Documentation/admin-guide/iostats.rst), one device a line:
 *
 *    8       0 sda 1234 56 78901 2345 678 90 12345 6789 0 3456 9134 0 0 0 0 12 34
 *    8       1 sda1 1200 56 78000 2300 670 90 12300 6700 0 3400 9000 0 0 0 0 0 0
 *  259       0 nvme0n1 ...
 *    7       0 loop0 ...
 *
 * major minor name, then 11 counters (kernel >= 2.6.25), 15 (>= 4.18: discards)
 * or 17 (>= 5.5: flushes). Later kernels may append more: ignored.
 */
enum ds_field {
	DS_READS = 0, /* reads completed */
	DS_READS_MERGED,
	DS_READ_SECTORS,
	DS_READ_MS, /* time spent reading */
	DS_WRITES,  /* writes completed */
	DS_WRITES_MERGED,
	DS_WRITE_SECTORS,
	DS_WRITE_MS,
	DS_IN_FLIGHT,
	DS_IO_MS,
	DS_WEIGHTED_MS,
	DS_DISCARDS, /* 4.18+ */
	DS_DISCARDS_MERGED,
	DS_DISCARD_SECTORS,
	DS_DISCARD_MS,
	DS_FLUSHES, /* 5.5+ */
	DS_FLUSH_MS,
	DS_NFIELDS,
};
#define DS_MIN_FIELDS (DS_WEIGHTED_MS + 1)
#define DS_NAME_MAX 64
/* Malformed lines are logged individually up to this many per parse. */
#define DS_WARN_MAX 3

struct ns_disklat_ds {
	char path[4096];
	char *buf;
	struct ns_diskstats_totals prev;
	uint64_t last_ns;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses one unsigned decimal token at *p (< end); 0 or -1 on no digits/overflow. */
static int parse_u64(const char **p, const char *end, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return -1;
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
		s++;
	}
	if (s < end && !is_space(*s))
		return -1;
	*p = s;
	*out = v;
	return 0;
}

static bool has_prefix(const char *name, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(name, prefix, n) == 0;
}

/* Devices whose I/O is either not disk I/O or counted again on the disks below. */
static bool skipped_device(const char *name, size_t len)
{
	return has_prefix(name, len, "loop") || has_prefix(name, len, "ram") ||
	       has_prefix(name, len, "zram") || has_prefix(name, len, "dm-") ||
	       has_prefix(name, len, "md");
}

/* The kernel lists a disk, then its partitions, named disk + N, or disk + pN
 * when the disk name ends in a digit (nvme0n1p1, mmcblk0p2). */
static bool is_partition_of(const char *disk, size_t dlen, const char *name, size_t len)
{
	size_t i;

	if (!dlen || len <= dlen || memcmp(disk, name, dlen) != 0)
		return false;
	i = dlen;
	if (disk[dlen - 1] >= '0' && disk[dlen - 1] <= '9') {
		if (name[i] != 'p')
			return false;
		i++;
	}
	if (i >= len)
		return false;
	for (; i < len; i++)
		if (name[i] < '0' || name[i] > '9')
			return false;
	return true;
}

/* One device line: name (not NUL-terminated) and its counters. */
struct ds_line {
	const char *name;
	size_t nlen;
	uint64_t v[DS_NFIELDS];
};

/* Parses the line [p, le). Returns NULL, or why it is malformed. */
static const char *parse_line(const char *p, const char *le, struct ds_line *l)
{
	uint64_t major, minor, x;
	int nf = 0;

	memset(l, 0, sizeof(*l));
	while (p < le && is_space(*p))
		p++;
	if (parse_u64(&p, le, &major))
		return "number";
	while (p < le && is_space(*p))
		p++;
	if (parse_u64(&p, le, &minor))
		return "number";
	while (p < le && is_space(*p))
		p++;
	l->name = p;
	while (p < le && !is_space(*p))
		p++;
	l->nlen = (size_t)(p - l->name);
	if (!l->nlen || l->nlen >= DS_NAME_MAX)
		return "name";
	for (;;) {
		while (p < le && is_space(*p))
			p++;
		if (p == le)
			break;
		if (parse_u64(&p, le, &x))
			return "number";
		if (nf < DS_NFIELDS)
			l->v[nf] = x;
		nf++;
	}
	return nf < DS_MIN_FIELDS ? "too_few_fields" : NULL;
}

/* Counters come from outside: a sum must not wrap into a small number. */
static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static bool blank(const char *p, const char *le)
{
	while (p < le && is_space(*p))
		p++;
	return p == le;
}

int ns_diskstats_parse(const char *buf, size_t len, struct ns_diskstats_totals *out)
{
	const char *p = buf, *end = buf + len;
	char disk[DS_NAME_MAX] = "";
	size_t dlen = 0, lineno = 0, nlines = 0;

	memset(out, 0, sizeof(*out));
	if (!buf)
		return -EINVAL;
	for (; p < end; lineno++) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;
		const char *why;
		struct ds_line l;

		if (!blank(p, le)) {
			nlines++;
			why = parse_line(p, le, &l);
			if (why) {
				out->nbad++;
				if (out->nbad <= DS_WARN_MAX)
					log_warning(
					    "disklat",
					    "diskstats: malformed line skipped line=%zu reason=%s",
					    lineno + 1, why);
			} else if (!skipped_device(l.name, l.nlen) &&
				   !is_partition_of(disk, dlen, l.name, l.nlen)) {
				memcpy(disk, l.name, l.nlen);
				dlen = l.nlen;
				out->ndisks++;
				out->ios = add_sat(
				    out->ios, add_sat(add_sat(l.v[DS_READS], l.v[DS_WRITES]),
						      add_sat(l.v[DS_DISCARDS], l.v[DS_FLUSHES])));
				out->busy_ms =
				    add_sat(out->busy_ms,
					    add_sat(add_sat(l.v[DS_READ_MS], l.v[DS_WRITE_MS]),
						    add_sat(l.v[DS_DISCARD_MS], l.v[DS_FLUSH_MS])));
			}
		}
		p = eol ? eol + 1 : end;
	}
	if (out->nbad > DS_WARN_MAX)
		log_warning("disklat", "diskstats: malformed lines skipped count=%u", out->nbad);
	if (nlines && out->nbad == nlines)
		return -EINVAL;
	return 0;
}

/* Bounded read of the whole file; content beyond the cap is cut at the last
 * full line so a partial device line is never parsed. */
static int read_file(const char *path, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!err && n == cap) {
		char c;

		if (read(fd, &c, 1) == 1) {
			const char *nl = memrchr(buf, '\n', n);

			log_warning("disklat",
				    "diskstats: file larger than the cap, truncated max_bytes=%zu",
				    cap);
			n = nl ? (size_t)(nl - buf) + 1 : 0;
		}
	}
	close(fd);
	*len = n;
	return err;
}

static int ds_snapshot(struct ns_disklat_ds *d, struct ns_diskstats_totals *t)
{
	size_t len = 0;
	int err;

	err = read_file(d->path, d->buf, NS_DISKSTATS_MAX_BYTES, &len);
	if (err) {
		errno = -err;
		log_warning_errno("disklat", "diskstats: read failed path=%s", d->path);
		return err;
	}
	err = ns_diskstats_parse(d->buf, len, t);
	if (err)
		log_warning("disklat", "diskstats: no parseable line path=%s", d->path);
	return err;
}

int ns_disklat_ds_open(const char *proc_root, struct ns_disklat_ds **out)
{
	struct ns_disklat_ds *d;
	int err, n;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	n = snprintf(d->path, sizeof(d->path), "%s/proc/diskstats",
		     proc_root && *proc_root ? proc_root : "");
	if (n < 0 || (size_t)n >= sizeof(d->path)) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	d->buf = malloc(NS_DISKSTATS_MAX_BYTES);
	if (!d->buf) {
		err = -ENOMEM;
		goto cleanup;
	}
	err = ds_snapshot(d, &d->prev);
	if (err)
		goto cleanup;
	if (!d->prev.ndisks)
		log_warning("disklat", "diskstats: no whole disk found path=%s", d->path);
	d->last_ns = ns_mono_ns();
	*out = d;
	return 0;
cleanup:
	ns_disklat_ds_close(d);
	return err;
}

int ns_disklat_ds_read(struct ns_disklat_ds *d, struct ns_disklat_stats *st)
{
	struct ns_diskstats_totals t;
	uint64_t now;
	int err;

	st->p50_us = st->p99_us = NAN;
	st->iops = NAN;
	st->ios = 0;
	st->interval_s = 0;
	err = ds_snapshot(d, &t);
	if (err)
		return err;
	now = ns_mono_ns();
	st->interval_s = (double)(now - d->last_ns) / 1e9;
	d->last_ns = now;
	if (t.ios < d->prev.ios || t.busy_ms < d->prev.busy_ms || t.ndisks != d->prev.ndisks) {
		log_warning("disklat",
			    "diskstats: disk set changed, skipping interval disks=%u was=%u",
			    t.ndisks, d->prev.ndisks);
		d->prev = t;
		return -EAGAIN;
	}
	st->ios = t.ios - d->prev.ios;
	if (st->interval_s > 0)
		st->iops = (double)st->ios / st->interval_s;
	if (st->ios)
		st->p50_us = (double)(t.busy_ms - d->prev.busy_ms) * 1000.0 / (double)st->ios;
	d->prev = t;
	return 0;
}

void ns_disklat_ds_close(struct ns_disklat_ds *d)
{
	if (!d)
		return;
	free(d->buf);
	free(d);
}
