/* txnwire.h - the transaction socket between libfunnel and funneld's transaction thread
 * (ctrl/txnd.c): a unix SOCK_STREAM socket at "<funnel.socket.path>.txn", present only when
 * funneld has a transactional.id.
 *
 * Every message, both ways, is a 16-byte header followed by `len` body bytes (host byte
 * order: both ends are on one machine):
 *
 *   struct fnl_txw_hdr { u32 magic; u16 type; u16 flags; u32 len; u32 seq; }
 *
 * client -> daemon
 *   HELLO   len 0, flags = FNL_TXW_VERSION. Answered by RESULT (flags = funneld's
 *           FNL_TXW_VERSION): OK once funneld holds its transactional producer id
 *           (InitProducerId done), else the error that keeps it from having one. A HELLO of
 *           another version is answered FATAL with a message naming both versions; a client
 *           reading a RESULT of another version gives up with such a message too (version 1,
 *           before per-record offsets, sent flags 0).
 *   COMMIT  one client transaction, whole:
 *             struct fnl_txw_commit
 *             ntopics x  [u32 topic_id][u16 name_len][name]          (the client's topic ids)
 *             rec_bytes  records in the ring's format (struct fnl_rec_hdr + key + value +
 *                        headers, each padded to 8; dataplane/ring/ring.h), in produce order
 *             ngroups x  [str group_id][i32 generation_id][str member_id]
 *                        [str group_instance_id][u32 n] n x [str topic][i32 partition]
 *                        [i64 offset][str metadata]
 *           where str = [u16 len][bytes], len 0xffff = null.
 *           Answered by RESULT once the window holding it is committed (or failed). A
 *           commit whose answer was lost (funneld died) is sent again with the same
 *           (uid, cseq) and FNL_TXW_F_RESEND.
 * daemon -> client
 *   RESULT  struct fnl_txw_result; seq echoes the request's. The RESULT of a COMMIT
 *           answered OK after running it is followed by one struct fnl_txw_roff per record
 *           of that commit, in the client's record order (the record's partition and
 *           offset; offset -1 when the broker did not tell it); every other RESULT has
 *           none (len = sizeof(struct fnl_txw_result)). So len - sizeof(result) is a
 *           multiple of sizeof(struct fnl_txw_roff), the count is 0 or the commit's
 *           nrecords, and len <= FNL_TXW_MAX_BODY; the client checks all three.
 *
 * Invariants: a client has at most one request outstanding; the daemon never reads more than
 * FNL_TXW_MAX_BODY bytes of one body (a larger len closes the connection) and validates every
 * length inside the body against the body's end.
 */
#ifndef FNL_RING_TXNWIRE_H
#define FNL_RING_TXNWIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define FNL_TXW_MAGIC     0x46545857u /* "FTXW" */
#define FNL_TXW_HELLO     1
#define FNL_TXW_COMMIT    2
#define FNL_TXW_RESULT    3
#define FNL_TXW_MAX_BODY  (256u << 20)
#define FNL_TXW_NULL_STR  0xffffu
#define FNL_TXW_MSG_BYTES 240
#define FNL_TXW_VERSION   2u /* in hdr.flags of HELLO and RESULT */

struct fnl_txw_hdr {
	uint32_t magic;
	uint16_t type;
	uint16_t flags;
	uint32_t len; /* body bytes after this header */
	uint32_t seq; /* the client's request number; echoed */
};
_Static_assert(sizeof(struct fnl_txw_hdr) == 16, "txn wire header is 16 bytes");

struct fnl_txw_commit {
	uint64_t uid;   /* the client's random id (per fnl_txn_init) */
	uint32_t cseq;  /* its commit number: (uid, cseq) names this transaction */
	uint32_t flags; /* FNL_TXW_F_RESEND: sent again after its answer was lost */
	uint32_t ntopics;
	uint32_t nrecords;
	uint32_t rec_bytes;
	uint32_t ngroups;
};

/* A commit sent again because funneld went away before answering it: funneld answers OK
 * without running it when the commit is in a committed window (ctrl/txnd_resolve.h). */
#define FNL_TXW_F_RESEND 1u

/* The error classes a client reads (include/funnel.h FNL_TXN_ERR_*). */
enum fnl_txw_class {
	FNL_TXW_OK = 0,
	FNL_TXW_RETRIABLE = 1,
	FNL_TXW_ABORTABLE = 2,
	FNL_TXW_FATAL = 3,
};

struct fnl_txw_result {
	int32_t cls;       /* enum fnl_txw_class */
	int16_t kafka_err; /* the Kafka error behind it, 0 if none */
	uint16_t _pad;
	int64_t window; /* the daemon's window (Kafka transaction) number, -1 if none */
	char msg[FNL_TXW_MSG_BYTES]; /* NUL-terminated; names the setting or cause */
};

/* Where one committed record went (after the RESULT of its commit). */
struct fnl_txw_roff {
	int32_t partition;
	uint32_t _pad;
	int64_t offset; /* -1: not known */
};
_Static_assert(sizeof(struct fnl_txw_roff) == 16, "a record's offset entry is 16 bytes");

/* Both ends write a message as an iovec list with sendmsg(); after a partial write of k
 * bytes this drops the iovecs written whole and trims the first one left. Returns how many
 * are left (*iov then points at the first). */
static inline int fnl_txw_iov_advance(struct iovec **iov, int n, size_t k)
{
	struct iovec *v = *iov;
	while (n > 0 && k >= v->iov_len) {
		k -= v->iov_len;
		v++;
		n--;
	}
	if (n > 0) {
		v->iov_base = (uint8_t *)v->iov_base + k;
		v->iov_len -= k;
	}
	*iov = v;
	return n;
}

#endif
