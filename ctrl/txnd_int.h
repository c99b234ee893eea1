/* txnd_int.h - what the transaction thread's files share (ctrl/txnd.c: clients, windows,
 * batches, the thread; ctrl/txnd_kafka.c: broker connections, metadata, the coordinator
 * requests driven by the transaction state machine, start-up). Not exported.
 *
 * One thread owns everything here; nothing is shared with other threads but `stop`. */
#ifndef FNL_CTRL_TXND_INT_H
#define FNL_CTRL_TXND_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/un.h>
#include <time.h>

#include "ctrl/daemon.h"
#include "ctrl/txnd_resolve.h"
#include "dataplane/compress/compress.h"
#include "dataplane/kafka/txn_proto.h"
#include "dataplane/producer/txn.h"
#include "dataplane/ring/txnwire.h"

#define MAX_NODES     64
#define MAX_TOPICS    512
#define MAX_WPARTS    4096
#define MAX_GROUPS    1024
#define MAX_CTOPICS   256 /* topics named by one commit */
#define MAX_HEADERS   256 /* headers of one record */
#define PRODUCE_TRIES 6
#define WINDOW_TRIES  4          /* attempts of one window failed with an abortable error */
#define REQ_CAP       (3u << 20) /* a request fits kclient's 4 MiB buffer */

struct node {
	int32_t id;
	char hp[300]; /* host:port */
	struct fnl_kclient kc;
	bool used, kc_init;
};

struct ttopic {
	char name[256];
	int32_t nparts;
	int32_t *leader, *seq;
	int32_t sticky; /* partition of the null-key records of this window */
};

struct wpart {
	int ti;
	int32_t p;
	uint32_t head, tail; /* record list (recs index), UINT32_MAX = none */
	uint32_t b0, nb;     /* batches */
	bool pending;
	int16_t err;
	int64_t base; /* base offset the last Produce answer gave (-1: none) */
};

struct wbatch {
	size_t off, len;
	int32_t count;
	int64_t base; /* its base offset once stored (-1: not told) */
};

struct rec {
	uint32_t off;   /* in wbuf */
	uint32_t next;  /* next record of the same partition */
	int32_t part;   /* its partition (chosen when its commit was taken) */
	int32_t ent;    /* its commit (entries index) */
	int64_t offset; /* once stored (-1: not known) */
};

struct group {
	size_t off, len; /* the serialized group in wbuf */
	int ent;         /* the commit that sent it */
};

/* A client connection. Nothing on it blocks the transaction thread (txnd.c, "clients"):
 * - a message is read as it arrives: hdr_got bytes of its header, then a COMMIT's body
 *   into in (malloc'd: the control plane) until in_got == hdr.len; a message not whole
 *   by in_until_ms closes the connection (BODY_WAIT_MS);
 * - a reply the socket did not take at once waits in out, sent as the socket drains
 *   (POLLOUT); dropped with the connection at out_until_ms (REPLY_KEEP_MS).
 * Invariants: has_hdr => hdr_got == sizeof(hdr) and hdr is a COMMIT; in != NULL =>
 * has_hdr; a whole body (in && in_got == hdr.len) waits for room in a window. */
struct conn {
	int fd;
	bool hello_owed;
	bool has_hdr; /* a COMMIT header read; its body is read, then waits for a window */
	struct fnl_txw_hdr hdr;
	size_t hdr_got;
	uint8_t *in; /* NULL: the body is not started (no memory yet, IN_WINDOWS) */
	size_t in_got;
	int64_t in_until_ms;
	uint8_t *out; /* NULL: nothing waits */
	size_t out_len, out_off;
	int64_t out_until_ms;
};

struct entry {
	int ci; /* conn */
	uint32_t seq;
	size_t off, len; /* body in wbuf */
	bool bad;        /* answered already (refused alone, or settled as committed) */
	uint64_t uid;    /* the client's commit id (txnwire.h) */
	uint32_t cseq;
	bool resend;
	uint32_t rec0, nrec; /* its records: recs[rec0 .. rec0 + nrec) in the client's order */
};

struct pgroup {
	struct fnl_txn_group g;
	struct fnl_txn_topic_offsets tos[256];
	struct fnl_txn_offset offs[1024];
	int ntos;
};

struct fnl_txnd {
	struct fnl_daemon *d;
	const struct fnl_config *cfg;
	pthread_t thr;
	bool running;
	atomic_bool stop; /* relaxed: the eventfd wakes the thread; the flag is read after */
	int listen_fd, stop_efd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct node nodes[MAX_NODES];
	struct fnl_kclient boot;
	struct fnl_api_range ranges[64];
	int nranges;
	struct fnl_txn txn;
	bool ready;
	int64_t init_at_ms;
	char why[512]; /* why not ready / fatal */
	int32_t txn_coord, group_coord;
	FILE *trace;               /* funnel.test.txn.trace, or NULL */
	struct fnl_compressor *zc; /* compression.type for transactional batches */
	uint8_t *zscratch;
	size_t zcap;
	int16_t op_err; /* the Kafka error of the last coordinator request (-1: no answer) */
	int64_t window_no;
	struct pgroup pg; /* the group being sent (ops read it) */
	/* settling commits in doubt (txnd_resolve.h) */
	char rgroup[300];    /* "<transactional.id>.funnel-windows" */
	bool fetched;        /* the predecessor's last window was read */
	int entries_max;     /* commits per window: FNL_TXR_WINDOW_MAX (metadata size) */
	struct fnl_txr done; /* ids of committed client transactions (recent ones) */
	struct ttopic topics[MAX_TOPICS];
	int ntopics;
	/* the window */
	uint8_t *wbuf, *arena;
	size_t wcap, wlen, acap;
	struct rec *recs;
	uint32_t nrecs, recs_cap;
	struct wpart wparts[MAX_WPARTS];
	int nwparts;
	struct wbatch *batches;
	uint32_t nbatches, batches_cap;
	struct group groups[MAX_GROUPS];
	int ngroups, cur_group;
	struct entry *entries;
	int nentries;
	struct conn *conns;
	int nconns, conns_cap;
	size_t out_bytes;           /* every conn's out_len - out_off, REPLY_KEEP_BYTES at most */
	size_t in_bytes;            /* every conn's body buffer (hdr.len), at most 2 * wcap */
	struct fnl_txw_roff *roff;  /* a RESULT's per-record offsets (recs_cap entries) */
	int culprit;                /* the commit a failed attempt is blamed on (-1: the window) */
	char denied_topic[256];     /* a topic AddPartitionsToTxn refused (TOPIC_AUTH...) */
	int64_t md_at_ms;           /* last periodic metadata refresh (refresh_topics) */
	int64_t min_commits_wait;   /* funnel.test.txn.window.min.commits: waiting since (ms) */
	uint8_t scratch[64 * 1024]; /* strings of one group's offsets */
};

static inline int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(int64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* txnd_kafka.c */
struct fnl_kclient *fnl_txnd_node_kc(struct fnl_txnd *t, int32_t id);
int16_t fnl_txnd_ver(struct fnl_txnd *t, int16_t key);
/* Sends kc->buf[0..len) and returns the body, or NULL (connection closed, error logged). */
const uint8_t *fnl_txnd_request(struct fnl_kclient *kc, int len, int16_t api, int16_t ver,
                                size_t *bl);
int fnl_txnd_topic_find(struct fnl_txnd *t, const char *name, size_t len);
/* Metadata for these topics (n 0: brokers only), on the bootstrap connection. */
int fnl_txnd_metadata(struct fnl_txnd *t, const char *const *names, int n);
/* Runs what the state machine asks for until it owes nothing (or funneld stops). */
void fnl_txnd_drive(struct fnl_txnd *t);
/* InitProducerId and the predecessor's last window, once a second until ready. */
void fnl_txnd_try_init(struct fnl_txnd *t);

#endif
