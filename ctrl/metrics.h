/* metrics.h - Prometheus exposition of funneld's counters over a small HTTP
 * server on its own thread, and the text buffer both metrics and admin use.
 *
 *   ctrl thread                      metrics thread (one, blocking sockets + poll)
 *   ───────────                      ─────────────────────────────────────────────
 *   fnl_metrics_start() ──creates──▶ listen(funnel.metrics.listen)
 *                                    poll: stop eventfd, listener, ≤ FNL_HTTP_CONNS_MAX conns
 *                                    GET /metrics  → fnl_metrics_render()
 *                                    GET /health   → 200 | 503 (fnl_metrics_healthy())
 *   fnl_metrics_stop()  ──eventfd──▶ closes everything, thread joins
 *
 *   struct fnl_mbuf:  buf[0 .. len) text, NUL at buf[len] when cap > 0, cap ≤ FNL_MBUF_MAX
 *
 * Invariants:
 * - the metrics thread only reads: core counters (plain stores by the core,
 *   read without locks, possibly one update old), d->topics names and
 *   d->clients pids (written by the ctrl thread before the core learns the
 *   topic or client, never changed while in use), d->last_metadata_ms,
 *   d->brokers_known, d->start_ms and d->cfg; it never writes daemon state;
 * - a request is at most FNL_HTTP_REQ_MAX bytes and must arrive within
 *   FNL_HTTP_REQ_MS, a response is sent within FNL_HTTP_IDLE_MS; at most
 *   FNL_HTTP_CONNS_MAX connections, and when all are taken a new one evicts
 *   the oldest that has not sent its request yet and is at least
 *   FNL_HTTP_EVICT_MS old (else it waits in the backlog); every response is
 *   "Connection: close";
 * - an mbuf never grows beyond FNL_MBUF_MAX bytes: a write past it marks the
 *   buffer failed (fnl_mbuf_failed) instead of allocating more.
 */
#ifndef FNL_CTRL_METRICS_H
#define FNL_CTRL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FNL_HTTP_CONNS_MAX 16
#define FNL_HTTP_REQ_MAX   4096
#define FNL_HTTP_REQ_MS    3000  /* to receive a whole request */
#define FNL_HTTP_IDLE_MS   10000 /* to send the response */
#define FNL_HTTP_EVICT_MS  250   /* a connection without a request is evictable after */
#define FNL_MBUF_MAX       ((size_t)64 << 20)
/* funneld gives its core this many broker slots; stats are read for each */
#define FNL_METRICS_BROKERS_MAX 64

struct fnl_daemon;
struct fnl_metrics;

/* Growable text buffer (ctrl side only, never on a per-record path). */
struct fnl_mbuf {
	char *buf;
	size_t len, cap;
	bool failed; /* allocation failed or FNL_MBUF_MAX reached */
};

void fnl_mbuf_init(struct fnl_mbuf *b);
void fnl_mbuf_free(struct fnl_mbuf *b);
void fnl_mbuf_printf(struct fnl_mbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void fnl_mbuf_put(struct fnl_mbuf *b, const char *s, size_t n);

/* Renders every metric in the Prometheus text format (version 0.0.4).
 * 0, or -ENOMEM when the output does not fit in FNL_MBUF_MAX. */
int fnl_metrics_render(const struct fnl_daemon *d, struct fnl_mbuf *out);

/* true once metadata is known and, with enable.idempotence, a producer id is
 * held by the core. why (if not NULL) gets a short reason when false. */
bool fnl_metrics_healthy(const struct fnl_daemon *d, const char **why);

/* Starts the HTTP server on d->cfg.metrics_listen ("host:port", "[v6]:port";
 * empty: off, *out = NULL, returns 0). 0 or -errno with a message in msg. */
int fnl_metrics_start(const struct fnl_daemon *d, struct fnl_metrics **out, char *msg,
                      size_t msg_len);
/* Stops the thread and frees everything; NULL is fine. */
void fnl_metrics_stop(struct fnl_metrics *m);
/* The bound port (useful with port 0), or -1. */
int fnl_metrics_port(const struct fnl_metrics *m);

#endif
