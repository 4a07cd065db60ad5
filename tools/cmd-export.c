/*
 * cmd-export.c - aimfs-ctl export NAME DIR and import DIR: move a model
 * between stores with no network (air-gapped clusters).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

static int exec_export(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t *resp;
	char *dir;
	int rc, compress = 0;

	/* export [--compress] NAME DIR */
	if (argc > 1 && strcmp(argv[1], "--compress") == 0) {
		compress = 1;
		argc--;
		argv++;
	}
	if (argc != 3 || argv[1][0] == '-')
		return ctl_usage(&cmd_export);
	if ((dir = ctl_abspath(argv[2])) == NULL)
		return 1;
	rc = ctl_request(ctx,
			 json_pack("{s:s, s:s, s:s, s:b}", "cmd", "export",
				   "name", argv[1], "dir", dir, "compress",
				   compress),
			 &resp, NULL, NULL);
	if (rc == 0) {
		printf("exported %s to %s%s\n", argv[1], dir,
		       compress ? " (lz4 frames)" : "");
		json_decref(resp);
	}
	free(dir);
	return rc ? 1 : 0;
}

static int exec_import(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t *resp;
	char *dir;
	int rc;

	if (argc != 2)
		return ctl_usage(&cmd_import);
	if ((dir = ctl_abspath(argv[1])) == NULL)
		return 1;
	rc = ctl_request(ctx, json_pack("{s:s, s:s}", "cmd", "import", "dir", dir),
			 &resp, NULL, NULL);
	if (rc == 0) {
		printf("imported %s from %s\n",
		       json_string_value(json_object_get(resp, "name")), dir);
		json_decref(resp);
	}
	free(dir);
	return rc ? 1 : 0;
}

const struct ctl_cmd cmd_export = {
	"export", "export [--compress] NAME DIR write a complete model to DIR",
	exec_export
};
const struct ctl_cmd cmd_import = {
	"import", "import DIR                   register and fill a model from DIR",
	exec_import
};
