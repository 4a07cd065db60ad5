/*
 * https.c - see https.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "http.h"
#include "https.h"
#include "log.h"
#include "util.h"

/* the ETag without W/ and quotes; weak ETags cannot guard ranges */
static void clean_etag(const char *hdr, char *out, size_t len)
{
	out[0] = '\0';
	if (hdr == NULL || strncmp(hdr, "W/", 2) == 0)
		return;
	if (*hdr == '"')
		hdr++;
	snprintf(out, len, "%.*s", (int)strcspn(hdr, "\""), hdr);
}

static int changed(const struct aim_http_resp *r, const char *etag)
{
	char e[256];

	if (etag == NULL || etag[0] == '\0')
		return 0;
	if (r->status == 412)
		return 1;
	clean_etag(r->etag, e, sizeof(e));
	return e[0] && strcmp(e, etag) != 0;
}

static int status_error(const struct aim_http_resp *r, const char *safe,
			char **cause)
{
	if (r->status == 404 || r->status == 410) {
		aim_set_cause(cause, "%s: not found", safe);
		return -ENOENT;
	}
	if (r->status == 401 || r->status == 403) {
		aim_set_cause(cause, "%s: access denied (HTTP %ld)", safe, r->status);
		return -EACCES;
	}
	aim_set_cause(cause, "%s: HTTP %ld", safe, r->status);
	return -EIO;
}

int aim_https_probe(struct aim_http *http, const char *url, unsigned timeout,
		    struct aim_https_info *out, char **cause)
{
	uint64_t deadline = aim_now_ms() + timeout * 1000ULL;
	char safe[512], byte;
	unsigned attempt = 0;
	int rc;

	*cause = NULL;
	memset(out, 0, sizeof(*out));
	aim_url_redact(url, safe, sizeof(safe));
	for (;;) {
		struct aim_http_resp r;
		uint64_t now = aim_now_ms();
		struct aim_http_req req = {
			.url = url,
			.off = 0,
			.len = 1,
			.buf = &byte,
			.max_body = 4096,
			.timeout_ms = deadline > now ? deadline - now : 1,
		};
		rc = aim_http_do(http, &req, &r);
		if (rc == 0 && (r.status == 206 || r.status == 200)) {
			if (r.status == 206 && r.has_range) {
				out->size = r.range_total;
				out->ranges = 1;
			} else if (r.content_length >= 0) {
				out->size = (uint64_t)r.content_length;
			} else {
				aim_set_cause(cause, "%s: the server gives no size",
					  safe);
				rc = -EPROTO;
			}
			clean_etag(r.etag, out->etag, sizeof(out->etag));
			if (r.last_modified) {
				time_t t = curl_getdate(r.last_modified, NULL);
				out->mtime = t > 0 ? (int64_t)t : 0;
			}
			aim_http_resp_release(&r);
			return rc;
		}
		if (rc == 0 && r.status == 416) {
			/* an empty file has no byte 0 */
			clean_etag(r.etag, out->etag, sizeof(out->etag));
			out->ranges = 1;
			aim_http_resp_release(&r);
			return 0;
		}
		if (rc == 0 && !aim_http_status_retryable(r.status)) {
			rc = status_error(&r, safe, cause);
			aim_http_resp_release(&r);
			return rc;
		}
		if (rc < 0)
			aim_set_cause(cause, "cannot reach %s: %s", safe, r.error);
		else
			aim_set_cause(cause, "%s: HTTP %ld", safe, r.status);
		unsigned ra = rc == 0 ? r.retry_after : 0;
		aim_http_resp_release(&r);
		if (aim_http_backoff(attempt++, ra, deadline) < 0)
			return rc < 0 ? -EHOSTUNREACH : -EIO;
	}
}

int aim_https_fetch(struct aim_http *http, const char *url, const char *etag,
		    unsigned timeout_ms, uint64_t off, size_t len, void *buf, int fd,
		    int *ranged, char **cause)
{
	uint64_t deadline = aim_now_ms() + timeout_ms;
	char safe[512], if_match[300];
	unsigned attempt = 0;
	int rc;

	*cause = NULL;
	aim_url_redact(url, safe, sizeof(safe));
	snprintf(if_match, sizeof(if_match), "If-Match: \"%s\"",
		 etag ? etag : "");
	const char *hdrs[] = { etag && etag[0] ? if_match : NULL, NULL };
	for (;;) {
		struct aim_http_resp r;
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
		unsigned ra = 0;
		rc = aim_http_do(http, &req, &r);
		if (aim_http_local_error(rc)) {
			aim_set_cause(cause, "%s", r.error);
			aim_http_resp_release(&r);
			return rc;
		}
		if (rc == 0 && changed(&r, etag)) {
			aim_set_cause(cause, "%s changed upstream since it was "
					 "registered; refusing to mix versions",
				  safe);
			aim_http_resp_release(&r);
			return -ESTALE;
		}
		if (rc == 0 && (r.status == 200 || r.status == 206) &&
		    !r.range_error) {
			*ranged = r.status == 206 || len == 0;
			aim_http_resp_release(&r);
			return 0;
		}
		if (rc == 0 && r.status / 100 != 2 &&
		    !aim_http_status_retryable(r.status)) {
			rc = status_error(&r, safe, cause);
			aim_http_resp_release(&r);
			return rc;
		}
		if (rc < 0)
			aim_set_cause(cause, "cannot reach %s: %s", safe, r.error);
		else if (r.range_error)
			aim_set_cause(cause, "%s: answer did not match the range "
					 "asked",
				  safe);
		else {
			aim_set_cause(cause, "%s: HTTP %ld", safe, r.status);
			ra = r.retry_after;
		}
		aim_http_resp_release(&r);
		if (aim_http_backoff(attempt++, ra, deadline) < 0)
			return -EIO;
	}
}

/* a changed file is refused at its headers, before one byte is stored */
struct stream_guard {
	const char *etag;
	int (*sink)(void *arg, const void *data, size_t len);
	void *arg;
};

static int check_headers(void *arg, const struct aim_http_resp *r)
{
	struct stream_guard *g = arg;

	return changed(r, g->etag) ? -1 : 0;
}

static int guarded_sink(void *arg, const void *data, size_t len)
{
	struct stream_guard *g = arg;

	return g->sink(g->arg, data, len);
}

int aim_https_stream(struct aim_http *http, const char *url, const char *etag,
		     unsigned timeout,
		     int (*sink)(void *arg, const void *data, size_t len),
		     void *arg, char **cause)
{
	struct aim_http_resp r;
	struct stream_guard g = { etag, sink, arg };
	char safe[512];
	int rc;

	*cause = NULL;
	aim_url_redact(url, safe, sizeof(safe));
	struct aim_http_req req = {
		.url = url,
		.max_body = 4096,
		.sink = guarded_sink,
		.on_headers = check_headers,
		.sink_arg = &g,
		.timeout_ms = timeout * 1000ULL,
	};
	rc = aim_http_do(http, &req, &r);
	if (rc < 0) {
		aim_set_cause(cause, "%s: %s", safe, r.error);
		rc = -EIO;
	} else if (changed(&r, etag)) {
		aim_set_cause(cause, "%s changed upstream since it was registered; "
				 "refusing to mix versions",
			  safe);
		rc = -ESTALE;
	} else if (r.status != 200) {
		rc = status_error(&r, safe, cause);
	}
	aim_http_resp_release(&r);
	return rc;
}
