/*
 * kube.c - see kube.h. Every request gets its own curl easy handle; they
 * share connections, DNS and TLS sessions through one share handle guarded
 * by a mutex per data kind. Bodies are capped (MAX_BODY, MAX_LINE for a
 * watch line) so a hostile or broken server cannot exhaust memory.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "kube.h"
#include "src/log.h"
#include "src/util.h"

#define MAX_BODY  (64u << 20)
#define MAX_LINE  (16u << 20)
#define MAX_TOKEN 16384

struct aim_kube {
	struct aim_kube_conf conf;
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_mutex_t lock; /* guards the token fields below */
	char *token;	      /* protected by lock */
	struct stat token_st; /* protected by lock: the file when read */
};

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

void aim_kube_conf_release(struct aim_kube_conf *c)
{
	free(c->server);
	free(c->token_file);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->ca_file);
	free(c->ca_data);
	free(c->namespace);
	free(c->context);
	free(c->user_agent);
	memset(c, 0, sizeof(*c));
}

int aim_kube_conf_in_cluster(struct aim_kube_conf *c, const char *sa_dir,
			     char **cause)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[PATH_MAX];
	int v6, rc;

	*cause = NULL;
	if (host == NULL || *host == '\0' || port == NULL || *port == '\0') {
		aim_set_cause(cause, "not in a cluster: KUBERNETES_SERVICE_HOST "
				 "and KUBERNETES_SERVICE_PORT are unset");
		return -ENOENT;
	}
	v6 = strchr(host, ':') != NULL;
	free(c->server);
	if (asprintf(&c->server, "https://%s%s%s:%s", v6 ? "[" : "", host,
		     v6 ? "]" : "", port) < 0) {
		c->server = NULL;
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/token", sa_dir);
	free(c->token_file);
	if ((c->token_file = strdup(path)) == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	free(c->ca_file);
	if ((c->ca_file = strdup(path)) == NULL)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/namespace", sa_dir);
	free(c->namespace);
	c->namespace = NULL;
	rc = aim_read_small_file(path, 256, &c->namespace);
	if (rc < 0 && rc != -ENOENT) {
		aim_set_cause(cause, "cannot read '%s': %s", path, strerror(-rc));
		return rc;
	}
	return 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a,
		       void *arg)
{
	struct aim_kube *k = arg;

	pthread_mutex_lock(&k->share_lock[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *arg)
{
	struct aim_kube *k = arg;

	pthread_mutex_unlock(&k->share_lock[data]);
}

int aim_kube_new(const struct aim_kube_conf *conf, struct aim_kube **out,
		 char **cause)
{
	struct aim_kube *k;
	int i;

	*cause = NULL;
	if (conf->server == NULL) {
		aim_set_cause(cause, "no API server given");
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (k == NULL)
		return -ENOMEM;
	k->conf.server = xstrdup(conf->server);
	k->conf.token_file = xstrdup(conf->token_file);
	k->conf.token = xstrdup(conf->token);
	k->conf.ca_file = xstrdup(conf->ca_file);
	if (conf->ca_data && (k->conf.ca_data = malloc(conf->ca_data_len + 1))) {
		memcpy(k->conf.ca_data, conf->ca_data, conf->ca_data_len);
		k->conf.ca_data[conf->ca_data_len] = '\0';
		k->conf.ca_data_len = conf->ca_data_len;
	}
	k->conf.namespace = xstrdup(conf->namespace);
	k->conf.user_agent = xstrdup(conf->user_agent ? conf->user_agent
						      : "aimfs-reconciler");
	/* a trailing slash would double the one every path starts with */
	size_t n = k->conf.server ? strlen(k->conf.server) : 0;
	while (n > 0 && k->conf.server[n - 1] == '/')
		k->conf.server[--n] = '\0';
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&k->share_lock[i], NULL);
	pthread_mutex_init(&k->lock, NULL);
	k->share = curl_share_init();
	if (!k->conf.server || !k->conf.user_agent || !k->share ||
	    (conf->token_file && !k->conf.token_file) ||
	    (conf->token && !k->conf.token) ||
	    (conf->ca_file && !k->conf.ca_file) ||
	    (conf->ca_data && !k->conf.ca_data)) {
		aim_kube_free(&k);
		return -ENOMEM;
	}
	curl_share_setopt(k->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(k->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(k->share, CURLSHOPT_USERDATA, k);
	curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(k->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	*out = k;
	return 0;
}

void aim_kube_free(struct aim_kube **pk)
{
	struct aim_kube *k = *pk;
	int i;

	if (k == NULL)
		return;
	if (k->share)
		curl_share_cleanup(k->share);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&k->share_lock[i]);
	pthread_mutex_destroy(&k->lock);
	if (k->token) {
		explicit_bzero(k->token, strlen(k->token));
		free(k->token);
	}
	aim_kube_conf_release(&k->conf);
	free(k);
	*pk = NULL;
}

/*
 * The "Authorization: Bearer ..." header line (caller frees and wipes), or
 * NULL with rc 0 when no token is configured. The token file is read again
 * when it changed on disk or when force is set (after a 401).
 */
static int auth_header(struct aim_kube *k, int force, char **out)
{
	const char *tok = k->conf.token;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&k->lock);
	if (k->conf.token_file) {
		struct stat st;
		if (stat(k->conf.token_file, &st) < 0) {
			rc = -errno;
		} else if (force || k->token == NULL ||
			   st.st_ino != k->token_st.st_ino ||
			   st.st_size != k->token_st.st_size ||
			   st.st_mtim.tv_sec != k->token_st.st_mtim.tv_sec ||
			   st.st_mtim.tv_nsec != k->token_st.st_mtim.tv_nsec) {
			char *t = NULL;
			rc = aim_read_small_file(k->conf.token_file, MAX_TOKEN,
						 &t);
			if (rc == 0) {
				if (k->token) {
					explicit_bzero(k->token,
						       strlen(k->token));
					free(k->token);
				}
				k->token = t;
				k->token_st = st;
				aim_debug("kube: read the token from '%s'",
					  k->conf.token_file);
			}
		}
		tok = k->token;
	}
	if (rc == 0 && tok && *tok &&
	    asprintf(out, "Authorization: Bearer %s", tok) < 0) {
		*out = NULL;
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}

struct sink {
	char *buf;
	size_t len, cap, max;
	int toobig;
	/* watch streams: lines go to fn as they complete */
	aim_kube_event_fn fn;
	void *arg;
	int stopped; /* fn asked to stop */
	volatile int *stop;
	long status;
	CURL *h;
};

static int sink_grow(struct sink *s, size_t need)
{
	if (s->len + need + 1 <= s->cap)
		return 0;
	if (s->len + need + 1 > s->max) {
		s->toobig = 1;
		return -1;
	}
	size_t cap = s->cap ? s->cap : 16384;
	while (cap < s->len + need + 1)
		cap *= 2;
	if (cap > s->max + 1)
		cap = s->max + 1;
	char *nb = realloc(s->buf, cap);
	if (nb == NULL)
		return -1;
	s->buf = nb;
	s->cap = cap;
	return 0;
}

/* hand every complete line in the buffer to fn */
static void sink_lines(struct sink *s)
{
	char *start = s->buf, *nl;

	while (!s->stopped &&
	       (nl = memchr(start, '\n', s->len - (size_t)(start - s->buf)))) {
		json_error_t jerr;
		*nl = '\0';
		json_t *ev = json_loads(start, 0, &jerr);
		if (ev) {
			if (s->fn(s->arg, ev) != 0)
				s->stopped = 1;
			json_decref(ev);
		} else if (nl > start) {
			aim_log(LOG_WARNING,
				"kube: a watch line is not JSON: %s",
				jerr.text);
		}
		start = nl + 1;
	}
	size_t left = s->len - (size_t)(start - s->buf);
	memmove(s->buf, start, left);
	s->len = left;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->fn && s->status == 0)
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
	if (sink_grow(s, n) < 0)
		return 0;
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	s->buf[s->len] = '\0';
	/* only a 200 is a stream of events; anything else is one Status */
	if (s->fn && s->status == 200) {
		sink_lines(s);
		if (s->stopped)
			return 0;
	}
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
		       curl_off_t un)
{
	struct sink *s = arg;

	return s->stop && *s->stop;
}

static CURL *easy(struct aim_kube *k, const char *path, struct sink *s,
		  struct curl_slist *hdrs)
{
	CURL *h = curl_easy_init();
	char *url;

	if (h == NULL)
		return NULL;
	if (asprintf(&url, "%s%s", k->conf.server, path) < 0) {
		curl_easy_cleanup(h);
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url); /* curl copies it */
	curl_easy_setopt(h, CURLOPT_SHARE, k->share);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_USERAGENT, k->conf.user_agent);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (k->conf.ca_data) {
		/* certificate-authority-data: the PEM itself, no file */
		struct curl_blob blob = {k->conf.ca_data, k->conf.ca_data_len,
					 CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	} else if (k->conf.ca_file) {
		curl_easy_setopt(h, CURLOPT_CAINFO, k->conf.ca_file);
	}
	s->h = h;
	return h;
}

/* one attempt; *status is the HTTP status or 0 */
static int perform(struct aim_kube *k, const char *method, const char *path,
		   const char *ctype, const char *body, struct sink *s,
		   long idle_secs, int force_token, long *status, char **cause)
{
	struct curl_slist *hdrs = NULL, *t;
	char *auth = NULL, ct[128];
	CURLcode cc;
	CURL *h;
	int rc;

	*status = 0;
	rc = auth_header(k, force_token, &auth);
	if (rc < 0) {
		aim_set_cause(cause, "cannot read the token from '%s': %s",
			  AIM_STR(k->conf.token_file), strerror(-rc));
		return rc;
	}
	t = curl_slist_append(hdrs, "Accept: application/json");
	if (t)
		hdrs = t;
	if (t && auth && (t = curl_slist_append(hdrs, auth)))
		hdrs = t;
	if (t && body) {
		snprintf(ct, sizeof(ct), "Content-Type: %s",
			 ctype ? ctype : "application/json");
		if ((t = curl_slist_append(hdrs, ct)))
			hdrs = t;
	}
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	if (t == NULL || (h = easy(k, path, s, hdrs)) == NULL) {
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (s->fn) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, idle_secs);
	} else {
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	/* the headers held the token: wipe before freeing */
	for (t = hdrs; t; t = t->next)
		if (strncmp(t->data, "Authorization:", 14) == 0)
			explicit_bzero(t->data, strlen(t->data));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (cc == CURLE_OK)
		return 0;
	if (s->fn && (s->stopped || (s->stop && *s->stop)))
		return 0; /* we ended it */
	if (s->toobig) {
		aim_set_cause(cause, "%s %s: the answer is too big", method, path);
		return -EFBIG;
	}
	aim_set_cause(cause, "%s %s: %s", method, path, curl_easy_strerror(cc));
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int aim_kube_call(struct aim_kube *k, const char *method, const char *path,
		  const char *ctype, json_t *body, json_t **resp, char **cause)
{
	struct sink s;
	char *text = NULL;
	long status = 0;
	int rc, attempt;

	*cause = NULL;
	if (resp)
		*resp = NULL;
	if (body && (text = json_dumps(body, JSON_COMPACT)) == NULL)
		return -ENOMEM;
	for (attempt = 0; attempt < 2; attempt++) {
		memset(&s, 0, sizeof(s));
		s.max = MAX_BODY;
		rc = perform(k, method, path, ctype, text, &s, 0, attempt > 0,
			     &status, cause);
		/* a rotated token: read the file again, once */
		if (rc == 0 && status == 401 && attempt == 0 &&
		    k->conf.token_file) {
			aim_log(LOG_INFO,
				"kube: 401 on %s %s: reading the "
				"token again",
				method, path);
			free(s.buf);
			continue;
		}
		break;
	}
	free(text);
	if (rc < 0) {
		free(s.buf);
		return rc;
	}
	if (resp && s.buf && s.len) {
		json_error_t jerr;
		*resp = json_loadb(s.buf, s.len, 0, &jerr);
	}
	/* a Secret's data came this way: no copy outlives the call */
	if (s.buf)
		explicit_bzero(s.buf, s.len);
	free(s.buf);
	aim_debug("kube: %s %s -> %ld", method, path, status);
	return (int)status;
}

int aim_kube_stream(struct aim_kube *k, const char *path, aim_kube_event_fn fn,
		    void *arg, volatile int *stop, long idle_secs,
		    json_t **resp, char **cause)
{
	struct sink s;
	long status = 0;
	int rc, attempt;

	*cause = NULL;
	*resp = NULL;
	for (attempt = 0; attempt < 2; attempt++) {
		memset(&s, 0, sizeof(s));
		s.max = MAX_LINE;
		s.fn = fn;
		s.arg = arg;
		s.stop = stop;
		rc = perform(k, "GET", path, NULL, NULL, &s, idle_secs,
			     attempt > 0, &status, cause);
		if (rc == 0 && status == 401 && attempt == 0 &&
		    k->conf.token_file) {
			free(s.buf);
			continue;
		}
		break;
	}
	if (rc == 0 && status != 200 && s.buf && s.len) {
		json_error_t jerr;
		*resp = json_loadb(s.buf, s.len, 0, &jerr);
	}
	free(s.buf);
	if (rc < 0)
		return rc;
	return (int)status;
}

const char *aim_kube_message(json_t *st)
{
	const char *m = json_string_value(json_object_get(st, "message"));

	return m ? m : "no message";
}
