/* engine.c - the engine of engine.h.
 *
 * One workspace (activations, thread pool: context_new_ws) evaluates the
 * sequences, each a context of its own that holds only its ids and KV
 * cache (context_new_seq), made when its slot is opened and freed when it
 * is closed.  A step gathers the next piece of every sequence's queued
 * input as the segments of one slice (context_eval_segments): the weights
 * are read once for all of them. */
#include "engine.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "pool.h"
#include "state.h"

/* A batch waiting in its sequence's queue; done of its ids are in the
 * context (evaluated, or reused from the cache). */
struct queued {
	int32_t *ids;            /* (n) */
	uint32_t n, done;
	unsigned flags;
	uint64_t user;
	bool started;            /* its first piece was taken: the cache was looked at */
	struct queued *next;
};

/* A reset or close asked for during a step (by a callback) is done when
 * the step is over, since the step may still read the sequence. */
enum pending { NONE, RESET, CLOSE };

struct seq {
	bool open;
	enum pending pending;
	struct context *c;       /* (open or pending) the sequence: ids, KV cache, positions */
	struct queued *head, *tail;
	struct queued *drop;     /* pending: the queue up to this batch goes with the reset */
	uint32_t n_queued;       /* ids queued and not yet in the context */
};

struct posted {
	engine_call_fn fn;
	void *arg;
	struct posted *next;
};

struct engine {
	struct transformer *t;
	struct engine_params p;  /* with the defaults resolved */
	struct context *ws;      /* the workspace every step runs on */
	struct seq *seqs;        /* (n_seq) */
	bool stepping;           /* a step is under way: resets and closes wait for its end */
	uint32_t rr;             /* where the next step starts among equals, for fairness */
	uint64_t n_steps;
	struct segment *seg;     /* (n_seq) the segments of a step */
	int *seg_seq;            /* (n_seq) and their sequences */

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
	/* one sequence may use the whole pool it is given; of several, each
	 * may grow to what the model was trained on (or the pool, if less);
	 * the pool by default holds the training context for every sequence */
	uint32_t train = e->t->hp.n_ctx_train;
	if (e->p.n_ctx_seq == 0)
		e->p.n_ctx_seq = e->p.n_ctx && (e->p.n_seq == 1 || !train || e->p.n_ctx < train) ? e->p.n_ctx : train;
	if (e->p.n_ctx_seq > MAX_CTX)
		die("%s: %s context of %u positions is above the limit of %u: use -c N", path,
		    p->n_ctx_seq || p->n_ctx ? "a" : "the model's", e->p.n_ctx_seq, MAX_CTX);
	if (e->p.n_ctx == 0) {
		uint64_t pool = (uint64_t)e->p.n_ctx_seq * e->p.n_seq;
		if (pool > UINT32_MAX)
			die("%s: %u sequences of %u positions each make a KV pool too large to count: use -c N", path,
			    e->p.n_seq, e->p.n_ctx_seq);
		e->p.n_ctx = (uint32_t)pool;
	}
	if (e->p.n_ctx == 0)
		die("%s: the model gives no context length: use -c N", path);
	if (e->p.n_ctx_seq == 0 || e->p.n_ctx_seq > e->p.n_ctx)
		e->p.n_ctx_seq = e->p.n_ctx;
	/* a step holds a piece of every sequence: room for one whole chunk
	 * beside a position of each of the others */
	e->ws = context_new_ws(e->t, e->p.n_ctx_seq, ENGINE_CHUNK + e->p.n_seq, e->p.n_seq, e->p.all_logits,
			       e->p.n_threads);
	e->ws->quant_act = e->p.quant_act;
	e->seqs = xcalloc(e->p.n_seq, sizeof *e->seqs);
	e->seg = xcalloc(e->p.n_seq, sizeof *e->seg);
	e->seg_seq = xcalloc(e->p.n_seq, sizeof *e->seg_seq);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
	return e;
}

/* Drop the queued batches up to and including `upto` (NULL: all). */
static void drop_queue(struct seq *s, struct queued *upto)
{
	while (s->head) {
		struct queued *q = s->head;
		s->head = q->next;
		s->n_queued -= q->n - q->done;
		free(q->ids);
		free(q);
		if (q == upto)
			break;
	}
	if (!s->head)
		s->tail = NULL;
}

void engine_close(struct engine *e)
{
	if (!e)
		return;
	for (uint32_t i = 0; i < e->p.n_seq; i++) {
		drop_queue(&e->seqs[i], NULL);
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
	free(e->seg);
	free(e->seg_seq);
	context_free(e->ws);
	transformer_close(e->t);
	free(e);
}

const struct transformer *engine_model(const struct engine *e) { return e->t; }
uint32_t engine_n_ctx(const struct engine *e) { return e->p.n_ctx; }
uint32_t engine_n_seq(const struct engine *e) { return e->p.n_seq; }
uint32_t engine_n_ctx_seq(const struct engine *e) { return e->p.n_ctx_seq; }
int engine_n_threads(const struct engine *e) { return e->p.n_threads; }

void engine_run(struct engine *e, pool_fn fn, void *arg)
{
	pool_run(e->ws->pool, fn, arg);
}

void engine_rest(struct engine *e)
{
	pool_rest(e->ws->pool);
}

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
		s->c = context_new_seq(e->t, e->p.n_ctx_seq);
		s->open = true;
		return (int)i;
	}
	return -1;
}

/* The ids the queue holds beyond what a pending reset drops. */
static uint32_t queued_after(const struct seq *s, const struct queued *upto)
{
	uint32_t n = s->n_queued;
	for (const struct queued *q = s->head; q; q = q->next) {
		n -= q->n - q->done;
		if (q == upto)
			break;
	}
	return n;
}

void engine_seq_close(struct engine *e, int seq)
{
	struct seq *s = get_seq(e, seq);
	s->open = false;
	if (e->stepping) {
		s->pending = CLOSE;
		return;
	}
	drop_queue(s, NULL);
	context_free(s->c);
	s->c = NULL;
}

void engine_seq_reset(struct engine *e, int seq)
{
	struct seq *s = get_seq(e, seq);
	if (e->stepping) {
		s->pending = RESET;
		s->drop = s->tail;
		return;
	}
	drop_queue(s, NULL);
	context_reset(s->c);
}

/* After a step: the resets and closes asked for during it. */
static void apply_pending(struct engine *e)
{
	for (uint32_t i = 0; i < e->p.n_seq; i++) {
		struct seq *s = &e->seqs[i];
		if (s->pending == RESET) {
			if (s->drop)
				drop_queue(s, s->drop);
			context_reset(s->c);
		} else if (s->pending == CLOSE) {
			drop_queue(s, NULL);
			context_free(s->c);
			s->c = NULL;
		}
		s->pending = NONE;
		s->drop = NULL;
	}
}

/* Positions of the sequence, queued ones included, as they will be once a
 * pending reset is done. */
static uint32_t seq_pos(const struct seq *s)
{
	if (s->pending == RESET)
		return queued_after(s, s->drop);
	return s->c->n_pos + s->n_queued;
}

uint32_t engine_seq_n_pos(const struct engine *e, int seq)
{
	return seq_pos(get_seq(e, seq));
}

uint32_t engine_seq_queued(const struct engine *e, int seq)
{
	const struct seq *s = get_seq(e, seq);
	return s->pending == RESET ? queued_after(s, s->drop) : s->n_queued;
}

bool engine_seq_is_open(const struct engine *e, int seq)
{
	return seq >= 0 && (uint32_t)seq < e->p.n_seq && e->seqs[seq].open;
}

bool engine_seq_load(struct engine *e, int seq, const char *path)
{
	struct seq *s = get_seq(e, seq);
	if (seq_pos(s) || s->pending)
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
			used += seq_pos(&e->seqs[i]);
	return (uint32_t)used;
}

int engine_submit(struct engine *e, int seq, const int32_t *ids, uint32_t n, unsigned flags, uint64_t user,
		  struct lmu_err *err)
{
	struct seq *s = get_seq(e, seq);
	uint32_t have = seq_pos(s), used = pool_used(e);

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

struct step_emit {
	struct engine *e;
	engine_emit_fn emit;
	void *arg;
};

static int emit_seg(void *argp, const struct segment *g, int32_t token, uint64_t pos, const float *logits)
{
	struct step_emit *x = argp;
	int i = x->e->seg_seq[g - x->e->seg];
	const struct seq *s = &x->e->seqs[i];
	if (s->pending)
		return 1;  /* reset or closed by an earlier call: nothing more about it */
	struct engine_logits out = {
		.seq = i, .user = s->head->user, .token = token, .pos = pos,
		.last = g->last && pos == g->pos0 + g->n - 1, .n_vocab = x->e->t->hp.n_vocab, .logits = logits,
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

/* The next piece of sequence i's queued input as a segment (its first
 * piece takes what the cache already holds); false if it has none. */
static bool next_piece(struct seq *s, struct segment *g)
{
	struct queued *q = s->head;
	if (!q)
		return false;
	bool all = q->flags & ENGINE_ALL_LOGITS;
	if (!q->started) {
		uint32_t reused = context_reuse(s->c, q->ids, q->n, all);
		q->done += reused;
		s->n_queued -= reused;
		q->started = true;
	}
	uint32_t left = q->n - q->done, n = left < ENGINE_CHUNK ? left : ENGINE_CHUNK;
	*g = (struct segment){.s = s->c, .ids = q->ids + q->done, .n = n, .last = n == left, .all_logits = all};
	return true;
}

int engine_step(struct engine *e, engine_emit_fn emit, void *arg)
{
	uint32_t n_seq = e->p.n_seq, n_seg = 0, rows = 0;
	struct step_emit x = {e, emit, arg};

	run_posted(e);
	/* every sequence's next piece, shortest first (single tokens before
	 * prompts), as many as the workspace holds: all the single tokens and
	 * at least one whole chunk; among equals, the first after the one that
	 * went first last time */
	for (uint32_t k = 0; k < n_seq; k++) {
		uint32_t i = (e->rr + k) % n_seq, j = n_seg;
		struct segment g;
		if (!e->seqs[i].open || !next_piece(&e->seqs[i], &g))
			continue;
		for (; j > 0 && e->seg[j - 1].n > g.n; j--) {
			e->seg[j] = e->seg[j - 1];
			e->seg_seq[j] = e->seg_seq[j - 1];
		}
		e->seg[j] = g;
		e->seg_seq[j] = (int)i;
		n_seg++;
	}
	e->rr = (e->rr + 1) % n_seq;
	for (uint32_t j = 0; j < n_seg; j++) {
		if (rows + e->seg[j].n > e->ws->max_batch) {
			n_seg = j;
			break;
		}
		rows += e->seg[j].n;
	}
	/* their logits in the order of the slots */
	for (uint32_t j = 1; j < n_seg; j++) {
		struct segment g = e->seg[j];
		int i = e->seg_seq[j];
		uint32_t k = j;
		for (; k > 0 && e->seg_seq[k - 1] > i; k--) {
			e->seg[k] = e->seg[k - 1];
			e->seg_seq[k] = e->seg_seq[k - 1];
		}
		e->seg[k] = g;
		e->seg_seq[k] = i;
	}
	if (n_seg == 0)
		return 0;

	e->stepping = true;
	int go_on = context_eval_segments(e->ws, e->seg, n_seg, emit_seg, &x);
	e->stepping = false;
	for (uint32_t j = 0; j < n_seg; j++) {
		struct seq *s = &e->seqs[e->seg_seq[j]];
		if (s->pending == CLOSE)
			continue;
		struct queued *q = s->head;
		q->done += e->seg[j].n;
		s->n_queued -= e->seg[j].n;
		if (q->done == q->n) {
			if (s->drop == q)
				s->drop = NULL;  /* a pending reset drops what follows it, not this */
			s->head = q->next;
			if (!s->head)
				s->tail = NULL;
			free(q->ids);
			free(q);
		}
	}
	apply_pending(e);
	e->n_steps++;
	return go_on ? (int)rows : -1;
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
	st->n_evaluated = e->ws->n_evaluated;
	for (uint32_t i = 0; i < e->p.n_seq; i++)
		if (e->seqs[i].open)
			st->n_open++;
	st->n_used = pool_used(e);
}
