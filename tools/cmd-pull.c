/*
 * cmd-pull.c - aimfs-ctl pull, pin and unpin. pull fetches every block of
 * each model (registering a URI first); pin makes a model whole and keeps
 * it; unpin lets it be evicted again. On a terminal a progress line per
 * model shows bytes, rate and ETA; otherwise only a final line is printed.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "src/util.h"

struct bar {
	int tty;
	char name[256];
	uint64_t first_done; /* bytes present when we started watching */
	int open;	     /* a progress line is on the screen */
};

static void fmt_eta(double secs, char *buf, size_t len)
{
	if (secs < 0 || secs > 99 * 3600)
		snprintf(buf, len, "--:--");
	else
		snprintf(buf, len, "%d:%02d:%02d", (int)secs / 3600,
			 ((int)secs / 60) % 60, (int)secs % 60);
}

static int on_progress(void *arg, json_t *ev)
{
	struct bar *b = arg;
	const char *name = json_string_value(json_object_get(ev, "name"));
	uint64_t total = (uint64_t)json_integer_value(json_object_get(ev, "total"));
	uint64_t done = (uint64_t)json_integer_value(json_object_get(ev, "done"));
	uint64_t ms = (uint64_t)json_integer_value(json_object_get(ev, "elapsed_ms"));
	int finished = json_is_true(json_object_get(ev, "finished"));
	char d[32], t[32], r[32], eta[32];

	if (!b->tty || name == NULL)
		return 0;
	if (strcmp(name, b->name) != 0) {
		if (b->open)
			fputc('\n', stderr);
		snprintf(b->name, sizeof(b->name), "%s", name);
		b->first_done = done;
	}
	double secs = (double)ms / 1000.0;
	double rate = secs > 0 ? (double)(done - b->first_done) / secs : 0;
	fmt_eta(rate > 0 ? (double)(total - done) / rate : -1, eta, sizeof(eta));
	int width = 24, fill = total ? (int)((double)done / (double)total * width) : width;
	char barbuf[64];
	for (int i = 0; i < width; i++)
		barbuf[i] = i < fill ? '#' : '.';
	barbuf[width] = '\0';
	fprintf(stderr, "\r\033[K%-32s [%s] %5.1f%%  %s / %s  %s/s  ETA %s", name,
		barbuf, total ? 100.0 * (double)done / (double)total : 100.0,
		aim_human_size(done, d, sizeof(d)),
		aim_human_size(total, t, sizeof(t)),
		aim_human_size((uint64_t)rate, r, sizeof(r)), eta);
	b->open = !finished;
	if (finished)
		fputc('\n', stderr);
	fflush(stderr);
	return 0;
}

/* shared by pull, pin and unpin */
static int run(struct ctl_ctx *ctx, const struct ctl_cmd *cmd, int argc,
	       char **argv)
{
	static const struct option longopts[] = {
		{ "no-wait", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct bar bar = { .tty = isatty(STDERR_FILENO) };
	json_t *req, *targets, *resp, *r;
	int ch, wait = 1, unpin = strcmp(cmd->name, "unpin") == 0;
	size_t i;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "n", longopts, NULL)) != -1) {
		if (ch != 'n' || unpin)
			return ctl_usage(cmd);
		wait = 0;
	}
	if (optind >= argc || (unpin && argc - optind != 1) ||
	    (!unpin && strcmp(cmd->name, "pin") == 0 && argc - optind != 1))
		return ctl_usage(cmd);
	targets = json_array();
	for (int k = optind; k < argc; k++)
		json_array_append_new(targets, json_string(argv[k]));
	req = json_pack("{s:s, s:o, s:b}", "cmd", cmd->name, "targets", targets,
			"wait", wait);
	int rc = ctl_request(ctx, req, &resp, on_progress, &bar);
	if (bar.open)
		fputc('\n', stderr);
	if (rc != 0)
		return 1;
	if (ctx->json) {
		ctl_print_json(resp);
	} else {
		json_array_foreach(json_object_get(resp, "results"), i, r) {
			const char *t = json_string_value(json_object_get(r, "target"));
			if (unpin)
				printf("%s: unpinned\n", t);
			else if (!wait)
				printf("%s: %s started\n", t, cmd->name);
			else
				printf("%s: %s, complete\n", t,
				       strcmp(cmd->name, "pin") == 0 ? "pinned" :
								      "pulled");
		}
	}
	json_decref(resp);
	return 0;
}

static int exec_pull(struct ctl_ctx *ctx, int argc, char **argv)
{
	return run(ctx, &cmd_pull, argc, argv);
}

static int exec_pin(struct ctl_ctx *ctx, int argc, char **argv)
{
	return run(ctx, &cmd_pin, argc, argv);
}

static int exec_unpin(struct ctl_ctx *ctx, int argc, char **argv)
{
	return run(ctx, &cmd_unpin, argc, argv);
}

const struct ctl_cmd cmd_pull = {
	"pull",
	"pull [--no-wait] URI|NAME...  fetch every block (registers a URI first)",
	exec_pull
};
const struct ctl_cmd cmd_pin = {
	"pin", "pin [--no-wait] NAME          pull in full and never evict",
	exec_pin
};
const struct ctl_cmd cmd_unpin = {
	"unpin", "unpin NAME                   let it be evicted again",
	exec_unpin
};
