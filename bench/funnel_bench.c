/* funnel_bench.c - funnel-bench: funnel vs librdkafka, side by side.
 *
 *   funnel-bench [--clients M] [--records R] [--value-bytes S] [--keys K] [--rate N]
 *                [--partitions P] [--brokers B] [--batch-size N] [--linger-ms N]
 *                [--settings own,16384,1000000] [--corpus json|hex|file:PATH]
 *                [--zstd-level N] [--security ssl --ssl-ca FILE]
 *                [--rounds N] [--modes funnel,librdkafka,librdkafka-single] [--sweep]
 *                [--bootstrap H:P,...] [--no-rawfetch] [--no-pin] [--sched-batch]
 *                [--slow-ns NS] [--json FILE] [--plot FILE.png] [--funneld PATH] [--mockbroker
 * PATH] [--rawfetch PATH]
 *
 * One invocation starts one broker (fnl-mockbroker, unless --bootstrap), then
 * for each round runs every selected mode in turn (A B C A B C ...), each on
 * a fresh topic. Per run: M client processes (fork) wait at a start line,
 * produce R records each, flush; the parent merges what they wrote into the
 * shared area (bench.h). See bench/README.md for what each figure means.
 * Exit status: 0, or 1 if any run acknowledged fewer records than produced.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "bench_run.h"

#define RUN_TIMEOUT_S 240

struct broker {
	pid_t pid;
	FILE *in, *out;
	char bootstrap[512];
};

static volatile sig_atomic_t g_stop;
static void on_sig(int s)
{
	(void)s;
	g_stop = 1;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: funnel-bench [options]\n"
	    "  --clients M          client processes (default 8)\n"
	    "  --records R          records per client (default 250000)\n"
	    "  --value-bytes S      record size (json, hex; default 100)\n"
	    "  --corpus KIND        json: unique log lines (default), hex: random hex (~2:1),\n"
	    "                       file:PATH: the file's lines (repeated only if too few)\n"
	    "  --keys K             K distinct keys (default 0: null keys)\n"
	    "  --rate N             total target records/s (default 0: flat out)\n"
	    "  --partitions P       partitions of each run's topic (default 12)\n"
	    "  --brokers B          mock brokers (default 5)\n"
	    "  --settings LIST      settings run in turn: own (each producer's own defaults:\n"
	    "                       funneld's, librdkafka's batch.size 1000000,\n"
	    "                       batch.num.messages 10000, linger.ms 5) or a batch.size\n"
	    "                       for both (default own,16384,1000000)\n"
	    "  --batch-size N       one setting: batch.size N for both (= --settings N)\n"
	    "  --linger-ms N        linger.ms of numeric settings (default 5)\n"
	    "  --zstd-level N       zstd level for both (default: each one's own, 3)\n"
	    "  --funnel-zstd-level N  funneld's level alone (librdkafka keeps --zstd-level)\n"
	    "  --calib-sweep        no runs: zstd alone on the corpus (3 rounds, medians) at\n"
	    "                       levels 1-3 in batches of 16 KiB to 1 MB of records\n"
	    "  --rounds N           rounds, modes alternate inside each (default 5)\n"
	    "  --modes LIST         funnel,librdkafka,librdkafka-single,funnel-cores\n"
	    "                       (default the first three; funnel-cores: funneld with\n"
	    "                       funnel.cores=--funnel-cores, compression workers)\n"
	    "  --funnel-cores LIST  funnel.cores of the funnel-cores mode (default 0,1)\n"
	    "  --sweep              clients 1,2,4,8,16,64 at the same total record count\n"
	    "  --bootstrap LIST     use this broker instead of starting fnl-mockbroker\n"
	    "  --security ssl       funneld and librdkafka both over TLS (security.protocol=SSL,\n"
	    "                       certificate and host checked; bench/secure_rig.sh runs the\n"
	    "                       mock behind socat TLS terminators); implies --no-rawfetch\n"
	    "  --ssl-ca FILE        the CA both check the brokers' certificates with\n"
	    "  --no-rawfetch        skip reading batches back (compression ratio from TCP only)\n"
	    "  --no-pin             do not pin funneld to CPU 0 and funnel clients to CPU 1\n"
	    "  --client-cpus LIST   pin client i of every mode (librdkafka's too) to the i-th\n"
	    "                       CPU of LIST, round robin (8-15, 2,3,6): the scaling runs\n"
	    "                       keep clients off funnel.cores (bench/scaling.sh)\n"
	    "  --sched-batch        clients (every mode) run SCHED_BATCH: no wake-up preemption\n"
	    "  --slow-ns NS         diagnose append calls >= NS: the thread's CPU time, page\n"
	    "                       faults, preemptions, blocking (getrusage before and after\n"
	    "                       each call, outside the timed window; summary and JSON)\n"
	    "  --time-every N       time 1 append call in N (power of two, default 64; 1 = all)\n"
	    "                       for the append and e2e latency histograms, in every mode,\n"
	    "                       so the rig's TSC reads do not weigh on the CPU per record\n"
	    "  --json FILE          write every run and the medians as JSON\n"
	    "  --plot FILE.png      gnuplot: throughput, CPU/record, latency CDFs (or sweep)\n"
	    "  --funneld/--mockbroker/--rawfetch PATH   tools (default: from the build dir)\n"
	    "  --quiet              no progress line\n");
}

static int parse_modes(struct bench_opts *o, char *list)
{
	memset(o->modes, 0, sizeof(o->modes));
	for (char *sv, *t = strtok_r(list, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
		int m;
		for (m = 0; m < MODE_N; m++)
			if (!strcmp(t, bench_mode_names[m]))
				break;
		if (m == MODE_N)
			return -1;
		o->modes[m] = true;
	}
	return 0;
}

static int parse_settings(struct bench_opts *o, char *list)
{
	o->nsettings = 0;
	for (char *sv, *t = strtok_r(list, ",", &sv); t; t = strtok_r(NULL, ",", &sv)) {
		if (o->nsettings == 8)
			return -1;
		int v = strcmp(t, "own") ? atoi(t) : 0;
		if (strcmp(t, "own") && v < 512)
			return -1;
		o->settings[o->nsettings++] = v;
	}
	return o->nsettings ? 0 : -1;
}

/* default tool paths, next to this executable in the build tree */
static char g_tool_paths[3][4200];

static const char *tool_path(int slot, const char *exe_dir, const char *rel)
{
	snprintf(g_tool_paths[slot], sizeof(g_tool_paths[slot]), "%s/%s", exe_dir, rel);
	return g_tool_paths[slot];
}

/* "8-15", "2,3,6", "4-5,9": CPUs in order into out; -EINVAL on anything else */
static int parse_cpus(const char *s, int *out, int cap, int *n)
{
	*n = 0;
	while (*s) {
		char *e;
		long a = strtol(s, &e, 10), b = a;
		if (e == s || a < 0 || a > 4095)
			return -EINVAL;
		if (*e == '-') {
			const char *f = e + 1;
			b = strtol(f, &e, 10);
			if (e == f || b < a || b > 4095)
				return -EINVAL;
		}
		for (long c = a; c <= b; c++) {
			if (*n == cap)
				return -EINVAL;
			out[(*n)++] = (int)c;
		}
		if (*e == ',')
			e++;
		else if (*e)
			return -EINVAL;
		s = e;
	}
	return *n > 0 ? 0 : -EINVAL;
}

static int parse_opts(int argc, char **argv, struct bench_opts *o)
{
	static const struct option lo[] = {{"clients", 1, 0, 'c'},
	                                   {"records", 1, 0, 'n'},
	                                   {"value-bytes", 1, 0, 's'},
	                                   {"keys", 1, 0, 'k'},
	                                   {"rate", 1, 0, 'r'},
	                                   {"partitions", 1, 0, 'p'},
	                                   {"brokers", 1, 0, 'b'},
	                                   {"batch-size", 1, 0, 'B'},
	                                   {"linger-ms", 1, 0, 'l'},
	                                   {"rounds", 1, 0, 'R'},
	                                   {"modes", 1, 0, 'm'},
	                                   {"sweep", 0, 0, 'S'},
	                                   {"bootstrap", 1, 0, 'x'},
	                                   {"no-rawfetch", 0, 0, 'F'},
	                                   {"no-pin", 0, 0, 'P'},
	                                   {"funnel-cores", 1, 0, 'C'},
	                                   {"client-cpus", 1, 0, 14},
	                                   {"sched-batch", 0, 0, 4},
	                                   {"slow-ns", 1, 0, 5},
	                                   {"time-every", 1, 0, 13},
	                                   {"json", 1, 0, 'j'},
	                                   {"plot", 1, 0, 'g'},
	                                   {"funneld", 1, 0, 1},
	                                   {"mockbroker", 1, 0, 2},
	                                   {"rawfetch", 1, 0, 3},
	                                   {"quiet", 0, 0, 'q'},
	                                   {"corpus", 1, 0, 6},
	                                   {"settings", 1, 0, 7},
	                                   {"zstd-level", 1, 0, 8},
	                                   {"funnel-zstd-level", 1, 0, 9},
	                                   {"calib-sweep", 0, 0, 10},
	                                   {"security", 1, 0, 11},
	                                   {"ssl-ca", 1, 0, 12},
	                                   {"help", 0, 0, 'h'},
	                                   {0, 0, 0, 0}};
	*o = (struct bench_opts){.clients = 8,
	                         .records = 250000,
	                         .value_bytes = 100,
	                         .partitions = 12,
	                         .brokers = 3,
	                         .settings = {0, 16384, 1000000},
	                         .nsettings = 3,
	                         .zstd_level = -1,
	                         .funnel_level = -1,
	                         .corpus_kind = "json",
	                         .linger_ms = 5,
	                         .rounds = 5,
	                         .time_every = 64,
	                         .rawfetch = true,
	                         .pin = true,
	                         .funnel_cores = "0,1",
	                         .modes = {true, true, true, false}};
	int c;
	while ((c = getopt_long(argc, argv, "c:n:s:k:r:p:b:B:l:R:m:Sx:FPj:g:qhC:", lo, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->clients = atoi(optarg);
			break;
		case 'n':
			o->records = atol(optarg);
			break;
		case 's':
			o->value_bytes = atoi(optarg);
			break;
		case 'k':
			o->keys = atoi(optarg);
			break;
		case 'r':
			o->rate = atol(optarg);
			break;
		case 'C':
			o->funnel_cores = optarg;
			break;
		case 'p':
			o->partitions = atoi(optarg);
			break;
		case 'b':
			o->brokers = atoi(optarg);
			break;
		case 'B':
			o->settings[0] = atoi(optarg);
			o->nsettings = 1;
			break;
		case 7:
			if (parse_settings(o, optarg) < 0)
				return -1;
			break;
		case 6:
			o->corpus_kind = optarg;
			break;
		case 8:
			o->zstd_level = atoi(optarg);
			break;
		case 9:
			o->funnel_level = atoi(optarg);
			break;
		case 10:
			o->calib_sweep = true;
			break;
		case 'l':
			o->linger_ms = atoi(optarg);
			break;
		case 'R':
			o->rounds = atoi(optarg);
			break;
		case 'm':
			if (parse_modes(o, optarg) < 0)
				return -1;
			break;
		case 'S':
			o->sweep = true;
			break;
		case 'x':
			o->bootstrap = optarg;
			break;
		case 'F':
			o->rawfetch = false;
			break;
		case 'P':
			o->pin = false;
			break;
		case 'j':
			o->json = optarg;
			break;
		case 'g':
			o->plot = optarg;
			break;
		case 1:
			o->funneld = optarg;
			break;
		case 2:
			o->mockbroker = optarg;
			break;
		case 3:
			o->rawfetch_path = optarg;
			break;
		case 4:
			o->sched_batch = true;
			break;
		case 5:
			o->slow_ns = strtoull(optarg, NULL, 10);
			break;
		case 13:
			o->time_every = atoi(optarg);
			break;
		case 14:
			if (parse_cpus(optarg, o->client_cpus, 256, &o->nclient_cpus) < 0) {
				fprintf(stderr, "funnel-bench: --client-cpus: a list of CPUs such "
				                "as 8-15 or 2,3,6 (at most 256): %s\n",
				        optarg);
				return -1;
			}
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 11:
			o->security = strcmp(optarg, "plaintext") == 0 ? NULL : optarg;
			break;
		case 12:
			o->ssl_ca = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (o->security && (strcmp(o->security, "ssl") != 0 || !o->ssl_ca)) {
		fprintf(
		    stderr,
		    "funnel-bench: --security takes ssl or plaintext; ssl needs --ssl-ca FILE\n");
		return -1;
	}
	if (o->security)
		o->rawfetch = false; /* fnl-rawfetch speaks plaintext only */
	if (o->time_every < 1 || (o->time_every & (o->time_every - 1))) {
		fprintf(stderr, "funnel-bench: --time-every takes a power of two (1, 2, 4, ...)\n");
		return -1;
	}
	if (o->slow_ns)
		o->time_every = 1; /* the slow-call diagnosis looks at every call */
	if (optind != argc || o->clients < 1 || o->clients > 64 || o->records < 1 ||
	    o->value_bytes < 1 || o->value_bytes > 100000 || o->partitions < 1 || o->rounds < 1 ||
	    o->brokers < 1 || o->keys < 0 || o->rate < 0)
		return -1;
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	char *dir = dirname(exe); /* <build>/bench */
	if (!o->funneld)
		o->funneld = tool_path(0, dir, "../ctrl/funneld");
	if (!o->mockbroker)
		o->mockbroker = tool_path(1, dir, "../tests/harness/fnl-mockbroker");
	if (!o->rawfetch_path)
		o->rawfetch_path = tool_path(2, dir, "../tests/harness/fnl-rawfetch");
	return 0;
}

static int parse_ports(struct bench_opts *o, const char *bootstrap)
{
	o->nports = 0;
	for (const char *p = bootstrap; p && *p && o->nports < BENCH_PORTS_MAX;) {
		const char *comma = strchr(p, ',');
		const char *colon = memchr(p, ':', comma ? (size_t)(comma - p) : strlen(p));
		const char *last = colon;
		while (last) { /* the last ':' of the entry (IPv6 literals have more) */
			const char *nx = memchr(
			    last + 1, ':', comma ? (size_t)(comma - last - 1) : strlen(last + 1));
			if (!nx)
				break;
			last = nx;
		}
		if (last)
			o->ports[o->nports++] = atoi(last + 1);
		p = comma ? comma + 1 : NULL;
	}
	return o->nports ? 0 : -EINVAL;
}

/* ---- broker ---- */

static int broker_start(const struct bench_opts *o, struct broker *b)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	b->pid = fork();
	if (b->pid < 0)
		return -errno;
	if (b->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		char nb[16];
		snprintf(nb, sizeof(nb), "%d", o->brokers);
		execl(o->mockbroker, o->mockbroker, "-b", nb, "-k", (char *)NULL);
		fprintf(stderr, "funnel-bench: exec %s: %s\n", o->mockbroker, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	b->in = fdopen(in[1], "w");
	b->out = fdopen(out[0], "r");
	char line[600];
	if (!fgets(line, sizeof(line), b->out) || strncmp(line, "BOOTSTRAP ", 10) != 0)
		return -EPROTO;
	line[strcspn(line, "\r\n")] = '\0';
	snprintf(b->bootstrap, sizeof(b->bootstrap), "%.500s", line + 10);
	return 0;
}

static int broker_cmd(struct broker *b, const char *cmd)
{
	char line[600];
	fprintf(b->in, "%s\n", cmd);
	fflush(b->in);
	if (!fgets(line, sizeof(line), b->out))
		return -EPIPE;
	return strncmp(line, "OK", 2) == 0 ? 0 : -EINVAL;
}

static void broker_stop(struct broker *b)
{
	if (b->pid <= 0)
		return;
	fclose(b->in); /* -k: EOF alone does not stop it */
	kill(b->pid, SIGTERM);
	waitpid(b->pid, NULL, 0);
	fclose(b->out);
}

/* ---- funneld ---- */

struct daemon {
	pid_t pid;
	char log[600];
};

static bool file_has(const char *path, const char *needle, char *copy, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char line[1024];
	bool found = false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle)) {
			found = true;
			if (copy)
				snprintf(copy, cap, "%s", line);
		}
	fclose(f);
	return found;
}

/* /dev/shm/<name of the tmp dir> when /dev/shm exists, else the tmp dir. */
static const char *state_dir(const struct bench_opts *o)
{
	static char dir[560];
	struct stat st;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode))
		snprintf(dir, sizeof(dir), "/dev/shm/%s", strrchr(o->tmpdir, '/') + 1);
	else
		snprintf(dir, sizeof(dir), "%s", o->tmpdir);
	return dir;
}

static int daemon_start(const struct bench_opts *o, struct daemon *d, int run_id)
{
	snprintf(d->log, sizeof(d->log), "%s/funneld-%d.log", o->tmpdir, run_id);
	char a[14][600];
	int na = 0;
	snprintf(a[na++], 600, "bootstrap.servers=%s", o->bootstrap);
	snprintf(a[na++], 600, "funnel.socket.path=%s", o->socket);
	if (o->batch_size) { /* 0: funneld's own defaults */
		snprintf(a[na++], 600, "linger.ms=%d", o->linger_ms);
		snprintf(a[na++], 600, "batch.size=%d", o->batch_size);
	}
	int level = o->funnel_level >= 0 ? o->funnel_level : o->zstd_level;
	if (level >= 0)
		snprintf(a[na++], 600, "compression.zstd.level=%d", level);
	snprintf(a[na++], 600, "compression.type=zstd");
	snprintf(a[na++], 600, "acks=all");
	snprintf(a[na++], 600, "enable.idempotence=true");
	/* funnel-cores mode: compression workers on the further cores (unpinned
	 * without --no-pin's pinning: the first CPUs of the list are used as is) */
	if (o->mode == MODE_FUNNEL_CORES)
		snprintf(a[na++], 600, "funnel.cores=%s", o->funnel_cores);
	else
		snprintf(a[na++], 600, "funnel.cores=%s", o->pin ? "0" : "");
	/* the restart journal on tmpfs, as under systemd (/run): see docs/operations.md */
	snprintf(a[na++], 600, "funnel.state.dir=%s", state_dir(o));
	if (o->security) {
		snprintf(a[na++], 600, "security.protocol=SSL");
		snprintf(a[na++], 600, "ssl.ca.location=%s", o->ssl_ca);
	}
	d->pid = fork();
	if (d->pid < 0)
		return -errno;
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0)
			dup2(fd, 2);
		char *argv[32];
		int n = 0;
		argv[n++] = (char *)o->funneld;
		for (int i = 0; i < na; i++) {
			argv[n++] = "-X";
			argv[n++] = a[i];
		}
		argv[n] = NULL;
		execv(o->funneld, argv);
		fprintf(stderr, "funnel-bench: exec %s: %s\n", o->funneld, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 2000; i++) { /* 20 s */
		if (file_has(d->log, "funneld ready", NULL, 0))
			return 0;
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			return -ECHILD;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* funneld's CPU so far, all threads (its process CPU-time clock), seconds; 0
 * when it cannot be read */
static double daemon_cpu_s(const struct daemon *d)
{
	clockid_t cid;
	struct timespec ts;
	if (d->pid <= 0 || clock_getcpuclockid(d->pid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
		return 0;
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SIGTERM, reap with its rusage, read the request count from its last line */
static void daemon_stop(struct daemon *d, struct bench_result *r)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	int st = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	wait4(d->pid, &st, 0, &ru);
	d->pid = 0;
	r->cpu_daemon_life_s = bench_ru_cpu_s(&ru);
	char line[1024];
	if (file_has(d->log, " stopped ", line, sizeof(line))) {
		const char *p = strstr(line, "requests=");
		if (p)
			r->produce_requests = strtoull(p + 9, NULL, 10);
		static const char *const sk[3] = {"seals_full=", "seals_linger=", "seals_pool="};
		for (int k = 0; k < 3; k++) {
			const char *q = strstr(line, sk[k]);
			if (q)
				r->seals[k] = strtoull(q + strlen(sk[k]), NULL, 10);
		}
		const char *ri = strstr(line, "records_in="), *bt = strstr(line, " batches=");
		if (ri && bt && strtoull(bt + 9, NULL, 10))
			r->recs_per_batch = (double)strtoull(ri + 11, NULL, 10) /
			                    (double)strtoull(bt + 9, NULL, 10);
	}
	/* funneld's "compression at stop core=N ... batches=M" lines */
	FILE *lf = fopen(d->log, "r");
	while (lf && fgets(line, sizeof(line), lf)) {
		const char *c = strstr(line, "compression at stop core="), *bt = strstr(line, " batches=");
		const char *cu = strstr(line, " cpu_us="), *bu = strstr(line, " busy_us=");
		if (c && bu)
			r->zstd_situ_s += (double)strtoull(bu + 9, NULL, 10) / 1e6;
		if (c && bt)
			r->zbatches[atoi(c + 25) ? 1 : 0] += strtoull(bt + 9, NULL, 10);
		if (c && cu && atoi(c + 25))
			r->worker_cpu_s += (double)strtoull(cu + 8, NULL, 10) / 1e6;
	}
	if (lf)
		fclose(lf);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		r->ok = false;
		snprintf(r->err, sizeof(r->err), "funneld exited with status 0x%x (log %s)", st,
		         d->log);
	}
}

/* ---- one run ---- */

static void progress(const struct bench_opts *o, const struct bench_shm *shm, int nslots,
                     const char *label, long total, uint64_t t0)
{
	if (o->quiet)
		return;
	uint64_t prod = 0, ack = 0;
	for (int i = 0; i < nslots; i++) {
		prod += atomic_load_explicit(&shm->slots[i].produced, memory_order_relaxed);
		ack += atomic_load_explicit(&shm->slots[i].acked, memory_order_relaxed);
	}
	double s = (double)(bench_now_ns() - t0) / 1e9;
	fprintf(stderr, "%s%-34s produced %9llu acked %9llu / %ld  %5.1f s  %8.0f rec/s  %s",
	        isatty(2) ? "\r" : "", label, (unsigned long long)prod, (unsigned long long)ack,
	        total, s, s > 0 ? (double)ack / s : 0.0, isatty(2) ? "" : "\n");
}

/* reads the run's topic back with fnl-rawfetch: RecordBatch bytes and counts */
static void measure_batches(const struct bench_opts *o, struct bench_result *r)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd), "'%s' -b '%s' -t '%s' -w 3000 2>/dev/null", o->rawfetch_path,
	         o->bootstrap, o->topic);
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	char line[1024];
	uint64_t bytes = 0, count = 0;
	while (fgets(line, sizeof(line), p)) {
		if (strncmp(line, "batch ", 6) != 0)
			continue;
		const char *c = strstr(line, " count="), *b = strstr(line, " bytes=");
		if (!c || !b)
			continue;
		count += strtoull(c + 7, NULL, 10);
		bytes += strtoull(b + 7, NULL, 10);
		r->batches_read++;
	}
	pclose(p);
	if (bytes && r->acked)
		r->ratio_batches =
		    (double)count * ((double)r->value_bytes / (double)r->acked) / (double)bytes;
}

static int spawn_clients(struct bench_opts *o, struct bench_shm *shm, enum bench_mode m, int n,
                         long records, pid_t *pids)
{
	long rate = o->rate ? o->rate / n : 0;
	if (o->rate && !rate)
		rate = 1;
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			return -errno;
		if (pids[i] == 0) {
			signal(SIGINT, SIG_IGN);
			if (o->nclient_cpus) /* this child's copy of the options */
				o->client_cpu = o->client_cpus[i % o->nclient_cpus];
			int rc = bench_mode_is_funnel(m) ? bench_client_funnel(o, shm, i, records, rate)
			                          : bench_client_rdk(o, shm, i, records, rate);
			_exit(rc);
		}
	}
	return 0;
}

static void collect(struct bench_shm *shm, int n, struct bench_result *r)
{
	uint64_t t_start = UINT64_MAX, t_end = 0;
	static struct bench_hist control; /* only the quantiles are kept */
	memset(&control, 0, sizeof(control));
	for (int i = 0; i < n; i++) {
		struct bench_slot *s = &shm->slots[i];
		if (!atomic_load_explicit(&s->done, memory_order_acquire)) {
			r->ok = false;
			snprintf(r->err, sizeof(r->err), "client %d did not finish", i);
			continue;
		}
		r->acked += s->acked;
		r->failed += s->failed;
		r->cpu_clients_s += s->cpu_run_s;
		r->eagain += s->eagain;
		bench_slow_add(&r->slow, &s->slow);
		bench_slow_add(&r->control_slow, &s->control_slow);
		bench_hist_merge(&control, &s->control_ns);
		if (s->status && r->ok) {
			r->ok = false;
			snprintf(r->err, sizeof(r->err), "client %d: %s", i, s->err);
		}
		if (s->t_start_ns && s->t_start_ns < t_start)
			t_start = s->t_start_ns;
		if (s->t_end_ns > t_end)
			t_end = s->t_end_ns;
		bench_hist_merge(r->append, &s->append_ns);
		bench_hist_merge(r->e2e, &s->e2e_ns);
		if (!bench_mode_is_funnel(r->mode)) {
			r->produce_requests += s->produce_requests;
			r->bytes_sent += s->sock.bytes_sent;
			r->conns += s->sock.conns;
		}
	}
	r->wall_s = t_end > t_start ? (double)(t_end - t_start) / 1e9 : 0;
	if (r->wall_s > 0) {
		r->rps = (double)r->acked / r->wall_s;
		r->mbps = (double)r->value_bytes / r->wall_s / 1e6;
	}
	const double q[3] = {0.5, 0.99, 0.999};
	for (int k = 0; k < 3; k++) {
		r->append_ns[k] = bench_hist_quantile(r->append, q[k]);
		r->e2e_ns[k] = bench_hist_quantile(r->e2e, q[k]);
		r->control_ns[k] = control.n ? bench_hist_quantile(&control, q[k]) : NAN;
	}
	if (r->acked < (uint64_t)r->records && r->ok) {
		r->ok = false;
		snprintf(r->err, sizeof(r->err), "acknowledged %llu of %ld",
		         (unsigned long long)r->acked, r->records);
	}
}

static int run_once(struct bench_opts *o, struct broker *b, struct bench_shm *shm,
                    enum bench_mode m, int clients, long per_client, int round,
                    struct bench_result *r)
{
	static int run_id;
	run_id++;
	int n = m == MODE_RDK_SINGLE ? 1 : clients;
	long recs = m == MODE_RDK_SINGLE ? per_client * clients : per_client;
	*r = (struct bench_result){.mode = m,
	                           .round = round,
	                           .clients = clients,
	                           .setting = o->setting,
	                           .batch_size = o->batch_size,
	                           .records = recs * n,
	                           .ok = true};
	r->value_bytes = bench_corpus_bytes(o->corpus, 0, (uint64_t)(recs * n));
	r->append = calloc(1, sizeof(*r->append));
	r->e2e = calloc(1, sizeof(*r->e2e));
	if (!r->append || !r->e2e)
		return -ENOMEM;
	snprintf(o->topic, sizeof(o->topic), "bench-%d-%s-%d", (int)getpid(), bench_mode_names[m],
	         run_id);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "topic %s %d 1", o->topic, o->partitions);
	if (b->pid > 0 && broker_cmd(b, cmd) < 0) {
		snprintf(r->err, sizeof(r->err), "broker refused: %.120s", cmd);
		r->ok = false;
		return 0;
	}
	memset(shm, 0, sizeof(*shm));
	struct daemon d = {0};
	o->client_cpu = -1;
	o->mode = m;
	if (bench_mode_is_funnel(m)) {
		snprintf(o->socket, sizeof(o->socket), "%s/funnel-%d.sock", o->tmpdir, run_id);
		int rc = daemon_start(o, &d, run_id);
		if (rc < 0) {
			r->ok = false;
			snprintf(r->err, sizeof(r->err), "funneld did not start (%s), log %s",
			         strerror(-rc), d.log);
			return 0;
		}
		o->client_cpu = o->pin ? 1 : -1;
	}
	pid_t pids[BENCH_CLIENTS_MAX];
	int rc = spawn_clients(o, shm, m, n, recs, pids);
	if (rc < 0) {
		r->ok = false;
		snprintf(r->err, sizeof(r->err), "fork: %s", strerror(-rc));
		return 0;
	}
	uint64_t t_wait = bench_now_ns();
	while (atomic_load_explicit(&shm->ready, memory_order_acquire) < n &&
	       bench_now_ns() - t_wait < 30000000000ull)
		usleep(1000);
	double dcpu0 = daemon_cpu_s(&d); /* its start-up is not counted, as the clients' is not */
	uint64_t t0 = bench_now_ns();
	atomic_store_explicit(&shm->go, 1, memory_order_release);
	char label[64];
	snprintf(label, sizeof(label), "[%s x%d r%d]", bench_mode_names[m], clients, round + 1);
	int left = n;
	uint64_t last = 0;
	while (left > 0) {
		for (int i = 0; i < n; i++) {
			int st;
			struct rusage ru;
			if (pids[i] <= 0 || wait4(pids[i], &st, WNOHANG, &ru) != pids[i])
				continue;
			pids[i] = 0;
			left--;
			r->cpu_clients_proc_s += bench_ru_cpu_s(&ru);
		}
		uint64_t now = bench_now_ns();
		if (now - last > (isatty(2) ? 500000000ull : 2000000000ull)) {
			progress(o, shm, n, label, r->records, t0);
			last = now;
		}
		if (left && (g_stop || now - t0 > (uint64_t)RUN_TIMEOUT_S * 1000000000ull)) {
			for (int i = 0; i < n; i++)
				if (pids[i] > 0)
					kill(pids[i], SIGKILL);
			if (r->ok)
				snprintf(r->err, sizeof(r->err), "%s",
				         g_stop ? "interrupted" : "timed out");
			r->ok = false;
		}
		if (left)
			usleep(2000);
	}
	double dcpu1 = daemon_cpu_s(&d);
	progress(o, shm, n, label, r->records, t0);
	if (!o->quiet && isatty(2))
		fputc('\n', stderr);
	collect(shm, n, r);
	if (bench_mode_is_funnel(m)) {
		struct bench_sock s;
		if (bench_sockets(d.pid, o->ports, o->nports, &s) == 0) {
			r->bytes_sent = s.bytes_sent;
			r->conns = s.conns;
		}
		daemon_stop(&d, r);
		/* the run's share: from the start signal to the last client's exit;
		 * its whole life where the CPU clock could not be read */
		r->cpu_daemon_s = dcpu0 > 0 && dcpu1 >= dcpu0 ? dcpu1 - dcpu0 : r->cpu_daemon_life_s;
		unlink(o->socket);
		if (r->ok)
			unlink(d.log);
	}
	double cpu = r->cpu_clients_s + r->cpu_daemon_s;
	if (r->acked) {
		r->cpu_s_per_mrec = cpu / ((double)r->acked / 1e6);
		r->daemon_ns_per_rec = r->cpu_daemon_s * 1e9 / (double)r->acked;
		r->core0_ns_per_rec = (r->cpu_daemon_s - r->worker_cpu_s) * 1e9 / (double)r->acked;
		if (r->zstd_situ_s > 0) {
			r->zstd_situ_ns = r->zstd_situ_s * 1e9 / (double)r->acked;
			r->outside_situ_ns = r->cpu_s_per_mrec * 1e3 - r->zstd_situ_ns;
		}
	}
	if (r->bytes_sent)
		r->ratio_tcp = (double)r->value_bytes / (double)r->bytes_sent;
	if (bench_mode_is_funnel(m) && r->ok && r->recs_per_batch > 0) {
		/* zstd alone on the same records in batches of the same size */
		int level = o->funnel_level >= 0 ? o->funnel_level
		            : o->zstd_level >= 0  ? o->zstd_level
		                                  : o->funneld_default_level;
		if (bench_calibrate(o->corpus, n, (uint64_t)recs, r->recs_per_batch, level,
		                    &r->calib) == 0 &&
		    r->acked)
			r->outside_ns = r->cpu_s_per_mrec * 1e3 - r->calib.ns_per_rec;
	}
	if (o->rawfetch && b->pid > 0)
		measure_batches(o, r);
	return 0;
}

static double timer_overhead_ns(double tsc_ns)
{
	struct bench_hist *h = calloc(1, sizeof(*h));
	if (!h)
		return 0;
	for (int i = 0; i < 100000; i++) {
		uint64_t t0 = __rdtsc();
		uint64_t t1 = __rdtsc();
		bench_hist_add(h, (uint64_t)((double)(t1 - t0) * tsc_ns));
	}
	double v = bench_hist_quantile(h, 0.5);
	free(h);
	return v;
}

static int run_all(struct bench_opts *o, struct broker *b, struct bench_results *rs)
{
	struct bench_shm *shm =
	    mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED)
		return -errno;
	static const int sweep[] = {1, 2, 4, 8, 16, 64};
	int npoints = o->sweep ? 6 : 1;
	long total = (long)o->clients * o->records;
	for (int st = 0; st < o->nsettings && !g_stop; st++)
	for (int pt = 0; pt < npoints && !g_stop; pt++) {
		int clients = o->sweep ? sweep[pt] : o->clients;
		long per = o->sweep ? (total + clients - 1) / clients : o->records;
		o->setting = st;
		o->batch_size = o->settings[st];
		for (int round = 0; round < o->rounds && !g_stop; round++)
			for (int m = 0; m < MODE_N && !g_stop; m++) {
				if (!o->modes[m])
					continue;
				struct bench_result r;
				int rc = run_once(o, b, shm, (enum bench_mode)m, clients, per,
				                  round, &r);
				if (rc < 0)
					return rc;
				if (!r.ok)
					fprintf(stderr, "funnel-bench: %s run failed: %s\n",
					        bench_mode_names[m], r.err);
				if (bench_results_add(rs, &r) < 0)
					return -ENOMEM;
			}
	}
	munmap(shm, sizeof(*shm));
	return 0;
}

/* funneld's own default zstd level (funneld --dump-config), for the
 * calibration of runs that leave it to funneld; 3 if it cannot be read */
static int funneld_level(const char *funneld)
{
	char cmd[4400], line[256];
	int level = 3;
	snprintf(cmd, sizeof(cmd), "'%s' -X bootstrap.servers=localhost:1 --dump-config 2>/dev/null",
	         funneld);
	FILE *p = popen(cmd, "r");
	if (!p)
		return level;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, "compression.zstd.level=", 23))
			level = atoi(line + 23);
	pclose(p);
	return level;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* --calib-sweep: zstd alone on every record of the corpus, clients
 * interleaved as funneld takes them, in batches of B bytes of records, at
 * levels 1 to 3; CPU ns per record and ratio, medians of 3 rounds */
static void calib_sweep(const struct bench_opts *o)
{
	static const int sizes[] = {16384, 65536, 262144, 1000000};
	size_t len;
	bench_corpus_rec(o->corpus, 0, &len);
	double mean = (double)bench_corpus_bytes(o->corpus, 0, 1000) / 1000.0 + 10;
	printf("zstd alone, corpus %s, %d x %ld records (%.0f B each with framing), medians of "
	       "3 rounds\n%-8s %6s %10s %8s\n",
	       o->corpus_kind, o->clients, o->records, mean, "batch", "level", "ns/rec", "ratio");
	for (int s = 0; s < 4; s++)
		for (int level = 1; level <= 3; level++) {
			double ns[3], ratio = 0;
			for (int r = 0; r < 3; r++) {
				struct bench_calib c;
				if (bench_calibrate(o->corpus, o->clients, (uint64_t)o->records,
				                    sizes[s] / mean, level, &c) < 0)
					return;
				ns[r] = c.ns_per_rec;
				ratio = c.ratio;
			}
			qsort(ns, 3, sizeof(ns[0]), cmp_dbl);
			printf("%-8d %6d %10.1f %8.3f\n", sizes[s], level, ns[1], ratio);
			fflush(stdout);
		}
}

static void cleanup_tmp(const char *dir)
{
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '/dev/shm/%s'", dir, strrchr(dir, '/') + 1);
	if (system(cmd) != 0)
		fprintf(stderr, "funnel-bench: could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	if (parse_opts(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	char cmdline[2048] = "";
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(cmdline);
		snprintf(cmdline + l, sizeof(cmdline) - l, "%s%s", i ? " " : "", argv[i]);
	}
	char tmpl[] = "/tmp/funnel-bench.XXXXXX";
	if (!mkdtemp(tmpl)) {
		perror("funnel-bench: mkdtemp");
		return 2;
	}
	o.tmpdir = tmpl;
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	signal(SIGPIPE, SIG_IGN);
	o.tsc_ns = bench_tsc_calibrate();
	o.funneld_default_level = funneld_level(o.funneld);
	/* every record of a run, made before any client starts (bench_corpus.c);
	 * a sweep point may take up to clients - 1 more than clients x records */
	struct bench_corpus corpus;
	uint64_t ncorp = (uint64_t)o.clients * (uint64_t)o.records + (o.sweep ? 64 : 0);
	int crc = bench_corpus_make(&corpus, o.corpus_kind, ncorp, (uint64_t)o.records,
	                            o.value_bytes);
	if (crc < 0) {
		fprintf(stderr, "funnel-bench: corpus %s: %s\n", o.corpus_kind, strerror(-crc));
		cleanup_tmp(tmpl);
		return 2;
	}
	if (corpus.distinct < ncorp)
		fprintf(stderr,
		        "funnel-bench: %s has %llu lines: records repeat (a run sends up to %llu)\n",
		        o.corpus_kind, (unsigned long long)corpus.distinct,
		        (unsigned long long)ncorp);
	o.corpus = &corpus;
	if (o.calib_sweep) {
		calib_sweep(&o);
		bench_corpus_free(&corpus);
		cleanup_tmp(tmpl);
		return 0;
	}
	double timer_ns = timer_overhead_ns(o.tsc_ns);
	struct broker b = {0};
	if (!o.bootstrap) {
		int rc = broker_start(&o, &b);
		if (rc < 0) {
			fprintf(stderr, "funnel-bench: cannot start %s: %s\n", o.mockbroker,
			        strerror(-rc));
			cleanup_tmp(tmpl);
			return 2;
		}
		o.bootstrap = b.bootstrap;
	}
	if (parse_ports(&o, o.bootstrap) < 0) {
		fprintf(stderr, "funnel-bench: no port in bootstrap %s\n", o.bootstrap);
		broker_stop(&b);
		cleanup_tmp(tmpl);
		return 2;
	}
	if (!o.quiet)
		fprintf(stderr,
		        "funnel-bench: broker %s, TSC %.4f ns/tick, timer overhead %.0f ns\n",
		        o.bootstrap, o.tsc_ns, timer_ns);
	struct bench_results rs = {0};
	int rc = run_all(&o, &b, &rs);
	broker_stop(&b);
	int status = rc < 0 ? 2 : 0;
	for (int i = 0; i < rs.n; i++)
		if (!rs.r[i].ok || rs.r[i].acked < (uint64_t)rs.r[i].records)
			status = 1;
	if (g_stop)
		status = status ? status : 1;
	bench_report_table(&o, &rs);
	if (!o.sweep)
		bench_report_targets(&o, &rs, stdout, false);
	if (o.json && bench_report_json(&o, &rs, cmdline, timer_ns) < 0)
		status = 2;
	if (o.plot && bench_report_plot(&o, &rs) < 0)
		status = status ? status : 2;
	bench_results_free(&rs);
	bench_corpus_free(&corpus);
	cleanup_tmp(tmpl);
	return status;
}
