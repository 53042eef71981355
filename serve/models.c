/* models.c - see models.h. */
#include "models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "err.h"
#include "gguf.h"
#include "hfmodel.h"
#include "model.h"
#include "modelpath.h"

struct models {
	struct model_params p;
	pthread_mutex_t mu;
	pthread_cond_t cv;              /* a model's state changed, or a model was given back */
	struct srv_model *head, *tail;
	struct srv_model *dflt;         /* the first added with -m */
	uint32_t max_loaded;            /* 0: no limit */
	double keep_alive;              /* < 0: forever */
	int preloading;                 /* models_load() loads going on */
	pthread_t *preloaders;
	size_t n_preloaders;
	pthread_t reaper;
	bool reaper_started, stopping;
};

static void *reap(void *arg);

struct models *models_new(const struct model_params *p)
{
	struct models *ms = xcalloc(1, sizeof *ms);
	ms->p = *p;
	ms->keep_alive = -1;
	pthread_mutex_init(&ms->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ms->cv, &ca);
	pthread_condattr_destroy(&ca);
	return ms;
}

void models_policy(struct models *ms, uint32_t max_loaded, double keep_alive)
{
	ms->max_loaded = max_loaded;
	ms->keep_alive = keep_alive;
	if (!ms->reaper_started && keep_alive >= 0) {
		int rc = pthread_create(&ms->reaper, NULL, reap, ms);
		if (rc != 0)
			die("cannot start a thread: %s", strerror(rc));
		ms->reaper_started = true;
	}
}

/* The name of a model: the base name of its file or directory, without
 * ".gguf". */
static char *default_id(const char *path)
{
	char *p = xstrdup(path);
	size_t n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = 0;
	const char *b = strrchr(p, '/');
	b = b ? b + 1 : p;
	char *id = xstrdup(b);
	free(p);
	n = strlen(id);
	if (n > 5 && strcmp(id + n - 5, ".gguf") == 0)
		id[n - 5] = 0;
	return id;
}

/* The training context of the model (0: unknown). */
static uint32_t train_ctx(const char *path)
{
	struct gguf *g = model_open(path);
	struct hparams hp;
	struct lmu_err e = {{0}};
	if (!hparams_load(g, &hp, &e))
		die("%s", e.msg);  /* it names the file */
	gguf_close(g);
	return hp.n_ctx_train;
}

/* Load m (its state is MODEL_LOADING; nobody else touches it): the engine
 * and the tokenizer die with a message on a file that is no model they can
 * read, which ends the server. */
static void load(struct srv_model *m)
{
	struct engine_params ep = {0};
	uint32_t train = train_ctx(m->arg), n_ctx = m->p.n_ctx_seq;

	m->tok = tokenizer_open(m->arg);
	m->v = tokenizer_vocab(m->tok);
	chat_template_of(m->v, m->id);  /* says so when the built-in one is used */
	if (!n_ctx)
		n_ctx = train && train < MODEL_DEFAULT_CTX ? train : MODEL_DEFAULT_CTX;
	if (train && n_ctx > train)
		warnx_("%s: -c %u is above the %u positions the model was trained on: expect worse text past %u",
		       m->id, n_ctx, train, train);
	/* a pool where every sequence can have its whole context at once */
	ep.n_seq = m->p.n_seq ? m->p.n_seq : 1;
	ep.n_ctx = n_ctx * ep.n_seq;
	ep.n_ctx_seq = n_ctx;
	ep.n_threads = m->p.n_threads;
	m->eng = engine_open(m->arg, &ep);
	m->n_ctx_seq = engine_n_ctx_seq(m->eng);
	m->n_vocab = engine_model(m->eng)->hp.n_vocab;
	if (m->n_vocab != m->v->n)
		die("%s: the model has %u logits but its vocabulary %u tokens", m->path, m->n_vocab, m->v->n);
	m->sched = sched_new(m->eng, m->v, &(struct sched_params){.queue = m->p.queue, .step_delay = m->p.step_delay});
}

/* Close m (its state is MODEL_UNLOADING, nobody holds it). */
static void unload(struct srv_model *m)
{
	sched_free(m->sched);
	engine_close(m->eng);
	tokenizer_free(m->tok);
	m->sched = NULL;
	m->eng = NULL;
	m->tok = NULL;
	m->v = NULL;
}

static struct srv_model *model_new(struct models *ms, const char *arg, const char *path, const char *id)
{
	struct srv_model *m = xcalloc(1, sizeof *m);
	struct stat st;

	m->arg = xstrdup(arg);
	m->path = xstrdup(path);
	m->id = id ? xstrdup(id) : default_id(m->path);
	m->p = ms->p;
	if (stat(m->path, &st) == 0)
		m->created = (long long)st.st_mtime;
	atomic_init(&m->state, MODEL_UNLOADED);
	pthread_mutex_init(&m->tok_mu, NULL);
	return m;
}

static void append(struct models *ms, struct srv_model *m)
{
	if (ms->tail)
		ms->tail->next = m;
	else
		ms->head = m;
	ms->tail = m;
}

static struct srv_model *find_id(struct models *ms, const char *id)
{
	for (struct srv_model *o = ms->head; o; o = o->next)
		if (strcmp(o->id, id) == 0)
			return o;
	return NULL;
}

struct srv_model *models_add(struct models *ms, const char *model, const char *id)
{
	struct model_loc loc = {0};

	model_locate(model, &loc);  /* dies with a message when there is nothing */
	struct srv_model *m = model_new(ms, model, loc.gguf ? loc.gguf : loc.dir, id);
	model_loc_free(&loc);
	pthread_mutex_lock(&ms->mu);
	if (find_id(ms, m->id))
		die("two models named '%s': give one another name", m->id);
	m->cli = true;
	append(ms, m);
	if (!ms->dflt)
		ms->dflt = m;
	pthread_mutex_unlock(&ms->mu);
	return m;
}

struct srv_model *models_register(struct models *ms, const char *path, const char *id)
{
	char *real = realpath(path, NULL);
	struct srv_model *m;

	pthread_mutex_lock(&ms->mu);
	for (m = ms->head; m; m = m->next) {
		char *r = realpath(m->path, NULL);
		bool same = strcmp(m->path, path) == 0 || (r && real && strcmp(r, real) == 0);
		free(r);
		if (same)
			break;
	}
	if (m) {
		m->gone = false;
	} else {
		/* an id that is taken by another file gets a number */
		char *try = xstrdup(id);
		for (int k = 2; find_id(ms, try); k++) {
			size_t n = strlen(id) + 16;
			free(try);
			try = xmalloc(n);
			snprintf(try, n, "%s-%d", id, k);
		}
		m = model_new(ms, path, path, try);
		free(try);
		append(ms, m);
	}
	pthread_mutex_unlock(&ms->mu);
	free(real);
	return m;
}

void models_retain(struct models *ms, const char *const *paths, size_t n)
{
	pthread_mutex_lock(&ms->mu);
	for (struct srv_model *m = ms->head; m; m = m->next) {
		if (m->cli)
			continue;
		bool found = false;
		for (size_t i = 0; i < n && !found; i++)
			found = strcmp(paths[i], m->path) == 0;
		m->gone = !found;
	}
	pthread_cond_broadcast(&ms->cv);  /* the reaper closes idle gone ones */
	pthread_mutex_unlock(&ms->mu);
}

/* Does name name m: its id, what -m said, or the file? */
static bool names(const struct srv_model *m, const char *name)
{
	return strcmp(name, m->id) == 0 || strcmp(name, m->arg) == 0 || strcmp(name, m->path) == 0;
}

static uint32_t n_loaded(const struct models *ms)
{
	uint32_t n = 0;
	for (const struct srv_model *m = ms->head; m; m = m->next)
		n += atomic_load(&m->state) != MODEL_UNLOADED;
	return n;
}

/* Load m (UNLOADED), or close v (READY, not held), with the lock given up
 * meanwhile; the state tells the others. */
static void do_load(struct models *ms, struct srv_model *m)
{
	atomic_store(&m->state, MODEL_LOADING);
	pthread_mutex_unlock(&ms->mu);
	double t0 = mono_now();
	load(m);
	double dt = mono_now() - t0;
	fprintf(stderr, "%s: %s: loaded in %.2f s\n", progname, m->id, dt);
	pthread_mutex_lock(&ms->mu);
	m->load_seconds = dt;
	m->n_loads++;
	m->last_used = mono_now();
	atomic_store(&m->state, MODEL_READY);
	pthread_cond_broadcast(&ms->cv);
}

static void do_unload(struct models *ms, struct srv_model *v, const char *why)
{
	atomic_store(&v->state, MODEL_UNLOADING);
	pthread_mutex_unlock(&ms->mu);
	double t0 = mono_now();
	unload(v);
	double dt = mono_now() - t0;
	fprintf(stderr, "%s: %s: unloaded (%s) in %.2f s\n", progname, v->id, why, dt);
	pthread_mutex_lock(&ms->mu);
	v->unload_seconds = dt;
	v->n_unloads++;
	atomic_store(&v->state, MODEL_UNLOADED);
	pthread_cond_broadcast(&ms->cv);
}

/* The loaded model nobody holds that was used longest ago, but for m. */
static struct srv_model *lru_idle(struct models *ms, const struct srv_model *m)
{
	struct srv_model *best = NULL;
	for (struct srv_model *o = ms->head; o; o = o->next)
		if (o != m && atomic_load(&o->state) == MODEL_READY && o->refs == 0 &&
		    (!best || o->last_used < best->last_used))
			best = o;
	return best;
}

/* Make m ready, under the lock; it may be given up and taken again. */
static void make_ready(struct models *ms, struct srv_model *m)
{
	for (;;) {
		enum model_state st = atomic_load(&m->state);
		if (st == MODEL_READY)
			return;
		if (st == MODEL_UNLOADED) {
			if (!ms->max_loaded || n_loaded(ms) < ms->max_loaded) {
				do_load(ms, m);
				continue;
			}
			struct srv_model *v = lru_idle(ms, m);
			if (v) {
				do_unload(ms, v, "room for another model");
				continue;
			}
		}
		/* loading, closing, or no room until a model is given back */
		pthread_cond_wait(&ms->cv, &ms->mu);
	}
}

/* The model name names, under the lock. */
static struct srv_model *find(struct models *ms, const char *name)
{
	struct srv_model *m = NULL;
	if (!name || !*name) {
		m = ms->dflt;
		for (struct srv_model *o = ms->head; !m && o; o = o->next)
			if (!o->gone && atomic_load(&o->state) != MODEL_UNLOADED && (!m || o->last_used > m->last_used))
				m = o;
		for (struct srv_model *o = ms->head; !m && o; o = o->next)
			if (!o->gone)
				m = o;
		return m;
	}
	for (m = ms->head; m; m = m->next)
		if (!m->gone && names(m, name))
			return m;
	return NULL;
}

struct srv_model *models_find(struct models *ms, const char *name)
{
	pthread_mutex_lock(&ms->mu);
	struct srv_model *m = find(ms, name);
	pthread_mutex_unlock(&ms->mu);
	return m;
}

int models_acquire(struct models *ms, const char *name, struct srv_model **out)
{
	*out = NULL;
	pthread_mutex_lock(&ms->mu);
	struct srv_model *m = find(ms, name);
	if (!m) {
		pthread_mutex_unlock(&ms->mu);
		return 404;
	}
	/* held from here on: nobody closes it once it is ready */
	m->refs++;
	make_ready(ms, m);
	m->last_used = mono_now();
	pthread_mutex_unlock(&ms->mu);
	*out = m;
	return 0;
}

void models_release(struct models *ms, struct srv_model *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&ms->mu);
	m->refs--;
	m->last_used = mono_now();
	pthread_cond_broadcast(&ms->cv);
	pthread_mutex_unlock(&ms->mu);
}

enum model_state models_state(struct models *ms, const struct srv_model *m)
{
	(void)ms;
	return atomic_load(&m->state);
}

/* The thread that closes models nobody used for keep_alive seconds (and
 * gone ones as soon as nobody holds them). */
static void *reap(void *arg)
{
	struct models *ms = arg;
	pthread_mutex_lock(&ms->mu);
	while (!ms->stopping) {
		double t = mono_now(), next = -1;
		struct srv_model *due = NULL;
		for (struct srv_model *m = ms->head; m; m = m->next) {
			if (atomic_load(&m->state) != MODEL_READY || m->refs)
				continue;
			double at = m->gone ? t : m->last_used + ms->keep_alive;
			if (at <= t) {
				due = m;
				break;
			}
			if (next < 0 || at < next)
				next = at;
		}
		if (due) {
			do_unload(ms, due, due->gone ? "no longer found" : "idle");
			continue;
		}
		if (next < 0) {
			pthread_cond_wait(&ms->cv, &ms->mu);
		} else {
			struct timespec ts;
			double w = next + 0.001;
			ts.tv_sec = (time_t)w;
			ts.tv_nsec = (long)((w - (double)ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&ms->cv, &ms->mu, &ts);
		}
	}
	pthread_mutex_unlock(&ms->mu);
	return NULL;
}

/* A load at start, in the background (models_load). */
struct preload {
	struct models *ms;
	struct srv_model *m;
};

static void *preload(void *arg)
{
	struct preload *p = arg;
	struct models *ms = p->ms;
	pthread_mutex_lock(&ms->mu);
	p->m->refs++;
	make_ready(ms, p->m);
	p->m->refs--;
	p->m->last_used = mono_now();
	ms->preloading--;
	pthread_cond_broadcast(&ms->cv);
	pthread_mutex_unlock(&ms->mu);
	free(p);
	return NULL;
}

void models_load(struct models *ms, struct srv_model *m)
{
	struct preload *p = xmalloc(sizeof *p);
	p->ms = ms;
	p->m = m;
	pthread_mutex_lock(&ms->mu);
	ms->preloading++;
	ms->preloaders = xreallocarray(ms->preloaders, ms->n_preloaders + 1, sizeof *ms->preloaders);
	int rc = pthread_create(&ms->preloaders[ms->n_preloaders], NULL, preload, p);
	if (rc != 0)
		die("cannot start a thread to load %s: %s", m->path, strerror(rc));
	ms->n_preloaders++;
	pthread_mutex_unlock(&ms->mu);
}

bool model_encode_chat(struct srv_model *m, const struct chat_msg *msgs, size_t n, struct ids *out,
		       struct lmu_err *e)
{
	pthread_mutex_lock(&m->tok_mu);
	bool ok = chat_encode(m->tok, NULL, msgs, n, 0, true, out, e);
	pthread_mutex_unlock(&m->tok_mu);
	return ok;
}

void model_encode_text(struct srv_model *m, const char *text, size_t len, bool special, bool bos, struct ids *out)
{
	if (bos && m->v->add_bos && m->v->bos >= 0)
		ids_push(out, m->v->bos);
	pthread_mutex_lock(&m->tok_mu);
	tokenizer_encode(m->tok, text, len, special, out);
	pthread_mutex_unlock(&m->tok_mu);
}

size_t models_list(struct models *ms, struct srv_model ***out)
{
	size_t n = 0, i = 0;
	pthread_mutex_lock(&ms->mu);
	for (struct srv_model *m = ms->head; m; m = m->next)
		n += !m->gone;
	*out = xcalloc(n ? n : 1, sizeof **out);
	for (struct srv_model *m = ms->head; m; m = m->next)
		if (!m->gone)
			(*out)[i++] = m;
	pthread_mutex_unlock(&ms->mu);
	return n;
}

void models_info(struct models *ms, const struct srv_model *m, struct model_info *o)
{
	memset(o, 0, sizeof *o);
	pthread_mutex_lock(&ms->mu);
	o->state = atomic_load(&m->state);
	o->refs = m->refs;
	o->n_seq = m->p.n_seq;
	if (o->state == MODEL_READY) {
		/* a ready model is closed only under this lock */
		o->n_ctx_seq = m->n_ctx_seq;
		o->n_vocab = m->n_vocab;
		o->idle = m->refs ? 0 : mono_now() - m->last_used;
		sched_stats(m->sched, &o->st);
	}
	o->n_loads = m->n_loads;
	o->n_unloads = m->n_unloads;
	o->load_seconds = m->load_seconds;
	o->unload_seconds = m->unload_seconds;
	pthread_mutex_unlock(&ms->mu);
}

uint32_t models_loaded(struct models *ms, uint32_t *max_loaded)
{
	pthread_mutex_lock(&ms->mu);
	uint32_t n = n_loaded(ms);
	if (max_loaded)
		*max_loaded = ms->max_loaded;
	pthread_mutex_unlock(&ms->mu);
	return n;
}

bool models_all_ready(struct models *ms)
{
	pthread_mutex_lock(&ms->mu);
	bool ready = ms->preloading == 0;
	pthread_mutex_unlock(&ms->mu);
	return ready;
}

uint32_t models_busy(struct models *ms)
{
	uint32_t n = 0;
	pthread_mutex_lock(&ms->mu);
	for (struct srv_model *m = ms->head; m; m = m->next) {
		if (atomic_load(&m->state) != MODEL_READY)
			continue;
		struct sched_stats st;
		sched_stats(m->sched, &st);
		n += st.busy + st.waiting;
	}
	pthread_mutex_unlock(&ms->mu);
	return n;
}

void models_cancel_all(struct models *ms)
{
	pthread_mutex_lock(&ms->mu);
	for (struct srv_model *m = ms->head; m; m = m->next)
		if (atomic_load(&m->state) == MODEL_READY)
			sched_cancel_all(m->sched);
	pthread_mutex_unlock(&ms->mu);
}

void models_free(struct models *ms)
{
	if (!ms)
		return;
	for (size_t i = 0; i < ms->n_preloaders; i++)
		pthread_join(ms->preloaders[i], NULL);
	free(ms->preloaders);
	pthread_mutex_lock(&ms->mu);
	ms->stopping = true;
	pthread_cond_broadcast(&ms->cv);
	pthread_mutex_unlock(&ms->mu);
	if (ms->reaper_started)
		pthread_join(ms->reaper, NULL);
	while (ms->head) {
		struct srv_model *m = ms->head;
		ms->head = m->next;
		if (atomic_load(&m->state) == MODEL_READY)
			unload(m);
		pthread_mutex_destroy(&m->tok_mu);
		free(m->id);
		free(m->arg);
		free(m->path);
		free(m);
	}
	pthread_cond_destroy(&ms->cv);
	pthread_mutex_destroy(&ms->mu);
	free(ms);
}
