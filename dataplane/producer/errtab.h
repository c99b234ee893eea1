/* errtab.h - the Kafka protocol error table: names and what each code means
 * for the three RPCs the data plane issues (Produce, Metadata, InitProducerId).
 *
 * Layout: one constant row per known code, indexed by (code + 1), covering
 * codes -1 .. FNL_ERR_CODE_MAX (Kafka leaves no gaps). Out-of-range codes resolve to one
 * generic row (name "UNKNOWN", FAIL_BATCH for Produce and Metadata, FATAL for
 * InitProducerId) whose `code` field is the generic marker INT16_MIN.
 *
 *   rows[code + 1] = { code, name, produce_class, metadata_class, init_pid_class,
 *                      retriable, refresh_metadata }
 *
 * Invariants:
 * - rows are compile-time constants; lookups are O(1) and never allocate;
 * - `retriable` is true exactly for the codes the Java client maps to a
 *   RetriableException (including InvalidMetadataException, which also sets
 *   `refresh_metadata`);
 * - Kafka error codes are int16_t and never mixed with -errno values.
 */
#ifndef FNL_PRODUCER_ERRTAB_H
#define FNL_PRODUCER_ERRTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The codes the producer logic names explicitly. */
enum {
	FNL_KERR_UNKNOWN_SERVER_ERROR = -1,
	FNL_KERR_NONE = 0,
	FNL_KERR_CORRUPT_MESSAGE = 2,
	FNL_KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
	FNL_KERR_LEADER_NOT_AVAILABLE = 5,
	FNL_KERR_NOT_LEADER_OR_FOLLOWER = 6,
	FNL_KERR_REQUEST_TIMED_OUT = 7,
	FNL_KERR_MESSAGE_TOO_LARGE = 10,
	FNL_KERR_NETWORK_EXCEPTION = 13,
	FNL_KERR_RECORD_LIST_TOO_LARGE = 18,
	FNL_KERR_NOT_ENOUGH_REPLICAS = 19,
	FNL_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
	FNL_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
	FNL_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
	FNL_KERR_UNSUPPORTED_VERSION = 35,
	FNL_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	FNL_KERR_DUPLICATE_SEQUENCE_NUMBER = 46,
	FNL_KERR_INVALID_PRODUCER_EPOCH = 47,
	FNL_KERR_KAFKA_STORAGE_ERROR = 56,
	FNL_KERR_UNKNOWN_PRODUCER_ID = 59,
	FNL_KERR_INVALID_RECORD = 87,
	FNL_KERR_PRODUCER_FENCED = 90,
};

#define FNL_ERR_CODE_MIN (-1)
#define FNL_ERR_CODE_MAX 129

enum fnl_err_class {
	FNL_ERR_OK = 0,
	FNL_ERR_RETRY,         /* retriable as is */
	FNL_ERR_RETRY_REFRESH, /* retriable after a metadata refresh (leader/partition moved) */
	FNL_ERR_FAIL_BATCH,    /* fail this batch's records (or this topic) with the code */
	FNL_ERR_FATAL,         /* the producer cannot go on */
	FNL_ERR_DUPLICATE,     /* already stored: success */
	FNL_ERR_OUT_OF_ORDER,  /* sequence gap: retry in order or bump epoch (KIP-360) */
	FNL_ERR_UNKNOWN_PID,   /* broker lost our producer state (KIP-360); for InitProducerId:
	                          drop the current pid/epoch and ask for a fresh one */
	FNL_ERR_BUMP_EPOCH,    /* our epoch is stale on that partition: bump and resequence */
};

struct fnl_err_info {
	int16_t code; /* INT16_MIN on the generic row */
	const char *name;
	enum fnl_err_class produce_class;
	enum fnl_err_class metadata_class;
	enum fnl_err_class init_pid_class;
	bool retriable;
	bool refresh_metadata;
};

/* Never NULL: unknown codes give the generic row. */
const struct fnl_err_info *fnl_err_lookup(int16_t code);
const char *fnl_err_name(int16_t code);
enum fnl_err_class fnl_err_class_produce(int16_t code);
/* Topic/partition error in a Metadata response: OK = usable, RETRY* = ask again later,
 * FAIL_BATCH = fail that topic's records, FATAL = stop. */
enum fnl_err_class fnl_err_class_metadata(int16_t code);
enum fnl_err_class fnl_err_class_init_pid(int16_t code);
const char *fnl_err_class_name(enum fnl_err_class c);

/* Iterate the known rows (for tests and `funnelctl errors`): rows [0, *n), where
 * rows[i].code == i - 1 (every code in [-1, FNL_ERR_CODE_MAX] is defined by Kafka). */
const struct fnl_err_info *fnl_err_rows(size_t *n);

#endif
