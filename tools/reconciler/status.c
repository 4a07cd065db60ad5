/*
 * status.c - helpers that read objects and write status, metadata and
 * Events for the reconcile modules (see rec.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube.h"
#include "lease.h"
#include "rec.h"
#include "src/log.h"
#include "src/util.h"

json_t *aim_jget(json_t *o, const char *path)
{
	char part[128];
	const char *p = path;

	while (o && *p) {
		size_t n = strcspn(p, ".");
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		o = json_object_get(o, part);
		p += n + (p[n] == '.');
	}
	return o;
}

const char *aim_jstr(json_t *o, const char *path)
{
	return json_string_value(aim_jget(o, path));
}

const char *aim_rfc3339(char *buf)
{
	return aim_rfc3339_at((int64_t)time(NULL), buf);
}

const char *aim_rfc3339_at(int64_t t, char *buf)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "1970-01-01T00:00:00Z");
	return buf;
}

int aim_rfc3339_parse(const char *s, int64_t *t)
{
	struct tm tm = { 0 };
	int n = 0, oh, om;
	int64_t off = 0;

	if (s == NULL ||
	    sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year,
		   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &n) != 6 ||
	    n != 19)
		return -EINVAL;
	s += n;
	if (*s == '.') /* a fraction of a second: dropped */
		for (s++; isdigit((unsigned char)*s); s++)
			;
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0') {
		off = 0;
	} else if ((*s == '+' || *s == '-') &&
		   sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) == 2 && n == 5 &&
		   s[6] == '\0' && oh < 24 && om < 60) {
		off = (*s == '+' ? 1 : -1) * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
	    tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	*t = (int64_t)timegm(&tm) - off;
	return 0;
}

int aim_last_used_due(int64_t was, int64_t now)
{
	return now > 0 && (was <= 0 || now >= was + 60);
}

const char *aim_obj_path(char *buf, size_t len, const char *plural, json_t *obj)
{
	snprintf(buf, len, AIM_API "/namespaces/%s/%s/%s",
		 AIM_STR(aim_jstr(obj, "metadata.namespace")), plural,
		 AIM_STR(aim_jstr(obj, "metadata.name")));
	return buf;
}

void aim_cache_key(const char *uri, char out[17])
{
	unsigned char d[32];
	char hex[65];

	aim_sha256(uri, strlen(uri), d);
	aim_hex(d, 32, hex);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

const char *aim_dns_name(const char *s, char *buf, size_t len)
{
	size_t n = 0, max = len - 1 < 63 ? len - 1 : 63;

	for (; *s && n < max; s++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*s);
		if (!isalnum(c) && c != '-')
			c = '-';
		if (n == 0 && c == '-')
			continue;
		buf[n++] = (char)c;
	}
	while (n > 0 && buf[n - 1] == '-')
		n--;
	buf[n] = '\0';
	return buf;
}

int aim_has_finalizer(json_t *obj, const char *fin)
{
	json_t *f;
	size_t i;

	json_array_foreach(aim_jget(obj, "metadata.finalizers"), i,
			   f) if (json_is_string(f) &&
				  strcmp(json_string_value(f), fin) ==
					  0) return 1;
	return 0;
}

int aim_fetch(struct aim_rec *r, const char *path, json_t **obj)
{
	char *cause = NULL;
	int rc = aim_kube_call(r->kube, "GET", path, NULL, NULL, obj, &cause);

	if (rc == 200 && *obj)
		return 0;
	if (rc != 404)
		aim_log(LOG_WARNING, "GET %s: %s", path,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(*obj));
	free(cause);
	json_decref(*obj);
	*obj = NULL;
	return rc == 404 ? -ENOENT : -EIO;
}

int aim_patch(struct aim_rec *r, const char *path, json_t **obj, json_t *meta,
	      json_t *status)
{
	const char *rv = aim_jstr(*obj, "metadata.resourceVersion");
	json_t *body = json_object(), *resp = NULL;
	char *cause = NULL, full[1024];
	int rc;

	if (meta == NULL)
		meta = json_object();
	if (body == NULL || meta == NULL || rv == NULL) {
		json_decref(body);
		json_decref(meta);
		json_decref(status);
		return rv ? -ENOMEM : -EIO;
	}
	json_object_set_new(meta, "resourceVersion", json_string(rv));
	json_object_set_new(body, "metadata", meta);
	if (status)
		json_object_set_new(body, "status", status);
	snprintf(full, sizeof(full), "%s%s", path, status ? "/status" : "");
	rc = aim_kube_call(r->kube, "PATCH", full,
			   "application/merge-patch+json", body, &resp, &cause);
	json_decref(body);
	if (rc == 200 && json_is_object(resp)) {
		json_decref(*obj);
		*obj = resp;
		return 0;
	}
	if (rc == 409) {
		aim_log(LOG_INFO,
			"PATCH %s: conflict: retrying on a fresh copy", full);
		rc = -EAGAIN;
	} else if (rc == 404) {
		rc = -ENOENT;
	} else {
		aim_log(LOG_WARNING, "PATCH %s: %s", full,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
		rc = -EIO;
	}
	free(cause);
	json_decref(resp);
	return rc;
}

int aim_patch_finalizer(struct aim_rec *r, const char *path, json_t **obj,
			const char *fin, int add)
{
	json_t *fins = json_array(), *f;
	size_t i;

	if (fins == NULL)
		return -ENOMEM;
	json_array_foreach(aim_jget(*obj, "metadata.finalizers"), i, f)
	{
		if (json_is_string(f) && strcmp(json_string_value(f), fin) == 0)
			continue;
		json_array_append(fins, f);
	}
	if (add)
		json_array_append_new(fins, json_string(fin));
	json_t *meta = json_pack("{s:o}", "finalizers", fins);
	return meta ? aim_patch(r, path, obj, meta, NULL) : -ENOMEM;
}

json_t *aim_conditions_set(json_t *conds, const char *type, int ok,
			   const char *reason, const char *message,
			   json_int_t generation)
{
	json_t *out = json_array(), *c, *mine = NULL;
	const char *st = ok < 0 ? "Unknown" : ok ? "True" : "False";
	char now[32];
	size_t i;

	if (out == NULL)
		return NULL;
	json_array_foreach(conds, i, c)
	{
		const char *t = json_string_value(json_object_get(c, "type"));
		if (t && strcmp(t, type) == 0)
			mine = c;
		else
			json_array_append(out, c);
	}
	const char *since = aim_jstr(mine, "lastTransitionTime");
	const char *was = aim_jstr(mine, "status");
	if (since == NULL || was == NULL || strcmp(was, st) != 0)
		since = aim_rfc3339(now);
	c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "type", type, "status",
		      st, "reason", reason, "message", message ? message : "",
		      "lastTransitionTime", since, "observedGeneration",
		      generation);
	if (c == NULL || json_array_append_new(out, c) < 0) {
		json_decref(out);
		return NULL;
	}
	return out;
}

void aim_event(struct aim_rec *r, json_t *obj, int warning, const char *reason,
	       const char *fmt, ...)
{
	const char *ns = aim_jstr(obj, "metadata.namespace");
	const char *name = aim_jstr(obj, "metadata.name");
	char now[32], path[512], ename[512], *msg = NULL, *cause = NULL;
	json_t *ev, *resp = NULL;
	struct timespec ts;
	va_list ap;
	int rc;

	if (ns == NULL || name == NULL)
		return;
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(ename, sizeof(ename), "%s.%llx", name,
		 (unsigned long long)ts.tv_sec * 1000000000ULL +
			 (unsigned long long)ts.tv_nsec);
	aim_rfc3339(now);
	ev = json_pack(
		"{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s?, "
		"s:s?}, s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:i, "
		"s:s, s:s}",
		"apiVersion", "v1", "kind", "Event", "metadata", "name", ename,
		"namespace", ns, "involvedObject", "apiVersion",
		AIM_STR(aim_jstr(obj, "apiVersion")), "kind",
		AIM_STR(aim_jstr(obj, "kind")), "name", name, "namespace", ns,
		"uid", aim_jstr(obj, "metadata.uid"), "resourceVersion",
		aim_jstr(obj, "metadata.resourceVersion"), "reason", reason,
		"message", msg, "type", warning ? "Warning" : "Normal",
		"source", "component", "aimfs-reconciler", "host", r->node,
		"firstTimestamp", now, "lastTimestamp", now, "count", 1,
		"reportingComponent", "aimfs.io/reconciler",
		"reportingInstance", r->identity);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ns);
	rc = ev ? aim_kube_call(r->kube, "POST", path, NULL, ev, &resp, &cause)
		: -ENOMEM;
	if (rc != 201)
		aim_log(LOG_WARNING, "cannot post event %s for %s/%s: %s",
			reason, ns, name,
			rc < 0 ? AIM_STR(cause) : aim_kube_message(resp));
	else
		aim_log(LOG_INFO, "%s/%s: %s: %s", ns, name, reason, msg);
	json_decref(ev);
	json_decref(resp);
	free(cause);
	free(msg);
}

static int state_rank(const char *s)
{
	if (s == NULL)
		return 1;
	if (strcmp(s, "Failed") == 0)
		return 4;
	if (strcmp(s, "Progressing") == 0)
		return 3;
	if (strcmp(s, "Pending") == 0)
		return 2;
	return 0; /* Available */
}

const char *aim_state_merge(const char *a, const char *b)
{
	int ra = state_rank(a), rb = state_rank(b);

	if (a == NULL)
		return b;
	if (b == NULL)
		return a;
	if (ra == 4 || rb == 4)
		return "Failed";
	/* some done and some not yet: the whole is on its way */
	if ((ra == 0) != (rb == 0) || ra == 3 || rb == 3)
		return "Progressing";
	return ra >= rb ? a : b;
}
