#include "jsonfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"

char *file_read(const char *path, size_t max, size_t *len, struct lmu_err *e)
{
	struct stat s;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		return NULL;
	}
	const char *why = fstat(fd, &s) < 0 ? strerror(errno) : !S_ISREG(s.st_mode) ? "not a regular file"
			  : (uint64_t)s.st_size > max ? "larger than the limit" : NULL;
	if (why) {
		if (s.st_size > 0 && (uint64_t)s.st_size > max)
			err_set(e, "%s: %s of %zu bytes", path, why, max);
		else
			err_set(e, "%s: %s", path, why);
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)s.st_size + 1);
	while (got < (size_t)s.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)s.st_size - got);
		if (r <= 0) {
			err_set(e, "%s: %s", path, r < 0 ? strerror(errno) : "the file shrank while it was read");
			free(buf);
			close(fd);
			return NULL;
		}
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	*len = got;
	return buf;
}

jv json_file(const char *path, struct lmu_err *e)
{
	size_t len;
	char *buf = file_read(path, JSON_MAX_SIZE, &len, e);
	jv v;

	if (!buf)
		return jv_invalid();
	/* the strict scanner first: libjq 1.6 leaks on some malformed text
	 * (two values without a separator), and this message names the byte */
	struct js j = {.p = (const uint8_t *)buf, .n = len, .name = path, .part = "byte", .e = e};
	if (!js_skip(&j, 0) || !js_end(&j)) {
		free(buf);
		return jv_invalid();
	}
	v = jv_parse_sized(buf, (int)len);
	free(buf);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);
		err_set(e, "%s: %s", path, jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "invalid JSON");
		jv_free(msg);
		return jv_invalid();
	}
	return v;
}
