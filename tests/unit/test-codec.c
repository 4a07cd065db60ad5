/* test-codec.c - lz4 blocks packed in place and read back in parts */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "unit.h"
#include "src/codec.h"
#include "src/store.h"

/* a block that compresses: runs of text with random bytes between */
static void fill(char *p, size_t n, unsigned seed, int random_only)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = random_only || (i / 512) % 5 == 0 ?
			       (char)(seed >> 16) :
			       "{\"token\": \"abc\", \"id\": 1}, "[i % 28];
	}
}

static int open_tmp(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/blob", unit_tmpdir());
	return open(path, O_RDWR | O_CREAT, 0600);
}

/* pack a block in its slot, read every kind of range back */
static void roundtrip_len(uint32_t len)
{
	uint64_t off = 3ULL << 20; /* a slot past a hole */
	char *raw = malloc(len), *got = malloc(len);
	unsigned char sum[32], sum2[32], want[32];
	uint32_t packed = 0;
	struct stat st;
	int fd = open_tmp();

	CHECK(fd >= 0 && raw && got);
	if (fd < 0 || !raw || !got)
		goto out;
	fill(raw, len, len, 0);
	SHA256((unsigned char *)raw, len, want);
	CHECK(pwrite(fd, raw, len, (off_t)off) == (ssize_t)len);
	CHECK(aim_codec_scan(fd, off, len, sum, &packed) == 0);
	CHECK(memcmp(sum, want, 32) == 0);
	CHECK(packed < len / 2);
	CHECK(aim_codec_scan(fd, off, len, sum2, NULL) == 0 &&
	      memcmp(sum2, want, 32) == 0);
	CHECK(aim_codec_pack(fd, off, len, packed) == 0);
	/* the slot's tail is a hole now */
	CHECK(fstat(fd, &st) == 0 &&
	      (uint64_t)st.st_blocks * 512 <= packed + 8192);
	/* whole, chunk-aligned, straddling chunks, one byte, the tail */
	uint32_t cases[][2] = { { 0, len },
				{ 0, 1 },
				{ 65536 - 3, 7 },
				{ 1000, len - 2000 },
				{ len - 1, 1 },
				{ len / 2, len - len / 2 } };
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint32_t from = cases[k][0], n = cases[k][1];
		if (from + n > len || n == 0)
			continue;
		memset(got, 0, len);
		CHECK(aim_codec_read(fd, off, packed, len, from, got, n) == 0);
		CHECK(memcmp(got, raw + from, n) == 0);
	}
	/* a bit flipped in the data: an error or different bytes, the
	 * checksum over the whole block tells */
	char byte;
	CHECK(pread(fd, &byte, 1, (off_t)(off + packed / 2)) == 1);
	byte ^= 0x10;
	CHECK(pwrite(fd, &byte, 1, (off_t)(off + packed / 2)) == 1);
	int rc = aim_codec_read(fd, off, packed, len, 0, got, len);
	unsigned char bad[32];
	SHA256((unsigned char *)got, len, bad);
	CHECK(rc == -EBADMSG || memcmp(bad, want, 32) != 0);
	/* a damaged header is refused, not decoded */
	CHECK(pwrite(fd, "XXXX", 4, (off_t)off) == 4);
	CHECK(aim_codec_read(fd, off, packed, len, 0, got, len) == -EBADMSG);
	/* a length that does not match the header is refused */
	CHECK(aim_codec_read(fd, off, packed, len + 1, 0, got, 10) ==
	      -EBADMSG);
out:
	if (fd >= 0)
		close(fd);
	free(raw);
	free(got);
}

static void roundtrip(void)
{
	roundtrip_len(4u << 20);
	roundtrip_len((1u << 20) + 12345); /* a short last chunk */
	roundtrip_len(70000);
}

/* random bytes never pay; mode off and thresholds */
static void pays(void)
{
	uint32_t len = 1u << 20, packed = 0;
	char *raw = malloc(len);
	unsigned char sum[32];
	int fd = open_tmp();

	CHECK(fd >= 0 && raw);
	if (fd < 0 || !raw)
		goto out;
	fill(raw, len, 7, 1);
	CHECK(pwrite(fd, raw, len, 0) == (ssize_t)len);
	CHECK(aim_codec_scan(fd, 0, len, sum, &packed) == 0);
	CHECK(packed == len);
	CHECK(!aim_codec_pays(AIM_COMPRESS_AUTO, 0.125, len, packed));
	CHECK(!aim_codec_pays(AIM_COMPRESS_LZ4, 0.125, len, packed));
	CHECK(aim_codec_pack(fd, 0, len, packed) == -EINVAL);
	CHECK(aim_codec_pays(AIM_COMPRESS_AUTO, 0.125, 800, 700));
	CHECK(!aim_codec_pays(AIM_COMPRESS_AUTO, 0.125, 800, 701));
	CHECK(aim_codec_pays(AIM_COMPRESS_LZ4, 0.125, 800, 799));
	CHECK(!aim_codec_pays(AIM_COMPRESS_OFF, 0.125, 800, 1));
out:
	if (fd >= 0)
		close(fd);
	free(raw);
}

const struct unit_test codec_tests[] = {
	{ "codec: pack in place, read back any range, refuse damage", roundtrip },
	{ "codec: random bytes are left raw; compress modes", pays },
	{ NULL, NULL },
};
