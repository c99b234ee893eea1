/* Control protocol: messages with and without an fd, validation, fd hygiene. */
#include "check.h"
#include "dataplane/ring/ctlproto.h"

#include <dirent.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	CHECK(d != NULL);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Sends raw bytes with up to two fds. */
static void send_raw(int s, const void *buf, size_t len, int fd1, int fd2)
{
	union {
		char b[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr a;
	} u;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	int fds[2] = {fd1, fd2}, n = (fd1 >= 0) + (fd2 >= 0);

	if (n) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	CHECK_EQ(sendmsg(s, &mh, 0), (ssize_t)len);
}

int main(void)
{
	struct fnl_ctl_msg m, r;
	int sp[2], p[2], got, base;

	CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
	CHECK_EQ(pipe(p), 0);
	base = open_fds();

	/* plain message round trip */
	fnl_ctl_msg_init(&m, FNL_CTL_TOPIC);
	strcpy(m.name, "events");
	m.arg = 5;
	m.arg2 = -1;
	m.status = -2;
	CHECK_EQ(fnl_ctl_send(sp[0], &m, -1), 0);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), 0);
	CHECK_EQ(got, -1);
	CHECK_MEM(&m, &r, sizeof(m));

	/* with an fd: it works on the other side */
	fnl_ctl_msg_init(&m, FNL_CTL_HELLO);
	CHECK_EQ(fnl_ctl_send(sp[0], &m, p[1]), 0);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), 0);
	CHECK(got >= 0 && got != p[1]);
	CHECK_EQ(write(got, "z", 1), 1);
	char ch;
	CHECK_EQ(read(p[0], &ch, 1), 1);
	close(got);
	CHECK_EQ(open_fds(), base);

	/* an fd nobody asked for is closed */
	CHECK_EQ(fnl_ctl_send(sp[0], &m, p[1]), 0);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, NULL), 0);
	CHECK_EQ(open_fds(), base);

	/* bad magic / version / type / name / size: -EPROTO, fds closed */
	struct fnl_ctl_msg bad = m;
	bad.magic = 1;
	send_raw(sp[0], &bad, sizeof(bad), p[1], -1);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	CHECK_EQ(got, -1);
	bad = m;
	bad.version = 2;
	send_raw(sp[0], &bad, sizeof(bad), -1, -1);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	bad = m;
	bad.type = 0;
	send_raw(sp[0], &bad, sizeof(bad), -1, -1);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	bad.type = 7;
	send_raw(sp[0], &bad, sizeof(bad), -1, -1);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	bad = m;
	memset(bad.name, 'a', sizeof(bad.name));
	send_raw(sp[0], &bad, sizeof(bad), p[1], -1);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	send_raw(sp[0], &m, 10, p[1], -1);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	char long_msg[sizeof(m) + 8] = {0};
	memcpy(long_msg, &m, sizeof(m));
	send_raw(sp[0], long_msg, sizeof(long_msg), -1, -1);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	/* two fds: -EPROTO, both closed */
	send_raw(sp[0], &m, sizeof(m), p[0], p[1]);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EPROTO);
	CHECK_EQ(got, -1);
	CHECK_EQ(open_fds(), base);

	/* non-blocking empty socket */
	struct timeval tv = {.tv_usec = 1000};
	setsockopt(sp[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -EAGAIN);

	/* peer gone */
	close(sp[0]);
	CHECK_EQ(fnl_ctl_recv(sp[1], &r, &got), -ECONNRESET);
	CHECK_EQ(fnl_ctl_send(sp[1], &m, -1), -EPIPE); /* MSG_NOSIGNAL: no SIGPIPE */
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	return 0;
}
