/* ring.h - the shared-memory ring between one client (libfunnel) and funneld.
 *
 * One memfd per client. The CLIENT creates it (memfd_create("funnel-ring",
 * MFD_CLOEXEC | MFD_ALLOW_SEALING)), sizes it with ftruncate, seals it with
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, maps it MAP_SHARED, writes line 0
 * of the header and sends the fd to the daemon in the control HELLO.
 *
 *   offset 0                     struct fnl_ring_hdr (FNL_RING_HDR_BYTES = 4096)
 *   +---------------------------------------------------------------------+
 *   | line 0  immutable after init (client writes before sending the fd)  |
 *   |         magic u64 "FNLRING1" | version u32 | hdr_bytes u32 | rec_bytes|
 *   |         u64 | cmp_entries u32 | cmp_entry_bytes u32 | client_pid i32|
 *   |         | flags u32                                                 |
 *   | line 1  rec_head        u64  client -> daemon  bytes published      |
 *   | line 2  rec_tail        u64  daemon -> client  bytes released       |
 *   | line 3  cmp_head        u64  daemon -> client  completions published|
 *   | line 4  cmp_tail        u64  client -> daemon  completions consumed |
 *   | line 5  daemon_sleeping u32, daemon_alive u32   daemon -> client    |
 *   | line 6  client_waiting  u32, client_futex u32, wake_rec_tail u64,   |
 *   |         wake_cmp_head u64  client's wake marks  (see "Wake-ups")    |
 *   | line 7  daemon_ring_id  u64  daemon only: names the ring in the     |
 *   |         daemon's restart journal (0 until a daemon attached)        |
 *   | ...     zero up to 4096                                             |
 *   +---------------------------------------------------------------------+
 *   offset 4096                  records area, rec_bytes bytes
 *   | rec | rec | ... | PAD -> end |        (positions are byte counters;
 *   |                                       area offset = pos & (rec_bytes-1))
 *   +---------------------------------------------------------------------+
 *   offset 4096 + rec_bytes      completion area, cmp_entries * 32 bytes
 *   | fnl_cmp | fnl_cmp | ...               (slot = index & (cmp_entries-1))
 *   +---------------------------------------------------------------------+
 *
 * A record is a 56-byte struct fnl_rec_hdr followed by key, value and the
 * serialized headers, its total length padded to 8. Its stamp_ns is the
 * CLOCK_MONOTONIC time libfunnel read while it wrote the record, after the
 * produce call began and before it published rec_head; the stamps of one ring
 * never decrease. The daemon takes records across rings in stamp order
 * ("Order across rings" in docs/architecture.md); it trusts no stamp: a wrong
 * one only reorders or delays that client's own records. Records never wrap: when
 * one does not fit before the end of the area the client writes a PAD record
 * (type FNL_REC_PAD, len = bytes to the end; only its first 8 bytes, len and
 * type, are meaningful, so a PAD may be as short as 8 bytes) and starts again at
 * area offset 0. A PAD is always followed by a DATA record, published with it
 * (fnl_ring_next() rejects a PAD that is not fully published).
 *
 * Invariants (positions are u64 byte/entry counters that never wrap in practice):
 *   I1  rec_tail <= rec_head <= rec_tail + rec_bytes; all three multiples of 8.
 *   I2  cmp_tail <= cmp_head <= cmp_tail + cmp_entries.
 *   I3  the client publishes a record only if (head + need - rec_tail) <= rec_bytes
 *       AND (data records published - cmp_tail) < cmp_entries, so the daemon never
 *       finds the completion ring full (every DATA record gets exactly one fnl_cmp;
 *       PAD records get none).
 *   I4  the daemon releases rec_tail in ring order only, and only past records
 *       whose completion it has already published (no loss).
 *   I5  a record is at most FNL_RING_REC_MAX(rec_bytes) = rec_bytes / 2 bytes, so a
 *       record always fits in an empty ring whatever the current offset.
 *   I6  only the client stores rec_head, cmp_tail, client_waiting, wake_rec_tail,
 *       wake_cmp_head; only the daemon stores rec_tail, cmp_head, daemon_alive,
 *       daemon_ring_id; client_futex is incremented by the daemon only.
 *       daemon_sleeping is set to 1 by the daemon and cleared by the
 *       daemon on waking or by the client when it rings the doorbell (exchange
 *       1 -> 0), so a client rings at most once per daemon sleep.
 *
 * Trust: the DAEMON trusts nothing in the mapping. It validates line 0 once into
 * its own copy (struct fnl_ring_dview) and from then on uses only that copy and
 * its own private tail/cmp_head; each value it loads from the client (rec_head,
 * cmp_tail, record bytes) is loaded ONCE, copied, then checked. The record
 * payload (key, value, header bytes) may change under the daemon at any moment:
 * lengths come from the private copy in struct fnl_rec_view, so reads stay in
 * bounds, but any code that walks the payload twice (size pass, then write pass)
 * must tolerate different bytes the second time. fnl_rec_hdrs_next() reads each
 * field once. A violation makes fnl_ring_next() return -EBADMSG: quarantine the
 * client.
 *
 * Memory orders (each atomic's use is commented where it happens below):
 *   client: write record bytes -> store rec_head (seq_cst, a release; "Wake-ups").
 *   daemon: load-acquire rec_head -> read record bytes.
 *   daemon: write fnl_cmp entries -> store-release cmp_head.
 *   client: load-acquire cmp_head -> read entries -> (report) -> store-release cmp_tail.
 *   daemon: load-acquire cmp_tail before overwriting a slot.
 *   daemon: finish reading records -> store-release rec_tail.
 *   client: load-acquire rec_tail -> overwrite released bytes.
 *
 * Wake-ups (Dekker pattern, seq_cst fence on both sides of each pair):
 *   daemon sleep: store daemon_sleeping=1; fence; re-check every rec_head; block on
 *     its eventfd. Client after publishing: store rec_head (seq_cst: a release
 *     that takes the fence's place); load daemon_sleeping (seq_cst); if it is 1
 *     and exchanging it to 0 returned 1, write (uint64_t)1 to the eventfd
 *     (doorbell).
 *   client sleep: v = load client_futex; store (relaxed) the marks wake_rec_tail,
 *     wake_cmp_head; store client_waiting=1 (seq_cst, so also a release of the
 *     marks); fence; re-check fnl_ring_wake_due(rec_tail, cmp_head, marks);
 *     FUTEX_WAIT(client_futex, v) (shared futex, not PRIVATE); store
 *     client_waiting=0. (fnl_ring_client_wait_begin() / _end().)
 *     Daemon after storing rec_tail or cmp_head: fence; load-acquire
 *     client_waiting; if 1, load the marks and, only if fnl_ring_wake_due(its
 *     private tail, its private cmp_head, marks), fetch_add client_futex and
 *     FUTEX_WAKE (fnl_ring_client_wants_wake(), fnl_ring_wake_client()). Both
 *     sides test the same condition, so no wake-up is lost: either the daemon
 *     sees client_waiting=1 (and, through the acquire, these marks or newer
 *     ones) or the client's re-check sees the daemon's stores.
 *   The marks are hysteresis: "wake me only once rec_tail >= wake_rec_tail AND
 *     cmp_head >= wake_cmp_head"; 0 means no condition, so a client that never
 *     writes them (older libfunnel: the header starts zeroed) is woken on any
 *     release. A client blocked on a full ring asks to sleep until its record
 *     fits and half the ring is free, or until half the completion slots are
 *     free once it consumes the reports (fnl_ring_full_marks()); woken on every
 *     acked batch instead, it would append just that batch's worth and block
 *     again. fnl_poll asks for any report (cmp_tail + 1). The daemon trusts
 *     nothing here: the marks only decide whether THIS client is woken, so a
 *     client that lies about them only delays (or hastens) its own wake-ups;
 *     its timed waits still re-check.
 *   fnl_ring_detach() wakes the client whatever its marks (the daemon goes).
 *
 * Byte order: host order everywhere (both sides run on the same machine).
 * Positions are never expected to wrap (2^64 bytes); a client that jumps near
 * the wrap only gets -EBADMSG.
 */
#ifndef FNL_RING_RING_H
#define FNL_RING_RING_H

#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNL_RING_MAGIC              0x31474e49524c4e46ull /* "FNLRING1" little-endian */
#define FNL_RING_VERSION            2u /* 2: records carry stamp_ns */
#define FNL_RING_HDR_BYTES          4096u
#define FNL_RING_LINE_BYTES         64u
#define FNL_RING_REC_BYTES_MIN      (64u * 1024u)
#define FNL_RING_REC_BYTES_MAX      (1ull << 32) /* 4 GiB: rec len is a u32 */
#define FNL_RING_CMP_ENTRIES_MIN    64u
#define FNL_RING_CMP_ENTRIES_MAX    (1u << 24)
#define FNL_RING_CMP_ENTRY_BYTES    32u
#define FNL_RING_REC_MAX(rec_bytes) ((rec_bytes) / 2) /* I5 */

/* Record types and flags. */
#define FNL_REC_DATA         1
#define FNL_REC_PAD          2
#define FNL_REC_F_KEY_NULL   0x1u
#define FNL_REC_F_VALUE_NULL 0x2u
#define FNL_REC_F_ALL        0x3u
#define FNL_REC_HDR_BYTES    56u
#define FNL_REC_PAD_MIN      8u

struct fnl_ring_hdr {
	/* line 0: written by the client before the fd is sent; immutable after. */
	alignas(64) uint64_t magic; /* FNL_RING_MAGIC */
	uint32_t version;           /* FNL_RING_VERSION */
	uint32_t hdr_bytes;         /* FNL_RING_HDR_BYTES */
	uint64_t rec_bytes;         /* power of two, >= 64 KiB, <= 4 GiB */
	uint32_t cmp_entries;       /* power of two, 64 .. 2^24 */
	uint32_t cmp_entry_bytes;   /* FNL_RING_CMP_ENTRY_BYTES */
	int32_t client_pid;
	uint32_t flags; /* 0; reserved */
	/* line 1: client stores (seq_cst, a release), daemon loads (acquire). */
	alignas(64) _Atomic uint64_t rec_head;
	/* line 2: daemon stores (release), client loads (acquire). */
	alignas(64) _Atomic uint64_t rec_tail;
	/* line 3: daemon stores (release), client loads (acquire). */
	alignas(64) _Atomic uint64_t cmp_head;
	/* line 4: client stores (release), daemon loads (acquire). */
	alignas(64) _Atomic uint64_t cmp_tail;
	/* line 5: daemon stores 1/0 (seq_cst); client loads after a seq_cst fence and
	 * exchanges 1 -> 0 when it rings the doorbell. */
	alignas(64) _Atomic uint32_t daemon_sleeping;
	_Atomic uint32_t daemon_alive; /* 1 after attach, 0 on clean detach */
	/* line 6: client_waiting: client stores (seq_cst), daemon loads (acquire after a
	 * seq_cst fence); client_futex: daemon adds. The wake marks: client stores
	 * (relaxed) before its store of client_waiting=1; daemon loads (relaxed) after
	 * its acquire load of client_waiting read 1. 0 = no condition ("Wake-ups"). */
	alignas(64) _Atomic uint32_t client_waiting;
	_Atomic uint32_t client_futex;
	_Atomic uint64_t wake_rec_tail; /* wake once rec_tail >= this ... */
	_Atomic uint64_t wake_cmp_head; /* ... and cmp_head >= this */
	/* line 7: daemon stores (relaxed, before any report of the ring exists) and
	 * loads on re-attach; the client never touches it. Together with the memfd's
	 * inode it finds the ring's records in the restart journal (a client cannot
	 * forge another's inode, and the id tells a reused inode apart). */
	alignas(64) _Atomic uint64_t daemon_ring_id;
	uint8_t _reserved[FNL_RING_HDR_BYTES - 8 * FNL_RING_LINE_BYTES];
};
_Static_assert(sizeof(struct fnl_ring_hdr) == FNL_RING_HDR_BYTES, "ring header is 4096 bytes");
_Static_assert(offsetof(struct fnl_ring_hdr, rec_head) == 64, "line 1");
_Static_assert(offsetof(struct fnl_ring_hdr, rec_tail) == 128, "line 2");
_Static_assert(offsetof(struct fnl_ring_hdr, cmp_head) == 192, "line 3");
_Static_assert(offsetof(struct fnl_ring_hdr, cmp_tail) == 256, "line 4");
_Static_assert(offsetof(struct fnl_ring_hdr, daemon_sleeping) == 320, "line 5");
_Static_assert(offsetof(struct fnl_ring_hdr, client_waiting) == 384, "line 6");
_Static_assert(offsetof(struct fnl_ring_hdr, wake_rec_tail) == 392, "line 6");
_Static_assert(offsetof(struct fnl_ring_hdr, wake_cmp_head) == 400, "line 6");
_Static_assert(offsetof(struct fnl_ring_hdr, daemon_ring_id) == 448, "line 7");

struct fnl_rec_hdr {                 /* 56 bytes, then key, value, headers; total len padded to 8 */
	uint32_t len;                /* total bytes incl. this header and padding */
	uint16_t type;               /* FNL_REC_DATA or FNL_REC_PAD */
	uint16_t flags;              /* FNL_REC_F_KEY_NULL, FNL_REC_F_VALUE_NULL */
	uint32_t topic_id;           /* from the control-socket TOPIC_OK reply */
	int32_t partition;           /* -1 = let the daemon choose */
	int64_t timestamp_ms;        /* CreateTime (libfunnel replaces 0 with CLOCK_REALTIME now) */
	uint64_t opaque;             /* returned in the delivery report */
	uint32_t key_len, value_len; /* 0 when null */
	uint32_t headers_len;        /* bytes of serialized headers after the value */
	uint16_t header_count, _pad;
	uint64_t stamp_ns;           /* CLOCK_MONOTONIC at commit, never decreasing in a ring */
};
_Static_assert(sizeof(struct fnl_rec_hdr) == FNL_REC_HDR_BYTES, "record header is 56 bytes");
/* Headers after the value, unaligned, repeated header_count times:
 *   [u16 name_len][name bytes][i32 value_len, -1 = null][value bytes]  */

struct fnl_cmp {           /* 32 bytes: one delivery report */
	uint64_t opaque;   /* the record's opaque */
	int64_t offset;    /* base offset + index in batch, -1 unknown/failed */
	int32_t partition; /* chosen partition, -1 if none */
	uint32_t topic_id;
	int16_t
	    err; /* Kafka error code, 0 ok; e.g. 10 MESSAGE_TOO_LARGE, 3 UNKNOWN_TOPIC_OR_PARTITION,
	          * 7 REQUEST_TIMED_OUT (delivery.timeout.ms), -1 UNKNOWN_SERVER_ERROR */
	uint16_t flags;   /* daemon-internal: FNL_CMP_F_DONE while in-order publication waits */
	uint32_t rec_end; /* daemon-internal: low 32 bits of the record's end position */
};

#define FNL_CMP_F_DONE 0x1u
_Static_assert(sizeof(struct fnl_cmp) == FNL_RING_CMP_ENTRY_BYTES, "completion is 32 bytes");

/* A validated private copy of line 0 (daemon) or the values the client wrote. */
struct fnl_ring_geom {
	uint64_t rec_bytes;
	uint32_t cmp_entries;
	int32_t client_pid;
	size_t total_bytes; /* hdr + records + completions */
};

/* Client view: owned by one client thread. */
struct fnl_ring_cview {
	struct fnl_ring_hdr *hdr;
	uint8_t *rec;              /* records area */
	const struct fnl_cmp *cmp; /* completion area */
	uint64_t rec_bytes, rec_mask;
	uint32_t cmp_entries, cmp_mask;
	uint32_t rec_max;      /* FNL_RING_REC_MAX(rec_bytes), capped to a u32 record */
	uint64_t head;         /* next reserve position (>= published rec_head) */
	uint64_t tail_cache;   /* last rec_tail loaded */
	uint64_t recs;         /* DATA records reserved so far */
	uint64_t cmp_tail;     /* completions popped (copied out) */
	uint64_t cmp_tail_pub; /* completions committed: last value stored to hdr->cmp_tail */
	uint64_t cmp_head_cache;
};

/* Daemon view: owned by one data-plane core. Only these fields are trusted. */
struct fnl_ring_dview {
	struct fnl_ring_hdr *hdr;
	const uint8_t *rec;
	struct fnl_cmp *cmp;
	uint64_t rec_bytes, rec_mask;
	uint32_t cmp_entries, cmp_mask;
	uint64_t tail;     /* rec_tail released so far (private truth) */
	uint64_t cmp_head; /* completions published so far (private truth) */
	uint64_t cmp_resv; /* in-order reports: slots reserved so far (>= cmp_head) */
	uint64_t head_seen; /* fnl_ring_next: the last rec_head loaded and checked */
	uint32_t cmp_shift; /* log2(cmp_entries), for fnl_cmp_lap() */
	size_t map_bytes;
};

/* One DATA record as seen by the daemon: a private, validated copy of its header
 * plus bounds-checked pointers into the mapping (payload bytes are NOT copied). */
struct fnl_rec_view {
	struct fnl_rec_hdr h;
	const uint8_t *key;     /* NULL iff FNL_REC_F_KEY_NULL */
	const uint8_t *value;   /* NULL iff FNL_REC_F_VALUE_NULL */
	const uint8_t *headers; /* h.headers_len bytes */
	uint64_t pos;           /* ring position of this record */
	uint64_t end;           /* position after it: release rec_tail up to here */
};

/* One header decoded by fnl_rec_hdrs_next(). */
struct fnl_rec_kv {
	const uint8_t *name;
	uint16_t name_len;
	int32_t value_len; /* -1 = null */
	const uint8_t *value;
};

static inline bool fnl_ring_is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static inline uint32_t fnl_ring_align8(uint64_t n)
{
	return (uint32_t)((n + 7u) & ~(uint64_t)7u);
}

/* Total record length for the given payload sizes, or 0 if it exceeds u32. */
static inline uint64_t fnl_rec_size(uint64_t key_len, uint64_t value_len, uint64_t headers_len)
{
	uint64_t n = FNL_REC_HDR_BYTES + key_len + value_len + headers_len;
	if (n > 0xfffffff8ull)
		return 0;
	return fnl_ring_align8(n);
}

/* Validates the sizes and computes the mapping size. 0 or -EINVAL. */
static inline int fnl_ring_layout(uint64_t rec_bytes, uint32_t cmp_entries, size_t *total_bytes)
{
	if (!fnl_ring_is_pow2(rec_bytes) || rec_bytes < FNL_RING_REC_BYTES_MIN ||
	    rec_bytes > FNL_RING_REC_BYTES_MAX)
		return -EINVAL;
	if (!fnl_ring_is_pow2(cmp_entries) || cmp_entries < FNL_RING_CMP_ENTRIES_MIN ||
	    cmp_entries > FNL_RING_CMP_ENTRIES_MAX)
		return -EINVAL;
	if (total_bytes)
		*total_bytes = (size_t)(FNL_RING_HDR_BYTES + rec_bytes +
		                        (uint64_t)cmp_entries * FNL_RING_CMP_ENTRY_BYTES);
	return 0;
}

/* Daemon: copies line 0 once, checks it against the size of the mapping (which
 * must be the memfd's sealed size). -EPROTO: bad magic/version/hdr/entry size;
 * -EINVAL: sizes not powers of two, out of range or not matching mapped_bytes. */
static inline int fnl_ring_validate(const struct fnl_ring_hdr *h, size_t mapped_bytes,
                                    struct fnl_ring_geom *g)
{
	struct fnl_ring_geom tmp;
	uint64_t magic, rec_bytes;
	uint32_t version, hdr_bytes, cmp_entries, cmp_entry_bytes;
	size_t total;

	if (mapped_bytes < FNL_RING_HDR_BYTES)
		return -EINVAL;
	memcpy(&magic, &h->magic, sizeof(magic));
	memcpy(&version, &h->version, sizeof(version));
	memcpy(&hdr_bytes, &h->hdr_bytes, sizeof(hdr_bytes));
	memcpy(&rec_bytes, &h->rec_bytes, sizeof(rec_bytes));
	memcpy(&cmp_entries, &h->cmp_entries, sizeof(cmp_entries));
	memcpy(&cmp_entry_bytes, &h->cmp_entry_bytes, sizeof(cmp_entry_bytes));
	memcpy(&tmp.client_pid, &h->client_pid, sizeof(tmp.client_pid));
	/* compiler barrier: the checks below use the copies, never re-read h */
	atomic_signal_fence(memory_order_seq_cst);
	if (magic != FNL_RING_MAGIC || version != FNL_RING_VERSION ||
	    hdr_bytes != FNL_RING_HDR_BYTES || cmp_entry_bytes != FNL_RING_CMP_ENTRY_BYTES)
		return -EPROTO;
	if (fnl_ring_layout(rec_bytes, cmp_entries, &total) < 0 || total != mapped_bytes)
		return -EINVAL;
	tmp.rec_bytes = rec_bytes;
	tmp.cmp_entries = cmp_entries;
	tmp.total_bytes = total;
	if (g)
		*g = tmp;
	return 0;
}

/* Client: writes line 0 and zeroes the indexes of a fresh mapping of
 * total_bytes (from fnl_ring_layout). */
static inline void fnl_ring_init(void *base, uint64_t rec_bytes, uint32_t cmp_entries,
                                 int32_t client_pid)
{
	struct fnl_ring_hdr *h = base;

	memset(h, 0, sizeof(*h));
	h->magic = FNL_RING_MAGIC;
	h->version = FNL_RING_VERSION;
	h->hdr_bytes = FNL_RING_HDR_BYTES;
	h->rec_bytes = rec_bytes;
	h->cmp_entries = cmp_entries;
	h->cmp_entry_bytes = FNL_RING_CMP_ENTRY_BYTES;
	h->client_pid = client_pid;
	/* relaxed: the fd is not yet shared; sendmsg orders everything before it */
	atomic_store_explicit(&h->rec_head, 0, memory_order_relaxed);
	atomic_store_explicit(&h->rec_tail, 0, memory_order_relaxed);
	atomic_store_explicit(&h->cmp_head, 0, memory_order_relaxed);
	atomic_store_explicit(&h->cmp_tail, 0, memory_order_relaxed);
}

/* The wake-up condition ("Wake-ups"), the same test on both sides: a client
 * asleep with the marks rec_mark / cmp_mark wants a wake-up once rec_tail has
 * reached rec_mark AND cmp_head has reached cmp_mark. A 0 mark always holds. */
static inline bool fnl_ring_wake_due(uint64_t rec_tail, uint64_t cmp_head, uint64_t rec_mark,
                                     uint64_t cmp_mark)
{
	return rec_tail >= rec_mark && cmp_head >= cmp_mark;
}

/* ------------------------------------------------------------------ client */

/* Client: view over a mapping the client initialised itself (trusted sizes). */
static inline void fnl_ring_cview_init(struct fnl_ring_cview *v, void *base, uint64_t rec_bytes,
                                       uint32_t cmp_entries)
{
	memset(v, 0, sizeof(*v));
	v->hdr = base;
	v->rec = (uint8_t *)base + FNL_RING_HDR_BYTES;
	v->cmp = (const struct fnl_cmp *)(v->rec + rec_bytes);
	v->rec_bytes = rec_bytes;
	v->rec_mask = rec_bytes - 1;
	v->cmp_entries = cmp_entries;
	v->cmp_mask = cmp_entries - 1;
	v->rec_max =
	    (uint32_t)(FNL_RING_REC_MAX(rec_bytes) > 0xfffffff8ull ? 0xfffffff8u
	                                                           : FNL_RING_REC_MAX(rec_bytes));
	/* relaxed: only this thread stores these; a fresh ring reads 0 */
	v->head = atomic_load_explicit(&v->hdr->rec_head, memory_order_relaxed);
	v->tail_cache = atomic_load_explicit(&v->hdr->rec_tail, memory_order_acquire);
	v->cmp_tail = atomic_load_explicit(&v->hdr->cmp_tail, memory_order_relaxed);
	v->cmp_tail_pub = v->cmp_tail;
	v->cmp_head_cache = v->cmp_tail;
}

static inline uint32_t fnl_ring_rec_max(const struct fnl_ring_cview *v)
{
	return v->rec_max; /* computed once by fnl_ring_cview_init() */
}

/* Client: room for one more DATA record in the completion ring (I3)? Counts
 * against the committed tail: a popped but uncommitted slot is still in use. */
static inline bool fnl_ring_cmp_room(const struct fnl_ring_cview *v)
{
	return v->recs - v->cmp_tail_pub < v->cmp_entries;
}

/* Client: fnl_ring_reserve() for a len the caller has checked (a multiple of
 * 8, 56 <= len <= fnl_ring_rec_max): libfunnel computes the record's size
 * once and does not test it twice. NULL when the ring (record area or
 * completion budget) is full. */
static inline void *fnl_ring_reserve_len(struct fnl_ring_cview *v, uint32_t len)
{
	uint64_t off = v->head & v->rec_mask;
	uint64_t to_end = v->rec_bytes - off;
	uint64_t pad = len > to_end ? to_end : 0;
	uint8_t *p;

	if (!fnl_ring_cmp_room(v))
		return NULL;
	if (v->head + pad + len - v->tail_cache > v->rec_bytes) {
		/* acquire: the daemon is done with bytes below rec_tail */
		v->tail_cache = atomic_load_explicit(&v->hdr->rec_tail, memory_order_acquire);
		if (v->head + pad + len - v->tail_cache > v->rec_bytes)
			return NULL;
	}
	if (pad) {
		struct fnl_rec_hdr ph = {.len = (uint32_t)pad, .type = FNL_REC_PAD};
		memcpy(v->rec + off, &ph, FNL_REC_PAD_MIN); /* len + type + flags only */
		v->head += pad;
		off = 0;
	}
	p = v->rec + off;
	v->head += len;
	v->recs++;
	return p;
}

/* Client: reserves len bytes (multiple of 8, 56 <= len <= fnl_ring_rec_max) for
 * one DATA record and returns where to write it, or NULL when the ring (record
 * area or completion budget) is full or len is invalid. Writes a PAD first when
 * the record does not fit before the end of the area. Several reservations may
 * precede one fnl_ring_publish(). The caller fills the whole record. */
static inline void *fnl_ring_reserve(struct fnl_ring_cview *v, uint32_t len)
{
	if ((len & 7u) || len < FNL_REC_HDR_BYTES || len > fnl_ring_rec_max(v))
		return NULL;
	return fnl_ring_reserve_len(v, len);
}

/* Client: publishes every reserved record. Returns true when the daemon may be
 * asleep and the caller must ring the doorbell (write 8 bytes to the eventfd). */
static inline bool fnl_ring_publish(struct fnl_ring_cview *v)
{
	/* seq_cst store: a release (record bytes are visible before the daemon
	 * sees the new head) that also precedes the seq_cst load below in the
	 * single total order, which a plain release would not. Pairs with the
	 * daemon's store sleeping=1; seq_cst fence; load rec_head: either the
	 * daemon's load sees this head, or our load sees sleeping == 1 (C11
	 * 7.17.3, the fence rules). One xchg on x86, where the release store plus
	 * a seq_cst fence was a mov and a locked or. */
	atomic_store_explicit(&v->hdr->rec_head, v->head, memory_order_seq_cst);
	if (atomic_load_explicit(&v->hdr->daemon_sleeping, memory_order_seq_cst) != 1)
		return false;
	/* exchange (relaxed: only the doorbell write that follows matters): the
	 * client that turns 1 into 0 rings, so one daemon sleep costs one write */
	return atomic_exchange_explicit(&v->hdr->daemon_sleeping, 0, memory_order_relaxed) == 1;
}

/* Client: copies the next completion out, or returns 0 when there is none.
 * The slot is given back only by fnl_ring_cmp_commit(). */
static inline int fnl_ring_cmp_pop(struct fnl_ring_cview *v, struct fnl_cmp *out)
{
	if (v->cmp_tail == v->cmp_head_cache) {
		/* acquire: entries are written before the daemon publishes cmp_head */
		v->cmp_head_cache = atomic_load_explicit(&v->hdr->cmp_head, memory_order_acquire);
		if (v->cmp_tail == v->cmp_head_cache)
			return 0;
	}
	memcpy(out, &v->cmp[v->cmp_tail & v->cmp_mask], sizeof(*out));
	v->cmp_tail++;
	return 1;
}

/* Client: the completions published so far (cmp_head): entries from
 * v->cmp_tail up to it may be read in place, v->cmp[i & v->cmp_mask], and are
 * consumed by moving v->cmp_tail (then fnl_ring_cmp_commit()). Loads cmp_head
 * only when every entry it knew of was consumed. */
static inline uint64_t fnl_ring_cmp_avail(struct fnl_ring_cview *v)
{
	if (v->cmp_tail >= v->cmp_head_cache)
		/* acquire: entries are written before the daemon publishes cmp_head */
		v->cmp_head_cache = atomic_load_explicit(&v->hdr->cmp_head, memory_order_acquire);
	return v->cmp_head_cache;
}

/* Client: gives back the slots of every popped completion. */
static inline void fnl_ring_cmp_commit(struct fnl_ring_cview *v)
{
	/* release: our reads of the slots happen before the daemon reuses them */
	atomic_store_explicit(&v->hdr->cmp_tail, v->cmp_tail, memory_order_release);
	v->cmp_tail_pub = v->cmp_tail;
}

/* Client: DATA records reserved and not yet reported (popped). */
static inline uint64_t fnl_ring_outstanding(const struct fnl_ring_cview *v)
{
	return v->recs - v->cmp_tail;
}

/* Client, ring full: the wake-up marks for a record of len bytes that
 * fnl_ring_reserve() refused, given tail (a rec_tail loaded just now). Call it
 * with every reservation published and every published report consumed and
 * committed. Hysteresis: a client woken at the first released byte would append
 * one acked batch and block again.
 *   *rec_mark: 0 if the record fits; else the rec_tail at which it fits (with
 *              its PAD, as fnl_ring_reserve() places it) AND half the ring is free.
 *   *cmp_mark: 0 if a completion slot is free; else the cmp_head at which half
 *              the completion slots are free once the client consumed the reports.
 * Both marks are reachable: they lie below what is already published, which
 * the daemon releases and reports without waiting for this client. */
static inline void fnl_ring_full_marks(const struct fnl_ring_cview *v, uint32_t len, uint64_t tail,
                                       uint64_t *rec_mark, uint64_t *cmp_mark)
{
	uint64_t to_end = v->rec_bytes - (v->head & v->rec_mask);
	uint64_t need = len + (len > to_end ? to_end : 0); /* the PAD, as in fnl_ring_reserve() */
	uint64_t half = v->rec_bytes / 2, hc = v->cmp_entries / 2;

	*rec_mark = 0;
	if (v->head + need - tail > v->rec_bytes) {
		/* both differences guarded: head may be below rec_bytes / 2, and a
		 * bogus tail above head would make the record look too big */
		uint64_t fits = v->head + need > v->rec_bytes ? v->head + need - v->rec_bytes : 0;
		uint64_t halfway = v->head > half ? v->head - half : 0;
		*rec_mark = fits > halfway ? fits : halfway;
	}
	*cmp_mark = 0;
	if (!fnl_ring_cmp_room(v)) /* then recs - cmp_tail == cmp_entries > hc */
		*cmp_mark = v->recs > hc ? v->recs - hc : 0;
}

/* Client: does the condition of a sleep with these marks hold now? The same test
 * as the daemon's (fnl_ring_wake_due), on the values it stored. */
static inline bool fnl_ring_client_wake_due(const struct fnl_ring_cview *v, uint64_t rec_mark,
                                            uint64_t cmp_mark)
{
	/* acquire: pairs with the daemon's releases of rec_tail and cmp_head */
	uint64_t tail = atomic_load_explicit(&v->hdr->rec_tail, memory_order_acquire);
	uint64_t ch = atomic_load_explicit(&v->hdr->cmp_head, memory_order_acquire);

	return fnl_ring_wake_due(tail, ch, rec_mark, cmp_mark);
}

/* Client, before sleeping: publishes the marks and client_waiting=1, then
 * re-checks. Returns true when the condition already holds (do not sleep);
 * else sleep with fnl_ring_wait_client(v, *seen, ...). Either way end with
 * fnl_ring_client_wait_end(). */
static inline bool fnl_ring_client_wait_begin(struct fnl_ring_cview *v, uint64_t rec_mark,
                                              uint64_t cmp_mark, uint32_t *seen)
{
	struct fnl_ring_hdr *h = v->hdr;

	/* acquire: a wake-up that bumped the futex published its data before */
	*seen = atomic_load_explicit(&h->client_futex, memory_order_acquire);
	/* relaxed: the seq_cst store of client_waiting below is also a release, so
	 * a daemon whose acquire load reads that 1 reads these marks (or newer) */
	atomic_store_explicit(&h->wake_rec_tail, rec_mark, memory_order_relaxed);
	atomic_store_explicit(&h->wake_cmp_head, cmp_mark, memory_order_relaxed);
	/* seq_cst store + fence: the daemon's fence-then-load of client_waiting
	 * sees 1, or our re-check below sees its rec_tail / cmp_head stores */
	atomic_store_explicit(&h->client_waiting, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	return fnl_ring_client_wake_due(v, rec_mark, cmp_mark);
}

static inline void fnl_ring_client_wait_end(struct fnl_ring_cview *v)
{
	/* relaxed: at worst the daemon wakes us once more for nothing */
	atomic_store_explicit(&v->hdr->client_waiting, 0, memory_order_relaxed);
}

/* ------------------------------------------------------------------ daemon */

/* A completion slot's lap: which pass over the completion area reserved it
 * (flags bits 8..15), so a slot left DONE by an earlier lap is never taken for
 * this one. */
static inline uint16_t fnl_cmp_lap(const struct fnl_ring_dview *v, uint64_t idx)
{
	return (uint16_t)(((idx >> v->cmp_shift) & 0xffu) << 8);
}

/* Daemon: continue a ring from its indexes (0 for a fresh ring). A daemon that
 * was killed may have released rec_tail without publishing the reports of the
 * records it released (the release is stored first): those slots are DONE,
 * of this lap, and end at or before rec_tail; they are published now. Records
 * past rec_tail were never reported and are taken again. -EPROTO if the
 * indexes are inconsistent. */
static inline int fnl_ring_resume(struct fnl_ring_dview *v)
{
	struct fnl_ring_hdr *h = v->hdr;
	/* acquire: pairs with the releases of the previous daemon and the client */
	uint64_t tail = atomic_load_explicit(&h->rec_tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&h->rec_head, memory_order_acquire);
	uint64_t ch = atomic_load_explicit(&h->cmp_head, memory_order_acquire);
	uint64_t ct = atomic_load_explicit(&h->cmp_tail, memory_order_acquire);

	if ((tail & 7u) || head < tail || head - tail > v->rec_bytes || ct > ch ||
	    ch - ct > v->cmp_entries)
		return -EPROTO;
	v->tail = tail;
	while (ch - ct < v->cmp_entries) {
		const struct fnl_cmp *e = &v->cmp[ch & v->cmp_mask];
		if (!(e->flags & FNL_CMP_F_DONE) || (e->flags & 0xff00u) != fnl_cmp_lap(v, ch) ||
		    (uint32_t)((uint32_t)tail - e->rec_end) >= v->rec_bytes)
			break;
		ch++;
	}
	v->cmp_head = v->cmp_resv = ch;
	/* release: repaired reports are visible before the new cmp_head */
	atomic_store_explicit(&h->cmp_head, ch, memory_order_release);
	/* seq_cst: the client may read daemon_alive from now on */
	atomic_store_explicit(&h->daemon_alive, 1, memory_order_seq_cst);
	return 0;
}

/* Daemon: validates a mapping of map_bytes (the memfd's sealed size) and builds
 * the view from the validated copy, then continues from the ring's indexes
 * (fnl_ring_resume: 0 for a fresh ring; where a previous daemon stopped for a
 * ring that outlived it). 0, -EPROTO or -EINVAL. */
static inline int fnl_ring_dview_init(struct fnl_ring_dview *v, void *base, size_t map_bytes)
{
	struct fnl_ring_geom g;
	int rc = fnl_ring_validate(base, map_bytes, &g);

	if (rc < 0)
		return rc;
	memset(v, 0, sizeof(*v));
	v->hdr = base;
	v->rec = (const uint8_t *)base + FNL_RING_HDR_BYTES;
	v->cmp = (struct fnl_cmp *)((uint8_t *)base + FNL_RING_HDR_BYTES + g.rec_bytes);
	v->rec_bytes = g.rec_bytes;
	v->rec_mask = g.rec_bytes - 1;
	v->cmp_entries = g.cmp_entries;
	v->cmp_mask = g.cmp_entries - 1;
	v->cmp_shift = (uint32_t)__builtin_ctz(g.cmp_entries);
	v->map_bytes = map_bytes;
	return fnl_ring_resume(v);
}

/* Daemon: anything published beyond cursor? (load-acquire rec_head) */
static inline bool fnl_ring_pending(const struct fnl_ring_dview *v, uint64_t cursor)
{
	return atomic_load_explicit(&v->hdr->rec_head, memory_order_acquire) != cursor;
}

/* Daemon: takes the next DATA record at *cursor (private, starts at 0, always
 * >= v->tail), skipping PADs. Returns 1 and fills out (cursor moves to out->end),
 * 0 when nothing more is published (cursor may have moved past PADs), or
 * -EBADMSG when the client broke the format: rec_head misaligned, moved below
 * the cursor or beyond tail + rec_bytes; len < 56 (8 for a PAD), not a multiple
 * of 8, beyond the published bytes or the end of the area; PAD not reaching the
 * end; unknown type or flags; lengths not adding up to len. Never reads outside
 * the records area. rec_head is loaded (and checked) only when the cursor
 * reached the last value loaded (v->head_seen), so a bad rec_head is found
 * then. */
static inline int fnl_ring_next(struct fnl_ring_dview *v, uint64_t *cursor,
                                struct fnl_rec_view *out)
{
	uint64_t pos = *cursor, head = v->head_seen;

	if (pos >= head || head - v->tail > v->rec_bytes) {
		/* acquire: record bytes below head are visible after this load.
		 * Loaded only once the cursor reached the last value seen, not per
		 * record: the client stores this line on every publish, so a load
		 * per record would pull it across cores each time. A head kept from
		 * an earlier load is used only while it is above pos and within
		 * rec_bytes of the tail (the same checks as a fresh one). */
		head = atomic_load_explicit(&v->hdr->rec_head, memory_order_acquire);
		if ((head & 7u) || head < pos || head - v->tail > v->rec_bytes)
			return -EBADMSG;
		v->head_seen = head;
	}
	while (pos != head) {
		uint64_t off = pos & v->rec_mask, to_end = v->rec_bytes - off, avail = head - pos;
		uint64_t lim = avail < to_end ? avail : to_end;
		struct fnl_rec_hdr *h = &out->h; /* the private copy, checked below */

		/* two constant sizes: a copy the compiler inlines (a PAD may be 8 bytes) */
		if (lim >= FNL_REC_HDR_BYTES) {
			memcpy(h, v->rec + off, FNL_REC_HDR_BYTES);
		} else {
			memset(h, 0, sizeof(*h));
			memcpy(h, v->rec + off, 8);
		}
		atomic_signal_fence(memory_order_seq_cst); /* use the copy, never re-read */
		if (h->len & 7u || h->len > lim)
			goto bad;
		if (h->type == FNL_REC_PAD) {
			if (h->len < FNL_REC_PAD_MIN || h->len != to_end)
				goto bad;
			pos += h->len;
			*cursor = pos;
			continue;
		}
		if (h->type != FNL_REC_DATA || h->len < FNL_REC_HDR_BYTES ||
		    (h->flags & ~FNL_REC_F_ALL))
			goto bad;
		if (((h->flags & FNL_REC_F_KEY_NULL) && h->key_len) ||
		    ((h->flags & FNL_REC_F_VALUE_NULL) && h->value_len))
			goto bad;
		if (fnl_rec_size(h->key_len, h->value_len, h->headers_len) != h->len)
			goto bad;
		const uint8_t *body = v->rec + off + FNL_REC_HDR_BYTES;
		out->key = (h->flags & FNL_REC_F_KEY_NULL) ? NULL : body;
		out->value = (h->flags & FNL_REC_F_VALUE_NULL) ? NULL : body + h->key_len;
		out->headers = body + h->key_len + h->value_len;
		out->pos = pos;
		out->end = pos + h->len;
		*cursor = out->end;
		return 1;
	}
	return 0;
bad:
	v->head_seen = 0; /* nothing kept from a broken ring: a later call loads again */
	return -EBADMSG;
}

/* Daemon: decodes the header at *pos (starts at 0) of a record's serialized
 * headers. 1 and *pos advanced, 0 at the end, -EBADMSG if malformed. Each byte
 * is read once; name/value point into the mapping. */
static inline int fnl_rec_hdrs_next(const struct fnl_rec_view *r, uint32_t *pos,
                                    struct fnl_rec_kv *kv)
{
	uint64_t p = *pos, n = r->h.headers_len;
	uint16_t name_len;
	int32_t value_len;

	if (p >= n)
		return 0;
	if (n - p < 2)
		return -EBADMSG;
	memcpy(&name_len, r->headers + p, 2);
	p += 2;
	if (n - p < (uint64_t)name_len + 4)
		return -EBADMSG;
	kv->name = r->headers + p;
	kv->name_len = name_len;
	p += name_len;
	memcpy(&value_len, r->headers + p, 4);
	p += 4;
	if (value_len < -1 || (value_len > 0 && n - p < (uint64_t)value_len))
		return -EBADMSG;
	kv->value_len = value_len;
	kv->value = value_len >= 0 ? r->headers + p : NULL;
	if (value_len > 0)
		p += (uint64_t)value_len;
	*pos = (uint32_t)p;
	return 1;
}

/* Daemon: releases record bytes up to pos (a record's end, in ring order).
 * -EINVAL if pos is behind the released tail or ahead of the ring. */
static inline int fnl_ring_release(struct fnl_ring_dview *v, uint64_t pos)
{
	if (pos < v->tail || pos - v->tail > v->rec_bytes)
		return -EINVAL;
	v->tail = pos;
	/* release: our reads of the released bytes happen before the client reuses them */
	atomic_store_explicit(&v->hdr->rec_tail, pos, memory_order_release);
	return 0;
}

/* Daemon: free completion slots, trusting nothing: a cmp_tail that is ahead of
 * cmp_head or too far behind reads as "no room". */
static inline uint32_t fnl_ring_cmp_space(const struct fnl_ring_dview *v)
{
	/* acquire: the client's reads of slots below cmp_tail are done */
	uint64_t tail = atomic_load_explicit(&v->hdr->cmp_tail, memory_order_acquire);
	uint64_t used = v->cmp_head - tail;

	return used > v->cmp_entries ? 0 : (uint32_t)(v->cmp_entries - used);
}

/* Daemon: writes n completions and publishes them. Returns how many were pushed
 * (< n only if the client broke I3 or consumed nothing). */
static inline uint32_t fnl_ring_cmp_push_burst(struct fnl_ring_dview *v, const struct fnl_cmp *c,
                                               uint32_t n)
{
	uint32_t room = fnl_ring_cmp_space(v), i;

	if (n > room)
		n = room;
	for (i = 0; i < n; i++)
		memcpy(&v->cmp[(v->cmp_head + i) & v->cmp_mask], &c[i], sizeof(c[i]));
	if (n) {
		v->cmp_head += n;
		/* release: slot contents are visible before the new cmp_head */
		atomic_store_explicit(&v->hdr->cmp_head, v->cmp_head, memory_order_release);
	}
	return n;
}

/* Daemon: one completion. 0, or -ENOBUFS if the completion ring is full. */
static inline int fnl_ring_cmp_push(struct fnl_ring_dview *v, const struct fnl_cmp *c)
{
	return fnl_ring_cmp_push_burst(v, c, 1) == 1 ? 0 : -ENOBUFS;
}

/* Daemon, in-order reports (the daemon's protocol; do not mix with cmp_push):
 *
 *   take record r (ring order)  -> fnl_ring_cmp_reserve(v, r.end): slot k = cmp_resv++
 *   r's outcome known (any order) -> fnl_ring_cmp_fill(v, k, report)
 *   fnl_ring_cmp_publish(v)     -> cmp_head moves over the filled prefix; returns the
 *                                  ring position after the last published record
 *
 * So the published reports are always exactly the records of a ring prefix, and
 * rec_tail can be released to that position: a record's bytes stay in the ring
 * until its report is visible, and what lies beyond rec_tail was never reported
 * (a restarted daemon resends exactly that). The slot's flags/rec_end are private
 * to the daemon until published; a client that scribbles on them only hurts itself.
 * Reserving returns -ENOBUFS while the client has cmp_entries reports
 * outstanding, -EPROTO if its cmp_tail is impossible (ahead of cmp_head or
 * more than cmp_entries behind), else 0. */
static inline int fnl_ring_cmp_reserve(struct fnl_ring_dview *v, uint64_t rec_end, uint64_t *slot)
{
	/* acquire: the client is done reading slots below cmp_tail */
	uint64_t tail = atomic_load_explicit(&v->hdr->cmp_tail, memory_order_acquire);
	uint64_t used = v->cmp_resv - tail;

	if (tail > v->cmp_head || v->cmp_head - tail > v->cmp_entries)
		return -EPROTO; /* a cmp_tail no honest client can have */
	if (used >= v->cmp_entries)
		return -ENOBUFS;
	struct fnl_cmp *e = &v->cmp[v->cmp_resv & v->cmp_mask];
	e->flags = fnl_cmp_lap(v, v->cmp_resv);
	e->rec_end = (uint32_t)rec_end;
	*slot = v->cmp_resv++;
	return 0;
}

/* Daemon, on a re-attached ring only: if the slot about to be reserved was
 * filled (DONE, this lap) by the previous daemon for the record that ends at
 * rec_end, reserve it as it is and return true: that record was finished
 * before the restart and its report is published in order. (A client that
 * forges such a slot only skips its own record.) */
static inline bool fnl_ring_cmp_take_done(struct fnl_ring_dview *v, uint64_t rec_end)
{
	/* acquire: as in fnl_ring_cmp_reserve */
	uint64_t tail = atomic_load_explicit(&v->hdr->cmp_tail, memory_order_acquire);
	const struct fnl_cmp *e = &v->cmp[v->cmp_resv & v->cmp_mask];

	if (tail > v->cmp_head || v->cmp_resv - tail >= v->cmp_entries)
		return false;
	if ((e->flags & (FNL_CMP_F_DONE | 0xff00u)) !=
		(FNL_CMP_F_DONE | fnl_cmp_lap(v, v->cmp_resv)) ||
	    e->rec_end != (uint32_t)rec_end)
		return false;
	v->cmp_resv++;
	return true;
}

/* Daemon, on a re-attached ring only: may a report still be filled into slot,
 * one a previous daemon reserved (at or past cmp_resv, inside the client's
 * window, not DONE this lap)? Filled before the walk reaches it, the slot is
 * DONE when it does, and fnl_ring_cmp_take_done() passes over its record. */
static inline bool fnl_ring_cmp_slot_open(const struct fnl_ring_dview *v, uint64_t slot)
{
	/* acquire: as in fnl_ring_cmp_reserve */
	uint64_t tail = atomic_load_explicit(&v->hdr->cmp_tail, memory_order_acquire);
	const struct fnl_cmp *e = &v->cmp[slot & v->cmp_mask];

	if (slot < v->cmp_resv || tail > v->cmp_head || slot - tail >= v->cmp_entries)
		return false;
	return (e->flags & (FNL_CMP_F_DONE | 0xff00u)) != (FNL_CMP_F_DONE | fnl_cmp_lap(v, slot));
}

/* Undo the last reservation (the record could not be taken after all). */
static inline void fnl_ring_cmp_unreserve(struct fnl_ring_dview *v)
{
	v->cmp_resv--;
}

static inline void fnl_ring_cmp_fill(struct fnl_ring_dview *v, uint64_t slot,
				     const struct fnl_cmp *c)
{
	struct fnl_cmp *e = &v->cmp[slot & v->cmp_mask];
	uint32_t end = e->rec_end;
	*e = *c;
	e->rec_end = end;
	e->flags = (uint16_t)(FNL_CMP_F_DONE | fnl_cmp_lap(v, slot));
}

/* Publishes the filled prefix: first releases the ring bytes of its records
 * (rec_tail), then makes the reports visible (cmp_head). In that order a daemon
 * killed between the two leaves DONE slots that fnl_ring_resume() publishes;
 * the other order would resend records whose reports the client already has.
 * Returns the number of reports published. */
static inline uint64_t fnl_ring_cmp_publish(struct fnl_ring_dview *v)
{
	uint64_t end = v->tail, h = v->cmp_head;
	while (h != v->cmp_resv) {
		const struct fnl_cmp *e = &v->cmp[h & v->cmp_mask];
		if ((e->flags & (FNL_CMP_F_DONE | 0xff00u)) != (FNL_CMP_F_DONE | fnl_cmp_lap(v, h)))
			break;
		/* rec_end is the low 32 bits of a position less than rec_bytes past tail */
		end = v->tail + (uint32_t)(e->rec_end - (uint32_t)v->tail);
		h++;
	}
	uint64_t n = h - v->cmp_head;
	if (n) {
		if (end != v->tail)
			fnl_ring_release(v, end);
		v->cmp_head = h;
		/* release: slot contents are visible before the new cmp_head */
		atomic_store_explicit(&v->hdr->cmp_head, h, memory_order_release);
	}
	return n;
}

/* Daemon: after storing rec_tail / cmp_head, does the client want a wake-up?
 * Only if it sleeps and our private tail and cmp_head reach the marks it set
 * (fnl_ring_wake_due; 0 marks: any release). The marks are untrusted but only
 * steer this client's own wake-ups. If so call fnl_ring_wake_client(). */
static inline bool fnl_ring_client_wants_wake(const struct fnl_ring_dview *v)
{
	struct fnl_ring_hdr *h = v->hdr;

	/* seq_cst fence: orders our rec_tail/cmp_head stores before this load
	 * (pairs with the client's store waiting=1; fence; re-check) */
	atomic_thread_fence(memory_order_seq_cst);
	/* acquire: pairs with the release in the client's seq_cst store of
	 * client_waiting=1, so the marks it stored before are visible below */
	if (atomic_load_explicit(&h->client_waiting, memory_order_acquire) != 1)
		return false;
	/* relaxed: ordered after the acquire load above */
	uint64_t rec_mark = atomic_load_explicit(&h->wake_rec_tail, memory_order_relaxed);
	uint64_t cmp_mark = atomic_load_explicit(&h->wake_cmp_head, memory_order_relaxed);
	return fnl_ring_wake_due(v->tail, v->cmp_head, rec_mark, cmp_mark);
}

/* Daemon: before blocking, announce sleep on every ring, then re-check each
 * with fnl_ring_pending(); clear with sleeping=false after waking. */
static inline void fnl_ring_set_sleeping(struct fnl_ring_dview *v, bool sleeping)
{
	/* seq_cst: ordered before the following rec_head re-check (Dekker) */
	atomic_store_explicit(&v->hdr->daemon_sleeping, sleeping ? 1u : 0u, memory_order_seq_cst);
}

/* ------------------------------------------------------ ring.c (syscalls) */

/* Client: creates, sizes, seals and maps a ring memfd and initialises it.
 * *fd and *base (total_bytes from fnl_ring_layout) on success; 0 or -errno. */
int fnl_ring_create(uint64_t rec_bytes, uint32_t cmp_entries, int *fd, void **base,
                    size_t *total_bytes);

/* Daemon: checks that fd is a memfd sealed against SHRINK and GROW, maps it
 * MAP_SHARED, validates it and builds the view (daemon_alive = 1).
 * 0, -EPERM (not sealed), -EINVAL / -EPROTO (bad layout) or -errno. */
int fnl_ring_attach(int fd, struct fnl_ring_dview *v);

/* Daemon: daemon_alive = 0 (when clean) and unmaps. */
void fnl_ring_detach(struct fnl_ring_dview *v, bool clean);

/* Daemon: increments client_futex and FUTEX_WAKEs the client (shared futex). */
void fnl_ring_wake_client(struct fnl_ring_dview *v);

/* Client: sleeps on client_futex while it still equals seen, at most timeout_ms
 * (-1 forever). 0 when woken or the value changed, -ETIMEDOUT, -EINTR. */
int fnl_ring_wait_client(struct fnl_ring_cview *v, uint32_t seen, int timeout_ms);

#endif
