/* routes_misc.c - GET /health, GET /metrics, POST /tokenize, POST
 * /detokenize. */
#include <stdlib.h>
#include <string.h>

#include "detok.h"
#include "err.h"
#include "routes.h"

static int health(struct req *r)
{
	if (!models_all_ready(r->models))
		return reply(r, 503, "application/json", "{\"status\":\"loading\"}", 20, "Retry-After: 1\r\n");
	return reply(r, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL);
}

static int metrics(struct req *r)
{
	struct jw w = {0};
	metrics_write(r->metrics, r->models, &w);
	int rc = reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", w.b, w.n, NULL);
	jw_free(&w);
	return rc;
}

/* The body and the model a request names; 0, or the status answered. */
static int begin(struct req *r, struct jreq *q, struct srv_model **m)
{
	char *model = NULL;
	*m = NULL;
	memset(q, 0, sizeof *q);
	q->root = jv_null();
	int rc = req_body(r);
	if (rc)
		return rc;
	if (!jreq_parse(q, r->body, r->n_body) || !jreq_str(q, q->root, "model", "model", &model, NULL))
		return reply_error(r, 400, q->param, NULL, "%s", q->err.msg);
	rc = models_acquire(r->models, model, m);
	if (rc == 404)
		rc = reply_error(r, 404, "model", "model_not_found", "the model '%s' does not exist", model);
	else if (rc == 503)
		rc = reply_error(r, 503, "model", NULL, "the model '%s' is loading", model ? model : "");
	free(model);
	return rc;
}

/* {"content": "text", "add_special": false, "with_pieces": false} ->
 * {"tokens": [ids]}, or with_pieces {"tokens": [{"id", "piece"}]} */
static int tokenize(struct req *r)
{
	struct jreq q;
	struct srv_model *m;
	struct ids ids = {0};
	char *text = NULL;
	bool special = false, pieces = false, has;
	int rc = begin(r, &q, &m);

	if (rc)
		goto out;
	if (!jreq_str(&q, q.root, "content", "content", &text, &has) ||
	    !jreq_bool(&q, q.root, "add_special", "add_special", &special, NULL) ||
	    !jreq_bool(&q, q.root, "with_pieces", "with_pieces", &pieces, NULL) ||
	    (!has && !jreq_fail(&q, "content", "content: a string is needed"))) {
		rc = reply_error(r, 400, q.param, NULL, "%s", q.err.msg);
		goto out;
	}
	/* add_special: BOS as the model wants it, and control tokens written
	 * in the text are parsed (as llama.cpp's parse_special) */
	model_encode_text(m, text, strlen(text), special, special, &ids);
	struct jw w = {0};
	jw_raw(&w, "{\"tokens\":[");
	for (size_t i = 0; i < ids.n; i++) {
		if (!pieces) {
			jw_printf(&w, i ? ",%d" : "%d", ids.v[i]);
			continue;
		}
		size_t n;
		const char *p = vocab_piece(m->v, ids.v[i], &n);
		jw_printf(&w, "%s{\"id\":%d,\"piece\":", i ? "," : "", ids.v[i]);
		jw_str(&w, p, n);
		jw_raw(&w, "}");
	}
	jw_raw(&w, "]}");
	r->n_prompt = (long long)ids.n;
	rc = reply_json(r, 200, &w);
	jw_free(&w);
out:
	free(text);
	free(ids.v);
	models_release(r->models, m);
	jreq_free(&q);
	return rc;
}

/* {"tokens": [ids]} -> {"content": "text"} */
static int detokenize(struct req *r)
{
	struct jreq q;
	struct srv_model *m;
	int rc = begin(r, &q, &m);

	if (rc)
		goto out;
	jv list = jreq_get(q.root, "tokens");
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		rc = reply_error(r, 400, "tokens", NULL, "tokens: an array of token ids is needed");
		goto out;
	}
	struct detok d;
	detok_init(&d, m->v, false);
	int n = jv_array_length(jv_copy(list));
	for (int i = 0; i < n; i++) {
		jv e = jv_array_get(jv_copy(list), i);
		double x = jv_get_kind(e) == JV_KIND_NUMBER ? jv_number_value(e) : -1;
		jv_free(e);
		if (x < 0 || x >= m->n_vocab || x != (double)(int32_t)x) {
			detok_free(&d);
			jv_free(list);
			rc = reply_error(r, 400, "tokens", NULL, "tokens[%d]: must be a token id from 0 to %u", i,
					 m->n_vocab - 1);
			goto out;
		}
		detok_push(&d, (int32_t)x);
	}
	jv_free(list);
	size_t len;
	const char *s = detok_take(&d, true, &len);
	struct jw w = {0};
	jw_raw(&w, "{\"content\":");
	jw_str(&w, s, len);
	jw_raw(&w, "}");
	detok_free(&d);
	rc = reply_json(r, 200, &w);
	jw_free(&w);
out:
	models_release(r->models, m);
	jreq_free(&q);
	return rc;
}

void routes_misc(struct server *s)
{
	server_route(s, "GET", "/health", ROUTE_PUBLIC, health);
	server_route(s, "GET", "/metrics", 0, metrics);
	server_route(s, "POST", "/tokenize", 0, tokenize);
	server_route(s, "POST", "/detokenize", 0, detokenize);
}
