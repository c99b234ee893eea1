/* bench_report.c - medians over rounds, the stdout table, the issue's
 * targets, --json and --plot (gnuplot). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench_run.h"

const char *const bench_mode_names[MODE_N] = {"funnel", "librdkafka", "librdkafka-single",
                                              "funnel-cores"};

int bench_results_add(struct bench_results *rs, const struct bench_result *r)
{
	if (rs->n == rs->cap) {
		int cap = rs->cap ? rs->cap * 2 : 16;
		struct bench_result *n = realloc(rs->r, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		rs->r = n;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *r;
	return 0;
}

void bench_results_free(struct bench_results *rs)
{
	for (int i = 0; i < rs->n; i++) {
		free(rs->r[i].append);
		free(rs->r[i].e2e);
	}
	free(rs->r);
	*rs = (struct bench_results){0};
}

/* the setting (opts.settings index) reports look at; -1: every run */
static int g_setting = -1;

void bench_report_setting(int setting)
{
	g_setting = setting;
}

static bool in_setting(const struct bench_result *r)
{
	return g_setting < 0 || r->setting == g_setting;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_median(const struct bench_results *rs, enum bench_mode m, int clients,
                    bench_getter get)
{
	double v[256];
	int n = 0;
	for (int i = 0; i < rs->n && n < 256; i++) {
		const struct bench_result *r = &rs->r[i];
		if (r->mode == m && r->clients == clients && r->ok && in_setting(r))
			v[n++] = get(r);
	}
	if (!n)
		return NAN;
	qsort(v, (size_t)n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define GETTER(name, expr)                                                                         \
	static double get_##name(const struct bench_result *r)                                     \
	{                                                                                          \
		return (double)(expr);                                                             \
	}
GETTER(rps, r->rps)
GETTER(mbps, r->mbps)
GETTER(cpu, r->cpu_s_per_mrec)
GETTER(dns, r->daemon_ns_per_rec)
GETTER(core0, r->core0_ns_per_rec)
GETTER(a50, r->append_ns[0])
GETTER(a99, r->append_ns[1])
GETTER(a999, r->append_ns[2])
GETTER(e50, r->e2e_ns[0])
GETTER(e99, r->e2e_ns[1])
GETTER(e999, r->e2e_ns[2])
GETTER(reqs, r->produce_requests)
GETTER(bytes, r->bytes_sent)
GETTER(conns, r->conns)
GETTER(rtcp, r->ratio_tcp)
GETTER(rbat, r->ratio_batches)
GETTER(wall, r->wall_s)
GETTER(rpb, r->recs_per_batch)
GETTER(zns, r->calib.ns_per_rec)
GETTER(zrat, r->calib.ratio)
GETTER(outside, r->outside_ns)
GETTER(zsitu, r->zstd_situ_ns)
GETTER(ositu, r->outside_situ_ns)

static const struct {
	const char *json;
	bench_getter get;
} metrics[] = {
    {"records_per_s", get_rps},
    {"mb_per_s", get_mbps},
    {"cpu_s_per_million_records", get_cpu},
    {"funneld_cpu_ns_per_record", get_dns},
    {"append_p50_ns", get_a50},
    {"append_p99_ns", get_a99},
    {"append_p999_ns", get_a999},
    {"e2e_p50_ns", get_e50},
    {"e2e_p99_ns", get_e99},
    {"e2e_p999_ns", get_e999},
    {"produce_requests", get_reqs},
    {"bytes_sent", get_bytes},
    {"broker_connections", get_conns},
    {"compression_ratio_tcp", get_rtcp},
    {"compression_ratio_batches", get_rbat},
    {"wall_s", get_wall},
    {"records_per_batch", get_rpb},
    {"zstd_alone_ns_per_record", get_zns},
    {"zstd_alone_ratio", get_zrat},
    {"cpu_outside_zstd_ns_per_record", get_outside},
    {"zstd_in_funneld_ns_per_record", get_zsitu},
    {"cpu_outside_zstd_in_funneld_ns_per_record", get_ositu},
};
#define NMETRICS (sizeof(metrics) / sizeof(metrics[0]))

static int clients_list(const struct bench_results *rs, int *out, int cap)
{
	int n = 0;
	for (int i = 0; i < rs->n; i++) {
		if (!in_setting(&rs->r[i]))
			continue;
		int c = rs->r[i].clients, k;
		for (k = 0; k < n && out[k] != c; k++)
			;
		if (k == n && n < cap)
			out[n++] = c;
	}
	return n;
}

static int runs_of(const struct bench_results *rs, enum bench_mode m, int clients, int *ok)
{
	int n = 0;
	*ok = 0;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].mode == m && rs->r[i].clients == clients && in_setting(&rs->r[i])) {
			n++;
			*ok += rs->r[i].ok;
		}
	return n;
}

GETTER(c99, r->control_ns[1])
GETTER(c999, r->control_ns[2])

static void slow_row(const char *what, int clients, const struct bench_slow *s, uint64_t recs,
                     double p99, double p999)
{
	double n = s->calls ? (double)s->calls : 1;
	printf("%-26s %4d %8.0f %9.0f %9llu %10.1f %7.1f%% %9.1f %8.1f %7.1f%% %8.1f%% %7.1f%%\n",
	       what, clients, p99, p999, (unsigned long long)s->calls,
	       (double)s->calls * 1e6 / (double)recs, 100.0 * (double)s->offcpu / n,
	       (double)s->wall_ns / n / 1e3, (double)s->cpu_ns / n / 1e3,
	       100.0 * (double)s->faulted / n, 100.0 * (double)s->preempted / n,
	       100.0 * (double)s->blocked / n);
}

/* --slow-ns: per mode, the append call next to the control (a plain copy of the
 * same bytes timed next to it, before or after it half the time each): p99/p99.9 (medians over
 * rounds), then the calls of at least slow_ns summed over every round: how many, per million
 * records, how many spent most of their time off CPU, mean wall and CPU time
 * of the thread, and how many took a page fault / were preempted / blocked. */
static void report_slow(const struct bench_opts *o, const struct bench_results *rs, const int *cl,
                        int ncl)
{
	printf("\nslow calls (>= %.1f us), all rounds; control = a copy of the same record into "
	       "a private buffer, timed next to each append (before or after it, half each)\n",
	       (double)o->slow_ns / 1e3);
	printf("%-26s %4s %8s %9s %9s %10s %8s %9s %8s %8s %9s %8s\n", "call", "cli", "p99_ns",
	       "p999_ns", "slow", "per_M", "off_cpu", "wall_us", "cpu_us", "faulted", "preempted",
	       "blocked");
	for (int c = 0; c < ncl; c++)
		for (int m = 0; m < MODE_N; m++) {
			struct bench_slow s = {0}, k = {0};
			uint64_t recs = 0;
			for (int i = 0; i < rs->n; i++) {
				const struct bench_result *r = &rs->r[i];
				if ((int)r->mode != m || r->clients != cl[c] || !r->ok ||
				    !in_setting(r))
					continue;
				bench_slow_add(&s, &r->slow);
				bench_slow_add(&k, &r->control_slow);
				recs += r->acked;
			}
			if (!recs)
				continue;
			char name[40];
			enum bench_mode bm = (enum bench_mode)m;
			slow_row(bench_mode_names[m], cl[c], &s, recs, bench_median(rs, bm, cl[c], get_a99),
			         bench_median(rs, bm, cl[c], get_a999));
			snprintf(name, sizeof(name), "  control (%s)", bench_mode_names[m]);
			slow_row(name, cl[c], &k, recs, bench_median(rs, bm, cl[c], get_c99),
			         bench_median(rs, bm, cl[c], get_c999));
		}
}

static void setting_name(const struct bench_opts *o, int st, char *buf, size_t cap)
{
	if (o->settings[st])
		snprintf(buf, cap, "both at batch.size %d, linger.ms %d", o->settings[st],
		         o->linger_ms);
	else
		snprintf(buf, cap, "each at its own defaults (funneld's; librdkafka: batch.size "
		                   "1000000, batch.num.messages 10000, linger.ms 5)");
}

static void table_one(const struct bench_opts *o, const struct bench_results *rs)
{
	int cl[16], ncl = clients_list(rs, cl, 16);
	printf("%-18s %4s %5s %10s %7s %9s %8s %8s %8s %9s %8s %8s %8s %8s %10s %6s %6s %5s %7s "
	       "%6s %6s %7s\n",
	       "mode", "cli", "ok", "rec/s", "MB/s", "cpu_s/M", "dmn_ns", "app_p50", "app_p99",
	       "app_p999", "e2e_p50", "e2e_p99", "e2e_p999", "requests", "bytes_tx", "r_tcp",
	       "r_bat", "conns", "rec/bat", "zstd", "z_rat", "outside");
	printf("%-18s %4s %5s %10s %7s %9s %8s %8s %8s %9s %8s %8s %8s %8s %10s %6s %6s %5s %7s "
	       "%6s %6s %7s\n",
	       "", "", "", "", "", "", "", "ns", "ns", "ns", "us", "us", "us", "", "", "", "", "",
	       "", "ns", "", "ns");
	for (int c = 0; c < ncl; c++)
		for (int m = 0; m < MODE_N; m++) {
			int ok, n = runs_of(rs, (enum bench_mode)m, cl[c], &ok);
			if (!n)
				continue;
			double v[NMETRICS];
			for (size_t k = 0; k < NMETRICS; k++)
				v[k] = bench_median(rs, (enum bench_mode)m, cl[c], metrics[k].get);
			char okc[32];
			snprintf(okc, sizeof(okc), "%d/%d", ok, n);
			printf("%-18s %4d %5s %10.0f %7.1f %9.2f %8.0f %8.0f %8.0f %9.0f %8.0f %8.0f "
			       "%8.0f %8.0f %10.0f %6.2f %6.2f %5.0f",
			       bench_mode_names[m], cl[c], okc, v[0], v[1], v[2], v[3], v[4], v[5],
			       v[6], v[7] / 1e3, v[8] / 1e3, v[9] / 1e3, v[10], v[11], v[13], v[14],
			       v[12]);
			if (bench_mode_is_funnel(m))
				printf(" %7.0f %6.0f %6.2f %7.0f\n", v[16], v[17], v[18], v[19]);
			else
				printf(" %7s %6s %6s %7s\n", "-", "-", "-", "-");
		}
	if (o->slow_ns)
		report_slow(o, rs, cl, ncl);
}

/* One table per setting; the first setting is the headline. zstd = zstd alone
 * on the same records in batches of funnel's mean size (rec/bat), at the same
 * level; outside = funnel's CPU per record (clients + funneld) minus that. */
void bench_report_table(const struct bench_opts *o, const struct bench_results *rs)
{
	int fl = o->funnel_level >= 0 ? o->funnel_level
	         : o->zstd_level >= 0  ? o->zstd_level
	                               : o->funneld_default_level;
	printf("\nfunnel-bench: %d x %ld records, corpus %s (%d bytes unless file:), %s keys, "
	       "rate %s, %d partitions, zstd level: funneld %d%s, librdkafka %d%s, acks=all, "
	       "idempotent; medians over rounds\n",
	       o->clients, o->records, o->corpus_kind, o->value_bytes, o->keys ? "K distinct" : "null",
	       o->rate ? "limited" : "flat-out", o->partitions, fl,
	       o->funnel_level < 0 && o->zstd_level < 0 ? " (its default)" : "",
	       o->zstd_level >= 0 ? o->zstd_level : 3, o->zstd_level >= 0 ? "" : " (its default)");
	for (int st = 0; st < o->nsettings; st++) {
		char name[200];
		setting_name(o, st, name, sizeof(name));
		printf("\n%s: %s\n", st == 0 ? "headline" : "same settings", name);
		bench_report_setting(st);
		table_one(o, rs);
	}
	bench_report_setting(-1);
}

struct target {
	const char *name;
	double measured, goal;
	bool higher_better;
	const char *unit;
};

static int targets(const struct bench_opts *o, const struct bench_results *rs, struct target *t)
{
	int c = o->clients;
	bench_report_setting(0); /* the headline: each producer at its own defaults */
	double f_rps = bench_median(rs, MODE_FUNNEL, c, get_rps);
	double r_rps = bench_median(rs, MODE_RDK, c, get_rps);
	double s_rps = bench_median(rs, MODE_RDK_SINGLE, c, get_rps);
	double f_cpu = bench_median(rs, MODE_FUNNEL, c, get_cpu);
	double r_cpu = bench_median(rs, MODE_RDK, c, get_cpu);
	double f_rat = bench_median(rs, MODE_FUNNEL, c, o->rawfetch ? get_rbat : get_rtcp);
	double f_dns = bench_median(rs, MODE_FUNNEL, c, get_dns);
	double r_rat = bench_median(rs, MODE_RDK, c, o->rawfetch ? get_rbat : get_rtcp);
	int n = 0;
	t[n++] = (struct target){"funnel rec/s vs librdkafka (8 producers)", f_rps / r_rps, 2, true,
	                         "x"};
	t[n++] = (struct target){"funnel CPU per record vs librdkafka", f_cpu / r_cpu, 0.5,
	                         false, "x"};
	t[n++] = (struct target){"funnel CPU per record outside zstd",
	                         bench_median(rs, MODE_FUNNEL, c, get_outside), 80, false, "ns"};
	/* the same, less funneld's own compression time (zstd inside funneld,
	 * where it shares the core's caches with ingest) instead of zstd alone */
	t[n++] = (struct target){"  ... less funneld's own zstd time",
	                         bench_median(rs, MODE_FUNNEL, c, get_ositu), 80, false, "ns"};
	t[n++] = (struct target){"funnel rec/s vs librdkafka-single", f_rps / s_rps, 1, true, "x"};
	t[n++] = (struct target){"fnl_produce p50", bench_median(rs, MODE_FUNNEL, c, get_a50), 50,
	                         false, "ns"};
	t[n++] = (struct target){"fnl_produce p99.9", bench_median(rs, MODE_FUNNEL, c, get_a999),
	                         2000, false, "ns"};
	t[n++] = (struct target){"funneld CPU per record (incl. zstd)",
	                         bench_median(rs, MODE_FUNNEL, c, get_dns), 400, false, "ns"};
	t[n++] = (struct target){"compression ratio vs librdkafka", f_rat / r_rat,
	                         o->rate ? 1.3 : 1.0, true, "x"};
	/* compression workers (issue 17 item 3): the same run's funnel-cores
	 * mode against funnel on one core (NaN when not run) */
	double m_rps = bench_median(rs, MODE_FUNNEL_CORES, c, get_rps);
	double m_cpu = bench_median(rs, MODE_FUNNEL_CORES, c, get_cpu);
	/* the first two targets with every listed core working (the funnel rows
	 * above are funneld on one core) */
	t[n++] = (struct target){"funnel-cores rec/s vs librdkafka (8 producers)", m_rps / r_rps, 2,
	                         true, "x"};
	t[n++] = (struct target){"funnel-cores CPU per record vs librdkafka", m_cpu / r_cpu, 0.5,
	                         false, "x"};
	t[n++] = (struct target){"funnel-cores rec/s vs funnel (one core)", m_rps / f_rps, 1, true,
	                         "x"};
	t[n++] = (struct target){"funnel-cores CPU per record vs funnel", m_cpu / f_cpu, 1.2, false,
	                         "x"};
	/* funneld's CPU outside its workers (the data-plane core and ctrl) per
	 * record: the bound on rec/s when the workers' CPUs have time to spare */
	t[n++] = (struct target){"funnel-cores funneld CPU outside workers vs funnel",
	                         bench_median(rs, MODE_FUNNEL_CORES, c, get_core0) / f_dns, 1, false,
	                         "x"};
	/* one data-plane core: brokers x 1; the ctrl thread's metadata
	 * connection is counted apart (it is not a data-plane connection) */
	t[n++] =
	    (struct target){"funneld broker connections (all threads)",
	                    bench_median(rs, MODE_FUNNEL, c, get_conns), o->brokers + 1, false, ""};
	bench_report_setting(-1);
	return n;
}

void bench_report_targets(const struct bench_opts *o, const struct bench_results *rs, FILE *f,
                          bool json)
{
	struct target t[24];
	int n = targets(o, rs, t);
	if (!json)
		fprintf(f, "\ntargets (issue 17, headline setting):\n");
	for (int i = 0; i < n; i++) {
		bool known = !isnan(t[i].measured) && !isinf(t[i].measured);
		bool met = known && (t[i].higher_better ? t[i].measured >= t[i].goal
		                                        : t[i].measured <= t[i].goal);
		if (json)
			fprintf(
			    f,
			    "%s\n    {\"name\": \"%s\", \"goal\": %.4g, \"higher_is_better\": %s, "
			    "\"measured\": %.4g, \"met\": %s}",
			    i ? "," : "", t[i].name, t[i].goal,
			    t[i].higher_better ? "true" : "false", known ? t[i].measured : -1,
			    known ? (met ? "true" : "false") : "null");
		else
			fprintf(f, "  %-44s %s %8.3g%-2s  measured %8.3g%-2s  %s\n", t[i].name,
			        t[i].higher_better ? ">=" : "<=", t[i].goal, t[i].unit,
			        t[i].measured, t[i].unit,
			        !known ? "n/a"
			        : met  ? "MET"
			               : "MISSED");
	}
}

static void json_hist_cdf(FILE *f, const struct bench_results *rs, enum bench_mode m, int clients,
                          bool append)
{
	struct bench_hist *h = calloc(1, sizeof(*h));
	if (!h)
		return;
	for (int i = 0; i < rs->n; i++)
		if (rs->r[i].mode == m && rs->r[i].clients == clients && rs->r[i].ok &&
		    in_setting(&rs->r[i]))
			bench_hist_merge(h, append ? rs->r[i].append : rs->r[i].e2e);
	fputc('[', f);
	uint64_t seen = 0;
	bool first = true;
	for (int b = 0; b < BENCH_HIST_BUCKETS && h->n; b++) {
		if (!h->b[b])
			continue;
		seen += h->b[b];
		fprintf(
		    f, "%s[%llu, %.6f]", first ? "" : ", ",
		    (unsigned long long)bench_hist_lower(b + 1 < BENCH_HIST_BUCKETS ? b + 1 : b),
		    (double)seen / (double)h->n);
		first = false;
	}
	fputc(']', f);
	free(h);
}

static void json_num(FILE *f, const char *k, double v, bool comma)
{
	if (isnan(v) || isinf(v))
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": %.6g%s", k, v, comma ? ", " : "");
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

int bench_report_json(const struct bench_opts *o, const struct bench_results *rs,
                      const char *cmdline, double timer_ns)
{
	FILE *f = fopen(o->json, "w");
	if (!f) {
		fprintf(stderr, "funnel-bench: %s: %s\n", o->json, strerror(errno));
		return -errno;
	}
	struct utsname u;
	uname(&u);
	fprintf(f, "{\n  \"command\": ");
	json_str(f, cmdline);
	fprintf(
	    f,
	    ",\n  \"machine\": {\"cpus\": %ld, \"kernel\": \"%s\"},\n"
	    "  \"config\": {\"clients\": %d, \"records_per_client\": %ld, \"value_bytes\": %d, "
	    "\"keys\": %d, \"rate\": %ld, \"partitions\": %d, \"brokers\": %d, \"corpus\": \"%s\", "
	    "\"zstd_level\": %d, \"funnel_zstd_level\": %d, \"funneld_default_zstd_level\": %d, "
	    "\"linger_ms\": %d, \"rounds\": %d, \"sweep\": %s, \"pinned\": %s, \"sched_batch\": %s, "
	    "\"slow_ns\": %llu, \"time_every\": %d},\n"
	    "  \"tsc_ns_per_tick\": %.6f,\n  \"timer_overhead_ns\": %.1f,\n  \"runs\": [",
	    sysconf(_SC_NPROCESSORS_ONLN), u.release, o->clients, o->records, o->value_bytes,
	    o->keys, o->rate, o->partitions, o->brokers, o->corpus_kind, o->zstd_level,
	    o->funnel_level, o->funneld_default_level, o->linger_ms,
	    o->rounds,
	    o->sweep ? "true" : "false", o->pin ? "true" : "false",
	    o->sched_batch ? "true" : "false", (unsigned long long)o->slow_ns, o->time_every, o->tsc_ns,
	    timer_ns);
	for (int i = 0; i < rs->n; i++) {
		const struct bench_result *r = &rs->r[i];
		fprintf(f,
		        "%s\n    {\"mode\": \"%s\", \"setting\": %d, \"batch_size\": %d, "
		        "\"clients\": %d, \"round\": %d, \"ok\": %s, ",
		        i ? "," : "", bench_mode_names[r->mode], r->setting, r->batch_size,
		        r->clients, r->round + 1, r->ok ? "true" : "false");
		fprintf(f, "\"error\": ");
		json_str(f, r->err);
		fprintf(f, ", \"records\": %ld, \"acked\": %llu, \"failed\": %llu, ", r->records,
		        (unsigned long long)r->acked, (unsigned long long)r->failed);
		json_num(f, "cpu_clients_s", r->cpu_clients_s, true);
		json_num(f, "cpu_clients_process_s", r->cpu_clients_proc_s, true);
		json_num(f, "cpu_funneld_s", r->cpu_daemon_s, true);
		json_num(f, "cpu_funneld_life_s", r->cpu_daemon_life_s, true);
		fprintf(f, "\"queue_full_retries\": %llu, \"batches_read\": %llu, ",
		        (unsigned long long)r->eagain, (unsigned long long)r->batches_read);
		if (bench_mode_is_funnel(r->mode))
			fprintf(f,
			        "\"sealed_full\": %llu, \"sealed_linger\": %llu, "
			        "\"sealed_pool_empty\": %llu, ",
			        (unsigned long long)r->seals[0], (unsigned long long)r->seals[1],
			        (unsigned long long)r->seals[2]);
		if (bench_mode_is_funnel(r->mode))
			fprintf(f,
			        "\"compressed_by_core0\": %llu, \"compressed_by_workers\": %llu, "
			        "\"workers_cpu_s\": %.6f, \"funneld_ns_per_record_outside_workers\": %.1f, ",
			        (unsigned long long)r->zbatches[0], (unsigned long long)r->zbatches[1],
			        r->worker_cpu_s, r->core0_ns_per_rec);
		if (o->slow_ns) {
			fprintf(
			    f,
			    "\"slow_calls\": %llu, \"slow_offcpu_calls\": %llu, "
			    "\"slow_wall_ns\": %llu, \"slow_cpu_ns\": %llu, "
			    "\"slow_faulted_calls\": "
			    "%llu, \"slow_preempted_calls\": %llu, \"slow_blocked_calls\": %llu, ",
			    (unsigned long long)r->slow.calls, (unsigned long long)r->slow.offcpu,
			    (unsigned long long)r->slow.wall_ns, (unsigned long long)r->slow.cpu_ns,
			    (unsigned long long)r->slow.faulted,
			    (unsigned long long)r->slow.preempted,
			    (unsigned long long)r->slow.blocked);
			json_num(f, "control_p99_ns", r->control_ns[1], true);
			json_num(f, "control_p999_ns", r->control_ns[2], true);
			fprintf(f, "\"control_slow_calls\": %llu, ",
			        (unsigned long long)r->control_slow.calls);
		}
		for (size_t k = 0; k < NMETRICS; k++)
			json_num(f, metrics[k].json, metrics[k].get(r), k + 1 < NMETRICS);
		fputc('}', f);
	}
	fprintf(f, "\n  ],\n  \"medians\": [");
	bool first = true;
	for (int st = 0; st < o->nsettings; st++) {
	bench_report_setting(st);
	int cl[16], ncl = clients_list(rs, cl, 16);
	for (int c = 0; c < ncl; c++)
		for (int m = 0; m < MODE_N; m++) {
			int ok, n = runs_of(rs, (enum bench_mode)m, cl[c], &ok);
			if (!n)
				continue;
			fprintf(f,
			        "%s\n    {\"mode\": \"%s\", \"setting\": %d, \"batch_size\": %d, "
			        "\"clients\": %d, \"runs\": %d, \"runs_ok\": %d, ",
			        first ? "" : ",", bench_mode_names[m], st, o->settings[st], cl[c], n,
			        ok);
			first = false;
			for (size_t k = 0; k < NMETRICS; k++)
				json_num(
				    f, metrics[k].json,
				    bench_median(rs, (enum bench_mode)m, cl[c], metrics[k].get),
				    k + 1 < NMETRICS);
			fputc('}', f);
		}
	}
	fprintf(f, "\n  ],\n  \"cdf\": {");
	bench_report_setting(0); /* the headline's */
	first = true;
	for (int m = 0; m < MODE_N; m++) {
		int ok;
		if (!runs_of(rs, (enum bench_mode)m, o->clients, &ok))
			continue;
		fprintf(f, "%s\n    \"%s\": {\"append_ns\": ", first ? "" : ",",
		        bench_mode_names[m]);
		json_hist_cdf(f, rs, (enum bench_mode)m, o->clients, true);
		fprintf(f, ",\n      \"e2e_ns\": ");
		json_hist_cdf(f, rs, (enum bench_mode)m, o->clients, false);
		fputc('}', f);
		first = false;
	}
	bench_report_setting(-1);
	fprintf(f, "\n  },\n  \"targets\": [");
	if (!o->sweep)
		bench_report_targets(o, rs, f, true);
	fprintf(f, "\n  ]\n}\n");
	int rc = ferror(f) ? -EIO : 0;
	if (fclose(f) != 0)
		rc = -EIO;
	return rc;
}

/* ---- gnuplot ---- */

static int write_cdf(const char *path, const struct bench_results *rs, enum bench_mode m,
                     int clients, bool append)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	struct bench_hist *h = calloc(1, sizeof(*h));
	if (h) {
		for (int i = 0; i < rs->n; i++)
			if (rs->r[i].mode == m && rs->r[i].clients == clients && rs->r[i].ok &&
			    in_setting(&rs->r[i]))
				bench_hist_merge(h, append ? rs->r[i].append : rs->r[i].e2e);
		uint64_t seen = 0;
		for (int b = 0; b < BENCH_HIST_BUCKETS && h->n; b++) {
			if (!h->b[b])
				continue;
			seen += h->b[b];
			fprintf(f, "%llu %.6f\n", (unsigned long long)bench_hist_lower(b + 1),
			        (double)seen / (double)h->n);
		}
		free(h);
	}
	fclose(f);
	return 0;
}

static void plot_modes(FILE *g, const struct bench_opts *o, const struct bench_results *rs)
{
	fprintf(g,
	        "set multiplot layout 2,2 title 'funnel-bench: %d clients x %ld records x %d "
	        "B, zstd, idempotent, linger.ms=%d (medians)'\n",
	        o->clients, o->records, o->value_bytes, o->linger_ms);
	fprintf(g, "set style data histograms\nset style fill solid 0.6\nset boxwidth 0.7\n"
	           "set grid ytics\nunset key\n");
	const char *ttl[2] = {"acknowledged records/s", "CPU seconds per million records"};
	bench_getter get[2] = {get_rps, get_cpu};
	for (int p = 0; p < 2; p++) {
		fprintf(g, "set title '%s'\nset yrange [0:*]\n", ttl[p]);
		fprintf(g, "plot '-' using 2:xtic(1) title ''\n");
		for (int m = 0; m < MODE_N; m++) {
			double v = bench_median(rs, (enum bench_mode)m, o->clients, get[p]);
			if (!isnan(v))
				fprintf(g, "\"%s\" %g\n", bench_mode_names[m], v);
		}
		fprintf(g, "e\n");
	}
	fprintf(g,
	        "set style data lines\nset logscale x\nset key bottom right\nset yrange [0:1]\n");
	const char *cdf[2] = {"append", "e2e"};
	const char *cdft[2] = {"append latency CDF (ns)", "append -> delivery report CDF (ns)"};
	for (int p = 0; p < 2; p++) {
		fprintf(g, "set title '%s'\nplot ", cdft[p]);
		bool first = true;
		for (int m = 0; m < MODE_N; m++) {
			int ok;
			if (!runs_of(rs, (enum bench_mode)m, o->clients, &ok) || !ok)
				continue;
			fprintf(g, "%s'%s/cdf-%s-%s.dat' using 1:2 with lines lw 2 title '%s'",
			        first ? "" : ", ", o->tmpdir, bench_mode_names[m], cdf[p],
			        bench_mode_names[m]);
			first = false;
		}
		fprintf(g, first ? "NaN notitle\n" : "\n");
	}
	fprintf(g, "unset multiplot\n");
}

static void plot_sweep(FILE *g, const struct bench_opts *o, const struct bench_results *rs)
{
	int cl[16], ncl = clients_list(rs, cl, 16);
	fprintf(g,
	        "set multiplot layout 1,2 title 'funnel-bench sweep: %ld records in total, %d "
	        "B, zstd, idempotent (medians)'\n",
	        (long)o->clients * o->records, o->value_bytes);
	fprintf(g, "set logscale x 2\nset grid\nset key top left\nset xlabel 'client processes'\n");
	const char *ttl[2] = {"acknowledged records/s", "CPU seconds per million records"};
	bench_getter get[2] = {get_rps, get_cpu};
	for (int p = 0; p < 2; p++) {
		fprintf(g, "set title '%s'\nset yrange [0:*]\nplot ", ttl[p]);
		bool first = true;
		for (int m = 0; m < MODE_N; m++) {
			int ok, any = 0;
			for (int c = 0; c < ncl; c++)
				any += runs_of(rs, (enum bench_mode)m, cl[c], &ok);
			if (!any)
				continue;
			fprintf(g, "%s'-' using 1:2 with linespoints lw 2 title '%s'",
			        first ? "" : ", ", bench_mode_names[m]);
			first = false;
		}
		fputc('\n', g);
		for (int m = 0; m < MODE_N; m++) {
			int ok, any = 0;
			for (int c = 0; c < ncl; c++)
				any += runs_of(rs, (enum bench_mode)m, cl[c], &ok);
			if (!any)
				continue;
			for (int c = 0; c < ncl; c++) {
				double v = bench_median(rs, (enum bench_mode)m, cl[c], get[p]);
				if (!isnan(v))
					fprintf(g, "%d %g\n", cl[c], v);
			}
			fprintf(g, "e\n");
		}
	}
	fprintf(g, "unset multiplot\n");
}

static int plot_impl(const struct bench_opts *o, const struct bench_results *rs);

/* the plot shows the headline setting */
int bench_report_plot(const struct bench_opts *o, const struct bench_results *rs)
{
	bench_report_setting(0);
	int rc = plot_impl(o, rs);
	bench_report_setting(-1);
	return rc;
}

static int plot_impl(const struct bench_opts *o, const struct bench_results *rs)
{
	char path[700];
	for (int m = 0; m < MODE_N; m++) {
		snprintf(path, sizeof(path), "%s/cdf-%s-append.dat", o->tmpdir,
		         bench_mode_names[m]);
		write_cdf(path, rs, (enum bench_mode)m, o->clients, true);
		snprintf(path, sizeof(path), "%s/cdf-%s-e2e.dat", o->tmpdir, bench_mode_names[m]);
		write_cdf(path, rs, (enum bench_mode)m, o->clients, false);
	}
	snprintf(path, sizeof(path), "%s/plot.gp", o->tmpdir);
	FILE *g = fopen(path, "w");
	if (!g)
		return -errno;
	fprintf(g, "set terminal pngcairo size 1400,%d font ',10'\nset output '%s'\n",
	        o->sweep ? 600 : 1000, o->plot);
	if (o->sweep)
		plot_sweep(g, o, rs);
	else
		plot_modes(g, o, rs);
	fclose(g);
	char cmd[1600];
	snprintf(cmd, sizeof(cmd), "gnuplot '%s'", path);
	int rc = system(cmd);
	if (rc != 0) {
		fprintf(stderr, "funnel-bench: gnuplot failed (%d); is gnuplot-nox installed?\n",
		        rc);
		return -EIO;
	}
	return 0;
}
