/* errtab.c - Kafka error codes -1..129 and how Produce, Metadata and
 * InitProducerId treat them. Classes follow the Java client's behaviour
 * (RetriableException / InvalidMetadataException, Sender and
 * TransactionManager handling), restated here for an idempotent,
 * non-transactional producer.
 */
#include <limits.h>

#include "dataplane/producer/errtab.h"

/* Row builders. X: not retriable (fails the batch; fatal for InitProducerId).
 * RT: retriable. RF: retriable after a metadata refresh. F: spelled out. */
#define F(c, n, pc, mc, ic, r, f)                                                                  \
	[(c) + 1] = {.code = (c),                                                                  \
	             .name = (n),                                                                  \
	             .produce_class = FNL_ERR_##pc,                                                \
	             .metadata_class = FNL_ERR_##mc,                                               \
	             .init_pid_class = FNL_ERR_##ic,                                               \
	             .retriable = (r),                                                             \
	             .refresh_metadata = (f)}
#define X(c, n)  F(c, n, FAIL_BATCH, FAIL_BATCH, FATAL, false, false)
#define RT(c, n) F(c, n, RETRY, RETRY, RETRY, true, false)
#define RF(c, n) F(c, n, RETRY_REFRESH, RETRY, RETRY_REFRESH, true, true)

static const struct fnl_err_info rows[FNL_ERR_CODE_MAX + 2] = {
    X(-1, "UNKNOWN_SERVER_ERROR"),
    F(0, "NONE", OK, OK, OK, false, false),
    X(1, "OFFSET_OUT_OF_RANGE"),
    RT(2, "CORRUPT_MESSAGE"),
    RF(3, "UNKNOWN_TOPIC_OR_PARTITION"),
    X(4, "INVALID_FETCH_SIZE"),
    RF(5, "LEADER_NOT_AVAILABLE"),
    RF(6, "NOT_LEADER_OR_FOLLOWER"),
    RT(7, "REQUEST_TIMED_OUT"),
    X(8, "BROKER_NOT_AVAILABLE"),
    /* A partition with an offline replica still has a usable leader. */
    F(9, "REPLICA_NOT_AVAILABLE", RETRY_REFRESH, OK, RETRY_REFRESH, true, true),
    X(10, "MESSAGE_TOO_LARGE"),
    X(11, "STALE_CONTROLLER_EPOCH"),
    X(12, "OFFSET_METADATA_TOO_LARGE"),
    RF(13, "NETWORK_EXCEPTION"),
    RT(14, "COORDINATOR_LOAD_IN_PROGRESS"),
    /* For InitProducerId of an idempotent producer any broker serves: try another one. */
    F(15, "COORDINATOR_NOT_AVAILABLE", RETRY, RETRY, RETRY_REFRESH, true, false),
    F(16, "NOT_COORDINATOR", RETRY, RETRY, RETRY_REFRESH, true, false),
    X(17, "INVALID_TOPIC_EXCEPTION"),
    X(18, "RECORD_LIST_TOO_LARGE"),
    RT(19, "NOT_ENOUGH_REPLICAS"),
    RT(20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND"),
    X(21, "INVALID_REQUIRED_ACKS"),
    X(22, "ILLEGAL_GENERATION"),
    X(23, "INCONSISTENT_GROUP_PROTOCOL"),
    X(24, "INVALID_GROUP_ID"),
    X(25, "UNKNOWN_MEMBER_ID"),
    X(26, "INVALID_SESSION_TIMEOUT"),
    X(27, "REBALANCE_IN_PROGRESS"),
    X(28, "INVALID_COMMIT_OFFSET_SIZE"),
    X(29, "TOPIC_AUTHORIZATION_FAILED"),
    X(30, "GROUP_AUTHORIZATION_FAILED"),
    /* No IdempotentWrite permission: nothing can be produced. */
    F(31, "CLUSTER_AUTHORIZATION_FAILED", FATAL, FATAL, FATAL, false, false),
    X(32, "INVALID_TIMESTAMP"),
    X(33, "UNSUPPORTED_SASL_MECHANISM"),
    X(34, "ILLEGAL_SASL_STATE"),
    F(35, "UNSUPPORTED_VERSION", FATAL, FATAL, FATAL, false, false),
    X(36, "TOPIC_ALREADY_EXISTS"),
    X(37, "INVALID_PARTITIONS"),
    X(38, "INVALID_REPLICATION_FACTOR"),
    X(39, "INVALID_REPLICA_ASSIGNMENT"),
    X(40, "INVALID_CONFIG"),
    RT(41, "NOT_CONTROLLER"),
    X(42, "INVALID_REQUEST"),
    X(43, "UNSUPPORTED_FOR_MESSAGE_FORMAT"),
    X(44, "POLICY_VIOLATION"),
    F(45, "OUT_OF_ORDER_SEQUENCE_NUMBER", OUT_OF_ORDER, FAIL_BATCH, FATAL, false, false),
    F(46, "DUPLICATE_SEQUENCE_NUMBER", DUPLICATE, FAIL_BATCH, FATAL, false, false),
    /* Produce: that partition saw a newer epoch; InitProducerId with a stale (pid, epoch):
     * start over with a fresh producer id. */
    F(47, "INVALID_PRODUCER_EPOCH", BUMP_EPOCH, FAIL_BATCH, UNKNOWN_PID, false, false),
    X(48, "INVALID_TXN_STATE"),
    X(49, "INVALID_PRODUCER_ID_MAPPING"),
    X(50, "INVALID_TRANSACTION_TIMEOUT"),
    RT(51, "CONCURRENT_TRANSACTIONS"),
    F(52, "TRANSACTION_COORDINATOR_FENCED", FATAL, FAIL_BATCH, FATAL, false, false),
    F(53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", FATAL, FAIL_BATCH, FATAL, false, false),
    X(54, "SECURITY_DISABLED"),
    X(55, "OPERATION_NOT_ATTEMPTED"),
    RF(56, "KAFKA_STORAGE_ERROR"),
    X(57, "LOG_DIR_NOT_FOUND"),
    X(58, "SASL_AUTHENTICATION_FAILED"),
    F(59, "UNKNOWN_PRODUCER_ID", UNKNOWN_PID, FAIL_BATCH, UNKNOWN_PID, false, false),
    X(60, "REASSIGNMENT_IN_PROGRESS"),
    X(61, "DELEGATION_TOKEN_AUTH_DISABLED"),
    X(62, "DELEGATION_TOKEN_NOT_FOUND"),
    X(63, "DELEGATION_TOKEN_OWNER_MISMATCH"),
    X(64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED"),
    X(65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED"),
    X(66, "DELEGATION_TOKEN_EXPIRED"),
    X(67, "INVALID_PRINCIPAL_TYPE"),
    X(68, "NON_EMPTY_GROUP"),
    X(69, "GROUP_ID_NOT_FOUND"),
    RT(70, "FETCH_SESSION_ID_NOT_FOUND"),
    RT(71, "INVALID_FETCH_SESSION_EPOCH"),
    RF(72, "LISTENER_NOT_FOUND"),
    X(73, "TOPIC_DELETION_DISABLED"),
    RF(74, "FENCED_LEADER_EPOCH"),
    RT(75, "UNKNOWN_LEADER_EPOCH"),
    X(76, "UNSUPPORTED_COMPRESSION_TYPE"),
    X(77, "STALE_BROKER_EPOCH"),
    RT(78, "OFFSET_NOT_AVAILABLE"),
    X(79, "MEMBER_ID_REQUIRED"),
    RF(80, "PREFERRED_LEADER_NOT_AVAILABLE"),
    X(81, "GROUP_MAX_SIZE_REACHED"),
    X(82, "FENCED_INSTANCE_ID"),
    X(83, "ELIGIBLE_LEADERS_NOT_AVAILABLE"),
    X(84, "ELECTION_NOT_NEEDED"),
    X(85, "NO_REASSIGNMENT_IN_PROGRESS"),
    X(86, "GROUP_SUBSCRIBED_TO_TOPIC"),
    X(87, "INVALID_RECORD"),
    RT(88, "UNSTABLE_OFFSET_COMMIT"),
    RT(89, "THROTTLING_QUOTA_EXCEEDED"),
    F(90, "PRODUCER_FENCED", FATAL, FAIL_BATCH, FATAL, false, false),
    X(91, "RESOURCE_NOT_FOUND"),
    X(92, "DUPLICATE_RESOURCE"),
    X(93, "UNACCEPTABLE_CREDENTIAL"),
    X(94, "INCONSISTENT_VOTER_SET"),
    X(95, "INVALID_UPDATE_VERSION"),
    X(96, "FEATURE_UPDATE_FAILED"),
    X(97, "PRINCIPAL_DESERIALIZATION_FAILURE"),
    X(98, "SNAPSHOT_NOT_FOUND"),
    X(99, "POSITION_OUT_OF_RANGE"),
    RF(100, "UNKNOWN_TOPIC_ID"),
    X(101, "DUPLICATE_BROKER_REGISTRATION"),
    X(102, "BROKER_ID_NOT_REGISTERED"),
    RF(103, "INCONSISTENT_TOPIC_ID"),
    X(104, "INCONSISTENT_CLUSTER_ID"),
    X(105, "TRANSACTIONAL_ID_NOT_FOUND"),
    RT(106, "FETCH_SESSION_TOPIC_ID_ERROR"),
    X(107, "INELIGIBLE_REPLICA"),
    X(108, "NEW_LEADER_ELECTED"),
    X(109, "OFFSET_MOVED_TO_TIERED_STORAGE"),
    X(110, "FENCED_MEMBER_EPOCH"),
    X(111, "UNRELEASED_INSTANCE_ID"),
    X(112, "UNSUPPORTED_ASSIGNOR"),
    X(113, "STALE_MEMBER_EPOCH"),
    X(114, "MISMATCHED_ENDPOINT_TYPE"),
    X(115, "UNSUPPORTED_ENDPOINT_TYPE"),
    X(116, "UNKNOWN_CONTROLLER_ID"),
    X(117, "UNKNOWN_SUBSCRIPTION_ID"),
    X(118, "TELEMETRY_TOO_LARGE"),
    X(119, "INVALID_REGISTRATION"),
    X(120, "TRANSACTION_ABORTABLE"),
    X(121, "INVALID_RECORD_STATE"),
    RT(122, "SHARE_SESSION_NOT_FOUND"),
    RT(123, "INVALID_SHARE_SESSION_EPOCH"),
    X(124, "FENCED_STATE_EPOCH"),
    X(125, "INVALID_VOTER_KEY"),
    X(126, "DUPLICATE_VOTER"),
    X(127, "VOTER_NOT_FOUND"),
    X(128, "INVALID_REGULAR_EXPRESSION"),
    F(129, "REBOOTSTRAP_REQUIRED", FAIL_BATCH, FAIL_BATCH, FATAL, false, true),
};

static const struct fnl_err_info generic_row = {
    .code = INT16_MIN,
    .name = "UNKNOWN",
    .produce_class = FNL_ERR_FAIL_BATCH,
    .metadata_class = FNL_ERR_FAIL_BATCH,
    .init_pid_class = FNL_ERR_FATAL,
    .retriable = false,
    .refresh_metadata = false,
};

const struct fnl_err_info *fnl_err_lookup(int16_t code)
{
	if (code < FNL_ERR_CODE_MIN || code > FNL_ERR_CODE_MAX || rows[code + 1].name == NULL)
		return &generic_row;
	return &rows[code + 1];
}

const char *fnl_err_name(int16_t code)
{
	return fnl_err_lookup(code)->name;
}

enum fnl_err_class fnl_err_class_produce(int16_t code)
{
	return fnl_err_lookup(code)->produce_class;
}

enum fnl_err_class fnl_err_class_metadata(int16_t code)
{
	return fnl_err_lookup(code)->metadata_class;
}

enum fnl_err_class fnl_err_class_init_pid(int16_t code)
{
	return fnl_err_lookup(code)->init_pid_class;
}

const char *fnl_err_class_name(enum fnl_err_class c)
{
	static const char *const names[] = {
	    [FNL_ERR_OK] = "OK",
	    [FNL_ERR_RETRY] = "RETRY",
	    [FNL_ERR_RETRY_REFRESH] = "RETRY_REFRESH",
	    [FNL_ERR_FAIL_BATCH] = "FAIL_BATCH",
	    [FNL_ERR_FATAL] = "FATAL",
	    [FNL_ERR_DUPLICATE] = "DUPLICATE",
	    [FNL_ERR_OUT_OF_ORDER] = "OUT_OF_ORDER",
	    [FNL_ERR_UNKNOWN_PID] = "UNKNOWN_PID",
	    [FNL_ERR_BUMP_EPOCH] = "BUMP_EPOCH",
	};
	if ((unsigned)c >= sizeof(names) / sizeof(names[0]))
		return "?";
	return names[c];
}

const struct fnl_err_info *fnl_err_rows(size_t *n)
{
	*n = sizeof(rows) / sizeof(rows[0]);
	return rows;
}
