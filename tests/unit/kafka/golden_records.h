/* golden_records.h - the records the librdkafka golden batches were produced from, and a
 * checker that fnl_rb_decode's view of a batch matches them (shared by rdk_capture.c and
 * test_golden.c). Timestamps are explicit so the vectors are deterministic apart from the
 * producer id the mock broker hands out and the CRC that covers it. */
#ifndef FNL_TEST_GOLDEN_RECORDS_H
#define FNL_TEST_GOLDEN_RECORDS_H

#include <stdint.h>
#include <string.h>

#include "check.h"
#include "dataplane/kafka/recbatch.h"

#define GOLDEN_NREC    6
#define GOLDEN_TS_BASE 1700000000000LL
#define GOLDEN_TOPIC   "golden"

struct golden_rec {
	const char *key;   /* NULL: null key */
	const char *value; /* NULL: null value */
	const char *hkey;  /* NULL: no header */
	const char *hval;
};

static const char golden_big[] =
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789"
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789"
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789";

static const struct golden_rec golden_recs[GOLDEN_NREC] = {
    {"k0", "value-0", "hk", "hv"}, {NULL, "no-key", NULL, NULL},  {"tomb", NULL, NULL, NULL},
    {"k3", "", "empty-hv", ""},    {"k4", golden_big, "h", NULL}, {"", "empty-key", NULL, NULL},
};

struct golden_seen {
	int n;
};

static int golden_check_rec(void *ctx, const struct fnl_rb_meta *m, const struct fnl_rb_record *rec)
{
	struct golden_seen *s = ctx;
	CHECK(s->n < GOLDEN_NREC);
	const struct golden_rec *g = &golden_recs[s->n];
	CHECK_EQ(rec->offset, m->base_offset + s->n);
	CHECK_EQ(rec->timestamp, GOLDEN_TS_BASE + s->n);
	if (!g->key) {
		CHECK_EQ(rec->key_len, -1);
	} else {
		CHECK_EQ(rec->key_len, (int32_t)strlen(g->key));
		CHECK_MEM(rec->key, g->key, strlen(g->key));
	}
	if (!g->value) {
		CHECK_EQ(rec->value_len, -1);
	} else {
		CHECK_EQ(rec->value_len, (int32_t)strlen(g->value));
		CHECK_MEM(rec->value, g->value, strlen(g->value));
	}
	CHECK_EQ(rec->header_count, g->hkey ? 1 : 0);
	const uint8_t *hp = rec->headers;
	size_t left = rec->headers_len;
	struct fnl_rb_header_kv kv;
	if (g->hkey) {
		CHECK_EQ(fnl_rb_header_next(&hp, &left, &kv), 1);
		CHECK_EQ(kv.key_len, (int32_t)strlen(g->hkey));
		CHECK_MEM(kv.key, g->hkey, strlen(g->hkey));
		if (!g->hval) {
			CHECK_EQ(kv.value_len, -1);
		} else {
			CHECK_EQ(kv.value_len, (int32_t)strlen(g->hval));
			CHECK_MEM(kv.value, g->hval, strlen(g->hval));
		}
	}
	CHECK_EQ(fnl_rb_header_next(&hp, &left, &kv), 0);
	s->n++;
	return 0;
}

/* Decodes every batch in buf (a Fetch records field) and checks all golden records were seen
 * in order, with the codec expected. Returns the number of batches. */
static int golden_check_buf(const uint8_t *buf, size_t len, struct fnl_compressor *c, int codec)
{
	static uint8_t scratch[1 << 20];
	struct golden_seen s = {0};
	size_t off = 0;
	int batches = 0;
	while (off < len) {
		struct fnl_rb_meta m;
		long n = fnl_rb_decode(buf + off, len - off, c, scratch, sizeof(scratch), &m,
		                       golden_check_rec, &s);
		if (n < 0)
			fprintf(stderr, "fnl_rb_decode at %zu: %ld\n", off, n);
		CHECK(n > 0);
		CHECK_EQ(m.codec, codec);
		off += (size_t)n;
		batches++;
	}
	CHECK_EQ(s.n, GOLDEN_NREC);
	return batches;
}

#endif
