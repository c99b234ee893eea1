/* micro_corpus.h - the records fnl-stages and fnl-core-stages feed funneld's
 * stages: unique JSON log lines of MICRO_VALUE_BYTES (random ids first, as
 * funnel-bench's json corpus), written into a client ring the way libfunnel
 * lays a record out (header, then the value; null key, no headers).
 *
 * Each including file gets its own generator state (static): the sequence is
 * the same in every run of a binary, so callgrind counts repeat.
 */
#ifndef FNL_MICRO_CORPUS_H
#define FNL_MICRO_CORPUS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dataplane/ring/ring.h"

#define MICRO_VALUE_BYTES 100

static uint64_t micro_rng = 0x9e3779b97f4a7c15ull;

static inline double micro_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline uint64_t micro_rand(void)
{
	micro_rng ^= micro_rng << 13;
	micro_rng ^= micro_rng >> 7;
	micro_rng ^= micro_rng << 17;
	return micro_rng;
}

/* record i's value: its timestamp advances 1 ms per 3 records */
static inline void micro_make_value(char *v, uint64_t i)
{
	static const char *const paths[4] = {"/api/v1/orders", "/api/v1/users", "/health",
	                                     "/api/v2/cart"};
	char tmp[256];
	int n = snprintf(tmp, sizeof(tmp),
	                 "{\"ts\":%llu,\"req\":\"%016llx\",\"user\":%llu,\"status\":%d,"
	                 "\"path\":\"%s\",\"msg\":\"request served in time\"}",
	                 (unsigned long long)(1700000000000ull + i / 3),
	                 (unsigned long long)micro_rand(),
	                 (unsigned long long)(1 + (micro_rand() % 1000) * (micro_rand() % 1000)),
	                 200 + (int)(micro_rand() % 3) * 100, paths[micro_rand() % 4]);
	memset(v, ' ', MICRO_VALUE_BYTES);
	memcpy(v, tmp, (size_t)n < MICRO_VALUE_BYTES ? (size_t)n : MICRO_VALUE_BYTES);
}

/* Record i (opaque i, stamp_ns stamp) into ring v, published. 0, or -1 when
 * the ring is full. */
static inline int micro_put_record(struct fnl_ring_cview *v, uint64_t i, uint64_t stamp)
{
	uint32_t len = fnl_ring_align8(fnl_rec_size(0, MICRO_VALUE_BYTES, 0));
	uint8_t *p = fnl_ring_reserve(v, len);
	if (!p)
		return -1;
	struct fnl_rec_hdr h = {.len = len,
	                        .type = FNL_REC_DATA,
	                        .flags = FNL_REC_F_KEY_NULL,
	                        .topic_id = 0,
	                        .partition = -1,
	                        .timestamp_ms = 1700000000000ll + (int64_t)(i / 3),
	                        .opaque = i,
	                        .value_len = MICRO_VALUE_BYTES,
	                        .stamp_ns = stamp};
	memcpy(p, &h, sizeof(h));
	micro_make_value((char *)p + sizeof(h), i);
	fnl_ring_publish(v);
	return 0;
}

#endif
