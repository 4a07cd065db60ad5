/* test-store.c - blob files, durability helpers, the store lock */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "src/store.h"

static void blocks(void)
{
	const char *dir = unit_tmpdir();
	struct aim_store *s = NULL;
	char *cause = NULL, buf[8192], out[8192];
	int fd;

	CHECK(aim_store_open(dir, &s, &cause) == 0);
	if (s == NULL)
		return;
	fd = aim_store_blob_open(s, "abcdef");
	CHECK(fd >= 0);
	memset(buf, 'x', sizeof(buf));
	/* block 1 first: the file is sparse, block 0 is a hole */
	CHECK(aim_store_put(fd, 1 << 20, buf, sizeof(buf)) == 0);
	CHECK(aim_store_get(fd, 1 << 20, out, sizeof(out)) == 0 &&
	      memcmp(buf, out, sizeof(buf)) == 0);
	CHECK(aim_store_get(fd, (1 << 20) + 8000, out, 500) == -EIO); /* short */
	uint64_t before = aim_store_disk_usage(s);
	CHECK(before >= sizeof(buf) && before < (1 << 20));
	CHECK(aim_store_drop(fd, 1 << 20, sizeof(buf)) == 0);
	CHECK(aim_store_disk_usage(s) < before);
	CHECK(aim_store_blob_open(s, "../evil") == -EINVAL);
	CHECK(aim_store_blob_open(s, "a") == -EINVAL);
	close(fd);
	aim_store_free(&s);
}

static void lock(void)
{
	const char *dir = unit_tmpdir();
	struct aim_store *a = NULL, *b = NULL;
	char *cause = NULL;
	pid_t pid;
	int status;

	CHECK(aim_store_open(dir, &a, &cause) == 0);
	/* flock is per open file: a second open in another process fails */
	pid = fork();
	if (pid == 0) {
		int rc = aim_store_open(dir, &b, &cause);
		_exit(rc == -EBUSY && cause && strstr(cause, "in use") ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	aim_store_free(&a);
	CHECK(aim_store_open(dir, &b, &cause) == 0);
	aim_store_free(&b);
}

const struct unit_test store_tests[] = {
	{ "store: sparse blocks, holes, usage", blocks },
	{ "store: one writer at a time", lock },
	{ NULL, NULL },
};
