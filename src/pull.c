/*
 * pull.c - pull and pin: fetch every block of a model with a few worker
 * threads, report progress, and keep pinned models whole.
 *
 * A pull only queues the blocks that are absent when it starts; a read
 * needs no queue at all (it fetches its own block through ensure_block),
 * so reads are never held up behind a pull, and a block both want is
 * fetched once.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache-int.h"
#include "conf.h"
#include "hmap.h"
#include "index.h"
#include "log.h"
#include "util.h"

#define PULL_WORKERS 4

struct work {
	struct aim_blob *b;
	uint32_t i;
};

struct pull_job {
	struct aim_cache *c;
	struct aim_model *m;
	/* protected by c->lock: */
	struct work *work;
	size_t nwork, next;
	uint64_t total, done;
	uint64_t started_ms, ended_ms;
	int workers; /* running worker threads */
	int finished, stop, rc;
	char *error;
};

static void finish(struct pull_job *j)
{
	struct aim_cache *c = j->c;
	struct aim_model *m = j->m;

	j->finished = 1;
	j->ended_ms = aim_now_ms();
	free(j->work);
	j->work = NULL;
	free(m->failed);
	m->failed = j->rc < 0 && j->error ? strdup(j->error) : NULL;
	if (!m->gone) {
		pthread_mutex_lock(&c->ixlock);
		aim_index_model_set_failed(c->ix, m->id, m->failed);
		pthread_mutex_unlock(&c->ixlock);
	}
	if (j->rc == 0 && !j->stop)
		aim_log(LOG_NOTICE, "pulled '%s' (%llu bytes in %.1f s)",
			m->name, (unsigned long long)j->total,
			(double)(j->ended_ms - j->started_ms) / 1000.0);
	else if (j->rc < 0)
		aim_log(LOG_ERR, "pull of '%s' failed: %s", m->name,
			j->error ? j->error : "error");
}

static void *worker(void *arg)
{
	struct pull_job *j = arg;
	struct aim_cache *c = j->c;

	pthread_mutex_lock(&c->lock);
	while (!j->stop && !c->stopping && j->next < j->nwork) {
		struct work w = j->work[j->next++];
		pthread_mutex_unlock(&c->lock);
		int rc = ensure_block(c, w.b, w.i);
		pthread_mutex_lock(&c->lock);
		if (rc == 0) {
			j->done += block_len(c, w.b, w.i);
		} else if (j->rc == 0) {
			char msg[512];
			snprintf(msg, sizeof(msg), "%s: block %u of '%s'",
				 rc == -ENOSPC ? "store full (nothing evictable)" :
				 c->conf->offline ? "offline" :
						    "cannot fetch",
				 w.i, blob_name(w.b));
			j->rc = rc == -ENOSPC ? rc : -EIO;
			j->error = strdup(msg);
			j->stop = 1;
		}
	}
	if (--j->workers == 0)
		finish(j);
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* a new job for m with every absent block queued; c->lock held */
static struct pull_job *job_new(struct aim_cache *c, struct aim_model *m)
{
	struct aim_hmap *seen = aim_hmap_new();
	struct pull_job *j = calloc(1, sizeof(*j)), **jobs;
	size_t cap = 0;

	jobs = realloc(c->jobs, (c->njobs + 1) * sizeof(*jobs));
	if (jobs)
		c->jobs = jobs;
	if (!seen || !j || !jobs)
		goto fail;
	j->c = c;
	j->m = m;
	j->started_ms = aim_now_ms();
	for (size_t k = 0; k < m->nfiles; k++) {
		struct aim_blob *b = m->files[k]->blob;
		if (aim_hmap_get(seen, 0, b->key))
			continue;
		if (aim_hmap_put(seen, 0, b->key, b) < 0)
			goto fail;
		j->total += b->size;
		j->done += b->present_bytes;
		for (uint32_t i = 0; i < b->nblocks; i++) {
			if (b->state[i] != B_ABSENT)
				continue;
			if (j->nwork == cap) {
				size_t nc = cap ? cap * 2 : 256;
				struct work *nw =
					realloc(j->work, nc * sizeof(*nw));
				if (nw == NULL)
					goto fail;
				j->work = nw;
				cap = nc;
			}
			j->work[j->nwork++] = (struct work){ b, i };
		}
	}
	aim_hmap_free(&seen);
	c->jobs[c->njobs++] = j;
	m->job = j;
	int want = j->nwork < PULL_WORKERS ? (int)j->nwork : PULL_WORKERS;
	for (int k = 0; k < want; k++) {
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, worker, j) == 0)
			j->workers++;
		pthread_attr_destroy(&attr);
	}
	if (j->workers == 0) {
		if (j->nwork > 0) {
			j->rc = -EAGAIN;
			j->error = strdup("cannot start pull threads");
		}
		finish(j);
	}
	return j;
fail:
	aim_hmap_free(&seen);
	if (j)
		free(j->work);
	free(j);
	return NULL;
}

static void snapshot(struct pull_job *j, struct aim_pull_progress *p)
{
	p->name = j->m->name;
	p->total = j->total;
	p->done = j->done;
	p->elapsed_ms = (j->finished ? j->ended_ms : aim_now_ms()) -
			j->started_ms;
	p->finished = j->finished;
	p->rc = j->rc;
	p->error = j->error;
}

/* report progress until j finishes; c->lock held */
static int wait_job(struct aim_cache *c, struct pull_job *j,
		    aim_progress_fn progress, void *arg, char **cause)
{
	int listening = progress != NULL;

	for (;;) {
		struct aim_pull_progress p;
		snapshot(j, &p);
		if (listening) {
			/* the name and error stay valid: jobs live until free */
			pthread_mutex_unlock(&c->lock);
			listening = progress(arg, &p) >= 0;
			pthread_mutex_lock(&c->lock);
		}
		if (p.finished)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!j->finished &&
		       pthread_cond_timedwait(&c->cond, &c->lock, &ts) == 0)
			;
	}
	if (j->rc < 0)
		aim_set_cause(cause, "pull of '%s' failed: %s", j->m->name,
			    j->error ? j->error : "error");
	return j->rc;
}

/* find (or register) the model; c->lock held on return when found */
static struct aim_model *resolve(struct aim_cache *c, const char *what,
				 char **cause, int *rc)
{
	struct aim_model *m;
	int amb = 0, created, rotated;

	pthread_mutex_lock(&c->lock);
	m = cache_find_model(c, what, &amb);
	if (m || amb || strstr(what, "://") == NULL) {
		if (m == NULL) {
			pthread_mutex_unlock(&c->lock);
			aim_set_cause(cause, amb ? "'%s' names several revisions: "
						 "give the URI" :
						 "no model '%s'",
				    what);
			*rc = amb ? -EINVAL : -ENOENT;
		}
		return m;
	}
	pthread_mutex_unlock(&c->lock);
	if ((*rc = aim_cache_add(c, what, NULL, 0, NULL, &created, &rotated,
				 cause)) < 0)
		return NULL;
	pthread_mutex_lock(&c->lock);
	m = cache_find_model(c, what, &amb);
	if (m == NULL) {
		pthread_mutex_unlock(&c->lock);
		aim_set_cause(cause, "'%s' vanished while registering", what);
		*rc = -ENOENT;
	}
	return m;
}

/* start (or join) the pull of m and maybe wait; c->lock held, released */
static int run(struct aim_cache *c, struct aim_model *m, int wait,
	       aim_progress_fn progress, void *arg, char **cause)
{
	struct pull_job *j = m->job;
	int rc = 0;

	if (j == NULL || j->finished)
		j = job_new(c, m);
	if (j == NULL) {
		aim_set_cause(cause, "out of memory");
		rc = -ENOMEM;
	} else if (wait) {
		rc = wait_job(c, j, progress, arg, cause);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int aim_cache_pull(struct aim_cache *c, const char *what, int wait,
		   aim_progress_fn progress, void *arg, char **cause)
{
	struct aim_model *m;
	int rc = 0;

	*cause = NULL;
	if ((m = resolve(c, what, cause, &rc)) == NULL)
		return rc;
	return run(c, m, wait, progress, arg, cause);
}

/* bytes of distinct pinned blobs, plus m's unpinned ones; c->lock held */
static uint64_t pinned_with(struct aim_cache *c, struct aim_model *m)
{
	uint64_t total = 0;

	for (size_t i = 0; i < c->nblobs; i++)
		if (c->blobs[i]->pins > 0)
			total += c->blobs[i]->size;
	struct aim_hmap *seen = aim_hmap_new();
	for (size_t k = 0; seen && k < m->nfiles; k++) {
		struct aim_blob *b = m->files[k]->blob;
		if (b->pins > 0 || aim_hmap_get(seen, 0, b->key))
			continue;
		aim_hmap_put(seen, 0, b->key, b);
		total += b->size;
	}
	aim_hmap_free(&seen);
	return total;
}

int aim_cache_pin(struct aim_cache *c, const char *what, int pin, int wait,
		  aim_progress_fn progress, void *arg, char **cause)
{
	struct aim_model *m;
	int rc = 0;

	*cause = NULL;
	if ((m = resolve(c, what, cause, &rc)) == NULL)
		return rc;
	if (pin && !m->pinned) {
		uint64_t need = pinned_with(c, m), limit = evict_limit(c);
		if (need > limit) {
			char a[32], b[32];
			aim_set_cause(cause,
				    "cannot pin '%s': pinned models would need "
				    "%s, more than the cache limit of %s",
				    m->name, aim_human_size(need, a, sizeof(a)),
				    aim_human_size(limit, b, sizeof(b)));
			pthread_mutex_unlock(&c->lock);
			return -ENOSPC;
		}
	}
	if (pin != m->pinned) {
		pthread_mutex_lock(&c->ixlock);
		rc = aim_index_model_set_pinned(c->ix, m->id, pin);
		pthread_mutex_unlock(&c->ixlock);
		if (rc < 0) {
			pthread_mutex_unlock(&c->lock);
			aim_set_cause(cause, "cannot record the pin in the index");
			return rc;
		}
		m->pinned = pin;
		for (size_t k = 0; k < m->nfiles; k++)
			m->files[k]->blob->pins += pin ? 1 : -1;
		aim_log(LOG_NOTICE, "%s '%s'", pin ? "pinned" : "unpinned",
			m->name);
	}
	if (!pin) {
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	return run(c, m, wait, progress, arg, cause);
}

void pull_cancel(struct aim_cache *c, struct aim_model *m)
{
	struct pull_job *j = m->job;

	if (j == NULL)
		return;
	j->stop = 1;
	while (!j->finished)
		pthread_cond_wait(&c->cond, &c->lock);
}

void pull_stop_all(struct aim_cache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->njobs; i++)
		c->jobs[i]->stop = 1;
	for (size_t i = 0; i < c->njobs; i++)
		while (!c->jobs[i]->finished)
			pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
}

void pull_free_all(struct aim_cache *c)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->njobs; i++) {
		free(c->jobs[i]->error);
		free(c->jobs[i]);
	}
	free(c->jobs);
	c->jobs = NULL;
	c->njobs = 0;
	pthread_mutex_unlock(&c->lock);
}

/* the state of m's pull for list: "pulling", or NULL; c->lock held */
const char *pull_state(const struct aim_model *m)
{
	return m->job && !m->job->finished ? "pulling" : NULL;
}
