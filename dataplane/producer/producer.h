/* producer.h - the idempotent producer state machine (pure: no sockets, no
 * threads, no clocks, no allocation). One struct fnl_producer per data-plane
 * core (its own producer id); one struct fnl_ppart embedded in each of the
 * core's partition objects; one struct fnl_pbatch embedded in each batch.
 *
 * Per partition, every batch not yet handed back by fnl_ppart_pop_done() sits
 * on one singly linked queue, in sequence order:
 *
 *   head                                send_next                        tail
 *    │                                      │                              │
 *    ▼                                      ▼                              ▼
 *   [DONE][INFLIGHT][DONE][INFLIGHT] ... [QUEUED|RETRY][QUEUED] ... [QUEUED]
 *    └──── sent in this pass (in flight or answered) ─┘└── not sent yet ───┘
 *
 *   state:  QUEUED ──on_sent──▶ INFLIGHT ──ok/dup──▶ DONE(err 0) ──pop_done──▶ caller
 *              ▲                   │ retriable / lost
 *              │                   ▼
 *              └── (resend) ──── RETRY ── expired / retries out ──▶ DONE(err)
 *
 * Sequences: a batch gets (pid, epoch, base_seq) when next_send first hands it
 * out; the partition's next_seq advances by record_count (mod 2^31). A batch
 * keeps its sequence across retries, connections and leaders. The sequence
 * identity of a partition (seq_pid, seq_epoch) changes only when nothing of it
 * is in flight: either lazily for fresh batches after an epoch bump elsewhere,
 * or by a rewrite of the partition's unacknowledged batches from 0 when the
 * broker rejected the first unresolved batch with OUT_OF_ORDER_SEQUENCE_NUMBER,
 * UNKNOWN_PRODUCER_ID or INVALID_PRODUCER_EPOCH (KIP-360). A rewritten batch
 * must get its wire header restamped: before every send the caller compares
 * (b->pid, b->epoch, b->base_seq) with what its header holds.
 *
 * Dedup window: the broker recognises a resend only among its last 5 stored
 * batches of the partition, so a batch is sent only if it lies within
 * max_inflight (<= 5) queue positions of the first unresolved batch.
 * Orphans: a request on a lost connection may still reach the broker later.
 * A gap is judged permanent only from an attempt sent at or after
 * request.timeout.ms past the partition's last loss (quiet_at_ms), and
 * identity switches wait for it too, so such an orphan cannot fill a gap
 * after it was judged permanent (earlier rejections just retry in order). (Kafka gives no hard
 * bound here; this is the same residual risk the Java client has, narrowed.)
 *
 * Invariants:
 * - batches are sent in queue order; at most cfg.max_inflight of a partition
 *   are INFLIGHT; nothing new of a partition is sent while it is `draining`
 *   (a retry, a loss or a leader change waits for all of its in-flight
 *   answers, then the partition resends from its first unresolved batch);
 * - every enqueued batch comes out of fnl_ppart_pop_done() exactly once, in
 *   queue order, with its final error (0 = acknowledged);
 * - an INFLIGHT batch is never popped or expired; on_response/on_lost for a
 *   batch that is not INFLIGHT is ignored (FNL_PB_IGNORED);
 * - request_gen is unique per send across the whole producer (never 0): the
 *   caller drops a response whose recorded gen differs from b->request_gen.
 *
 * Driving it (one core, one thread):
 *   init -> set_pid (after InitProducerId) -> per sealed batch: enqueue;
 *   per connection with room: for each partition led by it: b = next_send
 *   (then read pp->leader: the batch goes there), restamp the header if
 *   needed, on_sent; per answer: on_response; per timeout/disconnect: on_lost
 *   for every batch of the lost requests; when an outcome says bump_epoch:
 *   fnl_producer_bump_epoch() (or an InitProducerId with the current pid and
 *   epoch, then set_pid); refresh_metadata: ask ctrl, then set_leader; drain
 *   reports with pop_done.
 */
#ifndef FNL_PRODUCER_PRODUCER_H
#define FNL_PRODUCER_PRODUCER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/producer/errtab.h"

#define FNL_PRODUCER_MAX_INFLIGHT_IDEMPOTENT 5
#define FNL_NO_LEADER                        (-1)

enum fnl_pb_state {
	FNL_PB_QUEUED = 0, /* never sent in the current pass */
	FNL_PB_INFLIGHT,   /* in a request awaiting its answer */
	FNL_PB_RETRY,      /* to be resent (same sequence unless rewritten) at retry_at_ms */
	FNL_PB_DONE,       /* final: err 0 acknowledged, else failed; waiting for pop_done */
};

enum {
	FNL_PBF_REWRITTEN = 1, /* sequence/epoch changed after a send: restamp the header */
};

struct fnl_pbatch {
	struct fnl_pbatch *next; /* partition queue link (owned by this module) */
	int64_t pid;             /* producer id it was sequenced under; -1 before/none */
	int64_t created_ms;      /* set by the caller before enqueue (first record) */
	int64_t sent_ms;         /* last send */
	int64_t retry_at_ms;     /* earliest resend when RETRY */
	int64_t base_offset;     /* when acknowledged; -1 unknown */
	int32_t record_count;    /* set by the caller before enqueue, >= 1 */
	int32_t base_seq;        /* assigned at first send; -1 before / non-idempotent */
	uint32_t request_gen;    /* which send attempt an answer belongs to */
	int16_t epoch;           /* epoch it was sequenced under; -1 before */
	int16_t err;             /* last error; the final one when DONE */
	uint16_t attempts;       /* sends so far */
	uint8_t state;           /* enum fnl_pb_state */
	uint8_t flags;           /* FNL_PBF_* */
};

struct fnl_ppart {
	struct fnl_pbatch *head, *tail; /* all batches not yet popped, in sequence order */
	struct fnl_pbatch *send_next;   /* first batch not sent in the current pass */
	int64_t seq_pid;                /* identity next_seq counts under */
	int32_t next_seq;
	int32_t leader;         /* broker id the partition's batches go to */
	int32_t pending_leader; /* FNL_NO_LEADER or the leader to switch to after draining */
	uint32_t queued;        /* batches on the queue */
	int64_t quiet_at_ms; /* last loss + request.timeout.ms: no rewrite/identity switch before */
	int16_t seq_epoch;
	int16_t inflight; /* batches of this partition in flight */
	bool draining;    /* waiting for in-flight answers before resending/moving */
	bool rewrite;     /* resequence the unresolved batches once drained and bumped */
};

struct fnl_producer_cfg {
	bool idempotent;  /* enable.idempotence */
	int acks;         /* -1 (all), 0, 1 */
	int max_inflight; /* max.in.flight.requests.per.connection, <= 5 if idempotent */
	int retries;      /* resends allowed per batch (for retriable errors and losses) */
	int64_t retry_backoff_ms, delivery_timeout_ms, request_timeout_ms;
};

enum fnl_producer_state {
	FNL_PRODUCER_NEED_PID = 0, /* waiting for InitProducerId -> set_pid */
	FNL_PRODUCER_READY,
	FNL_PRODUCER_BUMPING, /* a partition asked for an epoch bump: bump_epoch or set_pid */
	FNL_PRODUCER_FATAL,   /* fatal_err; everything left fails */
};

struct fnl_producer_stats {
	uint64_t sent, acked, failed, retries, lost, duplicates, expired, epoch_bumps, rewrites,
	    ignored;
};

struct fnl_producer {
	int64_t pid;
	int16_t epoch;
	int16_t fatal_err;
	int state; /* enum fnl_producer_state */
	uint32_t gen_last;
	struct fnl_producer_cfg cfg;
	struct fnl_producer_stats stats;
};

/* Validates like the Java client; on error returns -EINVAL and writes a message naming the
 * settings into msg (e.g. "enable.idempotence=true requires acks=all (got acks=1)"). */
int fnl_producer_cfg_check(const struct fnl_producer_cfg *c, char *msg, size_t msg_len);

/* Non-idempotent producers start READY (no pid); idempotent ones start NEED_PID. */
void fnl_producer_init(struct fnl_producer *p, const struct fnl_producer_cfg *cfg);
/* After InitProducerId (initial, bump, or fresh pid). A new (pid, epoch) is picked up lazily by
 * each partition: fresh batches restart at sequence 0 once the partition has nothing in flight;
 * partitions waiting for a rewrite resequence their unresolved batches from 0. */
void fnl_producer_set_pid(struct fnl_producer *p, int64_t pid, int16_t epoch, int64_t now_ms);
/* KIP-360 client-side bump for the idempotent (non-transactional) producer: epoch + 1.
 * Returns 0 if bumped (READY), 1 if the epoch is exhausted and a fresh pid is needed
 * (state NEED_PID: run InitProducerId without pid, then set_pid). */
int fnl_producer_bump_epoch(struct fnl_producer *p, int64_t now_ms);
/* InitProducerId failed fatally, or the core shuts down: everything not in flight fails. */
void fnl_producer_set_fatal(struct fnl_producer *p, int16_t err);
/* Whether sequenced data may flow (READY). */
static inline bool fnl_producer_ready(const struct fnl_producer *p)
{
	return p->state == FNL_PRODUCER_READY;
}

void fnl_ppart_init(struct fnl_ppart *pp, int32_t leader);
/* Append a sealed batch at the tail (state QUEUED). The caller sets b->record_count and
 * b->created_ms first; the module initialises every other field. now_ms is only an upper bound
 * for created_ms. */
void fnl_ppart_enqueue(struct fnl_ppart *pp, struct fnl_pbatch *b, int64_t now_ms);
/* Restart (a previous process's journal): the identity the partition's next_seq counts under
 * and that next_seq. Call on a fresh partition, before any enqueue. */
void fnl_ppart_restore_seq(struct fnl_ppart *pp, int64_t pid, int16_t epoch, int32_t next_seq);
/* Restart: append a batch that a previous process may have sent as (pid, epoch, base_seq). It
 * is resent with exactly these (a broker that stored it answers with a duplicate), and handled
 * as if its request had been lost at now_ms (orphans may still land: see quiet_at_ms). */
void fnl_ppart_enqueue_sent(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b,
                            int64_t pid, int16_t epoch, int32_t base_seq, int64_t now_ms);
/* The next batch of this partition that may go out now (in order; respecting draining, retry
 * backoff, pid readiness and the per-partition in-flight cap); assigns pid/epoch/base_seq on
 * first send. Batches found expired on the way become DONE (REQUEST_TIMED_OUT or their last
 * error). NULL if none. The batch goes to pp->leader (read it after this call). Calling it
 * again without on_sent returns the same batch. */
struct fnl_pbatch *fnl_ppart_next_send(struct fnl_producer *p, struct fnl_ppart *pp,
                                       int64_t now_ms);
/* b (just returned by next_send) was put into a request; assigns b->request_gen. With acks=0
 * the batch is DONE (acknowledged, offset -1) at once: keep no reference to it for an answer. */
void fnl_ppart_on_sent(struct fnl_producer *p, struct fnl_ppart *pp, struct fnl_pbatch *b,
                       int64_t now_ms);

enum fnl_pb_action {
	FNL_PB_ACKED,      /* DONE, err 0 */
	FNL_PB_WILL_RETRY, /* RETRY; the partition drains then resends in order */
	FNL_PB_FAILED,     /* DONE with err */
	FNL_PB_FATAL,      /* DONE with err, producer FATAL */
	FNL_PB_IGNORED,    /* stale: b was not in flight */
};
struct fnl_pb_outcome {
	enum fnl_pb_action action;
	int16_t err;
	int64_t base_offset;
	bool refresh_metadata; /* ask for metadata, then set_leader */
	bool bump_epoch;       /* call fnl_producer_bump_epoch() (or InitProducerId, set_pid) */
};
/* Outcome of a Produce response for batch b (the partition-level error code). */
struct fnl_pb_outcome fnl_ppart_on_response(struct fnl_producer *p, struct fnl_ppart *pp,
                                            struct fnl_pbatch *b, int16_t err, int64_t base_offset,
                                            int64_t now_ms);
/* The request carrying b timed out (err REQUEST_TIMED_OUT) or its connection was lost
 * (NETWORK_EXCEPTION): b will be resent with the same sequence after the partition drained;
 * call it for every batch of every lost request. */
struct fnl_pb_outcome fnl_ppart_on_lost(struct fnl_producer *p, struct fnl_ppart *pp,
                                        struct fnl_pbatch *b, int16_t err, int64_t now_ms);
/* Leader change: with batches in flight the partition drains first (their answers or losses
 * come from the old leader), then continues at new_leader with the same sequences. */
void fnl_ppart_set_leader(struct fnl_ppart *pp, int32_t new_leader);
/* Pops the head if it is DONE, or not in flight and expired (delivery.timeout.ms: err
 * REQUEST_TIMED_OUT or its last error) or the producer is FATAL (err fatal_err). Fills *err
 * (0 = acknowledged) and *base_offset (-1 if unknown). NULL when the head is not final yet. */
struct fnl_pbatch *fnl_ppart_pop_done(struct fnl_producer *p, struct fnl_ppart *pp, int64_t now_ms,
                                      int16_t *err, int64_t *base_offset);
/* Earliest time something of pp changes by itself (retry backoff end, head expiry, in-flight
 * request timeout); INT64_MAX if none. For the caller's timer. */
int64_t fnl_ppart_next_wakeup_ms(const struct fnl_producer *p, const struct fnl_ppart *pp);
/* Whether b (INFLIGHT) has exceeded request.timeout.ms. */
static inline bool fnl_pbatch_request_expired(const struct fnl_producer *p,
                                              const struct fnl_pbatch *b, int64_t now_ms)
{
	return b->state == FNL_PB_INFLIGHT && now_ms - b->sent_ms >= p->cfg.request_timeout_ms;
}

/* Kafka sequence arithmetic: wraps from INT32_MAX to 0. */
static inline int32_t fnl_seq_add(int32_t seq, int32_t n)
{
	return (int32_t)(((uint32_t)seq + (uint32_t)n) & 0x7fffffffu);
}

#endif
