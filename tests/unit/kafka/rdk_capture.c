/* rdk_capture.c - golden RecordBatches written by librdkafka.
 *
 *   rdk_capture [OUT_DIR]
 *
 * For each codec (none, gzip, snappy, lz4, zstd): start librdkafka's in-process mock cluster
 * (test.mock.num.brokers=1) with an idempotent producer using that codec, produce the golden
 * records (golden_records.h) to partition 0 in one batch, then read the partition back with
 * a raw Fetch v4 over a plain socket: the mock broker stores the producer's batches verbatim
 * and returns them, so the Fetch records field holds exactly the bytes librdkafka wrote
 * (baseOffset is assigned by the broker; it is outside the CRC). fnl_rb_decode must yield the
 * golden records. With OUT_DIR, each records field is written to OUT_DIR/rdkafka-<codec>.bin,
 * which test_golden decodes without librdkafka.
 *
 * Fetch v4 request body (non-flexible): replica_id i32 (-1), max_wait_ms i32, min_bytes i32,
 * max_bytes i32, isolation_level i8, topics [name string, partitions [partition i32,
 * fetch_offset i64, partition_max_bytes i32]].
 * Fetch v4 response body: throttle_time_ms i32, responses [topic string, partitions
 * [partition i32, error i16, high_watermark i64, last_stable_offset i64,
 * aborted_transactions [producer_id i64, first_offset i64] (nullable), records bytes]].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "golden_records.h"
#include "mock_util.h"

static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};

static void conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(conf, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "conf %s=%s: %s\n", k, v, err);
		exit(1);
	}
}

static void produce_golden(rd_kafka_t *rk)
{
	for (int i = 0; i < GOLDEN_NREC; i++) {
		const struct golden_rec *g = &golden_recs[i];
		rd_kafka_headers_t *h = NULL;
		if (g->hkey) {
			h = rd_kafka_headers_new(1);
			rd_kafka_header_add(h, g->hkey, -1, g->hval,
			                    g->hval ? (ssize_t)strlen(g->hval) : 0);
		}
		rd_kafka_resp_err_t e = rd_kafka_producev(
		    rk, RD_KAFKA_V_TOPIC(GOLDEN_TOPIC), RD_KAFKA_V_PARTITION(0),
		    RD_KAFKA_V_KEY(g->key, g->key ? strlen(g->key) : 0),
		    RD_KAFKA_V_VALUE((void *)g->value, g->value ? strlen(g->value) : 0),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_TIMESTAMP(GOLDEN_TS_BASE + i), RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_END);
		if (e) {
			fprintf(stderr, "producev: %s\n", rd_kafka_err2str(e));
			exit(1);
		}
	}
	CHECK_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void capture(int codec, const char *out_dir, struct fnl_compressor *c)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	conf_set(conf, "test.mock.num.brokers", "1");
	conf_set(conf, "compression.codec", codecs[codec]);
	conf_set(conf, "enable.idempotence", "true");
	conf_set(conf, "linger.ms", "50");
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (!rk) {
		fprintf(stderr, "rd_kafka_new: %s\n", err);
		exit(1);
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_handle_mock_cluster(rk);
	CHECK(mc != NULL);
	CHECK_EQ(rd_kafka_mock_topic_create(mc, GOLDEN_TOPIC, 1, 1), 0);
	produce_golden(rk);

	static uint8_t resp[4 << 20];
	int fd = mock_dial(rd_kafka_mock_cluster_bootstraps(mc));
	size_t n = mock_fetch(fd, GOLDEN_TOPIC, 0, resp, sizeof(resp));
	close(fd);
	int32_t len;
	const uint8_t *rec = mock_fetch_records(resp, n, 0, &len);
	int batches = golden_check_buf(rec, (size_t)len, c, codec);
	printf("%s: %d batch(es), %d bytes, decoded OK\n", codecs[codec], batches, len);
	if (out_dir) {
		char path[512];
		snprintf(path, sizeof(path), "%s/rdkafka-%s.bin", out_dir, codecs[codec]);
		FILE *f = fopen(path, "wb");
		CHECK(f != NULL);
		CHECK_EQ(fwrite(rec, 1, (size_t)len, f), (size_t)len);
		fclose(f);
	}
	rd_kafka_destroy(rk);
}

int main(int argc, char **argv)
{
	struct fnl_compressor *c = fnl_compressor_new();
	CHECK(c != NULL);
	for (int i = 0; i < 5; i++)
		capture(i, argc > 1 ? argv[1] : NULL, c);
	fnl_compressor_free(c);
	return 0;
}
