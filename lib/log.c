// SPDX-License-Identifier: MIT
/* Logging sink: formats one line per event to stderr, atomically. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nodescore/log.h"

enum ns_log_level ns_log_max = NS_LOG_INFO;

static const char *const level_names[] = {
    [NS_LOG_ERROR] = "ERROR",
    [NS_LOG_WARNING] = "WARNING",
    [NS_LOG_SUCCESS] = "SUCCESS",
    [NS_LOG_INFO] = "INFO",
};

int ns_log_set_level(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (name && strcasecmp(name, level_names[i]) == 0) {
			ns_log_max = (enum ns_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void ns_log_vwrite(enum ns_log_level lvl, const char *component, int errnum, const char *fmt,
		   va_list ap)
{
	char line[8192]; /* libbpf verifier logs (agent/bpflog.c) are long */
	int n, m;

	n = snprintf(line, sizeof(line), "%s %s: ", level_names[lvl], component);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m > 0)
		n += m;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	/* libbpf hands us messages with their own newline. */
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (errnum) {
		m = snprintf(line + n, sizeof(line) - (size_t)n, " error=\"%s\"", strerror(errnum));
		if (m > 0)
			n += m;
		if ((size_t)n >= sizeof(line) - 1)
			n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* One write() per line so lines from threads and processes never interleave. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

void ns_log_write(enum ns_log_level lvl, const char *component, int with_errno, const char *fmt,
		  ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	ns_log_vwrite(lvl, component, with_errno ? saved : 0, fmt, ap);
	va_end(ap);
	errno = saved;
}
