/*
 * s3xml.c - see s3xml.h.
 *
 * One expat pass with a flat state machine: the root is depth 1, the
 * page's fields and the Contents/CommonPrefixes containers depth 2, their
 * fields depth 3. Only the leaves we read are captured, into one fixed
 * buffer; the text of everything else is only counted, so a hostile page
 * costs at most what its objects cost. The first failure stops the parser
 * and everything later is ignored.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "s3xml.h"

#define TEXT_MAX 4096
#define KEY_MAX 1024
#define OBJECTS_MAX 100000
#define DEPTH_MAX 64
#define SIZE_LIMIT (1ULL << 50)

enum mode { M_LIST, M_ERROR };

enum field {
	F_NONE,
	F_KEY,
	F_SIZE,
	F_ETAG,
	F_TRUNCATED,
	F_TOKEN,
	F_ENCODING,
	F_PREFIX,
	F_CODE,
	F_MESSAGE,
	F_REGION,
};

static const char *const field_names[] = {
	[F_KEY] = "Key",
	[F_SIZE] = "Size",
	[F_ETAG] = "ETag",
	[F_TRUNCATED] = "IsTruncated",
	[F_TOKEN] = "NextContinuationToken",
	[F_ENCODING] = "EncodingType",
	[F_PREFIX] = "Prefix",
	[F_CODE] = "Code",
	[F_MESSAGE] = "Message",
	[F_REGION] = "Region",
};

struct state {
	XML_Parser p;
	enum mode mode;
	int parsing; /* inside XML_Parse: failures stop the parser */
	int rc;	     /* first failure: -EPROTO or -ENOMEM */
	char *cause;
	unsigned depth;
	int root_seen;
	enum { C_NONE, C_CONTENTS, C_PREFIXES } container;
	enum field field;   /* the leaf being captured, F_NONE otherwise */
	char text[TEXT_MAX + 1];
	size_t tlen;	    /* text since the last tag, captured or not */

	/* ListBucketResult */
	struct aim_s3_list *l;
	size_t cap, pcap;
	struct aim_s3_object cur;
	int cur_size_seen;
	char *cur_prefix;
	int truncated_seen, url_encoded, encoding_seen;

	/* Error */
	char *code, *message, *region;
};

static void fail(struct state *st, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void fail(struct state *st, int rc, const char *fmt, ...)
{
	va_list ap;

	if (st->rc < 0)
		return;
	st->rc = rc;
	va_start(ap, fmt);
	if (vasprintf(&st->cause, fmt, ap) < 0)
		st->cause = NULL;
	va_end(ap);
	if (st->parsing)
		XML_StopParser(st->p, XML_FALSE);
}

static void oom(struct state *st)
{
	fail(st, -ENOMEM, "out of memory");
}

/* the name without a namespace prefix */
static const char *local(const XML_Char *name)
{
	const char *colon = strrchr(name, ':');

	return colon ? colon + 1 : name;
}

/* the field a depth-2 or depth-3 element is, F_NONE if we ignore it */
static enum field field_of(const struct state *st, const char *name)
{
	if (st->mode == M_ERROR) {
		if (st->depth != 2)
			return F_NONE;
		if (strcmp(name, "Code") == 0)
			return F_CODE;
		if (strcmp(name, "Message") == 0)
			return F_MESSAGE;
		if (strcmp(name, "Region") == 0)
			return F_REGION;
		return F_NONE;
	}
	if (st->depth == 2) {
		if (strcmp(name, "IsTruncated") == 0)
			return F_TRUNCATED;
		if (strcmp(name, "NextContinuationToken") == 0)
			return F_TOKEN;
		if (strcmp(name, "EncodingType") == 0)
			return F_ENCODING;
		return F_NONE;
	}
	if (st->depth == 3 && st->container == C_CONTENTS) {
		if (strcmp(name, "Key") == 0)
			return F_KEY;
		if (strcmp(name, "Size") == 0)
			return F_SIZE;
		if (strcmp(name, "ETag") == 0)
			return F_ETAG;
	}
	if (st->depth == 3 && st->container == C_PREFIXES &&
	    strcmp(name, "Prefix") == 0)
		return F_PREFIX;
	return F_NONE;
}

/* 1 if the field already has a value: each may be given once */
static int field_seen(const struct state *st, enum field f)
{
	switch (f) {
	case F_KEY:
		return st->cur.key != NULL;
	case F_SIZE:
		return st->cur_size_seen;
	case F_ETAG:
		return st->cur.etag != NULL;
	case F_TRUNCATED:
		return st->truncated_seen;
	case F_TOKEN:
		return st->l && st->l->next_token != NULL;
	case F_ENCODING:
		return st->encoding_seen;
	case F_PREFIX:
		return st->cur_prefix != NULL;
	case F_CODE:
		return st->code != NULL;
	case F_MESSAGE:
		return st->message != NULL;
	case F_REGION:
		return st->region != NULL;
	default:
		return 0;
	}
}

static void start_root(struct state *st, const char *name)
{
	const char *want = st->mode == M_LIST ? "ListBucketResult" : "Error";

	if (strcmp(name, want) != 0) {
		fail(st, -EPROTO, "root element is not %s", want);
		return;
	}
	st->root_seen = 1;
}

static void start_container(struct state *st, const char *name)
{
	if (strcmp(name, "Contents") == 0) {
		if (st->l->n >= OBJECTS_MAX) {
			fail(st, -EPROTO, "more than %d objects in one page",
			     OBJECTS_MAX);
			return;
		}
		st->container = C_CONTENTS;
	} else if (strcmp(name, "CommonPrefixes") == 0) {
		if (st->l->nprefixes >= OBJECTS_MAX) {
			fail(st, -EPROTO,
			     "more than %d common prefixes in one page",
			     OBJECTS_MAX);
			return;
		}
		st->container = C_PREFIXES;
	}
}

static void XMLCALL on_start(void *ud, const XML_Char *qname,
			     const XML_Char **atts)
{
	struct state *st = ud;
	const char *name = local(qname);
	enum field f;

	if (st->rc < 0)
		return;
	if (st->field != F_NONE) {
		fail(st, -EPROTO, "element inside %s", field_names[st->field]);
		return;
	}
	if (++st->depth > DEPTH_MAX) {
		fail(st, -EPROTO, "elements nested more than %d deep",
		     DEPTH_MAX);
		return;
	}
	st->tlen = 0;
	if (st->depth == 1) {
		start_root(st, name);
		return;
	}
	f = field_of(st, name);
	if (f != F_NONE) {
		if (field_seen(st, f)) {
			fail(st, -EPROTO, "%s given twice", field_names[f]);
			return;
		}
		st->field = f;
		return;
	}
	if (st->depth == 2 && st->mode == M_LIST)
		start_container(st, name);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct state *st = ud;

	if (st->rc < 0 || len <= 0)
		return;
	if ((size_t)len > TEXT_MAX - st->tlen) {
		fail(st, -EPROTO, "element text longer than %d bytes",
		     TEXT_MAX);
		return;
	}
	if (st->field != F_NONE)
		memcpy(st->text + st->tlen, s, (size_t)len);
	st->tlen += (size_t)len;
}

/* the text without XML white space around it, for numbers and keywords */
static const char *trimmed(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* a decimal integer below 2^50: digits only, no sign */
static int parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v >= SIZE_LIMIT)
			return -1;
	}
	*out = v;
	return 0;
}

static char *dup_text(struct state *st, const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		oom(st);
	return d;
}

static void store_field(struct state *st)
{
	char *t = st->text;
	const char *v;
	size_t n;

	t[st->tlen] = '\0';
	switch (st->field) {
	case F_KEY:
		st->cur.key = dup_text(st, t);
		break;
	case F_SIZE:
		if (parse_size(trimmed(t), &st->cur.size) < 0)
			fail(st, -EPROTO, "object Size is not a decimal "
					  "integer below 2^50");
		st->cur_size_seen = 1;
		break;
	case F_ETAG:
		n = st->tlen;
		if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
			t[n - 1] = '\0';
			t++;
		}
		st->cur.etag = dup_text(st, t);
		break;
	case F_TRUNCATED:
		v = trimmed(t);
		if (strcmp(v, "true") == 0)
			st->l->truncated = 1;
		else if (strcmp(v, "false") != 0)
			fail(st, -EPROTO, "IsTruncated is neither true nor "
					  "false");
		st->truncated_seen = 1;
		break;
	case F_TOKEN:
		if (*t == '\0')
			fail(st, -EPROTO, "empty NextContinuationToken");
		else
			st->l->next_token = dup_text(st, t);
		break;
	case F_ENCODING:
		if (strcmp(trimmed(t), "url") != 0)
			fail(st, -EPROTO, "unknown EncodingType");
		st->url_encoded = 1;
		st->encoding_seen = 1;
		break;
	case F_PREFIX:
		st->cur_prefix = dup_text(st, t);
		break;
	case F_CODE:
		st->code = dup_text(st, t);
		break;
	case F_MESSAGE:
		st->message = dup_text(st, t);
		break;
	case F_REGION:
		st->region = dup_text(st, t);
		break;
	default:
		break;
	}
	st->field = F_NONE;
}

static void end_contents(struct state *st)
{
	struct aim_s3_list *l = st->l;

	if (st->cur.key == NULL) {
		fail(st, -EPROTO, "Contents without Key");
		return;
	}
	if (!st->cur_size_seen) {
		fail(st, -EPROTO, "Contents without Size");
		return;
	}
	if (l->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct aim_s3_object *o;

		if (cap > OBJECTS_MAX)
			cap = OBJECTS_MAX;
		o = realloc(l->objs, cap * sizeof(*o));
		if (o == NULL) {
			oom(st);
			return;
		}
		l->objs = o;
		st->cap = cap;
	}
	l->objs[l->n++] = st->cur;
	memset(&st->cur, 0, sizeof(st->cur));
	st->cur_size_seen = 0;
}

static void end_prefixes(struct state *st)
{
	struct aim_s3_list *l = st->l;

	if (st->cur_prefix == NULL) {
		fail(st, -EPROTO, "CommonPrefixes without Prefix");
		return;
	}
	if (l->nprefixes == st->pcap) {
		size_t cap = st->pcap ? st->pcap * 2 : 16;
		char **p;

		if (cap > OBJECTS_MAX)
			cap = OBJECTS_MAX;
		p = realloc(l->prefixes, cap * sizeof(*p));
		if (p == NULL) {
			oom(st);
			return;
		}
		l->prefixes = p;
		st->pcap = cap;
	}
	l->prefixes[l->nprefixes++] = st->cur_prefix;
	st->cur_prefix = NULL;
}

static void XMLCALL on_end(void *ud, const XML_Char *qname)
{
	struct state *st = ud;

	if (st->rc < 0)
		return;
	if (st->field != F_NONE)
		store_field(st);
	if (st->rc == 0 && st->depth == 2 && st->container != C_NONE) {
		if (st->container == C_CONTENTS)
			end_contents(st);
		else
			end_prefixes(st);
		st->container = C_NONE;
	}
	st->tlen = 0;
	st->depth--;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name,
			       const XML_Char *sysid, const XML_Char *pubid,
			       int has_internal_subset)
{
	fail(ud, -EPROTO, "document type declarations are refused");
}

/* never reached past on_doctype; kept so no entity is ever declared */
static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param,
			      const XML_Char *value, int value_len,
			      const XML_Char *base, const XML_Char *sysid,
			      const XML_Char *pubid, const XML_Char *notation)
{
	fail(ud, -EPROTO, "entity declarations are refused");
}

static int parse(struct state *st, const char *xml, size_t len)
{
	enum XML_Status status;

	if (len > INT_MAX) {
		fail(st, -EPROTO, "document too large");
		return st->rc;
	}
	st->p = XML_ParserCreate(NULL);
	if (st->p == NULL) {
		oom(st);
		return st->rc;
	}
	XML_SetUserData(st->p, st);
	XML_SetElementHandler(st->p, on_start, on_end);
	XML_SetCharacterDataHandler(st->p, on_text);
	XML_SetStartDoctypeDeclHandler(st->p, on_doctype);
	XML_SetEntityDeclHandler(st->p, on_entity);
	XML_SetParamEntityParsing(st->p, XML_PARAM_ENTITY_PARSING_NEVER);
	st->parsing = 1;
	status = XML_Parse(st->p, xml ? xml : "", (int)len, XML_TRUE);
	st->parsing = 0;
	if (status != XML_STATUS_OK && st->rc == 0)
		fail(st, -EPROTO, "malformed XML at line %lu: %s",
		     (unsigned long)XML_GetCurrentLineNumber(st->p),
		     XML_ErrorString(XML_GetErrorCode(st->p)));
	XML_ParserFree(st->p);
	st->p = NULL;
	if (st->rc == 0 && !st->root_seen)
		fail(st, -EPROTO, "no root element");
	return st->rc;
}

static int unhex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* percent-decode s in place, '+' as a space; -1 on a bad escape or %00 */
static int url_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			int hi = unhex(s[1]), lo = hi < 0 ? -1 : unhex(s[2]);

			if (lo < 0 || (hi == 0 && lo == 0))
				return -1;
			*o++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

/* checks that need the whole page: encoding, key lengths, the token */
static int finish_list(struct state *st)
{
	struct aim_s3_list *l = st->l;
	size_t i;

	for (i = 0; i < l->n; i++) {
		char *k = l->objs[i].key;

		if (st->url_encoded && url_decode(k) < 0) {
			fail(st, -EPROTO, "bad percent-encoding in a key");
			return st->rc;
		}
		if (k[0] == '\0' || strlen(k) > KEY_MAX) {
			fail(st, -EPROTO, "key empty or longer than %d bytes",
			     KEY_MAX);
			return st->rc;
		}
	}
	for (i = 0; i < l->nprefixes; i++) {
		if (st->url_encoded && url_decode(l->prefixes[i]) < 0) {
			fail(st, -EPROTO, "bad percent-encoding in a prefix");
			return st->rc;
		}
		if (strlen(l->prefixes[i]) > KEY_MAX) {
			fail(st, -EPROTO, "prefix longer than %d bytes",
			     KEY_MAX);
			return st->rc;
		}
	}
	if (l->truncated && l->next_token == NULL) {
		fail(st, -EPROTO, "truncated page without "
				  "NextContinuationToken");
		return st->rc;
	}
	return 0;
}

void aim_s3_list_release(struct aim_s3_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->objs[i].key);
		free(l->objs[i].etag);
	}
	free(l->objs);
	for (size_t i = 0; i < l->nprefixes; i++)
		free(l->prefixes[i]);
	free(l->prefixes);
	free(l->next_token);
	memset(l, 0, sizeof(*l));
}

int aim_s3_parse_list(const char *xml, size_t len, struct aim_s3_list *out,
		      char **cause)
{
	struct state *st;
	int rc;

	memset(out, 0, sizeof(*out));
	*cause = NULL;
	/* heap, not stack: the text buffer is 4 KiB */
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->mode = M_LIST;
	st->l = out;
	rc = parse(st, xml, len);
	if (rc == 0)
		rc = finish_list(st);
	free(st->cur.key);
	free(st->cur.etag);
	free(st->cur_prefix);
	if (rc < 0) {
		aim_s3_list_release(out);
		*cause = st->cause;
		if (*cause == NULL && rc == -EPROTO)
			*cause = strdup("malformed listing");
	} else {
		free(st->cause);
	}
	free(st);
	return rc;
}

int aim_s3_parse_error(const char *xml, size_t len, char **code,
		       char **message, char **region)
{
	struct state *st;
	int rc;

	*code = NULL;
	*message = NULL;
	if (region)
		*region = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return -ENOMEM;
	st->mode = M_ERROR;
	rc = parse(st, xml, len);
	if (rc < 0) {
		free(st->code);
		free(st->message);
		free(st->region);
	} else {
		*code = st->code;
		*message = st->message;
		if (region)
			*region = st->region;
		else
			free(st->region);
	}
	free(st->cause);
	free(st);
	return rc;
}
