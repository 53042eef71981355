/* models.c - see models.h. */
#include "models.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "gguf.h"
#include "hfmodel.h"
#include "model.h"
#include "modelpath.h"

struct models {
	struct model_params p;
	pthread_mutex_t mu;
	struct srv_model *head, *tail;  /* head: the default model */
};

struct models *models_new(const struct model_params *p)
{
	struct models *ms = xcalloc(1, sizeof *ms);
	ms->p = *p;
	pthread_mutex_init(&ms->mu, NULL);
	return ms;
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

/* The loading thread: the engine and the tokenizer die with a message on
 * a file that is no model they can read, which ends the server. */
static void *load(void *arg)
{
	struct srv_model *m = arg;
	struct engine_params ep = {0};
	uint32_t train = train_ctx(m->arg), n_ctx = m->p.n_ctx_seq;

	m->tok = tokenizer_open(m->arg);
	m->v = tokenizer_vocab(m->tok);
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
	m->sched = sched_new(m->eng, m->v, &(struct sched_params){.queue = m->p.queue});
	atomic_store(&m->state, MODEL_READY);
	return NULL;
}

struct srv_model *models_add(struct models *ms, const char *model, const char *id)
{
	struct srv_model *m = xcalloc(1, sizeof *m);
	struct model_loc loc = {0};
	struct stat st;

	m->arg = xstrdup(model);
	model_locate(model, &loc);  /* dies with a message when there is nothing */
	m->path = xstrdup(loc.gguf ? loc.gguf : loc.dir);
	model_loc_free(&loc);
	m->id = id ? xstrdup(id) : default_id(m->path);
	m->p = ms->p;
	if (stat(m->path, &st) == 0)
		m->created = (long long)st.st_mtime;
	atomic_init(&m->state, MODEL_LOADING);
	pthread_mutex_init(&m->tok_mu, NULL);
	pthread_mutex_lock(&ms->mu);
	for (struct srv_model *o = ms->head; o; o = o->next)
		if (strcmp(o->id, m->id) == 0)
			die("two models named '%s': give one another name", m->id);
	if (ms->tail)
		ms->tail->next = m;
	else
		ms->head = m;
	ms->tail = m;
	pthread_mutex_unlock(&ms->mu);
	return m;
}

void models_load(struct models *ms, struct srv_model *m)
{
	(void)ms;
	int rc = pthread_create(&m->loader, NULL, load, m);
	if (rc != 0)
		die("cannot start a thread to load %s: %s", m->path, strerror(rc));
	m->loading = true;
}

/* Does name name m: its id, what -m said, or the file? */
static bool names(const struct srv_model *m, const char *name)
{
	return strcmp(name, m->id) == 0 || strcmp(name, m->arg) == 0 || strcmp(name, m->path) == 0;
}

int models_acquire(struct models *ms, const char *name, struct srv_model **out)
{
	struct srv_model *m;
	int rc = 404;

	*out = NULL;
	pthread_mutex_lock(&ms->mu);
	for (m = ms->head; m; m = m->next)
		if (!name || !*name || names(m, name))
			break;
	if (m) {
		rc = atomic_load(&m->state) == MODEL_READY ? 0 : 503;
		if (rc == 0) {
			m->refs++;
			m->last_used = mono_now();
			*out = m;
		}
	}
	pthread_mutex_unlock(&ms->mu);
	return rc;
}

void models_release(struct models *ms, struct srv_model *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&ms->mu);
	m->refs--;
	m->last_used = mono_now();
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
		n++;
	*out = xcalloc(n, sizeof **out);
	for (struct srv_model *m = ms->head; m; m = m->next)
		(*out)[i++] = m;
	pthread_mutex_unlock(&ms->mu);
	return n;
}

bool models_all_ready(struct models *ms)
{
	bool ready = true;
	pthread_mutex_lock(&ms->mu);
	for (struct srv_model *m = ms->head; m; m = m->next)
		if (atomic_load(&m->state) != MODEL_READY)
			ready = false;
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
	while (ms->head) {
		struct srv_model *m = ms->head;
		ms->head = m->next;
		if (m->loading)
			pthread_join(m->loader, NULL);
		sched_free(m->sched);
		engine_close(m->eng);
		tokenizer_free(m->tok);
		pthread_mutex_destroy(&m->tok_mu);
		free(m->id);
		free(m->arg);
		free(m->path);
		free(m);
	}
	pthread_mutex_destroy(&ms->mu);
	free(ms);
}
