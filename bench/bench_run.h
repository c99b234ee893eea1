/* bench_run.h - one measured run (a mode, a client count, a round) and the
 * reports made from many runs (table, targets, JSON, gnuplot).
 *
 *   funnel_bench.c: options, broker, rounds ──▶ struct bench_result[]
 *   bench_report.c: medians per mode ──▶ stdout table, targets, --json, --plot
 *
 * A result owns its two merged histograms (heap, freed by bench_results_free).
 */
#ifndef FNL_BENCH_RUN_H
#define FNL_BENCH_RUN_H

#include <stddef.h>
#include <stdio.h>

#include "bench.h"

/* bench_corpus.c: the records of every run (--corpus), made before the
 * clients are forked; record i is data[off[i % distinct] .. off[i % distinct + 1]) */
struct bench_corpus {
	const char *kind; /* json, hex or file:PATH */
	char *data;
	uint64_t *off;
	uint64_t n;        /* records a run may take */
	uint64_t distinct; /* n, or the file's lines if fewer */
	uint64_t file_bytes;
};

static inline const char *bench_corpus_rec(const struct bench_corpus *c, uint64_t i, size_t *len)
{
	uint64_t k = i % c->distinct;
	*len = (size_t)(c->off[k + 1] - c->off[k]);
	return c->data + c->off[k];
}

int bench_corpus_make(struct bench_corpus *c, const char *kind, uint64_t n, uint64_t per_client,
                      int value_bytes);
void bench_corpus_free(struct bench_corpus *c);
/* value bytes of records first .. first + n - 1 */
uint64_t bench_corpus_bytes(const struct bench_corpus *c, uint64_t first, uint64_t n);

/* The calibration pass: the run's records in batches of recs_per_batch
 * records, compressed with zstd alone at `level` on this thread. */
struct bench_calib {
	uint64_t records, batches, value_bytes, raw_bytes, wire_bytes;
	double cpu_s, ns_per_rec, ratio;
};
int bench_calibrate(const struct bench_corpus *c, int clients, uint64_t per_client,
                    double recs_per_batch, int level, struct bench_calib *out);


struct bench_result {
	enum bench_mode mode;
	int round, clients;
	int setting, batch_size; /* index into opts.settings, its batch.size (0: own) */
	uint64_t value_bytes;    /* value bytes the run produced */
	double recs_per_batch;   /* funnel: records_in / batches of funneld's exit line */
	uint64_t seals[3];       /* funnel: batches sealed full, at linger.ms, pool empty */
	uint64_t zbatches[2];    /* funnel: batches compressed by the data-plane core, by workers */
	double worker_cpu_s;     /* funnel-cores: the compression workers' CPU (funneld's stop lines) */
	double core0_ns_per_rec; /* funneld's CPU outside the workers per record */
	struct bench_calib calib; /* funnel: zstd alone on the same records and batches */
	double outside_ns;       /* funnel: (clients + funneld CPU) / record - zstd alone */
	double zstd_situ_s;      /* funnel: funneld's own compression time, every core (busy_us) */
	double zstd_situ_ns;     /* ... per record */
	double outside_situ_ns;  /* funnel: (clients + funneld CPU) / record - zstd_situ_ns */
	long records; /* produced over all clients */
	uint64_t acked, failed;
	bool ok;
	char err[800];
	double wall_s, rps, mbps;
	/* cpu_clients_s: the clients' CPU from the start signal to their last
	 * report (the producer's); cpu_clients_proc_s: fork to exit, which adds the
	 * fork's copy of the corpus page tables, set-up and the exit;
	 * cpu_daemon_s: funneld's CPU from the start signal to the last client's
	 * exit; cpu_daemon_life_s: its whole life (start-up's pre-faulting of its
	 * buffers, shutdown) */
	double cpu_clients_s, cpu_clients_proc_s, cpu_daemon_s, cpu_daemon_life_s, cpu_s_per_mrec,
	    daemon_ns_per_rec;
	double append_ns[3], e2e_ns[3]; /* p50, p99, p99.9 */
	uint64_t produce_requests, bytes_sent, conns, eagain;
	double ratio_tcp;     /* raw value bytes / TCP bytes sent to brokers */
	double ratio_batches; /* raw value bytes / RecordBatch bytes read back, 0 = not measured */
	uint64_t batches_read;
	struct bench_slow slow; /* summed over the clients (--slow-ns) */
	struct bench_slow control_slow;
	double control_ns[3]; /* p50, p99, p99.9 of the control copy (--slow-ns) */
	struct bench_hist *append, *e2e;
};

struct bench_results {
	struct bench_result *r;
	int n, cap;
};

extern const char *const bench_mode_names[MODE_N];

int bench_results_add(struct bench_results *rs, const struct bench_result *r);
void bench_results_free(struct bench_results *rs);

/* median of a field over the ok runs of (mode, clients); NAN if none */
typedef double (*bench_getter)(const struct bench_result *r);
double bench_median(const struct bench_results *rs, enum bench_mode m, int clients,
                    bench_getter get);

/* reports look at one setting (opts.settings index), -1: all runs */
void bench_report_setting(int setting);
void bench_report_table(const struct bench_opts *o, const struct bench_results *rs);
void bench_report_targets(const struct bench_opts *o, const struct bench_results *rs, FILE *f,
                          bool json);
int bench_report_json(const struct bench_opts *o, const struct bench_results *rs,
                      const char *cmdline, double timer_ns);
int bench_report_plot(const struct bench_opts *o, const struct bench_results *rs);

#endif
