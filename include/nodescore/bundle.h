/* SPDX-License-Identifier: MIT */
/* Model bundles: a directory with manifest.json (version, provenance,
 * training metrics, and name/size/SHA-256 of every model file) written
 * atomically, and verified file by file on load. */
#ifndef NODESCORE_BUNDLE_H
#define NODESCORE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define NS_BUNDLE_MANIFEST "manifest.json"
#define NS_BUNDLE_MAX_MANIFEST (1u << 20)
#define NS_BUNDLE_MAX_FILES 32u
#define NS_BUNDLE_MAX_NAME 64u

struct ns_bundle_file {
	const char *name; /* [A-Za-z0-9._-], no leading dot, < NS_BUNDLE_MAX_NAME */
	const void *data;
	size_t len;
};

/* Writes the bundle into dir atomically: everything goes to a temporary
 * sibling directory, each file is fsync'd, then the directory is renamed
 * into place (an existing bundle is swapped out and removed), so a crash or
 * Ctrl-C leaves either the old bundle or the new one, never a mix. meta is a
 * JSON object; a "files" array is added to it. Returns 0 or a negative errno
 * with a reason in err. */
int ns_bundle_write(const char *dir, const cJSON *meta, const struct ns_bundle_file *files,
		    size_t n, char *err, size_t errlen);

struct ns_bundle;

/* Reads and validates dir/manifest.json (size bound, JSON object, "files"
 * entries well formed). Returns 0 or a negative errno with a reason in err. */
int ns_bundle_open(const char *dir, struct ns_bundle **out, char *err, size_t errlen);

/* The parsed manifest (owned by the bundle). */
const cJSON *ns_bundle_manifest(const struct ns_bundle *b);

/* Top-level string field of the manifest, or NULL. */
const char *ns_bundle_get(const struct ns_bundle *b, const char *key);

/* Reads one file listed in the manifest, at most max bytes, and checks its
 * size and SHA-256 against the manifest. *buf is malloc'd (caller frees).
 * Returns 0, -ENOENT (not listed or missing), -EFBIG, -EBADMSG (checksum or
 * size mismatch) or another negative errno, with a reason in err. */
int ns_bundle_read(const struct ns_bundle *b, const char *name, size_t max, uint8_t **buf,
		   size_t *len, char *err, size_t errlen);

/* NULL-safe. */
void ns_bundle_close(struct ns_bundle *b);

/* Lowercase hex SHA-256 of data into hex (65 bytes with the NUL). */
void ns_bundle_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
