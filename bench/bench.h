/* bench.h - shared pieces of funnel-bench: options, the shared-memory report
 * area the client processes write and the parent merges, and histograms.
 *
 *   parent (funnel_bench.c)             client processes (bench_client.c)
 *   mmap(MAP_SHARED|MAP_ANONYMOUS) ──fork──▶ each writes only slots[its index]
 *   struct bench_shm:
 *     ready (children ++), go (parent sets once), slots[clients]
 *     slot: progress counters (relaxed atomics), timestamps, histograms,
 *           socket figures; `done` (release) is set last
 *
 * Invariants:
 * - a slot has exactly one writer (its child); the parent reads a slot's
 *   plain fields only after `done` was seen with acquire, or after waitpid();
 * - progress counters are read by the parent at any time (relaxed: a value
 *   one update old is fine for a progress line);
 * - histograms count nanoseconds in log-linear buckets (1/32 relative
 *   precision, values below 64 ns exact), so merging is a plain sum.
 */
#ifndef FNL_BENCH_H
#define FNL_BENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bench_corpus;

#define BENCH_HIST_SUB_BITS 5
#define BENCH_HIST_LINEAR   64 /* values below are their own bucket */
#define BENCH_HIST_BUCKETS  (BENCH_HIST_LINEAR + (64 - 6) * 32)
#define BENCH_CLIENTS_MAX   256
#define BENCH_PORTS_MAX     16

/* MODE_FUNNEL_CORES: funneld with funnel.cores = --funnel-cores (default 0,1):
 * compression workers on the further cores (issue 17); not run by default */
enum bench_mode { MODE_FUNNEL, MODE_RDK, MODE_RDK_SINGLE, MODE_FUNNEL_CORES, MODE_N };
static inline bool bench_mode_is_funnel(int m)
{
	return m == MODE_FUNNEL || m == MODE_FUNNEL_CORES;
}

struct bench_hist {
	uint64_t n;
	uint64_t b[BENCH_HIST_BUCKETS];
};

struct bench_opts {
	int clients;
	long records; /* per client */
	int value_bytes;
	int keys;  /* 0 = null keys */
	long rate; /* total records/s over all clients, 0 = flat out */
	int partitions;
	int brokers;
	int batch_size; /* this run's batch.size; 0: each producer's own defaults
	                   (batch.size, linger.ms, batch.num.messages untouched) */
	int linger_ms;
	int settings[8]; /* batch.size of each setting in turn (0: own defaults) */
	int nsettings, setting;
	int zstd_level;  /* -1: each producer's default (3 for both) */
	int funnel_level; /* funneld's alone (--funnel-zstd-level); -1: as zstd_level */
	int funneld_default_level; /* funneld --dump-config's compression.zstd.level */
	bool calib_sweep; /* --calib-sweep: zstd alone on the corpus, levels x batch sizes */
	const char *corpus_kind;
	const struct bench_corpus *corpus;
	int rounds;
	bool modes[MODE_N];
	bool sweep;
	bool rawfetch; /* read the batches back to measure the compression ratio */
	bool pin;
	const char *funnel_cores; /* funnel.cores of MODE_FUNNEL_CORES ("0,1") */
	int mode;                 /* the mode of the run being started */
	bool sched_batch; /* clients run SCHED_BATCH: a waking client does not preempt another */
	uint64_t slow_ns; /* > 0: for append calls at least this long, say what the thread's
	                     getrusage saw during them, next to a control copy (struct
	                     bench_slow) */
	int time_every; /* --time-every: time 1 append call (and its report) in this many,
	                   a power of two; 1 = every call (forced by --slow-ns) */
	const char *bootstrap; /* external broker, NULL = start fnl-mockbroker */
	const char *security;  /* --security ssl: both producers over TLS (NULL: plaintext) */
	const char *ssl_ca;    /* --ssl-ca: the CA file both check the brokers with */
	const char *funneld, *mockbroker, *rawfetch_path;
	const char *json, *plot;
	const char *tmpdir;
	int quiet;
	/* set by the parent per round */
	char topic[128];
	char socket[512];
	int ports[BENCH_PORTS_MAX];
	int nports;
	double tsc_ns;  /* nanoseconds per TSC tick */
	int client_cpu; /* -1 = not pinned */
	/* --client-cpus: client i of every mode pinned to client_cpus[i % n] (0: as before) */
	int client_cpus[256], nclient_cpus;
};

/* Socket figures of one process: TCP connections to the broker ports. */
struct bench_sock {
	uint64_t conns;      /* connected sockets to a broker port when sampled */
	uint64_t bytes_sent; /* tcpi_bytes_sent summed over them */
	uint64_t bytes_recv;
};

/* Append calls of at least opts.slow_ns: their wall time, and what the calling
 * thread's getrusage(RUSAGE_THREAD) says happened during them (read outside the
 * timed window): CPU time (user + system), and how many of the calls took a
 * page fault, were preempted (involuntary switch) or blocked (voluntary
 * switch). A call whose CPU time is under a fifth of its wall time spent it
 * mostly off CPU (offcpu). */
struct bench_slow {
	uint64_t calls, offcpu, wall_ns, cpu_ns;
	uint64_t faulted, preempted, blocked;
};

struct bench_slot {
	_Atomic uint64_t produced, acked, failed; /* relaxed: progress only */
	_Atomic int done;                         /* release by the child, acquire by the parent */
	int status;                               /* 0 ok, else a short code */
	char err[96];
	uint64_t t_start_ns, t_end_ns; /* CLOCK_MONOTONIC: first append, last report */
	double cpu_run_s; /* the process's CPU, all threads, from the start signal to the last report */
	uint64_t eagain;               /* full-queue retries (librdkafka QUEUE_FULL) */
	uint64_t produce_requests;     /* librdkafka stats: Produce requests */
	uint64_t rdk_connects;         /* librdkafka stats: connects */
	struct bench_sock sock;
	struct bench_hist append_ns, e2e_ns;
	struct bench_slow slow;
	/* --slow-ns: a control timed like the append, under the same load: a copy
	 * of the same record bytes into a private 4 MiB buffer */
	struct bench_hist control_ns;
	struct bench_slow control_slow;
};

struct bench_shm {
	_Atomic int ready; /* children that finished set-up (release) */
	_Atomic int go;    /* parent says start (release); children spin/sleep on it (acquire) */
	struct bench_slot slots[BENCH_CLIENTS_MAX];
};

/* bench_hist.c */
static inline int bench_hist_bucket(uint64_t v)
{
	if (v < BENCH_HIST_LINEAR)
		return (int)v;
	int e = 63 - __builtin_clzll(v); /* >= 6 */
	int sub = (int)((v >> (e - BENCH_HIST_SUB_BITS)) & 31);
	int i = BENCH_HIST_LINEAR + (e - 6) * 32 + sub;
	return i < BENCH_HIST_BUCKETS ? i : BENCH_HIST_BUCKETS - 1;
}
static inline void bench_hist_add(struct bench_hist *h, uint64_t v)
{
	h->b[bench_hist_bucket(v)]++;
	h->n++;
}
void bench_hist_merge(struct bench_hist *dst, const struct bench_hist *src);
static inline void bench_slow_add(struct bench_slow *d, const struct bench_slow *s)
{
	d->calls += s->calls;
	d->offcpu += s->offcpu;
	d->wall_ns += s->wall_ns;
	d->cpu_ns += s->cpu_ns;
	d->faulted += s->faulted;
	d->preempted += s->preempted;
	d->blocked += s->blocked;
}
/* value at quantile q (0..1): the bucket's midpoint, in the histogram's unit */
double bench_hist_quantile(const struct bench_hist *h, double q);
/* lower bound of bucket i */
uint64_t bench_hist_lower(int i);

/* bench_client.c: the body of one client process; returns the exit status */
int bench_client_funnel(const struct bench_opts *o, struct bench_shm *shm, int idx, long records,
                        long rate);
int bench_client_rdk(const struct bench_opts *o, struct bench_shm *shm, int idx, long records,
                     long rate);

/* bench_proc.c */
uint64_t bench_now_ns(void);
double bench_tsc_calibrate(void);
int bench_pin(int cpu);
/* SCHED_BATCH for the calling process (and threads it starts later) if on. */
int bench_sched_batch(bool on);
/* sockets of pid (0 = self) connected to one of the ports; 0 or -errno */
int bench_sockets(int pid, const int *ports, int nports, struct bench_sock *out);
/* utime+stime of a live process, seconds; -1 on error */
double bench_proc_cpu_s(int pid);
/* utime+stime of an rusage (getrusage, wait4), seconds */
struct rusage;
double bench_ru_cpu_s(const struct rusage *u);

#endif
