/*
 * test-creds.c - per-model credentials: parsing (names, aliases, pairs,
 * refusals that never quote a value), equality, references, wiping.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "src/creds.h"
#include "unit.h"

/* parse text (a JSON object): 0 or the error; *cause kept for a look */
static int parse(const char *text, struct aim_creds **out, char **cause)
{
	json_t *j = json_loads(text, 0, NULL);
	int rc;

	*cause = NULL;
	if (j == NULL)
		return -999;
	rc = aim_creds_parse(j, out, cause);
	json_decref(j);
	return rc;
}

static void parsing(void)
{
	struct aim_creds *c = NULL;
	char *cause;

	CHECK(parse("{\"HF_TOKEN\": \"hf_abc\\n\"}", &c, &cause) == 0);
	CHECK(aim_creds_get(c, AIM_CRED_HF_TOKEN) &&
	      strcmp(aim_creds_get(c, AIM_CRED_HF_TOKEN), "hf_abc") == 0);
	CHECK(aim_creds_get(c, AIM_CRED_AWS_REGION) == NULL);
	aim_creds_unref(&c);
	CHECK(c == NULL);

	/* the more specific alias wins, in either order */
	CHECK(parse("{\"AWS_DEFAULT_REGION\": \"a\", \"AWS_REGION\": \"b\","
		    " \"AWS_ENDPOINT_URL_S3\": \"http://s3:1\","
		    " \"AWS_ENDPOINT_URL\": \"http://x:2\"}",
		    &c, &cause) == 0);
	CHECK(c && !strcmp(aim_creds_get(c, AIM_CRED_AWS_REGION), "b"));
	CHECK(c && !strcmp(aim_creds_get(c, AIM_CRED_AWS_ENDPOINT_URL),
			   "http://s3:1"));
	aim_creds_unref(&c);
	CHECK(parse("{\"AWS_REGION\": \"b\", \"AWS_DEFAULT_REGION\": \"a\"}",
		    &c, &cause) == 0);
	CHECK(c && !strcmp(aim_creds_get(c, AIM_CRED_AWS_REGION), "b"));
	aim_creds_unref(&c);

	/* empty: no credentials of its own */
	CHECK(parse("{}", &c, &cause) == 0 && c == NULL);
	CHECK(parse("{\"HF_TOKEN\": \"\"}", &c, &cause) == 0 && c == NULL);
	CHECK(parse("{\"HF_TOKEN\": \"\\n\"}", &c, &cause) == 0 && c == NULL);

	/* refusals name the variable, never the value */
	CHECK(parse("{\"HF_TOKN\": \"s3cr3t\"}", &c, &cause) == -EINVAL &&
	      strstr(cause, "HF_TOKN") && !strstr(cause, "s3cr3t"));
	free(cause);
	CHECK(parse("{\"HF_TOKEN\": \"s3cr3t\\r\\nX-Evil: 1\"}", &c, &cause) ==
		      -EINVAL &&
	      strstr(cause, "control characters") && !strstr(cause, "s3cr3t"));
	free(cause);
	CHECK(parse("{\"HF_TOKEN\": 5}", &c, &cause) == -EINVAL);
	free(cause);
	CHECK(parse("{\"AWS_ACCESS_KEY_ID\": \"AKID\"}", &c, &cause) ==
		      -EINVAL &&
	      strstr(cause, "go together") && !strstr(cause, "AKID\""));
	free(cause);
	CHECK(parse("{\"AWS_SESSION_TOKEN\": \"t\"}", &c, &cause) == -EINVAL);
	free(cause);
	CHECK(parse("{\"AWS_ENDPOINT_URL\": \"minio:9000\"}", &c, &cause) ==
	      -EINVAL);
	free(cause);
	CHECK(parse("[1]", &c, &cause) == -EINVAL);
	free(cause);
	CHECK(aim_creds_name_known("AWS_SESSION_TOKEN"));
	CHECK(!aim_creds_name_known("HF_ENDPOINT"));
}

static void equality_and_refs(void)
{
	struct aim_creds *a, *b, *c, *r;
	char *cause;

	CHECK(parse("{\"HF_TOKEN\": \"x\"}", &a, &cause) == 0);
	CHECK(parse("{\"HF_TOKEN\": \"x\\n\"}", &b, &cause) == 0);
	CHECK(parse("{\"HF_TOKEN\": \"y\"}", &c, &cause) == 0);
	CHECK(aim_creds_equal(a, b) && !aim_creds_equal(a, c));
	CHECK(aim_creds_equal(NULL, NULL) && !aim_creds_equal(a, NULL));
	r = aim_creds_ref(a);
	aim_creds_unref(&a);
	/* still held through r */
	CHECK(r && !strcmp(aim_creds_get(r, AIM_CRED_HF_TOKEN), "x"));
	aim_creds_unref(&r);
	aim_creds_unref(&b);
	aim_creds_unref(&c);
	CHECK(aim_creds_ref(NULL) == NULL);
	aim_creds_unref(&r); /* NULL: harmless */
}

static void wipe_json(void)
{
	json_t *j = json_pack("{s:s, s:i}", "HF_TOKEN", "secret", "n", 3);
	const char *v = json_string_value(json_object_get(j, "HF_TOKEN"));

	aim_creds_wipe_json(j);
	CHECK(v[0] == '\0' && memcmp(v, "\0\0\0\0\0\0", 6) == 0);
	aim_creds_wipe_json(NULL); /* harmless */
	json_decref(j);
}

const struct unit_test creds_tests[] = {
	{"creds: parsing and refusals", parsing},
	{"creds: equality and references", equality_and_refs},
	{"creds: wiping a request's values", wipe_json},
	{NULL, NULL},
};
