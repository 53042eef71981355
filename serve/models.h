/* models.h - the models lm-serve holds: for each one its engine, its
 * tokenizer and vocabulary, its chat template and its scheduler thread
 * (sched.h), under the id that requests name it by.
 *
 * A model is loaded in the background (GET /health answers 503 until
 * every model is ready).  A request takes a model with models_acquire()
 * and gives it back with models_release(); a model is only closed when
 * nobody holds it, so that a later policy (several models, the least
 * recently used one unloaded) can close models while the server runs. */
#ifndef LMU_SERVE_MODELS_H
#define LMU_SERVE_MODELS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "chat.h"
#include "sched.h"
#include "tokenizer.h"

struct model_params {
	uint32_t n_ctx_seq;     /* positions of one sequence (0: the model's training context, at most
				   MODEL_DEFAULT_CTX) */
	uint32_t n_seq;         /* sequences decoded together (--parallel) */
	int n_threads;          /* threads of the forward pass (0: every CPU) */
	uint32_t queue;         /* requests that may wait for a sequence */
};

#define MODEL_DEFAULT_CTX 4096

enum model_state { MODEL_LOADING, MODEL_READY };

struct srv_model {
	char *id;               /* the name in the API ("model") */
	char *arg;              /* as given to -m */
	char *path;             /* the file */
	long long created;      /* the file's modification time (Unix seconds) */
	struct model_params p;  /* the limits it is loaded with */
	atomic_int state;

	/* set once ready, then read-only */
	struct engine *eng;
	struct tokenizer *tok;
	const struct vocab *v;
	uint32_t n_ctx_seq, n_vocab;
	struct sched *sched;
	pthread_mutex_t tok_mu; /* the tokenizer is not thread-safe: one encode at a time */

	/* under the holder's lock */
	int refs;
	double last_used;
	pthread_t loader;
	bool loading;           /* the loader was started */
	struct srv_model *next;
};

struct models;

struct models *models_new(const struct model_params *p);
/* Add the model MODEL (what -m names) under id (NULL: the file's name
 * without .gguf); the first one added is the default.  Dies with a
 * message when MODEL names no model file. */
struct srv_model *models_add(struct models *ms, const char *model, const char *id);
/* Start loading it in the background; a file that turns out not to be a
 * model the engine can read ends the program from the loading thread. */
void models_load(struct models *ms, struct srv_model *m);

/* The model a request names (NULL or "": the default one), taken: 0, or
 * 404 when no model has that name, 503 while it is loading.  Give it back
 * with models_release(). */
int models_acquire(struct models *ms, const char *name, struct srv_model **out);
void models_release(struct models *ms, struct srv_model *m);

/* The ids of a conversation (chat_encode with the model's template), or
 * of a text (special: control tokens written in it are parsed; bos: BOS
 * first when the model wants one), appended to out.  The model's
 * tokenizer serves one thread at a time. */
bool model_encode_chat(struct srv_model *m, const struct chat_msg *msgs, size_t n, struct ids *out,
		       struct lmu_err *e);
void model_encode_text(struct srv_model *m, const char *text, size_t len, bool special, bool bos, struct ids *out);

/* Every model (ready or not), for listings; the array is the caller's to
 * free, the models stay valid while the server runs. */
size_t models_list(struct models *ms, struct srv_model ***out);
bool models_all_ready(struct models *ms);

/* Jobs running or waiting, over all models; end them all. */
uint32_t models_busy(struct models *ms);
void models_cancel_all(struct models *ms);

/* Stop every scheduler and close every model (waits for the loaders). */
void models_free(struct models *ms);

#endif
