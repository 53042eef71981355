/* oai.c - see oai.h. */
#include "oai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int oai_kind_of_url(const char *url)
{
	if (strcmp(url, "/v1/chat/completions") == 0)
		return OAI_CHAT;
	if (strcmp(url, "/v1/completions") == 0)
		return OAI_COMPLETION;
	return -1;
}

void oai_defaults(struct gen_params *g)
{
	memset(g, 0, sizeof *g);
	sampler_defaults(&g->sampler);
	g->sampler.temperature = 1;
	g->sampler.top_p = 1;
	g->sampler.top_k = 0;
	g->sampler.min_p = 0;
	g->sampler.repeat_last_n = -1;   /* the penalties count every id generated */
	g->sampler.repeat_penalty = 1;   /* OpenAI has none (lm-sample's default is 1.1) */
	g->sampler.seed = 0;
}

static bool add_stop(struct jreq *q, struct gen_params *g, const char *name, jv s)
{
	size_t n = (size_t)jv_string_length_bytes(jv_copy(s));
	const char *t = jv_string_value(s);
	if (g->n_stop == GEN_MAX_STOPS)
		return jreq_fail(q, name, "%s: at most %d stop strings", name, GEN_MAX_STOPS);
	if (n == 0 || n > GEN_MAX_STOP_LEN || memchr(t, 0, n))
		return jreq_fail(q, name, "%s: a stop string must have 1 to %d bytes and no NUL", name, GEN_MAX_STOP_LEN);
	g->stop[g->n_stop++] = t;  /* the string lives in obj, which the caller keeps */
	return true;
}

bool oai_stops(struct jreq *q, jv obj, const char *key, const char *name, struct gen_params *g)
{
	jv v = jreq_get(obj, key);
	bool ok = true;
	if (jv_get_kind(v) == JV_KIND_STRING) {
		g->n_stop = 0;  /* what is given replaces what was there */
		ok = add_stop(q, g, name, v);
	} else if (jv_get_kind(v) == JV_KIND_ARRAY) {
		int n = jv_array_length(jv_copy(v));
		g->n_stop = 0;
		for (int i = 0; ok && i < n; i++) {
			jv s = jv_array_get(jv_copy(v), i);
			if (jv_get_kind(s) != JV_KIND_STRING)
				ok = jreq_fail(q, name, "%s[%d]: must be a string, not %s", name, i, jv_kind_name(jv_get_kind(s)));
			else
				ok = add_stop(q, g, name, s);
			jv_free(s);
		}
	} else if (jv_get_kind(v) != JV_KIND_NULL) {
		ok = jreq_fail(q, name, "%s: must be a string or an array of strings, not %s", name,
			       jv_kind_name(jv_get_kind(v)));
	}
	jv_free(v);
	return ok;
}

bool oai_sampling(struct jreq *q, jv o, struct gen_params *g, bool *seeded)
{
	struct sampler_params *s = &g->sampler;
	long long n = 1, seed = 0, top_k = s->top_k, max = g->max_tokens;
	bool has_seed = false, ok = true;

	ok = ok && jreq_int(q, o, "n", "n", INT64_MIN, INT64_MAX, &n, NULL);
	if (ok && n != 1)
		ok = jreq_fail(q, "n", "n: must be 1 (one answer a request: ask again, with other seeds, for more)");
	ok = ok && jreq_num(q, o, "temperature", "temperature", 0, 2, &s->temperature, NULL);
	ok = ok && jreq_num(q, o, "top_p", "top_p", 0, 1, &s->top_p, NULL);
	ok = ok && jreq_int(q, o, "top_k", "top_k", 0, 1 << 22, &top_k, NULL);
	ok = ok && jreq_num(q, o, "min_p", "min_p", 0, 1, &s->min_p, NULL);
	ok = ok && jreq_num(q, o, "presence_penalty", "presence_penalty", -2, 2, &s->presence_penalty, NULL);
	ok = ok && jreq_num(q, o, "frequency_penalty", "frequency_penalty", -2, 2, &s->frequency_penalty, NULL);
	ok = ok && jreq_num(q, o, "repeat_penalty", "repeat_penalty", 1e-6, 1e6, &s->repeat_penalty, NULL);
	ok = ok && jreq_int(q, o, "seed", "seed", INT64_MIN, INT64_MAX, &seed, &has_seed);
	ok = ok && jreq_int(q, o, "max_tokens", "max_tokens", 0, 1 << 30, &max, NULL);
	ok = ok && jreq_int(q, o, "max_completion_tokens", "max_completion_tokens", 0, 1 << 30, &max, NULL);
	ok = ok && oai_stops(q, o, "stop", "stop", g);
	ok = ok && jreq_bool(q, o, "ignore_eos", "ignore_eos", &g->ignore_eos, NULL);
	if (!ok)
		return false;
	s->top_k = (uint32_t)top_k;
	g->max_tokens = max;
	if (has_seed)
		s->seed = (uint64_t)seed;
	if (seeded)
		*seeded |= has_seed;
	return true;
}

bool oai_apply(jv body, struct oai_request *r, struct jreq *q)
{
	if (jv_get_kind(r->held) != JV_KIND_ARRAY)
		r->held = jv_array();
	r->held = jv_array_append(r->held, jv_copy(body));
	return oai_sampling(q, body, &r->gen, &r->seeded);
}

/* messages: parsed as tokenize/chat.h reads them. */
static bool messages(struct jreq *q, jv body, struct oai_request *r)
{
	jv v = jreq_get(body, "messages");
	struct lmu_err le = {{0}};
	jv_kind kind = jv_get_kind(v);

	if (kind != JV_KIND_ARRAY) {
		jv_free(v);
		return jreq_fail(q, "messages", "messages: an array of messages is needed%s",
				 kind == JV_KIND_NULL ? "" : ", not this");
	}
	jv s = jv_dump_string(v, 0);
	r->msgs = chat_parse_json(jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)), &r->n_msgs, &le);
	jv_free(s);
	if (!r->msgs)
		return jreq_fail(q, "messages", "%s", le.msg);
	if (r->n_msgs == 0)
		return jreq_fail(q, "messages", "messages: at least one message is needed");
	return true;
}

/* prompt: a string or token ids, either alone in an array. */
static bool prompt(struct jreq *q, jv body, struct oai_request *r)
{
	jv v = jreq_get(body, "prompt");
	bool ok = true;

	if (jv_get_kind(v) == JV_KIND_ARRAY && jv_array_length(jv_copy(v)) == 1) {
		jv one = jv_array_get(jv_copy(v), 0);
		if (jv_get_kind(one) == JV_KIND_STRING || jv_get_kind(one) == JV_KIND_ARRAY) {
			jv_free(v);
			v = one;
		} else {
			jv_free(one);
		}
	}
	if (jv_get_kind(v) == JV_KIND_STRING) {
		r->prompt_len = (size_t)jv_string_length_bytes(jv_copy(v));
		r->prompt = xmalloc(r->prompt_len + 1);
		memcpy(r->prompt, jv_string_value(v), r->prompt_len + 1);
	} else if (jv_get_kind(v) == JV_KIND_ARRAY) {
		int n = jv_array_length(jv_copy(v));
		r->prompt_ids = xmalloc((size_t)(n ? n : 1) * sizeof *r->prompt_ids);
		for (int i = 0; ok && i < n; i++) {
			jv e = jv_array_get(jv_copy(v), i);
			double d = jv_get_kind(e) == JV_KIND_NUMBER ? jv_number_value(e) : -1;
			if (jv_get_kind(e) == JV_KIND_STRING)
				ok = jreq_fail(q, "prompt", "prompt: one prompt at a time (several: one request each)");
			else if (!(d >= 0 && d <= INT32_MAX && d == (double)(int32_t)d))
				ok = jreq_fail(q, "prompt", "prompt[%d]: must be a token id", i);
			else
				r->prompt_ids[r->n_prompt_ids++] = (int32_t)d;
			jv_free(e);
		}
	} else {
		ok = jreq_fail(q, "prompt", "prompt: must be a string or an array of token ids%s",
			       jv_get_kind(v) == JV_KIND_NULL ? " (it is missing)" : "");
	}
	jv_free(v);
	return ok;
}

/* A field that must be absent, null or an empty array. */
static bool refused(struct jreq *q, jv body, const char *key, const char *why)
{
	jv v = jreq_get(body, key);
	bool ok = jv_get_kind(v) == JV_KIND_NULL || (jv_get_kind(v) == JV_KIND_ARRAY && jv_array_length(jv_copy(v)) == 0);
	jv_free(v);
	return ok || jreq_fail(q, key, "%s: not supported (%s)", key, why);
}

static bool stream_fields(struct jreq *q, jv body, struct oai_request *r)
{
	bool ok = jreq_bool(q, body, "stream", "stream", &r->stream, NULL);
	jv so = jreq_get(body, "stream_options");
	if (ok && jv_get_kind(so) == JV_KIND_OBJECT)
		ok = jreq_bool(q, so, "include_usage", "stream_options.include_usage", &r->include_usage, NULL);
	else if (ok && jv_get_kind(so) != JV_KIND_NULL)
		ok = jreq_fail(q, "stream_options", "stream_options: must be an object, not %s",
			       jv_kind_name(jv_get_kind(so)));
	jv_free(so);
	return ok;
}

/* chat: logprobs true, top_logprobs 0 to 20; completions: logprobs 0 to 5. */
static bool logprobs(struct jreq *q, jv body, struct oai_request *r)
{
	if (r->kind == OAI_COMPLETION) {
		long long lp = -1;
		bool has;
		if (!jreq_int(q, body, "logprobs", "logprobs", 0, 5, &lp, &has))
			return false;
		r->top_logprobs = has ? (int)lp : -1;
		return true;
	}
	bool on = false;
	long long top = -1;
	if (!jreq_bool(q, body, "logprobs", "logprobs", &on, NULL) ||
	    !jreq_int(q, body, "top_logprobs", "top_logprobs", 0, OAI_MAX_TOP_LOGPROBS, &top, NULL))
		return false;
	if (top >= 0 && !on)
		return jreq_fail(q, "top_logprobs", "top_logprobs: needs logprobs true");
	r->top_logprobs = on ? (top < 0 ? 0 : (int)top) : -1;
	return true;
}

bool oai_request_parse(jv body, enum oai_kind kind, const struct gen_params *gen, struct oai_request *r,
		       struct jreq *q)
{
	memset(r, 0, sizeof *r);
	r->kind = kind;
	r->gen = *gen;
	r->cache_prompt = true;
	r->top_logprobs = -1;
	r->held = jv_array_append(jv_array(), jv_copy(body));
	if (jv_get_kind(body) != JV_KIND_OBJECT)
		return jreq_fail(q, NULL, "the body must be a JSON object, not %s", jv_kind_name(jv_get_kind(body)));
	return jreq_str(q, body, "model", "model", &r->model, NULL) &&
	       (kind == OAI_CHAT ? messages(q, body, r) : prompt(q, body, r)) &&
	       oai_sampling(q, body, &r->gen, &r->seeded) &&
	       jreq_bool(q, body, "cache_prompt", "cache_prompt", &r->cache_prompt, NULL) &&
	       stream_fields(q, body, r) && logprobs(q, body, r) &&
	       (kind == OAI_CHAT || jreq_bool(q, body, "echo", "echo", &r->echo, NULL)) &&
	       jreq_int(q, body, "best_of", "best_of", 1, 1, &(long long){1}, NULL) &&
	       refused(q, body, "suffix", "no insertion") && refused(q, body, "tools", "no tool calls") &&
	       oai_response_format(q, body, &r->schema);
}

void oai_request_free(struct oai_request *r)
{
	if (r->msgs)
		chat_msgs_free(r->msgs, r->n_msgs);
	free(r->model);
	free(r->prompt);
	free(r->prompt_ids);
	schema_free(r->schema);
	jv_free(r->held);
	memset(r, 0, sizeof *r);
	r->held = jv_null();
}

/* OpenAI's rule for a schema's name: 1 to 64 of a-z, A-Z, 0-9, _ and -. */
static bool schema_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(s[i] == '_' || s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')))
			return false;
	return true;
}

static bool json_schema(struct jreq *q, jv rf, struct schema **schema)
{
	jv js = jreq_get(rf, "json_schema"), sch;
	char *name = NULL, *desc = NULL;
	bool strict = false, has_name = false, ok;
	struct lmu_err le = {{0}};

	if (jv_get_kind(js) != JV_KIND_OBJECT) {
		ok = jreq_fail(q, "response_format.json_schema",
			       "response_format.json_schema: an object with name and schema is needed%s",
			       jv_get_kind(js) == JV_KIND_NULL ? "" : ", not this");
		jv_free(js);
		return ok;
	}
	ok = jreq_str(q, js, "name", "response_format.json_schema.name", &name, &has_name) &&
	     jreq_str(q, js, "description", "response_format.json_schema.description", &desc, NULL) &&
	     jreq_bool(q, js, "strict", "response_format.json_schema.strict", &strict, NULL);
	if (ok && !(has_name && schema_name_ok(name)))
		ok = jreq_fail(q, "response_format.json_schema.name",
			       "response_format.json_schema.name: 1 to 64 letters, digits, _ or - are needed");
	if (ok) {
		sch = jreq_get(js, "schema");
		*schema = schema_new(jv_get_kind(sch) == JV_KIND_NULL ? (jv_free(sch), jv_true()) : sch, &le);
		/* le: "schema: /properties/age: minimum is not supported ..." */
		if (!*schema)
			ok = jreq_fail(q, "response_format.json_schema.schema", "response_format.json_schema.%s", le.msg);
	}
	free(name);
	free(desc);
	jv_free(js);
	return ok;
}

bool oai_response_format(struct jreq *q, jv body, struct schema **schema)
{
	jv rf = jreq_get(body, "response_format");
	char *type = NULL;
	bool ok = true;

	*schema = NULL;
	if (jv_get_kind(rf) == JV_KIND_OBJECT) {
		ok = jreq_str(q, rf, "type", "response_format.type", &type, NULL);
		if (!ok || !type || strcmp(type, "text") == 0)
			;
		else if (strcmp(type, "json_object") == 0)
			*schema = schema_json_object();
		else if (strcmp(type, "json_schema") == 0)
			ok = json_schema(q, rf, schema);
		else
			ok = jreq_fail(q, "response_format.type",
				       "response_format.type: '%.40s' is not supported (text, json_object or json_schema)", type);
	} else if (jv_get_kind(rf) != JV_KIND_NULL) {
		ok = jreq_fail(q, "response_format", "response_format: must be an object, not %s",
			       jv_kind_name(jv_get_kind(rf)));
	}
	free(type);
	jv_free(rf);
	return ok;
}

jv oai_response(enum oai_kind kind, const char *id, const char *model, long long created, const char *fingerprint,
		const struct oai_result *res)
{
	jv text = jv_string_sized(res->text, (int)res->len);
	jv choice = jv_object_set(jv_object(), jv_string("index"), jv_number(0));
	if (kind == OAI_CHAT)
		choice = jv_object_set(choice, jv_string("message"),
				       jv_object_set(jv_object_set(jv_object(), jv_string("role"), jv_string("assistant")),
						     jv_string("content"), text));
	else
		choice = jv_object_set(choice, jv_string("text"), text);
	choice = jv_object_set(choice, jv_string("logprobs"), jv_null());
	choice = jv_object_set(choice, jv_string("finish_reason"), jv_string(res->length ? "length" : "stop"));

	jv usage = jv_object_set(jv_object(), jv_string("prompt_tokens"), jv_number(res->n_prompt));
	usage = jv_object_set(usage, jv_string("completion_tokens"), jv_number(res->n_completion));
	usage = jv_object_set(usage, jv_string("total_tokens"), jv_number((double)res->n_prompt + res->n_completion));

	jv o = jv_object_set(jv_object(), jv_string("id"), jv_string(id));
	o = jv_object_set(o, jv_string("object"), jv_string(kind == OAI_CHAT ? "chat.completion" : "text_completion"));
	o = jv_object_set(o, jv_string("created"), jv_number((double)created));
	o = jv_object_set(o, jv_string("model"), jv_string(model));
	o = jv_object_set(o, jv_string("system_fingerprint"), jv_string(fingerprint));
	o = jv_object_set(o, jv_string("choices"), jv_array_append(jv_array(), choice));
	return jv_object_set(o, jv_string("usage"), usage);
}

jv oai_error_body(const char *message, const char *type, const char *param, const char *code)
{
	jv err = jv_object_set(jv_object(), jv_string("message"), jv_string(message));
	err = jv_object_set(err, jv_string("type"), jv_string(type));
	err = jv_object_set(err, jv_string("param"), param ? jv_string(param) : jv_null());
	err = jv_object_set(err, jv_string("code"), code ? jv_string(code) : jv_null());
	return jv_object_set(jv_object(), jv_string("error"), err);
}

size_t oai_cut_at_stop(const struct gen_params *p, const char *text, size_t len)
{
	size_t cut = len;
	for (int i = 0; i < p->n_stop; i++) {
		const char *at = memmem(text, len, p->stop[i], strlen(p->stop[i]));
		if (at && (size_t)(at - text) < cut)
			cut = (size_t)(at - text);
	}
	return cut;
}
