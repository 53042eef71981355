/* sched.h - the scheduler of one loaded model: the only thread that
 * touches its engine (forward/engine.h).
 *
 * HTTP threads make a job (a prompt as token ids and the parameters of
 * its generation), hand it to sched_submit() and read its tokens as they
 * come (job_wait).  The scheduler thread gives each job a sequence slot of
 * the engine when one is free -- jobs beyond the free slots wait in a
 * bounded queue, beyond it sched_submit() refuses -- queues its prompt,
 * and runs the engine's steps: every busy slot advances together, one
 * token per step (continuous batching; prompts are evaluated in the same
 * steps as the tokens of others).  For each token it samples (gen.h), and
 * appends the id (and its log-probabilities when asked) to the job.
 *
 * Prefix reuse: a slot keeps the KV rows of its last job when that job
 * ends.  A new job goes to the free slot whose last job shares the
 * longest prefix with its prompt, and that prefix is not evaluated again
 * (engine_seq_reset).  Reused rows can differ from fresh ones in the last
 * bits (they were computed in other batches), except in one case kept
 * exact: a prompt identical to the slot's last one starts from the
 * logits that prompt gave then, so the same request with the same seed
 * gives the same tokens.  A job with cache_prompt false is evaluated
 * from scratch.
 *
 * A job with a schema samples under it (schema.h, constrain.h): its
 * output is one JSON value that validates, and it ends (JOB_EOG) as soon
 * as the value is complete.  The token budget (max_tokens, the room left
 * in the context) is kept: when the value would not fit, it is closed
 * early, still valid, and the job ends JOB_LENGTH.
 *
 * Cancelling (the client went away, the server stops) ends a job at the
 * scheduler's next turn: before the next step, so at most one token
 * later, and its slot is free again. */
#ifndef LMU_SERVE_SCHED_H
#define LMU_SERVE_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "gen.h"
#include "vocab.h"

#define JOB_MAX_TOP 20   /* alternatives per token (OpenAI's top_logprobs limit) */

struct job_params {
	struct gen_params gen;  /* sampler, stop strings (the job's own copies), max_tokens
				   (0: until the sequence's context is full) */
	int top_logprobs;       /* -1: no log-probabilities; else the chosen id's and this many best */
	const struct schema *schema;  /* keep the output to it (response_format); NULL: none.
				   The caller's: it must outlive the job */
	bool cache_prompt;      /* may reuse a slot's KV rows (the default) */
};

struct job_token {
	int32_t id;
	float logprob;          /* log-probability under the model's distribution (top_logprobs >= 0) */
	uint8_t n_top;
	int32_t top_id[JOB_MAX_TOP];
	float top_lp[JOB_MAX_TOP];
};

enum job_finish {
	JOB_RUNNING = 0,
	JOB_EOG,         /* an end-of-generation id */
	JOB_STOP,        /* a stop string (stop_id completed it; not among the tokens) */
	JOB_LENGTH,      /* max_tokens, or the context is full */
	JOB_CANCELLED,   /* job_cancel, or the server stops */
	JOB_FAILED,      /* error says why */
};

struct job {
	/* set before sched_submit, read-only after */
	int32_t *prompt;        /* (n_prompt) */
	size_t n_prompt;
	struct job_params p;
	char *stop_buf[GEN_MAX_STOPS];  /* owned copies behind p.gen.stop */

	/* results, under mu; cv is signalled on each token and at the end */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job_token *tok;  /* (n_tok) every token emitted so far */
	size_t n_tok, cap_tok;
	enum job_finish finish; /* JOB_RUNNING until done */
	bool done;
	int32_t stop_id;        /* JOB_EOG, JOB_STOP: the id that ended it */
	char error[256];
	uint32_t n_cached;      /* prompt positions taken from the slot's cache */
	int slot;               /* -1 while waiting */
	double t_submit, t_start, t_first, t_end;  /* monotonic seconds (0: not yet) */

	atomic_bool cancel;

	/* the scheduler's own */
	struct job *next;
	struct gen *g;
	struct constraint *cons;  /* p.schema's machine over the vocabulary */
	bool closed;            /* the constraint had to close the value early */
};

/* A job for prompt[0..n) (copied), parameters p (the stop strings are
 * copied).  top_logprobs is capped at JOB_MAX_TOP. */
struct job *job_new(const int32_t *prompt, size_t n, const struct job_params *p);
/* Only once the job is done (or was never submitted). */
void job_free(struct job *j);

/* Wait until the job has more than seen tokens or is done, at most
 * timeout_ms (-1: no limit).  Returns false on a timeout. */
bool job_wait(struct job *j, size_t seen, int timeout_ms);

struct sched_params {
	uint32_t queue;         /* jobs that may wait for a slot */
	double step_delay;      /* tests only: seconds slept before each step, as if it
				   took that much longer (0: none) */
};

struct sched;

/* Start the scheduler thread of an opened engine; v is the model's
 * vocabulary (end-of-generation ids, stop strings, schemas). */
struct sched *sched_new(struct engine *e, const struct vocab *v, const struct sched_params *p);
/* Cancel every job, stop the thread, free (not the engine). */
void sched_free(struct sched *s);

/* Queue a job: 0, or -1 when the queue is full or the scheduler stops
 * (the job is then not taken: free it). */
int sched_submit(struct sched *s, struct job *j);
/* End a submitted job that is not done yet and wait until it is done. */
void sched_cancel(struct sched *s, struct job *j);
/* Cancel every job (the server stops). */
void sched_cancel_all(struct sched *s);

struct sched_stats {
	uint32_t waiting;       /* jobs in the queue */
	uint32_t busy;          /* slots with a job */
	uint32_t slots;
	uint64_t prompt_reused; /* prompt positions taken from caches, in total */
};
void sched_stats(struct sched *s, struct sched_stats *st);

double mono_now(void);

#endif
