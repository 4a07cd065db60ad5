/* test-layout.c - the inode tree */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "unit.h"
#include "src/layout.h"

struct names {
	char seen[16][64];
	int n;
};

static int collect(void *arg, const char *name, const struct aim_attr *a,
		   uint64_t next)
{
	struct names *ns = arg;

	if (ns->n < 16)
		strncpy(ns->seen[ns->n++], name, 63);
	return 0;
}

static void tree(void)
{
	struct aim_layout *l = aim_layout_new();
	struct aim_file *f1 = (struct aim_file *)0x1, *got = NULL;
	struct aim_attr org, model, sub, file;
	struct names ns = { 0 };
	char link[64];

	CHECK(aim_layout_add_file(l, "org/m/config.json", f1, 10, 100) == 0);
	CHECK(aim_layout_add_file(l, "org/m/onnx/a.onnx", f1, 20, 200) == 0);
	CHECK(aim_layout_add_file(l, "org/m/config.json", f1, 10, 100) ==
	      -EEXIST);
	/* a file where a directory is needed */
	CHECK(aim_layout_add_file(l, "org/m/config.json/x", f1, 1, 1) ==
	      -EEXIST);
	CHECK(aim_layout_add_link(l, "hub/x/link", "../../blobs/abc", 5) == 0);

	CHECK(aim_layout_lookup(l, 1, "org", &org) == 0 && S_ISDIR(org.mode));
	CHECK(aim_layout_lookup(l, org.ino, "m", &model) == 0);
	CHECK(model.mtime == 200); /* newest child */
	CHECK(aim_layout_lookup(l, model.ino, "onnx", &sub) == 0);
	CHECK(aim_layout_lookup(l, sub.ino, "a.onnx", &file) == 0 &&
	      S_ISREG(file.mode) && file.size == 20);
	CHECK(aim_layout_lookup(l, model.ino, "nope", &file) == -ENOENT);
	CHECK(aim_layout_lookup(l, file.ino, "x", &file) == -ENOTDIR);
	CHECK(aim_layout_file(l, file.ino, &got) == 0 && got == f1);
	CHECK(aim_layout_file(l, model.ino, &got) == -EISDIR);
	CHECK(aim_layout_exists(l, "hub/x/link"));
	CHECK(!aim_layout_exists(l, "hub/y"));
	CHECK(aim_layout_lookup(l, 1, "hub", &org) == 0 &&
	      aim_layout_lookup(l, org.ino, "x", &sub) == 0 &&
	      aim_layout_lookup(l, sub.ino, "link", &file) == 0 &&
	      S_ISLNK(file.mode));
	CHECK(aim_layout_readlink(l, file.ino, link, sizeof(link)) == 0 &&
	      strcmp(link, "../../blobs/abc") == 0);

	CHECK(aim_layout_readdir(l, model.ino, 0, collect, &ns) == 0);
	CHECK(ns.n == 4 && strcmp(ns.seen[0], ".") == 0 &&
	      strcmp(ns.seen[1], "..") == 0 &&
	      strcmp(ns.seen[2], "config.json") == 0 &&
	      strcmp(ns.seen[3], "onnx") == 0);
	ns.n = 0;
	CHECK(aim_layout_readdir(l, model.ino, 3, collect, &ns) == 0 &&
	      ns.n == 1 && strcmp(ns.seen[0], "onnx") == 0);
	aim_layout_free(&l);
	CHECK(l == NULL);
}

static void many(void)
{
	struct aim_layout *l = aim_layout_new();
	struct aim_attr a, d;
	char path[64];
	int ok = 1;

	for (int i = 0; i < 20000 && ok; i++) {
		snprintf(path, sizeof(path), "o/m/d%d/f%d", i % 100, i);
		ok = aim_layout_add_file(l, path, (struct aim_file *)0x1, 1, 1) ==
		     0;
	}
	CHECK(ok);
	CHECK(aim_layout_lookup(l, 1, "o", &a) == 0 &&
	      aim_layout_lookup(l, a.ino, "m", &a) == 0 &&
	      aim_layout_lookup(l, a.ino, "d7", &d) == 0 &&
	      aim_layout_lookup(l, d.ino, "f19907", &a) == 0);
	aim_layout_free(&l);
}

const struct unit_test layout_tests[] = {
	{ "layout: tree, links, readdir", tree },
	{ "layout: 20000 files", many },
	{ NULL, NULL },
};
