/*
 * test-reconciler.c - unit tests of the reconciler's pure functions: the
 * Kubernetes quantity parser and the PVC sizing rule (model size plus
 * headroom, rounded up to a whole GiB), across GiB boundaries; the
 * kubeconfig reader (its YAML subset, base64, the choice of context); the
 * status helpers (state aggregation, conditions keeping their
 * lastTransitionTime, RFC 3339 times, when a lastUsed is worth a write)
 * and the departed-node test. A program of its own
 * with the closing line "N passed, N failed".
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tests/unit/unit.h"
#include "tools/reconciler/kube.h"
#include "tools/reconciler/kubeconfig.h"
#include "tools/reconciler/quantity.h"
#include "tools/reconciler/rec.h"

int unit_failed;

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)

static uint64_t q(const char *s)
{
	uint64_t v = 0;

	if (aim_quantity_parse(s, &v) != 0)
		return UINT64_MAX;
	return v;
}

static void test_quantity(void)
{
	CHECK(q("0") == 0);
	CHECK(q("123") == 123);
	CHECK(q("+5") == 5);
	CHECK(q("1Ki") == 1024);
	CHECK(q("930Mi") == 930 * MiB);
	CHECK(q("16Gi") == 16 * GiB);
	CHECK(q("2Ti") == 2048 * GiB);
	CHECK(q("1Ei") == 1ULL << 60);
	CHECK(q("1k") == 1000);
	CHECK(q("500M") == 500000000);
	CHECK(q("10G") == 10000000000ULL);
	CHECK(q("1T") == 1000000000000ULL);
	CHECK(q("1.5Gi") == 3 * GiB / 2);
	CHECK(q("1.1Gi") == 1181116007ULL); /* 1181116006.4, rounded up */
	CHECK(q("0.5") == 1);
	CHECK(q("100m") == 1); /* 0.1 byte is a byte */
	CHECK(q("1e9") == 1000000000);
	CHECK(q("5E3") == 5000);
	CHECK(q("1.5e3") == 1500);
	CHECK(q("12e-1") == 2);
	CHECK(q(".5Ki") == 512);
	uint64_t v;
	CHECK(aim_quantity_parse("", &v) == -EINVAL);
	CHECK(aim_quantity_parse("Gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("-1Gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1GB", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1 Gi", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1e", &v) == -EINVAL);
	CHECK(aim_quantity_parse("1..2", &v) == -EINVAL);
	CHECK(aim_quantity_parse(NULL, &v) == -EINVAL);
	CHECK(aim_quantity_parse("16Ei", &v) == -ERANGE);
	CHECK(aim_quantity_parse("18446744073709551615", &v) == 0 &&
	      v == UINT64_MAX);
	CHECK(aim_quantity_parse("18446744073709551616", &v) == -ERANGE);
	CHECK(aim_quantity_parse("1e30", &v) == -ERANGE);
}

static void test_pvc_gib(void)
{
	/* 10%: the boundary of 1 GiB is 1 GiB / 1.1 = 976128930.9 bytes */
	CHECK(aim_pvc_gib(0, 10) == 0);
	CHECK(aim_pvc_gib(1, 10) == 1);
	CHECK(aim_pvc_gib(930 * MiB, 10) == 1); /* 1023 MiB */
	CHECK(aim_pvc_gib(931 * MiB, 10) == 2); /* 1024.1 MiB */
	CHECK(aim_pvc_gib(976128930, 10) == 1); /* 1073741823 */
	CHECK(aim_pvc_gib(976128931, 10) == 2); /* 1073741824.1 */
	CHECK(aim_pvc_gib(GiB, 10) == 2);
	CHECK(aim_pvc_gib(1952257861, 10) == 2); /* 2147483647.1 */
	CHECK(aim_pvc_gib(1952257862, 10) == 3); /* 2147483648.2 */
	CHECK(aim_pvc_gib(10 * GiB, 10) == 11);
	CHECK(aim_pvc_gib(10000000000ULL, 10) == 11); /* 10.24 GiB */
	CHECK(aim_pvc_gib(100 * GiB, 10) == 110);
	/* exact multiples need no extra GiB */
	CHECK(aim_pvc_gib(10 * GiB, 0) == 10);
	CHECK(aim_pvc_gib(10 * GiB + 1, 0) == 11);
	CHECK(aim_pvc_gib(4 * GiB, 25) == 5);
	CHECK(aim_pvc_gib(800 * MiB, 25) == 1);
	CHECK(aim_pvc_gib(820 * MiB, 25) == 2);
	CHECK(aim_pvc_gib(GiB, 100) == 2);
	/* no overflow near the top of the range */
	CHECK(aim_pvc_gib(UINT64_MAX, 10) == 18897856103ULL);
	char buf[32];
	CHECK(strcmp(aim_quantity_gib(110, buf, sizeof(buf)), "110Gi") == 0);
}

/* the string at a JSON pointer-ish path "a/0/b" of doc, or NULL */
static const char *at(json_t *doc, const char *path)
{
	char buf[256], *save = NULL, *part;
	json_t *x = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	for (part = strtok_r(buf, "/", &save); part && x;
	     part = strtok_r(NULL, "/", &save))
		x = json_is_array(x) ? json_array_get(x, strtoul(part, NULL, 10))
				     : json_object_get(x, part);
	return json_string_value(x);
}

static json_t *yaml(const char *text)
{
	json_t *doc = NULL;
	char *cause = NULL;

	if (aim_kubeconfig_parse(text, &doc, &cause) != 0) {
		fprintf(stderr, "  parse: %s\n", cause ? cause : "?");
		free(cause);
		return NULL;
	}
	return doc;
}

/* the error message for text, "" when it parses (static buffer) */
static const char *yaml_err(const char *text)
{
	static char msg[256];
	json_t *doc = NULL;
	char *cause = NULL;

	msg[0] = '\0';
	if (aim_kubeconfig_parse(text, &doc, &cause) != 0)
		snprintf(msg, sizeof(msg), "%s", cause ? cause : "?");
	free(cause);
	json_decref(doc);
	return msg;
}

/* as kubectl config view --raw writes it, with comments and quoting added */
static const char *two_contexts =
	"# two clusters; the current one is not the first\n"
	"apiVersion: v1\n"
	"current-context: \"fake\"   # quoted\n"
	"clusters:\n"
	"- cluster:\n"
	"    server: https://10.0.0.1:6443\n"
	"    certificate-authority: /etc/decoy/ca.crt\n"
	"  name: decoy\n"
	"- name: fake\n"
	"  cluster:\n"
	"    certificate-authority-data: aGVsbG8gd29ybGQ=\n"
	"    server: 'https://127.0.0.1:8443'\n"
	"contexts:\n"
	"- context:\n"
	"    cluster: decoy\n"
	"    user: decoy\n"
	"    namespace: default\n"
	"  name: decoy\n"
	"- context: {cluster: fake, user: tester, namespace: kube-system}\n"
	"  name: fake\n"
	"- name: bare\n"
	"  context:\n"
	"    cluster: fake\n"
	"    user: filer\n"
	"kind: Config\n"
	"preferences: {}\n"
	"users:\n"
	"- name: decoy\n"
	"  user:\n"
	"    token: decoy-token\n"
	"- name: tester\n"
	"  user:\n"
	"    token: \"s3cr#t\\u0021\"\n"
	"- name: filer\n"
	"  user:\n"
	"    tokenFile: secrets/token\n";

static void test_kubeconfig_yaml(void)
{
	json_t *doc = yaml(two_contexts);

	CHECK(doc != NULL);
	CHECK(at(doc, "current-context") &&
	      !strcmp(at(doc, "current-context"), "fake"));
	CHECK(at(doc, "clusters/0/name") &&
	      !strcmp(at(doc, "clusters/0/name"), "decoy"));
	CHECK(at(doc, "clusters/1/cluster/server") &&
	      !strcmp(at(doc, "clusters/1/cluster/server"),
		      "https://127.0.0.1:8443"));
	CHECK(at(doc, "contexts/1/context/namespace") &&
	      !strcmp(at(doc, "contexts/1/context/namespace"), "kube-system"));
	CHECK(at(doc, "users/1/user/token") &&
	      !strcmp(at(doc, "users/1/user/token"), "s3cr#t!"));
	CHECK(json_is_object(json_object_get(doc, "preferences")) &&
	      json_object_size(json_object_get(doc, "preferences")) == 0);
	CHECK(json_array_size(json_object_get(doc, "users")) == 3);
	json_decref(doc);

	/* sequences of scalars, nested sequences, block scalars, nulls */
	doc = yaml("---\n"
		   "a:\n"
		   "  - x\n"
		   "  - 'it''s'\n"
		   "  - - deep\n"
		   "b: [1, \"two\", {c: d}]\n"
		   "pem: |\n"
		   "  line one\n"
		   "\n"
		   "  line #two\n"
		   "folded: >-\n"
		   "  one\n"
		   "  two\n"
		   "empty:\n"
		   "tilde: ~\n"
		   "url: http://h:80/p#frag\n"
		   "\"quoted key\": v\r\n");
	CHECK(doc != NULL);
	CHECK(at(doc, "a/0") && !strcmp(at(doc, "a/0"), "x"));
	CHECK(at(doc, "a/1") && !strcmp(at(doc, "a/1"), "it's"));
	CHECK(at(doc, "a/2/0") && !strcmp(at(doc, "a/2/0"), "deep"));
	CHECK(at(doc, "b/1") && !strcmp(at(doc, "b/1"), "two"));
	CHECK(at(doc, "b/2/c") && !strcmp(at(doc, "b/2/c"), "d"));
	CHECK(at(doc, "pem") &&
	      !strcmp(at(doc, "pem"), "line one\n\nline #two\n"));
	CHECK(at(doc, "folded") && !strcmp(at(doc, "folded"), "one two"));
	CHECK(json_is_null(json_object_get(doc, "empty")));
	CHECK(json_is_null(json_object_get(doc, "tilde")));
	CHECK(at(doc, "url") && !strcmp(at(doc, "url"), "http://h:80/p#frag"));
	CHECK(at(doc, "quoted key") && !strcmp(at(doc, "quoted key"), "v"));
	json_decref(doc);

	/* JSON is a kubeconfig too */
	doc = yaml("{\"current-context\": \"x\", \"clusters\": []}");
	CHECK(doc && at(doc, "current-context") &&
	      !strcmp(at(doc, "current-context"), "x"));
	json_decref(doc);

	/* what it refuses, with the line */
	CHECK(strstr(yaml_err("a: 1\n  b: 2\n"), "line 2"));
	CHECK(strstr(yaml_err("a:\n\tb: 2\n"), "tab"));
	CHECK(strstr(yaml_err("a: &x 1\n"), "anchors"));
	CHECK(strstr(yaml_err("a: \"open\n"), "line 1"));
	CHECK(strstr(yaml_err("a: 1\n---\nb: 2\n"), "more than one"));
	CHECK(strstr(yaml_err("- a\n- b\n"), "not a mapping"));
	CHECK(strstr(yaml_err("a: [1, 2\n"), "line 1"));
	CHECK(strstr(yaml_err("just text\n"), "not a mapping"));
	char deep[400] = "a: ";
	for (int i = 0; i < 100; i++)
		strcat(deep, "[");
	CHECK(strstr(yaml_err(deep), "deeply"));
}

static void test_base64(void)
{
	unsigned char *out;
	size_t len;

	CHECK(aim_base64_decode("aGVsbG8gd29ybGQ=", &out, &len) == 0 &&
	      len == 11 && !memcmp(out, "hello world", 11));
	free(out);
	CHECK(aim_base64_decode("aGVs\nbG8=\n", &out, &len) == 0 && len == 5 &&
	      !memcmp(out, "hello", 5));
	free(out);
	CHECK(aim_base64_decode("aGVsbG8", &out, &len) == 0 && len == 5);
	free(out);
	CHECK(aim_base64_decode("", &out, &len) == 0 && len == 0);
	free(out);
	CHECK(aim_base64_decode("a$b!", &out, &len) == -EINVAL);
}

/* select context (NULL: current) of text; 0 or the error */
static int pick(const char *text, const char *context,
		struct aim_kube_conf *c)
{
	json_t *doc = yaml(text);
	char *cause = NULL;
	int rc;

	memset(c, 0, sizeof(*c));
	if (doc == NULL)
		return -999;
	rc = aim_kubeconfig_select(doc, "/kc", context, c, &cause);
	free(cause);
	json_decref(doc);
	return rc;
}

static void test_kubeconfig_select(void)
{
	struct aim_kube_conf c;

	/* current-context, not the first of each list */
	CHECK(pick(two_contexts, NULL, &c) == 0);
	CHECK(c.server && !strcmp(c.server, "https://127.0.0.1:8443"));
	CHECK(c.ca_data && c.ca_data_len == 11 &&
	      !memcmp(c.ca_data, "hello world", 11) && c.ca_file == NULL);
	CHECK(c.token && !strcmp(c.token, "s3cr#t!"));
	CHECK(c.namespace && !strcmp(c.namespace, "kube-system"));
	CHECK(c.context && !strcmp(c.context, "fake"));
	aim_kube_conf_release(&c);

	/* another context by name: a relative tokenFile, no namespace */
	CHECK(pick(two_contexts, "bare", &c) == 0);
	CHECK(c.token == NULL && c.token_file &&
	      !strcmp(c.token_file, "/kc/secrets/token"));
	CHECK(c.namespace == NULL);
	aim_kube_conf_release(&c);
	CHECK(pick(two_contexts, "decoy", &c) == 0);
	CHECK(c.server && !strcmp(c.server, "https://10.0.0.1:6443"));
	CHECK(c.ca_file && !strcmp(c.ca_file, "/etc/decoy/ca.crt"));
	CHECK(c.token && !strcmp(c.token, "decoy-token"));
	aim_kube_conf_release(&c);
	CHECK(pick(two_contexts, "nope", &c) == -ENOENT);
	aim_kube_conf_release(&c);

	/* two contexts, none current: ambiguous */
	const char *amb = "contexts:\n"
			  "- {name: a, context: {cluster: x}}\n"
			  "- {name: b, context: {cluster: x}}\n"
			  "clusters:\n"
			  "- {name: x, cluster: {server: 'https://x'}}\n";
	CHECK(pick(amb, NULL, &c) == -EINVAL);
	aim_kube_conf_release(&c);
	CHECK(pick(amb, "b", &c) == 0 && c.server &&
	      !strcmp(c.server, "https://x") && c.token == NULL);
	aim_kube_conf_release(&c);

	/* no contexts: a lone cluster and user will do, two clusters not */
	CHECK(pick("clusters:\n"
		   "- name: only\n"
		   "  cluster:\n"
		   "    server: https://only\n"
		   "users:\n"
		   "- name: u\n"
		   "  user: {token: t}\n",
		   NULL, &c) == 0 &&
	      c.server && !strcmp(c.server, "https://only") && c.token &&
	      !strcmp(c.token, "t"));
	aim_kube_conf_release(&c);
	CHECK(pick("clusters:\n"
		   "- {name: a, cluster: {server: 'https://a'}}\n"
		   "- {name: b, cluster: {server: 'https://b'}}\n",
		   NULL, &c) == -EINVAL);
	aim_kube_conf_release(&c);
	/* a context whose cluster is missing, a cluster without server */
	CHECK(pick("current-context: a\n"
		   "contexts:\n"
		   "- {name: a, context: {cluster: gone}}\n",
		   NULL, &c) == -EINVAL);
	aim_kube_conf_release(&c);
	CHECK(pick("clusters:\n- {name: a, cluster: {}}\n", NULL, &c) ==
	      -EINVAL);
	aim_kube_conf_release(&c);
	CHECK(pick("clusters:\n"
		   "- {name: a, cluster: {server: 'https://a', "
		   "certificate-authority-data: '%%%'}}\n",
		   NULL, &c) == -EINVAL);
	aim_kube_conf_release(&c);
}

static void test_state_merge(void)
{
	const char *all[] = {"Pending", "Progressing", "Available", "Failed"};
#define M(a, b) aim_state_merge(a, b)
#define IS(x, want) ((x) && !strcmp((x), (want)))
	CHECK(M(NULL, NULL) == NULL);
	CHECK(IS(M(NULL, "Pending"), "Pending"));
	CHECK(IS(M("Available", NULL), "Available"));
	CHECK(IS(M("Available", "Available"), "Available"));
	CHECK(IS(M("Pending", "Pending"), "Pending"));
	/* some done, some not: on its way */
	CHECK(IS(M("Available", "Pending"), "Progressing"));
	CHECK(IS(M("Pending", "Available"), "Progressing"));
	CHECK(IS(M("Pending", "Progressing"), "Progressing"));
	CHECK(IS(M("Available", "Progressing"), "Progressing"));
	/* one failure fails the whole, in either order */
	for (size_t i = 0; i < 4; i++) {
		CHECK(IS(M("Failed", all[i]), "Failed"));
		CHECK(IS(M(all[i], "Failed"), "Failed"));
		/* symmetric */
		for (size_t j = 0; j < 4; j++)
			CHECK(IS(M(all[i], all[j]), M(all[j], all[i])));
	}
	/* a fold over several, as the aggregates do */
	const char *agg = NULL;
	const char *nodes[] = {"Available", "Available", "Pending"};
	for (size_t i = 0; i < 3; i++)
		agg = M(agg, nodes[i]);
	CHECK(IS(agg, "Progressing"));
#undef M
#undef IS
}

/* the condition of type in conds (borrowed), or NULL */
static json_t *cond(json_t *conds, const char *type)
{
	json_t *c;
	size_t i;

	json_array_foreach(conds, i, c) if (!strcmp(
		json_string_value(json_object_get(c, "type")), type)) return c;
	return NULL;
}

static const char *cstr(json_t *c, const char *k)
{
	const char *s = json_string_value(json_object_get(c, k));

	return s ? s : "";
}

static void test_conditions(void)
{
	const char *old = "2001-02-03T04:05:06Z";
	json_t *conds = json_pack(
		"[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s}]", "type", "Ready",
		"status", "False", "reason", "Downloading", "message", "1 of 2",
		"lastTransitionTime", old, "type", "StorageReady", "status",
		"True", "lastTransitionTime", old);
	json_t *out, *c;

	/* same status, new reason and message: the time stays */
	out = aim_conditions_set(conds, "Ready", 0, "Downloading", "2 of 3", 4);
	c = cond(out, "Ready");
	CHECK(c && !strcmp(cstr(c, "lastTransitionTime"), old));
	CHECK(c && !strcmp(cstr(c, "message"), "2 of 3"));
	CHECK(c && json_integer_value(json_object_get(c, "observedGeneration")) ==
			   4);
	CHECK(json_array_size(out) == 2);
	/* the other condition is untouched */
	c = cond(out, "StorageReady");
	CHECK(c && !strcmp(cstr(c, "status"), "True") &&
	      !strcmp(cstr(c, "lastTransitionTime"), old));
	/* the input is not changed */
	CHECK(!strcmp(cstr(cond(conds, "Ready"), "message"), "1 of 2"));
	json_decref(out);

	/* a transition: a new time */
	out = aim_conditions_set(conds, "Ready", 1, "Available", "done", 4);
	c = cond(out, "Ready");
	CHECK(c && !strcmp(cstr(c, "status"), "True"));
	CHECK(c && strcmp(cstr(c, "lastTransitionTime"), old) != 0 &&
	      strlen(cstr(c, "lastTransitionTime")) == 20);
	json_decref(out);

	/* Unknown is a status of its own */
	out = aim_conditions_set(conds, "StorageReady", -1, "PhaseUnknown", "",
				 1);
	c = cond(out, "StorageReady");
	CHECK(c && !strcmp(cstr(c, "status"), "Unknown") &&
	      strcmp(cstr(c, "lastTransitionTime"), old) != 0);
	json_decref(out);

	/* a new condition, and none before */
	out = aim_conditions_set(NULL, "Ready", 0, "Pending", NULL, 1);
	CHECK(json_array_size(out) == 1 &&
	      !strcmp(cstr(cond(out, "Ready"), "message"), ""));
	json_decref(out);
	json_decref(conds);
}

static void test_node_known(void)
{
	const char *longname = "ip-10-0-0-1.eu-west-1.compute.internal."
			       "a-very-long-suffix-to-pass-63";
	json_t *nodes = json_pack("{s:b, s:b}", "node-a", 1, longname, 1);
	char key[17];

	CHECK(strlen(longname) > 63);
	aim_cache_key(longname, key);
	CHECK(aim_node_known(nodes, "node-a"));
	CHECK(!aim_node_known(nodes, "node-b"));
	/* a long name stands in its finalizer as its cache key */
	CHECK(aim_node_known(nodes, key));
	CHECK(!aim_node_known(nodes, "0123456789abcdef"));
	CHECK(!aim_node_known(NULL, "node-a"));
	json_decref(nodes);
}

static void test_rfc3339(void)
{
	char buf[32];
	int64_t t = -1;

	CHECK(!strcmp(aim_rfc3339_at(0, buf), "1970-01-01T00:00:00Z"));
	CHECK(!strcmp(aim_rfc3339_at(1796115600, buf), "2026-12-01T09:00:00Z"));
	CHECK(aim_rfc3339_parse("2026-12-01T09:00:00Z", &t) == 0 &&
	      t == 1796115600);
	/* what other writers may put there: a fraction, an offset */
	CHECK(aim_rfc3339_parse("2026-12-01T09:00:00.123456Z", &t) == 0 &&
	      t == 1796115600);
	CHECK(aim_rfc3339_parse("2026-12-01T10:30:00+01:30", &t) == 0 &&
	      t == 1796115600);
	CHECK(aim_rfc3339_parse("2026-12-01T08:00:00-01:00", &t) == 0 &&
	      t == 1796115600);
	/* a round trip of now */
	CHECK(aim_rfc3339_parse(aim_rfc3339(buf), &t) == 0 && t > 1700000000);
	t = 7;
	CHECK(aim_rfc3339_parse(NULL, &t) == -EINVAL && t == 7);
	CHECK(aim_rfc3339_parse("", &t) == -EINVAL);
	CHECK(aim_rfc3339_parse("2026-12-01", &t) == -EINVAL);
	CHECK(aim_rfc3339_parse("2026-12-01T09:00:00", &t) == -EINVAL);
	CHECK(aim_rfc3339_parse("2026-12-01T09:00:00Zjunk", &t) == -EINVAL);
	CHECK(aim_rfc3339_parse("2026-13-01T09:00:00Z", &t) == -EINVAL);
	CHECK(aim_rfc3339_parse("2026-12-01T24:00:00Z", &t) == -EINVAL);
	CHECK(aim_rfc3339_parse("26-12-01T09:00:00Z", &t) == -EINVAL);
}

static void test_last_used_due(void)
{
	/* the first use is written; none is nothing to write */
	CHECK(aim_last_used_due(0, 1796115600));
	CHECK(!aim_last_used_due(0, 0));
	CHECK(!aim_last_used_due(1796115600, 0));
	/* within the minute: not worth a write; a minute on: written */
	CHECK(!aim_last_used_due(1796115600, 1796115600));
	CHECK(!aim_last_used_due(1796115600, 1796115659));
	CHECK(aim_last_used_due(1796115600, 1796115660));
	/* never back */
	CHECK(!aim_last_used_due(1796115600, 1796115000));
}

static const struct unit_test tests[] = {
	{"rfc3339", test_rfc3339},
	{"last_used_due", test_last_used_due},
	{"state_merge", test_state_merge},
	{"conditions", test_conditions},
	{"node_known", test_node_known},
	{"quantity", test_quantity},
	{"pvc_gib", test_pvc_gib},
	{"kubeconfig_yaml", test_kubeconfig_yaml},
	{"base64", test_base64},
	{"kubeconfig_select", test_kubeconfig_select},
};

int main(void)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		unit_failed = 0;
		tests[i].fn();
		printf("%s - reconciler/%s\n", unit_failed ? "FAIL" : "ok",
		       tests[i].name);
		if (unit_failed)
			failed++;
		else
			passed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
