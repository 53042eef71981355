/* unicode.h - what the tokenizers need from Unicode: UTF-8 decoding with
 * the replacement rule of the reference, and character classes for the
 * pre-tokenizer patterns (\p{L}, \p{N}, \s ...).  The class table is
 * generated from UnicodeData.txt by tokenize/gen_unicode.py. */
#ifndef LMU_UNICODE_H
#define LMU_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum {
	UC_L = 1 << 0,      /* letter (Lu Ll Lt Lm Lo) */
	UC_N = 1 << 1,      /* number (Nd Nl No) */
	UC_P = 1 << 2,      /* punctuation */
	UC_S = 1 << 3,      /* symbol */
	UC_M = 1 << 4,      /* mark */
	UC_Z = 1 << 5,      /* separator */
	UC_C = 1 << 6,      /* other: control, format, unassigned ... */
	UC_SPACE = 1 << 7,  /* White_Space: regex \s */
};

struct uc_range {
	uint32_t first, last;
	uint8_t flags;
};
extern const struct uc_range uc_ranges[];
extern const unsigned uc_n_ranges;

/* The class flags of a code point. */
unsigned uc_flags(uint32_t cp);

/* Decode one character of valid UTF-8 (as produced by utf8_repair);
 * return its length. */
static inline int utf8_decode(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xe0) {
		*cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		return 2;
	}
	if (s[0] < 0xf0) {
		*cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 | (s[2] & 0x3f);
		return 3;
	}
	*cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 | (uint32_t)(s[2] & 0x3f) << 6 |
	      (s[3] & 0x3f);
	return 4;
}

/* Length of the valid UTF-8 character at s (n bytes left), or 0 if the
 * bytes there are not one. */
int utf8_valid_len(const unsigned char *s, size_t n);

/* Number of bytes of s[0..n) that form complete characters, leaving out an
 * incomplete sequence at the end (for streaming output). */
size_t utf8_complete_prefix(const unsigned char *s, size_t n);

/* Copy s into a fresh buffer, replacing each ill-formed sequence with
 * U+FFFD the way Python's bytes.decode("utf-8", "replace") does (one
 * replacement per maximal ill-formed subpart, Unicode 3.9 / WHATWG), which
 * is what text reaching Hugging Face tokenizers has been through.  *out_len
 * gets the new length; *n_bad the number of replacements. */
char *utf8_repair(const char *s, size_t n, size_t *out_len, size_t *n_bad);

/* Encode cp as UTF-8 into buf (4 bytes room); return the length. */
int utf8_encode(uint32_t cp, char *buf);

#endif
