/* netutil.h - TCP peers and event helpers shared by the net unit tests.
 *
 * The peers are plain blocking sockets on 127.0.0.1:0 driven by a thread;
 * the engine under test is driven by the test's main thread.
 */
#ifndef FNL_TEST_NETUTIL_H
#define FNL_TEST_NETUTIL_H

#include "check.h"
#include "dataplane/net/engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#define NT_WAIT_NS (5LL * 1000000000LL)

/* A listening socket on 127.0.0.1:0; *sa gets its address. */
static inline int nt_listen(struct sockaddr_in *sa, int backlog)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(fd, (struct sockaddr *)sa, sizeof(*sa)) == 0);
	CHECK(listen(fd, backlog) == 0);
	CHECK(getsockname(fd, (struct sockaddr *)sa, &len) == 0);
	return fd;
}

static inline bool nt_read_all(int fd, void *buf, size_t n)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static inline bool nt_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

static inline void nt_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The defaults, with the receive path chosen by $FNL_NET_RX (meson runs each
 * test once per value): unset = the default (provided buffer ring when the
 * kernel has it), "direct" = the forced fallback (plain recv), "tiny" = a
 * buffer ring of 4 x 512 bytes, so it runs dry and connections stop often. */
static inline void nt_cfg(struct fnl_engine_cfg *cfg)
{
	const char *m = getenv("FNL_NET_RX");
	fnl_engine_cfg_default(cfg);
	if (m && strcmp(m, "direct") == 0) {
		cfg->rx_direct = true;
	} else if (m && strcmp(m, "tiny") == 0) {
		cfg->rx_bufs = 4;
		cfg->rx_buf_bytes = 512;
	} else if (m && *m) {
		fprintf(stderr, "FNL_NET_RX=%s: want direct or tiny\n", m);
		exit(1);
	}
}

/* The receive path the engine took, checked against $FNL_NET_RX: a forced
 * fallback must be direct; otherwise the ring is expected on Linux 6.0+
 * (multishot recv), where this project runs. */
static inline void nt_check_rx_path(struct fnl_engine *e)
{
	struct fnl_engine_stats st;
	const char *m = getenv("FNL_NET_RX");
	struct utsname u;
	fnl_engine_stats(e, &st);
	if (m && strcmp(m, "direct") == 0)
		CHECK_EQ(st.rx_bufring, 0);
	else if (uname(&u) == 0 && atoi(u.release) >= 6)
		CHECK_EQ(st.rx_bufring, 1);
}

static inline struct fnl_engine *nt_engine(uint32_t rx_bytes_max)
{
	struct fnl_engine_cfg cfg;
	struct fnl_engine *e = NULL;
	nt_cfg(&cfg);
	cfg.conns_max = 8;
	if (rx_bytes_max)
		cfg.rx_bytes_max = rx_bytes_max;
	CHECK_EQ(fnl_engine_new(&cfg, &e), 0);
	nt_check_rx_path(e);
	return e;
}

/* The next event, polling one at a time (so frames stay valid until the next
 * call). Fails the test after NT_WAIT_NS without one. */
static inline struct fnl_event nt_next(struct fnl_engine *e)
{
	struct fnl_event ev;
	int64_t end = fnl_now_ns() + NT_WAIT_NS;
	for (;;) {
		int n = fnl_engine_poll(e, &ev, 1, 100000000LL);
		CHECK(n >= 0);
		if (n == 1)
			return ev;
		if (fnl_now_ns() > end) {
			fprintf(stderr, "no event within %lld ns\n", (long long)NT_WAIT_NS);
			exit(1);
		}
	}
}

/* Open to sa and wait for FNL_EV_CONNECTED. */
static inline int nt_connect(struct fnl_engine *e, const struct sockaddr_in *sa, uint64_t user)
{
	struct fnl_event ev;
	int id = fnl_conn_open(e, (const struct sockaddr *)sa, sizeof(*sa), 2000, user);
	CHECK(id >= 0);
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_CONNECTED);
	CHECK_EQ(ev.conn, id);
	CHECK_EQ(ev.res, 0);
	CHECK_EQ(ev.user, user);
	return id;
}

/* No event at all for wait_ns. */
static inline void nt_quiet(struct fnl_engine *e, int64_t wait_ns)
{
	struct fnl_event ev;
	int n = fnl_engine_poll(e, &ev, 1, wait_ns);
	if (n != 0)
		fprintf(stderr, "unexpected event type %d conn %d res %d\n", ev.type, ev.conn,
		        ev.res);
	CHECK_EQ(n, 0);
}

#endif
