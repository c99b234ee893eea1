/* tls.h - TLS for broker connections with OpenSSL 3, through a BIO pair: the
 * caller moves ciphertext between the socket and the pair, OpenSSL never
 * touches a socket. Used by the io_uring engine (uring_tls.c, data-plane thread,
 * no blocking call) and by ctrl's blocking client (kclient.c).
 *
 * Layout
 *
 *   struct fnl_tls_ctx   one SSL_CTX built at start-up from the ssl.* settings
 *                        (CA store, client certificate, verification mode);
 *                        read-only afterwards, shared by every connection of
 *                        every thread (OpenSSL allows SSL_new from several
 *                        threads on a configured SSL_CTX).
 *
 *   struct fnl_tls       one connection: SSL + BIO pair, allocated when the
 *                        connection is set up, freed when it is reused or the
 *                        engine goes:
 *
 *     socket bytes --fnl_tls_feed--> [net | pair, FNL_TLS_PAIR_BYTES each way | ssl]
 *     socket bytes <--fnl_tls_out---                                           SSL_read/SSL_write
 *
 * Invariants
 *   - Nothing is allocated after fnl_tls_conn_new: the pair's buffers are
 *     fixed; fnl_tls_feed takes at most what fits; fnl_tls_write encrypts at
 *     most FNL_TLS_RECORD bytes and only when the pair's outgoing side has
 *     room for a whole record (so SSL_write never half-completes).
 *   - The peer's certificate is verified (unless
 *     enable.ssl.certificate.verification=false) and, with
 *     ssl.endpoint.identification.algorithm=https, must name the broker's
 *     advertised host (DNS SAN, or IP SAN for an address). SNI carries the host
 *     when it is a name.
 *   - After an error, fnl_tls_why() says what happened in words a person can
 *     act on ("certificate verify failed: hostname mismatch", "peer is not
 *     speaking TLS", ...).
 */
#ifndef FNL_NET_TLS_H
#define FNL_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FNL_TLS_RECORD     16384           /* plaintext per SSL_write */
#define FNL_TLS_PAIR_BYTES (4 * 17 * 1024) /* each direction of the BIO pair */
#define FNL_TLS_WHY_MAX    200

struct fnl_tls_cfg {
	const char *ca_location; /* file or directory; NULL/"" = system default paths */
	const char *ca_pem;      /* PEM text; NULL/"" none */
	const char *cert;        /* client certificate chain (mTLS) */
	const char *key;
	const char *key_password;
	bool verify;      /* verify the broker's certificate chain */
	bool verify_host; /* and that it names the broker's host */
};

struct fnl_tls_ctx;
struct fnl_tls;

/* Build the context. On failure returns -EINVAL / -ENOENT / -ENOMEM with a
 * message in msg naming the key that is wrong (ssl.ca.location, ...). */
int fnl_tls_ctx_new(const struct fnl_tls_cfg *cfg, struct fnl_tls_ctx **out, char *msg,
                    size_t msg_len);
void fnl_tls_ctx_free(struct fnl_tls_ctx *x);
/* Whether this kernel offers kernel TLS (the "tls" upper layer protocol).
 * Funnel uses user-space TLS either way today. */
bool fnl_tls_kernel_available(void);

/* A client connection to host (an advertised broker host name or address).
 * -ENOMEM. */
int fnl_tls_conn_new(struct fnl_tls_ctx *x, const char *host, struct fnl_tls **out);
void fnl_tls_conn_free(struct fnl_tls *t);

/* Drive the handshake: 1 done, 0 needs more bytes from the peer (and maybe
 * has bytes to send: fnl_tls_out), -EKEYREJECTED (certificate refused),
 * -EPROTO (any other TLS failure); see fnl_tls_why. */
int fnl_tls_handshake(struct fnl_tls *t);
/* Give received ciphertext; returns bytes taken (0 when the pair is full). */
size_t fnl_tls_feed(struct fnl_tls *t, const void *p, size_t n);
/* Decrypt into buf: > 0 bytes, 0 needs more ciphertext, -ECONNRESET the
 * peer closed (close_notify), -EPROTO a bad record. */
int fnl_tls_read(struct fnl_tls *t, void *buf, size_t cap);
/* Whether fnl_tls_write would take n > 0 bytes now. */
bool fnl_tls_can_write(const struct fnl_tls *t);
/* Encrypt up to FNL_TLS_RECORD bytes of p: bytes taken (0 when the pair's
 * outgoing side lacks room for a record), or -EPROTO. */
int fnl_tls_write(struct fnl_tls *t, const void *p, size_t n);
/* Ciphertext waiting to go to the socket: a pointer to the next contiguous
 * run (its length returned, 0 none); fnl_tls_out_done drops n sent bytes. */
size_t fnl_tls_out(struct fnl_tls *t, const uint8_t **p);
void fnl_tls_out_done(struct fnl_tls *t, size_t n);

/* What failed, or after a handshake "TLSv1.3 TLS_AES_256_GCM_SHA384". */
const char *fnl_tls_why(const struct fnl_tls *t);
/* Note a failure found by the caller (e.g. the peer closed mid-handshake). */
void fnl_tls_set_why(struct fnl_tls *t, const char *why);

#endif
