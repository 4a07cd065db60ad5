/*
 * s3.c - see s3.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "http.h"
#include "log.h"
#include "s3.h"
#include "s3xml.h"
#include "sigv4.h"
#include "util.h"

#define LIST_MAX_BODY (32u << 20)
#define LIST_MAX_PAGES 100000

struct aim_s3 {
	struct aim_http *http;
	char *scheme;	 /* "https" */
	char *authority; /* "s3.us-east-1.amazonaws.com", "127.0.0.1:9000" */
	char *region;
	int path_style;
	int custom;	/* the endpoint was given (not AWS's) */
	int addressing; /* conf's s3_addressing */
	char *access_key, *secret_key, *token; /* secrets: never logged */
	unsigned fetch_timeout;
};

/* where and as whom one call goes: the daemon's settings or a model's */
struct target {
	const char *scheme, *authority, *region;
	int path_style;
	const char *access_key, *secret_key, *token; /* secrets */
	char *own_scheme, *own_authority; /* a model's endpoint */
};

static char *dup_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? strdup(v) : NULL;
}

int aim_s3_new(struct aim_http *http, const struct aim_conf *conf,
	       struct aim_s3 **out, char **cause)
{
	struct aim_s3 *s3 = calloc(1, sizeof(*s3));
	const char *endpoint = conf->s3_endpoint;
	char *env_endpoint = NULL;
	int custom;

	*cause = NULL;
	if (s3 == NULL)
		return -ENOMEM;
	s3->http = http;
	s3->fetch_timeout = conf->fetch_timeout;
	s3->region = strdup(conf->s3_region ? conf->s3_region : "us-east-1");
	if (endpoint == NULL)
		endpoint = env_endpoint = dup_env("AWS_ENDPOINT_URL_S3");
	if (endpoint == NULL)
		endpoint = env_endpoint = dup_env("AWS_ENDPOINT_URL");
	custom = s3->custom = endpoint != NULL;
	s3->addressing = conf->s3_addressing;
	if (endpoint) {
		const char *sep = strstr(endpoint, "://");
		if (sep == NULL || sep[3] == '\0') {
			aim_set_cause(cause, "bad S3 endpoint '%s'", endpoint);
			free(env_endpoint);
			aim_s3_free(&s3);
			return -EINVAL;
		}
		s3->scheme = strndup(endpoint, (size_t)(sep - endpoint));
		s3->authority = strndup(sep + 3, strcspn(sep + 3, "/?#"));
	} else {
		s3->scheme = strdup("https");
		if (asprintf(&s3->authority, "s3.%s.amazonaws.com",
			     s3->region ? s3->region : "us-east-1") < 0)
			s3->authority = NULL;
	}
	free(env_endpoint);
	s3->path_style = conf->s3_addressing == AIM_S3_PATH ? 1 :
			 conf->s3_addressing == AIM_S3_VIRTUAL ? 0 :
								  custom;
	s3->access_key = dup_env("AWS_ACCESS_KEY_ID");
	s3->secret_key = dup_env("AWS_SECRET_ACCESS_KEY");
	s3->token = dup_env("AWS_SESSION_TOKEN");
	if (!s3->region || !s3->scheme || !s3->authority) {
		aim_s3_free(&s3);
		return -ENOMEM;
	}
	if (!s3->access_key != !s3->secret_key)
		aim_log(LOG_WARNING, "s3: AWS_ACCESS_KEY_ID and "
				     "AWS_SECRET_ACCESS_KEY go together; "
				     "requests will be unsigned");
	*out = s3;
	return 0;
}

static void wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void aim_s3_free(struct aim_s3 **ps3)
{
	struct aim_s3 *s3 = *ps3;

	if (s3 == NULL)
		return;
	free(s3->scheme);
	free(s3->authority);
	free(s3->region);
	wipe(s3->access_key);
	wipe(s3->secret_key);
	wipe(s3->token);
	free(s3);
	*ps3 = NULL;
}

static void target_release(struct target *t)
{
	free(t->own_scheme);
	free(t->own_authority);
	memset(t, 0, sizeof(*t));
}

/* the settings of one call: the daemon's, with what auth overrides */
static int target_get(struct aim_s3 *s3, const struct aim_s3_auth *auth,
		      struct target *t, char **cause)
{
	memset(t, 0, sizeof(*t));
	t->scheme = s3->scheme;
	t->authority = s3->authority;
	t->region = s3->region;
	t->path_style = s3->path_style;
	t->access_key = s3->access_key;
	t->secret_key = s3->secret_key;
	t->token = s3->token;
	if (auth == NULL)
		return 0;
	if (auth->region)
		t->region = auth->region;
	if (auth->endpoint) {
		const char *sep = strstr(auth->endpoint, "://");
		if (sep == NULL || sep[3] == '\0') {
			aim_set_cause(cause, "the model's AWS_ENDPOINT_URL is "
					     "not a URL");
			return -EINVAL;
		}
		t->own_scheme = strndup(auth->endpoint,
					(size_t)(sep - auth->endpoint));
		t->own_authority = strndup(sep + 3, strcspn(sep + 3, "/?#"));
		t->path_style = s3->addressing == AIM_S3_VIRTUAL ? 0 : 1;
		/* the daemon's keys stay with the daemon's endpoint */
		t->access_key = t->secret_key = t->token = NULL;
	} else if (auth->region && !s3->custom) {
		t->own_scheme = strdup(s3->scheme);
		if (asprintf(&t->own_authority, "s3.%s.amazonaws.com",
			     auth->region) < 0)
			t->own_authority = NULL;
	}
	if ((auth->endpoint || (auth->region && !s3->custom)) &&
	    (t->own_scheme == NULL || t->own_authority == NULL)) {
		target_release(t);
		return -ENOMEM;
	}
	if (t->own_scheme) {
		t->scheme = t->own_scheme;
		t->authority = t->own_authority;
	}
	if (auth->access_key && auth->secret_key) {
		t->access_key = auth->access_key;
		t->secret_key = auth->secret_key;
		t->token = auth->session_token;
	}
	return 0;
}

/* one request, signed if we have credentials: URL and header lines */
struct signed_req {
	char *url;
	char *host_line;
	char *extra_line; /* If-Match, or NULL */
	const char *hdrs[8];
	struct aim_sigv4_out sig;
};

static void signed_release(struct signed_req *r)
{
	free(r->url);
	free(r->host_line);
	free(r->extra_line);
	aim_sigv4_out_release(&r->sig);
	memset(r, 0, sizeof(*r));
}

static int sign(const struct target *s3, const char *bucket, const char *key,
		const struct aim_sigv4_param *params, size_t nparams,
		const char *if_match, struct signed_req *r)
{
	char host[512], path[4096];
	int n = 0, rc;

	memset(r, 0, sizeof(*r));
	if (s3->path_style) {
		snprintf(host, sizeof(host), "%s", s3->authority);
		if ((size_t)snprintf(path, sizeof(path), "/%s/%s", bucket,
				     key ? key : "") >= sizeof(path))
			return -ENAMETOOLONG;
		if (key == NULL)
			path[strlen(path) - 1] = '\0'; /* "/bucket" */
	} else {
		snprintf(host, sizeof(host), "%s.%s", bucket, s3->authority);
		if ((size_t)snprintf(path, sizeof(path), "/%s", key ? key : "") >=
		    sizeof(path))
			return -ENAMETOOLONG;
	}
	struct aim_sigv4_req req = {
		.method = "GET",
		.host = host,
		.path = path,
		.params = params,
		.nparams = nparams,
		.region = s3->region,
		.service = "s3",
		.now = time(NULL),
	};
	struct aim_sigv4_creds creds = { s3->access_key, s3->secret_key,
					 s3->token };
	if (s3->access_key && s3->secret_key) {
		if ((rc = aim_sigv4_sign(&req, &creds, &r->sig)) < 0)
			return rc;
	} else {
		/* anonymous: the same encoding, no signature */
		struct aim_sigv4_creds none = { "anonymous", "anonymous", NULL };
		if ((rc = aim_sigv4_sign(&req, &none, &r->sig)) < 0)
			return rc;
		free(r->sig.authorization);
		r->sig.authorization = NULL;
	}
	if (asprintf(&r->url, "%s://%s%s%s%s", s3->scheme, host, r->sig.path,
		     r->sig.query[0] ? "?" : "", r->sig.query) < 0 ||
	    asprintf(&r->host_line, "Host: %s", host) < 0 ||
	    (if_match && asprintf(&r->extra_line, "If-Match: \"%s\"", if_match) < 0)) {
		signed_release(r);
		return -ENOMEM;
	}
	r->hdrs[n++] = r->host_line;
	if (r->sig.authorization) {
		r->hdrs[n++] = r->sig.authorization;
		r->hdrs[n++] = r->sig.amz_date;
		r->hdrs[n++] = r->sig.content_sha;
		if (r->sig.token)
			r->hdrs[n++] = r->sig.token;
	}
	if (r->extra_line)
		r->hdrs[n++] = r->extra_line;
	r->hdrs[n] = NULL;
	return 0;
}

/* a region a store names is printed: letters, digits and '-' only */
static int region_name_ok(const char *r)
{
	size_t n = strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-");

	return n > 0 && n <= 64 && r[n] == '\0';
}

/* a final error answer as errno and a reason a person can act on */
static int s3_error(const struct target *s3, const struct aim_http_resp *resp,
		    const char *what, char **cause)
{
	char *code = NULL, *msg = NULL, *region = NULL;
	int rc;

	if (resp->body)
		aim_s3_parse_error(resp->body, resp->body_len, &code, &msg,
				   &region);
	const char *c = code ? code : "";
	if (strcmp(c, "AuthorizationHeaderMalformed") == 0 && region &&
	    region_name_ok(region)) {
		aim_set_cause(cause, "%s: the bucket is in region %s, not %s "
				 "(set AWS_REGION or s3_region=%s)",
			  what, region, s3->region, region);
		rc = -EACCES;
	} else if (strcmp(c, "NoSuchBucket") == 0) {
		aim_set_cause(cause, "%s: no such bucket", what);
		rc = -ENOENT;
	} else if (strcmp(c, "NoSuchKey") == 0 || resp->status == 404) {
		aim_set_cause(cause, "%s: not found", what);
		rc = -ENOENT;
	} else if (strcmp(c, "SignatureDoesNotMatch") == 0) {
		aim_set_cause(cause, "%s: bad credentials (signature mismatch: check "
				 "AWS_SECRET_ACCESS_KEY)",
			  what);
		rc = -EACCES;
	} else if (strcmp(c, "InvalidAccessKeyId") == 0) {
		aim_set_cause(cause, "%s: bad credentials (unknown AWS_ACCESS_KEY_ID)",
			  what);
		rc = -EACCES;
	} else if (strcmp(c, "InvalidToken") == 0 ||
		   strcmp(c, "ExpiredToken") == 0) {
		aim_set_cause(cause, "%s: bad credentials (%s AWS_SESSION_TOKEN)", what,
			  c[0] == 'E' ? "expired" : "invalid");
		rc = -EACCES;
	} else if (strcmp(c, "AccessDenied") == 0 || resp->status == 403 ||
		   resp->status == 401) {
		aim_set_cause(cause, "%s: access denied%s", what,
			  s3->access_key ? "" : " (no AWS credentials set)");
		rc = -EACCES;
	} else if (resp->status == 412) {
		aim_set_cause(cause, "%s: changed upstream since it was registered; "
				 "refusing to mix versions",
			  what);
		rc = -ESTALE;
	} else {
		aim_set_cause(cause, "%s: HTTP %ld%s%s", what, resp->status,
			  code ? " " : "", c);
		rc = -EIO;
	}
	free(code);
	free(msg);
	free(region);
	return rc;
}

/*
 * One S3 GET with retries for transient failures; on 0, resp holds a final
 * answer (2xx or an error the caller maps).
 */
static int s3_get(struct aim_s3 *daemon, const struct target *s3,
		  const char *bucket, const char *key,
		  const struct aim_sigv4_param *params, size_t nparams,
		  const char *if_match, uint64_t off, size_t len, void *buf,
		  int fd, size_t max_body, unsigned timeout_ms,
		  struct aim_http_resp *resp, char **cause)
{
	uint64_t deadline = aim_now_ms() +
			    (timeout_ms ? timeout_ms :
					  daemon->fetch_timeout * 1000ULL);
	unsigned attempt = 0;
	int rc;

	for (;;) {
		struct signed_req r;
		if ((rc = sign(s3, bucket, key, params, nparams, if_match, &r)) < 0) {
			aim_set_cause(cause, "cannot sign a request for s3://%s/%s",
				  bucket, key ? key : "");
			return rc;
		}
		uint64_t now = aim_now_ms();
		struct aim_http_req req = {
			.url = r.url,
			.headers = r.hdrs,
			.off = off,
			.len = len,
			.buf = buf,
			.fd = fd,
			.fd_off = off,
			.max_body = max_body,
			.timeout_ms = deadline > now ? deadline - now : 1,
		};
		rc = aim_http_do(daemon->http, &req, resp);
		signed_release(&r);
		if (aim_http_local_error(rc)) {
			aim_set_cause(cause, "%s", resp->error);
			aim_http_resp_release(resp);
			return rc;
		}
		unsigned retry_after = 0;
		if (rc == 0 && !aim_http_status_retryable(resp->status) &&
		    !(resp->range_error && resp->status / 100 == 2))
			return 0;
		if (rc < 0)
			aim_set_cause(cause, "cannot reach the S3 endpoint %s://%s: %s",
				  s3->scheme, s3->authority, resp->error);
		else if (resp->range_error)
			aim_set_cause(cause, "s3://%s/%s: answer did not match the "
					 "range asked",
				  bucket, key ? key : "");
		else {
			aim_set_cause(cause, "s3://%s/%s: HTTP %ld", bucket,
				  key ? key : "", resp->status);
			retry_after = resp->retry_after;
		}
		aim_http_resp_release(resp);
		if (aim_http_backoff(attempt++, retry_after, deadline) < 0)
			return rc == -ECONNREFUSED || rc == -EHOSTUNREACH ?
				       -EHOSTUNREACH :
				       -EIO;
	}
}

int aim_s3_list(struct aim_s3 *s3, const struct aim_s3_auth *auth,
		const char *bucket, const char *prefix,
		int (*cb)(void *, const struct aim_s3_entry *), void *arg,
		char **cause)
{
	char *token = NULL, what[512];
	struct target t;
	int rc = 0, pages = 0;

	*cause = NULL;
	snprintf(what, sizeof(what), "s3://%s/%s", bucket, prefix);
	if ((rc = target_get(s3, auth, &t, cause)) < 0)
		return rc;
	do {
		/* encoding-type=url: a key S3 cannot put in XML 1.0 (ESC,
		 * say) comes percent-encoded, to be refused by name, rather
		 * than making the whole page malformed XML */
		struct aim_sigv4_param params[4] = {
			{ "list-type", "2" },
			{ "encoding-type", "url" },
			{ "prefix", prefix },
			{ "continuation-token", token },
		};
		struct aim_http_resp resp;
		struct aim_s3_list page;
		if (++pages > LIST_MAX_PAGES) {
			aim_set_cause(cause, "%s: too many listing pages", what);
			rc = -E2BIG;
			break;
		}
		rc = s3_get(s3, &t, bucket, NULL, params, token ? 4 : 3, NULL,
			    0, 0, NULL, -1, LIST_MAX_BODY, 0, &resp, cause);
		if (rc < 0)
			break;
		if (resp.status != 200) {
			rc = s3_error(&t, &resp, what, cause);
		} else if (resp.body_truncated) {
			aim_set_cause(cause, "%s: listing page too large", what);
			rc = -E2BIG;
		} else if ((rc = aim_s3_parse_list(resp.body ? resp.body : "",
						   resp.body_len, &page,
						   cause)) == 0) {
			for (size_t i = 0; i < page.n && rc == 0; i++) {
				struct aim_s3_entry e = { page.objs[i].key,
							  page.objs[i].size,
							  page.objs[i].etag };
				rc = cb(arg, &e);
			}
			free(token);
			token = page.truncated && page.next_token ?
					strdup(page.next_token) :
					NULL;
			aim_s3_list_release(&page);
		}
		aim_http_resp_release(&resp);
	} while (rc == 0 && token);
	free(token);
	target_release(&t);
	return rc;
}

int aim_s3_fetch(struct aim_s3 *s3, const struct aim_s3_auth *auth,
		 const char *bucket, const char *key, const char *etag,
		 uint64_t off, size_t len, void *buf, int fd,
		 unsigned timeout_ms, char **cause)
{
	struct aim_http_resp resp;
	struct target t;
	char what[1200];
	int rc;

	*cause = NULL;
	snprintf(what, sizeof(what), "s3://%s/%s", bucket, key);
	if ((rc = target_get(s3, auth, &t, cause)) < 0)
		return rc;
	rc = s3_get(s3, &t, bucket, key, NULL, 0, etag, off, len, buf, fd,
		    4096, timeout_ms, &resp, cause);
	if (rc < 0) {
		target_release(&t);
		return rc;
	}
	if (resp.status / 100 != 2) {
		rc = s3_error(&t, &resp, what, cause);
	} else if (etag && resp.etag) {
		/* a store ignoring If-Match must still not mix versions */
		const char *e = resp.etag + (resp.etag[0] == '"');
		size_t n = strlen(etag);
		if (strncmp(e, etag, n) != 0 || (e[n] != '"' && e[n] != '\0')) {
			aim_set_cause(cause, "%s: changed upstream since it was "
					 "registered; refusing to mix versions",
				  what);
			rc = -ESTALE;
		}
	}
	aim_http_resp_release(&resp);
	target_release(&t);
	return rc;
}
