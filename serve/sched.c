/* sched.c - see sched.h. */
#include "sched.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "constrain.h"
#include "sampler.h"
#include "schema.h"

double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- jobs ---- */

struct job *job_new(const int32_t *prompt, size_t n, const struct job_params *p)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->prompt = xmalloc((n ? n : 1) * sizeof *prompt);
	memcpy(j->prompt, prompt, n * sizeof *prompt);
	j->n_prompt = n;
	j->p = *p;
	if (j->p.top_logprobs > JOB_MAX_TOP)
		j->p.top_logprobs = JOB_MAX_TOP;
	for (int i = 0; i < p->gen.n_stop; i++)
		j->p.gen.stop[i] = j->stop_buf[i] = xstrdup(p->gen.stop[i]);
	j->slot = -1;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	atomic_init(&j->cancel, false);
	return j;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	for (int i = 0; i < GEN_MAX_STOPS; i++)
		free(j->stop_buf[i]);
	free(j->prompt);
	free(j->tok);
	gen_free(j->g);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

bool job_wait(struct job *j, size_t seen, int timeout_ms)
{
	struct timespec until;
	bool got = true;

	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
	}
	pthread_mutex_lock(&j->mu);
	while (j->n_tok <= seen && !j->done) {
		if (timeout_ms < 0) {
			pthread_cond_wait(&j->cv, &j->mu);
		} else if (pthread_cond_timedwait(&j->cv, &j->mu, &until) != 0) {
			got = j->n_tok > seen || j->done;
			break;
		}
	}
	pthread_mutex_unlock(&j->mu);
	return got;
}

/* ---- the scheduler ---- */

struct slot {
	struct job *job;        /* NULL: free */
	int32_t *hist;          /* (n_hist) the ids whose KV rows the slot holds */
	size_t n_hist, cap_hist;
	float *first;           /* logits of the last prompt position of the last job, */
	size_t n_first;         /* that prompt's length (0: none kept) */
	double last_used;
};

struct sched {
	struct engine *e;
	const struct vocab *v;
	struct sched_params p;
	uint32_t n_slots, n_vocab;
	struct slot *slots;
	pthread_t thread;
	struct constraint_vocab *cv;  /* the vocabulary indexed for schemas (made at the first) */
	float *masked;          /* (n_vocab) logits under a job's schema */

	/* shared with the HTTP threads, under mu */
	pthread_mutex_t mu;
	struct job *wait_head, *wait_tail;
	uint32_t n_waiting, n_busy;
	bool stopping;          /* the thread is to end */
	bool cancel_all;        /* every job is to end, and no new one comes in */
	uint64_t prompt_reused;
};

static void hist_push(struct slot *sl, int32_t id)
{
	if (sl->n_hist == sl->cap_hist) {
		sl->cap_hist = sl->cap_hist ? 2 * sl->cap_hist : 256;
		sl->hist = xreallocarray(sl->hist, sl->cap_hist, sizeof *sl->hist);
	}
	sl->hist[sl->n_hist++] = id;
}

/* End a job (the scheduler's thread): record why, wake its reader, free
 * its slot.  The slot keeps its KV rows as a cache for the next job. */
static void finish(struct sched *s, struct job *j, enum job_finish why, const char *error)
{
	if (j->slot >= 0) {
		struct slot *sl = &s->slots[j->slot];
		/* what is queued and not evaluated is not in the cache (a job
		 * ended between steps; one ended by its logits has nothing queued) */
		if (engine_seq_queued(s->e, j->slot)) {
			uint32_t have = engine_seq_n_pos(s->e, j->slot) - engine_seq_queued(s->e, j->slot);
			if (sl->n_hist > have)
				sl->n_hist = have;
		}
		engine_seq_reset(s->e, j->slot);
		sl->job = NULL;
		sl->last_used = mono_now();
	}
	gen_free(j->g);
	j->g = NULL;
	constraint_free(j->cons);
	j->cons = NULL;
	pthread_mutex_lock(&s->mu);
	if (j->slot >= 0)
		s->n_busy--;
	pthread_mutex_unlock(&s->mu);
	pthread_mutex_lock(&j->mu);
	j->finish = why;
	if (error)
		snprintf(j->error, sizeof j->error, "%s", error);
	j->t_end = mono_now();
	j->done = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	size_t n = na < nb ? na : nb, i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* The free slot for j: the longest shared prefix, else the one idle the
 * longest. */
static int choose_slot(const struct sched *s, const struct job *j, size_t *shared)
{
	int best = -1;
	size_t best_n = 0;
	for (uint32_t i = 0; i < s->n_slots; i++) {
		const struct slot *sl = &s->slots[i];
		if (sl->job)
			continue;
		size_t n = j->p.cache_prompt ? common_prefix(sl->hist, sl->n_hist, j->prompt, j->n_prompt) : 0;
		if (best < 0 || n > best_n || (n == best_n && sl->last_used < s->slots[best].last_used)) {
			best = (int)i;
			best_n = n;
		}
	}
	*shared = best_n;
	return best;
}

static int take_token(struct sched *s, struct job *j, const float *logits);

/* Give a waiting job its slot and queue its prompt. */
static void start(struct sched *s, struct job *j, int slot, size_t shared)
{
	struct slot *sl = &s->slots[slot];
	struct lmu_err err = {{0}};

	j->slot = slot;
	sl->job = j;
	j->t_start = mono_now();
	j->g = gen_new(&j->p.gen, s->v);
	if (j->p.schema) {
		if (!s->cv && !(s->cv = constraint_vocab_of(s->v, &err))) {
			finish(s, j, JOB_FAILED, err.msg);
			return;
		}
		j->cons = constraint_new(s->cv, schema_machine(j->p.schema));
	}
	if (!j->p.cache_prompt && sl->n_hist) {
		/* nothing of the slot's rows may be reused: a fresh sequence */
		engine_seq_close(s->e, slot);
		if (engine_seq_open(s->e) != slot)
			die("scheduler: slot %d did not reopen", slot);
		sl->n_hist = 0;
		sl->n_first = 0;
		shared = 0;
	}
	engine_seq_reset(s->e, slot);
	bool repeat = shared == j->n_prompt && sl->n_first == j->n_prompt && j->n_prompt > 0;
	j->n_cached = (uint32_t)(shared < j->n_prompt ? shared : j->n_prompt - 1);
	if (repeat)
		j->n_cached = (uint32_t)j->n_prompt;
	pthread_mutex_lock(&s->mu);
	s->prompt_reused += j->n_cached;
	pthread_mutex_unlock(&s->mu);
	sl->n_hist = shared;  /* the rest is replaced by this job's ids */
	if (repeat) {
		/* the same prompt as the slot's last job: its logits are kept, and
		 * the first token goes in with the prompt, whose rows are all
		 * cached, so nothing differs from the first time */
		take_token(s, j, sl->first);
		return;
	}
	sl->n_first = 0;
	for (size_t i = shared; i < j->n_prompt; i++)
		hist_push(sl, j->prompt[i]);
	if (engine_submit(s->e, slot, j->prompt, (uint32_t)j->n_prompt, 0, 0, &err) != 0)
		finish(s, j, JOB_FAILED, err.msg);
}

/* Sample the next token of j from logits, hand it over, and queue it (or
 * end the job).  Returns 1. */
static int take_token(struct sched *s, struct job *j, const float *logits)
{
	struct slot *sl = &s->slots[j->slot];
	struct job_token t = {0};
	struct lmu_err err = {{0}};
	int32_t id;

	if (j->n_tok == 0 && sl->n_first == 0 && !j->t_first) {
		/* keep the logits of the prompt's last position (see start) */
		if (!sl->first)
			sl->first = xmalloc((size_t)s->n_vocab * sizeof *sl->first);
		memcpy(sl->first, logits, (size_t)s->n_vocab * sizeof *logits);
		sl->n_first = j->n_prompt;
	}
	if (j->cons) {
		/* tokens left: the budget's, and the context's (this one, and
		 * one for each position still free) */
		long long left = gen_left(j->g);
		long long room = (long long)engine_n_ctx_seq(s->e) - engine_seq_n_pos(s->e, j->slot) + 1;
		if (left < 0 || room < left)
			left = room;
		/* the distribution sampled from, for the log-probabilities too */
		logits = constraint_mask_copy(j->cons, logits, s->n_vocab, left, s->masked);
		j->closed |= constraint_closed(j->cons);
	}
	int st = gen_next(j->g, logits, s->n_vocab, &id);
	if (st < 0) {
		finish(s, j, JOB_FAILED, "the model gave no finite score");
		return 1;
	}
	if (st == GEN_EOG) {
		j->stop_id = id;
		finish(s, j, JOB_EOG, NULL);
		return 1;
	}
	if (st == GEN_STOP) {
		j->stop_id = id;
		finish(s, j, JOB_STOP, NULL);
		return 1;
	}
	if (st == GEN_LENGTH) {
		finish(s, j, JOB_LENGTH, NULL);
		return 1;
	}
	t.id = id;
	if (j->p.top_logprobs >= 0) {
		double lse = logsumexp(logits, s->n_vocab);
		int32_t top[JOB_MAX_TOP];
		t.logprob = (float)((double)logits[id] - lse);
		t.n_top = (uint8_t)top_ids(logits, s->n_vocab, (uint32_t)j->p.top_logprobs, top);
		for (int i = 0; i < t.n_top; i++) {
			t.top_id[i] = top[i];
			t.top_lp[i] = (float)((double)logits[top[i]] - lse);
		}
	}
	pthread_mutex_lock(&j->mu);
	if (j->n_tok == j->cap_tok) {
		j->cap_tok = j->cap_tok ? 2 * j->cap_tok : 64;
		j->tok = xreallocarray(j->tok, j->cap_tok, sizeof *j->tok);
	}
	j->tok[j->n_tok++] = t;
	if (!j->t_first)
		j->t_first = mono_now();
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (j->cons && constraint_accept(j->cons, id) != 0) {
		finish(s, j, JOB_FAILED, "the sampler chose a token the schema refuses");
		return 1;
	}
	if (j->cons && constraint_complete(j->cons)) {
		/* the value is complete: only an end-of-generation id could
		 * follow (or it was closed early for the budget) */
		j->stop_id = s->v->eos;
		finish(s, j, j->closed ? JOB_LENGTH : JOB_EOG, NULL);
		return 1;
	}
	if (st == GEN_LAST) {
		finish(s, j, JOB_LENGTH, NULL);
		return 1;
	}
	/* a repeated prompt goes in with its first token (see start) */
	bool with_prompt = j->n_tok == 1 && j->n_cached == j->n_prompt;
	int rc;
	if (with_prompt) {
		int32_t *b = xmalloc((j->n_prompt + 1) * sizeof *b);
		memcpy(b, j->prompt, j->n_prompt * sizeof *b);
		b[j->n_prompt] = id;
		rc = engine_submit(s->e, j->slot, b, (uint32_t)j->n_prompt + 1, 0, 0, &err);
		free(b);
	} else {
		rc = engine_submit(s->e, j->slot, &id, 1, 0, 0, &err);
	}
	if (rc != 0) {
		finish(s, j, JOB_LENGTH, NULL);  /* the context is full */
		return 1;
	}
	hist_push(sl, id);
	return 1;
}

static int on_logits(void *arg, const struct engine_logits *o)
{
	struct sched *s = arg;
	struct job *j = s->slots[o->seq].job;
	if (!j || !o->last)
		return 1;
	if (atomic_load(&j->cancel)) {
		finish(s, j, JOB_CANCELLED, NULL);
		return 1;
	}
	return take_token(s, j, o->logits);
}

/* Take waiting jobs into free slots; end the cancelled ones. */
static void admit(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	if (s->cancel_all)
		for (struct job *j = s->wait_head; j; j = j->next)
			atomic_store(&j->cancel, true);
	bool all = s->cancel_all;
	pthread_mutex_unlock(&s->mu);
	for (uint32_t i = 0; all && i < s->n_slots; i++)
		if (s->slots[i].job)
			atomic_store(&s->slots[i].job->cancel, true);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		struct job *j = s->wait_head;
		bool free_slot = s->n_busy < s->n_slots;
		if (j && (free_slot || atomic_load(&j->cancel))) {
			s->wait_head = j->next;
			if (!s->wait_head)
				s->wait_tail = NULL;
			s->n_waiting--;
			if (!atomic_load(&j->cancel))
				s->n_busy++;
		} else {
			j = NULL;
		}
		pthread_mutex_unlock(&s->mu);
		if (!j)
			break;
		if (atomic_load(&j->cancel)) {
			finish(s, j, JOB_CANCELLED, NULL);
			continue;
		}
		size_t shared;
		int slot = choose_slot(s, j, &shared);
		start(s, j, slot, shared);
	}
	/* a cancelled job behind one that waits for a slot */
	pthread_mutex_lock(&s->mu);
	struct job **pp = &s->wait_head, *gone = NULL;
	s->wait_tail = NULL;
	while (*pp) {
		struct job *j = *pp;
		if (atomic_load(&j->cancel)) {
			*pp = j->next;
			s->n_waiting--;
			j->next = gone;
			gone = j;
		} else {
			s->wait_tail = j;
			pp = &j->next;
		}
	}
	pthread_mutex_unlock(&s->mu);
	while (gone) {
		struct job *j = gone;
		gone = j->next;
		finish(s, j, JOB_CANCELLED, NULL);
	}
	/* cancelled jobs in slots end now, not at their next token */
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (s->slots[i].job && atomic_load(&s->slots[i].job->cancel))
			finish(s, s->slots[i].job, JOB_CANCELLED, NULL);
}

static void *sched_main(void *arg)
{
	struct sched *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		bool stopping = s->stopping;
		pthread_mutex_unlock(&s->mu);
		if (stopping)
			break;
		admit(s);
		if (engine_has_input(s->e)) {
			if (s->p.step_delay > 0)
				nanosleep(&(struct timespec){(time_t)s->p.step_delay,
					  (long)((s->p.step_delay - (double)(time_t)s->p.step_delay) * 1e9)}, NULL);
			engine_step(s->e, on_logits, s);
		}
		else
			engine_wait(s->e, -1);
	}
	/* the server stops: every job still here is cancelled */
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (s->slots[i].job)
			finish(s, s->slots[i].job, JOB_CANCELLED, "the server is stopping");
	for (;;) {
		pthread_mutex_lock(&s->mu);
		struct job *j = s->wait_head;
		if (j) {
			s->wait_head = j->next;
			s->n_waiting--;
		}
		pthread_mutex_unlock(&s->mu);
		if (!j)
			break;
		finish(s, j, JOB_CANCELLED, "the server is stopping");
	}
	return NULL;
}

struct sched *sched_new(struct engine *e, const struct vocab *v, const struct sched_params *p)
{
	struct sched *s = xcalloc(1, sizeof *s);
	s->e = e;
	s->v = v;
	s->p = *p;
	s->n_slots = engine_n_seq(e);
	s->n_vocab = engine_model(e)->hp.n_vocab;
	s->slots = xcalloc(s->n_slots, sizeof *s->slots);
	s->masked = xmalloc((size_t)s->n_vocab * sizeof *s->masked);
	/* every slot stays open for the server's life, so that it keeps its
	 * rows between jobs */
	for (uint32_t i = 0; i < s->n_slots; i++)
		if (engine_seq_open(e) != (int)i)
			die("scheduler: cannot open sequence %u", i);
	pthread_mutex_init(&s->mu, NULL);
	int rc = pthread_create(&s->thread, NULL, sched_main, s);
	if (rc != 0)
		die("cannot start the scheduler thread: %s", strerror(rc));
	return s;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	engine_wake(s->e);
	pthread_join(s->thread, NULL);
	for (uint32_t i = 0; i < s->n_slots; i++) {
		free(s->slots[i].hist);
		free(s->slots[i].first);
	}
	free(s->slots);
	constraint_vocab_free(s->cv);
	free(s->masked);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

int sched_submit(struct sched *s, struct job *j)
{
	int rc = 0;
	j->t_submit = mono_now();
	pthread_mutex_lock(&s->mu);
	if (s->stopping || s->cancel_all || s->n_waiting + s->n_busy >= s->n_slots + s->p.queue) {
		rc = -1;
	} else {
		j->next = NULL;
		if (s->wait_tail)
			s->wait_tail->next = j;
		else
			s->wait_head = j;
		s->wait_tail = j;
		s->n_waiting++;
	}
	pthread_mutex_unlock(&s->mu);
	if (rc == 0)
		engine_wake(s->e);
	return rc;
}

void sched_cancel(struct sched *s, struct job *j)
{
	atomic_store(&j->cancel, true);
	engine_wake(s->e);
	pthread_mutex_lock(&j->mu);
	while (!j->done)
		pthread_cond_wait(&j->cv, &j->mu);
	pthread_mutex_unlock(&j->mu);
}

void sched_cancel_all(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	s->cancel_all = true;
	pthread_mutex_unlock(&s->mu);
	engine_wake(s->e);
}

void sched_stats(struct sched *s, struct sched_stats *st)
{
	pthread_mutex_lock(&s->mu);
	st->waiting = s->n_waiting;
	st->busy = s->n_busy;
	st->slots = s->n_slots;
	st->prompt_reused = s->prompt_reused;
	pthread_mutex_unlock(&s->mu);
}
