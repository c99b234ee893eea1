/* test_wire.c - primitives: varint edge cases, strings, arrays, sticky errors, tag skipping. */
#include <errno.h>
#include <stdint.h>

#include "check.h"
#include "dataplane/kafka/wire.h"

static void check_varint(int32_t v, const uint8_t *want, size_t want_len)
{
	uint8_t buf[16];
	struct fnl_wbuf w;
	struct fnl_rbuf r;

	fnl_wbuf_init(&w, buf, sizeof(buf));
	fnl_w_varint(&w, v);
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len, want_len);
	CHECK_EQ(fnl_varint_size(v), want_len);
	CHECK_MEM(buf, want, want_len);
	fnl_rbuf_init(&r, buf, w.len);
	CHECK_EQ(fnl_r_varint(&r), v);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(r.off, want_len);
}

static void check_varlong(int64_t v, size_t want_len)
{
	uint8_t buf[16];
	struct fnl_wbuf w;
	struct fnl_rbuf r;

	fnl_wbuf_init(&w, buf, sizeof(buf));
	fnl_w_varlong(&w, v);
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len, want_len);
	CHECK_EQ(fnl_varlong_size(v), want_len);
	fnl_rbuf_init(&r, buf, w.len);
	CHECK(fnl_r_varlong(&r) == v);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(r.off, want_len);
	/* every truncation fails */
	for (size_t n = 0; n < want_len; n++) {
		fnl_rbuf_init(&r, buf, n);
		(void)fnl_r_varlong(&r);
		CHECK_EQ(r.err, -EBADMSG);
	}
}

static void test_varints(void)
{
	/* zigzag: 0->0, -1->1, 1->2, 150->300 (0xac 0x02), 300 -> 600 = 0xd8 0x04 */
	check_varint(0, (const uint8_t[]){0x00}, 1);
	check_varint(-1, (const uint8_t[]){0x01}, 1);
	check_varint(1, (const uint8_t[]){0x02}, 1);
	check_varint(-64, (const uint8_t[]){0x7f}, 1);
	check_varint(64, (const uint8_t[]){0x80, 0x01}, 2);
	check_varint(300, (const uint8_t[]){0xd8, 0x04}, 2);
	check_varint(INT32_MAX, (const uint8_t[]){0xfe, 0xff, 0xff, 0xff, 0x0f}, 5);
	check_varint(INT32_MIN, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0x0f}, 5);
	check_varlong(0, 1);
	check_varlong(-1, 1);
	check_varlong(1, 1);
	check_varlong(300, 2);
	check_varlong(INT64_MAX, 10);
	check_varlong(INT64_MIN, 10);
	check_varlong((int64_t)1 << 40, 6);

	/* unsigned varint 300 = 0xac 0x02 */
	uint8_t buf[16];
	struct fnl_wbuf w;
	fnl_wbuf_init(&w, buf, sizeof(buf));
	fnl_w_uvarint(&w, 300);
	CHECK_EQ(w.len, 2);
	CHECK_EQ(buf[0], 0xac);
	CHECK_EQ(buf[1], 0x02);
	fnl_wbuf_init(&w, buf, sizeof(buf));
	fnl_w_uvarint(&w, UINT32_MAX);
	CHECK_EQ(w.len, 5);
	struct fnl_rbuf r;
	fnl_rbuf_init(&r, buf, w.len);
	CHECK(fnl_r_uvarint(&r) == UINT32_MAX);
	CHECK_EQ(r.err, 0);

	/* over-long: 6-byte varint, 11-byte varlong, 5-byte varint with bits above 32 */
	const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	fnl_rbuf_init(&r, six, sizeof(six));
	(void)fnl_r_varint(&r);
	CHECK_EQ(r.err, -EBADMSG);
	const uint8_t wide[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
	fnl_rbuf_init(&r, wide, sizeof(wide));
	(void)fnl_r_uvarint(&r);
	CHECK_EQ(r.err, -EBADMSG);
	const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
	fnl_rbuf_init(&r, eleven, sizeof(eleven));
	(void)fnl_r_varlong(&r);
	CHECK_EQ(r.err, -EBADMSG);
	/* ten bytes is fine for varlong */
	fnl_rbuf_init(&r, eleven + 1, 10);
	CHECK_EQ(fnl_r_varlong(&r), 0);
	CHECK_EQ(r.err, 0);
}

static void test_fixed_and_sticky(void)
{
	uint8_t buf[15];
	struct fnl_wbuf w;
	fnl_wbuf_init(&w, buf, sizeof(buf));
	fnl_w_i8(&w, -2);
	fnl_w_i16(&w, 0x1234);
	fnl_w_i32(&w, -3);
	fnl_w_i64(&w, 0x0102030405060708LL);
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len, 15);
	const uint8_t want[] = {0xfe, 0x12, 0x34, 0xff, 0xff, 0xff, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8};
	CHECK_MEM(buf, want, 15);
	fnl_w_i8(&w, 1); /* overflow: sticky, len unchanged */
	CHECK_EQ(w.err, -ENOSPC);
	CHECK_EQ(w.len, 15);
	fnl_w_i8(&w, 1);
	CHECK_EQ(w.err, -ENOSPC);

	struct fnl_rbuf r;
	fnl_rbuf_init(&r, buf, sizeof(buf));
	CHECK_EQ(fnl_r_i8(&r), -2);
	CHECK_EQ(fnl_r_i16(&r), 0x1234);
	CHECK_EQ(fnl_r_i32(&r), -3);
	CHECK_EQ(fnl_r_i64(&r), 0x0102030405060708LL);
	CHECK_EQ(fnl_r_i8(&r), 0);
	CHECK_EQ(r.err, -EBADMSG);
	CHECK_EQ(r.off, 15);
	fnl_rbuf_init(&r, buf, 5);
	(void)fnl_r_i32(&r);
	CHECK_EQ(fnl_r_i16(&r), 0); /* would pass len */
	CHECK_EQ(r.err, -EBADMSG);
	CHECK_EQ(fnl_r_i8(&r), 0); /* sticky, even though one byte is left */
	CHECK_EQ(r.off, 4);

	uint8_t b8[8];
	fnl_put_be16(b8, 0xabcd);
	CHECK_EQ(fnl_get_be16(b8), 0xabcd);
	fnl_put_be32(b8, 0xdeadbeef);
	CHECK_EQ(fnl_get_be32(b8), 0xdeadbeef);
	fnl_put_be64(b8, 0x1122334455667788ULL);
	CHECK(fnl_get_be64(b8) == 0x1122334455667788ULL);
}

static void test_strings(void)
{
	uint8_t buf[64];
	struct fnl_wbuf w;
	fnl_wbuf_init(&w, buf, sizeof(buf));
	fnl_w_string(&w, "ab", 2);          /* 00 02 'a' 'b' */
	fnl_w_nstring(&w, NULL, 0);         /* ff ff */
	fnl_w_compact_string(&w, "xyz", 3); /* 04 'x' 'y' 'z' */
	fnl_w_compact_nstring(&w, NULL, 0); /* 00 */
	fnl_w_bytes(&w, "q", 1);            /* 00 00 00 01 'q' */
	fnl_w_bytes(&w, NULL, 0);           /* ff ff ff ff */
	fnl_w_compact_bytes(&w, "", 0);     /* 01 */
	fnl_w_array_len(&w, -1);            /* ff ff ff ff */
	fnl_w_compact_array_len(&w, -1);    /* 00 */
	fnl_w_compact_array_len(&w, 2);     /* 03 */
	fnl_w_tags_empty(&w);               /* 00 */
	fnl_w_u32(&w, 0x80000000u);         /* 80 00 00 00 */
	const uint8_t want[] = {0x00, 0x02, 'a',  'b',  0xff, 0xff, 0x04, 'x',  'y',  'z',  0x00,
	                        0x00, 0x00, 0x00, 0x01, 'q',  0xff, 0xff, 0xff, 0xff, 0x01, 0xff,
	                        0xff, 0xff, 0xff, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x00};
	CHECK_EQ(w.err, 0);
	CHECK_EQ(w.len, sizeof(want));
	CHECK_MEM(buf, want, sizeof(want));

	struct fnl_rbuf r;
	const char *s;
	const uint8_t *b;
	int32_t len;
	fnl_rbuf_init(&r, buf, w.len);
	CHECK(fnl_r_string(&r, &s, &len) != NULL);
	CHECK_EQ(len, 2);
	CHECK_MEM(s, "ab", 2);
	CHECK(fnl_r_string(&r, &s, &len) == NULL);
	CHECK_EQ(len, -1);
	CHECK(fnl_r_compact_string(&r, &s, &len) != NULL);
	CHECK_EQ(len, 3);
	CHECK_MEM(s, "xyz", 3);
	CHECK(fnl_r_compact_string(&r, &s, &len) == NULL);
	CHECK_EQ(len, -1);
	CHECK(fnl_r_bytes(&r, &b, &len) != NULL);
	CHECK_EQ(len, 1);
	CHECK_EQ(b[0], 'q');
	CHECK(fnl_r_bytes(&r, &b, &len) == NULL);
	CHECK_EQ(len, -1);
	CHECK(fnl_r_compact_bytes(&r, &b, &len) != NULL);
	CHECK_EQ(len, 0);
	CHECK_EQ(fnl_r_array_len(&r), -1);
	CHECK_EQ(fnl_r_compact_array_len(&r), -1);
	CHECK_EQ(fnl_r_compact_array_len(&r), 2);
	fnl_r_tags_skip(&r);
	CHECK_EQ(fnl_r_i32(&r), INT32_MIN);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(r.off, w.len);

	/* string longer than the input; negative lengths other than -1 */
	const uint8_t bad1[] = {0x00, 0x05, 'a'};
	fnl_rbuf_init(&r, bad1, sizeof(bad1));
	CHECK(fnl_r_string(&r, &s, &len) == NULL);
	CHECK_EQ(r.err, -EBADMSG);
	const uint8_t bad2[] = {0xff, 0xfe};
	fnl_rbuf_init(&r, bad2, sizeof(bad2));
	CHECK(fnl_r_string(&r, &s, &len) == NULL);
	CHECK_EQ(r.err, -EBADMSG);
	const uint8_t bad3[] = {0xff, 0xff, 0xff, 0xfe};
	fnl_rbuf_init(&r, bad3, sizeof(bad3));
	CHECK_EQ(fnl_r_array_len(&r), 0);
	CHECK_EQ(r.err, -EBADMSG);
	/* compact array count 2^32-1 (> INT32_MAX + 1) */
	const uint8_t bad4[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
	fnl_rbuf_init(&r, bad4, sizeof(bad4));
	CHECK_EQ(fnl_r_compact_array_len(&r), 0);
	CHECK_EQ(r.err, -EBADMSG);
	/* count plausibility */
	const uint8_t huge[] = {0x7f, 0xff, 0xff, 0xff, 0, 0};
	fnl_rbuf_init(&r, huge, sizeof(huge));
	int32_t n = fnl_r_array_len(&r);
	CHECK_EQ(n, INT32_MAX);
	CHECK(!fnl_r_count_ok(&r, n, 1));
	CHECK_EQ(r.err, -EBADMSG);
	/* writer rejects a string too long for int16 */
	fnl_wbuf_init(&w, buf, sizeof(buf));
	fnl_w_string(&w, (const char *)buf, 40000);
	CHECK_EQ(w.err, -EINVAL);
}

static void test_tags(void)
{
	/* two tagged fields: tag 0 size 2 (aa bb), tag 5 size 0 */
	const uint8_t t[] = {0x02, 0x00, 0x02, 0xaa, 0xbb, 0x05, 0x00, 0x77};
	struct fnl_rbuf r;
	fnl_rbuf_init(&r, t, sizeof(t));
	fnl_r_tags_skip(&r);
	CHECK_EQ(r.err, 0);
	CHECK_EQ(r.off, 7);
	for (size_t n = 0; n < 7; n++) {
		fnl_rbuf_init(&r, t, n);
		fnl_r_tags_skip(&r);
		CHECK_EQ(r.err, -EBADMSG);
	}
	/* huge tag count with little input terminates with an error */
	const uint8_t h[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00, 0x00};
	fnl_rbuf_init(&r, h, sizeof(h));
	fnl_r_tags_skip(&r);
	CHECK_EQ(r.err, -EBADMSG);
}

int main(void)
{
	test_varints();
	test_fixed_and_sticky();
	test_strings();
	test_tags();
	return 0;
}
