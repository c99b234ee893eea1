/* journal.c - open, validate, map and reset the restart journal (journal.h).
 * Start-up only: nothing here runs on the data path. */
#include "dataplane/batch/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static size_t page_up(size_t n)
{
	return (n + 4095) & ~(size_t)4095;
}

static void carve(struct fnl_journal *j)
{
	const struct fnl_jgeom *g = &j->geom;
	uint8_t *base = j->map;
	size_t off = sizeof(struct fnl_jhdr);

	j->hdr = (struct fnl_jhdr *)base;
	j->rings = (struct fnl_jring *)(base + off);
	off += (size_t)g->clients_max * sizeof(struct fnl_jring);
	j->seqs = (struct fnl_jseq *)(base + off);
	off += (size_t)FNL_JSEQ_ENTRIES(g) * sizeof(struct fnl_jseq);
	off = (off + 63) & ~(size_t)63;
	j->descs = (struct fnl_jdesc *)(base + off);
	off += (size_t)fnl_jgeom_nslots(g) * sizeof(struct fnl_jdesc);
	j->pool = base + page_up(off);
}

static size_t total_bytes(const struct fnl_jgeom *g)
{
	size_t off = sizeof(struct fnl_jhdr) + (size_t)g->clients_max * sizeof(struct fnl_jring) +
		     (size_t)FNL_JSEQ_ENTRIES(g) * sizeof(struct fnl_jseq);
	off = (off + 63) & ~(size_t)63;
	off += (size_t)fnl_jgeom_nslots(g) * sizeof(struct fnl_jdesc);
	return page_up(off) + (size_t)g->slots * g->slot_bytes +
	       (size_t)g->big_slots * g->big_slot_bytes;
}

void fnl_journal_reset(struct fnl_journal *j)
{
	const struct fnl_jgeom *g = &j->geom;

	memset(j->rings, 0, (size_t)g->clients_max * sizeof(struct fnl_jring));
	memset(j->seqs, 0, (size_t)FNL_JSEQ_ENTRIES(g) * sizeof(struct fnl_jseq));
	memset(j->descs, 0, (size_t)fnl_jgeom_nslots(g) * sizeof(struct fnl_jdesc));
	memset(j->hdr, 0, sizeof(*j->hdr));
	j->hdr->version = FNL_JOURNAL_VERSION;
	j->hdr->geom = *g;
	j->hdr->pid = -1;
	j->hdr->epoch = -1;
	fnl_journal_fence();
	j->hdr->magic = FNL_JOURNAL_MAGIC; /* last: a half-reset file is not valid */
}

static int usable(const struct fnl_journal *j, off_t file_bytes, const char **why)
{
	const struct fnl_jhdr *h = j->hdr;

	if (file_bytes == 0) {
		*why = "no journal yet";
		return 0;
	}
	if (h->magic != FNL_JOURNAL_MAGIC || h->version != FNL_JOURNAL_VERSION) {
		*why = "journal has another format";
		return 0;
	}
	if (memcmp(&h->geom, &j->geom, sizeof(j->geom)) != 0) {
		*why = "batch.size, buffer.memory, max.request.size, funnel.clients.max or "
		       "funnel.partitions.max changed since the journal was written";
		return 0;
	}
	return 1;
}

int fnl_journal_open(struct fnl_journal *j, const char *path, const struct fnl_jgeom *g,
		     const char **why)
{
	const char *dummy;
	struct stat st;
	struct statfs sf;

	if (!why)
		why = &dummy;
	*why = NULL;
	memset(j, 0, sizeof(*j));
	j->fd = -1;
	j->geom = *g;
	j->map_bytes = total_bytes(g);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno == EWOULDBLOCK ? EBUSY : errno;
		close(fd);
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (fstatfs(fd, &sf) == 0)
		j->on_tmpfs = sf.f_type == TMPFS_MAGIC;
	off_t old = st.st_size;
	if ((size_t)old != j->map_bytes && ftruncate(fd, (off_t)j->map_bytes) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	void *m = mmap(NULL, j->map_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		int e = errno;
		close(fd);
		return -e;
	}
	j->fd = fd;
	j->map = m;
	carve(j);
	/* the header page survives the resize: judge the old contents by it */
	if (usable(j, old, why)) {
		if ((size_t)old == j->map_bytes)
			return FNL_JOURNAL_RECOVERED;
		*why = "journal size does not match its geometry";
	}
	fnl_journal_reset(j);
	return FNL_JOURNAL_FRESH;
}

void fnl_journal_close(struct fnl_journal *j)
{
	if (j->map)
		munmap(j->map, j->map_bytes);
	if (j->fd >= 0)
		close(j->fd);
	memset(j, 0, sizeof(*j));
	j->fd = -1;
}
