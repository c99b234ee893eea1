/* test_proto.c - request encoders against hand-built vectors (from the apache/kafka message
 * JSON schemas), response decoders on hand-built responses, every prefix truncation, hostile
 * counts, and the ApiVersions UNSUPPORTED_VERSION fallback. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "dataplane/kafka/proto.h"

#define ENC_CHECK(rc, buf, want)                                                                   \
	do {                                                                                       \
		CHECK_EQ((rc), (int)sizeof(want));                                                 \
		CHECK_MEM((buf), (want), sizeof(want));                                            \
	} while (0)

/* Every smaller capacity must give -ENOSPC and not write past the capacity. */
static void check_enc_short(int (*enc)(void *, size_t), size_t full)
{
	uint8_t buf[256];
	for (size_t cap = 0; cap < full; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		CHECK_EQ(enc(buf, cap), -ENOSPC);
		for (size_t i = cap; i < sizeof(buf); i++)
			CHECK_EQ(buf[i], 0xa5);
	}
}

static int enc_av0(void *b, size_t cap)
{
	return fnl_enc_api_versions_req(b, cap, 0, 1, "c", NULL, NULL);
}

static void test_versions_table(void)
{
	int16_t lo, hi;
	CHECK_EQ(fnl_api_ours(FNL_API_PRODUCE, &lo, &hi), 0);
	CHECK_EQ(lo, 3);
	CHECK_EQ(hi, 12);
	CHECK_EQ(fnl_api_ours(FNL_API_METADATA, &lo, &hi), 0);
	CHECK_EQ(lo, 1);
	CHECK_EQ(hi, 13);
	CHECK_EQ(fnl_api_ours(FNL_API_API_VERSIONS, &lo, &hi), 0);
	CHECK_EQ(hi, 4);
	CHECK_EQ(fnl_api_ours(FNL_API_INIT_PRODUCER_ID, &lo, &hi), 0);
	CHECK_EQ(hi, 5);
	CHECK_EQ(fnl_api_ours(99, &lo, &hi), -ENOENT);
	CHECK(fnl_api_flexible(FNL_API_PRODUCE, 9));
	CHECK(!fnl_api_flexible(FNL_API_PRODUCE, 8));
	CHECK(fnl_api_flexible(FNL_API_API_VERSIONS, 3));
	CHECK(!fnl_api_flexible(FNL_API_API_VERSIONS, 2));
	CHECK(fnl_api_flexible(FNL_API_INIT_PRODUCER_ID, 2));
	CHECK(!fnl_api_flexible(FNL_API_METADATA, 8));
	CHECK(fnl_api_flexible(FNL_API_METADATA, 9));
	struct fnl_api_range br[] = {{0, 0, 9}, {3, 0, 14}, {18, 0, 5}, {22, 6, 7}};
	CHECK_EQ(fnl_api_pick(br, 4, FNL_API_PRODUCE), 9);
	CHECK_EQ(fnl_api_pick(br, 4, FNL_API_METADATA), 13);
	CHECK_EQ(fnl_api_pick(br, 4, FNL_API_API_VERSIONS), 4);
	CHECK_EQ(fnl_api_pick(br, 4, FNL_API_INIT_PRODUCER_ID), -1); /* 6-7 vs our 0-5 */
	CHECK_EQ(fnl_api_pick(br, 3, FNL_API_INIT_PRODUCER_ID), -1); /* not listed */
	struct fnl_api_range old[] = {{0, 0, 2}};
	CHECK_EQ(fnl_api_pick(old, 1, FNL_API_PRODUCE), -1);
}

static void test_api_versions_req(void)
{
	uint8_t buf[128];
	/* v0: header v1 only. size 11 | key 18 | ver 0 | corr 1 | client_id "c" */
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x0b, 0x00, 0x12, 0x00, 0x00,
	                      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 'c'};
	ENC_CHECK(fnl_enc_api_versions_req(buf, sizeof(buf), 0, 1, "c", NULL, NULL), buf, v0);
	check_enc_short(enc_av0, sizeof(v0));
	/* v3: header v2 (+ empty tags), client_software_name/version as compact strings, tags */
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x16,                         /* size 22 */
	                      0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, /* key, ver, corr */
	                      0x00, 0x01, 'c',  0x00,                         /* client_id, tags */
	                      0x07, 'f',  'u',  'n',  'n',  'e',  'l',        /* "funnel" */
	                      0x02, '1',                                      /* "1" */
	                      0x00};                                          /* tags */
	ENC_CHECK(fnl_enc_api_versions_req(buf, sizeof(buf), 3, 1, "c", "funnel", "1"), buf, v3);
	/* null client id: int16 -1 even in the flexible header */
	int n = fnl_enc_api_versions_req(buf, sizeof(buf), 2, 1, NULL, NULL, NULL);
	CHECK_EQ(n, 14);
	CHECK_EQ(buf[12], 0xff);
	CHECK_EQ(buf[13], 0xff);
	/* v4: the body is v3's */
	ENC_CHECK(fnl_enc_api_versions_req(buf, sizeof(buf), 3, 1, "c", "funnel", "1"), buf, v3);
	CHECK_EQ(fnl_enc_api_versions_req(buf, sizeof(buf), 4, 1, "c", "funnel", "1"),
		 (int)sizeof(v3));
	CHECK_EQ(buf[7], 4);
	CHECK(memcmp(buf + 8, v3 + 8, sizeof(v3) - 8) == 0);
	CHECK_EQ(fnl_enc_api_versions_req(buf, sizeof(buf), 5, 1, "c", NULL, NULL), -EINVAL);
}

static void test_metadata_req(void)
{
	uint8_t buf[128];
	const char *t[] = {"t"};
	/* v1, topics ["t"]: array int32 1, string "t" */
	const uint8_t v1[] = {0x00, 0x00, 0x00, 0x12, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
	                      0x02, 0x00, 0x01, 'c',  0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't'};
	ENC_CHECK(fnl_enc_metadata_req(buf, sizeof(buf), 1, 2, "c", t, 1, true), buf, v1);
	/* v4, all topics: null array (-1), allow_auto_topic_creation = true */
	const uint8_t v4[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00,
	                      0x00, 0x02, 0x00, 0x01, 'c',  0xff, 0xff, 0xff, 0xff, 0x01};
	ENC_CHECK(fnl_enc_metadata_req(buf, sizeof(buf), 4, 2, "c", NULL, -1, true), buf, v4);
	/* v9 (first flexible): compact array 1+1, compact string, topic tags, allow=false,
	 * include_cluster_authorized_operations (8-10), include_topic_authorized_operations, tags
	 */
	const uint8_t v9[] = {0x00, 0x00, 0x00, 0x14, 0x00, 0x03, 0x00, 0x09,
	                      0x00, 0x00, 0x00, 0x02, 0x00, 0x01, 'c',  0x00,
	                      0x02, 0x02, 't',  0x00, 0x00, 0x00, 0x00, 0x00};
	ENC_CHECK(fnl_enc_metadata_req(buf, sizeof(buf), 9, 2, "c", t, 1, false), buf, v9);
	/* v12: topic entries carry a topic_id uuid (zero: by name) before the name; no cluster
	 * authorized operations field after v10 */
	const uint8_t v12[] = {0x00, 0x00, 0x00, 0x23, 0x00, 0x03, 0x00, 0x0c, 0x00, 0x00,
	                       0x00, 0x02, 0x00, 0x01, 'c',  0x00, 0x02, 0,    0,    0,
	                       0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
	                       0,    0,    0,    0x02, 't',  0x00, 0x01, 0x00, 0x00};
	ENC_CHECK(fnl_enc_metadata_req(buf, sizeof(buf), 12, 2, "c", t, 1, true), buf, v12);
	/* v9 all topics: compact null array = 0 */
	int n = fnl_enc_metadata_req(buf, sizeof(buf), 9, 2, "c", NULL, -1, true);
	CHECK_EQ(n, 16 + 5);
	CHECK_EQ(buf[16], 0x00);
	CHECK_EQ(fnl_enc_metadata_req(buf, sizeof(buf), 0, 2, "c", NULL, -1, true), -EINVAL);
	/* v13: the request is v12's */
	buf[7] = 0;
	CHECK_EQ(fnl_enc_metadata_req(buf, sizeof(buf), 13, 2, "c", t, 1, true), (int)sizeof(v12));
	CHECK_EQ(buf[7], 13);
	CHECK(memcmp(buf + 8, v12 + 8, sizeof(v12) - 8) == 0);
	CHECK_EQ(fnl_enc_metadata_req(buf, sizeof(buf), 14, 2, "c", NULL, -1, true), -EINVAL);
}

static void test_init_pid_req(void)
{
	uint8_t buf[128];
	/* v0: transactional_id null (int16 -1), transaction_timeout_ms 60000 */
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x11, 0x00, 0x16, 0x00, 0x00, 0x00, 0x00, 0x00,
	                      0x03, 0x00, 0x01, 'c',  0xff, 0xff, 0x00, 0x00, 0xea, 0x60};
	ENC_CHECK(fnl_enc_init_pid_req(buf, sizeof(buf), 0, 3, "c", 60000, -1, -1), buf, v0);
	/* v4: flexible; compact null string (0), timeout, producer_id -1, epoch -1, tags */
	const uint8_t v4[] = {0x00, 0x00, 0x00, 0x1c, 0x00, 0x16, 0x00, 0x04, 0x00, 0x00, 0x00,
	                      0x03, 0x00, 0x01, 'c',  0x00, 0x00, 0x00, 0x00, 0xea, 0x60, 0xff,
	                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00};
	ENC_CHECK(fnl_enc_init_pid_req(buf, sizeof(buf), 4, 3, "c", 60000, -1, -1), buf, v4);
	/* v2: flexible, no producer id/epoch */
	const uint8_t v2[] = {0x00, 0x00, 0x00, 0x12, 0x00, 0x16, 0x00, 0x02, 0x00, 0x00, 0x00,
	                      0x03, 0x00, 0x01, 'c',  0x00, 0x00, 0x00, 0x00, 0xea, 0x60, 0x00};
	ENC_CHECK(fnl_enc_init_pid_req(buf, sizeof(buf), 2, 3, "c", 60000, 7, 1), buf, v2);
}

static size_t flatten(const struct iovec *iov, int n, uint8_t *out)
{
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		memcpy(out + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	return len;
}

static void test_produce_req(void)
{
	uint8_t scratch[128], flat[256];
	struct iovec iov[8];
	struct fnl_preq r;
	const char batch[] = "BATCH";

	/* v3: txn id null, acks -1, timeout 30000, [topic "t" [partition 0, records int32 5]] */
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x2b,                         /* size 43 */
	                      0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04, /* key, ver, corr */
	                      0x00, 0x01, 'c',                                /* client_id */
	                      0xff, 0xff,                                     /* transactional_id */
	                      0xff, 0xff,                                     /* acks -1 */
	                      0x00, 0x00, 0x75, 0x30,                         /* timeout 30000 */
	                      0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',        /* topics [1] "t" */
	                      0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* partitions [1] 0 */
	                      0x00, 0x00, 0x00, 0x05, 'B',  'A',  'T',  'C',  'H'};
	CHECK_EQ(
	    fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 3, 4, "c", NULL, -1, 30000, 1), 0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 1), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, batch, 5), 0);
	int n = fnl_preq_end(&r);
	CHECK_EQ(n, 3);
	CHECK(iov[1].iov_base == (void *)batch); /* zero copy */
	CHECK_EQ(r.frame_bytes, sizeof(v3));
	CHECK_EQ(flatten(iov, n, flat), sizeof(v3));
	CHECK_MEM(flat, v3, sizeof(v3));

	/* v9: flexible header, compact strings/arrays, COMPACT_RECORDS (len + 1), tags after
	 * each partition, topic and the request */
	const uint8_t v9[] = {0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0x09,
	                      0x00, 0x00, 0x00, 0x04, 0x00, 0x01, 'c',  0x00, /* header v2 */
	                      0x00,                               /* transactional_id null */
	                      0xff, 0xff, 0x00, 0x00, 0x75, 0x30, /* acks, timeout */
	                      0x02, 0x02, 't',                    /* topics [1] "t" */
	                      0x02, 0x00, 0x00, 0x00, 0x00,       /* partitions [1] 0 */
	                      0x06, 'B',  'A',  'T',  'C',  'H',  /* records */
	                      0x00, 0x00, 0x00}; /* partition, topic, request tags */
	CHECK_EQ(
	    fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 9, 4, "c", NULL, -1, 30000, 1), 0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 1), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, batch, 5), 0);
	n = fnl_preq_end(&r);
	CHECK_EQ(n, 3);
	CHECK_EQ(r.frame_bytes, sizeof(v9));
	CHECK_EQ(flatten(iov, n, flat), sizeof(v9));
	CHECK_MEM(flat, v9, sizeof(v9));
	/* v12: v9's frame with another version number; v13 (topic ids) is not ours */
	CHECK_EQ(
	    fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 12, 4, "c", NULL, -1, 30000, 1), 0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 1), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, batch, 5), 0);
	n = fnl_preq_end(&r);
	CHECK_EQ(flatten(iov, n, flat), sizeof(v9));
	CHECK_EQ(flat[7], 12);
	CHECK_MEM(flat + 8, v9 + 8, sizeof(v9) - 8);
	CHECK(fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 13, 4, "c", NULL, -1, 30000, 1) <
	      0);

	/* two topics, three partitions, v11: size field matches the flattened frame */
	CHECK_EQ(
	    fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 11, 5, "cid", "tx", 1, 100, 2), 0);
	CHECK_EQ(fnl_preq_topic(&r, "a", 1, 2), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, batch, 5), 0);
	CHECK_EQ(fnl_preq_partition(&r, 1, batch, 3), 0);
	CHECK_EQ(fnl_preq_topic(&r, "bb", 2, 1), 0);
	CHECK_EQ(fnl_preq_partition(&r, 7, batch, 1), 0);
	n = fnl_preq_end(&r);
	CHECK_EQ(n, 7);
	size_t len = flatten(iov, n, flat);
	CHECK_EQ(len, r.frame_bytes);
	CHECK_EQ(fnl_get_be32(flat), len - 4);

	/* count mismatches, iov and scratch exhaustion */
	CHECK_EQ(fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 9, 4, "c", NULL, -1, 1, 1),
	         0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 2), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, batch, 5), 0);
	CHECK_EQ(fnl_preq_end(&r), -EINVAL);
	CHECK_EQ(fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 9, 4, "c", NULL, -1, 1, 1),
	         0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 1), 0);
	CHECK_EQ(fnl_preq_topic(&r, "u", 1, 1), -EINVAL);
	CHECK_EQ(fnl_preq_end(&r), -EINVAL);
	CHECK_EQ(fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 2, 9, 4, "c", NULL, -1, 1, 1),
	         0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 1), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, batch, 5), 0);
	CHECK_EQ(fnl_preq_end(&r), -ENOSPC);
	CHECK_EQ(fnl_preq_begin(&r, scratch, 30, iov, 8, 9, 4, "c", NULL, -1, 1, 1), 0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 1), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, batch, 5), -ENOSPC);
	CHECK_EQ(fnl_preq_end(&r), -ENOSPC);
	CHECK_EQ(fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 2, 4, "c", NULL, -1, 1, 1),
	         -EINVAL);
	/* null records */
	CHECK_EQ(fnl_preq_begin(&r, scratch, sizeof(scratch), iov, 8, 3, 4, "c", NULL, -1, 1, 1),
	         0);
	CHECK_EQ(fnl_preq_topic(&r, "t", 1, 1), 0);
	CHECK_EQ(fnl_preq_partition(&r, 0, NULL, 0), 0);
	CHECK_EQ(fnl_preq_end(&r), 1);
	CHECK_EQ(r.frame_bytes, sizeof(v3) - 5);
}

/* ---- responses ---- */

static void test_resp_header(void)
{
	const uint8_t h[] = {0x00, 0x00, 0x00, 0x07, 0x00, 0xee};
	int32_t corr = 0;
	CHECK_EQ(fnl_dec_resp_header(h, 6, FNL_API_PRODUCE, 8, &corr), 4);
	CHECK_EQ(corr, 7);
	CHECK_EQ(fnl_dec_resp_header(h, 6, FNL_API_PRODUCE, 9, &corr), 5);
	/* ApiVersions always header v0, even v3 */
	CHECK_EQ(fnl_dec_resp_header(h, 6, FNL_API_API_VERSIONS, 3, &corr), 4);
	for (size_t n = 0; n < 5; n++)
		CHECK_EQ(fnl_dec_resp_header(h, n, FNL_API_METADATA, 9, &corr),
		         n < 4 ? -EBADMSG : -EBADMSG);
	/* tagged fields in the header are skipped */
	const uint8_t t[] = {0x00, 0x00, 0x00, 0x07, 0x01, 0x00, 0x02, 0xaa, 0xbb};
	CHECK_EQ(fnl_dec_resp_header(t, sizeof(t), FNL_API_METADATA, 12, &corr), 9);
}

/* ApiVersions v3 body: 3 keys, throttle, one tagged field (SupportedFeatures, empty array) */
static const uint8_t av3[] = {0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x0b, 0x00, 0x00,
                              0x03, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00,
                              0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x01};
/* ApiVersions v0 body */
static const uint8_t av0[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x08, 0x00, 0x12, 0x00, 0x00, 0x00, 0x02};
/* UNSUPPORTED_VERSION answer to an ApiVersions v3 request: v0 body listing 18 0..2 */
static const uint8_t av_err35[] = {0x00, 0x23, 0x00, 0x00, 0x00, 0x01,
                                   0x00, 0x12, 0x00, 0x00, 0x00, 0x02};

static void test_api_versions_resp(void)
{
	struct fnl_api_range r[4];
	int n;
	int16_t err;
	CHECK_EQ(fnl_dec_api_versions(av3, sizeof(av3), 3, r, 4, &n, &err), 0);
	CHECK_EQ(err, 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(r[0].key, 0);
	CHECK_EQ(r[0].min, 3);
	CHECK_EQ(r[0].max, 11);
	CHECK_EQ(r[1].max, 12);
	CHECK_EQ(r[2].key, 18);
	CHECK_EQ(fnl_api_pick(r, n, FNL_API_PRODUCE), 11);
	/* max smaller than the count: fills 2, still validates all */
	CHECK_EQ(fnl_dec_api_versions(av3, sizeof(av3), 3, r, 2, &n, &err), 0);
	CHECK_EQ(n, 2);
	for (size_t k = 0; k < sizeof(av3); k++)
		CHECK_EQ(fnl_dec_api_versions(av3, k, 3, r, 4, &n, &err), -EBADMSG);

	CHECK_EQ(fnl_dec_api_versions(av0, sizeof(av0), 0, r, 4, &n, &err), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(r[0].max, 8);
	for (size_t k = 0; k < sizeof(av0); k++)
		CHECK_EQ(fnl_dec_api_versions(av0, k, 0, r, 4, &n, &err), -EBADMSG);
	/* v1/v2 add throttle */
	uint8_t av1[sizeof(av0) + 4];
	memcpy(av1, av0, sizeof(av0));
	memset(av1 + sizeof(av0), 0, 4);
	CHECK_EQ(fnl_dec_api_versions(av1, sizeof(av1), 2, r, 4, &n, &err), 0);
	CHECK_EQ(fnl_dec_api_versions(av0, sizeof(av0), 2, r, 4, &n, &err), -EBADMSG);

	/* error 35 to a v3 request: body is v0, caller retries at the listed version */
	CHECK_EQ(fnl_dec_api_versions(av_err35, sizeof(av_err35), 3, r, 4, &n, &err), 0);
	CHECK_EQ(err, FNL_PROTO_ERR_UNSUPPORTED_VERSION);
	CHECK_EQ(n, 1);
	CHECK_EQ(fnl_api_pick(r, n, FNL_API_API_VERSIONS), 2);
	/* a broker that sends only the error code (pre KIP-511): empty list */
	const uint8_t bare[] = {0x00, 0x23, 0x00, 0x00, 0x00, 0x00};
	CHECK_EQ(fnl_dec_api_versions(bare, sizeof(bare), 3, r, 4, &n, &err), 0);
	CHECK_EQ(n, 0);

	/* hostile count */
	const uint8_t huge[] = {0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0x00, 0x00};
	CHECK_EQ(fnl_dec_api_versions(huge, sizeof(huge), 0, r, 4, &n, &err), -EBADMSG);
	const uint8_t hugec[] = {0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00};
	CHECK_EQ(fnl_dec_api_versions(hugec, sizeof(hugec), 3, r, 4, &n, &err), -EBADMSG);
}

struct md_log {
	int brokers, topics, parts, errors;
	int32_t controller, last_leader, last_epoch, port;
	int16_t last_err, top_err;
	char host[32], topic[32];
};

static void md_broker(void *ctx, int32_t node, const char *host, int host_len, int32_t port)
{
	struct md_log *l = ctx;
	(void)node;
	l->brokers++;
	l->port = port;
	memcpy(l->host, host, (size_t)host_len);
	l->host[host_len] = 0;
}

static void md_topic(void *ctx, int16_t err, const char *name, int name_len, int32_t nparts)
{
	struct md_log *l = ctx;
	(void)err;
	(void)nparts;
	l->topics++;
	memcpy(l->topic, name, (size_t)name_len);
	l->topic[name_len] = 0;
}

static void md_part(void *ctx, int16_t err, int32_t part, int32_t leader, int32_t epoch)
{
	struct md_log *l = ctx;
	(void)part;
	l->parts++;
	l->last_err = err;
	l->last_leader = leader;
	l->last_epoch = epoch;
}

static void md_ctrl(void *ctx, int32_t id)
{
	((struct md_log *)ctx)->controller = id;
}

static void md_error(void *ctx, int16_t err)
{
	struct md_log *l = ctx;
	l->errors++;
	l->top_err = err;
}

/* Metadata v1 body: 1 broker, controller, topic "t" with 2 partitions */
static const uint8_t md1[] = {
    0x00, 0x00, 0x00, 0x01,                                     /* brokers [1] */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x09, 'l',  'o',  'c',  'a',  /* node 1, host */
    'l',  'h',  'o',  's',  't',  0x00, 0x00, 0x23, 0x84,       /* port 9092 */
    0xff, 0xff,                                                 /* rack null */
    0x00, 0x00, 0x00, 0x01,                                     /* controller 1 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 't',  0x00, /* topics [1], err, "t", int */
    0x00, 0x00, 0x00, 0x02,                                     /* partitions [2] */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* err 0, p0, leader 1 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,             /* replicas [1] */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,             /* isr [1] */
    0x00, 0x05, 0x00, 0x00, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, /* err 5, p1, leader -1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};            /* replicas [], isr [] */

/* Metadata v12 body (flexible, topic ids) */
static const uint8_t md12[] = {
    0x00, 0x00, 0x00, 0x00,                                     /* throttle */
    0x02, 0x00, 0x00, 0x00, 0x01, 0x0a, 'l',  'o',  'c',  'a',  /* brokers [1], node 1 */
    'l',  'h',  'o',  's',  't',  0x00, 0x00, 0x23, 0x84,       /* host, port */
    0x00, 0x00,                                                 /* rack null, tags */
    0x04, 'a',  'b',  'c',                                      /* cluster_id */
    0x00, 0x00, 0x00, 0x02,                                     /* controller 2 */
    0x02, 0x00, 0x00, 0x02, 't',                                /* topics [1], err, "t" */
    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   /* topic id */
    11,   12,   13,   14,   15,   16,   0x00,                   /* ..., is_internal */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* parts [1], err, p0 */
    0x03, 0x00, 0x00, 0x00, 0x07,                               /* leader 3, epoch 7 */
    0x02, 0x00, 0x00, 0x00, 0x03, 0x02, 0x00, 0x00, 0x00, 0x03, /* replicas, isr */
    0x01, 0x00,                                                 /* offline [], tags */
    0x80, 0x00, 0x00, 0x00, 0x00,                               /* topic auth ops, tags */
    0x00};                                                      /* tags */

static void test_metadata_resp(void)
{
	struct md_log l;
	struct fnl_md_visitor v = {&l, md_broker, md_topic, md_part, md_ctrl, md_error};
	memset(&l, 0, sizeof(l));
	CHECK_EQ(fnl_dec_metadata(md1, sizeof(md1), 1, &v), 0);
	CHECK_EQ(l.brokers, 1);
	CHECK(strcmp(l.host, "localhost") == 0);
	CHECK_EQ(l.port, 9092);
	CHECK_EQ(l.controller, 1);
	CHECK_EQ(l.topics, 1);
	CHECK(strcmp(l.topic, "t") == 0);
	CHECK_EQ(l.parts, 2);
	CHECK_EQ(l.last_err, 5);
	CHECK_EQ(l.last_leader, -1);
	CHECK_EQ(l.last_epoch, -1);
	for (size_t k = 0; k < sizeof(md1); k++) {
		memset(&l, 0, sizeof(l));
		CHECK_EQ(fnl_dec_metadata(md1, k, 1, &v), -EBADMSG);
		CHECK_EQ(l.brokers + l.topics + l.parts, 0); /* no callback on bad input */
	}
	memset(&l, 0, sizeof(l));
	CHECK_EQ(fnl_dec_metadata(md12, sizeof(md12), 12, &v), 0);
	CHECK_EQ(l.brokers, 1);
	CHECK_EQ(l.controller, 2);
	CHECK_EQ(l.parts, 1);
	CHECK_EQ(l.last_leader, 3);
	CHECK_EQ(l.last_epoch, 7);
	for (size_t k = 0; k < sizeof(md12); k++)
		CHECK_EQ(fnl_dec_metadata(md12, k, 12, &v), -EBADMSG);
	/* NULL visitor just validates */
	CHECK_EQ(fnl_dec_metadata(md12, sizeof(md12), 12, NULL), 0);
	CHECK_EQ(l.errors, 1);
	CHECK_EQ(l.top_err, 0);
	/* v13: v12 + a top-level error code before the last tags (KIP-1102) */
	uint8_t md13[sizeof(md12) + 2];
	memcpy(md13, md12, sizeof(md12) - 1);
	md13[sizeof(md12) - 1] = 0x00;
	md13[sizeof(md12)] = 0x81; /* 129 REBOOTSTRAP_REQUIRED */
	md13[sizeof(md12) + 1] = 0x00;
	memset(&l, 0, sizeof(l));
	CHECK_EQ(fnl_dec_metadata(md13, sizeof(md13), 13, &v), 0);
	CHECK_EQ(l.parts, 1);
	CHECK_EQ(l.errors, 1);
	CHECK_EQ(l.top_err, 129);
	for (size_t k = 0; k < sizeof(md13); k++)
		CHECK_EQ(fnl_dec_metadata(md13, k, 13, &v), -EBADMSG);
	CHECK_EQ(fnl_dec_metadata(md12, sizeof(md12), 13, NULL), -EBADMSG); /* no error code */
	/* hostile counts */
	uint8_t bad[sizeof(md1)];
	memcpy(bad, md1, sizeof(md1));
	fnl_put_be32(bad, 0x7fffffff);
	CHECK_EQ(fnl_dec_metadata(bad, sizeof(bad), 1, &v), -EBADMSG);
	memcpy(bad, md1, sizeof(md1));
	fnl_put_be32(bad + 39, 0x7fffffff); /* partitions count */
	CHECK_EQ(fnl_dec_metadata(bad, sizeof(bad), 1, &v), -EBADMSG);
	memcpy(bad, md1, sizeof(md1));
	fnl_put_be32(bad + 53, 0x7fffffff); /* replicas count */
	CHECK_EQ(fnl_dec_metadata(bad, sizeof(bad), 1, &v), -EBADMSG);
}

static void test_init_pid_resp(void)
{
	const uint8_t b[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	                     0x00, 0x00, 0x00, 0x03, 0xe8, 0x00, 0x05, 0x00};
	int16_t err, epoch;
	int64_t pid;
	CHECK_EQ(fnl_dec_init_pid(b, sizeof(b) - 1, 0, &err, &pid, &epoch), 0);
	CHECK_EQ(err, 0);
	CHECK_EQ(pid, 1000);
	CHECK_EQ(epoch, 5);
	CHECK_EQ(fnl_dec_init_pid(b, sizeof(b), 4, &err, &pid, &epoch), 0);
	for (size_t k = 0; k < sizeof(b); k++)
		CHECK_EQ(fnl_dec_init_pid(b, k, 4, &err, &pid, &epoch), -EBADMSG);
}

struct pr_log {
	int n;
	int32_t partition;
	int16_t err;
	int64_t base, lat, lso;
};

static void pr_cb(void *ctx, const char *topic, int topic_len, int32_t partition, int16_t err,
                  int64_t base, int64_t lat, int64_t lso)
{
	struct pr_log *l = ctx;
	CHECK_EQ(topic_len, 1);
	CHECK_EQ(topic[0], 't');
	l->n++;
	l->partition = partition;
	l->err = err;
	l->base = base;
	l->lat = lat;
	l->lso = lso;
}

/* Produce v3 body: [topic "t" [p2, err 0, base 42, log_append_time -1]], throttle 10 */
static const uint8_t pr3[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',  0x00, 0x00, 0x00,
                              0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
                              0x00, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff, 0xff, 0xff, 0xff,
                              0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x0a};
/* Produce v8 body: + log_start_offset 5, record_errors [1: {3, "x"}], error_message "e" */
static const uint8_t pr8[] = {
    0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',  0x00, 0x00, 0x00, 0x01, /* topic, parts [1] */
    0x00, 0x00, 0x00, 0x02, 0x00, 0x2d,                               /* p2, err 45 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,                   /* base 42 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x63,                   /* log append 99 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,                   /* log start 5 */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 'x',  /* record errors */
    0x00, 0x01, 'e',                                                  /* error message */
    0x00, 0x00, 0x00, 0x00};                                          /* throttle */
/* Produce v10 body: flexible, with a CurrentLeader tagged field and NodeEndpoints */
static const uint8_t pr10[] = {
    0x02, 0x02, 't',  0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, /* topic, part 2, err 0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,             /* base 42 */
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             /* log append -1 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,             /* log start 0 */
    0x01, 0x00,                                                 /* record errors [], msg */
    0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, /* tag 0: leader 1 */
    0x02,                                                       /* epoch 2 */
    0x00,                                                       /* topic tags */
    0x00, 0x00, 0x00, 0x00,                                     /* throttle */
    0x01, 0x00, 0x0d, 0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 'h',  /* node endpoints */
    0x00, 0x00, 0x23, 0x84, 0x00, 0x00};

static void test_produce_resp(void)
{
	struct pr_log l;
	int32_t thr = -1;
	memset(&l, 0, sizeof(l));
	CHECK_EQ(fnl_dec_produce(pr3, sizeof(pr3), 3, pr_cb, &l, &thr), 0);
	CHECK_EQ(l.n, 1);
	CHECK_EQ(l.partition, 2);
	CHECK_EQ(l.base, 42);
	CHECK_EQ(l.lat, -1);
	CHECK_EQ(l.lso, -1);
	CHECK_EQ(thr, 10);
	for (size_t k = 0; k < sizeof(pr3); k++) {
		memset(&l, 0, sizeof(l));
		CHECK_EQ(fnl_dec_produce(pr3, k, 3, pr_cb, &l, &thr), -EBADMSG);
		CHECK_EQ(l.n, 0);
	}
	memset(&l, 0, sizeof(l));
	CHECK_EQ(fnl_dec_produce(pr8, sizeof(pr8), 8, pr_cb, &l, &thr), 0);
	CHECK_EQ(l.err, 45);
	CHECK_EQ(l.lat, 99);
	CHECK_EQ(l.lso, 5);
	for (size_t k = 0; k < sizeof(pr8); k++)
		CHECK_EQ(fnl_dec_produce(pr8, k, 8, pr_cb, &l, &thr), -EBADMSG);
	memset(&l, 0, sizeof(l));
	CHECK_EQ(fnl_dec_produce(pr10, sizeof(pr10), 10, pr_cb, &l, &thr), 0);
	CHECK_EQ(l.n, 1);
	CHECK_EQ(l.base, 42);
	CHECK_EQ(l.lso, 0);
	CHECK_EQ(thr, 0);
	for (size_t k = 0; k < sizeof(pr10); k++)
		CHECK_EQ(fnl_dec_produce(pr10, k, 10, pr_cb, &l, &thr), -EBADMSG);
	CHECK_EQ(fnl_dec_produce(pr10, sizeof(pr10), 10, NULL, NULL, NULL), 0);
	/* hostile counts */
	uint8_t bad[sizeof(pr3)];
	memcpy(bad, pr3, sizeof(pr3));
	fnl_put_be32(bad, 0x7fffffff);
	CHECK_EQ(fnl_dec_produce(bad, sizeof(bad), 3, pr_cb, &l, &thr), -EBADMSG);
	memcpy(bad, pr3, sizeof(pr3));
	fnl_put_be32(bad + 7, 0x7fffffff);
	CHECK_EQ(fnl_dec_produce(bad, sizeof(bad), 3, pr_cb, &l, &thr), -EBADMSG);
	CHECK_EQ(fnl_dec_produce(pr3, sizeof(pr3), 2, pr_cb, &l, &thr), -EBADMSG);
}

int main(void)
{
	test_versions_table();
	test_api_versions_req();
	test_metadata_req();
	test_init_pid_req();
	test_produce_req();
	test_resp_header();
	test_api_versions_resp();
	test_metadata_resp();
	test_init_pid_resp();
	test_produce_resp();
	return 0;
}
