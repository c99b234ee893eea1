/* Round trips for every codec and level over JSON-like, empty, 1-byte, 1 MiB and
 * incompressible inputs; -ENOSPC on short buffers without writing past them;
 * codec names; framing bytes the Java client expects. */
#include "dataplane/compress/compress.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "check.h"
#include "testdata.h"

#define MIB   (1024u * 1024u)
#define GUARD 64u

static const enum fnl_codec codecs[] = {FNL_CODEC_NONE, FNL_CODEC_GZIP, FNL_CODEC_SNAPPY,
                                        FNL_CODEC_LZ4, FNL_CODEC_ZSTD};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static uint8_t *comp_buf, *plain_buf;

static void check_guard(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(p[i], 0xa5);
}

/* Compress with a generous buffer, then decompress into exactly src_len bytes
 * (followed by guard bytes) and compare. Returns the compressed length. */
static long round_trip(struct fnl_compressor *c, enum fnl_codec codec, int level,
                       const uint8_t *src, size_t n)
{
	size_t bound = fnl_compress_bound(codec, n);
	CHECK(bound >= n || codec != FNL_CODEC_NONE);
	memset(comp_buf, 0xa5, bound + GUARD);
	long clen = fnl_compress(c, codec, level, src, n, comp_buf, bound);
	if (clen < 0)
		fprintf(stderr, "compress %s level %d n %zu: %ld\n", fnl_codec_name(codec), level,
		        n, clen);
	CHECK(clen >= 0);
	CHECK((size_t)clen <= bound);
	check_guard(comp_buf + bound, GUARD);

	memset(plain_buf, 0xa5, n + GUARD);
	long dlen = fnl_decompress(c, codec, comp_buf, (size_t)clen, plain_buf, n);
	if (dlen != (long)n)
		fprintf(stderr, "decompress %s n %zu: %ld\n", fnl_codec_name(codec), n, dlen);
	CHECK_EQ(dlen, (long)n);
	CHECK(n == 0 || memcmp(plain_buf, src, n) == 0);
	check_guard(plain_buf + n, GUARD);
	return clen;
}

static void test_inputs(struct fnl_compressor *c)
{
	uint8_t *json = malloc(MIB), *noise = malloc(MIB);
	CHECK(json && noise);
	td_json_like(json, MIB, 7);
	td_noise(noise, MIB, 11);
	const size_t sizes[] = {0, 1, 2, 100, 4095, 32767, 32768, 32769, 65536, 65537, 200000, MIB};
	for (size_t k = 0; k < NCODECS; k++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			round_trip(c, codecs[k], 0, json, sizes[i]);
			round_trip(c, codecs[k], 0, noise, sizes[i]);
		}
		long clen = round_trip(c, codecs[k], 0, json, MIB);
		if (codecs[k] != FNL_CODEC_NONE)
			CHECK(clen < (long)(MIB / 2)); /* JSON must actually compress */
		printf("%-6s 1 MiB json -> %ld bytes\n", fnl_codec_name(codecs[k]), clen);
	}
	free(json);
	free(noise);
}

static void test_levels(struct fnl_compressor *c)
{
	uint8_t buf[20000];
	td_json_like(buf, sizeof(buf), 3);
	const int gzip_levels[] = {-1, 0, 1, 5, 9, 1, -1};
	for (size_t i = 0; i < sizeof(gzip_levels) / sizeof(gzip_levels[0]); i++)
		round_trip(c, FNL_CODEC_GZIP, gzip_levels[i], buf, sizeof(buf));
	const int zstd_levels[] = {0, 1, 3, 19, -5, ZSTD_minCLevel(), ZSTD_maxCLevel(), 1};
	for (size_t i = 0; i < sizeof(zstd_levels) / sizeof(zstd_levels[0]); i++)
		round_trip(c, FNL_CODEC_ZSTD, zstd_levels[i], buf, sizeof(buf));
	const int lz4_levels[] = {0, 1, 3, 9, 12, 17, 0};
	for (size_t i = 0; i < sizeof(lz4_levels) / sizeof(lz4_levels[0]); i++)
		round_trip(c, FNL_CODEC_LZ4, lz4_levels[i], buf, sizeof(buf));

	uint8_t out[64];
	CHECK_EQ(fnl_compress(c, FNL_CODEC_GZIP, 10, buf, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_compress(c, FNL_CODEC_GZIP, -2, buf, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_compress(c, FNL_CODEC_ZSTD, ZSTD_maxCLevel() + 1, buf, 10, out, sizeof(out)),
	         -EINVAL);
	CHECK_EQ(fnl_compress(c, FNL_CODEC_LZ4, -1, buf, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_compress(c, FNL_CODEC_LZ4, 18, buf, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_compress(c, (enum fnl_codec)5, 0, buf, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_decompress(c, (enum fnl_codec)9, buf, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_compress(NULL, FNL_CODEC_ZSTD, 0, buf, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_compress(c, FNL_CODEC_ZSTD, 0, NULL, 10, out, sizeof(out)), -EINVAL);
	CHECK_EQ(fnl_compress(c, FNL_CODEC_ZSTD, 0, buf, 10, NULL, 10), -EINVAL);
	CHECK_EQ(fnl_compress_bound((enum fnl_codec)7, 10), 0);
}

/* Every dst_cap below the real output must give -ENOSPC and write nothing past it. */
static void test_enospc(struct fnl_compressor *c)
{
	static uint8_t src[70000], dst[130000 + GUARD], back[70000 + GUARD];
	td_json_like(src, sizeof(src), 5);
	const size_t lens[] = {0, 1, 300, sizeof(src)};
	for (size_t k = 0; k < NCODECS; k++) {
		for (size_t l = 0; l < sizeof(lens) / sizeof(lens[0]); l++) {
			size_t n = lens[l];
			long full = fnl_compress(c, codecs[k], 0, src, n, dst, sizeof(dst) - GUARD);
			CHECK(full >= 0);
			size_t step = full > 2000 ? 97 : 1;
			for (size_t cap = 0; cap < (size_t)full; cap += step) {
				memset(dst, 0xa5, cap + GUARD);
				CHECK_EQ(fnl_compress(c, codecs[k], 0, src, n, dst, cap), -ENOSPC);
				check_guard(dst + cap, GUARD);
			}
			/* zstd needs some headroom over its final size; the others do not */
			long again = fnl_compress(c, codecs[k], 0, src, n, dst, (size_t)full);
			if (codecs[k] == FNL_CODEC_ZSTD)
				CHECK(again == full || again == -ENOSPC);
			else
				CHECK_EQ(again, full);
			again = fnl_compress(c, codecs[k], 0, src, n, dst,
			                     fnl_compress_bound(codecs[k], n));
			CHECK_EQ(again, full);
			/* decompressing into less than the original size */
			for (size_t cap = 0; cap<n; cap += n> 2000 ? 101 : 1) {
				memset(back, 0xa5, cap + GUARD);
				CHECK_EQ(fnl_decompress(c, codecs[k], dst, (size_t)full, back, cap),
				         -ENOSPC);
				check_guard(back + cap, GUARD);
			}
			CHECK_EQ(fnl_decompress(c, codecs[k], dst, (size_t)full, back, n), (long)n);
			CHECK(n == 0 || memcmp(back, src, n) == 0);
		}
	}
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_ZSTD, dst, 0, back, 10), -EBADMSG);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_NONE, dst, 0, back, 10), 0);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_NONE, dst, 0, NULL, 0), 0);
}

static void test_names(void)
{
	for (size_t k = 0; k < NCODECS; k++)
		CHECK_EQ(fnl_codec_parse(fnl_codec_name(codecs[k])), codecs[k]);
	CHECK_EQ(fnl_codec_parse("zstd"), FNL_CODEC_ZSTD);
	CHECK_EQ(fnl_codec_parse("none"), FNL_CODEC_NONE);
	CHECK_EQ(fnl_codec_parse("ZSTD"), -EINVAL);
	CHECK_EQ(fnl_codec_parse("zst"), -EINVAL);
	CHECK_EQ(fnl_codec_parse(""), -EINVAL);
	CHECK_EQ(fnl_codec_parse(NULL), -EINVAL);
	CHECK(strcmp(fnl_codec_name((enum fnl_codec)42), "unknown") == 0);
	CHECK(strcmp(fnl_codec_name(FNL_CODEC_LZ4), "lz4") == 0);
}

/* The framing bytes Kafka's Java consumer checks. */
static void test_framing(struct fnl_compressor *c)
{
	uint8_t src[1000], dst[2000];
	td_json_like(src, sizeof(src), 9);

	long n = fnl_compress(c, FNL_CODEC_GZIP, 0, src, sizeof(src), dst, sizeof(dst));
	CHECK(n > 18);
	CHECK_EQ(dst[0], 0x1f);
	CHECK_EQ(dst[1], 0x8b);
	CHECK_EQ(dst[2], 8); /* deflate */

	n = fnl_compress(c, FNL_CODEC_LZ4, 0, src, sizeof(src), dst, sizeof(dst));
	CHECK(n > 7);
	static const uint8_t lz4_magic[4] = {0x04, 0x22, 0x4d, 0x18};
	CHECK_MEM(dst, lz4_magic, 4);
	CHECK_EQ(dst[4], 0x60); /* version 01, independent blocks, no checksums, no size */
	CHECK_EQ(dst[5], 0x40); /* 64 KiB max block */

	n = fnl_compress(c, FNL_CODEC_ZSTD, 0, src, sizeof(src), dst, sizeof(dst));
	CHECK(n > 4);
	static const uint8_t zstd_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	CHECK_MEM(dst, zstd_magic, 4);
	CHECK_EQ(ZSTD_getFrameContentSize(dst, (size_t)n), sizeof(src));
}

/* One compressor reused across many calls and codecs keeps working. */
static void test_reuse(struct fnl_compressor *c)
{
	uint8_t src[5000];
	for (int i = 0; i < 200; i++) {
		td_json_like(src, sizeof(src), (uint64_t)i + 100);
		size_t n = (size_t)(i * 37) % sizeof(src);
		round_trip(c, codecs[i % NCODECS], 0, src, n);
	}
}

int main(void)
{
	size_t bound = fnl_compress_bound(FNL_CODEC_SNAPPY, MIB);
	for (size_t k = 0; k < NCODECS; k++)
		if (fnl_compress_bound(codecs[k], MIB) > bound)
			bound = fnl_compress_bound(codecs[k], MIB);
	comp_buf = malloc(bound + GUARD);
	plain_buf = malloc(MIB + GUARD);
	CHECK(comp_buf && plain_buf);
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c);
	test_names();
	test_inputs(c);
	test_levels(c);
	test_enospc(c);
	test_framing(c);
	test_reuse(c);
	fnl_compressor_free(c);
	fnl_compressor_free(NULL);
	free(comp_buf);
	free(plain_buf);
	printf("ok\n");
	return 0;
}
