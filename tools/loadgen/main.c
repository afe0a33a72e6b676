// SPDX-License-Identifier: MIT
/* nodescore-loadgen: closed-loop HTTP/1.1 keep-alive load with exact latency percentiles. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "http.h"

#define COMP "loadgen"
#define MAX_CLIENTS 256
#define MAX_BODY (256u << 20)
#define MAX_SAMPLES_PER_CLIENT (20u * 1000u * 1000u)

#define OPT(name, kind, def, help)                                                                 \
	{                                                                                          \
		name, kind, def, help, NULL, 0                                                     \
	}

static struct ns_opt opts[] = {
    OPT("url", NS_OPT_STRING, NULL,
	"Target, http://HOST:PORT/PATH (numeric host, [::1] for IPv6)."),
    OPT("body", NS_OPT_STRING, "", "File sent as the POST body; empty: GET without a body."),
    OPT("content-type", NS_OPT_STRING, "application/json", "Content-Type of the body."),
    OPT("clients", NS_OPT_STRING, "1", "Concurrent keep-alive connections, one thread each."),
    OPT("duration", NS_OPT_STRING, "3s", "How long to send (after the warm-up)."),
    OPT("warmup", NS_OPT_STRING, "300ms", "Requests in this first period are not counted."),
    OPT("rate", NS_OPT_STRING, "0",
	"Requests per second per client, paced, latency counted from each request's scheduled "
	"time (a client that falls behind is charged the wait); 0 = closed loop, back to back."),
    OPT("requests", NS_OPT_STRING, "0",
	"Stop after this many counted requests in total, 0 = no cap."),
    OPT("timeout", NS_OPT_STRING, "10s", "Per-request socket timeout; a timeout is an error."),
    OPT("expect-status", NS_OPT_STRING, "200", "Any other status counts as an error."),
    OPT("save-response", NS_OPT_STRING, "", "Write the first response body to this file."),
    OPT("log-level", NS_OPT_STRING, "info", "error, warning, success or info."),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static struct {
	char host[256], port[8], path[1024];
	char *head, *body;
	size_t head_len, body_len;
	uint64_t clients, duration_ms, warmup_ms, max_requests, timeout_ms, expect_status;
	uint64_t rate; /* per client per second, 0 = closed loop */
	const char *save;
	uint64_t t_start, t_count, t_end; /* monotonic ns */
} cfg;

static volatile sig_atomic_t stop;
static uint64_t counted_total; /* atomically incremented */

struct client {
	pthread_t tid;
	size_t idx;
	uint64_t *lat; /* ns */
	size_t n, cap;
	uint64_t errors, reconnects, bytes;
	int err_logged;
};

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int parse_url(const char *url)
{
	const char *p, *hs, *he, *ps;
	size_t hl, pl;

	if (!url || strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	p = url + 7;
	if (*p == '[') {
		hs = p + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		ps = he + 2;
	} else {
		hs = p;
		he = strchr(hs, ':');
		if (!he)
			return -EINVAL;
		ps = he + 1;
	}
	hl = (size_t)(he - hs);
	pl = strcspn(ps, "/");
	if (hl == 0 || hl >= sizeof(cfg.host) || pl == 0 || pl >= sizeof(cfg.port) ||
	    strspn(ps, "0123456789") != pl)
		return -EINVAL;
	memcpy(cfg.host, hs, hl);
	memcpy(cfg.port, ps, pl);
	snprintf(cfg.path, sizeof(cfg.path), "%s", ps[pl] ? ps + pl : "/");
	return strlen(ps + pl) >= sizeof(cfg.path) ? -EINVAL : 0;
}

static int read_body(const char *path)
{
	struct stat sb;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > MAX_BODY) {
		log_error(COMP, "cannot use --body file=%s (missing, not regular, or over 256 MiB)",
			  path);
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	cfg.body = malloc((size_t)sb.st_size + 1);
	if (!cfg.body) {
		close(fd);
		return -ENOMEM;
	}
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, cfg.body + len, (size_t)sb.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len != (size_t)sb.st_size) {
		log_error(COMP, "short read of --body file=%s", path);
		return -EIO;
	}
	cfg.body_len = len;
	return 0;
}

static int push(struct client *c, uint64_t ns)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 4096;
		uint64_t *t;

		if (ncap > MAX_SAMPLES_PER_CLIENT)
			return -E2BIG;
		t = realloc(c->lat, ncap * sizeof(*t));
		if (!t)
			return -ENOMEM;
		c->lat = t;
		c->cap = ncap;
	}
	c->lat[c->n++] = ns;
	return 0;
}

static void client_error(struct client *c, const char *what, int rc)
{
	c->errors++;
	if (!c->err_logged++)
		log_warning(COMP, "request failed what=%s error=\"%s\"", what, strerror(-rc));
}

static void *client_main(void *arg)
{
	struct client *c = arg;
	struct lg_conn *conn = malloc(sizeof(*conn));
	struct lg_response r;
	int connected = 0;
	char *save_buf = NULL;

	if (!conn)
		return NULL;
	conn->fd = -1;
	if (c->idx == 0 && cfg.save && *cfg.save)
		save_buf = malloc(64u << 20);
	/* Paced clients start spread over one period, so the server sees a
	 * steady rate rather than bursts of cfg.clients requests. */
	uint64_t period = cfg.rate ? 1000000000u / cfg.rate : 0;
	uint64_t next = cfg.t_start + period * c->idx / cfg.clients;

	while (!stop) {
		uint64_t t0 = ns_mono_ns(), t1;
		int rc;

		if (period) {
			if (next >= cfg.t_end)
				break;
			if (t0 < next) {
				struct timespec ts = {(time_t)(next / 1000000000u),
						      (long)(next % 1000000000u)};
				while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
					   EINTR &&
				       !stop)
					;
			}
			/* Latency from the scheduled time: a slow answer delays
			 * the requests after it, and that wait is the server's
			 * too (no coordinated omission). */
			t0 = next;
			next += period;
		}
		if (t0 >= cfg.t_end)
			break;
		if (!connected) {
			rc = lg_connect(conn, cfg.host, cfg.port, (int)cfg.timeout_ms);
			if (rc < 0) {
				client_error(c, "connect", rc);
				/* A refused connection fails fast: do not spin. */
				usleep(10000);
				continue;
			}
			connected = 1;
			if (!period)
				t0 = ns_mono_ns();
		}
		memset(&r, 0, sizeof(r));
		if (save_buf) {
			r.save = save_buf;
			r.save_cap = 64u << 20;
		}
		rc = lg_send(conn, cfg.head, cfg.head_len, cfg.body, cfg.body_len);
		if (rc == 0)
			rc = lg_read_response(conn, &r);
		t1 = ns_mono_ns();
		if (rc < 0) {
			client_error(c, rc == -EPROTO ? "bad response" : "io", rc);
			lg_close(conn);
			connected = 0;
			c->reconnects++;
			continue;
		}
		if (save_buf) {
			FILE *f = fopen(cfg.save, "w");
			if (f) {
				fwrite(save_buf, 1, r.saved, f);
				fclose(f);
			}
			free(save_buf);
			save_buf = NULL;
		}
		if ((uint64_t)r.status != cfg.expect_status) {
			c->errors++;
			if (!c->err_logged++)
				log_warning(COMP, "unexpected status=%d want=%" PRIu64, r.status,
					    cfg.expect_status);
		} else if (t0 >= cfg.t_count) {
			if (push(c, t1 - t0) < 0)
				break;
			c->bytes += r.body_len;
			if (cfg.max_requests &&
			    __atomic_add_fetch(&counted_total, 1, __ATOMIC_RELAXED) >=
				cfg.max_requests)
				stop = 1;
		}
		if (r.close) {
			lg_close(conn);
			connected = 0;
			c->reconnects++;
		}
	}
	lg_close(conn);
	free(conn);
	free(save_buf);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v. */
static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	size_t k;

	if (!n)
		return 0;
	k = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (k < 1)
		k = 1;
	return v[(k > n ? n : k) - 1];
}

static int parse_config(void)
{
	const char *body = ns_opt_get(opts, NOPTS, "body");
	int n;

	if (ns_log_set_level(ns_opt_get(opts, NOPTS, "log-level")) < 0) {
		log_error(COMP, "invalid --log-level");
		return -EINVAL;
	}
	if (parse_url(ns_opt_get(opts, NOPTS, "url")) < 0) {
		log_error(COMP, "invalid --url value=%s (want http://HOST:PORT/PATH)",
			  ns_opt_get(opts, NOPTS, "url") ? ns_opt_get(opts, NOPTS, "url") : "");
		return -EINVAL;
	}
	if (ns_parse_u64(ns_opt_get(opts, NOPTS, "clients"), 1, MAX_CLIENTS, &cfg.clients) < 0 ||
	    ns_parse_duration_ms(ns_opt_get(opts, NOPTS, "duration"), &cfg.duration_ms) < 0 ||
	    cfg.duration_ms == 0 || cfg.duration_ms > 3600000 ||
	    ns_parse_duration_ms(ns_opt_get(opts, NOPTS, "warmup"), &cfg.warmup_ms) < 0 ||
	    cfg.warmup_ms > 600000 ||
	    ns_parse_u64(ns_opt_get(opts, NOPTS, "requests"), 0, UINT32_MAX, &cfg.max_requests) <
		0 ||
	    ns_parse_duration_ms(ns_opt_get(opts, NOPTS, "timeout"), &cfg.timeout_ms) < 0 ||
	    cfg.timeout_ms == 0 || cfg.timeout_ms > 600000 ||
	    ns_parse_u64(ns_opt_get(opts, NOPTS, "expect-status"), 100, 599, &cfg.expect_status) <
		0 ||
	    ns_parse_u64(ns_opt_get(opts, NOPTS, "rate"), 0, 1000000, &cfg.rate) < 0) {
		log_error(
		    COMP,
		    "invalid --clients (1..%d), --duration (1ms..1h), --warmup, "
		    "--requests, --timeout, --expect-status (100..599) or --rate (0..1000000)",
		    MAX_CLIENTS);
		return -EINVAL;
	}
	cfg.save = ns_opt_get(opts, NOPTS, "save-response");
	if (body && *body && read_body(body) < 0)
		return -EINVAL;
	cfg.head = malloc(2048);
	if (!cfg.head)
		return -ENOMEM;
	if (cfg.body_len)
		n = snprintf(cfg.head, 2048,
			     "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: %s\r\n"
			     "Content-Length: %zu\r\n\r\n",
			     cfg.path, cfg.host, cfg.port, ns_opt_get(opts, NOPTS, "content-type"),
			     cfg.body_len);
	else
		n = snprintf(cfg.head, 2048, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n\r\n", cfg.path,
			     cfg.host, cfg.port);
	if (n < 0 || n >= 2048) {
		log_error(COMP, "request head too long");
		return -EINVAL;
	}
	cfg.head_len = (size_t)n;
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct client *cl;
	uint64_t *all, errors = 0, reconnects = 0, bytes = 0, sum = 0, t_done;
	size_t total = 0, k = 0;
	double secs;

	int opt_rc =
	    ns_main_opts(opts, NOPTS, "nodescore-loadgen",
			 "HTTP/1.1 load generator: N keep-alive clients send the same request "
			 "back to back (closed loop) or at --rate each (paced); prints req/s "
			 "and exact latency percentiles as one key=value line on stdout.",
			 argc, argv, NULL, COMP);

	if (opt_rc >= 0)
		return opt_rc;
	if (parse_config() < 0)
		return 2;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	cl = calloc(cfg.clients, sizeof(*cl));
	if (!cl)
		return 1;
	cfg.t_start = ns_mono_ns();
	cfg.t_count = cfg.t_start + cfg.warmup_ms * 1000000u;
	cfg.t_end = cfg.t_count + cfg.duration_ms * 1000000u;
	for (size_t i = 0; i < cfg.clients; i++) {
		cl[i].idx = i;
		if (pthread_create(&cl[i].tid, NULL, client_main, &cl[i]) != 0) {
			log_error(COMP, "cannot start client thread i=%zu", i);
			stop = 1;
			cfg.clients = i;
			break;
		}
	}
	for (size_t i = 0; i < cfg.clients; i++) {
		pthread_join(cl[i].tid, NULL);
		total += cl[i].n;
		errors += cl[i].errors;
		reconnects += cl[i].reconnects;
		bytes += cl[i].bytes;
	}
	t_done = ns_mono_ns();
	all = malloc((total ? total : 1) * sizeof(*all));
	if (!all)
		return 1;
	for (size_t i = 0; i < cfg.clients; i++) {
		memcpy(all + k, cl[i].lat, cl[i].n * sizeof(*all));
		k += cl[i].n;
		free(cl[i].lat);
	}
	qsort(all, total, sizeof(*all), cmp_u64);
	for (size_t i = 0; i < total; i++)
		sum += all[i];
	secs = (double)((t_done < cfg.t_end ? t_done : cfg.t_end) - cfg.t_count) / 1e9;
	if (secs <= 0)
		secs = 1e-9;
	printf("loadgen url=http://%s:%s%s clients=%" PRIu64 " rate=%" PRIu64
	       " requests=%zu errors=%" PRIu64 " reconnects=%" PRIu64
	       " seconds=%.3f req_per_s=%.1f mean_us=%.1f p50_us=%.1f "
	       "p90_us=%.1f p99_us=%.1f max_us=%.1f resp_bytes=%.0f\n",
	       cfg.host, cfg.port, cfg.path, cfg.clients, cfg.rate, total, errors, reconnects, secs,
	       (double)total / secs, total ? (double)sum / (double)total / 1e3 : 0.0,
	       (double)pct(all, total, 50) / 1e3, (double)pct(all, total, 90) / 1e3,
	       (double)pct(all, total, 99) / 1e3, total ? (double)all[total - 1] / 1e3 : 0.0,
	       total ? (double)bytes / (double)total : 0.0);
	free(all);
	free(cl);
	free(cfg.body);
	free(cfg.head);
	if (total == 0 || errors) {
		log_error(COMP, "run not clean requests=%zu errors=%" PRIu64, total, errors);
		return 1;
	}
	return 0;
}
