/*
 * cache.h - the model cache: registered models, their files and blobs, and
 * the read path that fetches missing blocks from the source, stores them,
 * and serves them from the store.
 *
 * The running map of which blocks are present lives in memory (loaded from
 * the index at open); SQLite is touched when a block is stored or dropped,
 * when a model is registered, and by the evictor thread to record when a
 * model was last read (at most once a minute per model, and at stop). A block is fetched once however many
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
struct aim_creds;
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

/*
 * Start the background work (the evictor). Call once, after the daemon has
 * forked; aim_cache_free() stops it.
 */
int aim_cache_start(struct aim_cache *c);
/* stop pulls and the evictor, and record the last reads (after the
 * unmount, before the control socket goes away) */
void aim_cache_stop(struct aim_cache *c);

/* the tree the cache presents; owned by the cache */
struct aim_layout *aim_cache_layout(struct aim_cache *c);

/*
 * Register a model (metadata only: resolve the revision, list the files).
 * name may be NULL (derived from the URI). *created says whether it was new;
 * registering a known URI again is not an error. On failure *cause holds
 * a one-line reason for a person.
 *
 * creds: with set_creds 0, leave a known model's credentials alone (and
 * register a new one with the daemon's); with set_creds 1, creds (NULL:
 * none) become the model's own, for its registration and every fetch of
 * its blobs (see struct aim_blob's owner). A known model's new credentials
 * are tried first (the revision for hf://, one byte of a file for s3://)
 * and refused, the old ones kept, when they do not work. *rotated says
 * whether a known model's credentials changed. Borrowed; a reference is
 * taken when they are kept.
 */
int aim_cache_add(struct aim_cache *c, const char *uri, const char *name,
		  int set_creds, struct aim_creds *creds, int *created,
		  int *rotated, char **cause);

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

/* what aim_cache_read_begin() says of a read, and aim_cache_read_end()
 * is told (for the served bytes by source) */
enum aim_read_flags {
	AIM_READ_ORIGIN = 1 << 0, /* a block had to come from the origin */
	AIM_READ_SERVED = 1 << 1, /* the bytes went out */
};

/*
 * Reading: make the blocks of a read present (fetching what is missing)
 * and return the store file and the length to serve from it at off (the
 * same offset: a block sits at its own place in its blob's file). When the
 * range holds lz4 blocks, *buf instead gets the len bytes, decompressed
 * (the caller frees it); otherwise *buf is NULL. The blocks stay in the
 * store until aim_cache_read_end(), which is given the flags returned
 * here, with AIM_READ_SERVED if the bytes went out: that makes now the
 * model's last use (`list` "last_used"). Returns 0 or AIM_READ_ORIGIN, or
 * -EIO when a block cannot be had.
 */
int aim_cache_read_begin(struct aim_cache *c, struct aim_file *f, size_t size,
			 uint64_t off, int *fd, size_t *len, char **buf);
void aim_cache_read_end(struct aim_cache *c, struct aim_file *f, uint64_t off,
			size_t len, int flags);

uint64_t aim_file_size(const struct aim_file *f);

/* progress of a pull, reported about twice a second and at the end */
struct aim_pull_progress {
	const char *name; /* the model; borrowed during the callback */
	uint64_t total;	  /* bytes of the model's distinct blobs */
	uint64_t done;	  /* of those, present */
	uint64_t elapsed_ms;
	int finished;
	int rc;		   /* when finished: 0 or -errno */
	const char *error; /* when it failed */
};
/* a negative return stops the waiting (not the pull) */
typedef int (*aim_progress_fn)(void *arg, const struct aim_pull_progress *p);

/*
 * Fetch every block of the model named by what (name, URI or cache key; an
 * unknown URI is registered first). Reads go on meanwhile and never queue
 * behind the pull. With wait, reports progress and returns the pull's
 * result; without, the pull runs on in the background. A second pull of a
 * model joins the running one.
 */
int aim_cache_pull(struct aim_cache *c, const char *what, int wait,
		   aim_progress_fn progress, void *arg, char **cause);

/*
 * Pin (pin = 1) or unpin a model. A pinned model is pulled in full and
 * never evicted; pinning refuses (-ENOSPC) when pinned data would pass the
 * size limit. wait, progress and arg as for aim_cache_pull.
 */
int aim_cache_pin(struct aim_cache *c, const char *what, int pin, int wait,
		  aim_progress_fn progress, void *arg, char **cause);

/*
 * Evict unpinned blocks: of one model (what), all of them (unpinned), or
 * least recently used first down to a size (to). *freed gets the bytes.
 */
int aim_cache_evict(struct aim_cache *c, const char *what, int unpinned,
		    const char *to, uint64_t *freed, char **cause);

/* unregister a model and free the blocks no other model names */
int aim_cache_rm(struct aim_cache *c, const char *what, char **cause);

/*
 * Re-hash what is cached of one model (what) or all (NULL): every present
 * block against its checksum, and complete files against the source's
 * digest (sha256 for LFS files, git blob sha1 otherwise). Bad blocks are
 * dropped so the next read fetches them again. *report is a JSON array,
 * one object per file; the return is the number of bad files, or -errno.
 */
int aim_cache_verify(struct aim_cache *c, const char *what, json_t **report,
		     char **cause);

/*
 * Copy a complete model with its metadata into dir (created), each blob
 * raw or (compress) as a standard lz4 frame; or register and fill a model
 * from such a directory, in either form, without any network.
 */
int aim_cache_export(struct aim_cache *c, const char *what, const char *dir,
		     int compress, char **cause);
int aim_cache_import(struct aim_cache *c, const char *dir, char **name,
		     char **cause);

/*
 * JSON for `aimfs-ctl list` and `status`; caller owns the reference. A
 * model's "last_used" is the wall time (seconds) of its last read through
 * the mount, 0 when it was never read.
 */
json_t *aim_cache_list(struct aim_cache *c);
json_t *aim_cache_status(struct aim_cache *c);

#endif
