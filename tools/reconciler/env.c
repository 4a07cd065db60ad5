/*
 * env.c - see env.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "kube.h"
#include "kubeconfig.h"
#include "rec.h"
#include "src/creds.h"
#include "src/log.h"

static int env_fail(struct aim_env *e, int rc, const char *reason,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int env_fail(struct aim_env *e, int rc, const char *reason,
		    const char *fmt, ...)
{
	va_list ap;

	e->reason = reason;
	free(e->message);
	va_start(ap, fmt);
	if (vasprintf(&e->message, fmt, ap) < 0)
		e->message = NULL;
	va_end(ap);
	return rc;
}

/* a DNS-1123 subdomain: what a Secret may be called (no "/" or "..") */
static int valid_secret_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-' ||
	    s[n - 1] == '.' || s[n - 1] == '-')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-.") == n &&
	       strstr(s, "..") == NULL;
}

static int valid_secret_key(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 253 &&
	       strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789-._") == n;
}

/* wipe a Secret's data before it is freed */
static void secret_wipe(json_t *secret)
{
	aim_creds_wipe_json(json_object_get(secret, "data"));
}

/*
 * The Secret ns/name, from secrets (name -> the object, or null when it is
 * not there) or the API server. 0 with *secret borrowed from secrets (NULL
 * when it does not exist), -EACCES or -EIO (with e's message).
 */
static int get_secret(struct aim_rec *r, json_t *secrets, const char *ns,
		      const char *name, const char *var, json_t **secret,
		      struct aim_env *e)
{
	char path[512], *cause = NULL;
	json_t *resp = NULL;
	int rc;

	*secret = json_object_get(secrets, name);
	if (*secret) {
		if (json_is_null(*secret))
			*secret = NULL;
		return 0;
	}
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns,
		 name);
	rc = aim_kube_call(r->kube, "GET", path, NULL, NULL, &resp, &cause);
	if (rc == 200 && json_is_object(resp)) {
		json_object_set_new(secrets, name, resp);
		*secret = resp;
		free(cause);
		return 0;
	}
	if (rc == 404) {
		secret_wipe(resp);
		json_decref(resp);
		free(cause);
		json_object_set_new(secrets, name, json_null());
		return 0;
	}
	if (rc == 401 || rc == 403) {
		env_fail(e, -EACCES, "SecretForbidden",
			 "spec.env %s: the reconciler may not read Secret "
			 "%s/%s (HTTP %d: %s)",
			 var, ns, name, rc, aim_kube_message(resp));
		rc = -EACCES;
	} else {
		env_fail(e, -EIO, "SecretUnreadable",
			 "spec.env %s: cannot read Secret %s/%s: %s", var, ns,
			 name,
			 rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
		rc = -EIO;
	}
	secret_wipe(resp);
	json_decref(resp);
	free(cause);
	return rc;
}

/* data[key] of a Secret, decoded, into creds[var]; 0, 1 (no such key) */
static int secret_value(json_t *secret, const char *key, const char *var,
			json_t *creds, struct aim_env *e)
{
	const char *b64 = json_string_value(
		json_object_get(json_object_get(secret, "data"), key));
	unsigned char *raw;
	size_t len;
	int rc;

	if (b64 == NULL)
		return 1;
	if ((rc = aim_base64_decode(b64, &raw, &len)) < 0)
		return env_fail(e, -EINVAL, "InvalidEnv",
				"spec.env %s: Secret key '%s' is not base64",
				var, key);
	if (memchr(raw, '\0', len)) {
		rc = env_fail(e, -EINVAL, "InvalidEnv",
			      "spec.env %s: Secret key '%s' holds a NUL byte",
			      var, key);
	} else if (json_object_set_new(creds, var,
				       json_stringn((char *)raw, len)) < 0) {
		rc = env_fail(e, -EINVAL, "InvalidEnv",
			      "spec.env %s: Secret key '%s' is not UTF-8 text",
			      var, key);
	}
	explicit_bzero(raw, len);
	free(raw);
	return rc;
}

/* one entry of spec.env into creds (or e->ignored) */
static int one(struct aim_rec *r, json_t *secrets, const char *ns,
	       json_t *ent, json_t *creds, struct aim_env *e)
{
	const char *var = aim_jstr(ent, "name");
	json_t *value = json_object_get(ent, "value");
	json_t *from = json_object_get(ent, "valueFrom");
	json_t *ref = json_object_get(from, "secretKeyRef");
	int optional = json_is_true(json_object_get(ref, "optional"));

	if (var == NULL)
		return env_fail(e, -EINVAL, "InvalidEnv",
				"spec.env: an entry without a name");
	if (!aim_creds_name_known(var)) {
		if (e->ignored == NULL && (e->ignored = json_array()) == NULL)
			return -ENOMEM;
		json_array_append_new(e->ignored, json_string(var));
		return 0;
	}
	if (value && from)
		return env_fail(e, -EINVAL, "InvalidEnv",
				"spec.env %s: value and valueFrom both given",
				var);
	if (value) {
		if (!json_is_string(value))
			return env_fail(e, -EINVAL, "InvalidEnv",
					"spec.env %s: value is not a string",
					var);
		/* a copy: creds is wiped, the artifact is the informer's */
		return json_object_set_new(creds, var,
					   json_string(json_string_value(
						   value))) < 0
			       ? -ENOMEM
			       : 0;
	}
	if (from == NULL)
		return 0; /* an EnvVar with neither is an empty value */
	if (ref == NULL)
		return env_fail(e, -EINVAL, "InvalidEnv",
				"spec.env %s: only value and "
				"valueFrom.secretKeyRef are supported",
				var);
	const char *sname = aim_jstr(ref, "name"), *key = aim_jstr(ref, "key");
	if (sname == NULL || key == NULL || !valid_secret_name(sname) ||
	    !valid_secret_key(key))
		return env_fail(e, -EINVAL, "InvalidEnv",
				"spec.env %s: secretKeyRef needs a Secret name "
				"and a key",
				var);
	json_t *secret;
	int rc = get_secret(r, secrets, ns, sname, var, &secret, e);
	if (rc < 0)
		return rc;
	if (secret == NULL)
		return optional ? 0
				: env_fail(e, -ENOENT, "SecretNotFound",
					   "spec.env %s: Secret %s/%s not found",
					   var, ns, sname);
	rc = secret_value(secret, key, var, creds, e);
	if (rc == 1)
		return optional ? 0
				: env_fail(e, -ENOENT, "SecretKeyNotFound",
					   "spec.env %s: Secret %s/%s has no key "
					   "'%s'",
					   var, ns, sname, key);
	return rc;
}

int aim_env_resolve(struct aim_rec *r, json_t *obj, struct aim_env *e)
{
	json_t *env = aim_jget(obj, "spec.env"), *ent;
	const char *ns = aim_jstr(obj, "metadata.namespace");
	json_t *creds = json_object(), *secrets = json_object();
	const char *k;
	json_t *s;
	size_t i;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	if (creds == NULL || secrets == NULL || ns == NULL) {
		json_decref(creds);
		json_decref(secrets);
		return env_fail(e, -EIO, "SecretUnreadable",
				"spec.env: out of memory");
	}
	json_array_foreach(env, i, ent) {
		if ((rc = one(r, secrets, ns, ent, creds, e)) < 0)
			break;
	}
	json_object_foreach(secrets, k, s) secret_wipe(s);
	json_decref(secrets);
	if (rc == -ENOMEM)
		rc = env_fail(e, -EIO, "SecretUnreadable",
			      "spec.env: out of memory");
	if (rc < 0 || json_object_size(creds) == 0) {
		aim_creds_wipe_json(creds);
		json_decref(creds);
		creds = NULL;
	}
	e->creds = creds;
	return rc;
}

void aim_env_release(struct aim_env *e)
{
	if (e->creds)
		aim_creds_wipe_json(e->creds);
	json_decref(e->creds);
	json_decref(e->ignored);
	free(e->message);
	memset(e, 0, sizeof(*e));
}
