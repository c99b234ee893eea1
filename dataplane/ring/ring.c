/* ring.c - the syscall side of the ring: create (client), attach (daemon), futex. */
#include "dataplane/ring/ring.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define FNL_RING_SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW)

int fnl_ring_create(uint64_t rec_bytes, uint32_t cmp_entries, int *fd, void **base,
                    size_t *total_bytes)
{
	size_t total;
	void *p;
	int rc = fnl_ring_layout(rec_bytes, cmp_entries, &total);
	int mfd;

	if (rc < 0)
		return rc;
	mfd = memfd_create("funnel-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	if (ftruncate(mfd, (off_t)total) < 0)
		goto fail;
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	/* populate: the pages are allocated now, not by page faults inside fnl_produce */
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, mfd, 0);
	if (p == MAP_FAILED)
		goto fail;
	fnl_ring_init(p, rec_bytes, cmp_entries, (int32_t)getpid());
	*fd = mfd;
	*base = p;
	if (total_bytes)
		*total_bytes = total;
	return 0;
fail:
	rc = -errno;
	close(mfd);
	return rc;
}

int fnl_ring_attach(int fd, struct fnl_ring_dview *v)
{
	struct stat st;
	void *p;
	int seals, rc;

	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return errno == EINVAL ? -EPERM : -errno; /* EINVAL: not a sealable file */
	if ((seals & FNL_RING_SEALS_REQUIRED) != FNL_RING_SEALS_REQUIRED)
		return -EPERM;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < (off_t)FNL_RING_HDR_BYTES ||
	    (uint64_t)st.st_size >
	        FNL_RING_HDR_BYTES + FNL_RING_REC_BYTES_MAX +
	            (uint64_t)FNL_RING_CMP_ENTRIES_MAX * FNL_RING_CMP_ENTRY_BYTES)
		return -EINVAL;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	rc = fnl_ring_dview_init(v, p, (size_t)st.st_size);
	if (rc < 0)
		munmap(p, (size_t)st.st_size);
	return rc;
}

void fnl_ring_detach(struct fnl_ring_dview *v, bool clean)
{
	if (!v->hdr)
		return;
	if (clean) /* seq_cst: a client blocked on space re-checks after its wake-up */
		atomic_store_explicit(&v->hdr->daemon_alive, 0, memory_order_seq_cst);
	/* whatever its wake marks (fnl_ring_client_wants_wake() is not asked): a
	 * sleeping client must notice that this daemon goes */
	fnl_ring_wake_client(v);
	munmap(v->hdr, v->map_bytes);
	v->hdr = NULL;
}

void fnl_ring_wake_client(struct fnl_ring_dview *v)
{
	/* relaxed add: the futex syscall itself orders the wake; the data the
	 * client re-checks was published with release stores before */
	atomic_fetch_add_explicit(&v->hdr->client_futex, 1, memory_order_relaxed);
	syscall(SYS_futex, (uint32_t *)&v->hdr->client_futex, FUTEX_WAKE, 1, NULL, NULL, 0);
}

int fnl_ring_wait_client(struct fnl_ring_cview *v, uint32_t seen, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	if (syscall(SYS_futex, (uint32_t *)&v->hdr->client_futex, FUTEX_WAIT, seen, tsp, NULL, 0) ==
	    0)
		return 0;
	if (errno == EAGAIN)
		return 0;
	return -errno;
}
