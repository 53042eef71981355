/* oai.h - OpenAI-shaped requests and responses: the body of a
 * /v1/chat/completions or /v1/completions request read into what a
 * generation needs (gen.h), and the response body built from what it
 * generated.  The one reader of such bodies, for lm-serve and lm-batch
 * (the Batch API's lines carry them); lm-sample --seq-params and
 * lm-serve's chat settings read the sampling fields with it too.
 *
 * Fields are OpenAI's: model, messages (chat) or prompt (completions: a
 * string, or token ids; either alone in an array), temperature (0 to 2),
 * top_p, presence_penalty and frequency_penalty (-2 to 2, over the ids
 * generated so far), max_tokens or max_completion_tokens (the latter
 * wins), stop (a string or up to 16), seed, n (1), stream,
 * stream_options.include_usage, logprobs and top_logprobs (chat: true and
 * 0 to 20; completions: logprobs 0 to 5), echo (completions), best_of (1),
 * response_format (text, json_object, json_schema); also top_k, min_p and
 * repeat_penalty (lm-sample's), cache_prompt and ignore_eos (llama.cpp's
 * server's).  What cannot be done (n > 1, suffix, tools, a schema keyword
 * schema.h lacks) is refused, never ignored, so that an answer is never
 * silently other than asked; a program refuses in turn what it does not
 * do (lm-batch: streaming, log-probabilities, echo, token ids).  Unknown fields are ignored, as the API does with
 * the ones it does not use (user, metadata ...).
 *
 * Errors (jreq.h) name the field, the "param" of an OpenAI error body:
 * "temperature: must be a number from 0 to 2". */
#ifndef LMU_OAI_H
#define LMU_OAI_H

#include <stdbool.h>
#include <stdint.h>

#include <jv.h>

#include "chat.h"
#include "gen.h"
#include "jreq.h"
#include "schema.h"

#define OAI_MAX_TOP_LOGPROBS 20

enum oai_kind { OAI_CHAT, OAI_COMPLETION };

struct oai_request {
	enum oai_kind kind;
	char *model;             /* "model", or NULL */
	struct chat_msg *msgs;   /* (n_msgs) OAI_CHAT */
	size_t n_msgs;
	char *prompt;            /* OAI_COMPLETION: the text (prompt_len bytes), or NULL when ids are given */
	size_t prompt_len;
	int32_t *prompt_ids;     /* OAI_COMPLETION: the token ids given instead (n_prompt_ids; not checked
				    against a vocabulary) */
	size_t n_prompt_ids;
	struct gen_params gen;   /* sampling, max_tokens (0: none), stop strings (into held), ignore_eos */
	bool seeded;             /* the body gave a seed (gen.sampler.seed) */
	bool cache_prompt;       /* llama.cpp's: a server may reuse cached rows (default true) */
	bool stream, include_usage;
	int top_logprobs;        /* -1: no log-probabilities; else alternatives per token (0 to 20) */
	bool echo;               /* completions: the prompt first */
	struct schema *schema;   /* response_format json_object, json_schema; NULL: text */
	jv held;                 /* the bodies the stop strings point into */
};

/* The route's kind: "/v1/chat/completions", "/v1/completions"; -1 for any
 * other. */
int oai_kind_of_url(const char *url);

/* OpenAI's defaults: temperature 1, top_p 1, no top-k, min-p or
 * repetition penalty (repeat_penalty 1), penalties over every id
 * generated, seed 0, no max_tokens. */
void oai_defaults(struct gen_params *g);

/* Read a request body (a JSON object) of the given kind over the
 * sampling settings gen (whose stop strings must outlive r).  false with
 * q's error set when a field is missing, of the wrong type, out of range
 * or not supported.  oai_request_free() either way. */
bool oai_request_parse(jv body, enum oai_kind kind, const struct gen_params *gen, struct oai_request *r,
		       struct jreq *q);
void oai_request_free(struct oai_request *r);

/* The sampling fields of obj onto g, keeping what g has for those obj
 * does not give: temperature, top_p, top_k, min_p, presence_penalty,
 * frequency_penalty, repeat_penalty, seed (*seeded, may be NULL: it was
 * given), max_tokens and max_completion_tokens, stop, ignore_eos, n.  The
 * stop strings point into obj: keep it while g is used (gen_new copies
 * them). */
bool oai_sampling(struct jreq *q, jv obj, struct gen_params *g, bool *seeded);
/* The stop strings under key of obj (a string, an array of strings, or
 * null), added to g's; name is the field's path for errors. */
bool oai_stops(struct jreq *q, jv obj, const char *key, const char *name, struct gen_params *g);
/* oai_sampling() of body over r's settings (lm-sample --seq-params over
 * its options); r keeps body. */
bool oai_apply(jv body, struct oai_request *r, struct jreq *q);

/* response_format of body: absent, null or {"type": "text"} leave
 * *schema NULL; {"type": "json_object"} gives schema_json_object();
 * {"type": "json_schema", "json_schema": {"name": ..., "schema": {...},
 * "strict": ..., "description": ...}} the schema compiled (schema.h; no
 * "schema": any JSON value).  The output is held to it whether strict is
 * true or not.  false with q's error naming the field (param
 * "response_format.json_schema.schema" and the schema's own message
 * when the schema uses what schema.h does not support). */
bool oai_response_format(struct jreq *q, jv body, struct schema **schema);

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
