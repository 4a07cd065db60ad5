/*
 * cmd-list.c - aimfs-ctl list: one line per registered model, with the
 * columns design.md fixes (CACHE KEY, NAME, SOURCE, REVISION, SIZE, CACHED,
 * PINNED, STATE).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "src/util.h"

enum {
	C_KEY,
	C_NAME,
	C_SOURCE,
	C_REV,
	C_SIZE,
	C_CACHED,
	C_PINNED,
	C_STATE,
	NCOL
};

static const char *heads[NCOL] = { "CACHE KEY", "NAME",   "SOURCE",
				   "REVISION",	"SIZE",	  "CACHED",
				   "PINNED",	"STATE" };

static void row_cells(json_t *m, char cells[NCOL][300])
{
	json_int_t size = json_integer_value(json_object_get(m, "size"));
	json_int_t cached = json_integer_value(json_object_get(m, "cached"));
	const char *commit = json_string_value(json_object_get(m, "commit"));
	const char *rev = json_string_value(json_object_get(m, "revision"));
	char a[32], b[32];

	snprintf(cells[C_KEY], 300, "%s",
		 json_string_value(json_object_get(m, "cache_key")));
	snprintf(cells[C_NAME], 300, "%s",
		 json_string_value(json_object_get(m, "name")));
	snprintf(cells[C_SOURCE], 300, "%s",
		 json_string_value(json_object_get(m, "source")));
	/*
	 * s3:// and https:// models have no revision, only a digest of the
	 * version registered (ETags or Last-Modified and size), which is no
	 * commit anyone could look up: show "-" (list --json has the digest)
	 */
	if (rev == NULL || rev[0] == '\0')
		snprintf(cells[C_REV], 300, "-");
	else if (commit && strcmp(commit, rev) != 0)
		snprintf(cells[C_REV], 300, "%s (%.8s)", rev, commit);
	else
		snprintf(cells[C_REV], 300, "%.12s", commit ? commit : "-");
	snprintf(cells[C_SIZE], 300, "%s",
		 aim_human_size((uint64_t)size, a, sizeof(a)));
	snprintf(cells[C_CACHED], 300, "%s (%.1f%%)",
		 aim_human_size((uint64_t)cached, b, sizeof(b)),
		 size ? 100.0 * (double)cached / (double)size : 100.0);
	snprintf(cells[C_PINNED], 300, "%s",
		 json_is_true(json_object_get(m, "pinned")) ? "yes" : "no");
	snprintf(cells[C_STATE], 300, "%s",
		 json_string_value(json_object_get(m, "state")));
}

static void print_row(const char *const *cells, const size_t *width)
{
	for (int c = 0; c + 1 < NCOL; c++)
		printf("%-*s  ", (int)width[c], cells[c]);
	printf("%s\n", cells[NCOL - 1]);
}

static int exec_list(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t *resp, *models, *m;
	size_t width[NCOL], i;
	char cells[NCOL][300];

	if (argc != 1)
		return ctl_usage(&cmd_list);
	if (ctl_request(ctx, json_pack("{s:s}", "cmd", "list"), &resp, NULL, NULL) != 0)
		return 1;
	models = json_object_get(resp, "models");
	if (ctx->json) {
		ctl_print_json(models);
		json_decref(resp);
		return 0;
	}
	for (int c = 0; c < NCOL; c++)
		width[c] = strlen(heads[c]);
	json_array_foreach(models, i, m) {
		row_cells(m, cells);
		for (int c = 0; c < NCOL; c++)
			if (strlen(cells[c]) > width[c])
				width[c] = strlen(cells[c]);
	}
	print_row(heads, width);
	json_array_foreach(models, i, m) {
		const char *row[NCOL];
		row_cells(m, cells);
		for (int c = 0; c < NCOL; c++)
			row[c] = cells[c];
		print_row(row, width);
	}
	json_decref(resp);
	return 0;
}

const struct ctl_cmd cmd_list = { "list", "list                         "
					  "registered models and how much is cached",
				  exec_list };
