/*
 * watch.c - see watch.h. The map of objects is a jansson object guarded by
 * inf->lock; readers get deep copies so nothing is shared across threads
 * (jansson reference counts are not atomic on every build).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube.h"
#include "src/log.h"
#include "watch.h"

struct aim_informer {
	struct aim_kube *kube;
	char *path;
	const char *what;
	long watch_secs;
	aim_informer_fn fn;
	void *arg;
	pthread_t thread;
	volatile int stop;
	pthread_mutex_t lock;
	json_t *objs; /* protected by lock: key -> object */
	int synced;   /* protected by lock */
	char rv[64];  /* the informer thread's only */
	int relist;   /* the watch said 410: list again */
	int failed;   /* the watch ended on another ERROR event */
	unsigned long events;
};

const char *aim_obj_key(json_t *obj, char *buf, size_t len)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(meta, "namespace"));
	const char *name = json_string_value(json_object_get(meta, "name"));

	snprintf(buf, len, "%s/%s", ns ? ns : "", name ? name : "");
	return buf;
}

static const char *obj_rv(json_t *obj)
{
	return json_string_value(json_object_get(
		json_object_get(obj, "metadata"), "resourceVersion"));
}

/* sleep up to ms, waking early when stopped */
static void nap(struct aim_informer *inf, long ms)
{
	while (ms > 0 && !inf->stop) {
		long step = ms > 100 ? 100 : ms;
		struct timespec ts = {0, step * 1000000L};
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

/* store obj under key (NULL: delete) and call back */
static void apply(struct aim_informer *inf, const char *key, json_t *obj)
{
	json_t *old;

	pthread_mutex_lock(&inf->lock);
	old = json_object_get(inf->objs, key);
	json_incref(old);
	if (obj)
		json_object_set(inf->objs, key, obj);
	else
		json_object_del(inf->objs, key);
	pthread_mutex_unlock(&inf->lock);
	inf->fn(inf->arg, key, obj, old);
	json_decref(old);
}

static int do_list(struct aim_informer *inf)
{
	json_t *resp = NULL, *items, *item, *fresh, *gone;
	char *cause = NULL, key[512];
	const char *k;
	void *tmp;
	size_t i;
	int rc;

	rc = aim_kube_call(inf->kube, "GET", inf->path, NULL, NULL, &resp,
			   &cause);
	if (rc != 200) {
		aim_log(LOG_WARNING, "%s: list failed: %s", inf->what,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
		free(cause);
		json_decref(resp);
		return rc < 0 ? rc : -EIO;
	}
	items = json_object_get(resp, "items");
	const char *rv = obj_rv(resp);
	fresh = json_object();
	if (fresh == NULL || !json_is_array(items) || rv == NULL) {
		json_decref(fresh);
		json_decref(resp);
		return -EPROTO;
	}
	json_array_foreach(items, i, item) json_object_set(
		fresh, aim_obj_key(item, key, sizeof(key)), item);
	/* what we knew and the list lacks was deleted while we were away */
	pthread_mutex_lock(&inf->lock);
	gone = json_object();
	json_object_foreach(inf->objs, k, item)
	{
		if (gone && !json_object_get(fresh, k))
			json_object_set(gone, k, json_null());
	}
	pthread_mutex_unlock(&inf->lock);
	json_object_foreach_safe(gone, tmp, k, item) apply(inf, k, NULL);
	json_decref(gone);
	json_object_foreach(fresh, k, item) apply(inf, k, item);
	pthread_mutex_lock(&inf->lock);
	inf->synced = 1;
	pthread_mutex_unlock(&inf->lock);
	snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
	aim_log(LOG_INFO, "%s: listed %zu at resourceVersion %s", inf->what,
		json_object_size(fresh), inf->rv);
	json_decref(fresh);
	json_decref(resp);
	return 0;
}

static int on_event(void *arg, json_t *ev)
{
	struct aim_informer *inf = arg;
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	const char *rv = obj_rv(obj);
	char key[512];

	if (type == NULL || !json_is_object(obj))
		return 0;
	if (strcmp(type, "ERROR") == 0) {
		json_int_t code =
			json_integer_value(json_object_get(obj, "code"));
		aim_log(code == 410 ? LOG_INFO : LOG_WARNING,
			"%s: watch error %lld: %s", inf->what, (long long)code,
			aim_kube_message(obj));
		if (code == 410)
			inf->relist = 1;
		else
			inf->failed = 1;
		return 1;
	}
	if (rv)
		snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
	inf->events++;
	if (strcmp(type, "BOOKMARK") == 0)
		return 0;
	aim_obj_key(obj, key, sizeof(key));
	aim_debug("%s: %s %s rv %s", inf->what, type, key, AIM_STR(rv));
	if (strcmp(type, "DELETED") == 0)
		apply(inf, key, NULL);
	else if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0)
		apply(inf, key, obj);
	return 0;
}

static void *informer_thread(void *arg)
{
	struct aim_informer *inf = arg;
	long backoff = 0;
	int need_list = 1;

	while (!inf->stop) {
		if (need_list) {
			if (do_list(inf) < 0) {
				backoff = backoff ? backoff * 2 : 500;
				if (backoff > 30000)
					backoff = 30000;
				nap(inf, backoff);
				continue;
			}
			need_list = 0;
			backoff = 0;
		}
		char path[1024];
		json_t *resp = NULL;
		char *cause = NULL;
		snprintf(
			path, sizeof(path),
			"%s?watch=1&resourceVersion=%s&allowWatchBookmarks=true"
			"&timeoutSeconds=%ld",
			inf->path, inf->rv, inf->watch_secs);
		inf->relist = 0;
		inf->failed = 0;
		unsigned long before = inf->events;
		int rc = aim_kube_stream(inf->kube, path, on_event, inf,
					 &inf->stop, inf->watch_secs + 30,
					 &resp, &cause);
		if (inf->stop) {
			json_decref(resp);
			free(cause);
			break;
		}
		if (rc == 410 || inf->relist) {
			aim_log(LOG_NOTICE,
				"%s: resourceVersion %s is gone: "
				"listing again",
				inf->what, inf->rv);
			need_list = 1;
		} else if (rc == 200 && inf->failed) {
			/* an error event: do not hammer the server */
			backoff = backoff ? backoff * 2 : 500;
		} else if (rc == 200) {
			aim_debug("%s: watch ended at resourceVersion %s",
				  inf->what, inf->rv);
			backoff = 0;
		} else if (rc < 0) {
			aim_log(LOG_NOTICE,
				"%s: watch cut (%s): resuming from "
				"resourceVersion %s",
				inf->what, AIM_STR(cause), inf->rv);
			/* a stream that delivered was healthy: retry at once */
			backoff = inf->events > before ? 0
				  : backoff	       ? backoff * 2
						       : 200;
		} else {
			aim_log(LOG_WARNING, "%s: watch refused (%d): %s",
				inf->what, rc, aim_kube_message(resp));
			backoff = backoff ? backoff * 2 : 500;
		}
		if (backoff > 30000)
			backoff = 30000;
		json_decref(resp);
		free(cause);
		if (backoff)
			nap(inf, backoff);
	}
	return NULL;
}

int aim_informer_start(struct aim_kube *k, const char *path, const char *what,
		       long watch_secs, aim_informer_fn fn, void *arg,
		       struct aim_informer **out)
{
	struct aim_informer *inf = calloc(1, sizeof(*inf));
	int rc;

	if (inf == NULL)
		return -ENOMEM;
	inf->kube = k;
	inf->what = what;
	inf->watch_secs = watch_secs;
	inf->fn = fn;
	inf->arg = arg;
	inf->path = strdup(path);
	inf->objs = json_object();
	pthread_mutex_init(&inf->lock, NULL);
	if (inf->path == NULL || inf->objs == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = -pthread_create(&inf->thread, NULL, informer_thread, inf);
	if (rc < 0)
		goto fail;
	*out = inf;
	return 0;
fail:
	pthread_mutex_destroy(&inf->lock);
	json_decref(inf->objs);
	free(inf->path);
	free(inf);
	return rc;
}

void aim_informer_stop(struct aim_informer **pinf)
{
	struct aim_informer *inf = *pinf;

	if (inf == NULL)
		return;
	inf->stop = 1;
	pthread_join(inf->thread, NULL);
	pthread_mutex_destroy(&inf->lock);
	json_decref(inf->objs);
	free(inf->path);
	free(inf);
	*pinf = NULL;
}

json_t *aim_informer_get(struct aim_informer *inf, const char *key)
{
	json_t *o;

	pthread_mutex_lock(&inf->lock);
	o = json_deep_copy(json_object_get(inf->objs, key));
	pthread_mutex_unlock(&inf->lock);
	return o;
}

json_t *aim_informer_snapshot(struct aim_informer *inf)
{
	json_t *o;

	pthread_mutex_lock(&inf->lock);
	o = json_deep_copy(inf->objs);
	pthread_mutex_unlock(&inf->lock);
	return o;
}

int aim_informer_synced(struct aim_informer *inf)
{
	int s;

	pthread_mutex_lock(&inf->lock);
	s = inf->synced;
	pthread_mutex_unlock(&inf->lock);
	return s;
}
