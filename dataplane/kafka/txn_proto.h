/* txn_proto.h - Kafka transaction requests and responses (KIP-98, KIP-447): FindCoordinator,
 * AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, TxnOffsetCommit. InitProducerId with a
 * transactional id is fnl_enc_init_pid_req_txn in proto.h. Pure encode/decode over caller
 * buffers, in the style of proto.h (same frame layout, same invariants): no sockets, no
 * allocation, no global state.
 *
 * Request bodies (after the request header of proto.h; flexible versions use compact strings
 * and arrays and end every struct with an empty tagged-field section):
 *
 *   FindCoordinator   v0: key | v1-3: key, key_type:int8 | v4+: key_type, [keys] (one key)
 *   AddPartitionsToTxn v0-3: txn_id, producer_id:int64, epoch:int16,
 *                            [topic: name, [partition:int32]]
 *   AddOffsetsToTxn   v0-4: txn_id, producer_id, epoch, group_id
 *   EndTxn            v0-5: txn_id, producer_id, epoch, committed:bool
 *   TxnOffsetCommit   v0-5: txn_id, group_id, producer_id, epoch,
 *                           (v3+: generation_id:int32, member_id, group_instance_id:nullable)
 *                           [topic: name, [partition, offset:int64,
 *                                           (v2+: leader_epoch:int32), metadata:nullable]]
 *
 * Response bodies (after the response header):
 *
 *   FindCoordinator   v0: err, node, host, port | v1-3: throttle, err, msg, node, host, port
 *                     v4+: throttle, [key, node, host, port, err, msg]
 *   AddPartitionsToTxn v0-3: throttle, [topic: name, [partition, err]]
 *   AddOffsetsToTxn   throttle, err
 *   EndTxn            throttle, err (v5+: producer_id:int64, epoch:int16)
 *   TxnOffsetCommit   throttle, [topic: name, [partition, err]]
 *
 * Versions (ours, also in proto.c's table so fnl_api_pick and fnl_dec_resp_header know them):
 * FindCoordinator 0-6, AddPartitionsToTxn 0-3 (4+ is for brokers only), AddOffsetsToTxn 0-4,
 * EndTxn 0-5, TxnOffsetCommit 0-5; all flexible from v3. Encoders reject other versions
 * with -EINVAL.
 *
 * Invariants (as proto.h):
 *   - Encoders return the full frame length (size field included), -ENOSPC or -EINVAL, and
 *     never write past cap. TxnOffsetCommit below v3 cannot carry KIP-447 group metadata:
 *     with a generation other than -1, a non-empty member id or a group instance id it
 *     returns -EOPNOTSUPP (the Java client refuses the same way; brokers older than 2.5).
 *   - Decoders never read past n and return -EBADMSG on malformed or truncated input; counts
 *     are checked against the bytes left before any loop. Visitor decoders validate the whole
 *     body first and only then call back. Strings point into the input, not NUL-terminated.
 *   - Kafka error codes are int16 out-values, never mixed with the -errno returns.
 */
#ifndef FNL_KAFKA_TXN_PROTO_H
#define FNL_KAFKA_TXN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/kafka/proto.h"

#define FNL_API_FIND_COORDINATOR      10
#define FNL_API_ADD_PARTITIONS_TO_TXN 24
#define FNL_API_ADD_OFFSETS_TO_TXN    25
#define FNL_API_END_TXN               26
#define FNL_API_TXN_OFFSET_COMMIT     28

/* FindCoordinator key types. */
#define FNL_COORD_GROUP 0
#define FNL_COORD_TXN   1

/* ---- request encoders ---- */

/* key_type FNL_COORD_TXN needs v1+ (-EINVAL at v0). */
int fnl_enc_find_coordinator_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                                 const char *client_id, const char *key, int8_t key_type);

struct fnl_txn_topic_parts {
	const char *topic;
	const int32_t *partitions;
	int npartitions;
};
int fnl_enc_add_partitions_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                               const char *client_id, const char *txn_id, int64_t producer_id,
                               int16_t epoch, const struct fnl_txn_topic_parts *topics,
                               int ntopics);

int fnl_enc_add_offsets_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                            const char *txn_id, int64_t producer_id, int16_t epoch,
                            const char *group_id);

int fnl_enc_end_txn_req(void *buf, size_t cap, int16_t ver, int32_t corr, const char *client_id,
                        const char *txn_id, int64_t producer_id, int16_t epoch, bool commit);

/* KIP-447 consumer group metadata; a group without a member: generation -1, member "" or
 * NULL, instance NULL. */
struct fnl_txn_group {
	const char *group_id;
	int32_t generation_id;
	const char *member_id;
	const char *group_instance_id; /* NULL = null */
};
struct fnl_txn_offset {
	int32_t partition;
	int64_t offset;       /* the next offset to consume */
	int32_t leader_epoch; /* -1 if unknown; sent from v2 */
	const char *metadata; /* NULL = null */
};
struct fnl_txn_topic_offsets {
	const char *topic;
	const struct fnl_txn_offset *offsets;
	int noffsets;
};
int fnl_enc_txn_offset_commit_req(void *buf, size_t cap, int16_t ver, int32_t corr,
                                  const char *client_id, const char *txn_id, int64_t producer_id,
                                  int16_t epoch, const struct fnl_txn_group *g,
                                  const struct fnl_txn_topic_offsets *topics, int ntopics);

/* ---- response decoders: 0 or -EBADMSG; throttle_ms may be NULL ---- */

/* One coordinator; before v4 key is (NULL, -1) and there is exactly one. */
typedef void (*fnl_coord_cb)(void *ctx, const char *key, int key_len, int16_t err, int32_t node_id,
                             const char *host, int host_len, int32_t port);
int fnl_dec_find_coordinator(const uint8_t *p, size_t n, int16_t ver, fnl_coord_cb cb, void *ctx,
                             int32_t *throttle_ms);

/* Per partition of AddPartitionsToTxn (v0-3) and TxnOffsetCommit (v0-5). */
typedef void (*fnl_txn_part_cb)(void *ctx, const char *topic, int topic_len, int32_t partition,
                                int16_t err);
int fnl_dec_add_partitions(const uint8_t *p, size_t n, int16_t ver, fnl_txn_part_cb cb, void *ctx,
                           int32_t *throttle_ms);
int fnl_dec_txn_offset_commit(const uint8_t *p, size_t n, int16_t ver, fnl_txn_part_cb cb,
                              void *ctx, int32_t *throttle_ms);

int fnl_dec_add_offsets(const uint8_t *p, size_t n, int16_t ver, int16_t *err,
                        int32_t *throttle_ms);

/* v5+ also answers the producer id and epoch to use next (KIP-890); -1, -1 before v5. */
int fnl_dec_end_txn(const uint8_t *p, size_t n, int16_t ver, int16_t *err, int64_t *producer_id,
                    int16_t *epoch, int32_t *throttle_ms);

/* ---- which transaction protocol: ApiVersions' finalized features (KIP-584) ----
 *
 * ApiVersions v3+ ends with tagged fields: tag 0 SupportedFeatures, tag 1
 * FinalizedFeaturesEpoch (int64), tag 2 FinalizedFeatures [name, max_version_level:int16,
 * min_version_level:int16, tags], tag 3 ZkMigrationReady. A cluster that finalized
 * "transaction.version" >= 2 speaks KIP-890's protocol (Produce 12, EndTxn 5 with an epoch
 * bump per transaction, TxnOffsetCommit 5, partitions added by the broker); the Java client
 * uses it only then. Validates the whole ApiVersions body (p after the response header);
 * returns 0 and the levels when the feature is finalized, -ENOENT when it is not (or ver < 3),
 * -EBADMSG when the body is malformed. */
#define FNL_FEATURE_TXN_VERSION "transaction.version"
int fnl_dec_api_versions_feature(const uint8_t *p, size_t n, int16_t ver, const char *name,
                                 int16_t *max_level, int16_t *min_level);

#endif
