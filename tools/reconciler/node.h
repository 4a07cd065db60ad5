/*
 * node.h - the node duties' link to this node's aimfsd: the control socket
 * protocol of src/ctl.h (add, pin/unpin with wait=false, list, rm), one
 * connection per call. A model is named by its URI, which the daemon
 * accepts wherever it takes a name.
 *
 * Returns: 0; -EREMOTEIO when the daemon answered with an error (*cause is
 * its one-line reason, e.g. "repository 'x/y' not found on ..."); another
 * -errno when the daemon could not be reached (*cause says why). Callers
 * free *cause.
 */
#ifndef AIM_NODE_H
#define AIM_NODE_H

#include <stdint.h>

#include <jansson.h>

/* one model as `list` reports it; strings owned */
struct aim_node_model {
	int found;
	uint64_t size, cached;
	int pinned;
	char state[16]; /* registered, partial, complete, pulling, failed */
	char *error;	/* why the last pull failed, or NULL */
	char *name;
	int64_t last_used; /* its last read through the mount (seconds since
			    * the epoch); 0: never, or a daemon too old to say */
	int own_creds;	   /* the daemon holds credentials of its own for it */
};

void aim_node_model_release(struct aim_node_model *m);

/*
 * register uri (metadata only); name (org/model) may be NULL. creds: NULL
 * leaves the model's credentials alone; an object (HF_TOKEN, AWS_*: see
 * src/creds.h) makes them its own ({}: none, the daemon's). creds is
 * borrowed and not changed; its values never go into *cause or a log.
 */
int aim_node_add(const char *sock, const char *uri, const char *name,
		 json_t *creds, char **cause);
/* pin (1) or unpin (0); a pin starts a pull in the daemon and returns */
int aim_node_pin(const char *sock, const char *uri, int pin, char **cause);
/* the model registered from uri; m->found 0 when there is none */
int aim_node_find(const char *sock, const char *uri, struct aim_node_model *m,
		  char **cause);
/* unregister uri and free its blocks */
int aim_node_rm(const char *sock, const char *uri, char **cause);

/*
 * The daemon's instance id (`status`): another one means the daemon
 * restarted and has forgotten every model's own credentials. out[33];
 * "" from a daemon too old to say.
 */
int aim_node_instance(const char *sock, char *out, char **cause);

#endif
