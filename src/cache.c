/*
 * cache.c - see cache.h: opening a store, registering models, the tree,
 * auto_add, and the reports. The locks are described in cache-int.h.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache-int.h"
#include "conf.h"
#include "creds.h"
#include "hmap.h"
#include "http.h"
#include "hub.h"
#include "https.h"
#include "s3.h"
#include "index.h"
#include "layout.h"
#include "log.h"
#include "store.h"
#include "uri.h"
#include "util.h"

static void loc_release(struct aim_loc *l)
{
	aim_hub_loc_release(&l->hub);
	free(l->bucket);
	free(l->key);
	free(l->url);
	free(l->name);
	free(l->model);
	memset(l, 0, sizeof(*l));
}

static void blob_free(struct aim_blob *b)
{
	if (b == NULL)
		return;
	if (b->fd >= 0)
		close(b->fd);
	loc_release(&b->loc);
	free(b->etag);
	free(b->state);
	free(b->atime);
	free(b->inuse);
	free(b->zlen);
	free(b->key);
	free(b);
}

void cache_model_free(struct aim_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nfiles; i++) {
		free(m->files[i]->path);
		free(m->files[i]);
	}
	free(m->files);
	free(m->name);
	free(m->uri);
	free(m->kind);
	free(m->revision);
	free(m->commit);
	free(m->failed);
	aim_creds_unref(&m->creds);
	free(m);
}

/* a blob in memory; called with c->lock held or before threads exist */
struct aim_blob *cache_blob_new(struct aim_cache *c, int64_t id,
				 const char *key, uint64_t size,
				 const char *etag)
{
	struct aim_blob *b = calloc(1, sizeof(*b));
	struct aim_blob **nb;

	if (b == NULL)
		return NULL;
	b->id = id;
	b->fd = -1;
	b->size = size;
	b->nblocks = aim_block_count(size, c->block_size);
	b->key = strdup(key);
	if (etag && (b->etag = strdup(etag)) == NULL)
		goto fail;
	b->state = calloc(b->nblocks ? b->nblocks : 1, 1);
	b->atime = calloc(b->nblocks ? b->nblocks : 1, sizeof(*b->atime));
	b->inuse = calloc(b->nblocks ? b->nblocks : 1, sizeof(*b->inuse));
	nb = realloc(c->blobs, (c->nblobs + 1) * sizeof(*nb));
	if (!b->key || !b->state || !b->atime || !b->inuse || !nb)
		goto fail;
	c->blobs = nb;
	if (aim_hmap_put(c->blob_by_key, 0, b->key, b) < 0 ||
	    aim_hmap_put(c->blob_by_id, (uint64_t)id, "", b) < 0)
		goto fail;
	c->blobs[c->nblobs++] = b;
	return b;
fail:
	blob_free(b);
	return NULL;
}

/* the object key of an s3:// model's file: the prefix, '/', the path */
static char *s3_key(const struct aim_uri *u, const char *path)
{
	size_t n = strlen(u->prefix);
	char *key = NULL;

	if (asprintf(&key, "%s%s%s", u->prefix,
		     n && u->prefix[n - 1] != '/' ? "/" : "", path) < 0)
		return NULL;
	return key;
}

/* where b is fetched from: the first model file naming it */
static int blob_set_loc(struct aim_blob *b, const struct aim_model *m,
			const char *path)
{
	struct aim_loc *l = &b->loc;
	struct aim_uri u;
	char *cause = NULL;
	int rc = -ENOMEM;

	if (b->has_loc)
		return 0;
	aim_uri_init(&u);
	if (aim_uri_parse(m->uri, &u, &cause) < 0) {
		free(cause);
		return -EINVAL;
	}
	l->name = strdup(path);
	l->model = strdup(m->name);
	l->etag = b->etag;
	l->ranges = -1;
	b->owner = m;
	if (!l->name || !l->model)
		goto out;
	switch (u.kind) {
	case AIM_URI_HF:
		l->kind = SRC_HF;
		if (asprintf(&l->hub.repo, "%s/%s", u.org, u.name) < 0) {
			l->hub.repo = NULL;
			goto out;
		}
		l->hub.commit = strdup(m->commit);
		l->hub.path = strdup(path);
		l->hub.etag = strdup(b->key);
		if (!l->hub.commit || !l->hub.path || !l->hub.etag)
			goto out;
		break;
	case AIM_URI_S3:
		l->kind = SRC_S3;
		l->bucket = strdup(u.bucket);
		l->key = s3_key(&u, path);
		if (!l->bucket || !l->key)
			goto out;
		break;
	case AIM_URI_HTTPS:
		l->kind = SRC_HTTPS;
		if ((l->url = strdup(u.url)) == NULL)
			goto out;
		break;
	}
	b->has_loc = 1;
	rc = 0;
out:
	if (rc < 0) {
		loc_release(l);
		b->owner = NULL;
	}
	aim_uri_release(&u);
	return rc;
}

static int file_cmp(const void *a, const void *b)
{
	const struct aim_file *fa = *(struct aim_file *const *)a;
	const struct aim_file *fb = *(struct aim_file *const *)b;

	return strcmp(fa->path, fb->path);
}

/* the Hub repo id ("org/name") of an hf:// model, into buf */
int cache_hf_repo_id(const struct aim_model *m, char *buf, size_t len)
{
	struct aim_uri u;
	char *cause = NULL;
	int rc;

	aim_uri_init(&u);
	rc = aim_uri_parse(m->uri, &u, &cause);
	free(cause);
	if (rc == 0 && u.kind != AIM_URI_HF)
		rc = -EINVAL;
	if (rc == 0 && (size_t)snprintf(buf, len, "%s/%s", u.org, u.name) >= len)
		rc = -ENAMETOOLONG;
	aim_uri_release(&u);
	return rc;
}

/* add one node, treating "already there" as done (shared blobs, refs) */
static int add_once(int rc)
{
	return rc == -EEXIST ? 0 : rc;
}

/*
 * The hub cache view of an hf:// model:
 *   hub/models--ORG--NAME/blobs/<etag>              the content
 *   hub/models--ORG--NAME/snapshots/<commit>/<path> -> ../../blobs/<etag>
 *   hub/models--ORG--NAME/refs/<rev>                the commit, no newline
 * as huggingface_hub lays out HF_HUB_CACHE. Several revisions share blobs.
 */
static int layout_hub(struct aim_cache *c, struct aim_model *m)
{
	char repo[256], base[320], path[PATH_MAX], target[PATH_MAX];
	int rc;

	if ((rc = cache_hf_repo_id(m, repo, sizeof(repo))) < 0)
		return rc;
	const char *slash = strchr(repo, '/');
	snprintf(base, sizeof(base), "hub/models--%.*s--%s",
		 (int)(slash - repo), repo, slash + 1);

	snprintf(path, sizeof(path), "%s/snapshots/%s", base, m->commit);
	if ((rc = aim_layout_add_dir(c->layout, path, 0, m->mtime)) < 0)
		return rc;
	for (size_t i = 0; i < m->nfiles; i++) {
		struct aim_file *f = m->files[i];
		size_t used = 0;

		snprintf(path, sizeof(path), "%s/blobs/%s", base, f->blob->key);
		rc = aim_layout_add_file(c->layout, path, f, f->blob->size,
					 m->mtime);
		if ((rc = add_once(rc)) < 0)
			return rc;
		/* one "../" for snapshots/<commit>, one per subdirectory */
		for (int up = 2; up > 0; up--)
			used += (size_t)snprintf(target + used,
						 sizeof(target) - used, "../");
		for (const char *p = f->path; (p = strchr(p, '/')); p++)
			used += (size_t)snprintf(target + used,
						 sizeof(target) - used, "../");
		if (used + 6 + strlen(f->blob->key) >= sizeof(target))
			return -ENAMETOOLONG;
		snprintf(target + used, sizeof(target) - used, "blobs/%s",
			 f->blob->key);
		if ((size_t)snprintf(path, sizeof(path), "%s/snapshots/%s/%s",
				     base, m->commit, f->path) >= sizeof(path))
			return -ENAMETOOLONG;
		rc = aim_layout_add_link(c->layout, path, target, m->mtime);
		if ((rc = add_once(rc)) < 0)
			return rc;
	}
	/* a model registered at a commit has no ref, as in huggingface_hub */
	if (strcmp(m->revision, m->commit) != 0) {
		snprintf(path, sizeof(path), "%s/refs/%s", base, m->revision);
		rc = aim_layout_add_data(c->layout, path, m->commit,
					 strlen(m->commit), m->mtime);
		if ((rc = add_once(rc)) < 0)
			return rc;
	} else {
		snprintf(path, sizeof(path), "%s/refs", base);
		if ((rc = aim_layout_add_dir(c->layout, path, 0, m->mtime)) < 0)
			return rc;
	}
	return 0;
}

/*
 * Put a model into the tree: under its name in the local-directory view
 * (the first revision registered under a name keeps it), and for hf:// in
 * the hub view.
 */
int cache_layout_model(struct aim_cache *c, struct aim_model *m)
{
	char path[PATH_MAX];
	int rc;

	qsort(m->files, m->nfiles, sizeof(*m->files), file_cmp);
	if (!aim_layout_exists(c->layout, m->name)) {
		for (size_t i = 0; i < m->nfiles; i++) {
			struct aim_file *f = m->files[i];
			if ((size_t)snprintf(path, sizeof(path), "%s/%s",
					     m->name, f->path) >= sizeof(path))
				return -ENAMETOOLONG;
			rc = aim_layout_add_file(c->layout, path, f,
						 f->blob->size, m->mtime);
			if (rc < 0) {
				aim_log(LOG_ERR,
					"model '%s': cannot show '%s': %s",
					m->name, f->path, strerror(-rc));
				return rc;
			}
		}
	}
	if (strcmp(m->kind, "hf") == 0 && (rc = layout_hub(c, m)) < 0) {
		aim_log(LOG_ERR, "model '%s': cannot show the hub view: %s",
			m->name, strerror(-rc));
		return rc;
	}
	return 0;
}

int cache_model_add_file(struct aim_model *m, const char *path,
			  struct aim_blob *b)
{
	struct aim_file *f = calloc(1, sizeof(*f));
	struct aim_file **nf = realloc(m->files, (m->nfiles + 1) * sizeof(*nf));

	if (nf)
		m->files = nf;
	if (f == NULL || nf == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		return -ENOMEM;
	}
	f->model = m;
	f->blob = b;
	m->files[m->nfiles++] = f;
	b->refs++;
	if (m->pinned)
		b->pins++;
	return blob_set_loc(b, m, path);
}

struct aim_model *cache_model_new(const struct aim_index_model *im)
{
	struct aim_model *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->id = im->id;
	m->name = strdup(im->name);
	m->uri = strdup(im->uri);
	m->kind = strdup(im->kind);
	m->revision = strdup(im->revision);
	m->commit = strdup(im->commit);
	m->mtime = im->mtime;
	m->added = im->added;
	m->pinned = im->pinned;
	m->last_used = m->last_used_saved = im->last_used;
	aim_uri_cache_key(im->uri, m->cache_key);
	if (!m->name || !m->uri || !m->kind || !m->revision || !m->commit) {
		cache_model_free(m);
		return NULL;
	}
	return m;
}

int cache_models_append(struct aim_cache *c, struct aim_model *m)
{
	struct aim_model **nm =
		realloc(c->models, (c->nmodels + 1) * sizeof(*nm));

	if (nm == NULL)
		return -ENOMEM;
	c->models = nm;
	c->models[c->nmodels++] = m;
	return 0;
}

/* --- loading the index at open ------------------------------------- */

static int load_blob(void *arg, const struct aim_index_blob *ib)
{
	struct aim_cache *c = arg;

	/* hf blobs record their key as etag; only s3/https need one */
	const char *etag = ib->etag && strcmp(ib->etag, ib->key) ? ib->etag : NULL;

	return cache_blob_new(c, ib->id, ib->key, ib->size, etag) ? 0 : -ENOMEM;
}

static int load_model(void *arg, const struct aim_index_model *im)
{
	struct aim_cache *c = arg;
	struct aim_model *m = cache_model_new(im);

	if (m == NULL || cache_models_append(c, m) < 0) {
		cache_model_free(m);
		return -ENOMEM;
	}
	return 0;
}

static int load_file(void *arg, int64_t model_id, const char *path,
		     int64_t blob_id)
{
	struct aim_cache *c = arg;
	struct aim_blob *b = aim_hmap_get(c->blob_by_id, (uint64_t)blob_id, "");

	for (size_t i = 0; i < c->nmodels; i++) {
		if (c->models[i]->id != model_id)
			continue;
		if (b == NULL)
			return -EPROTO;
		return cache_model_add_file(c->models[i], path, b);
	}
	return -EPROTO;
}

static int load_block(void *arg, int64_t blob_id, uint32_t idx, uint32_t len,
		      int codec, uint32_t stored, int64_t atime)
{
	struct aim_cache *c = arg;
	struct aim_blob *b = aim_hmap_get(c->blob_by_id, (uint64_t)blob_id, "");

	if (b == NULL || idx >= b->nblocks || len != block_len(c, b, idx) ||
	    (codec != AIM_CODEC_RAW && codec != AIM_CODEC_LZ4) ||
	    (codec == AIM_CODEC_LZ4 && (stored == 0 || stored >= len))) {
		aim_log(LOG_WARNING, "index: ignoring a stray block row");
		return 0;
	}
	if (codec == AIM_CODEC_LZ4 && blob_zlen_alloc(b) < 0)
		return -ENOMEM;
	if (b->state[idx] == B_ABSENT) {
		b->state[idx] = B_PRESENT;
		account_present(c, b, idx,
				codec == AIM_CODEC_LZ4 ? stored : len);
		/* the LRU clock runs in milliseconds of wall time at start */
		b->atime[idx] = atime > 0 ? (uint64_t)atime * 1000 : 0;
	}
	return 0;
}

static int load(struct aim_cache *c, char **cause)
{
	int rc;

	if ((rc = aim_index_each_blob(c->ix, load_blob, c)) < 0 ||
	    (rc = aim_index_each_model(c->ix, load_model, c)) < 0 ||
	    (rc = aim_index_each_file(c->ix, load_file, c)) < 0 ||
	    (rc = aim_index_each_block(c->ix, load_block, c)) < 0) {
		aim_set_cause(cause, "cannot load the index: %s", strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < c->nmodels; i++)
		if ((rc = cache_layout_model(c, c->models[i])) < 0)
			aim_log(LOG_ERR, "model '%s' is not shown: %s",
				c->models[i]->name, strerror(-rc));
	return 0;
}

/* the store's block size is fixed when it is created */
static int setup_block_size(struct aim_cache *c, char **cause)
{
	char *v = NULL, buf[32];
	int rc = aim_index_meta_get(c->ix, "block_size", &v);

	if (rc == -ENOENT) {
		snprintf(buf, sizeof(buf), "%llu",
			 (unsigned long long)c->conf->block_size);
		c->block_size = c->conf->block_size;
		return aim_index_meta_set(c->ix, "block_size", buf);
	}
	if (rc < 0)
		return rc;
	c->block_size = strtoull(v, NULL, 10);
	free(v);
	if (c->block_size < 4096 || (c->block_size & (c->block_size - 1))) {
		aim_set_cause(cause, "index records a bad block size");
		return -EPROTO;
	}
	if (c->block_size != c->conf->block_size)
		aim_log(LOG_NOTICE,
			"store uses block_size %llu (set when it was created)",
			(unsigned long long)c->block_size);
	return 0;
}

int aim_cache_open(const struct aim_conf *conf, struct aim_cache **out,
		   char **cause)
{
	struct aim_http_opts hopts = { conf->ca_file, conf->connect_timeout };
	struct aim_cache *c;
	char path[PATH_MAX];
	int rc;

	*cause = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->conf = conf;
	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t t = aim_now_ms() ^ ((uint64_t)getpid() << 32);
		memcpy(rnd, &t, sizeof(rnd));
	}
	aim_hex(rnd, sizeof(rnd), c->instance);
	pthread_mutex_init(&c->addlock, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->ixlock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->evict_cond, NULL);
	c->tick = (uint64_t)time(NULL) * 1000;
	c->blob_by_key = aim_hmap_new();
	c->blob_by_id = aim_hmap_new();
	c->layout = aim_layout_new();
	c->missing = aim_hmap_new();
	rc = -ENOMEM;
	if (!c->blob_by_key || !c->blob_by_id || !c->layout || !c->missing)
		goto fail;
	if ((rc = aim_store_open(conf->store, &c->store, cause)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/index.db", conf->store);
	if ((rc = aim_index_open(path, &c->ix, cause)) < 0)
		goto fail;
	if ((rc = setup_block_size(c, cause)) < 0)
		goto fail;
	if ((rc = aim_http_new(&hopts, &c->http)) < 0)
		goto fail;
	if ((rc = aim_s3_new(c->http, conf, &c->s3, cause)) < 0)
		goto fail;
	rc = aim_hub_new(c->http, conf->hf_endpoint, conf->hf_token,
			 conf->fetch_timeout, &c->hub);
	if (rc < 0) {
		aim_set_cause(cause, "bad hf_endpoint '%s'", conf->hf_endpoint);
		goto fail;
	}
	/* HF_HUB_CACHE may point at hub/ before any model is registered */
	if ((rc = aim_layout_add_dir(c->layout, "hub", 0, (int64_t)time(NULL))) < 0)
		goto fail;
	if ((rc = load(c, cause)) < 0)
		goto fail;
	*out = c;
	return 0;
fail:
	if (*cause == NULL)
		aim_set_cause(cause, "cannot open store '%s': %s", conf->store,
			  strerror(-rc));
	aim_cache_free(&c);
	return rc;
}

static void free_missing(struct aim_cache *c)
{
	/* entries are also listed in c->missing_list for freeing */
	for (size_t i = 0; i < c->nmissing; i++) {
		free(c->missing_list[i]->repo);
		free(c->missing_list[i]);
	}
	free(c->missing_list);
	aim_hmap_free(&c->missing);
}

void aim_cache_free(struct aim_cache **pc)
{
	struct aim_cache *c = *pc;

	if (c == NULL)
		return;
	aim_cache_stop(c);
	pull_free_all(c);
	for (size_t i = 0; i < c->nmodels; i++)
		cache_model_free(c->models[i]);
	free(c->models);
	for (size_t i = 0; i < c->nblobs; i++)
		blob_free(c->blobs[i]);
	free(c->blobs);
	aim_hmap_free(&c->blob_by_key);
	aim_hmap_free(&c->blob_by_id);
	free_missing(c);
	aim_layout_free(&c->layout);
	aim_hub_free(&c->hub);
	aim_s3_free(&c->s3);
	aim_http_free(&c->http);
	aim_index_free(&c->ix);
	aim_store_free(&c->store);
	pthread_cond_destroy(&c->cond);
	pthread_cond_destroy(&c->evict_cond);
	pthread_mutex_destroy(&c->ixlock);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->addlock);
	free(c);
	*pc = NULL;
}

void aim_cache_forked(struct aim_cache *c)
{
	aim_store_record_pid(c->store);
}

int aim_cache_start(struct aim_cache *c)
{
	int rc = commit_start(c);

	if (rc == 0)
		rc = evict_start(c);
	return rc < 0 ? rc : prefetch_start(c);
}

void aim_cache_stop(struct aim_cache *c)
{
	prefetch_stop(c);
	pull_stop_all(c);
	evict_stop(c);
	/* the mount is gone by now: no read comes after this */
	pthread_mutex_lock(&c->lock);
	cache_save_last_used(c, 1);
	pthread_mutex_unlock(&c->lock);
	commit_stop(c); /* last: what was fetched gets recorded */
}

/* a last read the index should get now (see cache-int.h); c->lock held */
static int last_used_due(const struct aim_model *m, int all)
{
	int64_t d = m->last_used - m->last_used_saved;

	if (m->gone || d == 0)
		return 0;
	return all || m->last_used_saved == 0 || d >= 60 || d <= -60;
}

void cache_save_last_used(struct aim_cache *c, int all)
{
	struct due {
		struct aim_model *m;
		int64_t t;
	};
	struct due *v;
	size_t n = 0, k;
	int rc;

	for (size_t i = 0; i < c->nmodels; i++)
		n += last_used_due(c->models[i], all);
	if (n == 0 || (v = malloc(n * sizeof(*v))) == NULL)
		return; /* without memory: next time */
	for (size_t i = 0, j = 0; i < c->nmodels; i++)
		if (last_used_due(c->models[i], all))
			v[j++] = (struct due){ c->models[i],
					       c->models[i]->last_used };
	/*
	 * ixlock before c->lock goes: an rm waits for it before deleting the
	 * row, so no id is reused by a new model before these updates land
	 */
	pthread_mutex_lock(&c->ixlock);
	pthread_mutex_unlock(&c->lock);
	rc = aim_index_begin(c->ix);
	for (k = 0; rc == 0 && k < n; k++)
		rc = aim_index_model_set_last_used(c->ix, v[k].m->id, v[k].t);
	if (rc == 0)
		rc = aim_index_commit(c->ix);
	if (rc < 0)
		aim_index_rollback(c->ix);
	pthread_mutex_unlock(&c->ixlock);
	pthread_mutex_lock(&c->lock);
	if (rc < 0) {
		/* e.g. the disk is full: kept in memory, tried again later */
		aim_log(LOG_WARNING,
			"cannot record when %zu models were last read: %s", n,
			strerror(-rc));
	} else {
		for (k = 0; k < n; k++)
			v[k].m->last_used_saved = v[k].t;
	}
	free(v);
}

struct aim_layout *aim_cache_layout(struct aim_cache *c)
{
	return c->layout;
}

uint64_t aim_file_size(const struct aim_file *f)
{
	return f->blob->size;
}

/* --- registration ---------------------------------------------------- */


int cache_entries_add(struct cache_entries *es, const char *path,
		      uint64_t size, const char *key, const char *sha1,
		      const char *etag)
{
	if (es->n == es->cap) {
		size_t cap = es->cap ? es->cap * 2 : 64;
		struct cache_entry *nv = realloc(es->v, cap * sizeof(*nv));
		if (nv == NULL)
			return -ENOMEM;
		es->v = nv;
		es->cap = cap;
	}
	struct cache_entry *en = &es->v[es->n];
	memset(en, 0, sizeof(*en));
	if ((en->path = strdup(path)) == NULL)
		return -ENOMEM;
	if (etag && (en->etag = strdup(etag)) == NULL) {
		free(en->path);
		return -ENOMEM;
	}
	en->size = size;
	for (size_t i = 0; key[i] && i < sizeof(en->key) - 1; i++)
		en->key[i] = (char)(key[i] | 0x20); /* hex: lower case */
	for (size_t i = 0; sha1 && sha1[i] && i < sizeof(en->sha1) - 1; i++)
		en->sha1[i] = (char)(sha1[i] | 0x20);
	en->lfs = strlen(en->key) == 64;
	es->n++;
	return 0;
}

static int collect(void *arg, const struct aim_hub_entry *e)
{
	return cache_entries_add(arg, e->path, e->size,
				 e->lfs_sha256 ? e->lfs_sha256 : e->oid, e->oid,
				 NULL);
}

void cache_entries_release(struct cache_entries *es)
{
	for (size_t i = 0; i < es->n; i++) {
		free(es->v[i].path);
		free(es->v[i].etag);
	}
	free(es->v);
}

/* order paths with '/' before every other byte, so "a/x" follows "a" */
static int path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char x = *a == '/' ? 1 : (unsigned char)*a;
		unsigned char y = *b == '/' ? 1 : (unsigned char)*b;
		if (x != y || x == 0)
			return x - y;
	}
}

static int entry_cmp(const void *a, const void *b)
{
	return path_cmp(((const struct cache_entry *)a)->path,
			((const struct cache_entry *)b)->path);
}

/* refuse duplicate paths and a file that is also a directory */
int cache_entries_check(struct cache_entries *es, char **cause)
{
	qsort(es->v, es->n, sizeof(*es->v), entry_cmp);
	for (size_t i = 0; i + 1 < es->n; i++) {
		const char *a = es->v[i].path, *b = es->v[i + 1].path;
		size_t n = strlen(a);
		if (strcmp(a, b) == 0) {
			aim_set_cause(cause, "listing names '%s' twice", a);
			return -EPROTO;
		}
		if (strncmp(a, b, n) == 0 && b[n] == '/') {
			aim_set_cause(cause, "listing has '%s' as file and directory",
				  a);
			return -EPROTO;
		}
	}
	return 0;
}

static struct aim_model *find_model_by_uri(struct aim_cache *c,
					   const char *uri)
{
	for (size_t i = 0; i < c->nmodels; i++)
		if (!c->models[i]->gone && strcmp(c->models[i]->uri, uri) == 0)
			return c->models[i];
	return NULL;
}

static struct aim_model *find_model_by_name(struct aim_cache *c,
					    const char *name)
{
	for (size_t i = 0; i < c->nmodels; i++)
		if (!c->models[i]->gone && strcmp(c->models[i]->name, name) == 0)
			return c->models[i];
	return NULL;
}

struct aim_model *cache_find_model(struct aim_cache *c, const char *what,
				   int *ambiguous)
{
	struct aim_model *m = find_model_by_uri(c, what), *byname = NULL;
	int n = 0;

	*ambiguous = 0;
	if (m)
		return m;
	for (size_t i = 0; i < c->nmodels; i++) {
		struct aim_model *o = c->models[i];
		if (o->gone)
			continue;
		if (strcmp(o->cache_key, what) == 0)
			return o;
		if (strcmp(o->name, what) == 0) {
			byname = o;
			n++;
		}
	}
	*ambiguous = n > 1;
	return n == 1 ? byname : NULL;
}

/* write the model to the index in one transaction; fills blob ids */
static int index_model(struct aim_cache *c, struct aim_index_model *im,
		       struct cache_entries *es, int64_t *blob_ids, char **cause)
{
	int rc;

	pthread_mutex_lock(&c->ixlock);
	if ((rc = aim_index_begin(c->ix)) < 0)
		goto out;
	if ((rc = aim_index_model_insert(c->ix, im, &im->id)) < 0)
		goto fail;
	for (size_t i = 0; i < es->n; i++) {
		struct cache_entry *e = &es->v[i];
		struct aim_index_blob ib = {
			.key = e->key,
			.size = e->size,
			.sha256 = e->lfs ? e->key : NULL,
			.sha1 = e->lfs || !e->sha1[0] ? NULL : e->sha1,
			.etag = e->etag ? e->etag : e->key,
		};
		rc = aim_index_blob_insert(c->ix, &ib, &blob_ids[i]);
		if (rc == -EEXIST) {
			aim_set_cause(cause,
				  "listing gives '%s' a size that disagrees "
				  "with the stored blob",
				  e->path);
			rc = -EPROTO;
		}
		if (rc < 0 ||
		    (rc = aim_index_file_insert(c->ix, im->id, e->path,
						blob_ids[i])) < 0)
			goto fail;
	}
	rc = aim_index_commit(c->ix);
	if (rc == 0)
		goto out;
fail:
	aim_index_rollback(c->ix);
out:
	pthread_mutex_unlock(&c->ixlock);
	if (rc < 0 && *cause == NULL)
		aim_set_cause(cause, "cannot record the model in the index: %s",
			  strerror(-rc));
	return rc;
}

int cache_register(struct aim_cache *c, struct aim_index_model *im,
		   struct cache_entries *es, struct aim_creds *creds,
		   char **cause)
{
	struct aim_model *m = NULL;
	int64_t *blob_ids = NULL;
	char repo[256];
	int rc;

	if ((rc = cache_entries_check(es, cause)) < 0)
		return rc;
	pthread_mutex_lock(&c->lock);
	struct aim_model *same = find_model_by_name(c, im->name);
	pthread_mutex_unlock(&c->lock);
	if (same) {
		/* another revision of the same repo may share the name */
		struct aim_model probe = { .uri = (char *)im->uri };
		char other[256];
		if (cache_hf_repo_id(same, other, sizeof(other)) < 0 ||
		    cache_hf_repo_id(&probe, repo, sizeof(repo)) < 0 ||
		    strcmp(other, repo) != 0) {
			aim_set_cause(cause, "name '%s' is already used by '%s'",
				    im->name, same->uri);
			return -EEXIST;
		}
	}
	blob_ids = calloc(es->n ? es->n : 1, sizeof(*blob_ids));
	if (blob_ids == NULL)
		return -ENOMEM;
	if ((rc = index_model(c, im, es, blob_ids, cause)) < 0)
		goto out;

	/* the index has it; now the memory map and the tree */
	rc = -ENOMEM;
	if ((m = cache_model_new(im)) == NULL)
		goto out;
	m->creds = aim_creds_ref(creds); /* before any read can fetch */
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < es->n; i++) {
		struct aim_blob *b =
			aim_hmap_get(c->blob_by_key, 0, es->v[i].key);
		if (b == NULL)
			b = cache_blob_new(c, blob_ids[i], es->v[i].key,
					   es->v[i].size, es->v[i].etag);
		else if (b->gone)
			b->gone = 0; /* named again after an rm */
		if (b == NULL || cache_model_add_file(m, es->v[i].path, b) < 0)
			break;
	}
	if (m->nfiles == es->n && cache_models_append(c, m) == 0)
		rc = 0;
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		goto out;
	rc = cache_layout_model(c, m);
	if (rc < 0)
		aim_set_cause(cause, "cannot show '%s' in the tree: %s", im->name,
			    strerror(-rc));
	m = NULL; /* owned by the cache now */
	aim_log(LOG_NOTICE, "registered %s as '%s' at %s (%zu files%s)",
		im->uri, im->name, im->commit, es->n,
		creds ? ", with credentials of its own" : "");
out:
	cache_model_free(m);
	free(blob_ids);
	return rc;
}

static int add_hf(struct aim_cache *c, const char *uri_str,
		  const struct aim_uri *u, const char *name,
		  struct aim_creds *creds, char **cause)
{
	const char *token = aim_creds_get(creds, AIM_CRED_HF_TOKEN);
	struct aim_hub_revision rev;
	struct cache_entries es = { 0 };
	char fullname[200];
	int rc;

	snprintf(fullname, sizeof(fullname), "%s/%s", u->org, u->name);
	if ((rc = aim_hub_revision(c->hub, token, u->org, u->name, u->rev,
				   &rev, cause)) < 0)
		return rc;
	rc = aim_hub_list(c->hub, token, u->org, u->name, rev.commit, collect,
			  &es, cause);
	if (rc == 0) {
		struct aim_index_model im = {
			.name = name ? name : fullname,
			.uri = uri_str,
			.kind = "hf",
			.revision = u->rev,
			.commit = rev.commit,
			.mtime = rev.mtime,
			.added = (int64_t)time(NULL),
		};
		rc = cache_register(c, &im, &es, creds, cause);
	}
	cache_entries_release(&es);
	return rc;
}

/* "s3-"/"url-" and the SHA-256 of what names one version of an object */
static void source_key(const char *kind, const char *id, const char *version,
		       char out[72])
{
	unsigned char md[32];
	char hex[65], *s = NULL;

	if (asprintf(&s, "%s\n%s", id, version) < 0) {
		snprintf(out, 72, "%s-", kind);
		return;
	}
	aim_sha256(s, strlen(s), md);
	free(s);
	aim_hex(md, 32, hex);
	snprintf(out, 72, "%s-%s", kind, hex);
}

/* a name from the last two components of an S3 prefix, or "" */
static void name_from_prefix(const char *prefix, char *out, size_t len)
{
	char tmp[1024];
	size_t n;

	snprintf(tmp, sizeof(tmp), "%s", prefix);
	while ((n = strlen(tmp)) > 0 && tmp[n - 1] == '/')
		tmp[n - 1] = '\0';
	char *last = strrchr(tmp, '/');
	out[0] = '\0';
	if (last == NULL)
		return;
	*last = '\0';
	char *org = strrchr(tmp, '/');
	org = org ? org + 1 : tmp;
	if (aim_uri_valid_repo_part(org) && aim_uri_valid_repo_part(last + 1))
		snprintf(out, len, "%s/%s", org, last + 1);
}

struct s3_collect {
	struct cache_entries *es;
	const char *bucket;
	size_t skip;	 /* the listing prefix's length */
	EVP_MD_CTX *ctx; /* the listing's identity */
	char **cause;
};

/*
 * An object key as it may be printed: control characters and backslashes
 * as C escapes (a key must not break the one-line error or reach a
 * terminal raw), cut at about 300 bytes.
 */
static const char *printable_key(const char *k, char *out, size_t len)
{
	size_t o = 0;

	/* room for one escape (4), "..." and the NUL */
	for (; *k && o + 8 < len && o < 300; k++) {
		unsigned char ch = (unsigned char)*k;
		if (ch == '\\' || ch == '\n' || ch == '\t') {
			out[o++] = '\\';
			out[o++] = ch == '\n' ? 'n' : ch == '\t' ? 't' : '\\';
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, len - o, "\\x%02x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	snprintf(out + o, len - o, "%s", *k ? "..." : "");
	return out;
}

static int s3_collect(void *arg, const struct aim_s3_entry *e)
{
	struct s3_collect *sc = arg;
	const char *rel = e->key + sc->skip, *why;
	char key[72], id[2200], safe[320];

	if (rel[0] == '\0' || rel[strlen(rel) - 1] == '/')
		return 0; /* the prefix itself, or a "directory" marker */
	if (aim_path_check(rel, &why) < 0) {
		aim_set_cause(sc->cause, "refusing object key '%s': %s",
			    printable_key(e->key, safe, sizeof(safe)), why);
		return -EPROTO;
	}
	if (e->etag == NULL || e->etag[0] == '\0') {
		aim_set_cause(sc->cause, "object '%s' has no ETag",
			    printable_key(e->key, safe, sizeof(safe)));
		return -EPROTO;
	}
	snprintf(id, sizeof(id), "s3://%s/%s", sc->bucket, e->key);
	source_key("s3", id, e->etag, key);
	EVP_DigestUpdate(sc->ctx, id, strlen(id));
	EVP_DigestUpdate(sc->ctx, e->etag, strlen(e->etag) + 1);
	return cache_entries_add(sc->es, rel, e->size, key, NULL, e->etag);
}

void cache_s3_auth(const struct aim_creds *creds, struct aim_s3_auth *a)
{
	a->access_key = aim_creds_get(creds, AIM_CRED_AWS_ACCESS_KEY_ID);
	a->secret_key = aim_creds_get(creds, AIM_CRED_AWS_SECRET_ACCESS_KEY);
	a->session_token = aim_creds_get(creds, AIM_CRED_AWS_SESSION_TOKEN);
	a->endpoint = aim_creds_get(creds, AIM_CRED_AWS_ENDPOINT_URL);
	a->region = aim_creds_get(creds, AIM_CRED_AWS_REGION);
}

static int add_s3(struct aim_cache *c, const char *uri_str,
		  const struct aim_uri *u, const char *name,
		  struct aim_creds *creds, char **cause)
{
	struct aim_s3_auth auth;
	struct cache_entries es = { 0 };
	char derived[256], prefix[1100], commit[41];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdl = 0;
	size_t n = strlen(u->prefix);
	struct s3_collect sc = { &es, u->bucket, 0, EVP_MD_CTX_new(), cause };
	int rc;

	if (name == NULL) {
		name_from_prefix(u->prefix, derived, sizeof(derived));
		if (derived[0] == '\0') {
			aim_set_cause(cause, "cannot name '%s' from its prefix: give "
					   "--name org/model",
				    uri_str);
			EVP_MD_CTX_free(sc.ctx);
			return -EINVAL;
		}
		name = derived;
	}
	/* list "prefix/" so that "models/llama" leaves out "models/llama2" */
	snprintf(prefix, sizeof(prefix), "%s%s", u->prefix,
		 n && u->prefix[n - 1] != '/' ? "/" : "");
	sc.skip = strlen(prefix);
	if (sc.ctx == NULL || !EVP_DigestInit_ex(sc.ctx, EVP_sha1(), NULL)) {
		EVP_MD_CTX_free(sc.ctx);
		return -ENOMEM;
	}
	cache_s3_auth(creds, &auth);
	rc = aim_s3_list(c->s3, creds ? &auth : NULL, u->bucket, prefix,
			 s3_collect, &sc, cause);
	if (rc == 0 && es.n == 0) {
		aim_set_cause(cause, "'%s': no objects under that prefix", uri_str);
		rc = -ENOENT;
	}
	if (rc == 0) {
		EVP_DigestFinal_ex(sc.ctx, md, &mdl);
		aim_hex(md, 20, commit);
		struct aim_index_model im = {
			.name = name,
			.uri = uri_str,
			.kind = "s3",
			.revision = "",
			.commit = commit,
			.mtime = (int64_t)time(NULL),
			.added = (int64_t)time(NULL),
		};
		rc = cache_register(c, &im, &es, creds, cause);
	}
	EVP_MD_CTX_free(sc.ctx);
	cache_entries_release(&es);
	return rc;
}

/* the last path component of a URL, percent-decoded */
static int url_basename(const char *url, char *out, size_t len)
{
	const char *path = strstr(url, "://");
	const char *end, *start;
	size_t o = 0;

	path = path ? strchr(path + 3, '/') : NULL;
	if (path == NULL)
		return -EINVAL;
	end = path + strcspn(path, "?#");
	start = end;
	while (start > path && start[-1] != '/')
		start--;
	for (const char *p = start; p < end && o + 1 < len; p++) {
		unsigned int v;
		if (*p == '%' && p + 2 < end && sscanf(p + 1, "%2x", &v) == 1) {
			out[o++] = (char)v;
			p += 2;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return o > 0 && memchr(out, '\0', o) == NULL ? 0 : -EINVAL;
}

static int add_https(struct aim_cache *c, const char *uri_str,
		     const struct aim_uri *u, const char *name,
		     struct aim_creds *creds, char **cause)
{
	struct cache_entries es = { 0 };
	struct aim_https_info info;
	char base[256], key[72], version[300], commit[41];
	unsigned char md[32];
	const char *why;
	int rc;

	if (name == NULL) {
		aim_set_cause(cause, "'%s': an https:// model needs --name org/model",
			    uri_str);
		return -EINVAL;
	}
	if (url_basename(u->url, base, sizeof(base)) < 0 ||
	    aim_path_check(base, &why) < 0 || strchr(base, '/')) {
		aim_set_cause(cause, "'%s': the URL does not end in a usable file "
				   "name",
			    uri_str);
		return -EINVAL;
	}
	rc = aim_https_probe(c->http, u->url, c->conf->fetch_timeout, &info,
			     cause);
	if (rc < 0)
		return rc;
	/* the version: the ETag, else Last-Modified and size */
	if (info.etag[0])
		snprintf(version, sizeof(version), "%s", info.etag);
	else
		snprintf(version, sizeof(version), "%lld:%llu",
			 (long long)info.mtime, (unsigned long long)info.size);
	source_key("url", u->url, version, key);
	aim_sha256(version, strlen(version), md);
	aim_hex(md, 20, commit);
	rc = cache_entries_add(&es, base, info.size, key, NULL,
			       info.etag[0] ? info.etag : NULL);
	if (rc == 0) {
		struct aim_index_model im = {
			.name = name,
			.uri = uri_str,
			.kind = "https",
			.revision = "",
			.commit = commit,
			.mtime = info.mtime ? info.mtime : (int64_t)time(NULL),
			.added = (int64_t)time(NULL),
		};
		/* https:// sends no credentials; kept for a uniform `list` */
		rc = cache_register(c, &im, &es, creds, cause);
	}
	if (rc == 0) {
		/* what the probe saw, until a restart probes again */
		pthread_mutex_lock(&c->lock);
		struct aim_blob *b = aim_hmap_get(c->blob_by_key, 0, key);
		if (b)
			b->loc.ranges = info.ranges;
		pthread_mutex_unlock(&c->lock);
		if (!info.ranges)
			aim_log(LOG_NOTICE,
				"'%s' has no Range support: it is fetched whole "
				"on first read",
				name);
	}
	cache_entries_release(&es);
	return rc;
}

/* one byte of a model's first non-empty file, fetched with creds */
static int try_s3(struct aim_cache *c, struct aim_model *m,
		  const struct aim_uri *u, struct aim_creds *creds,
		  char **cause)
{
	struct aim_s3_auth auth;
	char byte, *key;
	int rc;

	/* the files of a model never change after its registration */
	for (size_t i = 0; i < m->nfiles; i++) {
		struct aim_file *f = m->files[i];
		if (f->blob->size == 0)
			continue;
		if ((key = s3_key(u, f->path)) == NULL)
			return -ENOMEM;
		cache_s3_auth(creds, &auth);
		rc = aim_s3_fetch(c->s3, &auth, u->bucket, key, f->blob->etag,
				  0, 1, &byte, -1,
				  c->conf->fetch_timeout * 1000U, cause);
		free(key);
		return rc;
	}
	return 0; /* nothing to read: nothing to try them on */
}

/*
 * Give the known model m other credentials of its own (creds; NULL:
 * none), once they have worked on its source (online only). addlock held.
 */
static int rotate(struct aim_cache *c, struct aim_model *m,
		  const struct aim_uri *u, struct aim_creds *creds,
		  char **cause)
{
	struct aim_hub_revision rev;
	struct aim_creds *old;
	int rc = 0;

	if (creds && !c->conf->offline) {
		if (u->kind == AIM_URI_HF)
			rc = aim_hub_revision(
				c->hub, aim_creds_get(creds, AIM_CRED_HF_TOKEN),
				u->org, u->name, m->commit, &rev, cause);
		else if (u->kind == AIM_URI_S3)
			rc = try_s3(c, m, u, creds, cause);
	}
	if (rc < 0) {
		char *why = *cause;
		*cause = NULL;
		aim_set_cause(cause, "'%s' keeps the credentials it had: %s",
			      m->name, why ? why : strerror(-rc));
		free(why);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	old = m->creds;
	m->creds = aim_creds_ref(creds);
	pthread_mutex_unlock(&c->lock);
	aim_creds_unref(&old); /* fetches running with them hold their own */
	aim_log(LOG_NOTICE, "model '%s': %s", m->name,
		creds ? "new credentials of its own" :
			"no credentials of its own: the daemon's from now on");
	return 0;
}

int aim_cache_add(struct aim_cache *c, const char *uri, const char *name,
		  int set_creds, struct aim_creds *creds, int *created,
		  int *rotated, char **cause)
{
	struct aim_uri u;
	int rc, same_creds = 1;

	*cause = NULL;
	*created = 0;
	*rotated = 0;
	if (!set_creds)
		creds = NULL;
	aim_uri_init(&u);
	if ((rc = aim_uri_parse(uri, &u, cause)) < 0)
		return rc;
	if ((name && strncmp(name, "hub/", 4) == 0) ||
	    (!name && u.kind == AIM_URI_HF && strcmp(u.org, "hub") == 0)) {
		aim_set_cause(cause, "the name 'hub' is reserved for the hub view; "
				 "give --name");
		rc = -EINVAL;
		goto out;
	}
	if (name) {
		const char *slash = strchr(name, '/');
		char org[128];
		if (slash == NULL || (size_t)(slash - name) >= sizeof(org) ||
		    strchr(slash + 1, '/')) {
			aim_set_cause(cause, "name '%s' must be org/model", name);
			rc = -EINVAL;
			goto out;
		}
		memcpy(org, name, (size_t)(slash - name));
		org[slash - name] = '\0';
		if (!aim_uri_valid_repo_part(org) ||
		    !aim_uri_valid_repo_part(slash + 1)) {
			aim_set_cause(cause, "name '%s' must be org/model", name);
			rc = -EINVAL;
			goto out;
		}
	}
	pthread_mutex_lock(&c->addlock);
	pthread_mutex_lock(&c->lock);
	struct aim_model *known = find_model_by_uri(c, uri);
	/* a URI has one name: asking for another is an error, not a no-op */
	int renamed = known && name && strcmp(known->name, name) != 0;
	if (renamed)
		aim_set_cause(cause, "'%s' is already registered as '%s'", uri,
			      known->name);
	if (known && set_creds)
		same_creds = aim_creds_equal(known->creds, creds);
	pthread_mutex_unlock(&c->lock);
	if (renamed) {
		rc = -EEXIST;
	} else if (known) {
		rc = same_creds ? 0 : rotate(c, known, &u, creds, cause);
		*rotated = rc == 0 && !same_creds;
	} else if (c->conf->offline) {
		aim_set_cause(cause, "cannot register '%s': offline", uri);
		rc = -ENETDOWN;
	} else {
		rc = u.kind == AIM_URI_HF ?
			     add_hf(c, uri, &u, name, creds, cause) :
		     u.kind == AIM_URI_S3 ?
			     add_s3(c, uri, &u, name, creds, cause) :
			     add_https(c, uri, &u, name, creds, cause);
		*created = rc == 0;
	}
	pthread_mutex_unlock(&c->addlock);
out:
	aim_uri_release(&u);
	return rc;
}

void aim_cache_add_configured(struct aim_cache *c)
{
	for (size_t i = 0; i < c->conf->nmodels; i++) {
		char *cause = NULL;
		int created, rotated;
		if (aim_cache_add(c, c->conf->models[i], NULL, 0, NULL,
				  &created, &rotated, &cause) < 0)
			aim_log(LOG_ERR, "%s", cause ? cause : "cannot register");
		free(cause);
	}
}

/* --- auto_add ----------------------------------------------------------- */

#define MAX_HIDDEN_DIRS 4096

/* 1 if repo is remembered as missing; c->lock held */
static int known_missing(struct aim_cache *c, const char *repo)
{
	struct missing *m = aim_hmap_get(c->missing, 0, repo);

	return m && m->until_ms > aim_now_ms();
}

static void remember_missing(struct aim_cache *c, const char *repo)
{
	uint64_t until = aim_now_ms() + c->conf->negative_timeout * 1000ULL;
	struct missing *m, **list;

	pthread_mutex_lock(&c->lock);
	m = aim_hmap_get(c->missing, 0, repo);
	if (m) {
		m->until_ms = until;
	} else if ((m = calloc(1, sizeof(*m))) != NULL &&
		   (m->repo = strdup(repo)) != NULL &&
		   (list = realloc(c->missing_list,
				   (c->nmissing + 1) * sizeof(*list))) != NULL) {
		c->missing_list = list;
		list[c->nmissing++] = m;
		m->until_ms = until;
		if (aim_hmap_put(c->missing, 0, m->repo, m) < 0)
			m->until_ms = 0;
	} else if (m) {
		free(m->repo);
		free(m);
	}
	pthread_mutex_unlock(&c->lock);
}

static int auto_register(struct aim_cache *c, const char *org,
			 const char *name)
{
	char repo[256], uri[300], *cause = NULL;
	int created, rotated, rc, missing;

	if (!aim_uri_valid_repo_part(org) || !aim_uri_valid_repo_part(name))
		return -ENOENT;
	snprintf(repo, sizeof(repo), "%s/%s", org, name);
	pthread_mutex_lock(&c->lock);
	missing = known_missing(c, repo);
	pthread_mutex_unlock(&c->lock);
	if (missing)
		return -ENOENT;
	snprintf(uri, sizeof(uri), "hf://%s", repo);
	rc = aim_cache_add(c, uri, NULL, 0, NULL, &created, &rotated, &cause);
	if (rc < 0) {
		aim_log(LOG_INFO, "auto_add: %s", cause ? cause : uri);
		/* a repo that is not there (or not ours) is remembered; a
		 * network error is not, so the next lookup tries again */
		if (rc == -ENOENT || rc == -EACCES || rc == -EINVAL)
			remember_missing(c, repo);
		rc = -ENOENT;
	}
	free(cause);
	return rc;
}

int aim_cache_lookup_miss(struct aim_cache *c, uint64_t parent,
			  const char *name)
{
	char dir[PATH_MAX];
	int rc;

	if (!c->conf->auto_add || c->conf->offline)
		return -ENOENT;
	if (aim_layout_path(c->layout, parent, dir, sizeof(dir)) < 0)
		return -ENOENT;
	if (dir[0] == '\0') {
		/* "org": a hidden directory until a repo under it exists */
		if (!aim_uri_valid_repo_part(name) || strcmp(name, "hub") == 0)
			return -ENOENT;
		pthread_mutex_lock(&c->lock);
		int full = c->hidden_dirs >= MAX_HIDDEN_DIRS;
		if (!full)
			c->hidden_dirs++;
		pthread_mutex_unlock(&c->lock);
		if (full)
			return -ENOENT;
		rc = aim_layout_add_dir(c->layout, name, 1, (int64_t)time(NULL));
		return rc < 0 ? -ENOENT : 0;
	}
	if (strcmp(dir, "hub") == 0) {
		/* models--ORG--NAME; neither part may contain "--" */
		char org[128];
		const char *sep;
		if (strncmp(name, "models--", 8) != 0 ||
		    (sep = strstr(name + 8, "--")) == NULL ||
		    (size_t)(sep - name - 8) >= sizeof(org))
			return -ENOENT;
		memcpy(org, name + 8, (size_t)(sep - name - 8));
		org[sep - name - 8] = '\0';
		return auto_register(c, org, sep + 2);
	}
	if (strchr(dir, '/') == NULL)
		return auto_register(c, dir, name);
	return -ENOENT;
}

/* --- reports ---------------------------------------------------------- */

/* bytes and cached bytes of a model's distinct blobs; c->lock held */
/* bytes, cached bytes and stored bytes (stored may be NULL) of a model's
 * distinct blobs; c->lock held */
static void model_sums(struct aim_model *m, uint64_t *size, uint64_t *cached,
		       uint64_t *stored)
{
	struct aim_hmap *seen = aim_hmap_new();
	uint64_t st = 0;

	*size = *cached = 0;
	for (size_t i = 0; i < m->nfiles; i++) {
		struct aim_blob *b = m->files[i]->blob;
		if (seen) {
			if (aim_hmap_get(seen, 0, b->key))
				continue;
			aim_hmap_put(seen, 0, b->key, b);
		}
		*size += b->size;
		*cached += b->present_bytes;
		st += b->stored_bytes;
	}
	aim_hmap_free(&seen);
	if (stored)
		*stored = st;
}

void cache_model_sizes(struct aim_model *m, uint64_t *size, uint64_t *cached)
{
	model_sums(m, size, cached, NULL);
}

static const char *compress_name(int mode)
{
	return mode == AIM_COMPRESS_LZ4 ? "lz4" :
	       mode == AIM_COMPRESS_OFF ? "off" :
					  "auto";
}

/* registered, partial, complete, pulling or failed; c->lock held */
static const char *model_state(const struct aim_model *m, uint64_t size,
			       uint64_t cached)
{
	const char *state = pull_state(m);

	if (state)
		return state;
	return m->failed		? "failed" :
	       cached == 0 && size > 0	? "registered" :
	       cached < size		? "partial" :
					  "complete";
}

json_t *aim_cache_list(struct aim_cache *c)
{
	json_t *arr = json_array();

	if (arr == NULL)
		return NULL;
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nmodels; i++) {
		struct aim_model *m = c->models[i];
		uint64_t size, cached, stored;
		const char *state;

		if (m->gone)
			continue;
		model_sums(m, &size, &cached, &stored);
		state = model_state(m, size, cached);
		json_t *o = json_pack(
			"{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:b, "
			"s:s}",
			"cache_key", m->cache_key, "name", m->name, "source",
			m->uri, "kind", m->kind, "revision", m->revision,
			"commit", m->commit, "size", (json_int_t)size, "cached",
			(json_int_t)cached, "files", (json_int_t)m->nfiles,
			"pinned", m->pinned, "state", state);
		if (o)
			json_object_set_new(o, "stored",
					    json_integer((json_int_t)stored));
		if (o)
			json_object_set_new(
				o, "last_used",
				json_integer((json_int_t)m->last_used));
		if (o && m->failed)
			json_object_set_new(o, "error", json_string(m->failed));
		/* whether it has some, never what they are */
		if (o)
			json_object_set_new(o, "own_credentials",
					    json_boolean(m->creds != NULL));
		json_array_append_new(arr, o);
	}
	pthread_mutex_unlock(&c->lock);
	return arr;
}

json_t *aim_cache_status(struct aim_cache *c)
{
	uint64_t blocks = 0, pinned = 0, fetching = 0, limit;
	uint64_t disk = aim_store_disk_usage(c->store);
	size_t models = 0;
	json_t *o;

	static const char *const state_names[] = { "registered", "partial",
						   "complete", "pulling",
						   "failed" };
	json_int_t by_state[AIM_ARRAY_SIZE(state_names)] = { 0 };

	pthread_mutex_lock(&c->lock);
	limit = evict_limit(c);
	for (size_t i = 0; i < c->nmodels; i++) {
		struct aim_model *m = c->models[i];
		uint64_t size, cached;
		if (m->gone)
			continue;
		models++;
		cache_model_sizes(m, &size, &cached);
		const char *st = model_state(m, size, cached);
		for (size_t k = 0; k < AIM_ARRAY_SIZE(state_names); k++)
			by_state[k] += strcmp(st, state_names[k]) == 0;
	}
	for (size_t i = 0; i < c->nblobs; i++) {
		struct aim_blob *b = c->blobs[i];
		for (uint32_t j = 0; j < b->nblocks; j++) {
			blocks += b->state[j] == B_READY ||
				  b->state[j] == B_PRESENT;
			fetching += b->state[j] == B_FETCHING;
		}
		if (b->pins > 0)
			pinned += b->present_bytes;
	}
	uint64_t lookups = c->stats.hits + c->stats.misses;
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
		      "s:f, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}",
		      "store", c->conf->store, "block_size",
		      (json_int_t)c->block_size, "models", (json_int_t)models,
		      "blobs", (json_int_t)c->nblobs, "blocks",
		      (json_int_t)blocks, "cached_bytes", (json_int_t)c->used,
		      "disk_bytes", (json_int_t)disk, "pinned_bytes",
		      (json_int_t)pinned, "cache_limit", (json_int_t)limit,
		      "high_watermark", (json_int_t)limit, "low_watermark",
		      (json_int_t)(limit / 100 * 90), "hit_ratio",
		      lookups ? (double)c->stats.hits / (double)lookups : 0.0,
		      "block_hits", (json_int_t)c->stats.hits, "block_misses",
		      (json_int_t)c->stats.misses, "fetched_bytes",
		      (json_int_t)c->stats.fetched_bytes, "served_bytes",
		      (json_int_t)c->stats.served_bytes, "evictions",
		      (json_int_t)c->stats.evictions, "evicted_bytes",
		      (json_int_t)c->stats.evicted_bytes, "fetch_errors",
		      (json_int_t)c->stats.fetch_errors, "verify_failures",
		      (json_int_t)c->stats.verify_failures, "offline",
		      c->conf->offline);
	if (o) {
		/* compression: what the cached bytes take in the store */
		json_object_set_new(o, "stored_bytes",
				    json_integer((json_int_t)c->stored));
		json_object_set_new(o, "lz4_blocks",
				    json_integer((json_int_t)c->zblocks));
		json_object_set_new(o, "compress",
				    json_string(compress_name(c->conf->compress)));
		json_object_set_new(
			o, "compression_saving",
			json_real(c->used ? 1.0 - (double)c->stored /
							  (double)c->used :
					    0.0));
		/* for the metrics (metrics.c) */
		json_object_set_new(
			o, "served_origin_bytes",
			json_integer((json_int_t)c->stats.served_origin_bytes));
		json_object_set_new(
			o, "fetched_bytes_by_kind",
			json_pack("{s:I, s:I, s:I}", "hf",
				  (json_int_t)c->stats.fetched_by_kind[SRC_HF],
				  "s3",
				  (json_int_t)c->stats.fetched_by_kind[SRC_S3],
				  "https",
				  (json_int_t)
					  c->stats.fetched_by_kind[SRC_HTTPS]));
		json_object_set_new(o, "fetching_blocks",
				    json_integer((json_int_t)fetching));
		json_object_set_new(o, "instance", json_string(c->instance));
		json_t *states = json_object();
		for (size_t k = 0; states && k < AIM_ARRAY_SIZE(state_names);
		     k++)
			json_object_set_new(states, state_names[k],
					    json_integer(by_state[k]));
		json_object_set_new(o, "models_by_state", states);
	}
	pthread_mutex_unlock(&c->lock);
	return o;
}
