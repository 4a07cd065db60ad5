/*
 * evict.c - keeping the store within its size limit, and giving space back
 * on request.
 *
 * The limit is cache_size (bytes, or a percentage of the store's
 * filesystem); unset, the store may grow until 10% of the filesystem is
 * free. Above the high watermark (the limit) nothing more is stored until
 * room is made; the evictor thread starts when usage passes the middle of
 * the band between the watermarks and evicts unpinned blocks, least
 * recently used first, down to the low watermark (90% of the limit).
 * Pinned blocks, blocks being fetched or checked, and blocks a read is
 * using are never evicted. A block is dropped from the index before its
 * disk space is freed, and readers wait for the drop to finish; when the
 * index cannot drop it (no room left even for SQLite's journal), the block
 * stays and eviction stops there.
 *
 * The evictor thread also records the models' last reads in the index
 * (cache_save_last_used), since it wakes every few seconds anyway.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cache-int.h"
#include "conf.h"
#include "creds.h"
#include "hmap.h"
#include "index.h"
#include "layout.h"
#include "log.h"
#include "store.h"
#include "util.h"

#define LOW_PERCENT 90

uint64_t evict_limit(struct aim_cache *c)
{
	const char *cs = c->conf->cache_size;
	uint64_t now = aim_now_ms(), limit;
	struct statvfs sv;

	if (c->limit_ms && now - c->limit_ms < 1000)
		return c->limit;
	if (cs && cs[strlen(cs) - 1] != '%') {
		if (aim_parse_size(cs, &limit) < 0)
			limit = UINT64_MAX;
	} else if (statvfs(aim_store_dir(c->store), &sv) < 0) {
		limit = c->limit ? c->limit : UINT64_MAX;
	} else {
		uint64_t total = (uint64_t)sv.f_blocks * sv.f_frsize;
		uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
		if (cs) {
			limit = (uint64_t)((double)total * strtod(cs, NULL) /
					   100.0);
		} else {
			/* what we hold plus what is free, less 10% of the fs */
			uint64_t keep = total / 10;
			limit = c->used + avail > keep ? c->used + avail - keep :
							 0;
		}
	}
	c->limit = limit;
	c->limit_ms = now;
	return limit;
}

static uint64_t low_mark(uint64_t limit)
{
	return limit / 100 * LOW_PERCENT;
}

struct cand {
	uint64_t atime;
	struct aim_blob *b;
	uint32_t i;
};

static int cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;

	return a->atime < b->atime ? -1 : a->atime > b->atime;
}

/*
 * Evict blocks chosen by keep() == 0, oldest first, until usage is at most
 * target. Called and returns with c->lock held; drops it for the I/O.
 * Returns bytes freed.
 */
static uint64_t evict_blocks(struct aim_cache *c, uint64_t target,
			     int (*skip)(void *, struct aim_blob *), void *arg)
{
	struct cand *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t freed = 0;

	for (size_t k = 0; k < c->nblobs; k++) {
		struct aim_blob *b = c->blobs[k];
		if (b->pins > 0 || (skip && skip(arg, b)))
			continue;
		for (uint32_t i = 0; i < b->nblocks; i++) {
			if ((b->state[i] != B_READY && b->state[i] != B_PRESENT) ||
			    b->inuse[i])
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 1024;
				struct cand *nv = realloc(v, nc * sizeof(*v));
				if (nv == NULL)
					goto sort;
				v = nv;
				cap = nc;
			}
			v[n++] = (struct cand){ b->atime[i], b, i };
		}
	}
sort:
	if (n > 0)
		qsort(v, n, sizeof(*v), cand_cmp);
	for (size_t k = 0; k < n && c->used > target; k++) {
		struct aim_blob *b = v[k].b;
		uint32_t i = v[k].i;
		/* the state may have moved while the lock was dropped */
		if ((b->state[i] != B_READY && b->state[i] != B_PRESENT) ||
		    b->inuse[i] || b->pins > 0)
			continue;
		uint8_t was = b->state[i];
		uint32_t stored = b->zlen && b->zlen[i] ? b->zlen[i] :
							  block_len(c, b, i);
		b->state[i] = B_EVICTING;
		account_absent(c, b, i);
		pthread_mutex_unlock(&c->lock);
		int rc = drop_block(c, b, i, 1);
		pthread_mutex_lock(&c->lock);
		if (rc < 0) {
			/* the index cannot change (the disk is full): the
			 * block stays, and so do the others */
			aim_log(LOG_WARNING,
				"cannot evict block %u of '%s' in %s: the index "
				"cannot drop its row (%s); it stays",
				i, blob_name(b), blob_model(b), strerror(-rc));
			b->state[i] = was;
			account_present(c, b, i, stored);
			pthread_cond_broadcast(&c->cond);
			break;
		}
		b->state[i] = B_ABSENT;
		freed += block_len(c, b, i);
		c->stats.evictions++;
		c->stats.evicted_bytes += block_len(c, b, i);
		pthread_cond_broadcast(&c->cond);
	}
	free(v);
	return freed;
}

void evict_poke(struct aim_cache *c)
{
	uint64_t limit = evict_limit(c), low = low_mark(limit);

	if (c->evictor_running && c->used > low + (limit - low) / 2)
		pthread_cond_signal(&c->evict_cond);
}

int evict_make_room(struct aim_cache *c, uint64_t len)
{
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	uint64_t limit = evict_limit(c);
	if (c->used + len > limit) {
		uint64_t target = low_mark(limit);
		if (target + len > limit)
			target = limit > len ? limit - len : 0;
		evict_blocks(c, target, NULL, NULL);
		if (c->used + len > limit)
			rc = -ENOSPC;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

uint64_t evict_free_some(struct aim_cache *c, uint64_t len)
{
	uint64_t freed;

	pthread_mutex_lock(&c->lock);
	freed = evict_blocks(c, c->used > len ? c->used - len : 0, NULL, NULL);
	pthread_mutex_unlock(&c->lock);
	return freed;
}

static void *evictor(void *arg)
{
	struct aim_cache *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stopping) {
		uint64_t limit = evict_limit(c), low = low_mark(limit);
		if (c->used > low + (limit - low) / 2) {
			uint64_t freed = evict_blocks(c, low, NULL, NULL);
			if (freed)
				aim_log(LOG_INFO, "evicted %llu bytes",
					(unsigned long long)freed);
		}
		/* off the read path, and at most once a minute per model */
		cache_save_last_used(c, 0);
		if (c->stopping)
			break;
		/* wake on a poke, or now and then: the free space moves */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 5;
		pthread_cond_timedwait(&c->evict_cond, &c->lock, &ts);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int evict_start(struct aim_cache *c)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = c->evictor_running ? 0 :
				  -pthread_create(&c->evictor, NULL, evictor, c);
	if (rc == 0)
		c->evictor_running = 1;
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void evict_stop(struct aim_cache *c)
{
	pthread_mutex_lock(&c->lock);
	int running = c->evictor_running;
	c->stopping = 1;
	pthread_cond_broadcast(&c->evict_cond);
	pthread_mutex_unlock(&c->lock);
	if (running)
		pthread_join(c->evictor, NULL);
	c->evictor_running = 0;
}

/* --- on request ---------------------------------------------------------- */

struct only_model {
	struct aim_hmap *keys; /* blob keys of the model */
};

static int skip_other(void *arg, struct aim_blob *b)
{
	struct only_model *om = arg;

	return aim_hmap_get(om->keys, 0, b->key) == NULL;
}

int aim_cache_evict(struct aim_cache *c, const char *what, int unpinned,
		    const char *to, uint64_t *freed, char **cause)
{
	uint64_t target = 0;
	int amb = 0, rc = 0;

	*cause = NULL;
	*freed = 0;
	if (to && aim_parse_size(to, &target) < 0) {
		aim_set_cause(cause, "bad size '%s'", to);
		return -EINVAL;
	}
	pthread_mutex_lock(&c->lock);
	if (what) {
		struct aim_model *m = cache_find_model(c, what, &amb);
		struct only_model om = { aim_hmap_new() };
		if (m == NULL) {
			aim_set_cause(cause, amb ? "'%s' names several revisions: "
						 "give the URI" :
						 "no model '%s'",
				    what);
			rc = amb ? -EINVAL : -ENOENT;
		} else if (m->pinned) {
			aim_set_cause(cause, "'%s' is pinned: unpin it first",
				    m->name);
			rc = -EPERM;
		} else if (om.keys == NULL) {
			rc = -ENOMEM;
		} else {
			for (size_t i = 0; i < m->nfiles; i++)
				aim_hmap_put(om.keys, 0, m->files[i]->blob->key,
					     m->files[i]->blob);
			*freed = evict_blocks(c, 0, skip_other, &om);
		}
		aim_hmap_free(&om.keys);
	} else if (unpinned || to) {
		*freed = evict_blocks(c, target, NULL, NULL);
	} else {
		aim_set_cause(cause, "nothing to evict");
		rc = -EINVAL;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* --- rm ------------------------------------------------------------------ */

/* another live model with the same hf repo and this commit/revision */
static int shares(struct aim_cache *c, struct aim_model *m, const char *repo,
		  int by_commit)
{
	char other[256];

	for (size_t i = 0; i < c->nmodels; i++) {
		struct aim_model *o = c->models[i];
		if (o == m || o->gone || strcmp(o->kind, "hf") != 0 ||
		    cache_hf_repo_id(o, other, sizeof(other)) < 0 ||
		    strcmp(other, repo) != 0)
			continue;
		if (by_commit < 0)
			return 1; /* any revision of the repo */
		if (by_commit ? strcmp(o->commit, m->commit) == 0 :
				strcmp(o->revision, m->revision) == 0)
			return 1;
	}
	return 0;
}

/* blobs of the repo still named by a live revision other than m */
static int blob_in_repo(struct aim_cache *c, struct aim_model *m,
			const char *repo, struct aim_blob *b)
{
	char other[256];

	for (size_t i = 0; i < c->nmodels; i++) {
		struct aim_model *o = c->models[i];
		if (o == m || o->gone || strcmp(o->kind, "hf") != 0 ||
		    cache_hf_repo_id(o, other, sizeof(other)) < 0 ||
		    strcmp(other, repo) != 0)
			continue;
		for (size_t k = 0; k < o->nfiles; k++)
			if (o->files[k]->blob == b)
				return 1;
	}
	return 0;
}

/* take m out of the tree; c->addlock held */
static void unlayout(struct aim_cache *c, struct aim_model *m)
{
	char path[PATH_MAX], repo[256], base[320];
	struct aim_model *heir = NULL;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nmodels && !heir; i++)
		if (c->models[i] != m && !c->models[i]->gone &&
		    strcmp(c->models[i]->name, m->name) == 0)
			heir = c->models[i];
	pthread_mutex_unlock(&c->lock);
	/* the local view: drop it, and let another revision take the name */
	aim_layout_remove(c->layout, m->name);
	if (heir) {
		cache_layout_model(c, heir);
	} else {
		/* the org directory goes with its last model */
		size_t olen = strcspn(m->name, "/");
		int others = 0;
		pthread_mutex_lock(&c->lock);
		for (size_t i = 0; i < c->nmodels; i++)
			others |= c->models[i] != m && !c->models[i]->gone &&
				  strncmp(c->models[i]->name, m->name,
					  olen + 1) == 0;
		pthread_mutex_unlock(&c->lock);
		snprintf(path, sizeof(path), "%.*s", (int)olen, m->name);
		if (!others)
			aim_layout_remove(c->layout, path);
	}
	if (strcmp(m->kind, "hf") != 0 ||
	    cache_hf_repo_id(m, repo, sizeof(repo)) < 0)
		return;
	const char *slash = strchr(repo, '/');
	snprintf(base, sizeof(base), "hub/models--%.*s--%s",
		 (int)(slash - repo), repo, slash + 1);
	pthread_mutex_lock(&c->lock);
	int any = shares(c, m, repo, -1);
	int same_commit = shares(c, m, repo, 1);
	int same_rev = shares(c, m, repo, 0);
	pthread_mutex_unlock(&c->lock);
	if (!any) {
		aim_layout_remove(c->layout, base);
		return;
	}
	if (!same_commit) {
		snprintf(path, sizeof(path), "%s/snapshots/%s", base, m->commit);
		aim_layout_remove(c->layout, path);
	}
	if (!same_rev) {
		snprintf(path, sizeof(path), "%s/refs/%s", base, m->revision);
		aim_layout_remove(c->layout, path);
	}
	for (size_t i = 0; i < m->nfiles; i++) {
		struct aim_blob *b = m->files[i]->blob;
		pthread_mutex_lock(&c->lock);
		int keep = blob_in_repo(c, m, repo, b);
		pthread_mutex_unlock(&c->lock);
		if (!keep) {
			snprintf(path, sizeof(path), "%s/blobs/%s", base, b->key);
			aim_layout_remove(c->layout, path);
		}
	}
}

/* every block of a blob nobody names any more; c->lock held */
static void free_blob(struct aim_cache *c, struct aim_blob *b)
{
	char path[PATH_MAX];

	for (uint32_t i = 0; i < b->nblocks; i++) {
		while (b->state[i] == B_FETCHING || b->state[i] == B_VERIFYING ||
		       b->state[i] == B_EVICTING)
			pthread_cond_wait(&c->cond, &c->lock);
		if (b->state[i] == B_READY || b->state[i] == B_PRESENT) {
			account_absent(c, b, i);
			b->state[i] = B_ABSENT;
		}
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_lock(&c->ixlock);
	int rc = aim_index_blob_delete(c->ix, b->id);
	pthread_mutex_unlock(&c->ixlock);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", aim_store_dir(c->store),
		 b->key, b->key);
	if (rc == 0)
		unlink(path);
	else /* its rows stay, so its bytes do: the index never names a
	      * missing file (a model naming the blob again finds it) */
		aim_log(LOG_WARNING,
			"cannot remove '%s' of %s from the index (%s); its "
			"data stays in the store",
			blob_name(b), blob_model(b), strerror(-rc));
	pthread_mutex_lock(&c->lock);
	pthread_cond_broadcast(&c->cond);
}

int aim_cache_rm(struct aim_cache *c, const char *what, char **cause)
{
	struct aim_model *m;
	int amb = 0, rc;

	*cause = NULL;
	pthread_mutex_lock(&c->addlock);
	pthread_mutex_lock(&c->lock);
	m = cache_find_model(c, what, &amb);
	if (m == NULL) {
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->addlock);
		aim_set_cause(cause, amb ? "'%s' names several revisions: give "
					 "the URI" :
					 "no model '%s'",
			    what);
		return amb ? -EINVAL : -ENOENT;
	}
	pull_cancel(c, m); /* a running pull stops before the blobs go */
	m->gone = 1;
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&c->ixlock);
	rc = aim_index_model_delete(c->ix, m->id);
	pthread_mutex_unlock(&c->ixlock);
	if (rc < 0) {
		pthread_mutex_lock(&c->lock);
		m->gone = 0;
		pthread_mutex_unlock(&c->lock);
		pthread_mutex_unlock(&c->addlock);
		aim_set_cause(cause, "cannot remove '%s' from the index", m->name);
		return rc;
	}
	unlayout(c, m);
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < m->nfiles; i++) {
		struct aim_blob *b = m->files[i]->blob;
		b->refs--;
		if (m->pinned)
			b->pins--;
		if (b->refs == 0 && !b->gone) {
			b->gone = 1;
			free_blob(c, b);
		}
	}
	m->pinned = 0;
	struct aim_creds *creds = m->creds; /* its credentials go with it */
	m->creds = NULL;
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&c->addlock);
	aim_creds_unref(&creds);
	aim_log(LOG_NOTICE, "removed '%s' (%s)", m->name, m->uri);
	return 0;
}
