/*
 * rec.h - the reconcile logic of aimfs-reconciler, shared by its modules:
 * artifact.c (AIMArtifact: node duties, then the leader's PVC duties),
 * template.c (AIMTemplateCache: the leader's), and status.c (helpers that
 * write status, metadata and Events).
 *
 * Threads: the informers and the lease call back into main.c, which only
 * queues keys; every reconcile runs on the one worker thread, so the
 * per-key memory in struct aim_rec needs no lock.
 *
 * Writes carry the resourceVersion of the object they were computed from
 * (merge patches with metadata.resourceVersion); a 409 makes the helper
 * return -EAGAIN and the reconcile starts over from a fresh GET.
 */
#ifndef AIM_REC_H
#define AIM_REC_H

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#define AIM_GV	      "aimfs.io/v1alpha1"
#define AIM_API	      "/apis/aimfs.io/v1alpha1"
#define AIM_FIN_PVC   "aimfs.io/pvc"
#define AIM_FIN_TC    "aimfs.io/template-cache"
#define AIM_LABEL_TC  "aimfs.io/template-cache"
#define AIM_LABEL_KEY "aimfs.io/source-key"
#define AIM_LABEL_ART "aimfs.io/artifact"

struct aim_kube;
struct aim_informer;
struct aim_queue;
struct aim_lease;

struct aim_rec {
	struct aim_kube *kube;
	struct aim_informer *arts, *tcs;
	struct aim_queue *q;
	struct aim_lease *lease;
	const char *sock;     /* the node daemon's control socket */
	const char *node;     /* this node's name */
	const char *identity; /* for the lease and Events */
	unsigned int headroom;
	long progress_ms; /* status writes while downloading */
	long retry_base_ms, retry_max_ms;
	long creds_refresh_ms; /* how long spec.env's Secrets are trusted */
	char daemon_instance[33]; /* worker only: the node daemon's, "" */
	char node_fin[96]; /* node.aimfs.io/<node> */
	json_t *keys;	   /* worker only: key -> {fails, retry_at, ...} */
	long node_interval_ms; /* how often the leader lists the Nodes */
	json_t *nodes;	       /* worker only: Node name -> true, or NULL */
	uint64_t nodes_at;     /* worker only: when listed (aim_now_ms) */
	int nodes_warned;      /* worker only: our node is not a Node */
};

/* one reconcile of "namespace/name"; returns ms until the next one, 0: none */
long aim_rec_artifact(struct aim_rec *r, const char *key);
long aim_rec_template(struct aim_rec *r, const char *key);

/* 1 when this replica may do the cluster duties */
int aim_rec_leader(struct aim_rec *r);

/* --- departed.c: finalizers and status of nodes that left ------------ */

/* list the Nodes; call queue_all when one left since the last look */
void aim_rec_nodes_tick(struct aim_rec *r, void (*queue_all)(void));

/*
 * Drop the finalizers and status.nodes entries of *obj that belong to
 * nodes no longer in the cluster (the leader only). 0 or an error as
 * aim_patch; *obj is replaced by what the API server answered.
 */
int aim_rec_prune_nodes(struct aim_rec *r, const char *path, json_t **obj);

/*
 * 1 when fin_name (a finalizer's part after node.aimfs.io/: a node name,
 * or the cache key of a name longer than 63) is one of nodes (name ->
 * anything)
 */
int aim_node_known(json_t *nodes, const char *fin_name);

/* --- status.c ----------------------------------------------------------- */

/* the value at a dotted path ("metadata.name"), borrowed; NULL if absent */
json_t *aim_jget(json_t *o, const char *path);
const char *aim_jstr(json_t *o, const char *path);

/* "2024-01-02T03:04:05Z" (now) into buf of 32 bytes */
const char *aim_rfc3339(char *buf);
/* the same of t (seconds since the epoch) */
const char *aim_rfc3339_at(int64_t t, char *buf);
/*
 * An RFC 3339 date-time ("2024-01-02T03:04:05Z", with a fraction or an
 * offset too) into seconds since the epoch: 0, or -EINVAL when s (which
 * may be NULL) is not one
 */
int aim_rfc3339_parse(const char *s, int64_t *t);

/*
 * 1 when a last use at now (seconds; 0: none) is worth a status write over
 * the recorded was (0: none): it is the first, or a minute or more later.
 * Reads that close together change nothing anyone decides on.
 */
int aim_last_used_due(int64_t was, int64_t now);

/* "/apis/aimfs.io/v1alpha1/namespaces/NS/PLURAL/NAME" into buf */
const char *aim_obj_path(char *buf, size_t len, const char *plural,
			 json_t *obj);

/* the first 16 hex digits of the SHA-256 of uri into out[17] */
void aim_cache_key(const char *uri, char out[17]);

/* a DNS-1123 name (at most 63 characters) made of s, into buf */
const char *aim_dns_name(const char *s, char *buf, size_t len);

int aim_has_finalizer(json_t *obj, const char *fin);

/* GET path into *obj (caller frees): 0, -ENOENT or -EIO */
int aim_fetch(struct aim_rec *r, const char *path, json_t **obj);

/*
 * Merge-patch path (or path + "/status" when status is set) with
 * metadata.resourceVersion of *obj. meta and status are stolen and may be
 * NULL. On success *obj is replaced by the answer. 0, -EAGAIN on a 409,
 * -ENOENT when the object is gone, -EIO otherwise (logged).
 */
int aim_patch(struct aim_rec *r, const char *path, json_t **obj, json_t *meta,
	      json_t *status);

/* add (add=1) or remove fin from *obj's finalizers: as aim_patch */
int aim_patch_finalizer(struct aim_rec *r, const char *path, json_t **obj,
			const char *fin, int add);

/*
 * A copy of conds with condition type set to (ok, reason, message), ok
 * being 1 (True), 0 (False) or -1 (Unknown): lastTransitionTime is kept
 * when the condition's status did not change. NULL on allocation failure.
 */
json_t *aim_conditions_set(json_t *conds, const char *type, int ok,
			   const char *reason, const char *message,
			   json_int_t generation);

/* a core/v1 Event about obj; failures are logged and otherwise ignored */
void aim_event(struct aim_rec *r, json_t *obj, int warning, const char *reason,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* both NULL or equal */
static inline int aim_streq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* aggregate of several states: Failed > Pending/Progressing mix > Available */
const char *aim_state_merge(const char *a, const char *b);

#endif
