/*
 * uri.c - see uri.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uri.h"
#include "util.h"

void aim_uri_init(struct aim_uri *u)
{
	memset(u, 0, sizeof(*u));
}

void aim_uri_release(struct aim_uri *u)
{
	free(u->org);
	free(u->name);
	free(u->rev);
	free(u->bucket);
	free(u->prefix);
	free(u->url);
	aim_uri_init(u);
}

int aim_uri_valid_repo_part(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 96)
		return 0;
	if (s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
		return 0;
	if (strstr(s, "--") || strstr(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return 0;
	}
	return 1;
}

static int fail(char **cause, const char *uri, const char *why)
{
	if (cause && asprintf(cause, "invalid model URI '%s': %s", uri, why) < 0)
		*cause = NULL;
	return -EINVAL;
}

static int has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

static int parse_hf(const char *uri, const char *rest, struct aim_uri *u,
		    char **cause)
{
	const char *slash = strchr(rest, '/');
	const char *at = strchr(rest, '@');
	const char *name_end;

	if (slash == NULL || (at && at < slash))
		return fail(cause, uri, "expected hf://org/name[@revision]");
	name_end = at ? at : rest + strlen(rest);
	u->org = strndup(rest, (size_t)(slash - rest));
	u->name = strndup(slash + 1, (size_t)(name_end - slash - 1));
	if (!u->org || !u->name)
		return -ENOMEM;
	if (!aim_uri_valid_repo_part(u->org) ||
	    !aim_uri_valid_repo_part(u->name))
		return fail(cause, uri,
			    "org and name take letters, digits, '-', '_' and "
			    "'.' (no '--' or '..', at most 96 characters)");
	if (at) {
		const char *rev = at + 1;
		const char *why;
		if (*rev == '\0')
			return fail(cause, uri, "empty revision after '@'");
		if (strlen(rev) > 255 || aim_path_check(rev, &why) < 0)
			return fail(cause, uri, "bad revision");
		u->rev = strdup(rev);
		u->rev_given = 1;
	} else {
		u->rev = strdup("main");
	}
	return u->rev ? 0 : -ENOMEM;
}

static int parse_s3(const char *uri, const char *rest, struct aim_uri *u,
		    char **cause)
{
	const char *slash = strchr(rest, '/');
	size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);

	if (blen < 3 || blen > 63)
		return fail(cause, uri, "bucket name must be 3-63 characters");
	for (size_t i = 0; i < blen; i++) {
		char c = rest[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_'))
			return fail(cause, uri, "bad character in bucket name");
	}
	u->bucket = strndup(rest, blen);
	u->prefix = strdup(slash ? slash + 1 : "");
	return u->bucket && u->prefix ? 0 : -ENOMEM;
}

static int parse_https(const char *uri, struct aim_uri *u, char **cause)
{
	const char *host = strchr(uri, ':') + 3;
	const char *path = strchr(host, '/');

	if (path == NULL || path == host)
		return fail(cause, uri, "expected https://host/path/file");
	if (path[1] == '\0' || path[strlen(path) - 1] == '/')
		return fail(cause, uri, "the URL must name a file");
	if (strchr(uri, ' '))
		return fail(cause, uri, "spaces must be percent-encoded");
	u->url = strdup(uri);
	return u->url ? 0 : -ENOMEM;
}

int aim_uri_parse(const char *s, struct aim_uri *u, char **cause)
{
	int rc;

	if (cause)
		*cause = NULL;
	if (s == NULL || *s == '\0')
		return fail(cause, "", "empty");
	if (strlen(s) > 4096)
		return fail(cause, "...", "longer than 4096 characters");
	if (has_ctl(s))
		return fail(cause, "...", "control character");
	if (strncmp(s, "hf://", 5) == 0) {
		u->kind = AIM_URI_HF;
		rc = parse_hf(s, s + 5, u, cause);
	} else if (strncmp(s, "s3://", 5) == 0) {
		u->kind = AIM_URI_S3;
		rc = parse_s3(s, s + 5, u, cause);
	} else if (strncmp(s, "https://", 8) == 0 ||
		   strncmp(s, "http://", 7) == 0) {
		u->kind = AIM_URI_HTTPS;
		rc = parse_https(s, u, cause);
	} else {
		rc = fail(cause, s, "scheme must be hf://, s3:// or https://");
	}
	if (rc < 0)
		aim_uri_release(u);
	return rc;
}

void aim_uri_cache_key(const char *uri, char out[17])
{
	unsigned char md[32];

	aim_sha256(uri, strlen(uri), md);
	aim_hex(md, 8, out);
}
