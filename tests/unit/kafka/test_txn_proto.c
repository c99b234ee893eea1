/* test_txn_proto.c - the transaction requests against byte-exact vectors built by hand from
 * the apache/kafka message schemas (FindCoordinator, AddPartitionsToTxn, AddOffsetsToTxn,
 * EndTxn, TxnOffsetCommit), their responses decoded from hand-built bodies, every prefix
 * truncation, hostile counts, version limits and the KIP-447 group-metadata refusal below v3.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "dataplane/kafka/recbatch.h"
#include "dataplane/kafka/txn_proto.h"

#define ENC_CHECK(rc, buf, want)                                                                   \
	do {                                                                                       \
		CHECK_EQ((rc), (int)sizeof(want));                                                 \
		CHECK_MEM((buf), (want), sizeof(want));                                            \
	} while (0)

#define PID 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05 /* producer id 5 */

static uint8_t buf[512];

/* Every capacity below the full frame gives -ENOSPC without writing past it. */
static void check_short(int (*enc)(size_t cap), size_t full)
{
	for (size_t cap = 0; cap < full; cap++) {
		memset(buf, 0xa5, sizeof(buf));
		CHECK_EQ(enc(cap), -ENOSPC);
		for (size_t i = cap; i < sizeof(buf); i++)
			CHECK_EQ(buf[i], 0xa5);
	}
}

static int enc_fc4(size_t cap)
{
	return fnl_enc_find_coordinator_req(buf, cap, 4, 7, "c", "t", FNL_COORD_TXN);
}

static void test_find_coordinator_req(void)
{
	const uint8_t v1[] = {0x00, 0x00, 0x00, 0x0f, 0x00, 0x0a, 0x00, 0x01, 0x00, 0x00,
	                      0x00, 0x07, 0x00, 0x01, 'c',  0x00, 0x01, 't',  0x01};
	ENC_CHECK(fnl_enc_find_coordinator_req(buf, sizeof(buf), 1, 7, "c", "t", 1), buf, v1);
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x0e, 0x00, 0x0a, 0x00, 0x00, 0x00,
	                      0x00, 0x00, 0x07, 0x00, 0x01, 'c',  0x00, 0x01, 't'};
	ENC_CHECK(fnl_enc_find_coordinator_req(buf, sizeof(buf), 0, 7, "c", "t", 0), buf, v0);
	/* v3: flexible header (tags), compact key, type, tags */
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x0a, 0x00, 0x03, 0x00, 0x00,
	                      0x00, 0x07, 0x00, 0x01, 'c',  0x00, 0x02, 't',  0x01, 0x00};
	ENC_CHECK(fnl_enc_find_coordinator_req(buf, sizeof(buf), 3, 7, "c", "t", 1), buf, v3);
	/* v4: key type first, then coordinator_keys: compact array of one compact string */
	const uint8_t v4[] = {0x00, 0x00, 0x00, 0x11, 0x00, 0x0a, 0x00, 0x04, 0x00, 0x00, 0x00,
	                      0x07, 0x00, 0x01, 'c',  0x00, 0x01, 0x02, 0x02, 't',  0x00};
	ENC_CHECK(enc_fc4(sizeof(buf)), buf, v4);
	check_short(enc_fc4, sizeof(v4));
	/* v6 has v4's layout */
	CHECK_EQ(fnl_enc_find_coordinator_req(buf, sizeof(buf), 6, 7, "c", "t", 1),
	         (int)sizeof(v4));
	CHECK_EQ(buf[7], 6);
	CHECK_MEM(buf + 8, v4 + 8, sizeof(v4) - 8);
	CHECK_EQ(fnl_enc_find_coordinator_req(buf, sizeof(buf), 0, 7, "c", "t", 1), -EINVAL);
	CHECK_EQ(fnl_enc_find_coordinator_req(buf, sizeof(buf), 7, 7, "c", "t", 1), -EINVAL);
	CHECK_EQ(fnl_enc_find_coordinator_req(buf, sizeof(buf), 1, 7, "c", NULL, 1), -EINVAL);
}

static const int32_t parts02[] = {0, 2};
static const struct fnl_txn_topic_parts tp = {"t", parts02, 2};

static int enc_ap3(size_t cap)
{
	return fnl_enc_add_partitions_req(buf, cap, 3, 7, "c", "x", 5, 1, &tp, 1);
}

static void test_add_partitions_req(void)
{
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x2b, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00,
	                      0x00, 0x07, 0x00, 0x01, 'c',  0x00, 0x01, 'x',  PID,  0x00,
	                      0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 't',  0x00, 0x00,
	                      0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02};
	ENC_CHECK(fnl_enc_add_partitions_req(buf, sizeof(buf), 0, 7, "c", "x", 5, 1, &tp, 1), buf,
	          v0);
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x26, 0x00, 0x18, 0x00, 0x03, 0x00,
	                      0x00, 0x00, 0x07, 0x00, 0x01, 'c',  0x00, 0x02, 'x',
	                      PID,  0x00, 0x01, 0x02, 0x02, 't',  0x03, 0x00, 0x00,
	                      0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00};
	ENC_CHECK(enc_ap3(sizeof(buf)), buf, v3);
	check_short(enc_ap3, sizeof(v3));
	/* v4+ is the brokers' batched form: not ours */
	CHECK_EQ(fnl_enc_add_partitions_req(buf, sizeof(buf), 4, 7, "c", "x", 5, 1, &tp, 1),
	         -EINVAL);
	struct fnl_txn_topic_parts bad = {"t", NULL, 1};
	CHECK_EQ(fnl_enc_add_partitions_req(buf, sizeof(buf), 3, 7, "c", "x", 5, 1, &bad, 1),
	         -EINVAL);
	CHECK_EQ(fnl_enc_add_partitions_req(buf, sizeof(buf), 3, 7, "c", NULL, 5, 1, &tp, 1),
	         -EINVAL);
}

static void test_add_offsets_end_txn_req(void)
{
	const uint8_t ao0[] = {0x00, 0x00, 0x00, 0x1b, 0x00, 0x19, 0x00, 0x00,
	                       0x00, 0x00, 0x00, 0x07, 0x00, 0x01, 'c',  0x00,
	                       0x01, 'x',  PID,  0x00, 0x01, 0x00, 0x01, 'g'};
	ENC_CHECK(fnl_enc_add_offsets_req(buf, sizeof(buf), 0, 7, "c", "x", 5, 1, "g"), buf, ao0);
	const uint8_t ao4[] = {0x00, 0x00, 0x00, 0x1b, 0x00, 0x19, 0x00, 0x04,
	                       0x00, 0x00, 0x00, 0x07, 0x00, 0x01, 'c',  0x00,
	                       0x02, 'x',  PID,  0x00, 0x01, 0x02, 'g',  0x00};
	ENC_CHECK(fnl_enc_add_offsets_req(buf, sizeof(buf), 4, 7, "c", "x", 5, 1, "g"), buf, ao4);
	CHECK_EQ(fnl_enc_add_offsets_req(buf, sizeof(buf), 5, 7, "c", "x", 5, 1, "g"), -EINVAL);

	const uint8_t et0[] = {0x00, 0x00, 0x00, 0x19, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x00, 0x00,
	                       0x07, 0x00, 0x01, 'c',  0x00, 0x01, 'x',  PID,  0x00, 0x01, 0x01};
	ENC_CHECK(fnl_enc_end_txn_req(buf, sizeof(buf), 0, 7, "c", "x", 5, 1, true), buf, et0);
	const uint8_t et5[] = {0x00, 0x00, 0x00, 0x1a, 0x00, 0x1a, 0x00, 0x05,
	                       0x00, 0x00, 0x00, 0x07, 0x00, 0x01, 'c',  0x00,
	                       0x02, 'x',  PID,  0x00, 0x01, 0x00, 0x00};
	ENC_CHECK(fnl_enc_end_txn_req(buf, sizeof(buf), 5, 7, "c", "x", 5, 1, false), buf, et5);
	CHECK_EQ(fnl_enc_end_txn_req(buf, sizeof(buf), 6, 7, "c", "x", 5, 1, false), -EINVAL);
}

static const struct fnl_txn_offset off1 = {1, 42, -1, NULL};
static const struct fnl_txn_topic_offsets to1 = {"t", &off1, 1};

static int enc_toc3(size_t cap)
{
	struct fnl_txn_group g = {"g", 4, "m", NULL};
	return fnl_enc_txn_offset_commit_req(buf, cap, 3, 7, "c", "x", 5, 1, &g, &to1, 1);
}

static void test_txn_offset_commit_req(void)
{
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x39, 0x00, 0x1c, 0x00, 0x03, 0x00, 0x00, 0x00,
	                      0x07, 0x00, 0x01, 'c',  0x00, 0x02, 'x',  0x02, 'g',  PID,  0x00,
	                      0x01, 0x00, 0x00, 0x00, 0x04, 0x02, 'm',  0x00, 0x02, 0x02, 't',
	                      0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	                      0x00, 0x2a, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00};
	ENC_CHECK(enc_toc3(sizeof(buf)), buf, v3);
	check_short(enc_toc3, sizeof(v3));
	/* v0: no group metadata, no leader epoch; null metadata is int16 -1 */
	struct fnl_txn_group g0 = {"g", -1, NULL, NULL};
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x34, 0x00, 0x1c, 0x00, 0x00, 0x00, 0x00,
	                      0x00, 0x07, 0x00, 0x01, 'c',  0x00, 0x01, 'x',  0x00, 0x01,
	                      'g',  PID,  0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
	                      't',  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00,
	                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, 0xff, 0xff};
	ENC_CHECK(
	    fnl_enc_txn_offset_commit_req(buf, sizeof(buf), 0, 7, "c", "x", 5, 1, &g0, &to1, 1),
	    buf, v0);
	/* v2 adds the leader epoch (4 bytes) */
	CHECK_EQ(
	    fnl_enc_txn_offset_commit_req(buf, sizeof(buf), 2, 7, "c", "x", 5, 1, &g0, &to1, 1),
	    (int)sizeof(v0) + 4);
	/* KIP-447 metadata cannot go below v3 */
	struct fnl_txn_group gm = {"g", 4, "m", NULL};
	CHECK_EQ(
	    fnl_enc_txn_offset_commit_req(buf, sizeof(buf), 2, 7, "c", "x", 5, 1, &gm, &to1, 1),
	    -EOPNOTSUPP);
	struct fnl_txn_group gi = {"g", -1, "", "inst"};
	CHECK_EQ(
	    fnl_enc_txn_offset_commit_req(buf, sizeof(buf), 1, 7, "c", "x", 5, 1, &gi, &to1, 1),
	    -EOPNOTSUPP);
	/* an instance id is a nullable compact string at v3+ */
	int n = fnl_enc_txn_offset_commit_req(buf, sizeof(buf), 5, 7, "c", "x", 5, 1, &gi, &to1, 1);
	CHECK_EQ(n, (int)sizeof(v3) + 3); /* member "" (1 byte less), "inst" (4 more than null) */
	CHECK_EQ(
	    fnl_enc_txn_offset_commit_req(buf, sizeof(buf), 6, 7, "c", "x", 5, 1, &gi, &to1, 1),
	    -EINVAL);
}

/* ---- decoders ---- */

struct seen {
	int calls;
	char key[8], host[8], topic[8];
	int key_len, host_len, topic_len;
	int16_t err[4];
	int32_t node, port, part[4];
};

static void on_coord(void *ctx, const char *key, int key_len, int16_t err, int32_t node,
                     const char *host, int host_len, int32_t port)
{
	struct seen *s = ctx;
	s->key_len = key_len;
	if (key_len > 0)
		memcpy(s->key, key, (size_t)key_len);
	s->host_len = host_len;
	memcpy(s->host, host, (size_t)host_len);
	s->err[s->calls & 3] = err;
	s->node = node;
	s->port = port;
	s->calls++;
}

static void on_part(void *ctx, const char *topic, int topic_len, int32_t partition, int16_t err)
{
	struct seen *s = ctx;
	s->topic_len = topic_len;
	memcpy(s->topic, topic, (size_t)topic_len);
	s->part[s->calls & 3] = partition;
	s->err[s->calls & 3] = err;
	s->calls++;
}

/* Every strict prefix of a valid body is -EBADMSG and calls nothing back. */
static void trunc_coord(const uint8_t *b, size_t n, int16_t ver)
{
	for (size_t i = 0; i < n; i++) {
		struct seen s = {0};
		CHECK_EQ(fnl_dec_find_coordinator(b, i, ver, on_coord, &s, NULL), -EBADMSG);
		CHECK_EQ(s.calls, 0);
	}
}

static void test_find_coordinator_resp(void)
{
	struct seen s = {0};
	int32_t thr = -5;
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
	                      0x01, 'h',  0x00, 0x00, 0x23, 0x28};
	CHECK_EQ(fnl_dec_find_coordinator(v0, sizeof(v0), 0, on_coord, &s, &thr), 0);
	CHECK_EQ(s.calls, 1);
	CHECK_EQ(s.key_len, -1);
	CHECK_EQ(s.node, 2);
	CHECK_EQ(s.port, 9000);
	CHECK_EQ(s.host_len, 1);
	CHECK_EQ(s.host[0], 'h');
	CHECK_EQ(thr, 0);
	trunc_coord(v0, sizeof(v0), 0);

	const uint8_t v1[] = {0x00, 0x00, 0x00, 0x09, 0x00, 0x0f, 0x00, 0x01, 'x', 0xff,
	                      0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	memset(&s, 0, sizeof(s));
	CHECK_EQ(fnl_dec_find_coordinator(v1, sizeof(v1), 1, on_coord, &s, &thr), 0);
	CHECK_EQ(thr, 9);
	CHECK_EQ(s.err[0], 15); /* COORDINATOR_NOT_AVAILABLE, message "x" */
	CHECK_EQ(s.node, -1);
	CHECK_EQ(s.host_len, 0);
	trunc_coord(v1, sizeof(v1), 1);

	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	                      0x00, 0x03, 0x02, 'h',  0x00, 0x00, 0x23, 0x28, 0x00};
	memset(&s, 0, sizeof(s));
	CHECK_EQ(fnl_dec_find_coordinator(v3, sizeof(v3), 3, on_coord, &s, NULL), 0);
	CHECK_EQ(s.node, 3);
	CHECK_EQ(s.host_len, 1);
	trunc_coord(v3, sizeof(v3), 3);

	const uint8_t v4[] = {0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 't',  0x00, 0x00, 0x00, 0x01,
	                      0x02, 'h',  0x00, 0x00, 0x23, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00};
	memset(&s, 0, sizeof(s));
	CHECK_EQ(fnl_dec_find_coordinator(v4, sizeof(v4), 4, on_coord, &s, NULL), 0);
	CHECK_EQ(s.calls, 1);
	CHECK_EQ(s.key_len, 1);
	CHECK_EQ(s.key[0], 't');
	CHECK_EQ(s.node, 1);
	CHECK_EQ(s.port, 9000);
	trunc_coord(v4, sizeof(v4), 4);
	/* two smallest entries (empty key and host, null message): 14 bytes each */
	const uint8_t v4min[] = {0,    0, 0, 0, 0x03, 0x01, 0,    0,    0,    1,   0x01, 0,
	                         0,    0, 1, 0, 0,    0x00, 0x00, 0x01, 0,    0,   0,    2,
	                         0x01, 0, 0, 0, 2,    0,    0,    0x00, 0x00, 0x00};
	memset(&s, 0, sizeof(s));
	CHECK_EQ(fnl_dec_find_coordinator(v4min, sizeof(v4min), 4, on_coord, &s, NULL), 0);
	CHECK_EQ(s.calls, 2);
	CHECK_EQ(s.node, 2);
	CHECK_EQ(s.key_len, 0);
	trunc_coord(v4min, sizeof(v4min), 4);
	/* a null host is malformed; a hostile count is rejected before any loop */
	uint8_t bad[sizeof(v4)];
	memcpy(bad, v4, sizeof(v4));
	bad[11] = 0x00;
	CHECK_EQ(fnl_dec_find_coordinator(bad, sizeof(bad), 4, on_coord, &s, NULL), -EBADMSG);
	const uint8_t hostile[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x07};
	CHECK_EQ(fnl_dec_find_coordinator(hostile, sizeof(hostile), 4, on_coord, &s, NULL),
	         -EBADMSG);
	CHECK_EQ(fnl_dec_find_coordinator(v4, sizeof(v4), 7, on_coord, &s, NULL), -EBADMSG);
}

static void test_parts_resp(void)
{
	/* AddPartitionsToTxn v0: topic "t", partition 0 ok, partition 2 CONCURRENT_TRANSACTIONS */
	const uint8_t v0[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	                      0x01, 't',  0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
	                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x33};
	struct seen s = {0};
	CHECK_EQ(fnl_dec_add_partitions(v0, sizeof(v0), 0, on_part, &s, NULL), 0);
	CHECK_EQ(s.calls, 2);
	CHECK_EQ(s.part[1], 2);
	CHECK_EQ(s.err[0], 0);
	CHECK_EQ(s.err[1], 51);
	CHECK_EQ(s.topic_len, 1);
	for (size_t i = 0; i < sizeof(v0); i++) {
		memset(&s, 0, sizeof(s));
		CHECK_EQ(fnl_dec_add_partitions(v0, i, 0, on_part, &s, NULL), -EBADMSG);
		CHECK_EQ(s.calls, 0);
	}
	const uint8_t v3[] = {0x00, 0x00, 0x00, 0x07, 0x02, 0x02, 't',  0x03,
	                      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	                      0x00, 0x00, 0x02, 0x00, 0x2f, 0x00, 0x00, 0x00};
	int32_t thr = 0;
	memset(&s, 0, sizeof(s));
	CHECK_EQ(fnl_dec_add_partitions(v3, sizeof(v3), 3, on_part, &s, &thr), 0);
	CHECK_EQ(thr, 7);
	CHECK_EQ(s.calls, 2);
	CHECK_EQ(s.err[1], 47); /* INVALID_PRODUCER_EPOCH */
	for (size_t i = 0; i < sizeof(v3); i++)
		CHECK_EQ(fnl_dec_add_partitions(v3, i, 3, on_part, &s, NULL), -EBADMSG);
	CHECK_EQ(fnl_dec_add_partitions(v3, sizeof(v3), 4, on_part, &s, NULL), -EBADMSG);
	/* TxnOffsetCommit has the same shape; v5 is flexible like v3 */
	memset(&s, 0, sizeof(s));
	CHECK_EQ(fnl_dec_txn_offset_commit(v3, sizeof(v3), 5, on_part, &s, NULL), 0);
	CHECK_EQ(s.calls, 2);
	memset(&s, 0, sizeof(s));
	CHECK_EQ(fnl_dec_txn_offset_commit(v0, sizeof(v0), 2, on_part, &s, NULL), 0);
	CHECK_EQ(s.calls, 2);
	const uint8_t hostile[] = {0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
	CHECK_EQ(fnl_dec_txn_offset_commit(hostile, sizeof(hostile), 0, on_part, &s, NULL),
	         -EBADMSG);
	/* a null topic name is malformed */
	const uint8_t nulltopic[] = {0, 0, 0, 0, 0x02, 0x00, 0x01, 0x00, 0x00};
	CHECK_EQ(fnl_dec_txn_offset_commit(nulltopic, sizeof(nulltopic), 3, on_part, &s, NULL),
	         -EBADMSG);
}

static void test_add_offsets_end_txn_resp(void)
{
	int16_t err = -9;
	int32_t thr = -9;
	const uint8_t ao0[] = {0x00, 0x00, 0x00, 0x01, 0x00, 0x35};
	CHECK_EQ(fnl_dec_add_offsets(ao0, sizeof(ao0), 0, &err, &thr), 0);
	CHECK_EQ(err, 53); /* TRANSACTIONAL_ID_AUTHORIZATION_FAILED */
	CHECK_EQ(thr, 1);
	CHECK_EQ(fnl_dec_add_offsets(ao0, sizeof(ao0), 3, &err, &thr), -EBADMSG); /* no tags */
	const uint8_t ao3[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	CHECK_EQ(fnl_dec_add_offsets(ao3, sizeof(ao3), 4, &err, NULL), 0);
	CHECK_EQ(err, 0);
	for (size_t i = 0; i < sizeof(ao3); i++)
		CHECK_EQ(fnl_dec_add_offsets(ao3, i, 4, &err, NULL), -EBADMSG);

	int64_t pid = 0;
	int16_t ep = 0;
	const uint8_t et0[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x30};
	CHECK_EQ(fnl_dec_end_txn(et0, sizeof(et0), 0, &err, &pid, &ep, NULL), 0);
	CHECK_EQ(err, 48); /* INVALID_TXN_STATE */
	CHECK_EQ(pid, -1);
	CHECK_EQ(ep, -1);
	const uint8_t et5[] = {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, PID, 0x00, 0x02, 0x00};
	CHECK_EQ(fnl_dec_end_txn(et5, sizeof(et5), 5, &err, &pid, &ep, &thr), 0);
	CHECK_EQ(err, 0);
	CHECK_EQ(pid, 5);
	CHECK_EQ(ep, 2);
	CHECK_EQ(thr, 0);
	for (size_t i = 0; i < sizeof(et5); i++)
		CHECK_EQ(fnl_dec_end_txn(et5, i, 5, &err, &pid, &ep, NULL), -EBADMSG);
	/* v4 has no producer fields: the same 10 bytes decode, the producer stays -1 */
	CHECK_EQ(fnl_dec_end_txn(et5, 7, 4, &err, &pid, &ep, NULL), 0);
	CHECK_EQ(pid, -1);
	CHECK_EQ(fnl_dec_end_txn(et5, sizeof(et5), 6, &err, &pid, &ep, NULL), -EBADMSG);
}

static void test_versions(void)
{
	int16_t lo, hi;
	CHECK_EQ(fnl_api_ours(FNL_API_FIND_COORDINATOR, &lo, &hi), 0);
	CHECK_EQ(hi, 6);
	CHECK_EQ(fnl_api_ours(FNL_API_ADD_PARTITIONS_TO_TXN, &lo, &hi), 0);
	CHECK_EQ(hi, 3);
	CHECK_EQ(fnl_api_ours(FNL_API_TXN_OFFSET_COMMIT, &lo, &hi), 0);
	CHECK_EQ(hi, 5);
	/* a Kafka 4.x broker: AddPartitionsToTxn 0-5 -> we pick 3 */
	struct fnl_api_range br[] = {{24, 0, 5}, {26, 0, 5}, {10, 0, 6}};
	CHECK_EQ(fnl_api_pick(br, 3, FNL_API_ADD_PARTITIONS_TO_TXN), 3);
	CHECK_EQ(fnl_api_pick(br, 3, FNL_API_END_TXN), 5);
	CHECK(fnl_api_flexible(FNL_API_END_TXN, 3));
	CHECK(!fnl_api_flexible(FNL_API_END_TXN, 2));
	/* flexible responses have a tagged header */
	const uint8_t hdr[] = {0, 0, 0, 9, 0};
	int32_t corr;
	CHECK_EQ(fnl_dec_resp_header(hdr, sizeof(hdr), FNL_API_END_TXN, 3, &corr), 5);
	CHECK_EQ(fnl_dec_resp_header(hdr, sizeof(hdr), FNL_API_END_TXN, 2, &corr), 4);
}

/* fnl_rb_set_transactional: bit 4 of the attributes set, codec kept, CRC still valid. */
static void test_rb_transactional(void)
{
	static uint8_t raw[256], batch[256 + FNL_RB_HEADER_BYTES];
	struct fnl_rbw w;
	fnl_rbw_init(&w, raw, sizeof(raw), 1000);
	CHECK_EQ(fnl_rbw_append(&w, 1000, "k", 1, "v", 1, NULL, 0), 0);
	memcpy(batch + FNL_RB_HEADER_BYTES, raw, w.len);
	struct fnl_rb_meta m = {.codec = FNL_CODEC_NONE,
	                        .producer_id = 5,
	                        .producer_epoch = 1,
	                        .base_sequence = 3,
	                        .record_count = w.count,
	                        .base_ts = w.base_ts,
	                        .max_ts = w.max_ts};
	fnl_rb_write_header(batch, w.len, &m);
	size_t len = FNL_RB_HEADER_BYTES + w.len;
	struct fnl_rb_meta got;
	CHECK_EQ(fnl_rb_decode(batch, len, NULL, NULL, 0, &got, NULL, NULL), (long)len);
	CHECK_EQ(got.attributes & FNL_RB_ATTR_TXN, 0);
	fnl_rb_set_transactional(batch, len);
	CHECK_EQ(fnl_rb_decode(batch, len, NULL, NULL, 0, &got, NULL, NULL), (long)len);
	CHECK_EQ(got.attributes, FNL_RB_ATTR_TXN);
	CHECK_EQ(got.codec, FNL_CODEC_NONE);
	CHECK_EQ(got.producer_id, 5);
	CHECK_EQ(got.base_sequence, 3);
	batch[len - 1] ^= 1; /* the CRC covers the records */
	CHECK_EQ(fnl_rb_decode(batch, len, NULL, NULL, 0, &got, NULL, NULL), -EPROTO);
}

/* ApiVersions v3 with finalized features, laid out as kfake-broker sends them: tag 1 the
 * features epoch, tag 2 [transaction.version 0-2, group.version 0-1]. */
static void test_features(void)
{
	const uint8_t body[] = {
	    0x00, 0x00,                                                 /* error_code */
	    0x02, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x06, 0x00,             /* [FindCoordinator 0-6] */
	    0x00, 0x00, 0x00, 0x00,                                     /* throttle_time_ms */
	    0x02,                                                       /* 2 tagged fields */
	    0x01, 0x08, 0,    0,    0,    0,    0,    0,    0,    0x01, /* tag 1: epoch 1 */
	    0x02, 0x2d, 0x03, /* tag 2, 45 bytes: 2 features */
	    0x14, 't',  'r',  'a',  'n',  's',  'a',  'c',  't',  'i',  'o',  'n',  '.',  'v', 'e',
	    'r',  's',  'i',  'o',  'n',  0x00, 0x02, 0x00, 0x00, 0x00, 0x0e, 'g',  'r',  'o', 'u',
	    'p',  '.',  'v',  'e',  'r',  's',  'i',  'o',  'n',  0x00, 0x01, 0x00, 0x00, 0x00};
	int16_t max = -9, min = -9;
	CHECK_EQ(fnl_dec_api_versions_feature(body, sizeof(body), 3, FNL_FEATURE_TXN_VERSION, &max,
	                                      &min),
	         0);
	CHECK_EQ(max, 2);
	CHECK_EQ(min, 0);
	CHECK_EQ(fnl_dec_api_versions_feature(body, sizeof(body), 4, "group.version", &max, &min),
	         0);
	CHECK_EQ(max, 1);
	CHECK_EQ(fnl_dec_api_versions_feature(body, sizeof(body), 3, "nosuch", &max, &min),
	         -ENOENT);
	CHECK_EQ(fnl_dec_api_versions_feature(body, sizeof(body), 2, FNL_FEATURE_TXN_VERSION, &max,
	                                      &min),
	         -ENOENT);
	for (size_t i = 0; i < sizeof(body); i++)
		CHECK_EQ(
		    fnl_dec_api_versions_feature(body, i, 3, FNL_FEATURE_TXN_VERSION, &max, &min),
		    -EBADMSG);
	/* no tagged fields: not finalized */
	uint8_t none[15];
	memcpy(none, body, 14);
	none[14] = 0x00;
	CHECK_EQ(fnl_dec_api_versions_feature(none, 15, 3, FNL_FEATURE_TXN_VERSION, &max, &min),
	         -ENOENT);
	/* tag 2's size larger than its content, or content left over inside it */
	uint8_t bad[sizeof(body) + 1];
	memcpy(bad, body, sizeof(body));
	bad[26] = 0x2c;
	CHECK_EQ(
	    fnl_dec_api_versions_feature(bad, sizeof(body), 3, FNL_FEATURE_TXN_VERSION, &max, &min),
	    -EBADMSG);
	bad[26] = 0x2e;
	bad[sizeof(body)] = 0;
	CHECK_EQ(
	    fnl_dec_api_versions_feature(bad, sizeof(bad), 3, FNL_FEATURE_TXN_VERSION, &max, &min),
	    -EBADMSG);
}

int main(void)
{
	test_features();
	test_rb_transactional();
	test_find_coordinator_req();
	test_add_partitions_req();
	test_add_offsets_end_txn_req();
	test_txn_offset_commit_req();
	test_find_coordinator_resp();
	test_parts_resp();
	test_add_offsets_end_txn_resp();
	test_versions();
	return 0;
}
