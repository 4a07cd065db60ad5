/*
 * export.c - moving a model between stores without a network: export
 * writes DIR/blobs/<key> (each blob whole) or, compressed, DIR/blobs/
 * <key>.lz4 (one standard lz4 frame per blob, with its content size and
 * checksum: `lz4 -d` gives the blob back), and, last, the manifest
 * DIR/aimfs-export.json with the model's metadata and files. Import takes
 * either form, checks every blob against its digest before it is stored,
 * then registers the model as if it had been fetched.
 *
 * Manifest (format version 1):
 *   {"format": "aimfs-export", "version": 1, "compress": "lz4" | "none",
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

#include <lz4frame.h>
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

/* the lz4 frame an export writes: blocks of 4 MiB, sizes and checksums */
static const LZ4F_preferences_t frame_prefs = {
	.frameInfo = { .blockSizeID = LZ4F_max4MB,
		       .blockMode = LZ4F_blockLinked,
		       .contentChecksumFlag = LZ4F_contentChecksumEnabled },
};

/* an export file being written, raw or as one lz4 frame */
struct sink {
	int fd;
	LZ4F_cctx *cctx; /* NULL: raw */
	char *out;
	size_t cap;
};

static int sink_open(struct sink *s, const char *path, int compress,
		     uint64_t size, size_t chunk)
{
	LZ4F_preferences_t prefs = frame_prefs;
	size_t n;

	memset(s, 0, sizeof(*s));
	s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (s->fd < 0)
		return -errno;
	if (!compress)
		return 0;
	prefs.frameInfo.contentSize = size;
	s->cap = LZ4F_compressBound(chunk, &prefs) + LZ4F_HEADER_SIZE_MAX;
	if (LZ4F_isError(LZ4F_createCompressionContext(&s->cctx,
						       LZ4F_VERSION)) ||
	    (s->out = malloc(s->cap)) == NULL)
		return -ENOMEM;
	n = LZ4F_compressBegin(s->cctx, s->out, s->cap, &prefs);
	return LZ4F_isError(n) ? -EIO : write_all(s->fd, s->out, n);
}

static int sink_write(struct sink *s, const void *buf, size_t len)
{
	size_t n;

	if (s->cctx == NULL)
		return write_all(s->fd, buf, len);
	n = LZ4F_compressUpdate(s->cctx, s->out, s->cap, buf, len, NULL);
	return LZ4F_isError(n) ? -EIO : write_all(s->fd, s->out, n);
}

/* finish the frame, sync and close; 0 or -errno */
static int sink_close(struct sink *s, int ok)
{
	int rc = 0;

	if (ok && s->cctx) {
		size_t n = LZ4F_compressEnd(s->cctx, s->out, s->cap, NULL);
		rc = LZ4F_isError(n) ? -EIO : write_all(s->fd, s->out, n);
	}
	if (ok && rc == 0 && fsync(s->fd) < 0)
		rc = -errno;
	if (s->fd >= 0)
		close(s->fd);
	LZ4F_freeCompressionContext(s->cctx);
	free(s->out);
	memset(s, 0, sizeof(*s));
	return rc;
}

/* copy a complete blob out of the store, block by checked block */
static int export_blob(struct aim_cache *c, struct aim_blob *b,
		       const char *dir, int compress, char **cause)
{
	char tmp[PATH_MAX + 8], path[PATH_MAX];
	void *buf = malloc(c->block_size);
	struct sink s = { .fd = -1 };
	int rc = 0;

	snprintf(path, sizeof(path), "%s/blobs/%s%s", dir, b->key,
		 compress ? ".lz4" : "");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (buf == NULL ||
	    (rc = sink_open(&s, tmp, compress, b->size, c->block_size)) < 0) {
		rc = rc < 0 ? rc : -ENOMEM;
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
		else if ((rc = sink_write(&s, buf, block_len(c, b, i))) < 0)
			aim_set_cause(cause, "cannot write '%s': %s", tmp,
				    strerror(-rc));
	}
	if (rc == 0 && (rc = sink_close(&s, 1)) < 0)
		aim_set_cause(cause, "cannot write '%s': %s", tmp, strerror(-rc));
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -errno;
		aim_set_cause(cause, "cannot rename '%s'", tmp);
	}
out:
	sink_close(&s, 0);
	if (rc < 0)
		unlink(tmp);
	free(buf);
	return rc;
}

int aim_cache_export(struct aim_cache *c, const char *what, const char *dir,
		     int compress, char **cause)
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
		rc = export_blob(c, f->blob, dir, compress, cause);
	}
	if (rc < 0)
		goto out;
	doc = json_pack("{s:s, s:i, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:I}, "
			"s:O}",
			"format", "aimfs-export", "version", 1, "compress",
			compress ? "lz4" : "none", "model", "name",
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

/*
 * An exported blob being read from the start: DIR/blobs/<key>, or
 * DIR/blobs/<key>.lz4 decoded as it is read. What a frame decodes to is
 * checked against the blob's digest like a raw file.
 */
struct source {
	int fd;
	LZ4F_dctx *dctx; /* NULL: raw */
	char *in;	 /* compressed bytes read, not yet decoded */
	size_t in_pos, in_len;
	int eof, bad, done; /* done: the frame ended */
	char path[PATH_MAX];
};

#define SOURCE_IN (256u << 10)

/* open blobs/<key>, else blobs/<key>.lz4 */
static int source_open(struct source *s, const char *dir, const char *key)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s/blobs/%s", dir, key);
	s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
	if (s->fd >= 0 || errno != ENOENT)
		return s->fd < 0 ? -errno : 0;
	snprintf(s->path, sizeof(s->path), "%s/blobs/%s.lz4", dir, key);
	if ((s->fd = open(s->path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&s->dctx,
							 LZ4F_VERSION)) ||
	    (s->in = malloc(SOURCE_IN)) == NULL)
		return -ENOMEM;
	return 0;
}

static void source_close(struct source *s)
{
	if (s->fd >= 0)
		close(s->fd);
	LZ4F_freeDecompressionContext(s->dctx);
	free(s->in);
	s->fd = -1;
	s->dctx = NULL;
	s->in = NULL;
}

/* up to len bytes of the blob; 0 at its end, -EBADMSG for a bad frame */
static ssize_t source_read(struct source *s, void *buf, size_t len)
{
	size_t got = 0;

	if (s->dctx == NULL) {
		ssize_t n;
		while ((n = read(s->fd, buf, len)) < 0 && errno == EINTR)
			;
		return n < 0 ? -errno : n;
	}
	while (got < len && !s->bad && !s->done) {
		if (s->in_pos == s->in_len && !s->eof) {
			ssize_t n = read(s->fd, s->in, SOURCE_IN);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			s->in_pos = 0;
			s->in_len = (size_t)n;
			s->eof = n == 0;
		}
		size_t out = len - got, in = s->in_len - s->in_pos;
		size_t hint = LZ4F_decompress(s->dctx, (char *)buf + got, &out,
					      s->in + s->in_pos, &in, NULL);
		if (LZ4F_isError(hint)) {
			s->bad = 1;
			break;
		}
		s->in_pos += in;
		got += out;
		if (hint == 0) { /* the frame is complete: nothing may follow */
			char extra;
			s->done = 1;
			s->bad = s->in_pos < s->in_len ||
				 read(s->fd, &extra, 1) != 0;
			break;
		}
		if (out == 0 && in == 0 && s->eof) {
			s->bad = 1; /* the file ends inside the frame */
			break;
		}
	}
	if (s->bad && (got == 0 || s->done))
		return -EBADMSG;
	return (ssize_t)got;
}

/* exactly len bytes, or -EIO when the blob ends early */
static int source_read_full(struct source *s, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = source_read(s, p, len);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* the digest a blob's key promises, computed over the exported blob */
static int digest_file(const char *dir, const char *key, uint64_t size,
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
	struct source src;
	int rc = source_open(&src, dir, key);
	const char *path = src.path;

	if (rc < 0 || ctx == NULL || buf == NULL) {
		rc = rc < 0 ? rc : -ENOMEM;
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
	while ((n = source_read(&src, buf, 1 << 20)) > 0) {
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		total += (uint64_t)n;
	}
	EVP_DigestFinal_ex(ctx, d, &dl);
	aim_hex(d, dl, hex);
	if (n == -EBADMSG) {
		aim_set_cause(cause, "'%s' is not a valid lz4 frame", path);
		rc = -EBADMSG;
	} else if (n < 0 || total != size || strcmp(hex, key) != 0) {
		aim_set_cause(cause, "'%s' does not match its %s", path,
			    n < 0 ? "size" : total != size ? "size" : "digest");
		rc = -EBADMSG;
	}
out:
	source_close(&src);
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

/* store the blocks of b that are absent, from its checked export in dir */
static int import_blob(struct aim_cache *c, struct aim_blob *b,
		       const char *dir, char **cause)
{
	void *buf = malloc(c->block_size);
	struct source src;
	int rc = source_open(&src, dir, b->key);
	const char *path = src.path;

	if (rc < 0 || buf == NULL) {
		rc = rc < 0 ? rc : -ENOMEM;
		aim_set_cause(cause, "cannot read '%s'", path);
		goto out;
	}
	for (uint32_t i = 0; i < b->nblocks && rc == 0; i++) {
		uint32_t len = block_len(c, b, i), stored;
		/* read in order (a frame is a stream), store what is absent */
		if ((rc = source_read_full(&src, buf, len)) < 0) {
			aim_set_cause(cause, "cannot read block %u of '%s'", i,
				      path);
			break;
		}
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
		rc = store_block(c, b, i, buf, len, &stored);
		pthread_mutex_lock(&c->lock);
		if (rc == 0) {
			b->state[i] = B_READY;
			b->atime[i] = ++c->tick;
			account_present(c, b, i, stored);
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
	source_close(&src);
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
	for (size_t k = 0; k < es.n && rc == 0; k++)
		rc = digest_file(dir, es.v[k].key, es.v[k].size, cause);
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
		rc = cache_register(c, &im, &es, NULL, cause);
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
		rc = import_blob(c, b, dir, cause);
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
