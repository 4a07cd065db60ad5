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

static void data_hidden_path(void)
{
	struct aim_layout *l = aim_layout_new();
	struct aim_attr root, org, ref, dir;
	struct names ns = { 0 };
	struct aim_file *f;
	char buf[64], path[64];

	CHECK(aim_layout_add_data(l, "hub/m/refs/main", "0123456789", 10, 7) == 0);
	CHECK(aim_layout_lookup(l, 1, "hub", &root) == 0);
	CHECK(aim_layout_lookup(l, root.ino, "m", &dir) == 0 &&
	      aim_layout_lookup(l, dir.ino, "refs", &dir) == 0 &&
	      aim_layout_lookup(l, dir.ino, "main", &ref) == 0);
	CHECK(S_ISREG(ref.mode) && ref.size == 10);
	CHECK(aim_layout_file(l, ref.ino, &f) == -EINVAL);
	CHECK(aim_layout_read_data(l, ref.ino, buf, 4, 3) == 4 &&
	      memcmp(buf, "3456", 4) == 0);
	CHECK(aim_layout_read_data(l, ref.ino, buf, 64, 8) == 2);
	CHECK(aim_layout_read_data(l, ref.ino, buf, 64, 10) == 0);
	CHECK(aim_layout_read_data(l, dir.ino, buf, 64, 0) == -EINVAL);
	CHECK(aim_layout_readlink(l, ref.ino, buf, sizeof(buf)) == -EINVAL);
	CHECK(aim_layout_path(l, ref.ino, path, sizeof(path)) == 0 &&
	      strcmp(path, "hub/m/refs/main") == 0);
	CHECK(aim_layout_path(l, 1, path, sizeof(path)) == 0 && path[0] == 0);
	CHECK(aim_layout_path(l, ref.ino, path, 5) == -ERANGE);

	/* a hidden directory answers lookups but is not listed ... */
	CHECK(aim_layout_add_dir(l, "ghost", 1, 1) == 0);
	CHECK(aim_layout_add_dir(l, "ghost", 1, 1) == 0);
	CHECK(aim_layout_lookup(l, 1, "ghost", &org) == 0 && S_ISDIR(org.mode));
	CHECK(aim_layout_readdir(l, 1, 0, collect, &ns) == 0 && ns.n == 3);
	/* ... until something is added under it */
	CHECK(aim_layout_add_file(l, "ghost/m/f", (struct aim_file *)0x1, 1, 1) ==
	      0);
	ns.n = 0;
	CHECK(aim_layout_readdir(l, 1, 0, collect, &ns) == 0 && ns.n == 4 &&
	      strcmp(ns.seen[3], "ghost") == 0);
	CHECK(aim_layout_add_dir(l, "ghost/m/f", 0, 1) == -EEXIST);
	aim_layout_free(&l);
}

const struct unit_test layout_tests[] = {
	{ "layout: data files, hidden dirs, paths", data_hidden_path },
	{ "layout: tree, links, readdir", tree },
	{ "layout: 20000 files", many },
	{ NULL, NULL },
};
