/* engine_ops.h - the seam behind engine.h: every engine implementation
 * (io_uring in uring.c; others, e.g. DPDK, beside it) fills one
 * struct fnl_engine_ops and hands out handles whose first member is a
 * struct fnl_engine. engine.c dispatches engine.h's functions through it, one
 * indirect call per request, never per record.
 *
 * Contract: engine.c hands every op a non-NULL engine (it answers a NULL one
 * itself); each op keeps the semantics engine.h documents for the function
 * of the same name (events, their order, the errno table, what is allocated
 * when); an implementation without TLS returns -EOPNOTSUPP from conn_tls.
 * Internal to dataplane/net.
 */
#ifndef FNL_NET_ENGINE_OPS_H
#define FNL_NET_ENGINE_OPS_H

#include "dataplane/net/engine.h"

struct fnl_engine_ops {
	const char *name; /* "uring", ... (logged, shown in /metrics) */
	void (*free)(struct fnl_engine *e);
	int (*conn_open)(struct fnl_engine *e, const struct sockaddr *sa, socklen_t salen,
	                 int64_t timeout_ms, uint64_t user);
	int (*conn_tls)(struct fnl_engine *e, int conn, struct fnl_tls_ctx *ctx, const char *host);
	const char *(*conn_why)(const struct fnl_engine *e, int conn);
	int (*conn_send)(struct fnl_engine *e, int conn, struct iovec *iov, int iovcnt,
	                 uint64_t tag);
	void (*conn_close)(struct fnl_engine *e, int conn);
	int (*watch_eventfd)(struct fnl_engine *e, int efd, uint64_t user);
	int (*poll)(struct fnl_engine *e, struct fnl_event *ev, int max, int64_t wait_ns);
	void (*stats)(const struct fnl_engine *e, struct fnl_engine_stats *out);
};

/* The head of every engine. */
struct fnl_engine {
	const struct fnl_engine_ops *ops;
};

/* The io_uring engine (uring.c): engine.h's fnl_engine_new for
 * FNL_EGRESS_URING. */
int fnl_uring_new(const struct fnl_engine_cfg *cfg, struct fnl_engine **out);

#endif
