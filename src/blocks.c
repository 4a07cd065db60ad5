/*
 * blocks.c - the life of a block: fetched from the source once however many
 * readers want it, written and synced to the store before the index says it
 * is there, checked against its SHA-256 the first time this process serves
 * it from disk, dropped when bad or evicted, and read back.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache-int.h"
#include "conf.h"
#include "creds.h"
#include "http.h"
#include "hub.h"
#include "https.h"
#include "s3.h"
#include "index.h"
#include "log.h"
#include "metrics.h"
#include "store.h"
#include "util.h"

int blob_zlen_alloc(struct aim_blob *b)
{
	if (b->zlen == NULL &&
	    (b->zlen = calloc(b->nblocks ? b->nblocks : 1, sizeof(*b->zlen))) ==
		    NULL)
		return -ENOMEM;
	return 0;
}

void account_present(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		     uint32_t stored)
{
	uint32_t len = block_len(c, b, i);

	if (stored < len && b->zlen) {
		b->zlen[i] = stored;
		c->zblocks++;
	} else {
		stored = len;
	}
	b->present_bytes += len;
	b->stored_bytes += stored;
	c->used += len;
	c->stored += stored;
}

void account_absent(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	uint32_t len = block_len(c, b, i), stored = len;

	if (b->zlen && b->zlen[i]) {
		stored = b->zlen[i];
		b->zlen[i] = 0;
		c->zblocks--;
	}
	b->present_bytes -= len;
	b->stored_bytes -= stored;
	c->used -= len;
	c->stored -= stored;
}

/* block i of b came from the origin; c->lock held */
static void account_fetched(struct aim_cache *c, struct aim_blob *b,
			    uint32_t i)
{
	c->stats.fetched_bytes += block_len(c, b, i);
	if (b->loc.kind >= SRC_HF && b->loc.kind <= SRC_HTTPS)
		c->stats.fetched_by_kind[b->loc.kind] += block_len(c, b, i);
}

/* the blob's data file, opened on first use; called without c->lock */
int blob_fd(struct aim_cache *c, struct aim_blob *b)
{
	int fd;

	pthread_mutex_lock(&c->lock);
	fd = b->fd;
	pthread_mutex_unlock(&c->lock);
	if (fd >= 0)
		return fd;
	fd = aim_store_blob_open(c->store, b->key);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&c->lock);
	if (b->fd < 0) {
		b->fd = fd;
	} else {
		close(fd); /* another thread was first */
		fd = b->fd;
	}
	pthread_mutex_unlock(&c->lock);
	return fd;
}

struct aim_creds *blob_creds(struct aim_blob *b)
{
	const struct aim_model *o = b->owner;

	return o && !o->gone ? aim_creds_ref(o->creds) : NULL;
}

const char *blob_name(const struct aim_blob *b)
{
	return b->has_loc ? b->loc.name : b->key;
}

const char *blob_model(const struct aim_blob *b)
{
	return b->has_loc && b->loc.model ? b->loc.model : "?";
}

/* one line for a block that cannot be stored: why, and that nothing
 * evictable was left */
static void log_full(const struct aim_blob *b, uint32_t i, const char *why)
{
	aim_log(LOG_ERR,
		"store full: no room for block %u of '%s' in %s (%s and "
		"nothing is evictable)",
		i, blob_name(b), blob_model(b), why);
}

/*
 * The raw block i is in its slot: hash it and, when compress= says it
 * pays, rewrite it as lz4. *stored gets what it takes (len when raw).
 * Not synced; on failure the slot is dropped.
 */
static int seal_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		      int fd, unsigned char sum[32], uint32_t *stored)
{
	uint32_t len = block_len(c, b, i), packed = len;
	uint64_t off = (uint64_t)i * c->block_size;
	int try = c->conf->compress != AIM_COMPRESS_OFF, rc;

	if (try) {
		/* room to remember it, before the work */
		pthread_mutex_lock(&c->lock);
		try = blob_zlen_alloc(b) == 0;
		pthread_mutex_unlock(&c->lock);
	}
	*stored = len;
	rc = aim_codec_scan(fd, off, len, sum, try ? &packed : NULL);
	if (rc == 0 && try &&
	    aim_codec_pays(c->conf->compress, c->conf->compress_min_saving,
			   len, packed)) {
		if ((rc = aim_codec_pack(fd, off, len, packed)) == 0)
			*stored = packed;
		else
			aim_log(LOG_ERR,
				"cannot compress block %u of '%s' in %s: %s", i,
				blob_name(b), blob_model(b), strerror(-rc));
	}
	return rc;
}

/* write a block and then record it; the caller owns the B_FETCHING state */
int store_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		const void *buf, uint32_t len, uint32_t *stored)
{
	uint64_t off = (uint64_t)i * c->block_size;
	unsigned char sum[32];
	int rc, fd;

	*stored = len;
	if ((rc = evict_make_room(c, len)) < 0) {
		log_full(b, i, "the limit is reached");
		return rc;
	}
	if ((fd = blob_fd(c, b)) < 0)
		rc = fd;
	else if ((rc = aim_store_put(fd, off, buf, len)) == -ENOSPC) {
		/* the disk filled before the limit did: make room, try once */
		aim_store_drop(fd, off, len);
		if (evict_make_room(c, 2ULL * c->block_size + len) == 0 ||
		    evict_free_some(c, 2ULL * c->block_size + len) > 0)
			rc = aim_store_put(fd, off, buf, len);
	}
	if (rc == -ENOSPC) {
		log_full(b, i, "the disk is full");
		aim_store_drop(fd, off, len); /* no partial block */
		return rc;
	}
	if (rc == 0 && (rc = seal_block(c, b, i, fd, sum, stored)) == 0 &&
	    *stored < len && fdatasync(fd) < 0)
		rc = -errno;
	if (rc < 0) {
		aim_log(LOG_ERR, "cannot store block %u of '%s' in %s: %s", i,
			blob_name(b), blob_model(b), strerror(-rc));
		if (fd >= 0)
			aim_store_drop(fd, off, len); /* no partial block */
		*stored = len;
		return rc;
	}
	/* the data is durable; now the index may say so */
	pthread_mutex_lock(&c->ixlock);
	rc = aim_index_block_put(c->ix, b->id, i, len,
				 block_codec(len, *stored), *stored, sum);
	pthread_mutex_unlock(&c->ixlock);
	return rc;
}

/* a whole-file download (a server without Range) stores as it streams */
struct whole {
	struct aim_cache *c;
	struct aim_blob *b;
	uint8_t *mine;	   /* blocks this download claimed (B_FETCHING) */
	uint32_t want;	   /* the block the caller waits for; its state is
			    * the caller's to set */
	char *buf;	   /* the block being filled */
	uint32_t cur, fill;
	int want_rc;	   /* 0 once block want is stored */
	uint32_t want_stored;
};

/* a claimed block is done: stored (rc 0) or given back; c->lock not held */
static void settle(struct whole *w, uint32_t k, int rc, uint32_t stored)
{
	struct aim_cache *c = w->c;
	struct aim_blob *b = w->b;

	w->mine[k] = 0;
	if (k == w->want) {
		w->want_rc = rc;
		w->want_stored = stored;
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (rc == 0) {
		b->state[k] = B_READY;
		b->atime[k] = ++c->tick;
		account_present(c, b, k, stored);
		account_fetched(c, b, k);
	} else {
		b->state[k] = B_ABSENT;
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static int whole_sink(void *arg, const void *data, size_t len)
{
	struct whole *w = arg;
	struct aim_cache *c = w->c;
	const char *p = data;

	while (len > 0 && w->cur < w->b->nblocks) {
		uint32_t blen = block_len(c, w->b, w->cur);
		size_t take = blen - w->fill < len ? blen - w->fill : len;
		memcpy(w->buf + w->fill, p, take);
		w->fill += (uint32_t)take;
		p += take;
		len -= take;
		if (w->fill == blen) {
			uint32_t stored;
			if (w->mine[w->cur]) {
				int rc = store_block(c, w->b, w->cur, w->buf,
						     blen, &stored);
				settle(w, w->cur, rc, stored);
			}
			w->cur++;
			w->fill = 0;
		}
	}
	return w->cur < w->b->nblocks ? 0 : -1; /* -1: we have it all */
}

static int fetch_whole(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		       uint32_t *stored)
{
	struct whole w = { c, b, calloc(b->nblocks, 1), i,
			   malloc(c->block_size), 0, 0, -EIO, 0 };
	char *cause = NULL;
	int rc;

	if (w.mine == NULL || w.buf == NULL) {
		free(w.mine);
		free(w.buf);
		return -ENOMEM;
	}
	pthread_mutex_lock(&c->lock);
	for (uint32_t k = 0; k < b->nblocks; k++) {
		if (b->state[k] == B_ABSENT) {
			b->state[k] = B_FETCHING;
			w.mine[k] = 1;
		}
	}
	w.mine[i] = 1; /* claimed by the caller already */
	pthread_mutex_unlock(&c->lock);
	rc = aim_https_stream(c->http, b->loc.url, b->loc.etag,
			      c->conf->fetch_timeout, whole_sink, &w, &cause);
	if (rc < 0)
		aim_log(LOG_ERR, "cannot fetch '%s' of %s: %s", b->loc.name,
			b->loc.model, cause ? cause : "error");
	free(cause);
	for (uint32_t k = 0; k < b->nblocks; k++)
		if (w.mine[k])
			settle(&w, k, -EIO, 0); /* what did not arrive */
	free(w.mine);
	free(w.buf);
	*stored = w.want_stored;
	return w.want_rc;
}

/*
 * The retry budget of a block fetch: fetch_timeout, unless a fetch of the
 * same blob ran out of retries within the last fetch_timeout. Then the
 * origin is known to be failing, and the kernel's immediate re-read of a
 * failed read-ahead (or the next block of a sequential reader) gets a
 * quarter of it (at least 2 s), so one read does not wait out the whole
 * bound twice; a recovered origin still answers within that.
 */
static unsigned fetch_budget_ms(struct aim_cache *c, struct aim_blob *b)
{
	uint64_t full = c->conf->fetch_timeout * 1000ULL, now = aim_now_ms();
	uint64_t gaveup, shortb = full / 4 < 2000 ? 2000 : full / 4;

	pthread_mutex_lock(&c->lock);
	gaveup = b->gaveup_ms;
	pthread_mutex_unlock(&c->lock);
	if (gaveup && now - gaveup < full && shortb < full)
		return (unsigned)shortb;
	return (unsigned)full;
}

/* fetch one block from wherever the blob comes from into fd */
static int fetch_from_source(struct aim_cache *c, struct aim_blob *b,
			     uint64_t off, size_t len, int fd, char **cause)
{
	unsigned budget = fetch_budget_ms(c, b);
	struct aim_s3_auth auth;
	struct aim_creds *creds;
	int rc, ranged = 1;

	/* held for the fetch: a rotation meanwhile does not pull them away */
	pthread_mutex_lock(&c->lock);
	creds = blob_creds(b);
	pthread_mutex_unlock(&c->lock);
	switch (b->loc.kind) {
	case SRC_HF:
		rc = aim_hub_fetch(c->hub,
				   aim_creds_get(creds, AIM_CRED_HF_TOKEN),
				   &b->loc.hub, off, len, NULL, fd, budget,
				   cause);
		break;
	case SRC_S3:
		cache_s3_auth(creds, &auth);
		rc = aim_s3_fetch(c->s3, creds ? &auth : NULL, b->loc.bucket,
				  b->loc.key, b->loc.etag, off, len, NULL, fd,
				  budget, cause);
		break;
	case SRC_HTTPS:
		rc = aim_https_fetch(c->http, b->loc.url, b->loc.etag, budget,
				     off, len, NULL, fd, &ranged, cause);
		if (rc == 0 && !ranged) {
			/* the server ignores Range: next time, stream it */
			pthread_mutex_lock(&c->lock);
			b->loc.ranges = 0;
			pthread_mutex_unlock(&c->lock);
			aim_log(LOG_NOTICE, "'%s' of %s: the server ignores "
					    "Range; reading it whole",
				b->loc.name, b->loc.model);
		}
		break;
	default:
		aim_creds_unref(&creds);
		return -EIO;
	}
	if (rc == -EACCES && creds == NULL && *cause) {
		/* a model's own credentials do not survive a restart */
		char *why = *cause;
		*cause = NULL;
		aim_set_cause(cause, "%s (no credentials of its own for '%s': "
				     "if it had some, they went with the last "
				     "daemon restart; add it again with them)",
			      why, blob_model(b));
		free(why);
	}
	aim_creds_unref(&creds);
	if (rc != -ENOSPC && rc != -ENOMEM) {
		pthread_mutex_lock(&c->lock);
		b->gaveup_ms = rc < 0 ? aim_now_ms() : 0;
		pthread_mutex_unlock(&c->lock);
	}
	return rc;
}

/*
 * Fetch block i straight into the blob's file (no block-sized buffer: many
 * fetches may run at once), hash what is on disk (compressing it when that
 * pays), and hand it to the committer, which syncs it before the index
 * records it. *stored gets what the block takes in its slot.
 */
static int fetch_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		       uint32_t *stored)
{
	uint32_t len = block_len(c, b, i);
	uint64_t off = (uint64_t)i * c->block_size;
	unsigned char sum[32];
	char *cause = NULL;
	int rc, fd, whole;

	*stored = len;
	if (!b->has_loc) {
		aim_log(LOG_ERR, "blob %s has no source to fetch it from",
			b->key);
		return -EIO;
	}
	pthread_mutex_lock(&c->lock);
	whole = b->loc.kind == SRC_HTTPS && b->loc.ranges == 0;
	pthread_mutex_unlock(&c->lock);
	if (whole)
		return fetch_whole(c, b, i, stored);
	if ((rc = evict_make_room(c, len)) < 0) {
		log_full(b, i, "the limit is reached");
		return rc;
	}
	if ((fd = blob_fd(c, b)) < 0)
		return fd;
	uint64_t t0 = aim_metrics_now_ns();
	aim_http_take_failure(); /* whatever this thread did before */
	rc = fetch_from_source(c, b, off, len, fd, &cause);
	if (rc == -ENOSPC) {
		/* the disk filled before the limit did: make room, try once */
		free(cause);
		cause = NULL;
		aim_store_drop(fd, off, len);
		uint64_t freed = evict_free_some(c, 2ULL * c->block_size + len);
		if (freed > 0) {
			aim_log(LOG_NOTICE,
				"disk full before the store's limit: evicted "
				"%llu bytes for block %u of '%s' in %s",
				(unsigned long long)freed, i, blob_name(b),
				blob_model(b));
			rc = fetch_from_source(c, b, off, len, fd, &cause);
		}
	}
	aim_metrics_observe(AIM_HIST_FETCH, aim_metrics_now_ns() - t0);
	/* served from here on; recorded once the committer synced it */
	if (rc == 0 && (rc = seal_block(c, b, i, fd, sum, stored)) == 0)
		rc = commit_queue(c, b, i, len, *stored, sum);
	if (rc < 0) {
		*stored = len;
		if (rc == -ENOSPC)
			log_full(b, i, "the disk is full");
		else
			aim_log(LOG_ERR, "cannot fetch block %u of '%s' in %s: %s",
				i, b->loc.name, b->loc.model,
				cause ? cause : strerror(-rc));
		aim_store_drop(fd, off, len); /* no partial block on disk */
	}
	free(cause);
	return rc; /* the caller makes it -EIO, once it is counted */
}

/*
 * Forget a block: index row first, then its disk space. When the row
 * cannot go (a full disk leaves SQLite no room for its journal), a good
 * block keeps its bytes too, so the index never records a hole; a bad
 * one (keep_if_recorded 0) is dropped anyway, its row then fails the
 * check that runs before a block of an earlier run is served.
 */
int drop_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
	       int keep_if_recorded)
{
	int fd, rc;

	pthread_mutex_lock(&c->ixlock);
	rc = aim_index_block_drop(c->ix, b->id, i);
	pthread_mutex_unlock(&c->ixlock);
	if (rc < 0 && keep_if_recorded)
		return rc;
	if ((fd = blob_fd(c, b)) >= 0)
		aim_store_drop(fd, (uint64_t)i * c->block_size,
			       block_len(c, b, i));
	return rc;
}

/* the stored length of block i if it is lz4, else 0 */
static uint32_t block_zlen(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	uint32_t z;

	pthread_mutex_lock(&c->lock);
	z = b->zlen ? b->zlen[i] : 0;
	pthread_mutex_unlock(&c->lock);
	return z;
}

/* n bytes at from in block i, whichever way it is stored; -EILSEQ when an
 * lz4 block does not decode */
static int read_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		      int fd, uint32_t z, uint32_t from, void *buf, size_t n)
{
	uint64_t off = (uint64_t)i * c->block_size;
	int rc;

	if (z == 0)
		return aim_store_get(fd, off + from, buf, n);
	rc = aim_codec_read(fd, off, z, block_len(c, b, i), from, buf, n);
	return rc == -EBADMSG ? -EILSEQ : rc;
}

int check_block(struct aim_cache *c, struct aim_blob *b, uint32_t i, void *buf)
{
	uint32_t len = block_len(c, b, i);
	unsigned char want[32], got[32];
	int rc, fd = -1;

	pthread_mutex_lock(&c->ixlock);
	rc = aim_index_block_sum(c->ix, b->id, i, want);
	pthread_mutex_unlock(&c->ixlock);
	if (rc == 0 && (fd = blob_fd(c, b)) < 0)
		rc = fd;
	if (rc == 0)
		rc = read_block(c, b, i, fd, block_zlen(c, b, i), 0, buf, len);
	if (rc == 0) {
		aim_sha256(buf, len, got);
		if (memcmp(want, got, 32) != 0)
			rc = -EBADMSG;
	}
	return rc;
}

/* check a block stored by an earlier run; drop it when it is bad */
static int verify_block(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	void *buf = malloc(block_len(c, b, i));
	int rc;

	if (buf == NULL)
		return -ENOMEM;
	rc = check_block(c, b, i, buf);
	free(buf);
	if (rc < 0 && rc != -ENOMEM) {
		aim_log(LOG_ERR,
			"block %u of '%s' in %s failed its check (%s): "
			"dropped, will fetch again",
			i, blob_name(b), blob_model(b),
			rc == -EBADMSG ? "checksum mismatch" :
			rc == -EILSEQ  ? "its lz4 data does not decode" :
					 strerror(-rc));
		drop_block(c, b, i, 0);
	}
	return rc;
}

int ensure_block(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	int rc;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		if (b->gone) {
			pthread_mutex_unlock(&c->lock);
			return -EIO;
		}
		switch (b->state[i]) {
		case B_READY:
			c->stats.hits++;
			b->atime[i] = ++c->tick;
			pthread_mutex_unlock(&c->lock);
			return 0;
		case B_FETCHING:
		case B_VERIFYING:
		case B_EVICTING:
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		case B_PRESENT:
			b->state[i] = B_VERIFYING;
			pthread_mutex_unlock(&c->lock);
			rc = verify_block(c, b, i);
			pthread_mutex_lock(&c->lock);
			if (rc == -ENOMEM) {
				b->state[i] = B_PRESENT;
				pthread_cond_broadcast(&c->cond);
				pthread_mutex_unlock(&c->lock);
				return -EIO;
			}
			if (rc == 0) {
				b->state[i] = B_READY;
			} else {
				b->state[i] = B_ABSENT;
				account_absent(c, b, i);
				c->stats.verify_failures++;
			}
			pthread_cond_broadcast(&c->cond);
			continue;
		case B_ABSENT:
			if (c->conf->offline) {
				pthread_mutex_unlock(&c->lock);
				aim_log(LOG_WARNING,
					"offline: block %u of '%s' in %s is "
					"not cached",
					i, blob_name(b), blob_model(b));
				return -EIO;
			}
			b->state[i] = B_FETCHING;
			c->stats.misses++;
			pthread_mutex_unlock(&c->lock);
			uint32_t stored;
			rc = fetch_block(c, b, i, &stored);
			pthread_mutex_lock(&c->lock);
			if (rc == 0) {
				b->state[i] = B_READY;
				b->atime[i] = ++c->tick;
				account_present(c, b, i, stored);
				account_fetched(c, b, i);
				evict_poke(c);
			} else {
				b->state[i] = B_ABSENT;
				c->stats.fetch_errors++;
				aim_metrics_fetch_failed(rc);
			}
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->lock);
			return rc == -ENOSPC ? rc : rc < 0 ? -EIO : 0;
		}
	}
}

/*
 * The span [off, off + len) covers lz4 blocks: decompress it, with the raw
 * blocks in it, into a buffer. A block that does not decode goes back to
 * B_PRESENT, so the next ensure_block() checks it, drops it and fetches it
 * again; -EAGAIN asks the caller to do that.
 */
static int read_span(struct aim_cache *c, struct aim_blob *b, int fd,
		     uint64_t off, size_t len, uint32_t first, uint32_t last,
		     char **out)
{
	char *buf = malloc(len);
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (uint32_t i = first; i <= last && rc == 0; i++) {
		uint64_t bstart = (uint64_t)i * c->block_size;
		uint64_t a = off > bstart ? off : bstart;
		uint64_t e = bstart + block_len(c, b, i);
		if (e > off + len)
			e = off + len;
		rc = read_block(c, b, i, fd, block_zlen(c, b, i),
				(uint32_t)(a - bstart), buf + (a - off), e - a);
		if (rc == -EILSEQ) {
			aim_log(LOG_ERR,
				"block %u of '%s' in %s: its lz4 data does not "
				"decode; checking it again",
				i, blob_name(b), blob_model(b));
			pthread_mutex_lock(&c->lock);
			if (b->state[i] == B_READY)
				b->state[i] = B_PRESENT;
			pthread_mutex_unlock(&c->lock);
			rc = -EAGAIN;
		}
	}
	if (rc < 0)
		free(buf);
	else
		*out = buf;
	return rc;
}

/* does [first, last] hold an lz4 block? */
static int span_has_lz4(struct aim_cache *c, struct aim_blob *b,
			uint32_t first, uint32_t last)
{
	int any = 0;

	pthread_mutex_lock(&c->lock);
	for (uint32_t i = first; b->zlen && i <= last && !any; i++)
		any = b->zlen[i] != 0;
	pthread_mutex_unlock(&c->lock);
	return any;
}

int aim_cache_read_begin(struct aim_cache *c, struct aim_file *f, size_t size,
			 uint64_t off, int *fd, size_t *len, char **buf)
{
	struct aim_blob *b = f->blob;
	uint32_t first, last;
	int rc = 0, tries = 0, flags = 0;

	*buf = NULL;
	*len = (size_t)aim_block_span(b->size, c->block_size, off, size, &first,
				      &last);
	if (*len == 0)
		return 0;
	prefetch_note(c, b, first, last);
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = first; i <= last; i++) {
		b->inuse[i]++;
		/* fetched by this read, or by another one it waits for */
		if (b->state[i] == B_ABSENT || b->state[i] == B_FETCHING ||
		    b->state[i] == B_EVICTING)
			flags = AIM_READ_ORIGIN;
	}
	pthread_mutex_unlock(&c->lock);
	for (;;) {
		for (uint32_t i = first; i <= last && rc == 0; i++)
			rc = ensure_block(c, b, i);
		if (rc == 0 && (*fd = blob_fd(c, b)) < 0)
			rc = *fd;
		/* raw blocks go out from the file; lz4 ones through a buffer */
		if (rc == 0 && span_has_lz4(c, b, first, last))
			rc = read_span(c, b, *fd, off, *len, first, last, buf);
		/* a block that did not decode is checked and fetched again */
		if (rc != -EAGAIN || ++tries == 2)
			break;
		rc = 0;
	}
	if (rc < 0) {
		aim_cache_read_end(c, f, off, *len, 0);
		return -EIO;
	}
	return flags;
}

void aim_cache_read_end(struct aim_cache *c, struct aim_file *f, uint64_t off,
			size_t len, int flags)
{
	struct aim_blob *b = f->blob;
	uint32_t first, last;
	int64_t now = flags & AIM_READ_SERVED ? (int64_t)time(NULL) : 0;

	if (aim_block_span(b->size, c->block_size, off, len, &first, &last) == 0)
		return;
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = first; i <= last; i++)
		b->inuse[i]--;
	/*
	 * Bytes that went out through the mount are a use of the model; a
	 * pull, pin, verify or export does not come this way. A blob shared
	 * by several models counts for the one whose file was read. The
	 * evictor writes it to the index (cache_save_last_used).
	 */
	if (now && f->model->last_used != now)
		f->model->last_used = now;
	if (flags & AIM_READ_SERVED)
		c->stats.served_bytes += len;
	if ((flags & AIM_READ_SERVED) && (flags & AIM_READ_ORIGIN))
		c->stats.served_origin_bytes += len;
	pthread_mutex_unlock(&c->lock);
}
