/*
 * index.c - see index.h. SQLite error codes stop here: callers get -errno.
 *
 * Durability: the WAL journal with synchronous=NORMAL survives a crash of the
 * process; a power loss may drop the last commits, which only forgets blocks
 * whose data is already on disk (work lost, never wrong bytes), because block
 * data is written and synced before its row is committed (cache.c).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "index.h"
#include "log.h"

struct aim_index {
	sqlite3 *db;
	sqlite3_stmt *block_put;
	sqlite3_stmt *block_sum;
	sqlite3_stmt *block_drop;
};

/* schema migrations: entry i takes the store from version i to i + 1 */
static const char *migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
	"  uri TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
	"  revision TEXT NOT NULL, commit_id TEXT NOT NULL,"
	"  mtime INTEGER NOT NULL, added INTEGER NOT NULL,"
	"  pinned INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE blobs(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,"
	"  size INTEGER NOT NULL, sha256 TEXT, sha1 TEXT, etag TEXT);"
	"CREATE TABLE files(model_id INTEGER NOT NULL"
	"  REFERENCES models(id) ON DELETE CASCADE,"
	"  path TEXT NOT NULL, blob_id INTEGER NOT NULL REFERENCES blobs(id),"
	"  PRIMARY KEY(model_id, path)) WITHOUT ROWID;"
	"CREATE TABLE blocks(blob_id INTEGER NOT NULL, idx INTEGER NOT NULL,"
	"  len INTEGER NOT NULL, codec INTEGER NOT NULL DEFAULT 0,"
	"  stored_len INTEGER NOT NULL, sum BLOB NOT NULL,"
	"  atime INTEGER NOT NULL, PRIMARY KEY(blob_id, idx)) WITHOUT ROWID;",
	/* 1 -> 2: why a pull failed; eviction walks blocks by age */
	"ALTER TABLE models ADD COLUMN failed TEXT;"
	"CREATE INDEX blocks_atime ON blocks(atime);",
	/* 2 -> 3: blocks may be lz4 (codec 1, stored_len its size in the
	 * slot); a store holding them must not open in an older aimfs */
	"UPDATE blocks SET stored_len=len WHERE codec=0;",
	/* 3 -> 4: when each model was last read through the mount (NULL:
	 * never), for status.lastUsed; written lazily by the evictor */
	"ALTER TABLE models ADD COLUMN last_used INTEGER;",
};

static int sqlerr(struct aim_index *ix, int rc, const char *what)
{
	aim_log(LOG_ERR, "index: %s: %s", what, sqlite3_errmsg(ix->db));
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_READONLY:
		return -EROFS;
	default:
		return -EIO;
	}
}

static int exec(struct aim_index *ix, const char *sql)
{
	int rc = sqlite3_exec(ix->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sqlerr(ix, rc, sql);
}

static int prepare(struct aim_index *ix, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(ix->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : sqlerr(ix, rc, "prepare");
}

static int migrate(struct aim_index *ix, char **cause)
{
	int version = 0, rc;
	sqlite3_stmt *st;
	char buf[16];

	/* meta does not exist in a brand-new store */
	rc = sqlite3_prepare_v2(ix->db,
				"SELECT value FROM meta WHERE key='schema'", -1,
				&st, NULL);
	if (rc == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	if (version > (int)(sizeof(migrations) / sizeof(migrations[0]))) {
		if (asprintf(cause,
			     "store schema version %d is newer than this "
			     "aimfs (%d)",
			     version, AIM_INDEX_SCHEMA) < 0)
			*cause = NULL;
		return -EPROTO;
	}
	if (version == AIM_INDEX_SCHEMA)
		return 0;
	if ((rc = exec(ix, "BEGIN IMMEDIATE")) < 0)
		return rc;
	for (; version < AIM_INDEX_SCHEMA; version++) {
		if ((rc = exec(ix, migrations[version])) < 0)
			goto fail;
	}
	snprintf(buf, sizeof(buf), "%d", AIM_INDEX_SCHEMA);
	if ((rc = aim_index_meta_set(ix, "schema", buf)) < 0)
		goto fail;
	return exec(ix, "COMMIT");
fail:
	exec(ix, "ROLLBACK");
	if (asprintf(cause, "cannot migrate the index to schema %d",
		     AIM_INDEX_SCHEMA) < 0)
		*cause = NULL;
	return rc;
}

int aim_index_open(const char *path, struct aim_index **out, char **cause)
{
	struct aim_index *ix;
	int rc;

	*cause = NULL;
	ix = calloc(1, sizeof(*ix));
	if (ix == NULL)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &ix->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_FULLMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		if (asprintf(cause, "cannot open index '%s': %s", path,
			     ix->db ? sqlite3_errmsg(ix->db) :
				      sqlite3_errstr(rc)) < 0)
			*cause = NULL;
		rc = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(ix->db, 5000);
	if ((rc = exec(ix, "PRAGMA journal_mode=WAL")) < 0 ||
	    (rc = exec(ix, "PRAGMA synchronous=NORMAL")) < 0 ||
	    (rc = exec(ix, "PRAGMA foreign_keys=ON")) < 0) {
		if (asprintf(cause, "cannot open index '%s': %s", path,
			     sqlite3_errmsg(ix->db)) < 0)
			*cause = NULL;
		goto fail;
	}
	if ((rc = migrate(ix, cause)) < 0)
		goto fail;
	if ((rc = prepare(ix,
			  "INSERT OR REPLACE INTO blocks(blob_id, idx, len,"
			  " codec, stored_len, sum, atime)"
			  " VALUES(?, ?, ?, ?, ?, ?, ?)",
			  &ix->block_put)) < 0 ||
	    (rc = prepare(ix,
			  "SELECT sum FROM blocks WHERE blob_id=? AND idx=?",
			  &ix->block_sum)) < 0 ||
	    (rc = prepare(ix, "DELETE FROM blocks WHERE blob_id=? AND idx=?",
			  &ix->block_drop)) < 0)
		goto fail;
	*out = ix;
	return 0;
fail:
	aim_index_free(&ix);
	return rc;
}

void aim_index_free(struct aim_index **pix)
{
	struct aim_index *ix = *pix;

	if (ix == NULL)
		return;
	sqlite3_finalize(ix->block_put);
	sqlite3_finalize(ix->block_sum);
	sqlite3_finalize(ix->block_drop);
	sqlite3_close(ix->db);
	free(ix);
	*pix = NULL;
}

int aim_index_begin(struct aim_index *ix)
{
	return exec(ix, "BEGIN IMMEDIATE");
}

int aim_index_commit(struct aim_index *ix)
{
	return exec(ix, "COMMIT");
}

void aim_index_rollback(struct aim_index *ix)
{
	sqlite3_exec(ix->db, "ROLLBACK", NULL, NULL, NULL);
}

int aim_index_meta_get(struct aim_index *ix, const char *key, char **out)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix, "SELECT value FROM meta WHERE key=?", &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = strdup((const char *)sqlite3_column_text(st, 0));
		rc = *out ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : sqlerr(ix, rc, "meta");
	}
	sqlite3_finalize(st);
	return rc;
}

int aim_index_meta_set(struct aim_index *ix, const char *key,
		       const char *value)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix,
			  "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
			  &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, "meta set");
	sqlite3_finalize(st);
	return rc;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

int aim_index_model_insert(struct aim_index *ix,
			   const struct aim_index_model *m, int64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix,
			  "INSERT INTO models(name, uri, kind, revision,"
			  " commit_id, mtime, added, pinned)"
			  " VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
			  &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, m->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->uri, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, m->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->revision, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, m->commit, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, m->mtime);
	sqlite3_bind_int64(st, 7, m->added);
	sqlite3_bind_int(st, 8, m->pinned);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, "model insert");
	sqlite3_finalize(st);
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(ix->db);
	return rc;
}

int aim_index_blob_insert(struct aim_index *ix, const struct aim_index_blob *b,
			  int64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix, "SELECT id, size FROM blobs WHERE key=?", &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, b->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		uint64_t size = (uint64_t)sqlite3_column_int64(st, 1);
		sqlite3_finalize(st);
		/* same content address, different size: a lying listing */
		return size == b->size ? 0 : -EEXIST;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sqlerr(ix, rc, "blob lookup");
	if ((rc = prepare(ix,
			  "INSERT INTO blobs(key, size, sha256, sha1, etag)"
			  " VALUES(?, ?, ?, ?, ?)",
			  &st)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, b->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)b->size);
	bind_opt_text(st, 3, b->sha256);
	bind_opt_text(st, 4, b->sha1);
	bind_opt_text(st, 5, b->etag);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, "blob insert");
	sqlite3_finalize(st);
	if (rc == 0)
		*id = sqlite3_last_insert_rowid(ix->db);
	return rc;
}

int aim_index_file_insert(struct aim_index *ix, int64_t model_id,
			  const char *path, int64_t blob_id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix,
			  "INSERT INTO files(model_id, path, blob_id)"
			  " VALUES(?, ?, ?)",
			  &st)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, model_id);
	sqlite3_bind_text(st, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, blob_id);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, "file insert");
	sqlite3_finalize(st);
	return rc;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

int aim_index_each_model(struct aim_index *ix,
			 int (*cb)(void *, const struct aim_index_model *),
			 void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix,
			  "SELECT id, name, uri, kind, revision, commit_id,"
			  " mtime, added, pinned, failed, last_used"
			  " FROM models ORDER BY id",
			  &st)) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct aim_index_model m = {
			.id = sqlite3_column_int64(st, 0),
			.name = col_text(st, 1),
			.uri = col_text(st, 2),
			.kind = col_text(st, 3),
			.revision = col_text(st, 4),
			.commit = col_text(st, 5),
			.mtime = sqlite3_column_int64(st, 6),
			.added = sqlite3_column_int64(st, 7),
			.pinned = sqlite3_column_int(st, 8),
			.failed = col_text(st, 9),
			.last_used = sqlite3_column_int64(st, 10),
		};
		if ((rc = cb(arg, &m)) < 0)
			break;
	}
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : sqlerr(ix, rc, "models");
	sqlite3_finalize(st);
	return rc;
}

int aim_index_each_blob(struct aim_index *ix,
			int (*cb)(void *, const struct aim_index_blob *),
			void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix,
			  "SELECT id, key, size, sha256, sha1, etag FROM blobs",
			  &st)) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct aim_index_blob b = {
			.id = sqlite3_column_int64(st, 0),
			.key = col_text(st, 1),
			.size = (uint64_t)sqlite3_column_int64(st, 2),
			.sha256 = col_text(st, 3),
			.sha1 = col_text(st, 4),
			.etag = col_text(st, 5),
		};
		if ((rc = cb(arg, &b)) < 0)
			break;
	}
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : sqlerr(ix, rc, "blobs");
	sqlite3_finalize(st);
	return rc;
}

int aim_index_each_file(struct aim_index *ix,
			int (*cb)(void *, int64_t model_id, const char *path,
				  int64_t blob_id),
			void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix, "SELECT model_id, path, blob_id FROM files",
			  &st)) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = cb(arg, sqlite3_column_int64(st, 0), col_text(st, 1),
			sqlite3_column_int64(st, 2));
		if (rc < 0)
			break;
	}
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : sqlerr(ix, rc, "files");
	sqlite3_finalize(st);
	return rc;
}

int aim_index_each_block(struct aim_index *ix,
			 int (*cb)(void *, int64_t blob_id, uint32_t idx,
				   uint32_t len, int codec, uint32_t stored,
				   int64_t atime),
			 void *arg)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix,
			  "SELECT blob_id, idx, len, codec, stored_len, atime"
			  " FROM blocks",
			  &st)) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rc = cb(arg, sqlite3_column_int64(st, 0),
			(uint32_t)sqlite3_column_int64(st, 1),
			(uint32_t)sqlite3_column_int64(st, 2),
			sqlite3_column_int(st, 3),
			(uint32_t)sqlite3_column_int64(st, 4),
			sqlite3_column_int64(st, 5));
		if (rc < 0)
			break;
	}
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : sqlerr(ix, rc, "blocks");
	sqlite3_finalize(st);
	return rc;
}

/*
 * Run an UPDATE or DELETE whose last parameter is an id; value, when not
 * NULL, binds the first parameter (text, or NULL for SQL NULL with
 * value_null set).
 */
static int exec_id(struct aim_index *ix, const char *sql, int64_t id,
		   const char *value, int value_null)
{
	sqlite3_stmt *st;
	int rc, n = 1;

	if ((rc = prepare(ix, sql, &st)) < 0)
		return rc;
	if (value || value_null)
		bind_opt_text(st, n++, value);
	sqlite3_bind_int64(st, n, id);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, sql);
	sqlite3_finalize(st);
	return rc;
}

int aim_index_model_set_pinned(struct aim_index *ix, int64_t id, int pinned)
{
	return exec_id(ix, pinned ? "UPDATE models SET pinned=1 WHERE id=?" :
				    "UPDATE models SET pinned=0 WHERE id=?",
		       id, NULL, 0);
}

int aim_index_model_set_failed(struct aim_index *ix, int64_t id,
			       const char *failed)
{
	return exec_id(ix, "UPDATE models SET failed=? WHERE id=?", id, failed,
		       1);
}

int aim_index_model_set_last_used(struct aim_index *ix, int64_t id,
				  int64_t last_used)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = prepare(ix, "UPDATE models SET last_used=? WHERE id=?",
			  &st)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, last_used);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, "model last_used");
	sqlite3_finalize(st);
	return rc;
}

/* DELETE FROM t1 WHERE col=id, then FROM t2 WHERE id=id: both or neither
 * (a full disk can fail the second, or the COMMIT) */
static int delete_two(struct aim_index *ix, const char *first,
		      const char *second, int64_t id)
{
	int rc = aim_index_begin(ix);

	if (rc < 0)
		return rc;
	if ((rc = exec_id(ix, first, id, NULL, 0)) < 0 ||
	    (rc = exec_id(ix, second, id, NULL, 0)) < 0 ||
	    (rc = aim_index_commit(ix)) < 0)
		aim_index_rollback(ix);
	return rc;
}

int aim_index_model_delete(struct aim_index *ix, int64_t id)
{
	return delete_two(ix, "DELETE FROM files WHERE model_id=?",
			  "DELETE FROM models WHERE id=?", id);
}

int aim_index_blob_delete(struct aim_index *ix, int64_t id)
{
	return delete_two(ix, "DELETE FROM blocks WHERE blob_id=?",
			  "DELETE FROM blobs WHERE id=?", id);
}

int aim_index_block_put(struct aim_index *ix, int64_t blob_id, uint32_t idx,
			uint32_t len, int codec, uint32_t stored,
			const unsigned char sum[32])
{
	sqlite3_stmt *st = ix->block_put;
	int rc;

	sqlite3_bind_int64(st, 1, blob_id);
	sqlite3_bind_int64(st, 2, idx);
	sqlite3_bind_int64(st, 3, len);
	sqlite3_bind_int(st, 4, codec);
	sqlite3_bind_int64(st, 5, stored);
	sqlite3_bind_blob(st, 6, sum, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, "block put");
}

int aim_index_block_sum(struct aim_index *ix, int64_t blob_id, uint32_t idx,
			unsigned char sum[32])
{
	sqlite3_stmt *st = ix->block_sum;
	int rc;

	sqlite3_bind_int64(st, 1, blob_id);
	sqlite3_bind_int64(st, 2, idx);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(sum, sqlite3_column_blob(st, 0), 32);
		rc = 0;
	} else {
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ?
			     -ENOENT :
			     sqlerr(ix, rc, "block sum");
	}
	sqlite3_reset(st);
	return rc;
}

int aim_index_block_drop(struct aim_index *ix, int64_t blob_id, uint32_t idx)
{
	sqlite3_stmt *st = ix->block_drop;
	int rc;

	sqlite3_bind_int64(st, 1, blob_id);
	sqlite3_bind_int64(st, 2, idx);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sqlerr(ix, rc, "block drop");
}
