/* test_wake.c - eventfd doorbells: values, coalescing, waking a blocked poll. */
#include "netutil.h"

#include <sys/eventfd.h>
#include <time.h>

static void *ring_later(void *arg)
{
	int fd = *(int *)arg;
	uint64_t one = 1;
	nanosleep(&(struct timespec){0, 100000000L}, NULL);
	CHECK(write(fd, &one, sizeof(one)) == sizeof(one));
	return NULL;
}

int main(void)
{
	struct fnl_engine *e = nt_engine(0);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int efd2 = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 5;
	struct fnl_event ev;
	pthread_t th;
	int64_t t0, dt;

	CHECK(efd >= 0 && efd2 >= 0);
	CHECK_EQ(fnl_engine_watch_eventfd(e, -1, 0), -EBADF);
	CHECK_EQ(fnl_engine_watch_eventfd(e, efd, 1234), 0);
	CHECK_EQ(fnl_engine_watch_eventfd(e, efd2, 99), 1);
	nt_quiet(e, 20000000LL);

	/* two writes before a poll coalesce into one read of their sum */
	CHECK(write(efd, &v, sizeof(v)) == sizeof(v));
	CHECK(write(efd, &v, sizeof(v)) == sizeof(v));
	ev = nt_next(e);
	CHECK_EQ(ev.type, FNL_EV_WAKE);
	CHECK_EQ(ev.conn, -1);
	CHECK_EQ(ev.res, 0);
	CHECK_EQ(ev.user, 1234);
	CHECK_EQ(ev.tag, 10);
	nt_quiet(e, 20000000LL);

	/* re-armed: a later write is seen again, and wakes a blocking poll */
	for (int i = 0; i < 3; i++) {
		CHECK(pthread_create(&th, NULL, ring_later, i == 1 ? &efd2 : &efd) == 0);
		t0 = fnl_now_ns();
		CHECK_EQ(fnl_engine_poll(e, &ev, 1, -1), 1);
		dt = fnl_now_ns() - t0;
		CHECK_EQ(ev.type, FNL_EV_WAKE);
		CHECK_EQ(ev.tag, 1);
		CHECK_EQ(ev.user, i == 1 ? 99 : 1234);
		CHECK(dt >= 90000000LL && dt < 1000000000LL);
		pthread_join(th, NULL);
	}
	for (int i = 2; i < FNL_ENGINE_WATCHES_MAX; i++)
		CHECK_EQ(fnl_engine_watch_eventfd(e, efd, 0), i);
	CHECK_EQ(fnl_engine_watch_eventfd(e, efd, 0), -ENOSPC);
	fnl_engine_free(e);
	close(efd);
	close(efd2);
	printf("net wake: ok\n");
	return 0;
}
