/* secure.c - funneld's side of security.protocol: the TLS context (built
 * once, shared with the data plane), the SASL credentials (re-read from
 * funnel.sasl.password.file / funnel.sasl.oauthbearer.token.file when the
 * file changes, so a fixed file recovers without a restart), and the failure
 * /health reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctrl/daemon.h"
#include "ctrl/log.h"
#include "dataplane/net/engine.h"

#define CHECK_EVERY_MS 1000

static int64_t now_ms(void)
{
	return fnl_now_ns() / 1000000;
}

/* sasl.oauthbearer.config: "principal=NAME [lifeSeconds=N]" (librdkafka's form) */
static int jwt_make(struct fnl_daemon *d)
{
	char principal[128] = "", tok[1024];
	long life = 3600;
	char cfg[FNL_CONFIG_STR_MAX];
	snprintf(cfg, sizeof(cfg), "%s", d->cfg.sasl_oauthbearer_config);
	for (char *save = NULL, *w = strtok_r(cfg, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (strncmp(w, "principal=", 10) == 0)
			snprintf(principal, sizeof(principal), "%s", w + 10);
		else if (strncmp(w, "lifeSeconds=", 12) == 0)
			life = strtol(w + 12, NULL, 10);
	}
	if (!principal[0] || life <= 0)
		return -EINVAL;
	int n = fnl_sasl_unsecure_jwt(principal, (int64_t)time(NULL), life, tok, sizeof(tok));
	if (n < 0)
		return n;
	fnl_sasl_creds_set(&d->creds, tok, (size_t)n);
	d->jwt_renew_ms = now_ms() + life * 1000 * 8 / 10;
	return 0;
}

static const char *secret_file(const struct fnl_daemon *d, const char **key)
{
	if (d->cfg.sasl_mechanism == FNL_SASL_OAUTHBEARER) {
		*key = "funnel.sasl.oauthbearer.token.file";
		return d->cfg.sasl_token_file;
	}
	*key = "funnel.sasl.password.file";
	return d->cfg.sasl_password_file;
}

int fnl_secure_setup(struct fnl_daemon *d, char *msg, size_t len)
{
	const struct fnl_config *c = &d->cfg;
	const char *key;
	pthread_mutex_init(&d->sec_mu, NULL);
	fnl_sasl_creds_init(&d->creds, 0, NULL);
	if (fnl_sec_tls(c->security_protocol)) {
		struct fnl_tls_cfg tc = {.ca_location = c->ssl_ca_location,
		                         .ca_pem = c->ssl_ca_pem,
		                         .cert = c->ssl_certificate_location,
		                         .key = c->ssl_key_location,
		                         .key_password = c->ssl_key_password,
		                         .verify = c->ssl_verify,
		                         .verify_host = c->ssl_verify_host,
		                         .ktls = c->ssl_ktls};
		int rc = fnl_tls_ctx_new(&tc, &d->tls_ctx, msg, len);
		if (rc < 0)
			return rc;
	}
	if (fnl_sec_sasl(c->security_protocol)) {
		/* config.h and sasl.h number the mechanisms alike */
		fnl_sasl_creds_init(&d->creds, c->sasl_mechanism, c->sasl_username);
		const char *path = secret_file(d, &key);
		if (path[0]) {
			int rc = fnl_sasl_creds_file(&d->creds, path);
			if (rc < 0) {
				snprintf(msg, len, "%s=%s: %s", key, path, strerror(-rc));
				return rc;
			}
		} else if (c->sasl_mechanism == FNL_SASL_OAUTHBEARER) {
			if (jwt_make(d) < 0) {
				snprintf(msg, len,
				         "sasl.oauthbearer.config='%s': needs principal=NAME "
				         "[lifeSeconds=N] (a name without quotes)",
				         c->sasl_oauthbearer_config);
				return -EINVAL;
			}
		} else {
			fnl_sasl_creds_set(&d->creds, c->sasl_password, strlen(c->sasl_password));
		}
	}
	fnl_info(
	    "security protocol=%s mechanism=%s tls=%s", fnl_sec_proto_name(c->security_protocol),
	    fnl_sec_sasl(c->security_protocol) ? fnl_sasl_mech_name(c->sasl_mechanism) : "none",
	    !fnl_sec_tls(c->security_protocol) ? "off"
	    : c->ssl_ktls == FNL_KTLS_OFF      ? "user-space (funnel.ssl.ktls=off)"
	    : fnl_tls_kernel_available()
	        ? "handshake in user space, then kernel TLS where the kernel takes the cipher "
	          "(each connection logs its path)"
	        : "user-space (kernel TLS not available: no 'tls' upper layer protocol in this "
	          "kernel)");
	return 0;
}

void fnl_secure_free(struct fnl_daemon *d)
{
	fnl_tls_ctx_free(d->tls_ctx);
	d->tls_ctx = NULL;
	fnl_sasl_creds_destroy(&d->creds);
	pthread_mutex_destroy(&d->sec_mu);
}

void fnl_secure_refresh(struct fnl_daemon *d, bool force)
{
	const char *key;
	int64_t now = now_ms();
	if (d->creds.mech == 0 || (!force && now - d->sec_checked_ms < CHECK_EVERY_MS))
		return;
	d->sec_checked_ms = now;
	const char *path = secret_file(d, &key);
	if (path[0]) {
		int rc = fnl_sasl_creds_file(&d->creds, path);
		if (rc > 0)
			fnl_info("%s changed: the next login uses it path=%s", key, path);
		else if (rc < 0)
			fnl_warn("%s unreadable, keeping the previous secret path=%s err=\"%s\"",
			         key, path, strerror(-rc));
	} else if (d->jwt_renew_ms && now >= d->jwt_renew_ms) {
		jwt_make(d);
	}
}

#define NFAIL (sizeof(d->sec_fail) / sizeof(d->sec_fail[0]))

void fnl_secure_status(struct fnl_daemon *d, int64_t source, const char *why)
{
	size_t i, slot = NFAIL;
	pthread_mutex_lock(&d->sec_mu);
	for (i = 0; i < NFAIL; i++) {
		if (d->sec_fail[i].why[0] && d->sec_fail[i].source == source)
			break;
		if (!d->sec_fail[i].why[0] && slot == NFAIL)
			slot = i;
	}
	if (i < NFAIL)
		slot = i; /* this source's entry: replace or clear it */
	if (slot < NFAIL && (why || i < NFAIL)) {
		d->sec_fail[slot].source = source;
		snprintf(d->sec_fail[slot].why, sizeof(d->sec_fail[slot].why), "%s",
		         why ? why : "");
	}
	pthread_mutex_unlock(&d->sec_mu);
}

void fnl_secure_why(struct fnl_daemon *d, char *out, size_t n)
{
	pthread_mutex_lock(&d->sec_mu);
	snprintf(out, n, "%s", "");
	for (size_t i = 0; i < NFAIL; i++)
		if (d->sec_fail[i].why[0]) {
			snprintf(out, n, "%s", d->sec_fail[i].why);
			break;
		}
	pthread_mutex_unlock(&d->sec_mu);
}
