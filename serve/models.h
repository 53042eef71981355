/* models.h - the models lm-serve can serve: for each one, once loaded,
 * its engine, its tokenizer and vocabulary, its chat template and its
 * scheduler thread (sched.h), under the id that requests name it by.
 *
 * Models are known (given with -m, or found by the registry, registry.h)
 * before they are loaded.  A request takes a model with models_acquire()
 * and gives it back with models_release().  A model that is not loaded
 * is loaded by the first request that wants it, while later ones wait for
 * it; at most max_loaded models are loaded at once, and when one more is
 * wanted the least recently used model nobody holds is closed first (the
 * request waits when every loaded model is in use).  A model nobody has
 * used for keep_alive seconds is closed by a thread of the holder.  A
 * model is only closed when nobody holds it. */
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
	double step_delay;      /* tests only: seconds added to every step (LMU_SERVE_STEP_DELAY) */
};

#define MODEL_DEFAULT_CTX 4096

enum model_state { MODEL_UNLOADED, MODEL_LOADING, MODEL_READY, MODEL_UNLOADING };

struct srv_model {
	char *id;               /* the name in the API ("model") */
	char *arg;              /* as given to -m (or the registry's path) */
	char *path;             /* the file */
	long long created;      /* the file's modification time (Unix seconds) */
	struct model_params p;  /* the limits it is loaded with */
	atomic_int state;       /* changed under the holder's lock */

	/* while loaded (READY, or held), then read-only */
	struct engine *eng;
	struct tokenizer *tok;
	const struct vocab *v;
	uint32_t n_ctx_seq, n_vocab;
	struct sched *sched;
	pthread_mutex_t tok_mu; /* the tokenizer is not thread-safe: one encode at a time */

	/* under the holder's lock */
	int refs;
	double last_used;
	bool cli;               /* added with -m: always served */
	bool gone;              /* no longer found by the registry: not served */
	unsigned long long n_loads, n_unloads;
	double load_seconds;    /* of the last load */
	double unload_seconds;  /* of the last unload */
	struct srv_model *next;
};

struct models;

struct models *models_new(const struct model_params *p);
/* At most max_loaded models loaded at once (0: no limit); a model unused
 * for keep_alive seconds is closed (< 0: never).  Before any request. */
void models_policy(struct models *ms, uint32_t max_loaded, double keep_alive);
/* Add the model MODEL (what -m names) under id (NULL: the file's name
 * without .gguf); the first one added is the default.  Dies with a
 * message when MODEL names no model file. */
struct srv_model *models_add(struct models *ms, const char *model, const char *id);
/* Add a model the registry found at path (a GGUF file or a model
 * directory) under id, unless one of that path is known: the model (new
 * or known), whose id may differ from id when id was taken.  A known
 * model that was gone is served again. */
struct srv_model *models_register(struct models *ms, const char *path, const char *id);
/* Mark the models that are neither added with -m nor in paths[0..n) as
 * gone (the registry no longer finds them): they are not served, and
 * closed once nobody holds them. */
void models_retain(struct models *ms, const char *const *paths, size_t n);
/* Load it in the background now (GET /health answers 503 until these
 * first loads are done); a file that turns out not to be a model the
 * engine can read ends the program. */
void models_load(struct models *ms, struct srv_model *m);

/* The model a request names (NULL or "": the default one: the first added
 * with -m, else the loaded one used last, else the first known), loaded
 * and taken: 0, or 404 when no
 * model has that name.  Waits while the model loads, or while every
 * loaded model is in use and none can be closed to make room.  Give it
 * back with models_release(). */
int models_acquire(struct models *ms, const char *name, struct srv_model **out);
void models_release(struct models *ms, struct srv_model *m);
/* The model name names (as models_acquire finds it), not taken: NULL
 * when none. */
struct srv_model *models_find(struct models *ms, const char *name);
/* The model's state now (without waiting). */
enum model_state models_state(struct models *ms, const struct srv_model *m);

/* The ids of a conversation (chat_encode with the model's template), or
 * of a text (special: control tokens written in it are parsed; bos: BOS
 * first when the model wants one), appended to out.  The model's
 * tokenizer serves one thread at a time.  The model must be held. */
bool model_encode_chat(struct srv_model *m, const struct chat_msg *msgs, size_t n, struct ids *out,
		       struct lmu_err *e);
void model_encode_text(struct srv_model *m, const char *text, size_t len, bool special, bool bos, struct ids *out);

/* Every model (loaded or not, gone ones left out), for listings; the
 * array is the caller's to free, the models stay valid while the server
 * runs (their fields of a loaded model only while it is held, or through
 * models_info). */
size_t models_list(struct models *ms, struct srv_model ***out);
/* What listings show of a model, read under the holder's lock. */
struct model_info {
	enum model_state state;
	int refs;
	double idle;            /* seconds since last used (loaded models) */
	uint32_t n_ctx_seq, n_vocab, n_seq;
	struct sched_stats st;  /* zero unless READY */
	unsigned long long n_loads, n_unloads;
	double load_seconds, unload_seconds;
};
void models_info(struct models *ms, const struct srv_model *m, struct model_info *out);
/* Loaded models, and the most allowed (0: no limit). */
uint32_t models_loaded(struct models *ms, uint32_t *max_loaded);
/* False while a load started by models_load() is going on. */
bool models_all_ready(struct models *ms);

/* Jobs running or waiting, over all models; end them all. */
uint32_t models_busy(struct models *ms);
void models_cancel_all(struct models *ms);

/* Stop every scheduler and close every model (waits for the loaders). */
void models_free(struct models *ms);

#endif
