/*
 * verify.c - aimfs-ctl verify: re-hash what is cached. Every present block
 * is checked against the SHA-256 recorded when it was stored; a complete
 * file is also checked against the source's own digest (the LFS sha256, or
 * the git blob sha1 of small files), which catches bytes that were wrong
 * when they arrived. Whatever fails is dropped, so the next read fetches
 * it again.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cache-int.h"
#include "hmap.h"
#include "log.h"
#include "util.h"

struct result {
	const char *status; /* ok, partial, bad, mismatch */
	uint32_t checked, bad;
};

/* stop other users of block i and claim it for checking; c->lock held */
static int claim(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	while (b->state[i] == B_FETCHING || b->state[i] == B_VERIFYING ||
	       b->state[i] == B_EVICTING)
		pthread_cond_wait(&c->cond, &c->lock);
	if (b->state[i] != B_READY && b->state[i] != B_PRESENT)
		return 0;
	b->state[i] = B_VERIFYING;
	return 1;
}

/* drop a claimed block; c->lock held */
static void discard(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	b->state[i] = B_EVICTING;
	account_absent(c, b, i);
	pthread_mutex_unlock(&c->lock);
	drop_block(c, b, i, 0);
	pthread_mutex_lock(&c->lock);
	b->state[i] = B_ABSENT;
	c->stats.verify_failures++;
}

static void verify_blob(struct aim_cache *c, struct aim_blob *b,
			struct result *r)
{
	size_t klen = strlen(b->key);
	const EVP_MD *md = klen == 64 ? EVP_sha256() :
			   klen == 40 ? EVP_sha1() :
					NULL;
	EVP_MD_CTX *ctx = md ? EVP_MD_CTX_new() : NULL;
	void *buf = malloc(c->block_size);
	int complete = 1;

	r->checked = r->bad = 0;
	if (buf == NULL || (md && ctx == NULL)) {
		r->status = "error";
		goto out;
	}
	if (ctx) {
		EVP_DigestInit_ex(ctx, md, NULL);
		if (klen == 40) {
			/* git hashes "blob <size>\0" before the content */
			char hdr[32];
			int n = snprintf(hdr, sizeof(hdr), "blob %llu",
					 (unsigned long long)b->size);
			EVP_DigestUpdate(ctx, hdr, (size_t)n + 1);
		}
	}
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = 0; i < b->nblocks; i++) {
		if (!claim(c, b, i)) {
			complete = 0;
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		int rc = check_block(c, b, i, buf);
		if (rc == 0 && ctx && complete)
			EVP_DigestUpdate(ctx, buf, block_len(c, b, i));
		pthread_mutex_lock(&c->lock);
		if (rc == -ENOENT) {
			/* no checksum recorded yet (a commit that could not be
			 * written, e.g. on a full disk): nothing to compare, and
			 * no reason to drop the block */
			b->state[i] = B_READY;
			complete = 0;
			pthread_cond_broadcast(&c->cond);
			continue;
		}
		r->checked++;
		if (rc == 0) {
			b->state[i] = B_READY;
		} else {
			aim_log(LOG_ERR,
				"verify: block %u of '%s' in %s is bad (%s): "
				"dropped",
				i, blob_name(b), blob_model(b),
				rc == -EBADMSG ? "checksum mismatch" :
						 strerror(-rc));
			discard(c, b, i);
			r->bad++;
			complete = 0;
		}
		pthread_cond_broadcast(&c->cond);
	}
	if (complete && ctx && b->nblocks > 0) {
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned int dl = 0;
		char hex[2 * EVP_MAX_MD_SIZE + 1];
		EVP_DigestFinal_ex(ctx, d, &dl);
		aim_hex(d, dl, hex);
		if (strcmp(hex, b->key) != 0) {
			/* every block passed its own check: the bytes were
			 * wrong when stored. None of them can be trusted. */
			aim_log(LOG_ERR,
				"verify: '%s' in %s does not match its digest "
				"%s: dropped",
				blob_name(b), blob_model(b), b->key);
			for (uint32_t i = 0; i < b->nblocks; i++)
				if (claim(c, b, i))
					discard(c, b, i);
			pthread_cond_broadcast(&c->cond);
			r->status = "mismatch";
			pthread_mutex_unlock(&c->lock);
			goto out;
		}
	}
	pthread_mutex_unlock(&c->lock);
	r->status = r->bad ? "bad" : complete ? "ok" : "partial";
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
}

int aim_cache_verify(struct aim_cache *c, const char *what, json_t **report,
		     char **cause)
{
	struct aim_model **models = NULL;
	struct aim_hmap *done = aim_hmap_new();
	struct result *results = NULL;
	size_t n = 0, nres = 0;
	int amb = 0, bad = 0;
	json_t *arr = json_array();

	*cause = NULL;
	*report = NULL;
	if (done == NULL || arr == NULL)
		goto nomem;
	commit_flush(c); /* checksums of fresh blocks are in the index */
	pthread_mutex_lock(&c->lock);
	models = calloc(c->nmodels ? c->nmodels : 1, sizeof(*models));
	if (models == NULL) {
		pthread_mutex_unlock(&c->lock);
		goto nomem;
	}
	if (what) {
		struct aim_model *m = cache_find_model(c, what, &amb);
		if (m)
			models[n++] = m;
	} else {
		for (size_t i = 0; i < c->nmodels; i++)
			if (!c->models[i]->gone)
				models[n++] = c->models[i];
	}
	size_t nfiles = 0;
	for (size_t i = 0; i < n; i++)
		nfiles += models[i]->nfiles;
	pthread_mutex_unlock(&c->lock);
	if (what && n == 0) {
		aim_set_cause(cause, amb ? "'%s' names several revisions: give "
					 "the URI" :
					 "no model '%s'",
			    what);
		free(models);
		aim_hmap_free(&done);
		json_decref(arr);
		return amb ? -EINVAL : -ENOENT;
	}
	results = calloc(nfiles ? nfiles : 1, sizeof(*results));
	if (results == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		struct aim_model *m = models[i];
		for (size_t k = 0; k < m->nfiles; k++) {
			struct aim_file *f = m->files[k];
			/* a blob named twice is checked once */
			struct result *r = aim_hmap_get(done, 0, f->blob->key);
			if (r == NULL) {
				r = &results[nres++];
				verify_blob(c, f->blob, r);
				aim_hmap_put(done, 0, f->blob->key, r);
			}
			if (strcmp(r->status, "bad") == 0 ||
			    strcmp(r->status, "mismatch") == 0)
				bad++;
			json_array_append_new(
				arr, json_pack("{s:s, s:s, s:I, s:I, s:i, s:i, s:s}",
					       "model", m->name, "path", f->path,
					       "size", (json_int_t)f->blob->size,
					       "cached",
					       (json_int_t)f->blob->present_bytes,
					       "blocks_checked", (int)r->checked,
					       "bad_blocks", (int)r->bad,
					       "status", r->status));
		}
	}
	free(results);
	free(models);
	aim_hmap_free(&done);
	*report = arr;
	return bad;
nomem:
	free(results);
	free(models);
	aim_hmap_free(&done);
	json_decref(arr);
	aim_set_cause(cause, "out of memory");
	return -ENOMEM;
}
