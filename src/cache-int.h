/*
 * cache-int.h - the cache's insides, shared by its modules and nothing
 * else: cache.c (open, registration, reports), blocks.c (the life of a
 * block: fetch, check, store, drop, read), pull.c (pull and pin jobs),
 * evict.c (size limit, eviction, rm), verify.c and export.c.
 *
 * Locks, always taken in this order:
 *   c->addlock  serialises registrations and removals (slow: network)
 *   c->lock     guards the model and blob tables, block states, counters
 *   c->ixlock   guards the SQLite index
 * No network or disk I/O happens under c->lock.
 */
#ifndef AIM_CACHE_INT_H
#define AIM_CACHE_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>

#include "block.h"
#include "cache.h"
#include "codec.h"
#include "hub.h"

struct aim_conf;
struct aim_creds;
struct aim_hmap;
struct aim_http;
struct aim_index;
struct aim_index_model;
struct aim_layout;
struct aim_commit;
struct aim_prefetch;
struct aim_s3;
struct aim_s3_auth;
struct aim_store;

enum block_state {
	B_ABSENT = 0,
	B_FETCHING,  /* one thread is fetching it; others wait */
	B_PRESENT,   /* on disk, not yet checked by this process */
	B_VERIFYING, /* one thread is checking it; others wait */
	B_READY,     /* on disk and known good */
	B_EVICTING,  /* being dropped; waiters then see B_ABSENT */
};

enum aim_src {
	SRC_HF = 1,
	SRC_S3,
	SRC_HTTPS,
};

/* where a blob is fetched from */
struct aim_loc {
	enum aim_src kind;
	struct aim_hub_loc hub; /* hf: repo, commit, path, CDN URL */
	char *bucket, *key;	/* s3 */
	char *url;		/* https */
	const char *etag;	/* s3, https: borrowed from the blob */
	int ranges;		/* https: -1 unknown, 0 no Range, 1 Range;
				 * protected by c->lock */
	char *name;		/* for log lines: path in the model */
	char *model;		/* for log lines: the model's name */
};

struct aim_blob {
	int64_t id;
	char *key;
	uint64_t size;
	uint32_t nblocks;
	/* protected by c->lock: */
	uint8_t *state;
	uint64_t *atime;	/* per block: c->tick at last use (LRU) */
	uint64_t present_bytes;
	uint64_t stored_bytes;	/* what the present blocks take in the store */
	uint32_t *zlen;		/* per block: stored length of an lz4 block,
				 * 0 for a raw one; NULL while none is lz4 */
	uint16_t *inuse;	/* per block: reads between ensure and pread */
	uint32_t seq_next;	/* read-ahead: where the last read ended + 1 */
	uint32_t window;	/* read-ahead window in blocks (0: random) */
	uint32_t ahead;		/* highest block queued for read-ahead */
	uint64_t gaveup_ms;	/* when a fetch of it last ran out of retries */
	int refs;		/* registered models naming it */
	int pins;		/* pinned models naming it: never evicted */
	int gone;		/* no model names it any more */
	int fd;			/* -1 until first use */
	char *etag;		/* the source's version of it (s3, https) */
	/* set once at load or registration: */
	struct aim_loc loc;	/* where to fetch it */
	int has_loc;
	/* the model loc comes from (the first to name the blob): the blob
	 * is fetched with its credentials while it has some and is not
	 * removed, else with the daemon's */
	const struct aim_model *owner;
};

struct aim_model;

struct aim_file {
	struct aim_model *model;
	char *path;
	struct aim_blob *blob;
};

struct pull_job;

struct aim_model {
	int64_t id;
	char *name, *uri, *kind, *revision, *commit;
	char cache_key[17];
	int64_t mtime, added;
	struct aim_file **files;
	size_t nfiles;
	/* protected by c->lock: */
	int pinned;
	int gone;		/* removed with rm */
	struct pull_job *job;	/* the running pull, or NULL */
	char *failed;		/* why the last pull failed, or NULL */
	int64_t last_used;	/* wall seconds of the last read through the
				 * mount that served bytes; 0: never */
	int64_t last_used_saved; /* what the index holds of it */
	/* its own credentials (creds.h), or NULL: the daemon's. In memory
	 * only; dropped by rm; replaced by an add with others */
	struct aim_creds *creds;
};

struct missing {
	char *repo; /* the key string */
	uint64_t until_ms;
};

struct aim_cache {
	const struct aim_conf *conf;
	uint64_t block_size;
	struct aim_store *store;
	struct aim_index *ix;
	struct aim_http *http;
	struct aim_hub *hub;
	struct aim_s3 *s3;
	struct aim_layout *layout;
	pthread_mutex_t addlock;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a block or a job changed state */
	pthread_mutex_t ixlock;
	/* protected by c->lock: */
	struct aim_model **models;
	size_t nmodels;
	struct aim_hmap *blob_by_key; /* (0, key) -> blob */
	struct aim_hmap *blob_by_id;  /* (id, "") -> blob */
	struct aim_blob **blobs;
	size_t nblobs;
	struct aim_hmap *missing;     /* (0, "org/name") -> struct missing */
	struct missing **missing_list;
	size_t nmissing;
	size_t hidden_dirs;	      /* org directories made by lookups */
	uint64_t used;		      /* bytes of present blocks */
	uint64_t stored;	      /* what they take in the store (lz4) */
	uint64_t zblocks;	      /* present blocks stored as lz4 */
	uint64_t tick;		      /* LRU clock */
	struct {
		uint64_t hits, misses, fetched_bytes, fetch_errors,
			verify_failures, served_bytes, evictions,
			evicted_bytes;
		uint64_t served_origin_bytes; /* of served: reads that
					       * waited for the origin */
		uint64_t fetched_by_kind[SRC_HTTPS + 1]; /* by enum aim_src */
	} stats;
	/* the evictor (evict.c); protected by c->lock */
	pthread_t evictor;
	int evictor_running, stopping;
	pthread_cond_t evict_cond;
	uint64_t limit, limit_ms;     /* cached size limit and when computed */
	struct aim_prefetch *pf;      /* read-ahead workers (prefetch.c) */
	struct aim_commit *commit;    /* the durability thread (commit.c) */
	struct pull_job **jobs;	      /* every pull job, freed at the end */
	size_t njobs;
	char instance[17];	      /* random, per open: `status` says it, so
				       * a client can tell a restart */
};

/* one file of a model being registered */
struct cache_entry {
	char *path;
	uint64_t size;
	char key[72];  /* the blob: LFS sha256 or git blob sha1 (hf), "s3-"/"url-" + sha256 */
	char sha1[41]; /* git blob sha1 when known */
	char *etag;    /* the source's version (s3, https), or NULL */
	int lfs;
};

struct cache_entries {
	struct cache_entry *v;
	size_t n, cap;
};

/* cache.c */
int cache_entries_add(struct cache_entries *es, const char *path,
		      uint64_t size, const char *key, const char *sha1,
		      const char *etag);
void cache_entries_release(struct cache_entries *es);
/* sort, refuse duplicates and a file that is also a directory */
int cache_entries_check(struct cache_entries *es, char **cause);
/*
 * record a model and its files in the index, memory and tree; addlock
 * held. creds (may be NULL) become the model's own (a reference is taken)
 */
int cache_register(struct aim_cache *c, struct aim_index_model *im,
		   struct cache_entries *es, struct aim_creds *creds,
		   char **cause);
int cache_layout_model(struct aim_cache *c, struct aim_model *m);
/* a model's S3 settings (borrowed from creds, which may be NULL) */
void cache_s3_auth(const struct aim_creds *creds, struct aim_s3_auth *a);
int cache_hf_repo_id(const struct aim_model *m, char *buf, size_t len);
/* NAME, URI or cache key; c->lock held. *ambiguous set when a name matches
 * several revisions and no URI was given */
struct aim_model *cache_find_model(struct aim_cache *c, const char *what,
				   int *ambiguous);
/*
 * Record in the index the models' last reads it does not have: all of
 * them (at shutdown), or (all 0) a model's first read and then a read a
 * minute or more after the recorded one, so a model read all day costs
 * one UPDATE a minute. c->lock held; dropped while the index is written.
 */
void cache_save_last_used(struct aim_cache *c, int all);
/* bytes and cached bytes of a model's distinct blobs; c->lock held */
void cache_model_sizes(struct aim_model *m, uint64_t *size, uint64_t *cached);
int cache_index_model_insert(struct aim_cache *c, struct aim_index_model *im,
			     int64_t *id);
struct aim_model *cache_model_new(const struct aim_index_model *im);
void cache_model_free(struct aim_model *m);
struct aim_blob *cache_blob_new(struct aim_cache *c, int64_t id,
				const char *key, uint64_t size,
				const char *etag);
int cache_model_add_file(struct aim_model *m, const char *path,
			 struct aim_blob *b);
int cache_models_append(struct aim_cache *c, struct aim_model *m);

/* blocks.c */
static inline uint32_t block_len(const struct aim_cache *c,
				 const struct aim_blob *b, uint32_t i)
{
	return aim_block_len(b->size, c->block_size, i);
}
static inline int block_codec(uint32_t len, uint32_t stored)
{
	return stored < len ? AIM_CODEC_LZ4 : AIM_CODEC_RAW;
}
/*
 * the credentials to fetch b with: its owner's own, or NULL (the
 * daemon's); a reference the caller drops with aim_creds_unref().
 * c->lock held
 */
struct aim_creds *blob_creds(struct aim_blob *b);
/* for log lines: the blob's path in its model, and the model's name */
const char *blob_name(const struct aim_blob *b);
const char *blob_model(const struct aim_blob *b);
int blob_fd(struct aim_cache *c, struct aim_blob *b);
/* make block i present and checked: waits for or runs the one fetch */
int ensure_block(struct aim_cache *c, struct aim_blob *b, uint32_t i);
/* store len bytes of block i that arrived some other way (import),
 * compressed when that pays; *stored gets what it takes in the store */
int store_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		const void *buf, uint32_t len, uint32_t *stored);
/* forget block i: index row, disk space; c->lock not held, state already
 * moved away from B_READY/B_PRESENT by the caller. With keep_if_recorded,
 * a row that cannot be dropped keeps the bytes as well: returns < 0 and
 * the block is still stored */
int drop_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
	       int keep_if_recorded);
/* the block's recorded checksum against the bytes on disk; buf (block
 * size) receives the bytes; -EBADMSG on mismatch */
int check_block(struct aim_cache *c, struct aim_blob *b, uint32_t i, void *buf);
/* account a block becoming present (stored in stored bytes: less than its
 * length for an lz4 block, which needs b->zlen) or absent; c->lock held */
void account_present(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		     uint32_t stored);
/* b->zlen, allocated on the first lz4 block; c->lock held */
int blob_zlen_alloc(struct aim_blob *b);
void account_absent(struct aim_cache *c, struct aim_blob *b, uint32_t i);

/* evict.c */
int evict_start(struct aim_cache *c);
void evict_stop(struct aim_cache *c);
/* room for len more bytes: evicts synchronously if the limit is reached */
int evict_make_room(struct aim_cache *c, uint64_t len);
/* evict about len bytes of unpinned blocks now (the disk is full) */
uint64_t evict_free_some(struct aim_cache *c, uint64_t len);
/* wake the evictor if usage passed the high watermark; c->lock held */
void evict_poke(struct aim_cache *c);
/* the size limit in bytes (cached for a second); c->lock held */
uint64_t evict_limit(struct aim_cache *c);

/* commit.c */
int commit_start(struct aim_cache *c);
/* flush what is queued and stop the thread */
void commit_stop(struct aim_cache *c);
/* record block i of b (written, not yet synced) once its file is synced */
int commit_queue(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		 uint32_t len, uint32_t stored, const unsigned char sum[32]);
/* wait until everything queued is recorded (before verify or export) */
void commit_flush(struct aim_cache *c);

/* prefetch.c */
int prefetch_start(struct aim_cache *c);
void prefetch_stop(struct aim_cache *c);
/* blocks [first, last] of b are being read: maybe read ahead */
void prefetch_note(struct aim_cache *c, struct aim_blob *b, uint32_t first,
		   uint32_t last);

/* pull.c */
/* stop every pull and wait for its workers; jobs stay readable */
void pull_stop_all(struct aim_cache *c);
/* free every job (after nobody waits on them) */
void pull_free_all(struct aim_cache *c);
/* "pulling" while a pull of m runs, else NULL; c->lock held */
const char *pull_state(const struct aim_model *m);
/* stop m's running pull and wait for it; c->lock held */
void pull_cancel(struct aim_cache *c, struct aim_model *m);

#endif
