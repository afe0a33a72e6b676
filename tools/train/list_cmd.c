// SPDX-License-Identifier: MIT
/* nodescore-train list: model bundles under a directory, one line each. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nodescore/bundle.h"
#include "nodescore/log.h"
#include "nodescore/mainopt.h"
#include "nodescore/opt.h"
#include "train.h"

static void print_bundle(const char *path, const char *name)
{
	struct ns_bundle *b = NULL;
	const cJSON *m, *tg, *e;
	char err[512];
	const char *v;

	if (ns_bundle_open(path, &b, err, sizeof(err))) {
		log_warning("train", "not a bundle path=%s reason=%s", path, err);
		return;
	}
	m = ns_bundle_manifest(b);
	v = ns_bundle_get(b, "version");
	printf("%-28s kind=%s version=%s created=%s", name,
	       ns_bundle_get(b, "kind") ? ns_bundle_get(b, "kind") : "?", v ? v : "?",
	       ns_bundle_get(b, "created") ? ns_bundle_get(b, "created") : "?");
	tg = cJSON_GetObjectItemCaseSensitive(m, "targets");
	if (cJSON_IsArray(tg)) {
		printf(" targets=%d train_mae_pp=", cJSON_GetArraySize(tg));
		cJSON_ArrayForEach(e, tg)
		{
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(e, "name");
			const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, "train_mae_pp");

			if (cJSON_IsString(n) && cJSON_IsNumber(x))
				printf("%s%s:%.2f", e == tg->child ? "" : ",", n->valuestring,
				       x->valuedouble);
		}
	}
	printf("\n");
	ns_bundle_close(b);
}

int train_list_main(int argc, char **argv)
{
	struct ns_opt o[] = {
	    {"log-level", NS_OPT_STRING, "info", "error|warning|success|info", NULL, 0},
	};
	char path[4200];
	struct dirent **ents = NULL;
	int argi = 0, n;

	int opt_rc = ns_main_opts(o, 1, "nodescore-train list",
				  "List model bundles (directories with manifest.json) under DIR.\n"
				  "Usage: nodescore-train list [OPTIONS] DIR",
				  argc, argv, &argi, "train");

	if (opt_rc >= 0)
		return opt_rc;
	if (argc - argi != 1) {
		log_error("train", "need exactly one DIR (see --help)");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s", argv[argi], NS_BUNDLE_MANIFEST);
	if (access(path, F_OK) == 0) {
		print_bundle(argv[argi], argv[argi]);
		return 0;
	}
	n = scandir(argv[argi], &ents, NULL, alphasort);
	if (n < 0) {
		log_error_errno("train", "cannot list dir=%s", argv[argi]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", argv[argi], ents[i]->d_name,
			 NS_BUNDLE_MANIFEST);
		if (ents[i]->d_name[0] != '.' && access(path, F_OK) == 0) {
			snprintf(path, sizeof(path), "%s/%s", argv[argi], ents[i]->d_name);
			print_bundle(path, ents[i]->d_name);
		}
		free(ents[i]);
	}
	free(ents);
	return 0;
}
