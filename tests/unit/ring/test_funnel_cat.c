/* funnel-cat (path in argv[1]) against the in-process fake daemon: usage and
 * connection errors exit 2, delivered input exits 0 with keys, headers,
 * partition and timestamp as given, a failed record exits 1 naming the error. */
#include "fake_daemon.h"

#include <fcntl.h>
#include <sys/wait.h>

static const char *cat_path;

/* Runs funnel-cat with args and stdin = input; stderr captured into err. */
static int run_cat(char *const args[], const char *input, char *err, size_t err_len)
{
	int in[2], ep[2], status;
	pid_t pid;
	ssize_t n;
	size_t off = 0;

	CHECK_EQ(pipe(in), 0);
	CHECK_EQ(pipe(ep), 0);
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(ep[1], 2);
		close(in[1]);
		close(ep[0]);
		execv(cat_path, args);
		_exit(127);
	}
	close(in[0]);
	close(ep[1]);
	CHECK_EQ(write(in[1], input, strlen(input)), (ssize_t)strlen(input));
	close(in[1]);
	while (off + 1 < err_len && (n = read(ep[0], err + off, err_len - 1 - off)) > 0)
		off += (size_t)n;
	err[off] = '\0';
	close(ep[0]);
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	struct fake_daemon *f = calloc(1, sizeof(*f));
	char err[4096];
	uint64_t base;

	CHECK(argc == 2);
	cat_path = argv[1];
	fake_start(f);

	char *usage1[] = {"funnel-cat", "-s", f->path, NULL};
	CHECK_EQ(run_cat(usage1, "", err, sizeof(err)), 2);
	CHECK(strstr(err, "usage") != NULL);
	char *usage2[] = {"funnel-cat", "-t", "x", "-H", "novalue", NULL};
	CHECK_EQ(run_cat(usage2, "", err, sizeof(err)), 2);
	char *usage3[] = {"funnel-cat", "-t", "x", "-m", "-1", NULL};
	CHECK_EQ(run_cat(usage3, "", err, sizeof(err)), 2);
	/* no daemon: gives up after -m (max.block.ms), not the default 60 s */
	char *noconn[] = {"funnel-cat", "-s", "/tmp/fnl-no-such-dir/s.sock", "-t", "x", "-m",
	                  "500",        NULL};
	CHECK_EQ(run_cat(noconn, "a\n", err, sizeof(err)), 2);
	CHECK(strstr(err, "cannot attach") != NULL);
	char *missing[] = {"funnel-cat", "-s", f->path, "-t", "missing", NULL};
	CHECK_EQ(run_cat(missing, "a\n", err, sizeof(err)), 2);
	CHECK(strstr(err, "missing") != NULL);

	base = f->records;
	char *ok[] = {"funnel-cat", "-s", f->path, "-t",       "topic1", "-p",   "1",
	              "-K",         "::", "-H",    "src=test", "-T",     "1000", NULL};
	CHECK_EQ(run_cat(ok, "a::1\nbb::22\nnokey\n::empty key\n", err, sizeof(err)), 0);
	CHECK_EQ(err[0], '\0');
	CHECK_EQ(f->records - base, 4);
	struct fake_rec *r = &f->cap[base];
	CHECK_EQ(r[0].key_len, 1);
	CHECK_MEM(r[0].key, "a", 1);
	CHECK_EQ(r[0].value_len, 1);
	CHECK_MEM(r[0].value, "1", 1);
	CHECK_EQ(r[0].partition, 1);
	CHECK_EQ(r[0].timestamp_ms, 1000);
	CHECK_EQ(r[0].header_count, 1);
	CHECK_EQ(r[0].headers_len, 2 + 3 + 4 + 4);
	CHECK_MEM(r[0].headers + 2, "src", 3);
	CHECK_MEM(r[0].headers + 9, "test", 4);
	CHECK_MEM(r[1].key, "bb", 2);
	CHECK_MEM(r[1].value, "22", 2);
	CHECK_EQ(r[2].flags, FNL_REC_F_KEY_NULL);
	CHECK_EQ(r[2].value_len, 5);
	CHECK_EQ(r[3].flags, 0);
	CHECK_EQ(r[3].key_len, 0);
	CHECK_EQ(r[3].value_len, 9);

	base = f->records;
	char *fail[] = {"funnel-cat", "-s", f->path, "-t", "topic1", NULL};
	CHECK_EQ(run_cat(fail, "good\nFAIL this\ngood\n", err, sizeof(err)), 1);
	CHECK(strstr(err, "line 2") != NULL);
	CHECK(strstr(err, "MESSAGE_TOO_LARGE") != NULL);
	CHECK_EQ(f->records - base, 3);
	CHECK_EQ(f->cap[base].partition, -1);

	/* the socket from the environment */
	setenv("FUNNEL_SOCKET", f->path, 1);
	char *env[] = {"funnel-cat", "-t", "topic2", NULL};
	CHECK_EQ(run_cat(env, "x\ny\n", err, sizeof(err)), 0);
	fake_stop(f);
	free(f);
	return 0;
}
