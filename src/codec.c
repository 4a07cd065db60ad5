/*
 * codec.c - see codec.h.
 *
 * Packing in place with a few chunks of memory: the first pass (done with
 * the hash) only sizes the result. The second compresses again and writes
 * chunk k's output after reading chunk k + 1, so a write never reaches
 * input not yet read: output so far is at most header + (k + 1) chunks,
 * unread input starts at (k + 2) chunks, and the header is smaller than a
 * chunk. The header goes in last, over chunk 0's first bytes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lz4.h>
#include <openssl/evp.h>

#include "codec.h"
#include "store.h"

#define MAGIC "AZ4\1"
#define RAW_FLAG 0x80000000u
#define CHUNK AIM_CODEC_CHUNK
/* a chunk's compressed form never needs more than this */
#define CBOUND ((size_t)LZ4_COMPRESSBOUND(CHUNK))

static uint32_t nchunks(uint32_t len)
{
	return (uint32_t)(((uint64_t)len + CHUNK - 1) / CHUNK);
}

static uint32_t header_len(uint32_t len)
{
	return 12 + 4 * nchunks(len);
}

static uint32_t chunk_len(uint32_t len, uint32_t k)
{
	uint64_t start = (uint64_t)k * CHUNK;

	return len - start < CHUNK ? (uint32_t)(len - start) : CHUNK;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* compressed size of one chunk, or its raw size when lz4 cannot shrink it */
static uint32_t squeeze(const char *in, uint32_t n, char *out)
{
	int c = LZ4_compress_default(in, out, (int)n, (int)CBOUND);

	return c > 0 && (uint32_t)c < n ? (uint32_t)c : n | RAW_FLAG;
}

int aim_codec_scan(int fd, uint64_t off, uint32_t len, unsigned char sum[32],
		   uint32_t *packed)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *in = malloc(CHUNK), *out = packed ? malloc(CBOUND) : NULL;
	uint64_t total = header_len(len);
	unsigned int n32 = 32;
	int rc = 0;

	if (ctx == NULL || in == NULL || (packed && out == NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (uint32_t k = 0; k < nchunks(len) && rc == 0; k++) {
		uint32_t n = chunk_len(len, k);
		if ((rc = aim_store_get(fd, off + (uint64_t)k * CHUNK, in, n)) < 0)
			break;
		EVP_DigestUpdate(ctx, in, n);
		/* past the raw size: it cannot pay, stop compressing */
		if (out && total < len)
			total += squeeze(in, n, out) & ~RAW_FLAG;
	}
	if (rc == 0) {
		EVP_DigestFinal_ex(ctx, sum, &n32);
		if (packed)
			*packed = total < len ? (uint32_t)total : len;
	}
out:
	EVP_MD_CTX_free(ctx);
	free(in);
	free(out);
	return rc;
}

int aim_codec_pack(int fd, uint64_t off, uint32_t len, uint32_t packed)
{
	uint32_t n = nchunks(len), hlen = header_len(len);
	unsigned char *hdr = calloc(1, hlen);
	char *cur = malloc(CHUNK), *next = malloc(CHUNK), *out = malloc(CBOUND);
	uint64_t w = hlen;
	int rc = 0;

	if (hdr == NULL || cur == NULL || next == NULL || out == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (packed >= len || hlen > CHUNK) {
		rc = -EINVAL;
		goto out;
	}
	rc = aim_store_get(fd, off, cur, chunk_len(len, 0));
	for (uint32_t k = 0; k < n && rc == 0; k++) {
		uint32_t cn = chunk_len(len, k), s;
		/* read ahead one chunk before anything is written over it */
		if (k + 1 < n &&
		    (rc = aim_store_get(fd, off + (uint64_t)(k + 1) * CHUNK,
					next, chunk_len(len, k + 1))) < 0)
			break;
		s = squeeze(cur, cn, out);
		put32(hdr + 12 + 4 * k, s);
		s &= ~RAW_FLAG;
		if (w + s > packed) {
			rc = -EIO; /* not what the scan found: give up */
			break;
		}
		rc = aim_store_write(fd, off + w, s == cn ? cur : out, s);
		w += s;
		char *t = cur;
		cur = next;
		next = t;
	}
	if (rc == 0 && w != packed)
		rc = -EIO;
	if (rc == 0) {
		memcpy(hdr, MAGIC, 4);
		put32(hdr + 4, len);
		put32(hdr + 8, n);
		rc = aim_store_write(fd, off, hdr, hlen);
	}
	if (rc == 0) {
		/* the rest of the slot becomes a hole (whole pages only) */
		uint64_t start = (off + packed + 4095) & ~4095ULL;
		if (start < off + len &&
		    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)start, (off_t)(off + len - start)) < 0 &&
		    errno != EOPNOTSUPP)
			rc = -errno;
	}
out:
	free(hdr);
	free(cur);
	free(next);
	free(out);
	return rc;
}

int aim_codec_read(int fd, uint64_t off, uint32_t stored, uint32_t len,
		   uint32_t from, void *buf, size_t n)
{
	uint32_t nc = nchunks(len), hlen = header_len(len);
	unsigned char *hdr = NULL;
	char *src = NULL, *tmp = NULL, *dst = buf;
	uint64_t pos, span = 0;
	uint32_t k0, k1;
	int rc;

	if (n == 0)
		return 0;
	if ((uint64_t)from + n > len || hlen > stored)
		return -EBADMSG;
	k0 = from / CHUNK;
	k1 = (uint32_t)(((uint64_t)from + n - 1) / CHUNK);
	if ((hdr = malloc(hlen)) == NULL)
		return -ENOMEM;
	if ((rc = aim_store_get(fd, off, hdr, hlen)) < 0)
		goto out;
	rc = -EBADMSG;
	if (memcmp(hdr, MAGIC, 4) != 0 || get32(hdr + 4) != len ||
	    get32(hdr + 8) != nc)
		goto out;
	/* every size must be sane, and all of them must fit what is stored */
	pos = hlen;
	uint64_t start = 0;
	for (uint32_t k = 0; k < nc; k++) {
		uint32_t s = get32(hdr + 12 + 4 * k), size = s & ~RAW_FLAG;
		if ((s & RAW_FLAG) ? size != chunk_len(len, k) :
				     size == 0 || size > CBOUND)
			goto out;
		if (k == k0)
			start = pos;
		if (k >= k0 && k <= k1)
			span += size;
		pos += size;
	}
	if (pos > stored)
		goto out;
	src = malloc(span);
	tmp = malloc(CHUNK);
	if (src == NULL || tmp == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = aim_store_get(fd, off + start, src, span)) < 0)
		goto out;
	const char *p = src;
	for (uint32_t k = k0; k <= k1; k++) {
		uint32_t s = get32(hdr + 12 + 4 * k), size = s & ~RAW_FLAG;
		uint32_t cn = chunk_len(len, k);
		uint64_t cstart = (uint64_t)k * CHUNK;
		/* the part of this chunk the caller wants */
		uint64_t a = from > cstart ? from : cstart;
		uint64_t b = (uint64_t)from + n < cstart + cn ?
				     (uint64_t)from + n :
				     cstart + cn;
		char *whole = a == cstart && b == cstart + cn ?
				      dst + (cstart - from) :
				      tmp;
		if (s & RAW_FLAG)
			memcpy(whole, p, cn);
		else if (LZ4_decompress_safe(p, whole, (int)size, (int)cn) !=
			 (int)cn) {
			rc = -EBADMSG;
			goto out;
		}
		if (whole == tmp)
			memcpy(dst + (a - from), tmp + (a - cstart), b - a);
		p += size;
	}
	rc = 0;
out:
	free(hdr);
	free(src);
	free(tmp);
	return rc;
}

int aim_codec_pays(enum aim_compress mode, double min_saving, uint32_t len,
		   uint32_t packed)
{
	if (mode == AIM_COMPRESS_OFF || packed >= len)
		return 0;
	if (mode == AIM_COMPRESS_LZ4)
		return 1;
	return (double)(len - packed) >= min_saving * (double)len;
}
