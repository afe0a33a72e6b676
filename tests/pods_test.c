// SPDX-License-Identifier: MIT
/* Pod density source against kubepods fixture trees: cgroup v2 and v1,
 * systemd and cgroupfs drivers, and broken trees. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "nodescore/clock.h"
#include "nodescore/pods.h"
#include "check.h"
#include "fixture.h"

/* Pods in every fixture (requests as the kubelet would set them):
 *   guaranteed  1000m -> shares 1024 -> weight 39, memory limit 512 MiB
 *   burstable    250m -> shares  256 -> weight 10, no memory limit
 *   besteffort     0m -> shares    2 -> weight  1, no memory limit
 * Expected from the documented inverse: 988 + 246 + 0 = 1234 millicores (v2),
 * 1000 + 250 + 0 = 1250 (v1, shares are exact). */
#define UID1 "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0"
#define UID2 "11111111_2222_3333_4444_555555555555"
#define UID3 "aaaaaaaa_bbbb_cccc_dddd_eeeeeeeeeeee"
#define LIM512 "536870912\n"
#define V1_UNLIMITED "9223372036854771712\n"

static char pod_dir[3][256];

static void pod_dirs(int v1, int systemd, const char *cpu_root)
{
	(void)v1;
	if (systemd) {
		fx_fmt(pod_dir[0], 256, "%s/kubepods-pod" UID1 ".slice", cpu_root);
		fx_fmt(pod_dir[1], 256,
		       "%s/kubepods-burstable.slice/kubepods-burstable-pod" UID2 ".slice",
		       cpu_root);
		fx_fmt(pod_dir[2], 256,
		       "%s/kubepods-besteffort.slice/kubepods-besteffort-pod" UID3 ".slice",
		       cpu_root);
	} else {
		fx_fmt(pod_dir[0], 256, "%s/pod%s", cpu_root,
		       "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
		fx_fmt(pod_dir[1], 256, "%s/burstable/pod%s", cpu_root,
		       "11111111-2222-3333-4444-555555555555");
		fx_fmt(pod_dir[2], 256, "%s/besteffort/pod%s", cpu_root,
		       "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
	}
}

static void put(const char *dir, const char *file, const char *text)
{
	char p[512];

	fx_fmt(p, sizeof(p), "%s/%s", dir, file);
	fx_write(p, text);
}

/* Relative path of pod i in another hierarchy (v1 memory). */
static void other(char *out, size_t cap, const char *from_root, const char *to_root, int i)
{
	fx_fmt(out, cap, "%s%s", to_root, pod_dir[i] + strlen(from_root));
}

static void build_v2(int systemd, uint64_t usage_usec)
{
	const char *k = systemd ? "kubepods.slice" : "kubepods";
	static const char *const weight[3] = {"39\n", "10\n", "1\n"};
	static const char *const lim[3] = {LIM512, "max\n", "max\n"};
	char buf[256];

	fx_write("cgroup.controllers", "cpuset cpu io memory pids\n");
	fx_fmt(buf, sizeof(buf), "usage_usec %llu\nuser_usec 1\nsystem_usec 2\n",
	       (unsigned long long)usage_usec);
	put(k, "cpu.stat", buf);
	put(k, "memory.current", "104857600\n");
	put(k, "cpu.weight", "100\n");
	pod_dirs(0, systemd, k);
	for (int i = 0; i < 3; i++) {
		put(pod_dir[i], "cpu.weight", weight[i]);
		put(pod_dir[i], "memory.max", lim[i]);
		/* container cgroups inside a pod are not pods */
		put(pod_dir[i], "cri-containerd-abc.scope/cpu.weight", "5000\n");
	}
	/* things that are not pods at all */
	fx_mkdir(systemd ? "kubepods.slice/kubepods-burstable.slice/other.scope"
			 : "kubepods/burstable/notapod");
	put(k, "podnotadir", "x\n");
}

static void build_v1(int systemd, int split_cpu, uint64_t usage_ns)
{
	const char *kname = systemd ? "kubepods.slice" : "kubepods";
	static const char *const shares[3] = {"1024\n", "256\n", "2\n"};
	static const char *const lim[3] = {LIM512, V1_UNLIMITED, V1_UNLIMITED};
	char cpu[128], acct[128], mem[128], buf[64], mp[512];

	fx_fmt(cpu, sizeof(cpu), "%s/%s", split_cpu ? "cpu" : "cpu,cpuacct", kname);
	fx_fmt(acct, sizeof(acct), "%s/%s", split_cpu ? "cpuacct" : "cpu,cpuacct", kname);
	fx_fmt(mem, sizeof(mem), "memory/%s", kname);
	fx_fmt(buf, sizeof(buf), "%llu\n", (unsigned long long)usage_ns);
	put(acct, "cpuacct.usage", buf);
	put(mem, "memory.usage_in_bytes", "104857600\n");
	pod_dirs(1, systemd, cpu);
	for (int i = 0; i < 3; i++) {
		put(pod_dir[i], "cpu.shares", shares[i]);
		other(mp, sizeof(mp), cpu, mem, i);
		put(mp, "memory.limit_in_bytes", lim[i]);
	}
}

static int sample(struct ns_pods *p, struct ns_sample *s)
{
	ns_sample_init(s, 1);
	return ns_pods_sample(p, s);
}

/* Two samples; checks counts, sums and the CPU rate against the time the
 * sampler could have seen (bracketed by our own clock reads). */
static void check_tree(enum ns_pods_layout want, float want_req, int v1, int systemd, int split)
{
	struct ns_pods p;
	struct ns_sample s;
	uint64_t t0, t1, t2, t3;
	double used = 0.5; /* seconds of CPU between the samples */
	float lo, hi;

	CHECK_EQ_INT(ns_pods_init(&p, fx_root), 0);
	t0 = ns_mono_ns();
	CHECK_EQ_INT(sample(&p, &s), 0);
	t1 = ns_mono_ns();
	CHECK_EQ_INT(p.layout, want);
	CHECK(s.health & NS_SRC_PODS);
	CHECK(s.v[NS_M_PODS] == 3.0f);
	CHECK(s.v[NS_M_POD_CPU_REQ_M] == want_req);
	CHECK(s.v[NS_M_POD_MEM_LIM_MIB] == 512.0f);
	CHECK(s.v[NS_M_POD_MEM_USE_MIB] == 100.0f);
	CHECK(isnan(s.v[NS_M_POD_CPU_USE])); /* no delta yet */
	usleep(50000);
	if (v1)
		build_v1(systemd, split, 5000000000ull + (uint64_t)(used * 1e9));
	else
		build_v2(systemd, 5000000ull + (uint64_t)(used * 1e6));
	t2 = ns_mono_ns();
	CHECK_EQ_INT(sample(&p, &s), 0);
	t3 = ns_mono_ns();
	lo = (float)(used / ((double)(t3 - t0) / 1e9));
	hi = (float)(used / ((double)(t2 - t1) / 1e9));
	CHECK(s.v[NS_M_POD_CPU_USE] >= lo && s.v[NS_M_POD_CPU_USE] <= hi);
}

static void test_v2_systemd(void)
{
	fx_new();
	build_v2(1, 5000000);
	check_tree(NS_PODS_V2_SYSTEMD, 1234.0f, 0, 1, 0);
	fx_free();
}

static void test_v2_cgroupfs(void)
{
	fx_new();
	build_v2(0, 5000000);
	check_tree(NS_PODS_V2_CGROUPFS, 1234.0f, 0, 0, 0);
	fx_free();
}

static void test_v1_systemd(void)
{
	fx_new();
	build_v1(1, 0, 5000000000ull);
	check_tree(NS_PODS_V1_SYSTEMD, 1250.0f, 1, 1, 0);
	fx_free();
}

static void test_v1_cgroupfs_split(void)
{
	fx_new();
	build_v1(0, 1, 5000000000ull);
	check_tree(NS_PODS_V1_CGROUPFS, 1250.0f, 1, 0, 1);
	fx_free();
}

/* The inverse of the kubelet's shares -> weight mapping stays within half a
 * weight step (13 m) of every request the kubelet could have written. */
static void test_weight_mapping(void)
{
	for (uint64_t m = 1; m <= 256000; m++) {
		uint64_t shares = m * 1024 / 1000, w, back;

		if (shares < 2)
			shares = 2;
		w = 1 + ((shares - 2) * 9999) / 262142;
		back = ns_pods_weight_to_millicores(w);
		if (w == 1) {
			CHECK(m <= 28); /* shares 2..28 all give weight 1 */
			CHECK_EQ_INT(back, 0);
		} else if (llabs((long long)back - (long long)m) > 13) {
			fprintf(stderr, "  m=%llu w=%llu back=%llu\n", (unsigned long long)m,
				(unsigned long long)w, (unsigned long long)back);
			CHECK(0);
		}
	}
	CHECK_EQ_INT(ns_pods_weight_to_millicores(0), 0);
	CHECK_EQ_INT(ns_pods_weight_to_millicores(10000), 256000);
	CHECK_EQ_INT(ns_pods_weight_to_millicores(99999), 256000);
	CHECK_EQ_INT(ns_pods_shares_to_millicores(2), 0);
	CHECK_EQ_INT(ns_pods_shares_to_millicores(1024), 1000);
	CHECK_EQ_INT(ns_pods_shares_to_millicores(102), 100);
	CHECK_EQ_INT(ns_pods_shares_to_millicores(1u << 30), 256000);
}

/* No tree (a node without kubelet, or the mount missing): failing, one WARNING;
 * the kubelet creating it later is picked up without a restart. */
static void test_no_tree_then_appears(void)
{
	struct ns_pods p;
	struct ns_sample s;
	const char *log;

	fx_new();
	fx_mkdir("unified");
	ns_pods_init(&p, fx_root);
	fx_capture_start();
	CHECK_EQ_INT(sample(&p, &s), -ENOENT);
	CHECK_EQ_INT(sample(&p, &s), -ENOENT);
	log = fx_capture_stop();
	CHECK_EQ_INT(fx_count(log, "WARNING sampler: source failing"), 1);
	CHECK(strstr(log, "no kubepods cgroup tree") != NULL);
	CHECK(isnan(s.v[NS_M_PODS]) && !(s.health & NS_SRC_PODS));
	build_v2(1, 1000);
	fx_capture_start();
	CHECK_EQ_INT(sample(&p, &s), 0);
	log = fx_capture_stop();
	CHECK(strstr(log, "source recovered source=pods") != NULL);
	CHECK(s.v[NS_M_PODS] == 3.0f);
	fx_free();
}

static void test_pod_removed(void)
{
	struct ns_pods p;
	struct ns_sample s;
	char d[300];

	fx_new();
	build_v2(1, 1000);
	ns_pods_init(&p, fx_root);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_PODS] == 3.0f);
	fx_fmt(d, sizeof(d), "%s", pod_dir[0]);
	fx_remove(d);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_PODS] == 2.0f);
	CHECK(s.v[NS_M_POD_CPU_REQ_M] == 246.0f);
	CHECK(s.v[NS_M_POD_MEM_LIM_MIB] == 0.0f);
	/* a pod dir without its files (being created) is skipped, not an error */
	fx_mkdir("kubepods.slice/kubepods-podffffffff_0000_1111_2222_333333333333.slice");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_PODS] == 2.0f);
	fx_free();
}

/* The pod set is listed every tick; files are re-read only when it changed
 * or the rescan period ran out. */
static void test_rescan_cache(void)
{
	struct ns_pods p;
	struct ns_sample s;
	char f[300];
	uint64_t r;

	fx_new();
	build_v2(1, 1000);
	ns_pods_init(&p, fx_root);
	CHECK(p.rescan_ms == NS_PODS_RESCAN_MS);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK_EQ_INT(p.rescans, 1);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK_EQ_INT(p.rescans, 1); /* nothing changed: no per-pod reads */
	CHECK(s.v[NS_M_POD_CPU_REQ_M] == 1234.0f);
	/* in-place resize: seen at the next full read, not before */
	fx_fmt(f, sizeof(f), "%s/cpu.weight", pod_dir[1]);
	fx_write(f, "39\n");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_POD_CPU_REQ_M] == 1234.0f);
	p.rescan_ms = 0;
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_POD_CPU_REQ_M] == 1976.0f); /* 988 + 988 */
	/* a new pod is picked up on the next tick whatever the period */
	p.rescan_ms = 3600000;
	r = p.rescans;
	fx_write("kubepods.slice/kubepods-pod99999999_0000_1111_2222_333333333333.slice/cpu.weight",
		 "10\n");
	fx_write("kubepods.slice/kubepods-pod99999999_0000_1111_2222_333333333333.slice/memory.max",
		 "1048576\n");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(p.rescans == r + 1);
	CHECK(s.v[NS_M_PODS] == 4.0f);
	CHECK(s.v[NS_M_POD_MEM_LIM_MIB] == 513.0f);
	/* the kubelet configures a new cgroup right after creating it: a weight
	 * written a tick later is still picked up, then reads stop again */
	fx_write("kubepods.slice/kubepods-pod99999999_0000_1111_2222_333333333333.slice/cpu.weight",
		 "39\n");
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(s.v[NS_M_POD_CPU_REQ_M] == 1976.0f + 988.0f);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(p.rescans == r + 3);
	CHECK_EQ_INT(sample(&p, &s), 0);
	CHECK(p.rescans == r + 3);
	/* a file going bad is caught by the next full read */
	fx_write(f, "garbage\n");
	p.rescan_ms = 0;
	fx_capture_start();
	CHECK(sample(&p, &s) < 0);
	fx_capture_stop();
	CHECK(isnan(s.v[NS_M_PODS]));
	fx_free();
}

static void expect_bad(const char *rel, const char *text, size_t garbage, size_t huge)
{
	struct ns_pods p;
	struct ns_sample s;
	const char *log;
	int r;

	fx_new();
	build_v2(1, 1000);
	if (text)
		fx_write(rel, text);
	if (garbage)
		fx_write_garbage(rel, garbage);
	if (huge)
		fx_write_huge(rel, "100", huge);
	ns_pods_init(&p, fx_root);
	fx_capture_start();
	r = sample(&p, &s);
	sample(&p, &s);
	log = fx_capture_stop();
	CHECK(r < 0);
	CHECK_EQ_INT(p.health.state, NS_SRC_STATE_FAILING);
	CHECK(!(s.health & NS_SRC_PODS));
	for (int m = NS_M_PODS; m <= NS_M_POD_MEM_USE_MIB; m++)
		CHECK(isnan(s.v[m]));
	CHECK_EQ_INT(fx_count(log, "WARNING sampler: source failing"), 1);
	CHECK(strstr(log, "source=pods") != NULL);
	fx_free();
}

static void test_bad_files(void)
{
	char w[300];

	build_v2(1, 0); /* only to learn pod_dir names */
	fx_free();
	fx_fmt(w, sizeof(w), "%s/cpu.weight", pod_dir[1]);
	expect_bad(w, "abc\n", 0, 0);
	expect_bad(w, "0\n", 0, 0);
	expect_bad(w, "10001\n", 0, 0);
	expect_bad(w, "", 0, 0);
	expect_bad(w, "12 13\n", 0, 0);
	expect_bad(w, NULL, 500, 0);
	expect_bad(w, NULL, 0, 100000);
	fx_fmt(w, sizeof(w), "%s/memory.max", pod_dir[0]);
	expect_bad(w, "-1\n", 0, 0);
	expect_bad(w, "maxx\n", 0, 0);
	expect_bad(w, "99999999999999999999999\n", 0, 0);
	expect_bad("kubepods.slice/cpu.stat", "user_usec 5\n", 0, 0);
	expect_bad("kubepods.slice/cpu.stat", "usage_usec\n", 0, 0);
	expect_bad("kubepods.slice/cpu.stat", NULL, 0, 50000);
	expect_bad("kubepods.slice/memory.current", "max\n", 0, 0);
	expect_bad("kubepods.slice/memory.current", NULL, 64, 0);
}

int main(void)
{
	RUN(test_v2_systemd);
	RUN(test_v2_cgroupfs);
	RUN(test_v1_systemd);
	RUN(test_v1_cgroupfs_split);
	RUN(test_weight_mapping);
	RUN(test_no_tree_then_appears);
	RUN(test_pod_removed);
	RUN(test_rescan_cache);
	RUN(test_bad_files);
	fx_free();
	return CHECK_SUMMARY();
}
