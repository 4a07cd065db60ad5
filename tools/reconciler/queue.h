/*
 * queue.h - the work queue between the informers (and the lease) and the
 * reconcile worker: a set of keys, each due at a time. Adding a key that is
 * already queued keeps the earlier time, so a burst of watch events for one
 * object costs one reconcile. Thread-safe.
 */
#ifndef AIM_QUEUE_H
#define AIM_QUEUE_H

#include <stdint.h>

struct aim_queue;

struct aim_queue *aim_queue_new(void);
void aim_queue_free(struct aim_queue **q);

/* queue key (copied) to run in delay_ms; 0 or -ENOMEM */
int aim_queue_add(struct aim_queue *q, const char *key, uint64_t delay_ms);

/*
 * The next due key (caller frees), waiting at most timeout_ms; NULL on
 * timeout or once aim_queue_stop() was called.
 */
char *aim_queue_get(struct aim_queue *q, int timeout_ms);

void aim_queue_stop(struct aim_queue *q);

#endif
