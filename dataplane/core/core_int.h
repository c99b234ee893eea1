/* core_int.h - the data-plane core's private tables, shared by its files:
 *   core.c    loop, commands, timers, shutdown
 *   ingest.c  client rings -> partitioner -> accumulator; delivery reports
 *   sender.c  brokers, Produce requests, responses -> producer state machine
 *
 * Tables (all sized at start-up, indexes are slots, never pointers kept by ctrl):
 *   clients[clients_max]   ring view (with its in-order report slots), read cursor
 *   topics[topics_max]     name, partition count, its range in pidx[]
 *   parts[partitions_max]  open batch, producer partition state, leader broker;
 *                          appended as topics appear or grow, never moved or freed
 *   pidx[partitions_max]   topic t's partition p is parts[pidx[t.idx_base + p]];
 *                          compact: the topics' ranges tile pidx[0 .. parts_used),
 *                          rebuilt when a topic grows (topic_grow() in core.c)
 *   brokers[brokers_max]   address, connection, negotiated versions, requests in flight
 *   bparts[partitions_max] per broker, the parts it leads (rebuilt on metadata)
 */
#ifndef FNL_CORE_INT_H
#define FNL_CORE_INT_H

#include <sys/uio.h>

#include "dataplane/batch/accum.h"
#include "dataplane/core/core.h"
#include "dataplane/core/recover.h"
#include "dataplane/kafka/proto.h"
#include "dataplane/net/engine.h"
#include "dataplane/partition/partition.h"
#include "dataplane/producer/producer.h"
#include "dataplane/ring/ring.h"
#include "dataplane/sasl/creds.h"

#define FNL_BURST_RECORDS 128  /* records taken per pass: this many per active client */
#define FNL_NAP_BELOW     64   /* a pass that took fewer records is light load */
#define FNL_STAMP_AHEAD_NS 1000000000ull /* a record stamp this far past a pass is bogus */
#define FNL_REQ_PARTS_MAX 128  /* partitions in one Produce request */
#define FNL_REQ_SCRATCH   16384
#define FNL_REQS_PER_BROKER 8  /* >= max in flight (5) + ApiVersions */
#define FNL_HEADERS_MAX   64   /* record headers taken from a ring record */

enum client_state { CL_FREE = 0, CL_ACTIVE, CL_GONE, CL_QUARANTINED };

struct client {
	struct fnl_ring_dview v;
	uint64_t rd;        /* next record to read (private cursor) */
	uint64_t stop_at;   /* CL_GONE: drain up to this rec_head snapshot */
	uint32_t gen;
	uint8_t state;
	bool wake;          /* reports were pushed: wake a waiting client */
	void *map;
	uint64_t map_bytes;
	uint64_t appended, delivered, failed;
	uint64_t appended_bytes, ring_full_waits; /* see struct fnl_client_stats */
	/* re-attached after a restart: records before resume_end may have been
	 * finished or journaled by the previous daemon (recover.c) */
	bool resumed;
	uint64_t resume_end;
	uint32_t jk, jr; /* its key in the journal's recovery index, and cursor */
	struct fnl_rec_view next; /* during a pass: its next record, validated */
};

struct fnl_merge_ent {
	uint64_t stamp; /* the ring's next record's stamp_ns (a private copy) */
	uint32_t slot;
};

struct topic {
	char name[256];
	int name_len;
	int32_t nparts;   /* grows on metadata (never shrinks): murmur2 and sticky use it */
	int32_t refused;  /* a larger count funnel.partitions.max had no room for (logged) */
	uint32_t idx_base; /* its range in pidx[] */
	bool used;
	struct fnl_sticky sticky;
	struct fnl_rr rr;
};

struct part {
	struct fnl_ppart pp;
	struct fnl_batch *open;
	uint32_t topic;
	int32_t partition;
	int32_t leader;   /* node id, -1 unknown */
	int32_t broker;   /* broker slot, -1 none */
	uint64_t batches_acked, records_acked, retries;
	uint64_t queued_bytes; /* wire_len of the batches in pp's queue (sealed, not popped) */
	uint32_t retries_by_cell[FNL_RETRY_CELLS];
	int16_t last_err;
	uint32_t jseq; /* its sequence entry in the journal, UINT32_MAX none */
	/* sealed batches out for compression on another core, in seal order
	 * (linked by fnl_batch.next): only the head may reach pp's queue, once
	 * compressed (compress_pool.c) */
	struct fnl_batch *zhead, *ztail;
};

/* The first five are exported as numbers (struct fnl_broker_stats); BR_SASL
 * is shown as BR_VERSIONS ("negotiating"). */
enum broker_state { BR_UNUSED = 0, BR_DOWN, BR_CONNECTING, BR_VERSIONS, BR_READY, BR_SASL };

enum req_kind { REQ_PRODUCE = 1, REQ_API_VERSIONS, REQ_SASL_HANDSHAKE, REQ_SASL_AUTH };

struct req {
	int32_t corr;
	uint8_t kind;
	bool sent; /* FNL_EV_SENT seen: the kernel is done with the buffers */
	bool sent_ok; /* ... and it succeeded: on_sent cleared in_send, pop_done may have freed */
	bool done; /* answered or lost: the producer has the outcome */
	int16_t api_ver;
	int nb;
	int64_t sent_ms;
	struct fnl_batch *b[FNL_REQ_PARTS_MAX];
	bool answered[FNL_REQ_PARTS_MAX];
	struct iovec iov[2 * FNL_REQ_PARTS_MAX + 4];
	uint8_t scratch[FNL_REQ_SCRATCH];
};

struct broker {
	int32_t node_id;
	uint8_t state;
	int conn;
	struct sockaddr_in6 addr;
	char host[256];               /* advertised host: TLS SNI and hostname check */
	int64_t connect_ms;           /* when the connection was opened */
	int16_t sasl_auth_ver;        /* SaslAuthenticate version, -1 none */
	struct fnl_sasl *sasl;        /* its login (allocated at start-up with SASL) */
	uint64_t sasl_gen;            /* credentials generation of the login */
	int64_t reauth_at_ms;         /* KIP-368: log in again from then on (0: never) */
	bool reauth_due;              /* no new Produce: waiting for in-flight to drain */
	bool quiet_close;             /* the close's cause was logged already */
	bool timed_out;               /* closed for request.timeout.ms: REQUEST_TIMED_OUT */
	char last_why[160];           /* last security failure logged (said once until it changes) */
	int16_t produce_ver, api_ver_try;
	int32_t next_corr;
	int64_t reconnect_at_ms, backoff_ms;
	uint32_t bpart_base, bpart_n; /* parts it leads: bparts[base .. base+n) */
	uint32_t queued;              /* batches sealed for its parts, not yet acked */
	/* requests in flight, answered in order: FIFO of slots in reqs[] */
	uint32_t rq_head, rq_tail;
	struct req *reqs;             /* FNL_REQS_PER_BROKER */
	struct req *fifo[FNL_REQS_PER_BROKER];
	uint32_t free_mask;           /* bit i: reqs[i] free */
	uint64_t requests, responses, rtt_us_sum;
};

struct fnl_core {
	struct fnl_core_cfg cfg;
	struct fnl_cmdq *cmd, *evt;
	int doorbell_efd, evt_efd;
	struct fnl_engine *eng;
	struct fnl_accum acc;
	struct fnl_producer prod;
	bool fatal_logged; /* the producer's fatal Produce error was logged (sender.c) */
	struct client *clients;
	uint32_t *active;   /* slots of attached clients (any state but free), dense */
	uint32_t nactive;
	struct topic *topics;
	struct part *parts;
	uint32_t *pidx; /* [partitions_max]: see the table at the top */
	uint32_t parts_used;
	struct broker *brokers;
	uint32_t *bparts;
	int64_t now_ms;
	int64_t next_expiry_ms, last_refresh_ms, last_bump_ms;
	/* a drain pass's merge of the rings by record stamp (ingest.c): a binary
	 * min-heap of the rings whose next record is older than the pass */
	struct fnl_merge_ent *heap; /* [clients_max] */
	uint32_t heap_n;
	bool deferred; /* the last pass left records for the next one */
	bool stopping;
	int64_t stop_deadline_ms;
	bool have_metadata;
	struct fnl_core_stats st;
	struct fnl_recovery rec;
	uint32_t records_cap; /* records section bytes per batch at most (fnl_accum_raw_cap) */
	uint32_t big_cap;     /* ... of a big slot, for one larger record (0: none) */
	uint32_t meta_cap;    /* records per batch at most */
	struct fnl_zpool *zp; /* compression workers on funnel.cores[1..]; NULL: one core */
	char txn_id[256]; /* tests only: see funnel.test.transactional.id */
	uint8_t sasl_msg[FNL_SASL_MSG_MAX]; /* a SASL client message on its way into a request */
};

/* Topic t's partition p (0 <= p < t->nparts). */
static inline struct part *fnl_topic_part(struct fnl_core *c, const struct topic *t, int32_t p)
{
	return &c->parts[c->pidx[t->idx_base + (uint32_t)p]];
}

/* core.c */
int fnl_core_run_commands(struct fnl_core *c);
void fnl_core_evt(struct fnl_core *c, uint32_t type, int32_t a, int64_t i64, const char *name);
void fnl_core_evt_full(struct fnl_core *c, const struct fnl_cmd *e);
/* ingest.c */
int fnl_ingest_pass(struct fnl_core *c);
void fnl_ingest_seal(struct fnl_core *c, struct part *p);
void fnl_ingest_sealed(struct fnl_core *c, struct part *p, struct fnl_batch *b, int rc);
void fnl_ingest_report_batch(struct fnl_core *c, struct fnl_batch *b, int16_t err, int64_t base_offset);
void fnl_ingest_flush_wakes(struct fnl_core *c);
void fnl_ingest_client_add(struct fnl_core *c, int slot, void *map, uint64_t bytes, uint64_t ino);
void fnl_ingest_client_gone(struct fnl_core *c, int slot);
void fnl_ingest_reap_clients(struct fnl_core *c);
bool fnl_ingest_has_input(struct fnl_core *c);
void fnl_ingest_set_sleeping(struct fnl_core *c, uint32_t v);
/* sender.c */
void fnl_sender_on_event(struct fnl_core *c, const struct fnl_event *ev);
int fnl_sender_pass(struct fnl_core *c);
void fnl_sender_timers(struct fnl_core *c);
void fnl_sender_expire(struct fnl_core *c);
int fnl_sender_broker_set(struct fnl_core *c, int32_t node_id, const struct sockaddr_in6 *addr,
			  const char *host);
void fnl_sender_rebuild(struct fnl_core *c);
void fnl_sender_pop_done(struct fnl_core *c, struct part *p);
bool fnl_sender_idle(const struct fnl_core *c);
/* compress_pool.c */
struct fnl_zpool;
int fnl_zpool_new(struct fnl_core *c, struct fnl_zpool **out);
void fnl_zpool_free(struct fnl_zpool *zp);
void fnl_zpool_submit(struct fnl_core *c, struct part *p, struct fnl_batch *b);
int fnl_zpool_collect(struct fnl_core *c);
bool fnl_zpool_sleep_begin(struct fnl_core *c);
void fnl_zpool_sleep_end(struct fnl_core *c);

#endif
