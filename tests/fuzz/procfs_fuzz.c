// SPDX-License-Identifier: MIT
/* libFuzzer target: arbitrary bytes as /proc/stat, meminfo, loadavg and
 * the pressure files of a fixture root, read by the agent's samplers. The samplers
 * read files by path, so each input is written into a private tmpfs-like dir. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodescore/loadavg.h"
#include "nodescore/log.h"
#include "nodescore/meminfo.h"
#include "nodescore/procstat.h"
#include "nodescore/psi.h"

static char root[64];
static struct ns_procstat ps;
static struct ns_meminfo mi;
static struct ns_loadavg la;
static struct ns_psi psi;

static void put(const char *rel, const uint8_t *data, size_t len)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/proc/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		abort();
	if (len && write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);
}

static void remove_root(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		return;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_sample s;
	char d[128];

	if (!root[0]) {
		snprintf(root, sizeof(root), "/tmp/ns-procfs-fuzz-%d", (int)getpid());
		mkdir(root, 0700);
		atexit(remove_root);
		snprintf(d, sizeof(d), "%s/proc", root);
		mkdir(d, 0700);
		snprintf(d, sizeof(d), "%s/proc/pressure", root);
		mkdir(d, 0700);
		ns_log_max = NS_LOG_ERROR; /* the samplers warn on every bad input */
		ns_procstat_init(&ps, root);
		ns_meminfo_init(&mi, root);
		ns_loadavg_init(&la, root);
		ns_psi_init(&psi, root);
	}
	/* The same bytes go to every file: each parser must refuse or accept
	 * them on its own terms, and two samples exercise the delta paths. */
	put("stat", data, size);
	put("meminfo", data, size);
	put("loadavg", data, size);
	put("pressure/cpu", data, size);
	put("pressure/memory", data, size);
	put("pressure/io", data, size);
	for (int i = 0; i < 2; i++) {
		ns_sample_init(&s, 0);
		ns_procstat_sample(&ps, &s);
		ns_meminfo_sample(&mi, &s);
		ns_loadavg_sample(&la, &s);
		ns_psi_sample(&psi, &s);
	}
	return 0;
}
