/* kclient.h - the control plane's small blocking Kafka client: ApiVersions
 * negotiation, Metadata and InitProducerId over one TCP socket with
 * timeouts; with security.protocol=SSL/SASL_SSL the socket carries TLS
 * (dataplane/net/tls.h, the same code the data plane uses), with SASL_* a
 * SaslHandshake + SaslAuthenticate login follows ApiVersions.
 * Not on the data path; the data plane has its own connections.
 *
 * Invariants: one request in flight; every read is bounded by the frame
 * size the peer announced and by buf_bytes; a malformed or oversized answer
 * closes the socket and returns -EBADMSG/-EMSGSIZE with a message.
 */
#ifndef FNL_CTRL_KCLIENT_H
#define FNL_CTRL_KCLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dataplane/kafka/proto.h"
#include "dataplane/net/tls.h"
#include "dataplane/sasl/creds.h"

#define FNL_KCLIENT_BUF_BYTES (4u << 20)

struct fnl_kclient {
	int fd;
	int timeout_ms;
	int32_t corr;
	char client_id[128];
	char peer[300];
	int16_t ver_metadata, ver_init_pid, ver_api_versions; /* negotiated on connect */
	unsigned next_server; /* which bootstrap server to try first (rotates) */
	uint8_t *buf;
	size_t buf_bytes;
	/* security: set by the owner before connecting; NULL = plaintext / no SASL */
	struct fnl_tls_ctx *tls_ctx;
	struct fnl_sasl_creds *creds;
	struct fnl_tls *tls;   /* this connection's TLS, NULL when plaintext */
	int16_t ver_sasl_auth; /* SaslAuthenticate version, -1 unsupported */
	int64_t session_lifetime_ms; /* from the last login, 0 none */
	int64_t reauth_at_ns;        /* KIP-368: log in again from then on (0: never) */
	int64_t session_end_ns;      /* the broker closes the connection after this */
	uint64_t reauths;            /* re-authentications on this client's connections */
	char why[256];         /* the last security failure, for fnl_kclient_connect's message */
	struct fnl_sasl sasl;
	struct fnl_api_range ranges[64]; /* the broker's ApiVersions answer (ctrl/txnd.c) */
	int nranges;
	uint8_t ct[17 * 1024]; /* received ciphertext on its way into tls */
};

/* Resolve "host:port" (first address) into *out (AF_INET or AF_INET6 in a sockaddr_in6). */
int fnl_resolve(const char *host, int port, struct sockaddr_in6 *out);
/* Split "host:port"; returns 0 or -EINVAL. */
int fnl_split_hostport(const char *s, char *host, size_t host_len, int *port);

int fnl_kclient_init(struct fnl_kclient *k, const char *client_id, int timeout_ms);
void fnl_kclient_close(struct fnl_kclient *k);
void fnl_kclient_free(struct fnl_kclient *k);
/* Connect to one of the comma-separated bootstrap servers and negotiate versions.
 * On failure, msg says which servers were tried and why. */
int fnl_kclient_connect(struct fnl_kclient *k, const char *servers, char *msg, size_t msg_len);
/* KIP-368 for this blocking connection, before each request: when the
 * session the broker gave is 85% over, SaslHandshake + SaslAuthenticate again
 * on the same connection with the credentials as they are now (nothing is in
 * flight between requests); when it is already over (ctrl was idle), close,
 * so that the caller reconnects. Returns 1 (re-authenticated), 0 (nothing
 * due) or -errno with k->why set (the connection is closed). */
int fnl_kclient_keep_session(struct fnl_kclient *k);
/* Metadata for these topics (n = 0: brokers only). The visitor sees the answer. */
int fnl_kclient_metadata(struct fnl_kclient *k, const char *const *topics, int n,
			 const struct fnl_md_visitor *v, char *msg, size_t msg_len);
/* InitProducerId; pid/epoch -1 for a new producer, the current ones for a KIP-360 bump
 * (needs v3+; with an older broker a new id is requested). *kerr is the Kafka error. */
int fnl_kclient_init_pid(struct fnl_kclient *k, const char *txn_id, int64_t pid, int16_t epoch,
			 int64_t *pid_out, int16_t *epoch_out, int16_t *kerr, char *msg,
			 size_t msg_len);

/* One request already encoded in k->buf[0..len) (its correlation id k->corr - 1); on 0,
 * *body points to the answer's body in k->buf. On failure the connection is closed. */
int fnl_kclient_request(struct fnl_kclient *k, size_t len, int16_t api, int16_t ver,
			const uint8_t **body, size_t *body_len);

#endif
