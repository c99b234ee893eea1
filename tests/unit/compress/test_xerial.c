/* snappy-java (xerial) framing: exact header bytes, 32 KiB input blocks, and
 * decoding of streams built by hand and of plain raw snappy. */
#include "dataplane/compress/compress.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <snappy-c.h>

#include "check.h"
#include "testdata.h"

static const uint8_t header[16] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint8_t src[100000], comp[130000], out[100000];

/* Our output: header, then blocks that each decode to 32 KiB except the last. */
static void test_layout(struct fnl_compressor *c)
{
	long n = fnl_compress(c, FNL_CODEC_SNAPPY, 0, src, sizeof(src), comp, sizeof(comp));
	CHECK(n > 16);
	CHECK_MEM(comp, header, sizeof(header));
	size_t pos = 16, total = 0;
	int blocks = 0;
	while (pos < (size_t)n) {
		uint32_t len = be32(comp + pos);
		pos += 4;
		CHECK(len <= (size_t)n - pos);
		size_t ulen;
		CHECK_EQ(snappy_uncompressed_length((const char *)comp + pos, len, &ulen),
		         SNAPPY_OK);
		size_t expect = sizeof(src) - total < 32768 ? sizeof(src) - total : 32768;
		CHECK_EQ(ulen, expect);
		size_t got = sizeof(out) - total;
		CHECK_EQ(
		    snappy_uncompress((const char *)comp + pos, len, (char *)out + total, &got),
		    SNAPPY_OK);
		total += got;
		pos += len;
		blocks++;
	}
	CHECK_EQ(pos, (size_t)n);
	CHECK_EQ(total, sizeof(src));
	CHECK_EQ(blocks, 4); /* 100000 = 3 * 32768 + 1696 */
	CHECK_MEM(out, src, sizeof(src));

	n = fnl_compress(c, FNL_CODEC_SNAPPY, 0, src, 0, comp, sizeof(comp));
	CHECK_EQ(n, 16);
	CHECK_MEM(comp, header, sizeof(header));
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, comp, 16, out, sizeof(out)), 0);
}

/* A raw snappy block made of one literal, written byte by byte (no library). */
static size_t literal_block(uint8_t *p, const char *text)
{
	size_t len = strlen(text);
	CHECK(len >= 1 && len <= 60);
	p[0] = (uint8_t)len;              /* varint uncompressed length */
	p[1] = (uint8_t)((len - 1) << 2); /* literal tag, length - 1 in the upper 6 bits */
	memcpy(p + 2, text, len);
	return len + 2;
}

static void test_hand_built(struct fnl_compressor *c)
{
	uint8_t s[256];
	size_t pos = 0;
	memcpy(s, header, sizeof(header));
	pos += sizeof(header);
	const char *parts[] = {"hello, ", "kafka ", "world"};
	for (int i = 0; i < 3; i++) {
		size_t len = literal_block(s + pos + 4, parts[i]);
		put_be32(s + pos, (uint32_t)len);
		pos += 4 + len;
	}
	long r = fnl_decompress(c, FNL_CODEC_SNAPPY, s, pos, out, sizeof(out));
	CHECK_EQ(r, 18);
	CHECK_MEM(out, "hello, kafka world", 18);
	/* exactly enough room, then one byte short */
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, s, pos, out, 18), 18);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, s, pos, out, 17), -ENOSPC);

	/* concatenated xerial streams: a second header between blocks is skipped */
	uint8_t two[512];
	memcpy(two, s, pos);
	memcpy(two + pos, s, pos);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, two, 2 * pos, out, sizeof(out)), 36);
	CHECK_MEM(out + 18, "hello, kafka world", 18);

	/* block length past the end, zero-length block, short length field */
	put_be32(s + 16, 1000);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, s, pos, out, sizeof(out)), -EBADMSG);
	put_be32(s + 16, 0);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, s, pos, out, sizeof(out)), -EBADMSG);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, s, 18, out, sizeof(out)), -EBADMSG);

	/* Blocks made by the snappy library directly (as snappy-java would). */
	pos = 16;
	memcpy(comp, header, 16);
	for (size_t off = 0; off < sizeof(src); off += 10000) {
		size_t blen = sizeof(comp) - pos - 4;
		CHECK_EQ(
		    snappy_compress((const char *)src + off, 10000, (char *)comp + pos + 4, &blen),
		    SNAPPY_OK);
		put_be32(comp + pos, (uint32_t)blen);
		pos += 4 + blen;
	}
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, comp, pos, out, sizeof(out)),
	         (long)sizeof(src));
	CHECK_MEM(out, src, sizeof(src));
}

/* Plain raw snappy without the xerial header, as librdkafka and Java accept. */
static void test_raw(struct fnl_compressor *c)
{
	size_t n = sizeof(comp);
	CHECK_EQ(snappy_compress((const char *)src, sizeof(src), (char *)comp, &n), SNAPPY_OK);
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, comp, n, out, sizeof(out)), (long)sizeof(src));
	CHECK_MEM(out, src, sizeof(src));
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, comp, n, out, sizeof(out) - 1), -ENOSPC);
	uint8_t lit[16];
	size_t len = literal_block(lit, "x");
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, lit, len, out, sizeof(out)), 1);
	CHECK_EQ(out[0], 'x');
	CHECK_EQ(fnl_decompress(c, FNL_CODEC_SNAPPY, lit, len - 1, out, sizeof(out)), -EBADMSG);
}

int main(void)
{
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c);
	td_json_like(src, sizeof(src), 77);
	test_layout(c);
	test_hand_built(c);
	test_raw(c);
	fnl_compressor_free(c);
	printf("ok\n");
	return 0;
}
