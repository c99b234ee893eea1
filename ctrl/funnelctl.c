/* funnelctl.c - look inside a running funneld over its control socket.
 *
 *   funnelctl [-s SOCKET] status|clients|partitions|config|top [--json] [-d SECS] [-n COUNT]
 *
 * Asks funneld for a snapshot (ADMIN message, reply text in a memfd, see
 * ctrl/admin.h for its line format) and prints it as tables or JSON. `top`
 * takes a snapshot every -d seconds and shows rates computed from successive
 * snapshots; q quits. Exit status: 0 ok, 1 error, 2 funneld is not running.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "dataplane/ring/ctlproto.h"

#define ROW_KEYS_MAX 48

struct row {
	const char *kind;
	int n;
	const char *k[ROW_KEYS_MAX];
	const char *v[ROW_KEYS_MAX];
};

struct snap {
	char *text;
	struct row *rows;
	int nrows;
};

static const char *prog = "funnelctl";

/* ---- snapshot parsing ---- */

static int hexval(int c)
{
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Percent-decodes s in place. */
static void decode(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '%' && hexval((unsigned char)r[1]) >= 0 &&
		    hexval((unsigned char)r[2]) >= 0) {
			*w++ =
			    (char)(hexval((unsigned char)r[1]) * 16 + hexval((unsigned char)r[2]));
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

static int parse_line(char *line, struct row *r)
{
	char *save;
	char *tok = strtok_r(line, " ", &save);
	if (!tok)
		return -1;
	r->kind = tok;
	r->n = 0;
	while ((tok = strtok_r(NULL, " ", &save)) && r->n < ROW_KEYS_MAX) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		decode(eq + 1);
		r->k[r->n] = tok;
		r->v[r->n++] = eq + 1;
	}
	return 0;
}

static int snap_parse(struct snap *s)
{
	int lines = 0;
	for (const char *p = s->text; *p; p++)
		lines += *p == '\n';
	s->rows = calloc((size_t)lines + 1, sizeof(*s->rows));
	if (!s->rows)
		return -ENOMEM;
	char *save;
	for (char *l = strtok_r(s->text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (parse_line(l, &s->rows[s->nrows]) == 0)
			s->nrows++;
	return 0;
}

static void snap_free(struct snap *s)
{
	free(s->text);
	free(s->rows);
	memset(s, 0, sizeof(*s));
}

static const char *get(const struct row *r, const char *key)
{
	for (int i = 0; i < r->n; i++)
		if (strcmp(r->k[i], key) == 0)
			return r->v[i];
	return "";
}

static double num(const struct row *r, const char *key)
{
	return strtod(get(r, key), NULL);
}

static const struct row *first(const struct snap *s, const char *kind)
{
	for (int i = 0; i < s->nrows; i++)
		if (strcmp(s->rows[i].kind, kind) == 0)
			return &s->rows[i];
	return NULL;
}

/* ---- talking to funneld ---- */

static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "%s: socket path too long: %s\n", prog, path);
		exit(1);
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;
		if (err == EACCES || err == EPERM) {
			fprintf(stderr,
			        "%s: permission denied on %s (run as the funnel group or root)\n",
			        prog, path);
			exit(1);
		}
		fprintf(stderr,
		        "%s: funneld is not running (cannot connect to %s: %s); start it or pass "
		        "-s SOCKET / set %s\n",
		        prog, path, strerror(err), FNL_CTL_SOCKET_ENV);
		exit(2);
	}
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int read_all(int mfd, uint32_t len, char **out)
{
	char *buf = malloc((size_t)len + 1);
	if (!buf)
		return -ENOMEM;
	size_t off = 0;
	while (off < len) {
		ssize_t n = pread(mfd, buf + off, len - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return n < 0 ? -errno : -EIO;
		}
		off += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* One request/reply. Exits on errors a caller could not act upon. */
static void fetch(int fd, uint32_t sections, struct snap *s)
{
	struct fnl_ctl_msg m;
	fnl_ctl_msg_init(&m, FNL_CTL_ADMIN);
	m.arg = sections;
	int rc = fnl_ctl_send(fd, &m, -1);
	int mfd = -1;
	if (rc == 0)
		rc = fnl_ctl_recv(fd, &m, &mfd);
	if (rc == -ECONNRESET || rc == -EPIPE) {
		fprintf(stderr, "%s: funneld closed the connection (stopping?)\n", prog);
		exit(2);
	}
	if (rc < 0) {
		fprintf(stderr, "%s: control socket: %s\n", prog, strerror(-rc));
		exit(1);
	}
	if (m.type == FNL_CTL_ERROR || m.type != FNL_CTL_ADMIN_REPLY || mfd < 0 ||
	    m.arg > FNL_ADMIN_REPLY_MAX) {
		fprintf(stderr, "%s: funneld refused: %s (%s)\n", prog,
		        m.type == FNL_CTL_ERROR ? m.name : "unexpected reply",
		        strerror(m.status < 0 ? -m.status : EPROTO));
		exit(1);
	}
	memset(s, 0, sizeof(*s));
	rc = read_all(mfd, m.arg, &s->text);
	close(mfd);
	if (rc == 0)
		rc = snap_parse(s);
	if (rc < 0) {
		fprintf(stderr, "%s: reading the snapshot: %s\n", prog, strerror(-rc));
		exit(1);
	}
}

/* ---- JSON ---- */

static void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static bool is_number(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == '\0';
}

static bool string_key(const char *k)
{
	static const char *const keys[] = {"topic",  "name",           "state_name",
	                                   "health", "log_level",      "metrics_listen",
	                                   "socket", "last_error_name"};
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(k, keys[i]) == 0)
			return true;
	return false;
}

/* "13:2,other:1" (retries_by_code) as {"13":2,"other":1}; malformed pairs are left out. */
static void json_code_map(const char *v)
{
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", v);
	putchar('{');
	int n = 0;
	char *save;
	for (char *pair = strtok_r(buf, ",", &save); pair; pair = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(pair, ':');
		if (!colon)
			continue;
		*colon = '\0';
		bool plain = *pair != '\0';
		for (const char *c = pair; *c; c++)
			plain &= isalnum((unsigned char)*c) != 0;
		if (!plain || !is_number(colon + 1))
			continue;
		printf("%s\"%s\":%s", n++ ? "," : "", pair, colon + 1);
	}
	putchar('}');
}

/* The row as an object; with extra_n > 0, also "<extra_keys[i]>_per_s": extra[i]. */
static void json_row_ext(const struct row *r, const char *const *extra_keys, const double *extra,
                         int extra_n)
{
	putchar('{');
	for (int i = 0; i < r->n; i++) {
		if (i)
			putchar(',');
		json_str(r->k[i]);
		putchar(':');
		bool numeric = is_number(r->v[i]) && !string_key(r->k[i]);
		if (strcmp(r->k[i], "retries_by_code") == 0)
			json_code_map(r->v[i]);
		else if (numeric)
			fputs(r->v[i], stdout);
		else
			json_str(r->v[i]);
	}
	for (int i = 0; i < extra_n; i++)
		printf("%s\"%s_per_s\":%.3f", r->n || i ? "," : "", extra_keys[i], extra[i]);
	putchar('}');
}

static void json_row(const struct row *r)
{
	json_row_ext(r, NULL, NULL, 0);
}

static void json_array(const struct snap *s, const char *name, const char *kind, bool comma)
{
	if (comma)
		putchar(',');
	json_str(name);
	fputs(":[", stdout);
	int n = 0;
	for (int i = 0; i < s->nrows; i++) {
		if (strcmp(s->rows[i].kind, kind) != 0)
			continue;
		if (n++)
			putchar(',');
		json_row(&s->rows[i]);
	}
	putchar(']');
}

static void json_object(const struct snap *s, const char *name, const char *kind, bool comma)
{
	const struct row *r = first(s, kind);
	if (comma)
		putchar(',');
	json_str(name);
	putchar(':');
	if (r)
		json_row(r);
	else
		fputs("null", stdout);
}

static void json_config(const struct snap *s, bool comma)
{
	if (comma)
		putchar(',');
	fputs("\"config\":{", stdout);
	int n = 0;
	for (int i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];
		if (strcmp(r->kind, "config") != 0)
			continue;
		if (n++)
			putchar(',');
		json_str(get(r, "key"));
		putchar(':');
		json_str(get(r, "value"));
	}
	putchar('}');
}

/* ---- text ---- */

static void human_bytes(double b, char *out, size_t len)
{
	static const char *const u[] = {"B", "KB", "MB", "GB", "TB"};
	int i = 0;
	while (b >= 1000.0 && i < 4) {
		b /= 1000.0;
		i++;
	}
	snprintf(out, len, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static void human_ms(double ms, char *out, size_t len)
{
	long long s = (long long)(ms / 1000.0);
	snprintf(out, len, "%lldh%02lldm%02llds", s / 3600, s / 60 % 60, s % 60);
}

static void print_daemon(const struct snap *s)
{
	const struct row *d = first(s, "daemon");
	const struct row *t = first(s, "totals");
	char up[32], raw[32], wire[32];
	if (d) {
		human_ms(num(d, "uptime_ms"), up, sizeof(up));
		printf("funneld pid %s, up %s, %s (%s)\n", get(d, "pid"), up,
		       num(d, "healthy") ? "healthy" : "NOT READY", get(d, "health"));
		printf("producer id %s epoch %s%s; metadata %.1f s old, %s brokers known\n",
		       get(d, "producer_id"), get(d, "producer_epoch"),
		       num(d, "idempotent") ? " (idempotent)" : "",
		       num(d, "metadata_age_ms") / 1000.0, get(d, "brokers_known"));
		printf("clients %s active; topics %s, partitions %s; log level %s; metrics %s\n",
		       get(d, "clients_active"), get(d, "topics"), get(d, "partitions"),
		       get(d, "log_level"),
		       *get(d, "metrics_listen") ? get(d, "metrics_listen") : "off");
	}
	if (t) {
		double r = num(t, "bytes_raw"), w = num(t, "bytes_wire");
		human_bytes(r, raw, sizeof(raw));
		human_bytes(w, wire, sizeof(wire));
		printf("records in %s, acked %s, failed %s, bad %s\n", get(t, "records_in"),
		       get(t, "records_acked"), get(t, "records_failed"), get(t, "records_bad"));
		printf(
		    "batches sent %s, acked %s, failed %s, retries %s; requests %s, responses %s\n",
		    get(t, "batches_sent"), get(t, "batches_acked"), get(t, "batches_failed"),
		    get(t, "retries"), get(t, "requests_sent"), get(t, "responses"));
		if (w > 0)
			printf("batch bytes raw %s, compressed %s (ratio %.2f)\n", raw, wire,
			       r / w);
		else
			printf("batch bytes: not counted yet\n");
		if (num(t, "tls_user") + num(t, "ktls_tx") > 0)
			printf("TLS connections: %s in user space, %s with kernel TLS sends (%s "
			       "also receives)\n",
			       get(t, "tls_user"), get(t, "ktls_tx"), get(t, "ktls_rx"));
		if (d && strcmp(get(d, "egress"), "dpdk") == 0)
			printf("egress dpdk: packets in %s, out %s, dropped %s; TCP "
			       "retransmissions %s\n",
			       get(t, "pkts_rx"), get(t, "pkts_tx"), get(t, "pkt_drops"),
			       get(t, "tcp_retransmits"));
		if (d && strcmp(get(d, "egress"), "dpdk") == 0) {
			long o = (long)num(t, "csum_offload");
			printf("egress dpdk checksum offload: tx ip %s tcp %s, rx ip %s tcp %s\n",
			       o & 1 ? "yes" : "no", o & 2 ? "yes" : "no", o & 4 ? "yes" : "no",
			       o & 8 ? "yes" : "no");
		}
	}
	for (int i = 0; i < s->nrows; i++) {
		const struct row *z = &s->rows[i];
		if (strcmp(z->kind, "core") != 0)
			continue;
		double in = num(z, "bytes_in"), out = num(z, "bytes_out");
		printf("compression core %s (cpu %s): %s batches, ratio %.2f, busy %.1f s, queued %s, "
		       "sleeps %s\n",
		       get(z, "core"), get(z, "cpu"), get(z, "batches"), out > 0 ? in / out : 0.0,
		       num(z, "busy_us") / 1e6, get(z, "depth"), get(z, "sleeps"));
	}
	for (int i = 0; i < s->nrows; i++)
		if (strcmp(s->rows[i].kind, "topic") == 0)
			printf("topic %s: %s partitions\n", get(&s->rows[i], "name"),
			       get(&s->rows[i], "partitions"));
	for (int i = 0; i < s->nrows; i++)
		if (strcmp(s->rows[i].kind, "error") == 0)
			printf("delivery errors: %s (%s) on %s records\n", get(&s->rows[i], "name"),
			       get(&s->rows[i], "code"), get(&s->rows[i], "records"));
}

static void print_brokers(const struct snap *s)
{
	int led = 0, nparts = 0, noleader = 0;
	printf("\n%6s %-12s %8s %10s %10s %8s %6s\n", "NODE", "STATE", "INFLIGHT", "REQUESTS",
	       "RESPONSES", "RTT_MS", "LEADS");
	for (int i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];
		if (strcmp(r->kind, "broker") != 0)
			continue;
		led += (int)num(r, "leads");
		printf("%6s %-12s %8s %10s %10s %8.2f %6s\n", get(r, "node"), get(r, "state_name"),
		       get(r, "inflight"), get(r, "requests"), get(r, "responses"),
		       num(r, "rtt_mean_us") / 1000.0, get(r, "leads"));
	}
	const struct row *d = first(s, "daemon");
	if (d)
		nparts = (int)num(d, "partitions");
	noleader = nparts - led;
	printf("leaders: %d partitions, %d led by a connected broker, %d without a known leader\n",
	       nparts, led, noleader);
}

static void print_partitions(const struct snap *s)
{
	printf("%-24s %5s %6s %7s %12s %6s %8s %13s %13s %8s %-20s %s\n", "TOPIC", "PART", "LEADER",
	       "QUEUED", "QUEUED_BYTES", "OPEN", "INFLIGHT", "BATCHES_ACKED", "RECORDS_ACKED",
	       "RETRIES", "RETRIES_BY_CODE", "LAST_ERROR");
	for (int i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];
		if (strcmp(r->kind, "partition") != 0)
			continue;
		const char *codes = get(r, "retries_by_code");
		printf("%-24s %5s %6s %7s %12s %6s %8s %13s %13s %8s %-20s %s\n", get(r, "topic"),
		       get(r, "partition"), get(r, "leader"), get(r, "queued_batches"),
		       get(r, "queued_bytes"), get(r, "open_records"), get(r, "inflight"),
		       get(r, "batches_acked"), get(r, "records_acked"), get(r, "retries"),
		       *codes ? codes : "-", get(r, "last_error_name"));
	}
}

static void print_clients(const struct snap *s)
{
	printf("%5s %8s %6s %-12s %12s %12s %10s %14s %10s %12s %12s\n", "SLOT", "PID", "UID",
	       "STATE", "APPENDED", "DELIVERED", "FAILED", "APPENDED_BYTES", "FULL_WAITS",
	       "RING_USED", "RING_BYTES");
	for (int i = 0; i < s->nrows; i++) {
		const struct row *r = &s->rows[i];
		if (strcmp(r->kind, "client") != 0)
			continue;
		printf("%5s %8s %6s %-12s %12s %12s %10s %14s %10s %12s %12s\n", get(r, "slot"),
		       get(r, "pid"), get(r, "uid"), get(r, "state"), get(r, "appended"),
		       get(r, "delivered"), get(r, "failed"), get(r, "appended_bytes"),
		       get(r, "ring_full_waits"), get(r, "ring_used_bytes"), get(r, "ring_bytes"));
	}
}

static void print_config(const struct snap *s)
{
	for (int i = 0; i < s->nrows; i++)
		if (strcmp(s->rows[i].kind, "config") == 0)
			printf("%s=%s\n", get(&s->rows[i], "key"), get(&s->rows[i], "value"));
}

/* ---- top ---- */

struct rated {
	const struct row *r;
	double a, b, c; /* per-second rates of up to three counters */
};

static const struct row *match(const struct snap *prev, int i, const struct row *r, const char *k1,
                               const char *k2)
{
	if (!prev)
		return NULL;
	if (i < prev->nrows) {
		const struct row *p = &prev->rows[i];
		if (strcmp(p->kind, r->kind) == 0 && strcmp(get(p, k1), get(r, k1)) == 0 &&
		    strcmp(get(p, k2), get(r, k2)) == 0)
			return p;
	}
	for (int k = 0; k < prev->nrows; k++) {
		const struct row *p = &prev->rows[k];
		if (strcmp(p->kind, r->kind) == 0 && strcmp(get(p, k1), get(r, k1)) == 0 &&
		    strcmp(get(p, k2), get(r, k2)) == 0)
			return p;
	}
	return NULL;
}

static double rate(const struct row *cur, const struct row *prev, const char *key, double dt_s)
{
	if (!prev || dt_s <= 0)
		return 0.0;
	double d = num(cur, key) - num(prev, key);
	return d > 0 ? d / dt_s : 0.0;
}

static double snap_dt(const struct snap *cur, const struct snap *prev)
{
	const struct row *a = first(cur, "daemon"), *b = prev ? first(prev, "daemon") : NULL;
	if (!a || !b)
		return 0.0;
	return (num(a, "now_ms") - num(b, "now_ms")) / 1000.0;
}

/* Rows of one kind with their rates; the caller frees the array. */
static struct rated *rate_rows(const struct snap *cur, const struct snap *prev, const char *kind,
                               const char *k1, const char *k2, const char *const keys[3], int *n)
{
	double dt = snap_dt(cur, prev);
	struct rated *out = calloc((size_t)cur->nrows + 1, sizeof(*out));
	*n = 0;
	if (!out)
		return NULL;
	for (int i = 0; i < cur->nrows; i++) {
		const struct row *r = &cur->rows[i];
		if (strcmp(r->kind, kind) != 0)
			continue;
		const struct row *p = match(prev, i, r, k1, k2);
		out[*n] = (struct rated){r, rate(r, p, keys[0], dt), rate(r, p, keys[1], dt),
		                         rate(r, p, keys[2], dt)};
		(*n)++;
	}
	return out;
}

static int by_rate(const void *x, const void *y)
{
	const struct rated *a = x, *b = y;
	if (a->a != b->a)
		return a->a < b->a ? 1 : -1;
	if (a->b != b->b)
		return a->b < b->b ? 1 : -1;
	return 0;
}

static const char *const client_keys[3] = {"appended", "delivered", "failed"};
static const char *const part_keys[3] = {"batches_acked", "retries", "queued_batches"};

static void json_rates(const struct rated *v, int n, const char *name, const char *const keys[3],
                       int nkeys)
{
	printf(",\"%s\":[", name);
	for (int i = 0; i < n; i++) {
		double r[3] = {v[i].a, v[i].b, v[i].c};
		if (i)
			putchar(',');
		json_row_ext(v[i].r, keys, r, nkeys);
	}
	putchar(']');
}

static void top_json(const struct snap *cur, const struct snap *prev)
{
	int nc, np;
	struct rated *cl = rate_rows(cur, prev, "client", "slot", "pid", client_keys, &nc);
	struct rated *pt = rate_rows(cur, prev, "partition", "topic", "partition", part_keys, &np);
	double dt = snap_dt(cur, prev);
	const struct row *t = first(cur, "totals"), *tp = prev ? first(prev, "totals") : NULL;
	printf("{\"interval_s\":%.3f", dt);
	json_object(cur, "daemon", "daemon", true);
	static const char *const tk[] = {"records_in",    "records_acked", "records_failed",
	                                 "batches_acked", "requests_sent", "bytes_raw",
	                                 "bytes_wire",    "retries"};
	fputs(",\"rates\":{", stdout);
	for (size_t k = 0; t && k < sizeof(tk) / sizeof(tk[0]); k++)
		printf("%s\"%s_per_s\":%.3f", k ? "," : "", tk[k], rate(t, tp, tk[k], dt));
	putchar('}');
	json_rates(cl, cl ? nc : 0, "clients", client_keys, 3);
	json_rates(pt, pt ? np : 0, "partitions", part_keys, 2);
	puts("}");
	free(cl);
	free(pt);
}

static volatile sig_atomic_t quit_flag;
static struct termios saved_tio;
static bool tio_saved, alt_screen;

static void on_quit(int sig)
{
	(void)sig;
	quit_flag = 1;
}

static void term_restore(void)
{
	if (alt_screen)
		fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (tio_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void term_setup(void)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		struct termios t = saved_tio;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		tio_saved = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	if (isatty(STDOUT_FILENO)) {
		alt_screen = true;
		fputs("\033[?1049h\033[?25l", stdout);
	}
	atexit(term_restore);
	signal(SIGINT, on_quit);
	signal(SIGTERM, on_quit);
	signal(SIGHUP, on_quit);
}

static void term_size(int *rows, int *cols)
{
	struct winsize ws;
	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* One line of the frame, cut at the terminal width, erasing the rest. */
static void line(int cols, int *left, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(int cols, int *left, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	if (*left <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cols > 0 && cols < (int)sizeof(buf))
		buf[cols] = '\0';
	printf("%s\033[K\n", buf);
	(*left)--;
}

static void top_header(const struct snap *cur, const struct snap *prev, double every_s, int cols,
                       int *left)
{
	const struct row *d = first(cur, "daemon"), *t = first(cur, "totals");
	const struct row *tp = prev ? first(prev, "totals") : NULL;
	double dt = snap_dt(cur, prev);
	char up[32] = "?", raw[32], wire[32];
	if (d)
		human_ms(num(d, "uptime_ms"), up, sizeof(up));
	human_bytes(t ? rate(t, tp, "bytes_raw", dt) : 0, raw, sizeof(raw));
	human_bytes(t ? rate(t, tp, "bytes_wire", dt) : 0, wire, sizeof(wire));
	line(cols, left, "funnelctl top - funneld pid %s, up %s, every %.1f s, %s   (q quits)",
	     d ? get(d, "pid") : "?", up, every_s,
	     d && num(d, "healthy") ? "healthy" : "NOT READY");
	if (!t)
		return;
	line(cols, left, "records/s  in %10.0f  acked %10.0f  failed %8.0f   retries/s %.0f",
	     rate(t, tp, "records_in", dt), rate(t, tp, "records_acked", dt),
	     rate(t, tp, "records_failed", dt), rate(t, tp, "retries", dt));
	char ratio[16] = "-";
	if (num(t, "bytes_wire") > 0)
		snprintf(ratio, sizeof(ratio), "%.2f", num(t, "bytes_raw") / num(t, "bytes_wire"));
	line(cols, left, "batches/s %6.0f  requests/s %6.0f  raw %s/s  wire %s/s  ratio %s",
	     rate(t, tp, "batches_acked", dt), rate(t, tp, "requests_sent", dt), raw, wire, ratio);
	line(cols, left, "totals: in %s acked %s failed %s; clients %s; producer id %s epoch %s",
	     get(t, "records_in"), get(t, "records_acked"), get(t, "records_failed"),
	     d ? get(d, "clients_active") : "?", d ? get(d, "producer_id") : "?",
	     d ? get(d, "producer_epoch") : "?");
}

static void top_frame(const struct snap *cur, const struct snap *prev, double every_s)
{
	int rows, cols, nc, np;
	term_size(&rows, &cols);
	int left = rows - 1;
	struct rated *cl = rate_rows(cur, prev, "client", "slot", "pid", client_keys, &nc);
	struct rated *pt = rate_rows(cur, prev, "partition", "topic", "partition", part_keys, &np);
	fputs("\033[H", stdout);
	top_header(cur, prev, every_s, cols, &left);
	line(cols, &left, "%s", "");
	line(cols, &left, "%5s %8s %-10s %12s %12s %9s %10s %6s", "SLOT", "PID", "STATE",
	     "APPENDED/s", "DELIVERED/s", "FAILED/s", "RING_USED", "USED%");
	if (cl)
		qsort(cl, (size_t)nc, sizeof(*cl), by_rate);
	int room = left / 2 > 3 ? left / 2 : 3;
	for (int i = 0; cl && i < nc && i < room; i++) {
		const struct row *r = cl[i].r;
		double cap = num(r, "ring_bytes");
		line(cols, &left, "%5s %8s %-10s %12.0f %12.0f %9.0f %10s %5.1f%%", get(r, "slot"),
		     get(r, "pid"), get(r, "state"), cl[i].a, cl[i].b, cl[i].c,
		     get(r, "ring_used_bytes"),
		     cap > 0 ? 100.0 * num(r, "ring_used_bytes") / cap : 0);
	}
	line(cols, &left, "%s", "");
	line(cols, &left, "%-20s %5s %6s %10s %9s %7s %8s %5s %s", "TOPIC", "PART", "LEADER",
	     "BATCHES/s", "RETRIES/s", "QUEUED", "INFLIGHT", "OPEN", "LAST_ERROR");
	if (pt)
		qsort(pt, (size_t)np, sizeof(*pt), by_rate);
	for (int i = 0; pt && i < np && left > 0; i++) {
		const struct row *r = pt[i].r;
		line(cols, &left, "%-20s %5s %6s %10.1f %9.1f %7s %8s %5s %s", get(r, "topic"),
		     get(r, "partition"), get(r, "leader"), pt[i].a, pt[i].b,
		     get(r, "queued_batches"), get(r, "inflight"), get(r, "open_records"),
		     get(r, "last_error_name"));
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	free(cl);
	free(pt);
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits up to ms for a key; true when the user asked to quit. */
static bool wait_key(int ms)
{
	struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
	int64_t end = mono_ms() + ms;
	while (!quit_flag) {
		int64_t left = end - mono_ms();
		if (left <= 0)
			return false;
		int rc = poll(tio_saved ? &p : NULL, tio_saved ? 1 : 0, (int)left);
		if (rc > 0) {
			char ch;
			if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
				return true;
		} else if (rc < 0 && errno != EINTR) {
			return false;
		}
	}
	return true;
}

static const uint32_t top_sections =
    FNL_ADMIN_DAEMON | FNL_ADMIN_TOTALS | FNL_ADMIN_CLIENTS | FNL_ADMIN_PARTITIONS;

static int cmd_top(int fd, bool json, double every_s, int count)
{
	struct snap prev = {0}, cur;
	int ms = (int)(every_s * 1000.0);
	if (json) {
		/* one object per line, each with rates over the last interval */
		fetch(fd, top_sections, &prev);
		for (int i = 0; i < (count > 0 ? count : 1); i++) {
			usleep((useconds_t)ms * 1000);
			fetch(fd, top_sections, &cur);
			top_json(&cur, &prev);
			fflush(stdout);
			snap_free(&prev);
			prev = cur;
		}
		snap_free(&prev);
		return 0;
	}
	term_setup();
	fputs("\033[2J", stdout);
	bool have_prev = false;
	for (int i = 0; count <= 0 || i < count; i++) {
		fetch(fd, top_sections, &cur);
		top_frame(&cur, have_prev ? &prev : NULL, every_s);
		if (have_prev)
			snap_free(&prev);
		prev = cur;
		have_prev = true;
		/* the first frame has no rates yet: refresh it soon */
		if (wait_key(i == 0 && ms > 300 ? 300 : ms))
			break;
	}
	if (have_prev)
		snap_free(&prev);
	return 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: funnelctl [-s SOCKET] COMMAND [--json] [-d SECS] [-n COUNT]\n"
	        "  status      daemon, producer id/epoch, totals, brokers, leaders, settings\n"
	        "  clients     attached clients and their counters\n"
	        "  partitions  per-partition queues, in-flight, acks, retries, last error\n"
	        "  config      effective settings (key=value)\n"
	        "  top         live rates per client and partition (q quits); -d interval\n"
	        "              (default 1 s), -n frames (default: until q; --json: 1)\n"
	        "  --json      print JSON instead of tables\n"
	        "SOCKET: -s, else $%s, else %s. Exit status 2: funneld is not running.\n",
	        FNL_CTL_SOCKET_ENV, FNL_CTL_SOCKET_DEFAULT);
}

struct opts {
	const char *socket, *cmd;
	bool json;
	double every_s;
	int count;
};

static void parse_args(int argc, char **argv, struct opts *o)
{
	const char *env = getenv(FNL_CTL_SOCKET_ENV);
	*o = (struct opts){.socket = env && *env ? env : FNL_CTL_SOCKET_DEFAULT, .every_s = 1.0};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_val = i + 1 < argc;
		if (strcmp(a, "--json") == 0 || strcmp(a, "-j") == 0) {
			o->json = true;
		} else if ((strcmp(a, "-s") == 0 || strcmp(a, "--socket") == 0) && has_val) {
			o->socket = argv[++i];
		} else if (strcmp(a, "-d") == 0 && has_val) {
			o->every_s = strtod(argv[++i], NULL);
		} else if (strcmp(a, "-n") == 0 && has_val) {
			o->count = atoi(argv[++i]);
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			exit(0);
		} else if (a[0] != '-' && !o->cmd) {
			o->cmd = a;
		} else {
			fprintf(stderr, "%s: unexpected argument '%s'\n", prog, a);
			usage(stderr);
			exit(1);
		}
	}
	if (!o->cmd) {
		usage(stderr);
		exit(1);
	}
	if (o->every_s < 0.1 || o->every_s > 3600)
		o->every_s = 1.0;
}

static int cmd_show(int fd, const char *cmd, bool json)
{
	struct snap s;
	if (strcmp(cmd, "status") == 0) {
		fetch(fd, FNL_ADMIN_ALL & ~(uint32_t)(FNL_ADMIN_CLIENTS | FNL_ADMIN_PARTITIONS),
		      &s);
		if (json) {
			putchar('{');
			json_object(&s, "daemon", "daemon", false);
			json_object(&s, "totals", "totals", true);
			json_array(&s, "errors", "error", true);
			json_array(&s, "brokers", "broker", true);
			json_array(&s, "topics", "topic", true);
			json_config(&s, true);
			puts("}");
		} else {
			print_daemon(&s);
			print_brokers(&s);
			printf("\neffective settings:\n");
			print_config(&s);
		}
	} else if (strcmp(cmd, "clients") == 0) {
		fetch(fd, FNL_ADMIN_CLIENTS, &s);
		if (json) {
			putchar('{');
			json_array(&s, "clients", "client", false);
			puts("}");
		} else {
			print_clients(&s);
		}
	} else if (strcmp(cmd, "partitions") == 0) {
		fetch(fd, FNL_ADMIN_PARTITIONS, &s);
		if (json) {
			putchar('{');
			json_array(&s, "partitions", "partition", false);
			puts("}");
		} else {
			print_partitions(&s);
		}
	} else {
		fetch(fd, FNL_ADMIN_CONFIG, &s);
		if (json) {
			putchar('{');
			json_config(&s, false);
			puts("}");
		} else {
			print_config(&s);
		}
	}
	snap_free(&s);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	parse_args(argc, argv, &o);
	static const char *const cmds[] = {"status", "clients", "partitions", "config", "top"};
	bool known = false;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		known |= strcmp(o.cmd, cmds[i]) == 0;
	if (!known) {
		fprintf(stderr, "%s: unknown command '%s'\n", prog, o.cmd);
		usage(stderr);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	int fd = ctl_connect(o.socket);
	int rc = strcmp(o.cmd, "top") == 0 ? cmd_top(fd, o.json, o.every_s, o.count)
	                                   : cmd_show(fd, o.cmd, o.json);
	close(fd);
	return rc < 0 ? 1 : 0;
}
