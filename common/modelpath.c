#include "modelpath.h"
#include "err.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static char *path_join(const char *a, const char *b)
{
	char *p = xmalloc(strlen(a) + strlen(b) + 2);
	sprintf(p, "%s/%s", a, b);
	return p;
}

char *hf_home(void)
{
	const char *s;

	if ((s = getenv("HF_HOME")) && *s)
		return xstrdup(s);
	if ((s = getenv("XDG_CACHE_HOME")) && *s)
		return path_join(s, "huggingface");
	if (!(s = getenv("HOME")) || !*s)
		s = "/";
	return path_join(s, ".cache/huggingface");
}

char *hf_hub_cache(void)
{
	const char *s;
	char *home, *p;

	if ((s = getenv("HF_HUB_CACHE")) && *s)
		return xstrdup(s);
	if ((s = getenv("HUGGINGFACE_HUB_CACHE")) && *s)
		return xstrdup(s);
	home = hf_home();
	p = path_join(home, "hub");
	free(home);
	return p;
}

static int repo_part_valid(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 96 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return 0;
		if (c == '.' && i + 1 < n && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

int hf_repo_id_valid(const char *id)
{
	const char *slash = strchr(id, '/');

	if (!slash)
		return repo_part_valid(id, strlen(id));
	return repo_part_valid(id, (size_t)(slash - id)) &&
	       repo_part_valid(slash + 1, strlen(slash + 1));
}

char *hf_repo_dir(const char *cache, const char *repo_id)
{
	char *p = xmalloc(strlen(cache) + 2 * strlen(repo_id) + 16), *q;
	const char *s;

	q = p + sprintf(p, "%s/models--", cache);
	for (s = repo_id; *s; s++) {
		if (*s == '/') {
			*q++ = '-';
			*q++ = '-';
		} else {
			*q++ = *s;
		}
	}
	*q = '\0';
	return p;
}

int hf_safe_relpath(const char *p)
{
	const char *s, *comp = p;
	size_t n = strlen(p);

	if (n == 0 || n > 1024 || p[0] == '/')
		return 0;
	for (s = p;; s++) {
		if (*s == '/' || *s == '\0') {
			size_t len = (size_t)(s - comp);
			if (len == 0 || (len == 1 && comp[0] == '.') ||
			    (len == 2 && comp[0] == '.' && comp[1] == '.'))
				return 0;
			if (*s == '\0')
				return 1;
			comp = s + 1;
			continue;
		}
		if (*s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
}

int hf_is_commit(const char *rev)
{
	int i;

	for (i = 0; i < 40; i++)
		if (!isdigit((unsigned char)rev[i]) && !(rev[i] >= 'a' && rev[i] <= 'f'))
			return 0;
	return rev[40] == '\0';
}

int hf_cached_commit(const char *repo_dir, const char *revision, char commit[41],
		     struct lmu_err *e)
{
	char *refs, *ref, buf[64];
	FILE *f;
	size_t n;

	if (hf_is_commit(revision)) {
		memcpy(commit, revision, 41);
		return 1;
	}
	if (!hf_safe_relpath(revision)) {
		err_set(e, "'%s' is not a usable revision name", revision);
		return 0;
	}
	refs = path_join(repo_dir, "refs");
	ref = path_join(refs, revision);
	free(refs);
	f = fopen(ref, "r");
	if (!f) {
		if (errno == ENOENT)
			err_set(e, "revision '%s' is not in the cache", revision);
		else
			err_set(e, "%s: %s", ref, strerror(errno));
		free(ref);
		return 0;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	if (!hf_is_commit(buf)) {
		err_set(e, "%s: does not hold a 40-hex commit id", ref);
		free(ref);
		return 0;
	}
	free(ref);
	memcpy(commit, buf, 41);
	return 1;
}

/* Collect the .gguf files under DIR (a snapshot: entries are symlinks to
 * blobs, so stat follows them), as paths relative to the snapshot. */
struct found {
	char **rel;
	int n;
};

static void find_gguf(const char *dir, const char *rel, int depth, struct found *fd)
{
	DIR *d = opendir(dir);
	struct dirent *ent;

	if (!d || depth > 8) {
		if (d)
			closedir(d);
		return;
	}
	while ((ent = readdir(d))) {
		struct stat st;
		char *full, *r;

		if (ent->d_name[0] == '.')
			continue;
		full = path_join(dir, ent->d_name);
		r = *rel ? path_join(rel, ent->d_name) : xstrdup(ent->d_name);
		if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) {
			find_gguf(full, r, depth + 1, fd);
			free(r);
		} else if (ends_with(ent->d_name, ".gguf")) {
			fd->rel = xreallocarray(fd->rel, (size_t)fd->n + 1, sizeof *fd->rel);
			fd->rel[fd->n++] = r;
		} else {
			free(r);
		}
		free(full);
	}
	closedir(d);
}

static int has_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

void model_loc_free(struct model_loc *loc)
{
	free(loc->gguf);
	free(loc->dir);
	free(loc->weights);
	memset(loc, 0, sizeof *loc);
}

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A weights file of a Hugging Face directory, named directly. */
static int is_weights_name(const char *path)
{
	return ends_with(path, ".safetensors") || ends_with(path, ".safetensors.index.json");
}

static void loc_file(const char *path, struct model_loc *loc)
{
	if (is_weights_name(path)) {
		const char *slash = strrchr(path, '/');
		loc->dir = xstrdup(slash ? path : ".");
		if (slash)
			loc->dir[slash == path ? 1 : slash - path] = '\0';
		loc->weights = xstrdup(path);
	} else {
		loc->gguf = xstrdup(path);
	}
}

/* The safetensors weights of a model directory: DIR/model.safetensors.index.json,
 * else DIR/model.safetensors, else NULL (a fresh string). */
static char *dir_weights(const char *dir)
{
	char *p = path_join(dir, "model.safetensors.index.json");
	if (is_file(p))
		return p;
	free(p);
	p = path_join(dir, "model.safetensors");
	if (is_file(p))
		return p;
	free(p);
	return NULL;
}

/* What the directory DIR holds (shown as NAME in messages). */
static void loc_dir(const char *dir, const char *name, struct model_loc *loc)
{
	char *tok = path_join(dir, "tokenizer.json"), *bin = path_join(dir, "pytorch_model.bin");
	char *weights = dir_weights(dir);
	DIR *d = opendir(dir);
	struct dirent *ent;
	char *gguf = NULL;
	int n = 0;

	if (!d)
		die("%s: %s", name, strerror(errno));
	while ((ent = readdir(d))) {
		if (ent->d_name[0] == '.' || !ends_with(ent->d_name, ".gguf"))
			continue;
		if (n++ == 0)
			gguf = path_join(dir, ent->d_name);
	}
	closedir(d);
	if (weights && n)
		die("%s: holds both safetensors weights and %d .gguf file%s; name one: %s or %s", name, n,
		    n > 1 ? "s" : "", weights, gguf);
	if (n > 1)
		die("%s: %d .gguf files in this directory; name one", name, n);
	if (weights) {
		loc->dir = xstrdup(dir);
		loc->weights = weights;
		weights = NULL;
	} else if (n == 1) {
		loc->gguf = gguf;
		gguf = NULL;
	} else if (is_file(tok)) {
		loc->dir = xstrdup(dir);  /* a tokenizer without weights */
	} else if (is_file(bin)) {
		die("%s: only PyTorch weights (pytorch_model.bin), which lmutils does not read: "
		    "save the model as safetensors (save_pretrained(..., safe_serialization=True))", name);
	} else {
		die("%s: no model in this directory (no .gguf file, no model.safetensors or "
		    "model.safetensors.index.json, no tokenizer.json)", name);
	}
	free(gguf);
	free(weights);
	free(tok);
	free(bin);
}

/* ORG/NAME[@REVISION][:FILE] in the hub cache. */
static void from_cache(const char *model, struct model_loc *loc)
{
	char *id = xstrdup(model), *rev = "main", *file = NULL, *p;
	char *cache, *repo, *snaps, *snap, *path, commit[41];
	struct lmu_err e = {{0}};
	struct found fd = {0};
	struct stat st;
	int i, pick = -1, nmatch = 0;

	if ((p = strchr(id, ':'))) {
		*p = '\0';
		file = p + 1;
	}
	if ((p = strchr(id, '@'))) {
		*p = '\0';
		rev = p + 1;
	}
	if (!hf_repo_id_valid(id) || !strchr(id, '/'))
		die("%s: no such file or directory", model);
	cache = hf_hub_cache();
	repo = hf_repo_dir(cache, id);
	if (stat(repo, &st) != 0)
		die("%s: no such file, and %s is not in the Hugging Face cache %s; "
		    "fetch it with: hf-fetch %s", model, id, cache, id);
	if (!hf_cached_commit(repo, rev, commit, &e))
		die("%s: %s", model, e.msg);
	snaps = path_join(repo, "snapshots");
	snap = path_join(snaps, commit);
	free(snaps);
	if (stat(snap, &st) != 0 || !S_ISDIR(st.st_mode))
		die("%s: snapshot %s is missing from the cache", model, snap);
	if (file && hf_safe_relpath(file)) {
		path = path_join(snap, file);
		if (stat(path, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
			if (S_ISREG(st.st_mode))
				loc_file(path, loc);
			else
				loc_dir(path, model, loc);
			free(path);
			goto out;
		}
		free(path);
	}
	find_gguf(snap, "", 0, &fd);
	if (!file) {
		/* safetensors weights, or no .gguf file at all: the snapshot as a directory */
		char *weights = dir_weights(snap);
		int has_weights = weights != NULL;
		free(weights);
		if (has_weights || fd.n == 0) {
			loc_dir(snap, model, loc);
			goto out;
		}
	}
	for (i = 0; i < fd.n; i++) {
		if (!file || has_ci(fd.rel[i], file)) {
			pick = i;
			nmatch++;
		}
	}
	if (nmatch == 0)
		die("%s: no .gguf file matching '%s' in %s", model, file, snap);
	if (nmatch > 1) {
		fprintf(stderr, "%s: %s: %d .gguf files in %s; name one as %s:FILE:\n",
			progname, model, nmatch, snap, id);
		for (i = 0; i < fd.n; i++)
			if (!file || has_ci(fd.rel[i], file))
				fprintf(stderr, "  %s\n", fd.rel[i]);
		exit(EXIT_RUNTIME);
	}
	loc->gguf = path_join(snap, fd.rel[pick]);
out:
	for (i = 0; i < fd.n; i++)
		free(fd.rel[i]);
	free(fd.rel);
	free(snap);
	free(repo);
	free(cache);
	free(id);
}

void model_locate(const char *model, struct model_loc *loc)
{
	struct stat st;

	memset(loc, 0, sizeof *loc);
	if (stat(model, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			loc_dir(model, model, loc);
		else
			loc_file(model, loc);
		return;
	}
	if (errno != ENOENT)
		die("%s: %s", model, strerror(errno));
	if (model[0] != '/' && model[0] != '.' && strchr(model, '/')) {
		from_cache(model, loc);
		return;
	}
	die("%s: no such file or directory", model);
}
