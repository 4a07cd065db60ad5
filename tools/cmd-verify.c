/*
 * cmd-verify.c - aimfs-ctl verify [NAME]: re-hash what is cached. Exits 1
 * when a file had bad blocks (they were dropped and will be fetched again).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int exec_verify(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t *req, *resp, *f;
	size_t i;
	int bad;

	if (argc > 2)
		return ctl_usage(&cmd_verify);
	req = json_pack("{s:s}", "cmd", "verify");
	if (req && argc == 2)
		json_object_set_new(req, "name", json_string(argv[1]));
	if (ctl_request(ctx, req, &resp, NULL, NULL) != 0)
		return 1;
	bad = (int)json_integer_value(json_object_get(resp, "bad"));
	if (ctx->json) {
		ctl_print_json(json_object_get(resp, "files"));
	} else {
		printf("%-9s %-7s %-4s %s\n", "STATUS", "BLOCKS", "BAD", "FILE");
		json_array_foreach(json_object_get(resp, "files"), i, f)
			printf("%-9s %-7lld %-4lld %s/%s\n",
			       json_string_value(json_object_get(f, "status")),
			       (long long)json_integer_value(
				       json_object_get(f, "blocks_checked")),
			       (long long)json_integer_value(
				       json_object_get(f, "bad_blocks")),
			       json_string_value(json_object_get(f, "model")),
			       json_string_value(json_object_get(f, "path")));
	}
	json_decref(resp);
	if (bad > 0) {
		fprintf(stderr,
			"aimfs-ctl: %d file%s failed verification (bad blocks "
			"dropped; they will be fetched again)\n",
			bad, bad == 1 ? "" : "s");
		return 1;
	}
	return 0;
}

const struct ctl_cmd cmd_verify = {
	"verify", "verify [NAME]                re-hash cached data",
	exec_verify
};
