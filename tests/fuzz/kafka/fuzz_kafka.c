/* fuzz_kafka.c - libFuzzer targets for every Kafka response decoder and the RecordBatch
 * decoder. Built once per target with -DFUZZ_TARGET=<n> (see meson.build). For the response
 * decoders the first input byte picks the version and the rest is the body. Every byte a
 * decoder hands back (strings, keys, values, headers) is read, so ASan catches a span that
 * points outside the input. T_RB_ROUNDTRIP instead turns the input into records, encodes
 * them (fnl_rbw_append + compression + fnl_rb_write_header) and checks that fnl_rb_decode
 * gives back exactly those records. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/kafka/proto.h"
#include "dataplane/kafka/recbatch.h"

#define T_API_VERSIONS 1
#define T_METADATA     2
#define T_INIT_PID     3
#define T_PRODUCE      4
#define T_RESP_HEADER  5
#define T_RECBATCH     6
#define T_RB_ROUNDTRIP 7

static volatile uint8_t sink;

static void touch(const void *p, long n)
{
	const uint8_t *b = p;
	for (long i = 0; i < n; i++)
		sink ^= b[i];
}

static void md_broker(void *ctx, int32_t node, const char *host, int host_len, int32_t port)
{
	(void)ctx;
	(void)node;
	(void)port;
	touch(host, host_len);
}

static void md_topic(void *ctx, int16_t err, const char *name, int name_len, int32_t nparts)
{
	(void)ctx;
	(void)err;
	(void)nparts;
	if (name_len > 0)
		touch(name, name_len);
}

static void presp(void *ctx, const char *topic, int topic_len, int32_t partition, int16_t err,
                  int64_t base, int64_t lat, int64_t lso)
{
	(void)ctx;
	(void)partition;
	(void)err;
	(void)base;
	(void)lat;
	(void)lso;
	touch(topic, topic_len);
}

static int on_rec(void *ctx, const struct fnl_rb_meta *m, const struct fnl_rb_record *rec)
{
	(void)ctx;
	(void)m;
	if (rec->key_len > 0)
		touch(rec->key, rec->key_len);
	if (rec->value_len > 0)
		touch(rec->value, rec->value_len);
	const uint8_t *hp = rec->headers;
	size_t left = rec->headers_len;
	struct fnl_rb_header_kv kv;
	int n = 0;
	while (fnl_rb_header_next(&hp, &left, &kv) == 1) {
		touch(kv.key, kv.key_len);
		if (kv.value_len > 0)
			touch(kv.value, kv.value_len);
		n++;
	}
	if (n != rec->header_count)
		abort();
	return 0;
}

static void fuzz_recbatch(const uint8_t *data, size_t size)
{
	static struct fnl_compressor *c;
	static uint8_t scratch[256 * 1024];
	if (!c)
		c = fnl_compressor_new();
	size_t off = 0;
	while (off < size) {
		struct fnl_rb_meta m;
		long n = fnl_rb_decode(data + off, size - off, c, scratch, sizeof(scratch), &m,
		                       on_rec, NULL);
		if (n <= 0)
			break;
		if ((size_t)n > size - off)
			abort();
		off += (size_t)n;
	}
}

/* ---- encode -> decode round trip ---- */

#define RT_MAX 64

struct rt_rec {
	int64_t ts;
	const uint8_t *key, *value;
	int32_t key_len, value_len;
	struct fnl_rb_header_kv h[2];
	int nh;
};

struct rt_state {
	const struct rt_rec *recs;
	int n, seen;
};

static void same(const void *a, int32_t alen, const void *b, int32_t blen)
{
	if (alen != blen || (alen > 0 && memcmp(a, b, (size_t)alen) != 0))
		abort();
}

static int rt_check(void *ctx, const struct fnl_rb_meta *m, const struct fnl_rb_record *rec)
{
	struct rt_state *s = ctx;
	(void)m;
	if (s->seen >= s->n)
		abort();
	const struct rt_rec *w = &s->recs[s->seen];
	if (rec->timestamp != w->ts || rec->offset != s->seen || rec->header_count != w->nh)
		abort();
	same(rec->key, rec->key_len, w->key, w->key_len);
	same(rec->value, rec->value_len, w->value, w->value_len);
	const uint8_t *hp = rec->headers;
	size_t left = rec->headers_len;
	struct fnl_rb_header_kv kv;
	for (int i = 0; i < w->nh; i++) {
		if (fnl_rb_header_next(&hp, &left, &kv) != 1)
			abort();
		same(kv.key, kv.key_len, w->h[i].key, w->h[i].key_len);
		same(kv.value, kv.value_len, w->h[i].value, w->h[i].value_len);
	}
	if (fnl_rb_header_next(&hp, &left, &kv) != 0)
		abort();
	s->seen++;
	return 0;
}

/* Takes a length (byte b: 0xff -> -1, else b % 32) and that many bytes from the input. */
static const uint8_t *rt_take(const uint8_t **p, size_t *left, int32_t *len)
{
	if (*left == 0) {
		*len = -1;
		return NULL;
	}
	uint8_t b = *(*p)++;
	(*left)--;
	if (b == 0xff) {
		*len = -1;
		return NULL;
	}
	size_t n = b % 32u;
	if (n > *left)
		n = *left;
	const uint8_t *d = *p;
	*p += n;
	*left -= n;
	*len = (int32_t)n;
	return d;
}

static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
	static struct fnl_compressor *c;
	static uint8_t raw[16384], batch[32768], scratch[32768];
	static struct rt_rec recs[RT_MAX];
	if (!c)
		c = fnl_compressor_new();
	if (size < 2)
		return;
	int codec = data[0] % 5;
	const uint8_t *p = data + 1;
	size_t left = size - 1;
	int n = 0;
	struct fnl_rbw w;
	fnl_rbw_init(&w, raw, sizeof(raw), 1000);
	while (left > 0 && n < RT_MAX) {
		struct rt_rec *r = &recs[n];
		uint8_t t = *p++;
		left--;
		r->ts = 1000 + (int8_t)t * 100000LL;
		r->key = rt_take(&p, &left, &r->key_len);
		r->value = rt_take(&p, &left, &r->value_len);
		r->nh = t & 3;
		if (r->nh > 2)
			r->nh = 0;
		for (int i = 0; i < r->nh; i++) {
			r->h[i].key = rt_take(&p, &left, &r->h[i].key_len);
			if (r->h[i].key_len < 0) {
				r->h[i].key = "";
				r->h[i].key_len = 0;
			}
			r->h[i].value = rt_take(&p, &left, &r->h[i].value_len);
		}
		if (fnl_rbw_append(&w, r->ts, r->key, r->key_len, r->value, r->value_len, r->h,
		                   r->nh) != 0)
			abort(); /* raw is large enough for RT_MAX small records */
		n++;
	}
	long rl = (long)w.len;
	if (codec == FNL_CODEC_NONE)
		memcpy(batch + FNL_RB_HEADER_BYTES, raw, w.len);
	else
		rl = fnl_compress(c, (enum fnl_codec)codec, 0, raw, w.len,
		                  batch + FNL_RB_HEADER_BYTES, sizeof(batch) - FNL_RB_HEADER_BYTES);
	if (rl < 0)
		abort();
	struct fnl_rb_meta m = {.codec = (int16_t)codec,
	                        .producer_id = 5,
	                        .producer_epoch = 1,
	                        .base_sequence = 9,
	                        .record_count = w.count,
	                        .base_ts = w.base_ts,
	                        .max_ts = w.max_ts};
	fnl_rb_write_header(batch, (size_t)rl, &m);
	struct rt_state s = {recs, n, 0};
	long got = fnl_rb_decode(batch, FNL_RB_HEADER_BYTES + (size_t)rl, c, scratch,
	                         sizeof(scratch), NULL, rt_check, &s);
	if (got != FNL_RB_HEADER_BYTES + rl || s.seen != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int16_t ver = data[0];
	const uint8_t *p = data + 1;
	size_t n = size - 1;
	switch (FUZZ_TARGET) {
	case T_API_VERSIONS: {
		struct fnl_api_range r[8];
		int nr;
		int16_t err;
		if (fnl_dec_api_versions(p, n, ver % 5, r, 8, &nr, &err) == 0 && nr > 8)
			abort();
		break;
	}
	case T_METADATA: {
		struct fnl_md_visitor v = {NULL, md_broker, md_topic, NULL, NULL};
		(void)fnl_dec_metadata(p, n, ver % 14, &v);
		break;
	}
	case T_INIT_PID: {
		int16_t err, epoch;
		int64_t pid;
		(void)fnl_dec_init_pid(p, n, ver % 6, &err, &pid, &epoch);
		break;
	}
	case T_PRODUCE: {
		int32_t thr;
		(void)fnl_dec_produce(p, n, 3 + ver % 10, presp, NULL, &thr);
		break;
	}
	case T_RESP_HEADER: {
		static const int16_t keys[] = {FNL_API_PRODUCE, FNL_API_METADATA,
		                               FNL_API_API_VERSIONS, FNL_API_INIT_PRODUCER_ID};
		int32_t corr;
		int hl = fnl_dec_resp_header(p, n, keys[(ver >> 4) & 3], ver & 15, &corr);
		if (hl > (int)n)
			abort();
		break;
	}
	case T_RECBATCH:
		fuzz_recbatch(data, size);
		break;
	case T_RB_ROUNDTRIP:
		fuzz_roundtrip(data, size);
		break;
	}
	return 0;
}
