/* kclient.c - blocking Kafka client for the control plane. */
#include "ctrl/kclient.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dataplane/core/apiver.h"
#include "dataplane/net/engine.h"

static int say(char *msg, size_t len, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (msg && len)
		vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return rc;
}

int fnl_split_hostport(const char *s, char *host, size_t host_len, int *port)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -EINVAL;
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') { /* [v6]:port */
		s++;
		hl -= 2;
	}
	if (hl >= host_len)
		return -EINVAL;
	char *end;
	long p = strtol(colon + 1, &end, 10);
	if (*end || p <= 0 || p > 65535)
		return -EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

int fnl_resolve(const char *host, int port, struct sockaddr_in6 *out)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	char ps[16];
	snprintf(ps, sizeof(ps), "%d", port);
	int rc = getaddrinfo(host, ps, &hints, &res);
	if (rc != 0 || !res)
		return -EHOSTUNREACH;
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr,
	       res->ai_addrlen < sizeof(*out) ? res->ai_addrlen : sizeof(*out));
	freeaddrinfo(res);
	return 0;
}

int fnl_kclient_init(struct fnl_kclient *k, const char *client_id, int timeout_ms)
{
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	k->timeout_ms = timeout_ms;
	snprintf(k->client_id, sizeof(k->client_id), "%s", client_id);
	k->buf_bytes = FNL_KCLIENT_BUF_BYTES;
	k->buf = malloc(k->buf_bytes);
	return k->buf ? 0 : -ENOMEM;
}

void fnl_kclient_close(struct fnl_kclient *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	fnl_tls_conn_free(k->tls);
	k->tls = NULL;
}

void fnl_kclient_free(struct fnl_kclient *k)
{
	fnl_kclient_close(k);
	fnl_sasl_reset(&k->sasl);
	free(k->buf);
	k->buf = NULL;
}

static int wait_fd(int fd, short ev, int64_t deadline_ns)
{
	for (;;) {
		int64_t left = (deadline_ns - fnl_now_ns()) / 1000000;
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = {.fd = fd, .events = ev};
		int rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int raw_all(struct fnl_kclient *k, void *p, size_t n, bool wr, int64_t deadline_ns)
{
	uint8_t *b = p;
	while (n) {
		int rc = wait_fd(k->fd, wr ? POLLOUT : POLLIN, deadline_ns);
		if (rc < 0)
			return rc;
		ssize_t got = wr ? send(k->fd, b, n, MSG_NOSIGNAL) : recv(k->fd, b, n, 0);
		if (got == 0)
			return -ECONNRESET;
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		b += got;
		n -= (size_t)got;
	}
	return 0;
}

/* Send the ciphertext TLS has ready. */
static int tls_flush(struct fnl_kclient *k, int64_t deadline_ns)
{
	const uint8_t *p;
	size_t n;
	while ((n = fnl_tls_out(k->tls, &p)) > 0) {
		int rc = raw_all(k, (void *)p, n, true, deadline_ns);
		if (rc < 0)
			return rc;
		fnl_tls_out_done(k->tls, n);
	}
	return 0;
}

/* One recv of ciphertext into tls. */
static int tls_fill(struct fnl_kclient *k, int64_t deadline_ns)
{
	for (;;) {
		int rc = wait_fd(k->fd, POLLIN, deadline_ns);
		if (rc < 0)
			return rc;
		ssize_t got = recv(k->fd, k->ct, sizeof(k->ct), 0);
		if (got == 0)
			return -ECONNRESET;
		if (got < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (fnl_tls_feed(k->tls, k->ct, (size_t)got) != (size_t)got)
			return -EPROTO; /* pair full: cannot happen after a read */
		return 0;
	}
}

static int tls_fail(struct fnl_kclient *k, int rc)
{
	if (k->tls && fnl_tls_why(k->tls)[0])
		snprintf(k->why, sizeof(k->why), "%s", fnl_tls_why(k->tls));
	return rc;
}

static int io_all(struct fnl_kclient *k, void *p, size_t n, bool wr, int64_t deadline_ns)
{
	uint8_t *b = p;
	if (!k->tls)
		return raw_all(k, p, n, wr, deadline_ns);
	while (n) {
		int r = wr ? fnl_tls_write(k->tls, b, n) : fnl_tls_read(k->tls, b, n);
		if (r < 0)
			return tls_fail(k, r);
		b += r;
		n -= (size_t)r;
		int rc = tls_flush(k, deadline_ns);
		if (rc < 0)
			return rc;
		if (r == 0 && !wr && (rc = tls_fill(k, deadline_ns)) < 0)
			return rc;
	}
	return 0;
}

static int tls_connect(struct fnl_kclient *k, const char *host)
{
	int64_t deadline = fnl_now_ns() + (int64_t)k->timeout_ms * 1000000;
	int rc = fnl_tls_conn_new(k->tls_ctx, host, &k->tls);
	if (rc < 0)
		return rc;
	for (;;) {
		int h = fnl_tls_handshake(k->tls);
		if (h < 0)
			return tls_fail(k, h);
		rc = tls_flush(k, deadline);
		if (rc == 0 && h == 1)
			return 0;
		if (rc == 0)
			rc = tls_fill(k, deadline);
		if (rc == -ECONNRESET) {
			snprintf(k->why, sizeof(k->why),
				 "connection closed during the TLS handshake (a plaintext port?)");
			return -EPROTO;
		}
		if (rc == -ETIMEDOUT) {
			snprintf(k->why, sizeof(k->why),
				 "no TLS handshake answer within %d ms (a plaintext port?)",
				 k->timeout_ms);
			return rc;
		}
		if (rc < 0)
			return rc;
	}
}

/* Send the frame in buf[0..len), receive the answer's body (after the header) */
static int roundtrip(struct fnl_kclient *k, size_t len, int16_t api, int16_t ver,
		     const uint8_t **body, size_t *body_len)
{
	int64_t deadline = fnl_now_ns() + (int64_t)k->timeout_ms * 1000000;
	int32_t corr = k->corr - 1; /* the encoder used k->corr++ */
	int rc = io_all(k, k->buf, len, true, deadline);
	if (rc < 0)
		return rc;
	uint8_t sz[4];
	rc = io_all(k, sz, 4, false, deadline);
	if (rc < 0)
		return rc;
	uint32_t n = (uint32_t)sz[0] << 24 | (uint32_t)sz[1] << 16 | (uint32_t)sz[2] << 8 | sz[3];
	if (n > k->buf_bytes || n < 4)
		return -EMSGSIZE;
	rc = io_all(k, k->buf, n, false, deadline);
	if (rc < 0)
		return rc;
	int32_t got;
	int hl = fnl_dec_resp_header(k->buf, n, api, ver, &got);
	if (hl < 0 || got != corr)
		return -EBADMSG;
	*body = k->buf + hl;
	*body_len = n - (size_t)hl;
	return 0;
}

static int negotiate(struct fnl_kclient *k)
{
	int16_t ver = fnl_apiver_first();
	for (int attempt = 0; attempt < 3; attempt++) {
		int n = fnl_enc_api_versions_req(k->buf, k->buf_bytes, ver, k->corr++, k->client_id,
						 "funnel", "0.1.0");
		const uint8_t *body;
		size_t blen;
		int rc = n < 0 ? n : roundtrip(k, (size_t)n, FNL_API_API_VERSIONS, ver, &body, &blen);
		if (rc < 0)
			return rc;
		struct fnl_api_range r[64];
		int nr;
		rc = fnl_apiver_answer(body, blen, ver, r, 64, &nr, &ver);
		if (rc == FNL_APIVER_RETRY)
			continue;
		if (rc < 0)
			return rc;
		memcpy(k->ranges, r, (size_t)nr * sizeof(r[0]));
		k->nranges = nr;
		k->ver_metadata = fnl_api_pick(r, nr, FNL_API_METADATA);
		k->ver_init_pid = fnl_api_pick(r, nr, FNL_API_INIT_PRODUCER_ID);
		k->ver_api_versions = fnl_api_pick(r, nr, FNL_API_API_VERSIONS);
		k->ver_sasl_auth = fnl_api_pick(r, nr, FNL_API_SASL_AUTHENTICATE);
		return k->ver_metadata < 0 ? -EPROTONOSUPPORT : 0;
	}
	return -EPROTONOSUPPORT;
}

/* SaslHandshake v1 + SaslAuthenticate rounds with the current credentials. */
static int sasl_login(struct fnl_kclient *k)
{
	struct fnl_sasl *s = &k->sasl;
	const char *mech = fnl_sasl_mech_wire(k->creds->mech);
	uint8_t msg[FNL_SASL_MSG_MAX];
	char mechs[128];
	int16_t err;
	uint64_t gen;
	const uint8_t *body;
	size_t blen;
	int n = fnl_enc_sasl_handshake_req(k->buf, k->buf_bytes, 1, k->corr++, k->client_id, mech);
	int rc = n < 0 ? n : roundtrip(k, (size_t)n, FNL_API_SASL_HANDSHAKE, 1, &body, &blen);
	if (rc == 0)
		rc = fnl_dec_sasl_handshake(body, blen, &err, mechs, sizeof(mechs));
	if (rc < 0)
		return rc;
	if (err != 0 || k->ver_sasl_auth < 0) {
		snprintf(k->why, sizeof(k->why),
			 "SASL mechanism %s not enabled by the broker (error %d; enabled: %s)", mech,
			 err, mechs[0] ? mechs : "none");
		return -EPROTONOSUPPORT;
	}
	int64_t started_ns = fnl_now_ns();
	rc = fnl_sasl_creds_login(k->creds, s, &gen);
	n = rc < 0 ? rc : fnl_sasl_first(s, NULL, msg, sizeof(msg));
	while (n > 0) {
		struct fnl_sasl_auth_resp r;
		int16_t v = k->ver_sasl_auth;
		int len = fnl_enc_sasl_auth_req(k->buf, k->buf_bytes, v, k->corr++, k->client_id,
						msg, (size_t)n);
		rc = len < 0 ? len
			     : roundtrip(k, (size_t)len, FNL_API_SASL_AUTHENTICATE, v, &body, &blen);
		if (rc == 0)
			rc = fnl_dec_sasl_auth(body, blen, v, &r);
		if (rc == -ECONNRESET && s->state != FNL_SASL_IDLE) {
			snprintf(k->why, sizeof(k->why),
				 "SASL %s authentication failed (the broker closed the connection; "
				 "wrong user or password?)",
				 mech);
			return -EACCES;
		}
		if (rc < 0)
			return rc;
		if (r.err != 0) {
			snprintf(k->why, sizeof(k->why), "SASL %s authentication failed: error %d %.*s",
				 mech, r.err, r.error_message_len > 0 ? r.error_message_len : 0,
				 r.error_message ? r.error_message : "");
			return -EACCES;
		}
		k->session_lifetime_ms = r.session_lifetime_ms;
		n = fnl_sasl_step(s, r.auth, (size_t)r.auth_len, msg, sizeof(msg));
	}
	if (n < 0) {
		snprintf(k->why, sizeof(k->why), "SASL %s failed: %s", mech, s->why);
		return n;
	}
	/* KIP-368: the session counts from when the login started; log in again at
	 * 85% of it (at least 100 ms on), as the data plane does */
	k->reauth_at_ns = k->session_end_ns = 0;
	if (k->session_lifetime_ms > 0) {
		int64_t at_ms = k->session_lifetime_ms * 85 / 100;
		k->session_end_ns = started_ns + k->session_lifetime_ms * 1000000;
		k->reauth_at_ns = started_ns + (at_ms > 100 ? at_ms : 100) * 1000000;
	}
	return 0;
}

int fnl_kclient_keep_session(struct fnl_kclient *k)
{
	int64_t now = fnl_now_ns();
	if (k->fd < 0 || !k->creds || !k->reauth_at_ns || now < k->reauth_at_ns)
		return 0;
	if (now >= k->session_end_ns - 50 * 1000000) { /* too late: the broker closes it */
		fnl_kclient_close(k);
		k->reauth_at_ns = 0;
		snprintf(k->why, sizeof(k->why), "SASL session of %lld ms ended while idle",
			 (long long)k->session_lifetime_ms);
		return -ENOTCONN;
	}
	k->why[0] = '\0';
	int rc = sasl_login(k);
	if (rc < 0) {
		if (!k->why[0])
			snprintf(k->why, sizeof(k->why), "SASL re-authentication failed: %s",
				 strerror(-rc));
		fnl_kclient_close(k);
		return rc;
	}
	k->reauths++;
	return 1;
}

static int connect_one(struct fnl_kclient *k, const char *hostport)
{
	char host[256];
	int port;
	struct sockaddr_in6 sa;
	if (fnl_split_hostport(hostport, host, sizeof(host), &port) < 0)
		return -EINVAL;
	int rc = fnl_resolve(host, port, &sa);
	if (rc < 0)
		return rc;
	int fd = socket(sa.sin6_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	socklen_t len = sa.sin6_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(sa);
	if (connect(fd, (struct sockaddr *)&sa, len) < 0 && errno != EINPROGRESS) {
		rc = -errno;
		close(fd);
		return rc;
	}
	k->fd = fd;
	rc = wait_fd(fd, POLLOUT, fnl_now_ns() + (int64_t)k->timeout_ms * 1000000);
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr)
		rc = -soerr;
	if (rc == 0) {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (k->tls_ctx)
			rc = tls_connect(k, host);
		if (rc == 0) {
			rc = negotiate(k);
			if ((rc == -ECONNRESET || rc == -EMSGSIZE) && !k->tls && !k->why[0])
				snprintf(k->why, sizeof(k->why),
					 "%s during ApiVersions (a TLS port? then set "
					 "security.protocol=SSL or SASL_SSL)",
					 rc == -EMSGSIZE ? "answer is not Kafka"
							 : "connection closed");
		}
		if (rc == 0 && k->creds)
			rc = sasl_login(k);
	}
	if (rc < 0)
		fnl_kclient_close(k);
	snprintf(k->peer, sizeof(k->peer), "%s", hostport);
	return rc;
}

int fnl_kclient_connect(struct fnl_kclient *k, const char *servers, char *msg, size_t msg_len)
{
	char list[1024], tried[1024] = "";
	char *srv[64];
	unsigned n = 0;
	snprintf(list, sizeof(list), "%s", servers);
	fnl_kclient_close(k);
	for (char *save = NULL, *s = strtok_r(list, ",", &save); s && n < 64;
	     s = strtok_r(NULL, ",", &save)) {
		while (*s == ' ')
			s++;
		srv[n++] = s;
	}
	int rc = -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		const char *s = srv[(k->next_server + i) % n];
		k->why[0] = '\0';
		rc = connect_one(k, s);
		if (rc == 0) {
			k->next_server = (k->next_server + i) % n;
			return 0;
		}
		size_t used = strlen(tried);
		snprintf(tried + used, sizeof(tried) - used, "%s%s (%s)", used ? ", " : "", s,
			 k->why[0] ? k->why : strerror(-rc));
	}
	return say(msg, msg_len, rc, "no bootstrap server reachable: %s", tried);
}

int fnl_kclient_request(struct fnl_kclient *k, size_t len, int16_t api, int16_t ver,
			const uint8_t **body, size_t *body_len)
{
	if (k->fd < 0)
		return -ENOTCONN;
	int rc = roundtrip(k, len, api, ver, body, body_len);
	if (rc < 0)
		fnl_kclient_close(k);
	return rc;
}

int fnl_kclient_metadata(struct fnl_kclient *k, const char *const *topics, int n,
			 const struct fnl_md_visitor *v, char *msg, size_t msg_len)
{
	if (k->fd < 0)
		return say(msg, msg_len, -ENOTCONN, "not connected");
	int16_t ver = k->ver_metadata;
	/* allow_auto_topic_creation as the Java producer sends it: a cluster with
	 * auto.create.topics.enable creates a topic a client names */
	int len = fnl_enc_metadata_req(k->buf, k->buf_bytes, ver, k->corr++, k->client_id, topics,
				       n, true);
	const uint8_t *body;
	size_t blen;
	int rc = len < 0 ? len : roundtrip(k, (size_t)len, FNL_API_METADATA, ver, &body, &blen);
	if (rc == 0)
		rc = fnl_dec_metadata(body, blen, ver, v);
	if (rc < 0) {
		fnl_kclient_close(k);
		return say(msg, msg_len, rc, "Metadata v%d from %s failed: %s", ver, k->peer,
			   strerror(-rc));
	}
	return 0;
}

int fnl_kclient_init_pid(struct fnl_kclient *k, const char *txn_id, int64_t pid, int16_t epoch,
			 int64_t *pid_out, int16_t *epoch_out, int16_t *kerr, char *msg,
			 size_t msg_len)
{
	if (k->fd < 0)
		return say(msg, msg_len, -ENOTCONN, "not connected");
	int16_t ver = k->ver_init_pid;
	if (ver < 0)
		return say(msg, msg_len, -EPROTONOSUPPORT,
			   "broker %s does not support InitProducerId: set enable.idempotence=false",
			   k->peer);
	if (ver < 3) {
		pid = -1; /* no KIP-360 bump before v3: ask for a new producer id */
		epoch = -1;
	}
	int len = fnl_enc_init_pid_req_txn(k->buf, k->buf_bytes, ver, k->corr++, k->client_id,
					   txn_id, 60000, pid, epoch);
	const uint8_t *body;
	size_t blen;
	int rc = len < 0 ? len
			 : roundtrip(k, (size_t)len, FNL_API_INIT_PRODUCER_ID, ver, &body, &blen);
	if (rc == 0)
		rc = fnl_dec_init_pid(body, blen, ver, kerr, pid_out, epoch_out);
	if (rc < 0) {
		fnl_kclient_close(k);
		return say(msg, msg_len, rc, "InitProducerId v%d from %s failed: %s", ver, k->peer,
			   strerror(-rc));
	}
	return 0;
}
