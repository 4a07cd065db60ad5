/*
 * artifact.c - reconcile one AIMArtifact.
 *
 * Node duties (every replica, for its own node's store):
 *   - finalizer node.aimfs.io/<node>, so a deleted artifact's blocks are
 *     freed here (`rm`) unless another live artifact has the same sourceUri;
 *   - `add` the sourceUri (metadata only), `pin` it with wait=false when
 *     spec.pin (default true), `unpin` when it turns false;
 *   - spec.env (env.c) goes with the `add` as the model's own credentials
 *     when the daemon lacks them (a new model, a restarted daemon), when the
 *     artifact changed, and every creds_refresh_ms otherwise (a rotated
 *     Secret: an Available artifact with spec.env is looked at that often,
 *     since nothing watches Secrets); {} when spec.env is gone. A Secret or
 *     key that is not there is a Warning Event, and Failed while the daemon
 *     has no credentials for the model (with some, it keeps them);
 *   - read `list` and write status.nodes[<node>] {state, totalBytes,
 *     downloadedBytes, message, lastUsed} and the aggregate status,
 *     progress, lastUsed (the latest of the nodes') and the Ready
 *     condition; every progress_ms while downloading. lastUsed is the
 *     daemon's last_used, looked at on each reconcile (so at least every
 *     --resync); alone it is written only when it moved a minute or more;
 *   - a failure (bad source, failed pull) is Failed with the daemon's
 *     reason, and retried after retry_base_ms, doubling up to retry_max_ms.
 * Cluster duties (the Lease holder only):
 *   - finalizer aimfs.io/pvc; the PVC "aimfs-<name>" sized
 *     aim_pvc_gib(spec.size or the discovered size, headroom), grown when
 *     the size grows; status.persistentVolumeClaim, allocatedSize,
 *     headroomPercent and the StorageReady condition (True once the PVC
 *     is Bound, False while Pending or Lost, Unknown without a phase;
 *     looked at again every retry_base_ms until Bound);
 *   - on deletion, the PVC is deleted before the finalizer goes;
 *   - the finalizers and status.nodes entries of nodes that left the
 *     cluster are dropped (departed.c).
 *
 * States of a node: Pending (not registered yet), Progressing (pinned and
 * pulling), Available (complete; or registered when pin is false: blocks
 * then arrive when read), Failed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "kube.h"
#include "node.h"
#include "quantity.h"
#include "rec.h"
#include "src/log.h"
#include "src/util.h"
#include "watch.h"

/* what this node found in one pass */
struct node_view {
	const char *state;
	const char *reason; /* for the Ready condition */
	char *message;	    /* owned */
	uint64_t total, done;
	int known; /* total/done are meaningful */
	int64_t last_used; /* the daemon's last read of it, 0: none known */
};

/* the worker's memory of one key: failures and when to retry */
static json_t *keystate(struct aim_rec *r, const char *key, json_int_t gen)
{
	json_t *ks = json_object_get(r->keys, key);

	if (ks == NULL ||
	    json_integer_value(json_object_get(ks, "gen")) != gen) {
		ks = json_pack("{s:I, s:i, s:I}", "gen", gen, "fails", 0,
			       "retry_at", (json_int_t)0);
		if (ks == NULL || json_object_set_new(r->keys, key, ks) < 0)
			return NULL;
	}
	return ks;
}

static json_int_t ks_int(json_t *ks, const char *k)
{
	return json_integer_value(json_object_get(ks, k));
}

/* a failure: schedule the retry with exponential backoff */
static long ks_fail(struct aim_rec *r, json_t *ks, const char *reason,
		    const char *msg)
{
	json_int_t fails = ks_int(ks, "fails") + 1;
	long delay = r->retry_base_ms;

	for (json_int_t i = 1; i < fails && delay < r->retry_max_ms; i++)
		delay *= 2;
	if (delay > r->retry_max_ms)
		delay = r->retry_max_ms;
	json_object_set_new(ks, "fails", json_integer(fails));
	json_object_set_new(
		ks, "retry_at",
		json_integer((json_int_t)(aim_now_ms() + (uint64_t)delay)));
	json_object_set_new(ks, "reason", json_string(reason));
	json_object_set_new(ks, "msg", json_string(msg ? msg : ""));
	return delay;
}

static void ks_ok(json_t *ks)
{
	json_object_set_new(ks, "fails", json_integer(0));
	json_object_set_new(ks, "retry_at", json_integer(0));
}

/*
 * 1 when another live artifact (anywhere) names uri; want_pin: one that
 * also wants it pinned.
 */
static int other_refs(struct aim_rec *r, const char *key, const char *uri,
		      int want_pin)
{
	json_t *all = aim_informer_snapshot(r->arts), *o;
	const char *k;
	int found = 0;

	if (all == NULL)
		return 1; /* when unsure, keep the data */
	json_object_foreach(all, k, o)
	{
		const char *u = aim_jstr(o, "spec.sourceUri");
		if (strcmp(k, key) == 0 || u == NULL || strcmp(u, uri) != 0 ||
		    aim_jget(o, "metadata.deletionTimestamp"))
			continue;
		if (want_pin && json_is_false(aim_jget(o, "spec.pin")))
			continue;
		found = 1;
		break;
	}
	json_decref(all);
	return found;
}

/*
 * The credentials for this pass's `add` into *send (caller frees; wiped by
 * aim_env_release(env)): spec.env resolved, {} when spec.env is gone but
 * the daemon holds some, NULL to leave the daemon's as they are. 0; -1
 * with v Failed when they cannot be had and the daemon has none; -EIO
 * when the API server could not say (try again, status untouched).
 */
static int env_creds(struct aim_rec *r, const char *key, json_t *obj,
		     json_t *ks, const struct aim_node_model *m,
		     struct aim_env *env, json_t **send, struct node_view *v)
{
	uint64_t now = aim_now_ms(), at = (uint64_t)ks_int(ks, "creds_at");
	int held = m->found && m->own_creds;
	int rc;

	*send = NULL;
	if (json_array_size(aim_jget(obj, "spec.env")) == 0) {
		if (held)
			*send = json_object(); /* spec.env went: drop them */
		return 0;
	}
	if (held && at && now < at + (uint64_t)r->creds_refresh_ms)
		return 0;
	rc = aim_env_resolve(r, obj, env);
	if (env->ignored && aim_rec_leader(r) &&
	    !json_is_true(json_object_get(ks, "env_ignored"))) {
		char names[512] = "";
		json_t *n;
		size_t i, o = 0;
		json_array_foreach(env->ignored, i, n) o += (size_t)snprintf(
			names + o, o < sizeof(names) ? sizeof(names) - o : 0,
			"%s%s", i ? ", " : "", json_string_value(n));
		aim_event(r, obj, 1, "EnvIgnored",
			  "spec.env %s: not credentials aimfs uses (it takes "
			  "HF_TOKEN and AWS_*); ignored",
			  names);
		json_object_set_new(ks, "env_ignored", json_true());
	}
	if (rc == 0) {
		/* creds_at is set once the daemon took them */
		*send = env->creds ? json_incref(env->creds) : json_object();
		json_object_del(ks, "env_msg");
		return 0;
	}
	if (rc == -EIO) {
		aim_log(LOG_WARNING, "%s: %s", key, AIM_STR(env->message));
		return held ? 0 : -EIO;
	}
	/* a reference that does not work: once per generation and message */
	if (!aim_streq(json_string_value(json_object_get(ks, "env_msg")),
		       env->message)) {
		aim_log(LOG_WARNING, "%s: %s%s", key, AIM_STR(env->message),
			held ? " (the daemon keeps the credentials it has)" : "");
		aim_event(r, obj, 1, env->reason, "%s%s", AIM_STR(env->message),
			  held ? "; the node keeps the credentials it has" : "");
		json_object_set_new(ks, "env_msg",
				    json_string(AIM_STR(env->message)));
	}
	if (held) {
		/* serve on with what the daemon has; look again later */
		json_object_set_new(ks, "creds_at", json_integer((json_int_t)now));
		return 0;
	}
	v->state = "Failed";
	v->reason = env->reason;
	v->message = strdup(AIM_STR(env->message));
	return -1;
}

/*
 * Drive this node's daemon for the artifact and say where it stands.
 * Returns the requeue delay in ms, or -1 when the daemon is unreachable
 * (nothing is known: status is left alone).
 */
static long node_drive(struct aim_rec *r, const char *key, json_t *obj,
		       struct node_view *v)
{
	const char *uri = aim_jstr(obj, "spec.sourceUri");
	const char *model = aim_jstr(obj, "spec.modelId");
	int pin = !json_is_false(aim_jget(obj, "spec.pin"));
	json_int_t gen =
		json_integer_value(aim_jget(obj, "metadata.generation"));
	json_t *ks = keystate(r, key, gen);
	struct aim_node_model m;
	uint64_t now = aim_now_ms();
	char *cause = NULL;
	long delay = 0;
	int rc;

	if (ks == NULL)
		return -1;
	/* waiting for a retry: report the failure without asking again */
	if ((uint64_t)ks_int(ks, "retry_at") > now) {
		v->state = "Failed";
		v->reason = json_string_value(json_object_get(ks, "reason"));
		v->message = strdup(
			AIM_STR(json_string_value(json_object_get(ks, "msg"))));
		return (long)((uint64_t)ks_int(ks, "retry_at") - now);
	}
	/* what the daemon has: whether it holds the model's credentials */
	rc = aim_node_find(r->sock, uri, &m, &cause);
	if (rc < 0)
		goto unreachable;
	struct aim_env env;
	json_t *send = NULL;
	memset(&env, 0, sizeof(env));
	rc = env_creds(r, key, obj, ks, &m, &env, &send, v);
	if (rc < 0) {
		aim_env_release(&env);
		aim_node_model_release(&m);
		if (rc == -EIO)
			return -1;
		return ks_fail(r, ks, v->reason, v->message);
	}
	int was_found = m.found;
	rc = aim_node_add(r->sock, uri, model, send, &cause);
	if (rc == 0 && send)
		json_object_set_new(ks, "creds_at",
				    json_integer((json_int_t)aim_now_ms()));
	json_decref(send);
	aim_env_release(&env);
	if (rc == -EREMOTEIO) {
		v->state = "Failed";
		v->reason = "SourceError";
		v->message = cause;
		aim_node_model_release(&m);
		return ks_fail(r, ks, v->reason, cause);
	}
	if (rc < 0) {
		aim_node_model_release(&m);
		goto unreachable;
	}
	if (!was_found) {
		aim_node_model_release(&m);
		rc = aim_node_find(r->sock, uri, &m, &cause);
		if (rc < 0)
			goto unreachable;
	}
	if (!m.found) {
		v->state = "Pending";
		v->reason = "Registering";
		return 1000;
	}
	int retry = ks_int(ks, "fails") > 0; /* a retry came due */
	if ((pin && !m.pinned) ||
	    (pin && retry && !strcmp(m.state, "failed"))) {
		rc = aim_node_pin(r->sock, uri, 1, &cause);
		if (rc == -EREMOTEIO) {
			v->state = "Failed";
			v->reason = "PinFailed";
			v->message = cause;
			aim_node_model_release(&m);
			return ks_fail(r, ks, v->reason, cause);
		}
		if (rc < 0) {
			aim_node_model_release(&m);
			goto unreachable;
		}
		aim_log(LOG_INFO, "%s: pinned '%s' on node %s", key, uri,
			r->node);
		aim_node_model_release(&m);
		if (aim_node_find(r->sock, uri, &m, &cause) < 0)
			goto unreachable;
	} else if (!pin && m.pinned && !other_refs(r, key, uri, 1)) {
		if (aim_node_pin(r->sock, uri, 0, &cause) == 0)
			m.pinned = 0;
		free(cause);
		cause = NULL;
	}
	aim_debug("%s: node %s has '%s' %s, %llu of %llu bytes, last read "
		  "%lld",
		  key, r->node, uri, m.state, (unsigned long long)m.cached,
		  (unsigned long long)m.size, (long long)m.last_used);
	v->known = 1;
	v->total = m.size;
	v->done = m.cached;
	v->last_used = m.last_used;
	if (!strcmp(m.state, "failed")) {
		v->state = "Failed";
		v->reason = "DownloadFailed";
		v->message = strdup(m.error ? m.error : "the pull failed");
		delay = ks_fail(r, ks, v->reason, v->message);
	} else if (!strcmp(m.state, "complete") || !pin) {
		v->state = "Available";
		v->reason = pin ? "Cached" : "Registered";
		ks_ok(ks);
		/* nothing watches Secrets: look at spec.env's again in time */
		if (json_array_size(aim_jget(obj, "spec.env")) > 0)
			delay = r->creds_refresh_ms;
	} else {
		v->state = "Progressing";
		v->reason = "Downloading";
		ks_ok(ks);
		delay = r->progress_ms;
	}
	aim_node_model_release(&m);
	return delay;
unreachable:
	aim_log(LOG_WARNING, "%s: %s", key, AIM_STR(cause));
	free(cause);
	return -1;
}

static int int_eq(json_t *o, const char *path, json_int_t want)
{
	json_t *x = aim_jget(o, path);

	return json_is_integer(x) && json_integer_value(x) == want;
}

static int str_eq(json_t *o, const char *path, const char *want)
{
	const char *s = aim_jstr(o, path);

	return s && want && strcmp(s, want) == 0;
}

/* the lastUsed at path in o as seconds, 0 when absent or not a time */
static int64_t last_used_at(json_t *o, const char *path)
{
	int64_t t;

	return aim_rfc3339_parse(aim_jstr(o, path), &t) == 0 && t > 0 ? t : 0;
}

/*
 * Write this node's entry and the aggregate when they changed (lastUsed:
 * by a minute or more, see aim_last_used_due). 0, -EAGAIN (conflict) or
 * -EIO.
 */
static int node_status(struct aim_rec *r, const char *key, const char *path,
		       json_t **obj, struct node_view *v)
{
	json_t *st = aim_jget(*obj, "status");
	json_t *mine_old = json_object_get(aim_jget(st, "nodes"), r->node);
	json_int_t gen =
		json_integer_value(aim_jget(*obj, "metadata.generation"));
	const char *msg = v->message ? v->message : "";
	char now[32], when[32];
	json_t *mine, *nodes, *n, *patch = NULL, *conds;
	const char *k, *agg = NULL, *aggmsg = "";
	char aggbuf[16], aggmsgbuf[256], ckey[17];
	uint64_t total = 0, done = UINT64_MAX;
	int64_t lu_was = last_used_at(mine_old, "lastUsed"), lu, agg_lu = 0;
	int rc = 0;

	aim_cache_key(aim_jstr(*obj, "spec.sourceUri"), ckey);
	/* never back: the daemon may not know (unreachable, a new store) */
	lu = v->last_used > lu_was ? v->last_used : lu_was;
	if (!v->known && mine_old) {
		/* keep the byte counts we reported before */
		v->total = (uint64_t)json_integer_value(
			json_object_get(mine_old, "totalBytes"));
		v->done = (uint64_t)json_integer_value(
			json_object_get(mine_old, "downloadedBytes"));
	}
	mine = json_pack("{s:s, s:I, s:I, s:s, s:s}", "state", v->state,
			 "totalBytes", (json_int_t)v->total, "downloadedBytes",
			 (json_int_t)v->done, "message", msg, "lastUpdateTime",
			 aim_rfc3339(now));
	nodes = json_deep_copy(json_is_object(aim_jget(st, "nodes"))
				       ? aim_jget(st, "nodes")
				       : NULL);
	if (nodes == NULL)
		nodes = json_object();
	if (mine && lu > 0 &&
	    json_object_set_new(mine, "lastUsed",
				json_string(aim_rfc3339_at(lu, when))) < 0) {
		json_decref(mine);
		mine = NULL;
	}
	if (mine == NULL || nodes == NULL) {
		json_decref(mine);
		json_decref(nodes);
		return -ENOMEM;
	}
	json_object_set(nodes, r->node, mine);
	/* the whole: the least advanced node */
	json_object_foreach(nodes, k, n)
	{
		const char *s = json_string_value(json_object_get(n, "state"));
		uint64_t t = (uint64_t)json_integer_value(
			json_object_get(n, "totalBytes"));
		uint64_t d = (uint64_t)json_integer_value(
			json_object_get(n, "downloadedBytes"));
		agg = aim_state_merge(agg, s);
		if (s && !strcmp(s, "Failed") && !*aggmsg)
			aggmsg = AIM_STR(json_string_value(
				json_object_get(n, "message")));
		int64_t u = last_used_at(n, "lastUsed");
		if (t > total)
			total = t;
		if (d < done)
			done = d;
		if (u > agg_lu)
			agg_lu = u;
	}
	/* agg and aggmsg point into nodes, which goes before we are done */
	snprintf(aggbuf, sizeof(aggbuf), "%s", agg ? agg : "Pending");
	snprintf(aggmsgbuf, sizeof(aggmsgbuf), "%s", aggmsg);
	agg = aggbuf;
	aggmsg = aggmsgbuf;
	if (done == UINT64_MAX || done > total)
		done = total;
	int pct = total ? (int)(done * 100 / total)
			: (agg && !strcmp(agg, "Available") ? 100 : 0);

	int same = mine_old && str_eq(mine_old, "state", v->state) &&
		   int_eq(mine_old, "totalBytes", (json_int_t)v->total) &&
		   int_eq(mine_old, "downloadedBytes", (json_int_t)v->done) &&
		   str_eq(mine_old, "message", msg) &&
		   str_eq(st, "status", agg) &&
		   int_eq(st, "progress.downloadedBytes", (json_int_t)done) &&
		   int_eq(st, "progress.totalBytes", (json_int_t)total) &&
		   int_eq(st, "observedGeneration", gen) &&
		   str_eq(st, "cacheKey", ckey);
	/* reads come and go all day: a minute's move is worth a write */
	int lu_due = aim_last_used_due(lu_was, lu) ||
		     aim_last_used_due(last_used_at(st, "lastUsed"), agg_lu);
	same = same && !lu_due;
	if (same && lu > lu_was)
		aim_debug("%s: last read on node %s moved by %llds: not "
			  "written",
			  key, r->node, (long long)(lu - lu_was));
	/*
	 * Only the byte counts moved: our own writes come back as watch
	 * events, so without this every event would be another write.
	 */
	json_t *ks = json_object_get(r->keys, key);
	uint64_t last =
		(uint64_t)json_integer_value(json_object_get(ks, "written"));
	if (!same && !lu_due && mine_old &&
	    str_eq(mine_old, "state", v->state) &&
	    str_eq(st, "status", agg) && str_eq(mine_old, "message", msg) &&
	    aim_now_ms() < last + (uint64_t)r->progress_ms)
		same = 1;
	if (same) {
		json_decref(mine);
		json_decref(nodes);
		return 0;
	}
	char *was =
		aim_jstr(st, "status") ? strdup(aim_jstr(st, "status")) : NULL;
	const char *reason = !strcmp(agg, "Available")	   ? "Available"
			     : !strcmp(agg, "Failed")	   ? v->reason
			     : !strcmp(agg, "Progressing") ? "Downloading"
							   : "Pending";
	char readymsg[256];
	if (!strcmp(agg, "Failed"))
		snprintf(readymsg, sizeof(readymsg), "%s", aggmsg);
	else
		snprintf(readymsg, sizeof(readymsg),
			 "%llu of %llu bytes cached on the least advanced "
			 "node",
			 (unsigned long long)done, (unsigned long long)total);
	conds = aim_conditions_set(aim_jget(st, "conditions"), "Ready",
				   !strcmp(agg, "Available"),
				   reason ? reason : "Failed", readymsg, gen);
	patch = json_pack("{s:{s:o}, s:s, s:{s:I, s:I, s:i}, s:o*, s:I, s:s}",
			  "nodes", r->node, mine, "status", agg, "progress",
			  "totalBytes", (json_int_t)total, "downloadedBytes",
			  (json_int_t)done, "percentage", pct, "conditions",
			  conds, "observedGeneration", gen, "cacheKey", ckey);
	if (patch && agg_lu > 0 &&
	    json_object_set_new(patch, "lastUsed",
				json_string(aim_rfc3339_at(agg_lu, when))) < 0) {
		json_decref(patch);
		patch = NULL;
	}
	json_decref(nodes);
	if (patch == NULL) {
		free(was);
		return -ENOMEM;
	}
	rc = aim_patch(r, path, obj, NULL, patch);
	if (rc == 0 && ks)
		json_object_set_new(ks, "written",
				    json_integer((json_int_t)aim_now_ms()));
	if (rc == 0 && (was == NULL || strcmp(was, agg) != 0)) {
		int bad = !strcmp(agg, "Failed");
		aim_log(bad ? LOG_WARNING : LOG_NOTICE, "%s/%s: %s -> %s%s%s",
			AIM_STR(aim_jstr(*obj, "metadata.namespace")),
			AIM_STR(aim_jstr(*obj, "metadata.name")),
			was ? was : "(new)", agg, bad ? ": " : "",
			bad ? aggmsg : "");
		if (!strcmp(agg, "Available"))
			aim_event(r, *obj, 0, "Available",
				  "%llu bytes of '%s' cached",
				  (unsigned long long)total,
				  aim_jstr(*obj, "spec.sourceUri"));
		else if (bad)
			aim_event(r, *obj, 1, "Failed", "%s", aggmsg);
		else
			aim_event(r, *obj, 0, agg, "%s", readymsg);
	}
	free(was);
	return rc;
}

/* the node's part of a deletion: free the blocks, drop our finalizer */
static int node_delete(struct aim_rec *r, const char *key, const char *path,
		       json_t **obj)
{
	const char *uri = aim_jstr(*obj, "spec.sourceUri");
	char *cause = NULL;
	int rc;

	if (!aim_has_finalizer(*obj, r->node_fin))
		return 0;
	if (other_refs(r, key, uri, 0)) {
		aim_log(LOG_NOTICE,
			"%s: deleted; '%s' stays in the store: "
			"another artifact uses it",
			key, uri);
	} else {
		rc = aim_node_rm(r->sock, uri, &cause);
		if (rc < 0 && rc != -EREMOTEIO) {
			aim_log(LOG_WARNING, "%s: cannot remove '%s': %s", key,
				uri, AIM_STR(cause));
			free(cause);
			return -EIO;
		}
		aim_log(LOG_NOTICE,
			"%s: deleted; '%s' removed from the store "
			"of node %s%s%s",
			key, uri, r->node, cause ? ": " : "",
			cause ? cause : "");
		free(cause);
	}
	json_object_del(r->keys, key);
	return aim_patch_finalizer(r, path, obj, r->node_fin, 0);
}

/* spec.size, or the largest size a node discovered; 0 when unknown */
static uint64_t wanted_size(json_t *obj)
{
	json_t *size = aim_jget(obj, "spec.size"), *n;
	uint64_t bytes = 0;
	const char *k;

	if (json_is_integer(size) && json_integer_value(size) > 0)
		return (uint64_t)json_integer_value(size);
	if (json_is_string(size) &&
	    aim_quantity_parse(json_string_value(size), &bytes) == 0 && bytes)
		return bytes;
	bytes = (uint64_t)json_integer_value(
		aim_jget(obj, "status.progress.totalBytes"));
	json_object_foreach(aim_jget(obj, "status.nodes"), k, n)
	{
		uint64_t t = (uint64_t)json_integer_value(
			json_object_get(n, "totalBytes"));
		if (t > bytes)
			bytes = t;
	}
	return bytes;
}

static void pvc_path(char *buf, size_t len, json_t *obj, const char *name)
{
	snprintf(buf, len, "/api/v1/namespaces/%s/persistentvolumeclaims/%s",
		 AIM_STR(aim_jstr(obj, "metadata.namespace")), name);
}

static void pvc_name(char *buf, size_t len, json_t *obj)
{
	const char *rec = aim_jstr(obj, "status.persistentVolumeClaim");

	if (rec)
		snprintf(buf, len, "%s", rec);
	else
		snprintf(buf, len, "aimfs-%s",
			 AIM_STR(aim_jstr(obj, "metadata.name")));
}

/*
 * Create the PVC or grow it to gib, and say its status.phase ("" when it
 * has none yet) in phase[16]. 0 or -EIO.
 */
static int ensure_pvc(struct aim_rec *r, json_t *obj, const char *name,
		      uint64_t gib, int *created, char *phase)
{
	char path[512], qty[32], *cause = NULL;
	json_t *pvc = NULL, *resp = NULL, *body;
	const char *sc = aim_jstr(obj, "spec.storageClassName");
	uint64_t have = 0;
	int rc;

	*created = 0;
	phase[0] = '\0';
	aim_quantity_gib(gib, qty, sizeof(qty));
	pvc_path(path, sizeof(path), obj, name);
	rc = aim_kube_call(r->kube, "GET", path, NULL, NULL, &pvc, &cause);
	if (rc == 200) {
		const char *cur =
			aim_jstr(pvc, "spec.resources.requests.storage");
		if (cur == NULL || aim_quantity_parse(cur, &have) < 0 ||
		    have < (gib << 30)) {
			body = json_pack("{s:{s:{s:{s:s}}}}", "spec",
					 "resources", "requests", "storage",
					 qty);
			json_decref(resp);
			resp = NULL;
			rc = aim_kube_call(r->kube, "PATCH", path,
					   "application/merge-patch+json", body,
					   &resp, &cause);
			json_decref(body);
			if (rc == 200)
				aim_log(LOG_NOTICE, "PVC %s grown to %s", name,
					qty);
		}
	} else if (rc == 404) {
		char key[17], coll[512];
		aim_cache_key(aim_jstr(obj, "spec.sourceUri"), key);
		body = json_pack(
			"{s:s, s:s, s:{s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, "
			"s:s, s:b, s:b}]}, s:{s:[s], s:{s:{s:s}}, s:s*}}",
			"apiVersion", "v1", "kind", "PersistentVolumeClaim",
			"metadata", "name", name, "labels", AIM_LABEL_ART,
			aim_jstr(obj, "metadata.name"), AIM_LABEL_KEY, key,
			"ownerReferences", "apiVersion", AIM_GV, "kind",
			"AIMArtifact", "name", aim_jstr(obj, "metadata.name"),
			"uid", aim_jstr(obj, "metadata.uid"), "controller", 1,
			"blockOwnerDeletion", 1, "spec", "accessModes",
			"ReadWriteOnce", "resources", "requests", "storage",
			qty, "storageClassName", sc);
		snprintf(coll, sizeof(coll),
			 "/api/v1/namespaces/%s/persistentvolumeclaims",
			 AIM_STR(aim_jstr(obj, "metadata.namespace")));
		rc = body ? aim_kube_call(r->kube, "POST", coll, NULL, body,
					  &resp, &cause)
			  : -ENOMEM;
		json_decref(body);
		if (rc == 201) {
			*created = 1;
			aim_log(LOG_NOTICE, "PVC %s/%s created: %s",
				AIM_STR(aim_jstr(obj, "metadata.namespace")),
				name, qty);
			rc = 200;
		} else if (rc == 409) {
			rc = 200; /* made by someone else meanwhile */
		}
	}
	if (rc != 200)
		aim_log(LOG_WARNING, "PVC %s: %s", name,
			rc < 0 ? AIM_STR(cause)
			       : aim_kube_message(resp ? resp : pvc));
	/* the newest copy: the answer to a write, else the GET's */
	const char *ph = aim_jstr(resp, "status.phase");
	if (ph == NULL && resp == NULL)
		ph = aim_jstr(pvc, "status.phase");
	snprintf(phase, 16, "%s", ph ? ph : "");
	free(cause);
	json_decref(pvc);
	json_decref(resp);
	return rc == 200 ? 0 : -EIO;
}

/*
 * The leader's part: finalizer, PVC, and the StorageReady condition from
 * the PVC's phase. *unbound is set while the PVC is not Bound, so the
 * caller looks again (nothing watches PVCs). 0 or an error as aim_patch.
 */
static int cluster_sync(struct aim_rec *r, const char *path, json_t **obj,
			int *unbound)
{
	char name[300], qty[32], phase[16];
	uint64_t bytes, gib;
	int rc, created;

	*unbound = 0;
	if (!aim_has_finalizer(*obj, AIM_FIN_PVC)) {
		rc = aim_patch_finalizer(r, path, obj, AIM_FIN_PVC, 1);
		if (rc < 0)
			return rc;
	}
	bytes = wanted_size(*obj);
	if (bytes == 0)
		return 0; /* sized once a node has registered the source */
	gib = aim_pvc_gib(bytes, r->headroom);
	aim_quantity_gib(gib, qty, sizeof(qty));
	pvc_name(name, sizeof(name), *obj);
	if ((rc = ensure_pvc(r, *obj, name, gib, &created, phase)) < 0)
		return rc;
	if (created)
		aim_event(r, *obj, 0, "PVCCreated",
			  "PersistentVolumeClaim %s of %s (%llu bytes + %u%%)",
			  name, qty, (unsigned long long)bytes, r->headroom);
	/*
	 * Ready only once a volume is bound to the claim. Pending is also
	 * what a WaitForFirstConsumer class shows until a pod uses the claim.
	 */
	int bound = !strcmp(phase, "Bound");
	int ok = bound ? 1 : !strcmp(phase, "") ? -1 : 0;
	const char *reason = bound		     ? "Bound"
			     : !strcmp(phase, "")    ? "PhaseUnknown"
			     : !strcmp(phase, "Lost") ? "Lost"
						      : "Pending";
	char msg[512];
	if (bound)
		snprintf(msg, sizeof(msg),
			 "PersistentVolumeClaim %s requests %s and is Bound",
			 name, qty);
	else
		snprintf(msg, sizeof(msg),
			 "PersistentVolumeClaim %s requests %s and is %s: no "
			 "volume bound to it yet (a WaitForFirstConsumer "
			 "storage class binds only once a pod uses the claim)",
			 name, qty, *phase ? phase : "without a phase");
	*unbound = !bound;
	json_t *st = aim_jget(*obj, "status"), *c, *mine = NULL;
	size_t i;
	json_array_foreach(aim_jget(st, "conditions"), i, c)
	{
		if (aim_streq(aim_jstr(c, "type"), "StorageReady"))
			mine = c;
	}
	const char *want = ok < 0 ? "Unknown" : ok ? "True" : "False";
	int was_ready = aim_streq(aim_jstr(mine, "status"), "True");
	if (str_eq(st, "persistentVolumeClaim", name) &&
	    str_eq(st, "allocatedSize", qty) &&
	    int_eq(st, "headroomPercent", r->headroom) &&
	    aim_streq(aim_jstr(mine, "status"), want) &&
	    aim_streq(aim_jstr(mine, "reason"), reason) &&
	    aim_streq(aim_jstr(mine, "message"), msg))
		return 0;
	json_t *conds = aim_conditions_set(
		aim_jget(st, "conditions"), "StorageReady", ok, reason, msg,
		json_integer_value(aim_jget(*obj, "metadata.generation")));
	json_t *patch =
		json_pack("{s:s, s:s, s:i, s:o*}", "persistentVolumeClaim",
			  name, "allocatedSize", qty, "headroomPercent",
			  (int)r->headroom, "conditions", conds);
	rc = patch ? aim_patch(r, path, obj, NULL, patch) : -ENOMEM;
	if (rc == 0 && bound && !was_ready)
		aim_event(r, *obj, 0, "StorageReady",
			  "PersistentVolumeClaim %s is Bound", name);
	return rc;
}

static int cluster_delete(struct aim_rec *r, const char *path, json_t **obj)
{
	char name[300], ppath[512], *cause = NULL;
	json_t *resp = NULL;
	int rc;

	if (!aim_has_finalizer(*obj, AIM_FIN_PVC))
		return 0;
	pvc_name(name, sizeof(name), *obj);
	pvc_path(ppath, sizeof(ppath), *obj, name);
	rc = aim_kube_call(r->kube, "DELETE", ppath, NULL, NULL, &resp, &cause);
	if (rc != 200 && rc != 202 && rc != 404) {
		aim_log(LOG_WARNING, "cannot delete PVC %s: %s", name,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
		free(cause);
		json_decref(resp);
		return -EIO;
	}
	if (rc != 404)
		aim_log(LOG_NOTICE, "PVC %s/%s deleted with its artifact",
			AIM_STR(aim_jstr(*obj, "metadata.namespace")), name);
	free(cause);
	json_decref(resp);
	return aim_patch_finalizer(r, path, obj, AIM_FIN_PVC, 0);
}

/* one pass; -EAGAIN asks for a fresh copy and another pass */
static int artifact_once(struct aim_rec *r, const char *key, json_t **obj,
			 long *requeue)
{
	char path[768];
	int rc;

	*requeue = 0;
	if (aim_jstr(*obj, "spec.sourceUri") == NULL)
		return 0;
	aim_obj_path(path, sizeof(path), "aimartifacts", *obj);
	if (aim_jget(*obj, "metadata.deletionTimestamp")) {
		rc = node_delete(r, key, path, obj);
		if (rc == 0 && aim_rec_leader(r))
			rc = cluster_delete(r, path, obj);
		/* what a departed node's finalizer would block for ever */
		if (rc == 0 && aim_rec_leader(r))
			rc = aim_rec_prune_nodes(r, path, obj);
		if (rc == -EIO)
			*requeue = r->retry_base_ms;
		return rc == -ENOENT ? 0 : rc;
	}
	if (!aim_has_finalizer(*obj, r->node_fin)) {
		rc = aim_patch_finalizer(r, path, obj, r->node_fin, 1);
		if (rc < 0)
			return rc == -ENOENT ? 0 : rc;
	}
	struct node_view v = {0};
	if (aim_jstr(*obj, "status.status") == NULL) {
		/* say it was seen before the first (slower) daemon calls */
		v.state = "Pending";
		v.reason = "Registering";
		rc = node_status(r, key, path, obj, &v);
		if (rc < 0)
			return rc == -ENOENT ? 0 : rc;
	}
	long delay = node_drive(r, key, *obj, &v);
	if (delay < 0) {
		/* the daemon is unreachable: try again soon */
		*requeue = r->retry_base_ms;
	} else {
		*requeue = delay;
		rc = node_status(r, key, path, obj, &v);
		free(v.message);
		if (rc < 0)
			return rc == -ENOENT ? 0 : rc;
	}
	if (aim_rec_leader(r)) {
		int unbound = 0;
		rc = cluster_sync(r, path, obj, &unbound);
		if ((rc == -EIO || unbound) &&
		    (*requeue == 0 || *requeue > r->retry_base_ms))
			*requeue = r->retry_base_ms;
		if (rc < 0 && rc != -EIO)
			return rc == -ENOENT ? 0 : rc;
		rc = aim_rec_prune_nodes(r, path, obj);
		if (rc < 0 && rc != -EIO)
			return rc == -ENOENT ? 0 : rc;
	}
	return 0;
}

long aim_rec_artifact(struct aim_rec *r, const char *key)
{
	json_t *obj = aim_informer_get(r->arts, key);
	char path[768];
	long requeue = 0;
	int attempt, rc = 0;

	for (attempt = 0; obj && attempt < 5; attempt++) {
		rc = artifact_once(r, key, &obj, &requeue);
		if (rc != -EAGAIN)
			break;
		aim_obj_path(path, sizeof(path), "aimartifacts", obj);
		json_decref(obj);
		if (aim_fetch(r, path, &obj) < 0)
			obj = NULL;
	}
	if (rc == -EAGAIN)
		requeue = 500;
	/* a write the API server refused (5xx, timeout): try again soon */
	if (rc == -EIO && (requeue == 0 || requeue > r->retry_base_ms))
		requeue = r->retry_base_ms;
	json_decref(obj);
	return requeue;
}
