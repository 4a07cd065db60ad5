/*
 * run-unit.c - runs every unit test table and prints a closing line CI can
 * read: "N passed, N failed".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "src/log.h"

int unit_failed;
static char tmpl[256];
static int ntmp;
static char tmpdirs[64][256];

const char *unit_tmpdir(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpl, sizeof(tmpl), "%s/aimfs-unit.XXXXXX",
		 base && *base ? base : "/tmp");
	if (mkdtemp(tmpl) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	if (ntmp < 64)
		strcpy(tmpdirs[ntmp++], tmpl);
	return tmpl;
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	const struct unit_test *tables[] = { util_tests,  uri_tests,
					     block_tests, index_tests,
					     store_tests, layout_tests,
					     sigv4_tests, s3xml_tests,
					     codec_tests, log_tests,
					     metrics_tests, creds_tests };
	int passed = 0, failed = 0;

	aim_log_open("unit", 0);
	aim_log_level = getenv("UNIT_DEBUG") ? LOG_DEBUG : LOG_CRIT;
	for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
		for (const struct unit_test *u = tables[t]; u->name; u++) {
			if (argc > 1 && strstr(u->name, argv[1]) == NULL)
				continue;
			unit_failed = 0;
			u->fn();
			printf("%s - %s\n", unit_failed ? "FAIL" : "ok", u->name);
			if (unit_failed)
				failed++;
			else
				passed++;
		}
	}
	for (int i = 0; i < ntmp; i++)
		if (nftw(tmpdirs[i], rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
			fprintf(stderr, "cannot remove %s\n", tmpdirs[i]);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
