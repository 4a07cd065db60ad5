/*
 * hub.h - the Hugging Face Hub as a source: resolve a revision to a commit,
 * list a commit's files with sizes and digests, and fetch byte ranges.
 *
 * A file is resolved once through {endpoint}/{repo}/resolve/{commit}/{path};
 * the signed CDN URL the Hub redirects to is kept in the file's struct
 * aim_hub_loc and reused for every range until the CDN refuses it, because
 * the Hub rate-limits resolve calls. The token goes to the Hub's own host
 * only, never to a redirect target elsewhere.
 */
#ifndef AIM_HUB_H
#define AIM_HUB_H

#include <stddef.h>
#include <stdint.h>

struct aim_http;
struct aim_hub;

/* endpoint and token are copied; token may be NULL */
int aim_hub_new(struct aim_http *http, const char *endpoint, const char *token,
		unsigned fetch_timeout, struct aim_hub **out);
void aim_hub_free(struct aim_hub **hub);
const char *aim_hub_endpoint(const struct aim_hub *hub);

struct aim_hub_revision {
	char commit[41];
	int64_t mtime; /* lastModified of the repo, seconds */
};

/*
 * Every call that talks to the Hub takes token: a model's own token, sent
 * instead of the hub's (borrowed for the call; NULL: the hub's, if any).
 * Either goes to the Hub's own host only.
 */

/*
 * Resolve rev of org/name. Errors: -ENOENT (repo or revision not found),
 * -EACCES (gated or private without a usable token), -EHOSTUNREACH,
 * -ETIMEDOUT, -EIO; *cause is an allocated one-line reason.
 */
int aim_hub_revision(struct aim_hub *hub, const char *token, const char *org,
		     const char *name, const char *rev,
		     struct aim_hub_revision *out, char **cause);

struct aim_hub_entry {
	const char *path;      /* checked with aim_path_check() */
	uint64_t size;
	const char *oid;       /* git blob sha1, 40 hex */
	const char *lfs_sha256; /* 64 hex, NULL for non-LFS files */
};

/*
 * List every file of a commit (recursive tree API, following pagination).
 * The callback's pointers live during the call only; a negative return
 * stops the listing and is returned. Hostile entries fail the listing.
 */
int aim_hub_list(struct aim_hub *hub, const char *token, const char *org,
		 const char *name, const char *commit,
		 int (*cb)(void *, const struct aim_hub_entry *), void *arg,
		 char **cause);

/*
 * Parse one page of the tree API (a JSON list) from the host named from,
 * calling cb for each file; directories are skipped. *count carries the
 * number of files across pages (capped). -EPROTO with *cause for hostile
 * or malformed input. Used by aim_hub_list and the fuzzer.
 */
int aim_hub_parse_tree(const char *from, const char *body, size_t len,
		       int (*cb)(void *, const struct aim_hub_entry *),
		       void *arg, size_t *count, char **cause);

/* where one file is fetched from; cdn_url is protected by the hub's lock */
struct aim_hub_loc {
	char *repo;   /* org/name */
	char *commit;
	char *path;
	char *etag;    /* expected ETag/X-Linked-Etag (sha256 or sha1), or NULL */
	char *cdn_url; /* signed URL from the last resolve, or NULL */
};

/*
 * Fetch exactly len bytes at off into buf, or (buf NULL) into fd at the
 * same offset, with retries for at most timeout_ms (0: the fetch timeout
 * the hub was made with). 0, or -EIO, -ETIMEDOUT, -ENOENT, -EACCES,
 * -ENOSPC, or -ESTALE (the Hub has another version of the file now), with
 * *cause set.
 */
int aim_hub_fetch(struct aim_hub *hub, const char *token,
		  struct aim_hub_loc *loc, uint64_t off, size_t len, void *buf,
		  int fd, unsigned timeout_ms, char **cause);

void aim_hub_loc_release(struct aim_hub_loc *loc);

#endif
