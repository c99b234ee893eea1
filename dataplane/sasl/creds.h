/* creds.h - the SASL credentials every broker connection logs in with.
 *
 * Written by ctrl (at start-up, and again when funnel.sasl.password.file or
 * funnel.sasl.oauthbearer.token.file changes on disk, or an unsecured JWT is
 * renewed); read by ctrl's client and by the data-plane thread at each login,
 * never per record. A mutex guards the copy: a login holds it for one memcpy.
 *
 * Invariants: gen grows by one per change, so a connection can tell that the
 * credentials it failed with have since changed; the secret never leaves this
 * struct except into a struct fnl_sasl for one login.
 */
#ifndef FNL_SASL_CREDS_H
#define FNL_SASL_CREDS_H

#include <pthread.h>
#include <stdint.h>

#include "dataplane/sasl/sasl.h"

struct fnl_sasl_creds {
	pthread_mutex_t mu;
	int mech; /* FNL_MECH_*, 0 = no SASL */
	char user[FNL_SASL_USER_MAX];
	char secret[FNL_SASL_SECRET_MAX];
	size_t secret_len;
	uint64_t gen;
};

void fnl_sasl_creds_init(struct fnl_sasl_creds *c, int mech, const char *user);
void fnl_sasl_creds_destroy(struct fnl_sasl_creds *c);
/* Replace the secret (gen + 1 when it differs). */
void fnl_sasl_creds_set(struct fnl_sasl_creds *c, const char *secret, size_t len);
/* Read the secret from path (one trailing newline dropped). 1 it differs from
 * the secret held (gen + 1), 0 the same, -errno (the old secret stays). */
int fnl_sasl_creds_file(struct fnl_sasl_creds *c, const char *path);
/* Set up s for one login with the current credentials; *gen = their gen. */
int fnl_sasl_creds_login(struct fnl_sasl_creds *c, struct fnl_sasl *s, uint64_t *gen);

#endif
