/* engine.h - many sequences through one model: the engine that lm-step,
 * lm-batch and lm-serve share.
 *
 * An engine holds a model, a thread pool and the KV memory of up to n_seq
 * sequences.  A sequence is a slot number in [0, n_seq) with a context of
 * its own: its positions, the ids at them, and their keys and values.
 * The KV memory is one pool of n_ctx positions shared by all sequences;
 * each sequence may grow to n_ctx_seq positions as long as the pool has
 * room.
 *
 * Input is queued per sequence as batches (engine_submit), as lm-step
 * reads them from the token stream (lm-tokens(5)): a batch is appended to
 * its sequence's context and answered with the logits of its last
 * position (or of every position).  engine_step() evaluates, for every
 * sequence with queued input, the next piece of it -- a batch, or a chunk
 * of at most ENGINE_CHUNK positions of a longer one -- all of them
 * together as one batch through the matrix products: prompts of some
 * sequences are evaluated in the same step as single tokens of others
 * (continuous batching).  The logits of each finished batch are handed to
 * a callback.
 *
 * Exactness: the logits of a sequence depend only on its own ids and on
 * how its input was split into batches, never on the other sequences in
 * the same steps: a sequence decoded beside others gives bit for bit the
 * logits (hence the tokens) it gives alone.  (Products choose their kernel
 * path per sequence, from the length of that sequence's piece, not from
 * the size of the step; attention reads only the sequence's own rows.)
 *
 * Threads: one thread owns the engine (the scheduler: lm-step's main loop,
 * lm-serve's model thread) and calls every function here, except
 * engine_post() and engine_wake(), which any thread may call to hand work
 * to it (an HTTP thread posts "start this request" or "cancel it"; the
 * owner runs the call before its next step).  The callback of
 * engine_step() runs on the owner's thread and may call engine_submit(),
 * engine_seq_reset() and engine_seq_close() (for instance to feed back the
 * token it chose, or to end its sequence).
 *
 * Errors: a model that cannot be opened, or memory that cannot be had,
 * ends the program with a message (err.h); input that does not fit is
 * reported by engine_submit() to its caller.
 *
 * Stable (lm-serve builds on it): every function and field below; later
 * changes add, they do not change.  The implementation behind it (how the
 * KV pool is laid out, how steps are batched) is free to change: today
 * each sequence is a context of its own (transformer.h) made when it is
 * opened, and a step is one slice of segments on one workspace
 * (context_eval_segments). */
#ifndef LMU_ENGINE_H
#define LMU_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "transformer.h"

/* The most positions of one sequence evaluated in one step: a longer
 * batch is evaluated in chunks of this many (the last one shorter).  The
 * same for a sequence alone and beside others, so that both give the same
 * logits. */
#define ENGINE_CHUNK 256

struct engine_params {
	uint32_t n_ctx;      /* KV positions of the pool, all sequences together
				(0: n_ctx_seq for each of the n_seq sequences) */
	uint32_t n_seq;      /* sequences open at once (0: 1) */
	uint32_t n_ctx_seq;  /* most positions of one sequence (0: for one sequence n_ctx; for several
				n_ctx or the model's training context, whichever is less; the
				training context without n_ctx) */
	int n_threads;       /* threads of the forward pass (0: every online CPU) */
	bool all_logits;     /* allow ENGINE_ALL_LOGITS (room for the logits of many positions) */
	bool quant_act;      /* 8-bit activations for the integer kernels (quant.h): faster, less exact */
	enum ggml_type quant;  /* quantize the float matrices at load (requant.h); GGML_F32, the
				  zero: the weights as stored */
};

struct engine;

/* Open the model -m names (transformer_open: a GGUF file, a model
 * directory, a repo id) with the given limits; die with a message on any
 * problem. */
struct engine *engine_open(const char *path, const struct engine_params *p);
void engine_close(struct engine *e);

/* The model (hyper-parameters in ->hp, the GGUF file in ->g for the
 * vocabulary and chat template) and the limits in force (n_ctx and
 * n_ctx_seq resolved from the model when they were 0). */
const struct transformer *engine_model(const struct engine *e);
uint32_t engine_n_ctx(const struct engine *e);
uint32_t engine_n_seq(const struct engine *e);
uint32_t engine_n_ctx_seq(const struct engine *e);
int engine_n_threads(const struct engine *e);

/* ---- sequences ---- */

/* Open an empty sequence: the lowest free slot, or -1 if all n_seq are
 * open. */
int engine_seq_open(struct engine *e);

/* Close a sequence: its queued input is dropped, its KV memory goes back
 * to the pool, no callback mentions it again; the slot is free. */
void engine_seq_close(struct engine *e, int seq);

/* Empty a sequence's context (and drop its queued input), keeping its KV
 * rows as a cache: a following batch that starts with the same ids reuses
 * them instead of recomputing (a chat that resends its history, a server
 * request that shares a prefix with the previous one of the slot). */
void engine_seq_reset(struct engine *e, int seq);

/* Positions in the sequence's context, counting queued input not yet
 * evaluated. */
uint32_t engine_seq_n_pos(const struct engine *e, int seq);

/* Ids queued for the sequence and not evaluated yet. */
uint32_t engine_seq_queued(const struct engine *e, int seq);

/* Is the slot open? */
bool engine_seq_is_open(const struct engine *e, int seq);

/* Load a state file (state.h) into an empty open sequence, or save the
 * sequence's context to one (atomically).  Load returns false if the file
 * does not exist; both die on a bad file or an I/O error. */
bool engine_seq_load(struct engine *e, int seq, const char *path);
void engine_seq_save(const struct engine *e, int seq, const char *path);

/* ---- input and steps ---- */

enum {
	ENGINE_ALL_LOGITS = 1,  /* logits for every position of the batch, not only the last
				   (needs engine_params.all_logits) */
};

/* Queue a batch of n ids for a sequence (copied); user comes back with
 * its logits (struct engine_logits).  Return 0, or -1 with a message in
 * err when it does not fit: the sequence would pass n_ctx_seq positions,
 * or the pool has no room for it (nothing is queued then).  An empty batch
 * (n = 0) is accepted and produces no logits.  Ids must be in [0,
 * n_vocab): the caller checks. */
int engine_submit(struct engine *e, int seq, const int32_t *ids, uint32_t n, unsigned flags, uint64_t user,
		  struct lmu_err *err);

/* Is any input queued? */
bool engine_has_input(const struct engine *e);

/* What engine_step() hands its callback: the logits (n_vocab floats,
 * valid during the call only) of the position pos of sequence seq, where
 * the id token stands; last: the last position of its batch.  The fields
 * may grow; callers read the ones they know. */
struct engine_logits {
	int seq;
	uint64_t user;       /* as given to engine_submit() with the batch */
	int32_t token;
	uint64_t pos;
	bool last;
	uint32_t n_vocab;
	const float *logits;
};

/* Return 1 to go on, 0 to stop (downstream closed): engine_step() then
 * makes no more calls in this step and returns -1. */
typedef int (*engine_emit_fn)(void *arg, const struct engine_logits *out);

/* Run the calls posted so far (engine_post), then evaluate one step: the
 * next piece of the queued input of every sequence that has some, as one
 * batch; call emit for each batch that is complete.  Return the number
 * of positions evaluated (0: no input was queued), or -1 if emit asked to
 * stop (what was evaluated stays evaluated; the rest of the step's logits
 * are not delivered). */
int engine_step(struct engine *e, engine_emit_fn emit, void *arg);

/* Call fn(arg, ith, nth) on each of the engine's nth threads at once and
 * return when every call has (pool_run): work on a frame from an emit
 * callback (the threads are idle then), or between steps, on the thread
 * that runs the steps. */
void engine_run(struct engine *e, void (*fn)(void *arg, int ith, int nth), void *arg);

/* The caller will not step for a while (it waits for input): the
 * engine's threads sleep now rather than spin (pool_rest). */
void engine_rest(struct engine *e);

/* ---- hand-off from other threads ---- */

typedef void (*engine_call_fn)(struct engine *e, void *arg);

/* Queue fn(e, arg) to run on the owner's thread at the start of its next
 * engine_step() (in the order posted), and wake it if it waits.  Any
 * thread. */
void engine_post(struct engine *e, engine_call_fn fn, void *arg);

/* Wake the owner from engine_wait() (for instance to stop).  Any thread. */
void engine_wake(struct engine *e);

/* The owner waits until a call is posted, engine_wake() is called, or
 * timeout_ms pass (-1: no limit); it returns at once if input is queued
 * or calls are pending.  Return false on a timeout. */
bool engine_wait(struct engine *e, int timeout_ms);

/* ---- statistics ---- */

struct engine_stats {
	uint64_t n_evaluated;  /* positions evaluated so far, all sequences */
	uint64_t n_steps;      /* steps that evaluated something */
	uint32_t n_open;       /* sequences open now */
	uint32_t n_used;       /* pool positions in use now */
};
void engine_stats(const struct engine *e, struct engine_stats *st);

#endif
