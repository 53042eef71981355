/* stream.h - the two streams that cross the pipes (doc/internals.md "The streams";
 * man pages lm-tokens(5) and lm-logits(5)).
 *
 * Token stream (text): one batch per line, decimal ids separated by
 * spaces, ended by '\n'.  A line whose first character is '!' is a
 * directive (for example "!reset"); one that starts with '#' is a comment.
 * A batch or directive may be tagged with a sequence id, "@S " before it
 * ("@3 17 4 9", "@3 !end"); an untagged line belongs to sequence 0.
 *
 * Logits stream: frames one after another with no padding.  Binary frame:
 *   offset 0  4 bytes  magic 0x89 'L' 'G' 'T'
 *   offset 4  u32 LE   version: 1 (untagged, sequence 0) or 2 (tagged)
 *   offset 8  u32 LE   n_vocab
 *   offset 12 i32 LE   token: id of the token that produced the frame
 *   offset 16 u64 LE   pos: position of that token in the context (0-based)
 *   version 1: offset 24 n_vocab x float32 LE scores
 *   version 2: offset 24 u32 LE seq, offset 28 u32 LE 0 (reserved),
 *              offset 32 n_vocab x float32 LE scores
 *   version 3 (top-k): offset 24 u32 LE seq (0 when untagged), offset 28
 *              u32 LE flags (bit 0: tagged; others 0), offset 32 u32 LE k,
 *              offset 36 float32 LE rest = log of the sum of e^score over
 *              the ids not listed (-inf: none), offset 40 k entries of
 *              (u32 LE id, float32 LE score), best first, ties to the
 *              lower id: the k best ids; every unlisted score is at most
 *              the last one
 * Text frame: one line "[seq=S ]pos=P token=T vocab=N id:score ..." with
 * the listed ids (usually the top k, best first); unlisted ids are -inf.
 *
 * Writers tag what they were given tagged (a tagged batch in, a tagged
 * frame out), so a stream without tags stays byte for byte what it was
 * before sequence ids existed. */
#ifndef LMU_STREAM_H
#define LMU_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"

#define TOK_MAX_BATCH (1u << 20)  /* ids in one batch */

#define TOK_MAX_SEQ UINT32_MAX  /* the largest sequence id */

struct tok_batch {
	int32_t *ids;
	size_t n, cap;
	char *line;          /* the raw line (getline buffer) */
	size_t line_cap;
	const char *directive;  /* for TOK_DIRECTIVE: the text after '!' */
	bool tagged;         /* the line began with "@S" */
	uint32_t seq;        /* its sequence id S; 0 when untagged */
	unsigned long lineno;   /* 1-based number of the line just read */
};

enum tok_read_status { TOK_EOF = 0, TOK_BATCH = 1, TOK_DIRECTIVE = 2, TOK_AGAIN = 3, TOK_ERROR = -1 };

/* Read the next batch or directive, skipping comment lines.  Ids must be
 * in [0, n_vocab) when n_vocab > 0.  Errors name the line number.  An
 * empty line is an empty batch (n = 0). */
enum tok_read_status tok_read(FILE *in, struct tok_batch *b, uint32_t n_vocab, struct lmu_err *e);
void tok_batch_free(struct tok_batch *b);

/* The same from a file descriptor with a buffer of its own, for a reader
 * that must know whether a line has arrived without waiting for one
 * (lm-step gathers every line already there into one step): wait at most
 * timeout_ms for a complete line (-1: as long as it takes, 0: not at all)
 * and return TOK_AGAIN if none came.  A wait polls the descriptor for up
 * to TOK_SPIN_US before it sleeps when the last wait took less than that:
 * in the generation loop the next id comes back within about 100 us of a
 * frame, and a reader that sleeps pays a wake-up (the writer's and its
 * own); one that waits longer (a person typing) does not spin the next
 * time.  Never mix it with stdio on the same descriptor. */
#define TOK_SPIN_US 500
struct tok_reader {
	int fd;
	char *buf;
	size_t start, len, cap;  /* unread bytes are buf[start .. start + len) */
	bool eof;
	bool spin;           /* the last wait for input was short (stream.c) */
	/* called (when set) as a wait begins that finds no input there:
	 * the caller's threads may sleep meanwhile (lm-step) */
	void (*on_wait)(void *ctx);
	void *wait_ctx;
};
void tok_reader_init(struct tok_reader *r, int fd);
enum tok_read_status tok_reader_next(struct tok_reader *r, struct tok_batch *b, uint32_t n_vocab, int timeout_ms,
				     struct lmu_err *e);
void tok_reader_free(struct tok_reader *r);

/* Write one batch as a line and flush; return 0 if downstream closed
 * (EPIPE), 1 on success; die on other errors.  tok_write_seq tags it with
 * sequence seq unless seq < 0; tok_write_directive writes "[@S ]!name". */
int tok_write(FILE *out, const int32_t *ids, size_t n);
int tok_write_seq(FILE *out, int64_t seq, const int32_t *ids, size_t n);
int tok_write_directive(FILE *out, int64_t seq, const char *name);

#define LOGITS_MAGIC "\x89LGT"
#define LOGITS_VERSION 1         /* untagged frames (sequence 0) */
#define LOGITS_HDR_SIZE 24
#define LOGITS_VERSION_SEQ 2     /* frames tagged with a sequence id */
#define LOGITS_HDR_SIZE_SEQ 32
#define LOGITS_VERSION_TOP 3     /* the k best scores and the log-sum-exp of the rest */
#define LOGITS_HDR_SIZE_TOP 40
#define LOGITS_MAX_VOCAB (1u << 24)

struct logits_frame {
	bool tagged;     /* a version 2 or "seq=" frame */
	uint32_t seq;    /* its sequence id; 0 when untagged */
	uint32_t n_vocab;
	int32_t token;
	uint64_t pos;
	float *scores;   /* n_vocab entries (owned, grown by logits_read) */
	size_t cap;
	/* a top-k frame (version 3): the k ids listed, best first, in
	 * ids[0..k) (scores has the others at -inf, as a text frame), and
	 * rest, the log of the sum of e^score over the others; k = 0: a frame
	 * that scores every id (or a text frame), rest -inf */
	uint32_t k;
	uint32_t *ids;
	size_t ids_cap;
	float rest;
	/* the reader's own: scores[0..blank) is -inf but at ids[0..n_listed)
	 * (a top-k frame was the last read), so that the next top-k frame
	 * resets those alone: a caller does not write into scores */
	uint32_t blank, n_listed;
	bool text;       /* the frame came in text form */
	uint64_t offset; /* byte offset (binary) or line number (text) of the frame */
};

/* Read one frame (binary or text form, detected per frame from its first
 * byte).  Return 1 on a frame, 0 at a clean end of input, -1 on a malformed
 * or truncated frame with a message naming the offset or line. */
int logits_read(FILE *in, struct logits_frame *f, struct lmu_err *e);
void logits_frame_free(struct logits_frame *f);

/* Wait, before a logits_read, until in has a byte to read (or its end, or
 * an error: logits_read tells which).  With spin false it returns at once
 * (logits_read waits, sleeping).  With spin true, for a reader
 * on a core of its own (lm-sample --spin): when the last wait took between
 * LOGITS_SPIN_MIN_WAIT_US and LOGITS_SPIN_MAX_WAIT_US (the writer takes
 * about as long for each frame: lm-step's step), it sleeps through that
 * time less a margin (LOGITS_SPIN_MARGIN_US plus 1/16 of it), then polls
 * without sleeping until as long past it, then sleeps until the frame
 * comes: a frame that comes in time is read without the wake-up of a
 * sleeping process, which is the larger part of the loop's delay per
 * token on virtual machines (tens of microseconds, measured in
 * doc/internals.md).  The spin is bounded: twice the margin per wait at
 * most, none after a wait longer than the maximum. */
#define LOGITS_SPIN_MIN_WAIT_US 500
#define LOGITS_SPIN_MAX_WAIT_US 200000
#define LOGITS_SPIN_MARGIN_US 200
struct logits_waiter {
	bool spin;
	int64_t last_us;      /* how long the last wait took; 0: none yet */
};
void logits_await(FILE *in, struct logits_waiter *w);

/* Write a binary frame / a text frame with the top k scores; flush.
 * seq < 0: an untagged frame (version 1, no "seq="), else tagged with
 * sequence id seq (at most TOK_MAX_SEQ).  Return 0 if downstream closed
 * (EPIPE), 1 on success; die otherwise. */
int logits_write(FILE *out, int64_t seq, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores);
int logits_write_text(FILE *out, int64_t seq, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores,
		      uint32_t k);

/* Write a top-k frame (version 3) of the k best scores (all of them when
 * k >= n_vocab), as logits_write. */
int logits_write_top(FILE *out, int64_t seq, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores,
		     uint32_t k);

/* The k best ids of scores[0..n) in top[0..k), best first, ties to the
 * lower id; return how many (min(k, n)).  With rest, also the log of the
 * sum of e^score over the ids left out (-inf when none is): relative to
 * the largest of them, terms below e^-87 counting 0, each e^x with a
 * relative error below 2e-7, summed in double in a fixed order
 * (lm-logits(5)).  A NaN score is listed before any other (the NaN ids
 * alone, by id), and makes rest NaN: readers refuse such a frame. */
uint32_t logits_top(const float *scores, uint32_t n, uint32_t k, uint32_t *top, float *rest);

/* Threads for logits_top() (and so the top-k and text writers): run(ctx,
 * fn, arg) calls fn(arg, ith, nth) once for each ith in [0, nth), all at
 * once, and returns when every call has (pool_run); NULL: the calling
 * thread alone.  The results are the same bits whatever nth is. */
typedef void (*logits_run_fn)(void *ctx, void (*fn)(void *arg, int ith, int nth), void *arg);
void logits_set_runner(logits_run_fn run, void *ctx);

#endif
