/* journal.h - what a restarted funneld needs to resend in-flight batches
 * exactly as they were sent: same bytes, producer id, epoch and sequence.
 *
 * One file, <state dir>/journal, mapped MAP_SHARED by the data-plane core.
 * Stores into it land in the page cache, so they outlive a SIGKILL of
 * funneld (not a power cut; the clients' rings would not outlive one
 * either). Keeping it is a few plain stores per batch: no syscall, nothing
 * per record beyond what the batch pool writes anyway, because the batch
 * pool itself lives in the file.
 *
 *   offset 0          struct fnl_jhdr (4096 bytes): magic, version, geometry,
 *                     producer id and epoch, seal counter
 *   ring_off          struct fnl_jring[clients_max]: which ring each client
 *                     slot holds (memfd inode + daemon nonce) and its gen
 *   seq_off           struct fnl_jseq[FNL_JSEQ_ENTRIES]: per (topic id,
 *                     partition), open addressing, never deleted: the sequence
 *                     identity and the next sequence
 *   desc_off          struct fnl_jdesc[slots + big_slots]: per batch slot,
 *                     sealed or not, where to, the sequence its wire header
 *                     carries
 *   pool_off          slots * slot_bytes + big_slots * big_slot_bytes: the
 *                     batch pool (layout in accum.h), page aligned
 *
 * Invariants:
 * - a jdesc is FNL_JD_SEALED only while its slot holds a sealed batch whose
 *   wire bytes and per-record meta are complete: the state is stored last
 *   (the reader is a later process, started after the writer died, so
 *   program order plus a compiler fence is enough);
 * - a SEALED jdesc with `sequenced` set holds the (pid, epoch, base_seq) that
 *   its wire header carries, stored before the batch's first send;
 * - jseq[i] is stored before a batch with a sequence from it is sent;
 * - a jring entry is written when a client attaches and never cleared while
 *   batches may name its slot (meta records client slot and gen); a
 *   restarted daemon that gives the slot to another ring first moves the
 *   entry to a free one for the kept records that still name it
 *   (dataplane/core/recover.c, relocate()).
 * The file is reused only if its geometry equals the running one; otherwise
 * it is started afresh (batches in flight then are lost to the journal and
 * their records are taken again from the rings: at-least-once).
 */
#ifndef FNL_BATCH_JOURNAL_H
#define FNL_BATCH_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define FNL_JOURNAL_MAGIC   0x314c4e524a4c4e46ull /* "FNLJRNL1" little-endian */
#define FNL_JOURNAL_VERSION 2u /* 2: big slots (geometry), batches compressed in place */

enum { FNL_JD_FREE = 0, FNL_JD_SEALED = 0x5ea1ed };

struct fnl_jgeom {
	uint64_t slot_bytes;
	uint32_t slots;
	uint32_t clients_max;
	uint32_t partitions_max;
	uint32_t records_cap;
	uint32_t meta_cap;
	uint32_t wire_cap;
	uint64_t big_slot_bytes; /* big slots (accum.h) follow the regular ones */
	uint32_t big_slots;
	uint32_t big_wire_cap;
};

/* descriptors and pool slots: regular then big */
static inline uint32_t fnl_jgeom_nslots(const struct fnl_jgeom *g)
{
	return g->slots + g->big_slots;
}

struct fnl_jhdr {
	uint64_t magic;
	uint32_t version;
	uint32_t _pad;
	struct fnl_jgeom geom;
	int64_t pid;       /* producer id in use, -1 none */
	int16_t epoch;     /* its epoch */
	int16_t _pad2[3];
	uint64_t seal_no;  /* batches sealed so far (orders batches of a partition) */
	uint32_t attach_no; /* clients attached so far: each attach's generation */
	uint32_t _pad3;
	uint8_t _reserved[4096 - 96];
};
_Static_assert(sizeof(struct fnl_jhdr) == 4096, "journal header is 4096 bytes");

struct fnl_jring {
	uint64_t ino;   /* the ring memfd's inode number */
	uint64_t nonce; /* the daemon's id written into the ring header */
	uint32_t gen;   /* client slot generation */
	uint32_t used;
};

#define FNL_JSEQ_ENTRIES(g) (2u * (g)->partitions_max)

struct fnl_jseq {
	uint32_t topic_id;
	int32_t partition;
	int64_t pid;
	int32_t next_seq;
	int16_t epoch;
	uint16_t used;
};

struct fnl_jdesc {
	uint32_t state; /* FNL_JD_FREE or FNL_JD_SEALED */
	uint32_t topic_id;
	int32_t partition;
	int32_t count;
	uint64_t seal_no;
	int64_t pid;
	int32_t base_seq;
	int16_t epoch;
	uint8_t sequenced;
	uint8_t _pad;
	uint32_t wire_len;
	int16_t codec;
	uint16_t _pad2;
	int64_t base_ts, max_ts; /* the header's timestamps (restamping rewrites the header) */
};
_Static_assert(sizeof(struct fnl_jdesc) == 64, "jdesc is one cache line");

struct fnl_journal {
	int fd;
	void *map;
	size_t map_bytes;
	struct fnl_jhdr *hdr;
	struct fnl_jring *rings;
	struct fnl_jseq *seqs;
	struct fnl_jdesc *descs;
	void *pool; /* the batch pool (accum.h), page aligned */
	struct fnl_jgeom geom;
	int on_tmpfs;
};

/* Result of fnl_journal_open(). */
enum {
	FNL_JOURNAL_FRESH = 0,    /* new or unusable file: everything zero, pid -1 */
	FNL_JOURNAL_RECOVERED = 1 /* a previous funneld's state, geometry matches */
};

/* Opens (creating if needed) and maps path for this geometry, taking an
 * exclusive lock (a second funneld on the same state dir gets -EBUSY).
 * Returns FNL_JOURNAL_FRESH, FNL_JOURNAL_RECOVERED or -errno; on a fresh
 * start, *why (if not NULL) says why an existing file was not reused. */
int fnl_journal_open(struct fnl_journal *j, const char *path, const struct fnl_jgeom *g,
		     const char **why);
void fnl_journal_close(struct fnl_journal *j);

/* Clears every descriptor, ring and sequence entry and sets pid -1 (the file
 * is then a fresh journal for this geometry). */
void fnl_journal_reset(struct fnl_journal *j);

static inline void fnl_journal_fence(void)
{
	/* compiler-only: the journal's reader is a later process */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

#endif
