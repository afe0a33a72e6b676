/* SPDX-License-Identifier: MIT */
/* Sampler plumbing shared by every /proc and cgroup source: bounded file
 * reads, bounded number parsing, and per-source health with rate-limited
 * logging (one line per state change, never one per tick). */
#ifndef NODESCORE_SOURCE_H
#define NODESCORE_SOURCE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

/* Largest file a sampler reads in one go; bigger is an error, not a malloc. */
#define NS_SRC_BUF 8192

enum ns_src_state {
	NS_SRC_STATE_UNKNOWN = 0, /* not sampled yet */
	NS_SRC_STATE_OK,
	NS_SRC_STATE_FAILING,	  /* read or parse failed: message is degraded */
	NS_SRC_STATE_UNAVAILABLE, /* not provided by this kernel/node: normal */
};

struct ns_src_health {
	const char *name; /* "procstat", "meminfo", ... (static string) */
	enum ns_src_state state;
	int err;     /* last -errno when failing */
	uint64_t ok; /* successful samples */
	uint64_t failures;
};

void ns_src_health_init(struct ns_src_health *h, const char *name);

/* Marks a good sample; logs INFO once when recovering from failure. */
void ns_src_ok(struct ns_src_health *h);

/* Marks a failed sample. Logs one WARNING "source failing" when the state or
 * the error changes, nothing on repeats. Returns err (a negative errno). */
int ns_src_fail(struct ns_src_health *h, int err, const char *path, const char *why);

/* Marks the source as not provided here; logs INFO once. */
void ns_src_unavailable(struct ns_src_health *h, const char *why);

const char *ns_src_state_name(enum ns_src_state st);

/* Joins root and an absolute path ("" or NULL root means "/"). Returns 0 or
 * -ENAMETOOLONG. */
int ns_src_path(char *out, size_t cap, const char *root, const char *abs);

/* Reads the whole file at path into buf (cap bytes, NUL-terminated) with
 * bounded reads. Errors: -errno from open/read, -EFBIG when the file does not
 * fit in cap-1 bytes (unless prefix_ok: then the first cap-1 bytes are kept
 * and *truncated is set), -EILSEQ when it holds a NUL byte (binary), -ENODATA
 * when empty. */
int ns_src_read(const char *path, char *buf, size_t cap, size_t *len, int prefix_ok,
		int *truncated);

/* Human reason for an ns_src_read error, for the WARNING line. */
const char *ns_src_read_reason(int err);

/* Same, path relative to an open directory (AT_FDCWD for the cwd). */
int ns_src_readat(int dirfd, const char *path, char *buf, size_t cap, size_t *len, int prefix_ok,
		  int *truncated);

/* Bounded parsers over [*p, end): skip blanks (space, tab), read one value,
 * advance *p. Return 0, or -EINVAL (no digits, overflow, not finite). */
int ns_src_u64(const char **p, const char *end, uint64_t *out);
int ns_src_double(const char **p, const char *end, double *out);

/* Advances *p past the current line's newline (or to end). */
void ns_src_next_line(const char **p, const char *end);

/* 1 when [p, end) starts with the NUL-terminated word w. */
int ns_src_starts(const char *p, const char *end, const char *w);

#endif
