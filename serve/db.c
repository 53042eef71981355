/* db.c - see db.h. */
#include "db.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

/* 'lmsv': marks the file as lm-serve's (PRAGMA application_id). */
#define APP_ID 0x6c6d7376

struct db {
	sqlite3 *h;
	char *path;
	pthread_mutex_t mu;
};

/* Migration i brings schema version i to i + 1.  Never edit one that has
 * shipped: add the next. */
static const char *const migrations[DB_SCHEMA_VERSION] = {
	/* 0 -> 1: sessions, messages, the registry, the hash cache */
	"CREATE TABLE sessions ("
	"  id TEXT PRIMARY KEY CHECK (length(id) = 32),"
	"  title TEXT NOT NULL DEFAULT '',"
	"  model TEXT,"
	"  settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),"
	"  created REAL NOT NULL,"
	"  updated REAL NOT NULL);"
	"CREATE INDEX sessions_by_update ON sessions(updated);"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,"
	"  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
	"  content TEXT NOT NULL,"
	"  model TEXT,"
	"  finish TEXT,"
	"  prompt_tokens INTEGER,"
	"  cached_tokens INTEGER,"
	"  completion_tokens INTEGER,"
	"  ttft REAL,"
	"  tokens_per_second REAL,"
	"  created REAL NOT NULL);"
	"CREATE INDEX messages_by_session ON messages(session_id, id);"
	"CREATE TABLE models ("
	"  id TEXT PRIMARY KEY,"
	"  path TEXT NOT NULL UNIQUE,"
	"  source TEXT NOT NULL,"
	"  format TEXT NOT NULL,"
	"  architecture TEXT,"
	"  parameters INTEGER,"
	"  quantization TEXT,"
	"  types TEXT CHECK (types IS NULL OR json_valid(types)),"
	"  size INTEGER,"
	"  context_length INTEGER,"
	"  error TEXT,"
	"  file TEXT,"
	"  file_size INTEGER,"
	"  file_mtime_ns INTEGER,"
	"  scanner TEXT,"
	"  scanned REAL NOT NULL);"
	"CREATE TABLE file_hashes ("
	"  file TEXT PRIMARY KEY,"
	"  size INTEGER NOT NULL,"
	"  mtime_ns INTEGER NOT NULL,"
	"  sha256 TEXT NOT NULL CHECK (length(sha256) = 64),"
	"  seconds REAL,"
	"  hashed REAL NOT NULL);",
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* milliseconds are enough, and print short */
	return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000.0;
}

static int fail(struct db *d, struct lmu_err *e, const char *what)
{
	err_set(e, "%s: %s: %s", d->path, what, sqlite3_errmsg(d->h));
	return -1;
}

static int exec(struct db *d, const char *sql, struct lmu_err *e)
{
	char *msg = NULL;
	if (sqlite3_exec(d->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		err_set(e, "%s: %s", d->path, msg ? msg : sqlite3_errmsg(d->h));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* The end of a write transaction: COMMIT when rc is 0 (a failed COMMIT
 * makes it -1), else ROLLBACK.  Returns rc. */
static int tx_end(struct db *d, int rc, struct lmu_err *e)
{
	if (rc == 0 && exec(d, "COMMIT", e) == 0)
		return 0;
	exec(d, "ROLLBACK", &(struct lmu_err){{0}});
	return rc ? rc : -1;
}

/* Step a statement that returns no row: 0, or -1 with e saying what failed. */
static int step_done(struct db *d, sqlite3_stmt *st, const char *what, struct lmu_err *e)
{
	return sqlite3_step(st) == SQLITE_DONE ? 0 : fail(d, e, what);
}

static sqlite3_stmt *prepare(struct db *d, const char *sql, struct lmu_err *e)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) != SQLITE_OK) {
		fail(d, e, "prepare");
		return NULL;
	}
	return st;
}

/* One integer from a query with no parameters (-1 on failure). */
static long long pragma_int(struct db *d, const char *sql)
{
	sqlite3_stmt *st = NULL;
	long long v = -1;
	if (sqlite3_prepare_v2(d->h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_count(sqlite3_stmt *st, int i, long long v)
{
	if (v >= 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
	if (v >= 0)
		sqlite3_bind_double(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static int migrate(struct db *d, struct lmu_err *e)
{
	long long v = pragma_int(d, "PRAGMA user_version");
	long long app = pragma_int(d, "PRAGMA application_id");
	long long tables = pragma_int(d, "SELECT count(*) FROM sqlite_master");

	if (v < 0 || app < 0 || tables < 0)
		return fail(d, e, "cannot read the schema (not an SQLite database?)");
	if ((app != 0 && app != APP_ID) || (v == 0 && tables > 0)) {
		err_set(e, "%s: an SQLite database that is not lm-serve's: give another --db file", d->path);
		return -1;
	}
	if (v > DB_SCHEMA_VERSION) {
		err_set(e, "%s: schema version %lld is newer than this lm-serve knows (%d): use a newer lm-serve",
			d->path, v, DB_SCHEMA_VERSION);
		return -1;
	}
	for (; v < DB_SCHEMA_VERSION; v++) {
		char sql[96];
		if (exec(d, "BEGIN IMMEDIATE", e) < 0)
			return -1;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %lld; PRAGMA application_id = %d", v + 1, APP_ID);
		if (exec(d, migrations[v], e) < 0 || exec(d, sql, e) < 0) {
			char msg[sizeof e->msg];
			snprintf(msg, sizeof msg, "%s", e->msg);
			exec(d, "ROLLBACK", &(struct lmu_err){{0}});
			err_set(e, "migration to schema version %lld: %s", v + 1, msg);
			return -1;
		}
		if (exec(d, "COMMIT", e) < 0)
			return -1;
	}
	return 0;
}

struct db *db_open(const char *path, struct lmu_err *e)
{
	struct db *d = xcalloc(1, sizeof *d);
	d->path = xstrdup(path);
	pthread_mutex_init(&d->mu, NULL);

	/* the file is private: made 0600 before SQLite opens it (its -wal and
	 * -shm files take the same mode) */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		err_set(e, "%s: %s", path, strerror(errno));
		goto bad;
	}
	close(fd);
	if (sqlite3_open_v2(path, &d->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		err_set(e, "%s: %s", path, d->h ? sqlite3_errmsg(d->h) : "cannot open");
		goto bad;
	}
	sqlite3_busy_timeout(d->h, 5000);
	sqlite3_extended_result_codes(d->h, 1);
	/* WAL: readers do not wait for the writer, and a commit is one append;
	 * synchronous FULL: a commit that returned survives a power cut */
	if (exec(d, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL", e) < 0)
		goto bad;
	if (pragma_int(d, "PRAGMA foreign_keys") != 1) {
		err_set(e, "%s: this SQLite does not enforce foreign keys", path);
		goto bad;
	}
	sqlite3_stmt *st = prepare(d, "PRAGMA journal_mode = WAL", e);
	if (!st)
		goto bad;
	const char *mode = sqlite3_step(st) == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	bool wal = mode && strcmp(mode, "wal") == 0;
	sqlite3_finalize(st);
	if (!wal) {
		fail(d, e, "cannot switch to WAL mode (not an SQLite database, or on a file system without shared memory?)");
		goto bad;
	}
	if (migrate(d, e) < 0)
		goto bad;
	return d;
bad:
	db_close(d);
	return NULL;
}

void db_close(struct db *d)
{
	if (!d)
		return;
	if (d->h)
		sqlite3_close_v2(d->h);
	pthread_mutex_destroy(&d->mu);
	free(d->path);
	free(d);
}

const char *db_path(const struct db *d)
{
	return d->path;
}

int db_version(struct db *d)
{
	pthread_mutex_lock(&d->mu);
	int v = (int)pragma_int(d, "PRAGMA user_version");
	pthread_mutex_unlock(&d->mu);
	return v;
}

static int mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, mode);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -1;
	}
	return mkdir(path, mode) < 0 && errno != EEXIST ? -1 : 0;
}

char *db_default_path(struct lmu_err *e)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char dir[4096];
	int n;

	/* the XDG spec: a relative XDG_DATA_HOME is to be ignored */
	if (xdg && xdg[0] == '/')
		n = snprintf(dir, sizeof dir, "%s/lmutils", xdg);
	else if (home && home[0] == '/')
		n = snprintf(dir, sizeof dir, "%s/.local/share/lmutils", home);
	else {
		err_set(e, "neither XDG_DATA_HOME nor HOME is set: give --db FILE");
		return NULL;
	}
	if (n < 0 || (size_t)n + 16 >= sizeof dir) {
		err_set(e, "the data directory's name is too long: give --db FILE");
		return NULL;
	}
	if (mkdir_p(dir, 0700) < 0) {
		err_set(e, "%s: %s", dir, strerror(errno));
		return NULL;
	}
	strcat(dir, "/lm-serve.db");
	return xstrdup(dir);
}

/* ---- sessions ---- */

bool db_id_valid(const char *id)
{
	if (!id || strlen(id) != DB_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

static void new_id(char id[DB_ID_LEN + 1])
{
	unsigned char b[DB_ID_LEN / 2];
	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
		die("getrandom: %s", strerror(errno));  /* no ids without randomness */
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(id + 2 * i, 3, "%02x", b[i]);
}

static const char SQL_ADD_MSG[] =
	"INSERT INTO messages (session_id, role, content, model, finish, prompt_tokens, cached_tokens,"
	" completion_tokens, ttft, tokens_per_second, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

static int add_msg(struct db *d, sqlite3_stmt *st, const char *id, const struct db_msg *m, double t,
		   struct lmu_err *e)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	bind_text(st, 1, id);
	bind_text(st, 2, m->role);
	bind_text(st, 3, m->content ? m->content : "");
	bind_text(st, 4, m->model);
	bind_text(st, 5, m->finish);
	bind_count(st, 6, m->prompt_tokens);
	bind_count(st, 7, m->cached_tokens);
	bind_count(st, 8, m->completion_tokens);
	bind_real(st, 9, m->ttft);
	bind_real(st, 10, m->tokens_per_second);
	sqlite3_bind_double(st, 11, m->created > 0 ? m->created : t);
	return step_done(d, st, "adding a message", e);
}

int db_session_new(struct db *d, const char *title, const char *model, const char *settings,
		   const struct db_msg *msgs, size_t n_msgs, char id[DB_ID_LEN + 1], struct lmu_err *e)
{
	sqlite3_stmt *st = NULL, *sm = NULL;
	double t = now();
	int rc = -1;

	new_id(id);
	pthread_mutex_lock(&d->mu);
	if (exec(d, "BEGIN IMMEDIATE", e) < 0)
		goto out;
	st = prepare(d, "INSERT INTO sessions (id, title, model, settings, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
		     e);
	if (!st)
		goto end;
	bind_text(st, 1, id);
	bind_text(st, 2, title ? title : "");
	bind_text(st, 3, model && *model ? model : NULL);
	bind_text(st, 4, settings ? settings : "{}");
	sqlite3_bind_double(st, 5, t);
	sqlite3_bind_double(st, 6, t);
	if (step_done(d, st, "creating a session", e) < 0)
		goto end;
	if (n_msgs) {
		sm = prepare(d, SQL_ADD_MSG, e);
		if (!sm)
			goto end;
		for (size_t i = 0; i < n_msgs; i++)
			if (add_msg(d, sm, id, &msgs[i], t, e) < 0)
				goto end;
	}
	rc = 0;
end:
	rc = tx_end(d, rc, e);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(sm);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int db_session_update(struct db *d, const char *id, const char *title, const char *model, const char *settings,
		      struct lmu_err *e)
{
	/* one statement: each column keeps its value when its parameter is NULL
	 * (?5 tells "no model" from "keep the model") */
	static const char sql[] = "UPDATE sessions SET title = coalesce(?2, title),"
				  " model = CASE WHEN ?5 THEN NULL ELSE coalesce(?3, model) END,"
				  " settings = coalesce(?4, settings), updated = ?6 WHERE id = ?1";
	pthread_mutex_lock(&d->mu);
	int rc = -1;
	sqlite3_stmt *st = prepare(d, sql, e);
	if (st) {
		bind_text(st, 1, id);
		bind_text(st, 2, title);
		bind_text(st, 3, model && *model ? model : NULL);
		bind_text(st, 4, settings);
		sqlite3_bind_int(st, 5, model && !*model);
		sqlite3_bind_double(st, 6, now());
		if (step_done(d, st, "changing a session", e) == 0)
			rc = sqlite3_changes(d->h) ? 0 : DB_NOTFOUND;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int db_session_delete(struct db *d, const char *id, struct lmu_err *e)
{
	pthread_mutex_lock(&d->mu);
	int rc = -1;
	/* its messages go with it (ON DELETE CASCADE) */
	sqlite3_stmt *st = prepare(d, "DELETE FROM sessions WHERE id = ?", e);
	if (st) {
		bind_text(st, 1, id);
		if (step_done(d, st, "deleting a session", e) == 0)
			rc = sqlite3_changes(d->h) ? 0 : DB_NOTFOUND;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

#define SESSION_JSON                                                                                              \
	"json_object('id', s.id, 'object', 'session', 'title', s.title, 'model', s.model, 'settings',"           \
	" json(s.settings), 'created', s.created, 'updated', s.updated, 'messages',"                             \
	" (SELECT count(*) FROM messages m WHERE m.session_id = s.id))"
#define MESSAGE_JSON                                                                                              \
	"json_object('id', m.id, 'role', m.role, 'content', m.content, 'model', m.model, 'finish', m.finish,"     \
	" 'usage', CASE WHEN m.completion_tokens IS NULL THEN NULL ELSE json_object('prompt_tokens',"           \
	" m.prompt_tokens, 'cached_tokens', m.cached_tokens, 'completion_tokens', m.completion_tokens) END,"    \
	" 'ttft', m.ttft, 'tokens_per_second', m.tokens_per_second, 'created', m.created)"
#define MESSAGES_JSON                                                                                             \
	"(SELECT coalesce(json_group_array(json(x)), '[]') FROM (SELECT " MESSAGE_JSON " AS x FROM messages m"    \
	" WHERE m.session_id = ?1 ORDER BY m.id))"

/* The one text value of a query with ?1 = id (or no parameter): 0, or
 * DB_NOTFOUND when it gives no row or NULL. */
static int query_text(struct db *d, const char *sql, const char *id, char **out, struct lmu_err *e)
{
	*out = NULL;
	pthread_mutex_lock(&d->mu);
	int rc = -1;
	sqlite3_stmt *st = prepare(d, sql, e);
	if (st) {
		if (id)
			bind_text(st, 1, id);
		int s = sqlite3_step(st);
		if (s == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			*out = xstrdup((const char *)sqlite3_column_text(st, 0));
			rc = 0;
		} else if (s == SQLITE_ROW || s == SQLITE_DONE) {
			rc = DB_NOTFOUND;
		} else {
			fail(d, e, "reading");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int db_sessions_json(struct db *d, char **out, struct lmu_err *e)
{
	return query_text(d,
			  "SELECT coalesce(json_group_array(json(x)), '[]') FROM (SELECT " SESSION_JSON
			  " AS x FROM sessions s ORDER BY s.updated DESC, s.rowid DESC)",
			  NULL, out, e);
}

int db_session_json(struct db *d, const char *id, char **out, struct lmu_err *e)
{
	return query_text(d, "SELECT " SESSION_JSON " FROM sessions s WHERE s.id = ?1", id, out, e);
}

int db_messages_json(struct db *d, const char *id, char **out, struct lmu_err *e)
{
	return query_text(d, "SELECT " MESSAGES_JSON " FROM sessions s WHERE s.id = ?1", id, out, e);
}

int db_export_json(struct db *d, const char *id, char **out, struct lmu_err *e)
{
	return query_text(d,
			  "SELECT json_object('lmutils_session', 1, 'exported', unixepoch('now'), 'session', json("
			  SESSION_JSON "), 'messages', json(" MESSAGES_JSON ")) FROM sessions s WHERE s.id = ?1",
			  id, out, e);
}

int db_session_get(struct db *d, const char *id, char **model, char **settings, struct chat_msg **msgs,
		   size_t *n_msgs, struct lmu_err *e)
{
	sqlite3_stmt *st = NULL;
	int rc = -1;
	size_t n = 0, cap = 0;
	struct chat_msg *m = NULL;

	*model = *settings = NULL;
	*msgs = NULL;
	*n_msgs = 0;
	pthread_mutex_lock(&d->mu);
	/* a read transaction: the session and its messages as of one moment */
	if (exec(d, "BEGIN", e) < 0)
		goto out;
	st = prepare(d, "SELECT model, settings FROM sessions WHERE id = ?", e);
	if (!st)
		goto end;
	bind_text(st, 1, id);
	int s = sqlite3_step(st);
	if (s == SQLITE_DONE) {
		rc = DB_NOTFOUND;
		goto end;
	}
	if (s != SQLITE_ROW) {
		fail(d, e, "reading a session");
		goto end;
	}
	if (sqlite3_column_type(st, 0) != SQLITE_NULL)
		*model = xstrdup((const char *)sqlite3_column_text(st, 0));
	*settings = xstrdup((const char *)sqlite3_column_text(st, 1));
	sqlite3_finalize(st);
	st = prepare(d, "SELECT role, content FROM messages WHERE session_id = ? ORDER BY id", e);
	if (!st)
		goto end;
	bind_text(st, 1, id);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			m = xreallocarray(m, cap, sizeof *m);
		}
		m[n].role = xstrdup((const char *)sqlite3_column_text(st, 0));
		m[n].content = xstrdup((const char *)sqlite3_column_text(st, 1));
		n++;
	}
	if (s != SQLITE_DONE) {
		fail(d, e, "reading messages");
		goto end;
	}
	rc = 0;
end:
	exec(d, "COMMIT", &(struct lmu_err){{0}});
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	if (rc == 0) {
		*msgs = m;
		*n_msgs = n;
	} else {
		chat_msgs_free(m, n);
		free(*model);
		free(*settings);
		*model = *settings = NULL;
	}
	return rc;
}

int db_message_add(struct db *d, const char *id, const struct db_msg *m, long long *msg_id, char **json,
		   struct lmu_err *e)
{
	sqlite3_stmt *st = NULL, *su = NULL, *sj = NULL;
	double t = now();
	int rc = -1;

	if (json)
		*json = NULL;
	pthread_mutex_lock(&d->mu);
	if (exec(d, "BEGIN IMMEDIATE", e) < 0)
		goto out;
	/* a session without a title takes the start of its first user message */
	su = prepare(d,
		     "UPDATE sessions SET updated = ?1, title = CASE WHEN title = '' AND ?3 = 'user' THEN"
		     " trim(substr(replace(replace(replace(?4, char(13), ' '), char(10), ' '), char(9), ' '), 1, 60))"
		     " ELSE title END WHERE id = ?2",
		     e);
	if (!su)
		goto end;
	sqlite3_bind_double(su, 1, t);
	bind_text(su, 2, id);
	bind_text(su, 3, m->role);
	bind_text(su, 4, m->content ? m->content : "");
	if (step_done(d, su, "changing a session", e) < 0)
		goto end;
	if (sqlite3_changes(d->h) == 0) {
		rc = DB_NOTFOUND;
		goto end;
	}
	st = prepare(d, SQL_ADD_MSG, e);
	if (!st || add_msg(d, st, id, m, t, e) < 0)
		goto end;
	long long mid = sqlite3_last_insert_rowid(d->h);
	if (msg_id)
		*msg_id = mid;
	if (json) {
		sj = prepare(d, "SELECT " MESSAGE_JSON " FROM messages m WHERE m.id = ?", e);
		if (!sj)
			goto end;
		sqlite3_bind_int64(sj, 1, mid);
		if (sqlite3_step(sj) != SQLITE_ROW) {
			fail(d, e, "reading a message");
			goto end;
		}
		*json = xstrdup((const char *)sqlite3_column_text(sj, 0));
	}
	rc = 0;
end:
	rc = tx_end(d, rc, e);
	if (rc != 0 && json) {
		free(*json);
		*json = NULL;
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(su);
	sqlite3_finalize(sj);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

/* ---- the model registry ---- */

int db_models_replace(struct db *d, const struct db_model *m, size_t n, struct lmu_err *e)
{
	sqlite3_stmt *st = NULL;
	double t = now();
	int rc = -1;

	pthread_mutex_lock(&d->mu);
	if (exec(d, "BEGIN IMMEDIATE; DELETE FROM models", e) < 0)
		goto end;
	st = prepare(d,
		     "INSERT INTO models (id, path, source, format, architecture, parameters, quantization, types,"
		     " size, context_length, error, file, file_size, file_mtime_ns, scanner, scanned)"
		     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		     e);
	if (!st)
		goto end;
	for (size_t i = 0; i < n; i++) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		bind_text(st, 1, m[i].id);
		bind_text(st, 2, m[i].path);
		bind_text(st, 3, m[i].source);
		bind_text(st, 4, m[i].format);
		bind_text(st, 5, m[i].architecture);
		bind_count(st, 6, m[i].parameters);
		bind_text(st, 7, m[i].quantization);
		bind_text(st, 8, m[i].types);
		bind_count(st, 9, m[i].size);
		bind_count(st, 10, m[i].context_length);
		bind_text(st, 11, m[i].error);
		bind_text(st, 12, m[i].file);
		bind_count(st, 13, m[i].file ? m[i].file_size : -1);
		bind_count(st, 14, m[i].file ? m[i].file_mtime_ns : -1);
		bind_text(st, 15, m[i].scanner);
		sqlite3_bind_double(st, 16, t);
		if (step_done(d, st, "recording a model", e) < 0)
			goto end;
	}
	rc = 0;
end:
	rc = tx_end(d, rc, e);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : xstrdup((const char *)sqlite3_column_text(st, i));
}

static long long col_count(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

int db_model_cached(struct db *d, const struct db_model *key, struct db_model *out)
{
	int rc = 0;
	memset(out, 0, sizeof *out);
	pthread_mutex_lock(&d->mu);
	sqlite3_stmt *st = prepare(d,
				   "SELECT architecture, parameters, quantization, types, size, context_length, error"
				   " FROM models WHERE path = ? AND file = ? AND file_size = ? AND file_mtime_ns = ?"
				   " AND scanner = ?",
				   &(struct lmu_err){{0}});
	if (st && key->file && key->scanner) {
		bind_text(st, 1, key->path);
		bind_text(st, 2, key->file);
		sqlite3_bind_int64(st, 3, key->file_size);
		sqlite3_bind_int64(st, 4, key->file_mtime_ns);
		bind_text(st, 5, key->scanner);
		if (sqlite3_step(st) == SQLITE_ROW) {
			out->architecture = col_dup(st, 0);
			out->parameters = col_count(st, 1);
			out->quantization = col_dup(st, 2);
			out->types = col_dup(st, 3);
			out->size = col_count(st, 4);
			out->context_length = col_count(st, 5);
			out->error = col_dup(st, 6);
			rc = 1;
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int db_models_json(struct db *d, char **out, struct lmu_err *e)
{
	return query_text(
		d,
		"SELECT coalesce(json_group_array(json(x)), '[]') FROM (SELECT json_object('id', m.id, 'path', m.path,"
		" 'source', m.source, 'format', m.format, 'architecture', m.architecture, 'parameters', m.parameters,"
		" 'quantization', m.quantization, 'types', json(m.types), 'size', m.size, 'context_length',"
		" m.context_length, 'sha256', h.sha256, 'error', m.error, 'scanned', m.scanned) AS x"
		" FROM models m LEFT JOIN file_hashes h ON h.file = m.file AND h.size = m.file_size"
		" AND h.mtime_ns = m.file_mtime_ns ORDER BY m.rowid)",
		NULL, out, e);
}

int db_hash_get(struct db *d, const char *file, long long size, long long mtime_ns, char sha[65])
{
	int rc = 0;
	pthread_mutex_lock(&d->mu);
	sqlite3_stmt *st = prepare(d, "SELECT sha256 FROM file_hashes WHERE file = ? AND size = ? AND mtime_ns = ?",
				   &(struct lmu_err){{0}});
	if (st) {
		bind_text(st, 1, file);
		sqlite3_bind_int64(st, 2, size);
		sqlite3_bind_int64(st, 3, mtime_ns);
		if (sqlite3_step(st) == SQLITE_ROW) {
			snprintf(sha, 65, "%s", (const char *)sqlite3_column_text(st, 0));
			rc = 1;
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return rc;
}

int db_hash_put(struct db *d, const char *file, long long size, long long mtime_ns, const char *sha,
		double seconds, struct lmu_err *e)
{
	int rc = -1;
	pthread_mutex_lock(&d->mu);
	sqlite3_stmt *st = prepare(d,
				   "INSERT OR REPLACE INTO file_hashes (file, size, mtime_ns, sha256, seconds, hashed)"
				   " VALUES (?, ?, ?, ?, ?, ?)",
				   e);
	if (st) {
		bind_text(st, 1, file);
		sqlite3_bind_int64(st, 2, size);
		sqlite3_bind_int64(st, 3, mtime_ns);
		bind_text(st, 4, sha);
		sqlite3_bind_double(st, 5, seconds);
		sqlite3_bind_double(st, 6, now());
		rc = step_done(d, st, "recording a hash", e);
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&d->mu);
	return rc;
}
