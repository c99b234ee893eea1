/* txn.c - the transactional producer's state machine (see txn.h). */
#include "dataplane/producer/txn.h"

#include <errno.h>
#include <stdio.h>

#include "dataplane/producer/errtab.h"

/* Kafka codes the transaction logic names (see errtab.c for all of them). */
enum {
	E_REQUEST_TIMED_OUT = 7,
	E_COORD_LOADING = 14,
	E_COORD_NOT_AVAILABLE = 15,
	E_NOT_COORDINATOR = 16,
	E_ILLEGAL_GENERATION = 22,
	E_UNKNOWN_MEMBER_ID = 25,
	E_REBALANCE_IN_PROGRESS = 27,
	E_TOPIC_AUTH = 29,
	E_GROUP_AUTH = 30,
	E_OUT_OF_ORDER = 45,
	E_INVALID_PRODUCER_EPOCH = 47,
	E_INVALID_TXN_STATE = 48,
	E_INVALID_PID_MAPPING = 49,
	E_INVALID_TXN_TIMEOUT = 50,
	E_CONCURRENT_TXNS = 51,
	E_TXN_COORD_FENCED = 52,
	E_TXN_ID_AUTH = 53,
	E_OPERATION_NOT_ATTEMPTED = 55,
	E_UNKNOWN_PRODUCER_ID = 59,
	E_FENCED_INSTANCE_ID = 82,
	E_PRODUCER_FENCED = 90,
	E_TXN_ABORTABLE = 120,
};

#define CONCURRENT_BACKOFF_MS 20

void fnl_txn_init(struct fnl_txn *t, const struct fnl_txn_cfg *cfg)
{
	*t = (struct fnl_txn){0};
	t->cfg = *cfg;
	if (t->cfg.txn_timeout_ms <= 0)
		t->cfg.txn_timeout_ms = 60000;
	if (t->cfg.retry_backoff_ms <= 0)
		t->cfg.retry_backoff_ms = 100;
	if (t->cfg.retry_backoff_max_ms < t->cfg.retry_backoff_ms)
		t->cfg.retry_backoff_max_ms =
		    t->cfg.retry_backoff_ms > 1000 ? t->cfg.retry_backoff_ms : 1000;
	t->state = FNL_TXN_UNINITIALIZED;
	t->producer_id = -1;
	t->epoch = -1;
	t->deadline_ms = -1;
}

/* ---- classification ---- */

/* Errors every coordinator request shares; -1 if the request's own table decides. */
static int classify_common(int16_t err)
{
	switch (err) {
	case 0:
		return FNL_TXN_C_OK;
	case E_COORD_NOT_AVAILABLE:
	case E_NOT_COORDINATOR:
		return FNL_TXN_C_RETRY_COORD;
	case E_COORD_LOADING:
	case E_CONCURRENT_TXNS:
		return FNL_TXN_C_RETRY;
	case E_PRODUCER_FENCED:
	case E_INVALID_PRODUCER_EPOCH:
	case E_TXN_ID_AUTH:
	case E_INVALID_TXN_STATE:
	case E_TXN_COORD_FENCED:
		return FNL_TXN_C_FATAL;
	case E_UNKNOWN_PRODUCER_ID:
	case E_INVALID_PID_MAPPING:
		return FNL_TXN_C_BUMP;
	case E_TXN_ABORTABLE:
		return FNL_TXN_C_ABORTABLE;
	default:
		return -1;
	}
}

static enum fnl_txn_class classify_rest(enum fnl_txn_op op, int16_t err)
{
	switch (op) {
	case FNL_TXN_OP_FIND_GROUP_COORD:
		if (err == E_GROUP_AUTH)
			return FNL_TXN_C_ABORTABLE;
		break;
	case FNL_TXN_OP_INIT_PID:
		if (err == E_INVALID_TXN_TIMEOUT)
			return FNL_TXN_C_FATAL;
		break;
	case FNL_TXN_OP_ADD_PARTITIONS:
		if (err == E_TOPIC_AUTH || err == E_OPERATION_NOT_ATTEMPTED)
			return FNL_TXN_C_ABORTABLE;
		break;
	case FNL_TXN_OP_ADD_OFFSETS:
		if (err == E_GROUP_AUTH)
			return FNL_TXN_C_ABORTABLE;
		break;
	case FNL_TXN_OP_TXN_OFFSET_COMMIT:
		if (err == E_REQUEST_TIMED_OUT)
			return FNL_TXN_C_RETRY_COORD;
		if (err == E_GROUP_AUTH || err == E_ILLEGAL_GENERATION ||
		    err == E_UNKNOWN_MEMBER_ID || err == E_FENCED_INSTANCE_ID ||
		    err == E_REBALANCE_IN_PROGRESS)
			return FNL_TXN_C_ABORTABLE; /* the Java client's CommitFailedException */
		break;
	case FNL_TXN_OP_PRODUCE:
		if (err == E_OUT_OF_ORDER)
			return FNL_TXN_C_BUMP;
		/* any other failed batch: the transaction cannot commit */
		return fnl_err_lookup(err)->code == INT16_MIN ? FNL_TXN_C_FATAL
		                                              : FNL_TXN_C_ABORTABLE;
	default:
		break;
	}
	/* not named above: retriable exceptions retry, the rest ends the producer, as the
	 * Java TransactionManager's "unexpected error" branches do */
	return fnl_err_lookup(err)->retriable ? FNL_TXN_C_RETRY : FNL_TXN_C_FATAL;
}

enum fnl_txn_class fnl_txn_classify(enum fnl_txn_op op, int16_t err)
{
	int c = classify_common(err);
	if (op == FNL_TXN_OP_PRODUCE && c == FNL_TXN_C_RETRY_COORD)
		c = FNL_TXN_C_ABORTABLE; /* produce goes to leaders, not coordinators */
	if (op == FNL_TXN_OP_PRODUCE && c == FNL_TXN_C_RETRY)
		c = FNL_TXN_C_ABORTABLE; /* the sender already retried */
	if (c >= 0)
		return (enum fnl_txn_class)c;
	return classify_rest(op, err);
}

int16_t fnl_txn_worse(enum fnl_txn_op op, int16_t a, int16_t b)
{
	return fnl_txn_classify(op, b) > fnl_txn_classify(op, a) ? b : a;
}

/* ---- client calls ---- */

/* What a call made in an error state gets. */
static enum fnl_txn_res error_res(const struct fnl_txn *t)
{
	if (t->state == FNL_TXN_FATAL_ERROR)
		return FNL_TXN_FATAL;
	if (t->state == FNL_TXN_ABORTABLE_ERROR)
		return FNL_TXN_ABORTABLE;
	return FNL_TXN_USAGE;
}

enum fnl_txn_res fnl_txn_init_transactions(struct fnl_txn *t)
{
	if (t->state == FNL_TXN_INITIALIZING)
		return FNL_TXN_PENDING;
	if (t->state != FNL_TXN_UNINITIALIZED)
		return t->state == FNL_TXN_FATAL_ERROR ? FNL_TXN_FATAL : FNL_TXN_USAGE;
	t->state = FNL_TXN_INITIALIZING;
	t->need_txn_coord = true;
	return FNL_TXN_PENDING;
}

enum fnl_txn_res fnl_txn_begin(struct fnl_txn *t, int64_t now_ms)
{
	if (t->state != FNL_TXN_READY)
		return error_res(t);
	t->state = FNL_TXN_IN_TXN;
	t->deadline_ms = now_ms + t->cfg.txn_timeout_ms;
	t->started = t->add_parts = t->add_offsets = t->offset_commit = false;
	t->timed_out = t->aborted = false;
	t->last_err = 0;
	t->last_err_op = FNL_TXN_OP_NONE;
	return FNL_TXN_OK;
}

enum fnl_txn_res fnl_txn_add_partitions(struct fnl_txn *t)
{
	if (t->state != FNL_TXN_IN_TXN)
		return error_res(t);
	t->add_parts = true;
	return FNL_TXN_OK;
}

enum fnl_txn_res fnl_txn_send_offsets(struct fnl_txn *t)
{
	if (t->state != FNL_TXN_IN_TXN)
		return error_res(t);
	t->add_offsets = true;
	return FNL_TXN_PENDING;
}

/* An ADD request in flight may open the broker's transaction: it counts as started. */
static bool broker_txn_open(const struct fnl_txn *t)
{
	return t->started || t->inflight == FNL_TXN_OP_ADD_PARTITIONS ||
	       t->inflight == FNL_TXN_OP_ADD_OFFSETS;
}

/* ABORTING ends once the broker holds nothing of the transaction and no epoch bump is owed:
 * READY, or ABORTABLE_ERROR when funneld aborted it on its deadline (the client's next
 * commit must learn that). */
static void abort_maybe_done(struct fnl_txn *t)
{
	if (t->state != FNL_TXN_ABORTING || t->inflight != FNL_TXN_OP_NONE)
		return;
	if ((broker_txn_open(t) && !t->aborted) || t->need_bump)
		return;
	t->deadline_ms = -1;
	t->started = false;
	if (t->timed_out) {
		t->aborted = true;
		t->state = FNL_TXN_ABORTABLE_ERROR;
	} else {
		t->state = FNL_TXN_READY;
	}
}

enum fnl_txn_res fnl_txn_commit(struct fnl_txn *t)
{
	if (t->state == FNL_TXN_COMMITTING)
		return FNL_TXN_PENDING;
	if (t->state != FNL_TXN_IN_TXN)
		return error_res(t);
	t->state = FNL_TXN_COMMITTING;
	t->committing = true;
	if (!broker_txn_open(t) && !t->add_parts && !t->add_offsets && !t->offset_commit) {
		t->deadline_ms = -1;
		t->state = FNL_TXN_READY; /* an empty transaction never reached the broker */
		return FNL_TXN_OK;
	}
	return FNL_TXN_PENDING;
}

enum fnl_txn_res fnl_txn_abort(struct fnl_txn *t)
{
	if (t->state == FNL_TXN_ABORTING) {
		t->timed_out = false; /* the client asks for the abort it would be told about */
		return FNL_TXN_PENDING;
	}
	if (t->state != FNL_TXN_IN_TXN && t->state != FNL_TXN_ABORTABLE_ERROR)
		return t->state == FNL_TXN_FATAL_ERROR ? FNL_TXN_FATAL : FNL_TXN_USAGE;
	/* what was owed is dropped: an aborted transaction needs none of it */
	t->add_parts = t->add_offsets = t->offset_commit = false;
	t->committing = false;
	t->timed_out = false;
	t->state = FNL_TXN_ABORTING;
	abort_maybe_done(t);
	return t->state == FNL_TXN_READY ? FNL_TXN_OK : FNL_TXN_PENDING;
}

enum fnl_txn_res fnl_txn_poll(const struct fnl_txn *t, int64_t now_ms, int64_t call_deadline_ms)
{
	switch (t->state) {
	case FNL_TXN_INITIALIZING:
	case FNL_TXN_COMMITTING:
	case FNL_TXN_ABORTING:
		return now_ms >= call_deadline_ms ? FNL_TXN_RETRIABLE : FNL_TXN_PENDING;
	case FNL_TXN_IN_TXN:
		/* send_offsets under way */
		if (t->add_offsets || t->offset_commit)
			return now_ms >= call_deadline_ms ? FNL_TXN_RETRIABLE : FNL_TXN_PENDING;
		return FNL_TXN_OK;
	case FNL_TXN_READY:
		return FNL_TXN_OK;
	case FNL_TXN_UNINITIALIZED:
		return FNL_TXN_USAGE;
	default:
		return error_res(t);
	}
}

/* ---- driver ---- */

static int64_t backoff_ms(const struct fnl_txn *t, int attempt)
{
	int64_t b = t->cfg.retry_backoff_ms;
	for (int i = 0; i < attempt && b < t->cfg.retry_backoff_max_ms; i++)
		b *= 2;
	return b > t->cfg.retry_backoff_max_ms ? t->cfg.retry_backoff_max_ms : b;
}

/* The deadline of an open transaction: funneld aborts it (the transaction.timeout.ms
 * rule); the client learns it as an abortable error. */
static void check_deadline(struct fnl_txn *t, int64_t now_ms)
{
	if (t->state != FNL_TXN_IN_TXN || t->deadline_ms < 0 || now_ms < t->deadline_ms)
		return;
	t->timed_out = true;
	t->last_err = 0;
	t->last_err_op = FNL_TXN_OP_NONE;
	t->add_parts = t->add_offsets = t->offset_commit = false;
	t->committing = false;
	t->state = FNL_TXN_ABORTING;
	abort_maybe_done(t);
}

static enum fnl_txn_op pick(const struct fnl_txn *t, bool produce_idle)
{
	switch (t->state) {
	case FNL_TXN_INITIALIZING:
		return t->need_txn_coord ? FNL_TXN_OP_FIND_TXN_COORD : FNL_TXN_OP_INIT_PID;
	case FNL_TXN_IN_TXN:
	case FNL_TXN_COMMITTING:
		if (t->need_txn_coord &&
		    (t->add_parts || t->add_offsets || t->state == FNL_TXN_COMMITTING))
			return FNL_TXN_OP_FIND_TXN_COORD;
		if (t->add_parts)
			return FNL_TXN_OP_ADD_PARTITIONS;
		if (t->add_offsets)
			return FNL_TXN_OP_ADD_OFFSETS;
		if (t->offset_commit)
			return t->need_group_coord ? FNL_TXN_OP_FIND_GROUP_COORD
			                           : FNL_TXN_OP_TXN_OFFSET_COMMIT;
		if (t->state == FNL_TXN_COMMITTING && produce_idle)
			return FNL_TXN_OP_END_TXN;
		return FNL_TXN_OP_NONE;
	case FNL_TXN_ABORTING:
		if (t->need_txn_coord)
			return FNL_TXN_OP_FIND_TXN_COORD;
		if (t->started && !t->aborted)
			return produce_idle ? FNL_TXN_OP_END_TXN : FNL_TXN_OP_NONE;
		return t->need_bump ? FNL_TXN_OP_INIT_PID : FNL_TXN_OP_NONE;
	default:
		return FNL_TXN_OP_NONE;
	}
}

enum fnl_txn_op fnl_txn_next(struct fnl_txn *t, int64_t now_ms, bool produce_idle, int64_t *wait_ms)
{
	check_deadline(t, now_ms);
	*wait_ms = -1;
	if (t->inflight != FNL_TXN_OP_NONE)
		return FNL_TXN_OP_NONE;
	enum fnl_txn_op op = pick(t, produce_idle);
	if (op == FNL_TXN_OP_NONE)
		return op;
	if (now_ms < t->retry_at_ms) {
		*wait_ms = t->retry_at_ms - now_ms;
		return FNL_TXN_OP_NONE;
	}
	t->inflight = op;
	return op;
}

static void to_error(struct fnl_txn *t, enum fnl_txn_op op, int16_t err, bool fatal)
{
	t->last_err = err;
	t->last_err_op = op;
	t->add_parts = t->add_offsets = t->offset_commit = false;
	if (fatal) {
		t->state = FNL_TXN_FATAL_ERROR;
		t->deadline_ms = -1;
		return;
	}
	if (t->state == FNL_TXN_IN_TXN || t->state == FNL_TXN_COMMITTING)
		t->state = FNL_TXN_ABORTABLE_ERROR;
	/* in ABORTING (e.g. the EndTxn(abort) itself got an abortable error) it stays aborting:
	 * the abort is retried after the backoff */
}

/* The op succeeded: what it settles. */
static void settle(struct fnl_txn *t, enum fnl_txn_op op)
{
	switch (op) {
	case FNL_TXN_OP_FIND_TXN_COORD:
		t->need_txn_coord = false;
		break;
	case FNL_TXN_OP_FIND_GROUP_COORD:
		t->need_group_coord = false;
		break;
	case FNL_TXN_OP_ADD_PARTITIONS:
		t->add_parts = false;
		t->started = true;
		break;
	case FNL_TXN_OP_ADD_OFFSETS:
		t->add_offsets = false;
		t->offset_commit = true;
		t->need_group_coord = true;
		t->started = true;
		break;
	case FNL_TXN_OP_TXN_OFFSET_COMMIT:
		t->offset_commit = false;
		break;
	case FNL_TXN_OP_END_TXN:
		t->started = false;
		t->deadline_ms = -1;
		if (t->state == FNL_TXN_COMMITTING)
			t->state = FNL_TXN_READY;
		else
			t->aborted = true; /* ABORTING: abort_maybe_done decides */
		break;
	default:
		break;
	}
}

/* Only answers to what is in flight, in a state that still wants them, count. */
static bool stale(struct fnl_txn *t, enum fnl_txn_op op)
{
	if (t->inflight != op)
		return true;
	t->inflight = FNL_TXN_OP_NONE;
	return t->state == FNL_TXN_FATAL_ERROR || t->state == FNL_TXN_ABORTABLE_ERROR ||
	       t->state == FNL_TXN_READY;
}

static enum fnl_txn_class apply(struct fnl_txn *t, enum fnl_txn_op op, int16_t err, int64_t now_ms)
{
	enum fnl_txn_class c = fnl_txn_classify(op, err);
	switch (c) {
	case FNL_TXN_C_OK:
		t->attempt = 0;
		t->retry_at_ms = 0;
		settle(t, op);
		break;
	case FNL_TXN_C_RETRY_COORD:
		if (op == FNL_TXN_OP_TXN_OFFSET_COMMIT || op == FNL_TXN_OP_FIND_GROUP_COORD)
			t->need_group_coord = true;
		else
			t->need_txn_coord = true;
		/* fall through */
	case FNL_TXN_C_RETRY:
		t->retry_at_ms = now_ms + (err == E_CONCURRENT_TXNS && t->attempt == 0
		                               ? CONCURRENT_BACKOFF_MS
		                               : backoff_ms(t, t->attempt));
		t->attempt++;
		break;
	case FNL_TXN_C_BUMP:
		t->need_bump = true;
		/* fall through */
	case FNL_TXN_C_ABORTABLE:
		to_error(t, op, err, false);
		if (t->state == FNL_TXN_ABORTING)
			t->retry_at_ms = now_ms + backoff_ms(t, t->attempt++);
		break;
	case FNL_TXN_C_FATAL:
		to_error(t, op, err, true);
		break;
	}
	abort_maybe_done(t);
	return c;
}

enum fnl_txn_class fnl_txn_on_result(struct fnl_txn *t, enum fnl_txn_op op, int16_t err,
                                     int64_t now_ms)
{
	if (op == FNL_TXN_OP_INIT_PID || op == FNL_TXN_OP_END_TXN)
		return op == FNL_TXN_OP_INIT_PID ? fnl_txn_on_init_pid(t, err, -1, -1, now_ms)
		                                 : fnl_txn_on_end_txn(t, err, -1, -1, now_ms);
	if (stale(t, op))
		return fnl_txn_classify(op, err);
	return apply(t, op, err, now_ms);
}

enum fnl_txn_class fnl_txn_on_init_pid(struct fnl_txn *t, int16_t err, int64_t producer_id,
                                       int16_t epoch, int64_t now_ms)
{
	if (stale(t, FNL_TXN_OP_INIT_PID))
		return fnl_txn_classify(FNL_TXN_OP_INIT_PID, err);
	enum fnl_txn_class c = fnl_txn_classify(FNL_TXN_OP_INIT_PID, err);
	if (c == FNL_TXN_C_BUMP || c == FNL_TXN_C_ABORTABLE)
		c = FNL_TXN_C_FATAL; /* nothing to abort: InitProducerId itself failed */
	if (c == FNL_TXN_C_FATAL) {
		to_error(t, FNL_TXN_OP_INIT_PID, err, true);
		return c;
	}
	if (c != FNL_TXN_C_OK)
		return apply(t, FNL_TXN_OP_INIT_PID, err, now_ms);
	t->attempt = 0;
	t->retry_at_ms = 0;
	t->producer_id = producer_id;
	t->epoch = epoch;
	t->need_bump = false;
	if (t->state == FNL_TXN_ABORTING)
		abort_maybe_done(t);
	else
		t->state = FNL_TXN_READY;
	return c;
}

enum fnl_txn_class fnl_txn_on_end_txn(struct fnl_txn *t, int16_t err, int64_t producer_id,
                                      int16_t epoch, int64_t now_ms)
{
	if (stale(t, FNL_TXN_OP_END_TXN))
		return fnl_txn_classify(FNL_TXN_OP_END_TXN, err);
	enum fnl_txn_class c = apply(t, FNL_TXN_OP_END_TXN, err, now_ms);
	if (c == FNL_TXN_C_OK && producer_id >= 0 && epoch >= 0) {
		t->producer_id = producer_id;
		t->epoch = epoch;
	}
	return c;
}

void fnl_txn_on_io_error(struct fnl_txn *t, int64_t now_ms)
{
	enum fnl_txn_op op = t->inflight;
	if (op == FNL_TXN_OP_NONE)
		return;
	t->inflight = FNL_TXN_OP_NONE;
	if (op == FNL_TXN_OP_TXN_OFFSET_COMMIT || op == FNL_TXN_OP_FIND_GROUP_COORD)
		t->need_group_coord = true;
	else
		t->need_txn_coord = true;
	t->retry_at_ms = now_ms + backoff_ms(t, t->attempt++);
}

enum fnl_txn_class fnl_txn_on_produce_error(struct fnl_txn *t, int16_t err)
{
	enum fnl_txn_class c = fnl_txn_classify(FNL_TXN_OP_PRODUCE, err);
	if (c == FNL_TXN_C_OK || t->state == FNL_TXN_FATAL_ERROR)
		return c;
	if (c == FNL_TXN_C_BUMP)
		t->need_bump = true;
	if (t->state == FNL_TXN_IN_TXN || t->state == FNL_TXN_COMMITTING || c == FNL_TXN_C_FATAL)
		to_error(t, FNL_TXN_OP_PRODUCE, err, c == FNL_TXN_C_FATAL);
	return c;
}

void fnl_txn_on_produce_lost(struct fnl_txn *t)
{
	if (t->state == FNL_TXN_FATAL_ERROR)
		return;
	t->need_bump = true;
	if (t->state == FNL_TXN_IN_TXN || t->state == FNL_TXN_COMMITTING)
		to_error(t, FNL_TXN_OP_PRODUCE, E_REQUEST_TIMED_OUT, false);
}

/* ---- messages ---- */

int fnl_txn_check_config(const char *txn_id, bool idempotence, int acks, int32_t txn_timeout_ms,
                         char *msg, size_t cap)
{
	const char *why = NULL;
	if (!txn_id)
		return 0; /* not transactional: nothing to check here */
	if (!txn_id[0])
		why = "transactional.id is empty: give it a name or leave it unset";
	else if (!idempotence)
		why = "transactional.id is set but enable.idempotence=false: transactions need "
		      "idempotence (set enable.idempotence=true or unset transactional.id)";
	else if (acks != -1)
		why = "transactional.id is set but acks is not all: transactions need acks=all";
	else if (txn_timeout_ms <= 0)
		why = "transaction.timeout.ms must be above 0";
	if (!why)
		return 0;
	if (msg && cap)
		snprintf(msg, cap, "%s", why);
	return -EINVAL;
}

int fnl_txn_describe(const struct fnl_txn *t, const char *txn_id, char *buf, size_t cap)
{
	const char *id = txn_id ? txn_id : "?";
	const char *op = fnl_txn_op_name(t->last_err_op);
	const char *err = fnl_err_name(t->last_err);

	if (t->state != FNL_TXN_ABORTABLE_ERROR && t->state != FNL_TXN_FATAL_ERROR)
		return snprintf(buf, cap, "%s", "");
	if (t->timed_out || (t->aborted && !t->last_err))
		return snprintf(
		    buf, cap,
		    "transactional.id %s: the transaction was open longer than "
		    "transaction.timeout.ms (%d ms) and was aborted; abort, then begin again",
		    id, t->cfg.txn_timeout_ms);
	switch (t->last_err) {
	case E_INVALID_TXN_TIMEOUT:
		return snprintf(
		    buf, cap,
		    "transactional.id %s: transaction.timeout.ms=%d is above the broker's "
		    "transaction.max.timeout.ms (%s: %s)",
		    id, t->cfg.txn_timeout_ms, op, err);
	case E_TXN_ID_AUTH:
		return snprintf(buf, cap,
		                "transactional.id %s: not authorized (the principal needs Write on "
		                "TransactionalId %s) (%s: %s)",
		                id, id, op, err);
	case E_PRODUCER_FENCED:
	case E_INVALID_PRODUCER_EPOCH:
	case E_TXN_COORD_FENCED:
		return snprintf(
		    buf, cap,
		    "transactional.id %s: fenced, another producer initialized the same "
		    "transactional.id (%s: %s)",
		    id, op, err);
	case E_INVALID_TXN_STATE:
		return snprintf(buf, cap,
		                "transactional.id %s: the coordinator's transaction state does not "
		                "allow %s (%s: %s)",
		                id, op, op, err);
	default:
		return snprintf(buf, cap, "transactional.id %s: %s (%s: %s)", id,
		                t->state == FNL_TXN_FATAL_ERROR
		                    ? "fatal error, transactions are over for this producer"
		                    : "abortable error, abort then begin again",
		                op, err);
	}
}

/* ---- names ---- */

const char *fnl_txn_state_name(enum fnl_txn_state s)
{
	static const char *const n[] = {"UNINITIALIZED",   "INITIALIZING", "READY",
	                                "IN_TXN",          "COMMITTING",   "ABORTING",
	                                "ABORTABLE_ERROR", "FATAL_ERROR"};
	return (unsigned)s < sizeof(n) / sizeof(n[0]) ? n[s] : "?";
}

const char *fnl_txn_op_name(enum fnl_txn_op op)
{
	static const char *const n[] = {"NONE",
	                                "FindCoordinator(txn)",
	                                "InitProducerId",
	                                "AddPartitionsToTxn",
	                                "AddOffsetsToTxn",
	                                "FindCoordinator(group)",
	                                "TxnOffsetCommit",
	                                "EndTxn",
	                                "Produce"};
	return (unsigned)op < sizeof(n) / sizeof(n[0]) ? n[op] : "?";
}

const char *fnl_txn_res_name(enum fnl_txn_res r)
{
	static const char *const n[] = {"OK",        "PENDING", "RETRIABLE",
	                                "ABORTABLE", "FATAL",   "USAGE"};
	return (unsigned)r < sizeof(n) / sizeof(n[0]) ? n[r] : "?";
}
