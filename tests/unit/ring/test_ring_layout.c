/* Layout: sizes, validation against the mapping, seals checked on attach. */
#include "ring_testutil.h"

#include <fcntl.h>
#include <sys/mman.h>

static void test_layout_sizes(void)
{
	size_t total = 0;

	CHECK_EQ(fnl_ring_layout(64 * 1024, 1024, &total), 0);
	CHECK_EQ(total, 4096 + 65536 + 1024 * 32);
	CHECK_EQ(fnl_ring_layout(32 * 1024, 1024, &total), -EINVAL);     /* too small */
	CHECK_EQ(fnl_ring_layout(3 * 64 * 1024, 1024, &total), -EINVAL); /* not pow2 */
	CHECK_EQ(fnl_ring_layout(64 * 1024, 1000, &total), -EINVAL);     /* not pow2 */
	CHECK_EQ(fnl_ring_layout(64 * 1024, 32, &total), -EINVAL);       /* too few */
	CHECK_EQ(fnl_ring_layout(1ull << 33, 1024, &total), -EINVAL);    /* too big */
	CHECK_EQ(fnl_ring_layout(0, 1024, &total), -EINVAL);
	CHECK_EQ(fnl_ring_layout(64 * 1024, 0, &total), -EINVAL);
}

static void test_validate(void)
{
	size_t total;
	struct fnl_ring_geom g;
	void *base;

	CHECK_EQ(fnl_ring_layout(1 << 20, 4096, &total), 0);
	base = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(base != MAP_FAILED);
	struct fnl_ring_hdr *h = base;
	fnl_ring_init(base, 1 << 20, 4096, 42);
	CHECK_EQ(fnl_ring_validate(h, total, &g), 0);
	CHECK_EQ(g.rec_bytes, 1 << 20);
	CHECK_EQ(g.cmp_entries, 4096);
	CHECK_EQ(g.client_pid, 42);
	CHECK_EQ(g.total_bytes, total);
	/* size not matching the mapping */
	CHECK_EQ(fnl_ring_validate(h, total - 4096, &g), -EINVAL);
	CHECK_EQ(fnl_ring_validate(h, total + 4096, &g), -EINVAL);
	CHECK_EQ(fnl_ring_validate(h, 100, &g), -EINVAL);
	/* magic, version, hdr bytes, entry bytes */
	h->magic ^= 1;
	CHECK_EQ(fnl_ring_validate(h, total, &g), -EPROTO);
	h->magic ^= 1;
	h->version = FNL_RING_VERSION + 1;
	CHECK_EQ(fnl_ring_validate(h, total, &g), -EPROTO);
	h->version = FNL_RING_VERSION;
	h->hdr_bytes = 8192;
	CHECK_EQ(fnl_ring_validate(h, total, &g), -EPROTO);
	h->hdr_bytes = FNL_RING_HDR_BYTES;
	h->cmp_entry_bytes = 64;
	CHECK_EQ(fnl_ring_validate(h, total, &g), -EPROTO);
	h->cmp_entry_bytes = FNL_RING_CMP_ENTRY_BYTES;
	/* non power of two sizes that still add up to the mapping */
	h->rec_bytes = (1 << 20) + 4096;
	h->cmp_entries = 3968;
	CHECK_EQ(fnl_ring_validate(h, total, &g), -EINVAL);
	h->rec_bytes = 1 << 20;
	h->cmp_entries = 4096;
	/* a huge rec_bytes whose sum would overflow */
	h->rec_bytes = UINT64_MAX - 4095;
	CHECK_EQ(fnl_ring_validate(h, total, &g), -EINVAL);
	h->rec_bytes = 1 << 20;
	CHECK_EQ(fnl_ring_validate(h, total, NULL), 0);
	munmap(base, total);
}

static void test_attach_checks_seals(void)
{
	struct fnl_ring_dview d;
	size_t total;
	int fd;

	/* unsealed memfd: a client could shrink it under the daemon (SIGBUS) */
	CHECK_EQ(fnl_ring_layout(64 * 1024, 1024, &total), 0);
	fd = memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, (off_t)total), 0);
	CHECK_EQ(fnl_ring_attach(fd, &d), -EPERM);
	/* sealed but no valid header */
	CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
	CHECK_EQ(fnl_ring_attach(fd, &d), -EPROTO);
	close(fd);
	/* not sealable at all: a pipe */
	int p[2];
	CHECK_EQ(pipe(p), 0);
	CHECK_EQ(fnl_ring_attach(p[0], &d), -EPERM);
	close(p[0]);
	close(p[1]);

	/* a proper ring attaches, daemon_alive goes to 1, detach clears it */
	void *base;
	CHECK_EQ(fnl_ring_create(64 * 1024, 1024, &fd, &base, &total), 0);
	CHECK_EQ(fnl_ring_attach(fd, &d), 0);
	struct fnl_ring_hdr *h = base;
	CHECK_EQ(atomic_load(&h->daemon_alive), 1);
	CHECK_EQ(d.rec_bytes, 64 * 1024);
	CHECK_EQ(d.cmp_entries, 1024);
	/* the client cannot grow or shrink it any more */
	CHECK(ftruncate(fd, (off_t)total * 2) < 0);
	CHECK(ftruncate(fd, 4096) < 0);
	fnl_ring_detach(&d, true);
	CHECK_EQ(atomic_load(&h->daemon_alive), 0);
	munmap(base, total);
	close(fd);
}

int main(void)
{
	test_layout_sizes();
	test_validate();
	test_attach_checks_seals();
	return 0;
}
