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
#include "creds.h"
#include "ctl.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define MAX_LINE (1u << 20)
#define MAX_CLIENTS 64

struct aim_ctl {
	struct aim_cache *cache;
	int fd;
	int stop_pipe[2];
	pthread_t thread;
	int running;
	char *path;
	pthread_mutex_t lock; /* guards clients */
	pthread_cond_t idle;
	int clients;	      /* connection threads alive */
};

static json_t *fail(const char *reason, int err)
{
	return json_pack("{s:b, s:s, s:i}", "ok", 0, "error",
			 reason ? reason : "error", "errno", err);
}

static json_t *done(int rc, char *cause)
{
	json_t *r = rc < 0 ? fail(cause, -rc) : json_pack("{s:b}", "ok", 1);

	free(cause);
	return r;
}

static const char *str(json_t *req, const char *key)
{
	return json_string_value(json_object_get(req, key));
}

/*
 * add, with "credentials" (optional): an object of HF_TOKEN, AWS_* values
 * that become the model's own ({} drops them). They are wiped from the
 * request once parsed, and no answer or log line carries them.
 */
static json_t *exec_add(struct aim_cache *c, json_t *req)
{
	const char *uri = str(req, "uri");
	json_t *cj = json_object_get(req, "credentials");
	struct aim_creds *creds = NULL;
	char *cause = NULL;
	int created, rotated, rc;

	if (cj) {
		rc = aim_creds_parse(cj, &creds, &cause);
		aim_creds_wipe_json(cj);
		if (rc < 0)
			return done(rc, cause);
	}
	if (uri == NULL) {
		aim_creds_unref(&creds);
		return fail("add: missing uri", EINVAL);
	}
	rc = aim_cache_add(c, uri, str(req, "name"), cj != NULL, creds,
			   &created, &rotated, &cause);
	aim_creds_unref(&creds);
	if (rc < 0)
		return done(rc, cause);
	return json_pack("{s:b, s:b, s:b}", "ok", 1, "created", created,
			 "credentials_replaced", rotated);
}

struct emitter {
	aim_ctl_emit emit;
	void *arg;
};

static int progress(void *arg, const struct aim_pull_progress *p)
{
	struct emitter *e = arg;
	json_t *ev = json_pack("{s:s, s:s, s:I, s:I, s:I, s:b}", "event",
			       "progress", "name", p->name, "total",
			       (json_int_t)p->total, "done",
			       (json_int_t)p->done, "elapsed_ms",
			       (json_int_t)p->elapsed_ms, "finished",
			       p->finished);
	int rc = ev ? e->emit(e->arg, ev) : -ENOMEM;

	json_decref(ev);
	return rc;
}

/* pull or pin the targets one after the other, reporting progress */
static json_t *exec_pull(struct aim_cache *c, json_t *req, int pin,
			 aim_ctl_emit emit, void *arg)
{
	json_t *targets = json_object_get(req, "targets"), *t, *results;
	struct emitter e = { emit, arg };
	int wait = !json_is_false(json_object_get(req, "wait"));
	int failed = 0;
	size_t i;

	if (!json_is_array(targets) || json_array_size(targets) == 0)
		return fail("missing model names", EINVAL);
	results = json_array();
	json_array_foreach(targets, i, t) {
		const char *what = json_string_value(t);
		char *cause = NULL;
		int rc;
		if (what == NULL)
			continue;
		if (pin >= 0)
			rc = aim_cache_pin(c, what, pin, wait,
					   emit ? progress : NULL, &e, &cause);
		else
			rc = aim_cache_pull(c, what, wait,
					    emit ? progress : NULL, &e, &cause);
		failed |= rc < 0;
		json_array_append_new(results,
				      rc < 0 ? json_pack("{s:s, s:b, s:s}",
							 "target", what, "ok", 0,
							 "error",
							 cause ? cause : "error") :
					       json_pack("{s:s, s:b}", "target",
							 what, "ok", 1));
		free(cause);
	}
	json_t *r = json_pack("{s:b, s:o}", "ok", !failed, "results", results);
	if (failed) {
		/* the first failure is the error line */
		json_array_foreach(results, i, t) {
			if (json_is_false(json_object_get(t, "ok"))) {
				json_object_set(r, "error",
						json_object_get(t, "error"));
				break;
			}
		}
	}
	return r;
}

static json_t *exec_evict(struct aim_cache *c, json_t *req)
{
	char *cause = NULL;
	uint64_t freed = 0;
	int rc = aim_cache_evict(c, str(req, "name"),
				 json_is_true(json_object_get(req, "unpinned")),
				 str(req, "to"), &freed, &cause);

	if (rc < 0)
		return done(rc, cause);
	return json_pack("{s:b, s:I}", "ok", 1, "freed", (json_int_t)freed);
}

static json_t *exec_verify(struct aim_cache *c, json_t *req)
{
	json_t *report = NULL;
	char *cause = NULL;
	int bad = aim_cache_verify(c, str(req, "name"), &report, &cause);

	if (bad < 0)
		return done(bad, cause);
	return json_pack("{s:b, s:i, s:o}", "ok", 1, "bad", bad, "files",
			 report);
}

static json_t *exec_export(struct aim_cache *c, json_t *req)
{
	const char *name = str(req, "name"), *dir = str(req, "dir");
	char *cause = NULL;

	if (name == NULL || dir == NULL || dir[0] != '/')
		return fail("export: a name and an absolute directory", EINVAL);
	int rc = aim_cache_export(c, name, dir,
				  json_is_true(json_object_get(req, "compress")),
				  &cause);
	return done(rc, cause);
}

static json_t *exec_import(struct aim_cache *c, json_t *req)
{
	const char *dir = str(req, "dir");
	char *cause = NULL, *name = NULL;
	int rc;

	if (dir == NULL || dir[0] != '/')
		return fail("import: an absolute directory", EINVAL);
	rc = aim_cache_import(c, dir, &name, &cause);
	if (rc < 0)
		return done(rc, cause);
	json_t *r = json_pack("{s:b, s:s}", "ok", 1, "name", name);
	free(name);
	return r;
}

/* the Prometheus text a scrape of the daemon gets */
static json_t *exec_metrics(struct aim_cache *c)
{
	size_t len;
	char *text;
	int rc = aim_metrics_render(c, &text, &len);

	if (rc < 0)
		return fail("cannot render the metrics", -rc);
	json_t *r = json_pack("{s:b, s:s%}", "ok", 1, "text", text, len);
	free(text);
	return r;
}

json_t *aim_ctl_exec(struct aim_cache *c, json_t *req, aim_ctl_emit emit,
		     void *arg)
{
	const char *cmd = str(req, "cmd");
	char *cause = NULL;

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
	if (strcmp(cmd, "metrics") == 0)
		return exec_metrics(c);
	if (strcmp(cmd, "pull") == 0)
		return exec_pull(c, req, -1, emit, arg);
	if (strcmp(cmd, "pin") == 0)
		return exec_pull(c, req, 1, emit, arg);
	if (strcmp(cmd, "unpin") == 0)
		return exec_pull(c, req, 0, emit, arg);
	if (strcmp(cmd, "evict") == 0)
		return exec_evict(c, req);
	if (strcmp(cmd, "rm") == 0) {
		const char *name = str(req, "name");
		if (name == NULL)
			return fail("rm: missing name", EINVAL);
		int rc = aim_cache_rm(c, name, &cause);
		return done(rc, cause); /* cause is set by the call above */
	}
	if (strcmp(cmd, "verify") == 0)
		return exec_verify(c, req);
	if (strcmp(cmd, "export") == 0)
		return exec_export(c, req);
	if (strcmp(cmd, "import") == 0)
		return exec_import(c, req);
	return fail("unknown command", ENOSYS);
}

/* bytes read from a socket but not yet returned as lines */
struct linebuf {
	char *buf;
	size_t len, cap;
};

static void linebuf_release(struct linebuf *lb)
{
	if (lb->buf)
		explicit_bzero(lb->buf, lb->cap);
	free(lb->buf);
	memset(lb, 0, sizeof(*lb));
}

/*
 * The next line (without its newline, allocated) of at most MAX_LINE bytes;
 * what was read past it stays in lb for the next call. NULL at EOF or on
 * error.
 */
static char *read_line(int fd, struct linebuf *lb)
{
	for (;;) {
		char *nl = lb->len ? memchr(lb->buf, '\n', lb->len) : NULL;
		if (nl) {
			size_t n = (size_t)(nl - lb->buf);
			char *line = strndup(lb->buf, n);
			memmove(lb->buf, nl + 1, lb->len - n - 1);
			lb->len -= n + 1;
			return line;
		}
		if (lb->len + 4096 > lb->cap) {
			size_t cap = lb->cap ? lb->cap * 2 : 8192;
			if (cap > MAX_LINE + 8192)
				return NULL;
			char *nb = realloc(lb->buf, cap);
			if (nb == NULL)
				return NULL;
			lb->buf = nb;
			lb->cap = cap;
		}
		ssize_t n = read(fd, lb->buf + lb->len, lb->cap - lb->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		lb->len += (size_t)n;
	}
}

static int write_json_line(int fd, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	size_t len, off = 0;
	int rc = 0;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	s[len++] = '\n'; /* replaces the NUL; the length is known */
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
	/* an add may carry credentials */
	explicit_bzero(s, len);
	free(s);
	return rc;
}

static int emit_line(void *arg, json_t *event)
{
	return write_json_line(*(int *)arg, event);
}

struct conn {
	struct aim_ctl *ctl;
	int fd;
};

static void *serve_one(void *arg)
{
	struct conn *cn = arg;
	struct aim_ctl *ctl = cn->ctl;
	int fd = cn->fd;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	json_error_t jerr;
	json_t *req, *resp;
	char *line;

	free(cn);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		aim_log(LOG_WARNING, "control: refused a connection from uid %d",
			(int)cred.uid);
		goto out;
	}
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct linebuf lb = { 0 };
	line = read_line(fd, &lb);
	linebuf_release(&lb);
	if (line == NULL)
		goto out;
	req = json_loads(line, 0, &jerr);
	explicit_bzero(line, strlen(line)); /* it may carry credentials */
	free(line);
	if (!json_is_object(req))
		resp = fail("malformed request", EINVAL);
	else
		resp = aim_ctl_exec(ctl->cache, req, emit_line, &fd);
	json_decref(req);
	if (resp) {
		write_json_line(fd, resp);
		json_decref(resp);
	}
out:
	close(fd);
	pthread_mutex_lock(&ctl->lock);
	if (--ctl->clients == 0)
		pthread_cond_broadcast(&ctl->idle);
	pthread_mutex_unlock(&ctl->lock);
	return NULL;
}

static void *ctl_thread(void *arg)
{
	struct aim_ctl *ctl = arg;

	for (;;) {
		int fd = aim_accept_or_stop(ctl->fd, ctl->stop_pipe[0]);
		if (fd == -ECANCELED)
			break;
		if (fd < 0)
			continue;
		pthread_mutex_lock(&ctl->lock);
		int full = ctl->clients >= MAX_CLIENTS;
		if (!full)
			ctl->clients++;
		pthread_mutex_unlock(&ctl->lock);
		struct conn *cn = full ? NULL : malloc(sizeof(*cn));
		pthread_t t;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (cn) {
			cn->ctl = ctl;
			cn->fd = fd;
		}
		/* a long pull must not hold up a list: a thread each */
		if (cn == NULL || pthread_create(&t, &attr, serve_one, cn) != 0) {
			if (cn) {
				free(cn);
				pthread_mutex_lock(&ctl->lock);
				ctl->clients--;
				pthread_mutex_unlock(&ctl->lock);
			}
			json_t *busy = fail("the daemon is busy", EBUSY);
			write_json_line(fd, busy);
			json_decref(busy);
			close(fd);
		}
		pthread_attr_destroy(&attr);
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
	pthread_mutex_init(&ctl->lock, NULL);
	pthread_cond_init(&ctl->idle, NULL);
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
	pthread_mutex_destroy(&ctl->lock);
	pthread_cond_destroy(&ctl->idle);
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
	/* connections finish what they do (pulls were stopped before) */
	pthread_mutex_lock(&ctl->lock);
	while (ctl->clients > 0)
		pthread_cond_wait(&ctl->idle, &ctl->lock);
	pthread_mutex_unlock(&ctl->lock);
	close(ctl->stop_pipe[0]);
	close(ctl->stop_pipe[1]);
	close(ctl->fd);
	unlink(ctl->path);
	pthread_mutex_destroy(&ctl->lock);
	pthread_cond_destroy(&ctl->idle);
	free(ctl->path);
	free(ctl);
	*pctl = NULL;
}

int aim_ctl_call(const char *path, json_t *req, aim_ctl_emit on_event,
		 void *arg, json_t **resp, char **cause)
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
	/* events until the answer (the line with "ok") */
	struct linebuf lb = { 0 };
	for (;;) {
		line = read_line(fd, &lb);
		json_t *j = line ? json_loads(line, 0, &jerr) : NULL;
		free(line);
		if (j == NULL) {
			close(fd);
			linebuf_release(&lb);
			if (asprintf(cause, "no answer from the daemon at '%s'",
				     path) < 0)
				*cause = NULL;
			return -EPROTO;
		}
		if (json_object_get(j, "ok")) {
			*resp = j;
			break;
		}
		if (on_event)
			on_event(arg, j);
		json_decref(j);
	}
	linebuf_release(&lb);
	close(fd);
	return 0;
}
