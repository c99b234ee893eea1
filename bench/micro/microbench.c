/* fnl-microbench - data-plane micro-benchmarks, printed as one JSON object.
 *
 *   encode_crc  ns per 100-byte JSON record to append it to a RecordBatch v2
 *               records section (fnl_rbw_append) and finish the batch header with
 *               its CRC32C (fnl_rb_write_header), for 16 KiB and 1 MiB batches.
 *   zstd_l1     MB/s of fnl_compress(zstd, level 1) on 1 MiB of JSON-like records
 *               against ZSTD_compressCCtx on the same input, interleaved.
 *
 * Every figure is the median of --runs runs (default 11). Usage:
 *   fnl-microbench [--runs N] [--quick]
 */
#include "dataplane/compress/compress.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zstd.h>

#ifdef FNL_HAVE_RECBATCH
#include "dataplane/kafka/crc32c.h"
#include "dataplane/kafka/recbatch.h"
#endif

#define RECORD_BYTES 100
#define NRECORDS     16384 /* distinct records (1.6 MB), cycled */
#define MIB          (1024u * 1024u)
#define RUNS_MAX     101

static char records[NRECORDS][RECORD_BYTES];
static volatile uint64_t sink; /* keeps results observable */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t next_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* 100-byte JSON objects with varying ids, users, events, values and a "pad" of
 * random words, so they compress like typical event JSON rather than trivially. */
static void make_records(void)
{
	static const char *const events[] = {"click", "view", "purchase", "scroll", "login"};
	uint64_t x = 0x9e3779b97f4a7c15ull;
	for (int i = 0; i < NRECORDS; i++) {
		uint64_t r = next_rand(&x);
		char tmp[2 * RECORD_BYTES];
		int n = snprintf(tmp, sizeof(tmp),
		                 "{\"id\":%d,\"user\":\"user-%04u\",\"event\":\"%s\",\"ts\":%llu,"
		                 "\"value\":%u.%03u,\"pad\":\"",
		                 i, (unsigned)(r % 5000), events[(r >> 20) % 5],
		                 1700000000000ull + (r >> 40), (unsigned)(r >> 8) % 1000,
		                 (unsigned)(r >> 30) % 1000);
		static const char *const words[] = {
		    "ok ",   "retry ",  "user ", "cart ", "home ",  "error ", "login ", "page ",
		    "item ", "search ", "ad ",   "tab ",  "order ", "pay ",   "view ",  "list "};
		while (n < RECORD_BYTES - 2) {
			const char *wd = words[next_rand(&x) % 16];
			while (*wd && n < RECORD_BYTES - 2)
				tmp[n++] = *wd++;
		}
		tmp[RECORD_BYTES - 2] = '"';
		tmp[RECORD_BYTES - 1] = '}';
		memcpy(records[i], tmp, RECORD_BYTES);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#ifdef FNL_HAVE_RECBATCH
/* One run: encode `total` records into batches of batch_bytes; returns ns/record. */
static double encode_run(uint8_t *batch, size_t batch_bytes, long total, long *batches)
{
	struct fnl_rbw w;
	long done = 0, nb = 0;
	int64_t ts = 1700000000000;
	double t0 = now_ns();
	while (done < total) {
		fnl_rbw_init(&w, batch + FNL_RB_HEADER_BYTES, batch_bytes - FNL_RB_HEADER_BYTES,
		             ts);
		while (done < total) {
			const char *v = records[done % NRECORDS];
			if (fnl_rbw_append(&w, ts + (done & 7), NULL, -1, v, RECORD_BYTES, NULL,
			                   0) < 0)
				break;
			done++;
		}
		struct fnl_rb_meta m = {.base_offset = 0,
		                        .codec = 0,
		                        .producer_id = 1000,
		                        .producer_epoch = 0,
		                        .base_sequence = (int32_t)done,
		                        .record_count = w.count,
		                        .base_ts = w.base_ts,
		                        .max_ts = w.max_ts};
		fnl_rb_write_header(batch, w.len, &m);
		sink += batch[17]; /* a CRC byte */
		nb++;
	}
	double t = now_ns() - t0;
	*batches = nb;
	return t / (double)total;
}

static void bench_encode(int runs, long total)
{
	static const size_t sizes[] = {16 * 1024, MIB};
	uint8_t *batch = malloc(MIB);
	if (!batch) {
		printf("  \"encode_crc\": null,\n");
		return;
	}
	printf("  \"encode_crc\": {\"record_bytes\": %d, \"key\": null, \"headers\": 0, "
	       "\"crc32c_hw\": %s, \"target_ns_per_record\": 50, \"results\": [",
	       RECORD_BYTES, fnl_crc32c_hw_available() ? "true" : "false");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		double v[RUNS_MAX];
		long nb = 0;
		encode_run(batch, sizes[s], total / 4, &nb); /* warm-up */
		for (int r = 0; r < runs; r++)
			v[r] = encode_run(batch, sizes[s], total, &nb);
		double med = median(v, runs);
		printf("%s{\"batch_bytes\": %zu, \"records\": %ld, \"batches\": %ld, "
		       "\"ns_per_record\": %.2f, \"min\": %.2f, \"max\": %.2f}",
		       s ? ", " : "", sizes[s], total, nb, med, v[0], v[runs - 1]);
	}
	printf("]},\n");
	free(batch);
}
#else
static void bench_encode(int runs, long total)
{
	(void)runs;
	(void)total;
	printf("  \"encode_crc\": {\"skipped\": \"dataplane/kafka/recbatch.h not built\"},\n");
}
#endif

/* 1 MiB of back-to-back records, as the records section of a big batch. */
static void fill_mib(uint8_t *buf)
{
	for (size_t off = 0, i = 0; off < MIB; off += RECORD_BYTES, i++)
		memcpy(buf + off, records[i % NRECORDS],
		       off + RECORD_BYTES <= MIB ? RECORD_BYTES : MIB - off);
}

static void bench_zstd(int runs, int reps)
{
	size_t cap = ZSTD_compressBound(MIB);
	uint8_t *src = malloc(MIB), *dst = malloc(cap);
	struct fnl_compressor *c = fnl_compressor_new();
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	if (!src || !dst || !c || !cctx) {
		printf("  \"zstd_l1\": null\n");
		return;
	}
	fill_mib(src);
	double fnl[RUNS_MAX], direct[RUNS_MAX];
	long fnl_len = 0;
	size_t direct_len = 0;
	for (int r = -1; r < runs; r++) { /* r = -1: warm-up */
		double t0 = now_ns();
		for (int i = 0; i < reps; i++)
			fnl_len = fnl_compress(c, FNL_CODEC_ZSTD, 1, src, MIB, dst, cap);
		double t1 = now_ns();
		for (int i = 0; i < reps; i++)
			direct_len = ZSTD_compressCCtx(cctx, dst, cap, src, MIB, 1);
		double t2 = now_ns();
		if (r >= 0) {
			fnl[r] = (double)MIB * reps / ((t1 - t0) / 1e9) / 1e6;
			direct[r] = (double)MIB * reps / ((t2 - t1) / 1e9) / 1e6;
		}
	}
	if (fnl_len < 0 || ZSTD_isError(direct_len)) {
		printf("  \"zstd_l1\": {\"error\": %ld}\n", fnl_len);
		return;
	}
	double f = median(fnl, runs), d = median(direct, runs);
	printf("  \"zstd_l1\": {\"input_bytes\": %u, \"reps_per_run\": %d, "
	       "\"fnl_compress_mb_s\": %.1f, \"zstd_compressCCtx_mb_s\": %.1f, "
	       "\"fnl_vs_direct\": %.3f, \"fnl_compressed_bytes\": %ld, "
	       "\"direct_compressed_bytes\": %zu, \"ratio\": %.2f, \"target_fnl_vs_direct_min\": "
	       "0.9}\n",
	       MIB, reps, f, d, f / d, fnl_len, direct_len, (double)MIB / (double)fnl_len);
	ZSTD_freeCCtx(cctx);
	fnl_compressor_free(c);
	free(src);
	free(dst);
}

int main(int argc, char **argv)
{
	int runs = 11;
	long total = 2000000;
	int reps = 20;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
			runs = atoi(argv[++i]);
		} else if (strcmp(argv[i], "--quick") == 0) {
			total = 200000;
			reps = 3;
		} else {
			fprintf(stderr, "usage: %s [--runs N] [--quick]\n", argv[0]);
			return 2;
		}
	}
	if (runs < 1 || runs > RUNS_MAX) {
		fprintf(stderr, "--runs must be 1..%d\n", RUNS_MAX);
		return 2;
	}
	make_records();
	printf("{\n  \"runs\": %d,\n", runs);
	bench_encode(runs, total);
	bench_zstd(runs, reps);
	printf("}\n");
	return 0;
}
