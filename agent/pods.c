// SPDX-License-Identifier: MIT
/* Pod density source: walks the kubepods cgroup tree with fixed buffers. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/pods.h"

/* Trees the kubelet creates (cgroup v2 shown; v1 repeats them under each
 * controller mount such as <root>/cpu,cpuacct/ and <root>/memory/):
 *
 *   systemd driver                                   cgroupfs driver
 *   kubepods.slice/                                  kubepods/
 *     kubepods-pod<uid>.slice/         (guaranteed)    pod<uid>/
 *     kubepods-burstable.slice/                        burstable/
 *       kubepods-burstable-pod<uid>.slice/               pod<uid>/
 *     kubepods-besteffort.slice/                       besteffort/
 *       kubepods-besteffort-pod<uid>.slice/              pod<uid>/
 *
 * Files read (v2 / v1), one value each:
 *   cpu.weight 39 / cpu.shares 1024            per pod: CPU request
 *   memory.max 536870912 or "max" / memory.limit_in_bytes    per pod: limit
 *   cpu.stat "usage_usec 123456" / cpuacct.usage (ns)   kubepods: CPU time
 *   memory.current / memory.usage_in_bytes               kubepods: memory
 */
enum pod_file {
	F_CPU_REQ = 0,
	F_MEM_LIM,
	F_CPU_USE,
	F_MEM_USE,
	F_COUNT,
};

static const char *const v2_file[F_COUNT] = {
    [F_CPU_REQ] = "cpu.weight",
    [F_MEM_LIM] = "memory.max",
    [F_CPU_USE] = "cpu.stat",
    [F_MEM_USE] = "memory.current",
};

static const char *const v1_file[F_COUNT] = {
    [F_CPU_REQ] = "cpu.shares",
    [F_MEM_LIM] = "memory.limit_in_bytes",
    [F_CPU_USE] = "cpuacct.usage",
    [F_MEM_USE] = "memory.usage_in_bytes",
};

static const char *const layout_names[NS_PODS_LAYOUT_COUNT] = {
    [NS_PODS_NONE] = "none",
    [NS_PODS_V2_SYSTEMD] = "v2-systemd",
    [NS_PODS_V2_CGROUPFS] = "v2-cgroupfs",
    [NS_PODS_V1_SYSTEMD] = "v1-systemd",
    [NS_PODS_V1_CGROUPFS] = "v1-cgroupfs",
};

/* v1 reports "no limit" as LONG_MAX rounded down to a page. */
#define V1_UNLIMITED (1ull << 60)
#define KUBE_MAX_SHARES 262144u
#define KUBE_MIN_SHARES 2u

const char *ns_pods_layout_name(enum ns_pods_layout l)
{
	return (unsigned)l < NS_PODS_LAYOUT_COUNT ? layout_names[l] : "none";
}

uint64_t ns_pods_weight_to_millicores(uint64_t w)
{
	uint64_t lo, hi, m_lo, m_hi;

	if (w <= 1)
		return 0;
	if (w > 10000)
		w = 10000;
	/* Smallest and largest shares s with 1 + (s - 2) * 9999 / 262142 == w ... */
	lo = KUBE_MIN_SHARES + ((w - 1) * 262142 + 9998) / 9999;
	hi = KUBE_MIN_SHARES + (w * 262142 + 9998) / 9999 - 1;
	if (hi > KUBE_MAX_SHARES)
		hi = KUBE_MAX_SHARES;
	/* ... then the millicores m with lo <= m * 1024 / 1000 <= hi, and their middle. */
	m_lo = (lo * 1000 + 1023) / 1024;
	m_hi = ((hi + 1) * 1000 - 1) / 1024;
	if (w == 10000)
		return m_hi;
	return (m_lo + m_hi + 1) / 2;
}

uint64_t ns_pods_shares_to_millicores(uint64_t shares)
{
	if (shares <= KUBE_MIN_SHARES)
		return 0;
	if (shares > KUBE_MAX_SHARES)
		shares = KUBE_MAX_SHARES;
	return (shares * 1000 + 512) / 1024;
}

int ns_pods_init(struct ns_pods *p, const char *cgroup_root)
{
	memset(p, 0, sizeof(*p));
	ns_src_health_init(&p->health, "pods");
	p->rescan_ms = NS_PODS_RESCAN_MS;
	return ns_src_path(p->root, sizeof(p->root),
			   cgroup_root && *cgroup_root ? cgroup_root : "/sys/fs/cgroup", "");
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finds <root>/<sub>/kubepods.slice or kubepods; sets *systemd. */
static int find_kubepods(const char *root, const char *sub, char *out, size_t cap, int *systemd)
{
	static const char *const names[] = {"kubepods.slice", "kubepods"};

	for (int i = 0; i < 2; i++) {
		int n = snprintf(out, cap, "%s%s%s/%s", root, *sub ? "/" : "", sub, names[i]);

		if (n > 0 && (size_t)n < cap && is_dir(out)) {
			*systemd = i == 0;
			return 0;
		}
	}
	return -ENOENT;
}

static int detect(struct ns_pods *p)
{
	int sd, sd2;

	p->layout = NS_PODS_NONE;
	p->have_prev = 0;
	p->have_cache = 0;
	/* v2 first: on a hybrid host a kubelet using v2 puts kubepods at the root. */
	if (!find_kubepods(p->root, "", p->cpu_dir, sizeof(p->cpu_dir), &sd)) {
		memcpy(p->acct_dir, p->cpu_dir, sizeof(p->cpu_dir));
		memcpy(p->mem_dir, p->cpu_dir, sizeof(p->cpu_dir));
		p->layout = sd ? NS_PODS_V2_SYSTEMD : NS_PODS_V2_CGROUPFS;
		return 0;
	}
	if (find_kubepods(p->root, "cpu,cpuacct", p->cpu_dir, sizeof(p->cpu_dir), &sd) &&
	    find_kubepods(p->root, "cpu", p->cpu_dir, sizeof(p->cpu_dir), &sd))
		return -ENOENT;
	if (find_kubepods(p->root, "cpu,cpuacct", p->acct_dir, sizeof(p->acct_dir), &sd2) &&
	    find_kubepods(p->root, "cpuacct", p->acct_dir, sizeof(p->acct_dir), &sd2))
		return -ENOENT;
	if (find_kubepods(p->root, "memory", p->mem_dir, sizeof(p->mem_dir), &sd2))
		return -ENOENT;
	p->layout = sd ? NS_PODS_V1_SYSTEMD : NS_PODS_V1_CGROUPFS;
	return 0;
}

static int is_v2(const struct ns_pods *p)
{
	return p->layout == NS_PODS_V2_SYSTEMD || p->layout == NS_PODS_V2_CGROUPFS;
}

static int is_systemd(const struct ns_pods *p)
{
	return p->layout == NS_PODS_V2_SYSTEMD || p->layout == NS_PODS_V1_SYSTEMD;
}

static int uid_chars(const char *s, size_t n)
{
	if (n == 0 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF-_", s[i]))
			return 0;
	return 1;
}

/* "kubepods-pod<uid>.slice", "kubepods-<qos>-pod<uid>.slice" or "pod<uid>". */
static int is_pod_name(const char *name, int systemd)
{
	size_t n = strlen(name);
	const char *pod;

	if (!systemd)
		return strncmp(name, "pod", 3) == 0 && uid_chars(name + 3, n - 3);
	if (n < 16 || strncmp(name, "kubepods-", 9) || strcmp(name + n - 6, ".slice"))
		return 0;
	pod = strstr(name + 8, "-pod");
	if (!pod)
		return 0;
	pod += 4;
	return uid_chars(pod, (size_t)(name + n - 6 - pod));
}

static int is_qos_name(const char *name, int systemd)
{
	static const char *const sd[] = {"kubepods-burstable.slice", "kubepods-besteffort.slice"};
	static const char *const fs[] = {"burstable", "besteffort"};
	const char *const *t = systemd ? sd : fs;

	return strcmp(name, t[0]) == 0 || strcmp(name, t[1]) == 0;
}

/* Reads one unsigned value (or "max" -> UINT64_MAX) from dir/rel. */
static int read_u64(int dirfd, const char *rel, uint64_t *out)
{
	char buf[64];
	const char *q;
	size_t len;
	int err = ns_src_readat(dirfd, rel, buf, sizeof(buf), &len, 0, NULL);

	if (err)
		return err;
	if (strcmp(buf, "max\n") == 0 || strcmp(buf, "max") == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	q = buf;
	if (ns_src_u64(&q, buf + len, out) || (*q && strcmp(q, "\n")))
		return -EINVAL;
	return 0;
}

/* cpu.stat: the "usage_usec N" line, in ns. */
static int read_usage_v2(int dirfd, uint64_t *ns)
{
	char buf[1024];
	const char *q, *end;
	size_t len;
	uint64_t us;
	int err = ns_src_readat(dirfd, "cpu.stat", buf, sizeof(buf), &len, 0, NULL);

	if (err)
		return err;
	q = buf;
	end = buf + len;
	while (q < end) {
		if (ns_src_starts(q, end, "usage_usec ")) {
			q += 11;
			if (ns_src_u64(&q, end, &us) || (q < end && *q != '\n') ||
			    us > UINT64_MAX / 1000)
				return -EINVAL;
			*ns = us * 1000;
			return 0;
		}
		ns_src_next_line(&q, end);
	}
	return -EINVAL;
}

struct walk {
	int names_only; /* list pod directories (hash + count), read no file */
	uint64_t hash;	/* FNV-1a over the pod directory names seen */
	uint64_t pods, cpu_req_m, mem_lim_bytes;
	int memfd;
	const char *bad_file; /* for the warning */
};

static int add_pod(struct ns_pods *p, struct walk *w, int cpufd, const char *rel)
{
	char path[PATH_MAX];
	const char *const *f = is_v2(p) ? v2_file : v1_file;
	uint64_t req, lim;
	int err;

	if (snprintf(path, sizeof(path), "%s/%s", rel, f[F_CPU_REQ]) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	err = read_u64(cpufd, path, &req);
	if (err == -ENOENT)
		return 0; /* pod removed under us */
	if (err || (is_v2(p) && (req < 1 || req > 10000)) || (!is_v2(p) && req > UINT32_MAX)) {
		w->bad_file = f[F_CPU_REQ];
		return err ? err : -EINVAL;
	}
	if (snprintf(path, sizeof(path), "%s/%s", rel, f[F_MEM_LIM]) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	err = read_u64(w->memfd, path, &lim);
	if (err == -ENOENT)
		return 0;
	if (err) {
		w->bad_file = f[F_MEM_LIM];
		return err;
	}
	if (++w->pods > NS_PODS_MAX) {
		w->bad_file = "(too many pod cgroups)";
		return -E2BIG;
	}
	w->cpu_req_m +=
	    is_v2(p) ? ns_pods_weight_to_millicores(req) : ns_pods_shares_to_millicores(req);
	if (lim < V1_UNLIMITED)
		w->mem_lim_bytes += lim;
	return 0;
}

static uint64_t hash_name(uint64_t h, const char *name)
{
	/* Order-independent (sum of per-name FNV-1a): getdents order may change. */
	uint64_t x = 14695981039346656037ull;

	for (; *name; name++)
		x = (x ^ (unsigned char)*name) * 1099511628211ull;
	return h + x;
}

/* Walks one directory level: pods are counted, QoS dirs recursed once. */
static int walk_dir(struct ns_pods *p, struct walk *w, int cpufd, const char *rel, int depth)
{
	/* No readdir(): it mallocs. A fixed getdents64 buffer keeps ticks allocation-free. */
	char dbuf[16384];
	int dfd, err = 0;
	long n;

	dfd = openat(cpufd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return depth > 0 && errno == ENOENT ? 0 : -errno;
	while (!err && (n = getdents64(dfd, dbuf, sizeof(dbuf))) > 0) {
		for (long off = 0; off < n && !err;) {
			struct dirent64 *de = (struct dirent64 *)(void *)(dbuf + off);
			char sub[PATH_MAX];
			int dir = de->d_type == DT_DIR;

			off += de->d_reclen;
			if (de->d_type == DT_UNKNOWN) {
				struct stat st;

				dir = fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				      S_ISDIR(st.st_mode);
			}
			if (!dir || de->d_name[0] == '.')
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name) >=
			    (int)sizeof(sub)) {
				err = -ENAMETOOLONG;
				break;
			}
			if (is_pod_name(de->d_name, is_systemd(p))) {
				if (w->names_only)
					w->hash = hash_name(w->hash, de->d_name);
				else
					err = add_pod(p, w, cpufd, sub);
			} else if (depth == 0 && is_qos_name(de->d_name, is_systemd(p)))
				err = walk_dir(p, w, cpufd, sub, depth + 1);
		}
	}
	if (!err && n < 0)
		err = -errno;
	close(dfd);
	return err;
}

static void clear(struct ns_sample *s)
{
	s->v[NS_M_PODS] = NAN;
	s->v[NS_M_POD_CPU_REQ_M] = NAN;
	s->v[NS_M_POD_MEM_LIM_MIB] = NAN;
	s->v[NS_M_POD_CPU_USE] = NAN;
	s->v[NS_M_POD_MEM_USE_MIB] = NAN;
}

int ns_pods_sample(struct ns_pods *p, struct ns_sample *s)
{
	struct walk w = {0, 0, 0, 0, 0, -1, NULL};
	struct walk names = {1, 0, 0, 0, 0, -1, NULL};
	const char *const *f;
	uint64_t usage_ns, mem_use, now;
	int cpufd = -1, acctfd = -1, err;
	const char *why = NULL;
	char reason[160];
	const char *where;

	clear(s);
	if (p->layout == NS_PODS_NONE || p->health.state == NS_SRC_STATE_FAILING) {
		if (detect(p))
			return ns_src_fail(
			    &p->health, -ENOENT, p->root,
			    "no kubepods cgroup tree (v2 kubepods.slice|kubepods, v1 "
			    "cpu,cpuacct|cpu + memory)");
	}
	f = is_v2(p) ? v2_file : v1_file;
	where = p->cpu_dir;
	cpufd = open(p->cpu_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	acctfd = open(p->acct_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w.memfd = open(p->mem_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cpufd < 0 || acctfd < 0 || w.memfd < 0) {
		err = -errno;
		goto fail;
	}
	where = p->acct_dir;
	now = ns_mono_ns();
	err =
	    is_v2(p) ? read_usage_v2(acctfd, &usage_ns) : read_u64(acctfd, f[F_CPU_USE], &usage_ns);
	if (err) {
		why = f[F_CPU_USE];
		goto fail;
	}
	where = p->mem_dir;
	err = read_u64(w.memfd, f[F_MEM_USE], &mem_use);
	if (err || mem_use == UINT64_MAX) {
		why = f[F_MEM_USE];
		err = err ? err : -EINVAL;
		goto fail;
	}
	where = p->cpu_dir;
	/* Requests and limits change with the pod set: list names every tick (a
	 * few getdents), read every pod's files only when the set changed or the
	 * rescan period is over (in-place resizes). 110 pods cost ~1.4 ms to read. */
	err = walk_dir(p, &names, cpufd, ".", 0);
	if (err) {
		why = "pod directories";
		goto fail;
	}
	/* A new pod cgroup is created and then configured: keep reading for two
	 * more ticks after a change so a default cpu.weight is not cached. */
	if (p->have_cache && names.hash != p->cache_hash)
		p->settle = 3;
	if (!p->have_cache || p->settle > 0 ||
	    now - p->cache_mono_ns >= p->rescan_ms * 1000000ull) {
		if (p->settle > 0)
			p->settle--;
		err = walk_dir(p, &w, cpufd, ".", 0);
		if (err) {
			why = w.bad_file ? w.bad_file : "pod directories";
			goto fail;
		}
		p->cache_pods = w.pods;
		p->cache_req_m = w.cpu_req_m;
		p->cache_lim_bytes = w.mem_lim_bytes;
		p->cache_hash = names.hash;
		p->cache_mono_ns = now;
		p->have_cache = 1;
		p->rescans++;
	}
	close(cpufd);
	close(acctfd);
	close(w.memfd);

	s->v[NS_M_PODS] = (float)p->cache_pods;
	s->v[NS_M_POD_CPU_REQ_M] = (float)p->cache_req_m;
	s->v[NS_M_POD_MEM_LIM_MIB] = (float)((double)p->cache_lim_bytes / 1048576.0);
	s->v[NS_M_POD_MEM_USE_MIB] = (float)((double)mem_use / 1048576.0);
	if (p->have_prev && usage_ns >= p->prev_usage_ns && now > p->prev_mono_ns)
		s->v[NS_M_POD_CPU_USE] = (float)((double)(usage_ns - p->prev_usage_ns) /
						 (double)(now - p->prev_mono_ns));
	p->prev_usage_ns = usage_ns;
	p->prev_mono_ns = now;
	p->have_prev = 1;
	s->health |= NS_SRC_PODS;
	ns_src_ok(&p->health);
	return 0;
fail:
	if (cpufd >= 0)
		close(cpufd);
	if (acctfd >= 0)
		close(acctfd);
	if (w.memfd >= 0)
		close(w.memfd);
	p->have_prev = 0;
	p->have_cache = 0;
	clear(s);
	if (why) {
		snprintf(reason, sizeof(reason), "%s: %s", why,
			 err == -EINVAL ? "malformed or out of range" : ns_src_read_reason(err));
		return ns_src_fail(&p->health, err, where, reason);
	}
	return ns_src_fail(&p->health, err, where, ns_src_read_reason(err));
}
