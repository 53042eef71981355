#include "modellist.h"

#include <dirent.h>
#include <jv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "err.h"
#include "gguf.h"
#include "http.h"
#include "hub.h"
#include "jsonfile.h"

#define MAX_DEPTH 8

static char *join(const char *a, const char *b)
{
	char *s = xmalloc(strlen(a) + strlen(b) + 2);
	sprintf(s, "%s/%s", a, b);
	return s;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of a directory, sorted, without . and ..; NULL if it cannot
 * be read. */
static char **entries(const char *dir, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			v = xreallocarray(v, *n + 1, sizeof *v);
			v[(*n)++] = xstrdup(e->d_name);
		}
	closedir(d);
	qsort(v, *n, sizeof *v, by_name);
	return v;
}

static void free_entries(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static void line(FILE *out, const char *repo, const char *file, const char *arch, long long size,
		 const char *quant)
{
	char sz[32], r[256], f[512];
	human_size(sz, sizeof sz, (double)size);
	hub_printable(r, sizeof r, repo);
	hub_printable(f, sizeof f, file);
	fprintf(out, "%s\t%s\t%s\t%s\t%s\n", r, f, arch, sz, quant);
}

/* A GGUF file: its architecture and the type most of its weights have. */
static void gguf_line(FILE *out, const char *repo, const char *shown, const char *path)
{
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open(path, &e);
	struct stat st;
	char arch[32] = "-", quant[24] = "-";
	long long size = stat(path, &st) == 0 ? (long long)st.st_size : 0;

	if (!g) {
		warnx_("%s", e.msg);
	} else {
		struct gguf_str a;
		uint32_t ft;
		const char *name;
		if (gguf_get_str(g, "general.architecture", &a) == 1)
			snprintf(arch, sizeof arch, "%.*s", (int)(a.len < 31 ? a.len : 31), a.s);
		if (gguf_get_u32(g, "general.file_type", &ft) == 1 && (name = gguf_file_type_name(ft))) {
			snprintf(quant, sizeof quant, "%s", name);
		} else {
			/* no (known) file type: the type with the most bytes of
			 * matrices */
			uint64_t bytes[GGML_NTYPES] = {0}, best = 0;
			for (uint64_t i = 0; i < g->n_tensors; i++)
				if (g->tensors[i].n_dims >= 2)
					bytes[g->tensors[i].type] += g->tensors[i].nbytes;
			for (int t = 0; t < GGML_NTYPES; t++)
				if (bytes[t] > best && ggml_type_name((enum ggml_type)t)) {
					best = bytes[t];
					snprintf(quant, sizeof quant, "%s", ggml_type_name((enum ggml_type)t));
				}
		}
		for (char *c = arch; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		gguf_close(g);
	}
	line(out, repo, shown, arch, size, quant);
}

/* A model directory: config.json's model_type and dtype, the weights' bytes. */
static void dir_line(FILE *out, const char *repo, const char *shown, const char *dir, char **names, size_t n)
{
	struct lmu_err e = {{0}};
	char *cfg = join(dir, "config.json");
	jv c = json_file(cfg, &e);
	char arch[32] = "-", quant[24] = "-";
	long long size = 0;
	struct stat st;

	for (size_t i = 0; i < n; i++)
		if (ends_with(names[i], ".safetensors")) {
			char *p = join(dir, names[i]);
			if (stat(p, &st) == 0)
				size += (long long)st.st_size;
			free(p);
		}
	if (!jv_is_valid(c)) {
		warnx_("%s", e.msg);
	} else if (jv_get_kind(c) == JV_KIND_OBJECT) {
		jv t = jv_object_get(jv_copy(c), jv_string("model_type"));
		jv d = jv_object_get(jv_copy(c), jv_string("torch_dtype"));
		if (jv_get_kind(d) != JV_KIND_STRING) {
			jv_free(d);
			d = jv_object_get(jv_copy(c), jv_string("dtype"));
		}
		if (jv_get_kind(t) == JV_KIND_STRING)
			hub_printable(arch, sizeof arch, jv_string_value(t));
		if (jv_get_kind(d) == JV_KIND_STRING) {
			static const char *const dtypes[][2] = {{"bfloat16", "BF16"}, {"float16", "F16"},
				{"float32", "F32"}, {"float64", "F64"}};
			hub_printable(quant, sizeof quant, jv_string_value(d));
			for (size_t k = 0; k < sizeof dtypes / sizeof *dtypes; k++)
				if (!strcmp(jv_string_value(d), dtypes[k][0]))
					snprintf(quant, sizeof quant, "%s", dtypes[k][1]);
		}
		jv_free(t);
		jv_free(d);
	}
	jv_free(c);
	free(cfg);
	line(out, repo, shown, arch, size, quant);
}

/* The models under dir (rel: its path from the root shown, "" at the root). */
static void walk(FILE *out, const char *repo, const char *root, const char *rel, int depth)
{
	char *dir = *rel ? join(root, rel) : xstrdup(root);
	size_t n;
	char **names = entries(dir, &n);
	int config = 0, weights = 0;

	for (size_t i = 0; names && i < n; i++) {
		config = config || !strcmp(names[i], "config.json");
		weights = weights || ends_with(names[i], ".safetensors");
	}
	/* in the cache, paths in the repo (-m ORG/NAME:FILE); elsewhere, paths
	 * as found (-m PATH) */
	bool local = !strcmp(repo, "-");
	if (config && weights)
		dir_line(out, repo, local ? dir : *rel ? rel : "-", dir, names, n);
	for (size_t i = 0; names && i < n; i++) {
		char *full = join(dir, names[i]), *r = *rel ? join(rel, names[i]) : xstrdup(names[i]);
		struct stat st;
		if (stat(full, &st) == 0) {
			if (S_ISREG(st.st_mode) && ends_with(names[i], ".gguf"))
				gguf_line(out, repo, local ? full : r, full);
			else if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH && names[i][0] != '.')
				walk(out, repo, root, r, depth + 1);
		}
		free(full);
		free(r);
	}
	free_entries(names, n);
	free(dir);
}

/* The name refs/ gives a commit (main first), or NULL. */
static char *ref_of(const char *repo_dir, const char *commit)
{
	char *refs = join(repo_dir, "refs"), *found = NULL;
	size_t n;
	char **names = entries(refs, &n);
	for (size_t i = 0; names && i < n && !found; i++) {
		char *p = join(refs, names[i]), buf[64] = "";
		FILE *f = fopen(p, "r");
		if (f) {
			if (fgets(buf, sizeof buf, f) && !strncmp(buf, commit, 40))
				found = xstrdup(names[i]);
			fclose(f);
		}
		free(p);
	}
	free_entries(names, n);
	free(refs);
	return found;
}

void modellist_print(const char *cache, char **dirs, int ndirs, FILE *out)
{
	size_t n = 0;
	char **repos = cache ? entries(cache, &n) : NULL;

	for (size_t i = 0; repos && i < n; i++) {
		const char *id = repos[i] + 8, *sep;
		if (strncmp(repos[i], "models--", 8) != 0 || !(sep = strstr(id, "--")))
			continue;
		char repo[256], *rd = join(cache, repos[i]), *snaps = join(rd, "snapshots");
		size_t ns;
		char **commits = entries(snaps, &ns);
		for (size_t k = 0; commits && k < ns; k++) {
			char *ref = ref_of(rd, commits[k]), *snap = join(snaps, commits[k]);
			snprintf(repo, sizeof repo, "%.*s/%s%s%.12s", (int)(sep - id), id, sep + 2,
				 ref && !strcmp(ref, "main") ? "" : "@", ref && !strcmp(ref, "main") ? "" : ref ? ref : commits[k]);
			walk(out, repo, snap, "", 0);
			free(ref);
			free(snap);
		}
		free_entries(commits, ns);
		free(snaps);
		free(rd);
	}
	free_entries(repos, n);
	for (int d = 0; d < ndirs; d++) {
		struct stat st;
		if (stat(dirs[d], &st) == 0 && S_ISREG(st.st_mode))
			gguf_line(out, "-", dirs[d], dirs[d]);
		else
			walk(out, "-", dirs[d], "", 0);
	}
}
