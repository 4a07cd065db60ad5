/*
 * layout.c - see layout.h.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hmap.h"
#include "layout.h"

#define AIM_LEN(a) (sizeof(a) / sizeof((a)[0]))

struct node {
	uint64_t ino;
	uint64_t parent;
	char *name;
	mode_t mode;
	uint64_t size;
	int64_t mtime;
	struct aim_file *file; /* regular files */
	char *target;	       /* symlinks; data of in-memory files */
	int is_data;	       /* a regular file whose content is target */
	int hidden;	       /* directories: not listed until non-empty */
	uint64_t *children;    /* directories: child inodes in insertion order */
	size_t nchildren, cap;
	uint32_t nsubdirs;
};

struct aim_layout {
	pthread_rwlock_t lock; /* guards everything below */
	struct node **nodes;   /* nodes[ino - 1] */
	size_t nnodes, cap;
	struct aim_hmap *names; /* (parent, name) -> node */
	void (*inval)(void *arg, uint64_t parent, const char *name);
	void *inval_arg;
};

static struct node *node_new(struct aim_layout *l, uint64_t parent,
			     const char *name, mode_t mode, int64_t mtime)
{
	struct node *n = calloc(1, sizeof(*n));

	if (n == NULL || (n->name = strdup(name)) == NULL) {
		free(n);
		return NULL;
	}
	if (l->nnodes == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct node **nn = realloc(l->nodes, cap * sizeof(*nn));
		if (nn == NULL)
			goto fail;
		l->nodes = nn;
		l->cap = cap;
	}
	n->ino = l->nnodes + 1;
	n->parent = parent;
	n->mode = mode;
	n->mtime = mtime;
	if (parent) {
		struct node *p = l->nodes[parent - 1];
		if (p->nchildren == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 8;
			uint64_t *c = realloc(p->children, cap * sizeof(*c));
			if (c == NULL)
				goto fail;
			p->children = c;
			p->cap = cap;
		}
		if (aim_hmap_put(l->names, parent, n->name, n) < 0)
			goto fail;
		p->children[p->nchildren++] = n->ino;
		for (struct node *q = p; q && q->hidden;
		     q = q->parent ? l->nodes[q->parent - 1] : NULL)
			q->hidden = 0;
		if (S_ISDIR(mode))
			p->nsubdirs++;
		if (mtime > p->mtime)
			p->mtime = mtime;
	}
	l->nodes[l->nnodes++] = n;
	return n;
fail:
	free(n->name);
	free(n);
	return NULL;
}

struct aim_layout *aim_layout_new(void)
{
	struct aim_layout *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	pthread_rwlock_init(&l->lock, NULL);
	l->names = aim_hmap_new();
	if (l->names == NULL || node_new(l, 0, "", S_IFDIR | 0555, 0) == NULL) {
		aim_layout_free(&l);
		return NULL;
	}
	return l;
}

void aim_layout_free(struct aim_layout **pl)
{
	struct aim_layout *l = *pl;

	if (l == NULL)
		return;
	for (size_t i = 0; i < l->nnodes; i++) {
		free(l->nodes[i]->name);
		free(l->nodes[i]->target);
		free(l->nodes[i]->children);
		free(l->nodes[i]);
	}
	free(l->nodes);
	aim_hmap_free(&l->names);
	pthread_rwlock_destroy(&l->lock);
	free(l);
	*pl = NULL;
}

/*
 * Walk path, creating directories for all but the last component; returns
 * the parent inode of the last component and points *last at it.
 */
static int walk_dirs(struct aim_layout *l, const char *path, int64_t mtime,
		     uint64_t *parent, const char **last)
{
	uint64_t cur = 1;
	const char *p = path;
	char comp[256];

	for (;;) {
		const char *slash = strchr(p, '/');
		if (slash == NULL)
			break;
		size_t n = (size_t)(slash - p);
		if (n == 0 || n >= sizeof(comp))
			return -EINVAL;
		memcpy(comp, p, n);
		comp[n] = '\0';
		struct node *c = aim_hmap_get(l->names, cur, comp);
		if (c == NULL)
			c = node_new(l, cur, comp, S_IFDIR | 0555, mtime);
		if (c == NULL)
			return -ENOMEM;
		if (!S_ISDIR(c->mode))
			return -EEXIST;
		cur = c->ino;
		p = slash + 1;
	}
	if (*p == '\0')
		return -EINVAL;
	*parent = cur;
	*last = p;
	return 0;
}

static int add_leaf(struct aim_layout *l, const char *path, mode_t mode,
		    struct aim_file *file, const char *target, int is_data,
		    uint64_t size, int64_t mtime)
{
	uint64_t parent;
	const char *last;
	struct node *n;
	char *t = NULL;
	int rc;

	if (target && (t = strdup(target)) == NULL)
		return -ENOMEM;
	pthread_rwlock_wrlock(&l->lock);
	rc = walk_dirs(l, path, mtime, &parent, &last);
	if (rc == 0 && aim_hmap_get(l->names, parent, last))
		rc = -EEXIST;
	if (rc == 0) {
		n = node_new(l, parent, last, mode, mtime);
		if (n == NULL) {
			rc = -ENOMEM;
		} else {
			n->file = file;
			n->size = size;
			n->target = t;
			n->is_data = is_data;
			t = NULL;
		}
	}
	pthread_rwlock_unlock(&l->lock);
	free(t);
	return rc;
}

int aim_layout_add_dir(struct aim_layout *l, const char *path, int hidden,
		       int64_t mtime)
{
	uint64_t parent;
	const char *last;
	struct node *n;
	int rc;

	pthread_rwlock_wrlock(&l->lock);
	rc = walk_dirs(l, path, mtime, &parent, &last);
	if (rc == 0) {
		n = aim_hmap_get(l->names, parent, last);
		if (n && !S_ISDIR(n->mode)) {
			rc = -EEXIST;
		} else if (n == NULL) {
			n = node_new(l, parent, last, S_IFDIR | 0555, mtime);
			if (n == NULL)
				rc = -ENOMEM;
			else
				n->hidden = hidden;
		}
	}
	pthread_rwlock_unlock(&l->lock);
	return rc;
}

int aim_layout_path(struct aim_layout *l, uint64_t ino, char *buf, size_t len)
{
	struct node *chain[PATH_MAX / 2];
	size_t depth = 0, used = 0;
	int rc = 0;

	pthread_rwlock_rdlock(&l->lock);
	struct node *n = ino >= 1 && ino <= l->nnodes ? l->nodes[ino - 1] : NULL;
	if (n == NULL)
		rc = -ENOENT;
	for (; n && n->parent && depth < AIM_LEN(chain);
	     n = l->nodes[n->parent - 1])
		chain[depth++] = n;
	if (len == 0)
		rc = -ERANGE;
	else
		buf[0] = '\0';
	while (rc == 0 && depth > 0) {
		struct node *c = chain[--depth];
		size_t nl = strlen(c->name);
		if (used + nl + 2 > len) {
			rc = -ERANGE;
			break;
		}
		if (used)
			buf[used++] = '/';
		memcpy(buf + used, c->name, nl + 1);
		used += nl;
	}
	pthread_rwlock_unlock(&l->lock);
	return rc;
}

ssize_t aim_layout_read_data(struct aim_layout *l, uint64_t ino, void *buf,
			     size_t size, uint64_t off)
{
	ssize_t rc = -EINVAL;

	pthread_rwlock_rdlock(&l->lock);
	struct node *n = ino >= 1 && ino <= l->nnodes ? l->nodes[ino - 1] : NULL;
	if (n && n->is_data) {
		size_t len = (size_t)n->size;
		if (off >= len) {
			rc = 0;
		} else {
			if (size > len - off)
				size = len - (size_t)off;
			memcpy(buf, n->target + off, size);
			rc = (ssize_t)size;
		}
	}
	pthread_rwlock_unlock(&l->lock);
	return rc;
}

int aim_layout_add_file(struct aim_layout *l, const char *path,
			struct aim_file *file, uint64_t size, int64_t mtime)
{
	return add_leaf(l, path, S_IFREG | 0444, file, NULL, 0, size, mtime);
}

int aim_layout_add_data(struct aim_layout *l, const char *path,
			const char *data, size_t len, int64_t mtime)
{
	char *copy = strndup(data, len);
	int rc;

	if (copy == NULL)
		return -ENOMEM;
	rc = add_leaf(l, path, S_IFREG | 0444, NULL, copy, 1, len, mtime);
	free(copy);
	return rc;
}

int aim_layout_add_link(struct aim_layout *l, const char *path,
			const char *target, int64_t mtime)
{
	return add_leaf(l, path, S_IFLNK | 0777, NULL, target, 0, strlen(target),
			mtime);
}

static struct node *resolve_path(struct aim_layout *l, const char *path)
{
	uint64_t cur = 1;
	const char *p = path;
	char comp[256];
	struct node *n = l->nodes[0];

	while (*p) {
		size_t len = strcspn(p, "/");
		if (len == 0 || len >= sizeof(comp))
			return NULL;
		memcpy(comp, p, len);
		comp[len] = '\0';
		n = aim_hmap_get(l->names, cur, comp);
		if (n == NULL)
			return NULL;
		cur = n->ino;
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

void aim_layout_set_inval(struct aim_layout *l,
			  void (*fn)(void *arg, uint64_t parent,
				     const char *name),
			  void *arg)
{
	pthread_rwlock_wrlock(&l->lock);
	l->inval = fn;
	l->inval_arg = arg;
	pthread_rwlock_unlock(&l->lock);
}

int aim_layout_remove(struct aim_layout *l, const char *path)
{
	struct node *n, *p;
	uint64_t parent = 0;
	const char *name = NULL;

	pthread_rwlock_wrlock(&l->lock);
	n = resolve_path(l, path);
	if (n && n->parent) {
		p = l->nodes[n->parent - 1];
		aim_hmap_del(l->names, p->ino, n->name);
		for (size_t i = 0; i < p->nchildren; i++) {
			if (p->children[i] != n->ino)
				continue;
			memmove(&p->children[i], &p->children[i + 1],
				(p->nchildren - i - 1) * sizeof(*p->children));
			p->nchildren--;
			break;
		}
		if (S_ISDIR(n->mode))
			p->nsubdirs--;
		parent = p->ino;
		name = n->name; /* the node is never freed: stays valid */
	}
	void (*fn)(void *, uint64_t, const char *) = l->inval;
	void *arg = l->inval_arg;
	pthread_rwlock_unlock(&l->lock);
	if (parent == 0)
		return -ENOENT;
	if (fn)
		fn(arg, parent, name);
	return 0;
}

int aim_layout_exists(struct aim_layout *l, const char *path)
{
	int found;

	pthread_rwlock_rdlock(&l->lock);
	found = resolve_path(l, path) != NULL;
	pthread_rwlock_unlock(&l->lock);
	return found;
}

static void fill_attr(const struct node *n, struct aim_attr *a)
{
	a->ino = n->ino;
	a->mode = n->mode;
	a->size = S_ISDIR(n->mode) ? 4096 : n->size;
	a->mtime = n->mtime;
	a->nlink = S_ISDIR(n->mode) ? 2 + n->nsubdirs : 1;
}

static struct node *get(struct aim_layout *l, uint64_t ino)
{
	return ino >= 1 && ino <= l->nnodes ? l->nodes[ino - 1] : NULL;
}

int aim_layout_lookup(struct aim_layout *l, uint64_t parent, const char *name,
		      struct aim_attr *out)
{
	struct node *p, *n = NULL;
	int rc = -ENOENT;

	pthread_rwlock_rdlock(&l->lock);
	p = get(l, parent);
	if (p == NULL)
		rc = -ENOENT;
	else if (!S_ISDIR(p->mode))
		rc = -ENOTDIR;
	else if ((n = aim_hmap_get(l->names, parent, name)) != NULL) {
		fill_attr(n, out);
		rc = 0;
	}
	pthread_rwlock_unlock(&l->lock);
	return rc;
}

int aim_layout_getattr(struct aim_layout *l, uint64_t ino,
		       struct aim_attr *out)
{
	struct node *n;

	pthread_rwlock_rdlock(&l->lock);
	n = get(l, ino);
	if (n)
		fill_attr(n, out);
	pthread_rwlock_unlock(&l->lock);
	return n ? 0 : -ENOENT;
}

int aim_layout_file(struct aim_layout *l, uint64_t ino, struct aim_file **out)
{
	struct node *n;
	int rc;

	pthread_rwlock_rdlock(&l->lock);
	n = get(l, ino);
	if (n == NULL)
		rc = -ENOENT;
	else if (S_ISDIR(n->mode))
		rc = -EISDIR;
	else if (n->file == NULL)
		rc = -EINVAL;
	else {
		*out = n->file;
		rc = 0;
	}
	pthread_rwlock_unlock(&l->lock);
	return rc;
}

int aim_layout_readlink(struct aim_layout *l, uint64_t ino, char *buf,
			size_t len)
{
	struct node *n;
	int rc = -EINVAL;

	pthread_rwlock_rdlock(&l->lock);
	n = get(l, ino);
	if (n == NULL)
		rc = -ENOENT;
	else if (S_ISLNK(n->mode) && strlen(n->target) < len) {
		strcpy(buf, n->target);
		rc = 0;
	}
	pthread_rwlock_unlock(&l->lock);
	return rc;
}

int aim_layout_readdir(struct aim_layout *l, uint64_t ino, uint64_t off,
		       int (*cb)(void *arg, const char *name,
				 const struct aim_attr *attr, uint64_t next),
		       void *arg)
{
	struct node *d;
	struct aim_attr a;
	int rc = 0;

	pthread_rwlock_rdlock(&l->lock);
	d = get(l, ino);
	if (d == NULL || !S_ISDIR(d->mode)) {
		rc = d ? -ENOTDIR : -ENOENT;
		goto out;
	}
	for (uint64_t i = off; i < d->nchildren + 2; i++) {
		const char *name;
		struct node *n;
		if (i == 0) {
			n = d;
			name = ".";
		} else if (i == 1) {
			n = get(l, d->parent ? d->parent : 1);
			name = "..";
		} else {
			n = get(l, d->children[i - 2]);
			name = n->name;
			if (n->hidden)
				continue;
		}
		fill_attr(n, &a);
		if (cb(arg, name, &a, i + 1))
			break;
	}
out:
	pthread_rwlock_unlock(&l->lock);
	return rc;
}
