/* order_client.c - fnl-order: per-key order across client processes, for
 * tests/integration/order.sh.
 *
 *   fnl-order -s SOCKET -t TOPIC -p PROCS -k KEYS -n ROUNDS -e EXPECT [-b BURST] [-u USEC]
 *
 * PROCS processes, each with a client (a ring) of its own, hand KEYS tokens
 * around a circle of pipes. A token is (key, seq): the process holding it
 * produces key "k<key>" with the value "c=k<key> s=<seq>", and only after
 * fnl_produce() returned writes (key, seq + 1) into the next process's pipe;
 * that process produces the key's next record. So the records of one key come
 * from PROCS different rings, each produce call beginning after the previous
 * one returned: funneld must append them in seq order (happens-before order
 * across rings). All KEYS tokens travel at once, so every ring holds records
 * of several keys; with -b, each process also produces BURST records of a key
 * of its own ("c=p<i>", seqs in its own order) before it passes a token on, so
 * the rings fill unevenly; with -u, each process sleeps USEC microseconds after
 * each keyed record before it passes the token on (a run that lasts, for
 * order_restart.sh to restart funneld under). A key's last holder reports it done to the parent;
 * once every key is done the parent stops the children: even ones fnl_flush(),
 * odd ones exit without it (funneld still delivers their rings).
 *
 * The parent writes EXPECT (verify.py expectation lines for every record,
 * before any is produced); tests/harness/verify.py check then reads back each
 * key's stream exactly once and in seq order. Exit 0 when every process
 * produced without error.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "funnel.h"

#define PROCS_MAX 64

struct token {
	int32_t key; /* -1: stop */
	uint32_t seq;
};

static const char *sock_path, *topic_name;
static long rounds = 200, burst, pause_us;

static void die(const char *what, int rc)
{
	fprintf(stderr, "fnl-order[%d]: %s: %s\n", (int)getpid(), what, fnl_strerror(rc));
	_exit(2);
}

static void put(int fd, struct token t)
{
	if (write(fd, &t, sizeof(t)) != (ssize_t)sizeof(t)) {
		perror("fnl-order: write");
		_exit(2);
	}
}

static int get(int fd, struct token *t)
{
	ssize_t n;

	do
		n = read(fd, t, sizeof(*t));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*t) ? 0 : -1;
}

static void produce(fnl_client_t *c, fnl_topic_t *t, const char *name, long seq, int keyed)
{
	char v[64];
	int n = snprintf(v, sizeof(v), "c=%s s=%ld", name, seq);
	int rc = fnl_produce(c, t, -1, keyed ? name : NULL, keyed ? strlen(name) : 0, v, (size_t)n,
	                     NULL, 0, 0, (uint64_t)seq);
	if (rc < 0)
		die("fnl_produce", rc);
}

/* Child i: reads tokens from in, produces, passes them on to out (or reports
 * a finished key on done), until the parent's stop token. */
static int child(int i, int in, int out, int done)
{
	struct fnl_conf conf;
	fnl_client_t *c;
	fnl_topic_t *t;
	char own[16], name[16];
	long own_seq = 0;
	struct token tok;
	int rc;

	fnl_conf_init(&conf);
	conf.socket_path = sock_path;
	if ((rc = fnl_open(&conf, &c)) < 0)
		die("fnl_open", rc);
	if ((rc = fnl_topic(c, topic_name, &t)) < 0)
		die("fnl_topic", rc);
	snprintf(own, sizeof(own), "p%d", i);
	put(done, (struct token){.key = -1, .seq = (uint32_t)i}); /* ready */
	while (get(in, &tok) == 0 && tok.key >= 0) {
		for (long b = 0; b < burst; b++)
			produce(c, t, own, own_seq++, 0);
		snprintf(name, sizeof(name), "k%d", (int)tok.key);
		produce(c, t, name, tok.seq, 1);
		fnl_poll(c, 0);
		if (pause_us > 0)
			usleep((useconds_t)pause_us);
		tok.seq++; /* fnl_produce() returned: the next holder may go on */
		put((long)tok.seq < rounds ? out : done, tok);
	}
	printf("p%d\t%ld\n", i, own_seq); /* the parent's expectation of the noise */
	fflush(stdout);
	if (i % 2 == 0 && (rc = fnl_flush(c, 60000)) < 0)
		die("fnl_flush", rc);
	if (i % 2)
		_exit(0); /* no flush, no close: funneld delivers the ring anyway */
	fnl_close(c);
	return 0;
}

int main(int argc, char **argv)
{
	int procs = 4, keys = 8, opt, fds[PROCS_MAX][2], done[2];
	const char *expect = NULL;
	pid_t pid[PROCS_MAX];

	while ((opt = getopt(argc, argv, "s:t:p:k:n:e:b:u:")) != -1) {
		switch (opt) {
		case 's':
			sock_path = optarg;
			break;
		case 't':
			topic_name = optarg;
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		case 'k':
			keys = atoi(optarg);
			break;
		case 'n':
			rounds = atol(optarg);
			break;
		case 'e':
			expect = optarg;
			break;
		case 'b':
			burst = atol(optarg);
			break;
		case 'u':
			pause_us = atol(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!sock_path || !topic_name || !expect || procs < 2 || procs > PROCS_MAX || keys < 1 ||
	    rounds < 1 || burst < 0 || pause_us < 0 || pause_us > 1000000) {
		fprintf(stderr, "usage: fnl-order -s SOCKET -t TOPIC -p PROCS(2..64) -k KEYS "
		                "-n ROUNDS -e EXPECT [-b BURST] [-u USEC]\n");
		return 2;
	}
	FILE *ex = fopen(expect, "w");
	if (!ex)
		return perror(expect), 2;
	for (int k = 0; k < keys; k++)
		for (long s = 0; s < rounds; s++)
			fprintf(ex, "k%d\t%ld\t%s\t*\tk%d\t\t*\n", k, s, topic_name, k);
	if (pipe(done) < 0)
		return perror("pipe"), 2;
	for (int i = 0; i < procs; i++)
		if (pipe(fds[i]) < 0)
			return perror("pipe"), 2;
	fflush(stdout);
	for (int i = 0; i < procs; i++) {
		pid[i] = fork();
		if (pid[i] < 0)
			return perror("fork"), 2;
		if (pid[i] == 0)
			_exit(child(i, fds[i][0], fds[(i + 1) % procs][1], done[1]));
	}
	close(done[1]); /* if every child died, the reads below end */
	struct token tok;
	for (int i = 0; i < procs; i++) /* every client attached before the first token */
		if (get(done[0], &tok) < 0)
			return fprintf(stderr, "fnl-order: a child died early\n"), 1;
	for (int k = 0; k < keys; k++) /* key k starts at process k % procs */
		put(fds[k % procs][1], (struct token){.key = k, .seq = 0});
	for (int k = 0; k < keys; k++)
		if (get(done[0], &tok) < 0 || tok.key < 0)
			return fprintf(stderr, "fnl-order: a child died\n"), 1;
	for (int i = 0; i < procs; i++)
		put(fds[i][1], (struct token){.key = -1});
	int bad = 0;
	for (int i = 0; i < procs; i++) {
		int st;
		if (waitpid(pid[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	}
	fclose(ex);
	printf("fnl-order: %d processes, %d keys x %ld records handed around, %d failed\n", procs,
	       keys, rounds, bad);
	return bad ? 1 : 0;
}
