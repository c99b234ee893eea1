/* test_recbatch.c - RecordBatch v2: encode -> decode round trips for every codec, record size
 * accounting, CRC corruption, producer rewrite, malformed input, hostile counts. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "dataplane/kafka/crc32c.h"
#include "dataplane/kafka/recbatch.h"
#include "dataplane/kafka/wire.h"

#define NREC 40

struct want {
	int64_t ts;
	char key[24];
	int32_t key_len; /* -1 null */
	char value[300];
	int32_t value_len; /* -1 null */
	int nh;
};

static struct want recs[NREC];
static const struct fnl_rb_header_kv hdrs[2] = {
    {"h1", 2, "v1", 2},
    {"h2", 2, NULL, -1},
};

static void make_records(void)
{
	for (int i = 0; i < NREC; i++) {
		struct want *w = &recs[i];
		w->ts = 1700000000000LL + i * 3 - (i == 5 ? 100 : 0); /* one earlier timestamp */
		if (i % 4 == 1) {
			w->key_len = -1;
		} else {
			w->key_len = (int32_t)snprintf(w->key, sizeof(w->key), "key-%d", i);
		}
		if (i % 7 == 3) {
			w->value_len = -1;
		} else if (i % 9 == 0) {
			w->value_len = 0;
		} else {
			w->value_len = 20 + i * 7;
			for (int j = 0; j < w->value_len; j++)
				w->value[j] = (char)('a' + (i + j) % 3);
		}
		w->nh = i % 3 == 0 ? 2 : (i % 3 == 1 ? 1 : 0);
	}
}

struct seen {
	int n;
	int64_t base_offset;
};

static int on_rec(void *ctx, const struct fnl_rb_meta *m, const struct fnl_rb_record *rec)
{
	struct seen *s = ctx;
	const struct want *w = &recs[s->n];
	(void)m;
	CHECK_EQ(rec->offset, s->base_offset + s->n);
	CHECK_EQ(rec->timestamp, w->ts);
	CHECK_EQ(rec->key_len, w->key_len);
	if (w->key_len < 0)
		CHECK(rec->key == NULL);
	else
		CHECK_MEM(rec->key, w->key, (size_t)w->key_len);
	CHECK_EQ(rec->value_len, w->value_len);
	if (w->value_len < 0)
		CHECK(rec->value == NULL);
	else if (w->value_len > 0)
		CHECK_MEM(rec->value, w->value, (size_t)w->value_len);
	CHECK_EQ(rec->header_count, w->nh);
	const uint8_t *hp = rec->headers;
	size_t left = rec->headers_len;
	struct fnl_rb_header_kv kv;
	for (int i = 0; i < w->nh; i++) {
		CHECK_EQ(fnl_rb_header_next(&hp, &left, &kv), 1);
		CHECK_EQ(kv.key_len, hdrs[i].key_len);
		CHECK_MEM(kv.key, hdrs[i].key, 2);
		CHECK_EQ(kv.value_len, hdrs[i].value_len);
		if (kv.value_len > 0)
			CHECK_MEM(kv.value, hdrs[i].value, 2);
		else
			CHECK(kv.value == NULL);
	}
	CHECK_EQ(fnl_rb_header_next(&hp, &left, &kv), 0);
	s->n++;
	return 0;
}

static uint8_t rawbuf[64 * 1024];
static uint8_t batch[128 * 1024];
static uint8_t scratch[128 * 1024];

/* Builds the records section with fnl_rbw; checks fnl_rb_record_size on the way. */
static size_t build_records(struct fnl_rbw *w, size_t cap)
{
	fnl_rbw_init(w, rawbuf, cap, recs[0].ts);
	for (int i = 0; i < NREC; i++) {
		const struct want *r = &recs[i];
		size_t before = w->len;
		size_t sz = fnl_rb_record_size(r->ts - recs[0].ts, i, r->key_len, r->value_len,
		                               hdrs, r->nh);
		int rc =
		    fnl_rbw_append(w, r->ts, r->key_len < 0 ? NULL : r->key, r->key_len,
		                   r->value_len < 0 ? NULL : r->value, r->value_len, hdrs, r->nh);
		if (rc == -ENOSPC) {
			CHECK_EQ(w->len, before); /* unchanged */
			CHECK(sz > cap - before);
			return w->len;
		}
		CHECK_EQ(rc, 0);
		CHECK_EQ(w->len - before, sz);
	}
	return w->len;
}

static long finish_batch(struct fnl_compressor *c, enum fnl_codec codec, const struct fnl_rbw *w)
{
	size_t rec_len = w->len;
	if (codec == FNL_CODEC_NONE) {
		memcpy(batch + FNL_RB_HEADER_BYTES, rawbuf, w->len);
	} else {
		long n = fnl_compress(c, codec, 0, rawbuf, w->len, batch + FNL_RB_HEADER_BYTES,
		                      sizeof(batch) - FNL_RB_HEADER_BYTES);
		CHECK(n > 0);
		rec_len = (size_t)n;
	}
	struct fnl_rb_meta m = {.base_offset = 0,
	                        .codec = (int16_t)codec,
	                        .producer_id = 1234,
	                        .producer_epoch = 3,
	                        .base_sequence = 77,
	                        .record_count = w->count,
	                        .base_ts = w->base_ts,
	                        .max_ts = w->max_ts};
	fnl_rb_write_header(batch, rec_len, &m);
	return (long)(FNL_RB_HEADER_BYTES + rec_len);
}

static void test_roundtrip(struct fnl_compressor *c, enum fnl_codec codec)
{
	struct fnl_rbw w;
	build_records(&w, sizeof(rawbuf));
	CHECK_EQ(w.count, NREC);
	CHECK_EQ(w.max_ts, recs[NREC - 1].ts);
	long blen = finish_batch(c, codec, &w);

	/* header fields */
	CHECK_EQ(fnl_get_be32(batch + 8), (uint32_t)blen - 12);
	CHECK_EQ(batch[16], 2);
	CHECK_EQ((int32_t)fnl_get_be32(batch + 12), -1);
	CHECK_EQ(fnl_get_be16(batch + 21), codec);
	CHECK_EQ(fnl_get_be32(batch + 23), NREC - 1);
	CHECK_EQ(fnl_get_be32(batch + 17), fnl_crc32c(0, batch + 21, (size_t)blen - 21));

	struct seen s = {0, 0};
	struct fnl_rb_meta m;
	CHECK_EQ(fnl_rb_decode(batch, (size_t)blen, c, scratch, sizeof(scratch), &m, on_rec, &s),
	         blen);
	CHECK_EQ(s.n, NREC);
	CHECK_EQ(m.codec, codec);
	CHECK_EQ(m.producer_id, 1234);
	CHECK_EQ(m.producer_epoch, 3);
	CHECK_EQ(m.base_sequence, 77);
	CHECK_EQ(m.record_count, NREC);
	CHECK_EQ(m.base_ts, recs[0].ts);
	CHECK_EQ(m.leader_epoch, -1);

	/* producer rewrite keeps the CRC valid */
	fnl_rb_set_producer(batch, (size_t)blen, 99, 4, 1000);
	s.n = 0;
	CHECK_EQ(fnl_rb_decode(batch, (size_t)blen, c, scratch, sizeof(scratch), &m, on_rec, &s),
	         blen);
	CHECK_EQ(m.producer_id, 99);
	CHECK_EQ(m.producer_epoch, 4);
	CHECK_EQ(m.base_sequence, 1000);

	/* any single bit flip after the crc field is detected as -EPROTO; in the crc too */
	for (long i = 17; i < blen; i += 1 + blen / 97) {
		batch[i] ^= 0x10;
		CHECK_EQ(fnl_rb_decode(batch, (size_t)blen, c, scratch, sizeof(scratch), NULL, NULL,
		                       NULL),
		         -EPROTO);
		batch[i] ^= 0x10;
	}
	/* every truncation fails cleanly */
	for (long k = 0; k < blen; k += 1 + (codec ? 0 : 3))
		CHECK(fnl_rb_decode(batch, (size_t)k, c, scratch, sizeof(scratch), NULL, NULL,
		                    NULL) < 0);
	/* scratch too small for the decompressed records */
	if (codec != FNL_CODEC_NONE)
		CHECK_EQ(fnl_rb_decode(batch, (size_t)blen, c, scratch, 100, NULL, NULL, NULL),
		         -ENOSPC);
}

/* Re-CRCs a batch after a deliberate corruption, to reach the structural checks. */
static void recrc(uint8_t *b, size_t len)
{
	fnl_put_be32(b + 17, fnl_crc32c(0, b + 21, len - 21));
}

static void test_malformed(void)
{
	struct fnl_rbw w;
	fnl_rbw_init(&w, rawbuf, sizeof(rawbuf), 1000);
	CHECK_EQ(fnl_rbw_append(&w, 1000, "k", 1, "v", 1, NULL, 0), 0);
	CHECK_EQ(fnl_rbw_append(&w, 1001, NULL, -1, NULL, -1, NULL, 0), 0);
	long blen = finish_batch(NULL, FNL_CODEC_NONE, &w);
	CHECK_EQ(fnl_rb_decode(batch, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), blen);
	/* two batches back to back: the return value walks them */
	memcpy(batch + blen, batch, (size_t)blen);
	CHECK_EQ(fnl_rb_decode(batch, (size_t)blen * 2, NULL, NULL, 0, NULL, NULL, NULL), blen);
	CHECK_EQ(fnl_rb_decode(batch + blen, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), blen);

	uint8_t b[256];
	memcpy(b, batch, (size_t)blen);
	b[16] = 1; /* magic */
	recrc(b, (size_t)blen);
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), -EBADMSG);
	memcpy(b, batch, (size_t)blen);
	fnl_put_be32(b + 57, 0x7fffffff); /* record count way too high */
	recrc(b, (size_t)blen);
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), -EBADMSG);
	memcpy(b, batch, (size_t)blen);
	fnl_put_be32(b + 57, 1); /* fewer records than present: trailing bytes */
	recrc(b, (size_t)blen);
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), -EBADMSG);
	memcpy(b, batch, (size_t)blen);
	fnl_put_be32(b + 57, (uint32_t)-1); /* negative count */
	recrc(b, (size_t)blen);
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), -EBADMSG);
	memcpy(b, batch, (size_t)blen);
	fnl_put_be16(b + 21, 7); /* unknown codec */
	recrc(b, (size_t)blen);
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), -EBADMSG);
	memcpy(b, batch, (size_t)blen);
	fnl_put_be32(b + 8, 48); /* batchLength below the fixed header */
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), -EBADMSG);
	memcpy(b, batch, (size_t)blen);
	b[61] = 0x7e; /* first record length varint 63: larger than the section */
	recrc(b, (size_t)blen);
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, NULL, NULL, 0, NULL, NULL, NULL), -EBADMSG);
	memcpy(b, batch, (size_t)blen);
	fnl_put_be16(b + 21, FNL_CODEC_ZSTD); /* claims zstd, records are plain */
	recrc(b, (size_t)blen);
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c != NULL);
	CHECK_EQ(fnl_rb_decode(b, (size_t)blen, c, scratch, sizeof(scratch), NULL, NULL, NULL),
	         -EBADMSG);
	fnl_compressor_free(c);

	/* header iteration errors */
	const uint8_t bad_hdr[] = {0x01}; /* key length -1 */
	const uint8_t *hp = bad_hdr;
	size_t left = sizeof(bad_hdr);
	struct fnl_rb_header_kv kv;
	CHECK_EQ(fnl_rb_header_next(&hp, &left, &kv), -EBADMSG);
}

static void test_writer_limits(void)
{
	struct fnl_rbw w;
	/* a full buffer refuses and stays unchanged */
	build_records(&w, 700);
	CHECK(w.count > 0 && w.count < NREC);
	/* invalid lengths */
	fnl_rbw_init(&w, rawbuf, sizeof(rawbuf), 0);
	CHECK_EQ(fnl_rbw_append(&w, 0, NULL, -2, NULL, -1, NULL, 0), -EINVAL);
	CHECK_EQ(fnl_rbw_append(&w, 0, NULL, 3, NULL, -1, NULL, 0), -EINVAL);
	struct fnl_rb_header_kv bad = {NULL, -1, NULL, -1};
	CHECK_EQ(fnl_rbw_append(&w, 0, NULL, -1, NULL, -1, &bad, 1), -EINVAL);
	CHECK_EQ(w.len, 0);
	CHECK_EQ(fnl_rb_record_size(0, 0, -2, 0, NULL, 0), 0);
	/* known record encoding: ts delta 0, offset 0, null key, value "v", no headers:
	 * length 7 -> 0x0e; attrs 00; ts 00; off 00; key -1 -> 01; value len 1 -> 02 'v';
	 * headers 0 -> 00 */
	CHECK_EQ(fnl_rbw_append(&w, 0, NULL, -1, "v", 1, NULL, 0), 0);
	const uint8_t want[] = {0x0e, 0x00, 0x00, 0x00, 0x01, 0x02, 'v', 0x00};
	CHECK_EQ(w.len, sizeof(want));
	CHECK_MEM(rawbuf, want, sizeof(want));
	/* raw pre-serialized headers produce the same bytes as the structured form */
	uint8_t a[64], b2[64];
	struct fnl_rbw wa, wb;
	fnl_rbw_init(&wa, a, sizeof(a), 10);
	fnl_rbw_init(&wb, b2, sizeof(b2), 10);
	CHECK_EQ(fnl_rbw_append(&wa, 12, "k", 1, "v", 1, hdrs, 2), 0);
	const uint8_t raw_h[] = {0x04, 'h', '1', 0x04, 'v', '1', 0x04, 'h', '2', 0x01};
	CHECK_EQ(fnl_rbw_append_raw_headers(&wb, 12, "k", 1, "v", 1, raw_h, sizeof(raw_h), 2), 0);
	CHECK_EQ(wa.len, wb.len);
	CHECK_MEM(a, b2, wa.len);
	CHECK_EQ(fnl_rb_record_size_raw(2, 0, 1, 1, sizeof(raw_h), 2), wa.len);
}

int main(void)
{
	make_records();
	test_writer_limits();
	test_malformed();
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c != NULL);
	test_roundtrip(c, FNL_CODEC_NONE);
	test_roundtrip(c, FNL_CODEC_GZIP);
	test_roundtrip(c, FNL_CODEC_SNAPPY);
	test_roundtrip(c, FNL_CODEC_LZ4);
	test_roundtrip(c, FNL_CODEC_ZSTD);
	fnl_compressor_free(c);
	return 0;
}
