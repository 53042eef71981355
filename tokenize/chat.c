/* chat.c - chat messages from JSON, template families, and the text a new
 * turn appends (see chat.h).  The renderer itself is in chat_jinja.c. */
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "chat.h"
#include "err.h"
#include "vocab.h"

void chat_msgs_free(struct chat_msg *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++) {
		free(m[i].role);
		free(m[i].content);
	}
	free(m);
}

/* A copy of a jv string (consumed); NULL (with e set) if it holds a NUL byte, which
 * a C string cannot carry. */
static char *jv_strdup(jv s, const char *what, size_t idx, struct lmu_err *e)
{
	int len = jv_string_length_bytes(jv_copy(s));
	const char *p = jv_string_value(s);
	if (memchr(p, 0, (size_t)len)) {
		err_set(e, "messages[%zu]: %s contains a NUL character", idx, what);
		jv_free(s);
		return NULL;
	}
	char *r = xmalloc((size_t)len + 1);
	memcpy(r, p, (size_t)len);
	r[len] = 0;
	jv_free(s);
	return r;
}

/* The content of message idx: a string, null (NULL, no error) or an array
 * of text parts.  Sets *bad on error. */
static char *content_of(jv c, size_t idx, int *bad, struct lmu_err *e)
{
	jv_kind k = jv_get_kind(c);
	if (k == JV_KIND_NULL) {
		jv_free(c);
		return NULL;
	}
	if (k == JV_KIND_STRING) {
		char *s = jv_strdup(c, "content", idx, e);
		*bad = !s;
		return s;
	}
	if (k != JV_KIND_ARRAY) {
		err_set(e, "messages[%zu]: content must be a string, null or an array of parts, not %s", idx,
		        jv_kind_name(k));
		jv_free(c);
		*bad = 1;
		return NULL;
	}
	size_t cap = 64, n = 0;
	char *buf = xmalloc(cap);
	buf[0] = 0;
	int np = jv_array_length(jv_copy(c));
	for (int i = 0; i < np; i++) {
		jv part = jv_array_get(jv_copy(c), i);
		jv type = jv_get_kind(part) == JV_KIND_OBJECT ? jv_object_get(jv_copy(part), jv_string("type"))
		                                              : jv_invalid();
		jv text = jv_get_kind(part) == JV_KIND_OBJECT ? jv_object_get(jv_copy(part), jv_string("text"))
		                                              : jv_invalid();
		int ok = jv_get_kind(part) == JV_KIND_OBJECT && jv_get_kind(type) == JV_KIND_STRING &&
		         !strcmp(jv_string_value(type), "text") && jv_get_kind(text) == JV_KIND_STRING;
		if (!ok) {
			if (jv_get_kind(type) == JV_KIND_STRING)
				err_set(e, "messages[%zu]: content part %d: type '%.40s' is not supported (only \"text\")",
				        idx, i, jv_string_value(type));
			else
				err_set(e, "messages[%zu]: content part %d must be {\"type\":\"text\",\"text\":\"...\"}", idx, i);
			jv_free(type);
			jv_free(text);
			jv_free(part);
			jv_free(c);
			free(buf);
			*bad = 1;
			return NULL;
		}
		char *t = jv_strdup(jv_copy(text), "content text", idx, e);
		jv_free(type);
		jv_free(text);
		jv_free(part);
		if (!t) {
			jv_free(c);
			free(buf);
			*bad = 1;
			return NULL;
		}
		size_t tl = strlen(t);
		if (n + tl + 1 > cap) {
			while (n + tl + 1 > cap)
				cap *= 2;
			buf = xrealloc(buf, cap);
		}
		memcpy(buf + n, t, tl + 1);
		n += tl;
		free(t);
	}
	jv_free(c);
	return buf;
}

struct chat_msg *chat_parse_json(const char *json, size_t len, size_t *n, struct lmu_err *e)
{
	*n = 0;
	if (len > (size_t)1 << 30) {
		err_set(e, "messages: JSON larger than 1 GiB");
		return NULL;
	}
	jv root = jv_parse_sized(json, (int)len);
	if (!jv_is_valid(root)) {
		jv msg = jv_invalid_get_msg(root);
		const char *m = jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "parse error";
		/* jq quotes the whole input after the position: leave that out */
		const char *quote = strstr(m, " (while parsing");
		err_set(e, "messages: invalid JSON: %.*s", quote ? (int)(quote - m) : 200, m);
		jv_free(msg);
		return NULL;
	}
	jv list;
	if (jv_get_kind(root) == JV_KIND_OBJECT) {
		list = jv_object_get(jv_copy(root), jv_string("messages"));
		if (jv_get_kind(list) != JV_KIND_ARRAY) {
			err_set(e, "messages: the object has no \"messages\" array");
			jv_free(list);
			jv_free(root);
			return NULL;
		}
	} else if (jv_get_kind(root) == JV_KIND_ARRAY) {
		list = jv_copy(root);
	} else {
		err_set(e, "messages: expected an array of messages or an object with \"messages\", got %s",
		        jv_kind_name(jv_get_kind(root)));
		jv_free(root);
		return NULL;
	}
	jv_free(root);
	int count = jv_array_length(jv_copy(list));
	struct chat_msg *m = xcalloc((size_t)count + 1, sizeof *m);
	size_t got = 0;
	for (int i = 0; i < count; i++) {
		jv item = jv_array_get(jv_copy(list), i);
		int bad = 0;
		if (jv_get_kind(item) != JV_KIND_OBJECT) {
			err_set(e, "messages[%d]: expected an object, got %s", i, jv_kind_name(jv_get_kind(item)));
			bad = 1;
		} else {
			jv role = jv_object_get(jv_copy(item), jv_string("role"));
			if (jv_get_kind(role) != JV_KIND_STRING || jv_string_length_bytes(jv_copy(role)) == 0) {
				err_set(e, "messages[%d]: \"role\" must be a non-empty string", i);
				bad = 1;
				jv_free(role);
			} else {
				m[i].role = jv_strdup(role, "role", (size_t)i, e);
				bad = !m[i].role;
			}
			if (!bad) {
				jv c = jv_object_has(jv_copy(item), jv_string("content"))
				           ? jv_object_get(jv_copy(item), jv_string("content")) : jv_null();
				m[i].content = content_of(c, (size_t)i, &bad, e);
			}
		}
		jv_free(item);
		got = (size_t)i + 1;
		if (bad) {
			jv_free(list);
			chat_msgs_free(m, got);
			return NULL;
		}
	}
	jv_free(list);
	*n = (size_t)count;
	return m;
}

const char *chat_template_family(const char *tmpl)
{
	if (!tmpl)
		return "unknown";
	if (strstr(tmpl, "<|im_start|>"))
		return "chatml";
	if (strstr(tmpl, "<start_of_turn>"))
		return "gemma";
	if (strstr(tmpl, "<|start_header_id|>"))
		return "llama3";
	if (strstr(tmpl, "<<SYS>>"))
		return "llama2";
	if (strstr(tmpl, "[INST]"))
		return "mistral";
	return "unknown";
}

/* Gemma's turns: <start_of_turn>user or model, the text trimmed,
 * <end_of_turn>; a system message goes in front of the first user turn;
 * the roles must alternate, beginning with the user. */
static const char gemma_template[] =
	"{{- bos_token -}}\n"
	"{%- if messages[0]['role'] == 'system' -%}\n"
	"{%- set sys = messages[0]['content'] + '\\n\\n' -%}\n"
	"{%- set turns = messages[1:] -%}\n"
	"{%- else -%}\n"
	"{%- set sys = '' -%}\n"
	"{%- set turns = messages -%}\n"
	"{%- endif -%}\n"
	"{%- for m in turns -%}\n"
	"{%- if (m['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
	"{{- raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') -}}\n"
	"{%- endif -%}\n"
	"{{- '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\\n' -}}\n"
	"{%- if loop.first -%}{{- sys -}}{%- endif -%}\n"
	"{{- m['content'] | trim -}}\n"
	"{{- '<end_of_turn>\\n' -}}\n"
	"{%- endfor -%}\n"
	"{%- if add_generation_prompt -%}{{- '<start_of_turn>model\\n' -}}{%- endif -%}\n";

const char *chat_builtin_template(const char *arch)
{
	static const struct { const char *arch, *tmpl; } builtin[] = {
		{"gemma3", gemma_template},
	};
	for (size_t i = 0; arch && i < sizeof builtin / sizeof *builtin; i++)
		if (strcmp(arch, builtin[i].arch) == 0)
			return builtin[i].tmpl;
	return NULL;
}

const char *chat_template_of(const struct vocab *v, const char *name)
{
	const char *tmpl = v->chat_template;

	if (!tmpl && (tmpl = chat_builtin_template(v->arch)))
		warnx_("%s: the model has no chat template: using the built-in one of %s", name, v->arch);
	return tmpl;
}

char *chat_render_append(const char *tmpl, const struct chat_msg *msgs, size_t n_msgs, size_t n_new,
                         bool add_generation_prompt, const char *bos_token, const char *eos_token, struct lmu_err *e)
{
	if (n_new == 0 || n_new > n_msgs) {
		err_set(e, "chat: %zu new messages out of %zu", n_new, n_msgs);
		return NULL;
	}
	char *full = chat_render(tmpl, msgs, n_msgs, add_generation_prompt, bos_token, eos_token, e);
	if (!full || n_new == n_msgs)
		return full;
	struct lmu_err he;
	char *head = chat_render(tmpl, msgs, n_msgs - n_new, false, bos_token, eos_token, &he);
	if (!head) {
		err_set(e, "chat: cannot render the %zu earlier messages alone: %.180s", n_msgs - n_new, he.msg);
		free(full);
		return NULL;
	}
	size_t hl = strlen(head);
	if (strncmp(full, head, hl) != 0) {
		size_t at = 0;
		while (full[at] == head[at])
			at++;
		err_set(e, "chat: this template rewrites earlier turns (the conversation so far is not a prefix of "
		           "the new rendering; they differ at byte %zu): the whole conversation must be "
		           "evaluated again", at);
		free(full);
		free(head);
		return NULL;
	}
	memmove(full, full + hl, strlen(full + hl) + 1);
	free(head);
	return full;
}
