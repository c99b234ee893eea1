/* txn.h - the transactional producer's state machine (KIP-98, KIP-447, KIP-360), pure: no
 * sockets, no clock of its own (every call takes now_ms), no allocation. A driver asks it
 * which coordinator request to send next (fnl_txn_next), sends it with txn_proto.h, and feeds
 * the answer back (fnl_txn_on_result and friends); the client's calls (begin, send offsets,
 * commit, abort) move it too. It follows the Java client's TransactionManager.
 *
 * States and transitions (client calls in lower case, broker answers in CAPS):
 *
 *   UNINITIALIZED --init--> INITIALIZING --INIT_PID ok--> READY --begin--> IN_TXN
 *   IN_TXN --commit--> COMMITTING --END_TXN ok--> READY
 *   IN_TXN | ABORTABLE_ERROR --abort--> ABORTING --END_TXN ok--> READY
 *                                                 (or --> INIT_PID (epoch bump) --> READY)
 *   IN_TXN past its deadline (begin + transaction.timeout.ms) --tick--> ABORTING, and once
 *     aborted --> ABORTABLE_ERROR (timed_out), so the client's commit says "abortable" and
 *     its abort then completes at once
 *   any abortable answer (IN_TXN, COMMITTING) --> ABORTABLE_ERROR
 *   any fatal answer, from any state --> FATAL_ERROR (terminal)
 *   COMMITTING / ABORTING with nothing ever added to the broker's transaction end locally.
 *
 * Requests the machine asks for (one in flight at a time, as the Java client does for the
 * coordinator): FIND_TXN_COORD, INIT_PID, ADD_PARTITIONS, ADD_OFFSETS, FIND_GROUP_COORD,
 * TXN_OFFSET_COMMIT, END_TXN. Broker error codes are classified per request (fnl_txn_classify):
 *   OK
 *   RETRY        same request after a backoff (retry_backoff_ms doubling up to
 *                retry_backoff_max_ms; CONCURRENT_TRANSACTIONS starts at 20 ms)
 *   RETRY_COORD  look the coordinator up again, then retry (NOT_COORDINATOR,
 *                COORDINATOR_NOT_AVAILABLE, for TxnOffsetCommit also REQUEST_TIMED_OUT)
 *   ABORTABLE    the transaction must be aborted; the producer lives on
 *   BUMP         abortable, and after the abort InitProducerId bumps the epoch (KIP-360:
 *                UNKNOWN_PRODUCER_ID, INVALID_PRODUCER_ID_MAPPING, OUT_OF_ORDER on produce)
 *   FATAL        PRODUCER_FENCED, INVALID_PRODUCER_EPOCH, TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
 *                INVALID_TXN_STATE, TRANSACTION_COORDINATOR_FENCED, unknown codes that are not
 *                retriable
 *
 * What a client call returns (enum fnl_txn_res), as the Java and librdkafka clients tell it:
 *   OK         done; PENDING: accepted, requests are under way (poll with fnl_txn_poll);
 *   RETRIABLE  not finished within the caller's time: call the same function again;
 *   ABORTABLE  abort, then start over; FATAL: transactional use of this producer is over;
 *   USAGE      the call is not valid in this state (e.g. begin twice).
 *
 * Invariants: at most one request in flight (t->inflight); a fatal state never leaves;
 * t->deadline_ms is set exactly while a transaction is open; error codes are int16 Kafka
 * codes, never -errno.
 */
#ifndef FNL_PRODUCER_TXN_H
#define FNL_PRODUCER_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fnl_txn_state {
	FNL_TXN_UNINITIALIZED,
	FNL_TXN_INITIALIZING,
	FNL_TXN_READY,
	FNL_TXN_IN_TXN,
	FNL_TXN_COMMITTING,
	FNL_TXN_ABORTING,
	FNL_TXN_ABORTABLE_ERROR,
	FNL_TXN_FATAL_ERROR,
};

enum fnl_txn_op {
	FNL_TXN_OP_NONE,
	FNL_TXN_OP_FIND_TXN_COORD,
	FNL_TXN_OP_INIT_PID,
	FNL_TXN_OP_ADD_PARTITIONS,
	FNL_TXN_OP_ADD_OFFSETS,
	FNL_TXN_OP_FIND_GROUP_COORD,
	FNL_TXN_OP_TXN_OFFSET_COMMIT,
	FNL_TXN_OP_END_TXN,
	FNL_TXN_OP_PRODUCE, /* only for classifying produce errors inside a transaction */
};

enum fnl_txn_class {
	FNL_TXN_C_OK,
	FNL_TXN_C_RETRY,
	FNL_TXN_C_RETRY_COORD,
	FNL_TXN_C_ABORTABLE,
	FNL_TXN_C_BUMP,
	FNL_TXN_C_FATAL,
};

enum fnl_txn_res {
	FNL_TXN_OK,
	FNL_TXN_PENDING,
	FNL_TXN_RETRIABLE,
	FNL_TXN_ABORTABLE,
	FNL_TXN_FATAL,
	FNL_TXN_USAGE,
};

struct fnl_txn_cfg {
	int32_t txn_timeout_ms;       /* transaction.timeout.ms (Java default 60000) */
	int32_t retry_backoff_ms;     /* retry.backoff.ms (100) */
	int32_t retry_backoff_max_ms; /* retry.backoff.max.ms (1000) */
};

struct fnl_txn {
	struct fnl_txn_cfg cfg;
	enum fnl_txn_state state;
	int64_t producer_id;
	int16_t epoch;
	enum fnl_txn_op inflight; /* request sent, answer not yet fed back */
	int64_t retry_at_ms;      /* no request before this time */
	int attempt;              /* consecutive retries of the current request */
	int64_t deadline_ms;      /* open transaction's deadline; -1 when none is open */
	bool need_txn_coord, need_group_coord;
	bool add_parts;     /* partitions produced to but not yet added */
	bool add_offsets;   /* AddOffsetsToTxn owed for send_offsets */
	bool offset_commit; /* TxnOffsetCommit owed */
	bool started;       /* the broker's transaction holds something (EndTxn needed) */
	bool committing;    /* END_TXN to send carries commit (else abort) */
	bool need_bump;     /* KIP-360: InitProducerId(pid, epoch) after the abort */
	bool timed_out;     /* the open transaction hit its deadline and was aborted */
	bool aborted;       /* ABORTABLE_ERROR whose broker transaction is already aborted */
	int16_t last_err;   /* the Kafka code that led to the error state (0 if none) */
	enum fnl_txn_op last_err_op;
};

void fnl_txn_init(struct fnl_txn *t, const struct fnl_txn_cfg *cfg);

/* ---- client calls ---- */
enum fnl_txn_res fnl_txn_init_transactions(struct fnl_txn *t);
enum fnl_txn_res fnl_txn_begin(struct fnl_txn *t, int64_t now_ms);
/* A record is about to go to a partition not yet in the transaction (the caller keeps the
 * set of partitions; the machine only knows that some are owed). */
enum fnl_txn_res fnl_txn_add_partitions(struct fnl_txn *t);
enum fnl_txn_res fnl_txn_send_offsets(struct fnl_txn *t);
enum fnl_txn_res fnl_txn_commit(struct fnl_txn *t);
enum fnl_txn_res fnl_txn_abort(struct fnl_txn *t);
/* Where the client's last call stands; RETRIABLE when still under way at call_deadline_ms. */
enum fnl_txn_res fnl_txn_poll(const struct fnl_txn *t, int64_t now_ms, int64_t call_deadline_ms);

/* ---- driver ---- */

/* The request to send now, marked in flight, or NONE: then *wait_ms is how long until a
 * retry is due, or -1 when nothing is owed (the open transaction's deadline, t->deadline_ms,
 * is the caller's to watch: call again by then). produce_idle: no produce request of this
 * transaction is in flight or queued (EndTxn waits for it). Applies the deadline first. */
enum fnl_txn_op fnl_txn_next(struct fnl_txn *t, int64_t now_ms, bool produce_idle,
                             int64_t *wait_ms);
/* The decisive Kafka error of an answer to op (for per-partition answers fold them with
 * fnl_txn_worse first). Returns the class applied. */
enum fnl_txn_class fnl_txn_on_result(struct fnl_txn *t, enum fnl_txn_op op, int16_t err,
                                     int64_t now_ms);
enum fnl_txn_class fnl_txn_on_init_pid(struct fnl_txn *t, int16_t err, int64_t producer_id,
                                       int16_t epoch, int64_t now_ms);
/* EndTxn v5+ answers the producer id/epoch to use next (KIP-890); -1 keeps ours. */
enum fnl_txn_class fnl_txn_on_end_txn(struct fnl_txn *t, int16_t err, int64_t producer_id,
                                      int16_t epoch, int64_t now_ms);
/* The request in flight failed without an answer (connection lost, timeout): retry. */
void fnl_txn_on_io_error(struct fnl_txn *t, int64_t now_ms);
/* A produce of this transaction failed for good (after the sender's own retries). */
enum fnl_txn_class fnl_txn_on_produce_error(struct fnl_txn *t, int16_t err);
/* Batches of this transaction whose fate is unknown (no answer after the driver's retries)
 * or that were numbered and never sent: the sequences are in doubt, so the transaction is
 * abortable (REQUEST_TIMED_OUT in PRODUCE, unless already in error) and its abort bumps the
 * epoch (KIP-360), after which sequences start at 0. */
void fnl_txn_on_produce_lost(struct fnl_txn *t);

/* ---- messages a person can act on ---- */

/* Settings check, as the Java producer refuses them at construction: a transactional id needs
 * enable.idempotence=true and acks=all (-1), must not be empty, and transaction.timeout.ms
 * must be positive. Returns 0, or -EINVAL with msg naming the keys. */
int fnl_txn_check_config(const char *txn_id, bool idempotence, int acks, int32_t txn_timeout_ms,
                         char *msg, size_t cap);
/* Why the machine is in ABORTABLE_ERROR or FATAL_ERROR, naming the setting or the cause
 * (e.g. INVALID_TRANSACTION_TIMEOUT names transaction.timeout.ms and the broker's
 * transaction.max.timeout.ms). Returns snprintf's count; "" outside the error states. */
int fnl_txn_describe(const struct fnl_txn *t, const char *txn_id, char *buf, size_t cap);

/* ---- tables ---- */
enum fnl_txn_class fnl_txn_classify(enum fnl_txn_op op, int16_t err);
/* Of two per-partition errors of one answer, the one that decides (higher class). */
int16_t fnl_txn_worse(enum fnl_txn_op op, int16_t a, int16_t b);
const char *fnl_txn_state_name(enum fnl_txn_state s);
const char *fnl_txn_op_name(enum fnl_txn_op op);
const char *fnl_txn_res_name(enum fnl_txn_res r);

#endif
