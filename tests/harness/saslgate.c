/*
 * fnl-saslgate: a SASL gate in front of a plaintext Kafka broker, owned by the
 * tests. The credentials are checked by Cyrus SASL's server library (Debian
 * libsasl2; users in a sasldb made by saslpasswd2), so SASL is verified by a
 * server nobody in this project wrote.
 *
 *   fnl-saslgate -l LISTEN -c HOST:PORT -d SASLDB [-r REALM] [-m "MECH ..."]
 *                [-L LIFETIME_MS]
 *
 * LISTEN is a UNIX socket path (contains '/') or HOST:PORT. One child process
 * per connection (Cyrus contexts are per process, nothing shared); it connects
 * to the broker and then, per Kafka's own SASL server (KIP-43, KIP-152):
 *  - ApiVersions is relayed; the broker's answer gets SaslHandshake v0-1 and
 *    SaslAuthenticate v0-2 put in (replacing whatever the broker said);
 *  - SaslHandshake (v0 or v1) is answered here: the mechanism must be in -m,
 *    else UNSUPPORTED_SASL_MECHANISM (33) with the enabled list;
 *  - after a v1 handshake, SaslAuthenticate v0-2 carry the tokens; after a v0
 *    handshake the tokens come as bare size-prefixed frames (old clients such
 *    as python3-kafka 2.0.2);
 *  - OAUTHBEARER (not in Cyrus) is checked here as Kafka's unsecured-JWT
 *    validator does: "sub" and an "exp" in the future, else the RFC 7628
 *    error challenge, then error 58;
 *  - the tokens go through sasl_server_start/step; a failure answers
 *    SASL_AUTHENTICATION_FAILED (58) with Cyrus' reason and closes;
 *  - any other request before the login completes closes the connection;
 *  - after the login, frames are relayed both ways. With -L, SaslAuthenticate
 *    v1+ returns that session lifetime (KIP-368): a SaslHandshake on the
 *    relayed connection starts a re-authentication, and a request other than
 *    SASL after the session ended closes the connection, as Kafka does.
 * Every login, failure and re-authentication is one line on stderr.
 *
 * Framing: both directions are read into a buffer and handled one whole
 * frame (int32 size + body) at a time; frames are at most 64 MiB.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FRAME_MAX (64u << 20)

static const char *opt_db;
static const char *opt_mechs = "PLAIN SCRAM-SHA-256 SCRAM-SHA-512";
static const char *opt_realm = "funnel";
static long opt_lifetime_ms;
static unsigned conn_no;

static void logf_(const char *fmt, ...)
{
	va_list ap;
	char line[1024];
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "saslgate[%u]: %s\n", conn_no, line);
	fflush(stderr);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Cyrus ------------------------------------------------------------- */

static int sasl_getopt_cb(void *ctx, const char *plugin, const char *option, const char **result,
                          unsigned *len)
{
	(void)ctx;
	(void)plugin;
	const char *v = NULL;
	if (strcmp(option, "pwcheck_method") == 0)
		v = "auxprop";
	else if (strcmp(option, "auxprop_plugin") == 0)
		v = "sasldb";
	else if (strcmp(option, "sasldb_path") == 0)
		v = opt_db;
	else if (strcmp(option, "mech_list") == 0)
		v = opt_mechs;
	if (!v)
		return SASL_FAIL;
	*result = v;
	if (len)
		*len = (unsigned)strlen(v);
	return SASL_OK;
}

static int sasl_log_cb(void *ctx, int level, const char *message)
{
	(void)ctx;
	if (level <= SASL_LOG_NOTE)
		logf_("cyrus: %s", message);
	return SASL_OK;
}

static sasl_callback_t sasl_cbs[] = {
    {SASL_CB_GETOPT, (int (*)(void))(void (*)(void))sasl_getopt_cb, NULL},
    {SASL_CB_LOG, (int (*)(void))(void (*)(void))sasl_log_cb, NULL},
    {SASL_CB_LIST_END, NULL, NULL},
};

/* ---- byte buffers --------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void buf_need(struct buf *b, size_t more)
{
	if (b->len + more <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 65536;
	while (cap < b->len + more)
		cap *= 2;
	b->p = realloc(b->p, cap);
	if (!b->p) {
		logf_("out of memory");
		exit(1);
	}
	b->cap = cap;
}

static void put(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	buf_need(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put16(struct buf *b, int16_t v)
{
	uint16_t n = htons((uint16_t)v);
	put(b, &n, 2);
}

static void put32(struct buf *b, int32_t v)
{
	uint32_t n = htonl((uint32_t)v);
	put(b, &n, 4);
}

static void put64(struct buf *b, int64_t v)
{
	put32(b, (int32_t)((uint64_t)v >> 32));
	put32(b, (int32_t)(uint32_t)v);
}

static void put_uvarint(struct buf *b, uint32_t v)
{
	while (v >= 0x80) {
		uint8_t c = (uint8_t)(v | 0x80);
		put(b, &c, 1);
		v >>= 7;
	}
	uint8_t c = (uint8_t)v;
	put(b, &c, 1);
}

/* a reader over one frame's body; any overrun sets bad */
struct rd {
	const uint8_t *p;
	size_t len, off;
	int bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
	if (r->bad || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->off;
	r->off += n;
	return p;
}

static int16_t get16(struct rd *r)
{
	const uint8_t *p = take(r, 2);
	return p ? (int16_t)((p[0] << 8) | p[1]) : 0;
}

static int32_t get32(struct rd *r)
{
	const uint8_t *p = take(r, 4);
	return p ? (int32_t)(((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	                     ((uint32_t)p[2] << 8) | p[3])
	         : 0;
}

static uint32_t get_uvarint(struct rd *r)
{
	uint32_t v = 0;
	for (int shift = 0; shift < 35; shift += 7) {
		const uint8_t *p = take(r, 1);
		if (!p)
			return 0;
		v |= (uint32_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static void skip_tags(struct rd *r)
{
	uint32_t n = get_uvarint(r);
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		get_uvarint(r);
		take(r, get_uvarint(r));
	}
}

/* ---- I/O ---------------------------------------------------------------- */

static void write_all(int fd, const void *p, size_t n)
{
	const uint8_t *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			logf_("write: %s; closing", w < 0 ? strerror(errno) : "short");
			exit(0);
		}
		c += w;
		n -= (size_t)w;
	}
}

/* reads what is there into b; 0 at EOF */
static ssize_t fill(int fd, struct buf *b)
{
	buf_need(b, 65536);
	ssize_t n;
	do
		n = read(fd, b->p + b->len, b->cap - b->len);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

/* the size of the first whole frame in b (with its prefix), 0 if incomplete */
static size_t frame_ready(const struct buf *b)
{
	if (b->len < 4)
		return 0;
	uint32_t sz = ntohl(*(const uint32_t *)b->p);
	if (sz > FRAME_MAX) {
		logf_("frame of %u bytes; closing", sz);
		exit(0);
	}
	return b->len >= 4 + (size_t)sz ? 4 + sz : 0;
}

static void consume(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

/* sends a response frame: header (v0, or v1 with tags), then body */
static void respond(int fd, int32_t corr, int flexible, const struct buf *body)
{
	struct buf f = {0};
	put32(&f, (int32_t)(4 + (flexible ? 1 : 0) + body->len));
	put32(&f, corr);
	if (flexible)
		put_uvarint(&f, 0);
	put(&f, body->p, body->len);
	write_all(fd, f.p, f.len);
	free(f.p);
}

/* ---- the per-connection state --------------------------------------------- */

enum { ST_OPEN, ST_RAW_TOKENS, ST_AUTH, ST_RELAY };

struct gate {
	int cfd, bfd;
	int state;              /* ST_ */
	int authed;             /* a login succeeded at least once */
	int in_reauth;          /* a SaslHandshake came after a login */
	char mech[32];          /* chosen by the last SaslHandshake */
	sasl_conn_t *sc;        /* the login in progress */
	const char *oauth_user; /* OAUTHBEARER's sub after a login */
	int started;            /* sasl_server_start called */
	int64_t session_end_ms;
	int32_t apiver_corr; /* ApiVersions waiting for its answer, or -1 */
	int16_t apiver_ver;
	unsigned logins;
};

static int mech_enabled(const char *m)
{
	size_t n = strlen(m);
	const char *s = opt_mechs;
	while (*s) {
		while (*s == ' ')
			s++;
		size_t w = strcspn(s, " ");
		if (w == n && w && strncmp(s, m, n) == 0)
			return 1;
		s += w;
	}
	return 0;
}

static void put_mech_list(struct buf *b)
{
	char tmp[256];
	snprintf(tmp, sizeof(tmp), "%s", opt_mechs);
	int n = 0;
	for (char *t = strtok(tmp, " "); t; t = strtok(NULL, " "))
		n++;
	put32(b, n);
	snprintf(tmp, sizeof(tmp), "%s", opt_mechs);
	for (char *t = strtok(tmp, " "); t; t = strtok(NULL, " ")) {
		put16(b, (int16_t)strlen(t));
		put(b, t, strlen(t));
	}
}

static void new_login(struct gate *g)
{
	if (g->sc)
		sasl_dispose(&g->sc);
	if (sasl_server_new("kafka", "localhost", opt_realm, NULL, NULL, NULL, SASL_SUCCESS_DATA,
	                    &g->sc) != SASL_OK) {
		logf_("sasl_server_new failed");
		exit(1);
	}
	sasl_security_properties_t sp = {0};
	sp.min_ssf = 0;
	sp.max_ssf = 0;
	sp.maxbufsize = 65536;
	sasl_setprop(g->sc, SASL_SEC_PROPS, &sp);
	g->started = 0;
	g->oauth_user = NULL;
}

/* ---- OAUTHBEARER (Cyrus has none): Kafka's unsecured-JWT validator --------- */

/* base64url (no padding) into out; its length, or -1 */
static int b64url_dec(const char *in, size_t n, char *out, size_t cap)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *c = memchr(a, in[i], 64);
		if (!c || in[i] == 0)
			return -1;
		acc = acc << 6 | (uint32_t)(c - a);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= cap)
				return -1;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	out[o] = 0;
	return (int)o;
}

/*
 * RFC 7628 client-first "n,,\x01auth=Bearer TOKEN\x01\x01": the token must be
 * an unsecured JWT whose payload has "sub" and an "exp" in the future (as
 * Kafka's OAuthBearerUnsecuredValidatorCallbackHandler checks). A refused
 * token gets the error challenge {"status":"invalid_token"}; the client answers
 * \x01 and the login fails (RFC 7628 3.2.2, as Kafka does it).
 */
static int oauth_step(struct gate *g, const uint8_t *in, size_t inlen, const char **out,
                      unsigned *outlen, const char **why)
{
	static char reason[200], sub[128];
	static const char challenge[] = "{\"status\":\"invalid_token\"}";
	if (g->started) { /* the \x01 after our error challenge */
		*why = reason;
		return SASL_BADAUTH;
	}
	g->started = 1;
	char msg[4096], payload[3072];
	if (inlen >= sizeof(msg)) {
		*why = "client message too long";
		return SASL_BADPROT;
	}
	memcpy(msg, in, inlen);
	msg[inlen] = 0;
	for (size_t i = 0; i < inlen; i++)
		if (msg[i] == 0)
			msg[i] = '?';
	char *tok = strstr(msg, "\001auth=Bearer ");
	char *end = tok ? strchr(tok + 13, '\x01') : NULL;
	char *dot1 = tok ? strchr(tok + 13, '.') : NULL;
	char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (!end || !dot2 || dot2 > end) {
		*why = "not an RFC 7628 client message with a JWT";
		return SASL_BADPROT;
	}
	const char *exp = NULL, *sb = NULL;
	if (b64url_dec(dot1 + 1, (size_t)(dot2 - dot1 - 1), payload, sizeof(payload)) > 0) {
		exp = strstr(payload, "\"exp\":");
		sb = strstr(payload, "\"sub\"");
	}
	if (sb) { /* "sub" : "NAME" */
		sb += 5;
		sb += strspn(sb, " ");
		sb = *sb == ':' ? sb + 1 + strspn(sb + 1, " ") : NULL;
		sb = sb && *sb == '"' ? sb + 1 : NULL;
	}
	double exp_s = exp ? strtod(exp + 6, NULL) : 0;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	reason[0] = 0;
	if (!exp || !sb)
		snprintf(reason, sizeof(reason), "the token has no exp or sub claim");
	else if (exp_s <= (double)ts.tv_sec)
		snprintf(reason, sizeof(reason), "the token expired at %.0f, now is %lld", exp_s,
		         (long long)ts.tv_sec);
	if (reason[0]) {
		*out = challenge;
		*outlen = (unsigned)strlen(challenge);
		return SASL_CONTINUE;
	}
	size_t sl = strcspn(sb, "\"");
	snprintf(sub, sizeof(sub), "%.*s", (int)(sl < 100 ? sl : 100), sb);
	g->oauth_user = sub;
	return SASL_OK;
}

/*
 * one SASL token from the client; *out the server's answer. Returns SASL_OK,
 * SASL_CONTINUE or a failure (then *why says it).
 */
static int login_step(struct gate *g, const uint8_t *in, size_t inlen, const char **out,
                      unsigned *outlen, const char **why)
{
	int rc;
	*out = NULL;
	*outlen = 0;
	if (strcmp(g->mech, "OAUTHBEARER") == 0) {
		rc = oauth_step(g, in, inlen, out, outlen, why);
	} else if (!g->started) {
		g->started = 1;
		rc = sasl_server_start(g->sc, g->mech, (const char *)in, (unsigned)inlen, out,
		                       outlen);
	} else {
		rc = sasl_server_step(g->sc, (const char *)in, (unsigned)inlen, out, outlen);
	}
	if (rc != SASL_OK && rc != SASL_CONTINUE && !*why)
		*why = sasl_errdetail(g->sc);
	if (rc == SASL_OK) {
		const void *user = g->oauth_user;
		if (!user)
			sasl_getprop(g->sc, SASL_USERNAME, &user);
		g->logins++;
		g->session_end_ms = opt_lifetime_ms > 0 ? now_ms() + opt_lifetime_ms : 0;
		logf_("%s: user %s authenticated with %s (login %u)",
		      g->in_reauth ? "re-authentication" : "login", user ? (const char *)user : "?",
		      g->mech, g->logins);
		g->authed = 1;
		g->in_reauth = 0;
		g->state = ST_RELAY;
	}
	return rc;
}

/* ApiVersions' answer with SaslHandshake 0-1 and SaslAuthenticate 0-2 put in */
static void patch_apiversions(struct gate *g, const uint8_t *frame, size_t flen)
{
	struct rd r = {frame + 4, flen - 4, 0, 0};
	int32_t corr = get32(&r);
	int16_t err = get16(&r);
	int flex = g->apiver_ver >= 3;
	if (err != 0) {
		write_all(g->cfd, frame, flen);
		return;
	}
	struct buf body = {0};
	put16(&body, 0);
	uint32_t n = flex ? get_uvarint(&r) - 1 : (uint32_t)get32(&r);
	struct buf ents = {0};
	uint32_t kept = 0;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		int16_t key = get16(&r), mn = get16(&r), mx = get16(&r);
		size_t tag_from = r.off;
		if (flex)
			skip_tags(&r);
		if (key == 17 || key == 36)
			continue;
		put16(&ents, key);
		put16(&ents, mn);
		put16(&ents, mx);
		if (flex && !r.bad)
			put(&ents, r.p + tag_from, r.off - tag_from);
		kept++;
	}
	if (r.bad) {
		logf_("ApiVersions answer does not parse; closing");
		exit(0);
	}
	int16_t add[2][3] = {{17, 0, 1}, {36, 0, 2}};
	for (int i = 0; i < 2; i++) {
		put16(&ents, add[i][0]);
		put16(&ents, add[i][1]);
		put16(&ents, add[i][2]);
		if (flex)
			put_uvarint(&ents, 0);
	}
	if (flex)
		put_uvarint(&body, kept + 3);
	else
		put32(&body, (int32_t)(kept + 2));
	put(&body, ents.p, ents.len);
	put(&body, r.p + r.off, r.len - r.off); /* throttle time, tags */
	respond(g->cfd, corr, 0, &body);        /* ApiVersions answers with header v0 */
	free(body.p);
	free(ents.p);
}

static void on_handshake(struct gate *g, int16_t ver, int32_t corr, struct rd *r)
{
	int16_t n = get16(r);
	const uint8_t *m = n > 0 ? take(r, (size_t)n) : NULL;
	struct buf body = {0};
	char mech[32] = "";
	if (m && n < (int16_t)sizeof(mech))
		memcpy(mech, m, (size_t)n), mech[n] = 0;
	int ok = mech[0] && mech_enabled(mech);
	put16(&body, ok ? 0 : 33);
	put_mech_list(&body);
	respond(g->cfd, corr, 0, &body);
	free(body.p);
	if (!ok) {
		logf_("SaslHandshake v%d asks for mechanism '%s', not enabled (%s)", ver, mech,
		      opt_mechs);
		return;
	}
	snprintf(g->mech, sizeof(g->mech), "%s", mech);
	if (g->authed)
		g->in_reauth = 1;
	new_login(g);
	g->state = ver >= 1 ? ST_AUTH : ST_RAW_TOKENS;
}

static void on_authenticate(struct gate *g, int16_t ver, int32_t corr, struct rd *r)
{
	int flex = ver >= 2;
	uint32_t len = flex ? get_uvarint(r) - 1 : (uint32_t)get32(r);
	const uint8_t *tok = take(r, len);
	if (!tok || g->state != ST_AUTH) {
		logf_("SaslAuthenticate v%d %s; closing", ver,
		      tok ? "without a SaslHandshake v1" : "does not parse");
		exit(0);
	}
	const char *out, *why = NULL;
	unsigned outlen;
	int rc = login_step(g, tok, len, &out, &outlen, &why);
	int fail = rc != SASL_OK && rc != SASL_CONTINUE;
	char msg[256];
	if (fail) {
		snprintf(msg, sizeof(msg),
		         "Authentication failed during authentication due to invalid credentials "
		         "with SASL mechanism %s (%s)",
		         g->mech, why ? why : "?");
		logf_("login with %s refused: %s", g->mech, why ? why : "?");
	}
	struct buf body = {0};
	put16(&body, fail ? 58 : 0);
	if (flex) {
		if (fail) {
			put_uvarint(&body, (uint32_t)strlen(msg) + 1);
			put(&body, msg, strlen(msg));
		} else {
			put_uvarint(&body, 0);
		}
		put_uvarint(&body, outlen + 1);
	} else {
		if (fail) {
			put16(&body, (int16_t)strlen(msg));
			put(&body, msg, strlen(msg));
		} else {
			put16(&body, -1);
		}
		put32(&body, (int32_t)outlen);
	}
	put(&body, out, outlen);
	if (ver >= 1)
		put64(&body, rc == SASL_OK ? opt_lifetime_ms : 0);
	if (flex)
		put_uvarint(&body, 0);
	respond(g->cfd, corr, flex, &body);
	free(body.p);
	if (fail)
		exit(0); /* Kafka closes after a failed login */
}

/* one bare token frame after a v0 handshake */
static void on_raw_token(struct gate *g, const uint8_t *frame, size_t flen)
{
	const char *out, *why = NULL;
	unsigned outlen;
	int rc = login_step(g, frame + 4, flen - 4, &out, &outlen, &why);
	if (rc != SASL_OK && rc != SASL_CONTINUE) {
		logf_("login with %s refused: %s", g->mech, why ? why : "?");
		exit(0); /* v0: the failure is the close */
	}
	struct buf f = {0};
	put32(&f, (int32_t)outlen);
	put(&f, out, outlen);
	write_all(g->cfd, f.p, f.len);
	free(f.p);
}

static const char *request_name(int16_t key)
{
	switch (key) {
	case 0:
		return "Produce";
	case 1:
		return "Fetch";
	case 2:
		return "ListOffsets";
	case 3:
		return "Metadata";
	case 22:
		return "InitProducerId";
	default:
		return "request";
	}
}

/* one whole request frame from the client */
static void on_request(struct gate *g, const uint8_t *frame, size_t flen)
{
	if (g->state == ST_RAW_TOKENS) {
		on_raw_token(g, frame, flen);
		return;
	}
	struct rd r = {frame + 4, flen - 4, 0, 0};
	int16_t key = get16(&r), ver = get16(&r);
	int32_t corr = get32(&r);
	int16_t cid = get16(&r);
	if (cid > 0)
		take(&r, (size_t)cid);
	if (r.bad) {
		logf_("request header does not parse; closing");
		exit(0);
	}
	if (key == 17) {
		on_handshake(g, ver, corr, &r);
		return;
	}
	if (key == 36) {
		if (ver >= 2)
			skip_tags(&r); /* request header v2 */
		on_authenticate(g, ver, corr, &r);
		return;
	}
	if (key == 18) {
		g->apiver_corr = corr;
		g->apiver_ver = ver;
	} else if (g->state != ST_RELAY) {
		logf_("%s (key %d) before the login completed; closing", request_name(key), key);
		exit(0);
	} else if (g->session_end_ms && now_ms() > g->session_end_ms) {
		logf_("%s (key %d) after the session ended (login %u, %ld ms); closing",
		      request_name(key), key, g->logins, opt_lifetime_ms);
		exit(0);
	}
	write_all(g->bfd, frame, flen);
}

static void on_response(struct gate *g, const uint8_t *frame, size_t flen)
{
	if (g->apiver_corr >= 0 && flen >= 8 &&
	    (int32_t)ntohl(*(const uint32_t *)(frame + 4)) == g->apiver_corr) {
		g->apiver_corr = -1;
		patch_apiversions(g, frame, flen);
		return;
	}
	write_all(g->cfd, frame, flen);
}

/* ---- sockets ------------------------------------------------------------------ */

static int tcp_connect(const char *hostport)
{
	char host[256];
	snprintf(host, sizeof(host), "%s", hostport);
	char *colon = strrchr(host, ':');
	if (!colon)
		return -1;
	*colon = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
		return -1;
	int fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	freeaddrinfo(ai);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int listen_on(const char *where)
{
	int fd;
	if (strchr(where, '/')) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		size_t l = strlen(where);
		if (l >= sizeof(sa.sun_path))
			return -1;
		memcpy(sa.sun_path, where, l + 1);
		unlink(where);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -1;
	} else {
		char host[256];
		snprintf(host, sizeof(host), "%s", where);
		char *colon = strrchr(host, ':');
		if (!colon)
			return -1;
		*colon = 0;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0)
			return -1;
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		int rc = fd < 0 ? -1 : bind(fd, ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(ai);
		if (rc < 0)
			return -1;
	}
	return listen(fd, 64) < 0 ? -1 : fd;
}

static void serve(int cfd, const char *broker)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	struct gate g = {.cfd = cfd, .apiver_corr = -1};
	g.bfd = tcp_connect(broker);
	if (g.bfd < 0) {
		logf_("cannot connect to the broker %s: %s", broker, strerror(errno));
		exit(0);
	}
	struct buf cin = {0}, bin = {0};
	for (;;) {
		struct pollfd p[2] = {{cfd, POLLIN, 0}, {g.bfd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			exit(1);
		}
		if (p[0].revents) {
			if (fill(cfd, &cin) <= 0)
				exit(0);
			size_t n;
			while ((n = frame_ready(&cin)) > 0) {
				on_request(&g, cin.p, n);
				consume(&cin, n);
			}
		}
		if (p[1].revents) {
			if (fill(g.bfd, &bin) <= 0) {
				logf_("the broker closed the connection");
				exit(0);
			}
			size_t n;
			while ((n = frame_ready(&bin)) > 0) {
				on_response(&g, bin.p, n);
				consume(&bin, n);
			}
		}
	}
}

int main(int argc, char **argv)
{
	const char *lis = NULL, *broker = NULL;
	int c;
	while ((c = getopt(argc, argv, "l:c:d:r:m:L:")) != -1) {
		switch (c) {
		case 'l':
			lis = optarg;
			break;
		case 'c':
			broker = optarg;
			break;
		case 'd':
			opt_db = optarg;
			break;
		case 'r':
			opt_realm = optarg;
			break;
		case 'm':
			opt_mechs = optarg;
			break;
		case 'L':
			opt_lifetime_ms = atol(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: fnl-saslgate -l LISTEN -c HOST:PORT -d SASLDB [-r REALM] "
			        "[-m \"MECH ...\"] [-L LIFETIME_MS]\n");
			return 2;
		}
	}
	if (!lis || !broker || !opt_db) {
		fprintf(stderr, "fnl-saslgate: -l, -c and -d are required\n");
		return 2;
	}
	if (sasl_server_init(sasl_cbs, "fnl-saslgate") != SASL_OK) {
		fprintf(stderr, "fnl-saslgate: sasl_server_init failed\n");
		return 1;
	}
	int lfd = listen_on(lis);
	if (lfd < 0) {
		fprintf(stderr, "fnl-saslgate: cannot listen on %s: %s\n", lis, strerror(errno));
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr,
	        "saslgate: listening on %s for %s, mechanisms %s, session lifetime %ld ms\n", lis,
	        broker, opt_mechs, opt_lifetime_ms);
	fflush(stderr);
	for (;;) {
		int cfd = accept(lfd, NULL, NULL);
		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		conn_no++;
		pid_t pid = fork();
		if (pid == 0) {
			close(lfd);
			serve(cfd, broker);
		}
		close(cfd);
	}
}
