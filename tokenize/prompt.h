/* prompt.h - the ids of a prompt as a model is given it: a conversation
 * rendered with the model's chat template, or a text to complete.  The
 * same rules as tok-encode --chat and tok-encode: a chat is rendered the
 * way transformers' apply_chat_template does and encoded with special
 * tokens parsed and no BOS/EOS added (the template writes them); a text is
 * plain text (special-looking text stays text) with the BOS the model
 * adds.  For lm-batch and lm-serve.  Nothing here exits: errors go to e. */
#ifndef LMU_PROMPT_H
#define LMU_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat.h"
#include "err.h"
#include "tokenizer.h"

/* Append the ids of the conversation msgs[0..n), with the assistant's
 * generation prompt, to out (chat_encode).  tmpl: the template (NULL: the
 * model's, else its architecture's built-in one). */
bool prompt_chat(struct tokenizer *t, const char *tmpl, const struct chat_msg *msgs, size_t n, struct ids *out,
		 struct lmu_err *e);

/* Append the ids of text[0..len) (UTF-8; ill-formed bytes become U+FFFD)
 * to out, after the model's BOS if it adds one. */
bool prompt_text(struct tokenizer *t, const char *text, size_t len, struct ids *out, struct lmu_err *e);

#endif
