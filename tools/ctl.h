/*
 * ctl.h - what the aimfs-ctl subcommands share: the context (daemon socket
 * or a store opened directly) and the request helper.
 */
#ifndef AIM_TOOLS_CTL_H
#define AIM_TOOLS_CTL_H

#include <jansson.h>

#include "src/conf.h"

struct aim_cache;

struct ctl_ctx {
	const char *socket;	 /* talk to this daemon ... */
	const char *store;	 /* ... or open this store directly */
	int json;		 /* print JSON instead of tables */
	struct aim_conf conf;	 /* for --store mode */
	struct aim_cache *cache; /* opened on first request in --store mode */
};

struct ctl_cmd {
	const char *name;
	const char *usage;
	int (*exec)(struct ctl_ctx *ctx, int argc, char **argv);
};

extern const struct ctl_cmd cmd_add, cmd_list, cmd_status, cmd_pull, cmd_pin,
	cmd_unpin, cmd_evict, cmd_rm, cmd_verify, cmd_export, cmd_import;

/*
 * Send req (consumed) and return the answer in *resp on success; events
 * before the answer go to on_event (may be NULL). On a failed request
 * prints "aimfs-ctl: REASON" and returns 1.
 */
int ctl_request(struct ctl_ctx *ctx, json_t *req, json_t **resp,
		int (*on_event)(void *arg, json_t *event), void *arg);

/* an absolute version of a path given on the command line; caller frees */
char *ctl_abspath(const char *path);

/* print usage of one command to stderr and return 2 */
int ctl_usage(const struct ctl_cmd *cmd);

/* print a JSON value to stdout, indented */
void ctl_print_json(json_t *j);

#endif
