/*
 * cmd-status.c - aimfs-ctl status: store usage, limits and counters, as a
 * table, JSON, or the Prometheus text of the daemon's metrics endpoint.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "src/util.h"

static void line_size(json_t *st, const char *key, const char *label)
{
	char buf[32];

	printf("%-16s %s\n", label,
	       aim_human_size((uint64_t)json_integer_value(
				      json_object_get(st, key)),
			      buf, sizeof(buf)));
}

static void line_int(json_t *st, const char *key, const char *label)
{
	printf("%-16s %lld\n", label,
	       (long long)json_integer_value(json_object_get(st, key)));
}

/* the same text a scrape of the daemon's metrics= endpoint gets */
static int print_prometheus(struct ctl_ctx *ctx)
{
	json_t *resp, *text;

	if (ctl_request(ctx, json_pack("{s:s}", "cmd", "metrics"), &resp, NULL,
			NULL) != 0)
		return 1;
	text = json_object_get(resp, "text");
	if (!json_is_string(text)) {
		fprintf(stderr, "aimfs-ctl: the daemon sent no metrics\n");
		json_decref(resp);
		return 1;
	}
	fwrite(json_string_value(text), 1, json_string_length(text), stdout);
	json_decref(resp);
	return 0;
}

static int exec_status(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t *resp, *st;

	if (argc == 2 && strcmp(argv[1], "--prometheus") == 0)
		return print_prometheus(ctx);
	if (argc != 1)
		return ctl_usage(&cmd_status);
	if (ctl_request(ctx, json_pack("{s:s}", "cmd", "status"), &resp, NULL, NULL) != 0)
		return 1;
	st = json_object_get(resp, "status");
	if (ctx->json) {
		ctl_print_json(st);
		json_decref(resp);
		return 0;
	}
	printf("%-16s %s\n", "store:",
	       json_string_value(json_object_get(st, "store")));
	line_int(st, "models", "models:");
	line_size(st, "cached_bytes", "cached:");
	line_size(st, "stored_bytes", "stored:");
	line_size(st, "disk_bytes", "on disk:");
	printf("%-16s %.1f%% saved by lz4 (%lld blocks, compress=%s)\n",
	       "compression:",
	       100.0 * json_real_value(json_object_get(st, "compression_saving")),
	       (long long)json_integer_value(json_object_get(st, "lz4_blocks")),
	       json_string_value(json_object_get(st, "compress")));
	line_size(st, "cache_limit", "limit:");
	/* nothing is stored past the high one; eviction goes down to the low */
	line_size(st, "high_watermark", "high watermark:");
	line_size(st, "low_watermark", "low watermark:");
	line_size(st, "pinned_bytes", "pinned:");
	line_size(st, "block_size", "block size:");
	printf("%-16s %.1f%%\n", "hit ratio:",
	       100.0 * json_real_value(json_object_get(st, "hit_ratio")));
	line_size(st, "fetched_bytes", "fetched:");
	line_size(st, "served_bytes", "served:");
	line_int(st, "evictions", "evictions:");
	line_int(st, "fetch_errors", "fetch errors:");
	line_int(st, "verify_failures", "bad blocks:");
	printf("%-16s %s\n", "offline:",
	       json_is_true(json_object_get(st, "offline")) ? "yes" : "no");
	json_decref(resp);
	return 0;
}

const struct ctl_cmd cmd_status = { "status",
				    "status [--prometheus]        store usage, "
				    "limits and counters (or as metrics=)",
				    exec_status };
