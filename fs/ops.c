/*
 * ops.c - FUSE low-level operations. Each handler replies exactly once.
 *
 * The tree is read-only: every request that would change it gets EROFS.
 * Files are immutable once registered (a model is pinned to a commit), so
 * entries, attributes and page-cache contents are kept long (keep_cache).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fs.h"
#include "src/cache.h"
#include "src/layout.h"
#include "src/metrics.h"

static struct aimfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void to_stat(const struct aim_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_mtim.tv_sec = a->mtime;
	st->st_ctim.tv_sec = a->mtime;
	st->st_atim.tv_sec = a->mtime;
}

static double timeout_for(struct aimfs *fs, const struct aim_attr *a)
{
	return S_ISDIR(a->mode) ? fs->dir_timeout : fs->file_timeout;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct aimfs *fs = userdata;

	/* the kernel keeps the smaller of this and the mount's read_ahead_kb
	 * (set by main before this answer): left at the kernel's 128 KiB,
	 * the read_ahead_kb written there would be undone */
	if (fs->read_ahead_kb)
		conn->max_readahead = fs->read_ahead_kb * 1024U;
	/* nothing is ever written: no need for the kernel to expect writes */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
	/* replies are spliced from the store's files */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	if (conn->capable & FUSE_CAP_SPLICE_MOVE)
		conn->want |= FUSE_CAP_SPLICE_MOVE;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct aimfs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct aim_attr a;
	int rc = aim_layout_lookup(fs->layout, parent, name, &a);

	/* an unknown repo may be registered on the fly (auto_add) */
	if (rc == -ENOENT &&
	    aim_cache_lookup_miss(fs->cache, parent, name) == 0)
		rc = aim_layout_lookup(fs->layout, parent, name, &a);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = a.ino;
	e.generation = 1;
	to_stat(&a, &e.attr);
	e.attr_timeout = e.entry_timeout = timeout_for(fs, &a);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct aimfs *fs = fs_of(req);
	struct aim_attr a;
	struct stat st;
	int rc = aim_layout_getattr(fs->layout, ino, &a);

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	to_stat(&a, &st);
	fuse_reply_attr(req, &st, timeout_for(fs, &a));
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[4096];
	int rc = aim_layout_readlink(fs_of(req)->layout, ino, buf, sizeof(buf));

	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_readlink(req, buf);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct aim_attr a;
	int rc = aim_layout_getattr(fs_of(req)->layout, ino, &a);

	if (rc == 0 && !S_ISDIR(a.mode))
		rc = -ENOTDIR;
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_open(req, fi);
}

struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size, used;
};

static int fill_dir(void *arg, const char *name, const struct aim_attr *a,
		    uint64_t next)
{
	struct dirbuf *d = arg;
	struct stat st;
	size_t need;

	memset(&st, 0, sizeof(st));
	st.st_ino = a->ino;
	st.st_mode = a->mode;
	need = fuse_add_direntry(d->req, d->buf + d->used, d->size - d->used,
				 name, &st, (off_t)next);
	if (need > d->size - d->used)
		return 1;
	d->used += need;
	return 0;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirbuf d = { req, malloc(size), size, 0 };
	int rc;

	if (d.buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = aim_layout_readdir(fs_of(req)->layout, ino, (uint64_t)off,
				fill_dir, &d);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_buf(req, d.buf, d.used);
	free(d.buf);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct aim_file *f;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	rc = aim_layout_file(fs_of(req)->layout, ino, &f);
	if (rc == -EINVAL) {
		/* an in-memory file (a ref): fh 0 reads from the layout */
		struct aim_attr a;
		if (aim_layout_getattr(fs_of(req)->layout, ino, &a) == 0 &&
		    S_ISREG(a.mode)) {
			f = NULL;
			rc = 0;
		}
	}
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)f;
	fi->keep_cache = 1; /* contents never change under a commit */
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

/* a read of a model file: from the store's file to the kernel, spliced,
 * not copied (or decompressed lz4 blocks from a buffer) */
static void read_file(fuse_req_t req, struct aim_file *f, size_t size,
		      off_t off)
{
	struct aimfs *fs = fs_of(req);
	size_t len;
	int fd, rc, flags;
	char *data;

	flags = aim_cache_read_begin(fs->cache, f, size, (uint64_t)off, &fd,
				     &len, &data);
	if (flags < 0) {
		fuse_reply_err(req, -flags);
		return;
	}
	if (len == 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (data) {
		rc = fuse_reply_buf(req, data, len);
		free(data);
	} else {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = off;
		rc = fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
	}
	aim_cache_read_end(fs->cache, f, (uint64_t)off, len,
			   rc == 0 ? flags | AIM_READ_SERVED : flags);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct aim_file *f = (struct aim_file *)(uintptr_t)fi->fh;
	char *buf;
	ssize_t n;

	if (f) {
		uint64_t t0 = aim_metrics_now_ns();
		read_file(req, f, size, off);
		aim_metrics_observe(AIM_HIST_READ, aim_metrics_now_ns() - t0);
		return;
	}
	/* an in-memory file (a ref) */
	buf = malloc(size ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = aim_layout_read_data(fs_of(req)->layout, ino, buf, size,
				 (uint64_t)off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	if (statvfs(fs_of(req)->store, &sv) < 0) {
		fuse_reply_err(req, errno);
		return;
	}
	sv.f_namemax = 255;
	sv.f_flag |= ST_RDONLY;
	fuse_reply_statfs(req, &sv);
}

/* --- everything that would write ------------------------------------- */

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EROFS);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	fuse_reply_err(req, EROFS);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	fuse_reply_err(req, EROFS);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	fuse_reply_err(req, EROFS);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	fuse_reply_err(req, EROFS);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

const struct fuse_lowlevel_ops aimfs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.write = op_write,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.create = op_create,
	.fallocate = op_fallocate,
};
