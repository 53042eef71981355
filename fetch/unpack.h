/* unpack.h - extract a tar or zip model bundle into a directory without
 * ever writing outside it (doc/formats.md "Archives"). */
#ifndef LMU_UNPACK_H
#define LMU_UNPACK_H

#include "err.h"

/* Extract ARCHIVE into DIR (created if missing); with NMEMBERS > 0 only
 * those entries, each of which must exist.  The whole archive is checked
 * first: an entry with an absolute path, a ".." component, a symlink that
 * points outside DIR, a path through a symlink of the archive, a hard link
 * whose target is unsafe, or a device/fifo refuses the archive before
 * anything is written.  Returns 0 with E filled on failure. */
int unpack_archive(const char *archive, const char *dir, char **members, int nmembers,
		   struct lmu_err *e);

/* The entry-name check alone (for tests): returns the safe relative name
 * (a leading "./" and trailing '/' dropped) in OUT, or 0. */
int unpack_safe_name(const char *name, char *out, size_t cap);

#endif
