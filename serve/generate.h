/* generate.h - what the generation routes (OpenAI's, TGI's) share: the
 * sampling parameters read from a request, handing the job to the
 * model's scheduler, and following it to its end while turning its
 * tokens into text.
 *
 * Text: tokens are decoded as tok-decode does (detok.h: never half a
 * character, control tokens left out).  Text that could be the start of
 * a stop string is held back until it is clear that it is not one; when
 * a stop string appears, the text ends right before it (the stop string
 * itself is not returned, as in OpenAI's API). */
#ifndef LMU_SERVE_GENERATE_H
#define LMU_SERVE_GENERATE_H

#include <stdbool.h>
#include <stddef.h>

#include "detok.h"
#include "json.h"
#include "sched.h"
#include "server.h"

/* ---- parameters ---- */

/* The defaults of a request (lm-sample's sampler defaults, the penalties
 * over everything generated, a random seed, prompt caching on). */
void gen_defaults(struct job_params *p);
/* The sampling fields of obj (oai.h's oai_sampling: OpenAI's names and
 * lm-sample's, ignore_eos), and cache_prompt (llama.cpp's).  The stop
 * strings point into obj, which must outlive job_new (it copies them). */
bool gen_sampling(struct jreq *q, jv obj, struct job_params *p);

/* ---- text ---- */

struct textout {
	struct detok d;
	const struct job_params *p;
	struct jw held;         /* decoded, not given out yet */
	struct jw out;          /* what the last call gave out */
	bool stopped;           /* a stop string was found in the text */
};

void textout_init(struct textout *t, const struct vocab *v, const struct job_params *p);
void textout_free(struct textout *t);
/* The text that token id gives out now (*text valid until the next
 * call); true when a stop string has appeared (the text is cut before
 * it, and nothing more comes). */
bool textout_token(struct textout *t, int32_t id, const char **text, size_t *n);
/* The rest of the text when the job is over. */
void textout_end(struct textout *t, const struct job *j, const char **text, size_t *n);

/* ---- jobs ---- */

/* Hand a job for prompt to m's scheduler: the job, or NULL with the
 * status (503: the queue is full, or the server stops; 400: the prompt
 * does not fit in the context) and the message in e. */
struct job *gen_start(struct srv_model *m, const struct ids *prompt, const struct job_params *p, int *status,
		      struct lmu_err *e);
/* The same, answering the request when it fails. */
struct job *gen_submit(struct req *r, struct srv_model *m, const struct ids *prompt, const struct job_params *p);

struct gen_sink {
	void *arg;
	/* A token t (its index among the job's tokens) and the text it gives
	 * out; at the end t is NULL and text the rest.  Return 0 to go on,
	 * -1 when the client is gone. */
	int (*out)(void *arg, const struct job_token *t, size_t index, const char *text, size_t n);
	bool stream;            /* the answer is an event stream: keep-alive comments while waiting */
};

/* Follow j to its end, through the sink; r gets the counts for the log
 * and the metrics.  The job's finish (JOB_STOP also when the text showed
 * a stop string first), or -1 when the client went away (the job is then
 * cancelled). */
int gen_follow(struct req *r, struct srv_model *m, struct job *j, struct textout *t, const struct gen_sink *k);

/* Cancel j if it is not done, and free it. */
void gen_release(struct srv_model *m, struct job *j);

/* OpenAI's finish_reason for a finish. */
const char *finish_reason(int finish);

/* A fresh id for a completion ("chatcmpl-" and 24 random hex digits). */
void gen_id(char *buf, size_t n, const char *prefix);

#endif
