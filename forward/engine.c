/* engine.c - the engine of engine.h.
 *
 * This first implementation gives every sequence a context of its own
 * (llama.h) and evaluates the sequences of a step one after another: the
 * API, the accounting of the KV pool and the exactness promise hold, the
 * speed of batching does not yet.  The batched steps replace the inside of
 * engine_step() without changing the API. */
#include "engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "pool.h"
#include "state.h"

/* A batch waiting in its sequence's queue. */
struct queued {
	int32_t *ids;            /* (n) */
	uint32_t n;
	unsigned flags;
	uint64_t user;
	struct queued *next;
};

/* A reset or close asked for by a callback while its sequence is being
 * evaluated waits until the evaluation returns. */
enum pending { NONE, RESET, CLOSE };

struct seq {
	bool open;
	enum pending pending;
	struct context *c;       /* made at the slot's first use, kept while the engine lives */
	struct queued *head, *tail;
	uint32_t n_queued;       /* ids in the queue */
};

struct posted {
	engine_call_fn fn;
	void *arg;
	struct posted *next;
};

struct engine {
	struct transformer *t;
	struct engine_params p;  /* with the defaults resolved */
	struct seq *seqs;        /* (n_seq) */
	int evaluating;          /* the sequence being evaluated now, or -1 */
	uint64_t n_steps;

	/* the hand-off from other threads (under mu) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct posted *post_head, *post_tail;
	bool woken;
};

struct engine *engine_open(const char *path, const struct engine_params *p)
{
	struct engine *e = xcalloc(1, sizeof *e);

	e->p = *p;
	if (e->p.n_threads <= 0)
		e->p.n_threads = cpu_count();
	e->t = transformer_open(path, p->quant, e->p.n_threads);
	if (e->p.n_seq == 0)
		e->p.n_seq = 1;
	if (e->p.n_ctx == 0) {
		e->p.n_ctx = e->t->hp.n_ctx_train;
		if (e->p.n_ctx > MAX_CTX)
			die("%s: the model's context of %u positions is above the limit of %u: use -c N", path,
			    e->p.n_ctx, MAX_CTX);
	}
	if (e->p.n_ctx == 0)
		die("%s: the model gives no context length: use -c N", path);
	/* one sequence may use the whole context it is given; several share a
	 * pool, each up to what the model was trained on */
	if (e->p.n_ctx_seq == 0)
		e->p.n_ctx_seq = e->p.n_seq > 1 && e->t->hp.n_ctx_train ? e->t->hp.n_ctx_train : e->p.n_ctx;
	if (e->p.n_ctx_seq > e->p.n_ctx)
		e->p.n_ctx_seq = e->p.n_ctx;
	e->seqs = xcalloc(e->p.n_seq, sizeof *e->seqs);
	e->evaluating = -1;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	return e;
}

static void drop_queue(struct seq *s)
{
	while (s->head) {
		struct queued *q = s->head;
		s->head = q->next;
		free(q->ids);
		free(q);
	}
	s->tail = NULL;
	s->n_queued = 0;
}

void engine_close(struct engine *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; i < e->p.n_seq; i++) {
		drop_queue(&e->seqs[i]);
		context_free(e->seqs[i].c);
	}
	while (e->post_head) {
		struct posted *q = e->post_head;
		e->post_head = q->next;
		free(q);
	}
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
	free(e->seqs);
	transformer_close(e->t);
	free(e);
}

const struct transformer *engine_model(const struct engine *e) { return e->t; }
uint32_t engine_n_ctx(const struct engine *e) { return e->p.n_ctx; }
uint32_t engine_n_seq(const struct engine *e) { return e->p.n_seq; }
uint32_t engine_n_ctx_seq(const struct engine *e) { return e->p.n_ctx_seq; }
int engine_n_threads(const struct engine *e) { return e->p.n_threads; }

static struct seq *get_seq(const struct engine *e, int seq)
{
	if (seq < 0 || (uint32_t)seq >= e->p.n_seq || !e->seqs[seq].open)
		die("engine: sequence %d is not open", seq);
	return &e->seqs[seq];
}

/* ---- sequences ---- */

int engine_seq_open(struct engine *e)
{
	for (uint32_t i = 0; i < e->p.n_seq; i++) {
		struct seq *s = &e->seqs[i];
		if (s->open || s->pending)
			continue;
		if (!s->c) {
			s->c = context_new(e->t, e->p.n_ctx_seq, e->p.n_threads, e->p.all_logits);
			s->c->quant_act = e->p.quant_act;
		}
		context_reset(s->c);
		s->c->n_cached = 0;  /* a new sequence reuses nothing of the slot's last one */
		s->open = true;
		return (int)i;
	}
	return -1;
}

void engine_seq_close(struct engine *e, int seq)
{
	struct seq *s = get_seq(e, seq);
	drop_queue(s);
	s->open = false;
	if (e->evaluating == seq)
		s->pending = CLOSE;
	else
		context_reset(s->c);
}

void engine_seq_reset(struct engine *e, int seq)
{
	struct seq *s = get_seq(e, seq);
	drop_queue(s);
	if (e->evaluating == seq)
		s->pending = RESET;
	else
		context_reset(s->c);
}

/* Positions of the context, as they will be once a pending reset is done. */
static uint32_t context_pos(const struct seq *s)
{
	return s->pending ? 0 : s->c->n_pos;
}

uint32_t engine_seq_n_pos(const struct engine *e, int seq)
{
	const struct seq *s = get_seq(e, seq);
	return context_pos(s) + s->n_queued;
}

uint32_t engine_seq_queued(const struct engine *e, int seq)
{
	return get_seq(e, seq)->n_queued;
}

bool engine_seq_is_open(const struct engine *e, int seq)
{
	return seq >= 0 && (uint32_t)seq < e->p.n_seq && e->seqs[seq].open;
}

bool engine_seq_load(struct engine *e, int seq, const char *path)
{
	struct seq *s = get_seq(e, seq);
	if (context_pos(s) || s->n_queued || s->pending)
		die("engine: sequence %d is not empty: a state loads into an empty one", seq);
	return state_load(s->c, path);
}

void engine_seq_save(const struct engine *e, int seq, const char *path)
{
	state_save(get_seq(e, seq)->c, path);
}

/* ---- input and steps ---- */

/* Positions held by all sequences, queued input included. */
static uint32_t pool_used(const struct engine *e)
{
	uint64_t used = 0;
	for (uint32_t i = 0; i < e->p.n_seq; i++)
		if (e->seqs[i].open)
			used += context_pos(&e->seqs[i]) + e->seqs[i].n_queued;
	return (uint32_t)used;
}

int engine_submit(struct engine *e, int seq, const int32_t *ids, uint32_t n, unsigned flags, uint64_t user,
		  struct lmu_err *err)
{
	struct seq *s = get_seq(e, seq);
	uint32_t have = context_pos(s) + s->n_queued, used = pool_used(e);

	if ((flags & ENGINE_ALL_LOGITS) && !e->p.all_logits)
		die("engine: ENGINE_ALL_LOGITS needs an engine opened with all_logits");
	if (n > e->p.n_ctx_seq - have) {
		err_set(err, "a batch of %u ids does not fit in the context (%u of %u positions used)", n, have,
			e->p.n_ctx_seq);
		return -1;
	}
	if (n > e->p.n_ctx - used) {
		err_set(err, "a batch of %u ids does not fit in the KV pool (%u of %u positions used by %u sequences)",
			n, used, e->p.n_ctx, e->p.n_seq);
		return -1;
	}
	if (n == 0)
		return 0;
	struct queued *q = xcalloc(1, sizeof *q);
	q->ids = xmalloc((size_t)n * sizeof *ids);
	memcpy(q->ids, ids, (size_t)n * sizeof *ids);
	q->n = n;
	q->flags = flags;
	q->user = user;
	if (s->tail)
		s->tail->next = q;
	else
		s->head = q;
	s->tail = q;
	s->n_queued += n;
	return 0;
}

bool engine_has_input(const struct engine *e)
{
	for (uint32_t i = 0; i < e->p.n_seq; i++)
		if (e->seqs[i].open && e->seqs[i].head)
			return true;
	return false;
}

struct emit_ctx {
	engine_emit_fn emit;
	void *arg;
	const struct seq *s;
	int seq;
	const struct queued *q;
	uint64_t last_pos;
	uint32_t n_vocab;
};

static int emit_one(void *argp, int32_t token, uint64_t pos, const float *logits)
{
	struct emit_ctx *x = argp;
	if (x->s->pending)
		return 1;  /* reset or closed by an earlier call: nothing more about it */
	struct engine_logits out = {
		.seq = x->seq, .user = x->q->user, .token = token, .pos = pos, .last = pos == x->last_pos,
		.n_vocab = x->n_vocab, .logits = logits,
	};
	return x->emit(x->arg, &out);
}

static void run_posted(struct engine *e)
{
	for (;;) {
		pthread_mutex_lock(&e->mu);
		struct posted *p = e->post_head;
		if (p) {
			e->post_head = p->next;
			if (!e->post_head)
				e->post_tail = NULL;
		}
		e->woken = false;
		pthread_mutex_unlock(&e->mu);
		if (!p)
			return;
		p->fn(e, p->arg);
		free(p);
	}
}

int engine_step(struct engine *e, engine_emit_fn emit, void *arg)
{
	int evaluated = 0;

	run_posted(e);
	for (int i = 0; i < (int)e->p.n_seq; i++) {
		struct seq *s = &e->seqs[i];
		if (!s->open || !s->head)
			continue;
		/* the batch leaves the queue first: the callback may queue the next
		 * one, reset or close the sequence */
		struct queued *q = s->head;
		s->head = q->next;
		if (!s->head)
			s->tail = NULL;
		s->n_queued -= q->n;
		struct context *c = s->c;
		struct emit_ctx x = {emit, arg, s, i, q, c->n_pos + q->n - 1, e->t->hp.n_vocab};
		uint64_t before = c->n_evaluated;
		c->all_logits = (q->flags & ENGINE_ALL_LOGITS) != 0;
		e->evaluating = i;
		int go_on = context_eval(c, q->ids, q->n, emit_one, &x);
		e->evaluating = -1;
		if (s->pending) {
			context_reset(c);
			s->pending = NONE;
		}
		evaluated += (int)(c->n_evaluated - before);
		free(q->ids);
		free(q);
		if (!go_on)
			return -1;
	}
	if (evaluated)
		e->n_steps++;
	return evaluated;
}

/* ---- hand-off ---- */

void engine_post(struct engine *e, engine_call_fn fn, void *arg)
{
	struct posted *p = xcalloc(1, sizeof *p);
	p->fn = fn;
	p->arg = arg;
	pthread_mutex_lock(&e->mu);
	if (e->post_tail)
		e->post_tail->next = p;
	else
		e->post_head = p;
	e->post_tail = p;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

void engine_wake(struct engine *e)
{
	pthread_mutex_lock(&e->mu);
	e->woken = true;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&e->mu);
}

bool engine_wait(struct engine *e, int timeout_ms)
{
	struct timespec until;
	bool timed_out = false;

	if (engine_has_input(e))
		return true;
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&e->mu);
	while (!e->post_head && !e->woken && !timed_out) {
		if (timeout_ms < 0)
			pthread_cond_wait(&e->cv, &e->mu);
		else
			timed_out = pthread_cond_timedwait(&e->cv, &e->mu, &until) != 0 && !e->post_head && !e->woken;
	}
	e->woken = false;
	pthread_mutex_unlock(&e->mu);
	return !timed_out;
}

void engine_stats(const struct engine *e, struct engine_stats *st)
{
	memset(st, 0, sizeof *st);
	st->n_steps = e->n_steps;
	for (uint32_t i = 0; i < e->p.n_seq; i++) {
		const struct seq *s = &e->seqs[i];
		if (s->c)
			st->n_evaluated += s->c->n_evaluated;
		if (s->open)
			st->n_open++;
	}
	st->n_used = pool_used(e);
}
