/*
 * departed.c - the Lease holder's cleanup after nodes that left the
 * cluster for good. A node's reconciler puts its finalizer
 * node.aimfs.io/<node> on every artifact and its entry in status.nodes;
 * once the Node object is gone nobody would remove them, and a deleted
 * artifact would wait forever. The holder drops both for nodes that are
 * not among the cluster's Nodes.
 *
 * Safety: nothing is dropped unless the Node list was read just now
 * (a node that joined since the last look is then in it) and holds this
 * replica's own node, so a reconciler whose --node is not a Node name
 * (or an API server without Nodes) prunes nothing. The worker calls
 * aim_rec_nodes_tick() every node_interval_ms to notice departures and
 * queue every artifact then.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube.h"
#include "rec.h"
#include "src/log.h"
#include "src/util.h"

#define FIN_PREFIX "node.aimfs.io/"

/* list the Nodes into r->nodes; 0 or -EIO (r->nodes is then kept) */
static int list_nodes(struct aim_rec *r)
{
	json_t *resp = NULL, *items, *n, *set;
	char *cause = NULL;
	size_t i;
	int rc;

	rc = aim_kube_call(r->kube, "GET", "/api/v1/nodes", NULL, NULL, &resp,
			   &cause);
	items = json_object_get(resp, "items");
	if (rc != 200 || !json_is_array(items)) {
		aim_log(LOG_WARNING, "cannot list the Nodes: %s",
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
		free(cause);
		json_decref(resp);
		return -EIO;
	}
	if ((set = json_object()) == NULL) {
		json_decref(resp);
		return -ENOMEM;
	}
	json_array_foreach(items, i, n)
	{
		const char *name = aim_jstr(n, "metadata.name");
		if (name)
			json_object_set_new(set, name, json_true());
	}
	json_decref(r->nodes);
	r->nodes = set;
	r->nodes_at = aim_now_ms();
	json_decref(resp);
	if (!json_object_get(set, r->node) && !r->nodes_warned) {
		aim_log(LOG_WARNING,
			"this node '%s' is not among the %zu Nodes: the "
			"finalizers of departed nodes are left alone",
			r->node, json_object_size(set));
		r->nodes_warned = 1;
	}
	return 0;
}

int aim_node_known(json_t *nodes, const char *fin_name)
{
	const char *k;
	json_t *v;

	if (json_object_get(nodes, fin_name))
		return 1;
	/* a long node name stands in a finalizer as its cache key */
	json_object_foreach(nodes, k, v)
	{
		char key[17];
		if (strlen(k) <= 63)
			continue;
		aim_cache_key(k, key);
		if (strcmp(key, fin_name) == 0)
			return 1;
	}
	return 0;
}

void aim_rec_nodes_tick(struct aim_rec *r, void (*queue_all)(void))
{
	json_t *before = json_incref(r->nodes);
	const char *k;
	json_t *v;
	int gone = 0;

	if (list_nodes(r) == 0 && before &&
	    json_object_get(r->nodes, r->node)) {
		json_object_foreach(before, k, v)
		{
			if (!json_object_get(r->nodes, k)) {
				aim_log(LOG_NOTICE,
					"Node %s left the cluster: looking "
					"for its finalizers and status",
					k);
				gone = 1;
			}
		}
	}
	json_decref(before);
	if (gone)
		queue_all();
}

/*
 * The finalizers and status.nodes entries of *obj that name departed
 * nodes, by r->nodes: into fins (kept finalizers), drop_fins (count) and
 * drop_nodes (an object name -> null for a merge patch).
 */
static void stale(struct aim_rec *r, json_t *obj, json_t *fins,
		  size_t *drop_fins, json_t *drop_nodes)
{
	json_t *f, *n;
	const char *k;
	size_t i;

	*drop_fins = 0;
	json_array_clear(fins);
	json_object_clear(drop_nodes);
	json_array_foreach(aim_jget(obj, "metadata.finalizers"), i, f)
	{
		const char *s = json_string_value(f);
		if (s && strncmp(s, FIN_PREFIX, strlen(FIN_PREFIX)) == 0 &&
		    strcmp(s, r->node_fin) != 0 &&
		    !aim_node_known(r->nodes, s + strlen(FIN_PREFIX))) {
			(*drop_fins)++;
			continue;
		}
		json_array_append(fins, f);
	}
	json_object_foreach(aim_jget(obj, "status.nodes"), k, n)
	{
		if (strcmp(k, r->node) != 0 && !json_object_get(r->nodes, k))
			json_object_set_new(drop_nodes, k, json_null());
	}
}

int aim_rec_prune_nodes(struct aim_rec *r, const char *path, json_t **obj)
{
	json_t *fins = json_array(), *drop = json_object();
	size_t nfins = 0;
	int rc = 0;

	if (fins == NULL || drop == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (r->nodes == NULL && list_nodes(r) < 0)
		goto out;
	stale(r, *obj, fins, &nfins, drop);
	if (nfins == 0 && json_object_size(drop) == 0)
		goto out;
	/* act only on a fresh look: a node may have joined meanwhile */
	if (aim_now_ms() > r->nodes_at + 1000 && list_nodes(r) < 0)
		goto out;
	if (!json_object_get(r->nodes, r->node))
		goto out;
	stale(r, *obj, fins, &nfins, drop);
	if (json_object_size(drop) > 0) {
		char *names = NULL;
		const char *k;
		json_t *v;
		json_object_foreach(drop, k, v)
		{
			char *nn = NULL;
			if (asprintf(&nn, "%s%s%s", names ? names : "",
				     names ? ", " : "", k) < 0)
				nn = NULL;
			free(names);
			names = nn;
		}
		rc = aim_patch(r, path, obj, NULL,
			       json_pack("{s:O}", "nodes", drop));
		if (rc == 0) {
			aim_log(LOG_NOTICE,
				"%s/%s: dropped the status of departed "
				"node(s) %s",
				AIM_STR(aim_jstr(*obj, "metadata.namespace")),
				AIM_STR(aim_jstr(*obj, "metadata.name")),
				AIM_STR(names));
			aim_event(r, *obj, 0, "NodeGone",
				  "dropped the status of departed node(s) %s",
				  AIM_STR(names));
		}
		free(names);
		if (rc < 0)
			goto out;
		stale(r, *obj, fins, &nfins, drop);
	}
	if (nfins > 0) {
		json_t *keep = json_incref(fins);
		rc = aim_patch(r, path, obj,
			       json_pack("{s:o}", "finalizers", keep), NULL);
		if (rc == 0)
			aim_log(LOG_NOTICE,
				"%s/%s: dropped %zu finalizer(s) of departed "
				"nodes",
				AIM_STR(aim_jstr(*obj, "metadata.namespace")),
				AIM_STR(aim_jstr(*obj, "metadata.name")),
				nfins);
	}
out:
	json_decref(fins);
	json_decref(drop);
	return rc;
}
