#include "modelpath.h"
#include "err.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *gguf_in_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char *found = NULL;
	int n = 0;

	if (!d)
		die("%s: %s", dir, strerror(errno));
	while ((ent = readdir(d))) {
		if (ent->d_name[0] == '.' || !ends_with(ent->d_name, ".gguf"))
			continue;
		if (n++ == 0) {
			found = xmalloc(strlen(dir) + strlen(ent->d_name) + 2);
			sprintf(found, "%s/%s", dir, ent->d_name);
		}
	}
	closedir(d);
	if (n == 0)
		die("%s: no .gguf file in this directory", dir);
	if (n > 1)
		die("%s: %d .gguf files in this directory; name one", dir, n);
	return found;
}

char *model_resolve(const char *model)
{
	struct stat st;

	if (stat(model, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return gguf_in_dir(model);
		return xstrdup(model);
	}
	if (errno != ENOENT)
		die("%s: %s", model, strerror(errno));
	die("%s: no such file or directory", model);
}
