/*
 * creds.h - per-model credentials: what a control request `add` gave one
 * model (HF_TOKEN, AWS_ACCESS_KEY_ID, ...), used for that model's
 * registration and fetches instead of the daemon's own.
 *
 * They live in memory only: never in the index, never in a log line or an
 * error message (which name the variable, never its value), never in
 * `list` or `status`. A daemon restart forgets them; whoever gave them
 * (aimfs-reconciler, a person) gives them again.
 *
 * A struct aim_creds is immutable once made and reference-counted, so a
 * fetch can hold the set it started with while a rotation replaces the
 * model's; the last aim_creds_unref() wipes the values before freeing.
 * Thread-safe.
 */
#ifndef AIM_CREDS_H
#define AIM_CREDS_H

#include <jansson.h>

struct aim_creds;

enum aim_cred {
	AIM_CRED_HF_TOKEN,
	AIM_CRED_AWS_ACCESS_KEY_ID,
	AIM_CRED_AWS_SECRET_ACCESS_KEY,
	AIM_CRED_AWS_SESSION_TOKEN,
	AIM_CRED_AWS_ENDPOINT_URL,
	AIM_CRED_AWS_REGION,
	AIM_CRED_COUNT
};

/*
 * Parse a JSON object of environment-style names and string values:
 * HF_TOKEN, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
 * AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3, which wins), AWS_REGION (or
 * AWS_DEFAULT_REGION, which loses). An empty value counts as absent, and
 * a trailing newline is dropped (a Secret made from a file has one). An
 * empty object gives *out NULL: no credentials of the model's own.
 * -EINVAL with *cause (naming the variable, never the value) for an
 * unknown name, a value that is no string or holds control characters,
 * a key id without its secret or the reverse, a session token without
 * both, or an endpoint that is no URL. obj is not changed.
 */
int aim_creds_parse(json_t *obj, struct aim_creds **out, char **cause);

/* 1 when name is one aim_creds_parse() takes */
int aim_creds_name_known(const char *name);

/* the value given for k, or NULL (also when c is NULL); borrowed for as
 * long as the caller holds its reference */
const char *aim_creds_get(const struct aim_creds *c, enum aim_cred k);

/* 1 when a and b hold the same values (both NULL: equal) */
int aim_creds_equal(const struct aim_creds *a, const struct aim_creds *b);

/* another reference (c may be NULL); drop it with aim_creds_unref() */
struct aim_creds *aim_creds_ref(struct aim_creds *c);
/* drop a reference, wiping and freeing on the last; NULLs *c */
void aim_creds_unref(struct aim_creds **c);

/*
 * Overwrite every string value of a JSON object (a request's
 * "credentials") with zero bytes, in place, before it is freed. The
 * values are jansson's own buffers: the object must not be read again.
 */
void aim_creds_wipe_json(json_t *obj);

#endif
