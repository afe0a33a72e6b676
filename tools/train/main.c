// SPDX-License-Identifier: MIT
/* nodescore-train: offline model training; dispatches to subcommands. */
#include <stdio.h>
#include <string.h>

#include "nodescore/log.h"
#include "train.h"

struct subcmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct subcmd cmds[] = {
    {"forecast", train_forecast_main,
     "train the CPU/memory load forecaster from CSV into a bundle"},
    {"list", train_list_main, "list model bundles in a directory (version, date, metrics)"},
    {"eval", train_eval_main, "evaluate a forecast bundle on data (last share of each series)"},
    {"iforest", train_iforest_main, "train the isolation-forest anomaly detector from agent CSV"},
};

static void usage(void)
{
	printf("Usage: nodescore-train COMMAND [OPTIONS] [ARGS]\n"
	       "Offline training of nodescore models.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  %-10s %s\n", cmds[i].name, cmds[i].help);
	printf("\nRun 'nodescore-train COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		log_error("train", "no command given");
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage();
		return 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	log_error("train", "unknown command '%s' (see --help)", argv[1]);
	return 2;
}
