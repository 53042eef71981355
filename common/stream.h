/* stream.h - the two streams that cross the pipes (doc/internals.md "The streams";
 * man pages lm-tokens(5) and lm-logits(5)).
 *
 * Token stream (text): one batch per line, decimal ids separated by
 * spaces, ended by '\n'.  A line whose first character is '!' is a
 * directive (for example "!reset"); one that starts with '#' is a comment.
 *
 * Logits stream: frames one after another with no padding.  Binary frame:
 *   offset 0  4 bytes  magic 0x89 'L' 'G' 'T'
 *   offset 4  u32 LE   version (1)
 *   offset 8  u32 LE   n_vocab
 *   offset 12 i32 LE   token: id of the token that produced the frame
 *   offset 16 u64 LE   pos: position of that token in the context (0-based)
 *   offset 24 n_vocab x float32 LE scores
 * Text frame: one line "pos=P token=T vocab=N id:score id:score ..." with
 * the listed ids (usually the top k, best first); unlisted ids are -inf. */
#ifndef LMU_STREAM_H
#define LMU_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define TOK_MAX_BATCH (1u << 20)  /* ids in one batch */

struct tok_batch {
	int32_t *ids;
	size_t n, cap;
	char *line;          /* the raw line (getline buffer) */
	size_t line_cap;
	const char *directive;  /* for TOK_DIRECTIVE: the text after '!' */
	unsigned long lineno;   /* 1-based number of the line just read */
};

enum tok_read_status { TOK_EOF = 0, TOK_BATCH = 1, TOK_DIRECTIVE = 2, TOK_ERROR = -1 };

/* Read the next batch or directive, skipping comment lines.  Ids must be
 * in [0, n_vocab) when n_vocab > 0.  Errors name the line number.  An
 * empty line is an empty batch (n = 0). */
enum tok_read_status tok_read(FILE *in, struct tok_batch *b, uint32_t n_vocab, struct lmu_err *e);
void tok_batch_free(struct tok_batch *b);

/* Write one batch as a line and flush; return 0 if downstream closed
 * (EPIPE), 1 on success; die on other errors. */
int tok_write(FILE *out, const int32_t *ids, size_t n);

#define LOGITS_MAGIC "\x89LGT"
#define LOGITS_VERSION 1
#define LOGITS_HDR_SIZE 24
#define LOGITS_MAX_VOCAB (1u << 24)

struct logits_frame {
	uint32_t n_vocab;
	int32_t token;
	uint64_t pos;
	float *scores;   /* n_vocab entries (owned, grown by logits_read) */
	size_t cap;
	bool text;       /* the frame came in text form */
	uint64_t offset; /* byte offset (binary) or line number (text) of the frame */
};

/* Read one frame (binary or text form, detected per frame from its first
 * byte).  Return 1 on a frame, 0 at a clean end of input, -1 on a malformed
 * or truncated frame with a message naming the offset or line. */
int logits_read(FILE *in, struct logits_frame *f, struct lmu_err *e);
void logits_frame_free(struct logits_frame *f);

/* Write a binary frame / a text frame with the top k scores; flush.
 * Return 0 if downstream closed (EPIPE), 1 on success; die otherwise. */
int logits_write(FILE *out, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores);
int logits_write_text(FILE *out, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores, uint32_t k);

#endif
