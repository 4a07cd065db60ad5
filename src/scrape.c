/*
 * scrape.c - see scrape.h.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "scrape.h"
#include "util.h"

#define MAX_REQUEST 8192
#define REQUEST_MS  2000 /* a client has this long to send its request */

struct aim_scrape {
	struct aim_cache *cache;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	int running;
	char *unix_path; /* removed at stop */
};

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		const uint8_t *b = in6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && b[12] == 127);
	}
	return 0;
}

int aim_scrape_parse(const char *spec, struct aim_scrape_addr *a,
		     const char **why)
{
	char host[64];
	const char *colon, *h, *p;
	size_t hlen;

	memset(a, 0, sizeof(*a));
	if (strncmp(spec, "unix:", 5) == 0) {
		struct sockaddr_un *un = (void *)&a->sa;
		const char *path = spec + 5;
		if (path[0] != '/') {
			*why = "a Unix socket needs an absolute path";
			return -EINVAL;
		}
		if (strlen(path) >= sizeof(un->sun_path)) {
			*why = "the socket path is too long";
			return -EINVAL;
		}
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, path);
		a->len = sizeof(*un);
		a->is_unix = 1;
		return 0;
	}
	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');
		if (end == NULL || end[1] != ':') {
			*why = "expected [IPv6]:PORT";
			return -EINVAL;
		}
		h = spec + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL) {
			*why = "expected ADDR:PORT or unix:/path";
			return -EINVAL;
		}
		h = spec;
		hlen = (size_t)(colon - spec);
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = "expected ADDR:PORT or unix:/path";
		return -EINVAL;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	p = colon + 1;
	char *end;
	errno = 0;
	unsigned long port = strtoul(p, &end, 10);
	if (*p < '0' || *p > '9' || *end || errno || port > 65535) {
		*why = "the port must be a number from 0 to 65535";
		return -EINVAL;
	}
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	struct sockaddr_in *in = (void *)&a->sa;
	struct sockaddr_in6 *in6 = (void *)&a->sa;
	if (spec[0] != '[' && inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		a->len = sizeof(*in);
	} else if (spec[0] == '[' &&
		   inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*in6);
	} else {
		*why = "the address must be numeric (or localhost)";
		return -EINVAL;
	}
	a->loopback = is_loopback(&a->sa);
	return 0;
}

/* "127.0.0.1:9464" or "[::1]:9464" of a bound socket, for the log */
static void describe(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(buf, len, "?");
		return;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (void *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else {
		struct sockaddr_in6 *in6 = (void *)&ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	}
}

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void answer(int fd, const char *status, const char *extra,
		   const char *type, const char *body, size_t len, int head)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
			 status, type, len, extra);

	if (send_all(fd, hdr, (size_t)n) == 0 && !head && len > 0)
		send_all(fd, body, len);
}

static void answer_text(int fd, const char *status, const char *extra,
			const char *msg)
{
	answer(fd, status, extra, "text/plain; charset=utf-8", msg,
	       strlen(msg), 0);
}

/*
 * Read the request head (up to the blank line) within REQUEST_MS. Returns
 * its length, 0 when the client went away or was too slow, -1 when it is
 * over MAX_REQUEST.
 */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
	struct timespec start, now;
	size_t len = 0;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long spent = (now.tv_sec - start.tv_sec) * 1000 +
			     (now.tv_nsec - start.tv_nsec) / 1000000;
		if (spent >= REQUEST_MS)
			return 0;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(REQUEST_MS - spent));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return 0;
		if (len == cap - 1)
			return -1;
		ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return 0;
		len += (size_t)n;
		buf[len] = '\0';
		if (memchr(buf, '\0', len))
			return (ssize_t)len; /* binary garbage: answered 400 */
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)len;
	}
}

const char *aim_scrape_route(char *head, int *head_only)
{
	char *eol = head + strcspn(head, "\r\n"), *sp1, *sp2;
	const char *target;

	/* the request line: METHOD SP TARGET SP HTTP/x.y */
	*head_only = 0;
	*eol = '\0';
	if ((sp1 = strchr(head, ' ')) == NULL || sp1 == head ||
	    (sp2 = strchr(sp1 + 1, ' ')) == NULL || strchr(sp2 + 1, ' ') ||
	    strncmp(sp2 + 1, "HTTP/", 5) != 0)
		return "400 Bad Request";
	*sp1 = *sp2 = '\0';
	for (const char *p = head; *p; p++)
		if (*p < 'A' || *p > 'Z')
			return "400 Bad Request";
	*head_only = strcmp(head, "HEAD") == 0;
	if (!*head_only && strcmp(head, "GET") != 0)
		return "405 Method Not Allowed";
	target = sp1 + 1;
	if (strcspn(target, "?") != 8 || strncmp(target, "/metrics", 8) != 0)
		return "404 Not Found";
	return NULL;
}

static void serve_one(struct aim_scrape *s, int fd)
{
	char buf[MAX_REQUEST], *text;
	ssize_t n = read_head(fd, buf, sizeof(buf));
	const char *status;
	size_t len;
	int head;

	if (n < 0) {
		answer_text(fd, "431 Request Header Fields Too Large", "",
			    "request too large\n");
		return;
	}
	if (n == 0)
		return;
	if ((status = aim_scrape_route(buf, &head)) != NULL) {
		int not_allowed = strncmp(status, "405", 3) == 0;
		answer_text(fd, status,
			    not_allowed ? "Allow: GET, HEAD\r\n" : "",
			    "GET /metrics for the metrics\n");
		return;
	}
	if (aim_metrics_render(s->cache, &text, &len) < 0) {
		answer_text(fd, "500 Internal Server Error", "",
			    "out of memory\n");
		return;
	}
	answer(fd, "200 OK", "", "text/plain; version=0.0.4; charset=utf-8",
	       text, len, head);
	free(text);
}

/*
 * Close after the answer. Input still unread (the rest of an oversized
 * request) would make close() reset the connection, and the client could
 * lose the answer: say we are done, then read what is left for a moment.
 */
static void finish(int fd)
{
	char sink[4096];
	size_t drained = 0;
	struct pollfd p = { fd, POLLIN, 0 };

	shutdown(fd, SHUT_WR);
	while (drained < 65536 && poll(&p, 1, 200) > 0) {
		ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n <= 0)
			break;
		drained += (size_t)n;
	}
	close(fd);
}

static void *scrape_thread(void *arg)
{
	struct aim_scrape *s = arg;

	for (;;) {
		int fd = aim_accept_or_stop(s->fd, s->stop_pipe[0]);
		if (fd == -ECANCELED)
			break;
		if (fd < 0)
			continue;
		struct timeval tv = { REQUEST_MS / 1000, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		serve_one(s, fd);
		finish(fd);
	}
	return NULL;
}

static int listen_unix(struct aim_scrape *s, struct aim_scrape_addr *a,
		       char **cause)
{
	struct sockaddr_un *un = (void *)&a->sa;
	int probe, rc;

	/* a socket nobody answers on is left over from a dead daemon */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		rc = connect(probe, (struct sockaddr *)un, a->len);
		close(probe);
		if (rc == 0) {
			aim_set_cause(cause,
				      "metrics socket '%s' is in use by a "
				      "running daemon",
				      un->sun_path);
			return -EADDRINUSE;
		}
	}
	unlink(un->sun_path);
	if ((s->unix_path = strdup(un->sun_path)) == NULL)
		return -ENOMEM;
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0 || bind(s->fd, (struct sockaddr *)un, a->len) < 0 ||
	    listen(s->fd, 16) < 0) {
		rc = -errno;
		aim_set_cause(cause, "cannot listen on '%s': %s", un->sun_path,
			      strerror(errno));
		return rc;
	}
	/* like a loopback port, readable by any local user: the text has
	 * counts and sizes, no names, paths or secrets */
	chmod(un->sun_path, 0666);
	aim_log(LOG_NOTICE, "metrics: serving GET /metrics on '%s'",
		un->sun_path);
	return 0;
}

static int listen_tcp(struct aim_scrape *s, struct aim_scrape_addr *a,
		      const char *spec, char **cause)
{
	char where[96];
	int one = 1, rc;

	s->fd = socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		rc = -errno;
		aim_set_cause(cause, "cannot listen on '%s': %s", spec,
			      strerror(errno));
		return rc;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&a->sa, a->len) < 0 ||
	    listen(s->fd, 16) < 0) {
		rc = -errno;
		aim_set_cause(cause, "cannot listen on '%s': %s", spec,
			      strerror(errno));
		return rc;
	}
	describe(s->fd, where, sizeof(where));
	aim_log(LOG_NOTICE, "metrics: serving http://%s/metrics", where);
	return 0;
}

int aim_scrape_start(struct aim_cache *c, const char *spec, int remote,
		     struct aim_scrape **out, char **cause)
{
	struct aim_scrape_addr a;
	struct aim_scrape *s;
	const char *why;
	int rc;

	*cause = NULL;
	if ((rc = aim_scrape_parse(spec, &a, &why)) < 0) {
		aim_set_cause(cause, "bad value '%s' for option 'metrics': %s",
			      spec, why);
		return rc;
	}
	if (!a.is_unix && !a.loopback && !remote) {
		aim_set_cause(cause,
			      "metrics address '%s' is not a loopback one "
			      "(set metrics_remote=yes to serve it there)",
			      spec);
		return -EPERM;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -ENOMEM;
	s->cache = c;
	s->fd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	rc = a.is_unix ? listen_unix(s, &a, cause) :
			 listen_tcp(s, &a, spec, cause);
	if (rc == 0 && pipe2(s->stop_pipe, O_CLOEXEC) < 0)
		rc = -errno;
	if (rc < 0) {
		if (s->fd >= 0)
			close(s->fd);
		if (s->unix_path && rc != -EADDRINUSE)
			unlink(s->unix_path);
		if (s->stop_pipe[0] >= 0) {
			close(s->stop_pipe[0]);
			close(s->stop_pipe[1]);
		}
		free(s->unix_path);
		free(s);
		if (*cause == NULL)
			aim_set_cause(cause, "cannot serve metrics on '%s': %s",
				      spec, strerror(-rc));
		return rc;
	}
	*out = s;
	return 0;
}

int aim_scrape_serve(struct aim_scrape *s)
{
	int rc = pthread_create(&s->thread, NULL, scrape_thread, s);

	s->running = rc == 0;
	return -rc;
}

void aim_scrape_stop(struct aim_scrape **ps)
{
	struct aim_scrape *s = *ps;

	if (s == NULL)
		return;
	if (s->running && write(s->stop_pipe[1], "x", 1) == 1)
		pthread_join(s->thread, NULL);
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	close(s->fd);
	if (s->unix_path)
		unlink(s->unix_path);
	free(s->unix_path);
	free(s);
	*ps = NULL;
}
