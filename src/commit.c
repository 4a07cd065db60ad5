/*
 * commit.c - making fetched blocks durable off the read path.
 *
 * A fetched block is written to its blob's file and served at once (from
 * the page cache), but the index records it only after a committer thread
 * has synced the file: every few milliseconds it takes the pending blocks,
 * fdatasyncs each file once, and records them all in one transaction. A
 * crash before that loses the work (the block is fetched again), never
 * makes the index claim bytes that are not on disk. A block evicted or
 * removed before its turn is not recorded.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache-int.h"
#include "index.h"
#include "log.h"

#define BATCH_MAX 1024

struct pending {
	struct aim_blob *b;
	uint32_t i, len, stored; /* stored < len: an lz4 block */
	unsigned char sum[32];
	unsigned tries;
};

#define MAX_TRIES 5

struct aim_commit {
	/* protected by c->lock */
	struct pending *q;
	size_t n, cap;
	int stopping, running, busy;
	pthread_cond_t wake, done;
	pthread_t thread;
};

static void commit_queue_later(struct aim_cache *c, const struct pending *p);

static void commit_batch(struct aim_cache *c, struct pending *v, size_t n)
{
	/* each file once: the batch is small, a quadratic scan will do */
	for (size_t k = 0; k < n; k++) {
		int seen = 0;
		for (size_t j = 0; j < k && !seen; j++)
			seen = v[j].b == v[k].b;
		if (!seen && v[k].b->fd >= 0 && fdatasync(v[k].b->fd) < 0)
			aim_log(LOG_ERR, "cannot sync '%s' in %s: %s",
				blob_name(v[k].b), blob_model(v[k].b),
				strerror(errno));
	}
	/* c->lock keeps the evictor from dropping a block while its row is
	 * being written (it drops the row afterwards under ixlock) */
	pthread_mutex_lock(&c->lock);
	pthread_mutex_lock(&c->ixlock);
	int tx = aim_index_begin(c->ix) == 0;
	for (size_t k = 0; k < n; k++) {
		struct aim_blob *b = v[k].b;
		/* skip blocks that left the store; a block still B_FETCHING
		 * is the one just queued (ensure_block marks it ready after
		 * queueing it) */
		uint8_t st = b->state[v[k].i];
		if (b->gone || st == B_ABSENT || st == B_EVICTING)
			continue;
		if (aim_index_block_put(c->ix, b->id, v[k].i, v[k].len,
					block_codec(v[k].len, v[k].stored),
					v[k].stored, v[k].sum) < 0)
			aim_log(LOG_ERR, "cannot record block %u of '%s' in %s",
				v[k].i, blob_name(b), blob_model(b));
	}
	int failed = !tx || aim_index_commit(c->ix) < 0;
	if (failed && tx)
		aim_index_rollback(c->ix);
	pthread_mutex_unlock(&c->ixlock);
	pthread_mutex_unlock(&c->lock);
	if (failed) {
		/* e.g. the disk is full: the blocks stay served but unrecorded
		 * (a restart fetches them again); try them once more later */
		aim_log(LOG_WARNING, "cannot record %zu blocks in the index yet",
			n);
		for (size_t k = 0; k < n; k++)
			commit_queue_later(c, &v[k]);
	}
}

static void *committer(void *arg)
{
	struct aim_cache *c = arg;
	struct aim_commit *cm = c->commit;
	struct pending *batch = malloc(BATCH_MAX * sizeof(*batch));

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (cm->n == 0 && !cm->stopping)
			pthread_cond_wait(&cm->wake, &c->lock);
		if (cm->n == 0 && cm->stopping)
			break;
		/* a moment for more blocks to join the batch */
		if (cm->n < BATCH_MAX / 4 && !cm->stopping) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 20 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&cm->wake, &c->lock, &ts);
		}
		size_t n = cm->n < BATCH_MAX ? cm->n : BATCH_MAX;
		if (batch == NULL)
			n = 1;
		struct pending one, *v = batch ? batch : &one;
		memcpy(v, cm->q, n * sizeof(*v));
		memmove(cm->q, cm->q + n, (cm->n - n) * sizeof(*cm->q));
		cm->n -= n;
		cm->busy = 1;
		pthread_mutex_unlock(&c->lock);
		commit_batch(c, v, n);
		pthread_mutex_lock(&c->lock);
		cm->busy = 0;
		pthread_cond_broadcast(&cm->done);
	}
	pthread_cond_broadcast(&cm->done);
	pthread_mutex_unlock(&c->lock);
	free(batch);
	return NULL;
}

/* put a failed entry back for another try, a few times at most */
static void commit_queue_later(struct aim_cache *c, const struct pending *p)
{
	struct aim_commit *cm = c->commit;

	if (p->tries + 1 >= MAX_TRIES)
		return;
	pthread_mutex_lock(&c->lock);
	if (cm->n < cm->cap) {
		cm->q[cm->n] = *p;
		cm->q[cm->n].tries++;
		cm->n++;
	}
	pthread_mutex_unlock(&c->lock);
}

int commit_start(struct aim_cache *c)
{
	struct aim_commit *cm = calloc(1, sizeof(*cm));

	if (cm == NULL)
		return -ENOMEM;
	pthread_cond_init(&cm->wake, NULL);
	pthread_cond_init(&cm->done, NULL);
	c->commit = cm;
	if (pthread_create(&cm->thread, NULL, committer, c) != 0) {
		c->commit = NULL;
		pthread_cond_destroy(&cm->wake);
		pthread_cond_destroy(&cm->done);
		free(cm);
		return -EAGAIN;
	}
	cm->running = 1;
	return 0;
}

int commit_queue(struct aim_cache *c, struct aim_blob *b, uint32_t i,
		 uint32_t len, uint32_t stored, const unsigned char sum[32])
{
	struct aim_commit *cm = c->commit;
	int rc = 0;

	if (cm == NULL) {
		/* no committer (aimfs-ctl --store before start): sync now */
		int fd = blob_fd(c, b);
		if (fd < 0 || fdatasync(fd) < 0)
			return -EIO;
		pthread_mutex_lock(&c->ixlock);
		rc = aim_index_block_put(c->ix, b->id, i, len,
					 block_codec(len, stored), stored, sum);
		pthread_mutex_unlock(&c->ixlock);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	if (cm->n == cm->cap) {
		size_t cap = cm->cap ? cm->cap * 2 : 256;
		struct pending *q = realloc(cm->q, cap * sizeof(*q));
		if (q == NULL) {
			pthread_mutex_unlock(&c->lock);
			return -ENOMEM;
		}
		cm->q = q;
		cm->cap = cap;
	}
	cm->q[cm->n].b = b;
	cm->q[cm->n].i = i;
	cm->q[cm->n].len = len;
	cm->q[cm->n].stored = stored;
	cm->q[cm->n].tries = 0;
	memcpy(cm->q[cm->n].sum, sum, 32);
	cm->n++;
	pthread_cond_signal(&cm->wake);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void commit_flush(struct aim_cache *c)
{
	struct aim_commit *cm = c->commit;

	if (cm == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	pthread_cond_signal(&cm->wake);
	while (cm->running && (cm->n > 0 || cm->busy))
		pthread_cond_wait(&cm->done, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void commit_stop(struct aim_cache *c)
{
	struct aim_commit *cm = c->commit;

	if (cm == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	cm->stopping = 1;
	pthread_cond_broadcast(&cm->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(cm->thread, NULL);
	pthread_cond_destroy(&cm->wake);
	pthread_cond_destroy(&cm->done);
	free(cm->q);
	free(cm);
	c->commit = NULL;
}
