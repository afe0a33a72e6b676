// SPDX-License-Identifier: MIT
/* libbpf's print callback into ns_log: warnings stay warnings, debug
 * chatter is dropped. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "nodescore/bpflog.h"
#include "nodescore/lathist.h"
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

int ns_bpf_preflight(char *why, size_t whylen)
{
	if (whylen)
		why[0] = '\0';
	ns_bpflog_route();
	if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
		snprintf(why, whylen, "no_kernel_btf");
		return -ENOENT;
	}
	return 0;
}

/* tp_btf needs kernel BTF and BPF trampolines for tracepoints (5.5+); raw_tp
 * works on older kernels. */
static const char *const kinds[] = {"tp_btf", "raw_tp"};

int ns_bpf_attach_first(ns_bpf_open_fn open, void *ctx, int raw_tp_only, const char **kind,
			char *why, size_t whylen)
{
	int err = -EINVAL;

	for (size_t i = raw_tp_only ? 1 : 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct bpf_object_skeleton *s = open(ctx, i == 0);

		if (!s) {
			err = -errno;
			snprintf(why, whylen, "open_%s", ns_bpf_errname(err));
			return err;
		}
		err = bpf_object__load_skeleton(s);
		if (err) {
			ns_bpf_add_reason(why, whylen, "load", kinds[i], err);
			continue;
		}
		err = bpf_object__attach_skeleton(s);
		if (err) {
			ns_bpf_add_reason(why, whylen, "attach", kinds[i], err);
			continue;
		}
		*kind = kinds[i];
		return 0;
	}
	return err;
}
