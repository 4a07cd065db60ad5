/*
 * hmap.c - see hmap.h. FNV-1a over the key, linear probing, grows at 70%.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"

struct slot {
	uint64_t hash; /* 0: empty */
	uint64_t k1;
	const char *k2;
	void *val;
};

struct aim_hmap {
	struct slot *slots;
	size_t cap; /* a power of two */
	size_t count;
};

static uint64_t hash_key(uint64_t k1, const char *k2)
{
	uint64_t h = 1469598103934665603ULL;

	for (int i = 0; i < 8; i++) {
		h ^= (k1 >> (8 * i)) & 0xff;
		h *= 1099511628211ULL;
	}
	for (const unsigned char *p = (const unsigned char *)k2; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

struct aim_hmap *aim_hmap_new(void)
{
	struct aim_hmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

void aim_hmap_free(struct aim_hmap **pm)
{
	if (*pm == NULL)
		return;
	free((*pm)->slots);
	free(*pm);
	*pm = NULL;
}

static struct slot *find(const struct aim_hmap *m, uint64_t h, uint64_t k1,
			 const char *k2)
{
	size_t i = h & (m->cap - 1);

	for (;;) {
		struct slot *s = &m->slots[i];
		if (s->hash == 0 ||
		    (s->hash == h && s->k1 == k1 && strcmp(s->k2, k2) == 0))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

void *aim_hmap_get(const struct aim_hmap *m, uint64_t k1, const char *k2)
{
	struct slot *s = find(m, hash_key(k1, k2), k1, k2);

	return s->hash ? s->val : NULL;
}

static int grow(struct aim_hmap *m)
{
	struct aim_hmap n = { calloc(m->cap * 2, sizeof(struct slot)),
			      m->cap * 2, m->count };

	if (n.slots == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		struct slot *s = &m->slots[i];
		if (s->hash)
			*find(&n, s->hash, s->k1, s->k2) = *s;
	}
	free(m->slots);
	*m = n;
	return 0;
}

int aim_hmap_put(struct aim_hmap *m, uint64_t k1, const char *k2, void *val)
{
	uint64_t h = hash_key(k1, k2);
	struct slot *s;

	if ((m->count + 1) * 10 > m->cap * 7 && grow(m) < 0)
		return -ENOMEM;
	s = find(m, h, k1, k2);
	if (s->hash == 0)
		m->count++;
	s->hash = h;
	s->k1 = k1;
	s->k2 = k2;
	s->val = val;
	return 0;
}

void aim_hmap_del(struct aim_hmap *m, uint64_t k1, const char *k2)
{
	struct slot *s = find(m, hash_key(k1, k2), k1, k2);

	if (s->hash)
		s->val = NULL;
}

size_t aim_hmap_count(const struct aim_hmap *m)
{
	return m->count;
}
