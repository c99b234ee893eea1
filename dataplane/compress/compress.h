/* compress.h - batch compression codecs with the framings Kafka's Java client writes.
 *
 * One struct fnl_compressor per data-plane core, made at start-up. It owns every
 * codec context and one scratch buffer, so compressing or decompressing a batch
 * never allocates (zstd may grow its workspace the first time a larger batch or
 * level is seen; it never shrinks below that again in steady state).
 *
 *   struct fnl_compressor
 *   +-----------------+------------------+--------------------+-----------------+
 *   | ZSTD_CCtx/DCtx  | z_stream def/inf | LZ4F cctx / dctx   | scratch (~80 K) |
 *   +-----------------+------------------+--------------------+-----------------+
 *
 * Wire framings (byte-compatible with the Java producer and consumer):
 *
 *   gzip    one RFC 1952 member (decoder also takes concatenated members)
 *   snappy  xerial snappy-java stream:
 *             +----------------------------+---------+---------+
 *             | 82 'S' 'N' 'A' 'P' 'P' 'Y' 00 | be32 1 | be32 1 |  16-byte header
 *             +----------------------------+---------+---------+
 *             then repeated [be32 compressed_len][raw snappy block of <= 32 KiB input]
 *           the decoder also takes plain raw snappy (no xerial header)
 *   lz4     LZ4 frame (KIP-57): 64 KiB max blocks, independent blocks,
 *           no content size, no content checksum, correct header checksum
 *   zstd    one zstd frame with the content size (decoder also takes frames
 *           without content size, concatenated frames and skippable frames)
 *
 * Levels: 0 means the codec's default for every codec. gzip: -1 or 0..9
 * (0 = default, not "stored"); zstd: ZSTD_minCLevel()..ZSTD_maxCLevel();
 * lz4: 0..17 (1-2 fast, 3+ high compression, values above 12 act as 12);
 * snappy and none ignore the level.
 *
 * Invariants: the decoders never write past dst_cap and never read past
 * src_len; any input that is not a valid stream gives -EBADMSG (a decoder may
 * report -ENOSPC instead when the stream claims more output than dst_cap).
 * A compressor is used by one thread at a time.
 */
#ifndef FNL_COMPRESS_H
#define FNL_COMPRESS_H

#include <stddef.h>

enum fnl_codec {
	FNL_CODEC_NONE = 0,
	FNL_CODEC_GZIP = 1,
	FNL_CODEC_SNAPPY = 2,
	FNL_CODEC_LZ4 = 3,
	FNL_CODEC_ZSTD = 4,
};

/* zstd at level 1 looks for matches from this many bytes (zstd's own table: 6 for inputs
 * up to 128 KB). RecordBatch records repeat short runs (the per-record varints) that 6
 * misses: on 64 KiB batches of unique 100-byte records, 5 compresses random hex 1.906:1
 * instead of 1.849:1 (level 3: 1.900) and JSON log lines about as well (4.99 vs 4.97),
 * at ~10% more zstd CPU on hex (docs/architecture.md, "Compression: level and cores"). */
#define FNL_ZSTD_L1_MIN_MATCH 5

/* One per core, allocated at start-up: reused ZSTD_CCtx/DCtx, z_streams, lz4 contexts. */
struct fnl_compressor;

/* Returns NULL when out of memory. */
struct fnl_compressor *fnl_compressor_new(void);
/* NULL is a no-op. */
void fnl_compressor_free(struct fnl_compressor *c);

/* Worst-case fnl_compress() output for src_len input bytes; 0 for a bad codec or
 * a src_len so large the bound would overflow. */
size_t fnl_compress_bound(enum fnl_codec codec, size_t src_len);

/* Return bytes written to dst, or -errno: -ENOSPC dst too small, -EINVAL bad
 * codec/level or src_len too large, -EBADMSG corrupt input (decompress only),
 * -ENOMEM a codec library ran out of memory. */
long fnl_compress(struct fnl_compressor *c, enum fnl_codec codec, int level, const void *src,
                  size_t src_len, void *dst, size_t dst_cap);
long fnl_decompress(struct fnl_compressor *c, enum fnl_codec codec, const void *src, size_t src_len,
                    void *dst, size_t dst_cap);

/* Parse "none|gzip|snappy|lz4|zstd" (exact, lower case) -> codec, or -EINVAL. */
int fnl_codec_parse(const char *name);
/* Name of a codec, or "unknown". */
const char *fnl_codec_name(enum fnl_codec codec);

#endif
