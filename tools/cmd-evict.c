/*
 * cmd-evict.c - aimfs-ctl evict (give space back) and rm (unregister).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "src/util.h"

static int exec_evict(struct ctl_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "unpinned", no_argument, NULL, 'u' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	const char *to = NULL;
	int ch, unpinned = 0;
	json_t *req, *resp;
	char buf[32];

	optind = 0;
	while ((ch = getopt_long(argc, argv, "ut:", longopts, NULL)) != -1) {
		if (ch == 'u')
			unpinned = 1;
		else if (ch == 't')
			to = optarg;
		else
			return ctl_usage(&cmd_evict);
	}
	/* exactly one of NAME, --unpinned, --to */
	if ((optind < argc) + unpinned + (to != NULL) != 1 || argc - optind > 1)
		return ctl_usage(&cmd_evict);
	req = json_pack("{s:s, s:b}", "cmd", "evict", "unpinned", unpinned);
	if (req && optind < argc)
		json_object_set_new(req, "name", json_string(argv[optind]));
	if (req && to)
		json_object_set_new(req, "to", json_string(to));
	if (ctl_request(ctx, req, &resp, NULL, NULL) != 0)
		return 1;
	if (ctx->json)
		ctl_print_json(resp);
	else
		printf("freed %s\n",
		       aim_human_size((uint64_t)json_integer_value(
					      json_object_get(resp, "freed")),
				      buf, sizeof(buf)));
	json_decref(resp);
	return 0;
}

static int exec_rm(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t *resp;

	if (argc != 2)
		return ctl_usage(&cmd_rm);
	if (ctl_request(ctx, json_pack("{s:s, s:s}", "cmd", "rm", "name", argv[1]),
			&resp, NULL, NULL) != 0)
		return 1;
	if (!ctx->json)
		printf("removed %s\n", argv[1]);
	else
		ctl_print_json(resp);
	json_decref(resp);
	return 0;
}

const struct ctl_cmd cmd_evict = {
	"evict",
	"evict NAME | --unpinned | --to SIZE   drop cached blocks (never pinned)",
	exec_evict
};
const struct ctl_cmd cmd_rm = {
	"rm", "rm NAME|URI                  unregister and free its blocks",
	exec_rm
};
