/* test_accum.c - the batch pool's sizing rule (dataplane/batch/accum.h): batch.size
 * counts the records section before compression, with or without a codec; a
 * batch that does not compress goes uncompressed; a record larger than
 * batch.size gets a big slot of its own up to max.request.size; buffer.memory
 * bounds the whole pool. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "dataplane/batch/accum.h"

#define BATCH 16384u

static struct fnl_accum_cfg cfg(int codec)
{
	uint32_t cap = fnl_accum_raw_cap(BATCH, 1u << 20);
	return (struct fnl_accum_cfg){.records_cap = cap,
	                              .batch_bytes = BATCH,
	                              .big_cap = fnl_accum_big_cap(BATCH, 1u << 20),
	                              .meta_cap = fnl_accum_meta_cap(cap),
	                              .memory_bytes = 8u << 20,
	                              .codec = codec,
	                              .level = 3,
	                              .linger_ms = 5};
}

/* A JSON-like log line of 100 bytes, as funnel-bench writes (compressible). */
static void json_record(char *buf, uint32_t i)
{
	char tmp[160];
	snprintf(tmp, sizeof(tmp),
	         "{\"ts\":%u,\"level\":\"info\",\"svc\":\"checkout\",\"user\":%u,\"status\":200,"
	         "\"msg\":\"cart updated ok\"}                                   ",
	         1700000000u + i, i % 5000u);
	memcpy(buf, tmp, 100);
}

static uint64_t rng = 88172645463325252ull;
static void random_record(char *buf)
{
	for (int i = 0; i < 100; i += 8) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		memcpy(buf + i, &rng, i + 8 <= 100 ? 8 : 100 - (size_t)i);
	}
}

/* Fills one batch of topic `topic` until it is full, seals it; returns it
 * (the caller releases it). *raw gets the raw record bytes. */
static struct fnl_batch *fill(struct fnl_accum *a, uint32_t topic, bool random, size_t *raw)
{
	static uint32_t n;
	struct fnl_batch *b = fnl_accum_open(a, 0, topic, 0, 0, 1700000000000);
	struct fnl_rec_meta m = {0};
	char v[100];
	CHECK(b != NULL);
	for (;;) {
		if (random)
			random_record(v);
		else
			json_record(v, n);
		int rc = fnl_accum_append(a, b, 1700000000000, NULL, -1, v, 100, NULL, 0, &m);
		if (rc == -ENOSPC)
			break;
		CHECK_EQ(rc, 0);
		n++;
	}
	*raw = b->w.len;
	CHECK_EQ(fnl_accum_seal(a, b), 0);
	return b;
}

static void test_raw_cap(void)
{
	CHECK_EQ(fnl_accum_raw_cap(16384, 1u << 20), 16384u);
	CHECK_EQ(fnl_accum_raw_cap(1000000, 1u << 20), 1000000u);
	/* a batch sent uncompressed must still fit max.request.size */
	CHECK(fnl_accum_raw_cap(1u << 20, 1u << 20) < (1u << 20) - FNL_RB_HEADER_BYTES);
	CHECK_EQ(fnl_accum_big_cap(16384, 1u << 20), fnl_accum_raw_cap(1u << 20, 1u << 20));
	CHECK_EQ(fnl_accum_big_cap(1u << 20, 1u << 20), 0u);
	CHECK_EQ(fnl_accum_meta_cap(16384), 512u);
	CHECK_EQ(fnl_accum_meta_cap(1000000), 16384u);
	CHECK_EQ(fnl_accum_meta_cap(1024), 64u);
}

/* buffer.memory bounds every slot, big ones included. */
static void test_memory_bound(void)
{
	uint32_t sizes[] = {16384, 262144, 1000000};
	for (int i = 0; i < 3; i++) {
		uint32_t cap = fnl_accum_raw_cap(sizes[i], 1u << 20);
		struct fnl_accum_cfg c = {.records_cap = cap,
		                          .batch_bytes = sizes[i],
		                          .big_cap = fnl_accum_big_cap(sizes[i], 1u << 20),
		                          .meta_cap = fnl_accum_meta_cap(cap),
		                          .memory_bytes = 32u << 20,
		                          .codec = FNL_CODEC_ZSTD};
		struct fnl_accum_geom g;
		CHECK_EQ(fnl_accum_geometry(&c, &g), 0);
		CHECK(g.pool_bytes <= c.memory_bytes);
		CHECK(g.slots >= 4);
		CHECK_EQ(g.big_slots > 0, c.big_cap > 0);
		CHECK(g.wire_cap >= FNL_RB_HEADER_BYTES + cap);
	}
	/* buffer.memory too small for a big slot besides 4 regular ones: none
	 * (a record larger than batch.size then fails), and the bound holds */
	struct fnl_accum_cfg c = {.records_cap = 16384,
	                          .batch_bytes = 16384,
	                          .big_cap = fnl_accum_big_cap(16384, 1u << 20),
	                          .meta_cap = fnl_accum_meta_cap(16384),
	                          .memory_bytes = 1u << 20,
	                          .codec = FNL_CODEC_ZSTD};
	struct fnl_accum_geom g;
	CHECK_EQ(fnl_accum_geometry(&c, &g), 0);
	CHECK_EQ(g.big_slots, 0u);
	CHECK(g.pool_bytes <= c.memory_bytes);
}

/* Without a codec a batch holds batch.size bytes of records. */
static void test_none_counts_raw(void)
{
	struct fnl_accum a;
	struct fnl_accum_cfg c = cfg(FNL_CODEC_NONE);
	CHECK_EQ(fnl_accum_init(&a, &c), 0);
	for (int i = 0; i < 3; i++) {
		size_t raw;
		struct fnl_batch *b = fill(&a, 0, false, &raw);
		CHECK(raw <= BATCH && raw > BATCH - 200);
		CHECK_EQ(b->wire_len, FNL_RB_HEADER_BYTES + raw);
		CHECK_EQ(b->codec, FNL_CODEC_NONE);
		fnl_accum_release(&a, b);
	}
	fnl_accum_free(&a);
}

/* zstd: every batch holds batch.size bytes of records from the first one on
 * (no estimate to learn), compressed in place; records that do not compress
 * go uncompressed, as they are. */
static void test_zstd_fills_batch_size(void)
{
	struct fnl_accum a;
	struct fnl_accum_cfg c = cfg(FNL_CODEC_ZSTD);
	size_t raw;
	CHECK_EQ(fnl_accum_init(&a, &c), 0);
	for (int i = 0; i < 3; i++) {
		struct fnl_batch *b = fill(&a, 1, false, &raw);
		CHECK(raw <= BATCH && raw > BATCH - 200);
		CHECK(b->wire_len < raw / 2);
		CHECK_EQ(b->codec, FNL_CODEC_ZSTD);
		/* the wire bytes decompress to the records as appended */
		static uint8_t back[BATCH];
		long n = fnl_decompress(a.zc, FNL_CODEC_ZSTD, b->wire + FNL_RB_HEADER_BYTES,
		                        b->wire_len - FNL_RB_HEADER_BYTES, back, sizeof(back));
		CHECK_EQ(n, (long)raw);
		fnl_accum_release(&a, b);
	}
	/* one random record of 16,000 bytes: zstd's output is not smaller */
	static char noise[16000];
	for (size_t k = 0; k < sizeof(noise); k += 100)
		random_record(noise + k);
	struct fnl_rec_meta m = {0};
	struct fnl_batch *b = fnl_accum_open(&a, 0, 1, 0, 0, 0);
	CHECK_EQ(fnl_accum_append(&a, b, 0, NULL, -1, noise, (int32_t)sizeof(noise), NULL, 0, &m),
	         0);
	raw = b->w.len;
	CHECK_EQ(fnl_accum_seal(&a, b), 0);
	CHECK_EQ(b->codec, FNL_CODEC_NONE);
	CHECK_EQ(b->wire_len, FNL_RB_HEADER_BYTES + raw);
	CHECK(memcmp(b->recs + raw - 1 - sizeof(noise), noise, sizeof(noise)) == 0); /* then 0 headers */
	CHECK_EQ(a.st.uncompressed, 1u);
	fnl_accum_release(&a, b);
	fnl_accum_free(&a);
}

/* A record larger than batch.size: it does not fit a regular batch
 * (-EMSGSIZE), gets a big slot of its own up to max.request.size, and
 * nothing joins it; one larger than max.request.size fits nowhere. */
static void test_big_record_alone(void)
{
	struct fnl_accum a;
	struct fnl_accum_cfg c = cfg(FNL_CODEC_ZSTD);
	CHECK_EQ(fnl_accum_init(&a, &c), 0);
	CHECK(a.g.big_slots >= 1);
	static char big[100000];
	memset(big, 'x', sizeof(big));
	struct fnl_rec_meta m = {0};
	struct fnl_batch *b = fnl_accum_open(&a, 0, 0, 0, 0, 0);
	CHECK_EQ(fnl_accum_append(&a, b, 0, NULL, -1, big, (int32_t)sizeof(big), NULL, 0, &m),
	         -EMSGSIZE);
	fnl_accum_release(&a, b);
	uint32_t free_big = a.big_free_n;
	b = fnl_accum_open_big(&a, 0, 0, 0, 0, 0);
	CHECK(b != NULL && b->big);
	CHECK_EQ(a.big_free_n, free_big - 1);
	CHECK_EQ(fnl_accum_append(&a, b, 0, NULL, -1, big, (int32_t)sizeof(big), NULL, 0, &m), 0);
	CHECK_EQ(fnl_accum_append(&a, b, 0, NULL, -1, "y", 1, NULL, 0, &m), -ENOSPC);
	CHECK_EQ(fnl_accum_seal(&a, b), 0);
	CHECK(b->wire_len < 2000); /* 100 KB of 'x' compresses */
	uint32_t idx = fnl_accum_slot_index(&a, b);
	CHECK(idx >= a.g.slots);
	CHECK(fnl_accum_slot(&a, idx) == b);
	fnl_accum_release(&a, b);
	CHECK_EQ(a.big_free_n, free_big);
	/* larger than max.request.size: not even a big slot holds it */
	static char huge[1u << 20];
	b = fnl_accum_open_big(&a, 0, 0, 0, 0, 0);
	CHECK_EQ(fnl_accum_append(&a, b, 0, NULL, -1, huge, (int32_t)sizeof(huge), NULL, 0, &m),
	         -EMSGSIZE);
	fnl_accum_release(&a, b);
	fnl_accum_free(&a);
}

int main(void)
{
	test_raw_cap();
	test_memory_bound();
	test_none_counts_raw();
	test_zstd_fills_batch_size();
	test_big_record_alone();
	printf("accum: ok\n");
	return 0;
}
