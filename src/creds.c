/*
 * creds.c - see creds.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "creds.h"
#include "util.h"

#define MAX_VALUE 16384

struct aim_creds {
	char *v[AIM_CRED_COUNT];
	int refs; /* atomic */
};

/* the names taken, in the order of precedence for a slot */
static const struct {
	const char *name;
	enum aim_cred slot;
	int rank; /* the higher wins when two names fill one slot */
} names[] = {
	{"HF_TOKEN", AIM_CRED_HF_TOKEN, 1},
	{"AWS_ACCESS_KEY_ID", AIM_CRED_AWS_ACCESS_KEY_ID, 1},
	{"AWS_SECRET_ACCESS_KEY", AIM_CRED_AWS_SECRET_ACCESS_KEY, 1},
	{"AWS_SESSION_TOKEN", AIM_CRED_AWS_SESSION_TOKEN, 1},
	{"AWS_ENDPOINT_URL_S3", AIM_CRED_AWS_ENDPOINT_URL, 2},
	{"AWS_ENDPOINT_URL", AIM_CRED_AWS_ENDPOINT_URL, 1},
	{"AWS_REGION", AIM_CRED_AWS_REGION, 2},
	{"AWS_DEFAULT_REGION", AIM_CRED_AWS_REGION, 1},
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void creds_free(struct aim_creds *c)
{
	for (int i = 0; i < AIM_CRED_COUNT; i++)
		wipe_free(c->v[i]);
	free(c);
}

int aim_creds_name_known(const char *name)
{
	for (size_t i = 0; i < AIM_ARRAY_SIZE(names); i++)
		if (strcmp(names[i].name, name) == 0)
			return 1;
	return 0;
}

/* a copy of v without a trailing newline; NULL with *why on refusal */
static char *clean_value(const char *v, const char **why)
{
	size_t n = strlen(v);

	while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == '\r'))
		n--;
	if (n > MAX_VALUE) {
		*why = "is too long";
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v[i];
		/* a header value must not be able to start another header */
		if (ch < 0x20 || ch == 0x7f) {
			*why = "holds control characters";
			return NULL;
		}
	}
	char *s = strndup(v, n);
	if (s == NULL)
		*why = "cannot be copied (out of memory)";
	return s;
}

int aim_creds_parse(json_t *obj, struct aim_creds **out, char **cause)
{
	struct aim_creds *c;
	int rank[AIM_CRED_COUNT] = {0}, any = 0;
	const char *key, *why = NULL;
	json_t *val;

	*out = NULL;
	if (!json_is_object(obj)) {
		aim_set_cause(cause, "credentials must be an object of "
				     "NAME: value");
		return -EINVAL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	c->refs = 1;
	json_object_foreach(obj, key, val)
	{
		size_t i;
		for (i = 0; i < AIM_ARRAY_SIZE(names); i++)
			if (strcmp(names[i].name, key) == 0)
				break;
		if (i == AIM_ARRAY_SIZE(names)) {
			aim_set_cause(
				cause,
				"unknown credential '%.64s' (aimfs "
				"takes HF_TOKEN, AWS_ACCESS_KEY_ID, "
				"AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, "
				"AWS_ENDPOINT_URL, AWS_REGION)",
				key);
			goto bad;
		}
		if (!json_is_string(val)) {
			aim_set_cause(cause, "credential '%s' must be a string",
				      key);
			goto bad;
		}
		const char *v = json_string_value(val);
		if (v[0] == '\0' || rank[names[i].slot] > names[i].rank)
			continue;
		char *s = clean_value(v, &why);
		if (s == NULL) {
			aim_set_cause(cause, "credential '%s' %s", key, why);
			goto bad;
		}
		if (s[0] == '\0') {
			free(s);
			continue;
		}
		wipe_free(c->v[names[i].slot]);
		c->v[names[i].slot] = s;
		rank[names[i].slot] = names[i].rank;
		any = 1;
	}
	if (!c->v[AIM_CRED_AWS_ACCESS_KEY_ID] !=
	    !c->v[AIM_CRED_AWS_SECRET_ACCESS_KEY]) {
		aim_set_cause(cause, "credentials: AWS_ACCESS_KEY_ID and "
				     "AWS_SECRET_ACCESS_KEY go together");
		goto bad;
	}
	if (c->v[AIM_CRED_AWS_SESSION_TOKEN] &&
	    !c->v[AIM_CRED_AWS_ACCESS_KEY_ID]) {
		aim_set_cause(cause, "credentials: AWS_SESSION_TOKEN needs "
				     "AWS_ACCESS_KEY_ID and "
				     "AWS_SECRET_ACCESS_KEY");
		goto bad;
	}
	const char *ep = c->v[AIM_CRED_AWS_ENDPOINT_URL];
	if (ep) {
		const char *sep = strstr(ep, "://");
		if (sep == NULL || sep == ep || sep[3] == '\0' ||
		    sep[3] == '/') {
			/* an endpoint is no secret, but it stays out all the
			 * same */
			aim_set_cause(cause, "credential 'AWS_ENDPOINT_URL' is "
					     "not a URL (http://host:port)");
			goto bad;
		}
	}
	if (!any) {
		creds_free(c);
		return 0;
	}
	*out = c;
	return 0;
bad:
	creds_free(c);
	return -EINVAL;
}

const char *aim_creds_get(const struct aim_creds *c, enum aim_cred k)
{
	return c && k >= 0 && k < AIM_CRED_COUNT ? c->v[k] : NULL;
}

int aim_creds_equal(const struct aim_creds *a, const struct aim_creds *b)
{
	if (a == b)
		return 1;
	if (a == NULL || b == NULL)
		return 0;
	for (int i = 0; i < AIM_CRED_COUNT; i++) {
		if (!a->v[i] != !b->v[i])
			return 0;
		if (a->v[i] && strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	}
	return 1;
}

struct aim_creds *aim_creds_ref(struct aim_creds *c)
{
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	return c;
}

void aim_creds_unref(struct aim_creds **pc)
{
	struct aim_creds *c = *pc;

	*pc = NULL;
	if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
		creds_free(c);
}

void aim_creds_wipe_json(json_t *obj)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val)
	{
		if (json_is_string(val)) {
			/* jansson's buffer, the length it knows */
			char *s = (char *)json_string_value(val);
			explicit_bzero(s, json_string_length(val));
		}
	}
}
