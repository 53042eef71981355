/* prompt.c - see prompt.h. */
#include "prompt.h"

#include <stdlib.h>
#include <string.h>

#include "unicode.h"

bool prompt_chat(struct tokenizer *t, const char *tmpl, const struct chat_msg *msgs, size_t n, struct ids *out,
		 struct lmu_err *e)
{
	if (n == 0) {
		err_set(e, "no messages");
		return false;
	}
	return chat_encode(t, tmpl, msgs, n, 0, true, out, e);
}

bool prompt_text(struct tokenizer *t, const char *text, size_t len, struct ids *out, struct lmu_err *e)
{
	const struct vocab *v = tokenizer_vocab(t);
	size_t clean_len;

	if (len > (1u << 30)) {  /* offsets inside the encoder are 32-bit */
		err_set(e, "a prompt of %zu bytes is larger than 1 GiB", len);
		return false;
	}
	char *clean = utf8_repair(text, len, &clean_len, NULL);
	if (v->add_bos && v->bos >= 0)
		ids_push(out, v->bos);
	tokenizer_encode(t, clean, clean_len, false, out);
	free(clean);
	return true;
}
