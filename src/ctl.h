/*
 * ctl.h - the control protocol between aimfs-ctl and the daemon: one JSON
 * object per line over a Unix socket (mode 0600, owner-only), one request
 * per connection, each connection on its own thread. A request is
 * {"cmd": NAME, ...}; events such as {"event": "progress", ...} may come
 * first, then the answer {"ok": true, ...} or {"ok": false, "error":
 * REASON}. {"cmd": "metrics"} answers with "text", what a Prometheus
 * scrape of the daemon gets.
 * The same aim_ctl_exec() runs in the daemon and in aimfs-ctl
 * --store, so both modes behave alike.
 */
#ifndef AIM_CTL_H
#define AIM_CTL_H

#include <jansson.h>

struct aim_cache;
struct aim_ctl;

/*
 * An event sent before the answer (pull progress); event is borrowed. A
 * negative return means nobody listens any more.
 */
typedef int (*aim_ctl_emit)(void *arg, json_t *event);

/* run one request against an open cache; caller owns the answer. emit may
 * be NULL (no events wanted). */
json_t *aim_ctl_exec(struct aim_cache *c, json_t *req, aim_ctl_emit emit,
		     void *arg);

/*
 * Listen on path (replacing a stale socket, refusing a live one). Requests
 * are served on a thread started by aim_ctl_serve() (after the daemon has
 * forked) until aim_ctl_stop(). Connections from users other than the
 * daemon's own and root are refused.
 */
int aim_ctl_start(struct aim_cache *c, const char *path, struct aim_ctl **out,
		  char **cause);
int aim_ctl_serve(struct aim_ctl *ctl);
void aim_ctl_stop(struct aim_ctl **ctl);

/*
 * Client side: send req to the daemon at path, pass each event line to
 * on_event (may be NULL), and return the answer in *resp.
 * -ECONNREFUSED/-ENOENT when no daemon listens, with *cause set.
 */
int aim_ctl_call(const char *path, json_t *req, aim_ctl_emit on_event,
		 void *arg, json_t **resp, char **cause);

#endif
