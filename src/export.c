/*
 * export.c - moving a model between stores without a network: export
 * writes DIR/blobs/<key> (each blob whole) and, last, the manifest
 * DIR/aimfs-export.json with the model's metadata and files; import checks
 * every blob against its digest before it is stored, then registers the
 * model as if it had been fetched.
 *
 * Manifest (format version 1):
 *   {"format": "aimfs-export", "version": 1,
 *    "model": {"name", "uri", "kind", "revision", "commit", "mtime"},
 *    "files": [{"path", "key", "size"}, ...]}
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache-int.h"
#include "hmap.h"
#include "index.h"
#include "log.h"
#include "store.h"
#include "uri.h"
#include "util.h"

#define MANIFEST "aimfs-export.json"
#define MANIFEST_MAX (256u << 20)

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* copy a complete blob out of the store, block by checked block */
static int export_blob(struct aim_cache *c, struct aim_blob *b,
		       const char *dir, char **cause)
{
	char tmp[PATH_MAX + 8], path[PATH_MAX];
	void *buf = malloc(c->block_size);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/blobs/%s", dir, b->key);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || buf == NULL) {
		rc = fd < 0 ? -errno : -ENOMEM;
		aim_set_cause(cause, "cannot write '%s': %s", tmp, strerror(-rc));
		goto out;
	}
	for (uint32_t i = 0; i < b->nblocks && rc == 0; i++) {
		pthread_mutex_lock(&c->lock);
		b->inuse[i]++;
		pthread_mutex_unlock(&c->lock);
		/* ensure: a block not checked since start is checked now */
		rc = ensure_block(c, b, i);
		if (rc == 0)
			rc = check_block(c, b, i, buf);
		pthread_mutex_lock(&c->lock);
		b->inuse[i]--;
		pthread_mutex_unlock(&c->lock);
		if (rc < 0)
			aim_set_cause(cause, "block %u of '%s' is not available",
				    i, blob_name(b));
		else if ((rc = write_all(fd, buf, block_len(c, b, i))) < 0)
			aim_set_cause(cause, "cannot write '%s': %s", tmp,
				    strerror(-rc));
	}
	if (rc == 0 && fsync(fd) < 0) {
		rc = -errno;
		aim_set_cause(cause, "cannot sync '%s'", tmp);
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -errno;
		aim_set_cause(cause, "cannot rename '%s'", tmp);
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(buf);
	return rc;
}

int aim_cache_export(struct aim_cache *c, const char *what, const char *dir,
		     char **cause)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	struct aim_hmap *seen = aim_hmap_new();
	struct aim_model *m;
	uint64_t size, cached;
	json_t *files = json_array(), *doc = NULL;
	int amb = 0, rc = 0;

	*cause = NULL;
	if (seen == NULL || files == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&c->lock);
	m = cache_find_model(c, what, &amb);
	if (m)
		cache_model_sizes(m, &size, &cached);
	pthread_mutex_unlock(&c->lock);
	if (m == NULL) {
		aim_set_cause(cause, amb ? "'%s' names several revisions: give "
					 "the URI" :
					 "no model '%s'",
			    what);
		rc = amb ? -EINVAL : -ENOENT;
		goto out;
	}
	if (cached < size) {
		aim_set_cause(cause, "'%s' is not complete (%.1f%% cached): pull "
				   "it first",
			    m->name, 100.0 * (double)cached / (double)size);
		rc = -EAGAIN;
		goto out;
	}
	commit_flush(c); /* checksums of fresh blocks are in the index */
	snprintf(path, sizeof(path), "%s/blobs", dir);
	if ((rc = aim_mkdir_p(path, 0755)) < 0) {
		aim_set_cause(cause, "cannot create '%s': %s", path, strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < m->nfiles && rc == 0; i++) {
		struct aim_file *f = m->files[i];
		json_array_append_new(files,
				      json_pack("{s:s, s:s, s:I}", "path", f->path,
						"key", f->blob->key, "size",
						(json_int_t)f->blob->size));
		if (aim_hmap_get(seen, 0, f->blob->key))
			continue;
		aim_hmap_put(seen, 0, f->blob->key, f->blob);
		rc = export_blob(c, f->blob, dir, cause);
	}
	if (rc < 0)
		goto out;
	doc = json_pack("{s:s, s:i, s:{s:s, s:s, s:s, s:s, s:s, s:I}, s:O}",
			"format", "aimfs-export", "version", 1, "model", "name",
			m->name, "uri", m->uri, "kind", m->kind, "revision",
			m->revision, "commit", m->commit, "mtime",
			(json_int_t)m->mtime, "files", files);
	snprintf(path, sizeof(path), "%s/" MANIFEST, dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* the manifest is written last: a partial export has none */
	if (doc == NULL || json_dump_file(doc, tmp, JSON_INDENT(1)) < 0 ||
	    rename(tmp, path) < 0) {
		aim_set_cause(cause, "cannot write '%s'", path);
		unlink(tmp);
		rc = -EIO;
		goto out;
	}
	aim_log(LOG_NOTICE, "exported '%s' to '%s'", m->name, dir);
out:
	if (rc == -ENOMEM && *cause == NULL)
		aim_set_cause(cause, "out of memory");
	json_decref(doc);
	json_decref(files);
	aim_hmap_free(&seen);
	return rc;
}

/* the digest a blob's key promises, computed over the file at path */
static int digest_file(const char *path, const char *key, uint64_t size,
		       char **cause)
{
	size_t klen = strlen(key);
	const EVP_MD *md = klen == 64 ? EVP_sha256() : EVP_sha1();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	char hex[2 * EVP_MAX_MD_SIZE + 1], *buf = malloc(1 << 20);
	uint64_t total = 0;
	unsigned int dl = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || ctx == NULL || buf == NULL) {
		rc = fd < 0 ? -errno : -ENOMEM;
		aim_set_cause(cause, "cannot read '%s': %s", path, strerror(-rc));
		goto out;
	}
	EVP_DigestInit_ex(ctx, md, NULL);
	if (klen == 40) {
		char hdr[32];
		int hn = snprintf(hdr, sizeof(hdr), "blob %llu",
				  (unsigned long long)size);
		EVP_DigestUpdate(ctx, hdr, (size_t)hn + 1);
	}
	while ((n = read(fd, buf, 1 << 20)) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, d, &dl);
	aim_hex(d, dl, hex);
	if (n < 0 || total != size || strcmp(hex, key) != 0) {
		aim_set_cause(cause, "'%s' does not match its %s", path,
			    total != size ? "size" : "digest");
		rc = -EBADMSG;
	}
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* store the blocks of b that are absent, from the checked file at path */
static int import_blob(struct aim_cache *c, struct aim_blob *b,
		       const char *path, char **cause)
{
	void *buf = malloc(c->block_size);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0 || buf == NULL) {
		rc = fd < 0 ? -errno : -ENOMEM;
		aim_set_cause(cause, "cannot read '%s'", path);
		goto out;
	}
	for (uint32_t i = 0; i < b->nblocks && rc == 0; i++) {
		uint32_t len = block_len(c, b, i);
		pthread_mutex_lock(&c->lock);
		while (b->state[i] == B_FETCHING || b->state[i] == B_VERIFYING ||
		       b->state[i] == B_EVICTING)
			pthread_cond_wait(&c->cond, &c->lock);
		int absent = b->state[i] == B_ABSENT;
		if (absent)
			b->state[i] = B_FETCHING;
		pthread_mutex_unlock(&c->lock);
		if (!absent)
			continue;
		rc = aim_store_get(fd, (uint64_t)i * c->block_size, buf, len);
		if (rc == 0)
			rc = store_block(c, b, i, buf, len);
		pthread_mutex_lock(&c->lock);
		if (rc == 0) {
			b->state[i] = B_READY;
			b->atime[i] = ++c->tick;
			account_present(c, b, i);
			evict_poke(c);
		} else {
			b->state[i] = B_ABSENT;
			aim_set_cause(cause, "cannot store block %u of '%s': %s",
				    i, path, strerror(-rc));
		}
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

static int bad_manifest(char **cause, const char *dir, const char *why)
{
	aim_set_cause(cause, "'%s/" MANIFEST "': %s", dir, why);
	return -EPROTO;
}

int aim_cache_import(struct aim_cache *c, const char *dir, char **name,
		     char **cause)
{
	char path[PATH_MAX];
	struct cache_entries es = { 0 };
	struct aim_uri u;
	json_error_t jerr;
	json_t *doc, *model, *files, *f;
	struct stat st;
	size_t i;
	int rc = 0;

	*cause = NULL;
	*name = NULL;
	aim_uri_init(&u);
	snprintf(path, sizeof(path), "%s/" MANIFEST, dir);
	if (stat(path, &st) < 0 || st.st_size > (off_t)MANIFEST_MAX) {
		aim_set_cause(cause, "'%s' is not an aimfs export (no %s)", dir,
			    MANIFEST);
		return -ENOENT;
	}
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		return bad_manifest(cause, dir, jerr.text);
	model = json_object_get(doc, "model");
	files = json_object_get(doc, "files");
	const char *fmt = json_string_value(json_object_get(doc, "format"));
	const char *mname = json_string_value(json_object_get(model, "name"));
	const char *uri = json_string_value(json_object_get(model, "uri"));
	const char *kind = json_string_value(json_object_get(model, "kind"));
	const char *rev = json_string_value(json_object_get(model, "revision"));
	const char *commit = json_string_value(json_object_get(model, "commit"));
	json_int_t mtime = json_integer_value(json_object_get(model, "mtime"));
	char *ucause = NULL;
	if (!fmt || strcmp(fmt, "aimfs-export") != 0 ||
	    json_integer_value(json_object_get(doc, "version")) != 1) {
		rc = bad_manifest(cause, dir, "unknown format or version");
		goto out;
	}
	if (!mname || !uri || !kind || !rev || !commit || !json_is_array(files)) {
		rc = bad_manifest(cause, dir, "model fields missing");
		goto out;
	}
	if (aim_uri_parse(uri, &u, &ucause) < 0 || strcmp(kind, "hf") != 0 ||
	    u.kind != AIM_URI_HF || !aim_is_hex(commit, 40)) {
		free(ucause);
		rc = bad_manifest(cause, dir, "bad uri, kind or commit");
		goto out;
	}
	json_array_foreach(files, i, f) {
		const char *p = json_string_value(json_object_get(f, "path"));
		const char *key = json_string_value(json_object_get(f, "key"));
		json_int_t size = json_integer_value(json_object_get(f, "size"));
		const char *why;
		if (!p || aim_path_check(p, &why) < 0 || !key ||
		    !(aim_is_hex(key, 64) || aim_is_hex(key, 40)) || size < 0 ||
		    size > (json_int_t)1 << 50) {
			rc = bad_manifest(cause, dir, "bad file entry");
			goto out;
		}
		if ((rc = cache_entries_add(&es, p, (uint64_t)size, key,
					    strlen(key) == 40 ? key : NULL, NULL)) < 0)
			goto out;
	}

	/* every blob must match its digest before anything is registered */
	for (size_t k = 0; k < es.n && rc == 0; k++) {
		snprintf(path, sizeof(path), "%s/blobs/%s", dir, es.v[k].key);
		rc = digest_file(path, es.v[k].key, es.v[k].size, cause);
	}
	if (rc < 0)
		goto out;

	pthread_mutex_lock(&c->addlock);
	pthread_mutex_lock(&c->lock);
	int amb;
	struct aim_model *known = cache_find_model(c, uri, &amb);
	int same = known && strcmp(known->commit, commit) == 0;
	pthread_mutex_unlock(&c->lock);
	if (known && !same) {
		aim_set_cause(cause, "'%s' is registered at another commit", uri);
		rc = -EEXIST;
	} else if (!known) {
		struct aim_index_model im = {
			.name = mname,
			.uri = uri,
			.kind = kind,
			.revision = rev,
			.commit = commit,
			.mtime = mtime,
			.added = (int64_t)time(NULL),
		};
		rc = cache_register(c, &im, &es, cause);
	}
	pthread_mutex_unlock(&c->addlock);
	if (rc < 0)
		goto out;

	/* store the blocks (each block is hashed again as it is stored) */
	for (size_t k = 0; k < es.n && rc == 0; k++) {
		struct cache_entry *e = &es.v[k];
		pthread_mutex_lock(&c->lock);
		struct aim_blob *b = aim_hmap_get(c->blob_by_key, 0, e->key);
		int need = b && b->present_bytes < b->size;
		pthread_mutex_unlock(&c->lock);
		if (!need)
			continue;
		snprintf(path, sizeof(path), "%s/blobs/%s", dir, e->key);
		rc = import_blob(c, b, path, cause);
	}
	if (rc == 0 && (*name = strdup(mname)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		aim_log(LOG_NOTICE, "imported '%s' from '%s'", mname, dir);
out:
	cache_entries_release(&es);
	aim_uri_release(&u);
	json_decref(doc);
	return rc;
}
