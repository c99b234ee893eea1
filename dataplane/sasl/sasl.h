/* sasl.h - the client side of SASL PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER, as
 * the bytes carried in SaslAuthenticate (KIP-152). Pure: no I/O, no allocation;
 * OpenSSL's libcrypto for hashes, PBKDF2 and the CSPRNG.
 *
 * Used by both kinds of broker connection: ctrl's blocking client (kclient.c)
 * and the data plane's io_uring connections (core/sender.c). Each keeps one
 * struct fnl_sasl per connection, filled at start-up, reused for every login.
 *
 * Exchange (the caller wraps each client message in a SaslAuthenticate
 * request and passes each answer's auth_bytes to fnl_sasl_step):
 *
 *   PLAIN        C: \0user\0password                           S: (empty)
 *   SCRAM        C: n,,n=user,r=cnonce                         (client-first)
 *                S: r=cnonce+snonce,s=salt,i=iterations        (server-first)
 *                C: c=biws,r=cnonce+snonce,p=proof             (client-final)
 *                S: v=server-signature                         (server-final)
 *   OAUTHBEARER  C: n,,\x01auth=Bearer token\x01\x01             S: (empty)
 *                on failure S: a JSON error; C: \x01; then the broker fails it
 *
 * Layout: struct fnl_sasl holds the mechanism, the credentials (copied in),
 * and for SCRAM the state between the two rounds: the client nonce, the
 * client-first-bare and server-first text (for AuthMessage) and the server
 * signature expected in server-final.
 *
 * Invariants:
 *   - Every parser checks the peer's bytes against their length: no read past
 *     n, no NUL assumed. A server-first whose nonce does not start with ours
 *     (RFC 5802 section 5.1), with an iteration count below 4096, with a
 *     mandatory extension (m=) or an e= error, or a server-final whose
 *     signature does not match fails with -EBADMSG / -EACCES and a reason in
 *     s->why; nothing is ever sent after a failed step.
 *   - The nonce sent in client-final is exactly the one server-first sent.
 *   - A step out of order returns -EPROTO.
 *   - Secrets are wiped (OPENSSL_cleanse) by fnl_sasl_reset.
 */
#ifndef FNL_SASL_SASL_H
#define FNL_SASL_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FNL_SASL_USER_MAX   256
#define FNL_SASL_SECRET_MAX 8192                         /* a password, or an OAUTHBEARER token */
#define FNL_SASL_MSG_MAX    (FNL_SASL_SECRET_MAX + 1024) /* largest client message */
#define FNL_SASL_SERVER_MAX 2048                         /* largest server-first accepted */
#define FNL_SASL_WHY_MAX    200
#define FNL_SCRAM_MIN_ITER  4096
#define FNL_SCRAM_MAX_ITER  1000000 /* a larger count is a hostile server's CPU sink */

/* Same numbering as ctrl/config.h's enum fnl_sasl_mech. */
enum { FNL_MECH_PLAIN = 1, FNL_MECH_SCRAM_SHA_256, FNL_MECH_SCRAM_SHA_512, FNL_MECH_OAUTHBEARER };

enum fnl_sasl_state {
	FNL_SASL_IDLE = 0,
	FNL_SASL_SENT_FIRST,
	FNL_SASL_SENT_FINAL,
	FNL_SASL_DONE,
	FNL_SASL_FAILED,
	FNL_SASL_OAUTH_ERR
};

struct fnl_sasl {
	int mech;
	enum fnl_sasl_state state;
	char user[FNL_SASL_USER_MAX];
	char secret[FNL_SASL_SECRET_MAX]; /* password or token */
	size_t secret_len;
	/* SCRAM, between the rounds */
	char cnonce[48];
	size_t cnonce_len;
	char first_bare[FNL_SASL_USER_MAX * 3 + 64];
	size_t first_bare_len;
	uint8_t server_sig[64];
	size_t hash_len;
	char why[FNL_SASL_WHY_MAX]; /* after a failure: what the server did wrong */
};

/* The mechanism's name on the wire ("SCRAM-SHA-512"), NULL for an unknown one. */
const char *fnl_sasl_mech_wire(int mech);

/* Set the mechanism and credentials (secret = password, or the token for
 * OAUTHBEARER). -EINVAL for an unknown mechanism, -ENAMETOOLONG when the
 * user or secret does not fit. Resets any login in progress. */
int fnl_sasl_init(struct fnl_sasl *s, int mech, const char *user, const char *secret,
                  size_t secret_len);

/* Wipe the credentials and state. */
void fnl_sasl_reset(struct fnl_sasl *s);

/* First client message into out. cnonce: NULL draws 24 bytes from the CSPRNG
 * (RAND_bytes), else used as is (tests: RFC 7677's vector). Returns its length
 * or -ENOSPC / -EIO (CSPRNG failure). */
int fnl_sasl_first(struct fnl_sasl *s, const char *cnonce, uint8_t *out, size_t cap);

/* Feed the server's auth bytes of one SaslAuthenticate answer (error 0).
 * Returns > 0: the next client message's length (in out); 0: the exchange is
 * complete and the server is authenticated (SCRAM: its signature verified);
 * < 0: failed, s->why says why (-EBADMSG malformed, -EACCES a check failed,
 * -EPROTO out of order, -ENOSPC out too small). */
int fnl_sasl_step(struct fnl_sasl *s, const uint8_t *in, size_t n, uint8_t *out, size_t cap);

/* An unsigned JWT ({"alg":"none"}), as librdkafka's
 * enable.sasl.oauthbearer.unsecure.jwt makes: sub = principal, iat = now_s,
 * exp = now_s + life_s. Returns its length (NUL-terminated in out) or -ENOSPC. */
int fnl_sasl_unsecure_jwt(const char *principal, int64_t now_s, int64_t life_s, char *out,
                          size_t cap);

#endif
