/*
 * http.c - see http.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define POOL_MAX 64

/* the calling thread's last exchange, for aim_http_take_failure() */
static __thread enum aim_http_failure last_failure;

struct aim_http {
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock; /* guards pool, npool */
	CURL *pool[POOL_MAX];
	int npool;
	char *ca_file;
	unsigned connect_timeout;
	char user_agent[64];
};

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
		       void *arg)
{
	struct aim_http *http = arg;

	pthread_mutex_lock(&http->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct aim_http *http = arg;

	pthread_mutex_unlock(&http->share_locks[data]);
}

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int aim_http_new(const struct aim_http_opts *opts, struct aim_http **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct aim_http *http;

	pthread_once(&once, global_init);
	http = calloc(1, sizeof(*http));
	if (http == NULL)
		return -ENOMEM;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&http->share_locks[i], NULL);
	pthread_mutex_init(&http->lock, NULL);
	http->connect_timeout = opts->connect_timeout ? opts->connect_timeout : 10;
	if (opts->ca_file && (http->ca_file = strdup(opts->ca_file)) == NULL)
		goto fail;
	snprintf(http->user_agent, sizeof(http->user_agent), "aimfs/%s",
		 PACKAGE_VERSION);
	http->share = curl_share_init();
	if (http->share == NULL)
		goto fail;
	curl_share_setopt(http->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(http->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(http->share, CURLSHOPT_USERDATA, http);
	curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(http->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = http;
	return 0;
fail:
	aim_http_free(&http);
	return -ENOMEM;
}

void aim_http_free(struct aim_http **phttp)
{
	struct aim_http *http = *phttp;

	if (http == NULL)
		return;
	for (int i = 0; i < http->npool; i++)
		curl_easy_cleanup(http->pool[i]);
	if (http->share)
		curl_share_cleanup(http->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&http->share_locks[i]);
	pthread_mutex_destroy(&http->lock);
	free(http->ca_file);
	free(http);
	*phttp = NULL;
}

static CURL *pool_get(struct aim_http *http)
{
	CURL *h = NULL;

	pthread_mutex_lock(&http->lock);
	if (http->npool > 0)
		h = http->pool[--http->npool];
	pthread_mutex_unlock(&http->lock);
	if (h) {
		curl_easy_reset(h);
		return h;
	}
	return curl_easy_init();
}

static void pool_put(struct aim_http *http, CURL *h)
{
	pthread_mutex_lock(&http->lock);
	if (http->npool < POOL_MAX) {
		http->pool[http->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&http->lock);
	if (h)
		curl_easy_cleanup(h);
}

/* state of one exchange, shared by the header and body callbacks */
struct xfer {
	const struct aim_http_req *req;
	struct aim_http_resp *resp;
	int range_mode;	 /* 1: range request and a 2xx status */
	uint64_t skip;	 /* 200 to a range request: bytes still to skip */
	int done;	 /* all wanted bytes arrived; the rest is discarded */
	size_t body_cap; /* allocated size of resp->body */
};

static char *dup_value(const char *v, size_t n)
{
	while (n > 0 && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	return strndup(v, n);
}

static void set_field(char **slot, const char *v, size_t n)
{
	free(*slot);
	*slot = dup_value(v, n);
}

static void reset_headers(struct aim_http_resp *r)
{
	char **fields[] = { &r->location, &r->etag, &r->linked_etag,
			    &r->repo_commit, &r->error_code, &r->link_next,
			    &r->last_modified };

	for (size_t i = 0; i < AIM_ARRAY_SIZE(fields); i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
	r->content_length = -1;
	r->linked_size = -1;
	r->has_range = 0;
	r->accept_ranges = 0;
	r->retry_after = 0;
}

static void parse_link(struct aim_http_resp *r, const char *v, size_t n)
{
	/* <url>; rel="next", <url>; rel="prev" */
	char *s = strndup(v, n), *p = s;

	while (s && p && *p) {
		char *lt = strchr(p, '<'), *gt = lt ? strchr(lt, '>') : NULL;
		if (!gt)
			break;
		char *next = strchr(gt, ',');
		char *rel = strstr(gt, "rel=");
		if (rel && (!next || rel < next) &&
		    strncmp(rel + 4, "\"next\"", 6) == 0) {
			set_field(&r->link_next, lt + 1, (size_t)(gt - lt - 1));
			break;
		}
		p = next ? next + 1 : NULL;
	}
	free(s);
}

static size_t header_cb(char *line, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	struct aim_http_resp *r = x->resp;
	size_t n = size * nitems, nl;
	const char *colon, *v;

	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget the last one */
		reset_headers(r);
		return n;
	}
	colon = memchr(line, ':', n);
	if (colon == NULL)
		return n;
	nl = (size_t)(colon - line);
	v = colon + 1;
	size_t vn = n - nl - 1;
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(line, name, nl) == 0)
	if (IS("location"))
		set_field(&r->location, v, vn);
	else if (IS("etag"))
		set_field(&r->etag, v, vn);
	else if (IS("x-linked-etag"))
		set_field(&r->linked_etag, v, vn);
	else if (IS("x-repo-commit"))
		set_field(&r->repo_commit, v, vn);
	else if (IS("x-error-code"))
		set_field(&r->error_code, v, vn);
	else if (IS("last-modified"))
		set_field(&r->last_modified, v, vn);
	else if (IS("link"))
		parse_link(r, v, vn);
	else if (IS("x-linked-size") || IS("content-length")) {
		char *s = dup_value(v, vn), *end;
		if (s) {
			errno = 0;
			long long ll = strtoll(s, &end, 10);
			if (!errno && end != s && *end == '\0' && ll >= 0) {
				if (IS("x-linked-size"))
					r->linked_size = ll;
				else
					r->content_length = ll;
			}
			free(s);
		}
	} else if (IS("content-range")) {
		char *s = dup_value(v, vn);
		unsigned long long a, b, t;
		char tail;
		if (s && sscanf(s, "bytes %llu-%llu/%llu%c", &a, &b, &t,
				&tail) == 3 && a <= b && b < t) {
			r->has_range = 1;
			r->range_start = a;
			r->range_end = b;
			r->range_total = t;
		}
		free(s);
	} else if (IS("accept-ranges")) {
		char *s = dup_value(v, vn);
		r->accept_ranges = s && strcasecmp(s, "bytes") == 0;
		free(s);
	} else if (IS("retry-after")) {
		char *s = dup_value(v, vn), *end;
		if (s) {
			long secs = strtol(s, &end, 10);
			if (end == s || *end) {
				time_t when = curl_getdate(s, NULL);
				secs = when > 0 ? (long)(when - time(NULL)) : 0;
			}
			r->retry_after = secs > 0 ? (unsigned)(secs > 3600 ? 3600 : secs) : 0;
			free(s);
		}
	}
#undef IS
	return n;
}

/* called on the first body byte: decide where the body goes */
static int start_body(struct xfer *x, CURL *h)
{
	const struct aim_http_req *req = x->req;
	struct aim_http_resp *r = x->resp;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (req->on_headers && r->status / 100 == 2 &&
	    req->on_headers(req->sink_arg, r) < 0) {
		r->refused = 1;
		return -1;
	}
	if (req->len == 0 || (r->status != 200 && r->status != 206))
		return 0;
	x->range_mode = 1;
	if (r->status == 206) {
		if (!r->has_range || r->range_start != req->off ||
		    r->range_end != req->off + req->len - 1) {
			r->range_error = 1;
			return -1;
		}
	} else {
		/* a server without range support: take our slice of it */
		x->skip = req->off;
	}
	return 0;
}

static size_t body_cb(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	const struct aim_http_req *req = x->req;
	struct aim_http_resp *r = x->resp;
	size_t n = size * nmemb;

	if (x->range_mode) {
		size_t take;
		if (x->skip) {
			uint64_t s = x->skip < n ? x->skip : n;
			x->skip -= s;
			data += s;
			n -= (size_t)s;
		}
		take = n;
		if (r->got + take > req->len) {
			if (r->status == 206) {
				/* more bytes than the range: not ours */
				r->range_error = 1;
				return 0;
			}
			take = (size_t)(req->len - r->got);
		}
		if (req->buf) {
			memcpy((char *)req->buf + r->got, data, take);
		} else {
			/* straight into the store file: no block-sized buffer */
			size_t done = 0;
			while (done < take) {
				ssize_t w = pwrite(req->fd, data + done, take - done,
						   (off_t)(req->fd_off + r->got + done));
				if (w < 0 && errno == EINTR)
					continue;
				if (w <= 0) {
					r->write_errno = w < 0 ? errno : EIO;
					return 0;
				}
				done += (size_t)w;
			}
		}
		r->got += take;
		if (r->got == req->len && r->status == 200) {
			x->done = 1;
			return 0; /* stop reading the rest of the file */
		}
		return size * nmemb;
	}
	if (req->sink && r->status == 200) {
		if (req->sink(req->sink_arg, data, n) < 0) {
			x->done = 1; /* the sink has what it wanted, or gave up */
			return 0;
		}
		r->got += n;
		return n;
	}
	if (r->body_len + n > req->max_body) {
		/* keep what fits; an error page is read for its first bytes */
		r->body_truncated = 1;
		n = req->max_body - r->body_len;
		if (n == 0)
			return size * nmemb;
	}
	if (r->body_len + n + 1 > x->body_cap) {
		/* grow geometrically: a big listing is not copied per chunk */
		size_t cap = x->body_cap ? x->body_cap : 16384;
		while (cap < r->body_len + n + 1)
			cap *= 2;
		char *nb = realloc(r->body, cap);
		if (nb == NULL)
			return 0;
		r->body = nb;
		x->body_cap = cap;
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return size * nmemb;
}

struct body_ctx {
	struct xfer x;
	CURL *h;
};

static size_t body_entry(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body_ctx *bc = arg;

	if (bc->x.resp->status == 0 && start_body(&bc->x, bc->h) < 0)
		return 0;
	return body_cb(data, size, nmemb, &bc->x);
}

static enum aim_http_failure failure_of(int rc,
					const struct aim_http_resp *resp)
{
	switch (rc) {
	case 0:
		break;
	case -ETIMEDOUT:
		return AIM_HTTP_FAIL_TIMEOUT;
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
		return AIM_HTTP_FAIL_CONNECT;
	case -ENOMEM:
		return AIM_HTTP_FINE; /* ours, not the origin's */
	default:
		return aim_http_local_error(rc) ? AIM_HTTP_FINE :
						  AIM_HTTP_FAIL_TRANSPORT;
	}
	if (resp->status >= 500)
		return AIM_HTTP_FAIL_5XX;
	if (resp->status >= 400)
		return AIM_HTTP_FAIL_4XX;
	if (resp->range_error && resp->status / 100 == 2)
		return AIM_HTTP_FAIL_TRANSPORT;
	return AIM_HTTP_FINE;
}

int aim_http_do(struct aim_http *http, const struct aim_http_req *req,
		struct aim_http_resp *resp)
{
	struct curl_slist *hdrs = NULL, *tmp;
	struct body_ctx bc;
	char range[64];
	CURLcode cc;
	CURL *h;
	int rc = 0;

	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
	resp->linked_size = -1;
	h = pool_get(http);
	if (h == NULL) {
		snprintf(resp->error, sizeof(resp->error), "out of memory");
		return -ENOMEM;
	}
	memset(&bc, 0, sizeof(bc));
	bc.x.req = req;
	bc.x.resp = resp;
	bc.h = h;

	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_SHARE, http->share);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, http->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)http->connect_timeout);
	/* a stalled body is a failed attempt, not a hung read: no byte for a
	 * third of the time allowed (2 to 10 s) ends the attempt */
	long stall = req->timeout_ms ? (long)(req->timeout_ms / 3000) : 10;
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME,
			 stall < 2 ? 2L : stall > 10 ? 10L : stall);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* fewer, larger writes into the store file: each pwrite takes the
	 * file's lock, which the parallel fetches of one blob contend for */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L << 10);
	if (req->timeout_ms)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	if (http->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, http->ca_file);
	if (req->head)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (req->len == 0)
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (req->len > 0) {
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, req->off,
			 req->off + req->len - 1);
		curl_easy_setopt(h, CURLOPT_RANGE, range);
	}
	for (const char *const *p = req->headers; p && *p; p++) {
		tmp = curl_slist_append(hdrs, *p);
		if (tmp == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		hdrs = tmp;
	}
	if (hdrs)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &bc.x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, body_entry);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &bc);

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (cc == CURLE_WRITE_ERROR && bc.x.done)
		cc = CURLE_OK; /* we stopped a 200 once our slice arrived */
	if (cc == CURLE_WRITE_ERROR && (resp->range_error || resp->refused))
		cc = CURLE_OK; /* a response, just not one we take */
	if (cc == CURLE_WRITE_ERROR && resp->write_errno) {
		snprintf(resp->error, sizeof(resp->error), "cannot store: %s",
			 strerror(resp->write_errno));
		rc = -resp->write_errno;
		goto out;
	}
	if (cc != CURLE_OK) {
		snprintf(resp->error, sizeof(resp->error), "%s",
			 curl_easy_strerror(cc));
		switch (cc) {
		case CURLE_OPERATION_TIMEDOUT:
			rc = -ETIMEDOUT;
			break;
		case CURLE_COULDNT_CONNECT:
			rc = -ECONNREFUSED;
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			rc = -EHOSTUNREACH;
			break;
		case CURLE_OUT_OF_MEMORY:
			rc = -ENOMEM;
			break;
		default:
			rc = -EIO;
		}
		goto out;
	}
	if (req->len > 0 && bc.x.range_mode && !resp->range_error &&
	    resp->got != req->len)
		resp->range_error = 1; /* short body */
out:
	curl_slist_free_all(hdrs);
	pool_put(http, h);
	last_failure = failure_of(rc, resp);
	return rc;
}

enum aim_http_failure aim_http_take_failure(void)
{
	enum aim_http_failure f = last_failure;

	last_failure = AIM_HTTP_FINE;
	return f;
}

void aim_http_resp_release(struct aim_http_resp *r)
{
	reset_headers(r);
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

int aim_http_status_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

int aim_http_backoff(unsigned attempt, unsigned retry_after,
		     uint64_t deadline_ms)
{
	uint64_t cap = 100ULL << (attempt < 6 ? attempt : 6);
	uint64_t wait, now = aim_now_ms();
	static __thread unsigned seed;

	if (seed == 0)
		seed = (unsigned)(now ^ (uintptr_t)&seed);
	if (cap > 5000)
		cap = 5000;
	wait = cap / 2 + (uint64_t)rand_r(&seed) % (cap / 2 + 1);
	if ((uint64_t)retry_after * 1000 > wait)
		wait = (uint64_t)retry_after * 1000;
	if (now + wait >= deadline_ms)
		return -ETIMEDOUT;
	aim_metrics_retry();
	struct timespec ts = { (time_t)(wait / 1000),
			       (long)(wait % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return 0;
}

int aim_http_url_origin(const char *url, char *buf, size_t len)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL;
	int rc = -EINVAL;

	if (u == NULL)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
		    CURLUE_OK) {
		snprintf(buf, len, "%s:%s", host, port);
		rc = 0;
	}
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

char *aim_http_url_join(const char *base, const char *location)
{
	CURLU *u = curl_url();
	char *joined = NULL, *out = NULL;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &joined, 0) == CURLUE_OK)
		out = strdup(joined);
	curl_free(joined);
	curl_url_cleanup(u);
	return out;
}

char *aim_http_escape(const char *s, int keep_slash)
{
	size_t n = strlen(s);
	char *out = malloc(3 * n + 1), *p = out;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
		    (keep_slash && c == '/')) {
			*p++ = (char)c;
		} else {
			sprintf(p, "%%%02X", c);
			p += 3;
		}
	}
	*p = '\0';
	return out;
}
