/* secure.c - funneld's side of security.protocol: the TLS context (built
 * once, shared with the data plane), the SASL credentials (re-read from
 * funnel.sasl.password.file / funnel.sasl.oauthbearer.token.file when the
 * file changes, so a fixed file recovers without a restart), and the failure
 * /health reports. */
#include <errno.h>
#include <openssl/crypto.h>
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

/* The "exp" claim (seconds) of the JWT in the token file, 0 if it has none:
 * so that a refused login can say the token expired. */
static int64_t token_exp(const char *path)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char tok[4096], pl[3072];
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	size_t n = fread(tok, 1, sizeof(tok) - 1, f);
	fclose(f);
	tok[n] = '\0';
	char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d2)
		return 0;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (const char *c = d1 + 1; c < d2 && o + 1 < sizeof(pl); c++) {
		const char *v = *c ? strchr(a, *c) : NULL;
		if (!v)
			return 0;
		acc = acc << 6 | (uint32_t)(v - a);
		if ((bits += 6) >= 8) {
			bits -= 8;
			pl[o++] = (char)(acc >> bits & 0xff);
		}
	}
	pl[o] = '\0';
	const char *e = strstr(pl, "\"exp\":");
	OPENSSL_cleanse(tok, sizeof(tok));
	return e ? (int64_t)strtod(e + 6, NULL) : 0;
}

void fnl_secure_explain(struct fnl_daemon *d, char *why, size_t n)
{
	int64_t exp = d->token_exp_s;
	if (d->cfg.sasl_mechanism != FNL_SASL_OAUTHBEARER || !exp || !strstr(why, "OAUTHBEARER") ||
	    strstr(why, "token expired") || (int64_t)time(NULL) < exp)
		return;
	char at[32], broker[128] = "";
	time_t t = (time_t)exp;
	struct tm tm;
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	const char *b = strstr(why, " (broker "); /* the data plane's "(broker N (host:port))" */
	if (b)
		snprintf(broker, sizeof(broker), "%s", b);
	snprintf(
	    why, n,
	    "OAUTHBEARER token expired at %s, the broker refused it: write a new one to %.150s%s",
	    at, d->cfg.sasl_token_file, broker);
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
			if (c->sasl_mechanism == FNL_SASL_OAUTHBEARER)
				d->token_exp_s = token_exp(path);
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
		if (rc > 0 && d->cfg.sasl_mechanism == FNL_SASL_OAUTHBEARER)
			d->token_exp_s = token_exp(path);
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

const char *const fnl_sec_reason_names[FNL_SEC_REASONS] = {
    "certificate_expired",
    "certificate_not_yet_valid",
    "certificate_name_mismatch",
    "certificate_untrusted",
    "plaintext_to_tls_port",
    "tls_handshake",
    "sasl_mechanism_disabled",
    "oauthbearer_token_expired",
    "oauthbearer_token_refused",
    "sasl_authentication_failed",
    "other",
};

/* The messages come from tls.c (OpenSSL's verify text), kclient.c and the
 * core's sender.c; the first match wins. */
int fnl_secure_reason(const char *why)
{
	static const char *const match[FNL_SEC_REASONS - 1] = {
	    "certificate has expired",
	    "certificate is not yet valid",
	    "mismatch",
	    "certificate verify failed",
	    "a TLS port?",
	    "TLS",
	    "not enabled by the broker",
	    "token expired",
	    "OAUTHBEARER",
	    "SASL",
	};
	for (int i = 0; i < FNL_SEC_REASONS - 1; i++)
		if (strstr(why, match[i]))
			return i;
	return FNL_SEC_REASONS - 1;
}

void fnl_secure_counts(struct fnl_daemon *d, uint64_t out[FNL_SEC_REASONS])
{
	pthread_mutex_lock(&d->sec_mu);
	memcpy(out, d->sec_fails_by, sizeof(d->sec_fails_by));
	pthread_mutex_unlock(&d->sec_mu);
}

void fnl_secure_status(struct fnl_daemon *d, int64_t source, const char *why)
{
	size_t i, slot = NFAIL;
	pthread_mutex_lock(&d->sec_mu);
	if (why)
		d->sec_fails_by[fnl_secure_reason(why)]++;
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

void fnl_daemon_set_start_why(struct fnl_daemon *d, const char *why)
{
	pthread_mutex_lock(&d->sec_mu);
	if (why)
		snprintf(d->start_why, sizeof(d->start_why), "starting: %s", why);
	else
		d->start_why[0] = '\0';
	pthread_mutex_unlock(&d->sec_mu);
}

void fnl_daemon_start_why(struct fnl_daemon *d, char *out, size_t n)
{
	pthread_mutex_lock(&d->sec_mu);
	snprintf(out, n, "%s", d->start_why);
	pthread_mutex_unlock(&d->sec_mu);
}
