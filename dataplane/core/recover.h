/* recover.h - the core's side of the restart journal (dataplane/batch/journal.h):
 * keeping it while running, and picking up where a killed funneld stopped.
 *
 * Running: a batch's descriptor is written when it seals, its sequence when
 * it is (re)sent, cleared when it is reported; each partition's sequence
 * identity and next sequence are stored before a send; the producer id and
 * epoch whenever they change. A few stores per batch, none per record.
 *
 * Restarting (a journal with SEALED batches):
 *   1. fnl_core_new keeps the slots of sealed batches out of the free pool and
 *      indexes their records by (ring, completion slot); ctrl reuses the
 *      journal's producer id and epoch instead of asking for a new one;
 *   2. when ctrl re-creates a topic, each partition gets back its sequence
 *      state and its kept batches, in seal order, as already sent (same pid,
 *      epoch, base sequence and bytes);
 *   3. when a client re-attaches its ring (memfd inode + the id the daemon wrote
 *      in its header), every kept record of that ring is bound to it at once:
 *      its report goes to the completion slot the previous daemon reserved
 *      for it (recorded in the batch), unless that slot is already DONE or
 *      out of the client's window. Binding needs no walk of the ring, so a
 *      kept batch may be acked before ingest reaches its records: the report
 *      waits, filled, in its slot.
 *   4. ingest then walks the ring from rec_tail in ring order, reserving the
 *      same slots the previous daemon did: a record whose slot is DONE was
 *      finished (before the kill, or since, by an ack of its kept batch) and
 *      is skipped; a bound record is skipped (its batch reports it); any other
 *      is taken as new. The walk goes on after recovery ends and uses only the
 *      index (recs), never the kept batches, whose slots may be reused by then.
 *      A client slot given to another ring meanwhile would overwrite the
 *      journal ring entry that records of a ring not back yet still name;
 *      that entry is moved first to a free one (relocate()), so a daemon
 *      killed again during recovery leaves its successor every ring entry.
 *   5. ingest takes no record, from any ring, until every ring the previous
 *      daemon had attached (a used journal ring entry) is back or
 *      funnel.restart.wait.ms passed: a ring not back may hold records its
 *      client produced before the records of rings already back (per-key
 *      order across clients, docs/architecture.md "Order across rings");
 *   6. nothing is sent until every ring named by a kept batch is back or
 *      funnel.restart.wait.ms passed (then reports for the missing rings are
 *      dropped: their records are still sent). Kept batches of topics that
 *      did not come back fail with UNKNOWN_TOPIC_OR_PARTITION.
 * A broker that stored a kept batch answers its resend as a duplicate. A
 * daemon killed again while a walk is under way leaves the filled slots in
 * the ring: its successor skips those records as finished.
 */
#ifndef FNL_CORE_RECOVER_H
#define FNL_CORE_RECOVER_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/batch/journal.h"

struct fnl_core;
struct client;
struct part;
struct fnl_batch;
struct fnl_rec_view;

struct fnl_jrec {       /* one record of a kept batch */
	uint64_t cmp_slot; /* its report slot in its ring */
	uint32_t key;      /* index into recovery.keys */
	uint32_t batch;    /* pool slot */
	uint32_t idx : 31; /* record index in the batch */
	uint32_t bound : 1; /* bound to its re-attached ring: the walk skips it */
	uint32_t jring;     /* the journal ring entry its meta names (meta.client) */
};

struct fnl_jkey { /* a ring named by kept batches */
	uint64_t ino, nonce;
	uint32_t lo, hi; /* its records: recs[lo, hi), by cmp_slot */
	bool attached;
};

struct fnl_recovery {
	struct fnl_journal j;
	bool enabled;          /* a journal is open */
	bool active;           /* waiting for rings / topics of kept batches */
	int64_t until_ms;      /* give up waiting for rings then (0: set on first poll) */
	int64_t wait_ms;       /* funnel.restart.wait.ms */
	uint32_t *kept;        /* pool slots of kept batches, by seal_no */
	uint32_t nkept, nenqueued;
	uint8_t *enqueued;     /* per pool slot: handed to its partition */
	struct fnl_jrec *recs; /* by (key, cmp_slot) */
	uint32_t nrecs;
	struct fnl_jkey *keys;
	uint32_t nkeys, keys_back;
	uint32_t *needed;      /* per journal ring entry: records of rings not back name it */
	const char *note;      /* why a journal file was not reused, or NULL */
	/* per-key order across a restart: the rings the previous daemon had
	 * attached (journal ring entries at start-up); ingest takes nothing until
	 * each is back or funnel.restart.wait.ms passed (fnl_recover_order_ready) */
	struct fnl_jkey *owait; /* lo: the journal ring entry it was found in */
	uint32_t nowait, owait_back;
	bool order_wait;       /* some of them are not back and the wait runs */
	int64_t order_until_ms; /* 0: set at the first attach */
	uint64_t restored_batches, restored_records, bound_records, done_skipped, dropped_reports,
	    kept_failed, relocated, relocate_failed;
};

/* Opens the journal at path for this geometry (before fnl_accum_init) and, if
 * it holds sealed batches, fills *keep (one byte per pool slot, allocated
 * here) and prepares recovery. Returns 0 (also when running without a
 * journal: path empty or not usable, said in *why) or -ENOMEM/-EBUSY. */
int fnl_recover_open(struct fnl_core *c, const char *path, uint8_t **keep, const char **why);
/* After fnl_accum_init: rebuild the kept batches' bookkeeping from the journal. */
void fnl_recover_adopt(struct fnl_core *c);
void fnl_recover_close(struct fnl_core *c);

/* Topic t was created with its partitions, or grew: restore the sequences of its
 * partitions from `from` on (0 when created; the old count when it grew; a new
 * partition the journal never saw starts at sequence 0) and enqueue its kept batches. */
void fnl_recover_topic(struct fnl_core *c, uint32_t topic_id, int32_t from);
/* A client attached (ino: its memfd's inode). */
void fnl_recover_client(struct fnl_core *c, struct client *cl, uint32_t slot, uint64_t ino);
/* For a resumed client, the record at the walk's position: 1 if it was dealt
 * with (finished, or bound to a kept batch), 0 to take it as new, -ENOBUFS to
 * wait for report room, -EPROTO to quarantine. */
int fnl_recover_record(struct fnl_core *c, struct client *cl, const struct fnl_rec_view *rv);
/* Called by each ingest pass while c->rec.order_wait: true when records may be
 * taken (every ring of the previous daemon is back, or the wait expired: then one
 * line names the missing rings, and their journal entries that no kept record
 * names are cleared, so a successor does not wait for them again). */
bool fnl_recover_order_ready(struct fnl_core *c);
/* Client slot was released (all its records reported): its journal ring entry
 * is cleared, so that a successor does not wait for a ring that is gone. */
void fnl_recover_client_released(struct fnl_core *c, uint32_t slot);
/* 1 and the journal's producer id and epoch if they are to be reused, else 0. */
int fnl_recover_pid(const struct fnl_core *c, int64_t *pid, int16_t *epoch);
/* Called before each send pass: true when sending may go on. */
bool fnl_recover_poll(struct fnl_core *c);

/* Journal hooks (no-ops without a journal). */
void fnl_journal_on_seal(struct fnl_core *c, struct fnl_batch *b);
void fnl_journal_on_send(struct fnl_core *c, struct part *p, struct fnl_batch *b);
void fnl_journal_on_release(struct fnl_core *c, struct fnl_batch *b);
void fnl_journal_on_pid(struct fnl_core *c);

#endif
