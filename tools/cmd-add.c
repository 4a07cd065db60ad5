/*
 * cmd-add.c - aimfs-ctl add URI [--name org/model]: register a model
 * (metadata only; nothing is downloaded).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int exec_add(struct ctl_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = NULL;
	json_t *req, *resp;
	int ch;

	optind = 0; /* 0: glibc re-reads the option string (permute) */
	while ((ch = getopt_long(argc, argv, "n:", longopts, NULL)) != -1) {
		if (ch != 'n')
			return ctl_usage(&cmd_add);
		name = optarg;
	}
	if (optind != argc - 1)
		return ctl_usage(&cmd_add);
	req = json_pack("{s:s, s:s}", "cmd", "add", "uri", argv[optind]);
	if (req && name)
		json_object_set_new(req, "name", json_string(name));
	if (ctl_request(ctx, req, &resp, NULL, NULL) != 0)
		return 1;
	if (ctx->json)
		ctl_print_json(resp);
	else
		printf("%s %s\n", argv[optind],
		       json_is_true(json_object_get(resp, "created")) ?
			       "registered" :
			       "was already registered");
	json_decref(resp);
	return 0;
}

const struct ctl_cmd cmd_add = {
	"add", "add URI [--name org/model]  register a model (metadata only)",
	exec_add
};
