/* normalize.h - Unicode normalization form C, for tokenizers whose
 * tokenizer.json asks for it (Qwen2's NFC normalizer).  Tables generated
 * by tokenize/gen_norm.py. */
#ifndef LMU_NORMALIZE_H
#define LMU_NORMALIZE_H

#include <stddef.h>
#include <stdint.h>

struct norm_ccc {
	uint32_t first, last;
	uint8_t ccc;
};
struct norm_decomp {
	uint32_t cp, d0, d1;  /* d1 = 0: a single code point */
};
struct norm_comp {
	uint32_t a, b, cp;
};
extern const struct norm_ccc norm_ccc[];
extern const unsigned norm_n_ccc;
extern const struct norm_decomp norm_decomp[];
extern const unsigned norm_n_decomp;
extern const struct norm_comp norm_comp[];
extern const unsigned norm_n_comp;

/* NFC of s[0..n) (valid UTF-8) into a fresh buffer; *out_len its length. */
char *nfc(const char *s, size_t n, size_t *out_len);

#endif
