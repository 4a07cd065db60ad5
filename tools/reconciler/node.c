/*
 * node.c - see node.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "node.h"
#include "src/creds.h"
#include "src/ctl.h"

void aim_node_model_release(struct aim_node_model *m)
{
	free(m->error);
	free(m->name);
	memset(m, 0, sizeof(*m));
}

/* one request; *resp is the answer when it says ok (caller frees) */
static int call(const char *sock, json_t *req, json_t **resp, char **cause)
{
	json_t *r = NULL;
	int rc;

	*cause = NULL;
	if (resp)
		*resp = NULL;
	if (req == NULL)
		return -ENOMEM;
	rc = aim_ctl_call(sock, req, NULL, NULL, &r, cause);
	json_decref(req);
	if (rc < 0)
		return rc;
	if (!json_is_true(json_object_get(r, "ok"))) {
		const char *e = json_string_value(json_object_get(r, "error"));
		*cause = strdup(e ? e : "the daemon refused");
		json_decref(r);
		return -EREMOTEIO;
	}
	if (resp)
		*resp = r;
	else
		json_decref(r);
	return 0;
}

int aim_node_add(const char *sock, const char *uri, const char *name,
		 json_t *creds, char **cause)
{
	json_t *req = json_pack("{s:s, s:s}", "cmd", "add", "uri", uri);
	int rc;

	if (req && name &&
	    json_object_set_new(req, "name", json_string(name))) {
		json_decref(req);
		req = NULL;
	}
	/* a copy, wiped once sent: the caller wipes its own */
	if (req && creds &&
	    json_object_set_new(req, "credentials", json_deep_copy(creds))) {
		json_decref(req);
		req = NULL;
	}
	json_incref(req);
	rc = call(sock, req, NULL, cause);
	if (req) {
		aim_creds_wipe_json(json_object_get(req, "credentials"));
		json_decref(req);
	}
	return rc;
}

int aim_node_instance(const char *sock, char *out, char **cause)
{
	json_t *resp = NULL;
	int rc = call(sock, json_pack("{s:s}", "cmd", "status"), &resp, cause);
	const char *id;

	out[0] = '\0';
	if (rc < 0)
		return rc;
	id = json_string_value(
		json_object_get(json_object_get(resp, "status"), "instance"));
	snprintf(out, 33, "%s", id ? id : "");
	json_decref(resp);
	return 0;
}

int aim_node_pin(const char *sock, const char *uri, int pin, char **cause)
{
	return call(sock,
		    json_pack("{s:s, s:[s], s:b}", "cmd", pin ? "pin" : "unpin",
			      "targets", uri, "wait", 0),
		    NULL, cause);
}

int aim_node_rm(const char *sock, const char *uri, char **cause)
{
	return call(sock, json_pack("{s:s, s:s}", "cmd", "rm", "name", uri),
		    NULL, cause);
}

int aim_node_find(const char *sock, const char *uri, struct aim_node_model *m,
		  char **cause)
{
	json_t *resp = NULL, *models, *x;
	size_t i;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = call(sock, json_pack("{s:s}", "cmd", "list"), &resp, cause);
	if (rc < 0)
		return rc;
	models = json_object_get(resp, "models");
	json_array_foreach(models, i, x)
	{
		const char *src =
			json_string_value(json_object_get(x, "source"));
		if (src == NULL || strcmp(src, uri) != 0)
			continue;
		const char *st = json_string_value(json_object_get(x, "state"));
		const char *err =
			json_string_value(json_object_get(x, "error"));
		const char *name =
			json_string_value(json_object_get(x, "name"));
		m->found = 1;
		m->size = (uint64_t)json_integer_value(
			json_object_get(x, "size"));
		m->cached = (uint64_t)json_integer_value(
			json_object_get(x, "cached"));
		m->pinned = json_is_true(json_object_get(x, "pinned"));
		m->last_used = (int64_t)json_integer_value(
			json_object_get(x, "last_used"));
		m->own_creds =
			json_is_true(json_object_get(x, "own_credentials"));
		snprintf(m->state, sizeof(m->state), "%s", st ? st : "");
		if ((err && (m->error = strdup(err)) == NULL) ||
		    (name && (m->name = strdup(name)) == NULL)) {
			aim_node_model_release(m);
			rc = -ENOMEM;
		}
		break;
	}
	json_decref(resp);
	return rc;
}
