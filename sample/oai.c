/* oai.c - see oai.h. */
#include "oai.h"

#include <math.h>
#include <stdarg.h>
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

static bool fail(struct oai_error *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail(struct oai_error *e, const char *param, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	e->param = param;
	return false;
}

/* body[key] when present and not null; else JV_KIND_INVALID (freed by
 * the caller either way). */
static jv field(jv body, const char *key)
{
	jv v = jv_object_get(jv_copy(body), jv_string(key));
	if (jv_get_kind(v) == JV_KIND_NULL) {
		jv_free(v);
		return jv_invalid();
	}
	return v;
}

static bool present(jv v)
{
	return jv_is_valid(v);
}

/* A number field in [lo, hi] into *out, when present. */
static bool number(jv body, const char *key, double lo, double hi, double *out, struct oai_error *e)
{
	jv v = field(body, key);
	bool ok = true;
	if (present(v)) {
		if (jv_get_kind(v) != JV_KIND_NUMBER)
			ok = fail(e, key, "'%s' must be a number", key);
		else if (!(jv_number_value(v) >= lo && jv_number_value(v) <= hi))
			ok = fail(e, key, "'%s' must be between %g and %g", key, lo, hi);
		else
			*out = jv_number_value(v);
	}
	jv_free(v);
	return ok;
}

/* An integer field in [lo, hi] into *out (untouched when absent); *given
 * says whether it was there. */
static bool integer(jv body, const char *key, double lo, double hi, long long *out, bool *given, struct oai_error *e)
{
	jv v = field(body, key);
	bool ok = true;
	if (given)
		*given = false;
	if (present(v)) {
		double d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : NAN;
		if (!(d == floor(d)))
			ok = fail(e, key, "'%s' must be an integer", key);
		else if (!(d >= lo && d <= hi))
			ok = fail(e, key, "'%s' must be between %.0f and %.0f", key, lo, hi);
		else {
			*out = (long long)d;
			if (given)
				*given = true;
		}
	}
	jv_free(v);
	return ok;
}

/* A field that must be absent or equal to what we do. */
static bool must_be(jv body, const char *key, jv_kind kind, const char *what, struct oai_error *e)
{
	jv v = field(body, key);
	bool ok = !present(v) || jv_get_kind(v) == kind;
	jv_free(v);
	return ok || fail(e, key, "'%s' is not supported: %s", key, what);
}

static bool stops(jv body, struct oai_request *r, struct oai_error *e)
{
	jv v = field(body, "stop");
	bool ok = true;

	if (!present(v)) {
		jv_free(v);
		return true;
	}
	for (int i = 0; i < r->gen.n_stop; i++)  /* what is given replaces what was there */
		free(r->stop_buf[i]);
	r->gen.n_stop = 0;
	if (jv_get_kind(v) == JV_KIND_STRING)
		v = jv_array_append(jv_array(), v);
	if (jv_get_kind(v) != JV_KIND_ARRAY) {
		jv_free(v);
		return fail(e, "stop", "'stop' must be a string or an array of strings");
	}
	int n = jv_array_length(jv_copy(v));
	if (n > 4)
		ok = fail(e, "stop", "'stop' has %d strings: at most 4", n);
	for (int i = 0; ok && i < n; i++) {
		jv s = jv_array_get(jv_copy(v), i);
		if (jv_get_kind(s) != JV_KIND_STRING)
			ok = fail(e, "stop", "'stop' must hold strings");
		else if (jv_string_length_bytes(jv_copy(s)) < 1 || jv_string_length_bytes(jv_copy(s)) > GEN_MAX_STOP_LEN)
			ok = fail(e, "stop", "a stop string must have 1 to %d bytes", GEN_MAX_STOP_LEN);
		else {
			r->stop_buf[r->gen.n_stop] = xstrdup(jv_string_value(s));
			r->gen.stop[r->gen.n_stop] = r->stop_buf[r->gen.n_stop];
			r->gen.n_stop++;
		}
		jv_free(s);
	}
	jv_free(v);
	return ok;
}

static bool messages(jv body, struct oai_request *r, struct oai_error *e)
{
	jv v = field(body, "messages");
	struct lmu_err le = {{0}};

	if (!present(v) || jv_get_kind(v) != JV_KIND_ARRAY) {
		jv_free(v);
		return fail(e, "messages", "'messages' must be an array of messages");
	}
	jv s = jv_dump_string(v, 0);
	r->msgs = chat_parse_json(jv_string_value(s), (size_t)jv_string_length_bytes(jv_copy(s)), &r->n_msgs, &le);
	jv_free(s);
	if (!r->msgs)
		return fail(e, "messages", "'messages': %s", le.msg);
	if (r->n_msgs == 0)
		return fail(e, "messages", "'messages' is empty");
	return true;
}

static bool prompt(jv body, struct oai_request *r, struct oai_error *e)
{
	jv v = field(body, "prompt");
	bool ok = true;

	if (present(v) && jv_get_kind(v) == JV_KIND_ARRAY) {
		if (jv_array_length(jv_copy(v)) != 1) {
			jv_free(v);
			return fail(e, "prompt", "'prompt' must be one string (several prompts: one request each)");
		}
		v = jv_array_get(v, 0);
	}
	if (!present(v) || jv_get_kind(v) != JV_KIND_STRING)
		ok = fail(e, "prompt", "'prompt' must be a string");
	else {
		r->prompt_len = (size_t)jv_string_length_bytes(jv_copy(v));
		r->prompt = xmalloc(r->prompt_len + 1);
		memcpy(r->prompt, jv_string_value(v), r->prompt_len + 1);
	}
	jv_free(v);
	return ok;
}

/* A string field of obj, when present: 0 absent, 1 a string, -1 not one
 * (e says so). */
static int string_field(jv obj, const char *key, const char *name, jv *out, struct oai_error *e)
{
	*out = field(obj, key);
	if (!present(*out))
		return 0;
	if (jv_get_kind(*out) == JV_KIND_STRING)
		return 1;
	fail(e, name, "%s: must be a string, not %s", name, jv_kind_name(jv_get_kind(*out)));
	return -1;
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

static bool json_schema(jv rf, struct schema **schema, struct oai_error *e)
{
	jv js = field(rf, "json_schema"), name = jv_invalid(), desc = jv_invalid(), sch = jv_invalid(), strict;
	struct lmu_err le = {{0}};
	bool ok = false;

	if (jv_get_kind(js) != JV_KIND_OBJECT) {
		fail(e, "response_format.json_schema", "response_format.json_schema: an object with name and schema is needed%s",
		     present(js) ? ", not this" : "");
		goto out;
	}
	int got = string_field(js, "name", "response_format.json_schema.name", &name, e);
	if (got < 0)
		goto out;
	if (got == 0 || !schema_name_ok(jv_string_value(name))) {
		fail(e, "response_format.json_schema.name",
		     "response_format.json_schema.name: 1 to 64 letters, digits, _ or - are needed");
		goto out;
	}
	if (string_field(js, "description", "response_format.json_schema.description", &desc, e) < 0)
		goto out;
	strict = field(js, "strict");
	got = !present(strict) || jv_get_kind(strict) == JV_KIND_TRUE || jv_get_kind(strict) == JV_KIND_FALSE;
	jv_free(strict);
	if (!got) {
		fail(e, "response_format.json_schema.strict", "response_format.json_schema.strict: must be true or false");
		goto out;
	}
	sch = field(js, "schema");
	*schema = schema_new(present(sch) ? jv_copy(sch) : jv_true(), &le);
	if (!*schema) {
		/* le: "schema: /properties/age: minimum is not supported ..." */
		fail(e, "response_format.json_schema.schema", "response_format.json_schema.%s", le.msg);
		goto out;
	}
	ok = true;
out:
	jv_free(js);
	jv_free(name);
	jv_free(desc);
	jv_free(sch);
	return ok;
}

bool oai_response_format(jv body, struct schema **schema, struct oai_error *e)
{
	jv rf = field(body, "response_format"), type = jv_invalid();
	bool ok = true;

	*schema = NULL;
	if (!present(rf))
		goto out;
	if (jv_get_kind(rf) != JV_KIND_OBJECT) {
		ok = fail(e, "response_format", "response_format: must be an object, not %s", jv_kind_name(jv_get_kind(rf)));
		goto out;
	}
	int got = string_field(rf, "type", "response_format.type", &type, e);
	if (got < 0)
		ok = false;
	else if (got == 0 || strcmp(jv_string_value(type), "text") == 0)
		;
	else if (strcmp(jv_string_value(type), "json_object") == 0)
		*schema = schema_json_object();
	else if (strcmp(jv_string_value(type), "json_schema") == 0)
		ok = json_schema(rf, schema, e);
	else
		ok = fail(e, "response_format.type",
			  "response_format.type: '%.40s' is not supported (text, json_object or json_schema)",
			  jv_string_value(type));
out:
	jv_free(rf);
	jv_free(type);
	return ok;
}

bool oai_apply(jv body, bool chat, struct oai_request *r, struct oai_error *e)
{
	struct sampler_params *sp = &r->gen.sampler;
	long long max = r->gen.max_tokens, seed = (long long)sp->seed, top_k = sp->top_k;
	bool has_max, has_seed;

	if (!number(body, "temperature", 0, 2, &sp->temperature, e) || !number(body, "top_p", 0, 1, &sp->top_p, e) ||
	    !number(body, "min_p", 0, 1, &sp->min_p, e) || !number(body, "repeat_penalty", 1e-6, 1e6, &sp->repeat_penalty, e) ||
	    !number(body, "presence_penalty", -2, 2, &sp->presence_penalty, e) ||
	    !number(body, "frequency_penalty", -2, 2, &sp->frequency_penalty, e) ||
	    !integer(body, "top_k", 0, 1 << 24, &top_k, NULL, e))
		return false;
	sp->top_k = (uint32_t)top_k;
	if (!integer(body, chat ? "max_completion_tokens" : "max_tokens", 1, 1e9, &max, &has_max, e))
		return false;
	if (!has_max && chat && !integer(body, "max_tokens", 1, 1e9, &max, NULL, e))
		return false;
	r->gen.max_tokens = max;
	if (!integer(body, "seed", -9.2e18, 9.2e18, &seed, &has_seed, e))
		return false;
	sp->seed = (uint64_t)seed;
	r->seeded |= has_seed;
	return stops(body, r, e);
}

bool oai_request_parse(jv body, enum oai_kind kind, struct oai_request *r, struct oai_error *e)
{
	struct sampler_params *sp = &r->gen.sampler;
	long long n = 1;
	struct schema *fmt;

	memset(r, 0, sizeof *r);
	memset(e, 0, sizeof *e);
	r->kind = kind;
	sampler_defaults(sp);
	sp->temperature = 1;
	sp->top_p = 1;
	sp->top_k = 0;
	sp->min_p = 0;
	sp->repeat_last_n = -1;
	sp->repeat_penalty = 1;  /* OpenAI has none (lm-sample's default is 1.1) */
	if (jv_get_kind(body) != JV_KIND_OBJECT)
		return fail(e, NULL, "the body must be a JSON object");
	if (!(kind == OAI_CHAT ? messages(body, r, e) : prompt(body, r, e)))
		return false;
	if (!oai_apply(body, kind == OAI_CHAT, r, e))
		return false;
	if (!integer(body, "n", 1, 1, &n, NULL, e))
		return fail(e, "n", "'n' must be 1: ask for more answers in more requests (with other seeds)");
	if (!must_be(body, "stream", JV_KIND_FALSE, "answers are whole", e) ||
	    !must_be(body, "logprobs", JV_KIND_FALSE, "log-probabilities are not given here", e) ||
	    !must_be(body, "tools", JV_KIND_NULL, "no tool calls", e) ||
	    !must_be(body, "echo", JV_KIND_FALSE, "the prompt is not echoed", e) ||
	    !must_be(body, "suffix", JV_KIND_NULL, "no suffix", e))
		return false;
	if (!oai_response_format(body, &fmt, e))
		return false;
	if (fmt) {
		schema_free(fmt);
		return fail(e, "response_format", "'response_format' is not supported: only {\"type\": \"text\"}");
	}
	return true;
}

void oai_request_free(struct oai_request *r)
{
	if (r->msgs)
		chat_msgs_free(r->msgs, r->n_msgs);
	free(r->prompt);
	for (int i = 0; i < r->gen.n_stop; i++)
		free(r->stop_buf[i]);
	memset(r, 0, sizeof *r);
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
