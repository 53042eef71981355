/* mapfile.c - see mapfile.h.
 *
 * A decode step reads every weight once, so the page size of the mapping
 * matters: with 4 KiB pages each page costs a TLB miss, with 2 MiB ones
 * 512 times fewer.  The mapping is marked MADV_HUGEPAGE, so where the
 * kernel and file system keep files in huge pages (Linux with large
 * folios: seen on Linux 6.18 with ext4), a file not yet in the page cache
 * is read into 2 MiB folios and mapped by 2 MiB entries.  A file already
 * cached in small pages stays in them until the cache drops it: the
 * advice only shapes what is read from then on.  Elsewhere the advice is
 * a no-op (an error from madvise is ignored on purpose). */
#include "mapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

bool map_file(const char *path, void **map, size_t *size, struct lmu_err *e)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*map = NULL;
	*size = 0;
	if (fd < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(fd, &st) < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		close(fd);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set(e, "%s: not a regular file", path);
		close(fd);
		return false;
	}
	if (st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			err_set(e, "%s: mmap: %s", path, strerror(errno));
			close(fd);
			return false;
		}
#ifdef MADV_HUGEPAGE
		(void)madvise(p, (size_t)st.st_size, MADV_HUGEPAGE);
#endif
		*map = p;
		*size = (size_t)st.st_size;
	}
	close(fd);
	return true;
}

void unmap_file(void *map, size_t size)
{
	if (map)
		munmap(map, size);
}
