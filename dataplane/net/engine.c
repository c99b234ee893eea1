/* engine.c - engine.h's functions, dispatched to the implementation the
 * engine was made with (engine_ops.h). */
#include "dataplane/net/engine_ops.h"
#ifdef FNL_HAVE_DPDK
#include "dataplane/net/dpdk.h"
#endif

#include <errno.h>
#include <stddef.h>
#include <time.h>

void fnl_engine_cfg_default(struct fnl_engine_cfg *c)
{
	*c = (struct fnl_engine_cfg){
	    .sq_entries = 256,
	    .conns_max = 64,
	    .rx_bytes_max = 8u << 20,
	    .sends_max = 16,
	    .sqpoll = false,
	    .sqpoll_cpu = -1,
	    .rx_bufs = 64,
	    .rx_buf_bytes = 16u << 10,
	    .rx_direct = false,
	    .egress = FNL_EGRESS_URING,
	};
}

int fnl_engine_new(const struct fnl_engine_cfg *cfg, struct fnl_engine **out)
{
	if (!cfg || !out)
		return -EINVAL;
	switch (cfg->egress) {
	case FNL_EGRESS_URING:
		return fnl_uring_new(cfg, out);
#ifdef FNL_HAVE_DPDK
	case FNL_EGRESS_DPDK:
		return fnl_dpdk_new(cfg, out);
#endif
	default:
		return -EOPNOTSUPP; /* not built into this binary */
	}
}

const char *fnl_engine_last_error(void)
{
#ifdef FNL_HAVE_DPDK
	return fnl_dpdk_last_error();
#else
	return "";
#endif
}

bool fnl_engine_built(enum fnl_egress e)
{
#ifdef FNL_HAVE_DPDK
	if (e == FNL_EGRESS_DPDK)
		return true;
#endif
	return e == FNL_EGRESS_URING;
}

const char *fnl_engine_name(const struct fnl_engine *e)
{
	return e ? e->ops->name : "";
}

void fnl_engine_free(struct fnl_engine *e)
{
	if (e)
		e->ops->free(e);
}

int fnl_conn_open(struct fnl_engine *e, const struct sockaddr *sa, socklen_t salen,
                  int64_t timeout_ms, uint64_t user)
{
	if (!e)
		return -EINVAL;
	return e->ops->conn_open(e, sa, salen, timeout_ms, user);
}

int fnl_conn_tls(struct fnl_engine *e, int conn, struct fnl_tls_ctx *ctx, const char *host)
{
	if (!e)
		return -EINVAL;
	return e->ops->conn_tls(e, conn, ctx, host);
}

const char *fnl_conn_why(const struct fnl_engine *e, int conn)
{
	return e ? e->ops->conn_why(e, conn) : "";
}

int fnl_conn_send(struct fnl_engine *e, int conn, struct iovec *iov, int iovcnt, uint64_t tag)
{
	if (!e)
		return -EINVAL;
	return e->ops->conn_send(e, conn, iov, iovcnt, tag);
}

void fnl_conn_close(struct fnl_engine *e, int conn)
{
	if (e)
		e->ops->conn_close(e, conn);
}

int fnl_engine_watch_eventfd(struct fnl_engine *e, int efd, uint64_t user)
{
	if (!e)
		return -EINVAL;
	return e->ops->watch_eventfd(e, efd, user);
}

int fnl_engine_poll(struct fnl_engine *e, struct fnl_event *ev, int max, int64_t wait_ns)
{
	if (!e)
		return -EINVAL;
	return e->ops->poll(e, ev, max, wait_ns);
}

void fnl_engine_stats(const struct fnl_engine *e, struct fnl_engine_stats *out)
{
	e->ops->stats(e, out);
}

int64_t fnl_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
