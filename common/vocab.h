/* vocab.h - a model's vocabulary: token texts, types, special ids, and the
 * bytes each token stands for.  Shared by tok-encode / tok-decode (which add
 * the encoders in tokenize/), lm-sample (end-of-sequence ids, stop strings)
 * and constrained sampling.  doc/formats.md "Tokenizer keys" and after. */
#ifndef LMU_VOCAB_H
#define LMU_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "gguf.h"

enum vocab_kind { VOCAB_BPE, VOCAB_SPM };  /* tokenizer.ggml.model gpt2 / llama */

enum token_type {  /* tokenizer.ggml.token_type values */
	TOKEN_UNDEFINED = 0, TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3,
	TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5, TOKEN_BYTE = 6,
};

struct vocab {
	enum vocab_kind kind;
	char pre[32];            /* tokenizer.ggml.pre, "" if absent */
	char arch[32];           /* general.architecture, "" if absent (Gemma's SPM ranks differ) */
	uint32_t n;              /* number of tokens */
	char **text;             /* (n) token text as stored, NUL-terminated */
	uint32_t *text_len;      /* (n) */
	uint8_t *type;           /* (n) enum token_type */
	float *score;            /* (n) SPM scores, or NULL */
	char **bytes;            /* (n) what the token decodes to (not NUL-safe: use bytes_len) */
	uint32_t *bytes_len;     /* (n) */
	int32_t bos, eos, eot, unk, pad;  /* -1 if none */
	bool add_bos, add_eos, add_space_prefix;
	/* SPM dummy prefix, when add_space_prefix (Hugging Face's rules):
	 * PREFIX_FIRST  the text at the start of the input, unless it starts
	 *               with a space (Metaspace "first"; how transformers
	 *               reads a GGUF)
	 * PREFIX_EACH   every text fragment between added tokens, unless it
	 *               starts with a space (Metaspace "always")
	 * PREFIX_PREPEND  every fragment, always (a Prepend normalizer) */
	enum { PREFIX_FIRST, PREFIX_EACH, PREFIX_PREPEND } prefix_rule;
	bool *eog;               /* (n) ends generation: eos, eot and the usual end-of-turn tokens */
	uint32_t n_merges;
	struct gguf_value merges;  /* string array, rank = index (BPE); into the GGUF map */
	struct gguf_str *merge_pair;  /* (n_merges, 2) left, right: merges read from tokenizer.json */
	char *merge_buf;              /* owns the merge_pair strings */
	bool ignore_merges;      /* a whole pre-token found in the vocabulary is one token (Llama 3) */
	bool byte_fallback;      /* SPM: characters not in the vocabulary become <0xNN> tokens */
	bool from_json;          /* loaded from a tokenizer.json directory */
	bool nfc;                /* tokenizer.json normalizer NFC (Qwen2): text is put in NFC first */
	char *chat_template;     /* tokenizer.chat_template / tokenizer_config.json chat_template, or NULL */
};

/* Load from GGUF metadata; false with a message on a missing or malformed
 * key.  The vocab keeps pointers into g (merges): keep g open. */
bool vocab_load_gguf(struct vocab *v, const struct gguf *g, struct lmu_err *e);
void vocab_free(struct vocab *v);

/* Load from a Hugging Face model directory: tokenizer.json (model BPE,
 * byte-level or SentencePiece-style with byte fallback; pre-tokenizers
 * ByteLevel, Digits+ByteLevel, Split with the Llama 3 / Qwen2 patterns) and
 * tokenizer_config.json (add_bos_token, add_eos_token, bos/eos tokens).
 * v->pre names the pre-tokenizer found, as tokenizer.ggml.pre would. */
bool vocab_load_dir(struct vocab *v, const char *dir, struct lmu_err *e);

/* What -m names (model_locate), opened for its vocabulary: a GGUF file's,
 * which stays open in *g, or a model directory's tokenizer.json (*g NULL).
 * Dies with a message. */
void vocab_open_or_die(struct vocab *v, const char *model, struct gguf **g);

/* The vocabulary as the GGUF tokenizer keys llama.cpp reads
 * (tokenizer.ggml.model, pre, tokens, token_type, merges or scores, the
 * special ids, add_bos/add_eos/add_space_prefix, tokenizer.chat_template),
 * for a vocabulary read from a model directory (lm-convert).  n_rows, the
 * rows of the embedding, may exceed v->n: the rest are written as unused
 * tokens "[PADi]", as llama.cpp's converter pads them.  SentencePiece-style
 * vocabularies get scores from their merges list (the token a merge of
 * rank r makes scores -r; tokens no merge makes, -n_merges - 1), which
 * ranks llama.cpp's pair choice as the merges list does. */
struct gguf_writer;
void vocab_write_gguf(const struct vocab *v, uint32_t n_rows, struct gguf_writer *w);

/* Merge i (rank i) as its two token texts.  False if the entry is
 * malformed (no separating space). */
bool vocab_merge(const struct vocab *v, uint32_t i, struct gguf_str *left, struct gguf_str *right);

/* True for tokens that tok-decode skips unless --special: control tokens
 * (and unknown/unused ones). */
bool vocab_is_special(const struct vocab *v, int32_t id);

/* The bytes a token decodes to: byte-level BPE maps each character back to
 * its byte (doc/formats.md "Byte-level BPE"); SPM turns U+2581 into a
 * space and <0xNN> into the byte.  Control tokens decode to their text. */
static inline const char *vocab_piece(const struct vocab *v, int32_t id, size_t *len)
{
	*len = v->bytes_len[id];
	return v->bytes[id];
}

/* The first token id whose text is exactly s[0..len), or -1; a pass over
 * the vocabulary (building an index at every load cost more than the few
 * lookups a program makes). */
int32_t vocab_find(const struct vocab *v, const char *s, size_t len);

/* For the loaders (vocab.c, vocab_json.c): the byte-level alphabet, the
 * per-token arrays for v->n tokens (zeroed), the steps after the token
 * texts, types and ids are set (decoded pieces, the sorted index,
 * end-of-generation flags), and a lookup before the index exists. */
void vocab_init_byte_map(void);
void vocab_alloc_tokens(struct vocab *v);
void vocab_finish(struct vocab *v);

#endif
