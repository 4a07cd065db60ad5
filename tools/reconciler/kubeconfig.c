/*
 * kubeconfig.c - see kubeconfig.h. The YAML reader works on lines: each
 * has its indentation and its text without the comment; a mapping is the
 * run of lines at one indentation that hold "key: value", a sequence the
 * run of "- item" lines, and an item's first line is re-based to the column
 * after its dash so that "- name: x" followed by "  user: ..." reads as one
 * mapping. Recursion is bounded by MAX_DEPTH.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "kube.h"
#include "kubeconfig.h"
#include "src/log.h"
#include "src/util.h"

#define MAX_DEPTH 64

struct line {
	int no;	    /* 1-based, for messages */
	int indent; /* columns before text */
	int blank;  /* nothing but a comment or spaces */
	char *raw;  /* the whole line (owned): block scalars read it */
	char *text; /* content without the comment (owned) */
	char *cur;  /* where parsing goes on: text, or past a "- " */
};

struct parser {
	struct line *lines;
	size_t n, i;
	int depth;
	char **cause;
};

static json_t *parse_node(struct parser *p, int min_indent);

static void perr(struct parser *p, const struct line *l, const char *what)
{
	if (*p->cause == NULL)
		aim_set_cause(p->cause, "kubeconfig line %d: %s", l ? l->no : 0,
			      what);
}

/* where the comment starts in s (a '#' at the start or after a blank,
 * outside a quoted scalar), or the end */
static size_t comment_at(const char *s)
{
	char q = 0, prev = ' ';
	size_t i;

	for (i = 0; s[i]; prev = s[i], i++) {
		char ch = s[i];
		if (q == '"') {
			if (ch == '\\' && s[i + 1])
				i++;
			else if (ch == '"')
				q = 0;
			continue;
		}
		if (q == '\'') {
			if (ch == '\'' && s[i + 1] == '\'')
				i++;
			else if (ch == '\'')
				q = 0;
			continue;
		}
		/* a quote opens a scalar only where a scalar can begin */
		if ((ch == '"' || ch == '\'') &&
		    strchr(" :-[{,", prev) != NULL) {
			q = ch;
			continue;
		}
		if (ch == '#' && (prev == ' ' || prev == '\t'))
			return i;
	}
	return i;
}

static int split_lines(struct parser *p, const char *text)
{
	const char *s = text;
	size_t cap = 0;
	int no = 0;

	while (*s) {
		size_t len = strcspn(s, "\n");
		struct line l = {0};
		l.no = ++no;
		l.raw = strndup(s, len);
		s += len + (s[len] == '\n');
		if (l.raw == NULL)
			return -ENOMEM;
		len = strlen(l.raw);
		if (len && l.raw[len - 1] == '\r')
			l.raw[--len] = '\0';
		while (l.raw[l.indent] == ' ')
			l.indent++;
		char *t = l.raw + l.indent;
		size_t end = comment_at(t);
		while (end > 0 && (t[end - 1] == ' ' || t[end - 1] == '\t'))
			end--;
		l.text = strndup(t, end);
		if (l.text == NULL) {
			free(l.raw);
			return -ENOMEM;
		}
		l.cur = l.text;
		l.blank = l.text[0] == '\0';
		if (p->n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct line *nl = realloc(p->lines, nc * sizeof(*nl));
			if (nl == NULL) {
				free(l.raw);
				free(l.text);
				return -ENOMEM;
			}
			p->lines = nl;
			cap = nc;
		}
		p->lines[p->n++] = l;
		if (!l.blank && t[0] == '\t') {
			perr(p, &l, "a tab in the indentation");
			return -EINVAL;
		}
	}
	return 0;
}

static struct line *peek(struct parser *p)
{
	while (p->i < p->n && p->lines[p->i].blank)
		p->i++;
	return p->i < p->n ? &p->lines[p->i] : NULL;
}

static int is_item(const char *s)
{
	return s[0] == '-' && (s[1] == '\0' || s[1] == ' ');
}

static void put_utf8(char *out, size_t *n, unsigned long cp)
{
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xc0 | (cp >> 6));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xe0 | (cp >> 12));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | (cp >> 18));
		out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/*
 * A quoted scalar at *s (its opening quote): the string, *s moved past
 * the closing quote. NULL when unterminated or malformed.
 */
static json_t *quoted(const char **s)
{
	const char *p = *s;
	char q = *p++, *out = malloc(strlen(p) * 4 + 1);
	size_t n = 0;
	json_t *j;

	if (out == NULL)
		return NULL;
	for (;; p++) {
		if (*p == '\0')
			goto bad;
		if (q == '\'' && *p == '\'') {
			if (p[1] != '\'')
				break;
			out[n++] = '\'';
			p++;
			continue;
		}
		if (q == '"' && *p == '"')
			break;
		if (q == '"' && *p == '\\') {
			unsigned long cp;
			int digits = 0;
			char hex[9];
			switch (*++p) {
			case 'n': out[n++] = '\n'; continue;
			case 't': out[n++] = '\t'; continue;
			case 'r': out[n++] = '\r'; continue;
			case '0': out[n++] = '\0'; continue;
			case '"': case '\\': case '/': case ' ':
				out[n++] = *p;
				continue;
			case 'x': digits = 2; break;
			case 'u': digits = 4; break;
			case 'U': digits = 8; break;
			default: goto bad;
			}
			for (int k = 0; k < digits; k++) {
				if (!isxdigit((unsigned char)p[1 + k]))
					goto bad;
				hex[k] = p[1 + k];
			}
			hex[digits] = '\0';
			cp = strtoul(hex, NULL, 16);
			if (cp > 0x10ffff)
				goto bad;
			put_utf8(out, &n, cp);
			p += digits;
			continue;
		}
		out[n++] = *p;
	}
	*s = p + 1;
	j = json_stringn(out, n);
	free(out);
	return j;
bad:
	free(out);
	return NULL;
}

/* a plain scalar's JSON value: null for "", "~" and "null" */
static json_t *plain(const char *s, size_t len)
{
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || (len == 1 && s[0] == '~') ||
	    (len == 4 && strncmp(s, "null", 4) == 0))
		return json_null();
	return json_stringn(s, len);
}

/* a flow collection or scalar at *s; *s moves past it */
static json_t *flow(struct parser *p, const struct line *l, const char **s)
{
	const char *c = *s;
	json_t *out = NULL;

	while (*c == ' ')
		c++;
	if (++p->depth > MAX_DEPTH) {
		perr(p, l, "nested too deeply");
		goto out;
	}
	if (*c == '"' || *c == '\'') {
		out = quoted(&c);
		if (out == NULL)
			perr(p, l, "a malformed quoted string");
	} else if (*c == '[' || *c == '{') {
		char close = *c == '[' ? ']' : '}';
		int map = *c == '{';
		out = map ? json_object() : json_array();
		c++;
		for (;;) {
			json_t *k = NULL, *v;
			while (*c == ' ')
				c++;
			if (*c == close) {
				c++;
				break;
			}
			if (map) {
				k = flow(p, l, &c);
				while (*c == ' ')
					c++;
				if (k == NULL || !json_is_string(k) ||
				    *c != ':') {
					json_decref(k);
					perr(p, l, "a malformed flow mapping");
					goto fail;
				}
				c++;
			}
			v = flow(p, l, &c);
			if (v == NULL) {
				json_decref(k);
				goto fail;
			}
			if (map)
				json_object_set_new(out, json_string_value(k),
						    v);
			else
				json_array_append_new(out, v);
			json_decref(k);
			while (*c == ' ')
				c++;
			if (*c == ',') {
				c++;
			} else if (*c != close) {
				perr(p, l, "a malformed flow collection");
				goto fail;
			}
		}
	} else {
		/* plain, in a flow context: up to , ] } or ": " */
		const char *st = c;
		while (*c && *c != ',' && *c != ']' && *c != '}' &&
		       !(*c == ':' && (c[1] == ' ' || c[1] == '\0' ||
				       c[1] == ',')))
			c++;
		out = plain(st, (size_t)(c - st));
	}
	goto out;
fail:
	json_decref(out);
	out = NULL;
out:
	p->depth--;
	*s = c;
	return out;
}

/* a scalar or flow value that is all of s */
static json_t *value(struct parser *p, const struct line *l, const char *s)
{
	const char *c = s;
	json_t *v;

	if (*s == '&' || *s == '*' || *s == '!') {
		perr(p, l, "anchors, aliases and tags are not supported");
		return NULL;
	}
	if (*s != '"' && *s != '\'' && *s != '[' && *s != '{')
		return plain(s, strlen(s));
	v = flow(p, l, &c);
	while (v && *c == ' ')
		c++;
	if (v && *c) {
		json_decref(v);
		perr(p, l, "text after a quoted or flow value");
		return NULL;
	}
	return v;
}

/*
 * "key: value" or "key:" in s: the key (caller frees) and *rest (the
 * value's text, borrowed). NULL when s is no mapping entry.
 */
static json_t *entry_key(const char *s, const char **rest)
{
	const char *c = s;
	json_t *k;

	if (*s == '"' || *s == '\'') {
		k = quoted(&c);
		if (k == NULL)
			return NULL;
		while (*c == ' ')
			c++;
	} else {
		if (*s == '[' || *s == '{' || is_item(s))
			return NULL;
		while (*c && !(*c == ':' && (c[1] == ' ' || c[1] == '\0')))
			c++;
		if (*c != ':')
			return NULL;
		k = plain(s, (size_t)(c - s));
		if (json_is_null(k)) {
			json_decref(k);
			k = json_string("");
		}
	}
	if (k == NULL || *c != ':' || (c[1] != ' ' && c[1] != '\0')) {
		json_decref(k);
		return NULL;
	}
	c++;
	while (*c == ' ')
		c++;
	*rest = c;
	return k;
}

/* the lines under a "|" or ">" header of a line at indent ind */
static json_t *block_scalar(struct parser *p, int ind, const char *hdr)
{
	int folded = hdr[0] == '>', chomp = 0, bind = -1;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	json_t *out;

	for (const char *h = hdr + 1; *h; h++) {
		if (*h == '-')
			chomp = -1;
		else if (*h == '+')
			chomp = 1;
		else if (!isdigit((unsigned char)*h))
			return NULL;
	}
	while (p->i < p->n) {
		struct line *l = &p->lines[p->i];
		size_t rl = strlen(l->raw);
		int spaces_only = strspn(l->raw, " ") == rl;
		if (!spaces_only && l->indent <= ind)
			break;
		if (!spaces_only && bind < 0)
			bind = l->indent;
		if (!spaces_only && l->indent < bind)
			break;
		const char *t = (int)rl > bind && bind >= 0 ? l->raw + bind : "";
		size_t tl = strlen(t);
		if (len + tl + 2 > cap) {
			size_t nc = (len + tl + 2) * 2;
			char *nb = realloc(buf, nc);
			if (nb == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap = nc;
		}
		if (folded && len > 0 && buf[len - 1] == '\n' && tl > 0 &&
		    t[0] != ' ')
			buf[len - 1] = ' ';
		memcpy(buf + len, t, tl);
		len += tl;
		buf[len++] = '\n';
		p->i++;
	}
	if (chomp <= 0)
		while (len > 0 && buf[len - 1] == '\n')
			len--;
	if (chomp == 0 && len > 0)
		buf[len++] = '\n';
	out = json_stringn(buf ? buf : "", len);
	free(buf);
	return out;
}

static json_t *parse_seq(struct parser *p, int ind)
{
	json_t *arr = json_array(), *item;
	struct line *l;

	if (arr == NULL)
		return NULL;
	while ((l = peek(p)) && l->indent == ind && is_item(l->cur)) {
		const char *rest = l->cur + 1;
		int k = 1;
		while (*rest == ' ') {
			rest++;
			k++;
		}
		if (*rest == '\0') {
			p->i++;
			item = parse_node(p, ind + 1);
		} else {
			/* the item starts on this line, at this column */
			l->indent = ind + k;
			l->cur = (char *)rest;
			item = parse_node(p, l->indent);
		}
		if (item == NULL || json_array_append_new(arr, item) < 0) {
			json_decref(arr);
			return NULL;
		}
	}
	if (l && l->indent > ind) {
		perr(p, l, "unexpected indentation");
		json_decref(arr);
		return NULL;
	}
	return arr;
}

static json_t *parse_map(struct parser *p, int ind)
{
	json_t *obj = json_object();
	struct line *l;

	if (obj == NULL)
		return NULL;
	while ((l = peek(p)) && l->indent >= ind) {
		const char *rest;
		json_t *k, *v;
		if (l->indent > ind) {
			perr(p, l, "unexpected indentation");
			goto fail;
		}
		if (is_item(l->cur) || strcmp(l->cur, "---") == 0)
			break; /* the caller's sequence goes on, or a document */
		k = entry_key(l->cur, &rest);
		if (k == NULL) {
			perr(p, l, "expected 'key: value'");
			goto fail;
		}
		p->i++;
		if (*rest == '\0') {
			struct line *n = peek(p);
			if (n && n->indent > ind)
				v = parse_node(p, ind + 1);
			else if (n && n->indent == ind && is_item(n->cur))
				v = parse_seq(p, ind);
			else
				v = json_null();
		} else if (*rest == '|' || *rest == '>') {
			v = block_scalar(p, ind, rest);
			if (v == NULL)
				perr(p, l, "a malformed block scalar");
		} else {
			v = value(p, l, rest);
		}
		if (v == NULL) {
			json_decref(k);
			goto fail;
		}
		json_object_set_new(obj, json_string_value(k), v);
		json_decref(k);
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

/* the node whose first line is the next one, if indented >= min_indent */
static json_t *parse_node(struct parser *p, int min_indent)
{
	struct line *l = peek(p);
	const char *rest;
	json_t *out, *k;

	if (l == NULL || l->indent < min_indent)
		return json_null();
	if (++p->depth > MAX_DEPTH) {
		perr(p, l, "nested too deeply");
		p->depth--;
		return NULL;
	}
	if (is_item(l->cur)) {
		out = parse_seq(p, l->indent);
	} else if ((k = entry_key(l->cur, &rest)) != NULL) {
		json_decref(k);
		out = parse_map(p, l->indent);
	} else {
		/* a scalar: one line (continued plain scalars are refused by
		 * the caller, as unexpected indentation) */
		p->i++;
		out = value(p, l, l->cur);
	}
	p->depth--;
	return out;
}

int aim_kubeconfig_parse(const char *text, json_t **doc, char **cause)
{
	struct parser p = {0};
	const char *t = text;
	struct line *l;
	int rc = 0;

	*doc = NULL;
	*cause = NULL;
	p.cause = cause;
	while (isspace((unsigned char)*t))
		t++;
	if (*t == '{') {
		json_error_t jerr;
		*doc = json_loads(text, 0, &jerr);
		if (*doc == NULL || !json_is_object(*doc)) {
			aim_set_cause(cause, "kubeconfig line %d: %s", jerr.line,
				      *doc ? "not an object" : jerr.text);
			json_decref(*doc);
			*doc = NULL;
			return -EINVAL;
		}
		return 0;
	}
	if ((rc = split_lines(&p, text)) < 0)
		goto out;
	/* directives and a document start before the content */
	while ((l = peek(&p)) && (l->text[0] == '%' ||
				  strcmp(l->text, "---") == 0) &&
	       l->indent == 0)
		p.i++;
	*doc = parse_node(&p, 0);
	if (*doc && (l = peek(&p)) != NULL) {
		perr(&p, l, strcmp(l->text, "---") == 0
				    ? "more than one document"
				    : "unexpected content");
	}
	if (*doc && *cause == NULL && !json_is_object(*doc))
		perr(&p, NULL, "not a mapping");
	if (*cause || *doc == NULL) {
		json_decref(*doc);
		*doc = NULL;
		rc = *cause ? -EINVAL : -ENOMEM;
	}
out:
	for (size_t i = 0; i < p.n; i++) {
		/* a kubeconfig holds secrets: wipe them */
		explicit_bzero(p.lines[i].raw, strlen(p.lines[i].raw));
		explicit_bzero(p.lines[i].text, strlen(p.lines[i].text));
		free(p.lines[i].raw);
		free(p.lines[i].text);
	}
	free(p.lines);
	return rc;
}

int aim_base64_decode(const char *in, unsigned char **out, size_t *len)
{
	size_t n = strlen(in), k = 0, pad = 0;
	char *clean = malloc(n + 4);
	unsigned char *buf;
	int got;

	*out = NULL;
	*len = 0;
	if (clean == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)in[i]))
			clean[k++] = in[i];
	/* EVP_DecodeBlock wants whole quads */
	while (k % 4)
		clean[k++] = '=';
	clean[k] = '\0';
	for (size_t i = k; i > 0 && clean[i - 1] == '='; i--)
		pad++;
	buf = malloc(k / 4 * 3 + 1);
	if (buf == NULL) {
		free(clean);
		return -ENOMEM;
	}
	got = k ? EVP_DecodeBlock(buf, (unsigned char *)clean, (int)k) : 0;
	free(clean);
	if (got < 0 || pad > 2 || (size_t)got < pad) {
		free(buf);
		return -EINVAL;
	}
	*len = (size_t)got - pad;
	buf[*len] = '\0';
	*out = buf;
	return 0;
}

/*
 * 1 when array arr of doc has an element named name; *member is then its
 * member "what" (borrowed; NULL when that is no mapping)
 */
static int named(json_t *doc, const char *arr, const char *name,
		 const char *what, json_t **member)
{
	json_t *e;
	size_t i;

	*member = NULL;
	json_array_foreach(json_object_get(doc, arr), i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n && name && strcmp(n, name) == 0) {
			json_t *m = json_object_get(e, what);
			*member = json_is_object(m) ? m : NULL;
			return 1;
		}
	}
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* true as YAML or JSON says it */
static int jtrue(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	const char *s = json_string_value(v);

	return json_is_true(v) ||
	       (s && (!strcmp(s, "true") || !strcmp(s, "True")));
}

static char *resolve_rel(const char *dir, const char *path)
{
	char *out;

	if (path[0] == '/' || dir == NULL)
		return strdup(path);
	if (asprintf(&out, "%s/%s", dir, path) < 0)
		return NULL;
	return out;
}

/* an element's name, for the only element of an array */
static const char *only_name(json_t *doc, const char *arr)
{
	json_t *a = json_object_get(doc, arr);

	return json_array_size(a) == 1
		       ? jstr(json_array_get(a, 0), "name")
		       : NULL;
}

int aim_kubeconfig_select(json_t *doc, const char *dir, const char *context,
			  struct aim_kube_conf *c, char **cause)
{
	const char *ctx_name = context ? context : jstr(doc, "current-context");
	const char *cl_name, *user_name;
	json_t *ctx = NULL, *cl, *user = NULL;
	size_t nctx = json_array_size(json_object_get(doc, "contexts"));

	*cause = NULL;
	if (ctx_name && *ctx_name) {
		if (!named(doc, "contexts", ctx_name, "context", &ctx)) {
			aim_set_cause(cause, "kubeconfig has no context '%s'",
				      ctx_name);
			return -ENOENT;
		}
	} else if (nctx == 1) {
		ctx_name = only_name(doc, "contexts");
		named(doc, "contexts", ctx_name, "context", &ctx);
	} else if (nctx > 1) {
		aim_set_cause(cause,
			      "kubeconfig has %zu contexts and no "
			      "current-context: pass --context",
			      nctx);
		return -EINVAL;
	}
	if (ctx_name) {
		cl_name = jstr(ctx, "cluster");
		user_name = jstr(ctx, "user");
	} else {
		/* no context at all: only a lone cluster is unambiguous */
		cl_name = only_name(doc, "clusters");
		user_name = only_name(doc, "users");
	}
	if (!named(doc, "clusters", cl_name, "cluster", &cl)) {
		aim_set_cause(cause, "kubeconfig: %s%s%s names no cluster it has",
			      ctx_name ? "context '" : "", ctx_name ? ctx_name : "it",
			      ctx_name ? "'" : "");
		return -EINVAL;
	}
	if (user_name) {
		if (!named(doc, "users", user_name, "user", &user)) {
			aim_set_cause(cause, "kubeconfig has no user '%s'",
				      user_name);
			return -EINVAL;
		}
	}
	const char *server = jstr(cl, "server");
	if (server == NULL || *server == '\0') {
		aim_set_cause(cause, "kubeconfig: cluster '%s' has no server",
			      cl_name);
		return -EINVAL;
	}
	if ((c->server = strdup(server)) == NULL)
		return -ENOMEM;
	if (ctx_name && (c->context = strdup(ctx_name)) == NULL)
		return -ENOMEM;
	const char *ca_data = jstr(cl, "certificate-authority-data");
	const char *ca = jstr(cl, "certificate-authority");
	if (ca_data) {
		unsigned char *pem;
		size_t len;
		int rc = aim_base64_decode(ca_data, &pem, &len);
		if (rc < 0) {
			aim_set_cause(cause,
				      "kubeconfig: cluster '%s': "
				      "certificate-authority-data is not "
				      "base64",
				      cl_name);
			return rc;
		}
		c->ca_data = (char *)pem;
		c->ca_data_len = len;
	} else if (ca && (c->ca_file = resolve_rel(dir, ca)) == NULL) {
		return -ENOMEM;
	}
	if (jtrue(cl, "insecure-skip-tls-verify"))
		aim_log(LOG_WARNING,
			"kubeconfig: cluster '%s' asks for "
			"insecure-skip-tls-verify, which is not supported: "
			"the server's certificate is verified",
			cl_name);
	const char *tok = jstr(user, "token");
	const char *tokf = jstr(user, "tokenFile");
	if (tok && *tok) {
		if ((c->token = strdup(tok)) == NULL)
			return -ENOMEM;
	} else if (tokf && *tokf) {
		if ((c->token_file = resolve_rel(dir, tokf)) == NULL)
			return -ENOMEM;
	} else if (user) {
		static const char *const other[] = {
			"client-certificate", "client-certificate-data",
			"exec", "auth-provider", "username"};
		for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
			if (json_object_get(user, other[i]))
				aim_log(LOG_WARNING,
					"kubeconfig: user '%s' authenticates "
					"with %s, which is not supported: "
					"give it a token or tokenFile",
					user_name, other[i]);
	}
	const char *ns = jstr(ctx, "namespace");
	if (ns && *ns && (c->namespace = strdup(ns)) == NULL)
		return -ENOMEM;
	return 0;
}

int aim_kube_conf_kubeconfig(struct aim_kube_conf *c, const char *path,
			     const char *context, char **cause)
{
	char *text = NULL, *dir = NULL, *slash, *why = NULL;
	json_t *doc = NULL;
	int rc;

	*cause = NULL;
	rc = aim_read_small_file(path, 1 << 20, &text);
	if (rc < 0) {
		aim_set_cause(cause, "cannot read kubeconfig '%s': %s", path,
			      strerror(-rc));
		return rc;
	}
	rc = aim_kubeconfig_parse(text, &doc, &why);
	explicit_bzero(text, strlen(text));
	free(text);
	if (rc == 0 && (dir = strdup(path)) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
		else
			strcpy(dir, ".");
		rc = aim_kubeconfig_select(doc, dir, context, c, &why);
	}
	if (rc < 0)
		aim_set_cause(cause, "'%s': %s", path,
			      why ? why : strerror(-rc));
	free(why);
	free(dir);
	json_decref(doc);
	return rc;
}
