/*
 * ctl.c - see ctl.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cache.h"
#include "ctl.h"
#include "log.h"
#include "util.h"

#define MAX_LINE (1u << 20)

struct aim_ctl {
	struct aim_cache *cache;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	int running;
	char *path;
};

static json_t *fail(const char *reason, int err)
{
	return json_pack("{s:b, s:s, s:i}", "ok", 0, "error",
			 reason ? reason : "error", "errno", err);
}

static json_t *exec_add(struct aim_cache *c, json_t *req)
{
	const char *uri = json_string_value(json_object_get(req, "uri"));
	const char *name = json_string_value(json_object_get(req, "name"));
	char *cause = NULL;
	int created, rc;
	json_t *resp;

	if (uri == NULL)
		return fail("add: missing uri", EINVAL);
	rc = aim_cache_add(c, uri, name, &created, &cause);
	if (rc < 0)
		resp = fail(cause, -rc);
	else
		resp = json_pack("{s:b, s:b}", "ok", 1, "created", created);
	free(cause);
	return resp;
}

json_t *aim_ctl_exec(struct aim_cache *c, json_t *req)
{
	const char *cmd = json_string_value(json_object_get(req, "cmd"));

	if (cmd == NULL)
		return fail("request without a command", EINVAL);
	if (strcmp(cmd, "add") == 0)
		return exec_add(c, req);
	if (strcmp(cmd, "list") == 0)
		return json_pack("{s:b, s:o}", "ok", 1, "models",
				 aim_cache_list(c));
	if (strcmp(cmd, "status") == 0)
		return json_pack("{s:b, s:o}", "ok", 1, "status",
				 aim_cache_status(c));
	return fail("unknown command", ENOSYS);
}

/* read one line (without the newline) of at most MAX_LINE bytes */
static char *read_line(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		char *nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			return buf;
		}
		if (len + 1 >= cap) {
			if (cap >= MAX_LINE)
				break;
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	free(buf);
	return NULL;
}

static int write_json_line(int fd, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	size_t len, off = 0;
	int rc = 0;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	s[len++] = '\n'; /* json_dumps leaves room: replace the NUL */
	while (off < len) {
		ssize_t n = send(fd, s + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = -errno;
			break;
		}
		off += (size_t)n;
	}
	free(s);
	return rc;
}

static void serve_one(struct aim_ctl *ctl, int fd)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	json_error_t jerr;
	json_t *req, *resp;
	char *line;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		aim_log(LOG_WARNING, "control: refused a connection from uid %d",
			(int)cred.uid);
		return;
	}
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	line = read_line(fd);
	if (line == NULL)
		return;
	req = json_loads(line, 0, &jerr);
	free(line);
	if (!json_is_object(req))
		resp = fail("malformed request", EINVAL);
	else
		resp = aim_ctl_exec(ctl->cache, req);
	json_decref(req);
	if (resp) {
		write_json_line(fd, resp);
		json_decref(resp);
	}
}

static void *ctl_thread(void *arg)
{
	struct aim_ctl *ctl = arg;

	for (;;) {
		struct pollfd p[2] = { { ctl->fd, POLLIN, 0 },
				       { ctl->stop_pipe[0], POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(ctl->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		/* one request at a time; registrations are serialised anyway */
		serve_one(ctl, fd);
		close(fd);
	}
	return NULL;
}

static int sock_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int aim_ctl_start(struct aim_cache *c, const char *path, struct aim_ctl **out,
		  char **cause)
{
	struct sockaddr_un sa;
	struct aim_ctl *ctl;
	char dir[sizeof(sa.sun_path)];
	int rc;

	*cause = NULL;
	if ((rc = sock_addr(path, &sa)) < 0) {
		if (asprintf(cause, "control socket path '%s' is too long",
			     path) < 0)
			*cause = NULL;
		return rc;
	}
	strcpy(dir, path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		aim_mkdir_p(dir, 0755);
	}
	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return -ENOMEM;
	ctl->cache = c;
	ctl->fd = -1;
	ctl->stop_pipe[0] = ctl->stop_pipe[1] = -1;
	if ((ctl->path = strdup(path)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	/* a socket nobody answers on is left over from a dead daemon */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		if (connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			if (asprintf(cause,
				     "control socket '%s' is in use by a "
				     "running daemon",
				     path) < 0)
				*cause = NULL;
			rc = -EADDRINUSE;
			goto fail;
		}
		close(probe);
	}
	unlink(path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0) {
		rc = -errno;
		goto fail;
	}
	mode_t old = umask(0177); /* the socket is born 0600 */
	rc = bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || listen(ctl->fd, 16) < 0) {
		rc = -errno;
		if (asprintf(cause, "cannot listen on '%s': %s", path,
			     strerror(errno)) < 0)
			*cause = NULL;
		goto fail;
	}
	chmod(path, 0600);
	if (pipe2(ctl->stop_pipe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto fail;
	}
	*out = ctl;
	return 0;
fail:
	if (*cause == NULL && asprintf(cause, "cannot start control socket "
					      "'%s': %s",
				       path, strerror(-rc)) < 0)
		*cause = NULL;
	if (ctl->fd >= 0) {
		close(ctl->fd);
		if (rc != -EADDRINUSE)
			unlink(path);
	}
	if (ctl->stop_pipe[0] >= 0) {
		close(ctl->stop_pipe[0]);
		close(ctl->stop_pipe[1]);
	}
	free(ctl->path);
	free(ctl);
	return rc;
}

int aim_ctl_serve(struct aim_ctl *ctl)
{
	int rc = pthread_create(&ctl->thread, NULL, ctl_thread, ctl);

	ctl->running = rc == 0;
	return -rc;
}

void aim_ctl_stop(struct aim_ctl **pctl)
{
	struct aim_ctl *ctl = *pctl;

	if (ctl == NULL)
		return;
	if (ctl->running && write(ctl->stop_pipe[1], "x", 1) == 1)
		pthread_join(ctl->thread, NULL);
	close(ctl->stop_pipe[0]);
	close(ctl->stop_pipe[1]);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl->path);
	free(ctl);
	*pctl = NULL;
}

int aim_ctl_call(const char *path, json_t *req, json_t **resp, char **cause)
{
	struct sockaddr_un sa;
	json_error_t jerr;
	char *line;
	int fd, rc;

	*cause = NULL;
	*resp = NULL;
	if ((rc = sock_addr(path, &sa)) < 0) {
		if (asprintf(cause, "socket path '%s' is too long", path) < 0)
			*cause = NULL;
		return rc;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		if (asprintf(cause, "cannot reach the daemon at '%s': %s", path,
			     strerror(errno)) < 0)
			*cause = NULL;
		close(fd);
		return rc;
	}
	if ((rc = write_json_line(fd, req)) < 0) {
		close(fd);
		if (asprintf(cause, "cannot send to the daemon: %s",
			     strerror(-rc)) < 0)
			*cause = NULL;
		return rc;
	}
	line = read_line(fd);
	close(fd);
	if (line == NULL || (*resp = json_loads(line, 0, &jerr)) == NULL) {
		free(line);
		if (asprintf(cause, "no answer from the daemon at '%s'", path) < 0)
			*cause = NULL;
		return -EPROTO;
	}
	free(line);
	return 0;
}
