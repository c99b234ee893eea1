/* core.h - one data-plane core: a pinned thread that drains client rings,
 * partitions and batches records, and runs an idempotent producer over its
 * own io_uring engine and its own broker connections.
 *
 *   cmd queue (ctrl -> core) ─┐                      ┌─▶ evt queue (core -> ctrl)
 *   client rings ─▶ ingest ─▶ accumulator ─▶ producer ─▶ sender ─▶ engine ─▶ brokers
 *                     ▲                                                │
 *                     └──── delivery reports ◀── responses ◀───────────┘
 *
 * Invariants:
 * - the core never calls into ctrl: it learns clients, topics, brokers,
 *   leaders and its producer id from the cmd queue, and asks for metadata
 *   refreshes and epoch bumps on the evt queue;
 * - everything is allocated in fnl_core_new(); the loop allocates nothing;
 * - a client's ring bytes are released (rec_tail) only in ring order and
 *   only after each record in them was reported (acknowledged or failed);
 * - counters are plain stores by the core, read by ctrl without locks.
 */
#ifndef FNL_CORE_CORE_H
#define FNL_CORE_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "dataplane/core/cmdq.h"

#define FNL_LAT_BUCKETS 24
#define FNL_ZCORES_MAX  16 /* data-plane core + compression workers (funnel.cores) */

struct fnl_core;

struct fnl_core_cfg {
	int cpu; /* -1: not pinned */
	/* compression workers, one pinned on each (funnel.cores[1..]); 0: none,
	 * the core compresses at seal as it always did */
	int zworkers;
	int zcpus[FNL_ZCORES_MAX - 1];
	int zdelay_us; /* test only: a worker holds each batch this long (funnel.test.compress.delay.us) */
	int linger_ms;
	int batch_size;
	int64_t buffer_memory;
	int max_request_size;
	int codec, level;
	int acks; /* -1 all, 0, 1 */
	bool idempotent;
	int max_inflight;
	int retries;
	int retry_backoff_ms;
	int delivery_timeout_ms;
	int request_timeout_ms;
	int clients_max, topics_max, partitions_max, brokers_max;
	bool round_robin, ignore_keys;
	bool sqpoll;
	uint32_t rx_bufs, rx_buf_bytes; /* the engine's provided receive buffers; 0: default */
	bool rx_direct;                 /* plain recv per connection instead */
	int egress;                     /* enum fnl_egress: uring (0) or dpdk */
	const void *egress_cfg;         /* struct fnl_dpdk_cfg for dpdk; outlives the core */
	int idle_nap_us; /* 0: spin while records trickle in; else wait up to this in io_uring */
	char client_id[256];
	char journal_path[4096]; /* "" = no restart journal */
	int restart_wait_ms;     /* funnel.restart.wait.ms */
	uint64_t seed;
	/* security, owned by ctrl and outliving the core; NULL = plaintext / no SASL */
	struct fnl_tls_ctx *tls_ctx;
	struct fnl_sasl_creds *creds;
};

/* Compression per core (issue 17): entry 0 is the data-plane core itself
 * (funnel.cores[0]; with no workers its entry mirrors the accumulator's
 * counters and busy_ns times its seals, compression and the copy back), entry i >= 1 the worker pinned on
 * funnel.cores[i]. Each entry is written by one thread (the worker for its
 * own batches, bytes, busy_ns and sleeps; the core for depth) and sits on
 * its own cache line. */
struct fnl_zcore_stats {
	_Alignas(64) int32_t cpu; /* -1: not pinned */
	uint32_t depth;           /* batches handed to it and not yet taken back */
	uint64_t batches;         /* batches compressed */
	uint64_t bytes_in, bytes_out; /* records bytes before / wire bytes after */
	uint64_t busy_ns;         /* time spent compressing (CLOCK_MONOTONIC) */
	uint64_t sleeps;          /* a worker: times it slept on its futex */
	uint64_t cpu_ns;          /* a worker: its thread's CPU time (updated per batch) */
};

/* Counters (core writes, others read; 64-bit aligned loads are atomic on the
 * targets we support; readers tolerate a value one update old). */
struct fnl_core_stats {
	_Alignas(64) uint64_t records_in, records_acked, records_failed, records_bad;
	uint64_t batches_sent, batches_acked, batches_failed, retries;
	uint64_t requests_sent, responses, bytes_raw, bytes_wire, bytes_tx;
	uint64_t connects, disconnects, ring_full_waits, pool_empty, loops, sleeps, naps;
	uint64_t quarantined, metadata_requests, epoch_bumps;
	/* batches sealed: full (batch.size or records per batch), at linger.ms, or early
	 * because the pool (buffer.memory) was empty */
	uint64_t seals_full, seals_linger, seals_pool;
	uint64_t restored_batches; /* batches taken over from the restart journal */
	/* reports nobody read: published into a client's ring and not consumed when
	 * it was released (it exited, was killed or closed without fnl_flush) */
	uint64_t reports_unread;
	/* the engine's receive path, copied from fnl_engine_stats every tick */
	uint64_t bytes_rx, rx_bufring, recv_arms, recv_stops, recv_nobufs;
	/* security: user-space TLS handshakes / failures (engine), SASL logins / failures */
	uint64_t tls_handshakes, tls_failures, sasl_logins, sasl_failures;
	uint64_t sasl_reauths; /* KIP-368 re-authentications on a live connection */
	/* TLS connections by record layer (engine): all user space, kernel TX, kernel RX */
	uint64_t tls_user, ktls_tx, ktls_rx;
	/* the DPDK egress (0 on io_uring): frames rx/tx, drops, TCP retransmissions */
	uint64_t pkts_rx, pkts_tx, pkt_drops, tcp_retransmits;
	uint64_t csum_offload; /* the DPDK egress's checksum offloads (engine.h), a bit set */
	int64_t producer_id;
	int32_t producer_epoch;
	int32_t clients_active;
	uint64_t err_by_code[128]; /* delivery errors by Kafka code (index code+1, capped) */
	/* records by time from their batch's first append to their delivery report:
	 * bucket i counts latencies in [2^(i-1), 2^i) ms, bucket 0 is < 1 ms */
	uint64_t latency_ms_hist[FNL_LAT_BUCKETS];
	uint64_t latency_ms_sum; /* of the same records, for the histogram's _sum */
	uint32_t zcores; /* entries of zcore[] in use: 1 + compression workers */
	struct fnl_zcore_stats zcore[FNL_ZCORES_MAX];
};

/* Per client, per partition, per broker: snapshots for ctrl (metrics, funnelctl),
 * copied field by field from the core's tables without locks. */
struct fnl_client_stats {
	uint8_t state; /* 1 active, 2 gone (draining), 3 quarantined */
	uint64_t appended, delivered, failed;
	uint64_t appended_bytes;  /* ring bytes (fnl_rec_hdr.len) of the records appended */
	uint64_t ring_full_waits; /* times the core woke this client sleeping in libfunnel: on a
				   * full ring, or in fnl_poll/fnl_flush waiting for reports */
	uint64_t ring_bytes, ring_used_bytes;
};
/* Retries per partition by the Kafka error code that caused them: the common
 * retriable codes have a cell each, every other code shares the last cell. */
#define FNL_RETRY_CELLS 8
#define FNL_RETRY_OTHER (FNL_RETRY_CELLS - 1)
/* The code counted in cell (cell < FNL_RETRY_OTHER). */
static inline int16_t fnl_retry_cell_code(int cell)
{
	static const int16_t codes[FNL_RETRY_OTHER] = {
		5,  /* LEADER_NOT_AVAILABLE */
		6,  /* NOT_LEADER_OR_FOLLOWER */
		7,  /* REQUEST_TIMED_OUT (also: no answer within request.timeout.ms) */
		13, /* NETWORK_EXCEPTION (also: connection lost) */
		19, /* NOT_ENOUGH_REPLICAS */
		20, /* NOT_ENOUGH_REPLICAS_AFTER_APPEND */
		45, /* OUT_OF_ORDER_SEQUENCE_NUMBER */
	};
	return codes[cell];
}
/* The cell that counts a retry for code err. */
static inline int fnl_retry_cell(int16_t err)
{
	for (int i = 0; i < FNL_RETRY_OTHER; i++)
		if (fnl_retry_cell_code(i) == err)
			return i;
	return FNL_RETRY_OTHER;
}

struct fnl_part_stats {
	uint32_t topic_id;
	int32_t partition, leader;
	uint32_t queued_batches; /* sealed, not yet acknowledged */
	uint32_t open_records;   /* in the open batch */
	int32_t inflight;
	uint64_t batches_acked, records_acked, retries;
	uint64_t queued_bytes; /* wire bytes of the queued batches */
	uint32_t retries_by_cell[FNL_RETRY_CELLS]; /* see fnl_retry_cell() */
	int16_t last_err;
};
struct fnl_broker_stats {
	int32_t node_id;
	uint8_t state; /* 1 down, 2 connecting (TCP, TLS), 3 negotiating (ApiVersions, SASL), 4 ready */
	uint32_t inflight;
	uint64_t requests, responses, rtt_us_sum;
};
/* 0, or -ENOENT for a free slot / unknown index */
int fnl_core_client_stats(const struct fnl_core *c, int slot, struct fnl_client_stats *out);
int fnl_core_part_count(const struct fnl_core *c);
/* The partition count the core uses for topic id (it grows with the cluster's),
 * or -ENOENT when the core does not have the topic. */
int fnl_core_topic_partitions(const struct fnl_core *c, int id);
int fnl_core_part_stats(const struct fnl_core *c, int idx, struct fnl_part_stats *out);
int fnl_core_broker_stats(const struct fnl_core *c, int idx, struct fnl_broker_stats *out);

struct fnl_core;

int fnl_core_new(const struct fnl_core_cfg *cfg, struct fnl_cmdq *cmd, struct fnl_cmdq *evt,
		 int doorbell_efd, int evt_efd, struct fnl_core **out);
/* Runs the loop until a STOP command was served; returns 0 or -errno. */
int fnl_core_run(struct fnl_core *c);
const struct fnl_core_stats *fnl_core_stats(const struct fnl_core *c);
void fnl_core_free(struct fnl_core *c);
/* Start-up, before fnl_core_run: the journal's producer id and epoch when they
 * are to be reused (returns 1), and why a journal file was not reused (or NULL). */
int fnl_core_restored_pid(const struct fnl_core *c, int64_t *pid, int16_t *epoch);
const char *fnl_core_journal_note(const struct fnl_core *c, bool *on_tmpfs);

#endif
