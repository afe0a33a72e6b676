// SPDX-License-Identifier: MIT
/* libFuzzer target: any bytes on disk as a history ring file must be refused
 * or read (open, foreach, export, append) without crashing. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodescore/log.h"
#include "nodescore/ring.h"
#include "nodescore/ringlog.h"
#include "tests/crc32c_ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int count_cb(const struct ns_sample *s, void *arg)
{
	(void)s;
	(*(size_t *)arg)++;
	return 0;
}

/* Random bytes almost never carry a valid CRC, so the first input byte picks
 * repairs that let the fuzzer reach the record and sequence logic:
 *   bit 0: write this build's header (capacity 1 + data[1] % 64) before the rest
 *   bit 1: fix every whole record's CRC
 *   bit 2: fix the header CRC (when bit 0 is clear) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	char path[64];
	uint8_t *buf;
	size_t len, n = 0;
	uint32_t cap = 16;
	struct ns_ring *r = NULL;
	struct ns_sample s;
	int fd;

	if (size < 2)
		return 0;
	ns_log_max = NS_LOG_ERROR;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	len = size - 2 + NS_RING_HEADER_SIZE;
	buf = calloc(1, len);
	if (!buf)
		return 0;
	if (data[0] & 1) {
		cap = 1u + data[1] % 64u;
		memcpy(buf, "NSRING\0\0", 8);
		put_u32(buf + 8, NS_RING_VERSION);
		put_u32(buf + 12, NS_RING_HEADER_SIZE);
		put_u32(buf + 16, NS_RING_RECORD_SIZE);
		put_u32(buf + 20, NS_METRIC_COUNT);
		put_u32(buf + 24, cap);
		put_u32(buf + 60, crc32c_ref(buf, 60));
		memcpy(buf + NS_RING_HEADER_SIZE, data + 2, size - 2);
	} else {
		len = size - 2;
		memcpy(buf, data + 2, len);
		if ((data[0] & 4) && len >= 64)
			put_u32(buf + 60, crc32c_ref(buf, 60));
		if (len >= 28) {
			memcpy(&cap, buf + 24, 4);
			if (cap == 0 || cap > 4096)
				cap = 16;
		}
	}
	if (data[0] & 2) {
		for (size_t off = NS_RING_HEADER_SIZE; off + NS_RING_RECORD_SIZE <= len;
		     off += NS_RING_RECORD_SIZE)
			put_u32(buf + off + NS_RING_RECORD_SIZE - 4,
				crc32c_ref(buf + off, NS_RING_RECORD_SIZE - 4));
	}
	snprintf(path, sizeof(path), "/tmp/ring_fuzz.%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, len) != (ssize_t)len) {
		if (fd >= 0)
			close(fd);
		free(buf);
		unlink(path);
		return 0;
	}
	close(fd);
	free(buf);

	if (ns_ringlog_open_readonly(path, &r) == 0) {
		ns_ring_foreach(r, count_cb, &n);
		if (devnull)
			ns_ring_export_csv(r, devnull);
		ns_ringlog_close(r);
	}
	r = NULL;
	if (ns_ringlog_open(path, cap, &r) == 0) {
		ns_sample_init(&s, 1);
		ns_ring_append(r, &s);
		ns_ring_foreach(r, count_cb, &n);
		ns_ringlog_close(r);
	}
	unlink(path);
	return 0;
}
