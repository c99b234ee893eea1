/* compress_pool.c - compression workers on funnel.cores[1..] (see
 * compress_pool.h for the layout and the invariants). */
#include "dataplane/core/compress_pool.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/core/core_int.h"

/* Single producer, single consumer ring of batch pointers. head is written
 * by the producer only, tail by the consumer only. */
struct zq {
	_Alignas(64) _Atomic uint64_t head;
	_Alignas(64) _Atomic uint64_t tail;
	uint64_t mask;
	struct fnl_batch **slot;
};

struct zworker {
	struct zq in, out;
	_Alignas(64) _Atomic uint32_t futex; /* bumped by the core to wake it */
	_Atomic uint32_t sleeping;           /* 1 while it is about to sleep or sleeps */
	struct fnl_zpool *zp;
	struct fnl_zcore_stats *st; /* &core->st.zcore[idx] */
	struct fnl_compressor *zc;
	uint8_t *scratch;
	size_t scratch_cap;
	int codec, level, cpu, idx, delay_us;
	pthread_t th;
	bool started;
	uint32_t depth; /* core's view: submitted, not collected */
};

struct fnl_zpool {
	_Alignas(64) _Atomic uint32_t core_sleeping; /* the core waits in io_uring */
	_Atomic uint32_t stop;
	int doorbell_efd;
	int n;
	uint32_t rr;
	struct zworker *w;
};

static bool zq_push(struct zq *q, struct fnl_batch *b)
{
	/* relaxed: only this thread writes head */
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	/* acquire: the consumer is done with the entry it released */
	if (h - atomic_load_explicit(&q->tail, memory_order_acquire) > q->mask)
		return false; /* cannot happen: capacity >= the pool's slots */
	q->slot[h & q->mask] = b;
	/* release: the entry (and, for the out ring, the batch's compressed
	 * bytes, wire_len, codec and zrc) before the new head */
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return true;
}

static struct fnl_batch *zq_pop(struct zq *q)
{
	/* relaxed: only this thread writes tail */
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	/* acquire: pairs with zq_push's release */
	if (t == atomic_load_explicit(&q->head, memory_order_acquire))
		return NULL;
	struct fnl_batch *b = q->slot[t & q->mask];
	/* release: the slot was read before the producer may reuse it */
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return b;
}

static bool zq_empty(struct zq *q)
{
	/* acquire: as zq_pop */
	return atomic_load_explicit(&q->tail, memory_order_relaxed) ==
	       atomic_load_explicit(&q->head, memory_order_acquire);
}

static void pin_self(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The worker thread's CPU time into its counters (a clock_gettime per
 * batch, not per record). */
static void note_cpu(struct zworker *w)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		w->st->cpu_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void compress_one(struct zworker *w, struct fnl_batch *b)
{
	int64_t t0 = fnl_now_ns();
	b->zrc = fnl_accum_compress(w->zc, w->scratch, w->scratch_cap, w->codec, w->level, b);
	b->zcore = (uint8_t)w->idx;
	w->st->busy_ns += (uint64_t)(fnl_now_ns() - t0);
	w->st->batches++;
	w->st->bytes_in += b->w.len;
	w->st->bytes_out += b->zrc < 0 ? 0 : b->wire_len;
	if (w->delay_us > 0) {
		/* test only (funnel.test.compress.delay.us): hold the batch */
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)w->delay_us * 1000};
		nanosleep(&ts, NULL);
	}
}

/* Sleep until the core hands over a batch (or stops the pool). */
static void worker_sleep(struct zworker *w)
{
	/* acquire: pairs with the core's futex bump */
	uint32_t f = atomic_load_explicit(&w->futex, memory_order_acquire);
	/* seq_cst store + fence, against the core's push + fence + load of
	 * sleeping (compress_pool.h): one of the two sees the other */
	atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	if (zq_empty(&w->in) && !atomic_load_explicit(&w->zp->stop, memory_order_acquire)) {
		w->st->sleeps++;
		syscall(SYS_futex, &w->futex, FUTEX_WAIT_PRIVATE, f, NULL, NULL, 0);
	}
	/* relaxed: only an advice to the core that a wake is not needed */
	atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
}

static void *worker_main(void *arg)
{
	struct zworker *w = arg;
	struct fnl_zpool *zp = w->zp;
	pin_self(w->cpu);
	int64_t idle_since = fnl_now_ns();
	for (;;) {
		struct fnl_batch *b = zq_pop(&w->in);
		if (b) {
			compress_one(w, b);
			zq_push(&w->out, b);
			/* seq_cst fence: our push before the load of core_sleeping,
			 * against the core's store + fence + re-check (sleep_begin) */
			atomic_thread_fence(memory_order_seq_cst);
			if (atomic_load_explicit(&zp->core_sleeping, memory_order_relaxed)) {
				uint64_t one = 1;
				ssize_t wr = write(zp->doorbell_efd, &one, sizeof(one));
				(void)wr;
			}
			note_cpu(w);
			idle_since = fnl_now_ns();
			continue;
		}
		/* acquire: pairs with fnl_zpool_free's release */
		if (atomic_load_explicit(&zp->stop, memory_order_acquire))
			break;
		if (fnl_now_ns() - idle_since < FNL_ZW_SPIN_NS) {
			sched_yield(); /* the core shares this CPU with clients here */
			continue;
		}
		note_cpu(w);
		worker_sleep(w);
		idle_since = fnl_now_ns();
	}
	return NULL;
}

/* zeroed and 64-byte aligned (the structs' cache-line members ask for it) */
static void *zalloc64(size_t n)
{
	n = (n + 63) & ~(size_t)63;
	void *p = aligned_alloc(64, n);
	if (p)
		memset(p, 0, n);
	return p;
}

static int zq_init(struct zq *q, uint64_t cap)
{
	uint64_t n = 1;
	while (n < cap)
		n <<= 1;
	q->slot = calloc(n, sizeof(*q->slot));
	q->mask = n - 1;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	return q->slot ? 0 : -ENOMEM;
}

int fnl_zpool_new(struct fnl_core *c, struct fnl_zpool **out)
{
	*out = NULL;
	c->st.zcores = 1;
	c->st.zcore[0].cpu = c->cfg.cpu;
	int n = c->cfg.zworkers;
	if (n <= 0 || c->cfg.codec == FNL_CODEC_NONE)
		return 0; /* nothing to spread: the core seals as it always did */
	if (n > FNL_ZCORES_MAX - 1)
		n = FNL_ZCORES_MAX - 1;
	struct fnl_zpool *zp = zalloc64(sizeof(*zp));
	if (!zp)
		return -ENOMEM;
	zp->w = zalloc64((size_t)n * sizeof(*zp->w));
	if (!zp->w) {
		free(zp);
		return -ENOMEM;
	}
	zp->doorbell_efd = c->doorbell_efd;
	atomic_init(&zp->core_sleeping, 0);
	atomic_init(&zp->stop, 0);
	uint64_t slots = (uint64_t)c->acc.g.slots + c->acc.g.big_slots;
	size_t cap = c->big_cap > c->records_cap ? c->big_cap : c->records_cap;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct zworker *w = &zp->w[i];
		w->zp = zp;
		w->idx = i + 1;
		w->cpu = c->cfg.zcpus[i];
		w->codec = c->cfg.codec;
		w->level = c->cfg.level;
		w->delay_us = c->cfg.zdelay_us;
		w->st = &c->st.zcore[i + 1];
		w->st->cpu = w->cpu;
		w->scratch_cap = fnl_compress_bound(w->codec, cap);
		w->scratch = malloc(w->scratch_cap);
		w->zc = fnl_compressor_new();
		if (!w->scratch || !w->zc || zq_init(&w->in, slots) < 0 ||
		    zq_init(&w->out, slots) < 0) {
			rc = -ENOMEM;
			break;
		}
		/* touch the scratch buffer now: no page fault on the hot path */
		memset(w->scratch, 0, w->scratch_cap);
		zp->n = i + 1;
		rc = -pthread_create(&w->th, NULL, worker_main, w);
		w->started = rc == 0;
	}
	if (rc < 0) {
		fnl_zpool_free(zp);
		return rc;
	}
	c->st.zcores = (uint32_t)(1 + n);
	*out = zp;
	return 0;
}

void fnl_zpool_free(struct fnl_zpool *zp)
{
	if (!zp)
		return;
	/* release: the workers see stop after everything before it */
	atomic_store_explicit(&zp->stop, 1, memory_order_release);
	for (int i = 0; i < zp->n; i++) {
		struct zworker *w = &zp->w[i];
		if (w->started) {
			/* relaxed add: the futex word only has to change */
			atomic_fetch_add_explicit(&w->futex, 1, memory_order_relaxed);
			syscall(SYS_futex, &w->futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
			pthread_join(w->th, NULL);
		}
	}
	for (int i = 0; i < zp->n; i++) {
		fnl_compressor_free(zp->w[i].zc);
		free(zp->w[i].scratch);
		free(zp->w[i].in.slot);
		free(zp->w[i].out.slot);
	}
	free(zp->w);
	free(zp);
}

/* The partition's compressed head batches go on to the producer queue. */
static void release_in_order(struct fnl_core *c, struct part *p)
{
	struct fnl_batch *b;
	while ((b = p->zhead) != NULL && b->zdone) {
		p->zhead = b->next;
		if (!p->zhead)
			p->ztail = NULL;
		b->next = NULL;
		int rc = b->zrc;
		if (rc == 0)
			fnl_accum_seal_end(&c->acc, b);
		fnl_ingest_sealed(c, p, b, rc);
	}
}

/* The worker with the fewest batches, or NULL when all hold
 * FNL_ZQ_INLINE_DEPTH already. Round robin among equals. */
static struct zworker *pick(struct fnl_zpool *zp)
{
	struct zworker *best = NULL;
	for (int k = 0; k < zp->n; k++) {
		struct zworker *w = &zp->w[(zp->rr + (uint32_t)k) % (uint32_t)zp->n];
		if (w->depth < FNL_ZQ_INLINE_DEPTH && (!best || w->depth < best->depth))
			best = w;
	}
	zp->rr++;
	return best;
}

void fnl_zpool_submit(struct fnl_core *c, struct part *p, struct fnl_batch *b)
{
	struct fnl_zpool *zp = c->zp;
	fnl_accum_seal_begin(&c->acc, b);
	b->zdone = false;
	b->zrc = 0;
	b->next = NULL;
	if (p->ztail)
		p->ztail->next = b;
	else
		p->zhead = b;
	p->ztail = b;
	struct zworker *w = pick(zp);
	if (!w) {
		/* every worker is busy: the core compresses this one itself */
		struct fnl_zcore_stats *s = &c->st.zcore[0];
		int64_t t0 = fnl_now_ns();
		b->zrc = fnl_accum_compress(c->acc.zc, c->acc.scratch, c->acc.scratch_cap,
		                            c->cfg.codec, c->cfg.level, b);
		b->zcore = 0;
		s->busy_ns += (uint64_t)(fnl_now_ns() - t0);
		s->batches++;
		s->bytes_in += b->w.len;
		s->bytes_out += b->zrc < 0 ? 0 : b->wire_len;
		b->zdone = true;
		release_in_order(c, p);
		return;
	}
	w->depth++;
	c->st.zcore[w->idx].depth = w->depth;
	zq_push(&w->in, b);
	/* seq_cst fence: the push before the load of sleeping, against the
	 * worker's store + fence + re-check (worker_sleep) */
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&w->sleeping, memory_order_relaxed)) {
		/* relaxed add: the futex word only has to change */
		atomic_fetch_add_explicit(&w->futex, 1, memory_order_relaxed);
		syscall(SYS_futex, &w->futex, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

int fnl_zpool_collect(struct fnl_core *c)
{
	struct fnl_zpool *zp = c->zp;
	if (!zp)
		return 0;
	int n = 0;
	for (int i = 0; i < zp->n; i++) {
		struct zworker *w = &zp->w[i];
		struct fnl_batch *b;
		while ((b = zq_pop(&w->out)) != NULL) {
			w->depth--;
			b->zdone = true;
			release_in_order(c, &c->parts[b->part]);
			n++;
		}
		c->st.zcore[w->idx].depth = w->depth;
	}
	return n;
}

/* Before the core waits in io_uring: announce it (a worker that hands a
 * batch back then writes the doorbell), and re-check. false: a batch came
 * back meanwhile, do not wait. */
bool fnl_zpool_sleep_begin(struct fnl_core *c)
{
	struct fnl_zpool *zp = c->zp;
	if (!zp)
		return true;
	/* seq_cst store + fence against the worker's push + fence + load */
	atomic_store_explicit(&zp->core_sleeping, 1, memory_order_seq_cst);
	atomic_thread_fence(memory_order_seq_cst);
	for (int i = 0; i < zp->n; i++) {
		if (!zq_empty(&zp->w[i].out)) {
			atomic_store_explicit(&zp->core_sleeping, 0, memory_order_relaxed);
			return false;
		}
	}
	return true;
}

void fnl_zpool_sleep_end(struct fnl_core *c)
{
	if (c->zp) /* relaxed: only spares workers an eventfd write */
		atomic_store_explicit(&c->zp->core_sleeping, 0, memory_order_relaxed);
}
