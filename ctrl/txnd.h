/* txnd.h - funneld's transaction thread: client transactions committed in daemon-wide windows
 * (docs/architecture.md, "Transactions").
 *
 * Started when transactional.id is set. It owns a unix socket "<funnel.socket.path>.txn"
 * (dataplane/ring/txnwire.h), its own blocking Kafka connections (ctrl/kclient.h: bootstrap,
 * transaction and group coordinators, partition leaders) and one transactional producer (the
 * state machine of dataplane/producer/txn.h). Clients send each transaction whole at commit;
 * the thread gathers the commits that arrived while the previous window ran into the next
 * window, runs it as one Kafka transaction (AddPartitionsToTxn, Produce, AddOffsetsToTxn +
 * TxnOffsetCommit per group, EndTxn) and answers every commit in it with the outcome.
 * Nothing here touches the data-plane core or its idempotent producer.
 *
 * Bounds: one window holds at most funnel.txn.window.bytes of client transactions (allocated
 * at start, with its record index and batch arena); at most funnel.clients.max connections.
 */
#ifndef FNL_CTRL_TXND_H
#define FNL_CTRL_TXND_H

#include <stddef.h>

struct fnl_daemon;
struct fnl_txnd;

/* Listens on the transaction socket and starts the thread. 0 or -errno with msg. */
int fnl_txnd_start(struct fnl_daemon *d, struct fnl_txnd **out, char *msg, size_t msg_len);
/* Stops after the window under way; closes the socket. NULL is fine. */
void fnl_txnd_stop(struct fnl_txnd *t);

#endif
