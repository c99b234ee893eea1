/* test_txn.c - the transaction state machine without sockets: every client call in every
 * state, every broker-answer class per request (retry with backoff, coordinator lookup,
 * abortable, KIP-360 bump, fatal), the transaction deadline, stale answers, and the error
 * classes a client sees (OK, PENDING, RETRIABLE, ABORTABLE, FATAL, USAGE). */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "dataplane/producer/txn.h"

/* Kafka codes used below (names as in errtab.c) */
enum {
	NONE = 0,
	NOT_LEADER = 6,
	REQUEST_TIMED_OUT = 7,
	MESSAGE_TOO_LARGE = 10,
	COORD_LOADING = 14,
	COORD_NOT_AVAILABLE = 15,
	NOT_COORDINATOR = 16,
	ILLEGAL_GENERATION = 22,
	UNKNOWN_MEMBER_ID = 25,
	REBALANCE = 27,
	TOPIC_AUTH = 29,
	GROUP_AUTH = 30,
	OUT_OF_ORDER = 45,
	INVALID_EPOCH = 47,
	INVALID_TXN_STATE = 48,
	INVALID_PID_MAPPING = 49,
	INVALID_TXN_TIMEOUT = 50,
	CONCURRENT = 51,
	COORD_FENCED = 52,
	TXN_ID_AUTH = 53,
	NOT_ATTEMPTED = 55,
	UNKNOWN_PID = 59,
	INVALID_RECORD = 87,
	FENCED_INSTANCE = 82,
	PRODUCER_FENCED = 90,
	TXN_ABORTABLE = 120,
};

static const struct fnl_txn_cfg cfg = {1000, 100, 1000};

static enum fnl_txn_op next(struct fnl_txn *t, int64_t now)
{
	int64_t wait;
	return fnl_txn_next(t, now, true, &wait);
}

/* A machine in READY with producer 7, epoch 0. */
static void ready(struct fnl_txn *t)
{
	fnl_txn_init(t, &cfg);
	CHECK_EQ(fnl_txn_init_transactions(t), FNL_TXN_PENDING);
	CHECK_EQ(next(t, 0), FNL_TXN_OP_FIND_TXN_COORD);
	CHECK_EQ(fnl_txn_on_result(t, FNL_TXN_OP_FIND_TXN_COORD, NONE, 0), FNL_TXN_C_OK);
	CHECK_EQ(next(t, 0), FNL_TXN_OP_INIT_PID);
	CHECK_EQ(fnl_txn_on_init_pid(t, NONE, 7, 0, 0), FNL_TXN_C_OK);
	CHECK_EQ(t->state, FNL_TXN_READY);
}

/* READY -> IN_TXN at `now` with partitions added on the broker. */
static void started(struct fnl_txn *t, int64_t now)
{
	ready(t);
	CHECK_EQ(fnl_txn_begin(t, now), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_add_partitions(t), FNL_TXN_OK);
	CHECK_EQ(next(t, now), FNL_TXN_OP_ADD_PARTITIONS);
	CHECK_EQ(fnl_txn_on_result(t, FNL_TXN_OP_ADD_PARTITIONS, NONE, now), FNL_TXN_C_OK);
	CHECK(t->started);
	CHECK_EQ(next(t, now), FNL_TXN_OP_NONE);
}

static void test_classify(void)
{
	static const enum fnl_txn_op coord_ops[] = {
	    FNL_TXN_OP_FIND_TXN_COORD, FNL_TXN_OP_INIT_PID,         FNL_TXN_OP_ADD_PARTITIONS,
	    FNL_TXN_OP_ADD_OFFSETS,    FNL_TXN_OP_FIND_GROUP_COORD, FNL_TXN_OP_TXN_OFFSET_COMMIT,
	    FNL_TXN_OP_END_TXN};
	for (size_t i = 0; i < sizeof(coord_ops) / sizeof(coord_ops[0]); i++) {
		enum fnl_txn_op op = coord_ops[i];
		CHECK_EQ(fnl_txn_classify(op, NONE), FNL_TXN_C_OK);
		CHECK_EQ(fnl_txn_classify(op, COORD_NOT_AVAILABLE), FNL_TXN_C_RETRY_COORD);
		CHECK_EQ(fnl_txn_classify(op, NOT_COORDINATOR), FNL_TXN_C_RETRY_COORD);
		CHECK_EQ(fnl_txn_classify(op, COORD_LOADING), FNL_TXN_C_RETRY);
		CHECK_EQ(fnl_txn_classify(op, CONCURRENT), FNL_TXN_C_RETRY);
		CHECK_EQ(fnl_txn_classify(op, PRODUCER_FENCED), FNL_TXN_C_FATAL);
		CHECK_EQ(fnl_txn_classify(op, INVALID_EPOCH), FNL_TXN_C_FATAL);
		CHECK_EQ(fnl_txn_classify(op, TXN_ID_AUTH), FNL_TXN_C_FATAL);
		CHECK_EQ(fnl_txn_classify(op, INVALID_TXN_STATE), FNL_TXN_C_FATAL);
		CHECK_EQ(fnl_txn_classify(op, COORD_FENCED), FNL_TXN_C_FATAL);
		CHECK_EQ(fnl_txn_classify(op, UNKNOWN_PID), FNL_TXN_C_BUMP);
		CHECK_EQ(fnl_txn_classify(op, INVALID_PID_MAPPING), FNL_TXN_C_BUMP);
		CHECK_EQ(fnl_txn_classify(op, TXN_ABORTABLE), FNL_TXN_C_ABORTABLE);
		/* not named: retriable (Java RetriableException) retries, others are fatal */
		CHECK_EQ(fnl_txn_classify(op, INVALID_RECORD), FNL_TXN_C_FATAL);
		CHECK_EQ(fnl_txn_classify(op, 30000), FNL_TXN_C_FATAL);
	}
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_ADD_PARTITIONS, REQUEST_TIMED_OUT), FNL_TXN_C_RETRY);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_END_TXN, NOT_LEADER), FNL_TXN_C_RETRY);
	/* per request */
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_INIT_PID, INVALID_TXN_TIMEOUT), FNL_TXN_C_FATAL);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_ADD_PARTITIONS, TOPIC_AUTH), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_ADD_PARTITIONS, NOT_ATTEMPTED), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_ADD_OFFSETS, GROUP_AUTH), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_FIND_GROUP_COORD, GROUP_AUTH), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_TXN_OFFSET_COMMIT, REQUEST_TIMED_OUT),
	         FNL_TXN_C_RETRY_COORD);
	static const int16_t commit_failed[] = {GROUP_AUTH, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID,
	                                        FENCED_INSTANCE, REBALANCE};
	for (size_t i = 0; i < sizeof(commit_failed) / sizeof(commit_failed[0]); i++)
		CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_TXN_OFFSET_COMMIT, commit_failed[i]),
		         FNL_TXN_C_ABORTABLE);
	/* produce: fenced/auth fatal, out-of-order bumps, all else abortable (the sender
	 * retried), unknown codes fatal */
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, NONE), FNL_TXN_C_OK);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, PRODUCER_FENCED), FNL_TXN_C_FATAL);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, INVALID_EPOCH), FNL_TXN_C_FATAL);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, TXN_ID_AUTH), FNL_TXN_C_FATAL);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, OUT_OF_ORDER), FNL_TXN_C_BUMP);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, UNKNOWN_PID), FNL_TXN_C_BUMP);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, NOT_LEADER), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, NOT_COORDINATOR), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, CONCURRENT), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, MESSAGE_TOO_LARGE), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(fnl_txn_classify(FNL_TXN_OP_PRODUCE, 30000), FNL_TXN_C_FATAL);
	/* the decisive error of a per-partition answer */
	CHECK_EQ(fnl_txn_worse(FNL_TXN_OP_ADD_PARTITIONS, NONE, CONCURRENT), CONCURRENT);
	CHECK_EQ(fnl_txn_worse(FNL_TXN_OP_ADD_PARTITIONS, CONCURRENT, NONE), CONCURRENT);
	CHECK_EQ(fnl_txn_worse(FNL_TXN_OP_ADD_PARTITIONS, CONCURRENT, TOPIC_AUTH), TOPIC_AUTH);
	CHECK_EQ(fnl_txn_worse(FNL_TXN_OP_ADD_PARTITIONS, PRODUCER_FENCED, TOPIC_AUTH),
	         PRODUCER_FENCED);
	CHECK_EQ(fnl_txn_worse(FNL_TXN_OP_ADD_PARTITIONS, NOT_ATTEMPTED, TOPIC_AUTH),
	         NOT_ATTEMPTED);
}

static void test_init(void)
{
	struct fnl_txn t;
	fnl_txn_init(&t, &cfg);
	CHECK_EQ(t.state, FNL_TXN_UNINITIALIZED);
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_add_partitions(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_send_offsets(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_USAGE);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_NONE); /* nothing owed before init */
	CHECK_EQ(fnl_txn_init_transactions(&t), FNL_TXN_PENDING);
	CHECK_EQ(t.state, FNL_TXN_INITIALIZING);
	CHECK_EQ(fnl_txn_init_transactions(&t), FNL_TXN_PENDING);
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_PENDING);
	CHECK_EQ(fnl_txn_poll(&t, 10, 10), FNL_TXN_RETRIABLE);

	/* coordinator lookup retried after backoff */
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_FIND_TXN_COORD);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_NONE); /* one in flight */
	CHECK_EQ(fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, COORD_NOT_AVAILABLE, 0),
	         FNL_TXN_C_RETRY_COORD);
	int64_t wait;
	CHECK_EQ(fnl_txn_next(&t, 50, true, &wait), FNL_TXN_OP_NONE);
	CHECK_EQ(wait, 50);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_FIND_TXN_COORD);
	CHECK_EQ(fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, NONE, 100), FNL_TXN_C_OK);
	/* InitProducerId: CONCURRENT_TRANSACTIONS first backs off 20 ms, then the doubling
	 * backoff continues; NOT_COORDINATOR sends it back to FindCoordinator */
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_INIT_PID);
	CHECK_EQ(fnl_txn_on_init_pid(&t, CONCURRENT, -1, -1, 100), FNL_TXN_C_RETRY);
	CHECK_EQ(next(&t, 119), FNL_TXN_OP_NONE);
	CHECK_EQ(next(&t, 120), FNL_TXN_OP_INIT_PID);
	CHECK_EQ(fnl_txn_on_init_pid(&t, COORD_LOADING, -1, -1, 120), FNL_TXN_C_RETRY);
	CHECK_EQ(next(&t, 319), FNL_TXN_OP_NONE); /* attempt 1: 200 ms */
	CHECK_EQ(next(&t, 320), FNL_TXN_OP_INIT_PID);
	CHECK_EQ(fnl_txn_on_init_pid(&t, NOT_COORDINATOR, -1, -1, 320), FNL_TXN_C_RETRY_COORD);
	CHECK_EQ(next(&t, 719), FNL_TXN_OP_NONE); /* attempt 2: 400 ms */
	CHECK_EQ(next(&t, 720), FNL_TXN_OP_FIND_TXN_COORD);
	CHECK_EQ(fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, NONE, 720), FNL_TXN_C_OK);
	CHECK_EQ(next(&t, 720), FNL_TXN_OP_INIT_PID);
	/* a stale answer to something not in flight changes nothing */
	CHECK_EQ(fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, PRODUCER_FENCED, 720),
	         FNL_TXN_C_FATAL);
	CHECK_EQ(t.state, FNL_TXN_INITIALIZING);
	CHECK_EQ(fnl_txn_on_init_pid(&t, NONE, 42, 3, 720), FNL_TXN_C_OK);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(t.producer_id, 42);
	CHECK_EQ(t.epoch, 3);
	CHECK_EQ(t.attempt, 0);
	CHECK_EQ(fnl_txn_init_transactions(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_OK);
	/* READY: only begin is valid */
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_add_partitions(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_send_offsets(&t), FNL_TXN_USAGE);

	/* the backoff doubles up to retry_backoff_max_ms */
	fnl_txn_init(&t, &cfg);
	fnl_txn_init_transactions(&t);
	int64_t now = 0, want[] = {100, 200, 400, 800, 1000, 1000};
	for (int i = 0; i < 6; i++) {
		CHECK_EQ(next(&t, now), FNL_TXN_OP_FIND_TXN_COORD);
		fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, COORD_LOADING, now);
		CHECK_EQ(t.retry_at_ms - now, want[i]);
		now = t.retry_at_ms;
	}

	/* InitProducerId's own failures are fatal: nothing to abort yet */
	static const int16_t fatal[] = {INVALID_TXN_TIMEOUT, PRODUCER_FENCED, TXN_ID_AUTH,
	                                UNKNOWN_PID, TXN_ABORTABLE};
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		fnl_txn_init(&t, &cfg);
		fnl_txn_init_transactions(&t);
		next(&t, 0);
		fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, NONE, 0);
		CHECK_EQ(next(&t, 0), FNL_TXN_OP_INIT_PID);
		CHECK_EQ(fnl_txn_on_init_pid(&t, fatal[i], -1, -1, 0), FNL_TXN_C_FATAL);
		CHECK_EQ(t.state, FNL_TXN_FATAL_ERROR);
		CHECK_EQ(t.last_err, fatal[i]);
		CHECK_EQ(fnl_txn_init_transactions(&t), FNL_TXN_FATAL);
		CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_FATAL);
	}
}

static void test_commit(void)
{
	struct fnl_txn t;
	started(&t, 0);
	CHECK_EQ(t.deadline_ms, 1000);
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_OK);
	/* send offsets: AddOffsetsToTxn, FindCoordinator(group), TxnOffsetCommit */
	CHECK_EQ(fnl_txn_send_offsets(&t), FNL_TXN_PENDING);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_ADD_OFFSETS);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_OFFSETS, NONE, 0);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_FIND_GROUP_COORD);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_GROUP_COORD, NONE, 0);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_TXN_OFFSET_COMMIT);
	CHECK_EQ(fnl_txn_poll(&t, 10, 10), FNL_TXN_RETRIABLE);
	/* the group coordinator moved: look it up again */
	CHECK_EQ(fnl_txn_on_result(&t, FNL_TXN_OP_TXN_OFFSET_COMMIT, NOT_COORDINATOR, 0),
	         FNL_TXN_C_RETRY_COORD);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_FIND_GROUP_COORD);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_GROUP_COORD, NONE, 100);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_TXN_OFFSET_COMMIT);
	fnl_txn_on_result(&t, FNL_TXN_OP_TXN_OFFSET_COMMIT, NONE, 100);
	CHECK_EQ(fnl_txn_poll(&t, 100, 200), FNL_TXN_OK);
	/* a second send_offsets goes to the known group coordinator directly */
	CHECK_EQ(fnl_txn_send_offsets(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_ADD_OFFSETS);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_OFFSETS, NONE, 100);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_FIND_GROUP_COORD);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_GROUP_COORD, NONE, 100);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_TXN_OFFSET_COMMIT);
	fnl_txn_on_result(&t, FNL_TXN_OP_TXN_OFFSET_COMMIT, NONE, 100);
	/* commit waits for the produce requests, then EndTxn(commit) */
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_PENDING);
	CHECK_EQ(t.state, FNL_TXN_COMMITTING);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_PENDING);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_USAGE);
	CHECK_EQ(fnl_txn_add_partitions(&t), FNL_TXN_USAGE);
	int64_t wait;
	CHECK_EQ(fnl_txn_next(&t, 100, false, &wait), FNL_TXN_OP_NONE);
	CHECK_EQ(wait, -1);
	CHECK_EQ(fnl_txn_next(&t, 100, true, &wait), FNL_TXN_OP_END_TXN);
	CHECK(t.committing);
	CHECK_EQ(fnl_txn_poll(&t, 100, 200), FNL_TXN_PENDING);
	CHECK_EQ(fnl_txn_poll(&t, 200, 200), FNL_TXN_RETRIABLE); /* commit again later */
	/* CONCURRENT_TRANSACTIONS on EndTxn: retried */
	CHECK_EQ(fnl_txn_on_end_txn(&t, CONCURRENT, -1, -1, 100), FNL_TXN_C_RETRY);
	CHECK_EQ(next(&t, 120), FNL_TXN_OP_END_TXN);
	/* EndTxn v5 hands out the next epoch (KIP-890) */
	CHECK_EQ(fnl_txn_on_end_txn(&t, NONE, 7, 1, 120), FNL_TXN_C_OK);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(t.epoch, 1);
	CHECK_EQ(t.deadline_ms, -1);
	CHECK(!t.started);
	CHECK_EQ(fnl_txn_poll(&t, 120, 200), FNL_TXN_OK);

	/* an empty transaction commits and aborts without the broker */
	ready(&t);
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_OK);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_OK);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_NONE);
	/* owed partitions that never went out are dropped by the abort */
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_add_partitions(&t), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_OK);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_NONE);
	/* ... but a commit sends them */
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_add_partitions(&t), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_ADD_PARTITIONS);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, NONE, 0);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	/* the coordinator moved under EndTxn */
	CHECK_EQ(fnl_txn_on_end_txn(&t, NOT_COORDINATOR, -1, -1, 0), FNL_TXN_C_RETRY_COORD);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_FIND_TXN_COORD);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, NONE, 100);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 100);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(t.epoch, 0); /* -1 from EndTxn < v5 keeps ours */
}

static void test_abort(void)
{
	struct fnl_txn t;
	started(&t, 0);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(t.state, FNL_TXN_ABORTING);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_USAGE);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	CHECK(!t.committing);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);

	/* abort while AddPartitionsToTxn is in flight: its answer decides */
	ready(&t);
	fnl_txn_begin(&t, 0);
	fnl_txn_add_partitions(&t);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_ADD_PARTITIONS);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_NONE);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, NONE, 0);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);
	/* ... and when that answer is an error, nothing reached the broker */
	fnl_txn_begin(&t, 0);
	fnl_txn_add_partitions(&t);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_ADD_PARTITIONS);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, TOPIC_AUTH, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);

	/* EndTxn(abort) that meets an abortable error is retried, still aborting */
	started(&t, 0);
	fnl_txn_abort(&t);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	CHECK_EQ(fnl_txn_on_end_txn(&t, TXN_ABORTABLE, -1, -1, 0), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(t.state, FNL_TXN_ABORTING);
	CHECK_EQ(next(&t, 99), FNL_TXN_OP_NONE);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 100);
	CHECK_EQ(t.state, FNL_TXN_READY);
}

/* Abortable answers in IN_TXN and COMMITTING: every call says ABORTABLE until abort. */
static void test_abortable(void)
{
	struct fnl_txn t;
	ready(&t);
	fnl_txn_begin(&t, 0);
	fnl_txn_add_partitions(&t);
	next(&t, 0);
	CHECK_EQ(fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, TOPIC_AUTH, 0),
	         FNL_TXN_C_ABORTABLE);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(t.last_err, TOPIC_AUTH);
	CHECK_EQ(t.last_err_op, FNL_TXN_OP_ADD_PARTITIONS);
	CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_send_offsets(&t), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_add_partitions(&t), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_ABORTABLE);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_NONE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_OK); /* nothing reached the broker */
	CHECK_EQ(t.state, FNL_TXN_READY);

	/* KIP-447: the group moved on (ILLEGAL_GENERATION) -> abortable; abort sends EndTxn */
	started(&t, 0);
	fnl_txn_send_offsets(&t);
	next(&t, 0);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_OFFSETS, NONE, 0);
	next(&t, 0);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_GROUP_COORD, NONE, 0);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_TXN_OFFSET_COMMIT);
	fnl_txn_on_result(&t, FNL_TXN_OP_TXN_OFFSET_COMMIT, ILLEGAL_GENERATION, 0);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);

	/* TRANSACTION_ABORTABLE answering the commit */
	started(&t, 0);
	fnl_txn_commit(&t);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, TXN_ABORTABLE, -1, -1, 0);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	CHECK(!t.committing);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);

	/* a produce that failed for good inside the transaction */
	started(&t, 0);
	CHECK_EQ(fnl_txn_on_produce_error(&t, MESSAGE_TOO_LARGE), FNL_TXN_C_ABORTABLE);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(t.last_err_op, FNL_TXN_OP_PRODUCE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);
}

/* KIP-360: UNKNOWN_PRODUCER_ID / INVALID_PRODUCER_ID_MAPPING / OUT_OF_ORDER -> abort, then
 * InitProducerId(pid, epoch) bumps the epoch before READY. */
static void test_bump(void)
{
	struct fnl_txn t;
	started(&t, 0);
	CHECK_EQ(fnl_txn_on_produce_error(&t, OUT_OF_ORDER), FNL_TXN_C_BUMP);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK(t.need_bump);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 0);
	CHECK_EQ(t.state, FNL_TXN_ABORTING);
	CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_INIT_PID);
	CHECK_EQ(fnl_txn_on_init_pid(&t, NONE, 7, 1, 0), FNL_TXN_C_OK);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(t.epoch, 1);
	CHECK(!t.need_bump);

	/* before anything reached the broker: the abort only bumps */
	ready(&t);
	fnl_txn_begin(&t, 0);
	fnl_txn_add_partitions(&t);
	next(&t, 0);
	CHECK_EQ(fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, INVALID_PID_MAPPING, 0),
	         FNL_TXN_C_BUMP);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_INIT_PID);
	fnl_txn_on_init_pid(&t, NONE, 7, 1, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);
}

static void test_fatal(void)
{
	static const struct {
		enum fnl_txn_op op;
		int16_t err;
	} cases[] = {
	    {FNL_TXN_OP_ADD_PARTITIONS, PRODUCER_FENCED},
	    {FNL_TXN_OP_ADD_PARTITIONS, INVALID_EPOCH},
	    {FNL_TXN_OP_ADD_OFFSETS, TXN_ID_AUTH},
	    {FNL_TXN_OP_END_TXN, INVALID_TXN_STATE},
	    {FNL_TXN_OP_END_TXN, PRODUCER_FENCED},
	    {FNL_TXN_OP_TXN_OFFSET_COMMIT, INVALID_EPOCH},
	    {FNL_TXN_OP_END_TXN, INVALID_RECORD},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fnl_txn t;
		started(&t, 0);
		if (cases[i].op == FNL_TXN_OP_ADD_PARTITIONS) {
			fnl_txn_add_partitions(&t);
		} else if (cases[i].op == FNL_TXN_OP_END_TXN) {
			fnl_txn_commit(&t);
		} else {
			fnl_txn_send_offsets(&t);
			if (cases[i].op == FNL_TXN_OP_TXN_OFFSET_COMMIT) {
				next(&t, 0);
				fnl_txn_on_result(&t, FNL_TXN_OP_ADD_OFFSETS, NONE, 0);
				next(&t, 0);
				fnl_txn_on_result(&t, FNL_TXN_OP_FIND_GROUP_COORD, NONE, 0);
			}
		}
		CHECK_EQ(next(&t, 0), cases[i].op);
		CHECK_EQ(fnl_txn_on_result(&t, cases[i].op, cases[i].err, 0), FNL_TXN_C_FATAL);
		CHECK_EQ(t.state, FNL_TXN_FATAL_ERROR);
		CHECK_EQ(t.last_err, cases[i].err);
		CHECK_EQ(t.last_err_op, cases[i].op);
		CHECK_EQ(fnl_txn_begin(&t, 0), FNL_TXN_FATAL);
		CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_FATAL);
		CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_FATAL);
		CHECK_EQ(fnl_txn_send_offsets(&t), FNL_TXN_FATAL);
		CHECK_EQ(fnl_txn_add_partitions(&t), FNL_TXN_FATAL);
		CHECK_EQ(fnl_txn_poll(&t, 0, 10), FNL_TXN_FATAL);
		CHECK_EQ(next(&t, 5000), FNL_TXN_OP_NONE);
		CHECK_EQ(t.deadline_ms, -1);
		/* nothing leaves FATAL_ERROR */
		CHECK_EQ(fnl_txn_on_produce_error(&t, MESSAGE_TOO_LARGE), FNL_TXN_C_ABORTABLE);
		CHECK_EQ(t.state, FNL_TXN_FATAL_ERROR);
	}
	/* fenced on produce */
	struct fnl_txn t;
	started(&t, 0);
	CHECK_EQ(fnl_txn_on_produce_error(&t, PRODUCER_FENCED), FNL_TXN_C_FATAL);
	CHECK_EQ(t.state, FNL_TXN_FATAL_ERROR);
}

/* transaction.timeout.ms: an open transaction past its deadline is aborted by the machine;
 * the client's commit then answers ABORTABLE and its abort completes at once. */
static void test_deadline(void)
{
	struct fnl_txn t;
	started(&t, 0);
	CHECK_EQ(next(&t, 999), FNL_TXN_OP_NONE);
	CHECK_EQ(t.state, FNL_TXN_IN_TXN);
	CHECK_EQ(next(&t, 1000), FNL_TXN_OP_END_TXN);
	CHECK_EQ(t.state, FNL_TXN_ABORTING);
	CHECK(t.timed_out);
	CHECK(!t.committing);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_USAGE); /* mid-abort */
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 1000);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_OK);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(next(&t, 5000), FNL_TXN_OP_NONE);

	/* nothing on the broker: the deadline needs no request */
	ready(&t);
	fnl_txn_begin(&t, 0);
	CHECK_EQ(next(&t, 1000), FNL_TXN_OP_NONE);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(fnl_txn_poll(&t, 1000, 2000), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_OK);

	/* the client aborts while the deadline abort is under way: READY, not an error */
	started(&t, 0);
	CHECK_EQ(next(&t, 1000), FNL_TXN_OP_END_TXN);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 1000);
	CHECK_EQ(t.state, FNL_TXN_READY);

	/* a commit under way is not aborted by the deadline */
	started(&t, 0);
	fnl_txn_commit(&t);
	int64_t wait;
	CHECK_EQ(fnl_txn_next(&t, 2000, false, &wait), FNL_TXN_OP_NONE);
	CHECK_EQ(t.state, FNL_TXN_COMMITTING);
	CHECK_EQ(next(&t, 2000), FNL_TXN_OP_END_TXN);
	CHECK(t.committing);

	/* the deadline passes while AddPartitionsToTxn is in flight */
	ready(&t);
	fnl_txn_begin(&t, 0);
	fnl_txn_add_partitions(&t);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_ADD_PARTITIONS);
	CHECK_EQ(next(&t, 1000), FNL_TXN_OP_NONE);
	CHECK_EQ(t.state, FNL_TXN_ABORTING);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, NONE, 1000);
	CHECK_EQ(next(&t, 1000), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 1000);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(fnl_txn_begin(&t, 1000), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_OK);
	CHECK_EQ(fnl_txn_begin(&t, 1000), FNL_TXN_OK);
	CHECK_EQ(t.deadline_ms, 2000);
	CHECK(!t.timed_out);
}

static void test_io_error(void)
{
	struct fnl_txn t;
	ready(&t);
	fnl_txn_begin(&t, 0);
	fnl_txn_add_partitions(&t);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_ADD_PARTITIONS);
	fnl_txn_on_io_error(&t, 0);
	CHECK_EQ(t.inflight, FNL_TXN_OP_NONE);
	CHECK_EQ(next(&t, 99), FNL_TXN_OP_NONE);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_FIND_TXN_COORD);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, NONE, 100);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_ADD_PARTITIONS);
	fnl_txn_on_io_error(&t, 100);
	fnl_txn_on_io_error(&t, 100); /* nothing in flight: no effect */
	CHECK_EQ(t.retry_at_ms, 200); /* the lookup succeeded: attempt 0 again */
	/* the group coordinator's connection */
	started(&t, 0);
	fnl_txn_send_offsets(&t);
	next(&t, 0);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_OFFSETS, NONE, 0);
	next(&t, 0);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_GROUP_COORD, NONE, 0);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_TXN_OFFSET_COMMIT);
	fnl_txn_on_io_error(&t, 0);
	CHECK(t.need_group_coord);
	CHECK(!t.need_txn_coord);
	CHECK_EQ(next(&t, 100), FNL_TXN_OP_FIND_GROUP_COORD);
}

static void test_names(void)
{
	CHECK(strcmp(fnl_txn_state_name(FNL_TXN_ABORTABLE_ERROR), "ABORTABLE_ERROR") == 0);
	CHECK(strcmp(fnl_txn_state_name((enum fnl_txn_state)99), "?") == 0);
	CHECK(strcmp(fnl_txn_op_name(FNL_TXN_OP_END_TXN), "EndTxn") == 0);
	CHECK(strcmp(fnl_txn_op_name(FNL_TXN_OP_PRODUCE), "Produce") == 0);
	CHECK(strcmp(fnl_txn_res_name(FNL_TXN_RETRIABLE), "RETRIABLE") == 0);
	CHECK(strcmp(fnl_txn_res_name(FNL_TXN_USAGE), "USAGE") == 0);
	/* defaults */
	struct fnl_txn t;
	struct fnl_txn_cfg zero = {0, 0, 0};
	fnl_txn_init(&t, &zero);
	CHECK_EQ(t.cfg.txn_timeout_ms, 60000);
	CHECK_EQ(t.cfg.retry_backoff_ms, 100);
	CHECK_EQ(t.cfg.retry_backoff_max_ms, 1000);
}

static void test_messages(void)
{
	char msg[256];
	CHECK_EQ(fnl_txn_check_config(NULL, false, 1, 0, msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_txn_check_config("t", true, -1, 60000, msg, sizeof(msg)), 0);
	CHECK_EQ(fnl_txn_check_config("t", false, -1, 60000, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "transactional.id") && strstr(msg, "enable.idempotence=false"));
	CHECK_EQ(fnl_txn_check_config("t", true, 1, 60000, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "transactional.id") && strstr(msg, "acks"));
	CHECK_EQ(fnl_txn_check_config("", true, -1, 60000, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "transactional.id is empty"));
	CHECK_EQ(fnl_txn_check_config("t", true, -1, 0, msg, sizeof(msg)), -EINVAL);
	CHECK(strstr(msg, "transaction.timeout.ms"));
	CHECK_EQ(fnl_txn_check_config("t", true, 0, 1, NULL, 0), -EINVAL);

	struct fnl_txn t;
	ready(&t);
	CHECK_EQ(fnl_txn_describe(&t, "app", msg, sizeof(msg)), 0);
	CHECK_EQ(msg[0], 0);
	/* InitProducerId refused the timeout: names both settings */
	fnl_txn_init(&t, &cfg);
	fnl_txn_init_transactions(&t);
	next(&t, 0);
	fnl_txn_on_result(&t, FNL_TXN_OP_FIND_TXN_COORD, NONE, 0);
	next(&t, 0);
	fnl_txn_on_init_pid(&t, INVALID_TXN_TIMEOUT, -1, -1, 0);
	CHECK(fnl_txn_describe(&t, "app", msg, sizeof(msg)) > 0);
	CHECK(strstr(msg,
	             "transactional.id app: transaction.timeout.ms=1000 is above the broker's "
	             "transaction.max.timeout.ms (InitProducerId: INVALID_TRANSACTION_TIMEOUT)"));
	/* fenced */
	started(&t, 0);
	fnl_txn_commit(&t);
	next(&t, 0);
	fnl_txn_on_end_txn(&t, PRODUCER_FENCED, -1, -1, 0);
	fnl_txn_describe(&t, "app", msg, sizeof(msg));
	CHECK(strstr(msg, "fenced") && strstr(msg, "(EndTxn: PRODUCER_FENCED)"));
	/* authorization */
	started(&t, 0);
	fnl_txn_add_partitions(&t);
	next(&t, 0);
	fnl_txn_on_result(&t, FNL_TXN_OP_ADD_PARTITIONS, TXN_ID_AUTH, 0);
	fnl_txn_describe(&t, "app", msg, sizeof(msg));
	CHECK(strstr(msg, "Write on TransactionalId app"));
	/* invalid state */
	started(&t, 0);
	fnl_txn_commit(&t);
	next(&t, 0);
	fnl_txn_on_end_txn(&t, INVALID_TXN_STATE, -1, -1, 0);
	fnl_txn_describe(&t, NULL, msg, sizeof(msg));
	CHECK(strstr(msg, "transactional.id ?: the coordinator's transaction state does not allow "
	                  "EndTxn (EndTxn: INVALID_TXN_STATE)"));
	/* abortable, and the deadline */
	started(&t, 0);
	fnl_txn_on_produce_error(&t, MESSAGE_TOO_LARGE);
	fnl_txn_describe(&t, "app", msg, sizeof(msg));
	CHECK(strstr(msg, "abortable error, abort then begin again (Produce: MESSAGE_TOO_LARGE)"));
	started(&t, 0);
	next(&t, 1000);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 1000);
	fnl_txn_describe(&t, "app", msg, sizeof(msg));
	CHECK(strstr(msg, "open longer than transaction.timeout.ms (1000 ms)"));
	/* a fatal code without its own words */
	started(&t, 0);
	fnl_txn_commit(&t);
	next(&t, 0);
	fnl_txn_on_end_txn(&t, INVALID_RECORD, -1, -1, 0);
	fnl_txn_describe(&t, "app", msg, sizeof(msg));
	CHECK(strstr(msg, "fatal error, transactions are over for this producer (EndTxn: "));
	/* a short buffer is cut, still terminated */
	char small[8];
	CHECK(fnl_txn_describe(&t, "app", small, sizeof(small)) > 8);
	CHECK_EQ(strlen(small), 7);
}

/* funneld's window (ctrl/txnd.c): batches whose fate is unknown make the transaction
 * abortable with an epoch bump; the abort ends it and InitProducerId bumps the epoch. */
static void test_produce_lost(void)
{
	struct fnl_txn t;
	started(&t, 0);
	fnl_txn_on_produce_lost(&t);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK(t.need_bump);
	CHECK_EQ(t.last_err, 7); /* REQUEST_TIMED_OUT */
	CHECK_EQ(fnl_txn_commit(&t), FNL_TXN_ABORTABLE);
	CHECK_EQ(fnl_txn_abort(&t), FNL_TXN_PENDING);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_END_TXN);
	fnl_txn_on_end_txn(&t, NONE, -1, -1, 0);
	CHECK_EQ(next(&t, 0), FNL_TXN_OP_INIT_PID);
	fnl_txn_on_init_pid(&t, NONE, 7, 1, 0);
	CHECK_EQ(t.state, FNL_TXN_READY);
	CHECK_EQ(t.epoch, 1);
	CHECK(!t.need_bump);
	/* after a definite produce error it keeps that error and adds the bump */
	started(&t, 0);
	fnl_txn_on_produce_error(&t, NOT_LEADER);
	fnl_txn_on_produce_lost(&t);
	CHECK_EQ(t.state, FNL_TXN_ABORTABLE_ERROR);
	CHECK_EQ(t.last_err, NOT_LEADER);
	CHECK(t.need_bump);
	/* nothing moves a fatal machine */
	started(&t, 0);
	fnl_txn_on_produce_error(&t, PRODUCER_FENCED);
	fnl_txn_on_produce_lost(&t);
	CHECK_EQ(t.state, FNL_TXN_FATAL_ERROR);
}

int main(void)
{
	test_produce_lost();
	test_messages();
	test_classify();
	test_init();
	test_commit();
	test_abort();
	test_abortable();
	test_bump();
	test_fatal();
	test_deadline();
	test_io_error();
	test_names();
	return 0;
}
