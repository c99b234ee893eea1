/* testdata.h - deterministic inputs for the compression tests.
 *
 * json_like() fills a buffer with ~100-byte JSON records like the ones clients
 * produce; noise() fills it with incompressible bytes. Both are reproducible
 * from their seed.
 */
#ifndef FNL_TEST_COMPRESS_DATA_H
#define FNL_TEST_COMPRESS_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline uint64_t td_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static inline void td_noise(void *buf, size_t n, uint64_t seed)
{
	uint8_t *p = buf;
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(td_rand(&x) >> 24);
}

/* Writes one JSON-like record of at most cap bytes (cap >= 128); returns its length. */
static inline size_t td_record(char *out, size_t cap, uint64_t *x)
{
	static const char *const events[] = {"click", "view", "purchase", "scroll", "login"};
	uint64_t r = td_rand(x);
	int n = snprintf(out, cap,
	                 "{\"id\":%llu,\"user\":\"user-%04u\",\"event\":\"%s\",\"ts\":%llu,"
	                 "\"value\":%u.%03u}",
	                 (unsigned long long)(r % 100000000ull), (unsigned)(r >> 20) % 5000,
	                 events[(r >> 40) % 5], 1700000000000ull + (r >> 44),
	                 (unsigned)(r >> 8) % 1000, (unsigned)(r >> 30) % 1000);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Fills exactly n bytes with concatenated records (the last one cut short). */
static inline void td_json_like(void *buf, size_t n, uint64_t seed)
{
	char rec[160];
	uint8_t *p = buf;
	uint64_t x = seed | 1;
	size_t off = 0;
	while (off < n) {
		size_t len = td_record(rec, sizeof(rec), &x);
		rec[len++] = '\n';
		if (len > n - off)
			len = n - off;
		memcpy(p + off, rec, len);
		off += len;
	}
}

#endif
