/* compress.c - gzip, snappy (xerial), lz4 (frame) and zstd with reused contexts.
 * Layout and invariants: see compress.h.
 */
#include "dataplane/compress/compress.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#define SNAPPY_BLOCK_BYTES  (32u * 1024u) /* snappy-java's default block size */
#define XERIAL_HEADER_BYTES 16u
#define LZ4_LEVEL_MAX       17 /* Kafka's compression.lz4.level range; LZ4F clamps to 12 */

static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0x00};

struct fnl_compressor {
	ZSTD_CCtx *zc;
	ZSTD_DCtx *zd;
	int zstd_level; /* level currently set on zc */
	z_stream def;
	z_stream inf;
	bool def_ready;
	bool inf_ready;
	int gzip_level; /* level currently set on def, zlib's meaning (-1 = default) */
	LZ4F_cctx *lc;
	LZ4F_dctx *ld;
	size_t scratch_cap; /* >= one lz4 block bound, one snappy block bound, one lz4 header */
	uint8_t *scratch;
};

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- zstd ---------------------------------------------------------------------------------- */

static long zstd_errno(size_t r)
{
	switch (ZSTD_getErrorCode(r)) {
	case ZSTD_error_dstSize_tooSmall:
		return -ENOSPC;
	case ZSTD_error_memory_allocation:
		return -ENOMEM;
	case ZSTD_error_parameter_unsupported:
	case ZSTD_error_parameter_outOfBound:
	case ZSTD_error_srcSize_wrong:
		return -EINVAL;
	default:
		return -EBADMSG;
	}
}

static long zstd_compress(struct fnl_compressor *c, int level, const void *src, size_t src_len,
                          void *dst, size_t dst_cap)
{
	if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
		return -EINVAL;
	if (level != c->zstd_level) {
		size_t r = ZSTD_CCtx_setParameter(c->zc, ZSTD_c_compressionLevel, level);
		if (ZSTD_isError(r))
			return -EINVAL;
		/* funnel's level 1: zstd's fast strategy with matches from 5 bytes (its table
		 * says 6 for inputs up to 128 KB); 0 = the level's own at the others */
		r = ZSTD_CCtx_setParameter(c->zc, ZSTD_c_minMatch,
		                           level == 1 ? FNL_ZSTD_L1_MIN_MATCH : 0);
		if (ZSTD_isError(r))
			return -EINVAL;
		c->zstd_level = level;
	}
	size_t r = ZSTD_compress2(c->zc, dst, dst_cap, src, src_len);
	if (ZSTD_isError(r))
		return zstd_errno(r);
	return (long)r;
}

/* Whether src is a sequence of structurally complete frames (block headers and
 * sizes only; contents unchecked). */
static bool zstd_frames_complete(const uint8_t *src, size_t src_len)
{
	for (size_t off = 0; off < src_len;) {
		size_t n = ZSTD_findFrameCompressedSize(src + off, src_len - off);
		if (ZSTD_isError(n) || n == 0)
			return false;
		off += n;
	}
	return true;
}

/* Single-pass decoding straight into dst: handles frames with or without a content
 * size, concatenated and skippable frames, and needs no window buffer. */
static long zstd_decompress(struct fnl_compressor *c, const void *src, size_t src_len, void *dst,
                            size_t dst_cap)
{
	size_t r = ZSTD_decompressDCtx(c->zd, dst, dst_cap, src, src_len);
	if (ZSTD_isError(r)) {
		long e = zstd_errno(r);
		if (e == -ENOSPC && !zstd_frames_complete(src, src_len))
			return -EBADMSG; /* a garbage header claimed a huge size */
		return e == -EINVAL ? -EBADMSG : e;
	}
	return (long)r;
}

/* ---- gzip ---------------------------------------------------------------------------------- */

static long gzip_compress(struct fnl_compressor *c, int level, const void *src, size_t src_len,
                          void *dst, size_t dst_cap)
{
	if (level == 0)
		level = Z_DEFAULT_COMPRESSION;
	if (level < -1 || level > 9 || src_len > UINT_MAX)
		return -EINVAL;
	z_stream *s = &c->def;
	if (deflateReset(s) != Z_OK)
		return -EINVAL;
	if (level != c->gzip_level) {
		/* On a freshly reset stream this only switches tables; it emits nothing. */
		if (deflateParams(s, level, Z_DEFAULT_STRATEGY) != Z_OK)
			return -EINVAL;
		c->gzip_level = level;
	}
	s->next_in = (Bytef *)(uintptr_t)src;
	s->avail_in = (uInt)src_len;
	s->next_out = dst;
	s->avail_out = (uInt)min_size(dst_cap, UINT_MAX);
	int r = deflate(s, Z_FINISH);
	if (r == Z_STREAM_END)
		return (long)s->total_out;
	if (r == Z_OK || r == Z_BUF_ERROR)
		return -ENOSPC;
	return -EINVAL;
}

/* Stuck with dst full: -ENOSPC if the stream has more output, else -EBADMSG
 * (e.g. only the trailer is missing). The stream is abandoned afterwards. */
static long gzip_probe(z_stream *s)
{
	uint8_t probe;
	s->next_out = &probe;
	s->avail_out = 1;
	inflate(s, Z_NO_FLUSH);
	return s->avail_out == 0 ? -ENOSPC : -EBADMSG;
}

/* Decodes one or more concatenated gzip members, like java.util.zip.GZIPInputStream. */
static long gzip_decompress(struct fnl_compressor *c, const void *src, size_t src_len, void *dst,
                            size_t dst_cap)
{
	if (src_len > UINT_MAX)
		return -EINVAL;
	z_stream *s = &c->inf;
	uInt cap = (uInt)min_size(dst_cap, UINT_MAX);
	if (inflateReset(s) != Z_OK)
		return -EINVAL;
	s->next_in = (Bytef *)(uintptr_t)src;
	s->avail_in = (uInt)src_len;
	s->next_out = dst;
	s->avail_out = cap;
	for (;;) {
		uInt in0 = s->avail_in, out0 = s->avail_out;
		int r = inflate(s, Z_NO_FLUSH);
		if (r == Z_STREAM_END) {
			if (s->avail_in == 0)
				return (long)(cap - s->avail_out);
			if (inflateReset(s) != Z_OK) /* next member; keeps next_in/next_out */
				return -EINVAL;
			continue;
		}
		if (r == Z_MEM_ERROR)
			return -ENOMEM;
		if (r != Z_OK && r != Z_BUF_ERROR)
			return -EBADMSG;
		if (s->avail_in == in0 && s->avail_out == out0)
			return s->avail_out == 0 ? gzip_probe(s) : -EBADMSG; /* truncated */
	}
}

/* ---- lz4 frame ----------------------------------------------------------------------------- */

static void lz4_prefs(LZ4F_preferences_t *p, int level)
{
	memset(p, 0, sizeof(*p));
	p->frameInfo.blockSizeID = LZ4F_max64KB;
	p->frameInfo.blockMode = LZ4F_blockIndependent;
	p->frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
	p->frameInfo.frameType = LZ4F_frame;
	p->frameInfo.contentSize = 0;
	p->frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
	p->compressionLevel = level;
	p->autoFlush = 1; /* every update emits whole blocks: no internal staging buffer */
}

enum lz4_step { LZ4_BEGIN, LZ4_UPDATE, LZ4_END };

/* One LZ4F call. LZ4F refuses to start unless dst has its worst-case bound free, so
 * when dst is nearly full the step goes through scratch and is copied if it fits. */
static long lz4_step(struct fnl_compressor *c, enum lz4_step step, const LZ4F_preferences_t *p,
                     const uint8_t *in, size_t in_len, uint8_t *dst, size_t dst_cap, size_t *pos)
{
	size_t room = dst_cap - *pos;
	size_t bound = step == LZ4_BEGIN ? LZ4F_HEADER_SIZE_MAX : LZ4F_compressBound(in_len, p);
	bool direct = room >= bound;
	uint8_t *out = direct ? dst + *pos : c->scratch;
	size_t out_cap = direct ? room : c->scratch_cap;
	size_t r;

	if (step == LZ4_BEGIN)
		r = LZ4F_compressBegin(c->lc, out, out_cap, p);
	else if (step == LZ4_UPDATE)
		r = LZ4F_compressUpdate(c->lc, out, out_cap, in, in_len, NULL);
	else
		r = LZ4F_compressEnd(c->lc, out, out_cap, NULL);
	if (LZ4F_isError(r))
		return -EINVAL;
	if (!direct) {
		if (r > room)
			return -ENOSPC;
		memcpy(dst + *pos, c->scratch, r);
	}
	*pos += r;
	return 0;
}

static long lz4_compress(struct fnl_compressor *c, int level, const void *src, size_t src_len,
                         void *dst, size_t dst_cap)
{
	if (level < 0 || level > LZ4_LEVEL_MAX)
		return -EINVAL;
	LZ4F_preferences_t prefs;
	lz4_prefs(&prefs, level);
	const uint8_t *in = src;
	size_t pos = 0;
	long r = lz4_step(c, LZ4_BEGIN, &prefs, NULL, 0, dst, dst_cap, &pos);
	for (size_t off = 0; r == 0 && off < src_len;) {
		size_t n = min_size(src_len - off, 64 * 1024);
		r = lz4_step(c, LZ4_UPDATE, &prefs, in + off, n, dst, dst_cap, &pos);
		off += n;
	}
	if (r == 0)
		r = lz4_step(c, LZ4_END, &prefs, NULL, 0, dst, dst_cap, &pos);
	return r < 0 ? r : (long)pos;
}

/* Stuck with dst full: -ENOSPC if the frame has more output, else -EBADMSG. */
static long lz4_probe(struct fnl_compressor *c, const uint8_t *in, size_t in_len)
{
	uint8_t probe;
	size_t out_n = 1;
	size_t r = LZ4F_decompress(c->ld, &probe, &out_n, in, &in_len, NULL);
	return !LZ4F_isError(r) && out_n == 1 ? -ENOSPC : -EBADMSG;
}

/* Decodes one or more concatenated LZ4 frames (and skippable frames). */
static long lz4_decompress(struct fnl_compressor *c, const void *src, size_t src_len, void *dst,
                           size_t dst_cap)
{
	const uint8_t *in = src;
	uint8_t *out = dst;
	size_t in_pos = 0, out_pos = 0, hint = 1;

	LZ4F_resetDecompressionContext(c->ld);
	while (in_pos < src_len || hint != 0) {
		size_t in_n = src_len - in_pos, out_n = dst_cap - out_pos;
		hint = LZ4F_decompress(c->ld, out + out_pos, &out_n, in + in_pos, &in_n, NULL);
		if (LZ4F_isError(hint))
			return -EBADMSG;
		in_pos += in_n;
		out_pos += out_n;
		if (in_n == 0 && out_n == 0)
			return out_pos == dst_cap ? lz4_probe(c, in + in_pos, src_len - in_pos)
			                          : -EBADMSG; /* truncated */
	}
	return (long)out_pos;
}

/* ---- snappy (xerial framing) --------------------------------------------------------------- */

static long snappy_compress_xerial(struct fnl_compressor *c, const void *src, size_t src_len,
                                   void *dst, size_t dst_cap)
{
	const char *in = src;
	uint8_t *out = dst;
	if (dst_cap < XERIAL_HEADER_BYTES)
		return -ENOSPC;
	memcpy(out, xerial_magic, sizeof(xerial_magic));
	put_be32(out + 8, 1);  /* version */
	put_be32(out + 12, 1); /* minimum compatible version */
	size_t pos = XERIAL_HEADER_BYTES;
	for (size_t off = 0; off < src_len;) {
		size_t n = min_size(src_len - off, SNAPPY_BLOCK_BYTES);
		if (dst_cap - pos < 4)
			return -ENOSPC;
		size_t room = dst_cap - pos - 4;
		bool direct = room >= snappy_max_compressed_length(n);
		char *blk = direct ? (char *)out + pos + 4 : (char *)c->scratch;
		size_t blk_len = direct ? room : c->scratch_cap;
		if (snappy_compress(in + off, n, blk, &blk_len) != SNAPPY_OK)
			return -EINVAL;
		if (!direct) {
			if (blk_len > room)
				return -ENOSPC;
			memcpy(out + pos + 4, c->scratch, blk_len);
		}
		put_be32(out + pos, (uint32_t)blk_len);
		pos += 4 + blk_len;
		off += n;
	}
	return (long)pos;
}

/* Decodes one raw snappy block into dst + *out_pos. */
static long snappy_raw_block(const uint8_t *blk, size_t blk_len, uint8_t *dst, size_t dst_cap,
                             size_t *out_pos)
{
	size_t need;
	if (snappy_uncompressed_length((const char *)blk, blk_len, &need) != SNAPPY_OK)
		return -EBADMSG;
	size_t room = dst_cap - *out_pos;
	if (need > room) /* too big for dst, or corrupt: tell which */
		return snappy_validate_compressed_buffer((const char *)blk, blk_len) == SNAPPY_OK
		           ? -ENOSPC
		           : -EBADMSG;
	if (snappy_uncompress((const char *)blk, blk_len, (char *)dst + *out_pos, &room) !=
	    SNAPPY_OK)
		return -EBADMSG;
	*out_pos += room;
	return 0;
}

static bool is_xerial_header(const uint8_t *p, size_t len)
{
	return len >= XERIAL_HEADER_BYTES && memcmp(p, xerial_magic, sizeof(xerial_magic)) == 0;
}

/* xerial stream (header, then [be32 len][block]...; a repeated header is skipped as
 * snappy-java does for concatenated streams), else one raw snappy block. */
static long snappy_decompress_any(const void *src, size_t src_len, void *dst, size_t dst_cap)
{
	const uint8_t *in = src;
	size_t in_pos = 0, out_pos = 0;
	long r;

	if (!is_xerial_header(in, src_len)) {
		r = snappy_raw_block(in, src_len, dst, dst_cap, &out_pos);
		return r < 0 ? r : (long)out_pos;
	}
	while (in_pos < src_len) {
		if (is_xerial_header(in + in_pos, src_len - in_pos)) {
			in_pos += XERIAL_HEADER_BYTES;
			continue;
		}
		if (src_len - in_pos < 4)
			return -EBADMSG;
		uint32_t blk_len = get_be32(in + in_pos);
		in_pos += 4;
		if (blk_len > src_len - in_pos)
			return -EBADMSG;
		r = snappy_raw_block(in + in_pos, blk_len, dst, dst_cap, &out_pos);
		if (r < 0)
			return r;
		in_pos += blk_len;
	}
	return (long)out_pos;
}

/* ---- public -------------------------------------------------------------------------------- */

static size_t lz4_scratch_bytes(void)
{
	LZ4F_preferences_t prefs;
	lz4_prefs(&prefs, 0);
	size_t lz4 = LZ4F_compressBound(64 * 1024, &prefs);
	size_t snappy = snappy_max_compressed_length(SNAPPY_BLOCK_BYTES);
	size_t n = lz4 > snappy ? lz4 : snappy;
	return n > LZ4F_HEADER_SIZE_MAX ? n : LZ4F_HEADER_SIZE_MAX;
}

/* Make LZ4F allocate its high-compression state now rather than on a first HC call. */
static int lz4_prewarm(struct fnl_compressor *c)
{
	LZ4F_preferences_t prefs;
	lz4_prefs(&prefs, 9);
	size_t r = LZ4F_compressBegin(c->lc, c->scratch, c->scratch_cap, &prefs);
	return LZ4F_isError(r) ? -ENOMEM : 0;
}

static int compressor_init(struct fnl_compressor *c)
{
	c->zc = ZSTD_createCCtx();
	c->zd = ZSTD_createDCtx();
	if (!c->zc || !c->zd)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c->zc, ZSTD_c_contentSizeFlag, 1)))
		return -EINVAL;
	c->zstd_level = 0; /* zstd's own default (3), as set by a fresh context */
	if (deflateInit2(&c->def, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
	                 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	c->def_ready = true;
	c->gzip_level = Z_DEFAULT_COMPRESSION;
	if (inflateInit2(&c->inf, 15 + 16) != Z_OK)
		return -ENOMEM;
	c->inf_ready = true;
	if (LZ4F_isError(LZ4F_createCompressionContext(&c->lc, LZ4F_VERSION)) ||
	    LZ4F_isError(LZ4F_createDecompressionContext(&c->ld, LZ4F_VERSION)))
		return -ENOMEM;
	c->scratch_cap = lz4_scratch_bytes();
	c->scratch = malloc(c->scratch_cap);
	if (!c->scratch)
		return -ENOMEM;
	return lz4_prewarm(c);
}

struct fnl_compressor *fnl_compressor_new(void)
{
	struct fnl_compressor *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (compressor_init(c) < 0) {
		fnl_compressor_free(c);
		return NULL;
	}
	return c;
}

void fnl_compressor_free(struct fnl_compressor *c)
{
	if (!c)
		return;
	ZSTD_freeCCtx(c->zc);
	ZSTD_freeDCtx(c->zd);
	if (c->def_ready)
		deflateEnd(&c->def);
	if (c->inf_ready)
		inflateEnd(&c->inf);
	if (c->lc)
		LZ4F_freeCompressionContext(c->lc);
	if (c->ld)
		LZ4F_freeDecompressionContext(c->ld);
	free(c->scratch);
	free(c);
}

static size_t snappy_xerial_bound(size_t src_len)
{
	size_t full = src_len / SNAPPY_BLOCK_BYTES, rest = src_len % SNAPPY_BLOCK_BYTES;
	size_t per_full = 4 + snappy_max_compressed_length(SNAPPY_BLOCK_BYTES);
	size_t n = XERIAL_HEADER_BYTES + full * per_full;
	if (rest)
		n += 4 + snappy_max_compressed_length(rest);
	return n;
}

size_t fnl_compress_bound(enum fnl_codec codec, size_t src_len)
{
	LZ4F_preferences_t prefs;

	if (src_len > (SIZE_MAX >> 2))
		return 0;
	switch (codec) {
	case FNL_CODEC_NONE:
		return src_len;
	case FNL_CODEC_GZIP:
		/* compressBound() counts a 6-byte zlib wrapper; gzip's is 18 bytes. */
		return src_len > UINT_MAX ? 0 : compressBound((uLong)src_len) + 18;
	case FNL_CODEC_SNAPPY:
		return snappy_xerial_bound(src_len);
	case FNL_CODEC_LZ4:
		lz4_prefs(&prefs, 0);
		return LZ4F_compressFrameBound(src_len, &prefs);
	case FNL_CODEC_ZSTD:
		return ZSTD_compressBound(src_len);
	}
	return 0;
}

long fnl_compress(struct fnl_compressor *c, enum fnl_codec codec, int level, const void *src,
                  size_t src_len, void *dst, size_t dst_cap)
{
	static const uint8_t no_input;
	uint8_t no_output;

	if (!c || (!src && src_len) || (!dst && dst_cap) || src_len > (LONG_MAX >> 2))
		return -EINVAL;
	src = src ? src : &no_input;
	dst = dst ? dst : &no_output;
	dst_cap = min_size(dst_cap, LONG_MAX);
	switch (codec) {
	case FNL_CODEC_NONE:
		if (src_len > dst_cap)
			return -ENOSPC;
		memcpy(dst, src, src_len);
		return (long)src_len;
	case FNL_CODEC_GZIP:
		return gzip_compress(c, level, src, src_len, dst, dst_cap);
	case FNL_CODEC_SNAPPY:
		return snappy_compress_xerial(c, src, src_len, dst, dst_cap);
	case FNL_CODEC_LZ4:
		return lz4_compress(c, level, src, src_len, dst, dst_cap);
	case FNL_CODEC_ZSTD:
		return zstd_compress(c, level, src, src_len, dst, dst_cap);
	}
	return -EINVAL;
}

long fnl_decompress(struct fnl_compressor *c, enum fnl_codec codec, const void *src, size_t src_len,
                    void *dst, size_t dst_cap)
{
	static const uint8_t no_input;
	uint8_t no_output;

	if (!c || (!src && src_len) || (!dst && dst_cap) || src_len > (LONG_MAX >> 2))
		return -EINVAL;
	src = src ? src : &no_input;
	dst = dst ? dst : &no_output;
	dst_cap = min_size(dst_cap, LONG_MAX);
	if (codec == FNL_CODEC_NONE) {
		if (src_len > dst_cap)
			return -ENOSPC;
		memcpy(dst, src, src_len);
		return (long)src_len;
	}
	if (src_len == 0) /* no codec encodes anything, even "", as zero bytes */
		return (unsigned)codec <= FNL_CODEC_ZSTD ? -EBADMSG : -EINVAL;
	switch (codec) {
	case FNL_CODEC_GZIP:
		return gzip_decompress(c, src, src_len, dst, dst_cap);
	case FNL_CODEC_SNAPPY:
		return snappy_decompress_any(src, src_len, dst, dst_cap);
	case FNL_CODEC_LZ4:
		return lz4_decompress(c, src, src_len, dst, dst_cap);
	case FNL_CODEC_ZSTD:
		return zstd_decompress(c, src, src_len, dst, dst_cap);
	case FNL_CODEC_NONE:
		break;
	}
	return -EINVAL;
}

static const char *const codec_names[] = {
    [FNL_CODEC_NONE] = "none", [FNL_CODEC_GZIP] = "gzip", [FNL_CODEC_SNAPPY] = "snappy",
    [FNL_CODEC_LZ4] = "lz4",   [FNL_CODEC_ZSTD] = "zstd",
};

int fnl_codec_parse(const char *name)
{
	if (!name)
		return -EINVAL;
	for (int i = 0; i < (int)(sizeof(codec_names) / sizeof(codec_names[0])); i++)
		if (strcmp(name, codec_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *fnl_codec_name(enum fnl_codec codec)
{
	if ((unsigned)codec >= sizeof(codec_names) / sizeof(codec_names[0]))
		return "unknown";
	return codec_names[codec];
}
