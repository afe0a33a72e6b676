/* SPDX-License-Identifier: MIT */
/* Command-line handling every main (and nodescore-train subcommand) shares:
 * for mains only, since it prints and logs (issue 14: nothing below main
 * does). */
#ifndef NODESCORE_MAINOPT_H
#define NODESCORE_MAINOPT_H

#include <stdio.h>

#include "nodescore/log.h"
#include "nodescore/opt.h"

/* Parses argv against opts (ns_opt_parse_only; argi as there). Returns -1
 * to run; 0 after --help, with ns_opt_usage(prog, summary) on stdout; 2
 * after a bad option, logged as an error of component comp. */
static inline int ns_main_opts(struct ns_opt *opts, size_t n, const char *prog, const char *summary,
			       int argc, char **argv, int *argi, const char *comp)
{
	char err[512];

	switch (ns_opt_parse_only(opts, n, argc, argv, argi, err, sizeof(err))) {
	case NS_OPT_HELP:
		ns_opt_usage(opts, n, prog, summary, stdout);
		return 0;
	case NS_OPT_ERROR:
		log_error(comp, "%s", err);
		return 2;
	case NS_OPT_RUN:
		break;
	}
	return -1;
}

#endif
