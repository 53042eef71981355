/* routes_tgi.c - POST /v1/generate and POST /v1/generate_stream in the
 * shape of Hugging Face's text-generation-inference (also at /generate
 * and /generate_stream, where its clients look).
 *
 * The prompt ("inputs") is completed as it is, no chat template.  As in
 * TGI, sampling is off (greedy) unless do_sample is true or a sampling
 * parameter (temperature, top_k, top_p) is given; max_new_tokens
 * defaults to 100. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "generate.h"
#include "oai.h"
#include "routes.h"

#define TGI_DEFAULT_NEW 100

struct tgi {
	struct req *r;
	struct srv_model *m;
	struct job *j;
	bool stream, details, full_text, seeded;
	uint64_t seed;
	struct jw text;         /* the whole text */
	struct jw tokens;       /* details.tokens, or the pending stream event's token */
	size_t n_tokens;
	bool have_pending;      /* stream: a token event held back (the last one carries the details) */
	struct job_token pending;
	bool pending_special;   /* it is the end-of-generation id */
	struct jw pending_text;
};

static const char *tgi_finish(int finish)
{
	return finish == JOB_EOG ? "eos_token" : finish == JOB_STOP ? "stop_sequence" : "length";
}

static void token_json(struct tgi *x, struct jw *w, int32_t id, double logprob, const char *text, size_t n,
		       bool special)
{
	jw_printf(w, "{\"id\":%d,\"text\":", id);
	jw_str(w, text, n);
	jw_raw(w, ",\"logprob\":");
	jw_num(w, logprob);
	jw_printf(w, ",\"special\":%s}", special ? "true" : "false");
	(void)x;
}

static void details_json(struct tgi *x, struct jw *w, int finish, bool with_tokens)
{
	jw_printf(w, "{\"finish_reason\":\"%s\",\"generated_tokens\":%zu,\"seed\":", tgi_finish(finish),
		  x->j->n_tok);
	if (x->seeded)
		jw_printf(w, "%llu", (unsigned long long)x->seed);
	else
		jw_raw(w, "null");
	if (with_tokens)
		jw_printf(w, ",\"prefill\":[],\"tokens\":[%s]", x->tokens.b ? x->tokens.b : "");
	jw_raw(w, "}");
}

/* A stream event: the pending token; at the end with the text and the
 * details. */
static int send_pending(struct tgi *x, int finish)
{
	struct jw w = {0};
	const struct job_token *t = &x->pending;
	jw_printf(&w, "{\"index\":%zu,\"token\":", x->n_tokens - 1);
	token_json(x, &w, t->id, t->logprob, x->pending_text.b ? x->pending_text.b : "", x->pending_text.n, x->pending_special);
	if (finish == JOB_RUNNING) {
		jw_raw(&w, ",\"generated_text\":null,\"details\":null}");
	} else {
		jw_raw(&w, ",\"generated_text\":");
		jw_str(&w, x->text.b ? x->text.b : "", x->text.n);
		jw_raw(&w, ",\"details\":");
		details_json(x, &w, finish, false);
		jw_raw(&w, "}");
	}
	int rc = sse_send(x->r, w.b, w.n);
	jw_free(&w);
	jw_reset(&x->pending_text);
	return rc;
}

static int on_token(void *arg, const struct job_token *t, size_t index, const char *text, size_t n)
{
	struct tgi *x = arg;
	(void)index;
	jw_mem(&x->text, text, n);
	if (!t) {  /* the end: the rest of the text goes with the last token */
		if (x->stream)
			jw_mem(&x->pending_text, text, n);
		return 0;
	}
	if (!x->stream) {
		if (x->details) {
			if (x->n_tokens++)
				jw_raw(&x->tokens, ",");
			token_json(x, &x->tokens, t->id, t->logprob, text, n, false);
		}
		return 0;
	}
	int rc = 0;
	if (x->have_pending)
		rc = send_pending(x, JOB_RUNNING);
	x->pending = *t;
	x->have_pending = true;
	x->n_tokens++;
	jw_mem(&x->pending_text, text, n);
	return rc;
}

static int generate(struct req *r, bool stream)
{
	struct jreq q;
	struct tgi x = {.r = r, .stream = stream};
	struct job_params p;
	struct ids prompt = {0};
	char *inputs = NULL, *model = NULL;
	long long max_new = TGI_DEFAULT_NEW, top_k = 0, seed = 0;
	bool do_sample = false, has_temp, has_k, has_p, has_inputs, ok;
	struct textout t;
	bool t_init = false;

	memset(&q, 0, sizeof q);
	q.root = jv_null();
	int rc = req_body(r);
	if (rc)
		goto out;
	gen_defaults(&p);
	p.top_logprobs = 0;
	jv par = jv_null();
	ok = jreq_parse(&q, r->body, r->n_body) && jreq_str(&q, q.root, "inputs", "inputs", &inputs, &has_inputs) &&
	     jreq_str(&q, q.root, "model", "model", &model, NULL);
	if (ok && !has_inputs)
		ok = jreq_fail(&q, "inputs", "inputs: a string is needed");
	if (ok) {
		par = jreq_get(q.root, "parameters");
		if (jv_get_kind(par) != JV_KIND_OBJECT && jv_get_kind(par) != JV_KIND_NULL)
			ok = jreq_fail(&q, "parameters", "parameters: must be an object");
	}
	struct sampler_params *s = &p.gen.sampler;
	ok = ok && jreq_int(&q, par, "max_new_tokens", "parameters.max_new_tokens", 1, 1 << 30, &max_new, NULL);
	ok = ok && jreq_bool(&q, par, "do_sample", "parameters.do_sample", &do_sample, NULL);
	ok = ok && jreq_num(&q, par, "temperature", "parameters.temperature", 1e-6, 100, &s->temperature, &has_temp);
	ok = ok && jreq_int(&q, par, "top_k", "parameters.top_k", 1, 1 << 22, &top_k, &has_k);
	ok = ok && jreq_num(&q, par, "top_p", "parameters.top_p", 1e-6, 1, &s->top_p, &has_p);
	ok = ok && jreq_num(&q, par, "repetition_penalty", "parameters.repetition_penalty", 1e-6, 1e6,
			    &s->repeat_penalty, NULL);
	ok = ok && jreq_num(&q, par, "frequency_penalty", "parameters.frequency_penalty", -2, 2,
			    &s->frequency_penalty, NULL);
	ok = ok && jreq_int(&q, par, "seed", "parameters.seed", 0, INT64_MAX, &seed, &x.seeded);
	ok = ok && jreq_bool(&q, par, "details", "parameters.details", &x.details, NULL);
	ok = ok && jreq_bool(&q, par, "return_full_text", "parameters.return_full_text", &x.full_text, NULL);
	ok = ok && jreq_int(&q, par, "best_of", "parameters.best_of", 1, 1, &(long long){1}, NULL);
	ok = ok && oai_stops(&q, par, "stop", "parameters.stop", &p.gen);
	jv_free(par);
	if (!ok) {
		rc = reply_error(r, 400, q.param, NULL, "%s", q.err.msg);
		goto out;
	}
	if (has_k)
		s->top_k = (uint32_t)top_k;
	if (x.seeded)
		s->seed = x.seed = (uint64_t)seed;
	if (!do_sample && !has_temp && !has_k && !has_p)
		s->temperature = 0;
	p.gen.max_tokens = max_new;
	rc = models_acquire(r->models, model, &x.m);
	if (rc == 404) {
		rc = reply_error(r, 404, "model", "model_not_found", "the model '%s' does not exist", model);
		goto out;
	} else if (rc == 503) {
		rc = reply_error(r, 503, "model", NULL, "the model is loading");
		goto out;
	}
	snprintf(r->model, sizeof r->model, "%s", x.m->id);
	model_encode_text(x.m, inputs, strlen(inputs), false, true, &prompt);
	if (r->verbose)
		r->note = xstrdup(inputs);
	x.j = gen_submit(r, x.m, &prompt, &p);
	if (!x.j) {
		rc = r->status;
		goto out;
	}
	if (x.full_text)
		jw_raw(&x.text, inputs);
	textout_init(&t, x.m->v, &x.j->p);
	t_init = true;
	if (stream)
		sse_begin(r);
	struct gen_sink k = {.arg = &x, .out = on_token, .stream = stream};
	int finish = gen_follow(r, x.m, x.j, &t, &k);
	if (finish < 0) {
		rc = r->status;
		goto out;
	}
	if (finish == JOB_CANCELLED || finish == JOB_FAILED) {
		const char *why = x.j->error[0] ? x.j->error : "the generation was cancelled";
		if (stream) {
			struct jw w = {0};
			jw_raw(&w, "{\"error\":");
			jw_cstr(&w, why);
			jw_raw(&w, ",\"error_type\":\"generation\"}");
			sse_send(r, w.b, w.n);
			sse_end(r);
			jw_free(&w);
			rc = r->status;
		} else {
			rc = reply_error(r, 500, NULL, NULL, "%s", why);
		}
		goto out;
	}
	if (stream) {
		if (!x.have_pending || finish == JOB_EOG) {
			/* the end-of-generation id is the last token, as in TGI */
			if (x.have_pending)
				send_pending(&x, JOB_RUNNING);
			x.pending = (struct job_token){.id = finish == JOB_EOG ? x.j->stop_id : 0};
			x.pending_special = finish == JOB_EOG;
			x.n_tokens++;
		}
		send_pending(&x, finish);
		sse_end(r);
		rc = r->status;
	} else {
		struct jw w = {0};
		jw_raw(&w, "{\"generated_text\":");
		jw_str(&w, x.text.b ? x.text.b : "", x.text.n);
		if (x.details) {
			jw_raw(&w, ",\"details\":");
			details_json(&x, &w, finish, true);
		}
		jw_raw(&w, "}");
		rc = reply_json(r, 200, &w);
		jw_free(&w);
	}
out:
	if (t_init)
		textout_free(&t);
	gen_release(x.m, x.j);
	if (x.m)
		models_release(r->models, x.m);
	free(prompt.v);
	free(inputs);
	free(model);
	jreq_free(&q);
	jw_free(&x.text);
	jw_free(&x.tokens);
	jw_free(&x.pending_text);
	return rc;
}

static int generate_whole(struct req *r)
{
	return generate(r, false);
}

static int generate_stream(struct req *r)
{
	return generate(r, true);
}

void routes_tgi(struct server *s)
{
	server_route(s, "POST", "/v1/generate", 0, generate_whole);
	server_route(s, "POST", "/v1/generate_stream", 0, generate_stream);
	server_route(s, "POST", "/generate", 0, generate_whole);
	server_route(s, "POST", "/generate_stream", 0, generate_stream);
}
