/*
 * test-s3xml.c - ListObjectsV2 pages and S3 error bodies, including the
 * hostile ones: entity bombs, huge keys, absurd sizes, garbage.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "src/s3xml.h"

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
#define OPEN                                                                   \
	"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
#define CLOSE "</ListBucketResult>"

static int parse(const char *xml, struct aim_s3_list *l, char **cause)
{
	return aim_s3_parse_list(xml, strlen(xml), l, cause);
}

/* -EPROTO with a reason containing what, and nothing left allocated */
static int rejected(const char *xml, const char *what)
{
	struct aim_s3_list l;
	char *cause = NULL;
	int rc = parse(xml, &l, &cause);
	int ok = rc == -EPROTO && cause != NULL && l.objs == NULL &&
		 l.n == 0 && l.next_token == NULL;

	if (ok && what && strstr(cause, what) == NULL) {
		fprintf(stderr, "  cause '%s' lacks '%s'\n", cause, what);
		ok = 0;
	}
	free(cause);
	if (rc == 0)
		aim_s3_list_release(&l);
	return ok;
}

static void normal_page(void)
{
	const char *xml =
		HEAD OPEN
		"<Name>models</Name><Prefix>llama/</Prefix>"
		"<KeyCount>2</KeyCount>"
		"<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
		"<ContinuationToken>prev</ContinuationToken>"
		"<NextContinuationToken>"
		"1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
		"</NextContinuationToken>\n"
		"<Contents><Key>llama/config.json</Key>"
		"<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
		"<ETag>&quot;d41d8cd98f00b204e9800998ecf8427e&quot;</ETag>"
		"<Size>651</Size><StorageClass>STANDARD</StorageClass>"
		"<Owner><ID>x</ID><DisplayName>y</DisplayName></Owner>"
		"</Contents>\n"
		"<Contents><Key>llama/model-00001-of-00002.safetensors</Key>"
		"<ETag>\"9b2cf535f27731c974343645a3985328-12\"</ETag>"
		"<Size>1125899906842623</Size>"
		"<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm></Contents>\n"
		"<CommonPrefixes><Prefix>llama/sub/</Prefix></CommonPrefixes>"
		CLOSE;
	struct aim_s3_list l;
	char *cause = NULL;

	CHECK(parse(xml, &l, &cause) == 0 && cause == NULL);
	CHECK(l.n == 2);
	CHECK(l.truncated == 1);
	CHECK(l.next_token && strcmp(l.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgve"
						   "Ds2J/wm36Hy4vbOwM=") == 0);
	if (l.n == 2) {
		CHECK(strcmp(l.objs[0].key, "llama/config.json") == 0);
		CHECK(l.objs[0].size == 651);
		CHECK(strcmp(l.objs[0].etag,
			     "d41d8cd98f00b204e9800998ecf8427e") == 0);
		CHECK(strcmp(l.objs[1].key,
			     "llama/model-00001-of-00002.safetensors") == 0);
		CHECK(l.objs[1].size == (1ULL << 50) - 1);
		CHECK(strcmp(l.objs[1].etag,
			     "9b2cf535f27731c974343645a3985328-12") == 0);
	}
	CHECK(l.nprefixes == 1 && strcmp(l.prefixes[0], "llama/sub/") == 0);
	aim_s3_list_release(&l);
	CHECK(l.objs == NULL && l.n == 0 && l.next_token == NULL);

	/* the last page: not truncated, no token, an object without ETag */
	CHECK(parse(OPEN "<IsTruncated>false</IsTruncated><Contents><Key>a"
			 "</Key><Size>0</Size></Contents>" CLOSE,
		    &l, &cause) == 0);
	CHECK(l.n == 1 && l.truncated == 0 && l.next_token == NULL &&
	      l.objs[0].etag == NULL && l.objs[0].size == 0);
	aim_s3_list_release(&l);

	/* an empty bucket */
	CHECK(parse(OPEN "<KeyCount>0</KeyCount>" CLOSE, &l, &cause) == 0);
	CHECK(l.n == 0 && l.objs == NULL && l.truncated == 0);
	aim_s3_list_release(&l);
}

static void escaped_keys(void)
{
	struct aim_s3_list l;
	char *cause = NULL;

	CHECK(parse(OPEN "<Contents><Key>a &amp; b &lt;c&gt; &quot;d&apos; "
			 "&#233;&#x1F600;+%20</Key><Size>1</Size></Contents>"
			 CLOSE,
		    &l, &cause) == 0);
	CHECK(l.n == 1 &&
	      strcmp(l.objs[0].key, "a & b <c> \"d' \xc3\xa9\xf0\x9f\x98\x80+"
				    "%20") == 0);
	aim_s3_list_release(&l);

	/* encoding-type=url: keys and prefixes decoded, the token not */
	CHECK(parse(OPEN "<EncodingType>url</EncodingType>"
			 "<IsTruncated>true</IsTruncated>"
			 "<NextContinuationToken>a%2Bb+c"
			 "</NextContinuationToken>"
			 "<Contents><Key>dir/a+b%2Bc%0A%C3%A9</Key>"
			 "<Size>1</Size></Contents>"
			 "<CommonPrefixes><Prefix>dir/sub%20x/"
			 "</Prefix></CommonPrefixes>" CLOSE,
		    &l, &cause) == 0);
	CHECK(l.n == 1 && strcmp(l.objs[0].key, "dir/a b+c\n\xc3\xa9") == 0);
	CHECK(l.nprefixes == 1 && strcmp(l.prefixes[0], "dir/sub x/") == 0);
	CHECK(l.next_token && strcmp(l.next_token, "a%2Bb+c") == 0);
	aim_s3_list_release(&l);

	CHECK(rejected(OPEN "<EncodingType>url</EncodingType><Contents><Key>"
			    "a%00b</Key><Size>1</Size></Contents>" CLOSE,
		       "percent"));
	CHECK(rejected(OPEN "<Contents><Key>a%zz</Key><Size>1</Size></Contents>"
			    "<EncodingType>url</EncodingType>" CLOSE,
		       "percent"));
	CHECK(rejected(OPEN "<EncodingType>base64</EncodingType>" CLOSE,
		       "EncodingType"));
}

static void entity_bomb(void)
{
	const char *bomb =
		HEAD
		"<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
		"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
		"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">"
		"<!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">"
		"]>" OPEN "<Contents><Key>&lol4;</Key><Size>1</Size></Contents>"
		CLOSE;
	const char *external =
		"<!DOCTYPE x SYSTEM \"file:///etc/passwd\">" OPEN CLOSE;
	const char *xxe = "<!DOCTYPE x [<!ENTITY e SYSTEM "
			  "\"file:///etc/passwd\">]>" OPEN
			  "<Contents><Key>&e;</Key><Size>1</Size></Contents>"
			  CLOSE;
	char *code, *msg;

	CHECK(rejected(bomb, "document type"));
	CHECK(rejected(external, "document type"));
	CHECK(rejected(xxe, "document type"));
	/* an undeclared entity is an error, not an empty string */
	CHECK(rejected(OPEN "<Contents><Key>&lol;</Key><Size>1</Size>"
			    "</Contents>" CLOSE,
		       "malformed"));
	CHECK(aim_s3_parse_error(bomb, strlen(bomb), &code, &msg, NULL) == -EPROTO &&
	      code == NULL && msg == NULL);
}

static void huge_key(void)
{
	size_t n = 4200, i;
	char *xml = malloc(n + 256), *p;
	struct aim_s3_list l;
	char *cause = NULL;

	if (xml == NULL)
		return;
	/* 1024 bytes: the longest key S3 allows */
	p = xml + sprintf(xml, OPEN "<Contents><Key>");
	for (i = 0; i < 1024; i++)
		*p++ = 'k';
	strcpy(p, "</Key><Size>1</Size></Contents>" CLOSE);
	CHECK(parse(xml, &l, &cause) == 0 && l.n == 1 &&
	      strlen(l.objs[0].key) == 1024);
	aim_s3_list_release(&l);

	/* 1025 bytes */
	p = xml + sprintf(xml, OPEN "<Contents><Key>");
	for (i = 0; i < 1025; i++)
		*p++ = 'k';
	strcpy(p, "</Key><Size>1</Size></Contents>" CLOSE);
	CHECK(rejected(xml, "1024"));

	/* text over 4096 bytes in any element, even one we ignore */
	p = xml + sprintf(xml, OPEN "<Whatever>");
	for (i = 0; i < 4097; i++)
		*p++ = 'x';
	strcpy(p, "</Whatever>" CLOSE);
	CHECK(rejected(xml, "4096"));
	free(xml);

	CHECK(rejected(OPEN "<Contents><Key></Key><Size>1</Size></Contents>"
			    CLOSE,
		       "key empty"));
}

static void sizes(void)
{
	static const char *const bad[] = {
		"-1",	"1125899906842624", "99999999999999999999999",
		"1e9",	"0x10",		    "",
		"+5",	"1.5",		    "18446744073709551617",
		"1 2",
	};
	char xml[512];
	struct aim_s3_list l;
	char *cause = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(xml, sizeof(xml),
			 OPEN "<Contents><Key>k</Key><Size>%s</Size></Contents>"
			      CLOSE,
			 bad[i]);
		CHECK(rejected(xml, "Size"));
	}
	CHECK(parse(OPEN "<Contents><Key>k</Key><Size> 007\n</Size></Contents>"
			 CLOSE,
		    &l, &cause) == 0 &&
	      l.n == 1 && l.objs[0].size == 7);
	aim_s3_list_release(&l);
}

static void missing_fields(void)
{
	CHECK(rejected(OPEN "<Contents><Key>k</Key></Contents>" CLOSE,
		       "without Size"));
	CHECK(rejected(OPEN "<Contents><Size>1</Size></Contents>" CLOSE,
		       "without Key"));
	CHECK(rejected(OPEN "<Contents><Key>k</Key><Key>j</Key><Size>1</Size>"
			    "</Contents>" CLOSE,
		       "twice"));
	CHECK(rejected(OPEN "<Contents><Key>k<b/></Key><Size>1</Size>"
			    "</Contents>" CLOSE,
		       "inside Key"));
	CHECK(rejected(OPEN "<IsTruncated>true</IsTruncated>" CLOSE,
		       "NextContinuationToken"));
	CHECK(rejected(OPEN "<IsTruncated>yes</IsTruncated>" CLOSE,
		       "IsTruncated"));
	CHECK(rejected(OPEN "<CommonPrefixes></CommonPrefixes>" CLOSE,
		       "without Prefix"));
}

static void error_body(void)
{
	const char *sig =
		HEAD "<Error><Code>SignatureDoesNotMatch</Code><Message>The "
		"request signature we calculated does not match the signature "
		"you provided. Check your key and signing method.</Message>"
		"<AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId>"
		"<StringToSign>AWS4-HMAC-SHA256\n20130524T000000Z"
		"</StringToSign>"
		"<RequestId>4442587FB7D0A2F9</RequestId></Error>";
	const char *nsb =
		"<Error><Code>NoSuchBucket</Code><Message>The specified bucket "
		"does not exist</Message><BucketName>nope</BucketName></Error>";
	char *code, *msg, *cause = NULL;
	struct aim_s3_list l;

	CHECK(aim_s3_parse_error(sig, strlen(sig), &code, &msg, NULL) == 0);
	CHECK(code && strcmp(code, "SignatureDoesNotMatch") == 0);
	CHECK(msg && strncmp(msg, "The request signature we calculated", 35) ==
			     0);
	free(code);
	free(msg);
	CHECK(aim_s3_parse_error(nsb, strlen(nsb), &code, &msg, NULL) == 0);
	CHECK(code && strcmp(code, "NoSuchBucket") == 0);
	CHECK(msg && strcmp(msg, "The specified bucket does not exist") == 0);
	free(code);
	free(msg);
	/* the bucket's region, as S3 sends it for a wrongly scoped signature */
	const char *ahm =
		"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the "
		"region 'us-east-1' is wrong; expecting 'eu-west-3'</Message>"
		"<Region>eu-west-3</Region></Error>";
	char *region;
	CHECK(aim_s3_parse_error(ahm, strlen(ahm), &code, &msg, &region) == 0);
	CHECK(region && strcmp(region, "eu-west-3") == 0);
	free(code);
	free(msg);
	free(region);
	CHECK(aim_s3_parse_error(nsb, strlen(nsb), &code, &msg, &region) == 0 &&
	      region == NULL);
	free(code);
	free(msg);
	CHECK(aim_s3_parse_error("<Error/>", 8, &code, &msg, NULL) == 0 &&
	      code == NULL && msg == NULL);
	CHECK(aim_s3_parse_error(OPEN CLOSE, strlen(OPEN CLOSE), &code, &msg, NULL) ==
		      -EPROTO &&
	      code == NULL);
	/* an error body is not a listing */
	CHECK(parse(nsb, &l, &cause) == -EPROTO && cause &&
	      strstr(cause, "ListBucketResult"));
	free(cause);
}

static void garbage(void)
{
	struct aim_s3_list l;
	char *cause = NULL;
	char *code, *msg;

	CHECK(rejected("", "malformed"));
	CHECK(rejected("not xml at all", "malformed"));
	CHECK(rejected("{\"json\": true}", "malformed"));
	CHECK(rejected(OPEN "<Contents><Key>k</Key>", "malformed"));
	CHECK(rejected(OPEN CLOSE "<junk/>", "malformed"));
	CHECK(rejected("<ListAllMyBucketsResult/>", "ListBucketResult"));
	CHECK(rejected("<html><body>502 Bad Gateway</body></html>",
		       "ListBucketResult"));
	CHECK(aim_s3_parse_list(NULL, 0, &l, &cause) == -EPROTO && cause);
	free(cause);
	CHECK(aim_s3_parse_error("garbage", 7, &code, &msg, NULL) == -EPROTO &&
	      code == NULL && msg == NULL);
	/* a NUL inside the buffer is not the end of it */
	CHECK(aim_s3_parse_list(OPEN "\0" CLOSE, sizeof(OPEN CLOSE), &l,
				&cause) == -EPROTO);
	free(cause);
}

/* 100000 objects pass, one more does not */
static void too_many(void)
{
	static const char obj[] = "<Contents><Key>k</Key><Size>1</Size>"
				  "</Contents>";
	size_t n = 100001, olen = sizeof(obj) - 1;
	size_t cap = strlen(OPEN CLOSE) + n * olen + 1;
	char *xml = malloc(cap), *p;
	struct aim_s3_list l;
	char *cause = NULL;

	if (xml == NULL)
		return;
	p = xml + sprintf(xml, OPEN);
	for (size_t i = 0; i < n - 1; i++, p += olen)
		memcpy(p, obj, olen);
	strcpy(p, CLOSE);
	CHECK(parse(xml, &l, &cause) == 0 && l.n == 100000);
	aim_s3_list_release(&l);
	memcpy(p, obj, olen);
	strcpy(p + olen, CLOSE);
	CHECK(rejected(xml, "100000"));
	free(xml);
}

const struct unit_test s3xml_tests[] = {
	{ "s3xml: normal page", normal_page },
	{ "s3xml: escaped and url-encoded keys", escaped_keys },
	{ "s3xml: DOCTYPE and entity bomb refused", entity_bomb },
	{ "s3xml: huge key and text refused", huge_key },
	{ "s3xml: bad sizes refused", sizes },
	{ "s3xml: missing and repeated fields refused", missing_fields },
	{ "s3xml: error bodies", error_body },
	{ "s3xml: garbage refused", garbage },
	{ "s3xml: object count cap", too_many },
	{ NULL, NULL },
};
