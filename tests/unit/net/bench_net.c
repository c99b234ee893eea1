/* bench_net.c - fnl-net-bench: push pre-built 1 MiB frames through one engine
 * connection to a local sink thread that answers every frame with an 8-byte
 * frame, keeping 1 then 5 requests in flight (sent, response not yet seen).
 * Prints requests/s and payload GB/s for each window.
 *
 * usage: fnl-net-bench [seconds=2] [frame_bytes=1048576]
 */
#include "netutil.h"

#include <stdlib.h>

#define SLOTS 16

struct sink {
	int lfd;
	pthread_t th;
	uint32_t frame_max;
};

/* Read frames (skipping payloads in place, no copy), answer each with [4][seq]. */
static void *sink_main(void *arg)
{
	struct sink *s = arg;
	enum { CAP = 256 << 10 };
	uint8_t *buf = malloc(CAP), hdr[4];
	uint32_t hdr_have = 0, seq = 0;
	uint64_t skip = 0; /* payload bytes still to pass */
	int fd = accept(s->lfd, NULL, NULL);
	CHECK(fd >= 0 && buf);
	for (;;) {
		ssize_t r = read(fd, buf, CAP);
		size_t off = 0, n;
		if (r <= 0)
			break;
		n = (size_t)r;
		while (off < n) {
			if (skip > 0) {
				size_t k = n - off < skip ? n - off : (size_t)skip;
				off += k;
				skip -= k;
				if (skip > 0)
					break;
				uint8_t resp[8];
				nt_be32(resp, 4);
				nt_be32(resp + 4, seq++);
				if (!nt_write_all(fd, resp, sizeof(resp)))
					goto out;
				continue;
			}
			hdr[hdr_have++] = buf[off++];
			if (hdr_have == 4) {
				skip = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
				       (uint32_t)hdr[2] << 8 | hdr[3];
				CHECK(skip > 0 && skip <= s->frame_max);
				hdr_have = 0;
			}
		}
	}
out:
	close(fd);
	free(buf);
	return NULL;
}

struct slot {
	uint8_t hdr[4];
	struct iovec iov[2];
	bool busy_send, busy_resp;
};

static void run(struct fnl_engine *e, int id, int window, double secs, uint8_t *payload,
                uint32_t frame_bytes)
{
	struct slot sl[SLOTS];
	struct fnl_event ev[32];
	int inflight = 0, resp_slot = 0, next_slot = 0;
	uint64_t done = 0;
	struct fnl_engine_stats st0, st1;
	int64_t t0 = fnl_now_ns(), end = t0 + (int64_t)(secs * 1e9), t1;

	memset(sl, 0, sizeof(sl));
	fnl_engine_stats(e, &st0);
	for (;;) {
		t1 = fnl_now_ns();
		while (t1 < end && inflight < window) {
			struct slot *s = &sl[next_slot];
			if (s->busy_send || s->busy_resp)
				break;
			nt_be32(s->hdr, frame_bytes);
			s->iov[0] = (struct iovec){s->hdr, 4};
			s->iov[1] = (struct iovec){payload, frame_bytes};
			CHECK_EQ(fnl_conn_send(e, id, s->iov, 2, (uint64_t)next_slot), 0);
			s->busy_send = s->busy_resp = true;
			next_slot = (next_slot + 1) % SLOTS;
			inflight++;
		}
		if (inflight == 0 && t1 >= end)
			break;
		int n = fnl_engine_poll(e, ev, 32, 100000000LL);
		CHECK(n >= 0);
		for (int i = 0; i < n; i++) {
			if (ev[i].type == FNL_EV_SENT) {
				CHECK_EQ(ev[i].res, 0);
				sl[ev[i].tag].busy_send = false;
			} else {
				CHECK_EQ(ev[i].type, FNL_EV_FRAME);
				CHECK_EQ(ev[i].frame_len, 4);
				sl[resp_slot].busy_resp = false;
				resp_slot = (resp_slot + 1) % SLOTS;
				inflight--;
				done++;
			}
		}
	}
	t1 = fnl_now_ns();
	fnl_engine_stats(e, &st1);
	double dt = (double)(t1 - t0) / 1e9;
	printf("in_flight=%d frame_bytes=%u requests=%llu  %.0f req/s  %.2f GB/s  "
	       "(%.2f short writes per request)\n",
	       window, frame_bytes, (unsigned long long)done, (double)done / dt,
	       (double)done * frame_bytes / dt / 1e9,
	       (double)(st1.send_partials - st0.send_partials) / (double)(done ? done : 1));
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	uint32_t frame_bytes = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : 1u << 20;
	struct fnl_engine *e = nt_engine(0);
	struct sockaddr_in sa;
	struct sink s = {.frame_max = frame_bytes};
	uint8_t *payload = malloc(frame_bytes);
	int id;

	CHECK(payload && frame_bytes > 0 && secs > 0);
	for (uint32_t i = 0; i < frame_bytes; i++)
		payload[i] = (uint8_t)(i * 7);
	s.lfd = nt_listen(&sa, 4);
	CHECK(pthread_create(&s.th, NULL, sink_main, &s) == 0);
	id = nt_connect(e, &sa, 1);
	run(e, id, 1, secs, payload, frame_bytes);
	run(e, id, 5, secs, payload, frame_bytes);
	fnl_conn_close(e, id);
	while (nt_next(e).type != FNL_EV_CLOSED)
		;
	pthread_join(s.th, NULL);
	close(s.lfd);
	fnl_engine_free(e);
	free(payload);
	return 0;
}
