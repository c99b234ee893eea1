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

#include "bench.h"

struct bench_result {
	enum bench_mode mode;
	int round, clients;
	long records; /* produced over all clients */
	uint64_t acked, failed;
	bool ok;
	char err[800];
	double wall_s, rps, mbps;
	double cpu_clients_s, cpu_daemon_s, cpu_s_per_mrec, daemon_ns_per_rec;
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

void bench_report_table(const struct bench_opts *o, const struct bench_results *rs);
void bench_report_targets(const struct bench_opts *o, const struct bench_results *rs, FILE *f,
                          bool json);
int bench_report_json(const struct bench_opts *o, const struct bench_results *rs,
                      const char *cmdline, double timer_ns);
int bench_report_plot(const struct bench_opts *o, const struct bench_results *rs);

#endif
