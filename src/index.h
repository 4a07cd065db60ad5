/*
 * index.h - the store's SQLite index (index.db, WAL): models, their files,
 * the blobs the files name, and which blocks of each blob are present with
 * their checksums.
 *
 * The index is the durable record; the running daemon keeps its own map in
 * memory (cache.c) and only touches SQLite when that map changes or when it
 * is first built. Not thread-safe: the caller serialises all calls on one
 * struct aim_index.
 */
#ifndef AIM_INDEX_H
#define AIM_INDEX_H

#include <stdint.h>

#define AIM_INDEX_SCHEMA 4

struct aim_index;

struct aim_index_model {
	int64_t id;
	const char *name;     /* org/model */
	const char *uri;
	const char *kind;     /* "hf", "s3", "https" */
	const char *revision; /* as requested: main, a tag, a commit */
	const char *commit;   /* resolved commit or object version */
	int64_t mtime;	      /* seconds since the epoch */
	int64_t added;
	int pinned;
	const char *failed; /* why the last pull failed, or NULL (schema 2) */
	int64_t last_used;  /* seconds since the epoch of the last read
			     * through the mount, 0: never (schema 4) */
};

struct aim_index_blob {
	int64_t id;
	const char *key;    /* unique: sha256 (LFS) or git sha1 (hf) */
	uint64_t size;
	const char *sha256; /* may be NULL */
	const char *sha1;   /* may be NULL */
	const char *etag;   /* may be NULL */
};

/* path is borrowed; *cause allocated on error */
int aim_index_open(const char *path, struct aim_index **out, char **cause);
void aim_index_free(struct aim_index **ix);

int aim_index_begin(struct aim_index *ix);
int aim_index_commit(struct aim_index *ix);
void aim_index_rollback(struct aim_index *ix);

/* *out allocated, caller frees; -ENOENT when absent */
int aim_index_meta_get(struct aim_index *ix, const char *key, char **out);
int aim_index_meta_set(struct aim_index *ix, const char *key,
		       const char *value);

int aim_index_model_insert(struct aim_index *ix,
			   const struct aim_index_model *m, int64_t *id);
/* returns the existing id when a blob with this key exists */
int aim_index_blob_insert(struct aim_index *ix, const struct aim_index_blob *b,
			  int64_t *id);
int aim_index_file_insert(struct aim_index *ix, int64_t model_id,
			  const char *path, int64_t blob_id);

/*
 * Iterators: the callback's pointers are valid only during the call; a
 * negative return from the callback stops the walk and is returned.
 */
int aim_index_each_model(struct aim_index *ix,
			 int (*cb)(void *, const struct aim_index_model *),
			 void *arg);
int aim_index_each_blob(struct aim_index *ix,
			int (*cb)(void *, const struct aim_index_blob *),
			void *arg);
int aim_index_each_file(struct aim_index *ix,
			int (*cb)(void *, int64_t model_id, const char *path,
				  int64_t blob_id),
			void *arg);
/* codec is enum aim_codec; stored the bytes the block takes in its slot */
int aim_index_each_block(struct aim_index *ix,
			 int (*cb)(void *, int64_t blob_id, uint32_t idx,
				   uint32_t len, int codec, uint32_t stored,
				   int64_t atime),
			 void *arg);

int aim_index_model_set_pinned(struct aim_index *ix, int64_t id, int pinned);
int aim_index_model_set_failed(struct aim_index *ix, int64_t id,
			       const char *failed);
/* the model's last read (seconds since the epoch); a model that is gone
 * is no error */
int aim_index_model_set_last_used(struct aim_index *ix, int64_t id,
				  int64_t last_used);
/* remove a model and its files (not its blobs) */
int aim_index_model_delete(struct aim_index *ix, int64_t id);
/* remove a blob and every block row of it */
int aim_index_blob_delete(struct aim_index *ix, int64_t id);

/* sum is the SHA-256 of the len uncompressed bytes, whatever the codec */
int aim_index_block_put(struct aim_index *ix, int64_t blob_id, uint32_t idx,
			uint32_t len, int codec, uint32_t stored,
			const unsigned char sum[32]);
/* -ENOENT if the block is not recorded */
int aim_index_block_sum(struct aim_index *ix, int64_t blob_id, uint32_t idx,
			unsigned char sum[32]);
int aim_index_block_drop(struct aim_index *ix, int64_t blob_id, uint32_t idx);

#endif
