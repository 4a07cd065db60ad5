/* test-index.c - the SQLite index: schema, models, blobs, blocks, reopen */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "unit.h"
#include "src/index.h"

static int count_blocks(void *arg, int64_t blob, uint32_t idx, uint32_t len,
			int codec, uint32_t stored, int64_t atime)
{
	(*(int *)arg)++;
	return 0;
}

/* the codec and stored length of the last block seen */
static int last_block(void *arg, int64_t blob, uint32_t idx, uint32_t len,
		      int codec, uint32_t stored, int64_t atime)
{
	uint32_t *v = arg;

	v[0] = (uint32_t)codec;
	v[1] = stored;
	v[2] = len;
	return 0;
}

static int count_files(void *arg, int64_t m, const char *path, int64_t blob)
{
	(*(int *)arg)++;
	return 0;
}

/* the last_used of the last model seen */
static int model_last_used(void *arg, const struct aim_index_model *m)
{
	*(int64_t *)arg = m->last_used;
	return 0;
}

static void roundtrip(void)
{
	const char *dir = unit_tmpdir();
	char path[512], *cause = NULL, *v = NULL;
	struct aim_index *ix = NULL;
	unsigned char sum[32], got[32];
	int64_t mid, b1, b2, b3;
	int n = 0;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	CHECK(aim_index_open(path, &ix, &cause) == 0);
	if (ix == NULL)
		return;
	CHECK(aim_index_meta_get(ix, "schema", &v) == 0 &&
	      atoi(v) == AIM_INDEX_SCHEMA);
	free(v);
	struct aim_index_model m = { .name = "org/m", .uri = "hf://org/m",
				     .kind = "hf", .revision = "main",
				     .commit = "c0ffee", .mtime = 1, .added = 2 };
	CHECK(aim_index_begin(ix) == 0);
	CHECK(aim_index_model_insert(ix, &m, &mid) == 0);
	struct aim_index_blob b = { .key = "aa11", .size = 100 };
	CHECK(aim_index_blob_insert(ix, &b, &b1) == 0);
	CHECK(aim_index_blob_insert(ix, &b, &b2) == 0 && b1 == b2);
	b.size = 101; /* same key, other size: refused */
	CHECK(aim_index_blob_insert(ix, &b, &b3) == -EEXIST);
	CHECK(aim_index_file_insert(ix, mid, "a.bin", b1) == 0);
	CHECK(aim_index_file_insert(ix, mid, "a.bin", b1) == -EEXIST);
	CHECK(aim_index_commit(ix) == 0);
	/* the same URI twice is refused */
	CHECK(aim_index_model_insert(ix, &m, &mid) == -EEXIST);

	memset(sum, 7, sizeof(sum));
	CHECK(aim_index_block_put(ix, b1, 0, 100, 1, 40, sum) == 0);
	CHECK(aim_index_block_sum(ix, b1, 0, got) == 0 &&
	      memcmp(sum, got, 32) == 0);
	CHECK(aim_index_block_sum(ix, b1, 1, got) == -ENOENT);
	aim_index_free(&ix);
	CHECK(ix == NULL);

	/* reopen: everything is still there */
	CHECK(aim_index_open(path, &ix, &cause) == 0);
	CHECK(aim_index_each_block(ix, count_blocks, &n) == 0 && n == 1);
	uint32_t cs[3] = { 0, 0, 0 };
	CHECK(aim_index_each_block(ix, last_block, cs) == 0 && cs[0] == 1 &&
	      cs[1] == 40 && cs[2] == 100);
	n = 0;
	CHECK(aim_index_each_file(ix, count_files, &n) == 0 && n == 1);
	CHECK(aim_index_block_drop(ix, b1, 0) == 0);
	n = 0;
	CHECK(aim_index_each_block(ix, count_blocks, &n) == 0 && n == 0);
	aim_index_free(&ix);
}

static void newer_schema_refused(void)
{
	const char *dir = unit_tmpdir();
	char path[512], *cause = NULL;
	struct aim_index *ix = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	CHECK(aim_index_open(path, &ix, &cause) == 0);
	aim_index_free(&ix);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "UPDATE meta SET value='99' WHERE key='schema'",
			   NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(aim_index_open(path, &ix, &cause) < 0 && cause &&
	      strstr(cause, "newer"));
	free(cause);
	CHECK(ix == NULL);
}

static void garbage_file(void)
{
	const char *dir = unit_tmpdir();
	char path[512], *cause = NULL;
	struct aim_index *ix = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	f = fopen(path, "w");
	fputs("this is not a database, just text that is long enough to look "
	      "like a header of some kind of file........................\n",
	      f);
	fclose(f);
	CHECK(aim_index_open(path, &ix, &cause) < 0 && cause != NULL);
	free(cause);
}

/* a store written by version 1 of the schema opens, keeps its data, and
 * gains what versions 2, 3 and 4 add */
static void migrate_v1(void)
{
	const char *dir = unit_tmpdir();
	char path[512], *cause = NULL, *v = NULL;
	struct aim_index *ix = NULL;
	sqlite3 *db;
	int n = 0;

	snprintf(path, sizeof(path), "%s/index.db", dir);
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(
		      db,
		      "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
		      "CREATE TABLE models(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
		      "  uri TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,"
		      "  revision TEXT NOT NULL, commit_id TEXT NOT NULL,"
		      "  mtime INTEGER NOT NULL, added INTEGER NOT NULL,"
		      "  pinned INTEGER NOT NULL DEFAULT 0);"
		      "CREATE TABLE blobs(id INTEGER PRIMARY KEY, key TEXT NOT NULL"
		      "  UNIQUE, size INTEGER NOT NULL, sha256 TEXT, sha1 TEXT,"
		      "  etag TEXT);"
		      "CREATE TABLE files(model_id INTEGER NOT NULL"
		      "  REFERENCES models(id) ON DELETE CASCADE,"
		      "  path TEXT NOT NULL, blob_id INTEGER NOT NULL"
		      "  REFERENCES blobs(id), PRIMARY KEY(model_id, path))"
		      "  WITHOUT ROWID;"
		      "CREATE TABLE blocks(blob_id INTEGER NOT NULL, idx INTEGER"
		      "  NOT NULL, len INTEGER NOT NULL, codec INTEGER NOT NULL"
		      "  DEFAULT 0, stored_len INTEGER NOT NULL, sum BLOB NOT NULL,"
		      "  atime INTEGER NOT NULL, PRIMARY KEY(blob_id, idx))"
		      "  WITHOUT ROWID;"
		      "INSERT INTO meta VALUES('schema', '1');"
		      "INSERT INTO meta VALUES('block_size', '4096');"
		      "INSERT INTO models VALUES(1, 'o/m', 'hf://o/m', 'hf', 'main',"
		      "  'c0ffee', 1, 2, 1);"
		      "INSERT INTO blobs VALUES(1, 'aa', 10, NULL, NULL, NULL);"
		      "INSERT INTO files VALUES(1, 'f', 1);"
		      "INSERT INTO blocks VALUES(1, 0, 10, 0, 0, x'00', 5);",
		      NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	CHECK(aim_index_open(path, &ix, &cause) == 0);
	if (ix == NULL)
		return;
	CHECK(aim_index_meta_get(ix, "schema", &v) == 0 &&
	      atoi(v) == AIM_INDEX_SCHEMA);
	free(v);
	CHECK(aim_index_each_block(ix, count_blocks, &n) == 0 && n == 1);
	/* the old raw block reads as raw, its stored length its length */
	uint32_t cs[3] = { 9, 0, 0 };
	CHECK(aim_index_each_block(ix, last_block, cs) == 0 && cs[0] == 0 &&
	      cs[1] == 10);
	/* the new columns work; a model never read has last_used 0 */
	CHECK(aim_index_model_set_failed(ix, 1, "boom") == 0);
	CHECK(aim_index_model_set_pinned(ix, 1, 0) == 0);
	int64_t lu = -1;
	CHECK(aim_index_each_model(ix, model_last_used, &lu) == 0 && lu == 0);
	CHECK(aim_index_model_set_last_used(ix, 1, 1767225600) == 0);
	/* a model removed meanwhile is no error */
	CHECK(aim_index_model_set_last_used(ix, 99, 1767225600) == 0);
	aim_index_free(&ix);
	CHECK(aim_index_open(path, &ix, &cause) == 0);
	if (ix == NULL)
		return;
	lu = -1;
	CHECK(aim_index_each_model(ix, model_last_used, &lu) == 0 &&
	      lu == 1767225600);
	aim_index_free(&ix);
}

const struct unit_test index_tests[] = {
	{ "index: migration from schema 1", migrate_v1 },
	{ "index: roundtrip and reopen", roundtrip },
	{ "index: newer schema refused", newer_schema_refused },
	{ "index: garbage file refused", garbage_file },
	{ NULL, NULL },
};
