/*
 * test-sigv4.c - AWS Signature Version 4 for S3: the worked examples of the
 * S3 API Reference ("Signature Calculations for the Authorization Header:
 * Transferring Payload in a Single Chunk"), byte for byte, then awkward keys,
 * queries, tokens and refused inputs. The canonical requests of the awkward
 * cases were cross-checked with botocore's S3SigV4Auth.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "src/sigv4.h"
#include "src/util.h"

#define EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define EXAMPLE_HOST "examplebucket.s3.amazonaws.com"
#define EXAMPLE_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define MAY24 ((time_t)1369353600) /* 2013-05-24T00:00:00Z */
#define STS_HEAD "AWS4-HMAC-SHA256\n20130524T000000Z\n" \
		 "20130524/us-east-1/s3/aws4_request\n"

static const struct aim_sigv4_creds example_creds = {
	.access_key = "AKIAIOSFODNN7EXAMPLE",
	.secret_key = EXAMPLE_SECRET,
};

static struct aim_sigv4_req example_req(const char *method, const char *path)
{
	struct aim_sigv4_req r = {
		.method = method,
		.host = EXAMPLE_HOST,
		.path = path,
		.region = "us-east-1",
		.service = "s3",
		.now = MAY24,
	};
	return r;
}

/* the string to sign of the example scope ending in this request hash */
static int sts_is(const char *sts, const char *hash)
{
	return strncmp(sts, STS_HEAD, strlen(STS_HEAD)) == 0 &&
	       strcmp(sts + strlen(STS_HEAD), hash) == 0;
}

/* no output string may contain the secret */
static int leaks_secret(const struct aim_sigv4_out *o, const char *secret)
{
	const char *all[] = { o->path,	     o->query,
			      o->authorization, o->amz_date,
			      o->content_sha,   o->token,
			      o->canonical_request, o->string_to_sign };

	for (size_t i = 0; i < AIM_ARRAY_SIZE(all); i++)
		if (all[i] && strstr(all[i], secret))
			return 1;
	return 0;
}

/* Example: GET Object, first 10 bytes of test.txt */
static void example_get_object(void)
{
	/* the example's request has a trailing space after the range value */
	const struct aim_sigv4_header h[] = { { "Range", "bytes=0-9 " } };
	struct aim_sigv4_req r = example_req("GET", "/test.txt");
	struct aim_sigv4_out o;

	r.headers = h;
	r.nheaders = 1;
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.canonical_request,
		     "GET\n"
		     "/test.txt\n"
		     "\n"
		     "host:examplebucket.s3.amazonaws.com\n"
		     "range:bytes=0-9\n"
		     "x-amz-content-sha256:" EMPTY "\n"
		     "x-amz-date:20130524T000000Z\n"
		     "\n"
		     "host;range;x-amz-content-sha256;x-amz-date\n"
		     EMPTY) == 0);
	CHECK(sts_is(o.string_to_sign,
		     "7344ae5b7ee6c3e7e6b0fe0640412a37"
		     "625d1fbfff95c48bbb2dc43964946972"));
	CHECK(strcmp(o.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170"
				  "aba48dd91039c6036bdb41") == 0);
	CHECK(strcmp(o.authorization,
		     "Authorization: AWS4-HMAC-SHA256 Credential="
		     "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
		     "SignedHeaders=host;range;x-amz-content-sha256;"
		     "x-amz-date, "
		     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba4"
		     "8dd91039c6036bdb41") == 0);
	CHECK(strcmp(o.amz_date, "x-amz-date: 20130524T000000Z") == 0);
	CHECK(strcmp(o.content_sha, "x-amz-content-sha256: " EMPTY) == 0);
	CHECK(strcmp(o.path, "/test.txt") == 0);
	CHECK(strcmp(o.query, "") == 0);
	CHECK(o.token == NULL);
	CHECK(!leaks_secret(&o, EXAMPLE_SECRET));
	aim_sigv4_out_release(&o);
	CHECK(o.authorization == NULL && o.signature[0] == '\0');
}

/* Example: PUT Object, a '$' in the key and a signed body */
static void example_put_object(void)
{
	const struct aim_sigv4_header h[] = {
		{ "Date", "Fri, 24 May 2013 00:00:00 GMT" },
		{ "x-amz-storage-class", "REDUCED_REDUNDANCY" },
	};
	struct aim_sigv4_req r = example_req("PUT", "/test$file.text");
	struct aim_sigv4_out o;

	r.headers = h;
	r.nheaders = 2;
	r.payload_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034"
			 "a8b803f8b072";
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.path, "/test%24file.text") == 0);
	CHECK(strcmp(o.canonical_request,
		     "PUT\n"
		     "/test%24file.text\n"
		     "\n"
		     "date:Fri, 24 May 2013 00:00:00 GMT\n"
		     "host:examplebucket.s3.amazonaws.com\n"
		     "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87"
		     "d2b6b4b4e99e42034a8b803f8b072\n"
		     "x-amz-date:20130524T000000Z\n"
		     "x-amz-storage-class:REDUCED_REDUNDANCY\n"
		     "\n"
		     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-"
		     "class\n"
		     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b80"
		     "3f8b072") == 0);
	CHECK(sts_is(o.string_to_sign,
		     "9e0e90d9c76de8fa5b200d8c849cd5b8"
		     "dc7a3be3951ddb7f6a76b4158342019d"));
	CHECK(strcmp(o.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380"
				  "cd77a1b5971af0ece108bd") == 0);
	aim_sigv4_out_release(&o);
}

/* Example: GET Bucket Lifecycle, a parameter without a value */
static void example_lifecycle(void)
{
	const struct aim_sigv4_param p[] = { { "lifecycle", "" } };
	const struct aim_sigv4_param q[] = { { "lifecycle", NULL } };
	struct aim_sigv4_req r = example_req("GET", "/");
	struct aim_sigv4_out o;

	r.params = p;
	r.nparams = 1;
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.canonical_request,
		     "GET\n"
		     "/\n"
		     "lifecycle=\n"
		     "host:examplebucket.s3.amazonaws.com\n"
		     "x-amz-content-sha256:" EMPTY "\n"
		     "x-amz-date:20130524T000000Z\n"
		     "\n"
		     "host;x-amz-content-sha256;x-amz-date\n" EMPTY) == 0);
	CHECK(sts_is(o.string_to_sign,
		     "9766c798316ff2757b517bc739a67f62"
		     "13b4ab36dd5da2f94eaebf79c77395ca"));
	CHECK(strcmp(o.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e"
				  "0f91ac7a200a0136783543") == 0);
	CHECK(strcmp(o.query, "lifecycle=") == 0);
	CHECK(strstr(o.authorization, "SignedHeaders=host;x-amz-content-"
				      "sha256;x-amz-date, ") != NULL);
	aim_sigv4_out_release(&o);

	/* a NULL value is the same as "" */
	r.params = q;
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e"
				  "0f91ac7a200a0136783543") == 0);
	aim_sigv4_out_release(&o);
}

/* Example: Get Bucket (List Objects), parameters given out of order */
static void example_list_objects(void)
{
	const struct aim_sigv4_param p[] = { { "prefix", "J" },
					     { "max-keys", "2" } };
	struct aim_sigv4_req r = example_req("GET", "/");
	struct aim_sigv4_out o;

	r.params = p;
	r.nparams = 2;
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.canonical_request,
		     "GET\n"
		     "/\n"
		     "max-keys=2&prefix=J\n"
		     "host:examplebucket.s3.amazonaws.com\n"
		     "x-amz-content-sha256:" EMPTY "\n"
		     "x-amz-date:20130524T000000Z\n"
		     "\n"
		     "host;x-amz-content-sha256;x-amz-date\n" EMPTY) == 0);
	CHECK(sts_is(o.string_to_sign,
		     "df57d21db20da04d7fa30298dd4488ba"
		     "3a2b47ca3a489c74750e0f1e7df1b9b7"));
	CHECK(strcmp(o.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc5"
				  "9db6670ed5711ef69dc6f7") == 0);
	CHECK(strcmp(o.query, "max-keys=2&prefix=J") == 0);
	aim_sigv4_out_release(&o);
}

/* every reserved byte once, UTF-8, '//', '.' segments, trailing '/' */
static void awkward_key(void)
{
	struct aim_sigv4_req r = example_req(
		"GET", "/bucket/dir/key with space+=&?#%~\xc3\xa9//x/./y/");
	struct aim_sigv4_out o;
	const char *path = "/bucket/dir/key%20with%20space%2B%3D%26%3F%23%25~"
			   "%C3%A9//x/./y/";

	r.host = "127.0.0.1:9000";
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.path, path) == 0);
	CHECK(strncmp(o.canonical_request, "GET\n", 4) == 0 &&
	      strncmp(o.canonical_request + 4, path, strlen(path)) == 0);
	CHECK(strstr(o.canonical_request, "\nhost:127.0.0.1:9000\n") != NULL);
	CHECK(sts_is(o.string_to_sign,
		     "c0e81c2be66c3565d3d097af58c9a070"
		     "d73d22240766385f57bd7b9015edb737"));
	CHECK(strcmp(o.signature, "352412e7382b0b4092a0a739f91145602e971e44ef"
				  "ee934317f237b49d9ef0d2") == 0);
	aim_sigv4_out_release(&o);
}

/* empty values, reserved characters, and sorting on the encoded bytes */
static void awkward_query(void)
{
	/* raw "xA" < "x[", but encoded "x%5B" < "xA": S3 sorts encoded */
	const struct aim_sigv4_param p[] = {
		{ "list-type", "2" },	 { "prefix", "a b/c+d" },
		{ "delimiter", "/" },	 { "continuation-token", "1/abc+==" },
		{ "fetch-owner", "" },	 { "xA", "2" },
		{ "x[", "1" },		 { "k&=?#", "v&=?#%" },
	};
	const struct aim_sigv4_param d[] = { { "a", "2" }, { "a", "1" },
					     { "a", "" } };
	struct aim_sigv4_req r = example_req("GET", "/bucket");
	struct aim_sigv4_out o;

	r.host = "127.0.0.1:9000";
	r.params = p;
	r.nparams = AIM_ARRAY_SIZE(p);
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.query, "continuation-token=1%2Fabc%2B%3D%3D&delimiter="
			      "%2F&fetch-owner=&k%26%3D%3F%23=v%26%3D%3F%23%25&"
			      "list-type=2&prefix=a%20b%2Fc%2Bd&x%5B=1&xA=2") ==
	      0);
	CHECK(strncmp(o.canonical_request, "GET\n/bucket\ncontinuation-token=",
		      31) == 0);
	CHECK(sts_is(o.string_to_sign,
		     "5453036be0f2bd8cc87739a3475e9cf3"
		     "ba5197fb7e4022aa7ab7c3cde1dab8f6"));
	CHECK(strcmp(o.signature, "b5f424043a084d34e54134d29a46493a49aaa79549"
				  "f813b996fdfd015c54138b") == 0);
	aim_sigv4_out_release(&o);

	/* the same name twice: ordered by value */
	r.params = d;
	r.nparams = AIM_ARRAY_SIZE(d);
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.query, "a=&a=1&a=2") == 0);
	aim_sigv4_out_release(&o);
}

/* temporary credentials: the token is a signed header and a line to send */
static void session_token(void)
{
	const struct aim_sigv4_creds c = {
		.access_key = "AKIAIOSFODNN7EXAMPLE",
		.secret_key = EXAMPLE_SECRET,
		.session_token = "FwoGZXIvYXdzEJr//token+/=",
	};
	const struct aim_sigv4_header h[] = {
		{ "X-Custom", "a   b \t c" },
		{ "If-Match", "  \"abc\"   " },
	};
	struct aim_sigv4_req r = example_req("HEAD", "/model.safetensors");
	struct aim_sigv4_out o;

	r.host = "bucket.s3.amazonaws.com";
	r.headers = h;
	r.nheaders = 2;
	CHECK(aim_sigv4_sign(&r, &c, &o) == 0);
	CHECK(strcmp(o.canonical_request,
		     "HEAD\n"
		     "/model.safetensors\n"
		     "\n"
		     "host:bucket.s3.amazonaws.com\n"
		     "if-match:\"abc\"\n"
		     "x-amz-content-sha256:" EMPTY "\n"
		     "x-amz-date:20130524T000000Z\n"
		     "x-amz-security-token:FwoGZXIvYXdzEJr//token+/=\n"
		     "x-custom:a b c\n"
		     "\n"
		     "host;if-match;x-amz-content-sha256;x-amz-date;x-amz-"
		     "security-token;x-custom\n" EMPTY) == 0);
	CHECK(sts_is(o.string_to_sign,
		     "552d1ac5f5b1eac2a7e892b0827e094e"
		     "607b2cb73f2fe89debaf1abe8a2bca81"));
	CHECK(strcmp(o.signature, "49aa5f1b0e3d7182c8d7406b7bbe7c776a020a0b91"
				  "6aef7ef1818fd28083dbb5") == 0);
	CHECK(o.token && strcmp(o.token, "x-amz-security-token: FwoGZXIvYXdzEJ"
					 "r//token+/=") == 0);
	CHECK(strstr(o.authorization, "SignedHeaders=host;if-match;x-amz-"
				      "content-sha256;x-amz-date;x-amz-"
				      "security-token;x-custom, ") != NULL);
	CHECK(!leaks_secret(&o, EXAMPLE_SECRET));
	aim_sigv4_out_release(&o);
}

static void unsigned_payload_and_dates(void)
{
	struct aim_sigv4_req r = example_req("GET", "/b/k");
	struct aim_sigv4_out o;
	size_t n;

	r.payload_hash = "UNSIGNED-PAYLOAD";
	r.now = 951782400 + 86399; /* a leap day, last second */
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.content_sha, "x-amz-content-sha256: UNSIGNED-PAYLOAD") ==
	      0);
	CHECK(strcmp(o.amz_date, "x-amz-date: 20000229T235959Z") == 0);
	n = strlen(o.canonical_request);
	CHECK(n > 17 &&
	      strcmp(o.canonical_request + n - 17, "\nUNSIGNED-PAYLOAD") == 0);
	CHECK(strstr(o.authorization, "Credential=AKIAIOSFODNN7EXAMPLE/2000022"
				      "9/us-east-1/s3/aws4_request, ") != NULL);
	CHECK(strstr(o.string_to_sign, "\n20000229T235959Z\n20000229/") !=
	      NULL);
	aim_sigv4_out_release(&o);
	r.now = 0;
	CHECK(aim_sigv4_sign(&r, &example_creds, &o) == 0);
	CHECK(strcmp(o.amz_date, "x-amz-date: 19700101T000000Z") == 0);
	aim_sigv4_out_release(&o);
}

static int refused(struct aim_sigv4_req *r, const struct aim_sigv4_creds *c)
{
	struct aim_sigv4_out o;
	int rc = aim_sigv4_sign(r, c, &o);

	/* nothing is left behind on failure */
	if (o.path || o.query || o.authorization || o.canonical_request ||
	    o.string_to_sign || o.token)
		return 0;
	return rc == -EINVAL;
}

static void refused_inputs(void)
{
	const struct aim_sigv4_header crlf[] = { { "x-a", "1\r\nx-b: 2" } };
	const struct aim_sigv4_header host[] = { { "Host", "evil" } };
	const struct aim_sigv4_header date[] = { { "X-Amz-Date", "1" } };
	const struct aim_sigv4_header twice[] = { { "Range", "bytes=0-1" },
						  { "range", "bytes=2-3" } };
	const struct aim_sigv4_header badname[] = { { "x a", "1" } };
	const struct aim_sigv4_param noname[] = { { "", "1" } };
	struct aim_sigv4_creds c = example_creds;
	struct aim_sigv4_req r;

	r = example_req("GET", "test.txt");
	CHECK(refused(&r, &c));
	r = example_req("get", "/k");
	CHECK(refused(&r, &c));
	r = example_req("GET", "/k");
	r.host = "h\r\nx: y";
	CHECK(refused(&r, &c));
	r = example_req("GET", "/k");
	r.host = NULL;
	CHECK(refused(&r, &c));
	r = example_req("GET", "/k");
	r.region = "us-east-1/../x";
	CHECK(refused(&r, &c));
	r = example_req("GET", "/k");
	r.payload_hash = "E3B0";
	CHECK(refused(&r, &c));
	r = example_req("GET", "/k");
	r.headers = crlf;
	r.nheaders = 1;
	CHECK(refused(&r, &c));
	r.headers = host;
	CHECK(refused(&r, &c));
	r.headers = date;
	CHECK(refused(&r, &c));
	r.headers = badname;
	CHECK(refused(&r, &c));
	r.headers = twice;
	r.nheaders = 2;
	CHECK(refused(&r, &c));
	r = example_req("GET", "/k");
	r.params = noname;
	r.nparams = 1;
	CHECK(refused(&r, &c));
	r = example_req("GET", "/k");
	c.secret_key = "";
	CHECK(refused(&r, &c));
	c = example_creds;
	c.access_key = "AKIA,Signature=x";
	CHECK(refused(&r, &c));
	c = example_creds;
	c.session_token = "tok\nx-amz-acl: public-read";
	CHECK(refused(&r, &c));
}

static void encode(void)
{
	char *s;

	s = aim_sigv4_encode("a b/c~d%\xc3\xa9", 1);
	CHECK(s && strcmp(s, "a%20b/c~d%25%C3%A9") == 0);
	free(s);
	s = aim_sigv4_encode("a b/c~d%\xc3\xa9", 0);
	CHECK(s && strcmp(s, "a%20b%2Fc~d%25%C3%A9") == 0);
	free(s);
	s = aim_sigv4_encode("!'()*+,;=:@[]\x7f\x01", 1);
	CHECK(s && strcmp(s, "%21%27%28%29%2A%2B%2C%3B%3D%3A%40%5B%5D%7F%01") ==
			   0);
	free(s);
	s = aim_sigv4_encode("AZaz09-_.~", 0);
	CHECK(s && strcmp(s, "AZaz09-_.~") == 0);
	free(s);
	s = aim_sigv4_encode("", 0);
	CHECK(s && strcmp(s, "") == 0);
	free(s);
}

const struct unit_test sigv4_tests[] = {
	{ "sigv4: AWS example GET Object", example_get_object },
	{ "sigv4: AWS example PUT Object", example_put_object },
	{ "sigv4: AWS example GET Bucket Lifecycle", example_lifecycle },
	{ "sigv4: AWS example Get Bucket (List Objects)",
	  example_list_objects },
	{ "sigv4: awkward key", awkward_key },
	{ "sigv4: awkward query", awkward_query },
	{ "sigv4: session token and extra headers", session_token },
	{ "sigv4: unsigned payload and dates", unsigned_payload_and_dates },
	{ "sigv4: refused inputs", refused_inputs },
	{ "sigv4: URI encoding", encode },
	{ NULL, NULL },
};
