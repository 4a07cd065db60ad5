/*
 * http.h - one HTTP exchange on libcurl, with the headers the sources need
 * parsed out, a capped body, and ranged bodies written straight into the
 * caller's buffer after checking Content-Range. No redirect is followed
 * here: the sources decide where a redirect may go and which credentials
 * go with it.
 *
 * Easy handles are pooled and share one connection cache, DNS cache and TLS
 * sessions, so consecutive ranges of a file reuse one connection. All
 * functions are thread-safe.
 */
#ifndef AIM_HTTP_H
#define AIM_HTTP_H

#include <stddef.h>
#include <errno.h>
#include <stdint.h>

struct aim_http;
struct aim_http_resp;

struct aim_http_opts {
	const char *ca_file;	  /* NULL: the system's CA bundle */
	unsigned connect_timeout; /* seconds */
};

struct aim_http_req {
	const char *url;
	int head;		     /* 1: HEAD */
	const char *const *headers;  /* NULL-terminated "Name: value" list */
	uint64_t off, len;	     /* len > 0: ask for bytes [off, off+len) */
	void *buf;		     /* with len: where the bytes go, or ... */
	int fd;			     /* ... when buf is NULL: written to fd at */
	uint64_t fd_off;	     /* fd_off (a store file), no copy in memory */
	size_t max_body;	     /* other bodies are kept up to this size */
	/* with sink: a 200 body is handed over as it arrives instead; a
	 * negative return stops the transfer */
	int (*sink)(void *arg, const void *data, size_t len);
	/* called once the headers of a 2xx answer are in, before any body
	 * byte is handed on; a negative return refuses the answer */
	int (*on_headers)(void *arg, const struct aim_http_resp *resp);
	void *sink_arg;
	uint64_t timeout_ms;	     /* the whole exchange; 0: no bound */
};

struct aim_http_resp {
	long status;
	char *body; /* NUL-terminated; not for range requests with 200/206 */
	size_t body_len;
	int body_truncated;
	uint64_t got; /* range requests: bytes placed into req->buf */
	char *location;
	char *etag;
	char *linked_etag;
	char *repo_commit;
	char *error_code;   /* X-Error-Code */
	char *link_next;    /* Link: <...>; rel="next" */
	char *last_modified;
	int64_t content_length; /* -1 when absent */
	int64_t linked_size;	/* -1 when absent */
	int has_range;		/* Content-Range parsed */
	uint64_t range_start, range_end, range_total;
	int accept_ranges;
	unsigned retry_after; /* seconds; 0 when absent */
	int range_error;      /* body did not match the requested range */
	int refused;	      /* on_headers refused the answer */
	int write_errno;      /* writing to req->fd failed (ENOSPC...) */
	char error[256];      /* transport error text when aim_http_do < 0 */
};

int aim_http_new(const struct aim_http_opts *opts, struct aim_http **out);
void aim_http_free(struct aim_http **http);

/*
 * Perform one exchange. Returns 0 when a response arrived (whatever its
 * status; for a range request with 2xx, resp->range_error says whether the
 * body was exactly the bytes asked for), -ETIMEDOUT, -ECONNREFUSED or -EIO
 * on transport errors with resp->error set. resp is filled in and must be
 * released with aim_http_resp_release() either way.
 */
int aim_http_do(struct aim_http *http, const struct aim_http_req *req,
		struct aim_http_resp *resp);
void aim_http_resp_release(struct aim_http_resp *resp);

/* 1 if a response status is worth retrying (408, 429, 5xx) */
int aim_http_status_retryable(long status);

/* 1 for a local failure no retry will mend (the store's disk is full) */
static inline int aim_http_local_error(int rc)
{
	return rc == -ENOSPC || rc == -EDQUOT || rc == -EROFS;
}

/* what went wrong with an exchange, as far as a fetch error class goes */
enum aim_http_failure {
	AIM_HTTP_FINE = 0, /* nothing, or an answer below 400 */
	AIM_HTTP_FAIL_TIMEOUT,
	AIM_HTTP_FAIL_CONNECT,
	AIM_HTTP_FAIL_TRANSPORT, /* reset, short body, wrong range */
	AIM_HTTP_FAIL_4XX,
	AIM_HTTP_FAIL_5XX,
};

/*
 * How the calling thread's last exchange (aim_http_do) went, and forget
 * it. A source retries and then returns -EIO for most failures; this says
 * which kind of failure it gave up on, without parsing its cause.
 */
enum aim_http_failure aim_http_take_failure(void);

/*
 * Sleep before retry number attempt (0-based): exponential backoff from
 * 100 ms, capped at 5 s, with full jitter; at least retry_after seconds when
 * the server asked. Returns -ETIMEDOUT instead of sleeping past deadline_ms
 * (aim_now_ms() clock). Each retry it sleeps for is counted in the
 * aimfs_fetch_retries_total metric.
 */
int aim_http_backoff(unsigned attempt, unsigned retry_after,
		     uint64_t deadline_ms);

/* "host:port" of an http(s) URL into buf; -EINVAL if unparsable */
int aim_http_url_origin(const char *url, char *buf, size_t len);

/* resolve a Location header against the URL it came from; caller frees */
char *aim_http_url_join(const char *base, const char *location);

/* percent-encode s (every byte but unreserved ones); caller frees */
char *aim_http_escape(const char *s, int keep_slash);

#endif
