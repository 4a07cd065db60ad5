/* test-uri.c - model URI parsing and cache keys */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "src/uri.h"

static int parse_ok(const char *s, struct aim_uri *u)
{
	char *cause = NULL;
	int rc;

	aim_uri_init(u);
	rc = aim_uri_parse(s, u, &cause);
	free(cause);
	return rc == 0;
}

static int parse_bad(const char *s)
{
	struct aim_uri u;
	char *cause = NULL;
	int rc;

	aim_uri_init(&u);
	rc = aim_uri_parse(s, &u, &cause);
	int bad = rc < 0 && cause && strstr(cause, "invalid model URI");
	free(cause);
	aim_uri_release(&u);
	return bad;
}

static void hf(void)
{
	struct aim_uri u;

	CHECK(parse_ok("hf://meta-llama/Llama-3.1-8B", &u));
	CHECK(u.kind == AIM_URI_HF && strcmp(u.org, "meta-llama") == 0 &&
	      strcmp(u.name, "Llama-3.1-8B") == 0 &&
	      strcmp(u.rev, "main") == 0 && !u.rev_given);
	aim_uri_release(&u);
	CHECK(parse_ok("hf://org/name@v1.0", &u));
	CHECK(strcmp(u.rev, "v1.0") == 0 && u.rev_given);
	aim_uri_release(&u);
	CHECK(parse_ok("hf://org/name@refs/pr/1", &u));
	CHECK(strcmp(u.rev, "refs/pr/1") == 0);
	aim_uri_release(&u);
	CHECK(parse_bad("hf://justname"));
	CHECK(parse_bad("hf://org/name/extra"));
	CHECK(parse_bad("hf://org/na--me"));
	CHECK(parse_bad("hf://org/.hidden"));
	CHECK(parse_bad("hf://org/name@"));
	CHECK(parse_bad("hf://org/name@../x"));
	CHECK(parse_bad("hf://../etc"));
	CHECK(parse_bad("hf://org/na me"));
	CHECK(parse_bad("hf://org/name\n"));
	CHECK(parse_bad("ftp://x/y"));
	CHECK(parse_bad(""));
}

static void s3_https(void)
{
	struct aim_uri u;

	CHECK(parse_ok("s3://my-bucket/models/org/llama", &u));
	CHECK(u.kind == AIM_URI_S3 && strcmp(u.bucket, "my-bucket") == 0 &&
	      strcmp(u.prefix, "models/org/llama") == 0);
	aim_uri_release(&u);
	CHECK(parse_ok("s3://bucket", &u) && strcmp(u.prefix, "") == 0);
	aim_uri_release(&u);
	CHECK(parse_bad("s3://ab/x"));
	CHECK(parse_bad("s3://Bad_Bucket!/x"));
	CHECK(parse_ok("https://host.example/path/model.gguf", &u));
	CHECK(u.kind == AIM_URI_HTTPS);
	aim_uri_release(&u);
	CHECK(parse_bad("https://host.example/"));
	CHECK(parse_bad("https://host.example"));
}

static void cache_key(void)
{
	char k[17];

	/* first 16 hex of sha256("hf://org/name") */
	aim_uri_cache_key("abc", k);
	CHECK(strcmp(k, "ba7816bf8f01cfea") == 0);
	CHECK(strlen(k) == 16);
}

const struct unit_test uri_tests[] = {
	{ "uri: hf", hf },
	{ "uri: s3 and https", s3_https },
	{ "uri: cache key", cache_key },
	{ NULL, NULL },
};
