/*
 * fuzz-lz4.c - libFuzzer target: lz4 blocks as the store keeps them. The
 * input is read back as a stored block (whatever it holds, the answer is
 * bytes or -EBADMSG, never a crash or a read past the input), and packed
 * as a raw block, which must read back exactly.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "src/codec.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-lz4", 0);
	unsigned char sum[32];
	uint32_t packed;
	char *buf;

	if (fd < 0 || size < 12 || size > (1u << 20)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	/* as a stored lz4 block of some length */
	uint32_t len = get32(data) % (300u << 10) + 1;
	uint32_t from = get32(data + 4) % len;
	uint32_t n = get32(data + 8) % (len - from) + 1;
	const uint8_t *stored = data + 12;
	size_t slen = size - 12;
	if ((buf = malloc(len)) != NULL &&
	    pwrite(fd, stored, slen, 0) == (ssize_t)slen)
		aim_codec_read(fd, 0, (uint32_t)slen, len, from, buf, n);
	free(buf);
	/* as a raw block: packed in place, it must read back exactly */
	if (ftruncate(fd, 0) == 0 && pwrite(fd, data, size, 0) == (ssize_t)size &&
	    aim_codec_scan(fd, 0, (uint32_t)size, sum, &packed) == 0 &&
	    packed < size && aim_codec_pack(fd, 0, (uint32_t)size, packed) == 0) {
		buf = malloc(size);
		if (buf == NULL ||
		    aim_codec_read(fd, 0, packed, (uint32_t)size, 0, buf, size) !=
			    0 ||
		    memcmp(buf, data, size) != 0)
			abort();
		free(buf);
	}
	close(fd);
	return 0;
}
