#include "vocab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf_write.h"

/* Byte-level BPE: the 256 code points that stand for the bytes
 * (doc/formats.md "Byte-level BPE"), and the inverse map for decoding. */
static uint32_t byte_to_cp[256];
static int16_t cp_to_byte[324];  /* code points < 0x144 cover the table */

void vocab_init_byte_map(void)
{
	int next = 0x100;
	if (byte_to_cp['!'])
		return;
	for (int b = 0; b < 256; b++) {
		bool direct = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae);
		byte_to_cp[b] = direct ? (uint32_t)b : (uint32_t)next++;
	}
	for (int i = 0; i < 324; i++)
		cp_to_byte[i] = -1;
	for (int b = 0; b < 256; b++)
		cp_to_byte[byte_to_cp[b]] = (int16_t)b;
}

/* Decode one UTF-8 character; return its length, 0 if malformed. */
static int utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	int len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (!len || (size_t)len > n)
		return 0;
	uint32_t c = s[0] & (0x3f >> (len - 1));
	for (int i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	*cp = c;
	return len;
}

/* What a token's text decodes to, written into a fresh buffer. */
static char *decode_text(const struct vocab *v, uint32_t id, uint32_t *out_len)
{
	const unsigned char *s = (const unsigned char *)v->text[id];
	size_t n = v->text_len[id];
	char *out = xmalloc(n + 1);
	size_t o = 0;

	if (v->type[id] == TOKEN_CONTROL || v->type[id] == TOKEN_UNKNOWN || v->type[id] == TOKEN_UNUSED) {
		memcpy(out, s, n);
		*out_len = (uint32_t)n;
		return out;
	}
	if (v->kind == VOCAB_SPM) {
		unsigned hi;
		if (v->type[id] == TOKEN_BYTE && n == 6 && sscanf((const char *)s, "<0x%2X>", &hi) == 1) {
			out[0] = (char)hi;
			*out_len = 1;
			return out;
		}
		for (size_t i = 0; i < n;) {
			if (i + 3 <= n && s[i] == 0xe2 && s[i + 1] == 0x96 && s[i + 2] == 0x81) {
				out[o++] = ' ';
				i += 3;
			} else {
				out[o++] = (char)s[i++];
			}
		}
		*out_len = (uint32_t)o;
		return out;
	}
	/* byte-level BPE: every character stands for one byte; user-defined
	 * tokens added as plain text may not be in the alphabet, keep those */
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		int len = utf8_next(s + i, n - i, &cp);
		if (!len || cp >= 324 || cp_to_byte[cp] < 0) {
			memcpy(out, s, n);
			*out_len = (uint32_t)n;
			return out;
		}
		out[o++] = (char)cp_to_byte[cp];
		i += (size_t)len;
	}
	*out_len = (uint32_t)o;
	return out;
}

static bool is_llama3_pre(const char *pre)
{
	static const char *const names[] = {"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1",
					    "pixtral", "midm-2.0", "lfm2"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(pre, names[i]) == 0)
			return true;
	return false;
}

/* A special id from KEY, DEF when absent.  A value that is no id of the
 * N tokens (too large, negative, not an integer) keeps DEF, as llama.cpp
 * does, but not silently: a model that names a wrong end-of-sequence id
 * would generate without end. */
static int32_t get_id(const struct gguf *g, const char *key, int32_t def, uint32_t n)
{
	uint32_t v;
	int r = gguf_get_u32(g, key, &v);
	char shown[64], fallback[32] = "none";

	if (r == 1 && v < n)
		return (int32_t)v;
	if (r == 0)
		return def;
	gguf_value_format(&gguf_find(g, key)->val, shown, sizeof shown);
	if (def >= 0)
		snprintf(fallback, sizeof fallback, "the default %d", def);
	warnx_("warning: %s: %s is %s, not an id of the %u tokens; using %s", g->path, key, shown, n,
	       fallback);
	return def;
}

static void get_flag(const struct gguf *g, const char *key, bool *flag)
{
	bool b;
	if (gguf_get_bool(g, key, &b) == 1)
		*flag = b;
}

/* ids sorted by text, for many lookups (qsort has no context argument) */
static const struct vocab *sort_vocab;

static int cmp_text(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	uint32_t lx = sort_vocab->text_len[x], ly = sort_vocab->text_len[y];
	int r = memcmp(sort_vocab->text[x], sort_vocab->text[y], lx < ly ? lx : ly);
	return r ? r : (lx > ly) - (lx < ly);
}

void vocab_finish(struct vocab *v)
{
	uint32_t i;

	for (i = 0; i < v->n; i++)
		v->bytes[i] = decode_text(v, i, &v->bytes_len[i]);

	/* end of generation: eos, eot, and the usual end-of-turn tokens */
	static const char *const eog_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
						"<|endoftext|>", "<|eom_id|>", "<EOT>", "<|end_of_text|>"};
	if (v->eos >= 0)
		v->eog[v->eos] = true;
	if (v->eot >= 0)
		v->eog[v->eot] = true;
	for (i = 0; i < v->n; i++)
		for (size_t k = 0; v->type[i] == TOKEN_CONTROL && k < sizeof eog_names / sizeof *eog_names; k++)
			if (v->text_len[i] == strlen(eog_names[k]) && memcmp(v->text[i], eog_names[k], v->text_len[i]) == 0)
				v->eog[i] = true;
}

void vocab_alloc_tokens(struct vocab *v)
{
	v->text = xcalloc(v->n, sizeof *v->text);
	v->text_len = xcalloc(v->n, sizeof *v->text_len);
	v->type = xcalloc(v->n, sizeof *v->type);
	v->bytes = xcalloc(v->n, sizeof *v->bytes);
	v->bytes_len = xcalloc(v->n, sizeof *v->bytes_len);
	v->eog = xcalloc(v->n, sizeof *v->eog);
}

bool vocab_load_gguf(struct vocab *v, const struct gguf *g, struct lmu_err *e)
{
	struct gguf_value tokens, types, scores;
	struct gguf_str_iter it;
	struct gguf_str s;
	uint32_t i;

	memset(v, 0, sizeof *v);
	vocab_init_byte_map();
	if (gguf_get_str(g, "tokenizer.ggml.model", &s) != 1) {
		err_set(e, "%s: no tokenizer (tokenizer.ggml.model missing)", g->path);
		return false;
	}
	if (s.len == 4 && memcmp(s.s, "gpt2", 4) == 0)
		v->kind = VOCAB_BPE;
	else if (s.len == 5 && memcmp(s.s, "llama", 5) == 0)
		v->kind = VOCAB_SPM;
	else {
		err_set(e, "%s: tokenizer model '%.*s' is not supported (supported: gpt2, llama)", g->path,
			(int)(s.len > 40 ? 40 : s.len), s.s);
		return false;
	}
	if (gguf_get_str(g, "tokenizer.ggml.pre", &s) == 1 && s.len < sizeof v->pre)
		memcpy(v->pre, s.s, s.len);
	if (gguf_get_str(g, "general.architecture", &s) == 1 && s.len < sizeof v->arch)
		memcpy(v->arch, s.s, s.len);
	if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &tokens) != 1 || tokens.count == 0 ||
	    tokens.count > INT32_MAX) {
		err_set(e, "%s: tokenizer.ggml.tokens missing or not a non-empty string array", g->path);
		return false;
	}
	v->n = (uint32_t)tokens.count;
	int rt = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_NVTYPES, &types);
	if (rt < 0 || (rt == 1 && (types.count != v->n || (types.elem != GGUF_INT32 && types.elem != GGUF_UINT32)))) {
		err_set(e, "%s: tokenizer.ggml.token_type must be an int32 array of %u elements", g->path, v->n);
		return false;
	}
	int rs = gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_NVTYPES, &scores);
	if (rs < 0 || (rs == 1 && (scores.count != v->n || scores.elem != GGUF_FLOAT32))) {
		err_set(e, "%s: tokenizer.ggml.scores must be a float32 array of %u elements", g->path, v->n);
		return false;
	}
	int rm = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_NVTYPES, &v->merges);
	if (rm < 0 || (rm == 1 && v->merges.elem != GGUF_STRING)) {
		err_set(e, "%s: tokenizer.ggml.merges must be a string array", g->path);
		return false;
	}
	if (rm == 1 && v->merges.count > INT32_MAX) {
		err_set(e, "%s: too many merges", g->path);
		return false;
	}
	v->n_merges = rm == 1 ? (uint32_t)v->merges.count : 0;
	if (v->n_merges) {
		/* split "left right" at the first space at position >= 1
		 * (doc/formats.md "Tokenizer keys"); pointers stay in the GGUF map */
		v->merge_pair = xcalloc(v->n_merges, 2 * sizeof *v->merge_pair);
		gguf_str_iter_init(&it, &v->merges);
		for (i = 0; gguf_str_iter_next(&it, &s); i++) {
			const char *sp = s.len > 1 ? memchr(s.s + 1, ' ', s.len - 1) : NULL;
			if (!sp) {
				err_set(e, "%s: merge %u has no space between its two tokens", g->path, i);
				free(v->merge_pair);
				v->merge_pair = NULL;
				return false;
			}
			v->merge_pair[2 * i] = (struct gguf_str){s.s, (uint64_t)(sp - s.s)};
			v->merge_pair[2 * i + 1] = (struct gguf_str){sp + 1, s.len - (uint64_t)(sp - s.s) - 1};
		}
	}

	vocab_alloc_tokens(v);
	if (rs == 1)
		v->score = xcalloc(v->n, sizeof *v->score);
	gguf_str_iter_init(&it, &tokens);
	for (i = 0; gguf_str_iter_next(&it, &s); i++) {
		if (s.len > UINT32_MAX / 2) {
			err_set(e, "%s: token %u is too long", g->path, i);
			vocab_free(v);
			return false;
		}
		v->text[i] = xmalloc(s.len + 1);
		memcpy(v->text[i], s.s, s.len);
		v->text[i][s.len] = 0;
		v->text_len[i] = (uint32_t)s.len;
		int64_t t = TOKEN_NORMAL;
		double sc;
		if (rt == 1 && (!gguf_arr_i64(&types, i, &t) || t < 0 || t > TOKEN_BYTE)) {
			err_set(e, "%s: token %u has an invalid token type", g->path, i);
			vocab_free(v);
			return false;
		}
		v->type[i] = (uint8_t)t;
		if (v->score && gguf_arr_f64(&scores, i, &sc))
			v->score[i] = (float)sc;
	}
	v->byte_fallback = v->kind == VOCAB_SPM;
	/* llama.cpp emits a whole pre-token found in the vocabulary for the
	 * Llama 3 family (doc/formats.md "Byte-level BPE") */
	v->ignore_merges = v->kind == VOCAB_BPE && is_llama3_pre(v->pre);
	/* Qwen2's own tokenizer.json puts the text in NFC before splitting; the
	 * GGUF keeps no normalizer, and transformers' GGUF loader and llama.cpp
	 * leave it out, so that a text NFC changes (e + U+0301) got other ids
	 * than the model's tokenizer gives */
	v->nfc = v->kind == VOCAB_BPE && strcmp(v->pre, "qwen2") == 0;

	/* special ids: defaults as llama.cpp applies them (doc/formats.md "Tokenizer keys") */
	if (v->kind == VOCAB_SPM) {
		v->bos = 1 < v->n ? 1 : -1;
		v->eos = 2 < v->n ? 2 : -1;
		v->unk = 0;
		v->add_bos = true;
		v->add_space_prefix = true;
	} else {
		v->bos = v->eos = 11 < v->n ? 11 : -1;
		v->unk = -1;
		v->add_bos = is_llama3_pre(v->pre) || strcmp(v->pre, "tekken") == 0 ||
			     strcmp(v->pre, "chameleon") == 0;
	}
	v->eot = -1;
	v->pad = -1;
	v->bos = get_id(g, "tokenizer.ggml.bos_token_id", v->bos, v->n);
	v->eos = get_id(g, "tokenizer.ggml.eos_token_id", v->eos, v->n);
	v->eot = get_id(g, "tokenizer.ggml.eot_token_id", v->eot, v->n);
	v->unk = get_id(g, "tokenizer.ggml.unknown_token_id", v->unk, v->n);
	v->pad = get_id(g, "tokenizer.ggml.padding_token_id", v->pad, v->n);
	get_flag(g, "tokenizer.ggml.add_bos_token", &v->add_bos);
	get_flag(g, "tokenizer.ggml.add_eos_token", &v->add_eos);
	get_flag(g, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix);

	v->chat_template = gguf_get_strdup(g, "tokenizer.chat_template");
	vocab_finish(v);
	return true;
}

int32_t vocab_find(const struct vocab *v, const char *s, size_t len)
{
	for (uint32_t i = 0; i < v->n; i++)
		if (v->text_len[i] == len && memcmp(v->text[i], s, len) == 0)
			return (int32_t)i;
	return -1;
}

static uint32_t *sorted_ids(const struct vocab *v)
{
	uint32_t *sorted = xcalloc(v->n, sizeof *sorted);
	for (uint32_t i = 0; i < v->n; i++)
		sorted[i] = i;
	sort_vocab = v;
	qsort(sorted, v->n, sizeof *sorted, cmp_text);
	sort_vocab = NULL;
	return sorted;
}

/* vocab_find through sorted_ids' index: O(log n) */
static int32_t find_sorted(const struct vocab *v, const uint32_t *sorted, const char *s, size_t len)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint32_t id = sorted[mid], l = v->text_len[id];
		int r = memcmp(v->text[id], s, l < len ? l : len);
		if (!r)
			r = (l > len) - (l < len);
		if (r == 0)
			return (int32_t)id;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

bool vocab_merge(const struct vocab *v, uint32_t i, struct gguf_str *left, struct gguf_str *right)
{
	if (i >= v->n_merges || !v->merge_pair)
		return false;
	*left = v->merge_pair[2 * i];
	*right = v->merge_pair[2 * i + 1];
	return true;
}

bool vocab_is_special(const struct vocab *v, int32_t id)
{
	return v->type[id] == TOKEN_CONTROL || v->type[id] == TOKEN_UNKNOWN || v->type[id] == TOKEN_UNUSED;
}

void vocab_free(struct vocab *v)
{
	for (uint32_t i = 0; v->text && i < v->n; i++) {
		free(v->text[i]);
		if (v->bytes)
			free(v->bytes[i]);
	}
	free(v->text);
	free(v->text_len);
	free(v->type);
	free(v->score);
	free(v->bytes);
	free(v->bytes_len);
	free(v->eog);
	free(v->merge_pair);
	free(v->merge_buf);
	free(v->chat_template);
	memset(v, 0, sizeof *v);
}

void vocab_write_gguf(const struct vocab *v, uint32_t n_rows, struct gguf_writer *w)
{
	uint32_t n = n_rows > v->n ? n_rows : v->n;
	char **text = xcalloc(n, sizeof *text);
	int32_t *type = xcalloc(n, sizeof *type);

	gguf_w_str(w, "tokenizer.ggml.model", v->kind == VOCAB_BPE ? "gpt2" : "llama");
	gguf_w_str(w, "tokenizer.ggml.pre", v->pre[0] ? v->pre : "default");
	for (uint32_t i = 0; i < n; i++) {
		if (i < v->n) {
			text[i] = v->text[i];
			type[i] = v->type[i] ? v->type[i] : TOKEN_NORMAL;
		} else {
			text[i] = xmalloc(24);
			snprintf(text[i], 24, "[PAD%u]", i);
			type[i] = TOKEN_UNUSED;
		}
	}
	gguf_w_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)text, n);
	gguf_w_arr(w, "tokenizer.ggml.token_type", GGUF_INT32, type, n);
	if (v->kind == VOCAB_BPE && v->n_merges) {
		char **m = xcalloc(v->n_merges, sizeof *m);
		for (uint32_t i = 0; i < v->n_merges; i++) {
			struct gguf_str l = {"", 0}, r = {"", 0};
			vocab_merge(v, i, &l, &r);
			m[i] = xmalloc(l.len + r.len + 2);
			memcpy(m[i], l.s, l.len);
			m[i][l.len] = ' ';
			memcpy(m[i] + l.len + 1, r.s, r.len);
			m[i][l.len + 1 + r.len] = 0;
		}
		gguf_w_arr_str(w, "tokenizer.ggml.merges", (const char *const *)m, v->n_merges);
		for (uint32_t i = 0; i < v->n_merges; i++)
			free(m[i]);
		free(m);
	}
	if (v->kind == VOCAB_SPM) {
		float *score = xcalloc(n, sizeof *score);
		for (uint32_t i = 0; i < n; i++)
			score[i] = i < v->n && v->score ? v->score[i] : -(float)v->n_merges - 1;
		uint32_t *sorted = v->score ? NULL : sorted_ids(v);
		if (!v->score)
			for (uint32_t i = v->n_merges; i-- > 0;) {  /* the best rank wins */
				struct gguf_str l, r;
				char buf[512];
				if (!vocab_merge(v, i, &l, &r) || l.len + r.len >= sizeof buf)
					continue;
				memcpy(buf, l.s, l.len);
				memcpy(buf + l.len, r.s, r.len);
				int32_t id = find_sorted(v, sorted, buf, l.len + r.len);
				if (id >= 0)
					score[id] = -(float)i;
			}
		free(sorted);
		gguf_w_arr(w, "tokenizer.ggml.scores", GGUF_FLOAT32, score, n);
		gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix);
		free(score);
	}
	static const char *const keys[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
					   "tokenizer.ggml.eot_token_id", "tokenizer.ggml.unknown_token_id",
					   "tokenizer.ggml.padding_token_id"};
	const int32_t ids[] = {v->bos, v->eos, v->eot, v->unk, v->pad};
	for (int k = 0; k < 5; k++)
		if (ids[k] >= 0)
			gguf_w_u32(w, keys[k], (uint32_t)ids[k]);
	gguf_w_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos);
	gguf_w_bool(w, "tokenizer.ggml.add_eos_token", v->add_eos);
	if (v->chat_template)
		gguf_w_str(w, "tokenizer.chat_template", v->chat_template);
	for (uint32_t i = v->n; i < n; i++)
		free(text[i]);
	free(text);
	free(type);
}
