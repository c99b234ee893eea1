/* fnl-mockbroker - a Kafka-protocol broker in its own process, for integration tests.
 *
 * Wraps librdkafka's mock cluster (rdkafka_mock.h, 2.0.2) behind a line protocol:
 *
 *   fnl-mockbroker [-b BROKERS] [-t topic:partitions[:replication]]... [-p PORTFILE]
 *                  [-f FIFO] [-k] [-d]
 *
 *   stdout  line 1: "BOOTSTRAP host:port,host:port,..."   (also written to PORTFILE)
 *           then one reply per command: "OK <command>" or "ERR <reason>"
 *   stdin   commands, one per line; EOF ends the broker unless -k
 *   FIFO    same commands (created if missing, opened O_RDWR so writers may come and go)
 *   SIGTERM / SIGINT / "quit" end the broker
 *
 * Commands (numbers are decimal; ERR and APIKEY also accept names):
 *   down B | up B | rtt B MS | leader TOPIC P B | push APIKEY ERR [ERR...]
 *   push_rtt B APIKEY ERR RTT_MS [ERR RTT_MS...] | clear [APIKEY] | topic NAME P R
 *   topic_error NAME ERR | apiversion APIKEY MIN MAX | errcnt B APIKEY | bootstrap
 *   help | quit
 *
 * Invariants: a command line is at most LINE_MAX_BYTES, longer lines are answered with ERR and
 * skipped; every command gets exactly one reply line in the order the lines were read (stdin and
 * FIFO are read by one thread, so replies never interleave); topics named in leader/topic_error
 * must have been created here (the mock would otherwise auto-create them silently).
 * Single-threaded apart from the mock cluster's own thread; the only shared state with the
 * signal handler is a self-pipe.
 *
 * TCP_NODELAY: Kafka's broker sets it on every accepted socket (SocketServer); librdkafka
 * 2.0.2's mock does not, so with several requests in flight its second response waited for
 * the ACK of the first (Nagle), which the client piggybacks on its next request: a pipelining
 * producer saw ~5.6 ms per Produce instead of ~0.1 ms. accept() below is the mock's (the
 * executable's definition wins over libc's for librdkafka's call) and sets it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* See the header: the mock's accepted sockets get TCP_NODELAY, as a Kafka broker's do. */
int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	static int (*next)(int, struct sockaddr *, socklen_t *);
	int one = 1, s;

	if (!next)
		*(void **)&next = dlsym(RTLD_NEXT, "accept");
	if (!next) {
		errno = ENOSYS;
		return -1;
	}
	s = next(fd, addr, len);
	if (s >= 0)
		(void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return s;
}

#define LINE_MAX_BYTES 4096
#define TOPICS_MAX     256
#define ARGS_MAX       130
#define BROKERS_MAX    64
#define PARTITIONS_MAX 10000

struct topic {
	char name[250];
	int partitions;
};

struct linebuf {
	int fd;
	size_t len;
	int overflow; /* 1: line too long, 2: NUL byte; drop bytes up to the next newline */
	char buf[LINE_MAX_BYTES];
};

static struct {
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mcluster;
	int brokers;
	struct topic topics[TOPICS_MAX];
	int topic_cnt;
	int quit;
} g;

static int sig_pipe[2] = {-1, -1};

/* A signal and its sender, passed through the self-pipe (one write, below PIPE_BUF). */
struct sig_note {
	int sig;
	pid_t pid;
};

static void on_signal(int sig, siginfo_t *info, void *ctx)
{
	struct sig_note n = {.sig = sig, .pid = info ? info->si_pid : 0};
	ssize_t r = write(sig_pipe[1], &n, sizeof(n));
	(void)ctx;
	(void)r;
}

static void reply(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

/* Strict decimal parse of [lo, hi]; returns 0 or -EINVAL. */
static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;
	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static const struct {
	const char *name;
	int16_t key;
} api_names[] = {
    {"Produce", 0},          {"Fetch", 1},
    {"ListOffsets", 2},      {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},
    {"FindCoordinator", 10}, {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},
    {"SyncGroup", 14},       {"ApiVersions", 18},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24},
    {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

static int parse_apikey(const char *s, int16_t *out)
{
	long v;
	size_t i;
	for (i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++) {
		if (!strcasecmp(s, api_names[i].name)) {
			*out = api_names[i].key;
			return 0;
		}
	}
	if (parse_long(s, 0, 100, &v))
		return -EINVAL;
	*out = (int16_t)v;
	return 0;
}

/* Error codes: a number (broker codes > 0, librdkafka internal codes < 0) or a name as in
 * librdkafka's table without the RD_KAFKA_RESP_ERR_ prefix, plus the KIP-392 era aliases. */
static int parse_err(const char *s, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *descs;
	size_t cnt, i;
	long v;

	if (!strcasecmp(s, "NOT_LEADER_OR_FOLLOWER")) {
		*out = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION;
		return 0;
	}
	if (!strcasecmp(s, "TRANSPORT")) { /* the mock closes the connection */
		*out = RD_KAFKA_RESP_ERR__TRANSPORT;
		return 0;
	}
	if (!parse_long(s, -199, 1000, &v)) {
		*out = (rd_kafka_resp_err_t)v;
		return 0;
	}
	if (!strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18))
		s += 18;
	rd_kafka_get_err_descs(&descs, &cnt);
	for (i = 0; i < cnt; i++) {
		if (descs[i].name && !strcasecmp(descs[i].name, s)) {
			*out = descs[i].code;
			return 0;
		}
	}
	return -EINVAL;
}

static const struct topic *topic_find(const char *name)
{
	int i;
	for (i = 0; i < g.topic_cnt; i++) {
		if (!strcmp(g.topics[i].name, name))
			return &g.topics[i];
	}
	return NULL;
}

static int topic_create(const char *name, long partitions, long replication, char *why,
                        size_t why_len)
{
	rd_kafka_resp_err_t err;
	if (!*name || strlen(name) >= sizeof(g.topics[0].name)) {
		snprintf(why, why_len, "bad topic name");
		return -EINVAL;
	}
	if (partitions < 1 || partitions > PARTITIONS_MAX) {
		snprintf(why, why_len, "partitions must be 1..%d", PARTITIONS_MAX);
		return -EINVAL;
	}
	if (replication < 1 || replication > g.brokers) {
		snprintf(why, why_len, "replication must be 1..%d", g.brokers);
		return -EINVAL;
	}
	if (topic_find(name)) {
		snprintf(why, why_len, "topic exists");
		return -EEXIST;
	}
	if (g.topic_cnt == TOPICS_MAX) {
		snprintf(why, why_len, "too many topics");
		return -ENOSPC;
	}
	err = rd_kafka_mock_topic_create(g.mcluster, name, (int)partitions, (int)replication);
	if (err) {
		snprintf(why, why_len, "%s", rd_kafka_err2name(err));
		return -EIO;
	}
	snprintf(g.topics[g.topic_cnt].name, sizeof(g.topics[0].name), "%s", name);
	g.topics[g.topic_cnt].partitions = (int)partitions;
	g.topic_cnt++;
	return 0;
}

static void reply_err(const char *cmd, rd_kafka_resp_err_t err)
{
	if (err)
		reply("ERR %s: %s", cmd, rd_kafka_err2name(err));
	else
		reply("OK %s", cmd);
}

static int want_args(const char *cmd, int argc, int lo, int hi)
{
	if (argc < lo || argc > hi) {
		reply("ERR %s: wrong number of arguments (see help)", cmd);
		return -EINVAL;
	}
	return 0;
}

static int parse_broker(const char *cmd, const char *s, int32_t *out)
{
	long v;
	if (parse_long(s, 1, g.brokers, &v)) {
		reply("ERR %s: broker must be 1..%d", cmd, g.brokers);
		return -EINVAL;
	}
	*out = (int32_t)v;
	return 0;
}

static void cmd_updown(int argc, char **argv)
{
	int32_t b;
	if (want_args(argv[0], argc, 2, 2) || parse_broker(argv[0], argv[1], &b))
		return;
	if (!strcmp(argv[0], "down"))
		reply_err("down", rd_kafka_mock_broker_set_down(g.mcluster, b));
	else
		reply_err("up", rd_kafka_mock_broker_set_up(g.mcluster, b));
}

static void cmd_rtt(int argc, char **argv)
{
	int32_t b;
	long ms;
	if (want_args(argv[0], argc, 3, 3) || parse_broker(argv[0], argv[1], &b))
		return;
	if (parse_long(argv[2], 0, 3600 * 1000, &ms)) {
		reply("ERR rtt: bad milliseconds");
		return;
	}
	reply_err("rtt", rd_kafka_mock_broker_set_rtt(g.mcluster, b, (int)ms));
}

static void cmd_leader(int argc, char **argv)
{
	const struct topic *t;
	int32_t b;
	long p;
	if (want_args(argv[0], argc, 4, 4))
		return;
	if (!(t = topic_find(argv[1]))) {
		reply("ERR leader: unknown topic %s", argv[1]);
		return;
	}
	if (parse_long(argv[2], 0, t->partitions - 1, &p)) {
		reply("ERR leader: partition must be 0..%d", t->partitions - 1);
		return;
	}
	if (!strcmp(argv[3], "-1"))
		b = -1; /* leader-less partition */
	else if (parse_broker(argv[0], argv[3], &b))
		return;
	reply_err("leader", rd_kafka_mock_partition_set_leader(g.mcluster, t->name, (int32_t)p, b));
}

static void cmd_push(int argc, char **argv)
{
	rd_kafka_resp_err_t errs[ARGS_MAX];
	int16_t key;
	int i;
	if (argc < 3) {
		reply("ERR push: usage push APIKEY ERR [ERR...]");
		return;
	}
	if (parse_apikey(argv[1], &key)) {
		reply("ERR push: bad api key %s", argv[1]);
		return;
	}
	for (i = 2; i < argc; i++) {
		if (parse_err(argv[i], &errs[i - 2])) {
			reply("ERR push: bad error code %s", argv[i]);
			return;
		}
	}
	rd_kafka_mock_push_request_errors_array(g.mcluster, key, (size_t)(argc - 2), errs);
	reply("OK push %d", argc - 2);
}

static void cmd_push_rtt(int argc, char **argv)
{
	rd_kafka_resp_err_t errs[ARGS_MAX / 2];
	long rtts[ARGS_MAX / 2];
	rd_kafka_resp_err_t err;
	int16_t key;
	int32_t b;
	int i, n;
	if (argc < 5 || (argc - 3) % 2) {
		reply("ERR push_rtt: usage push_rtt BROKER APIKEY ERR RTT_MS [ERR RTT_MS...]");
		return;
	}
	if (parse_broker(argv[0], argv[1], &b))
		return;
	if (parse_apikey(argv[2], &key)) {
		reply("ERR push_rtt: bad api key %s", argv[2]);
		return;
	}
	n = (argc - 3) / 2;
	for (i = 0; i < n; i++) {
		if (parse_err(argv[3 + 2 * i], &errs[i])) {
			reply("ERR push_rtt: bad error code %s", argv[3 + 2 * i]);
			return;
		}
		if (parse_long(argv[4 + 2 * i], 0, 3600 * 1000, &rtts[i])) {
			reply("ERR push_rtt: bad rtt %s", argv[4 + 2 * i]);
			return;
		}
	}
	/* The API is variadic; pushing one pair per call appends in the same order. */
	for (i = 0; i < n; i++) {
		err = rd_kafka_mock_broker_push_request_error_rtts(g.mcluster, b, key, 1, errs[i],
		                                                   (int)rtts[i]);
		if (err) {
			reply_err("push_rtt", err);
			return;
		}
	}
	reply("OK push_rtt %d", n);
}

static void cmd_clear(int argc, char **argv)
{
	int16_t key;
	if (want_args(argv[0], argc, 1, 2))
		return;
	if (argc == 2) {
		if (parse_apikey(argv[1], &key)) {
			reply("ERR clear: bad api key %s", argv[1]);
			return;
		}
		rd_kafka_mock_clear_request_errors(g.mcluster, key);
	} else {
		for (key = 0; key <= 100; key++)
			rd_kafka_mock_clear_request_errors(g.mcluster, key);
	}
	reply("OK clear");
}

static void cmd_topic(int argc, char **argv)
{
	char why[256];
	long p, r;
	if (want_args(argv[0], argc, 3, 4))
		return;
	if (parse_long(argv[2], 1, PARTITIONS_MAX, &p)) {
		reply("ERR topic: partitions must be 1..%d", PARTITIONS_MAX);
		return;
	}
	r = g.brokers < 3 ? g.brokers : 3;
	if (argc == 4 && parse_long(argv[3], 1, g.brokers, &r)) {
		reply("ERR topic: replication must be 1..%d", g.brokers);
		return;
	}
	if (topic_create(argv[1], p, r, why, sizeof(why)))
		reply("ERR topic: %s", why);
	else
		reply("OK topic %s %ld %ld", argv[1], p, r);
}

static void cmd_topic_error(int argc, char **argv)
{
	rd_kafka_resp_err_t err;
	if (want_args(argv[0], argc, 3, 3))
		return;
	if (!topic_find(argv[1])) {
		reply("ERR topic_error: unknown topic %s", argv[1]);
		return;
	}
	if (parse_err(argv[2], &err)) {
		reply("ERR topic_error: bad error code %s", argv[2]);
		return;
	}
	rd_kafka_mock_topic_set_error(g.mcluster, argv[1], err);
	reply("OK topic_error");
}

static void cmd_apiversion(int argc, char **argv)
{
	int16_t key;
	long lo, hi;
	if (want_args(argv[0], argc, 4, 4))
		return;
	if (parse_apikey(argv[1], &key) || parse_long(argv[2], -1, 100, &lo) ||
	    parse_long(argv[3], -1, 100, &hi)) {
		reply("ERR apiversion: usage apiversion APIKEY MIN MAX");
		return;
	}
	reply_err("apiversion",
	          rd_kafka_mock_set_apiversion(g.mcluster, key, (int16_t)lo, (int16_t)hi));
}

static void cmd_errcnt(int argc, char **argv)
{
	rd_kafka_resp_err_t err;
	size_t cnt = 0;
	int16_t key;
	int32_t b;
	if (want_args(argv[0], argc, 3, 3) || parse_broker(argv[0], argv[1], &b))
		return;
	if (parse_apikey(argv[2], &key)) {
		reply("ERR errcnt: bad api key %s", argv[2]);
		return;
	}
	err = rd_kafka_mock_broker_error_stack_cnt(g.mcluster, b, key, &cnt);
	if (err)
		reply_err("errcnt", err);
	else
		reply("OK errcnt %zu", cnt);
}

static void cmd_help(void)
{
	reply("OK help: down B | up B | rtt B MS | leader TOPIC P B | push APIKEY ERR... | "
	      "push_rtt B APIKEY ERR RTT_MS... | clear [APIKEY] | topic NAME P [R] | "
	      "topic_error NAME ERR | apiversion APIKEY MIN MAX | errcnt B APIKEY | bootstrap | "
	      "quit");
}

/* Splits line into whitespace-separated words in place; returns the word count or -E2BIG. */
static int split_words(char *line, char **argv, int argv_max)
{
	int argc = 0;
	char *save = NULL, *w;
	for (w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (argc == argv_max)
			return -E2BIG;
		argv[argc++] = w;
	}
	return argc;
}

static void run_command(char *line)
{
	char *argv[ARGS_MAX];
	int argc = split_words(line, argv, ARGS_MAX);

	if (argc < 0) {
		reply("ERR too many arguments");
		return;
	}
	if (argc == 0 || argv[0][0] == '#')
		return; /* blank lines and comments get no reply */
	if (!strcmp(argv[0], "down") || !strcmp(argv[0], "up"))
		cmd_updown(argc, argv);
	else if (!strcmp(argv[0], "rtt"))
		cmd_rtt(argc, argv);
	else if (!strcmp(argv[0], "leader"))
		cmd_leader(argc, argv);
	else if (!strcmp(argv[0], "push"))
		cmd_push(argc, argv);
	else if (!strcmp(argv[0], "push_rtt"))
		cmd_push_rtt(argc, argv);
	else if (!strcmp(argv[0], "clear"))
		cmd_clear(argc, argv);
	else if (!strcmp(argv[0], "topic"))
		cmd_topic(argc, argv);
	else if (!strcmp(argv[0], "topic_error"))
		cmd_topic_error(argc, argv);
	else if (!strcmp(argv[0], "apiversion"))
		cmd_apiversion(argc, argv);
	else if (!strcmp(argv[0], "errcnt"))
		cmd_errcnt(argc, argv);
	else if (!strcmp(argv[0], "bootstrap"))
		reply("OK bootstrap %s", rd_kafka_mock_cluster_bootstraps(g.mcluster));
	else if (!strcmp(argv[0], "help"))
		cmd_help();
	else if (!strcmp(argv[0], "quit")) {
		fprintf(stderr, "fnl-mockbroker: quit command, exiting\n");
		reply("OK quit");
		g.quit = 1;
	} else
		reply("ERR unknown command %.64s (try help)", argv[0]);
}

/* Reads what is available on lb->fd and runs every complete line.
 * Returns 0, or -EPIPE on end of file. */
static int pump_lines(struct linebuf *lb)
{
	char chunk[1024];
	ssize_t n = read(lb->fd, chunk, sizeof(chunk));
	ssize_t i;

	if (n < 0)
		return (errno == EAGAIN || errno == EINTR) ? 0 : -EPIPE;
	if (n == 0)
		return -EPIPE;
	for (i = 0; i < n && !g.quit; i++) {
		char c = chunk[i];
		if (c == '\n') {
			if (lb->overflow == 2)
				reply("ERR line contains a NUL byte");
			else if (lb->overflow)
				reply("ERR line longer than %d bytes", LINE_MAX_BYTES - 1);
			else {
				lb->buf[lb->len] = '\0';
				run_command(lb->buf);
			}
			lb->len = 0;
			lb->overflow = 0;
		} else if (c == '\0') {
			lb->overflow = 2; /* binary garbage: reject the whole line */
		} else if (lb->len + 1 < sizeof(lb->buf)) {
			lb->buf[lb->len++] = c;
		} else if (!lb->overflow) {
			lb->overflow = 1;
		}
	}
	return 0;
}

static int open_fifo(const char *path)
{
	struct stat st;
	int fd;
	if (mkfifo(path, 0600) && errno != EEXIST)
		return -errno;
	if (stat(path, &st))
		return -errno;
	if (!S_ISFIFO(st.st_mode))
		return -ENOTSUP;
	/* O_RDWR keeps one writer open ourselves, so we never see EOF between writers. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: fnl-mockbroker [-b BROKERS] [-t topic:partitions[:replication]]... "
	        "[-p PORTFILE] [-f FIFO] [-k] [-d]\n"
	        "  -k  keep serving after stdin EOF (end with SIGTERM or 'quit' on the FIFO)\n"
	        "  -d  librdkafka debug=mock on stderr\n");
	exit(2);
}

static int parse_topic_arg(char *arg, char *why, size_t why_len)
{
	char *c1 = strchr(arg, ':'), *c2;
	long p, r = g.brokers < 3 ? g.brokers : 3;
	if (!c1) {
		snprintf(why, why_len, "-t wants topic:partitions[:replication]");
		return -EINVAL;
	}
	*c1++ = '\0';
	c2 = strchr(c1, ':');
	if (c2)
		*c2++ = '\0';
	if (parse_long(c1, 1, PARTITIONS_MAX, &p) || (c2 && parse_long(c2, 1, g.brokers, &r))) {
		snprintf(why, why_len, "bad partitions/replication for %s", arg);
		return -EINVAL;
	}
	return topic_create(arg, p, r, why, why_len);
}

static int create_cluster(int debug)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	if (rd_kafka_conf_set(conf, "log_level", debug ? "7" : "3", errstr, sizeof(errstr)) ||
	    (debug && rd_kafka_conf_set(conf, "debug", "mock", errstr, sizeof(errstr)))) {
		fprintf(stderr, "fnl-mockbroker: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return -EINVAL;
	}
	g.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!g.rk) {
		fprintf(stderr, "fnl-mockbroker: rd_kafka_new: %s\n", errstr);
		return -EIO;
	}
	g.mcluster = rd_kafka_mock_cluster_new(g.rk, g.brokers);
	if (!g.mcluster) {
		fprintf(stderr, "fnl-mockbroker: rd_kafka_mock_cluster_new failed\n");
		return -EIO;
	}
	return 0;
}

static int write_portfile(const char *path, const char *bootstrap)
{
	char tmp[PATH_MAX];
	FILE *f;
	/* Write then rename, so a poller never reads a half-written file. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "BOOTSTRAP %s\n", bootstrap);
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;
}

/* Names the sender of a signal on stderr: who stopped the broker is often the question. */
static void report_signal(const struct sig_note *n)
{
	char path[64], cmd[256] = "?";
	size_t len = 0, i;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)n->pid);
	f = fopen(path, "r");
	if (f) {
		len = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (i = 0; i + 1 < len; i++)
			cmd[i] = cmd[i] ? cmd[i] : ' ';
		cmd[len] = '\0';
	}
	fprintf(stderr, "fnl-mockbroker: signal %d from pid %ld (%s), exiting\n", n->sig,
	        (long)n->pid, len ? cmd : "gone");
}

static void serve(int fifo_fd, int keep_on_eof)
{
	static struct linebuf in, ff;
	struct pollfd pfd[3];
	int stdin_open = 1;

	in.fd = STDIN_FILENO;
	ff.fd = fifo_fd;
	while (!g.quit) {
		pfd[0] = (struct pollfd){.fd = sig_pipe[0], .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = fifo_fd, .events = POLLIN};
		if (poll(pfd, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("fnl-mockbroker: poll");
			break;
		}
		if (pfd[0].revents) {
			struct sig_note n = {0};
			if (read(sig_pipe[0], &n, sizeof(n)) == (ssize_t)sizeof(n))
				report_signal(&n);
			break;
		}
		if (pfd[1].revents && pump_lines(&in)) {
			stdin_open = 0;
			if (!keep_on_eof) {
				fprintf(stderr, "fnl-mockbroker: stdin closed, exiting\n");
				break;
			}
		}
		if (fifo_fd >= 0 && pfd[2].revents)
			(void)pump_lines(&ff);
	}
}

int main(int argc, char **argv)
{
	char *topic_args[TOPICS_MAX];
	const char *portfile = NULL, *fifo = NULL;
	int topic_arg_cnt = 0, keep_on_eof = 0, debug = 0, fifo_fd = -1, opt, i;
	char why[256];
	long v;
	struct sigaction sa = {.sa_sigaction = on_signal, .sa_flags = SA_SIGINFO};

	g.brokers = 3;
	while ((opt = getopt(argc, argv, "b:t:p:f:kdh")) != -1) {
		switch (opt) {
		case 'b':
			if (parse_long(optarg, 1, BROKERS_MAX, &v))
				usage();
			g.brokers = (int)v;
			break;
		case 't':
			if (topic_arg_cnt == TOPICS_MAX)
				usage();
			topic_args[topic_arg_cnt++] = optarg;
			break;
		case 'p':
			portfile = optarg;
			break;
		case 'f':
			fifo = optarg;
			break;
		case 'k':
			keep_on_eof = 1;
			break;
		case 'd':
			debug = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK)) {
		perror("fnl-mockbroker: pipe2");
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (fifo && (fifo_fd = open_fifo(fifo)) < 0) {
		fprintf(stderr, "fnl-mockbroker: fifo %s: %s\n", fifo, strerror(-fifo_fd));
		return 1;
	}
	if (create_cluster(debug))
		return 1;
	for (i = 0; i < topic_arg_cnt; i++) {
		if (parse_topic_arg(topic_args[i], why, sizeof(why))) {
			fprintf(stderr, "fnl-mockbroker: -t: %s\n", why);
			return 1;
		}
	}
	if (portfile && write_portfile(portfile, rd_kafka_mock_cluster_bootstraps(g.mcluster))) {
		fprintf(stderr, "fnl-mockbroker: cannot write %s\n", portfile);
		return 1;
	}
	reply("BOOTSTRAP %s", rd_kafka_mock_cluster_bootstraps(g.mcluster));

	serve(fifo_fd, keep_on_eof);

	rd_kafka_mock_cluster_destroy(g.mcluster);
	rd_kafka_destroy(g.rk);
	if (fifo_fd >= 0)
		close(fifo_fd);
	return 0;
}
