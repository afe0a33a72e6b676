// SPDX-License-Identifier: MIT
/* Model bundle directories: atomic write (temp dir, fsync, rename) and
 * manifest-verified reads (size and SHA-256 per file). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "nodescore/bundle.h"
#include "nodescore/fileio.h"

struct ns_bundle {
	char dir[4096];
	cJSON *manifest;
};

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

void ns_bundle_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(hex, 65, h, sizeof(h));
}

static int name_ok(const char *n)
{
	size_t l = n ? strlen(n) : 0;

	if (l == 0 || l >= NS_BUNDLE_MAX_NAME || n[0] == '.')
		return 0;
	for (size_t i = 0; i < l; i++) {
		char c = n[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return strcmp(n, NS_BUNDLE_MANIFEST) != 0;
}

static int write_file(int dfd, const char *name, const void *data, size_t len)
{
	const uint8_t *p = data;
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;

			close(fd);
			return e;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return close(fd) < 0 ? -errno : 0;
}

/* Removes a bundle-shaped directory (flat, regular files only). */
static void remove_flat_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(path);
}

int ns_bundle_write(const char *dir, const cJSON *meta, const struct ns_bundle_file *files,
		    size_t n, char *err, size_t errlen)
{
	char tmp[4200], old[4200], parent[4096], *slash;
	cJSON *man = NULL, *arr;
	char *text = NULL;
	int dfd = -1, rc = 0;

	if (sodium_init() < 0) {
		ERR("libsodium init failed");
		return -EIO;
	}
	if (!dir || strlen(dir) >= sizeof(parent) || !cJSON_IsObject(meta) ||
	    n > NS_BUNDLE_MAX_FILES) {
		ERR("bad bundle arguments");
		return -EINVAL;
	}
	snprintf(parent, sizeof(parent), "%s", dir);
	while ((slash = strrchr(parent, '/')) && slash[1] == '\0' && slash != parent)
		*slash = '\0';
	snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", parent, (long)getpid());
	snprintf(old, sizeof(old), "%s.old-%ld", parent, (long)getpid());
	slash = strrchr(parent, '/');
	if (slash == parent)
		parent[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), ".");
	man = cJSON_Duplicate(meta, 1);
	arr = man ? cJSON_AddArrayToObject(man, "files") : NULL;
	if (!arr) {
		rc = -ENOMEM;
		goto out;
	}
	remove_flat_dir(tmp);
	if (mkdir(tmp, 0755) < 0) {
		rc = -errno;
		ERR("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	dfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		char hex[65];
		cJSON *e;

		if (!name_ok(files[i].name)) {
			rc = -EINVAL;
			ERR("bad bundle file name");
			goto fail;
		}
		rc = write_file(dfd, files[i].name, files[i].data, files[i].len);
		if (rc) {
			ERR("cannot write %s/%s: %s", tmp, files[i].name, strerror(-rc));
			goto fail;
		}
		ns_bundle_sha256_hex(files[i].data, files[i].len, hex);
		e = cJSON_CreateObject();
		if (!e || !cJSON_AddItemToArray(arr, e) ||
		    !cJSON_AddStringToObject(e, "name", files[i].name) ||
		    !cJSON_AddNumberToObject(e, "bytes", (double)files[i].len) ||
		    !cJSON_AddStringToObject(e, "sha256", hex)) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	text = cJSON_Print(man);
	if (!text) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = write_file(dfd, NS_BUNDLE_MANIFEST, text, strlen(text));
	if (rc || fsync(dfd) < 0) {
		rc = rc ? rc : -errno;
		ERR("cannot write manifest in %s: %s", tmp, strerror(-rc));
		goto fail;
	}
	/* Swap in: an existing bundle is exchanged atomically, then removed. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
		remove_flat_dir(tmp);
	} else if (errno == ENOENT && rename(tmp, dir) == 0) {
		/* first bundle at this path */
	} else if (rename(dir, old) == 0 && rename(tmp, dir) == 0) {
		remove_flat_dir(old);
	} else {
		rc = -errno;
		ERR("cannot move bundle into %s: %s", dir, strerror(errno));
		goto fail;
	}
	ns_file_sync_dir(parent);
	goto out;
fail:
	remove_flat_dir(tmp);
out:
	if (dfd >= 0)
		close(dfd);
	free(text);
	cJSON_Delete(man);
	return rc;
}

static const cJSON *find_file(const struct ns_bundle *b, const char *name)
{
	const cJSON *e, *arr = cJSON_GetObjectItemCaseSensitive(b->manifest, "files");

	cJSON_ArrayForEach(e, arr)
	{
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");

		if (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0)
			return e;
	}
	return NULL;
}

int ns_bundle_open(const char *dir, struct ns_bundle **out, char *err, size_t errlen)
{
	char path[4200];
	struct ns_bundle *b;
	const cJSON *arr, *e;
	uint8_t *text = NULL;
	size_t len = 0;
	int rc, nfiles = 0;

	*out = NULL;
	if (!dir || strlen(dir) >= 4096) {
		ERR("bad bundle path");
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, NS_BUNDLE_MANIFEST);
	rc = ns_file_read_all(path, NS_BUNDLE_MAX_MANIFEST, &text, &len, err, errlen);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b) {
		free(text);
		return -ENOMEM;
	}
	snprintf(b->dir, sizeof(b->dir), "%s", dir);
	b->manifest = cJSON_ParseWithLength((const char *)text, len);
	free(text);
	if (!cJSON_IsObject(b->manifest)) {
		ERR("%s is not a JSON object", path);
		ns_bundle_close(b);
		return -EBADMSG;
	}
	arr = cJSON_GetObjectItemCaseSensitive(b->manifest, "files");
	if (!cJSON_IsArray(arr)) {
		ERR("%s has no files array", path);
		ns_bundle_close(b);
		return -EBADMSG;
	}
	cJSON_ArrayForEach(e, arr)
	{
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(e, "name");
		const cJSON *by = cJSON_GetObjectItemCaseSensitive(e, "bytes");
		const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "sha256");

		if (++nfiles > (int)NS_BUNDLE_MAX_FILES || !cJSON_IsString(nm) ||
		    !name_ok(nm->valuestring) || !cJSON_IsNumber(by) || by->valuedouble < 0 ||
		    by->valuedouble > 1e12 || !cJSON_IsString(sh) ||
		    strlen(sh->valuestring) != 64) {
			ERR("%s: malformed files entry %d", path, nfiles);
			ns_bundle_close(b);
			return -EBADMSG;
		}
	}
	*out = b;
	return 0;
}

const cJSON *ns_bundle_manifest(const struct ns_bundle *b)
{
	return b->manifest;
}

const char *ns_bundle_get(const struct ns_bundle *b, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(b->manifest, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int ns_bundle_read(const struct ns_bundle *b, const char *name, size_t max, uint8_t **buf,
		   size_t *len, char *err, size_t errlen)
{
	const cJSON *e = name_ok(name) ? find_file(b, name) : NULL;
	char path[4200], hex[65];
	uint8_t *p = NULL;
	size_t n = 0;
	int rc;

	*buf = NULL;
	*len = 0;
	if (!e) {
		ERR("%s is not listed in %s/%s", name ? name : "(null)", b->dir,
		    NS_BUNDLE_MANIFEST);
		return -ENOENT;
	}
	if (sodium_init() < 0)
		return -EIO;
	snprintf(path, sizeof(path), "%s/%s", b->dir, name);
	rc = ns_file_read_all(path, max, &p, &n, err, errlen);
	if (rc)
		return rc;
	ns_bundle_sha256_hex(p, n, hex);
	if ((double)n != cJSON_GetObjectItemCaseSensitive(e, "bytes")->valuedouble ||
	    strcmp(hex, cJSON_GetObjectItemCaseSensitive(e, "sha256")->valuestring) != 0) {
		ERR("%s: size or SHA-256 does not match the manifest (corrupt or replaced file)",
		    path);
		free(p);
		return -EBADMSG;
	}
	*buf = p;
	*len = n;
	return 0;
}

void ns_bundle_close(struct ns_bundle *b)
{
	if (!b)
		return;
	cJSON_Delete(b->manifest);
	free(b);
}
