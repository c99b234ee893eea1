/* daemon.h - funneld's control thread state.
 *
 *   main thread (ctrl)                          data-plane thread (core)
 *   ───────────────────                         ────────────────────────
 *   config, kclient (Metadata, InitProducerId)
 *   registry: unix socket, SO_PEERCRED,   ─cmdq─▶ fnl_core_run()
 *             memfd validation + mmap     ◀─evtq─ (refresh, bump, released, ...)
 *   signals, periodic metadata refresh
 *
 * Invariants: the ctrl thread owns every fd and mapping; a client mapping is
 * unmapped only after the core said FNL_EVT_CLIENT_RELEASED; a topic id is
 * handed to a client only after its FNL_CMD_TOPIC was queued to the core.
 */
#ifndef FNL_CTRL_DAEMON_H
#define FNL_CTRL_DAEMON_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctrl/config.h"
#include "ctrl/kclient.h"
#include "dataplane/core/cmdq.h"
#include "dataplane/core/core.h"
#include "dataplane/net/tls.h"
#include "dataplane/sasl/creds.h"

#define FNL_CMDQ_SLOTS 8192

struct dclient {
	int fd;      /* control socket; -1 once the client is gone */
	int memfd;
	void *map;
	size_t bytes;
	pid_t pid;
	uid_t uid;
	uint64_t ino; /* the ring memfd's inode (logged at attach: the restart warning names it) */
	bool in_core; /* CLIENT_ADD sent; wait for RELEASED before unmapping */
	int topics_created; /* new topic names this client registered (funnel.client.topics.max) */
	bool used;
	/* A topic lookup waiting for the cluster: answered by fnl_registry_topics_tick() once
	 * the topic is in the core or at pend_deadline_ms. One per client (a client waits
	 * for each reply before it sends its next request). */
	bool pending;
	bool pend_created; /* this client's lookup added the name to the table */
	int pend_topic;
	int pend_wait_ms; /* min(the client's max_block_ms, ours) */
	int64_t pend_deadline_ms;
};

struct dtopic {
	char name[256];
	int32_t nparts; /* 0: not yet known; grows with the cluster's count, never shrinks */
	int32_t shrunk_to; /* the smaller count a re-created topic has (warned once), or 0 */
	bool used, in_core;
	bool tentative;  /* added by a lookup that has not succeeded yet: freed if it fails */
	bool missing;    /* in the core with 0 partitions: a loaded name the cluster does not know */
	int waiters;     /* clients with a pending lookup of this topic */
	int16_t md_err;  /* the topic's error in the last Metadata answer; FNL_MD_NO_ANSWER: none */
	int32_t core_parts;    /* the count the core was given (0: none, or missing) */
	int32_t over_max;      /* a count funnel.partitions.max had no room for (logged), or 0 */
};
#define FNL_MD_NO_ANSWER INT16_MIN

/* why security failures happen, for funnel_security_failures_total{reason} */
#define FNL_SEC_REASONS 11
extern const char *const fnl_sec_reason_names[FNL_SEC_REASONS];

struct fnl_daemon {
	struct fnl_config cfg;
	struct fnl_kclient kc;
	int doorbell_efd, evt_efd, listen_fd, sig_fd;
	struct fnl_cmdq cmdq, evtq;
	struct fnl_cmd *cmd_slots, *evt_slots;
	struct fnl_core *core;
	pthread_t core_thread;
	bool core_running;
	struct dclient *clients;
	struct dtopic *topics;
	/* the control thread's poll set (funneld.c): FNL_POLL_FIXED entries, then
	 * one per connected client (pfd_slot: its index in clients) */
	struct pollfd *pfd;
	int *pfd_slot;
	int64_t pid;
	int16_t epoch;
	int64_t last_metadata_ms, start_ms;
	bool refresh_wanted, stopping, stopped;
	bool starting; /* before bootstrap and the producer id: HELLO is refused, funnelctl served */
	int brokers_known;
	int topics_pending;           /* clients with a pending topic lookup */
	int32_t parts_in_core;        /* every topic's core_parts: at most funnel.partitions.max */
	int64_t last_lookup_ms;       /* last Metadata request for pending topics */
	char lookup_msg[256];         /* why the last lookup request failed ("" if it did not) */
	int batch_size_max; /* batch.size at start-up: slots are that big */
	/* security (secure.c): shared by kc and the core's connections */
	struct fnl_tls_ctx *tls_ctx;      /* NULL: plaintext */
	struct fnl_sasl_creds creds;      /* mech 0: no SASL */
	int64_t jwt_renew_ms;             /* unsecured JWT: make a new one at this time */
	int64_t token_exp_s;              /* "exp" of the token file's JWT, 0 unknown */
	int64_t sec_checked_ms;           /* credential files last looked at */
	pthread_mutex_t sec_mu;           /* guards sec_fail and start_why (read by the metrics thread) */
	char start_why[256];              /* why bootstrap keeps failing ("" when not) */
	struct {
		int64_t source;           /* -1: ctrl's connection, else a broker's node id */
		char why[256];            /* "" free */
	} sec_fail[16];                   /* failing until a login from the same source works */
	uint64_t sec_fails_by[FNL_SEC_REASONS]; /* failures by fnl_secure_reason(), under sec_mu */
};

/* meta.c */
void fnl_daemon_push(struct fnl_daemon *d, const struct fnl_cmd *m);
int fnl_daemon_bootstrap(struct fnl_daemon *d, char *msg, size_t msg_len);
int fnl_daemon_refresh(struct fnl_daemon *d);
/* KIP-368 for ctrl's cluster connection: re-authenticates it when 85% of the
 * session the broker gave is over (called every loop pass and before each
 * request); a session that ended while ctrl was busy closes it (the next
 * request reconnects). */
void fnl_daemon_keep_session(struct fnl_daemon *d);
/* Finds or adds a topic name in the table (never waits). A name the daemon does not know
 * yet is added only if may_create; *created says whether it was (the entry is then
 * tentative until the cluster knows the topic). Returns the topic id, or -errno with a
 * message. */
int fnl_daemon_topic_find(struct fnl_daemon *d, const char *name, bool may_create,
			  bool *created, char *msg, size_t msg_len);
/* One Metadata request for every topic that is in the table but not yet in the core;
 * those the cluster knows go to the core. 0, or -errno with d->lookup_msg set. */
int fnl_daemon_topics_lookup(struct fnl_daemon *d);
/* Why a lookup of topic id gave up: a message naming the topic and the Kafka error;
 * returns -ENOENT (the cluster says it does not exist) or -ETIMEDOUT. */
int fnl_daemon_topic_failure(const struct fnl_daemon *d, int id, int waited_ms, char *msg,
			     size_t msg_len);
/* Saves the topic table (after a new name reached the core). */
void fnl_daemon_topics_save(const struct fnl_daemon *d);
/* Loads the topic table a previous funneld saved (ids stay stable across a
 * restart: they are written into client rings). Returns topics loaded. */
int fnl_daemon_topics_load(struct fnl_daemon *d);
/* Kafka's rule for topic names: [a-zA-Z0-9._-]{1,249} */
bool fnl_topic_name_ok(const char *name);
int fnl_daemon_init_pid(struct fnl_daemon *d, bool bump, char *msg, size_t msg_len);
/* <funnel.state.dir or the socket's directory>/name */
void fnl_state_path(const struct fnl_config *cfg, const char *name, char *out, size_t n);
/* secure.c */
/* TLS context and SASL credentials from the settings; a message naming the key on failure. */
int fnl_secure_setup(struct fnl_daemon *d, char *msg, size_t msg_len);
void fnl_secure_free(struct fnl_daemon *d);
/* Re-read a changed password/token file, renew an unsecured JWT; cheap, call often. */
void fnl_secure_refresh(struct fnl_daemon *d, bool force);
/* Record (why != NULL) or clear (NULL) the security failure of a source (-1:
 * ctrl's connection, else a node id) that /health reports. */
void fnl_secure_status(struct fnl_daemon *d, int64_t source, const char *why);
/* Copy of the current failure ("" none) for /health and funnelctl. */
void fnl_secure_why(struct fnl_daemon *d, char *out, size_t n);
/* Record (why != NULL) or clear why bootstrap keeps failing; copy it ("" none). */
void fnl_daemon_set_start_why(struct fnl_daemon *d, const char *why);
void fnl_daemon_start_why(struct fnl_daemon *d, char *out, size_t n);
/* A refused OAUTHBEARER login while the token file's JWT is past its "exp":
 * why is rewritten to say so and name the file. */
void fnl_secure_explain(struct fnl_daemon *d, char *why, size_t n);
/* The reason (index into fnl_sec_reason_names) a failure message names. */
int fnl_secure_reason(const char *why);
/* Failures so far by reason (each failed connection or login counts once). */
void fnl_secure_counts(struct fnl_daemon *d, uint64_t out[FNL_SEC_REASONS]);
/* registry.c */
int fnl_registry_listen(struct fnl_daemon *d, char *msg, size_t msg_len);
/* mkdir -p: parents 0755, the last one `mode`; 0 or -errno */
int fnl_mkdir_p(const char *dir, mode_t mode);
void fnl_registry_accept(struct fnl_daemon *d);
void fnl_registry_serve(struct fnl_daemon *d, int slot);
void fnl_registry_gone(struct fnl_daemon *d, int slot);
void fnl_registry_released(struct fnl_daemon *d, int slot);
void fnl_registry_close_all(struct fnl_daemon *d);
/* Answers pending topic lookups: asks the cluster again (every 100 ms, or now if `now`),
 * replies to clients whose topic is known, fails those past their deadline. */
void fnl_registry_topics_tick(struct fnl_daemon *d, bool now);

#endif
