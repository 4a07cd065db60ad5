/*
 * hmap.h - an open-addressing hash map from (number, string) to a pointer.
 * The layout uses it for (parent inode, name) lookups and the cache for blob
 * keys. The key string is borrowed and must live as long as its entry.
 * Not thread-safe: callers lock.
 */
#ifndef AIM_HMAP_H
#define AIM_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct aim_hmap;

struct aim_hmap *aim_hmap_new(void);
void aim_hmap_free(struct aim_hmap **m);
void *aim_hmap_get(const struct aim_hmap *m, uint64_t k1, const char *k2);
/* insert or replace; 0 or -ENOMEM */
int aim_hmap_put(struct aim_hmap *m, uint64_t k1, const char *k2, void *val);
/* forget a key: later gets return NULL (the slot is reused by a put) */
void aim_hmap_del(struct aim_hmap *m, uint64_t k1, const char *k2);
size_t aim_hmap_count(const struct aim_hmap *m);

#endif
