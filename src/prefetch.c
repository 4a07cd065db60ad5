/*
 * prefetch.c - reading ahead of sequential readers.
 *
 * Each blob remembers where its last read ended. A read that starts where
 * the last one ended (or inside the block it ended in) is sequential: the
 * window of blocks fetched ahead doubles, from 2 up to prefetch_window;
 * any other read resets it. Blocks ahead that are absent go on a queue
 * served by fetch_threads workers, which fetch them through ensure_block,
 * so a block a reader also wants is still fetched once, and a reader
 * never waits for the queue: it fetches its own block itself.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache-int.h"
#include "conf.h"
#include "log.h"

#define QUEUE_MAX 4096

struct pf_item {
	struct aim_blob *b;
	uint32_t i;
};

struct aim_prefetch {
	/* protected by c->lock */
	struct pf_item q[QUEUE_MAX];
	size_t head, len;
	pthread_cond_t cond;
	pthread_t *threads;
	int nthreads, stopping;
	uint64_t queued, fetched, skipped;
};

static void *worker(void *arg)
{
	struct aim_cache *c = arg;
	struct aim_prefetch *pf = c->pf;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!pf->stopping && pf->len == 0)
			pthread_cond_wait(&pf->cond, &c->lock);
		if (pf->stopping)
			break;
		struct pf_item it = pf->q[pf->head];
		pf->head = (pf->head + 1) % QUEUE_MAX;
		pf->len--;
		/* someone (a reader, another worker) got to it first */
		if (it.b->state[it.i] != B_ABSENT || it.b->gone) {
			pf->skipped++;
			continue;
		}
		pthread_mutex_unlock(&c->lock);
		int rc = ensure_block(c, it.b, it.i);
		pthread_mutex_lock(&c->lock);
		if (rc == 0)
			pf->fetched++;
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int prefetch_start(struct aim_cache *c)
{
	struct aim_prefetch *pf = calloc(1, sizeof(*pf));
	int n = (int)c->conf->fetch_threads;

	if (pf == NULL)
		return -ENOMEM;
	pthread_cond_init(&pf->cond, NULL);
	pf->threads = calloc((size_t)(n ? n : 1), sizeof(*pf->threads));
	if (pf->threads == NULL) {
		free(pf);
		return -ENOMEM;
	}
	c->pf = pf;
	for (int k = 0; k < n; k++)
		if (pthread_create(&pf->threads[pf->nthreads], NULL, worker, c) == 0)
			pf->nthreads++;
	return 0;
}

void prefetch_stop(struct aim_cache *c)
{
	struct aim_prefetch *pf = c->pf;

	if (pf == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	pf->stopping = 1;
	pthread_cond_broadcast(&pf->cond);
	pthread_mutex_unlock(&c->lock);
	for (int k = 0; k < pf->nthreads; k++)
		pthread_join(pf->threads[k], NULL);
	pthread_cond_destroy(&pf->cond);
	free(pf->threads);
	free(pf);
	c->pf = NULL;
}

void prefetch_note(struct aim_cache *c, struct aim_blob *b, uint32_t first,
		   uint32_t last)
{
	struct aim_prefetch *pf = c->pf;
	uint32_t max = (uint32_t)(c->conf->prefetch_window / c->block_size);

	if (pf == NULL || max == 0 || c->conf->offline)
		return;
	pthread_mutex_lock(&c->lock);
	/* sequential: starts where the last read ended, or in its block */
	if (b->seq_next > 0 && first + 1 >= b->seq_next && first <= b->seq_next) {
		b->window = b->window ? b->window * 2 : 2;
		if (b->window > max)
			b->window = max;
	} else {
		b->window = 0;
		b->ahead = 0;
	}
	b->seq_next = last + 1;
	if (b->window > 0) {
		uint32_t from = b->ahead > last ? b->ahead + 1 : last + 1;
		uint32_t to = last + b->window;
		if (to >= b->nblocks)
			to = b->nblocks - 1;
		for (uint32_t i = from; i <= to && pf->len < QUEUE_MAX; i++) {
			if (b->state[i] != B_ABSENT)
				continue;
			pf->q[(pf->head + pf->len) % QUEUE_MAX] =
				(struct pf_item){ b, i };
			pf->len++;
			pf->queued++;
			pthread_cond_signal(&pf->cond);
		}
		if (to > b->ahead)
			b->ahead = to;
	}
	pthread_mutex_unlock(&c->lock);
}
