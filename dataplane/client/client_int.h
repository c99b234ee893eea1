/* client_int.h - what client.c shares with txn_client.c (libfunnel internals, not exported).
 *
 * A client's transaction state (struct fnl_ctxn, txn_client.c) hangs off the client; while a
 * transaction is open fnl_produce() appends records to the transaction's buffer instead of
 * the ring (one load of c->txn per record when there is none; no syscall, no allocation).
 */
#ifndef FNL_CLIENT_INT_H
#define FNL_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/ring/ring.h"
#include "include/funnel.h"

struct fnl_ctxn;

/* The client's transaction slot (NULL until fnl_txn_init). */
struct fnl_ctxn **fnl_client_txn_slot(fnl_client_t *c);
/* The control socket path the client attached through. */
const char *fnl_client_socket_path(const fnl_client_t *c);
/* Bytes of the client's ring record area (a transaction's records are bounded by it). */
size_t fnl_client_ring_bytes(const fnl_client_t *c);
/* The i-th topic the client looked up: 0 and id/name, or -ENOENT past the last. */
int fnl_client_topic_at(const fnl_client_t *c, uint32_t i, uint32_t *id, const char **name);
/* Writes one record (header, key, value, headers, zero padding) at p (rh->len bytes). */
void fnl_client_write_record(uint8_t *p, const struct fnl_rec_hdr *rh, const void *key,
                             const void *value, const struct fnl_header *h, int nh);

/* Hands one delivery report to conf.on_report (if set), as fnl_poll() would. */
void fnl_client_report(fnl_client_t *c, uint32_t topic_id, int32_t partition, int64_t offset,
                       int16_t err, uint64_t opaque);

/* txn_client.c: true while a transaction takes the client's records. */
bool fnl_ctxn_open(const struct fnl_ctxn *t);
/* Appends a record to the open transaction: 0, or -ENOBUFS when the transaction's buffer
 * (the client's ring size) is full. */
int fnl_ctxn_append(struct fnl_ctxn *t, const struct fnl_rec_hdr *rh, const void *key,
                    const void *value, const struct fnl_header *h, int nh);
/* fnl_close(): frees; the atfork child: forgets the parent's transaction and socket. */
void fnl_ctxn_free(struct fnl_ctxn *t);
void fnl_ctxn_atfork_child(struct fnl_ctxn *t);

#endif
