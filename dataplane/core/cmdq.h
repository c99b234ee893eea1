/* cmdq.h - single-producer single-consumer queue of fixed-size messages
 * between the control thread and a data-plane core (one queue each way).
 *
 * Layout:
 *   line 0: head (producer writes)     line 1: tail (consumer writes)
 *   slots[cap] of struct fnl_cmd, cap a power of two
 *
 * Invariants: 0 <= head - tail <= cap; only the producer stores head, only the
 * consumer stores tail; a slot is written before head is published
 * (release) and read after head is observed (acquire); it is reused only
 * after tail moved past it (release by the consumer, acquire by the producer).
 */
#ifndef FNL_CORE_CMDQ_H
#define FNL_CORE_CMDQ_H

#include <netinet/in.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum fnl_cmd_type {
	/* ctrl -> core */
	FNL_CMD_CLIENT_ADD = 1, /* a: slot, ptr: mapping, u64: mapped bytes, i64: memfd inode */
	FNL_CMD_CLIENT_GONE,    /* a: slot: its socket closed; drain then release */
	FNL_CMD_TOPIC,          /* a: topic id, b: partitions, name */
	FNL_CMD_BROKER,         /* a: node id, addr, name: advertised host (TLS: SNI, verified) */
	FNL_CMD_LEADER,         /* a: topic id, b: partition, c: leader node id (-1 unknown) */
	FNL_CMD_METADATA_DONE,  /* a metadata snapshot is complete */
	FNL_CMD_PRODUCER_ID,    /* i64: pid, a: epoch, name: transactional id (tests only) or "" */
	FNL_CMD_STOP,           /* stop intake, deliver pending, a: timeout ms */
	FNL_CMD_TUNE,           /* live settings: a: linger.ms, b: batch.size (<= start-up) */
	/* core -> ctrl */
	FNL_EVT_REFRESH_METADATA = 64, /* a: topic id or -1 */
	FNL_EVT_BUMP_EPOCH,            /* i64: pid, a: epoch in use */
	FNL_EVT_CLIENT_RELEASED,       /* a: slot: ring no longer referenced */
	FNL_EVT_CLIENT_QUARANTINED,    /* a: slot, name: reason */
	FNL_EVT_STOPPED,               /* all pending delivered or timed out */
	FNL_EVT_LOG,                   /* a: level, name: message, b: 1 no node id (i64) */
	FNL_EVT_RECOVERED,             /* a: batches restored, i64: records bound to rings,
	                                * b: journal ring entries that could not be kept for
	                                * rings not back (relocate failed), c: reports dropped
	                                * (their ring did not come back), u64: entries moved */
	FNL_EVT_BROKER_READY,          /* a: node id, i64: the Produce version negotiated */
	FNL_EVT_SECURITY,              /* a: 1 a broker connection logged in (TLS/SASL), 0 one
	                                * failed; i64: node id; name: the failure; c: 1 to log
	                                * it (a new cause for this broker) */
};

struct fnl_cmd {
	uint32_t type;
	int32_t a, b, c;
	int64_t i64;
	uint64_t u64;
	void *ptr;
	struct sockaddr_in6 addr; /* AF_INET or AF_INET6 in the same storage */
	char name[256]; /* topic names are at most 249 bytes */
};

struct fnl_cmdq {
	alignas(64) _Atomic uint64_t head;
	alignas(64) _Atomic uint64_t tail;
	alignas(64) uint32_t mask;
	struct fnl_cmd *slots;
};

/* cap must be a power of two; slots owned by the caller. */
static inline void fnl_cmdq_init(struct fnl_cmdq *q, struct fnl_cmd *slots, uint32_t cap)
{
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	q->mask = cap - 1;
	q->slots = slots;
}

/* Producer side. Returns false when full. */
static inline bool fnl_cmdq_push(struct fnl_cmdq *q, const struct fnl_cmd *c)
{
	/* relaxed: only this thread stores head */
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	/* acquire: the consumer finished reading the slot before moving tail */
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	if (h - t > q->mask)
		return false;
	q->slots[h & q->mask] = *c;
	/* release: the slot's bytes are visible before the new head */
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return true;
}

/* Consumer side. Returns false when empty. */
static inline bool fnl_cmdq_pop(struct fnl_cmdq *q, struct fnl_cmd *out)
{
	/* relaxed: only this thread stores tail */
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	/* acquire: pairs with the producer's release of head */
	uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	if (t == h)
		return false;
	*out = q->slots[t & q->mask];
	/* release: we are done with the slot before the producer may reuse it */
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return true;
}

#endif
