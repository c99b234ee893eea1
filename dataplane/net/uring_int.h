/* uring_int.h - the io_uring engine's structures and the functions that
 * uring.c (sockets, frames, the ring) and uring_tls.c (TLS over the same
 * sends and receives) share. Internal to dataplane/net: the interface is
 * engine.h, and engine.h's comment gives the layout, connection states,
 * invariants and errno table; uring.c's opening comment gives user_data and
 * the receive paths.
 *
 * struct fnl_uring begins with struct fnl_engine (its ops), so a
 * struct fnl_engine * handed out by fnl_uring_new is a struct fnl_uring *.
 */
#ifndef FNL_NET_URING_INT_H
#define FNL_NET_URING_INT_H

#include "dataplane/net/engine_ops.h"
#include "dataplane/net/tls.h"

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum { OP_CONNECT = 1, OP_TIMEOUT, OP_RECV, OP_SEND, OP_CANCEL, OP_WAKE };
enum { S_FREE = 0, S_CONNECTING, S_CONNECTED, S_CLOSING, S_DRAINING };
enum drain_res { D_DONE, D_DEFER, D_BLOCKED };

#define UD_OP_BITS       4
#define UD_IDX_MASK      ((1u << 28) - 1)
#define RX_ROOM_MIN      (64u * 1024)
#define FREE_WAIT_NS     1000000000LL
#define CONNS_LIMIT      (1u << 20)
#define SENDS_LIMIT      (1u << 16)
#define RX_BYTES_LIMIT   (1u << 30)
#define SQ_ENTRIES_LIMIT 32768u
#define RX_BUFS_LIMIT    32768u /* buffer ids are 16 bits; the kernel takes < 65536 */
#define RX_BUF_LIMIT     (1u << 24)
#define RX_BGID          0 /* the engine's only buffer group */
#define PB_NONE          0xffffu

struct fnl_send {
	struct iovec *iov; /* first unsent entry (advanced on partial writes) */
	int iovcnt;        /* entries left from iov */
	uint64_t tag;
};

struct fnl_conn {
	uint8_t state;
	bool recv_armed;    /* an OP_RECV is in flight */
	bool send_armed;    /* an OP_SEND for sendq[sq_head] is in flight */
	bool on_pending;    /* queued in e->pending */
	bool rx_parse;      /* rx may hold complete frames not yet delivered */
	bool user_closed;   /* fnl_conn_close was called */
	bool recv_stopping; /* bufring: a cancel ends the multishot (held buffers) */
	bool rx_nobufs;     /* bufring: ended by -ENOBUFS, waits for a buffer given back */
	int fd;
	int close_res;
	uint32_t gen;
	uint32_t inflight; /* counted SQEs not yet completed (connect, timeout, recv, send) */
	uint64_t user;
	uint64_t rx_epoch; /* e->epoch when a frame of rx was last handed out */
	uint8_t *rx;       /* e->rx_cap bytes, lazily allocated, kept */
	uint32_t rx_head, rx_tail;
	int rx_end;        /* bufring: recv end (-errno) applied once held bytes are parsed */
	uint32_t held_n;   /* bufring: provided buffers received, not yet all copied to rx */
	uint32_t held_off; /* bytes of held_head already copied */
	uint16_t held_head, held_tail;
	struct fnl_send *sendq; /* sends_max entries */
	uint32_t sq_head, sq_count;
	struct msghdr msg; /* of the in-flight sendmsg */
	struct __kernel_timespec connect_ts;
	struct sockaddr_storage addr;
	/* TLS (fnl_conn_tls): ciphertext on the socket, plaintext in rx and the sendq */
	struct fnl_tls *tls; /* NULL: plaintext */
	bool tls_up;         /* handshake done, CONNECTED emitted */
	bool tls_q_done;     /* the head send's plaintext is all encrypted */
	bool tls_rx_full;    /* decrypted bytes wait for room in rx */
	char why[FNL_TLS_WHY_MAX];
};

struct fnl_watch {
	int fd;
	bool armed;
	bool stopped;
	uint64_t user;
	uint64_t val; /* the eventfd read lands here */
};

struct fnl_uring {
	struct fnl_engine base; /* first: ops */
	struct io_uring ring;
	bool enabled; /* ring created with R_DISABLED until the first submit */
	struct fnl_engine_cfg cfg;
	uint32_t rx_cap; /* rx_bytes_max + 4 */
	uint64_t epoch;  /* + 1 per poll */
	struct fnl_conn *conns;
	struct fnl_send *sendq;
	uint32_t *free_stack;
	uint32_t free_count;
	uint32_t *pending; /* FIFO ring of conns_max slot ids */
	uint32_t pend_head, pend_count;
	struct fnl_watch watches[FNL_ENGINE_WATCHES_MAX];
	uint32_t watch_count;
	struct fnl_engine_stats st;
	/* provided buffer ring (bufring): rx_bufs buffers of rx_buf_bytes */
	bool bufring;
	struct io_uring_buf_ring *br; /* br_bytes, page aligned, registered as RX_BGID */
	size_t br_bytes;
	uint8_t *pb_mem;      /* the buffers, one block */
	uint32_t *pb_len;     /* bytes received into each held buffer */
	uint16_t *pb_next;    /* held FIFO links */
	uint32_t pb_out;      /* buffers named by reaped CQEs and not yet given back */
	uint32_t rx_waiters;  /* connections with rx_nobufs */
	struct fnl_event *ev; /* output of the poll in progress */
	int ev_n, ev_max;
	uint8_t tls_stage[FNL_TLS_RECORD]; /* plaintext gathered from iovecs for one record */
};

static inline uint64_t ud_make(unsigned op, uint32_t idx, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)idx << UD_OP_BITS | op;
}

static inline uint32_t conn_idx(const struct fnl_uring *e, const struct fnl_conn *c)
{
	return (uint32_t)(c - e->conns);
}

static inline uint32_t be32_load(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The io_uring engine behind a struct fnl_engine handle. */
static inline struct fnl_uring *ur(struct fnl_engine *b)
{
	return (struct fnl_uring *)b;
}

static inline const struct fnl_uring *ur_c(const struct fnl_engine *b)
{
	return (const struct fnl_uring *)b;
}

/* ---- shared between uring.c and uring_tls.c ---------------------------- */

bool ur_ev_room(const struct fnl_uring *e);
void ur_ev_emit(struct fnl_uring *e, enum fnl_ev_type type, int conn, int res, uint64_t user,
                uint64_t tag);
struct io_uring_sqe *ur_sqe_get(struct fnl_uring *e);
bool ur_send_advance(struct fnl_send *q, size_t n);
void ur_send_pop(struct fnl_uring *e, struct fnl_conn *c);
void ur_send_next(struct fnl_uring *e, struct fnl_conn *c);
bool ur_retryable(int res);
void ur_start_close(struct fnl_uring *e, struct fnl_conn *c, int res);
void ur_held_pop(struct fnl_uring *e, struct fnl_conn *c);
void ur_held_drop(struct fnl_uring *e, struct fnl_conn *c);
void ur_rx_compact(struct fnl_conn *c);
bool ur_tls_fill(struct fnl_uring *e, struct fnl_conn *c);
enum drain_res ur_tls_hs_step(struct fnl_uring *e, struct fnl_conn *c);
int ur_tls_pump(struct fnl_uring *e, struct fnl_conn *c);
void ur_on_send_tls(struct fnl_uring *e, struct fnl_conn *c, int res);
int ur_conn_tls(struct fnl_engine *base, int conn, struct fnl_tls_ctx *ctx, const char *host);
const char *ur_conn_why(const struct fnl_engine *base, int conn);

#endif
