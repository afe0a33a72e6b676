/* SPDX-License-Identifier: MIT */
/* Runs a test step as an agent without BPF privileges would: in a child that
 * dropped CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN. Header-only. */
#ifndef NODESCORE_NOBPF_H
#define NODESCORE_NOBPF_H

#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/capability.h>

/* Returns 0 or -errno. */
static int drop_bpf_caps(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	const int caps[] = {CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF};

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		d[caps[i] / 32].effective &= ~(1u << (caps[i] % 32));
		d[caps[i] / 32].permitted &= ~(1u << (caps[i] % 32));
	}
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* Runs fn in a child without BPF privileges; its exit status: 0 ok, 77 skip. */
static int in_child_without_bpf(int (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(drop_bpf_caps() ? 77 : fn());
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#endif
