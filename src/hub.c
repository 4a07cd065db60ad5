/*
 * hub.c - see hub.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "http.h"
#include "hub.h"
#include "log.h"
#include "util.h"

#define API_MAX_BODY (64u << 20)  /* one page of a listing */
#define LIST_MAX_ENTRIES 1000000
#define LIST_MAX_PAGES 10000
#define MAX_HOPS 5

struct aim_hub {
	struct aim_http *http;
	char *endpoint;
	char origin[300]; /* host:port of the endpoint: the only token target */
	char *auth;	  /* "Authorization: Bearer ..." or NULL; secret */
	unsigned fetch_timeout;
	pthread_mutex_t lock; /* guards every aim_hub_loc.cdn_url */
};

int aim_hub_new(struct aim_http *http, const char *endpoint, const char *token,
		unsigned fetch_timeout, struct aim_hub **out)
{
	struct aim_hub *hub = calloc(1, sizeof(*hub));

	if (hub == NULL)
		return -ENOMEM;
	hub->http = http;
	hub->fetch_timeout = fetch_timeout ? fetch_timeout : 30;
	pthread_mutex_init(&hub->lock, NULL);
	hub->endpoint = strdup(endpoint);
	if (hub->endpoint == NULL)
		goto fail;
	if (aim_http_url_origin(endpoint, hub->origin, sizeof(hub->origin)) < 0) {
		free(hub->endpoint);
		pthread_mutex_destroy(&hub->lock);
		free(hub);
		return -EINVAL;
	}
	if (token && asprintf(&hub->auth, "Authorization: Bearer %s", token) < 0)
		goto fail;
	*out = hub;
	return 0;
fail:
	aim_hub_free(&hub);
	return -ENOMEM;
}

void aim_hub_free(struct aim_hub **phub)
{
	struct aim_hub *hub = *phub;

	if (hub == NULL)
		return;
	free(hub->endpoint);
	if (hub->auth) {
		explicit_bzero(hub->auth, strlen(hub->auth));
		free(hub->auth);
	}
	pthread_mutex_destroy(&hub->lock);
	free(hub);
	*phub = NULL;
}

const char *aim_hub_endpoint(const struct aim_hub *hub)
{
	return hub->endpoint;
}

void aim_hub_loc_release(struct aim_hub_loc *loc)
{
	free(loc->repo);
	free(loc->commit);
	free(loc->path);
	free(loc->etag);
	free(loc->cdn_url);
	memset(loc, 0, sizeof(*loc));
}

/* the Authorization line of one call: the model's token, else the hub's */
struct auth {
	char *line; /* NULL: anonymous; owned (and wiped) when own */
	int own;    /* the model's token */
};

static int auth_take(struct aim_hub *hub, const char *token, struct auth *a)
{
	a->own = 0;
	a->line = hub->auth;
	if (token == NULL)
		return 0;
	if (asprintf(&a->line, "Authorization: Bearer %s", token) < 0) {
		a->line = NULL;
		return -ENOMEM;
	}
	a->own = 1;
	return 0;
}

static void auth_release(struct auth *a)
{
	if (a->own && a->line) {
		explicit_bzero(a->line, strlen(a->line));
		free(a->line);
	}
	a->line = NULL;
	a->own = 0;
}

/* 1 if url points at the Hub's own host and port */
static int same_origin(struct aim_hub *hub, const char *url)
{
	char o[300];

	return aim_http_url_origin(url, o, sizeof(o)) == 0 &&
	       strcmp(o, hub->origin) == 0;
}

/*
 * Map a final non-2xx answer of the Hub to an errno and a reason a person can
 * act on. what names the thing asked for ("repository 'a/b'").
 */
static int status_error(struct aim_hub *hub, const struct auth *a,
			const struct aim_http_resp *r, const char *what,
			char **cause)
{
	const char *code = r->error_code ? r->error_code : "";

	if (strcmp(code, "RepoNotFound") == 0 ||
	    (r->status == 404 && code[0] == '\0')) {
		aim_set_cause(cause, "%s not found on %s", what, hub->endpoint);
		return -ENOENT;
	}
	if (strcmp(code, "RevisionNotFound") == 0 ||
	    strcmp(code, "EntryNotFound") == 0) {
		aim_set_cause(cause, "%s: %s on %s", what,
			  code[0] == 'R' ? "revision not found" :
					   "file not found",
			  hub->endpoint);
		return -ENOENT;
	}
	if (strcmp(code, "GatedRepo") == 0 || r->status == 401 ||
	    r->status == 403) {
		aim_set_cause(cause, "%s is gated or private: %s", what,
			  a->own  ? "the model's own HF_TOKEN was refused" :
			  a->line ? "the token was refused" :
				    "set HF_TOKEN or HF_TOKEN_PATH, or add "
				    "the model with its own HF_TOKEN");
		return -EACCES;
	}
	if (r->status == 404) {
		aim_set_cause(cause, "%s not found on %s", what, hub->endpoint);
		return -ENOENT;
	}
	aim_set_cause(cause, "%s: HTTP %ld from %s", what, r->status, hub->endpoint);
	return -EIO;
}

/*
 * GET an API URL on the Hub with the token, retrying transient failures
 * until the fetch timeout. On 0, resp holds the final answer.
 */
static int api_get(struct aim_hub *hub, const struct auth *a, const char *url,
		   const char *what, struct aim_http_resp *resp, char **cause)
{
	const char *hdrs[] = { "Accept: application/json", a->line, NULL };
	uint64_t deadline = aim_now_ms() + hub->fetch_timeout * 1000ULL;
	unsigned attempt = 0;
	int rc;

	for (;;) {
		struct aim_http_req req = {
			.url = url,
			.headers = hdrs,
			.max_body = API_MAX_BODY,
			.timeout_ms = deadline - aim_now_ms(),
		};
		rc = aim_http_do(hub->http, &req, resp);
		if (rc == 0 && !aim_http_status_retryable(resp->status))
			return 0;
		unsigned ra = rc == 0 ? resp->retry_after : 0;
		if (rc < 0)
			aim_set_cause(cause, "cannot reach %s: %s", hub->endpoint,
				  resp->error);
		else
			aim_set_cause(cause, "%s: HTTP %ld from %s", what,
				  resp->status, hub->endpoint);
		aim_debug("hub: %s: attempt %u failed", what, attempt + 1);
		aim_http_resp_release(resp);
		if (aim_http_backoff(attempt++, ra, deadline) < 0)
			return rc < 0 ? (rc == -ECONNREFUSED ? -EHOSTUNREACH : rc) :
					-EIO;
	}
}

static int64_t parse_iso8601(const char *s)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return 0;
	return (int64_t)timegm(&tm);
}

int aim_hub_revision(struct aim_hub *hub, const char *token, const char *org,
		     const char *name, const char *rev,
		     struct aim_hub_revision *out, char **cause)
{
	struct aim_http_resp resp;
	char *erev = aim_http_escape(rev, 0), *url = NULL, what[400];
	json_t *root = NULL;
	json_error_t jerr;
	struct auth a;
	int rc;

	*cause = NULL;
	snprintf(what, sizeof(what), "repository '%s/%s'", org, name);
	if (erev == NULL ||
	    asprintf(&url, "%s/api/models/%s/%s/revision/%s", hub->endpoint,
		     org, name, erev) < 0) {
		free(erev);
		return -ENOMEM;
	}
	free(erev);
	if (auth_take(hub, token, &a) < 0) {
		free(url);
		return -ENOMEM;
	}
	rc = api_get(hub, &a, url, what, &resp, cause);
	free(url);
	if (rc < 0) {
		auth_release(&a);
		return rc;
	}
	if (resp.status != 200) {
		if (resp.error_code &&
		    strcmp(resp.error_code, "RevisionNotFound") == 0)
			snprintf(what, sizeof(what), "revision '%s' of '%s/%s'",
				 rev, org, name);
		rc = status_error(hub, &a, &resp, what, cause);
		goto out;
	}
	root = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &jerr);
	const char *sha = json_string_value(json_object_get(root, "sha"));
	if (resp.body_truncated || sha == NULL || !aim_is_hex(sha, 40)) {
		aim_set_cause(cause, "%s: malformed revision answer from %s", what,
			  hub->endpoint);
		rc = -EPROTO;
		goto out;
	}
	for (int i = 0; i < 40; i++)
		out->commit[i] = (char)(sha[i] | 0x20); /* lower case */
	out->commit[40] = '\0';
	out->mtime = parse_iso8601(
		json_string_value(json_object_get(root, "lastModified")));
	if (out->mtime == 0)
		out->mtime = (int64_t)time(NULL);
	rc = 0;
out:
	auth_release(&a);
	json_decref(root);
	aim_http_resp_release(&resp);
	return rc;
}

int aim_hub_parse_tree(const char *from, const char *body, size_t len,
		       int (*cb)(void *, const struct aim_hub_entry *),
		       void *arg, size_t *count, char **cause)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr), *e;
	size_t i;
	int rc = 0;

	if (!json_is_array(root)) {
		aim_set_cause(cause, "malformed tree listing from %s: %s",
			  from, root ? "not a list" : jerr.text);
		json_decref(root);
		return -EPROTO;
	}
	json_array_foreach(root, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		const char *path = json_string_value(json_object_get(e, "path"));
		json_t *size = json_object_get(e, "size");
		const char *oid = json_string_value(json_object_get(e, "oid"));
		json_t *lfs = json_object_get(e, "lfs");
		const char *why;

		if (type && strcmp(type, "directory") == 0)
			continue;
		if (type == NULL || strcmp(type, "file") != 0 || path == NULL ||
		    !json_is_integer(size)) {
			aim_set_cause(cause, "malformed tree entry from %s",
				  from);
			rc = -EPROTO;
			break;
		}
		if (aim_path_check(path, &why) < 0) {
			aim_set_cause(cause, "refusing listed path: %s", why);
			rc = -EPROTO;
			break;
		}
		json_int_t sz = json_integer_value(size);
		if (sz < 0 || sz > (json_int_t)1 << 50) {
			aim_set_cause(cause, "refusing '%s': impossible size", path);
			rc = -EPROTO;
			break;
		}
		const char *lfs_oid = NULL;
		if (lfs && !json_is_null(lfs)) {
			lfs_oid = json_string_value(json_object_get(lfs, "oid"));
			if (lfs_oid == NULL)
				lfs_oid = json_string_value(
					json_object_get(lfs, "sha256"));
			if (lfs_oid == NULL || !aim_is_hex(lfs_oid, 64)) {
				aim_set_cause(cause, "refusing '%s': bad LFS oid",
					  path);
				rc = -EPROTO;
				break;
			}
		}
		if (oid == NULL || !aim_is_hex(oid, 40)) {
			aim_set_cause(cause, "refusing '%s': bad oid", path);
			rc = -EPROTO;
			break;
		}
		if (++*count > LIST_MAX_ENTRIES) {
			aim_set_cause(cause, "listing has more than %d files",
				  LIST_MAX_ENTRIES);
			rc = -E2BIG;
			break;
		}
		struct aim_hub_entry ent = { path, (uint64_t)sz, oid, lfs_oid };
		if ((rc = cb(arg, &ent)) < 0)
			break;
	}
	json_decref(root);
	return rc;
}

int aim_hub_list(struct aim_hub *hub, const char *token, const char *org,
		 const char *name, const char *commit,
		 int (*cb)(void *, const struct aim_hub_entry *), void *arg,
		 char **cause)
{
	char *url = NULL, what[400];
	size_t count = 0;
	struct auth a;
	int rc = 0, pages = 0;

	*cause = NULL;
	snprintf(what, sizeof(what), "repository '%s/%s'", org, name);
	if (auth_take(hub, token, &a) < 0)
		return -ENOMEM;
	if (asprintf(&url, "%s/api/models/%s/%s/tree/%s?recursive=true",
		     hub->endpoint, org, name, commit) < 0) {
		auth_release(&a);
		return -ENOMEM;
	}
	while (url) {
		struct aim_http_resp resp;
		if (++pages > LIST_MAX_PAGES) {
			aim_set_cause(cause, "%s: too many listing pages", what);
			rc = -E2BIG;
			break;
		}
		rc = api_get(hub, &a, url, what, &resp, cause);
		free(url);
		url = NULL;
		if (rc < 0)
			break;
		if (resp.status != 200) {
			rc = status_error(hub, &a, &resp, what, cause);
		} else if (resp.body_truncated) {
			aim_set_cause(cause, "%s: listing page over %u MiB", what,
				  API_MAX_BODY >> 20);
			rc = -E2BIG;
		} else {
			rc = aim_hub_parse_tree(hub->endpoint,
						resp.body ? resp.body : "",
						resp.body_len, cb, arg, &count,
						cause);
		}
		if (rc == 0 && resp.link_next) {
			/* the next page must stay on the Hub: it gets the token */
			url = aim_http_url_join(hub->endpoint, resp.link_next);
			if (url && !same_origin(hub, url)) {
				aim_set_cause(cause, "%s: listing points off the Hub",
					  what);
				free(url);
				url = NULL;
				rc = -EPROTO;
			}
		}
		aim_http_resp_release(&resp);
		if (rc < 0)
			break;
	}
	free(url);
	auth_release(&a);
	return rc;
}

static char *resolve_url(struct aim_hub *hub, const struct aim_hub_loc *loc)
{
	char *epath = aim_http_escape(loc->path, 1), *url = NULL;

	if (epath && asprintf(&url, "%s/%s/resolve/%s/%s", hub->endpoint,
			      loc->repo, loc->commit, epath) < 0)
		url = NULL;
	free(epath);
	return url;
}

/* compare an ETag header ("abc", W/"abc") with the expected value */
static int etag_matches(const char *hdr, const char *want)
{
	size_t n;

	if (hdr == NULL || want == NULL)
		return 1;
	if (strncmp(hdr, "W/", 2) == 0)
		hdr += 2;
	if (*hdr == '"')
		hdr++;
	n = strlen(want);
	return strncmp(hdr, want, n) == 0 && (hdr[n] == '"' || hdr[n] == '\0');
}

static int is_absolute(const char *location)
{
	return strncasecmp(location, "http://", 7) == 0 ||
	       strncasecmp(location, "https://", 8) == 0;
}

static void set_cdn(struct aim_hub *hub, struct aim_hub_loc *loc, char *url)
{
	pthread_mutex_lock(&hub->lock);
	free(loc->cdn_url);
	loc->cdn_url = url;
	pthread_mutex_unlock(&hub->lock);
}

int aim_hub_fetch(struct aim_hub *hub, const char *token,
		  struct aim_hub_loc *loc, uint64_t off, size_t len, void *buf,
		  int fd, unsigned timeout_ms, char **cause)
{
	uint64_t deadline = aim_now_ms() +
			    (timeout_ms ? timeout_ms :
					  hub->fetch_timeout * 1000ULL);
	unsigned attempt = 0, resolves = 0, hops = 0;
	char *hop_url = NULL, safe[512];
	struct auth a;
	int rc = -EIO;

	*cause = NULL;
	if (auth_take(hub, token, &a) < 0)
		return -ENOMEM;
	for (;;) {
		struct aim_http_resp resp;
		char *url = NULL;
		int to_cdn = 0;

		if (hop_url) {
			url = hop_url;
			hop_url = NULL;
		} else {
			pthread_mutex_lock(&hub->lock);
			if (loc->cdn_url) {
				url = strdup(loc->cdn_url);
				to_cdn = 1;
			}
			pthread_mutex_unlock(&hub->lock);
			if (!to_cdn)
				url = resolve_url(hub, loc);
		}
		if (url == NULL) {
			rc = -ENOMEM;
			break;
		}
		/* the token goes to the Hub only, never to the CDN */
		const char *hdrs[] = { to_cdn ? NULL : a.line, NULL };
		uint64_t now = aim_now_ms();
		struct aim_http_req req = {
			.url = url,
			.headers = hdrs,
			.off = off,
			.len = len,
			.buf = buf,
			.fd = fd,
			.fd_off = off,
			.max_body = 4096,
			.timeout_ms = deadline > now ? deadline - now : 1,
		};
		int trc = aim_http_do(hub->http, &req, &resp);
		if (aim_http_local_error(trc)) {
			aim_set_cause(cause, "%s", resp.error);
			aim_http_resp_release(&resp);
			free(url);
			rc = trc;
			break;
		}
		unsigned retry_after = 0;
		aim_url_redact(url, safe, sizeof(safe));

		if (trc < 0) {
			aim_set_cause(cause, "%s: %s", safe, resp.error);
			rc = trc == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
		} else if (resp.status == 200 || resp.status == 206) {
			if (!to_cdn && !etag_matches(resp.etag, loc->etag)) {
				aim_set_cause(cause,
					  "%s: the Hub serves a different "
					  "version of '%s'",
					  safe, loc->path);
				rc = -ESTALE; /* as s3 and https say it */
				aim_http_resp_release(&resp);
				free(url);
				break;
			}
			if (!resp.range_error) {
				aim_http_resp_release(&resp);
				free(url);
				rc = 0;
				break;
			}
			aim_set_cause(cause, "%s: answer did not match the range asked",
				  safe);
			rc = -EIO;
		} else if (!to_cdn && resp.status >= 300 && resp.status < 400 &&
			   resp.location && hops < MAX_HOPS) {
			char *next = aim_http_url_join(url, resp.location);
			hops++;
			if (next == NULL) {
				aim_set_cause(cause, "%s: bad redirect", safe);
				rc = -EIO;
			} else if (!etag_matches(resp.linked_etag, loc->etag)) {
				aim_set_cause(cause,
					  "%s: the Hub links a different "
					  "version of '%s'",
					  safe, loc->path);
				free(next);
				aim_http_resp_release(&resp);
				free(url);
				rc = -ESTALE;
				break;
			} else if (!is_absolute(resp.location) &&
				   same_origin(hub, next)) {
				/* a relative redirect stays on the Hub (a
				 * renamed repo) and keeps the token */
				hop_url = next;
			} else {
				/* anything absolute is the CDN: no token */
				set_cdn(hub, loc, next);
			}
			aim_http_resp_release(&resp);
			free(url);
			continue;
		} else if (to_cdn && (resp.status == 403 || resp.status == 404 ||
				      resp.status == 410) &&
			   resolves < 3) {
			/* the signed URL expired: resolve again */
			aim_debug("hub: %s: HTTP %ld, resolving again", safe,
				  resp.status);
			resolves++;
			set_cdn(hub, loc, NULL);
			aim_http_resp_release(&resp);
			free(url);
			continue;
		} else if (aim_http_status_retryable(resp.status)) {
			aim_set_cause(cause, "%s: HTTP %ld", safe, resp.status);
			retry_after = resp.retry_after;
			rc = -EIO;
		} else {
			char what[300];
			snprintf(what, sizeof(what), "'%s' in '%s'", loc->path,
				 loc->repo);
			rc = status_error(hub, &a, &resp, what, cause);
			aim_http_resp_release(&resp);
			free(url);
			break;
		}
		aim_http_resp_release(&resp);
		free(url);
		aim_debug("hub: fetch attempt %u failed: %s", attempt + 1,
			  *cause ? *cause : "?");
		if (aim_http_backoff(attempt++, retry_after, deadline) < 0) {
			char *last = *cause;
			*cause = NULL;
			aim_set_cause(cause, "gave up after %u attempts: %s", attempt,
				  last ? last : "error");
			free(last);
			break;
		}
	}
	free(hop_url);
	auth_release(&a);
	return rc;
}
