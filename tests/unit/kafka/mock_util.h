/* mock_util.h - plain-socket helpers for tests that talk to librdkafka's mock broker:
 * connect, blocking request/response, and a raw Fetch v4 (non-flexible) that returns the
 * stored RecordBatch bytes of one partition verbatim.
 *
 * Fetch v4 request body: replica_id i32 (-1), max_wait_ms i32, min_bytes i32, max_bytes i32,
 * isolation_level i8, topics [name string, partitions [partition i32, fetch_offset i64,
 * partition_max_bytes i32]].
 * Fetch v4 response body: throttle_time_ms i32, responses [topic string, partitions
 * [partition i32, error i16, high_watermark i64, last_stable_offset i64,
 * aborted_transactions [producer_id i64, first_offset i64] (nullable), records bytes]].
 */
#ifndef FNL_TEST_MOCK_UTIL_H
#define FNL_TEST_MOCK_UTIL_H

#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "check.h"
#include "dataplane/kafka/wire.h"

#define MOCK_FETCH_CORR 4242

static int mock_dial(const char *bootstrap)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", bootstrap);
	char *comma = strchr(host, ',');
	if (comma)
		*comma = 0;
	char *colon = strrchr(host, ':');
	CHECK(colon != NULL);
	*colon = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	CHECK_EQ(getaddrinfo(host, colon + 1, &hints, &ai), 0);
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	CHECK_EQ(connect(fd, ai->ai_addr, ai->ai_addrlen), 0);
	freeaddrinfo(ai);
	return fd;
}

static void mock_io_all(int fd, void *p, size_t n, int wr)
{
	uint8_t *b = p;
	while (n) {
		ssize_t k = wr ? write(fd, b, n) : read(fd, b, n);
		CHECK(k > 0);
		b += k;
		n -= (size_t)k;
	}
}

/* Reads one response frame (without its size field) into resp; returns its length. */
static size_t mock_read_frame(int fd, uint8_t *resp, size_t cap)
{
	uint8_t sz[4];
	mock_io_all(fd, sz, 4, 0);
	size_t n = fnl_get_be32(sz);
	CHECK(n <= cap);
	mock_io_all(fd, resp, n, 0);
	return n;
}

/* Sends Fetch v4 for (topic, partition) from offset 0; returns the response frame length. */
static size_t mock_fetch(int fd, const char *topic, int32_t partition, uint8_t *resp, size_t cap)
{
	uint8_t req[512];
	struct fnl_wbuf w;
	fnl_wbuf_init(&w, req, sizeof(req));
	fnl_w_i32(&w, 0);
	fnl_w_i16(&w, 1); /* Fetch */
	fnl_w_i16(&w, 4);
	fnl_w_i32(&w, MOCK_FETCH_CORR);
	fnl_w_nstring(&w, "fnl-test", 8);
	fnl_w_i32(&w, -1);      /* replica_id */
	fnl_w_i32(&w, 100);     /* max_wait_ms */
	fnl_w_i32(&w, 1);       /* min_bytes */
	fnl_w_i32(&w, 1 << 20); /* max_bytes */
	fnl_w_i8(&w, 0);        /* isolation_level */
	fnl_w_i32(&w, 1);
	fnl_w_string(&w, topic, strlen(topic));
	fnl_w_i32(&w, 1);
	fnl_w_i32(&w, partition);
	fnl_w_i64(&w, 0);       /* fetch_offset */
	fnl_w_i32(&w, 1 << 20); /* partition_max_bytes */
	CHECK_EQ(w.err, 0);
	fnl_put_be32(req, (uint32_t)w.len - 4);
	mock_io_all(fd, req, w.len, 1);
	return mock_read_frame(fd, resp, cap);
}

/* Parses the Fetch v4 response; returns the records field of the partition. */
static const uint8_t *mock_fetch_records(const uint8_t *resp, size_t n, int32_t partition,
                                         int32_t *len)
{
	struct fnl_rbuf r;
	const char *s;
	int32_t sl;
	const uint8_t *rec;
	fnl_rbuf_init(&r, resp, n);
	CHECK_EQ(fnl_r_i32(&r), MOCK_FETCH_CORR);
	(void)fnl_r_i32(&r); /* throttle */
	CHECK_EQ(fnl_r_array_len(&r), 1);
	fnl_r_string(&r, &s, &sl);
	CHECK_EQ(fnl_r_array_len(&r), 1);
	CHECK_EQ(fnl_r_i32(&r), partition);
	CHECK_EQ(fnl_r_i16(&r), 0); /* error */
	(void)fnl_r_i64(&r);        /* high watermark */
	(void)fnl_r_i64(&r);        /* last stable offset */
	int32_t na = fnl_r_array_len(&r);
	for (int32_t i = 0; i < na; i++)
		fnl_r_skip(&r, 16);
	fnl_r_bytes(&r, &rec, len);
	CHECK_EQ(r.err, 0);
	CHECK(*len > 0);
	return rec;
}

#endif
