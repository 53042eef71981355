/* generate.c - see generate.h. */
#include "generate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "err.h"
#include "oai.h"

#define KEEPALIVE_MS 2000
#define GONE_CHECK_MS 200   /* how often a whole answer looks for its client */

/* ---- parameters ---- */

void gen_defaults(struct job_params *p)
{
	memset(p, 0, sizeof *p);
	sampler_defaults(&p->gen.sampler);
	p->gen.sampler.repeat_last_n = -1;  /* OpenAI's penalties count every token generated */
	p->gen.sampler.repeat_penalty = 1;  /* OpenAI has none (lm-sample's default is 1.1): opt-in */
	if (getrandom(&p->gen.sampler.seed, sizeof p->gen.sampler.seed, 0) != sizeof p->gen.sampler.seed)
		p->gen.sampler.seed = (uint64_t)mono_now();
	p->top_logprobs = -1;
	p->cache_prompt = true;
}

bool gen_sampling(struct jreq *q, jv obj, struct job_params *p)
{
	return oai_sampling(q, obj, &p->gen, NULL) &&
	       jreq_bool(q, obj, "cache_prompt", "cache_prompt", &p->cache_prompt, NULL);
}

/* ---- text ---- */

void textout_init(struct textout *t, const struct vocab *v, const struct job_params *p)
{
	memset(t, 0, sizeof *t);
	detok_init(&t->d, v, false);
	t->p = p;
}

void textout_free(struct textout *t)
{
	detok_free(&t->d);
	jw_free(&t->held);
	jw_free(&t->out);
}

/* The earliest stop string in held: its offset, or -1. */
static long find_stop(const struct textout *t)
{
	long best = -1;
	for (int i = 0; i < t->p->gen.n_stop; i++) {
		const char *s = t->p->gen.stop[i];
		const char *hit = t->held.n ? memmem(t->held.b, t->held.n, s, strlen(s)) : NULL;
		if (hit && (best < 0 || hit - t->held.b < best))
			best = hit - t->held.b;
	}
	return best;
}

/* How many bytes at the end of held could begin a stop string. */
static size_t stop_prefix(const struct textout *t)
{
	size_t keep = 0;
	for (int i = 0; i < t->p->gen.n_stop; i++) {
		const char *s = t->p->gen.stop[i];
		size_t len = strlen(s), k = len - 1 < t->held.n ? len - 1 : t->held.n;
		for (; k > keep; k--)
			if (memcmp(t->held.b + t->held.n - k, s, k) == 0)
				break;
		if (k > keep)
			keep = k;
	}
	return keep;
}

/* Give out held[0..n) and keep the rest. */
static void give(struct textout *t, size_t n)
{
	jw_reset(&t->out);
	jw_mem(&t->out, t->held.b ? t->held.b : "", n);
	memmove(t->held.b, t->held.b + n, t->held.n - n);
	t->held.n -= n;
}

static void take(struct textout *t, bool at_end)
{
	size_t n;
	const char *s = detok_take(&t->d, at_end, &n);
	jw_mem(&t->held, s, n);
}

bool textout_token(struct textout *t, int32_t id, const char **text, size_t *n)
{
	if (t->stopped) {
		*text = "";
		*n = 0;
		return true;
	}
	detok_push(&t->d, id);
	take(t, false);
	long at = find_stop(t);
	if (at >= 0) {
		give(t, (size_t)at);
		t->held.n = 0;
		t->stopped = true;
	} else {
		give(t, t->held.n - stop_prefix(t));
	}
	*text = t->out.b ? t->out.b : "";
	*n = t->out.n;
	return t->stopped;
}

void textout_end(struct textout *t, const struct job *j, const char **text, size_t *n)
{
	jw_reset(&t->out);
	if (!t->stopped) {
		if (j->finish == JOB_STOP && j->stop_id >= 0)
			detok_push(&t->d, j->stop_id);  /* the text before the stop string in its last token */
		take(t, true);
		long at = find_stop(t);
		give(t, at >= 0 ? (size_t)at : t->held.n);
		t->held.n = 0;
	}
	*text = t->out.b ? t->out.b : "";
	*n = t->out.n;
}

/* ---- jobs ---- */

struct job *gen_start(struct srv_model *m, const struct ids *prompt, const struct job_params *p, int *status,
		      struct lmu_err *e)
{
	if (prompt->n == 0) {
		*status = 400;
		err_set(e, "the prompt is empty (it gives no tokens)");
		return NULL;
	}
	if (prompt->n >= m->n_ctx_seq) {
		*status = 400;
		err_set(e,
			"the prompt has %zu tokens, and the context of a sequence %u: at least one must be left to "
			"generate (lm-serve -c)",
			prompt->n, m->n_ctx_seq);
		return NULL;
	}
	struct job_params jp = *p;
	long long room = (long long)(m->n_ctx_seq - prompt->n);
	if (jp.gen.max_tokens == 0 || jp.gen.max_tokens > room)
		jp.gen.max_tokens = room;  /* ends with "length" when the context is full */
	struct job *j = job_new(prompt->v, prompt->n, &jp);
	if (sched_submit(m->sched, j) != 0) {
		job_free(j);
		*status = 503;
		err_set(e, "all %u sequences are busy and the queue is full: try again later", m->p.n_seq);
		return NULL;
	}
	*status = 0;
	return j;
}

struct job *gen_submit(struct req *r, struct srv_model *m, const struct ids *prompt, const struct job_params *p)
{
	struct lmu_err e = {{0}};
	int status;
	r->n_prompt = (long long)prompt->n;
	struct job *j = gen_start(m, prompt, p, &status, &e);
	if (!j)
		reply_error(r, status, prompt->n == 0 ? "prompt" : NULL,
			    status == 400 && prompt->n ? "context_length_exceeded" : NULL, "%s", e.msg);
	return j;
}

int gen_follow(struct req *r, struct srv_model *m, struct job *j, struct textout *t, const struct gen_sink *k)
{
	struct job_token *tok = NULL;
	size_t seen = 0, cap = 0;
	int finish = JOB_RUNNING;
	bool gone = false;
	const char *text;
	size_t n;

	double checked = mono_now();
	while (!gone && finish == JOB_RUNNING) {
		if (!k->stream && mono_now() - checked >= GONE_CHECK_MS / 1000.0) {
			/* a whole answer writes nothing until the end: look at the socket */
			checked = mono_now();
			if (req_client_gone(r)) {
				gone = true;
				break;
			}
		}
		if (!job_wait(j, seen, k->stream ? KEEPALIVE_MS : GONE_CHECK_MS)) {
			if (k->stream && sse_comment(r) < 0)
				gone = true;
			continue;
		}
		pthread_mutex_lock(&j->mu);
		size_t now = j->n_tok;
		bool done = j->done;
		if (now - seen > cap) {
			cap = now - seen;
			tok = xreallocarray(tok, cap, sizeof *tok);
		}
		if (now > seen)  /* (no tokens yet: both may be NULL) */
			memcpy(tok, j->tok + seen, (now - seen) * sizeof *tok);
		pthread_mutex_unlock(&j->mu);
		for (size_t i = 0; i < now - seen && !gone; i++) {
			bool stop = textout_token(t, tok[i].id, &text, &n);
			if (k->out(k->arg, &tok[i], seen + i, text, n) < 0)
				gone = true;
			r->n_gen = (long long)(seen + i + 1);
			if (stop) {
				/* the text showed a stop string before the sampler did */
				sched_cancel(m->sched, j);
				finish = JOB_STOP;
				break;
			}
		}
		seen = now;
		if (done && finish == JOB_RUNNING)
			finish = j->finish;
	}
	free(tok);
	r->n_cached = j->n_cached;
	if (j->t_first)
		r->ttft = j->t_first - r->t0;
	if (gone) {
		sched_cancel(m->sched, j);
		return -1;
	}
	textout_end(t, j, &text, &n);
	if (k->out(k->arg, NULL, seen, text, n) < 0)
		return -1;
	return finish;
}

void gen_release(struct srv_model *m, struct job *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->mu);
	bool done = j->done;
	pthread_mutex_unlock(&j->mu);
	if (!done)
		sched_cancel(m->sched, j);
	job_free(j);
}

const char *finish_reason(int finish)
{
	switch (finish) {
	case JOB_EOG:
	case JOB_STOP: return "stop";
	case JOB_LENGTH: return "length";
	default: return "cancelled";
	}
}

void gen_id(char *buf, size_t n, const char *prefix)
{
	unsigned char b[12];
	if (getrandom(b, sizeof b, 0) != sizeof b)
		memset(b, 0, sizeof b);
	int k = snprintf(buf, n, "%s", prefix);
	for (size_t i = 0; i < sizeof b && k + 2 < (int)n; i++)
		k += snprintf(buf + k, n - (size_t)k, "%02x", b[i]);
}
