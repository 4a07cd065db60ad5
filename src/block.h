/*
 * block.h - block arithmetic: a blob of size bytes is cut into fixed-size
 * blocks of bs bytes (a power of two); the last one may be shorter.
 */
#ifndef AIM_BLOCK_H
#define AIM_BLOCK_H

#include <stdint.h>

static inline uint32_t aim_block_count(uint64_t size, uint64_t bs)
{
	return (uint32_t)((size + bs - 1) / bs);
}

/* length of block i; 0 past the end */
static inline uint32_t aim_block_len(uint64_t size, uint64_t bs, uint32_t i)
{
	uint64_t off = (uint64_t)i * bs;

	if (off >= size)
		return 0;
	return (uint32_t)(size - off < bs ? size - off : bs);
}

/*
 * The blocks [*first, *last] a read of len bytes at off touches, after
 * clamping to size. Returns the clamped length (0: nothing to read).
 */
static inline uint64_t aim_block_span(uint64_t size, uint64_t bs, uint64_t off,
				      uint64_t len, uint32_t *first,
				      uint32_t *last)
{
	if (off >= size || len == 0)
		return 0;
	if (len > size - off)
		len = size - off;
	*first = (uint32_t)(off / bs);
	*last = (uint32_t)((off + len - 1) / bs);
	return len;
}

#endif
