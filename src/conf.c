/*
 * conf.c - see conf.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "codec.h"
#include "conf.h"
#include "log.h"
#include "scrape.h"
#include "util.h"

void aim_conf_init(struct aim_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->block_size = AIM_DEFAULT_BLOCK_SIZE;
	c->auto_add = -1; /* follows offline unless set */
	c->log_level = LOG_NOTICE;
	c->fetch_timeout = 20;
	c->connect_timeout = 10;
	c->negative_timeout = 60;
	c->fetch_threads = 16;
	c->prefetch_window = 64ULL << 20;
	c->read_ahead_kb = 128;
	c->compress = AIM_COMPRESS_AUTO;
	c->compress_min_saving = 0.125;
}

void aim_conf_release(struct aim_conf *c)
{
	free(c->store);
	free(c->hf_endpoint);
	free(c->hf_token);
	free(c->ctl_socket);
	free(c->cache_size);
	free(c->ca_file);
	free(c->s3_endpoint);
	free(c->s3_region);
	free(c->metrics);
	for (size_t i = 0; i < c->nmodels; i++)
		free(c->models[i]);
	free(c->models);
	aim_conf_init(c);
}

static int set_str(char **slot, const char *value)
{
	char *s = strdup(value);

	if (s == NULL)
		return -ENOMEM;
	free(*slot);
	*slot = s;
	return 0;
}

static int bad(char **cause, const char *key, const char *value,
	       const char *why)
{
	if (asprintf(cause, "bad value '%s' for option '%s': %s", value, key,
		     why) < 0)
		*cause = NULL;
	return -EINVAL;
}

static int set_bool(int *slot, const char *key, const char *value,
		    char **cause)
{
	int b = aim_parse_bool(value);

	if (b < 0)
		return bad(cause, key, value, "expected yes or no");
	*slot = b;
	return 0;
}

static int set_uint(unsigned *slot, const char *key, const char *value,
		    unsigned min, unsigned max, char **cause)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || end == value || *end || v < min || v > max)
		return bad(cause, key, value, "out of range");
	*slot = (unsigned)v;
	return 0;
}

static int check_cache_size(const char *key, const char *value, char **cause)
{
	size_t n = strlen(value);
	uint64_t v;

	if (n > 0 && value[n - 1] == '%') {
		char *end;
		double p = strtod(value, &end);
		if (end != value + n - 1 || !(p > 0 && p <= 100))
			return bad(cause, key, value,
				   "a percentage must be in (0, 100]");
		return 0;
	}
	if (aim_parse_size(value, &v) < 0)
		return bad(cause, key, value, "expected SIZE or N%");
	return 0;
}

static const char *known[] = { "store",	      "hf_endpoint",   "hf_token_path",
			       "block_size",    "cache_size",    "offline",
			       "auto_add",      "ctl_socket",    "allow_other",
			       "model",	      "log_level",     "fetch_timeout",
			       "connect_timeout", "ca_file", "negative_timeout",
			       "s3_endpoint", "s3_region", "s3_addressing",
			       "fetch_threads", "prefetch_window",
			       "read_ahead_kb", "compress",
			       "compress_min_saving", "metrics",
			       "metrics_remote" };

int aim_conf_known(const char *key)
{
	for (size_t i = 0; i < AIM_ARRAY_SIZE(known); i++)
		if (strcmp(key, known[i]) == 0)
			return 1;
	return 0;
}

int aim_conf_set(struct aim_conf *c, const char *key, const char *value,
		 char **cause)
{
	*cause = NULL;
	if (value == NULL) {
		/* flags given as bare -o names */
		if (strcmp(key, "allow_other") == 0 ||
		    strcmp(key, "offline") == 0 ||
		    strcmp(key, "auto_add") == 0 ||
		    strcmp(key, "metrics_remote") == 0)
			value = "yes";
		else
			return bad(cause, key, "", "a value is required");
	}
	if (strcmp(key, "store") == 0 || strcmp(key, "ctl_socket") == 0 ||
	    strcmp(key, "ca_file") == 0) {
		if (value[0] != '/')
			return bad(cause, key, value, "must be an absolute path");
		char **slot = key[0] == 's' ? &c->store :
			      key[1] == 't' ? &c->ctl_socket :
					      &c->ca_file;
		return set_str(slot, value);
	}
	if (strcmp(key, "hf_endpoint") == 0) {
		if (strncmp(value, "http://", 7) && strncmp(value, "https://", 8))
			return bad(cause, key, value, "expected an http(s) URL");
		int rc = set_str(&c->hf_endpoint, value);
		size_t n = rc == 0 ? strlen(c->hf_endpoint) : 0;
		while (n > 8 && c->hf_endpoint[n - 1] == '/')
			c->hf_endpoint[--n] = '\0';
		return rc;
	}
	if (strcmp(key, "s3_endpoint") == 0) {
		if (strncmp(value, "http://", 7) && strncmp(value, "https://", 8))
			return bad(cause, key, value, "expected an http(s) URL");
		return set_str(&c->s3_endpoint, value);
	}
	if (strcmp(key, "s3_region") == 0) {
		if (value[0] == '\0' || strcspn(value, "/ ,;=") != strlen(value))
			return bad(cause, key, value, "not a region name");
		return set_str(&c->s3_region, value);
	}
	if (strcmp(key, "s3_addressing") == 0) {
		if (strcmp(value, "auto") == 0)
			c->s3_addressing = AIM_S3_AUTO;
		else if (strcmp(value, "path") == 0)
			c->s3_addressing = AIM_S3_PATH;
		else if (strcmp(value, "virtual") == 0)
			c->s3_addressing = AIM_S3_VIRTUAL;
		else
			return bad(cause, key, value,
				   "expected auto, path or virtual");
		return 0;
	}
	if (strcmp(key, "hf_token_path") == 0) {
		char *tok;
		int rc = aim_read_small_file(value, 4096, &tok);
		if (rc < 0)
			return bad(cause, key, value, strerror(-rc));
		free(c->hf_token);
		c->hf_token = tok[0] ? tok : (free(tok), NULL);
		return 0;
	}
	if (strcmp(key, "block_size") == 0) {
		uint64_t v;
		if (aim_parse_size(value, &v) < 0 || v < 4096 ||
		    v > (64ULL << 20) || (v & (v - 1)) != 0)
			return bad(cause, key, value,
				   "a power of two from 4K to 64M");
		c->block_size = v;
		return 0;
	}
	if (strcmp(key, "cache_size") == 0) {
		int rc = check_cache_size(key, value, cause);
		return rc < 0 ? rc : set_str(&c->cache_size, value);
	}
	if (strcmp(key, "offline") == 0)
		return set_bool(&c->offline, key, value, cause);
	if (strcmp(key, "auto_add") == 0)
		return set_bool(&c->auto_add, key, value, cause);
	if (strcmp(key, "allow_other") == 0)
		return set_bool(&c->allow_other, key, value, cause);
	if (strcmp(key, "metrics") == 0) {
		struct aim_scrape_addr a;
		const char *why;
		/* off (the default) can be said too, to undo a config file */
		if (strcmp(value, "off") == 0 || value[0] == '\0') {
			free(c->metrics);
			c->metrics = NULL;
			return 0;
		}
		if (aim_scrape_parse(value, &a, &why) < 0)
			return bad(cause, key, value, why);
		return set_str(&c->metrics, value);
	}
	if (strcmp(key, "metrics_remote") == 0)
		return set_bool(&c->metrics_remote, key, value, cause);
	if (strcmp(key, "fetch_timeout") == 0)
		return set_uint(&c->fetch_timeout, key, value, 1, 3600, cause);
	if (strcmp(key, "fetch_threads") == 0)
		return set_uint(&c->fetch_threads, key, value, 0, 256, cause);
	if (strcmp(key, "read_ahead_kb") == 0)
		return set_uint(&c->read_ahead_kb, key, value, 0, 1 << 20, cause);
	if (strcmp(key, "prefetch_window") == 0) {
		uint64_t v;
		if (aim_parse_size(value, &v) < 0 || v > (64ULL << 30))
			return bad(cause, key, value, "a size up to 64G");
		c->prefetch_window = v;
		return 0;
	}
	if (strcmp(key, "compress") == 0) {
		if (strcmp(value, "auto") == 0)
			c->compress = AIM_COMPRESS_AUTO;
		else if (strcmp(value, "lz4") == 0)
			c->compress = AIM_COMPRESS_LZ4;
		else if (strcmp(value, "off") == 0)
			c->compress = AIM_COMPRESS_OFF;
		else
			return bad(cause, key, value, "expected auto, lz4 or off");
		return 0;
	}
	if (strcmp(key, "compress_min_saving") == 0) {
		/* a fraction (0.125) or a percentage (12.5%) */
		size_t n = strlen(value);
		char *end;
		errno = 0;
		double v = strtod(value, &end);
		int pct = n > 0 && value[n - 1] == '%';
		if (errno || end == value || end != value + n - (size_t)pct)
			return bad(cause, key, value,
				   "expected a fraction or a percentage");
		if (pct)
			v /= 100;
		if (!(v > 0 && v < 1))
			return bad(cause, key, value,
				   "must be between 0 and 1 (0% and 100%)");
		c->compress_min_saving = v;
		return 0;
	}
	if (strcmp(key, "negative_timeout") == 0)
		return set_uint(&c->negative_timeout, key, value, 0, 86400,
				cause);
	if (strcmp(key, "connect_timeout") == 0)
		return set_uint(&c->connect_timeout, key, value, 1, 600, cause);
	if (strcmp(key, "log_level") == 0) {
		int l = aim_log_parse_level(value);
		if (l < 0)
			return bad(cause, key, value,
				   "expected error, warning, notice, info or debug");
		c->log_level = l;
		return 0;
	}
	if (strcmp(key, "model") == 0) {
		char **m = realloc(c->models, (c->nmodels + 1) * sizeof(*m));
		if (m == NULL)
			return -ENOMEM;
		c->models = m;
		if ((m[c->nmodels] = strdup(value)) == NULL)
			return -ENOMEM;
		c->nmodels++;
		return 0;
	}
	if (asprintf(cause, "unknown option '%s'", key) < 0)
		*cause = NULL;
	return -EINVAL;
}

int aim_conf_from_env(struct aim_conf *c, char **cause)
{
	const char *v;
	int rc;

	*cause = NULL;
	if ((v = getenv("HF_ENDPOINT")) && *v &&
	    (rc = aim_conf_set(c, "hf_endpoint", v, cause)) < 0)
		return rc;
	if ((v = getenv("HF_TOKEN_PATH")) && *v) {
		/* an unreadable token file is only an error if named */
		if ((rc = aim_conf_set(c, "hf_token_path", v, cause)) < 0)
			return rc;
	}
	if ((v = getenv("HF_TOKEN")) && *v && (rc = set_str(&c->hf_token, v)) < 0)
		return rc;
	if ((v = getenv("AWS_DEFAULT_REGION")) && *v &&
	    (rc = aim_conf_set(c, "s3_region", v, cause)) < 0)
		return rc;
	if ((v = getenv("AWS_REGION")) && *v &&
	    (rc = aim_conf_set(c, "s3_region", v, cause)) < 0)
		return rc;
	if ((v = getenv("HF_HUB_OFFLINE")) && *v) {
		int b = aim_parse_bool(v);
		if (b < 0)
			return bad(cause, "HF_HUB_OFFLINE", v, "expected 1 or 0");
		c->offline = b;
	}
	return 0;
}

struct load_ctx {
	struct aim_conf *c;
	char *cause;
	int rc;
};

static int ini_cb(void *arg, const char *section, const char *name,
		  const char *value)
{
	struct load_ctx *ctx = arg;
	char *cause = NULL;

	if (section[0] != '\0' && strcmp(section, "aimfsd") != 0)
		return 1; /* other programs' sections */
	if (ctx->rc < 0)
		return 1;
	ctx->rc = aim_conf_set(ctx->c, name, value, &cause);
	if (ctx->rc < 0)
		ctx->cause = cause;
	return 1;
}

int aim_conf_load(struct aim_conf *c, const char *path, int must_exist,
		  char **cause)
{
	struct load_ctx ctx = { c, NULL, 0 };
	FILE *f;
	int line;

	*cause = NULL;
	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		int err = errno;
		if (asprintf(cause, "cannot read '%s': %s", path,
			     strerror(err)) < 0)
			*cause = NULL;
		return -err;
	}
	line = ini_parse_file(f, ini_cb, &ctx);
	fclose(f);
	if (ctx.rc < 0) {
		if (asprintf(cause, "%s: %s", path,
			     ctx.cause ? ctx.cause : "bad option") < 0)
			*cause = NULL;
		free(ctx.cause);
		return ctx.rc;
	}
	if (line != 0) {
		if (asprintf(cause, "%s:%d: syntax error", path, line) < 0)
			*cause = NULL;
		return -EINVAL;
	}
	return 0;
}

int aim_conf_load_string(struct aim_conf *c, const char *text, char **cause)
{
	struct load_ctx ctx = { c, NULL, 0 };
	int line;

	*cause = NULL;
	line = ini_parse_string(text, ini_cb, &ctx);
	if (ctx.rc < 0) {
		*cause = ctx.cause;
		return ctx.rc;
	}
	if (line != 0) {
		if (asprintf(cause, "line %d: syntax error", line) < 0)
			*cause = NULL;
		return -EINVAL;
	}
	return 0;
}

int aim_conf_finish(struct aim_conf *c, char **cause)
{
	*cause = NULL;
	if (!c->store && set_str(&c->store, AIM_DEFAULT_STORE) < 0)
		return -ENOMEM;
	if (!c->hf_endpoint && set_str(&c->hf_endpoint, AIM_DEFAULT_ENDPOINT) < 0)
		return -ENOMEM;
	if (!c->ctl_socket && set_str(&c->ctl_socket, AIM_DEFAULT_SOCKET) < 0)
		return -ENOMEM;
	if (c->auto_add < 0)
		c->auto_add = !c->offline;
	return 0;
}
