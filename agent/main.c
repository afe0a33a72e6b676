// SPDX-License-Identifier: MIT
/* nodescore-agent: options, node name, key, signals; the work is in libagent. */
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/agent.h"
#include "nodescore/fileio.h"
#include "nodescore/key.h"
#include "nodescore/bpflog.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/models.h"
#include "nodescore/opt.h"
#include "nodescore/ring.h"
#include "nodescore/ringlog.h"
#include "nodescore/score.h"
#include "nodescore/wire.h"

/* opt.h wants a string; the assert keeps it equal to the header. */
#define DEFAULT_CAPACITY "259200"
_Static_assert(NS_RING_DEFAULT_CAPACITY == 259200u, "update DEFAULT_CAPACITY");

static struct ns_opt opts[] = {
    {"proc-root", NS_OPT_STRING, "", "Root under which /proc is read (a fixture tree in tests)",
     NULL, 0},
    {"sys-root", NS_OPT_STRING, "/sys",
     "Root of sysfs; the cgroup root defaults to <sys-root>/fs/cgroup", NULL, 0},
    {"cgroup-root", NS_OPT_STRING, "", "cgroup mount holding the kubepods tree (v2 or v1)", NULL,
     0},
    {"interval", NS_OPT_STRING, "1s", "Sampling interval", NULL, 0},
    {"pods-rescan", NS_OPT_STRING, "5m",
     "Re-read every pod's cpu.weight/memory.max at least this often (a changed pod set is read "
     "at once; 0: every tick)",
     NULL, 0},
    {"publish", NS_OPT_STRING, "tcp://127.0.0.1:5555",
     "Comma-separated extender endpoints to connect to (nanomsg PUB)", NULL, 0},
    {"publish-interval", NS_OPT_STRING, "2s",
     "Publish period (also immediately when the anomaly or degraded flag changes)", NULL, 0},
    {"key-file", NS_OPT_STRING, "/etc/nodescore/key",
     "Master HMAC key file (mode 0600/0400); this node's key is derived from it. Prefer "
     "--node-key-file, so a node never holds the key of every node",
     NULL, 0},
    {"node-key-file", NS_OPT_STRING, NULL,
     "This node's own key (nodescore-extender --derive-key NODE), used instead of --key-file", NULL,
     0},
    {"shared-key", NS_OPT_BOOL, "0",
     "Compatibility: sign with --key-file itself, for extenders run with --shared-key", NULL, 0},
    {"node-name", NS_OPT_STRING, NULL,
     "Node name in messages (default: env NODE_NAME, else the hostname)", NULL, 0},
    {"listen-http", NS_OPT_STRING, "127.0.0.1:9464",
     "Address for GET /metrics and /healthz (\"\" disables)", NULL, 0},
    {"state-dir", NS_OPT_STRING, "/var/lib/nodescore", "Directory of history.ring", NULL, 0},
    {"history-interval", NS_OPT_STRING, "10s",
     "Period of one history record, the interval mean (0 disables the history)", NULL, 0},
    {"history-capacity", NS_OPT_STRING, DEFAULT_CAPACITY,
     "History ring capacity in records (oldest overwritten)", NULL, 0},
    {"export-history", NS_OPT_STRING, NULL,
     "Write the history ring as CSV to FILE ('-' for stdout) and exit", NULL, 0},
    {"weights", NS_OPT_STRING, NS_SCORE_WEIGHTS_DEFAULT,
     "Score weights headroom,Q,anomaly (normalised to sum 1)", NULL, 0},
    {"headroom-cpu-share", NS_OPT_STRING, "0.5",
     "CPU's share of the headroom term, memory has the rest (1 = rank on CPU, memory left to "
     "the extender's filter; docs/agent.md)",
     NULL, 0},
    {"forecast-model", NS_OPT_STRING, "",
     "Forecast bundle directory (default: " NS_MODELS_SHARE_DIR "/" NS_MODELS_FORECAST_DEFAULT
     ", else ./models/" NS_MODELS_FORECAST_DEFAULT "; none disables)",
     NULL, 0},
    {"forecast-horizon", NS_OPT_STRING, "1h",
     "Horizon of the forecast cpu/memory peaks used in the score (must be in the bundle)", NULL, 0},
    {"anomaly-model", NS_OPT_STRING, "",
     "Initial isolation forest (.nsif) until the detector's own fit (default: " NS_MODELS_SHARE_DIR
     "/" NS_MODELS_ANOMALY_DEFAULT ", else ./models/" NS_MODELS_ANOMALY_DEFAULT "; none disables)",
     NULL, 0},
    {"anomaly-metrics", NS_OPT_STRING, "",
     "Comma-separated metrics for the anomaly detector (default: those of --anomaly-model, "
     "else " NS_MODELS_ANOMALY_METRICS_WIDE ")",
     NULL, 0},
    {"anomaly-step", NS_OPT_STRING, "5s",
     "Anomaly detector sample period (mean of the ticks in it; its windows are in these steps)",
     NULL, 0},
    {"qtable", NS_OPT_STRING, "",
     "Q-table placement value file (.nsq) (default: " NS_MODELS_SHARE_DIR
     "/" NS_MODELS_QTABLE_DEFAULT ", else ./models/" NS_MODELS_QTABLE_DEFAULT
     "; none disables; without one the Q term of the score is the headroom)",
     NULL, 0},
    {"model-reload-interval", NS_OPT_STRING, "30s",
     "Check the model files for changes this often (0 disables hot reload)", NULL, 0},
    {"test-anomaly-file", NS_OPT_STRING, "",
     "Tests only: while FILE holds a feature name (e.g. cpu_util.z_short) the anomaly flag is "
     "forced on with it as the top feature (end-to-end alert tests; never set in production)",
     NULL, 0},
    {"no-bpf", NS_OPT_BOOL, "0", "Force the non-BPF fallbacks (sock_diag, /proc/diskstats)", NULL,
     0},
    {"once", NS_OPT_BOOL, "0",
     "Take two samples one interval apart, print them and the score as key=value, exit", NULL, 0},
    {"log-level", NS_OPT_STRING, "info", "error, warning, success or info", NULL, 0},
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static const char *get(const char *name)
{
	return ns_opt_get(opts, NOPTS, name);
}

static int duration(const char *name, uint64_t min_ms, uint64_t max_ms, uint64_t *out)
{
	const char *v = get(name);

	if (ns_parse_duration_ms(v, out) || *out < min_ms || *out > max_ms) {
		log_error("agent", "bad --%s value=\"%s\" (want a duration %llums..%llus, e.g. 2s)",
			  name, v ? v : "", (unsigned long long)min_ms,
			  (unsigned long long)(max_ms / 1000));
		return -EINVAL;
	}
	return 0;
}

/* --node-name, else NODE_NAME (downward API), else the hostname, lower-cased. */
static int node_name(char *out, size_t cap)
{
	const char *n = get("node-name");
	char host[256];
	size_t len;

	if (!n || !*n)
		n = getenv("NODE_NAME");
	if (!n || !*n) {
		if (gethostname(host, sizeof(host)) < 0) {
			log_error_errno("agent", "cannot get the hostname; set --node-name");
			return -EINVAL;
		}
		host[sizeof(host) - 1] = '\0';
		for (char *c = host; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		n = host;
	}
	len = strlen(n);
	if (len >= cap || !ns_wire_name_valid(n, len)) {
		log_error("agent",
			  "invalid node name name=\"%.80s\" (want 1..63 of [a-z0-9.-]; set "
			  "--node-name or NODE_NAME)",
			  n);
		return -EINVAL;
	}
	memcpy(out, n, len + 1);
	return 0;
}

/* FILE.tmp.XXXXXX, fsync, rename: a failed or interrupted export leaves the
 * old FILE (or none), never a partial CSV. Streamed, not built in memory for
 * ns_file_write_atomic: the CSV of a large ring runs to gigabytes. */
static int export_to_file(struct ns_ring *r, const char *file)
{
	char tmp[PATH_MAX];
	FILE *f;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkstemp(tmp);
	if (fd < 0)
		return -errno;
	/* mkstemp creates 0600; a CSV export is not secret. */
	if (fchmod(fd, 0644) < 0 || !(f = fdopen(fd, "w"))) {
		err = -errno;
		close(fd);
		unlink(tmp);
		return err;
	}
	err = ns_ring_export_csv(r, f);
	/* A full disk shows up only at flush/close: check it, or the CSV is cut silently. */
	if (!err && fflush(f) != 0)
		err = -errno;
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (fclose(f) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, file) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	/* fsync of the directory makes the rename itself durable. */
	ns_file_sync_parent(file);
	return 0;
}

static int export_history(const char *file, const char *state_dir)
{
	char path[4096];
	struct ns_ring *r = NULL;
	int err;

	if (snprintf(path, sizeof(path), "%s/history.ring", state_dir) >= (int)sizeof(path)) {
		log_error("agent", "--state-dir too long");
		return 2;
	}
	/* Read-only: safe while the agent on this node keeps appending. */
	err = ns_ringlog_open_readonly(path, &r);
	if (err) {
		log_error("agent", "cannot open history path=%s error=\"%s\"", path,
			  strerror(-err));
		return 1;
	}
	if (strcmp(file, "-") == 0) {
		err = ns_ring_export_csv(r, stdout);
		if (fflush(stdout) != 0 && !err)
			err = -errno;
	} else {
		err = export_to_file(r, file);
	}
	ns_ringlog_close(r);
	if (err) {
		log_error("agent", "history export failed path=%s error=\"%s\"", file,
			  strerror(-err));
		return 1;
	}
	log_success("agent", "history exported path=%s", file);
	return 0;
}

static int models_config(struct ns_models_config *m)
{
	uint64_t h;

	ns_models_config_default(m);
	m->forecast_path = get("forecast-model");
	m->anomaly_path = get("anomaly-model");
	m->qtable_path = get("qtable");
	m->anomaly_metrics = get("anomaly-metrics");
	m->test_anomaly_file = get("test-anomaly-file");
	if (ns_parse_duration_ms(get("forecast-horizon"), &h) || h % 1000 || h < 1000 ||
	    h > 7 * 86400000ull) {
		log_error("agent", "bad --forecast-horizon value=\"%s\" (whole seconds, 1s..7d)",
			  get("forecast-horizon"));
		return -EINVAL;
	}
	m->horizon_s = (uint32_t)(h / 1000);
	if (duration("anomaly-step", 1000, 3600000, &m->anomaly_step_ms))
		return -EINVAL;
	if (ns_parse_duration_ms(get("model-reload-interval"), &m->reload_ms) ||
	    (m->reload_ms && (m->reload_ms < 1000 || m->reload_ms > 86400000))) {
		log_error("agent", "bad --model-reload-interval value=\"%s\" (0, or 1s..1d)",
			  get("model-reload-interval"));
		return -EINVAL;
	}
	return 0;
}

static void print_value(const char *key, double v)
{
	if (isnan(v))
		printf("%s=nan\n", key);
	else
		printf("%s=%.6g\n", key, v);
}

static void print_once(const struct ns_agent_snapshot *s)
{
	printf("node=%s\n", s->node);
	for (int i = 0; i < NS_METRIC_COUNT; i++)
		print_value(ns_metric_names[i], s->sample.v[i]);
	for (int i = 0; i < NS_AGENT_SRC_COUNT; i++)
		printf("source_%s=%s\n", ns_agent_src_names[i], ns_src_state_name(s->src[i]));
	printf("net_mode=%s\ndisk_mode=%s\npods_layout=%s\n", s->net_mode, s->disk_mode,
	       s->pods_layout);
	printf("score=%u\n", s->score.score);
	print_value("headroom", s->score.headroom);
	print_value("pressure", s->score.pressure);
	print_value("anomaly", s->score.anomaly);
	print_value("cpu_peak_fc", s->score.cpu_peak);
	print_value("mem_peak_fc", s->score.mem_peak);
	printf("free_millicores=%u\nfree_mib=%u\n", s->score.free_millicores, s->score.free_mib);
	if (s->models_enabled) {
		printf("model_forecast=%s\nmodel_anomaly=%s\nmodel_qtable=%s\n",
		       s->models.forecast.loaded ? s->models.forecast.version : "none",
		       s->models.anomaly.loaded ? s->models.anomaly.version : "none",
		       s->models.qtable.loaded ? s->models.qtable.version : "none");
		printf("top_feature=%s\n", s->top_feature);
	}
	printf("flag_anomaly=%d\nflag_degraded=%d\nflag_model_fallback=%d\n",
	       !!(s->score.flags & NS_FLAG_ANOMALY), !!(s->score.flags & NS_FLAG_DEGRADED),
	       !!(s->score.flags & NS_FLAG_MODEL_FALLBACK));
	fflush(stdout);
}

/* The signing key: --node-key-file as is, else this node's key derived
 * from the master --key-file (or the master itself with --shared-key). */
static int load_key(struct ns_key *key, const char *node)
{
	struct ns_key master;
	char err[256];
	int shared;

	if (ns_parse_bool(get("shared-key"), &shared)) {
		log_error("agent", "bad --shared-key value (true/false)");
		return -EINVAL;
	}
	if (get("node-key-file") && *get("node-key-file")) {
		if (ns_key_load(get("node-key-file"), key, err, sizeof(err))) {
			log_error("agent", "%s", err);
			return -EINVAL;
		}
		return 0;
	}
	if (ns_key_load(get("key-file"), &master, err, sizeof(err))) {
		log_error("agent", "%s", err);
		return -EINVAL;
	}
	if (shared)
		*key = master;
	else
		ns_key_derive_node(&master, node, strlen(node), key);
	ns_key_wipe(&master);
	return 0;
}

int main(int argc, char **argv)
{
	struct ns_agent_config cfg;
	struct ns_agent *a = NULL;
	struct ns_models_config mcfg;
	struct ns_models *models = NULL;
	struct sigaction sa;
	char err[256], cgroot[4096];
	uint64_t cap;
	int once, no_bpf, rc;

	int opt_rc = ns_main_opts(opts, NOPTS, "nodescore-agent",
				  "Measures this node, scores it and publishes the score to the "
				  "nodescore extenders.",
				  argc, argv, NULL, "agent");

	if (opt_rc >= 0)
		return opt_rc;
	if (ns_log_set_level(get("log-level"))) {
		log_error("agent", "bad --log-level value=\"%s\" (error, warning, success, info)",
			  get("log-level"));
		return 2;
	}
	ns_bpflog_route();

	memset(&cfg, 0, sizeof(cfg));
	cfg.proc_root = get("proc-root");
	cfg.cgroup_root = get("cgroup-root");
	if (!cfg.cgroup_root || !*cfg.cgroup_root) {
		if (snprintf(cgroot, sizeof(cgroot), "%s/fs/cgroup", get("sys-root")) >=
		    (int)sizeof(cgroot)) {
			log_error("agent", "--sys-root too long");
			return 2;
		}
		cfg.cgroup_root = cgroot;
	}
	if (duration("interval", 10, 3600000, &cfg.interval_ms) ||
	    duration("publish-interval", 100, 3600000, &cfg.publish_interval_ms))
		return 2;
	if (ns_parse_duration_ms(get("pods-rescan"), &cfg.pods_rescan_ms) ||
	    cfg.pods_rescan_ms > 86400000) {
		log_error("agent", "bad --pods-rescan value=\"%s\" (0..1d)", get("pods-rescan"));
		return 2;
	}
	if (ns_parse_duration_ms(get("history-interval"), &cfg.history_interval_ms) ||
	    (cfg.history_interval_ms != 0 &&
	     (cfg.history_interval_ms < 1000 || cfg.history_interval_ms > 86400000))) {
		log_error("agent", "bad --history-interval value=\"%s\" (0, or 1s..1d)",
			  get("history-interval"));
		return 2;
	}
	/* The ring refuses more than NS_RING_MAX_CAPACITY (file size, slot
	 * bitmap): say so here rather than fail later with a bare EINVAL. */
	if (ns_parse_u64(get("history-capacity"), 16, NS_RING_MAX_CAPACITY, &cap)) {
		log_error("agent", "bad --history-capacity value=\"%s\" (16..%u records)",
			  get("history-capacity"), NS_RING_MAX_CAPACITY);
		return 2;
	}
	cfg.history_capacity = (uint32_t)cap;
	if (ns_score_parse_weights(get("weights"), &cfg.weights)) {
		log_error("agent",
			  "bad --weights value=\"%s\" (want three numbers in 0..1 with a positive "
			  "sum: headroom,Q,anomaly, e.g. 0.3,0.4,0.3)",
			  get("weights"));
		return 2;
	}
	if (ns_parse_double(get("headroom-cpu-share"), 0, 1, &cfg.weights.cpu_share)) {
		log_error("agent", "bad --headroom-cpu-share value=\"%s\" (want a number in 0..1)",
			  get("headroom-cpu-share"));
		return 2;
	}
	if (ns_parse_bool(get("no-bpf"), &no_bpf) || ns_parse_bool(get("once"), &once)) {
		log_error("agent", "bad --no-bpf or --once value (true/false)");
		return 2;
	}
	cfg.no_bpf = no_bpf;
	if (models_config(&mcfg))
		return 2;
	if (get("export-history"))
		return export_history(get("export-history"), get("state-dir"));
	if (node_name(cfg.node_name, sizeof(cfg.node_name)))
		return 2;

	/* --once checks the key too: it is how an operator tests a deployment. */
	if (load_key(&cfg.key, cfg.node_name))
		return 2;
	if (!once) {
		cfg.publish = get("publish");
		cfg.listen_http = get("listen-http");
		if (cfg.listen_http && !*cfg.listen_http)
			cfg.listen_http = NULL;
		if (cfg.history_interval_ms)
			cfg.state_dir = get("state-dir");
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = ns_agent_open(&cfg, &a, err, sizeof(err));
	ns_key_wipe(&cfg.key);
	if (rc) {
		log_error("agent", "%s", err);
		return 2;
	}
	/* Only a bad flag or no memory stops here: model files never do. */
	rc = ns_models_open(&mcfg, &models, err, sizeof(err));
	if (rc) {
		log_error("agent", "%s", err);
		ns_agent_close(a);
		return 2;
	}
	ns_agent_set_models(a, models);
	if (cfg.state_dir) {
		char hp[PATH_MAX];

		/* A restart should not cost the forecaster its 24 h of windows. */
		if (snprintf(hp, sizeof(hp), "%s/history.ring", cfg.state_dir) < (int)sizeof(hp) &&
		    (rc = ns_models_warm_from_ring(models, hp, ns_now_ms())) < 0)
			log_warning("agent",
				    "cannot warm the forecaster from history path=%s "
				    "error=\"%s\"",
				    hp, strerror(-rc));
	}
	if (once) {
		struct ns_agent_snapshot s;
		struct timespec ts = {(time_t)(cfg.interval_ms / 1000),
				      (long)(cfg.interval_ms % 1000) * 1000000L};

		ns_agent_tick(a, ns_mono_ns());
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_flag)
			;
		ns_agent_tick(a, ns_mono_ns());
		ns_agent_snapshot(a, &s);
		print_once(&s);
		ns_agent_close(a);
		ns_models_free(models);
		return 0;
	}
	log_success("agent",
		    "running node=%s interval_ms=%llu publish=%s publish_interval_ms=%llu "
		    "http=%s http_port=%u",
		    cfg.node_name, (unsigned long long)cfg.interval_ms, cfg.publish,
		    (unsigned long long)cfg.publish_interval_ms,
		    cfg.listen_http ? cfg.listen_http : "off", ns_agent_http_port(a));
	/* Loading BPF objects parses the kernel's BTF (several MiB) and the
	 * models parse JSON; libbpf and cJSON free it all, but glibc keeps the
	 * pages. Hand them back once, before the steady state. */
	malloc_trim(0);
	ns_agent_run(a, &stop_flag);
	log_info("agent", "shutting down node=%s", cfg.node_name);
	ns_agent_close(a);
	ns_models_free(models);
	return 0;
}
