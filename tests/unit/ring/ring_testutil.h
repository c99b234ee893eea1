/* ring_testutil.h - helpers shared by the ring unit tests: a ring mapped
 * twice (client view + daemon view) through a real sealed memfd, the daemon
 * mapping surrounded by PROT_NONE guard pages so any out-of-bounds read faults. */
#ifndef FNL_TEST_RING_UTIL_H
#define FNL_TEST_RING_UTIL_H

#include "check.h"
#include "dataplane/ring/ring.h"

#include <sys/mman.h>
#include <unistd.h>

struct test_ring {
	int fd;
	void *cbase, *guard;
	size_t total, guard_bytes;
	struct fnl_ring_cview c;
	struct fnl_ring_dview d;
};

static inline void test_ring_open(struct test_ring *t, uint64_t rec_bytes, uint32_t cmp_entries)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *dbase;

	CHECK_EQ(fnl_ring_create(rec_bytes, cmp_entries, &t->fd, &t->cbase, &t->total), 0);
	fnl_ring_cview_init(&t->c, t->cbase, rec_bytes, cmp_entries);
	t->guard_bytes = t->total + 2 * page;
	t->guard = mmap(NULL, t->guard_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(t->guard != MAP_FAILED);
	dbase = mmap((char *)t->guard + page, t->total, PROT_READ | PROT_WRITE,
	             MAP_SHARED | MAP_FIXED, t->fd, 0);
	CHECK(dbase == (char *)t->guard + page);
	CHECK_EQ(fnl_ring_dview_init(&t->d, dbase, t->total), 0);
}

static inline void test_ring_close(struct test_ring *t)
{
	munmap(t->guard, t->guard_bytes);
	munmap(t->cbase, t->total);
	close(t->fd);
}

/* xorshift64* */
static inline uint64_t test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

#endif
