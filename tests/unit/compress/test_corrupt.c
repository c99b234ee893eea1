/* Corrupt input: truncations and garbage give -EBADMSG; bit flips give -EBADMSG or
 * some output, and never a write past dst_cap. */
#include "dataplane/compress/compress.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "testdata.h"

#define GUARD 64u

static const enum fnl_codec codecs[] = {FNL_CODEC_GZIP, FNL_CODEC_SNAPPY, FNL_CODEC_LZ4,
                                        FNL_CODEC_ZSTD};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

static uint8_t src[100000], comp[120000], bad[120000], out[100000 + GUARD];

static void check_guard(size_t cap)
{
	for (size_t i = 0; i < GUARD; i++)
		CHECK_EQ(out[cap + i], 0xa5);
}

static long decode(struct fnl_compressor *c, enum fnl_codec codec, size_t len, size_t cap)
{
	memset(out, 0xa5, cap + GUARD);
	long r = fnl_decompress(c, codec, bad, len, out, cap);
	check_guard(cap);
	return r;
}

/* Every strict prefix of a valid stream is truncated: -EBADMSG. (A snappy prefix
 * that ends exactly on an xerial block boundary is itself a valid stream.) */
static void test_truncation(struct fnl_compressor *c, enum fnl_codec codec, size_t clen)
{
	memcpy(bad, comp, clen);
	size_t step = clen > 3000 ? 7 : 1;
	for (size_t len = 1; len < clen; len += step) {
		long r = decode(c, codec, len, sizeof(src));
		if (codec == FNL_CODEC_SNAPPY && r >= 0)
			continue;
		if (r != -EBADMSG)
			fprintf(stderr, "%s prefix %zu/%zu -> %ld\n", fnl_codec_name(codec), len,
			        clen, r);
		CHECK_EQ(r, -EBADMSG);
	}
}

static void test_flips(struct fnl_compressor *c, enum fnl_codec codec, size_t clen, uint64_t seed)
{
	uint64_t x = seed | 1;
	int bad_count = 0;
	for (int i = 0; i < 3000; i++) {
		memcpy(bad, comp, clen);
		int flips = 1 + (int)(td_rand(&x) % 4);
		for (int f = 0; f < flips; f++) {
			size_t pos = td_rand(&x) % clen;
			bad[pos] ^= (uint8_t)(1u << (td_rand(&x) % 8));
		}
		size_t cap = (td_rand(&x) & 1) ? sizeof(src) : td_rand(&x) % sizeof(src);
		long r = decode(c, codec, clen, cap);
		CHECK(r >= 0 || r == -EBADMSG || r == -ENOSPC);
		CHECK(r < 0 || (size_t)r <= cap);
		bad_count += r == -EBADMSG;
	}
	printf("%-6s bit flips: %d/3000 rejected\n", fnl_codec_name(codec), bad_count);
	CHECK(bad_count > 0);
}

static void test_garbage(struct fnl_compressor *c, enum fnl_codec codec)
{
	for (uint64_t seed = 1; seed < 300; seed++) {
		size_t len = 1 + (size_t)(seed * 7919) % 5000;
		td_noise(bad, len, seed);
		long r = decode(c, codec, len, sizeof(src));
		/* random bytes may by chance be a valid raw snappy block */
		if (codec == FNL_CODEC_SNAPPY && r >= 0)
			continue;
		CHECK_EQ(r, -EBADMSG);
	}
	/* a valid magic followed by garbage */
	const uint8_t *heads[] = {(const uint8_t *)"\x1f\x8b\x08\x00",
	                          (const uint8_t *)"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01",
	                          (const uint8_t *)"\x04\x22\x4d\x18",
	                          (const uint8_t *)"\x28\xb5\x2f\xfd"};
	size_t head_len[] = {4, 16, 4, 4};
	size_t k = (size_t)codec - 1;
	for (uint64_t seed = 1; seed < 300; seed++) {
		size_t len = head_len[k] + (size_t)(seed * 31) % 300;
		td_noise(bad, len, seed);
		memcpy(bad, heads[k], head_len[k]);
		long r = decode(c, codec, len, sizeof(src));
		if (r != -EBADMSG)
			fprintf(stderr, "%s magic+garbage seed %llu -> %ld\n",
			        fnl_codec_name(codec), (unsigned long long)seed, r);
		CHECK_EQ(r, -EBADMSG);
	}
}

int main(void)
{
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c);
	td_json_like(src, sizeof(src), 1234);
	for (size_t k = 0; k < NCODECS; k++) {
		long clen = fnl_compress(c, codecs[k], 0, src, sizeof(src), comp, sizeof(comp));
		CHECK(clen > 0);
		test_truncation(c, codecs[k], (size_t)clen);
		test_flips(c, codecs[k], (size_t)clen, k + 1);
		test_garbage(c, codecs[k]);
		/* the compressor still works after all that */
		memcpy(bad, comp, (size_t)clen);
		CHECK_EQ(decode(c, codecs[k], (size_t)clen, sizeof(src)), (long)sizeof(src));
		CHECK_MEM(out, src, sizeof(src));
	}
	fnl_compressor_free(c);
	printf("ok\n");
	return 0;
}
