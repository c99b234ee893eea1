/* proto.h - version-aware Kafka requests and responses: ApiVersions, Metadata, InitProducerId,
 * Produce. Pure encode/decode over caller buffers; no sockets, no allocation, no global state.
 *
 * Request frame (what every fnl_enc_* writes, and what fnl_preq_* builds as an iovec list):
 *
 *   +--------+---------+---------+--------+-----------------+------------+------------------+
 *   | size   | api_key | api_ver | corr   | client_id       | [tags 00]  | body             |
 *   | int32  | int16   | int16   | int32  | int16 len + str | flex only  |                  |
 *   +--------+---------+---------+--------+-----------------+------------+------------------+
 *   size counts every byte after itself. Header v1 for non-flexible versions, v2 (with the
 *   empty tagged-field section) for flexible ones. client_id is ALWAYS an int16 string.
 *
 * Response (the caller strips the leading int32 size and passes the rest):
 *
 *   +--------+------------+------------------+
 *   | corr   | [tags]     | body             |   tags only for flexible versions, and
 *   | int32  | v1 header  |                  |   never for ApiVersions (always header v0)
 *   +--------+------------+------------------+
 *
 * Supported versions (ours): ApiVersions 0-4, Metadata 1-13, InitProducerId 0-5,
 * Produce 3-12,
 * SaslHandshake 1, SaslAuthenticate 0-2. Flexible (compact strings/arrays + tagged fields) from ApiVersions 3,
 * Metadata 9, InitProducerId 2, Produce 9. Encoders reject other versions with -EINVAL.
 *
 * Invariants:
 *   - Encoders return the full frame length (size field included) or -ENOSPC / -EINVAL, and
 *     never write past cap.
 *   - Decoders never read past n and return -EBADMSG on any malformed or truncated input;
 *     array counts are checked against the bytes left before any loop, so a hostile count
 *     costs O(1). Visitor decoders validate the whole body first and only then call back,
 *     so callbacks never see a response that later turns out malformed.
 *   - Kafka error codes (int16) are reported through out-parameters/callbacks, never mixed
 *     with the -errno return values.
 */
#ifndef FNL_KAFKA_PROTO_H
#define FNL_KAFKA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "dataplane/kafka/wire.h"

#define FNL_API_PRODUCE          0
#define FNL_API_METADATA         3
#define FNL_API_API_VERSIONS     18
#define FNL_API_INIT_PRODUCER_ID 22
#define FNL_API_SASL_HANDSHAKE   17
#define FNL_API_SASL_AUTHENTICATE 36

/* Kafka error codes the codec itself needs to know about. */
#define FNL_PROTO_ERR_NONE                ((int16_t)0)
#define FNL_PROTO_ERR_UNSUPPORTED_VERSION ((int16_t)35)

struct fnl_api_range {
	int16_t key, min, max;
};

/* Our supported range for an api key; returns 0 or -ENOENT. */
int fnl_api_ours(int16_t key, int16_t *min, int16_t *max);
/* Highest version both sides support given the broker's ranges; -1 if none. */
int16_t fnl_api_pick(const struct fnl_api_range *broker, int n, int16_t key);
/* Whether (key, version) uses compact strings/arrays and tagged fields. */
bool fnl_api_flexible(int16_t key, int16_t version);

/* ---- request encoders: complete frame including the int32 size; bytes, -ENOSPC, -EINVAL ---- */

/* v3 sends client_software_name/version (NULL -> "funnel" / "0.1.0"; the broker requires
 * [a-zA-Z0-9] at both ends and [a-zA-Z0-9.-] inside). */
int fnl_enc_api_versions_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                             const char *client_id, const char *sw_name, const char *sw_version);
/* ntopics == -1 asks for all topics (null array). allow_auto_create is sent from v4. */
int fnl_enc_metadata_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                         const char *const *topics, int ntopics, bool allow_auto_create);
/* Non-transactional (null transactional id). producer_id/epoch are sent from v3 (-1, -1 for a
 * new producer). */
int fnl_enc_init_pid_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                         int32_t txn_timeout_ms, int64_t producer_id, int16_t producer_epoch);
/* The same with a transactional id (NULL = null). */
int fnl_enc_init_pid_req_txn(void *buf, size_t cap, int16_t ver, int32_t corr,
                             const char *client_id, const char *txn_id, int32_t txn_timeout_ms,
                             int64_t producer_id, int16_t producer_epoch);

/* ---- response decoders ---- */

/* Returns the header length consumed (p starts after the 4-byte size), sets *corr;
 * -EBADMSG on short input. */
int fnl_dec_resp_header(const uint8_t *p, size_t n, int16_t api_key, int16_t ver, int32_t *corr);

/* ApiVersions body (after the header). Fills up to max ranges (the rest are validated and
 * dropped), sets *n_out to the number filled and *err_out to the Kafka error. When the error
 * is UNSUPPORTED_VERSION (35) the body is decoded as v0, which is what a broker sends when
 * the request version was too high; the ranges then let the caller retry at a version the
 * broker lists. Returns 0 or -EBADMSG; *err_out is set from the first two bytes whenever
 * they are present, even when the rest is undecodable (librdkafka 2.0.2's mock broker answers
 * error 35 with a body that is neither v0 nor v3: callers should then retry at v0). */
int fnl_dec_api_versions(const uint8_t *p, size_t n, int16_t ver, struct fnl_api_range *out,
                         int max, int *n_out, int16_t *err_out);

/* Metadata response visitor; any callback may be NULL. Strings point into p and are not
 * NUL-terminated. A null topic name (v12+, topics queried by id) is passed as (NULL, -1). */
struct fnl_md_visitor {
	void *ctx;
	void (*broker)(void *ctx, int32_t node_id, const char *host, int host_len, int32_t port);
	void (*topic)(void *ctx, int16_t err, const char *name, int name_len, int32_t npartitions);
	/* called after topic(), once per partition of that topic */
	void (*partition)(void *ctx, int16_t err, int32_t partition, int32_t leader,
	                  int32_t leader_epoch /* -1 before v7 */);
	void (*controller)(void *ctx, int32_t controller_id); /* -1 before v1 */
	/* called last with the response's top-level error (v13+, KIP-1102; 0 before) */
	void (*error)(void *ctx, int16_t err);
};
/* Validates the whole body, then calls back in wire order (brokers, controller, topics).
 * Returns 0 or -EBADMSG (then no callback was called). Versions 0-13. */
int fnl_dec_metadata(const uint8_t *p, size_t n, int16_t ver, const struct fnl_md_visitor *v);

/* InitProducerId body. Returns 0 or -EBADMSG. */
int fnl_dec_init_pid(const uint8_t *p, size_t n, int16_t ver, int16_t *err, int64_t *pid,
                     int16_t *epoch);

/* ---- Produce request, zero-copy ----
 *
 * The framing goes into `scratch`; the iovec list alternates scratch slices and the
 * callers' batch buffers, which are referenced, not copied:
 *
 *   iov[0] = scratch[0 .. topic/partition framing of p0]   (size, header, acks, ...)
 *   iov[1] = batch of p0
 *   iov[2] = scratch[.. framing between p0 and p1]
 *   iov[3] = batch of p1
 *   ...
 *   iov[k] = scratch[.. trailing tags]                     (always present, may be 0 bytes
 *                                                          for non-flexible versions)
 * Usage:
 *   fnl_preq_begin(&r, scratch, cap, iov, iov_max, ver, corr, client_id, NULL, acks,
 *                  timeout_ms, ntopics);
 *   for each topic: fnl_preq_topic(&r, name, name_len, nparts);
 *     for each partition: fnl_preq_partition(&r, partition, batch, batch_len);
 *   n_iov = fnl_preq_end(&r);   -> iovec count >= 1, or -errno
 * The int32 size is patched into the first 4 scratch bytes by fnl_preq_end; r.frame_bytes
 * is then the total including those 4 bytes. Errors are sticky (r.err): every call returns
 * 0 or the first error: -ENOSPC (scratch or iov full), -EINVAL (bad version, or the topic /
 * partition calls do not match the counts given). batch == NULL sends null records.
 * Scratch needs about 64 + len(client_id) + per topic (8 + name) + per partition 12 bytes.
 */
struct fnl_preq {
	struct fnl_wbuf w;
	struct iovec *iov;
	int iov_n, iov_max;
	size_t frame_bytes;
	int16_t ver;
	int err;
	size_t seg_start; /* start in scratch of the framing not yet in iov */
	int topics_left;  /* topics still to be added */
	int parts_left;   /* partitions still to be added to the current topic */
	bool flexible;
};
int fnl_preq_begin(struct fnl_preq *r, void *scratch, size_t cap, struct iovec *iov, int iov_max,
                   int16_t ver, int32_t corr, const char *client_id, const char *txn_id,
                   int16_t acks, int32_t timeout_ms, int ntopics);
int fnl_preq_topic(struct fnl_preq *r, const char *name, int name_len, int npartitions);
int fnl_preq_partition(struct fnl_preq *r, int32_t partition, const void *batch,
                       uint32_t batch_len);
int fnl_preq_end(struct fnl_preq *r);

/* Produce response visitor (v3-v12); record_errors/error_message (v8+) and tagged fields
 * (CurrentLeader, NodeEndpoints, v10+) are validated and skipped. log_append_time_ms and
 * log_start_offset are -1 in versions that lack them. Validates first, then calls back;
 * cb may be NULL. Returns 0 or -EBADMSG. */
typedef void (*fnl_presp_cb)(void *ctx, const char *topic, int topic_len, int32_t partition,
                             int16_t err, int64_t base_offset, int64_t log_append_time_ms,
                             int64_t log_start_offset);
int fnl_dec_produce(const uint8_t *p, size_t n, int16_t ver, fnl_presp_cb cb, void *ctx,
                    int32_t *throttle_ms);

/* ---- SASL (KIP-43 / KIP-152 / KIP-368) ----
 * SaslHandshake v1 only (v0 sent raw SASL bytes after it; never spoken here);
 * SaslAuthenticate 0-2 (v1 adds session_lifetime_ms, v2 is flexible). */
int fnl_enc_sasl_handshake_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                               const char *client_id, const char *mechanism);
/* SaslHandshake body: *err, and the broker's enabled mechanisms as "A,B,C" in mechs
 * (printable ASCII, cut to mechs_cap). 0 or -EBADMSG. */
int fnl_dec_sasl_handshake(const uint8_t *p, size_t n, int16_t *err, char *mechs,
                           size_t mechs_cap);
int fnl_enc_sasl_auth_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                          const void *auth, size_t auth_len);
/* SaslAuthenticate body. Pointers point into p (not NUL-terminated); error_message_len is
 * -1 for null; session_lifetime_ms is 0 before v1 or when the broker sets none. */
struct fnl_sasl_auth_resp {
	int16_t err;
	const char *error_message;
	int32_t error_message_len;
	const uint8_t *auth;
	int32_t auth_len;
	int64_t session_lifetime_ms;
};
int fnl_dec_sasl_auth(const uint8_t *p, size_t n, int16_t ver, struct fnl_sasl_auth_resp *out);

#endif
