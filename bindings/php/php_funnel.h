/* php_funnel.h - the funnel PHP extension: Funnel\Producer over libfunnel.
 *
 * Layout: one persistent client (struct fph_client) per configuration per
 * worker process, created on the first call that needs it and kept across
 * requests; Funnel\Producer objects (request memory) borrow it.
 *
 *   fph_client (malloc, lives until MSHUTDOWN or a fork)
 *     c            fnl_client_t of the process that opened it (pid)
 *     topics       name -> struct fph_topic (persistent hash, never shrinks)
 *     prods[]      live Producer objects: id -> object (a request has a few)
 *     slots[]      records whose report a PHP callback will see: owner id,
 *                  opaque zval, key, payload, headers, timestamp (free list; at most
 *                  FPH_SLOTS_MAX)
 *     q[]          reports served by libfunnel, waiting to be dispatched to
 *                  PHP callbacks (at most one per slot in use)
 *
 * Invariants:
 *   - fnl_produce()'s opaque is (producer id << 32) | (slot index + 1), slot 0
 *     meaning "no slot". Producer ids count up from 1 per process and are never
 *     reused, so a report whose producer is gone is recognised and dropped
 *     without touching a slot that may have been given to another record.
 *   - a slot is owned by exactly one live producer; it is released when its
 *     report is dispatched or when that producer is freed (end of request), so
 *     request-scoped zvals never outlive their request.
 *   - libfunnel calls are never made on a client whose opening process is not
 *     this one: a fork marks every client inherited (pthread_atfork); the child
 *     opens its own and never closes the parent's (a BYE would detach the
 *     parent's ring).
 *   - PHP callbacks never run inside libfunnel: on_report only queues; the
 *     queue is dispatched after fnl_poll()/fnl_flush()/fnl_produce() return.
 */
#ifndef PHP_FUNNEL_H
#define PHP_FUNNEL_H

#include "php.h"

#include <funnel.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define PHP_FUNNEL_VERSION "0.1.0"
#define FPH_SLOTS_MAX      (1u << 20)

extern zend_module_entry funnel_module_entry;

struct fph_topic {
	fnl_topic_t *t;
	zend_string *name; /* persistent */
};

struct fph_slot {
	uint32_t owner;     /* producer id, 0 = free */
	uint32_t next_free; /* index + 1 of the next free slot, 0 = none */
	zval opaque;
	zend_string *key, *payload; /* NULL = null */
	zval headers;               /* the array given to produce(), IS_UNDEF when none */
	int64_t timestamp_ms;       /* the record's CreateTime */
};

struct fph_report {
	uint32_t owner, slot; /* as encoded in the opaque */
	int32_t partition;
	int16_t err;
	int64_t offset;
	struct fph_topic *topic; /* NULL if the name was not one of ours */
};

struct fph_prod_ref {
	uint32_t id;
	zend_object *obj;
};

struct fph_client {
	struct fph_client *next;
	char *key;      /* canonical configuration text: the lookup key */
	pid_t pid;      /* the process that opened c */
	bool inherited; /* set in a forked child: never call libfunnel on it again */
	bool failed;    /* -EPIPE: replaced once fph_client_replaceable() */
	fnl_client_t *c;
	struct fnl_conf conf;
	char *socket_path;
	HashTable topics; /* name -> struct fph_topic * (persistent) */
	struct fph_prod_ref *prods;
	uint32_t nprods, prods_cap;
	struct fph_slot *slots;
	uint32_t slots_cap, slots_used, free_head;
	struct fph_report *q;
	uint32_t qhead, qlen, qcap;
	uint64_t dropped; /* reports nobody was waiting for */
	bool txn_open;    /* beginTransaction() succeeded, no commit/abort yet (txn.c) */
};

typedef struct {
	char *key;             /* configuration text (persistent copy) */
	struct fnl_conf conf;  /* parsed; socket_path points into sock */
	char *sock;            /* persistent copy of funnel.socket.path, or NULL */
	struct fph_client *pc; /* NULL until the first call that needs it */
	uint32_t id;
	uint32_t nslots; /* slots this producer owns */
	zval dr_cb;      /* IS_UNDEF when none */
	zend_object std;
} fph_producer;

static inline fph_producer *fph_producer_from(zend_object *o)
{
	return (fph_producer *)((char *)o - XtOffsetOf(fph_producer, std));
}

/* client.c: the persistent per-process clients */
void fph_clients_init(void);
void fph_clients_shutdown(void);
int fph_client_acquire(fph_producer *p);
bool fph_client_replaceable(struct fph_client *pc);
void fph_client_release_producer(fph_producer *p);
int fph_client_topic(struct fph_client *pc, zend_string *name, struct fph_topic **out);
int fph_slot_take(struct fph_client *pc, fph_producer *p, zval *opaque, zend_string *key,
                  zend_string *payload, HashTable *headers, int64_t timestamp_ms,
                  uint32_t *slot);
void fph_slot_release(struct fph_client *pc, uint32_t slot);
/* Calls the delivery callbacks (dr_msg_cb) of the reports queued so far (funnel.c); stops
 * at the first exception. */
void fph_dispatch(struct fph_client *pc);
zend_object *fph_client_producer(struct fph_client *pc, uint32_t id);
size_t fph_clients_count(void);

/* funnel.c */
extern zend_class_entry *fph_exception_ce, *fph_message_ce, *fph_producer_ce;
void fph_throw(int err, const char *what, const char *detail);
struct fph_client *fph_client_of(fph_producer *p);

/* txn.c: transactions (php-rdkafka's names), Funnel\KafkaErrorException,
 * Funnel\TopicPartition, Funnel\ConsumerGroupMetadata */
extern const zend_function_entry fph_producer_txn_methods[];
extern uint64_t fph_txn_aborted_at_request_end;
void fph_txn_minit(void);
void fph_txn_request_end(void);
struct fph_client *fph_clients_first(void);

#endif
