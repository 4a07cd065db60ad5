/*
 * template.c - reconcile one AIMTemplateCache (the Lease holder only).
 *
 * For each spec.modelSources[i] the template cache needs an AIMArtifact in
 * its namespace:
 *   - Shared (the default): any live Shared artifact of the namespace with
 *     the same sourceUri is reused, and the template cache adds itself to
 *     its ownerReferences (controller: false); otherwise one is created,
 *     named <cache>-<source>, labelled aimfs.io/template-cache=<cache>.
 *   - Dedicated: the artifact <cache>-<source> is created with the template
 *     cache as its controller; one of that name owned by someone else is a
 *     conflict, reported in the status.
 * Status aggregates the artifacts': Failed if one failed, Available when
 * all are, Progressing when some are on their way, else Pending; byte
 * progress summed; "ready" is available/total.
 *
 * Deletion (finalizer aimfs.io/template-cache): an artifact it created and
 * owns alone is deleted unless it is Available; every other artifact (an
 * Available one, one another template cache also owns, one the user made)
 * only loses this owner reference, so the garbage collector keeps it.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "rec.h"
#include "src/log.h"
#include "watch.h"

static int owned_by(json_t *obj, const char *uid, int controller)
{
	json_t *ref;
	size_t i;

	json_array_foreach(aim_jget(obj, "metadata.ownerReferences"), i, ref)
	{
		const char *u = json_string_value(json_object_get(ref, "uid"));
		if (u && strcmp(u, uid) == 0 &&
		    (!controller ||
		     json_is_true(json_object_get(ref, "controller"))))
			return 1;
	}
	return 0;
}

static json_t *owner_ref(json_t *tc, int controller)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "apiVersion", AIM_GV,
			 "kind", "AIMTemplateCache", "name",
			 aim_jstr(tc, "metadata.name"), "uid",
			 aim_jstr(tc, "metadata.uid"), "controller", controller,
			 "blockOwnerDeletion", controller);
}

/* the owner references of art with (add) or without the template cache */
static int set_owner(struct aim_rec *r, json_t *art, json_t *tc, int add)
{
	const char *uid = aim_jstr(tc, "metadata.uid");
	json_t *refs = json_array(), *ref, *copy = json_deep_copy(art);
	char path[768];
	size_t i;

	if (refs == NULL || copy == NULL) {
		json_decref(refs);
		json_decref(copy);
		return -ENOMEM;
	}
	json_array_foreach(aim_jget(art, "metadata.ownerReferences"), i, ref)
	{
		const char *u = json_string_value(json_object_get(ref, "uid"));
		if (u == NULL || strcmp(u, uid) != 0)
			json_array_append(refs, ref);
	}
	if (add)
		json_array_append_new(refs, owner_ref(tc, 0));
	aim_obj_path(path, sizeof(path), "aimartifacts", art);
	int rc = aim_patch(r, path, &copy,
			   json_pack("{s:o}", "ownerReferences", refs), NULL);
	json_decref(copy);
	return rc;
}

/* the live Shared artifact of ns for uri, preferring the name want */
static json_t *find_shared(json_t *all, const char *ns, const char *uri,
			   const char *want)
{
	json_t *o, *best = NULL;
	const char *k;

	json_object_foreach(all, k, o)
	{
		const char *u = aim_jstr(o, "spec.sourceUri");
		const char *m = aim_jstr(o, "spec.mode");
		const char *n = aim_jstr(o, "metadata.namespace");
		if (!u || !n || strcmp(u, uri) || strcmp(n, ns) ||
		    (m && !strcmp(m, "Dedicated")) ||
		    aim_jget(o, "metadata.deletionTimestamp"))
			continue;
		if (best == NULL ||
		    !strcmp(AIM_STR(aim_jstr(o, "metadata.name")), want))
			best = o;
	}
	return best;
}

static int create_artifact(struct aim_rec *r, json_t *tc, json_t *src,
			   const char *name, int dedicated)
{
	const char *ns = aim_jstr(tc, "metadata.namespace");
	const char *uri = json_string_value(json_object_get(src, "sourceUri"));
	char path[512], key[17], label[64], *cause = NULL;
	json_t *body, *spec, *resp = NULL;
	int rc;

	aim_cache_key(uri, key);
	aim_dns_name(aim_jstr(tc, "metadata.name"), label, sizeof(label));
	spec = json_pack("{s:s, s:s, s:b}", "sourceUri", uri, "mode",
			 dedicated ? "Dedicated" : "Shared", "pin", 1);
	if (spec == NULL)
		return -ENOMEM;
	if (json_object_get(src, "modelId"))
		json_object_set(spec, "modelId",
				json_object_get(src, "modelId"));
	if (json_object_get(src, "size"))
		json_object_set(spec, "size", json_object_get(src, "size"));
	if (aim_jget(tc, "spec.storageClassName"))
		json_object_set(spec, "storageClassName",
				aim_jget(tc, "spec.storageClassName"));
	body = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:[o]}, s:o}",
			 "apiVersion", AIM_GV, "kind", "AIMArtifact",
			 "metadata", "name", name, "namespace", ns, "labels",
			 AIM_LABEL_TC, label, AIM_LABEL_KEY, key,
			 "ownerReferences", owner_ref(tc, dedicated), "spec",
			 spec);
	if (body == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), AIM_API "/namespaces/%s/aimartifacts", ns);
	rc = aim_kube_call(r->kube, "POST", path, NULL, body, &resp, &cause);
	if (rc == 201)
		aim_log(LOG_NOTICE, "%s/%s: created artifact %s (%s) for '%s'",
			ns, aim_jstr(tc, "metadata.name"), name,
			dedicated ? "Dedicated" : "Shared", uri);
	else
		aim_log(LOG_WARNING, "%s/%s: cannot create artifact %s: %s", ns,
			aim_jstr(tc, "metadata.name"), name,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
	free(cause);
	json_decref(resp);
	json_decref(body);
	return rc == 201 ? 0 : rc == 409 ? -EAGAIN : -EIO;
}

static int template_delete(struct aim_rec *r, const char *path, json_t **tc)
{
	const char *uid = aim_jstr(*tc, "metadata.uid");
	const char *tcname = aim_jstr(*tc, "metadata.name");
	const char *ns = aim_jstr(*tc, "metadata.namespace");
	json_t *all, *o; /* the strings above live until *tc is patched */
	const char *k;
	char label[64];
	int rc = 0;

	if (!aim_has_finalizer(*tc, AIM_FIN_TC))
		return 0;
	all = aim_informer_snapshot(r->arts);
	if (all == NULL)
		return -ENOMEM;
	aim_dns_name(tcname, label, sizeof(label));
	json_object_foreach(all, k, o)
	{
		if (!aim_streq(aim_jstr(o, "metadata.namespace"), ns) ||
		    !owned_by(o, uid, 0))
			continue;
		const char *st = aim_jstr(o, "status.status");
		int available = st && !strcmp(st, "Available");
		int shared = json_array_size(aim_jget(
				     o, "metadata.ownerReferences")) > 1;
		int ours = aim_streq(
			json_string_value(json_object_get(
				aim_jget(o, "metadata.labels"), AIM_LABEL_TC)),
			label);
		if (available || shared || !ours) {
			rc = set_owner(r, o, *tc, 0);
			aim_log(LOG_NOTICE,
				"%s: %s/%s deleted; artifact %s kept "
				"(%s)",
				k, ns, tcname, aim_jstr(o, "metadata.name"),
				available ? "Available"
				: shared  ? "used by another template cache"
					  : "not created by it");
		} else {
			char apath[768], *cause = NULL;
			json_t *resp = NULL;
			aim_obj_path(apath, sizeof(apath), "aimartifacts", o);
			int h = aim_kube_call(r->kube, "DELETE", apath, NULL,
					      NULL, &resp, &cause);
			if (h != 200 && h != 202 && h != 404) {
				aim_log(LOG_WARNING, "cannot delete %s: %s",
					apath,
					h < 0 ? AIM_STR(cause)
					      : aim_kube_message(resp));
				rc = -EIO;
			} else {
				aim_log(LOG_NOTICE,
					"%s/%s deleted; artifact %s "
					"deleted (%s)",
					ns, tcname,
					aim_jstr(o, "metadata.name"),
					st ? st : "Pending");
			}
			free(cause);
			json_decref(resp);
		}
		if (rc < 0)
			break;
	}
	json_decref(all);
	if (rc < 0)
		return rc == -EAGAIN ? -EIO : rc;
	return aim_patch_finalizer(r, path, tc, AIM_FIN_TC, 0);
}

static int template_once(struct aim_rec *r, json_t **tc, long *requeue)
{
	/* copies: every write replaces *tc */
	char ns[254], tcname[254], uid[64];
	const char *mode = aim_jstr(*tc, "spec.mode");
	int dedicated = mode && !strcmp(mode, "Dedicated");
	json_t *all = NULL, *src, *entries = NULL, *st, *patch;
	const char *agg = NULL, *failmsg = NULL;
	uint64_t total = 0, done = 0;
	char path[768];
	size_t i, avail = 0, n = 0;
	int rc;

	*requeue = 0;
	snprintf(ns, sizeof(ns), "%s",
		 AIM_STR(aim_jstr(*tc, "metadata.namespace")));
	snprintf(tcname, sizeof(tcname), "%s",
		 AIM_STR(aim_jstr(*tc, "metadata.name")));
	snprintf(uid, sizeof(uid), "%s",
		 AIM_STR(aim_jstr(*tc, "metadata.uid")));
	aim_obj_path(path, sizeof(path), "aimtemplatecaches", *tc);
	if (aim_jget(*tc, "metadata.deletionTimestamp")) {
		rc = template_delete(r, path, tc);
		if (rc == -EIO)
			*requeue = r->retry_base_ms;
		return rc == -ENOENT || rc == -EIO ? 0 : rc;
	}
	if (!aim_has_finalizer(*tc, AIM_FIN_TC) &&
	    (rc = aim_patch_finalizer(r, path, tc, AIM_FIN_TC, 1)) < 0)
		return rc == -ENOENT ? 0 : rc;
	all = aim_informer_snapshot(r->arts);
	entries = json_array();
	if (all == NULL || entries == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	json_array_foreach(aim_jget(*tc, "spec.modelSources"), i, src)
	{
		const char *sname =
			json_string_value(json_object_get(src, "name"));
		const char *uri =
			json_string_value(json_object_get(src, "sourceUri"));
		char full[300], name[64], key[512];
		json_t *art;
		const char *ast = "Pending";

		if (sname == NULL || uri == NULL)
			continue;
		snprintf(full, sizeof(full), "%s-%s", tcname, sname);
		aim_dns_name(full, name, sizeof(name));
		snprintf(key, sizeof(key), "%s/%s", ns, name);
		art = dedicated ? json_object_get(all, key)
				: find_shared(all, ns, uri, name);
		n++;
		if (art && dedicated && !owned_by(art, uid, 1)) {
			ast = "Failed";
			failmsg = "an artifact of that name belongs to "
				  "someone else";
			aim_log(LOG_WARNING,
				"%s/%s: artifact %s exists and is "
				"not owned by it",
				ns, tcname, name);
		} else if (art) {
			if (!owned_by(art, uid, 0) &&
			    (rc = set_owner(r, art, *tc, 1)) < 0) {
				*requeue = 500;
				rc = 0;
			}
			snprintf(name, sizeof(name), "%s",
				 AIM_STR(aim_jstr(art, "metadata.name")));
			if (aim_jstr(art, "status.status"))
				ast = aim_jstr(art, "status.status");
			total += (uint64_t)json_integer_value(
				aim_jget(art, "status.progress.totalBytes"));
			done += (uint64_t)json_integer_value(aim_jget(
				art, "status.progress.downloadedBytes"));
			if (!strcmp(ast, "Failed") && failmsg == NULL)
				failmsg = "an artifact failed";
		} else {
			rc = create_artifact(r, *tc, src, name, dedicated);
			if (rc == -EAGAIN || rc == -EIO)
				*requeue =
					rc == -EAGAIN ? 500 : r->retry_base_ms;
			else if (rc < 0)
				goto out;
			rc = 0;
		}
		if (!strcmp(ast, "Available"))
			avail++;
		agg = aim_state_merge(agg, ast);
		json_array_append_new(
			entries, json_pack("{s:s, s:s, s:s}", "name", name,
					   "sourceUri", uri, "status", ast));
	}
	if (agg == NULL)
		agg = "Pending";
	char ready[48], msg[160];
	snprintf(ready, sizeof(ready), "%zu/%zu", avail, n);
	snprintf(msg, sizeof(msg), "%zu of %zu artifacts available%s%s", avail,
		 n, failmsg ? ": " : "", failmsg ? failmsg : "");
	st = aim_jget(*tc, "status");
	json_int_t gen =
		json_integer_value(aim_jget(*tc, "metadata.generation"));
	if (aim_streq(aim_jstr(st, "status"), agg) &&
	    aim_streq(aim_jstr(st, "ready"), ready) &&
	    json_equal(aim_jget(st, "artifacts"), entries) &&
	    json_integer_value(aim_jget(st, "progress.downloadedBytes")) ==
		    (json_int_t)done &&
	    json_integer_value(aim_jget(st, "progress.totalBytes")) ==
		    (json_int_t)total &&
	    json_integer_value(aim_jget(st, "observedGeneration")) == gen) {
		rc = 0;
		goto out;
	}
	char *was =
		aim_jstr(st, "status") ? strdup(aim_jstr(st, "status")) : NULL;
	json_t *conds = aim_conditions_set(
		aim_jget(st, "conditions"), "Ready", !strcmp(agg, "Available"),
		!strcmp(agg, "Available") ? "Available"
		: !strcmp(agg, "Failed")  ? "ArtifactFailed"
					  : agg,
		msg, gen);
	patch = json_pack(
		"{s:s, s:s, s:{s:I, s:I, s:i}, s:O, s:o*, s:I}", "status", agg,
		"ready", ready, "progress", "totalBytes", (json_int_t)total,
		"downloadedBytes", (json_int_t)done, "percentage",
		total ? (int)(done * 100 / total) : 0, "artifacts", entries,
		"conditions", conds, "observedGeneration", gen);
	rc = patch ? aim_patch(r, path, tc, NULL, patch) : -ENOMEM;
	if (rc == 0 && (was == NULL || strcmp(was, agg) != 0)) {
		aim_log(LOG_NOTICE, "%s/%s: %s -> %s (%s)", ns, tcname,
			was ? was : "(new)", agg, msg);
		aim_event(r, *tc, !strcmp(agg, "Failed"), agg, "%s", msg);
	}
	free(was);
	if (rc == -ENOENT)
		rc = 0;
out:
	json_decref(all);
	json_decref(entries);
	return rc;
}

long aim_rec_template(struct aim_rec *r, const char *key)
{
	json_t *tc;
	char path[768];
	long requeue = 0;
	int attempt, rc = 0;

	if (!aim_rec_leader(r))
		return 0;
	tc = aim_informer_get(r->tcs, key);
	for (attempt = 0; tc && attempt < 5; attempt++) {
		rc = template_once(r, &tc, &requeue);
		if (rc != -EAGAIN)
			break;
		aim_obj_path(path, sizeof(path), "aimtemplatecaches", tc);
		json_decref(tc);
		if (aim_fetch(r, path, &tc) < 0)
			tc = NULL;
	}
	if (rc == -EAGAIN)
		requeue = 500;
	/* a write the API server refused (5xx, timeout): try again soon */
	if (rc == -EIO && (requeue == 0 || requeue > r->retry_base_ms))
		requeue = r->retry_base_ms;
	json_decref(tc);
	return requeue;
}
