// SPDX-License-Identifier: MIT
/* nodescore-cjsonfloor: time cJSON parsing of a request body, the floor any JSON API pays. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nodescore/clock.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"

#define COMP "cjsonfloor"
#define MAX_FILE (256u << 20)
#define MAX_ITERS 100000u

#define OPT(name, kind, def, help)                                                                 \
	{                                                                                          \
		name, kind, def, help, NULL, 0                                                     \
	}

static struct ns_opt opts[] = {
    OPT("file", NS_OPT_STRING, NULL, "JSON file to parse (at most 256 MiB)."),
    OPT("duration", NS_OPT_STRING, "1s", "Parse repeatedly for about this long."),
    OPT("min-iters", NS_OPT_STRING, "5", "Parse at least this many times, even past --duration."),
    OPT("log-level", NS_OPT_STRING, "info", "error, warning, success or info."),
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p)
{
	size_t k = (size_t)(p / 100.0 * (double)n + 0.999999);

	return v[(k < 1 ? 1 : k > n ? n : k) - 1];
}

static char *slurp(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (uint64_t)sb.st_size > MAX_FILE) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc((size_t)sb.st_size + 1);
	while (buf && got < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!buf || got != (size_t)sb.st_size) {
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

int main(int argc, char **argv)
{
	uint64_t duration_ms, min_iters, t_end, *lat, sum = 0;
	const char *file;
	char *buf;
	size_t len, n = 0;

	int opt_rc =
	    ns_main_opts(opts, NOPTS, "nodescore-cjsonfloor",
			 "Parses a JSON file with cJSON repeatedly and prints the parse time "
			 "percentiles as one key=value line: the same-run floor for the "
			 "extender benchmark.",
			 argc, argv, NULL, COMP);

	if (opt_rc >= 0)
		return opt_rc;
	file = ns_opt_get(opts, NOPTS, "file");
	if (ns_log_set_level(ns_opt_get(opts, NOPTS, "log-level")) < 0 ||
	    ns_parse_duration_ms(ns_opt_get(opts, NOPTS, "duration"), &duration_ms) < 0 ||
	    duration_ms > 600000 ||
	    ns_parse_u64(ns_opt_get(opts, NOPTS, "min-iters"), 1, MAX_ITERS, &min_iters) < 0) {
		log_error(COMP, "invalid --duration (<= 10m), --min-iters (1..%u) or --log-level",
			  MAX_ITERS);
		return 2;
	}
	if (!file || !*file || !(buf = slurp(file, &len))) {
		log_error(COMP,
			  "cannot read --file path=%s (missing, not regular, or over 256 MiB)",
			  file ? file : "");
		return 2;
	}
	lat = malloc(MAX_ITERS * sizeof(*lat));
	if (!lat)
		return 1;
	t_end = ns_mono_ns() + duration_ms * 1000000u;
	while (n < MAX_ITERS && (n < min_iters || ns_mono_ns() < t_end)) {
		uint64_t t0 = ns_mono_ns(), t1;
		cJSON *j = cJSON_ParseWithLength(buf, len);

		t1 = ns_mono_ns();
		if (!j) {
			log_error(COMP, "not valid JSON path=%s", file);
			free(lat);
			free(buf);
			return 1;
		}
		/* Freeing is outside the timed part: the floor is the parse alone. */
		cJSON_Delete(j);
		lat[n++] = t1 - t0;
		sum += t1 - t0;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("cjsonfloor file=%s bytes=%zu iters=%zu mean_us=%.1f p50_us=%.1f p99_us=%.1f "
	       "mb_per_s=%.1f\n",
	       file, len, n, (double)sum / (double)n / 1e3, (double)pct(lat, n, 50) / 1e3,
	       (double)pct(lat, n, 99) / 1e3, (double)len / ((double)pct(lat, n, 50) / 1e9) / 1e6);
	free(lat);
	free(buf);
	return 0;
}
