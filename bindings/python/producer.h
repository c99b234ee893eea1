/* producer.h - the Producer object of the Python module `funnel`, shared by
 * funnelmodule.c (configuration, produce, poll, flush, the module) and txn.c (the
 * transaction methods). Layout and thread rules: funnelmodule.c's opening comment.
 * Everything here is hidden in the extension (gnu_symbol_visibility). */
#ifndef FUNNELPY_PRODUCER_H
#define FUNNELPY_PRODUCER_H

#include "funnelpy.h"

#include <funnel.h>
#include <stdint.h>

struct slot {
	PyObject *cb, *topic, *key, *value, *headers; /* cb NULL: free */
	int64_t timestamp;
};

struct rep {
	uint64_t opaque;
	int64_t offset;
	int32_t partition;
	int16_t err;
};

typedef struct {
	PyObject_HEAD fnl_client_t *c;
	char *socket_path;
	int max_block_ms;
	size_t ring_bytes;
	PyObject *on_delivery; /* default callback from the config, or NULL */
	PyObject *topics;      /* dict: name -> int (fnl_topic_t *) */
	PyObject *counted;     /* dict: name -> float, when its partition count was last asked */
	PyObject *last_topic;  /* cache of the last lookup */
	fnl_topic_t *last_handle;
	struct slot *slots;
	uint32_t *free_stack;
	uint32_t cap, max, nfree;
	/* FIFO of cap entries: rep_n from rep_head (mod cap). One thread appends (on_report: the
	 * thread holding the client, maybe without the GIL) at rep_tail while another pops
	 * (dispatch(), with the GIL) at rep_head: each index has one writer, rep_n is atomic */
	struct rep *rep;
	uint32_t rep_head, rep_tail, rep_n;
	PyThread_type_lock lock;
	int busy;        /* a call without the GIL is in progress (see the top) */
	int dispatching; /* inside dispatch(): a nested poll() does not dispatch */
	unsigned gen;    /* fork_gen when the slots were last ours */
	/* the thread in dispatch() (PyThread_get_thread_ident) */
	unsigned long dispatcher;
	int waiters; /* threads in client_acquire() waiting for `lock` (close() refuses) */
	uint64_t plain_reported, plain_failed;
	int in_txn; /* begin_transaction() .. commit/abort */
} Producer;

extern unsigned fork_gen; /* bumped in the child of every fork() */

/* In a child after fork(): the inherited slots belong to the parent's records. */
void after_fork(Producer *p);

static inline void check_fork(Producer *p)
{
	if (__builtin_expect(p->gen != fork_gen, 0))
		after_fork(p);
}

/* The client for a call made without the GIL (sets busy; see funnelmodule.c). */
void client_acquire(Producer *p);
void client_release(Producer *p);
/* Calls the callbacks of the reports served so far; -1 with a callback's exception. */
int dispatch(Producer *p, long *served);
/* -1 with RuntimeError when the Producer is closed. */
int check_open(Producer *p);
/* A timeout in seconds (None/negative: -1 = forever) as ms. */
int timeout_ms(PyObject *o, int64_t *ms);

/* txn.c: the transaction methods (confluent_kafka's names). */
PyObject *Producer_init_transactions(Producer *p, PyObject *args, PyObject *kw);
PyObject *Producer_begin_transaction(Producer *p, PyObject *unused);
PyObject *Producer_send_offsets(Producer *p, PyObject *args, PyObject *kw);
PyObject *Producer_commit_transaction(Producer *p, PyObject *args, PyObject *kw);
PyObject *Producer_abort_transaction(Producer *p, PyObject *args, PyObject *kw);

#endif
