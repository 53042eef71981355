/* chat.h - chat templates: render a conversation with the model's own
 * template (tokenizer.chat_template), the way Hugging Face transformers'
 * apply_chat_template(tokenize=False) does.
 *
 * The renderer (chat_jinja.c) implements the subset of Jinja2 that real
 * chat templates use, with the environment transformers sets up:
 * trim_blocks and lstrip_blocks on, a single trailing newline of the
 * template dropped, loop controls (break/continue), macros, raw and
 * filter blocks, the {% generation %} block, and the globals raise_exception(),
 * strftime_now(), namespace(), range() and dict().  Variables: messages (list of {role, content}),
 * add_generation_prompt, bos_token, eos_token (undefined when NULL),
 * tools = none, documents = none.
 *
 * Whatever the renderer does not implement (call blocks, includes, an
 * unknown filter, test or method, Python repr of non-ASCII text, case mapping of
 * non-ASCII text...) is an error that names the construct and its line and
 * column in the template: never a silently different rendering.
 *
 * Hostile templates are bounded: nesting depth (CHAT_MAX_DEPTH), output
 * size (CHAT_MAX_OUTPUT), evaluation steps (CHAT_MAX_STEPS) and working
 * memory (CHAT_MAX_MEMORY) each end the render with a clear error.
 *
 * Errors are reported through struct lmu_err; nothing here exits. */
#ifndef LMU_CHAT_H
#define LMU_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define CHAT_MAX_DEPTH 128               /* nested statements / expressions */
#define CHAT_MAX_OUTPUT (16u << 20)      /* bytes of rendered text */
#define CHAT_MAX_STEPS 20000000L         /* evaluation steps */
#define CHAT_MAX_MEMORY (256u << 20)     /* bytes of working memory */

/* One message.  content NULL stands for JSON null (Python None): the
 * message then has no "content" key at all (undefined to the template),
 * because apply_chat_template drops the keys whose value is None. */
struct chat_msg {
	char *role;
	char *content;
};

/* Render the template; returns a malloc'd NUL-terminated string, or NULL
 * with e set.  raise_exception(msg) in the template gives the error
 * "template error: MSG".  bos_token/eos_token are the TEXTS of the model's
 * BOS/EOS tokens (e.g. "<|begin_of_text|>"), as transformers passes them.
 *
 * To get apply_chat_template(tokenize=True)'s ids, encode the result with
 * special tokens parsed (the template writes "<|im_start|>" etc. as text)
 * and WITHOUT adding BOS/EOS: templates that want BOS write bos_token
 * themselves (transformers encodes with add_special_tokens=False). */
char *chat_render(const char *tmpl, const struct chat_msg *msgs, size_t n_msgs,
                  bool add_generation_prompt, const char *bos_token, const char *eos_token,
                  struct lmu_err *e);

/* Parse the template without rendering it (for fuzzing and for early
 * diagnostics): 0 when it parses, -1 with e set otherwise.  A template that
 * parses can still fail at render time (unknown filter, raise_exception). */
int chat_template_check(const char *tmpl, struct lmu_err *e);

/* Parse OpenAI-shaped messages with libjq: either a JSON array of
 * {"role":..,"content":..} objects or an object with a "messages" array.
 * Content may be a string, null, or an array of {"type":"text","text":..}
 * parts (the texts are concatenated; any other part type is an error).
 * Other keys of a message are ignored.  Returns a malloc'd array (free
 * with chat_msgs_free), *n set; NULL + e on error (the message says which
 * element is wrong).  An empty list is valid (*n = 0, a non-NULL array). */
struct chat_msg *chat_parse_json(const char *json, size_t len, size_t *n, struct lmu_err *e);
void chat_msgs_free(struct chat_msg *m, size_t n);

/* Which known family a template belongs to, detected from its text:
 * "chatml" (<|im_start|>: SmolLM2, Qwen), "gemma" (<start_of_turn>),
 * "llama3" (<|start_header_id|>), "llama2" (<<SYS>>), "mistral" ([INST]
 * without <<SYS>>), or "unknown".  NULL gives "unknown". */
const char *chat_template_family(const char *tmpl);

/* A chat template for a model whose file carries none, by architecture
 * (general.architecture): the turn format of its family, rendering what
 * the family's own template renders; NULL if there is none.  (The Gemma 3
 * GGUF files of the base models have no template.) */
const char *chat_builtin_template(const char *arch);

/* The template a conversation with v's model is rendered with: the
 * model's own, else the built-in one of its architecture, said on stderr
 * as "NAME: the model has no chat template: using the built-in one of
 * ARCH" (NAME: the model as the user named it; call it once per model);
 * NULL if there is neither. */
struct vocab;
const char *chat_template_of(const struct vocab *v, const char *name);

/* The text that the last n_new messages append to a conversation of the
 * first n_msgs - n_new messages, for reusing a KV cache:
 *
 *   head = render(msgs[0 .. n_msgs-n_new), add_generation_prompt = false)
 *   full = render(msgs[0 .. n_msgs), add_generation_prompt)
 *
 * The result is full minus head when head is a prefix of full.  When it is
 * not (templates that rewrite earlier turns: Mistral Nemo moves the system
 * prompt into the last user turn, Qwen3 drops the thinking block of
 * assistant turns once a user turn follows, Phi-3.5 ends a conversation
 * without generation prompt with eos_token), the result is NULL with an
 * error saying so: the caller must then re-evaluate the whole
 * conversation.  n_new == n_msgs (nothing before) gives the whole render.
 * n_new must be 1..n_msgs.  Note: the head is rendered without the
 * generation prompt, so with add_generation_prompt the previous turn's
 * prompt header (e.g. "<|im_start|>assistant\n") is NOT part of the head:
 * a caller that fed it to the model must not have done so, or must append
 * the model's reply as an assistant message (which renders it again). */
char *chat_render_append(const char *tmpl, const struct chat_msg *msgs, size_t n_msgs, size_t n_new,
                         bool add_generation_prompt, const char *bos_token, const char *eos_token,
                         struct lmu_err *e);

/* A conversation as token ids, the way transformers'
 * apply_chat_template(tokenize=True) gives them: rendered with tmpl (NULL:
 * the model's own template, else its architecture's built-in one), or only what the last n_new messages append
 * (chat_render_append; 0: the whole conversation), then encoded with the
 * control tokens the template writes parsed and no BOS/EOS added (a
 * template that wants BOS writes bos_token).  The ids are appended to out.
 * False with e set: no template, or the render failed. */
struct tokenizer;
struct ids;
bool chat_encode(struct tokenizer *t, const char *tmpl, const struct chat_msg *msgs, size_t n_msgs, size_t n_new,
		 bool add_generation_prompt, struct ids *out, struct lmu_err *e);

#endif
