/* oai.h - OpenAI-shaped requests and responses: the body of a
 * /v1/chat/completions or /v1/completions request read into what a
 * generation needs (gen.h), and the response body built from what it
 * generated.  For lm-batch (the Batch API's lines carry such bodies) and
 * lm-serve.
 *
 * Fields and defaults are OpenAI's: temperature 1, top_p 1, no top-k or
 * min-p, presence and frequency penalties over the ids generated so far,
 * max_tokens (or max_completion_tokens) none, stop a string or up to 4,
 * n 1; also top_k, min_p and repeat_penalty, as llama.cpp's server
 * takes them.  What is not supported (n > 1, logprobs, streaming, tools,
 * response_format other than text) is refused, never ignored, so that an
 * answer is never silently other than asked.  Unknown fields are ignored,
 * as the API does with the ones it does not use (user, metadata ...).
 *
 * Errors name the field (the "param" of an OpenAI error body). */
#ifndef LMU_OAI_H
#define LMU_OAI_H

#include <stdbool.h>
#include <stdint.h>

#include <jv.h>

#include "chat.h"
#include "gen.h"
#include "schema.h"

enum oai_kind { OAI_CHAT, OAI_COMPLETION };

struct oai_request {
	enum oai_kind kind;
	struct chat_msg *msgs;   /* (n_msgs) OAI_CHAT */
	size_t n_msgs;
	char *prompt;            /* OAI_COMPLETION: the text (prompt_len bytes) */
	size_t prompt_len;
	struct gen_params gen;   /* sampling, max_tokens (0: none), stop strings */
	bool seeded;             /* the body gave a seed (gen.sampler.seed) */
	char *stop_buf[GEN_MAX_STOPS];  /* the stop strings gen.stop points to (owned) */
};

struct oai_error {
	char msg[256];
	const char *param;       /* the field, or NULL */
};

/* The route's kind: "/v1/chat/completions", "/v1/completions"; -1 for any
 * other. */
int oai_kind_of_url(const char *url);

/* Read a request body (a JSON object) of the given kind.  false with e set
 * (an invalid_request_error) when a field is missing, of the wrong type,
 * out of range or not supported. */
bool oai_request_parse(jv body, enum oai_kind kind, struct oai_request *r, struct oai_error *e);
void oai_request_free(struct oai_request *r);

/* response_format of body: absent, null or {"type": "text"} leave
 * *schema NULL; {"type": "json_object"} gives schema_json_object();
 * {"type": "json_schema", "json_schema": {"name": ..., "schema": {...},
 * "strict": ..., "description": ...}} the schema compiled (schema.h; no
 * "schema": any JSON value).  The output is held to it whether strict is
 * true or not.  false with e naming the field (param
 * "response_format.json_schema.schema" and the schema's own message
 * when the schema uses what schema.h does not support). */
bool oai_response_format(jv body, struct schema **schema, struct oai_error *e);

/* Apply the sampling fields of body onto r's generation, keeping what it
 * had for the fields body does not give: temperature, top_p, seed, stop,
 * max_tokens (chat: max_completion_tokens too), presence_penalty,
 * frequency_penalty, and the usual extensions top_k, min_p,
 * repeat_penalty.  oai_request_parse() applies them over OpenAI's
 * defaults; lm-sample --seq-params over its options.  r->stop_buf holds
 * the stop strings (freed by oai_request_free). */
bool oai_apply(jv body, bool chat, struct oai_request *r, struct oai_error *e);

/* What a generation gave: its text (already cut before a stop string),
 * the ids counted, and why it ended. */
struct oai_result {
	const char *text;
	size_t len;
	uint32_t n_prompt, n_completion;
	bool length;             /* max_tokens or the context ended it (else: end of generation or stop) */
};

/* The response body: a chat.completion or text_completion object. */
jv oai_response(enum oai_kind kind, const char *id, const char *model, long long created, const char *fingerprint,
		const struct oai_result *res);

/* An error body {"error": {"message", "type", "param", "code"}}. */
jv oai_error_body(const char *message, const char *type, const char *param, const char *code);

/* Where a stop string first occurs in text[0..len), or len: the text an
 * answer gives is cut there (the stop string is not part of it). */
size_t oai_cut_at_stop(const struct gen_params *p, const char *text, size_t len);

#endif
