/* registry.c - see registry.h. */
#include "registry.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "err.h"
#include "gguf.h"
#include "hfmodel.h"
#include "json.h"
#include "model.h"
#include "modelpath.h"
#include "quant.h"
#include "sha.h"
#include "tokenizer.h"
#include "vocab.h"

#define MAX_DEPTH 3

struct entry {
	char *id, *path, *source, *format;
	char *weights;          /* a model directory's model.safetensors or index */
	char *arch, *quant, *types, *error;
	long long params, size, ctx;
	char *file;             /* resolved: what is hashed (NULL: several files) */
	long long file_size, file_mtime_ns;
};

struct list {
	struct entry *e;
	size_t n, cap;
};

struct hjob {
	char *file;
	long long size, mtime_ns;
};

struct registry {
	struct db *db;
	struct models *ms;
	struct registry_params p;
	pthread_mutex_t scan_mu;        /* one scan at a time */

	/* the hashing thread's work, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t hasher;
	bool started, stop;
	struct hjob *todo;
	size_t n_todo;
	long long todo_bytes;
	uint64_t generation;            /* a scan gives new work */
	char scanner[256];              /* what reads models: a new one reads them again */
};

static void entry_free(struct entry *x)
{
	free(x->id);
	free(x->path);
	free(x->weights);
	free(x->arch);
	free(x->quant);
	free(x->types);
	free(x->error);
	free(x->file);
}

static void list_free(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		entry_free(&l->e[i]);
	free(l->e);
}

static struct entry *list_add(struct list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->e = xreallocarray(l->e, l->cap, sizeof *l->e);
	}
	struct entry *x = &l->e[l->n++];
	memset(x, 0, sizeof *x);
	x->params = x->size = x->ctx = -1;
	return x;
}

static char *join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = xmalloc(n);
	snprintf(p, n, "%s%s%s", a, *a && a[strlen(a) - 1] != '/' ? "/" : "", b);
	return p;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A model directory's weights (model.safetensors.index.json, else
 * model.safetensors) when it has config.json, else NULL. */
static char *model_dir_weights(const char *dir)
{
	char *cfg = join(dir, "config.json");
	bool has_cfg = is_file(cfg);
	free(cfg);
	if (!has_cfg)
		return NULL;
	char *w = join(dir, "model.safetensors.index.json");
	if (is_file(w))
		return w;
	free(w);
	w = join(dir, "model.safetensors");
	if (is_file(w))
		return w;
	free(w);
	return NULL;
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* ---- reading what a model is ---- */

static char *xstrndup_(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* Architecture, parameters, quantization, context length of g, and why
 * lmutils cannot run it (x->error) if it cannot. */
static void describe_gguf(struct entry *x, const struct gguf *g)
{
	unsigned long long elems[GGML_NTYPES] = {0}, bytes[GGML_NTYPES] = {0}, total = 0;
	struct gguf_str s;
	struct lmu_err e = {{0}};

	if (gguf_get_str(g, "general.architecture", &s) == 1 && s.len < 64) {
		x->arch = xstrndup_(s.s, (size_t)s.len);
		char key[96];
		uint64_t ctx;
		snprintf(key, sizeof key, "%s.context_length", x->arch);
		if (gguf_get_u64(g, key, &ctx) == 1 && ctx < (1ull << 40))
			x->ctx = (long long)ctx;
	}
	enum ggml_type unsupported = GGML_NTYPES;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct gguf_tensor *t = &g->tensors[i];
		unsigned long long n = 1;
		for (uint32_t d = 0; d < t->n_dims; d++)
			n *= t->ne[d];
		total += n;
		if ((unsigned)t->type >= GGML_NTYPES)
			continue;
		elems[t->type] += n;
		if (t->n_dims >= 2) {
			bytes[t->type] += t->nbytes;
			if (!quant_supported(t->type))
				unsupported = t->type;
		}
	}
	x->params = (long long)total;
	struct jw w = {0};
	int best = -1;
	jw_raw(&w, "{");
	for (int t = 0; t < GGML_NTYPES; t++) {
		if (!elems[t])
			continue;
		const char *name = ggml_type_name((enum ggml_type)t);
		jw_printf(&w, "%s\"%s\":%llu", w.n > 1 ? "," : "", name ? name : "?", elems[t]);
		if (bytes[t] && (best < 0 || bytes[t] > bytes[best]))
			best = t;
	}
	jw_raw(&w, "}");
	jw_mem(&w, "", 1);
	x->types = w.b;
	if (best >= 0 && ggml_type_name((enum ggml_type)best))
		x->quant = xstrdup(ggml_type_name((enum ggml_type)best));

	struct hparams hp;
	if (!hparams_load(g, &hp, &e)) {
		x->error = xstrdup(e.msg);
		return;
	}
	if (unsupported != GGML_NTYPES) {
		err_set(&e, "weights of type %s, which lmutils does not compute with",
			ggml_type_name(unsupported) ? ggml_type_name(unsupported) : "?");
		x->error = xstrdup(e.msg);
	}
}

/* Can its tokenizer be read? */
static void check_vocab(struct entry *x, const struct gguf *g)
{
	struct vocab v;
	struct lmu_err e = {{0}};
	memset(&v, 0, sizeof v);
	bool ok = g ? vocab_load_gguf(&v, g, &e) : vocab_load_dir(&v, x->path, &e);
	if (ok) {
		struct tokenizer *t = tokenizer_new(&v, &e);
		if (!t)
			ok = false;
		tokenizer_free(t);
	}
	vocab_free(&v);
	if (!ok && !x->error) {
		char msg[sizeof e.msg + 16];
		snprintf(msg, sizeof msg, "tokenizer: %s", e.msg);
		x->error = xstrdup(msg);
	}
}

static void set_file(struct entry *x, const char *path)
{
	struct stat st;
	char *real = realpath(path, NULL);
	if (!real || stat(real, &st) != 0) {
		free(real);
		return;
	}
	x->file = real;
	x->file_size = (long long)st.st_size;
	x->file_mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000ll + st.st_mtim.tv_nsec;
}

static void describe(struct registry *r, struct entry *x)
{
	struct lmu_err e = {{0}};
	struct gguf *g;

	if (!x->weights) {
		/* read before, and the file has not changed: as read then */
		struct db_model key = {.path = x->path, .scanner = r->scanner}, old;
		set_file(x, x->path);
		key.file = x->file;
		key.file_size = x->file_size;
		key.file_mtime_ns = x->file_mtime_ns;
		if (db_model_cached(r->db, &key, &old)) {
			x->arch = (char *)old.architecture;
			x->params = old.parameters;
			x->quant = (char *)old.quantization;
			x->types = (char *)old.types;
			x->size = old.size;
			x->ctx = old.context_length;
			x->error = (char *)old.error;
			return;
		}
		free(x->file);
		x->file = NULL;
	}
	if (x->weights) {
		g = hf_open(x->path, x->weights, &e);
		/* the size: every .safetensors file of the directory */
		struct dirent **names;
		int n = scandir(x->path, &names, visible, alphasort);
		x->size = 0;
		for (int i = 0; i < n; i++) {
			struct stat st;
			char *p = join(x->path, names[i]->d_name);
			if (ends_with(p, ".safetensors") && stat(p, &st) == 0)
				x->size += (long long)st.st_size;
			free(p);
			free(names[i]);
		}
		if (n >= 0)
			free(names);
		if (ends_with(x->weights, "model.safetensors"))
			set_file(x, x->weights);
	} else {
		g = gguf_open(x->path, &e);
		set_file(x, x->path);
		x->size = x->file ? x->file_size : -1;
	}
	if (!g) {
		x->error = xstrdup(e.msg);
		return;
	}
	describe_gguf(x, g);
	if (!x->error)
		check_vocab(x, x->weights ? NULL : g);
	gguf_close(g);
}

/* ---- finding models ---- */

static void add(struct list *l, const char *id, const char *path, const char *weights, const char *source)
{
	struct entry *x = list_add(l);
	x->id = xstrdup(id);
	x->path = xstrdup(path);
	x->weights = weights ? xstrdup(weights) : NULL;
	x->source = (char *)source;
	x->format = weights ? "safetensors" : "gguf";
}

/* The id of a file or directory rel under a root: rel without .gguf. */
static char *rel_id(const char *prefix, const char *rel)
{
	size_t n = strlen(rel);
	if (ends_with(rel, ".gguf"))
		n -= 5;
	size_t k = strlen(prefix) + n + 1;
	char *id = xmalloc(k);
	snprintf(id, k, "%s%.*s", prefix, (int)n, rel);
	return id;
}

/* Walk dir (rel its path under the root) for models. */
static void walk(struct list *l, const char *root, const char *rel, int depth, const char *source)
{
	char *dir = *rel ? join(root, rel) : xstrdup(root);
	struct dirent **names;
	int n = scandir(dir, &names, visible, alphasort);

	for (int i = 0; i < n; i++) {
		char *path = join(dir, names[i]->d_name);
		char *r = *rel ? join(rel, names[i]->d_name) : xstrdup(names[i]->d_name);
		struct stat st;
		if (stat(path, &st) == 0) {
			if (S_ISREG(st.st_mode) && ends_with(path, ".gguf")) {
				char *id = rel_id("", r);
				add(l, id, path, NULL, source);
				free(id);
			} else if (S_ISDIR(st.st_mode)) {
				char *w = model_dir_weights(path);
				if (w)
					add(l, r, path, w, source);
				else if (depth + 1 < MAX_DEPTH)
					walk(l, root, r, depth + 1, source);
				free(w);
			}
		}
		free(path);
		free(r);
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	free(dir);
}

static void scan_dir(struct list *l, const char *dir, struct jw *log)
{
	size_t before = l->n;
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		jw_printf(log, "%s: --models %s: %s\n", progname, dir, stat(dir, &st) != 0 ? strerror(errno) : "not a directory");
		return;
	}
	char *abs = realpath(dir, NULL);
	walk(l, abs ? abs : dir, "", 0, "models-dir");
	free(abs);
	jw_printf(log, "%s: --models %s: %zu model%s\n", progname, dir, l->n - before, l->n - before == 1 ? "" : "s");
}

/* The models of one repo of the cache (repo: CACHE/models--ORG--NAME). */
static void scan_repo(struct list *l, const char *repo, const char *org_name)
{
	char commit[41];
	struct lmu_err e = {{0}};
	if (!hf_cached_commit(repo, "main", commit, &e))
		return;  /* nothing of main fetched */
	char *snaps = join(repo, "snapshots"), *snap = join(snaps, commit);
	free(snaps);
	char *w = model_dir_weights(snap);
	if (w) {
		add(l, org_name, snap, w, "hf-cache");
	} else {
		struct list found = {0};
		walk(&found, snap, "", 0, "hf-cache");
		for (size_t i = 0; i < found.n; i++) {
			struct entry *f = &found.e[i];
			size_t k = strlen(org_name) + strlen(f->path) + 2;
			char *id = xmalloc(k);
			if (found.n == 1)
				snprintf(id, k, "%s", org_name);
			else  /* the path in the repo, as -m ORG/NAME:FILE takes it */
				snprintf(id, k, "%s:%s", org_name, f->path + strlen(snap) + 1);
			add(l, id, f->path, f->weights, "hf-cache");
			free(id);
		}
		list_free(&found);
	}
	free(w);
	free(snap);
}

static void scan_hf(struct list *l, struct jw *log)
{
	char *cache = hf_hub_cache();
	struct dirent **names;
	size_t before = l->n;
	int n = scandir(cache, &names, visible, alphasort);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		const char *sep = strncmp(name, "models--", 8) == 0 ? strstr(name + 8, "--") : NULL;
		if (sep) {
			size_t k = strlen(name);
			char *id = xmalloc(k);
			snprintf(id, k, "%.*s/%s", (int)(sep - name - 8), name + 8, sep + 2);
			char *repo = join(cache, name);
			if (hf_repo_id_valid(id))
				scan_repo(l, repo, id);
			free(repo);
			free(id);
		}
		free(names[i]);
	}
	if (n >= 0) {
		free(names);
		jw_printf(log, "%s: Hugging Face cache %s: %zu models\n", progname, cache, l->n - before);
	}
	free(cache);
}

/* ---- hashing ---- */

/* sha256 of file, unless stop is asked meanwhile (then -1). */
static int hash_file(struct registry *r, const char *file, char out[65])
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	enum { CHUNK = 1 << 20 };
	unsigned char *buf = xmalloc(CHUNK);
	struct sha256 c;
	sha256_init(&c);
	int rc = 0;
	for (;;) {
		ssize_t k = read(fd, buf, CHUNK);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rc = k < 0 ? -1 : 0;
			break;
		}
		sha256_update(&c, buf, (size_t)k);
		pthread_mutex_lock(&r->mu);
		bool stop = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (stop) {
			rc = -1;
			break;
		}
	}
	close(fd);
	free(buf);
	if (rc == 0)
		sha256_hex(&c, out);
	return rc;
}

static void *hasher(void *arg)
{
	struct registry *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->stop && r->n_todo == 0)
			pthread_cond_wait(&r->cv, &r->mu);
		if (r->stop)
			break;
		struct hjob j = r->todo[0];
		uint64_t gen = r->generation;
		pthread_mutex_unlock(&r->mu);

		char sha[65];
		double t0 = mono_now();
		struct stat st;
		/* the file may have changed since the scan: hash it as it is */
		int rc = stat(j.file, &st) == 0 && (long long)st.st_size == j.size ? hash_file(r, j.file, sha) : -1;
		double dt = mono_now() - t0;
		struct lmu_err e = {{0}};
		if (rc == 0 && db_hash_put(r->db, j.file, j.size, j.mtime_ns, sha, dt, &e) == 0)
			fprintf(stderr, "%s: sha256 of %s: %.1f MB in %.1f s (%.0f MB/s), kept for later starts\n",
				progname, j.file, (double)j.size / 1e6, dt, dt > 0 ? (double)j.size / 1e6 / dt : 0);
		else if (e.msg[0])
			warnx_("%s", e.msg);

		pthread_mutex_lock(&r->mu);
		if (gen == r->generation && r->n_todo && strcmp(r->todo[0].file, j.file) == 0) {
			r->todo_bytes -= r->todo[0].size;
			free(r->todo[0].file);
			memmove(r->todo, r->todo + 1, (r->n_todo - 1) * sizeof *r->todo);
			r->n_todo--;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Queue the files of l the database has no hash for. */
static void queue_hashes(struct registry *r, const struct list *l, struct jw *log)
{
	struct hjob *todo = NULL;
	size_t n = 0;
	long long bytes = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct entry *x = &l->e[i];
		char sha[65];
		if (!x->file || db_hash_get(r->db, x->file, x->file_size, x->file_mtime_ns, sha))
			continue;
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(todo[k].file, x->file) == 0;
		if (dup)
			continue;
		todo = xreallocarray(todo, n + 1, sizeof *todo);
		todo[n++] = (struct hjob){xstrdup(x->file), x->file_size, x->file_mtime_ns};
		bytes += x->file_size;
	}
	if (n)
		jw_printf(log, "%s: %zu model files (%.1f MB) have no sha256 yet: hashing them in the background, once\n",
			  progname, n, (double)bytes / 1e6);
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_todo; i++)
		free(r->todo[i].file);
	free(r->todo);
	r->todo = todo;
	r->n_todo = n;
	r->todo_bytes = bytes;
	r->generation++;
	if (n && !r->started) {
		int rc = pthread_create(&r->hasher, NULL, hasher, r);
		if (rc != 0)
			die("cannot start a thread: %s", strerror(rc));
		r->started = true;
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* ---- the registry ---- */

struct registry *registry_new(struct db *db, struct models *ms, const struct registry_params *p)
{
	struct registry *r = xcalloc(1, sizeof *r);
	r->db = db;
	r->ms = ms;
	r->p = *p;
	/* the program itself (a new build may read more), and what it reads */
	char archs[200];
	struct stat st = {0};
	stat("/proc/self/exe", &st);
	arch_names(archs, sizeof archs);
	snprintf(r->scanner, sizeof r->scanner, "lmutils %s %lld.%09ld; %s; %s", LMU_VERSION,
		 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, archs, hf_supported());
	pthread_mutex_init(&r->scan_mu, NULL);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	return r;
}

int registry_scan(struct registry *r, struct jw *report, struct lmu_err *e)
{
	struct list l = {0};
	struct jw own = {0}, *log = report ? report : &own;
	int rc = 0;

	pthread_mutex_lock(&r->scan_mu);
	double t0 = mono_now();
	for (size_t i = 0; i < r->p.n_dirs; i++)
		scan_dir(&l, r->p.dirs[i], log);
	if (r->p.hf_cache)
		scan_hf(&l, log);
	/* the models given with -m are in the registry too */
	struct srv_model **ms;
	size_t n_ms = models_list(r->ms, &ms);
	for (size_t i = 0; i < n_ms; i++) {
		if (!ms[i]->cli)
			continue;
		struct stat st;
		bool dir = stat(ms[i]->path, &st) == 0 && S_ISDIR(st.st_mode);
		char *w = dir ? model_dir_weights(ms[i]->path) : NULL;
		add(&l, ms[i]->id, ms[i]->path, w, "arg");
		free(w);
	}
	free(ms);

	/* a file found twice (a link, a directory given twice, -m naming one
	 * of the directory's) is one model: the first one found */
	for (size_t i = 0; i < l.n; i++) {
		char *ri = realpath(l.e[i].path, NULL);
		for (size_t k = i + 1; ri && k < l.n;) {
			char *rk = realpath(l.e[k].path, NULL);
			bool same = rk && strcmp(ri, rk) == 0;
			free(rk);
			if (same) {
				entry_free(&l.e[k]);
				memmove(&l.e[k], &l.e[k + 1], (l.n - k - 1) * sizeof *l.e);
				l.n--;
			} else {
				k++;
			}
		}
		free(ri);
	}
	/* read each one; hand the ones that run to the holder, under the id it
	 * gives them (a model known already keeps its id) */
	const char **paths = xcalloc(l.n ? l.n : 1, sizeof *paths);
	size_t n_paths = 0, n_ok = 0;
	for (size_t i = 0; i < l.n; i++) {
		struct entry *x = &l.e[i];
		describe(r, x);
		if (x->error)
			continue;
		struct srv_model *m = models_register(r->ms, x->path, x->id);
		if (strcmp(m->id, x->id) != 0) {
			free(x->id);
			x->id = xstrdup(m->id);
		}
		paths[n_paths++] = m->path;
		n_ok++;
	}
	/* an id two models of the list share (one could not run) gets a number */
	for (size_t i = 0; i < l.n; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(l.e[i].id, l.e[k].id) == 0) {
				struct entry *x = l.e[i].error ? &l.e[i] : &l.e[k];
				size_t n = strlen(x->id) + 24;
				char *id = xmalloc(n);
				snprintf(id, n, "%s-%zu", x->id, i + 1);
				free(x->id);
				x->id = id;
			}
	models_retain(r->ms, paths, n_paths);
	free(paths);

	struct db_model *dm = xcalloc(l.n ? l.n : 1, sizeof *dm);
	for (size_t i = 0; i < l.n; i++) {
		struct entry *x = &l.e[i];
		dm[i] = (struct db_model){
			.id = x->id, .path = x->path, .source = x->source, .format = x->format,
			.architecture = x->arch, .quantization = x->quant, .error = x->error,
			.parameters = x->params, .size = x->size, .context_length = x->ctx, .types = x->types,
			.file = x->file, .file_size = x->file_size, .file_mtime_ns = x->file_mtime_ns,
			.scanner = r->scanner,
		};
	}
	if (db_models_replace(r->db, dm, l.n, e) < 0)
		rc = -1;
	free(dm);
	jw_printf(log, "%s: registry: %zu models, %zu of them can run (%.2f s)\n", progname, l.n, n_ok,
		  mono_now() - t0);
	if (rc == 0)
		queue_hashes(r, &l, log);
	list_free(&l);
	if (!report) {
		fwrite(own.b, 1, own.n, stderr);
		jw_free(&own);
	}
	pthread_mutex_unlock(&r->scan_mu);
	return rc;
}

static const char *state_name(enum model_state s)
{
	switch (s) {
	case MODEL_LOADING: return "loading";
	case MODEL_READY: return "loaded";
	case MODEL_UNLOADING: return "unloading";
	default: return "unloaded";
	}
}

int registry_json(struct registry *r, char **out, struct lmu_err *e)
{
	char *reg;
	int rc = db_models_json(r->db, &reg, e);
	if (rc)
		return rc;
	jv list = jv_parse(reg);
	free(reg);
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		err_set(e, "the registry's JSON does not parse");
		return -1;
	}
	struct srv_model **ms;
	size_t n_ms = models_list(r->ms, &ms);
	int n = jv_array_length(jv_copy(list));
	for (int i = 0; i < n; i++) {
		jv x = jv_array_get(jv_copy(list), i);
		jv id = jv_object_get(jv_copy(x), jv_string("id"));
		const char *s = jv_get_kind(id) == JV_KIND_STRING ? jv_string_value(id) : "";
		struct srv_model *m = NULL;
		for (size_t k = 0; k < n_ms && !m; k++)
			if (strcmp(ms[k]->id, s) == 0)
				m = ms[k];
		jv_free(id);
		if (m) {
			struct model_info o;
			models_info(r->ms, m, &o);
			x = jv_object_set(x, jv_string("state"), jv_string(state_name(o.state)));
			x = jv_object_set(x, jv_string("loaded"), jv_bool(o.state == MODEL_READY));
			x = jv_object_set(x, jv_string("in_use"), jv_number(o.refs));
			x = jv_object_set(x, jv_string("idle_seconds"),
					  o.state == MODEL_READY && !o.refs ? jv_number((double)(long long)(o.idle * 10) / 10)
									    : jv_null());
			x = jv_object_set(x, jv_string("loads"), jv_number((double)o.n_loads));
			x = jv_object_set(x, jv_string("unloads"), jv_number((double)o.n_unloads));
			x = jv_object_set(x, jv_string("load_seconds"),
					  o.n_loads ? jv_number((double)(long long)(o.load_seconds * 1000) / 1000) : jv_null());
			x = jv_object_set(x, jv_string("unload_seconds"),
					  o.n_unloads ? jv_number((double)(long long)(o.unload_seconds * 1000) / 1000)
						      : jv_null());
			if (o.state == MODEL_READY) {
				x = jv_object_set(x, jv_string("n_ctx"), jv_number(o.n_ctx_seq));
				x = jv_object_set(x, jv_string("parallel"), jv_number(o.n_seq));
			}
		} else {
			x = jv_object_set(x, jv_string("state"), jv_string("unavailable"));
			x = jv_object_set(x, jv_string("loaded"), jv_false());
		}
		list = jv_array_set(list, i, x);
	}
	free(ms);
	jv s = jv_dump_string(list, 0);
	*out = xstrdup(jv_string_value(s));
	jv_free(s);
	return 0;
}

void registry_hashing(struct registry *r, size_t *files, long long *bytes)
{
	pthread_mutex_lock(&r->mu);
	*files = r->n_todo;
	*bytes = r->todo_bytes;
	pthread_mutex_unlock(&r->mu);
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->started)
		pthread_join(r->hasher, NULL);
	for (size_t i = 0; i < r->n_todo; i++)
		free(r->todo[i].file);
	free(r->todo);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->scan_mu);
	free(r);
}
