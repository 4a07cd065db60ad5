/*
 * layout.h - the mounted tree as inodes: directories, files and symlinks
 * built from the registered models. The FUSE adapter asks it for lookups,
 * attributes and directory entries; it never talks to the network.
 *
 * Inode numbers are stable for the life of the process (root is 1) and
 * nodes are never freed while the layout lives, so a file pointer taken
 * from a node stays valid. All functions are thread-safe (a rwlock: readers
 * share, adding a model writes).
 */
#ifndef AIM_LAYOUT_H
#define AIM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct aim_layout;
struct aim_file;

struct aim_attr {
	uint64_t ino;
	mode_t mode; /* type and permission bits */
	uint64_t size;
	int64_t mtime;
	uint32_t nlink;
};

struct aim_layout *aim_layout_new(void);
void aim_layout_free(struct aim_layout **l);

/*
 * Add a regular file at path (components separated by '/'), creating the
 * directories on the way with mtime. file is borrowed and must outlive the
 * layout. -EEXIST if the path or one of its directories is taken by
 * something else.
 */
int aim_layout_add_file(struct aim_layout *l, const char *path,
			struct aim_file *file, uint64_t size, int64_t mtime);
/* add a symlink at path pointing at target (copied) */
int aim_layout_add_link(struct aim_layout *l, const char *path,
			const char *target, int64_t mtime);
/* add a small read-only file whose content (copied) lives in memory */
int aim_layout_add_data(struct aim_layout *l, const char *path,
			const char *data, size_t len, int64_t mtime);
/*
 * Add a directory. A hidden one answers lookups but is left out of its
 * parent's listing until something is added under it. 0 or -EEXIST if a
 * non-directory holds the path (an existing directory is fine).
 */
int aim_layout_add_dir(struct aim_layout *l, const char *path, int hidden,
		       int64_t mtime);
/* copy the path of a node ("" for the root) into buf; -ENOENT, -ERANGE */
int aim_layout_path(struct aim_layout *l, uint64_t ino, char *buf, size_t len);
/* copy up to size bytes at off of a data file; bytes copied or -EINVAL */
ssize_t aim_layout_read_data(struct aim_layout *l, uint64_t ino, void *buf,
			     size_t size, uint64_t off);
/*
 * Remove path (and so everything under it) from the tree. The nodes stay
 * allocated, so open files keep working; lookups no longer find them. The
 * invalidation hook, if set, is called after the removal so the kernel
 * forgets the name. -ENOENT if absent.
 */
int aim_layout_remove(struct aim_layout *l, const char *path);
/* fn(arg, parent inode, name) tells the kernel a name went away */
void aim_layout_set_inval(struct aim_layout *l,
			  void (*fn)(void *arg, uint64_t parent,
				     const char *name),
			  void *arg);

/* 1 if path exists */
int aim_layout_exists(struct aim_layout *l, const char *path);

int aim_layout_lookup(struct aim_layout *l, uint64_t parent, const char *name,
		      struct aim_attr *out);
int aim_layout_getattr(struct aim_layout *l, uint64_t ino,
		       struct aim_attr *out);
/* the file behind a regular-file inode; -EISDIR, -ENOENT, or -EINVAL for
 * a symlink or an in-memory data file */
int aim_layout_file(struct aim_layout *l, uint64_t ino, struct aim_file **out);
/* copy a symlink's target into buf (NUL-terminated); -EINVAL if not a link */
int aim_layout_readlink(struct aim_layout *l, uint64_t ino, char *buf,
			size_t len);

/*
 * List a directory from position off: ".", "..", then the children. For
 * each entry cb gets the name, attributes and the position after it; a
 * non-zero return stops the walk (the reply buffer is full).
 */
int aim_layout_readdir(struct aim_layout *l, uint64_t ino, uint64_t off,
		       int (*cb)(void *arg, const char *name,
				 const struct aim_attr *attr, uint64_t next),
		       void *arg);

#endif
