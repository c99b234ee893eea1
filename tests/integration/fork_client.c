/* fork_client.c - fnl-fork: libfunnel across fork(), for tests/integration/fork.sh.
 *
 *   fnl-fork -s SOCKET -t TOPIC -n RECORDS -f CHILDREN -d EXPECT_DIR [-k KEYS]
 *
 * The parent opens one client and produces RECORDS records as client "p". While
 * it produces (and without serving reports first, so records of its own are
 * unreported in its ring) it forks CHILDREN children at evenly spaced points.
 * Child i produces RECORDS/2 records as client "c<i>" through the INHERITED
 * client and topic handles; its first call differs (i % 3: fnl_produce,
 * fnl_poll, fnl_topic) and child 3 forks a grandchild "g3" of its own. Even
 * children fnl_flush() and check their reports; odd ones _exit() right after
 * their last fnl_produce() without flushing (funneld must still deliver their
 * records). After the first child, one more child only calls fnl_outq_len(),
 * fnl_flush() (both 0: the records are the parent's) and fnl_close() on the
 * inherited client, and exits, while the parent waits for it and then goes on
 * producing into its ring. Meanwhile the parent keeps producing, then flushes.
 *
 * Every process checks that it gets exactly one report for each record it
 * produced and none for another process's records (the opaque holds the
 * producing pid's role), and that a child sees fnl_outq_len() == 0 at first.
 * Each writes EXPECT_DIR/ex-NAME (verify.py expectation lines, written before
 * the records are produced: the test then reads back every one, exactly once).
 * Exit 0 when all of that held in every process.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "funnel.h"

struct proc {
	char name[16];
	uint32_t role; /* in the opaque's top 32 bits */
	long n;        /* records produced */
	uint8_t *seen; /* reports per record */
	long reports, failed, foreign;
};

static struct proc me;
static const char *topic_name, *dir;
static long keys = 8;

static void on_report(const struct fnl_report *r, void *ctx)
{
	(void)ctx;
	uint32_t role = (uint32_t)(r->opaque >> 32);
	uint64_t seq = r->opaque & 0xffffffffu;

	if (role != me.role || (long)seq >= me.n) {
		me.foreign++;
		return;
	}
	me.seen[seq]++;
	me.reports++;
	if (r->err) {
		if (!me.failed)
			fprintf(stderr, "%s: record %" PRIu64 " failed: %s\n", me.name, seq,
			        fnl_kafka_err_name(r->err));
		me.failed++;
	}
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s (%s)\n", me.name, what, fnl_strerror(rc), fnl_last_error());
	_exit(2);
}

/* One expectation line per record, before it is produced. */
static FILE *expect_open(void)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ex-%s", dir, me.name);
	f = fopen(path, "w");
	if (!f)
		die("cannot write the expectation file", -errno);
	return f;
}

static void produce_one(fnl_client_t *c, fnl_topic_t *t, long seq, FILE *ex)
{
	char key[16], val[64];
	int kl = snprintf(key, sizeof(key), "k%ld", seq % keys);
	int vl = snprintf(val, sizeof(val), "c=%s s=%ld fork", me.name, seq);
	uint64_t opaque = (uint64_t)me.role << 32 | (uint64_t)seq;
	int rc;

	fprintf(ex, "%s\t%ld\t%s\t*\t%s\t*\t*\n", me.name, seq, topic_name, key);
	fflush(ex); /* before the record exists: a killed process still expects it */
	rc = fnl_produce(c, t, -1, key, (size_t)kl, val, (size_t)vl, NULL, 0, 0, opaque);
	if (rc < 0)
		die("fnl_produce", rc);
	me.n = seq + 1;
}

/* 0 when every record got exactly one successful report and no foreign one came. */
static int check_reports(void)
{
	long missing = 0, twice = 0;

	for (long i = 0; i < me.n; i++) {
		missing += me.seen[i] == 0;
		twice += me.seen[i] > 1;
	}
	fprintf(stderr,
	        "%s: pid %d produced %ld, reports %ld, failed %ld, missing %ld, "
	        "twice %ld, foreign %ld\n",
	        me.name, (int)getpid(), me.n, me.reports, me.failed, missing, twice, me.foreign);
	return missing || twice || me.failed || me.foreign ? 1 : 0;
}

static void become(const char *name, uint32_t role, long max)
{
	snprintf(me.name, sizeof(me.name), "%s", name);
	me.role = role;
	me.n = me.reports = me.failed = me.foreign = 0;
	free(me.seen);
	me.seen = calloc((size_t)max, 1);
}

static int wait_child(pid_t pid)
{
	int st;

	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "%s: child %d failed (status %d)\n", me.name, (int)pid, st);
		return 1;
	}
	return 0;
}

/* A child (or the grandchild) on the inherited handles. */
static int child(fnl_client_t *c, fnl_topic_t *t, int i, const char *name, long n)
{
	pid_t grandchild = -1;
	int rc, bad = 0;

	become(name, 0x100u + (uint32_t)i, n);
	if (fnl_outq_len(c) != 0) {
		fprintf(stderr,
		        "%s: fnl_outq_len %" PRId64 " right after fork: the parent's records\n",
		        me.name, fnl_outq_len(c));
		bad = 1;
	}
	if (i % 3 == 1 && (rc = fnl_poll(c, 0)) != 0)
		die("first fnl_poll served reports or failed", rc < 0 ? rc : -EPROTO);
	if (i % 3 == 2) {
		fnl_topic_t *t2;
		if ((rc = fnl_topic(c, topic_name, &t2)) < 0)
			die("fnl_topic", rc);
		if (t2 != t) {
			fprintf(stderr, "%s: fnl_topic gave another handle\n", me.name);
			bad = 1;
		}
	}
	FILE *ex = expect_open();
	for (long s = 0; s < n; s++) {
		produce_one(c, t, s, ex);
		if (i == 3 && s == n / 2) {
			grandchild = fork();
			if (grandchild == 0) {
				fclose(ex);
				_exit(child(c, t, 99, "g3", n / 2));
			}
		}
		if (s % 500 == 499 && fnl_poll(c, 0) < 0)
			die("fnl_poll", -EPIPE);
	}
	fclose(ex);
	if (i % 2 == 1 && i != 3)
		_exit(bad); /* no flush: funneld delivers what is in the ring */
	if ((rc = fnl_flush(c, 60000)) < 0)
		die("fnl_flush", rc);
	bad |= check_reports();
	if (grandchild > 0)
		bad |= wait_child(grandchild);
	fnl_close(c); /* frees the child's ring only */
	return bad;
}

int main(int argc, char **argv)
{
	const char *socket = NULL;
	long n = 0;
	int children = 0, opt, rc, bad = 0;

	while ((opt = getopt(argc, argv, "s:t:n:f:d:k:")) != -1) {
		switch (opt) {
		case 's':
			socket = optarg;
			break;
		case 't':
			topic_name = optarg;
			break;
		case 'n':
			n = atol(optarg);
			break;
		case 'f':
			children = atoi(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'k':
			keys = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!socket || !topic_name || n <= 0 || children < 0 || children > 64 || !dir ||
	    keys <= 0) {
		fprintf(stderr,
		        "usage: fnl-fork -s SOCKET -t TOPIC -n RECORDS -f CHILDREN -d DIR\n");
		return 2;
	}
	struct fnl_conf conf;
	fnl_client_t *c;
	fnl_topic_t *t;
	pid_t pids[64];

	become("p", 1, n);
	fnl_conf_init(&conf);
	conf.socket_path = socket;
	conf.on_report = on_report;
	if ((rc = fnl_open(&conf, &c)) < 0)
		die("fnl_open", rc);
	if ((rc = fnl_topic(c, topic_name, &t)) < 0)
		die("fnl_topic", rc);
	FILE *ex = expect_open();
	long every = n / (children + 1);
	int forked = 0;
	for (long s = 0; s < n; s++) {
		produce_one(c, t, s, ex);
		if (forked < children && s == every * (forked + 1)) {
			fflush(stderr);
			pid_t pid = fork();
			if (pid < 0)
				die("fork", -errno);
			if (pid == 0) {
				fclose(ex);
				char name[16];
				snprintf(name, sizeof(name), "c%d", forked);
				_exit(child(c, t, forked, name, n / 2));
			}
			pids[forked++] = pid;
			if (forked == 1) {
				/* a child that only closes the inherited client: the
				 * parent's ring and socket must not notice */
				pid = fork();
				if (pid < 0)
					die("fork", -errno);
				if (pid == 0) {
					fclose(ex);
					int left = (int)fnl_outq_len(c) + fnl_flush(c, 0);
					fnl_close(c);
					_exit(left != 0);
				}
				if (wait_child(pid))
					bad = 1;
			}
		} else if (s % 500 == 499 && fnl_poll(c, 0) < 0) {
			die("fnl_poll", -EPIPE);
		}
	}
	fclose(ex);
	if ((rc = fnl_flush(c, 60000)) < 0)
		die("fnl_flush", rc);
	bad |= check_reports();
	for (int i = 0; i < forked; i++)
		bad |= wait_child(pids[i]);
	fnl_close(c);
	return bad;
}
