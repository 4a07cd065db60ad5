/*
 * lease.c - see lease.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "kube.h"
#include "lease.h"
#include "src/log.h"
#include "src/util.h"

struct aim_lease {
	struct aim_kube *kube;
	char *ns, *name, *id, *path;
	int duration;
	aim_lease_fn fn;
	void *arg;
	pthread_t thread;
	volatile int stop;
	pthread_mutex_t lock;
	uint64_t held_until; /* protected by lock: aim_now_ms() */
	/* the lease thread's only: what we last saw of another holder */
	char *seen; /* "holder renewTime" */
	uint64_t seen_at;
	int was_held;
};

/* RFC 3339 with microseconds, as metav1.MicroTime */
static void micro_now(char *buf, size_t len)
{
	struct timeval tv;
	struct tm tm;
	char base[32];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", base, (long)tv.tv_usec);
}

static int create(struct aim_lease *l)
{
	char now[64], *cause = NULL, *coll = NULL;
	json_t *body, *resp = NULL;
	int rc;

	micro_now(now, sizeof(now));
	body = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:i, s:s, s:s, "
			 "s:i}}",
			 "apiVersion", "coordination.k8s.io/v1", "kind",
			 "Lease", "metadata", "name", l->name, "namespace",
			 l->ns, "spec", "holderIdentity", l->id,
			 "leaseDurationSeconds", l->duration, "acquireTime",
			 now, "renewTime", now, "leaseTransitions", 0);
	if (body == NULL || asprintf(&coll,
				     "/apis/coordination.k8s.io/v1/"
				     "namespaces/%s/leases",
				     l->ns) < 0) {
		json_decref(body);
		return -ENOMEM;
	}
	rc = aim_kube_call(l->kube, "POST", coll, NULL, body, &resp, &cause);
	if (rc < 0 || (rc != 201 && rc != 409))
		aim_log(LOG_WARNING, "lease %s/%s: cannot create: %s", l->ns,
			l->name,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
	free(coll);
	free(cause);
	json_decref(body);
	json_decref(resp);
	return rc == 201 ? 1 : 0;
}

/* one round: 1 when we hold the lease after it, 0 when not */
static int try_acquire(struct aim_lease *l)
{
	json_t *lease = NULL, *resp = NULL, *spec;
	char *cause = NULL, now[64], *seen = NULL;
	const char *holder, *renew;
	int rc, dur, held = 0;

	rc = aim_kube_call(l->kube, "GET", l->path, NULL, NULL, &lease, &cause);
	if (rc == 404) {
		json_decref(lease);
		return create(l);
	}
	if (rc != 200) {
		aim_log(LOG_WARNING, "lease %s/%s: %s", l->ns, l->name,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(lease));
		goto out;
	}
	spec = json_object_get(lease, "spec");
	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(lease, "spec", spec);
	}
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	renew = json_string_value(json_object_get(spec, "renewTime"));
	dur = (int)json_integer_value(
		json_object_get(spec, "leaseDurationSeconds"));
	if (dur <= 0)
		dur = l->duration;
	int mine = holder && strcmp(holder, l->id) == 0;
	if (!mine && holder && *holder) {
		/* someone else's: expired only if unchanged for dur by our
		 * clock */
		if (asprintf(&seen, "%s %s", holder, renew ? renew : "") < 0)
			goto out;
		if (l->seen == NULL || strcmp(seen, l->seen) != 0) {
			free(l->seen);
			l->seen = seen;
			seen = NULL;
			l->seen_at = aim_now_ms();
		}
		if (aim_now_ms() < l->seen_at + (uint64_t)dur * 1000)
			goto out;
		aim_log(LOG_NOTICE,
			"lease %s/%s: '%s' stopped renewing: "
			"taking over",
			l->ns, l->name, holder);
	}
	micro_now(now, sizeof(now));
	json_object_set_new(spec, "holderIdentity", json_string(l->id));
	json_object_set_new(spec, "leaseDurationSeconds",
			    json_integer(l->duration));
	json_object_set_new(spec, "renewTime", json_string(now));
	if (!mine) {
		json_int_t tr = json_integer_value(
			json_object_get(spec, "leaseTransitions"));
		json_object_set_new(spec, "acquireTime", json_string(now));
		json_object_set_new(spec, "leaseTransitions",
				    json_integer(tr + 1));
	}
	rc = aim_kube_call(l->kube, "PUT", l->path, NULL, lease, &resp, &cause);
	if (rc == 200)
		held = 1;
	else if (rc != 409)
		aim_log(LOG_WARNING, "lease %s/%s: cannot renew: %s", l->ns,
			l->name,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
out:
	free(seen);
	free(cause);
	json_decref(lease);
	json_decref(resp);
	return held;
}

static void *lease_thread(void *arg)
{
	struct aim_lease *l = arg;
	long period = l->duration * 1000L / 3;

	if (period < 200)
		period = 200;
	while (!l->stop) {
		uint64_t start = aim_now_ms();
		int got = try_acquire(l);
		pthread_mutex_lock(&l->lock);
		if (got)
			l->held_until =
				start + (uint64_t)l->duration * 2000 / 3;
		int held = aim_now_ms() < l->held_until;
		pthread_mutex_unlock(&l->lock);
		if (held != l->was_held) {
			aim_log(LOG_NOTICE, "lease %s/%s: %s", l->ns, l->name,
				held ? "acquired: this reconciler does the "
				       "cluster duties"
				     : "lost");
			l->was_held = held;
			l->fn(l->arg, held);
		}
		/* a candidate polls a little faster than the holder renews */
		for (long t = 0; t < period && !l->stop; t += 50) {
			struct timespec ts = {0, 50 * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

int aim_lease_start(struct aim_kube *k, const char *ns, const char *name,
		    const char *identity, int duration_secs, aim_lease_fn fn,
		    void *arg, struct aim_lease **out)
{
	struct aim_lease *l = calloc(1, sizeof(*l));
	int rc = -ENOMEM;

	if (l == NULL)
		return -ENOMEM;
	l->kube = k;
	l->duration = duration_secs > 0 ? duration_secs : 15;
	l->fn = fn;
	l->arg = arg;
	pthread_mutex_init(&l->lock, NULL);
	l->ns = strdup(ns);
	l->name = strdup(name);
	l->id = strdup(identity);
	if (!l->ns || !l->name || !l->id ||
	    asprintf(&l->path,
		     "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", ns,
		     name) < 0) {
		l->path = NULL;
		goto fail;
	}
	rc = -pthread_create(&l->thread, NULL, lease_thread, l);
	if (rc < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	free(l->ns);
	free(l->name);
	free(l->id);
	free(l->path);
	pthread_mutex_destroy(&l->lock);
	free(l);
	return rc;
}

int aim_lease_held(struct aim_lease *l)
{
	int held;

	if (l == NULL)
		return 0;
	pthread_mutex_lock(&l->lock);
	held = aim_now_ms() < l->held_until;
	pthread_mutex_unlock(&l->lock);
	return held;
}

/* give the lease up so a successor need not wait for it to expire */
static void release(struct aim_lease *l)
{
	json_t *lease = NULL, *resp = NULL, *spec;
	char *cause = NULL, now[64];
	const char *holder;

	if (aim_kube_call(l->kube, "GET", l->path, NULL, NULL, &lease,
			  &cause) != 200)
		goto out;
	spec = json_object_get(lease, "spec");
	holder = json_string_value(json_object_get(spec, "holderIdentity"));
	if (holder == NULL || strcmp(holder, l->id) != 0)
		goto out;
	micro_now(now, sizeof(now));
	json_object_set_new(spec, "holderIdentity", json_string(""));
	json_object_set_new(spec, "leaseDurationSeconds", json_integer(1));
	json_object_set_new(spec, "renewTime", json_string(now));
	if (aim_kube_call(l->kube, "PUT", l->path, NULL, lease, &resp,
			  &cause) == 200)
		aim_log(LOG_NOTICE, "lease %s/%s: released", l->ns, l->name);
out:
	free(cause);
	json_decref(lease);
	json_decref(resp);
}

void aim_lease_stop(struct aim_lease **pl)
{
	struct aim_lease *l = *pl;

	if (l == NULL)
		return;
	l->stop = 1;
	pthread_join(l->thread, NULL);
	if (aim_lease_held(l))
		release(l);
	free(l->ns);
	free(l->name);
	free(l->id);
	free(l->path);
	free(l->seen);
	pthread_mutex_destroy(&l->lock);
	free(l);
	*pl = NULL;
}
