/* chat_encode.c - a conversation to token ids (see chat.h). */
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "tokenizer.h"
#include "unicode.h"

bool chat_encode(struct tokenizer *t, const char *tmpl, const struct chat_msg *msgs, size_t n_msgs, size_t n_new,
		 bool add_generation_prompt, struct ids *out, struct lmu_err *e)
{
	const struct vocab *v = tokenizer_vocab(t);
	const char *bos = v->bos >= 0 ? v->text[v->bos] : NULL, *eos = v->eos >= 0 ? v->text[v->eos] : NULL;
	char *text;
	size_t len, bad;

	if (!tmpl)
		tmpl = v->chat_template;
	if (!tmpl)
		tmpl = chat_builtin_template(v->arch);
	if (!tmpl) {
		err_set(e, "the model has no chat template");
		return false;
	}
	if (n_new)
		text = chat_render_append(tmpl, msgs, n_msgs, n_new, add_generation_prompt, bos, eos, e);
	else
		text = chat_render(tmpl, msgs, n_msgs, add_generation_prompt, bos, eos, e);
	if (!text)
		return false;
	/* a template is text from the model file: not trusted to be UTF-8 */
	char *clean = utf8_repair(text, strlen(text), &len, &bad);
	free(text);
	tokenizer_encode(t, clean, len, true, out);
	free(clean);
	return true;
}
