/*
 * fs.h - the FUSE adapter: kernel requests in, library calls, one reply out.
 */
#ifndef AIM_FS_H
#define AIM_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

struct aim_cache;
struct aim_layout;

struct aimfs {
	struct aim_cache *cache;
	struct aim_layout *layout;
	const char *store; /* for statfs */
	double file_timeout; /* entry/attr timeout of immutable nodes */
	double dir_timeout;  /* directories gain entries as models are added */
	unsigned read_ahead_kb; /* the mount's read-ahead; 0: the kernel's */
};

extern const struct fuse_lowlevel_ops aimfs_ops;

#endif
