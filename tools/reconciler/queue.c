/*
 * queue.c - see queue.h. A flat array scanned linearly: the reconciler
 * holds one entry per custom resource, a few hundred at most.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "queue.h"
#include "src/util.h"

struct item {
	char *key;
	uint64_t due; /* aim_now_ms() */
};

struct aim_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	struct item *items;  /* protected by lock */
	size_t n, cap;	     /* protected by lock */
	int stopped;	     /* protected by lock */
};

struct aim_queue *aim_queue_new(void)
{
	struct aim_queue *q = calloc(1, sizeof(*q));
	pthread_condattr_t ca;

	if (q == NULL)
		return NULL;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	return q;
}

void aim_queue_free(struct aim_queue **pq)
{
	struct aim_queue *q = *pq;

	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++)
		free(q->items[i].key);
	free(q->items);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
	free(q);
	*pq = NULL;
}

int aim_queue_add(struct aim_queue *q, const char *key, uint64_t delay_ms)
{
	uint64_t due = aim_now_ms() + delay_ms;
	int rc = 0;
	size_t i;

	pthread_mutex_lock(&q->lock);
	for (i = 0; i < q->n; i++)
		if (strcmp(q->items[i].key, key) == 0)
			break;
	if (i < q->n) {
		if (due < q->items[i].due)
			q->items[i].due = due;
	} else {
		if (q->n == q->cap) {
			size_t cap = q->cap ? q->cap * 2 : 64;
			struct item *ni = realloc(q->items, cap * sizeof(*ni));
			if (ni == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			q->items = ni;
			q->cap = cap;
		}
		if ((q->items[q->n].key = strdup(key)) == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		q->items[q->n++].due = due;
	}
	pthread_cond_signal(&q->cond);
out:
	pthread_mutex_unlock(&q->lock);
	return rc;
}

char *aim_queue_get(struct aim_queue *q, int timeout_ms)
{
	uint64_t deadline = aim_now_ms() + (uint64_t)timeout_ms;
	char *key = NULL;

	pthread_mutex_lock(&q->lock);
	while (!q->stopped) {
		uint64_t now = aim_now_ms(), next = deadline;
		size_t best = q->n;
		for (size_t i = 0; i < q->n; i++) {
			if (q->items[i].due < next) {
				next = q->items[i].due;
				best = i;
			}
		}
		if (best < q->n && next <= now) {
			key = q->items[best].key;
			q->items[best] = q->items[--q->n];
			break;
		}
		if (now >= deadline)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t wait = next - now;
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	}
	pthread_mutex_unlock(&q->lock);
	return key;
}

void aim_queue_stop(struct aim_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopped = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}
