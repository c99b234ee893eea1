/* ctlproto.h - the control protocol between libfunnel and funneld.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET at the daemon's socket path (config
 * funnel.socket.path, default FNL_CTL_SOCKET_DEFAULT; libfunnel takes it from
 * fnl_conf.socket_path or the FUNNEL_SOCKET environment variable). Every
 * message is exactly one struct fnl_ctl_msg (276 bytes, host byte order),
 * optionally carrying ONE fd with SCM_RIGHTS.
 *
 *   client                                   daemon
 *   HELLO  arg = FNL_RING_VERSION  + memfd ─▶
 *                                          ◀─ WELCOME arg = client id + eventfd (doorbell)
 *                                          ◀─ or ERROR status = -errno, name = message
 *   TOPIC  name = topic, arg = the client's ─▶
 *          max_block_ms (0: the daemon's)  ◀─ TOPIC_OK arg = topic id, arg2 = partitions or -1
 *                                          ◀─ or ERROR status = -errno, name = message
 *          (a topic the cluster does not know yet is answered once it does, or with
 *          -ENOENT / -ETIMEDOUT at min(arg, the daemon's max.block.ms); the daemon serves
 *          other clients meanwhile)
 *          arg2 = id + 1 when re-attaching to a restarted daemon with records that
 *          name the topic by id (0: a first lookup): a name the daemon's saved table
 *          has under that id is answered TOPIC_OK at once, even when the cluster no
 *          longer knows it (deleted while no daemon ran: its records fail with
 *          UNKNOWN_TOPIC_OR_PARTITION, arg2 = 0 partitions)
 *   BYE                                    ─▶ (then close)
 *
 * Admin connections (funnelctl) never send HELLO; they may send, any number of times:
 *   ADMIN  arg = FNL_ADMIN_* section mask  ─▶
 *                                          ◀─ ADMIN_REPLY arg = bytes + memfd holding the
 *                                             snapshot text (docs/operations.md, "funnelctl")
 *                                          ◀─ or ERROR status = -errno, name = message
 *
 * Invariants:
 *   - magic == FNL_CTL_MAGIC, version == FNL_CTL_VERSION, type in 1..6 or 16..17, name is
 *     NUL-terminated within its 256 bytes; anything else is -EPROTO.
 *   - at most one fd per message; fnl_ctl_recv closes fds nobody asked for.
 *   - the open connection means the client is alive; its close (or BYE) means it
 *     is gone: the daemon drains what was published, then releases the ring.
 *   - requests are answered in order, one reply per request.
 */
#ifndef FNL_RING_CTLPROTO_H
#define FNL_RING_CTLPROTO_H

#include <stdint.h>

#define FNL_CTL_MAGIC          0x464e4c43u /* "FNLC" */
#define FNL_CTL_VERSION        1
#define FNL_CTL_NAME_BYTES     256
#define FNL_CTL_SOCKET_DEFAULT "/run/funnel/funnel.sock"
#define FNL_CTL_SOCKET_ENV     "FUNNEL_SOCKET"

enum {
	FNL_CTL_HELLO = 1,
	FNL_CTL_WELCOME = 2,
	FNL_CTL_TOPIC = 3,
	FNL_CTL_TOPIC_OK = 4,
	FNL_CTL_BYE = 5,
	FNL_CTL_ERROR = 6,
	/* admin (funnelctl); 7..15 stay invalid */
	FNL_CTL_ADMIN = 16,
	FNL_CTL_ADMIN_REPLY = 17,
};

/* Sections an ADMIN request asks for (arg); the reply is text, one object per
 * line: "<kind> key=value key=value ...", values percent-encoded (%XX) outside
 * [A-Za-z0-9._:/,@+-]. Kinds: daemon, totals, error, broker, partition, client,
 * config. */
enum {
	FNL_ADMIN_DAEMON = 1 << 0,
	FNL_ADMIN_TOTALS = 1 << 1,
	FNL_ADMIN_BROKERS = 1 << 2,
	FNL_ADMIN_PARTITIONS = 1 << 3,
	FNL_ADMIN_CLIENTS = 1 << 4,
	FNL_ADMIN_CONFIG = 1 << 5,
	FNL_ADMIN_ERRORS = 1 << 6,
	FNL_ADMIN_ALL = (1 << 7) - 1,
};
#define FNL_ADMIN_REPLY_MAX ((uint32_t)64 << 20)

struct fnl_ctl_msg {
	uint32_t magic;
	uint16_t version, type;
	int32_t status; /* 0 or -errno */
	uint32_t arg;
	int32_t arg2;
	char name[FNL_CTL_NAME_BYTES]; /* NUL-terminated */
};
_Static_assert(sizeof(struct fnl_ctl_msg) == 276, "fnl_ctl_msg is 276 bytes");

/* Fills magic/version/type, zeroes the rest. */
void fnl_ctl_msg_init(struct fnl_ctl_msg *m, uint16_t type);

/* Sends one message with pass_fd (-1: none) via SCM_RIGHTS. MSG_NOSIGNAL.
 * 0 or -errno (-EAGAIN on a non-blocking socket, -EPIPE when the peer is gone). */
int fnl_ctl_send(int fd, const struct fnl_ctl_msg *m, int pass_fd);

/* Receives one message and validates its size, magic, version, type and name.
 * A received fd goes to *got_fd (else *got_fd = -1; when got_fd is NULL the fd
 * is closed). Fds are received with MSG_CMSG_CLOEXEC. 0, -ECONNRESET when the
 * peer closed, -EPROTO for a malformed message (its fds closed), or -errno. */
int fnl_ctl_recv(int fd, struct fnl_ctl_msg *m, int *got_fd);

#endif
