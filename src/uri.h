/*
 * uri.h - model URIs: hf://org/name[@rev], s3://bucket/prefix,
 * https://host/path/file. Parsing is strict: whatever reaches the sources
 * has been checked here.
 */
#ifndef AIM_URI_H
#define AIM_URI_H

enum aim_uri_kind {
	AIM_URI_HF,
	AIM_URI_S3,
	AIM_URI_HTTPS,
};

struct aim_uri {
	enum aim_uri_kind kind;
	char *org;    /* hf: "org" */
	char *name;   /* hf: "name" */
	char *rev;    /* hf: branch, tag or commit; "main" when not given */
	int rev_given; /* hf: 1 if the URI carried @rev */
	char *bucket; /* s3 */
	char *prefix; /* s3: may be empty */
	char *url;    /* https: the whole URL */
};

/*
 * Parse s into u (which the caller initialises with aim_uri_init and later
 * releases). On error returns -EINVAL and sets *cause to an allocated
 * one-line reason.
 */
void aim_uri_init(struct aim_uri *u);
int aim_uri_parse(const char *s, struct aim_uri *u, char **cause);
void aim_uri_release(struct aim_uri *u);

/* "org/name" rules of the Hub: [A-Za-z0-9._-], no "--" or "..", no leading
 * or trailing '-' or '.', at most 96 characters. 1 if valid. */
int aim_uri_valid_repo_part(const char *s);

/* the cache key: first 16 hex characters of SHA-256 of the URI string */
void aim_uri_cache_key(const char *uri, char out[17]);

#endif
