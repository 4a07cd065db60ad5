/*
 * watch.h - an informer: a thread that lists a collection, then watches it
 * from the list's resourceVersion (with bookmarks), keeps an in-memory copy
 * of every object, and calls back on each change. A watch that times out
 * or is cut is resumed from the last resourceVersion seen (an event's or a
 * bookmark's); a 410 Gone (the server compacted that far) lists again, and
 * objects that vanished meanwhile are reported deleted.
 */
#ifndef AIM_WATCH_H
#define AIM_WATCH_H

#include <jansson.h>

struct aim_kube;
struct aim_informer;

/*
 * Called on the informer's thread after its copy changed. key is
 * "namespace/name"; obj is the new object (NULL when deleted) and old the
 * previous one (NULL when new); all borrowed for the call only. It must
 * not call back into the informer.
 */
typedef void (*aim_informer_fn)(void *arg, const char *key, json_t *obj,
				json_t *old);

/*
 * Start watching path (a collection: "/apis/g/v/plural" or with
 * "/namespaces/ns/"). what names it in log lines (borrowed for the
 * informer's life). watch_secs is the timeoutSeconds asked of the server.
 */
int aim_informer_start(struct aim_kube *k, const char *path, const char *what,
		       long watch_secs, aim_informer_fn fn, void *arg,
		       struct aim_informer **out);

/* stop the thread and free everything */
void aim_informer_stop(struct aim_informer **inf);

/* a deep copy of one object (caller frees), or NULL */
json_t *aim_informer_get(struct aim_informer *inf, const char *key);

/* a deep copy of the whole map key -> object (caller frees) */
json_t *aim_informer_snapshot(struct aim_informer *inf);

/* 1 once the first list has been stored */
int aim_informer_synced(struct aim_informer *inf);

/* "namespace/name" of an object into buf; returns buf */
const char *aim_obj_key(json_t *obj, char *buf, size_t len);

#endif
