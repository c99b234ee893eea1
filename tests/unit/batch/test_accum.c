/* test_accum.c - the batch pool's sizing rule (dataplane/batch/accum.h): batch.size
 * counts estimated compressed bytes with a codec, raw bytes without one, and the
 * ratio estimate follows the Java client's CompressionRatioEstimator per topic. */
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
	uint32_t cap = fnl_accum_raw_cap(BATCH, codec, 1u << 20);
	return (struct fnl_accum_cfg){.records_cap = cap,
	                              .batch_bytes = BATCH,
	                              .topics_max = 4,
	                              .meta_cap = cap / 32,
	                              .memory_bytes = 64u * cap,
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
	CHECK_EQ(fnl_accum_raw_cap(16384, FNL_CODEC_NONE, 1u << 20), 16384u);
	CHECK_EQ(fnl_accum_raw_cap(16384, FNL_CODEC_ZSTD, 1u << 20), 4u * 16384);
	/* bounded by half of max.request.size ... */
	CHECK_EQ(fnl_accum_raw_cap(262144, FNL_CODEC_ZSTD, 1u << 20), 1u << 19);
	/* ... but never below batch.size */
	CHECK_EQ(fnl_accum_raw_cap(1u << 20, FNL_CODEC_LZ4, 1u << 20), 1u << 20);
}

/* Without a codec a batch holds batch.size raw bytes, whatever was sealed before. */
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
		fnl_accum_release(&a, b);
	}
	CHECK(fnl_accum_ratio(&a, 0) == 1.0f);
	fnl_accum_free(&a);
}

/* zstd: the first batch assumes no compression (ratio 1.0, as Java starts);
 * the estimate then walks down 0.005 per batch towards what batches show, and
 * a batch of compressible records ends up holding several times batch.size raw
 * while its wire size stays near batch.size. */
static void test_zstd_estimate_converges(void)
{
	struct fnl_accum a;
	struct fnl_accum_cfg c = cfg(FNL_CODEC_ZSTD);
	size_t raw;
	CHECK_EQ(fnl_accum_init(&a, &c), 0);
	struct fnl_batch *b = fill(&a, 1, false, &raw);
	CHECK(raw <= (size_t)((BATCH - FNL_RB_HEADER_BYTES) / 1.05f) + 1);
	CHECK(raw > (size_t)((BATCH - FNL_RB_HEADER_BYTES) / 1.05f) - 200);
	float seen = (float)b->wire_len / (float)raw;
	CHECK(seen < 0.5f);
	CHECK(fnl_accum_ratio(&a, 1) > 0.994f && fnl_accum_ratio(&a, 1) < 0.996f);
	fnl_accum_release(&a, b);

	float prev = fnl_accum_ratio(&a, 1);
	for (int i = 0; i < 400; i++) {
		b = fill(&a, 1, false, &raw);
		float now = fnl_accum_ratio(&a, 1);
		if (i < 100) /* far above what batches show: down 0.005 a batch */
			CHECK(now <= prev && prev - now <= 0.0051f && prev - now >= 0.0049f);
		else /* near it: a worse batch moves it up by at least 0.05 at once */
			CHECK(now <= prev || now - prev >= 0.0499f);
		prev = now;
		fnl_accum_release(&a, b);
	}
	b = fill(&a, 1, false, &raw);
	printf("converged: ratio %.3f, raw %zu, wire %zu\n", fnl_accum_ratio(&a, 1), raw,
	       b->wire_len);
	CHECK(raw > 3 * BATCH);
	CHECK(b->wire_len <= BATCH + BATCH / 10);
	/* full by its estimate, or by the slot's raw capacity (4 x batch.size) */
	CHECK(b->wire_len > BATCH / 2 || raw > c.records_cap - 200);
	fnl_accum_release(&a, b);
	/* another topic keeps its own estimate */
	CHECK(fnl_accum_ratio(&a, 2) == 1.0f);
	b = fill(&a, 2, false, &raw);
	CHECK(raw < BATCH);
	fnl_accum_release(&a, b);

	/* records stop compressing: the batch built on the old estimate comes out
	 * bigger than batch.size (as in Java) but within its slot; the estimate
	 * jumps at once and the next batch is back to about batch.size raw */
	b = fill(&a, 1, true, &raw);
	CHECK(b->wire_len > BATCH);
	CHECK(b->wire_len <= a.wire_cap);
	CHECK(fnl_accum_ratio(&a, 1) >= (float)b->wire_len / (float)raw);
	fnl_accum_release(&a, b);
	b = fill(&a, 1, true, &raw);
	CHECK(raw < BATCH + BATCH / 16); /* random 100-byte records still compress ~5% */
	CHECK(b->wire_len <= BATCH + 64);
	fnl_accum_release(&a, b);
	fnl_accum_free(&a);
}

/* A record bigger than the batch's current raw limit gets a batch of its own. */
static void test_big_record_alone(void)
{
	struct fnl_accum a;
	struct fnl_accum_cfg c = cfg(FNL_CODEC_ZSTD);
	CHECK_EQ(fnl_accum_init(&a, &c), 0);
	static char big[40000];
	memset(big, 'x', sizeof(big));
	struct fnl_rec_meta m = {0};
	struct fnl_batch *b = fnl_accum_open(&a, 0, 0, 0, 0, 0);
	CHECK_EQ(fnl_accum_append(&a, b, 0, NULL, -1, big, (int32_t)sizeof(big), NULL, 0, &m), 0);
	CHECK_EQ(fnl_accum_append(&a, b, 0, NULL, -1, "y", 1, NULL, 0, &m), -ENOSPC);
	CHECK_EQ(fnl_accum_seal(&a, b), 0);
	fnl_accum_release(&a, b);
	fnl_accum_free(&a);
}

int main(void)
{
	test_raw_cap();
	test_none_counts_raw();
	test_zstd_estimate_converges();
	test_big_record_alone();
	printf("accum: ok\n");
	return 0;
}
