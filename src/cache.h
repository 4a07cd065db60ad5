/*
 * cache.h - the model cache: registered models, their files and blobs, and
 * the read path that fetches missing blocks from the source, stores them,
 * and serves them from the store.
 *
 * The running map of which blocks are present lives in memory (loaded from
 * the index at open); SQLite is touched when a block is stored or dropped
 * and when a model is registered. A block is fetched once however many
 * readers want it at the same time (single flight). Data is written and
 * synced before its index row is committed, and a block read back from disk
 * is checked against its SHA-256 the first time this process serves it.
 *
 * Thread-safe. struct aim_file and struct aim_model pointers stay valid
 * until aim_cache_free().
 */
#ifndef AIM_CACHE_H
#define AIM_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

struct aim_cache;
struct aim_conf;
struct aim_file;
struct aim_layout;

/*
 * Open the store named by conf->store (creating it), lock it, load the
 * index. conf is borrowed and must outlive the cache.
 */
int aim_cache_open(const struct aim_conf *conf, struct aim_cache **out,
		   char **cause);
void aim_cache_free(struct aim_cache **c);

/* the daemon forked: the store lock now belongs to this pid */
void aim_cache_forked(struct aim_cache *c);

/* the tree the cache presents; owned by the cache */
struct aim_layout *aim_cache_layout(struct aim_cache *c);

/*
 * Register a model (metadata only: resolve the revision, list the files).
 * name may be NULL (derived from the URI). *created says whether it was new;
 * registering a known URI again is not an error. On failure *cause holds
 * a one-line reason for a person.
 */
int aim_cache_add(struct aim_cache *c, const char *uri, const char *name,
		  int *created, char **cause);

/*
 * A lookup of name under directory parent found nothing. With auto_add on
 * and the daemon online, a name that can be a Hub repo is registered on the
 * fly: "org" at the root answers with a hidden directory, "org/name" and
 * "hub/models--org--name" register hf://org/name. Repos that do not exist
 * are remembered for negative_timeout seconds. Returns 0 when the caller
 * should look again, -ENOENT otherwise.
 */
int aim_cache_lookup_miss(struct aim_cache *c, uint64_t parent,
			  const char *name);

/* register conf's model= URIs that the store does not know yet; logs errors */
void aim_cache_add_configured(struct aim_cache *c);

/*
 * Read up to size bytes at off of f into buf, fetching missing blocks.
 * Returns the byte count (short only at end of file) or -EIO.
 */
ssize_t aim_cache_read(struct aim_cache *c, struct aim_file *f, void *buf,
		       size_t size, uint64_t off);

uint64_t aim_file_size(const struct aim_file *f);

/* JSON for `aimfs-ctl list` and `status`; caller owns the reference */
json_t *aim_cache_list(struct aim_cache *c);
json_t *aim_cache_status(struct aim_cache *c);

#endif
