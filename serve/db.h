/* db.h - lm-serve's database (SQLite): the chat sessions with their
 * messages, and the model registry with its cache of file hashes.
 *
 * One file (--db), opened in WAL mode with foreign keys on and
 * synchronous=FULL: a transaction that returned is on disk, so a crash
 * (kill -9, power) loses at most the reply being written.  The schema has a
 * version (PRAGMA user_version) and a list of migrations that bring an
 * older file up to date, one transaction each; a file of a newer version,
 * or an SQLite file that is not lm-serve's, is refused.  Every statement
 * binds its values as parameters.
 *
 * Answers that go out as JSON are made by SQLite's JSON functions (so the
 * strings are escaped by one well-tested piece of code).  Any thread may
 * call these functions: one connection, one lock. */
#ifndef LMU_SERVE_DB_H
#define LMU_SERVE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat.h"
#include "err.h"

#define DB_SCHEMA_VERSION 1
#define DB_ID_LEN 32    /* a session id: 32 hex digits, 128 random bits */

struct db;

/* Open (creating it, mode 0600) and migrate the database at path.  NULL
 * with a message naming the file when it cannot be used. */
struct db *db_open(const char *path, struct lmu_err *e);
void db_close(struct db *d);
const char *db_path(const struct db *d);
int db_version(struct db *d);

/* The default file: $XDG_DATA_HOME/lmutils/lm-serve.db, else
 * ~/.local/share/lmutils/lm-serve.db; the directory is made (mode 0700).
 * A fresh string, or NULL with a message. */
char *db_default_path(struct lmu_err *e);

/* Results: 0 done, DB_NOTFOUND (no such session), -1 an SQLite error
 * (the message in e). */
#define DB_NOTFOUND 1

/* ---- sessions ---- */

/* A new session (title, model may be NULL; settings a JSON object's
 * text), its fresh id in id.  With msgs (an import), its messages too,
 * in the same transaction. */
struct db_msg {
	const char *role, *content, *model, *finish;   /* model, finish may be NULL */
	long long prompt_tokens, cached_tokens, completion_tokens;  /* < 0: none */
	double ttft, tokens_per_second;                  /* < 0: none */
	double created;                                  /* 0: now */
};
int db_session_new(struct db *d, const char *title, const char *model, const char *settings,
		   const struct db_msg *msgs, size_t n_msgs, char id[DB_ID_LEN + 1], struct lmu_err *e);
/* Change what is not NULL (model "" sets no model). */
int db_session_update(struct db *d, const char *id, const char *title, const char *model, const char *settings,
		      struct lmu_err *e);
int db_session_delete(struct db *d, const char *id, struct lmu_err *e);

/* JSON, a malloc'd string in *out: every session, newest first (an
 * array); one session (an object); its messages (an array); the export
 * (the session with its messages). */
int db_sessions_json(struct db *d, char **out, struct lmu_err *e);
int db_session_json(struct db *d, const char *id, char **out, struct lmu_err *e);
int db_messages_json(struct db *d, const char *id, char **out, struct lmu_err *e);
int db_export_json(struct db *d, const char *id, char **out, struct lmu_err *e);

/* A session's model, settings (malloc'd; model NULL when none) and its
 * messages as a conversation (chat_msgs_free). */
int db_session_get(struct db *d, const char *id, char **model, char **settings, struct chat_msg **msgs,
		   size_t *n_msgs, struct lmu_err *e);
/* Append a message to a session (and make it the most recent); its id in
 * *msg_id.  Its JSON (as db_messages_json gives each) in *json if json is
 * not NULL. */
int db_message_add(struct db *d, const char *id, const struct db_msg *m, long long *msg_id, char **json,
		   struct lmu_err *e);
/* Is id the shape of a session id (so that nothing else reaches SQL)? */
bool db_id_valid(const char *id);

/* ---- the model registry ---- */

/* One model found by a scan. */
struct db_model {
	const char *id, *path, *source, *format;
	const char *architecture, *quantization, *error;   /* may be NULL */
	long long parameters, size, context_length;        /* < 0: unknown */
	const char *types;      /* JSON object: parameters per tensor type, or NULL */
	const char *file;       /* the file whose sha256 stands for the model (resolved), or NULL */
	long long file_size, file_mtime_ns;
	const char *scanner;    /* what read it (version, architectures): a new one reads again */
};
/* Replace the registry by these models (one transaction). */
int db_models_replace(struct db *d, const struct db_model *m, size_t n, struct lmu_err *e);
/* What the last scan read of the model key names (path, file, file_size,
 * file_mtime_ns, scanner all the same): 1 with architecture,
 * parameters, quantization, types, size, context_length and error in out
 * (malloc'd strings, for the caller to free), or 0. */
int db_model_cached(struct db *d, const struct db_model *key, struct db_model *out);
/* The registry as a JSON array (with each model's sha256 when it has been
 * computed for the file as it is now). */
int db_models_json(struct db *d, char **out, struct lmu_err *e);

/* The hash cache, by (resolved path, size, mtime): the sha256 (65 bytes)
 * if known (1), else 0. */
int db_hash_get(struct db *d, const char *file, long long size, long long mtime_ns, char sha[65]);
int db_hash_put(struct db *d, const char *file, long long size, long long mtime_ns, const char *sha,
		double seconds, struct lmu_err *e);

#endif
