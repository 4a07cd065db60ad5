/*
 * store.h - the block store on disk: a directory holding index.db, a lock
 * file, and blobs/<2 hex>/<key>, one sparse file per blob with every block
 * at its own offset. A raw block is then one pread, and the page cache does
 * the rest.
 *
 * The store is locked (flock on DIR/lock) by the one process that writes it,
 * so a daemon and `aimfs-ctl --store` never write at once.
 */
#ifndef AIM_STORE_H
#define AIM_STORE_H

#include <stddef.h>
#include <stdint.h>

struct aim_store;

/* create dir if needed and take its lock; -EBUSY with *cause if held */
int aim_store_open(const char *dir, struct aim_store **out, char **cause);
void aim_store_free(struct aim_store **s);
/* write this process's pid into the lock file (again, after a fork) */
void aim_store_record_pid(struct aim_store *s);
const char *aim_store_dir(const struct aim_store *s);

/* open (creating) the data file of a blob; returns an fd or -errno */
int aim_store_blob_open(struct aim_store *s, const char *key);

/* write len bytes at off and make them durable (fdatasync) */
int aim_store_put(int fd, uint64_t off, const void *buf, size_t len);
/* the same without the fdatasync */
int aim_store_write(int fd, uint64_t off, const void *buf, size_t len);
/* read exactly len bytes at off; -EIO if the file is short */
int aim_store_get(int fd, uint64_t off, void *buf, size_t len);
/* SHA-256 of what is in [off, off+len) of fd, read a little at a time */
int aim_store_hash(int fd, uint64_t off, size_t len, unsigned char sum[32]);
/* free the disk space of [off, off+len) (punch a hole) */
int aim_store_drop(int fd, uint64_t off, size_t len);

/* bytes the blobs occupy on disk (allocated blocks, not sizes) */
uint64_t aim_store_disk_usage(struct aim_store *s);

#endif
