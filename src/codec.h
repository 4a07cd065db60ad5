/*
 * codec.h - lz4 blocks in the store.
 *
 * A block is fetched into its slot of the blob's sparse file raw. When
 * compression pays, it is rewritten in place as an lz4 block: a header and
 * the block's 64 KiB chunks compressed one by one (lz4's window is 64 KiB,
 * so independent chunks lose almost nothing, and a read decompresses only
 * the chunks it covers). The rest of the slot is punched out, so the saving
 * is real disk space. A chunk lz4 cannot shrink is kept as it is.
 *
 *   "AZ4\1"  u32 raw length  u32 nchunks  u32 size[nchunks]  chunk data
 *
 * (little-endian; the top bit of a size marks a chunk stored raw). The
 * block's checksum in the index covers the uncompressed bytes, so a
 * damaged compressed block fails its check like a raw one; a header or a
 * chunk that does not decode is -EBADMSG, never bytes.
 *
 * Only this module and export.c include lz4 headers. Stateless and
 * thread-safe; memory use is a few chunks, whatever the block size.
 */
#ifndef AIM_CODEC_H
#define AIM_CODEC_H

#include <stddef.h>
#include <stdint.h>

enum aim_codec {
	AIM_CODEC_RAW = 0,
	AIM_CODEC_LZ4 = 1,
};

/* compress= */
enum aim_compress {
	AIM_COMPRESS_AUTO = 0, /* lz4 when it saves compress_min_saving */
	AIM_COMPRESS_LZ4,      /* lz4 whenever it saves anything */
	AIM_COMPRESS_OFF,
};

#define AIM_CODEC_CHUNK (64u << 10)

/*
 * Hash the raw block [off, off + len) of fd (SHA-256 into sum) and, when
 * packed is not NULL, find in the same pass how long it would be stored as
 * an lz4 block (*packed; len or more when it does not shrink).
 */
int aim_codec_scan(int fd, uint64_t off, uint32_t len, unsigned char sum[32],
		   uint32_t *packed);

/*
 * Rewrite the raw block at off in place as an lz4 block of exactly packed
 * bytes (as found by aim_codec_scan) and punch out the rest of the slot.
 * Not synced. On failure the slot holds neither form: drop the block.
 */
int aim_codec_pack(int fd, uint64_t off, uint32_t len, uint32_t packed);

/*
 * Copy n bytes from offset from of the uncompressed block (len bytes)
 * stored as an lz4 block of stored bytes at off into buf. -EBADMSG when
 * the stored bytes do not decode.
 */
int aim_codec_read(int fd, uint64_t off, uint32_t stored, uint32_t len,
		   uint32_t from, void *buf, size_t n);

/* would a block of len bytes stored in packed bytes be kept compressed? */
int aim_codec_pays(enum aim_compress mode, double min_saving, uint32_t len,
		   uint32_t packed);

#endif
