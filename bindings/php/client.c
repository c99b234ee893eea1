/* client.c - the persistent per-process libfunnel clients of the PHP extension.
 *
 * A worker process (php-fpm child, CLI) keeps one fnl_client_t per distinct
 * configuration for its whole life, so a request's produce() costs neither a
 * connection nor a handshake, and records a request leaves in the ring are
 * delivered by funneld whether or not the request flushed (php_funnel.h has
 * the layout and invariants).
 */
#include "php_funnel.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fph_client *clients;   /* this process's clients */
static struct fph_client *inherited; /* a parent's, after fork: never used, never closed */
static uint32_t next_producer_id = 1;
/* In the child of a fork: the parent's clients are marked (Producers check the
 * flag, so no getpid() per call) and set aside. Only the forking thread runs in
 * the child, so plain stores are enough. */
static void on_fork_child(void)
{
	struct fph_client *pc = clients;

	while (pc) {
		struct fph_client *next = pc->next;

		pc->inherited = true;
		pc->next = inherited;
		inherited = pc;
		pc = next;
	}
	clients = NULL;
}

void fph_clients_init(void)
{
	pthread_atfork(NULL, NULL, on_fork_child);
}

struct fph_client *fph_clients_first(void)
{
	return clients;
}

size_t fph_clients_count(void)
{
	size_t n = 0;

	for (struct fph_client *pc = clients; pc; pc = pc->next)
		n++;
	return n;
}

/* ------------------------------------------------------------- reports */

static struct fph_topic *topic_by_name(struct fph_client *pc, const char *name)
{
	return zend_hash_str_find_ptr(&pc->topics, name, strlen(name));
}

/* libfunnel's report callback: only decides and queues, never calls PHP. */
static void on_report(const struct fnl_report *r, void *ctx)
{
	struct fph_client *pc = ctx;
	uint32_t owner = (uint32_t)(r->opaque >> 32), slot = (uint32_t)r->opaque;
	zend_object *obj = fph_client_producer(pc, owner);

	if (!obj) { /* its request ended: its slots were released with it */
		pc->dropped++;
		return;
	}
	if (Z_TYPE(fph_producer_from(obj)->dr_cb) == IS_UNDEF) {
		if (slot)
			fph_slot_release(pc, slot);
		pc->dropped++;
		return;
	}
	if (pc->qlen == pc->qcap) {
		uint32_t cap = pc->qcap ? pc->qcap * 2 : 64;
		struct fph_report *q = realloc(pc->q, cap * sizeof(*q));

		if (!q) { /* cannot happen while slots are bounded; count it */
			if (slot)
				fph_slot_release(pc, slot);
			pc->dropped++;
			return;
		}
		pc->q = q;
		pc->qcap = cap;
	}
	pc->q[pc->qlen++] = (struct fph_report){
	    .owner = owner,
	    .slot = slot,
	    .partition = r->partition,
	    .err = r->err,
	    .offset = r->offset,
	    .topic = topic_by_name(pc, r->topic),
	};
}

/* ------------------------------------------------------------- producers */

zend_object *fph_client_producer(struct fph_client *pc, uint32_t id)
{
	for (uint32_t i = 0; i < pc->nprods; i++)
		if (pc->prods[i].id == id)
			return pc->prods[i].obj;
	return NULL;
}

static int add_producer(struct fph_client *pc, fph_producer *p)
{
	if (pc->nprods == pc->prods_cap) {
		uint32_t cap = pc->prods_cap ? pc->prods_cap * 2 : 4;
		struct fph_prod_ref *n = realloc(pc->prods, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		pc->prods = n;
		pc->prods_cap = cap;
	}
	p->id = next_producer_id++;
	if (next_producer_id == 0)
		next_producer_id = 1;
	pc->prods[pc->nprods++] = (struct fph_prod_ref){.id = p->id, .obj = &p->std};
	return 0;
}

/* Forgets p: its slots are released and later reports for it are dropped. */
void fph_client_release_producer(fph_producer *p)
{
	struct fph_client *pc = p->pc;

	if (!pc)
		return;
	for (uint32_t i = 0; p->nslots && i < pc->slots_cap; i++)
		if (pc->slots[i].owner == p->id)
			fph_slot_release(pc, i + 1);
	for (uint32_t i = 0; i < pc->nprods; i++) {
		if (pc->prods[i].id == p->id) {
			pc->prods[i] = pc->prods[--pc->nprods];
			break;
		}
	}
	p->pc = NULL;
	p->nslots = 0;
}

/* ------------------------------------------------------------- slots */

int fph_slot_take(struct fph_client *pc, fph_producer *p, zval *opaque, zend_string *key,
                  zend_string *payload, HashTable *headers, int64_t timestamp_ms,
                  uint32_t *slot)
{
	if (!pc->free_head) {
		uint32_t old = pc->slots_cap, cap = old ? old * 2 : 64;
		struct fph_slot *n;

		if (old >= FPH_SLOTS_MAX)
			return -ENOBUFS;
		n = realloc(pc->slots, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + old, 0, (cap - old) * sizeof(*n));
		for (uint32_t i = old; i < cap; i++)
			n[i].next_free = i + 1 < cap ? i + 2 : 0;
		pc->slots = n;
		pc->slots_cap = cap;
		pc->free_head = old + 1;
	}
	uint32_t idx = pc->free_head - 1;
	struct fph_slot *s = &pc->slots[idx];

	pc->free_head = s->next_free;
	s->next_free = 0;
	s->owner = p->id;
	ZVAL_COPY(&s->opaque, opaque);
	s->key = key ? zend_string_copy(key) : NULL;
	s->payload = payload ? zend_string_copy(payload) : NULL;
	ZVAL_UNDEF(&s->headers);
	if (headers && zend_hash_num_elements(headers) > 0) {
		zval h;
		ZVAL_ARR(&h, headers);
		ZVAL_COPY(&s->headers, &h); /* a reference (none for an immutable array) */
	}
	s->timestamp_ms = timestamp_ms;
	pc->slots_used++;
	p->nslots++;
	*slot = idx + 1;
	return 0;
}

void fph_slot_release(struct fph_client *pc, uint32_t slot)
{
	struct fph_slot *s;
	zend_object *obj;

	if (!slot || slot > pc->slots_cap || !pc->slots[slot - 1].owner)
		return;
	s = &pc->slots[slot - 1];
	obj = fph_client_producer(pc, s->owner);
	if (obj)
		fph_producer_from(obj)->nslots--;
	s->owner = 0;
	zval_ptr_dtor(&s->opaque);
	ZVAL_UNDEF(&s->opaque);
	if (s->key)
		zend_string_release(s->key);
	if (s->payload)
		zend_string_release(s->payload);
	zval_ptr_dtor(&s->headers);
	ZVAL_UNDEF(&s->headers);
	s->key = s->payload = NULL;
	s->next_free = pc->free_head;
	pc->free_head = slot;
	pc->slots_used--;
}

/* ------------------------------------------------------------- topics */

int fph_client_topic(struct fph_client *pc, zend_string *name, struct fph_topic **out)
{
	struct fph_topic *t = zend_hash_find_ptr(&pc->topics, name);
	fnl_topic_t *ft;
	int rc;

	if (t) {
		*out = t;
		return 0;
	}
	if (memchr(ZSTR_VAL(name), 0, ZSTR_LEN(name)))
		return -EINVAL;
	rc = fnl_topic(pc->c, ZSTR_VAL(name), &ft);
	if (rc < 0)
		return rc;
	t = pemalloc(sizeof(*t), 1);
	t->t = ft;
	t->name = zend_string_init(ZSTR_VAL(name), ZSTR_LEN(name), 1);
	zend_hash_str_add_ptr(&pc->topics, ZSTR_VAL(name), ZSTR_LEN(name), t);
	*out = t;
	return 0;
}

static void topic_dtor(zval *zv)
{
	struct fph_topic *t = Z_PTR_P(zv);

	zend_string_release(t->name);
	pefree(t, 1);
}

/* ------------------------------------------------------------- clients */

static void client_free(struct fph_client *pc, bool close_it)
{
	if (close_it && pc->c)
		fnl_close(pc->c); /* funneld still delivers what is in the ring */
	zend_hash_destroy(&pc->topics);
	free(pc->prods);
	free(pc->slots); /* all released: every producer was freed with its request */
	free(pc->q);
	free(pc->socket_path);
	free(pc->key);
	free(pc);
}

static int client_open(const fph_producer *p, struct fph_client **out)
{
	struct fph_client *pc = calloc(1, sizeof(*pc));
	int rc;

	if (!pc)
		return -ENOMEM;
	pc->key = strdup(p->key);
	pc->socket_path = p->sock ? strdup(p->sock) : NULL;
	if (!pc->key || (p->sock && !pc->socket_path)) {
		free(pc->key);
		free(pc->socket_path);
		free(pc);
		return -ENOMEM;
	}
	pc->conf = p->conf;
	pc->conf.socket_path = pc->socket_path;
	pc->conf.on_report = on_report;
	pc->conf.ctx = pc;
	zend_hash_init(&pc->topics, 8, NULL, topic_dtor, 1);
	rc = fnl_open(&pc->conf, &pc->c);
	if (rc < 0) {
		pc->c = NULL;
		client_free(pc, false);
		return rc;
	}
	pc->pid = getpid();
	*out = pc;
	return 0;
}

/* A client that failed with -EPIPE (funneld stayed away for max.block.ms, or
 * a successor gave other topic ids) is replaced by a new one only when nothing
 * can be lost: no producer uses it, no record waits in its ring (libfunnel
 * re-attaches a ring to a restarted funneld by itself; closing it would lose
 * what it holds). */
bool fph_client_replaceable(struct fph_client *pc)
{
	return pc->failed && pc->nprods == 0 && pc->slots_used == 0 && fnl_outq_len(pc->c) == 0;
}

/* Finds or opens this process's client for p's configuration and registers p
 * with it. 0 or -errno (from fnl_open). */
int fph_client_acquire(fph_producer *p)
{
	struct fph_client *pc, **pp;
	int rc;

	if (p->pc)
		fph_client_release_producer(p); /* a fork, or a failed client */
	for (pp = &clients; (pc = *pp); pp = &pc->next) {
		if (strcmp(pc->key, p->key))
			continue;
		if (!fph_client_replaceable(pc))
			break;
		*pp = pc->next; /* the daemon stayed away and nothing waits in the ring */
		client_free(pc, true);
		pc = NULL;
		break;
	}
	if (!pc) {
		rc = client_open(p, &pc);
		if (rc < 0)
			return rc;
		pc->next = clients;
		clients = pc;
	}
	rc = add_producer(pc, p);
	if (rc < 0)
		return rc;
	p->pc = pc;
	return 0;
}

void fph_clients_shutdown(void)
{
	pid_t me = getpid();

	while (clients) {
		struct fph_client *pc = clients;

		clients = pc->next;
		/* a client of another process (fork without atfork) is only forgotten */
		client_free(pc, pc->pid == me && !pc->inherited);
	}
	/* inherited clients (a parent's) stay as they are, still listed: closing
	 * them would detach the parent's ring, and the process is ending */
}
