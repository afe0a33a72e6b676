// SPDX-License-Identifier: MIT
/* libbpf's print callback into ns_log: warnings stay warnings, debug
 * chatter is dropped. */
#include <stdarg.h>

#include <bpf/libbpf.h>

#include "nodescore/bpflog.h"
#include "nodescore/log.h"

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf's debug chatter is noise for an operator; warnings are real. */
	if (level == LIBBPF_DEBUG)
		return 0;
	enum ns_log_level lvl = level == LIBBPF_WARN ? NS_LOG_WARNING : NS_LOG_INFO;
	if (lvl > ns_log_max)
		return 0;
	ns_log_vwrite(lvl, "libbpf", 0, fmt, ap);
	return 0;
}

void ns_bpflog_route(void)
{
	libbpf_set_print(libbpf_print);
}
