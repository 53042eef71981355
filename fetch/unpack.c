#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hub.h"
#include "modelpath.h"

int unpack_safe_name(const char *name, char *out, size_t cap)
{
	size_t n;

	while (name[0] == '.' && name[1] == '/')
		name += 2;
	n = strlen(name);
	while (n > 0 && name[n - 1] == '/')
		n--;
	if (n == 0 || n >= cap)
		return 0;
	memcpy(out, name, n);
	out[n] = '\0';
	return hf_safe_relpath(out);
}

/* Does a symlink at PATH with target TARGET stay inside the tree?  Walk
 * the target's components from PATH's directory, lexically. */
static int link_stays_inside(const char *path, const char *target)
{
	int depth = 0;
	const char *s, *c;

	if (target[0] == '\0' || target[0] == '/')
		return 0;
	for (s = path; *s; s++)
		if (*s == '/')
			depth++;
	for (c = target;;) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return 0;
		} else if (len > 0 && !(len == 1 && c[0] == '.')) {
			depth++;
		}
		if (!end)
			return 1;
		c = end + 1;
	}
}

/* Is PATH equal to, or below, one of the archive's symlinks? */
static int through_link(char **links, int nlinks, const char *path)
{
	int i;

	for (i = 0; i < nlinks; i++) {
		size_t n = strlen(links[i]);
		if (strncmp(path, links[i], n) == 0 && (path[n] == '/' || path[n] == '\0'))
			return 1;
	}
	return 0;
}

static struct archive *open_read(const char *archive, struct lmu_err *e)
{
	struct archive *a = archive_read_new();

	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_format_zip(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, archive, 1 << 16) != ARCHIVE_OK) {
		err_set(e, "%s: %s", archive, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int wanted(char **members, int nmembers, const char *name, char *seen)
{
	int i;

	if (nmembers == 0)
		return 1;
	for (i = 0; i < nmembers; i++)
		if (strcmp(members[i], name) == 0) {
			seen[i] = 1;
			return 1;
		}
	return 0;
}

/* Pass 1: every header, before anything is written. */
static int check_all(const char *archive, struct lmu_err *e)
{
	struct archive *a = open_read(archive, e);
	struct archive_entry *ent;
	char **links = NULL, name[4096], target[4096], shown[256];
	int nlinks = 0, ok = 1, r, i;

	if (!a)
		return 0;
	while (ok && (r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(ent);
		const char *hl = archive_entry_hardlink(ent);
		mode_t type = archive_entry_filetype(ent);

		hub_printable(shown, sizeof shown, p ? p : "");
		if (p && (strcmp(p, ".") == 0 || strcmp(p, "./") == 0) && type == AE_IFDIR)
			continue;
		if (!p || !unpack_safe_name(p, name, sizeof name)) {
			err_set(e, "%s: entry '%s': absolute path or '..' refused", archive, shown);
			ok = 0;
		} else if (through_link(links, nlinks, name)) {
			err_set(e, "%s: entry '%s' would be written through a symlink of the archive",
				archive, shown);
			ok = 0;
		} else if (hl) {
			if (!unpack_safe_name(hl, target, sizeof target) ||
			    through_link(links, nlinks, target)) {
				hub_printable(shown, sizeof shown, hl);
				err_set(e, "%s: hard link to '%s' points outside the target", archive, shown);
				ok = 0;
			}
		} else if (type == AE_IFLNK) {
			const char *t = archive_entry_symlink(ent);
			if (!t || !link_stays_inside(name, t)) {
				hub_printable(shown, sizeof shown, t ? t : "");
				err_set(e, "%s: symlink to '%s' points outside the target", archive, shown);
				ok = 0;
			} else {
				links = xreallocarray(links, (size_t)nlinks + 1, sizeof *links);
				links[nlinks++] = xstrdup(name);
			}
		} else if (type != AE_IFREG && type != AE_IFDIR) {
			err_set(e, "%s: entry '%s': not a file, directory or link", archive, shown);
			ok = 0;
		}
	}
	if (ok && r != ARCHIVE_EOF) {
		err_set(e, "%s: %s", archive, archive_error_string(a));
		ok = 0;
	}
	for (i = 0; i < nlinks; i++)
		free(links[i]);
	free(links);
	archive_read_free(a);
	return ok;
}

static int mkdir_p(const char *dir)
{
	char *p = xstrdup(dir), *s;
	int ok = 1;

	for (s = p + 1; ok && *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		ok = mkdir(p, 0777) == 0 || errno == EEXIST;
		*s = '/';
	}
	ok = ok && (mkdir(p, 0777) == 0 || errno == EEXIST);
	free(p);
	return ok;
}

static int copy_data(struct archive *in, struct archive *out, struct lmu_err *e)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	while ((r = archive_read_data_block(in, &buf, &size, &off)) == ARCHIVE_OK) {
		if (archive_write_data_block(out, buf, size, off) != ARCHIVE_OK) {
			err_set(e, "%s", archive_error_string(out));
			return 0;
		}
	}
	if (r != ARCHIVE_EOF) {
		err_set(e, "%s", archive_error_string(in));
		return 0;
	}
	return 1;
}

int unpack_archive(const char *archive, const char *dir, char **members, int nmembers,
		   struct lmu_err *e)
{
	struct archive *a, *w;
	struct archive_entry *ent;
	char name[4096], target[4096], *seen, *abs;
	int cwd, ok = 1, r, i;

	if (!check_all(archive, e))
		return 0;
	if (!mkdir_p(dir)) {
		err_set(e, "%s: %s", dir, strerror(errno));
		return 0;
	}
	if (!(abs = realpath(archive, NULL))) {
		err_set(e, "%s: %s", archive, strerror(errno));
		return 0;
	}
	/* Extract relative to DIR itself, so the secure flags (which refuse
	 * ".." and absolute names) never see DIR's own path. */
	cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd < 0 || chdir(dir) != 0) {
		err_set(e, "%s: %s", dir, strerror(errno));
		if (cwd >= 0)
			close(cwd);
		free(abs);
		return 0;
	}
	a = open_read(abs, e);
	free(abs);
	if (!a) {
		if (fchdir(cwd) != 0)
			die("cannot return to the working directory: %s", strerror(errno));
		close(cwd);
		return 0;
	}
	seen = xcalloc((size_t)nmembers + 1, 1);
	w = archive_write_disk_new();
	archive_write_disk_set_options(w, ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
					  ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS | ARCHIVE_EXTRACT_TIME);
	while (ok && (r = archive_read_next_header(a, &ent)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(ent);
		const char *hl = archive_entry_hardlink(ent);

		if (!unpack_safe_name(p, name, sizeof name))
			continue;	/* only "." itself gets here: check_all passed */
		if (!wanted(members, nmembers, name, seen))
			continue;
		archive_entry_set_pathname(ent, name);
		if (hl) {
			unpack_safe_name(hl, target, sizeof target);
			archive_entry_set_hardlink(ent, target);
		}
		if (archive_write_header(w, ent) != ARCHIVE_OK) {
			err_set(e, "%s: %s: %s", archive, name, archive_error_string(w));
			ok = 0;
		} else if (archive_entry_size(ent) > 0 && !copy_data(a, w, e)) {
			ok = 0;
		} else if (archive_write_finish_entry(w) != ARCHIVE_OK) {
			err_set(e, "%s: %s: %s", archive, name, archive_error_string(w));
			ok = 0;
		}
	}
	if (ok && r != ARCHIVE_EOF) {
		err_set(e, "%s: %s", archive, archive_error_string(a));
		ok = 0;
	}
	if (archive_write_close(w) != ARCHIVE_OK && ok) {
		err_set(e, "%s: %s", dir, archive_error_string(w));
		ok = 0;
	}
	archive_write_free(w);
	archive_read_free(a);
	for (i = 0; ok && i < nmembers; i++)
		if (!seen[i]) {
			err_set(e, "%s: no entry named '%s'", archive, members[i]);
			ok = 0;
		}
	free(seen);
	if (fchdir(cwd) != 0 && ok) {
		err_set(e, "cannot return to the working directory: %s", strerror(errno));
		ok = 0;
	}
	close(cwd);
	return ok;
}
