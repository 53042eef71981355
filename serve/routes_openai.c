/* routes_openai.c - the OpenAI routes: POST /v1/chat/completions, POST
 * /v1/completions, GET /v1/models. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat.h"
#include "err.h"
#include "generate.h"
#include "oai.h"
#include "routes.h"

#define FINGERPRINT "lmutils-" LMU_VERSION

/* What a completion request asks for beyond the job's parameters. */
struct oai {
	struct req *r;
	struct srv_model *m;
	struct job *j;
	bool chat;
	struct oai_request req; /* the body, read (oai.h) */
	bool stream, include_usage;
	bool logprobs;          /* chat: logprobs true; completions: logprobs given */
	char id[64];
	long long created;
	struct jw text;         /* the whole text (non-streaming) */
	struct jw lp;           /* the log-probabilities gathered (non-streaming, or until text comes) */
	size_t n_lp;            /* entries in lp */
	size_t text_offset;     /* completions: bytes of text before the next token */
	struct jw ev;           /* an event being written */
};

/* ---- log-probabilities ---- */

/* A token's piece as OpenAI shows it: "token" (text), "bytes". */
static void lp_token(struct jw *w, const struct vocab *v, int32_t id)
{
	size_t n;
	const char *s = vocab_piece(v, id, &n);
	jw_raw(w, "\"token\":");
	jw_str(w, s, n);
	jw_raw(w, ",\"bytes\":");
	jw_bytes(w, s, n);
}

/* One entry of chat's logprobs.content. */
static void chat_lp(struct oai *x, const struct job_token *t)
{
	const struct vocab *v = x->m->v;
	jw_raw(&x->lp, x->n_lp++ ? ",{" : "{");
	lp_token(&x->lp, v, t->id);
	jw_raw(&x->lp, ",\"logprob\":");
	jw_num(&x->lp, t->logprob);
	jw_raw(&x->lp, ",\"top_logprobs\":[");
	for (int i = 0; i < t->n_top; i++) {
		jw_raw(&x->lp, i ? ",{" : "{");
		lp_token(&x->lp, v, t->top_id[i]);
		jw_raw(&x->lp, ",\"logprob\":");
		jw_num(&x->lp, t->top_lp[i]);
		jw_raw(&x->lp, "}");
	}
	jw_raw(&x->lp, "]}");
}

/* Completions' logprobs are four parallel arrays; they are gathered in
 * four buffers and joined at the end of each event. */
struct cmpl_lp {
	struct jw tokens, token_lp, top, offset;
	size_t n;
};

static void cmpl_lp_add(struct cmpl_lp *c, const struct vocab *v, const struct job_token *t, size_t offset)
{
	size_t n;
	const char *s = vocab_piece(v, t->id, &n);
	const char *sep = c->n++ ? "," : "";
	jw_raw(&c->tokens, sep);
	jw_str(&c->tokens, s, n);
	jw_raw(&c->token_lp, sep);
	jw_num(&c->token_lp, t->logprob);
	jw_printf(&c->offset, "%s%zu", sep, offset);
	jw_raw(&c->top, sep);
	jw_raw(&c->top, "{");
	for (int i = 0; i < t->n_top; i++) {
		const char *p = vocab_piece(v, t->top_id[i], &n);
		if (i)
			jw_raw(&c->top, ",");
		jw_str(&c->top, p, n);
		jw_raw(&c->top, ":");
		jw_num(&c->top, t->top_lp[i]);
	}
	jw_raw(&c->top, "}");
}

static void cmpl_lp_write(struct jw *w, struct cmpl_lp *c)
{
	jw_printf(w, "{\"tokens\":[%s],\"token_logprobs\":[%s],\"top_logprobs\":[%s],\"text_offset\":[%s]}",
		  c->tokens.b ? c->tokens.b : "", c->token_lp.b ? c->token_lp.b : "", c->top.b ? c->top.b : "",
		  c->offset.b ? c->offset.b : "");
	jw_reset(&c->tokens);
	jw_reset(&c->token_lp);
	jw_reset(&c->top);
	jw_reset(&c->offset);
	c->n = 0;
}

static void cmpl_lp_free(struct cmpl_lp *c)
{
	jw_free(&c->tokens);
	jw_free(&c->token_lp);
	jw_free(&c->top);
	jw_free(&c->offset);
}

/* ---- events ---- */

static void chunk_head(struct oai *x, struct jw *w)
{
	jw_raw(w, "{\"id\":");
	jw_cstr(w, x->id);
	jw_printf(w, ",\"object\":\"%s\",\"created\":%lld,\"model\":", x->chat ? "chat.completion.chunk" : "text_completion",
		  x->created);
	jw_cstr(w, x->m->id);
	jw_raw(w, ",\"system_fingerprint\":\"" FINGERPRINT "\",\"choices\":[");
}

static void usage(struct oai *x, struct jw *w, size_t n_gen)
{
	long long np = x->r->n_prompt;
	jw_printf(w, "\"usage\":{\"prompt_tokens\":%lld,\"completion_tokens\":%zu,\"total_tokens\":%lld,"
		     "\"prompt_tokens_details\":{\"cached_tokens\":%lld}}",
		  np, n_gen, np + (long long)n_gen, x->r->n_cached);
}

struct sink_state {
	struct oai *x;
	struct cmpl_lp clp;
};

/* A streamed event with text (and the log-probabilities gathered). */
static int send_delta(struct sink_state *ss, const char *text, size_t n, const char *finish)
{
	struct oai *x = ss->x;
	struct jw *w = &x->ev;
	jw_reset(w);
	chunk_head(x, w);
	if (x->chat) {
		jw_raw(w, "{\"index\":0,\"delta\":{");
		if (n || !finish) {
			jw_raw(w, "\"content\":");
			jw_str(w, text, n);
		}
		jw_raw(w, "},\"logprobs\":");
		if (x->n_lp) {
			jw_printf(w, "{\"content\":[%s]}", x->lp.b);
			jw_reset(&x->lp);
			x->n_lp = 0;
		} else {
			jw_raw(w, "null");
		}
	} else {
		jw_raw(w, "{\"index\":0,\"text\":");
		jw_str(w, text, n);
		jw_raw(w, ",\"logprobs\":");
		if (ss->clp.n)
			cmpl_lp_write(w, &ss->clp);
		else
			jw_raw(w, "null");
	}
	jw_raw(w, ",\"finish_reason\":");
	if (finish)
		jw_printf(w, "\"%s\"", finish);
	else
		jw_raw(w, "null");
	jw_raw(w, "}]}");
	return sse_send(x->r, w->b, w->n);
}

static int on_token(void *arg, const struct job_token *t, size_t index, const char *text, size_t n)
{
	struct sink_state *ss = arg;
	struct oai *x = ss->x;
	(void)index;
	if (t && x->logprobs) {
		if (x->chat)
			chat_lp(x, t);
		else
			cmpl_lp_add(&ss->clp, x->m->v, t, x->text_offset);
	}
	x->text_offset += n;
	if (!x->stream) {
		jw_mem(&x->text, text, n);
		return 0;
	}
	/* a token with no text yet (half a character, a held-back stop
	 * prefix) sends nothing: its log-probabilities go with the next text */
	if (n == 0)
		return 0;
	return send_delta(ss, text, n, NULL);
}

/* The end of a streamed answer: the last chunk, the usage, [DONE]. */
static void stream_end(struct sink_state *ss, int finish)
{
	struct oai *x = ss->x;
	if (finish == JOB_CANCELLED || finish == JOB_FAILED) {
		struct jw w = {0};
		jw_raw(&w, "{\"error\":{\"message\":");
		jw_cstr(&w, x->j->error[0] ? x->j->error : "the generation was cancelled");
		jw_raw(&w, ",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
		sse_send(x->r, w.b, w.n);
		jw_free(&w);
	} else {
		if (send_delta(ss, "", 0, finish_reason(finish)) < 0)
			return;
		if (x->include_usage) {
			struct jw *w = &x->ev;
			jw_reset(w);
			chunk_head(x, w);
			jw_raw(w, "],");
			usage(x, w, x->j->n_tok);
			jw_raw(w, "}");
			if (sse_send(x->r, w->b, w->n) < 0)
				return;
		}
	}
	if (sse_send(x->r, "[DONE]", 6) == 0)
		sse_end(x->r);
}

static int answer_whole(struct sink_state *ss, int finish)
{
	struct oai *x = ss->x;
	struct jw w = {0};
	if (finish == JOB_CANCELLED || finish == JOB_FAILED)
		return reply_error(x->r, 500, NULL, NULL, "%s",
				   x->j->error[0] ? x->j->error : "the generation was cancelled");
	jw_raw(&w, "{\"id\":");
	jw_cstr(&w, x->id);
	jw_printf(&w, ",\"object\":\"%s\",\"created\":%lld,\"model\":", x->chat ? "chat.completion" : "text_completion",
		  x->created);
	jw_cstr(&w, x->m->id);
	jw_raw(&w, ",\"system_fingerprint\":\"" FINGERPRINT "\",\"choices\":[{\"index\":0,");
	if (x->chat) {
		jw_raw(&w, "\"message\":{\"role\":\"assistant\",\"content\":");
		jw_str(&w, x->text.b ? x->text.b : "", x->text.n);
		jw_raw(&w, "},\"logprobs\":");
		if (x->logprobs)
			jw_printf(&w, "{\"content\":[%s]}", x->lp.b ? x->lp.b : "");
		else
			jw_raw(&w, "null");
	} else {
		jw_raw(&w, "\"text\":");
		jw_str(&w, x->text.b ? x->text.b : "", x->text.n);
		jw_raw(&w, ",\"logprobs\":");
		if (x->logprobs)
			cmpl_lp_write(&w, &ss->clp);
		else
			jw_raw(&w, "null");
	}
	jw_printf(&w, ",\"finish_reason\":\"%s\"}],", finish_reason(finish));
	usage(x, &w, x->j->n_tok);
	jw_raw(&w, "}");
	int rc = reply_json(x->r, 200, &w);
	jw_free(&w);
	return rc;
}

/* Run the job of x to its end and answer. */
static int run(struct oai *x, const struct ids *prompt, const struct job_params *p, const char *echo, size_t n_echo)
{
	struct sink_state ss = {.x = x};
	struct textout t;
	int rc;

	x->j = gen_submit(x->r, x->m, prompt, p);
	if (!x->j)
		return x->r->status;
	gen_id(x->id, sizeof x->id, x->chat ? "chatcmpl-" : "cmpl-");
	x->created = (long long)time(NULL);
	textout_init(&t, x->m->v, &x->j->p);
	if (echo)
		jw_mem(&x->text, echo, n_echo);
	x->text_offset = n_echo;
	if (x->stream) {
		sse_begin(x->r);
		/* the first chunk: the role (chat), or the echoed prompt */
		if (x->chat) {
			struct jw *w = &x->ev;
			jw_reset(w);
			chunk_head(x, w);
			jw_raw(w, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,"
				  "\"finish_reason\":null}]}");
			rc = sse_send(x->r, w->b, w->n);
		} else {
			rc = n_echo ? send_delta(&ss, echo, n_echo, NULL) : 0;
		}
		if (rc < 0) {
			textout_free(&t);
			return 200;
		}
	}
	struct gen_sink k = {.arg = &ss, .out = on_token, .stream = x->stream};
	int finish = gen_follow(x->r, x->m, x->j, &t, &k);
	if (finish >= 0) {
		if (x->stream)
			stream_end(&ss, finish);
		else
			answer_whole(&ss, finish);
	}
	textout_free(&t);
	cmpl_lp_free(&ss.clp);
	return x->r->status;
}

/* Read the request (oai.h) into x->req and p, take the model; 0, or the
 * status answered. */
static int begin(struct req *r, struct jreq *q, struct oai *x, struct job_params *p)
{
	struct gen_params dflt;
	memset(q, 0, sizeof *q);
	q->root = jv_null();
	x->r = r;
	x->req.held = jv_null();
	int rc = req_body(r);
	if (rc)
		return rc;
	gen_defaults(p);
	dflt = p->gen;
	if (!jreq_parse(q, r->body, r->n_body) ||
	    !oai_request_parse(q->root, x->chat ? OAI_CHAT : OAI_COMPLETION, &dflt, &x->req, q))
		return reply_error(r, 400, q->param, NULL, "%s", q->err.msg);
	p->gen = x->req.gen;  /* the stop strings live in x->req (job_new copies them) */
	p->cache_prompt = x->req.cache_prompt;
	p->top_logprobs = x->req.top_logprobs;
	p->schema = x->req.schema;
	x->stream = x->req.stream;
	x->include_usage = x->req.include_usage;
	x->logprobs = x->req.top_logprobs >= 0;
	const char *model = x->req.model;
	rc = models_acquire(r->models, model, &x->m);
	if (rc == 404)
		rc = reply_error(r, 404, "model", "model_not_found", "the model '%s' does not exist", model);
	else if (rc == 503)
		rc = reply_error(r, 503, "model", NULL, "the model '%s' is loading", model ? model : "");
	else
		snprintf(r->model, sizeof r->model, "%s", x->m->id);
	return rc;
}

static void end(struct req *r, struct jreq *q, struct oai *x)
{
	gen_release(x->m, x->j);  /* the job is done with the request's schema and stop strings */
	oai_request_free(&x->req);
	if (x->m)
		models_release(r->models, x->m);
	jreq_free(q);
	jw_free(&x->text);
	jw_free(&x->lp);
	jw_free(&x->ev);
}

static int chat_completions(struct req *r)
{
	struct jreq q;
	struct oai x = {.chat = true};
	struct job_params p;
	struct ids prompt = {0};
	struct lmu_err e = {{0}};

	int rc = begin(r, &q, &x, &p);
	if (rc)
		goto out;
	if (!model_encode_chat(x.m, x.req.msgs, x.req.n_msgs, &prompt, &e)) {
		rc = reply_error(r, 400, "messages", NULL, "the model's chat template: %s", e.msg);
		goto out;
	}
	if (r->verbose) {
		struct jw w = {0};
		for (size_t i = 0; i < x.req.n_msgs; i++)
			jw_printf(&w, "%s[%s] %s", i ? " " : "", x.req.msgs[i].role,
				  x.req.msgs[i].content ? x.req.msgs[i].content : "");
		r->note = w.b;
	}
	rc = run(&x, &prompt, &p, NULL, 0);
out:
	free(prompt.v);
	end(r, &q, &x);
	return rc;
}

/* The prompt of /v1/completions as ids, and as text (for echo). */
static bool completion_prompt(struct jreq *q, struct oai *x, struct ids *out, char **text, size_t *n_text)
{
	const struct oai_request *rq = &x->req;
	if (rq->prompt) {
		*text = xmalloc(rq->prompt_len + 1);
		memcpy(*text, rq->prompt, rq->prompt_len + 1);
		*n_text = rq->prompt_len;
		model_encode_text(x->m, *text, *n_text, false, true, out);
		return true;
	}
	for (size_t i = 0; i < rq->n_prompt_ids; i++) {
		if ((uint32_t)rq->prompt_ids[i] >= x->m->n_vocab)
			return jreq_fail(q, "prompt", "prompt[%zu]: must be a token id from 0 to %u", i, x->m->n_vocab - 1);
		ids_push(out, rq->prompt_ids[i]);
	}
	struct detok d;
	size_t len;
	detok_init(&d, x->m->v, false);
	for (size_t i = 0; i < out->n; i++)
		detok_push(&d, out->v[i]);
	const char *s = detok_take(&d, true, &len);
	*text = xmalloc(len + 1);
	memcpy(*text, s, len);
	(*text)[len] = 0;
	*n_text = len;
	detok_free(&d);
	return true;
}

static int completions(struct req *r)
{
	struct jreq q;
	struct oai x = {.chat = false};
	struct job_params p;
	struct ids prompt = {0};
	char *text = NULL;
	size_t n_text = 0;

	int rc = begin(r, &q, &x, &p);
	if (rc)
		goto out;
	if (!completion_prompt(&q, &x, &prompt, &text, &n_text)) {
		rc = reply_error(r, 400, q.param, NULL, "%s", q.err.msg);
		goto out;
	}
	if (r->verbose)
		r->note = xstrdup(text);
	rc = run(&x, &prompt, &p, x.req.echo ? text : NULL, x.req.echo ? n_text : 0);
out:
	free(text);
	free(prompt.v);
	end(r, &q, &x);
	return rc;
}

static int list_models(struct req *r)
{
	struct srv_model **m;
	size_t n = models_list(r->models, &m);
	struct jw w = {0};
	jw_raw(&w, "{\"object\":\"list\",\"data\":[");
	for (size_t i = 0; i < n; i++) {
		jw_raw(&w, i ? ",{\"id\":" : "{\"id\":");
		jw_cstr(&w, m[i]->id);
		jw_printf(&w, ",\"object\":\"model\",\"created\":%lld,\"owned_by\":\"lmutils\"", m[i]->created);
		struct model_info o;
		models_info(r->models, m[i], &o);
		if (o.state == MODEL_READY)
			jw_printf(&w, ",\"meta\":{\"n_ctx\":%u,\"n_vocab\":%u,\"parallel\":%u}", o.n_ctx_seq, o.n_vocab,
				  o.n_seq);
		jw_raw(&w, "}");
	}
	jw_raw(&w, "]}");
	free(m);
	int rc = reply_json(r, 200, &w);
	jw_free(&w);
	return rc;
}

void routes_openai(struct server *s)
{
	server_route(s, "POST", "/v1/chat/completions", 0, chat_completions);
	server_route(s, "POST", "/v1/completions", 0, completions);
	server_route(s, "GET", "/v1/models", 0, list_models);
}
