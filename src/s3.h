/*
 * s3.h - S3 (and any S3-compatible store: MinIO, Ceph) as a source: list a
 * prefix with ListObjectsV2, fetch byte ranges with SigV4-signed GETs that
 * carry If-Match, so a block fetched later can only come from the object
 * version seen at registration.
 *
 * Endpoint: s3_endpoint, else $AWS_ENDPOINT_URL, else
 * https://s3.<region>.amazonaws.com. Addressing: path-style for a custom
 * endpoint, virtual-hosted for AWS, unless s3_addressing says otherwise.
 * Credentials: $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and
 * $AWS_SESSION_TOKEN; with none, requests go unsigned (public buckets).
 * Secrets are never logged.
 *
 * A model may bring its own (struct aim_s3_auth): its keys replace the
 * daemon's; its endpoint and region replace the daemon's. The daemon's
 * keys never go to an endpoint the model named: a model with an endpoint
 * and no keys of its own is read unsigned.
 */
#ifndef AIM_S3_H
#define AIM_S3_H

#include <stddef.h>
#include <stdint.h>

struct aim_http;
struct aim_conf;
struct aim_s3;

int aim_s3_new(struct aim_http *http, const struct aim_conf *conf,
	       struct aim_s3 **out, char **cause);
void aim_s3_free(struct aim_s3 **s3);

/* one model's own settings, each NULL for the daemon's; borrowed for the
 * call. access_key and secret_key come together, session_token with them */
struct aim_s3_auth {
	const char *access_key, *secret_key, *session_token;
	const char *endpoint; /* "http://127.0.0.1:9000" */
	const char *region;
};

struct aim_s3_entry {
	const char *key;  /* the whole object key */
	uint64_t size;
	const char *etag; /* without quotes */
};

/*
 * List every object under prefix (paginated). The callback's pointers live
 * during the call only. Errors: -ENOENT (no such bucket), -EACCES (access
 * denied, bad credentials), -EHOSTUNREACH, -EIO, with *cause set.
 */
int aim_s3_list(struct aim_s3 *s3, const struct aim_s3_auth *auth,
		const char *bucket, const char *prefix,
		int (*cb)(void *, const struct aim_s3_entry *), void *arg,
		char **cause);

/*
 * Fetch exactly len bytes at off of bucket/key into buf (or, buf NULL,
 * into fd at the same offset), as long as its ETag is
 * still etag (-ESTALE otherwise), retrying transient failures within the
 * fetch timeout. auth may be NULL (the daemon's settings), as for
 * aim_s3_list().
 */
int aim_s3_fetch(struct aim_s3 *s3, const struct aim_s3_auth *auth,
		 const char *bucket, const char *key,
		 const char *etag, uint64_t off, size_t len, void *buf, int fd,
		 unsigned timeout_ms, char **cause);

#endif
