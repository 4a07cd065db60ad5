/*
 * env.h - an AIMArtifact's spec.env (credential references, as AIM writes
 * them: Kubernetes EnvVars with a value or valueFrom.secretKeyRef) made
 * into the credentials object of the node daemon's `add`.
 *
 * Only the names aimfsd takes are resolved (HF_TOKEN, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ENDPOINT_URL(_S3),
 * AWS_REGION, AWS_DEFAULT_REGION: src/creds.h); others are listed as
 * ignored. A Secret is read with one GET from the artifact's namespace
 * (the reconciler may get Secrets, not list or watch them), base64 data
 * decoded. No value is logged, put in a message, or kept after the call:
 * the caller sends the object and wipes it with aim_env_release().
 */
#ifndef AIM_ENV_H
#define AIM_ENV_H

#include <jansson.h>

struct aim_rec;

struct aim_env {
	json_t *creds;	    /* NAME -> value; secret. NULL: nothing to send */
	json_t *ignored;    /* names aimfsd does not take (array), or NULL */
	const char *reason; /* on failure: SecretNotFound, SecretKeyNotFound,
			     * SecretForbidden, InvalidEnv, SecretUnreadable */
	char *message;	    /* on failure: for status and Events; names the
			     * variable, Secret and key, never a value */
};

/*
 * Resolve obj's spec.env into e (zeroed here). 0; -ENOENT (a Secret or a
 * key that is not there and not optional), -EACCES (the API server
 * refused the GET), -EINVAL (an entry aimfs cannot use) with reason and
 * message set; -EIO when the API server could not answer (try again).
 */
int aim_env_resolve(struct aim_rec *r, json_t *obj, struct aim_env *e);

/* wipe the values and free everything */
void aim_env_release(struct aim_env *e);

#endif
