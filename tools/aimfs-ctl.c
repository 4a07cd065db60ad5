/*
 * aimfs-ctl.c - the control CLI: global options, the command table, and the
 * two ways of reaching a cache (a daemon's socket, or --store directly).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "src/cache.h"
#include "src/creds.h"
#include "src/ctl.h"
#include "src/log.h"
#include "src/util.h"

static const struct ctl_cmd *commands[] = {
	&cmd_add, &cmd_pull,	&cmd_pin,    &cmd_unpin,  &cmd_evict, &cmd_rm,
	&cmd_list, &cmd_status, &cmd_verify, &cmd_export, &cmd_import,
};

static void usage(FILE *out)
{
	fprintf(out, "usage: aimfs-ctl [--socket PATH | --store DIR] [--config FILE]\n"
		     "                 [--json] [-h] [-V] COMMAND ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i]->usage);
	fprintf(out,
		"\nThe daemon's socket is found from --socket, $AIMFS_SOCKET,\n"
		"ctl_socket in %s (or --config FILE), else %s.\n"
		"Exit status: 0 success, 1 failure, 2 bad usage.\n",
		AIM_CONF_FILE, AIM_DEFAULT_SOCKET);
}

int ctl_usage(const struct ctl_cmd *cmd)
{
	fprintf(stderr, "usage: aimfs-ctl %s\n", cmd->usage);
	return 2;
}

void ctl_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2));

	if (s) {
		puts(s);
		free(s);
	}
}

static int open_store(struct ctl_ctx *ctx)
{
	char *cause = NULL;
	int rc;

	if (ctx->cache)
		return 0;
	if ((rc = aim_conf_set(&ctx->conf, "store", ctx->store, &cause)) < 0 ||
	    (rc = aim_conf_finish(&ctx->conf, &cause)) < 0 ||
	    (rc = aim_cache_open(&ctx->conf, &ctx->cache, &cause)) < 0 ||
	    (rc = aim_cache_start(ctx->cache)) < 0) {
		fprintf(stderr, "aimfs-ctl: %s\n", cause ? cause : strerror(-rc));
		free(cause);
		return 1;
	}
	return 0;
}

char *ctl_abspath(const char *path)
{
	char cwd[PATH_MAX], *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL ||
	    asprintf(&out, "%s/%s", cwd, path) < 0)
		return NULL;
	return out;
}

int ctl_request(struct ctl_ctx *ctx, json_t *req, json_t **resp,
		int (*on_event)(void *arg, json_t *event), void *arg)
{
	char *cause = NULL;
	int rc;

	*resp = NULL;
	if (req == NULL) {
		fprintf(stderr, "aimfs-ctl: out of memory\n");
		return 1;
	}
	if (ctx->store) {
		if (open_store(ctx) != 0) {
			json_decref(req);
			return 1;
		}
		*resp = aim_ctl_exec(ctx->cache, req, on_event, arg);
	} else {
		rc = aim_ctl_call(ctx->socket, req, on_event, arg, resp, &cause);
		if (rc < 0) {
			fprintf(stderr, "aimfs-ctl: %s\n",
				cause ? cause : strerror(-rc));
			free(cause);
			aim_creds_wipe_json(json_object_get(req, "credentials"));
			json_decref(req);
			return 1;
		}
	}
	aim_creds_wipe_json(json_object_get(req, "credentials"));
	json_decref(req);
	if (*resp == NULL) {
		fprintf(stderr, "aimfs-ctl: out of memory\n");
		return 1;
	}
	if (!json_is_true(json_object_get(*resp, "ok"))) {
		const char *err = json_string_value(json_object_get(*resp, "error"));
		fprintf(stderr, "aimfs-ctl: %s\n", err ? err : "request failed");
		json_decref(*resp);
		*resp = NULL;
		return 1;
	}
	return 0;
}

/* the socket from the config file, unless given */
static int find_socket(struct ctl_ctx *ctx, const char *config)
{
	char *cause = NULL;
	const char *env = getenv("AIMFS_SOCKET");

	if (ctx->socket)
		return 0;
	if (env && *env) {
		ctx->socket = env;
		return 0;
	}
	if (aim_conf_load(&ctx->conf, config ? config : AIM_CONF_FILE,
			  config != NULL, &cause) < 0) {
		fprintf(stderr, "aimfs-ctl: %s\n", cause ? cause : "bad config");
		free(cause);
		return 1;
	}
	if (aim_conf_finish(&ctx->conf, &cause) < 0)
		return 1;
	ctx->socket = ctx->conf.ctl_socket;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "store", required_argument, NULL, 'S' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl_ctx ctx = { 0 };
	const char *config = NULL;
	char *cause = NULL;
	int ch, rc = 2;

	aim_conf_init(&ctx.conf);
	aim_log_open("aimfs-ctl", 0);
	aim_log_level = LOG_WARNING;
	while ((ch = getopt_long(argc, argv, "+hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			ctx.socket = optarg;
			break;
		case 'S':
			ctx.store = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case 'j':
			ctx.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("aimfs-ctl %s\n%s\n", PACKAGE_VERSION,
			       aim_versions());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (ctx.socket && ctx.store) {
		fprintf(stderr, "aimfs-ctl: give --socket or --store, not both\n");
		return 2;
	}
	if (ctx.store) {
		if (aim_conf_from_env(&ctx.conf, &cause) < 0) {
			fprintf(stderr, "aimfs-ctl: %s\n", cause);
			free(cause);
			return 1;
		}
	} else if (find_socket(&ctx, config) != 0) {
		return 1;
	}
	const char *name = argv[optind];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i]->name, name) == 0) {
			/* the command sees its own name as argv[0] */
			rc = commands[i]->exec(&ctx, argc - optind, argv + optind);
			goto out;
		}
	}
	fprintf(stderr, "aimfs-ctl: unknown command '%s'\n", name);
	usage(stderr);
out:
	aim_cache_free(&ctx.cache);
	aim_conf_release(&ctx.conf);
	aim_log_flush();
	return rc;
}
