/* ctlproto.c - send/receive one control message with an optional fd. */
#include "dataplane/ring/ctlproto.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void fnl_ctl_msg_init(struct fnl_ctl_msg *m, uint16_t type)
{
	memset(m, 0, sizeof(*m));
	m->magic = FNL_CTL_MAGIC;
	m->version = FNL_CTL_VERSION;
	m->type = type;
}

int fnl_ctl_send(int fd, const struct fnl_ctl_msg *m, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof(*m) ? 0 : -EPROTO;
}

/* Closes every fd in the control data; returns the first when keep, else -1. */
static int ctl_take_fds(struct msghdr *mh, int keep, int *nfds)
{
	struct cmsghdr *c;
	int first = -1;

	*nfds = 0;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (keep && first < 0)
				first = f;
			else
				close(f);
			(*nfds)++;
		}
	}
	return first;
}

static int ctl_check(const struct fnl_ctl_msg *m)
{
	if (m->magic != FNL_CTL_MAGIC || m->version != FNL_CTL_VERSION)
		return -EPROTO;
	if ((m->type < FNL_CTL_HELLO || m->type > FNL_CTL_ERROR) && m->type != FNL_CTL_ADMIN &&
	    m->type != FNL_CTL_ADMIN_REPLY)
		return -EPROTO;
	if (!memchr(m->name, 0, sizeof(m->name)))
		return -EPROTO;
	return 0;
}

int fnl_ctl_recv(int fd, struct fnl_ctl_msg *m, int *got_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
	struct msghdr mh = {.msg_iov = &iov,
	                    .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	ssize_t n;
	int nfds, kept, rc;

	if (got_fd)
		*got_fd = -1;
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	rc = 0;
	if (n != (ssize_t)sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		rc = -EPROTO;
	else
		rc = ctl_check(m);
	kept = ctl_take_fds(&mh, rc == 0 && got_fd != NULL, &nfds);
	if (rc == 0 && nfds > 1) {
		close(kept);
		return -EPROTO;
	}
	if (rc < 0)
		return rc;
	if (got_fd)
		*got_fd = kept;
	return 0;
}
