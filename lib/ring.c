// SPDX-License-Identifier: MIT
/* History ring: on-disk layout, crash recovery by scanning, append, export. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodescore/le.h"
#include "nodescore/fileio.h"
#include "nodescore/log.h"
#include "nodescore/opt.h"
#include "nodescore/ring.h"

#define COMP "ring"
#define MAGIC "NSRING\0\0"
#define HDR_USED 64u	     /* bytes of the header region that carry fields */
#define SEQ_MAX (1ull << 56) /* a bigger seq is garbage that passed the CRC by chance */
#define REC_PAYLOAD (24u + 4u * (unsigned)NS_METRIC_COUNT)
#define CHUNK_RECS 512u /* records per pread while scanning */

_Static_assert(REC_PAYLOAD + 4u <= NS_RING_RECORD_SIZE, "record does not fit");
_Static_assert(NS_RING_HEADER_SIZE >= HDR_USED, "header does not fit");

struct ns_ring {
	int fd;
	int readonly;
	char *path;
	uint32_t capacity;
	uint32_t present;  /* slots that exist in the file (fewer when truncated) */
	uint64_t next_seq; /* seq of the next append; last_seq + 1 */
	uint64_t records;
	uint64_t corrupt;
	uint64_t stale;
	uint64_t appends;
	uint64_t syncs;
	uint32_t sync_every;
	uint32_t unsynced;
	uint8_t *valid; /* writer only: bit per slot, set when it holds a window record */
};

/* CRC32C (Castagnoli, reflected 0x82F63B78): detects every burst error up to
 * 32 bits and is what ext4/btrfs use for the same job. */
/* clang-format off */
static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};
/* clang-format on */

static uint32_t crc32c_sw(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	while (n--)
		c = crc32c_table[(c ^ *p++) & 0xffu] ^ (c >> 8);
	return c ^ 0xffffffffu;
}

#if defined(__x86_64__)
/* SSE4.2 has a CRC32C instruction: about 10x the table, which is what makes
 * the full-file scan at open cheap (a 30-day ring is 33 MB). */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(const uint8_t *p, size_t n)
{
	uint64_t c = 0xffffffffu, w;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; n; n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c ^ 0xffffffffu;
}

static uint32_t crc32c(const uint8_t *p, size_t n)
{
	/* A load and a bit test: libgcc fills the cpu model before main. */
	return __builtin_cpu_supports("sse4.2") ? crc32c_hw(p, n) : crc32c_sw(p, n);
}
#else
static uint32_t crc32c(const uint8_t *p, size_t n)
{
	return crc32c_sw(p, n);
}
#endif

uint64_t ns_ring_file_size(uint32_t capacity)
{
	return NS_RING_HEADER_SIZE + (uint64_t)capacity * NS_RING_RECORD_SIZE;
}

static uint64_t slot_off(uint32_t slot)
{
	return NS_RING_HEADER_SIZE + (uint64_t)slot * NS_RING_RECORD_SIZE;
}

static uint32_t slot_of(const struct ns_ring *r, uint64_t seq)
{
	return (uint32_t)((seq - 1) % r->capacity);
}

/* Seqs of the current window: (last - capacity, last]. */
static uint64_t window_lo(const struct ns_ring *r)
{
	uint64_t last = r->next_seq - 1;

	return last >= r->capacity ? last - r->capacity + 1 : 1;
}

static void encode_record(uint8_t *b, uint64_t seq, const struct ns_sample *s)
{
	uint32_t f;

	memset(b, 0, NS_RING_RECORD_SIZE);
	ns_le_put_u64(b, seq);
	ns_le_put_u64(b + 8, s->ts_ms);
	ns_le_put_u32(b + 16, s->health);
	for (unsigned i = 0; i < NS_METRIC_COUNT; i++) {
		memcpy(&f, &s->v[i], sizeof(f));
		ns_le_put_u32(b + 24 + 4 * i, f);
	}
	ns_le_put_u32(b + NS_RING_RECORD_SIZE - 4, crc32c(b, NS_RING_RECORD_SIZE - 4));
}

enum rec_state { REC_EMPTY, REC_CORRUPT, REC_VALID };

/* Classifies one record read from slot; a valid record's seq must map to the
 * slot it was read from, so a record copied or shifted elsewhere is corrupt. */
static enum rec_state decode_record(const struct ns_ring *r, const uint8_t *b, uint32_t slot,
				    uint64_t *seq, struct ns_sample *s)
{
	static const uint8_t zero[NS_RING_RECORD_SIZE];
	uint32_t f;

	if (memcmp(b, zero, NS_RING_RECORD_SIZE) == 0)
		return REC_EMPTY;
	if (ns_le_get_u32(b + NS_RING_RECORD_SIZE - 4) != crc32c(b, NS_RING_RECORD_SIZE - 4))
		return REC_CORRUPT;
	*seq = ns_le_get_u64(b);
	if (*seq == 0 || *seq > SEQ_MAX || slot_of(r, *seq) != slot)
		return REC_CORRUPT;
	if (s) {
		s->ts_ms = ns_le_get_u64(b + 8);
		s->health = ns_le_get_u32(b + 16);
		for (unsigned i = 0; i < NS_METRIC_COUNT; i++) {
			f = ns_le_get_u32(b + 24 + 4 * i);
			memcpy(&s->v[i], &f, sizeof(f));
		}
	}
	return REC_VALID;
}

/* Reads slots [first, first + n) into buf; bytes past the end of the file
 * (a truncated ring) read as zero, i.e. empty slots. */
static int read_slots(const struct ns_ring *r, uint32_t first, uint32_t n, uint8_t *buf)
{
	size_t want = (size_t)n * NS_RING_RECORD_SIZE, got = 0;
	ssize_t k;

	while (got < want) {
		k = pread(r->fd, buf + got, want - got, (off_t)(slot_off(first) + got));
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
			enum rec_state rs = decode_record(r, buf + (size_t)i * NS_RING_RECORD_SIZE,
							  first + i, &seq, NULL);

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
	lo = window_lo(r);
	if (valid && min < lo) {
		valid = 0;
		for (uint32_t first = 0; first < r->present; first += CHUNK_RECS) {
			uint32_t n =
			    r->present - first < CHUNK_RECS ? r->present - first : CHUNK_RECS;

			err = read_slots(r, first, n, buf);
			if (err)
				goto out;
			for (uint32_t i = 0; i < n; i++) {
				if (decode_record(r, buf + (size_t)i * NS_RING_RECORD_SIZE,
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

static void encode_header(uint8_t *h, uint32_t capacity)
{
	memset(h, 0, NS_RING_HEADER_SIZE);
	memcpy(h, MAGIC, 8);
	ns_le_put_u32(h + 8, NS_RING_VERSION);
	ns_le_put_u32(h + 12, NS_RING_HEADER_SIZE);
	ns_le_put_u32(h + 16, NS_RING_RECORD_SIZE);
	ns_le_put_u32(h + 20, NS_METRIC_COUNT);
	ns_le_put_u32(h + 24, capacity);
	ns_le_put_u64(h + 32, ns_now_ms());
	ns_le_put_u32(h + HDR_USED - 4, crc32c(h, HDR_USED - 4));
}

/* Validates the header; on success *capacity is the file's. want_cap 0 means
 * take whatever the file says. */
static int check_header(const char *path, const uint8_t *h, uint32_t want_cap, uint32_t *capacity)
{
	uint32_t ver = ns_le_get_u32(h + 8), hsz = ns_le_get_u32(h + 12),
		 rsz = ns_le_get_u32(h + 16);
	uint32_t nm = ns_le_get_u32(h + 20), cap = ns_le_get_u32(h + 24);

	if (memcmp(h, MAGIC, 8) != 0) {
		log_error(COMP,
			  "not a nodescore history ring (bad magic), refusing to touch it "
			  "path=%s",
			  path);
		return -EINVAL;
	}
	if (ns_le_get_u32(h + HDR_USED - 4) != crc32c(h, HDR_USED - 4)) {
		log_error(COMP,
			  "ring header checksum mismatch (corrupt header), refusing it path=%s",
			  path);
		return -EINVAL;
	}
	if (ver != NS_RING_VERSION) {
		log_error(COMP, "unsupported ring version path=%s version=%u supported=%u", path,
			  ver, NS_RING_VERSION);
		return -EINVAL;
	}
	if (hsz != NS_RING_HEADER_SIZE || rsz != NS_RING_RECORD_SIZE || nm != NS_METRIC_COUNT) {
		log_error(COMP,
			  "ring record layout differs from this build, refusing it (move the file "
			  "away to start a new history) path=%s header_size=%u record_size=%u "
			  "metrics=%u expected_record_size=%u expected_metrics=%u",
			  path, hsz, rsz, nm, NS_RING_RECORD_SIZE, (unsigned)NS_METRIC_COUNT);
		return -EINVAL;
	}
	if (cap == 0 || cap > NS_RING_MAX_CAPACITY) {
		log_error(COMP, "ring capacity out of range path=%s capacity=%u max=%u", path, cap,
			  NS_RING_MAX_CAPACITY);
		return -EINVAL;
	}
	if (want_cap && cap != want_cap) {
		log_error(COMP,
			  "ring capacity differs, refusing to resize it (move the file away or "
			  "configure the file's capacity) path=%s file_capacity=%u requested=%u",
			  path, cap, want_cap);
		return -EINVAL;
	}
	*capacity = cap;
	return 0;
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
	encode_header(h, capacity);
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

static int ring_open(const char *path, uint32_t capacity, int readonly, struct ns_ring **out)
{
	struct ns_ring *r = NULL;
	uint8_t h[HDR_USED];
	struct stat sb;
	uint64_t size;
	ssize_t k;
	int err = 0, tries = 0;

	*out = NULL;
	if (!path || !*path) {
		log_error(COMP, "no ring path given");
		return -EINVAL;
	}
	if (!readonly && (capacity == 0 || capacity > NS_RING_MAX_CAPACITY)) {
		log_error(COMP, "ring capacity out of range capacity=%u min=1 max=%u", capacity,
			  NS_RING_MAX_CAPACITY);
		return -EINVAL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->readonly = readonly;
	r->path = strdup(path);
	if (!r->path) {
		err = -ENOMEM;
		goto fail;
	}
again:
	r->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NOCTTY);
	if (r->fd < 0 && errno == ENOENT && !readonly && tries++ < 2) {
		err = create_file(path, capacity, 0);
		if (err && err != -EEXIST) {
			errno = -err;
			log_error_errno(COMP, "cannot create ring path=%s", path);
			goto fail;
		}
		if (!err)
			log_info(COMP, "created history ring path=%s capacity=%u bytes=%llu", path,
				 capacity, (unsigned long long)ns_ring_file_size(capacity));
		goto again;
	}
	if (r->fd < 0) {
		err = -errno;
		log_error_errno(COMP, "cannot open ring path=%s", path);
		goto fail;
	}
	if (!readonly && flock(r->fd, LOCK_EX | LOCK_NB) < 0) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_error(COMP, "ring is in use by another writer path=%s", path);
		goto fail;
	}
	if (fstat(r->fd, &sb) < 0) {
		err = -errno;
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		log_error(COMP, "ring path is not a regular file path=%s", path);
		err = -EINVAL;
		goto fail;
	}
	if (sb.st_size == 0 && !readonly && tries++ < 2) {
		/* An empty file holds no history: a touch, or an interrupted copy. */
		log_info(COMP, "ring file is empty, initialising it path=%s", path);
		err = create_file(path, capacity, 1);
		if (err) {
			errno = -err;
			log_error_errno(COMP, "cannot initialise ring path=%s", path);
			goto fail;
		}
		close(r->fd);
		goto again;
	}
	if ((uint64_t)sb.st_size < NS_RING_HEADER_SIZE) {
		log_error(COMP, "file too short for a ring header, refusing it path=%s bytes=%lld",
			  path, (long long)sb.st_size);
		err = -EINVAL;
		goto fail;
	}
	do
		k = pread(r->fd, h, sizeof(h), 0);
	while (k < 0 && errno == EINTR);
	if (k != (ssize_t)sizeof(h)) {
		err = k < 0 ? -errno : -EIO;
		log_error(COMP, "cannot read ring header path=%s", path);
		goto fail;
	}
	err = check_header(path, h, readonly ? 0 : capacity, &r->capacity);
	if (err)
		goto fail;
	size = ns_ring_file_size(r->capacity);
	if ((uint64_t)sb.st_size > size) {
		log_error(COMP,
			  "ring file is larger than its layout, refusing it path=%s bytes=%lld "
			  "expected=%llu",
			  path, (long long)sb.st_size, (unsigned long long)size);
		err = -EINVAL;
		goto fail;
	}
	if ((uint64_t)sb.st_size < size) {
		log_warning(COMP,
			    "ring file is truncated, missing records are lost path=%s bytes=%lld "
			    "expected=%llu",
			    path, (long long)sb.st_size, (unsigned long long)size);
		if (!readonly && ftruncate(r->fd, (off_t)size) < 0) {
			err = -errno;
			log_error_errno(COMP, "cannot extend truncated ring path=%s", path);
			goto fail;
		}
	}
	if (!readonly) {
		r->valid = calloc(1, ((size_t)r->capacity + 7) / 8);
		if (!r->valid) {
			err = -ENOMEM;
			goto fail;
		}
	}
	err = scan(r);
	if (err) {
		errno = -err;
		log_error_errno(COMP, "cannot read ring path=%s", path);
		goto fail;
	}
	if (r->corrupt || r->stale)
		log_warning(COMP,
			    "ring has damaged records, skipping them path=%s corrupt=%llu "
			    "stale=%llu valid=%llu",
			    path, (unsigned long long)r->corrupt, (unsigned long long)r->stale,
			    (unsigned long long)r->records);
	*out = r;
	return 0;
fail:
	ns_ring_close(r);
	return err;
}

int ns_ring_open(const char *path, uint32_t capacity, struct ns_ring **out)
{
	return ring_open(path, capacity, 0, out);
}

int ns_ring_open_readonly(const char *path, struct ns_ring **out)
{
	return ring_open(path, 0, 1, out);
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
	slot = slot_of(r, seq);
	encode_record(b, seq, s);
	err = pwrite_all(r->fd, b, sizeof(b), slot_off(slot));
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
	expect = window_lo(r);
	while (expect <= last) {
		slot = slot_of(r, expect);
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
			if (decode_record(r, buf + (size_t)i * NS_RING_RECORD_SIZE, slot + i, &seq,
					  &s) != REC_VALID ||
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

void ns_ring_close(struct ns_ring *r)
{
	if (!r)
		return;
	if (r->fd >= 0) {
		if (!r->readonly && r->sync_every && r->unsynced && ns_ring_sync(r) < 0)
			log_warning_errno(COMP, "fdatasync at close failed path=%s", r->path);
		close(r->fd);
	}
	free(r->valid);
	free(r->path);
	free(r);
}
