/* vocab_json.c - a vocabulary from a Hugging Face model directory:
 * tokenizer.json and tokenizer_config.json (doc/formats.md "tokenizer.json"), parsed with
 * libjq's jv.  The result is the same struct vocab a GGUF gives, so the
 * encoders do not care where it came from. */
#include "vocab.h"

#include <errno.h>
#include <jv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "jsonfile.h"
#include "modelpath.h"

/* The Llama 3 and Qwen2 split patterns as tokenizer.json spells them. */
static const char PAT_LLAMA3[] =
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
	"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char PAT_QWEN2[] =
	"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
	"\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* obj[key] as a new reference; invalid if obj is not an object or lacks key. */
static jv get(jv obj, const char *key)
{
	if (jv_get_kind(obj) != JV_KIND_OBJECT)
		return jv_invalid();
	return jv_object_get(jv_copy(obj), jv_string(key));
}

static bool is_kind(jv v, jv_kind k)
{
	return jv_get_kind(v) == k;
}

/* obj[key] is a boolean: its value; else def. */
static bool get_bool(jv obj, const char *key, bool def)
{
	jv v = get(obj, key);
	bool r = is_kind(v, JV_KIND_TRUE) ? true : is_kind(v, JV_KIND_FALSE) ? false : def;
	jv_free(v);
	return r;
}

/* obj[key] is the string s */
static bool str_is(jv obj, const char *key, const char *s)
{
	jv v = get(obj, key);
	bool r = is_kind(v, JV_KIND_STRING) && strcmp(jv_string_value(v), s) == 0;
	jv_free(v);
	return r;
}

/* The text of a token field: a string, or an object with "content". */
static char *token_text(jv v)
{
	char *r = NULL;
	if (is_kind(v, JV_KIND_OBJECT)) {
		jv c = get(v, "content");
		if (is_kind(c, JV_KIND_STRING))
			r = xstrdup(jv_string_value(c));
		jv_free(c);
	} else if (is_kind(v, JV_KIND_STRING)) {
		r = xstrdup(jv_string_value(v));
	}
	return r;
}

/* Which pre-tokenizer a pre_tokenizer node describes, in the names of
 * tokenizer.ggml.pre; NULL if it is not one we implement. */
static const char *pre_name(jv pre, bool *byte_level)
{
	*byte_level = false;
	if (is_kind(pre, JV_KIND_NULL) || !jv_is_valid(pre))
		return "";
	if (str_is(pre, "type", "ByteLevel") && get_bool(pre, "use_regex", true)) {
		*byte_level = true;
		return get_bool(pre, "add_prefix_space", false) ? NULL : "gpt-2";
	}
	if (str_is(pre, "type", "Metaspace"))
		return "";
	/* Gemma 3 as transformers 5 saves it: a split at spaces, which the
	 * normalizer has already made U+2581 (the byte-fallback branch of
	 * load_json requires that Replace): nothing to split */
	if (str_is(pre, "type", "Split") && !get_bool(pre, "invert", false)) {
		jv pat = get(pre, "pattern");
		bool space = str_is(pat, "String", " ");
		jv_free(pat);
		return space ? "" : NULL;
	}
	if (!str_is(pre, "type", "Sequence"))
		return NULL;
	jv list = get(pre, "pretokenizers");
	const char *name = NULL;
	if (is_kind(list, JV_KIND_ARRAY) && jv_array_length(jv_copy(list)) == 2) {
		jv a = jv_array_get(jv_copy(list), 0), b = jv_array_get(jv_copy(list), 1);
		bool bl = str_is(b, "type", "ByteLevel") && !get_bool(b, "add_prefix_space", false);
		if (bl && str_is(a, "type", "Digits") && get_bool(a, "individual_digits", false) &&
		    get_bool(b, "use_regex", true)) {
			name = "smollm";
		} else if (bl && !get_bool(b, "use_regex", true) && str_is(a, "type", "Split") &&
			   str_is(a, "behavior", "Isolated") && !get_bool(a, "invert", false)) {
			jv pat = get(a, "pattern");
			jv re = get(pat, "Regex");
			if (is_kind(re, JV_KIND_STRING)) {
				if (strcmp(jv_string_value(re), PAT_LLAMA3) == 0)
					name = "llama-bpe";
				else if (strcmp(jv_string_value(re), PAT_QWEN2) == 0)
					name = "qwen2";
			}
			jv_free(re);
			jv_free(pat);
		}
		*byte_level = bl;
		jv_free(a);
		jv_free(b);
	}
	jv_free(list);
	return name;
}

/* The post-processor's template: does it put a special token before /
 * after the text?  Sets *bos / *eos to the token text (fresh) or NULL. */
static void template_specials(jv pp, char **bos, char **eos)
{
	if (str_is(pp, "type", "Sequence")) {
		jv list = get(pp, "processors");
		if (is_kind(list, JV_KIND_ARRAY)) {
			int n = jv_array_length(jv_copy(list));
			for (int i = 0; i < n; i++) {
				jv p = jv_array_get(jv_copy(list), i);
				template_specials(p, bos, eos);
				jv_free(p);
			}
		}
		jv_free(list);
		return;
	}
	if (!str_is(pp, "type", "TemplateProcessing"))
		return;
	jv single = get(pp, "single");
	if (is_kind(single, JV_KIND_ARRAY)) {
		int n = jv_array_length(jv_copy(single));
		bool seen_text = false;
		for (int i = 0; i < n; i++) {
			jv item = jv_array_get(jv_copy(single), i);
			jv sp = get(item, "SpecialToken");
			if (jv_is_valid(sp)) {
				jv id = get(sp, "id");
				char **slot = seen_text ? eos : bos;
				if (is_kind(id, JV_KIND_STRING) && !*slot)
					*slot = xstrdup(jv_string_value(id));
				jv_free(id);
			} else if (is_kind(item, JV_KIND_OBJECT) && jv_object_has(jv_copy(item), jv_string("Sequence"))) {
				seen_text = true;
			}
			jv_free(sp);
			jv_free(item);
		}
	}
	jv_free(single);
}

static bool set_token(struct vocab *v, int64_t id, const char *s, size_t len, uint8_t type, struct lmu_err *e)
{
	if (id < 0 || id >= v->n) {
		err_set(e, "token id %lld out of range", (long long)id);
		return false;
	}
	free(v->text[id]);
	v->text[id] = xmalloc(len + 1);
	memcpy(v->text[id], s, len);
	v->text[id][len] = 0;
	v->text_len[id] = (uint32_t)len;
	v->type[id] = type;
	return true;
}

static bool load_merges(struct vocab *v, jv merges, struct lmu_err *e)
{
	int n = jv_array_length(jv_copy(merges));
	size_t total = 0;

	/* first pass: sizes */
	for (int i = 0; i < n; i++) {
		jv m = jv_array_get(jv_copy(merges), i);
		if (is_kind(m, JV_KIND_STRING)) {
			total += (size_t)jv_string_length_bytes(jv_copy(m)) + 1;
		} else if (is_kind(m, JV_KIND_ARRAY) && jv_array_length(jv_copy(m)) == 2) {
			for (int k = 0; k < 2; k++) {
				jv s = jv_array_get(jv_copy(m), k);
				if (!is_kind(s, JV_KIND_STRING)) {
					jv_free(s);
					jv_free(m);
					err_set(e, "merge %d is not a pair of strings", i);
					return false;
				}
				total += (size_t)jv_string_length_bytes(s) + 1;
			}
		} else {
			jv_free(m);
			err_set(e, "merge %d is neither \"a b\" nor [\"a\", \"b\"]", i);
			return false;
		}
		jv_free(m);
	}
	v->n_merges = (uint32_t)n;
	v->merge_pair = xcalloc((size_t)n ? (size_t)n : 1, 2 * sizeof *v->merge_pair);
	v->merge_buf = xmalloc(total + 1);
	char *p = v->merge_buf;
	for (int i = 0; i < n; i++) {
		jv m = jv_array_get(jv_copy(merges), i);
		const char *l, *r;
		size_t ll, rl;
		jv a = jv_invalid(), b = jv_invalid();
		if (is_kind(m, JV_KIND_STRING)) {
			const char *s = jv_string_value(m);
			size_t len = strlen(s);
			const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
			if (!sp) {
				jv_free(m);
				err_set(e, "merge %d has no space between its two tokens", i);
				return false;
			}
			l = s, ll = (size_t)(sp - s), r = sp + 1, rl = len - ll - 1;
		} else {
			a = jv_array_get(jv_copy(m), 0);
			b = jv_array_get(jv_copy(m), 1);
			l = jv_string_value(a), ll = strlen(l);
			r = jv_string_value(b), rl = strlen(r);
		}
		memcpy(p, l, ll);
		v->merge_pair[2 * i] = (struct gguf_str){p, ll};
		p += ll;
		*p++ = 0;
		memcpy(p, r, rl);
		v->merge_pair[2 * i + 1] = (struct gguf_str){p, rl};
		p += rl;
		*p++ = 0;
		jv_free(a);
		jv_free(b);
		jv_free(m);
	}
	return true;
}

/* The id of a special token named by its text (tokenizer_config.json or
 * the post-processor's template), -1 when none is named; a name that is
 * not in the vocabulary is warned about, not silently dropped. */
static int32_t special_id(const struct vocab *v, const char *what, const char *text)
{
	int32_t id = text ? vocab_find(v, text, strlen(text)) : -1;
	char shown[64];

	if (text && id < 0) {
		snprintf(shown, sizeof shown, "%s", text);
		for (char *c = shown; *c; c++)
			if ((unsigned char)*c < 0x20)
				*c = '?';
		warnx_("warning: tokenizer.json: the %s '%s' is not in the vocabulary; using none", what, shown);
	}
	return id;
}

static bool load_json(struct vocab *v, jv tj, jv cfg, uint32_t n_rows, struct lmu_err *e)
{
	jv model = get(tj, "model");
	jv vocab = get(model, "vocab");
	jv merges = get(model, "merges");
	jv added = get(tj, "added_tokens");
	jv pre = get(tj, "pre_tokenizer");
	jv norm = get(tj, "normalizer");
	char *bos = NULL, *eos = NULL;
	bool ok = false, byte_level;
	int64_t max_id = -1;

	if (!str_is(model, "type", "BPE")) {
		err_set(e, "tokenizer.json: model type is not BPE (only BPE models are supported)");
		goto out;
	}
	if (!is_kind(vocab, JV_KIND_OBJECT) || !is_kind(merges, JV_KIND_ARRAY)) {
		err_set(e, "tokenizer.json: model.vocab or model.merges missing");
		goto out;
	}
	const char *name = pre_name(pre, &byte_level);
	if (!name) {
		err_set(e, "tokenizer.json: this pre_tokenizer is not supported (supported: ByteLevel, "
			   "Digits+ByteLevel, Split with the Llama 3 or Qwen2 pattern or at spaces, Metaspace)");
		goto out;
	}
	snprintf(v->pre, sizeof v->pre, "%s", name);
	v->byte_fallback = get_bool(model, "byte_fallback", false);
	v->ignore_merges = get_bool(model, "ignore_merges", false);
	if (byte_level) {
		v->kind = VOCAB_BPE;
		v->nfc = str_is(norm, "type", "NFC");
		if (!v->nfc && !is_kind(norm, JV_KIND_NULL) && jv_is_valid(norm)) {
			err_set(e, "tokenizer.json: this normalizer is not supported with a byte-level model (NFC is)");
			goto out;
		}
	} else if (v->byte_fallback) {
		/* SentencePiece-style: the normalizer turns spaces into U+2581;
		 * a Prepend step or a Metaspace pre-tokenizer adds the dummy prefix */
		v->kind = VOCAB_SPM;
		char *txt = NULL;
		jv dump = jv_dump_string(jv_copy(norm), 0);
		txt = xstrdup(jv_string_value(dump));
		jv_free(dump);
		bool meta = str_is(pre, "type", "Metaspace");
		if (meta && get_bool(pre, "split", false)) {
			free(txt);
			err_set(e, "tokenizer.json: Metaspace with split is not supported");
			goto out;
		}
		if (strstr(txt, "\"Prepend\"")) {
			v->add_space_prefix = true;
			v->prefix_rule = PREFIX_PREPEND;
		} else if (meta && !str_is(pre, "prepend_scheme", "never")) {
			v->add_space_prefix = true;
			v->prefix_rule = str_is(pre, "prepend_scheme", "always") ? PREFIX_EACH : PREFIX_FIRST;
		}
		bool replaces = strstr(txt, "\"Replace\"") != NULL || str_is(pre, "type", "Metaspace");
		free(txt);
		if (!replaces) {
			err_set(e, "tokenizer.json: byte-fallback BPE without a space-to-U+2581 step is not supported");
			goto out;
		}
	} else {
		err_set(e, "tokenizer.json: neither a byte-level nor a byte-fallback BPE model");
		goto out;
	}

	int64_t n_entries = 0;
	jv_object_foreach(vocab, key, val) {
		if (is_kind(val, JV_KIND_NUMBER) && jv_number_value(val) > max_id)
			max_id = (int64_t)jv_number_value(val);
		n_entries++;
		jv_free(key);
		jv_free(val);
	}
	int n_added = is_kind(added, JV_KIND_ARRAY) ? jv_array_length(jv_copy(added)) : 0;
	for (int i = 0; i < n_added; i++) {
		jv t = jv_array_get(jv_copy(added), i);
		jv id = get(t, "id");
		if (is_kind(id, JV_KIND_NUMBER) && jv_number_value(id) > max_id)
			max_id = (int64_t)jv_number_value(id);
		jv_free(id);
		jv_free(t);
	}
	n_entries += n_added;
	if (max_id < 0 || max_id >= INT32_MAX) {
		err_set(e, "tokenizer.json: empty vocabulary or ids out of range");
		goto out;
	}
	/* ids are dense in real files; a few holes are tolerated, a huge id
	 * that would make us allocate for nothing is not */
	if (max_id >= n_entries + 4096) {
		err_set(e, "tokenizer.json: id %lld with only %lld tokens: ids are not dense", (long long)max_id,
			(long long)n_entries);
		goto out;
	}
	if (n_rows > (uint64_t)max_id + 1 + (1u << 18)) {
		err_set(e, "config.json: vocab_size %u is far above the tokenizer's %lld tokens", n_rows,
			(long long)max_id + 1);
		goto out;
	}
	v->n = (uint32_t)max_id + 1 > n_rows ? (uint32_t)max_id + 1 : n_rows;
	vocab_alloc_tokens(v);
	for (uint32_t i = 0; i < v->n; i++) {
		char pad[24];
		/* ids past the tokenizer's, up to the embedding's rows, are
		 * unused tokens, as llama.cpp's converter pads them */
		snprintf(pad, sizeof pad, "[PAD%u]", i);
		if (!set_token(v, i, i > max_id ? pad : "", i > max_id ? strlen(pad) : 0, TOKEN_UNUSED, e))
			goto out;
	}
	jv_object_foreach(vocab, key, val) {
		bool good = is_kind(val, JV_KIND_NUMBER) && jv_number_value(val) >= 0 &&
			    jv_number_value(val) == (double)(int64_t)jv_number_value(val);
		if (good) {
			const char *s = jv_string_value(key);
			uint8_t type = TOKEN_NORMAL;
			unsigned hx;
			if (v->kind == VOCAB_SPM && strlen(s) == 6 && sscanf(s, "<0x%2X>", &hx) == 1)
				type = TOKEN_BYTE;
			good = set_token(v, (int64_t)jv_number_value(val), s, strlen(s), type, e);
		}
		jv_free(key);
		jv_free(val);
		if (!good) {
			if (!e->msg[0])
				err_set(e, "tokenizer.json: a vocabulary id is not a number");
			goto out;
		}
	}
	for (int i = 0; i < n_added; i++) {
		jv t = jv_array_get(jv_copy(added), i);
		jv id = get(t, "id"), content = get(t, "content");
		bool good = is_kind(id, JV_KIND_NUMBER) && is_kind(content, JV_KIND_STRING);
		if (good) {
			const char *s = jv_string_value(content);
			good = set_token(v, (int64_t)jv_number_value(id), s, strlen(s),
					 get_bool(t, "special", false) ? TOKEN_CONTROL : TOKEN_USER_DEFINED, e);
		}
		jv_free(id);
		jv_free(content);
		jv_free(t);
		if (!good) {
			err_set(e, "tokenizer.json: added token %d is malformed", i);
			goto out;
		}
	}
	if (!load_merges(v, merges, e))
		goto out;

	/* special ids and flags: tokenizer_config.json, else the template of
	 * the post-processor (Llama 3 adds <|begin_of_text|> there) */
	jv pp = get(tj, "post_processor");
	template_specials(pp, &bos, &eos);
	jv_free(pp);
	v->add_bos = bos != NULL;
	v->add_eos = eos != NULL;
	v->add_bos = get_bool(cfg, "add_bos_token", v->add_bos);
	v->add_eos = get_bool(cfg, "add_eos_token", v->add_eos);
	{
		jv b = get(cfg, "bos_token"), x = get(cfg, "eos_token"), u = get(cfg, "unk_token"),
		   p = get(cfg, "pad_token");
		char *bs = token_text(b), *es = token_text(x), *us = token_text(u), *ps = token_text(p);
		if (bs) {
			free(bos);
			bos = bs;
		}
		if (es) {
			free(eos);
			eos = es;
		}
		v->bos = special_id(v, "bos_token", bos);
		v->eos = special_id(v, "eos_token", eos);
		v->unk = special_id(v, "unk_token", us);
		v->pad = special_id(v, "pad_token", ps);
		v->eot = -1;
		free(us);
		free(ps);
		jv_free(b);
		jv_free(x);
		jv_free(u);
		jv_free(p);
	}
	if (v->unk < 0) {
		jv u = get(model, "unk_token");
		if (is_kind(u, JV_KIND_STRING))
			v->unk = vocab_find(v, jv_string_value(u), strlen(jv_string_value(u)));
		jv_free(u);
	}
	if (v->add_bos && v->bos < 0) {
		err_set(e, "the model adds a BOS token but names none that is in the vocabulary");
		goto out;
	}
	if (v->add_eos && v->eos < 0) {
		err_set(e, "the model adds an EOS token but names none that is in the vocabulary");
		goto out;
	}
	/* chat_template: a string, or a list of {name, template} (take "default") */
	{
		jv ct = get(cfg, "chat_template");
		if (is_kind(ct, JV_KIND_STRING)) {
			v->chat_template = xstrdup(jv_string_value(ct));
		} else if (is_kind(ct, JV_KIND_ARRAY)) {
			int n = jv_array_length(jv_copy(ct));
			for (int i = 0; i < n && !v->chat_template; i++) {
				jv item = jv_array_get(jv_copy(ct), i);
				jv tp = get(item, "template");
				if (str_is(item, "name", "default") && is_kind(tp, JV_KIND_STRING))
					v->chat_template = xstrdup(jv_string_value(tp));
				jv_free(tp);
				jv_free(item);
			}
		}
		jv_free(ct);
	}
	v->from_json = true;
	ok = true;
out:
	free(bos);
	free(eos);
	jv_free(model);
	jv_free(vocab);
	jv_free(merges);
	jv_free(added);
	jv_free(pre);
	jv_free(norm);
	return ok;
}

bool vocab_load_dir(struct vocab *v, const char *dir, struct lmu_err *e)
{
	char path[4096];
	size_t len;
	jv tj, cfg = jv_null();
	bool ok;

	memset(v, 0, sizeof *v);
	vocab_init_byte_map();
	snprintf(path, sizeof path, "%s/tokenizer.json", dir);
	tj = json_file(path, e);
	if (!jv_is_valid(tj))
		return false;
	snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
	struct stat st;
	if (stat(path, &st) == 0) {
		jv_free(cfg);
		cfg = json_file(path, e);
		if (!jv_is_valid(cfg)) {
			jv_free(tj);
			return false;
		}
	}
	/* the rows of the model's embedding, when config.json says */
	uint32_t n_rows = 0;
	snprintf(path, sizeof path, "%s/config.json", dir);
	if (stat(path, &st) == 0) {
		struct lmu_err ignored;
		jv mc = json_file(path, &ignored), tc = get(mc, "text_config");
		jv vs = get(is_kind(tc, JV_KIND_OBJECT) ? tc : mc, "vocab_size");
		if (is_kind(vs, JV_KIND_NUMBER) && jv_number_value(vs) >= 1 && jv_number_value(vs) < INT32_MAX)
			n_rows = (uint32_t)jv_number_value(vs);
		jv_free(vs);
		jv_free(tc);
		jv_free(mc);
	}
	ok = load_json(v, tj, cfg, n_rows, e);
	jv_free(tj);
	jv_free(cfg);
	/* newer repositories keep the template in its own file */
	snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
	if (ok && !v->chat_template && stat(path, &st) == 0) {
		if (!(v->chat_template = file_read(path, JSON_MAX_SIZE, &len, e)))
			ok = false;
	}
	if (!ok) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s", e->msg);
		err_set(e, "%s: %s", dir, msg);
		vocab_free(v);
		return false;
	}
	vocab_finish(v);
	return true;
}

void vocab_open_or_die(struct vocab *v, const char *model, struct gguf **g)
{
	struct lmu_err e = {{0}};
	struct model_loc loc;

	*g = NULL;
	model_locate(model, &loc);
	if (loc.dir) {
		if (!vocab_load_dir(v, loc.dir, &e))
			die("%s", e.msg);
	} else {
		*g = gguf_open_or_die(loc.gguf);
		if (!vocab_load_gguf(v, *g, &e))
			die("%s", e.msg);
	}
	model_loc_free(&loc);
}
