/*
 * sigv4.c - see sigv4.h.
 *
 * Every input is checked before a byte is signed: what goes into a header
 * line (host, token, extra header values) may not carry CR, LF or other
 * control characters, so a signed request can never smuggle a header, and
 * what goes into the credential scope may not carry '/' or ',', so the
 * Authorization line parses the way it was meant to.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sigv4.h"
#include "util.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define EMPTY_SHA256                                                           \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* AWS's secrets are 40 bytes; be generous with other servers */
#define SECRET_MAX 1024

/* a growing string; oom sticks, so callers check once at the end */
struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (n >= SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_adds(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static int unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

static void sb_encode(struct sb *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[3];

		if (unreserved(c) || (keep_slash && c == '/')) {
			sb_add(b, (const char *)&c, 1);
			continue;
		}
		esc[0] = '%';
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		sb_add(b, esc, 3);
	}
}

/* the string, or NULL (and nothing to free) if any append failed */
static char *sb_take(struct sb *b)
{
	char *p;

	if (b->oom) {
		free(b->p);
		return NULL;
	}
	p = b->p ? b->p : strdup("");
	b->p = NULL;
	return p;
}

char *aim_sigv4_encode(const char *s, int keep_slash)
{
	struct sb b = { 0 };

	sb_encode(&b, s, keep_slash);
	return sb_take(&b);
}

void aim_sigv4_out_release(struct aim_sigv4_out *out)
{
	free(out->path);
	free(out->query);
	free(out->authorization);
	free(out->amz_date);
	free(out->content_sha);
	free(out->token);
	free(out->canonical_request);
	free(out->string_to_sign);
	memset(out, 0, sizeof(*out));
}

/* --- input checks -------------------------------------------------------- */

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* printable ASCII without space: host, token */
static int check_visible(const char *s)
{
	if (s == NULL || *s == '\0')
		return -EINVAL;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return -EINVAL;
	return 0;
}

/* a piece of the credential scope or the access key: visible, no '/' or ',' */
static int check_scope_part(const char *s)
{
	if (check_visible(s) < 0 || strpbrk(s, "/,;=") != NULL)
		return -EINVAL;
	return 0;
}

static int is_tchar(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int check_method(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 16)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 'A' || s[i] > 'Z')
			return -EINVAL;
	return 0;
}

static int check_payload_hash(const char *s)
{
	if (s == NULL || strcmp(s, "UNSIGNED-PAYLOAD") == 0)
		return 0;
	if (strlen(s) != 64)
		return -EINVAL;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return -EINVAL;
	return 0;
}

static int check_req(const struct aim_sigv4_req *req,
		     const struct aim_sigv4_creds *creds)
{
	size_t sl;

	if (check_method(req->method) < 0 || check_visible(req->host) < 0 ||
	    req->path == NULL || req->path[0] != '/' ||
	    check_scope_part(req->region) < 0 ||
	    check_scope_part(req->service) < 0 ||
	    check_payload_hash(req->payload_hash) < 0)
		return -EINVAL;
	if ((req->nparams && req->params == NULL) ||
	    (req->nheaders && req->headers == NULL))
		return -EINVAL;
	if (check_scope_part(creds->access_key) < 0 ||
	    creds->secret_key == NULL)
		return -EINVAL;
	sl = strlen(creds->secret_key);
	if (sl == 0 || sl > SECRET_MAX)
		return -EINVAL;
	if (creds->session_token && check_visible(creds->session_token) < 0)
		return -EINVAL;
	return 0;
}

/* "20130524T000000Z" into buf */
static int amz_date(time_t now, char buf[32])
{
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900)
		return -EINVAL;
	snprintf(buf, 32, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/* --- canonical query ------------------------------------------------------ */

struct qp {
	char *name, *value; /* encoded */
};

static int qp_cmp(const void *a, const void *b)
{
	const struct qp *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->value, y->value);
}

/* params sorted by encoded name, then encoded value: "a=1&b=&c=x%20y" */
static int canonical_query(const struct aim_sigv4_req *req, char **out)
{
	struct qp *qs;
	struct sb b = { 0 };
	size_t i;
	int rc = 0;

	if (req->nparams == 0)
		return (*out = strdup("")) ? 0 : -ENOMEM;
	qs = calloc(req->nparams, sizeof(*qs));
	if (qs == NULL)
		return -ENOMEM;
	for (i = 0; i < req->nparams; i++) {
		const struct aim_sigv4_param *p = &req->params[i];

		if (p->name == NULL || p->name[0] == '\0') {
			rc = -EINVAL;
			goto out;
		}
		qs[i].name = aim_sigv4_encode(p->name, 0);
		qs[i].value = aim_sigv4_encode(p->value ? p->value : "", 0);
		if (qs[i].name == NULL || qs[i].value == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	qsort(qs, req->nparams, sizeof(*qs), qp_cmp);
	for (i = 0; i < req->nparams; i++) {
		if (i > 0)
			sb_add(&b, "&", 1);
		sb_adds(&b, qs[i].name);
		sb_add(&b, "=", 1);
		sb_adds(&b, qs[i].value);
	}
	*out = sb_take(&b);
	if (*out == NULL)
		rc = -ENOMEM;
out:
	for (i = 0; i < req->nparams; i++) {
		free(qs[i].name);
		free(qs[i].value);
	}
	free(qs);
	return rc;
}

/* --- canonical headers ---------------------------------------------------- */

/* a canonical header: lower-case name, trimmed value */
struct hdr {
	const char *name, *value;
	char *buf; /* owns name and value of an extra header */
};

static int hdr_cmp(const void *a, const void *b)
{
	return strcmp(((const struct hdr *)a)->name,
		      ((const struct hdr *)b)->name);
}

static int reserved_name(const char *name)
{
	static const char *const made_here[] = {
		"host", "authorization", "x-amz-date", "x-amz-content-sha256",
		"x-amz-security-token",
	};

	for (size_t i = 0; i < AIM_ARRAY_SIZE(made_here); i++)
		if (strcasecmp(name, made_here[i]) == 0)
			return 1;
	return 0;
}

/*
 * Lower-case the name and trim the value, turning each run of spaces and
 * tabs into one space, into one buffer "name\0value".
 */
static int extra_header(const struct aim_sigv4_header *h, struct hdr *out)
{
	size_t nl, vl, i, o;
	const char *v;
	char *buf;
	int space = 0;

	if (h->name == NULL || h->value == NULL)
		return -EINVAL;
	nl = strlen(h->name);
	if (nl == 0 || reserved_name(h->name))
		return -EINVAL;
	for (i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)h->name[i]))
			return -EINVAL;
	for (v = h->value; *v; v++)
		if (*v != '\t' && is_ctl((unsigned char)*v))
			return -EINVAL;
	vl = (size_t)(v - h->value);
	buf = malloc(nl + vl + 2);
	if (buf == NULL)
		return -ENOMEM;
	for (i = 0; i < nl; i++) {
		char c = h->name[i];
		buf[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	buf[nl] = '\0';
	o = nl + 1;
	for (v = h->value; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = 1;
			continue;
		}
		if (space && o > nl + 1)
			buf[o++] = ' ';
		space = 0;
		buf[o++] = *v;
	}
	buf[o] = '\0';
	out->name = buf;
	out->value = buf + nl + 1;
	out->buf = buf;
	return 0;
}

static void hdrs_free(struct hdr *hs, size_t n)
{
	if (hs == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(hs[i].buf);
	free(hs);
}

/* every signed header, sorted by name; *np entries */
static int canonical_headers(const struct aim_sigv4_req *req,
			     const struct aim_sigv4_creds *creds,
			     const char *date, const char *payload,
			     struct hdr **out, size_t *np)
{
	size_t fixed = creds->session_token ? 4 : 3, n, i;
	struct hdr *hs;
	int rc;

	if (req->nheaders > 1024)
		return -EINVAL;
	n = fixed + req->nheaders;
	hs = calloc(n, sizeof(*hs));
	if (hs == NULL)
		return -ENOMEM;
	hs[0].name = "host";
	hs[0].value = req->host;
	hs[1].name = "x-amz-content-sha256";
	hs[1].value = payload;
	hs[2].name = "x-amz-date";
	hs[2].value = date;
	if (creds->session_token) {
		hs[3].name = "x-amz-security-token";
		hs[3].value = creds->session_token;
	}
	for (i = 0; i < req->nheaders; i++) {
		rc = extra_header(&req->headers[i], &hs[fixed + i]);
		if (rc < 0) {
			hdrs_free(hs, n);
			return rc;
		}
	}
	qsort(hs, n, sizeof(*hs), hdr_cmp);
	for (i = 1; i < n; i++) {
		if (strcmp(hs[i - 1].name, hs[i].name) == 0) {
			hdrs_free(hs, n);
			return -EINVAL;
		}
	}
	*out = hs;
	*np = n;
	return 0;
}

/* --- signing -------------------------------------------------------------- */

static int hmac(const unsigned char *key, size_t keylen, const void *msg,
		size_t n, unsigned char out[32])
{
	unsigned int len = 32;

	if (HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) == NULL ||
	    len != 32)
		return -ENOMEM;
	return 0;
}

/*
 * HMAC chain from "AWS4" + secret through date, region, service and
 * "aws4_request", then over the string to sign. Every key is wiped here.
 */
static int signature(const struct aim_sigv4_creds *creds, const char *day,
		     const char *region, const char *service, const char *sts,
		     char hex[65])
{
	unsigned char ksecret[4 + SECRET_MAX], k1[32], k2[32], sig[32];
	size_t sl = strlen(creds->secret_key);
	int rc;

	memcpy(ksecret, "AWS4", 4);
	memcpy(ksecret + 4, creds->secret_key, sl);
	if ((rc = hmac(ksecret, 4 + sl, day, 8, k1)) < 0 ||
	    (rc = hmac(k1, 32, region, strlen(region), k2)) < 0 ||
	    (rc = hmac(k2, 32, service, strlen(service), k1)) < 0 ||
	    (rc = hmac(k1, 32, "aws4_request", 12, k2)) < 0 ||
	    (rc = hmac(k2, 32, sts, strlen(sts), sig)) < 0)
		goto out;
	aim_hex(sig, 32, hex);
out:
	OPENSSL_cleanse(ksecret, sizeof(ksecret));
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	return rc;
}

static int line(char **out, const char *name, const char *value)
{
	if (asprintf(out, "%s: %s", name, value) < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int aim_sigv4_sign(const struct aim_sigv4_req *req,
		   const struct aim_sigv4_creds *creds,
		   struct aim_sigv4_out *out)
{
	const char *payload = req->payload_hash ? req->payload_hash
						: EMPTY_SHA256;
	struct hdr *hs = NULL;
	size_t nh = 0, i;
	struct sb cr = { 0 }, sh = { 0 }, sts = { 0 };
	unsigned char md[32];
	char date[32], day[9], crhash[65];
	char *scope = NULL, *signed_headers = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = check_req(req, creds)) < 0 ||
	    (rc = amz_date(req->now, date)) < 0)
		return rc;
	memcpy(day, date, 8);
	day[8] = '\0';

	out->path = aim_sigv4_encode(req->path, 1);
	if (out->path == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = canonical_query(req, &out->query)) < 0 ||
	    (rc = canonical_headers(req, creds, date, payload, &hs, &nh)) < 0)
		goto out;

	for (i = 0; i < nh; i++) {
		if (i > 0)
			sb_add(&sh, ";", 1);
		sb_adds(&sh, hs[i].name);
	}
	sb_adds(&cr, req->method);
	sb_add(&cr, "\n", 1);
	sb_adds(&cr, out->path);
	sb_add(&cr, "\n", 1);
	sb_adds(&cr, out->query);
	sb_add(&cr, "\n", 1);
	for (i = 0; i < nh; i++) {
		sb_adds(&cr, hs[i].name);
		sb_add(&cr, ":", 1);
		sb_adds(&cr, hs[i].value);
		sb_add(&cr, "\n", 1);
	}
	sb_add(&cr, "\n", 1);
	if (sh.p)
		sb_adds(&cr, sh.p);
	sb_add(&cr, "\n", 1);
	sb_adds(&cr, payload);
	signed_headers = sb_take(&sh);
	out->canonical_request = sb_take(&cr);
	if (signed_headers == NULL || out->canonical_request == NULL) {
		rc = -ENOMEM;
		goto out_sh;
	}

	if (asprintf(&scope, "%s/%s/%s/aws4_request", day, req->region,
		     req->service) < 0) {
		scope = NULL;
		rc = -ENOMEM;
		goto out_sh;
	}
	if (EVP_Digest(out->canonical_request, strlen(out->canonical_request),
		       md, NULL, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto out_sh;
	}
	aim_hex(md, 32, crhash);
	sb_adds(&sts, ALGORITHM "\n");
	sb_adds(&sts, date);
	sb_add(&sts, "\n", 1);
	sb_adds(&sts, scope);
	sb_add(&sts, "\n", 1);
	sb_adds(&sts, crhash);
	out->string_to_sign = sb_take(&sts);
	if (out->string_to_sign == NULL) {
		rc = -ENOMEM;
		goto out_sh;
	}

	rc = signature(creds, day, req->region, req->service,
		       out->string_to_sign, out->signature);
	if (rc < 0)
		goto out_sh;
	if (asprintf(&out->authorization,
		     "Authorization: " ALGORITHM " Credential=%s/%s, "
		     "SignedHeaders=%s, Signature=%s",
		     creds->access_key, scope, signed_headers,
		     out->signature) < 0) {
		out->authorization = NULL;
		rc = -ENOMEM;
		goto out_sh;
	}
	if ((rc = line(&out->amz_date, "x-amz-date", date)) < 0 ||
	    (rc = line(&out->content_sha, "x-amz-content-sha256", payload)) < 0)
		goto out_sh;
	if (creds->session_token)
		rc = line(&out->token, "x-amz-security-token",
			  creds->session_token);
out_sh:
	free(signed_headers);
	free(scope);
out:
	hdrs_free(hs, nh);
	if (rc < 0)
		aim_sigv4_out_release(out);
	return rc;
}
