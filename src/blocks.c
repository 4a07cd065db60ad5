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
#include <unistd.h>

#include "cache-int.h"
#include "conf.h"
#include "hub.h"
#include "index.h"
#include "log.h"
#include "store.h"
#include "util.h"

void account_present(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	uint32_t len = block_len(c, b, i);

	b->present_bytes += len;
	c->used += len;
}

void account_absent(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	uint32_t len = block_len(c, b, i);

	b->present_bytes -= len;
	c->used -= len;
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

const char *blob_name(const struct aim_blob *b)
{
	return b->has_loc ? b->loc.path : b->key;
}

/* write a block and then record it; the caller owns the B_FETCHING state */
int store_block(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		const void *buf, uint32_t len)
{
	uint64_t off = (uint64_t)i * c->block_size;
	unsigned char sum[32];
	int rc, fd;

	if ((rc = evict_make_room(c, len)) < 0) {
		aim_log(LOG_ERR,
			"store full: no room for block %u of '%s' (limit "
			"reached and nothing evictable)",
			i, blob_name(b));
		return rc;
	}
	aim_sha256(buf, len, sum);
	if ((fd = blob_fd(c, b)) < 0 ||
	    (rc = aim_store_put(fd, off, buf, len)) < 0) {
		rc = fd < 0 ? fd : rc;
		aim_log(LOG_ERR, "cannot store block %u of '%s': %s", i,
			blob_name(b), strerror(-rc));
		if (fd >= 0)
			aim_store_drop(fd, off, len); /* no partial block */
		return rc;
	}
	/* the data is durable; now the index may say so */
	pthread_mutex_lock(&c->ixlock);
	rc = aim_index_block_put(c->ix, b->id, i, len, sum);
	pthread_mutex_unlock(&c->ixlock);
	return rc;
}

static int fetch_block(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	uint32_t len = block_len(c, b, i);
	uint64_t off = (uint64_t)i * c->block_size;
	char *cause = NULL;
	void *buf;
	int rc;

	if (!b->has_loc) {
		aim_log(LOG_ERR, "blob %s has no source to fetch it from",
			b->key);
		return -EIO;
	}
	buf = malloc(len);
	if (buf == NULL)
		return -ENOMEM;
	rc = aim_hub_fetch(c->hub, &b->loc, off, len, buf, &cause);
	if (rc < 0) {
		aim_log(LOG_ERR, "cannot fetch block %u of '%s' in %s: %s", i,
			b->loc.path, b->loc.repo, cause ? cause : "error");
		free(cause);
		rc = -EIO;
	} else {
		rc = store_block(c, b, i, buf, len);
	}
	free(buf);
	return rc;
}

/* forget a block: index row first, then its disk space */
void drop_block(struct aim_cache *c, struct aim_blob *b, uint32_t i)
{
	int fd;

	pthread_mutex_lock(&c->ixlock);
	aim_index_block_drop(c->ix, b->id, i);
	pthread_mutex_unlock(&c->ixlock);
	if ((fd = blob_fd(c, b)) >= 0)
		aim_store_drop(fd, (uint64_t)i * c->block_size,
			       block_len(c, b, i));
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
		rc = aim_store_get(fd, (uint64_t)i * c->block_size, buf, len);
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
			"block %u of '%s' failed its check (%s): dropped, "
			"will fetch again",
			i, blob_name(b),
			rc == -EBADMSG ? "checksum mismatch" : strerror(-rc));
		drop_block(c, b, i);
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
					i, blob_name(b),
					b->has_loc ? b->loc.repo : "?");
				return -EIO;
			}
			b->state[i] = B_FETCHING;
			c->stats.misses++;
			pthread_mutex_unlock(&c->lock);
			rc = fetch_block(c, b, i);
			pthread_mutex_lock(&c->lock);
			if (rc == 0) {
				b->state[i] = B_READY;
				b->atime[i] = ++c->tick;
				account_present(c, b, i);
				c->stats.fetched_bytes += block_len(c, b, i);
				evict_poke(c);
			} else {
				b->state[i] = B_ABSENT;
				c->stats.fetch_errors++;
			}
			pthread_cond_broadcast(&c->cond);
			pthread_mutex_unlock(&c->lock);
			return rc == -ENOSPC ? rc : rc < 0 ? -EIO : 0;
		}
	}
}

ssize_t aim_cache_read(struct aim_cache *c, struct aim_file *f, void *buf,
		       size_t size, uint64_t off)
{
	struct aim_blob *b = f->blob;
	uint32_t first, last;
	int rc = 0, fd;

	size = (size_t)aim_block_span(b->size, c->block_size, off, size, &first,
				      &last);
	if (size == 0)
		return 0;
	/* in use: the evictor leaves these blocks until the pread is done */
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = first; i <= last; i++)
		b->inuse[i]++;
	pthread_mutex_unlock(&c->lock);
	for (uint32_t i = first; i <= last && rc == 0; i++)
		rc = ensure_block(c, b, i);
	if (rc == 0 &&
	    ((fd = blob_fd(c, b)) < 0 || aim_store_get(fd, off, buf, size) < 0)) {
		aim_log(LOG_ERR, "cannot read '%s' from the store", blob_name(b));
		rc = -EIO;
	}
	pthread_mutex_lock(&c->lock);
	for (uint32_t i = first; i <= last; i++)
		b->inuse[i]--;
	if (rc == 0)
		c->stats.served_bytes += size;
	pthread_mutex_unlock(&c->lock);
	return rc < 0 ? -EIO : (ssize_t)size;
}
