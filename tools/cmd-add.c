/*
 * cmd-add.c - aimfs-ctl add URI [--name org/model] [--env-file FILE]:
 * register a model (metadata only; nothing is downloaded), optionally with
 * credentials of its own read from a file of KEY=VALUE lines (or "-",
 * standard input), so that no secret is on the command line.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "src/creds.h"

#define MAX_ENV_FILE (256u << 10)

/* the whole of path ("-": stdin) into *out, at most MAX_ENV_FILE bytes */
static int slurp(const char *path, char **out, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char *buf;
	size_t n;

	*out = NULL;
	if (f == NULL)
		return -errno;
	if ((buf = malloc(MAX_ENV_FILE + 1)) == NULL) {
		if (f != stdin)
			fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, MAX_ENV_FILE + 1, f);
	int err = ferror(f);
	if (f != stdin)
		fclose(f);
	if (err || n > MAX_ENV_FILE) {
		explicit_bzero(buf, n);
		free(buf);
		return err ? -EIO : -EFBIG;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/*
 * KEY=VALUE lines as Docker's --env-file reads them: blank lines and
 * lines starting with '#' are skipped, the value is taken as it is (no
 * quotes, no expansion). Errors name the line, never a value.
 */
static int parse_env(char *text, json_t *creds, const char *path)
{
	int lineno = 0;

	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		size_t n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		char *p = line + strspn(line, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		char *eq = strchr(p, '=');
		size_t klen = eq ? (size_t)(eq - p) : 0;
		if (eq == NULL || klen == 0 ||
		    strspn(p,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "abcdefghijklmnopqrstuvwxyz0123456789_") != klen) {
			fprintf(stderr,
				"aimfs-ctl: %s:%d: not a KEY=VALUE line\n",
				path, lineno);
			return -EINVAL;
		}
		*eq = '\0';
		if (json_object_set_new(creds, p, json_string(eq + 1)) < 0) {
			fprintf(stderr,
				"aimfs-ctl: %s:%d: the value is not "
				"UTF-8 text\n",
				path, lineno);
			return -EINVAL;
		}
	}
	return 0;
}

static int exec_add(struct ctl_ctx *ctx, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"name", required_argument, NULL, 'n'},
		{"env-file", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0}};
	const char *name = NULL, *env_file = NULL;
	json_t *req, *resp, *creds = NULL;
	int ch, rc;

	optind = 0; /* 0: glibc re-reads the option string (permute) */
	while ((ch = getopt_long(argc, argv, "n:e:", longopts, NULL)) != -1) {
		if (ch == 'n')
			name = optarg;
		else if (ch == 'e')
			env_file = optarg;
		else
			return ctl_usage(&cmd_add);
	}
	if (optind != argc - 1)
		return ctl_usage(&cmd_add);
	if (env_file) {
		char *text;
		size_t len = 0;
		if ((rc = slurp(env_file, &text, &len)) < 0) {
			fprintf(stderr, "aimfs-ctl: cannot read '%s': %s\n",
				env_file, strerror(-rc));
			return 1;
		}
		creds = json_object();
		rc = creds ? parse_env(text, creds, env_file) : -ENOMEM;
		explicit_bzero(text, len);
		free(text);
		if (rc < 0) {
			aim_creds_wipe_json(creds);
			json_decref(creds);
			if (rc == -ENOMEM)
				fprintf(stderr, "aimfs-ctl: out of memory\n");
			return 1;
		}
	}
	req = json_pack("{s:s, s:s}", "cmd", "add", "uri", argv[optind]);
	if (req && name)
		json_object_set_new(req, "name", json_string(name));
	if (creds && (req == NULL ||
		      json_object_set_new(req, "credentials", creds) < 0)) {
		aim_creds_wipe_json(creds);
		json_decref(req);
		req = NULL; /* ctl_request says it */
	}
	if (ctl_request(ctx, req, &resp, NULL, NULL) != 0)
		return 1;
	if (ctx->json)
		ctl_print_json(resp);
	else
		printf("%s %s%s\n", argv[optind],
		       json_is_true(json_object_get(resp, "created"))
			       ? "registered"
			       : "was already registered",
		       json_is_true(
			       json_object_get(resp, "credentials_replaced"))
			       ? "; its credentials were replaced"
			       : "");
	json_decref(resp);
	return 0;
}

const struct ctl_cmd cmd_add = {
	"add",
	"add URI [--name org/model] [--env-file FILE]  register a model "
	"(metadata only),\n"
	"      with credentials of its own (HF_TOKEN=, AWS_...=) from FILE "
	"or - (stdin)",
	exec_add};
