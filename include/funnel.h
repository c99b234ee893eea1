/* funnel.h - libfunnel, the public C API of the funnel Kafka producer sidecar.
 *
 * A process attaches to the local funneld over its control socket, gets a
 * private shared-memory ring, and produces records into it without a syscall
 * per record. funneld partitions, batches, compresses and sends them to Kafka
 * as an idempotent producer, and sends a delivery report back for every record.
 *
 *   fnl_conf_init(&conf); conf.on_report = cb;
 *   fnl_open(&conf, &c);            fnl_topic(c, "events", &t);
 *   fnl_produce(c, t, -1, key, klen, val, vlen, NULL, 0, 0, opaque);
 *   fnl_poll(c, 0);  ...  fnl_flush(c, 10000);  fnl_close(c);
 *
 * Errors: functions return >= 0 or -errno (fnl_strerror() describes them);
 * delivery reports carry Kafka error codes (int16_t, fnl_kafka_err_name()).
 *
 * Thread safety: a fnl_client_t and its topics belong to ONE thread at a time;
 * every call on a client must be serialised by the caller (use one client per
 * producing thread: each gets its own ring, which is what funnel is built for).
 * Report callbacks run in the thread calling fnl_poll(), fnl_flush() or a
 * fnl_produce() that blocks on a full ring (it serves reports to make room).
 *
 * fork(): a client may be used in the child of a process that opened it (a
 * pre-forking server, gunicorn --preload, multiprocessing). At fork (through
 * pthread_atfork, so any fork() of the C library, not a raw clone()) the child's
 * copies of the client's descriptors are closed. The child's first
 * fnl_produce(), fnl_poll() or fnl_topic() on it attaches a ring of its own to
 * funneld (one round trip, topics looked up again; the fnl_topic_t handles stay
 * valid). The child never writes into the parent's ring nor reads its reports:
 * the records the parent produced before the fork, reported or not, stay the
 * parent's and are reported to the parent only; fnl_outq_len() and fnl_flush()
 * in the child count only the child's records (0 until it produces).
 * fnl_close() in a child frees only the child's part: it says BYE for the
 * child's own ring, never for the parent's.
 *
 * A process that exits without fnl_flush() (end of a request, a recycled
 * worker, _exit(), SIGKILL) loses no record it appended: funneld sees its
 * socket close, still produces everything in its ring and fills in the
 * reports; those that no process read are counted in the daemon's metric
 * funnel_reports_unread_total. Whether they were delivered is known only from
 * the daemon's counters (funnel_delivery_errors_total counts failures).
 *
 * Order: if one fnl_produce() returned before another began, on any clients in
 * any processes or threads, and both records go to the same partition, funneld
 * appends the first before the second (each record carries a CLOCK_MONOTONIC
 * stamp; docs/architecture.md, "Order across rings"). So a key's records keep
 * the order of requests that different workers served one after the other.
 * Calls that overlap in time are unordered. Across a funneld restart the order
 * across clients may break for records the dead daemon had not yet sealed.
 * When timestamp_ms is 0 the CreateTime is the wall clock at the call, derived
 * from the stamp (the wall clock's offset is re-read every 100 ms).
 */
#ifndef FUNNEL_H
#define FUNNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fnl_client fnl_client_t;
typedef struct fnl_topic fnl_topic_t;

struct fnl_header {
	const char *name;  /* NUL-terminated, at most 65535 bytes */
	const void *value; /* may be NULL when value_len is -1 */
	int32_t value_len; /* -1 = null */
};

struct fnl_report {
	const char *topic; /* valid during the callback */
	int32_t partition; /* -1 if none was chosen */
	int64_t offset;    /* -1 unless acknowledged */
	int16_t err;       /* Kafka error code, 0 = delivered */
	uint64_t opaque;   /* as given to fnl_produce() */
};

typedef void (*fnl_report_cb)(const struct fnl_report *r, void *ctx);

struct fnl_conf {
	const char *socket_path; /* NULL: $FUNNEL_SOCKET, else /run/funnel/funnel.sock */
	size_t ring_bytes;       /* record area, rounded up to a power of two >= 64 KiB;
	                          * default 4 MiB; a record may use at most half of it */
	int max_block_ms;        /* the longest any call blocks: fnl_produce() on a full ring,
	                          * fnl_open()/fnl_topic() while funneld is absent or
	                          * restarting; default 60000, 0 = never */
	fnl_report_cb on_report; /* may be NULL: reports are counted and dropped */
	void *ctx;               /* passed to on_report */
};

/* Fills the defaults. */
void fnl_conf_init(struct fnl_conf *c);

/* Connects to funneld and attaches a new ring. While no daemon accepts it
 * (socket absent or stale, daemon gone mid-handshake or shutting down) it
 * retries until max_block_ms passed, so a client started during a restart of
 * funneld waits for the successor. 0 or -errno: -ENOENT / -ECONNREFUSED (no
 * daemon by then), -EPROTO (protocol mismatch), -EINVAL (bad conf), or the
 * -errno the daemon refused with (-ESHUTDOWN if it was still stopping, or still
 * starting: funneld refuses clients until it reached the cluster and holds its
 * producer id). */
int fnl_open(const struct fnl_conf *c, fnl_client_t **out);

/* Looks a topic up (a round trip to the daemon the first time; cached after).
 * If funneld is gone, waits up to max_block_ms for its successor. The handle
 * lives until fnl_close(). 0 or -errno (-ENOENT unknown topic, -EINVAL bad
 * name, -EPIPE daemon still gone after max_block_ms). */
int fnl_topic(fnl_client_t *c, const char *name, fnl_topic_t **out);

/* Partition count the daemon reported for a topic when it was looked up (or
 * last refreshed), or -1 if unknown. */
int32_t fnl_topic_partitions(const fnl_topic_t *t);

/* Asks the daemon for the topic's partition count now (a round trip; the
 * daemon answers from its metadata, refreshed every metadata.max.age.ms, so a
 * topic that grew shows its new count, as the Java producer's partitionsFor()
 * does after a refresh) and keeps it for fnl_topic_partitions(). Returns the
 * count (0 for a topic the cluster no longer has), or -errno as fnl_topic(). */
int32_t fnl_topic_refresh(fnl_client_t *c, fnl_topic_t *t);

/* Appends one record. partition -1 lets funneld choose (murmur2(key) like the
 * Java client, else sticky). key NULL = null key; value NULL = null value;
 * timestamp_ms 0 = now. No syscall on the fast path. Returns 0, -EAGAIN (ring
 * full and max_block_ms is 0 or elapsed), -EMSGSIZE (record larger than half
 * the ring), -EINVAL (bad header), -EPIPE (daemon gone). */
int fnl_produce(fnl_client_t *c, fnl_topic_t *t, int32_t partition, const void *key, size_t key_len,
                const void *value, size_t value_len, const struct fnl_header *h, int nh,
                int64_t timestamp_ms, uint64_t opaque);

/* Serves delivery reports to on_report, waiting up to timeout_ms (-1 forever)
 * for the first one. Returns how many were served, or -EPIPE when the daemon
 * is gone and none were. */
int fnl_poll(fnl_client_t *c, int timeout_ms);

/* Serves reports until every produced record has one. 0, -ETIMEDOUT, -EPIPE.
 * In a child that has not produced since fork(): 0 at once. */
int fnl_flush(fnl_client_t *c, int timeout_ms);

/* Records produced and not yet reported. */
int64_t fnl_outq_len(fnl_client_t *c);

/* Sets max_block_ms (struct fnl_conf) for the calls that follow on this client.
 * For a caller that must not block inside fnl_produce() (a language binding
 * holding a global lock: it sets 0 and waits in its own loop) yet lets
 * fnl_topic() wait for the daemon's metadata. 0, or -EINVAL (negative). */
int fnl_set_max_block_ms(fnl_client_t *c, int max_block_ms);

/* Says BYE and frees everything; does not wait: call fnl_flush() first (what
 * was not flushed is still produced; its reports are lost). In a forked child
 * it frees the child's part only (see fork() above). */
void fnl_close(fnl_client_t *c);

/* Text for a -errno (or errno) returned by this API. */
const char *fnl_strerror(int err);

/* Short name for a Kafka error code ("NONE", "MESSAGE_TOO_LARGE", ...). */
const char *fnl_kafka_err_name(int16_t err);

/* The daemon's own explanation of the refusal of the last fnl_open() or fnl_topic()
 * on this thread (e.g. "topic 'x' does not exist (UNKNOWN_TOPIC_OR_PARTITION; waited
 * max.block.ms=2000)"), or "" if it gave none (each of those calls clears it first).
 * Valid until the next call on this thread. */
const char *fnl_last_error(void);


/* ------------------------------------------------------------------ transactions
 *
 * Exactly-once writes (Kafka transactions, KIP-98/KIP-447) for a consume-transform-produce
 * worker: the records a client produces between fnl_txn_begin() and fnl_txn_commit(), on any
 * topics and partitions, and the consumer offsets it sends with fnl_txn_send_offsets(),
 * become visible to read_committed consumers together, or not at all. funneld needs a
 * transactional.id (its settings); clients that never call fnl_txn_init() are not affected.
 *
 *   fnl_txn_init(c, 10000);
 *   for (;;) {
 *     fnl_txn_begin(c);
 *     fnl_produce(c, t, ...);  ...                       (records held by the client)
 *     fnl_txn_send_offsets(c, "group", gen, member, NULL, offs, n);
 *     if (fnl_txn_commit(c, 10000) < 0)
 *       switch (fnl_txn_error_class(c)) {
 *       case FNL_TXN_ERR_RETRIABLE: call fnl_txn_commit() again (same transaction);
 *       case FNL_TXN_ERR_ABORTABLE: fnl_txn_abort(c, 10000), then start over;
 *       case FNL_TXN_ERR_FATAL:     transactions on this client are over;
 *       }
 *   }
 *
 * How it works (docs/architecture.md, "Transactions"): while a transaction is open,
 * fnl_produce() appends its records to a buffer of the client's own (no syscall; at most the
 * ring's size of records, else -ENOBUFS; -EINPROGRESS while its commit is under way), not to
 * the ring. fnl_txn_commit() hands the whole
 * transaction to funneld, which adds it to its next window: one Kafka transaction of its
 * transactional producer holding the client transactions committed since the last one, ended
 * with EndTxn(commit); the call returns when that window committed. fnl_txn_abort() just
 * discards the buffer: an aborted transaction never reaches Kafka, and neither does the open
 * transaction of a client that exits or is killed. A window that fails with an abortable
 * error is aborted on Kafka and sent again whole (bounded attempts) before its clients are
 * answered ABORTABLE (abort and send the transaction again); a commit whose own content is
 * refused (its group metadata or offsets by the group coordinator, e.g. ILLEGAL_GENERATION;
 * a record by the partition leader, e.g. MESSAGE_TOO_LARGE; an unknown topic) is answered
 * ABORTABLE with its own error alone, and the other commits of its window still commit.
 *
 * Delivery reports: every transactional record gets one on_report, in produce order, with
 * the opaque given to fnl_produce(), called from inside the call that learnt the outcome
 * (not from fnl_poll()): fnl_txn_commit() that succeeds (err 0, partition and offset; offset
 * -1 if the broker did not tell it, and for a commit funneld settled after a restart, whose
 * partition is then the one given to fnl_produce()), fnl_txn_abort() (err 120
 * TRANSACTION_ABORTABLE, or the Kafka error the commit was refused with, e.g. 22
 * ILLEGAL_GENERATION; offset -1) and a FATAL fnl_txn_commit() (its Kafka error, else 120).
 * on_report may not call fnl_txn_begin() (-EINVAL, FNL_TXN_ERR_USAGE) while these reports run.
 * A transaction still open at fnl_close() gets none. Transactional records do not count in
 * fnl_outq_len(). Order: a transaction's records
 * keep their order per partition; relative to the same client's non-transactional records
 * there is no order. A commit whose funneld dies before answering is sent again to its
 * successor, which knows whether it was committed (it is then not stored twice); until that
 * answer came, fnl_txn_commit() says RETRIABLE and fnl_txn_abort() -EINPROGRESS.
 *
 * After a FATAL error the transaction cannot end: fnl_produce() inside it returns -EPERM
 * (fnl_last_error() says why; its records are refused, never sent outside the transaction)
 * until the client is closed. Open a new client to go on.
 *
 * Every function returns 0 or -errno; after a failure fnl_txn_error_class() and
 * fnl_txn_error() say what to do and why. */

enum fnl_txn_error_class {
	FNL_TXN_ERR_NONE = 0,      /* the last call succeeded */
	FNL_TXN_ERR_RETRIABLE = 1, /* call the same function again (e.g. its timeout passed) */
	FNL_TXN_ERR_ABORTABLE = 2, /* fnl_txn_abort(), then begin again */
	FNL_TXN_ERR_FATAL = 3,     /* this client's transactional use is over */
	FNL_TXN_ERR_USAGE = 4,     /* the call is not valid now (e.g. begin twice) */
};

struct fnl_txn_offset {
	const char *topic;
	int32_t partition;
	int64_t offset;       /* the next offset to consume */
	const char *metadata; /* NULL = none */
};

/* initTransactions: connects to funneld's transaction socket and waits (up to timeout_ms)
 * until funneld holds its transactional producer id. 0, -ETIMEDOUT (RETRIABLE), -ENOTSUP
 * (funneld has no transactional.id: FATAL), -EPERM (FATAL, e.g. the broker refused
 * transaction.timeout.ms). */
int fnl_txn_init(fnl_client_t *c, int timeout_ms);

/* Opens a transaction: the client's next records belong to it. 0, -EINVAL (USAGE: not
 * initialized, or one is open), -EPERM (FATAL). */
int fnl_txn_begin(fnl_client_t *c);

/* Adds consumer offsets to the open transaction (sendOffsetsToTransaction with the group's
 * metadata, KIP-447: generation_id -1, member_id "" and group_instance_id NULL when not
 * known). They reach the group only with the commit. May be called several times. 0,
 * -EINVAL (USAGE), -ENOMEM. */
int fnl_txn_send_offsets(fnl_client_t *c, const char *group_id, int32_t generation_id,
                         const char *member_id, const char *group_instance_id,
                         const struct fnl_txn_offset *offsets, int n);

/* Commits the open transaction, waiting up to timeout_ms (-1 forever). 0 when it is
 * committed; -ETIMEDOUT (RETRIABLE: call again, the same commit goes on), -ECANCELED
 * (ABORTABLE), -EPERM (FATAL, e.g. fenced by another funneld with the same
 * transactional.id), -EINVAL (USAGE). */
int fnl_txn_commit(fnl_client_t *c, int timeout_ms);

/* Aborts the open transaction: its records and offsets are discarded (they never reached
 * Kafka). 0; -EINPROGRESS (RETRIABLE: a commit is under way or its outcome is not known yet,
 * call fnl_txn_commit());
 * -EINVAL (USAGE: none open). timeout_ms is accepted for symmetry and not needed. */
int fnl_txn_abort(fnl_client_t *c, int timeout_ms);

/* The class of the last fnl_txn_* call's failure (FNL_TXN_ERR_NONE after a success). */
int fnl_txn_error_class(fnl_client_t *c);

/* Why the last fnl_txn_* call failed, naming the setting or cause; "" after a success.
 * Valid until the next call on this client. */
const char *fnl_txn_error(fnl_client_t *c);

#ifdef __cplusplus
}
#endif

#endif
