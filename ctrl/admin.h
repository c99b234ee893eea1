/* admin.h - the admin side of the control socket (funnelctl) and SIGHUP reload.
 *
 *   funnelctl ── ADMIN(arg = sections) ──▶ registry.c ──▶ fnl_admin_handle()
 *             ◀─ ADMIN_REPLY(arg = bytes) + memfd with the snapshot text
 *
 * Snapshot text: one object per line, "<kind> key=value key=value ...\n";
 * kinds and keys are [a-z_]; values are percent-encoded (%XX) outside
 * [A-Za-z0-9._:/,@+-], so a value never holds a space, '=' or a newline.
 *
 *   daemon    pid uptime_ms now_ms producer_id producer_epoch idempotent
 *             metadata_age_ms brokers_known clients_active topics partitions
 *             healthy health log_level metrics_listen socket
 *   totals    records_in records_acked records_failed records_bad batches_sent
 *             batches_acked batches_failed retries requests_sent responses
 *             bytes_raw bytes_wire bytes_tx connects disconnects ring_full_waits
 *             pool_empty seals_full seals_linger seals_pool quarantined
 *             metadata_requests epoch_bumps
 *   core      core cpu batches bytes_in bytes_out busy_us depth sleeps cpu_us (one per
 *             core that compresses: 0 the data-plane core, i the worker on
 *             funnel.cores[i]; with the totals)
 *   error     code name records
 *   broker    node state state_name inflight requests responses rtt_mean_us leads
 *   partition topic partition leader queued_batches queued_bytes open_records
 *             inflight batches_acked records_acked retries retries_by_code
 *             (code:n,...) last_error last_error_name
 *   client    slot pid uid state appended delivered failed appended_bytes
 *             ring_full_waits ring_bytes ring_used_bytes
 *   config    key value
 *
 * Invariants: runs on the ctrl thread only; reads the core's counters like
 * metrics.c does; the reply is one message (no partial replies), so a slow
 * admin client never blocks the ctrl thread; the memfd is the client's to close.
 */
#ifndef FNL_CTRL_ADMIN_H
#define FNL_CTRL_ADMIN_H

#include <stdint.h>

#include "ctrl/metrics.h"
#include "dataplane/ring/ctlproto.h"

struct fnl_daemon;

/* Renders the sections (FNL_ADMIN_* mask) into out. 0 or -ENOMEM. */
int fnl_admin_snapshot(const struct fnl_daemon *d, uint32_t sections, struct fnl_mbuf *out);

/* Answers one ADMIN message on fd (a non-blocking SEQPACKET socket). 0 or -errno. */
int fnl_admin_handle(struct fnl_daemon *d, int fd, const struct fnl_ctl_msg *m);

/* SIGHUP: reads path (if not NULL) and the -X overrides again, applies what is
 * safe live (funnel.log.level) and logs every other changed key as needing a
 * restart. 0, or -errno when the new settings do not parse (nothing applied). */
int fnl_admin_reload(struct fnl_daemon *d, const char *path, char *const *overrides, int n);

#endif
