/* sessions.c - the chat sessions over REST:
 *
 *   GET    /api/sessions                 every session, newest first
 *   POST   /api/sessions                 a new one ({title, model, settings}),
 *                                        or an import (an export, or {.., messages})
 *   GET    /api/sessions/ID              one
 *   PATCH  /api/sessions/ID              change its title, model, settings
 *   DELETE /api/sessions/ID              delete it with its messages
 *   GET    /api/sessions/ID/messages     its messages, oldest first
 *   GET    /api/sessions/ID/export       it and its messages, as a file
 *
 * Replies are generated over the WebSocket (ws.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "generate.h"
#include "webchat.h"

#define MAX_TITLE 200           /* bytes of a title */
#define MAX_SYSTEM (64 << 10)   /* bytes of a system prompt */
#define MAX_IMPORT 100000       /* messages of an import */

/* ---- settings ---- */

static const char *const setting_names[] = {
	"system", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "presence_penalty",
	"frequency_penalty", "max_tokens", "seed",
};
#define N_SETTINGS (sizeof setting_names / sizeof *setting_names)

bool settings_check(const char *json, size_t n, char **out, struct lmu_err *e)
{
	struct jreq q = {0};
	struct job_params p;
	char *system = NULL;
	bool ok = jreq_parse(&q, json, n);

	gen_defaults(&p);
	if (ok) {
		jv keys = jv_keys(jv_copy(q.root));
		int nk = jv_array_length(jv_copy(keys));
		for (int i = 0; ok && i < nk; i++) {
			jv k = jv_array_get(jv_copy(keys), i);
			bool known = false;
			for (size_t s = 0; s < N_SETTINGS && !known; s++)
				known = strcmp(jv_string_value(k), setting_names[s]) == 0;
			if (!known)
				ok = jreq_fail(&q, "settings", "'%.40s' is not a setting (system, temperature, top_p, top_k, "
							       "min_p, repeat_penalty, presence_penalty, frequency_penalty, "
							       "max_tokens, seed)",
					       jv_string_value(k));
			jv_free(k);
		}
		jv_free(keys);
	}
	/* the sampling settings are read as a chat completion reads them */
	ok = ok && gen_sampling(&q, q.root, &p);
	ok = ok && jreq_str(&q, q.root, "system", "system", &system, NULL);
	if (ok && system && strlen(system) > MAX_SYSTEM)
		ok = jreq_fail(&q, "system", "system: at most %d bytes", MAX_SYSTEM);
	if (!ok) {
		err_set(e, "settings: %s", q.err.msg);
	} else {
		/* written back as given (the nulls dropped), keys in a fixed order */
		struct jw w = {0};
		jw_raw(&w, "{");
		for (size_t s = 0; s < N_SETTINGS; s++) {
			jv v = jreq_get(q.root, setting_names[s]);
			if (jv_get_kind(v) != JV_KIND_NULL) {
				jv d = jv_dump_string(jv_copy(v), 0);
				jw_raw(&w, w.n > 1 ? "," : "");
				jw_key(&w, setting_names[s]);
				jw_raw(&w, jv_string_value(d));
				jv_free(d);
			}
			jv_free(v);
		}
		jw_raw(&w, "}");
		*out = w.b;
	}
	free(system);
	jreq_free(&q);
	return ok;
}

/* ---- helpers ---- */

/* The session id at the start of r->subpath, and what follows it. */
static bool session_path(struct req *r, char id[DB_ID_LEN + 1], const char **rest)
{
	const char *p = r->subpath;
	size_t n = strcspn(p, "/");
	if (n != DB_ID_LEN)
		return false;
	memcpy(id, p, n);
	id[n] = 0;
	*rest = p + n;
	return db_id_valid(id);
}

static int not_found(struct req *r)
{
	return reply_error(r, 404, NULL, "session_not_found", "no such session");
}

/* A route under /api/sessions/ID: the guard (webchat_guard), then the
 * session's id and what follows it in *rest (whole: nothing may).  0, or
 * the status answered. */
static int session_route(struct req *r, bool whole, char id[DB_ID_LEN + 1], const char **rest)
{
	*rest = "";
	int rc = webchat_guard(r);
	if (rc)
		return rc;
	if (!session_path(r, id, rest) || (whole && **rest))
		return not_found(r);
	return 0;
}

static int db_error(struct req *r, int rc, const struct lmu_err *e)
{
	if (rc == DB_NOTFOUND)
		return not_found(r);
	return reply_error(r, 500, NULL, NULL, "%s", e->msg);
}

static int reply_text(struct req *r, int status, char *json)
{
	struct jw w = {.b = json, .n = strlen(json)};
	int rc = reply_json(r, status, &w);
	free(json);
	return rc;
}

/* A list: {"object":"list","data":ARRAY}. */
static int reply_list(struct req *r, char *array)
{
	struct jw w = {0};
	jw_printf(&w, "{\"object\":\"list\",\"data\":%s}", array);
	free(array);
	int rc = reply_json(r, 200, &w);
	jw_free(&w);
	return rc;
}

/* The body as a JSON object (into q): 0, or the status answered. */
static int body(struct req *r, struct jreq *q)
{
	memset(q, 0, sizeof *q);
	q->root = jv_null();
	int rc = req_body(r);
	if (rc)
		return rc;
	if (!jreq_parse(q, r->n_body ? r->body : "{}", r->n_body ? r->n_body : 2))
		return reply_error(r, 400, q->param, NULL, "%s", q->err.msg);
	return 0;
}

/* title, model and settings of an object (each NULL when absent or null;
 * model_null: "model": null, to take the model away). */
struct fields {
	char *title, *model, *settings;
	bool model_null;
};

static void fields_free(struct fields *f)
{
	free(f->title);
	free(f->model);
	free(f->settings);
}

static bool fields(struct jreq *q, jv o, struct fields *f)
{
	bool ok = jreq_str(q, o, "title", "title", &f->title, NULL);
	if (ok && f->title && strlen(f->title) > MAX_TITLE)
		ok = jreq_fail(q, "title", "title: at most %d bytes", MAX_TITLE);
	jv m = jreq_get(o, "model");
	f->model_null = jv_get_kind(m) == JV_KIND_NULL && jv_object_has(jv_copy(o), jv_string("model"));
	jv_free(m);
	ok = ok && jreq_str(q, o, "model", "model", &f->model, NULL);
	if (ok && f->model && strlen(f->model) > 1000)
		ok = jreq_fail(q, "model", "model: a name of at most 1000 bytes");
	jv s = jreq_get(o, "settings");
	if (ok && jv_get_kind(s) == JV_KIND_OBJECT) {
		struct lmu_err e = {{0}};
		jv d = jv_dump_string(jv_copy(s), 0);
		if (!settings_check(jv_string_value(d), (size_t)jv_string_length_bytes(jv_copy(d)), &f->settings, &e))
			ok = jreq_fail(q, "settings", "%s", e.msg);
		jv_free(d);
	} else if (ok && jv_get_kind(s) != JV_KIND_NULL) {
		ok = jreq_fail(q, "settings", "settings: must be an object, not %s", jv_kind_name(jv_get_kind(s)));
	}
	jv_free(s);
	return ok;
}

/* The model a session may name: one the server knows, or none. */
static bool model_known(struct req *r, struct jreq *q, const char *model)
{
	if (!model || !*model || models_find(r->models, model))
		return true;
	return jreq_fail(q, "model", "model: '%.100s' is not a model of this server (GET /api/models)", model);
}

/* ---- import ---- */

static void msgs_free(struct db_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)m[i].role);
		free((char *)m[i].content);
		free((char *)m[i].model);
		free((char *)m[i].finish);
	}
	free(m);
}

/* The messages of an import: [{role, content, model?, finish?, created?,
 * usage?, ttft?, tokens_per_second?}]. */
static bool import_msgs(struct jreq *q, jv list, struct db_msg **out, size_t *n_out)
{
	int n = jv_array_length(jv_copy(list));
	struct db_msg *m = xcalloc(n ? (size_t)n : 1, sizeof *m);
	bool ok = n <= MAX_IMPORT || jreq_fail(q, "messages", "messages: at most %d", MAX_IMPORT);
	int i;
	char name[64];
	for (i = 0; ok && i < n; i++) {
		jv x = jv_array_get(jv_copy(list), i);
		struct db_msg *d = &m[i];
		char *role = NULL, *content = NULL, *model = NULL, *finish = NULL;
		double created = 0, ttft = -1, tps = -1;
		long long pt = -1, ct = -1, gt = -1;
		snprintf(name, sizeof name, "messages[%d]", i);
		if (jv_get_kind(x) != JV_KIND_OBJECT) {
			ok = jreq_fail(q, "messages", "%s: must be an object", name);
		} else {
			ok = jreq_str(q, x, "role", "messages.role", &role, NULL) &&
			     jreq_str(q, x, "content", "messages.content", &content, NULL) &&
			     jreq_str(q, x, "model", "messages.model", &model, NULL) &&
			     jreq_str(q, x, "finish", "messages.finish", &finish, NULL) &&
			     jreq_num(q, x, "created", "messages.created", 0, 1e11, &created, NULL) &&
			     jreq_num(q, x, "ttft", "messages.ttft", 0, 1e9, &ttft, NULL) &&
			     jreq_num(q, x, "tokens_per_second", "messages.tokens_per_second", 0, 1e9, &tps, NULL);
			jv u = jreq_get(x, "usage");
			if (ok && jv_get_kind(u) == JV_KIND_OBJECT)
				ok = jreq_int(q, u, "prompt_tokens", "messages.usage", 0, 1ll << 40, &pt, NULL) &&
				     jreq_int(q, u, "cached_tokens", "messages.usage", 0, 1ll << 40, &ct, NULL) &&
				     jreq_int(q, u, "completion_tokens", "messages.usage", 0, 1ll << 40, &gt, NULL);
			jv_free(u);
			if (ok && (!role || (strcmp(role, "system") && strcmp(role, "user") && strcmp(role, "assistant"))))
				ok = jreq_fail(q, "messages", "%s.role: system, user or assistant", name);
			if (ok && !content)
				ok = jreq_fail(q, "messages", "%s.content: a string is needed", name);
		}
		jv_free(x);
		*d = (struct db_msg){role, content, model, finish, pt, ct, gt, ttft, tps, created};
	}
	if (!ok) {
		msgs_free(m, (size_t)i);
		return false;
	}
	*out = m;
	*n_out = (size_t)n;
	return true;
}

/* ---- routes ---- */

static int list(struct req *r)
{
	struct webchat *w = webchat_of(r);
	struct lmu_err e = {{0}};
	char *out;
	int rc = webchat_guard(r);
	if (rc)
		return rc;
	rc = db_sessions_json(w->db, &out, &e);
	if (rc)
		return db_error(r, rc, &e);
	return reply_list(r, out);
}

static int create(struct req *r)
{
	struct webchat *w = webchat_of(r);
	struct lmu_err e = {{0}};
	struct jreq q;
	struct fields f = {0};
	struct db_msg *msgs = NULL;
	size_t n_msgs = 0;
	char id[DB_ID_LEN + 1], *out;
	int rc = webchat_guard(r);

	if (rc || (rc = body(r, &q)))
		goto done;
	/* an export ({"lmutils_session": 1, "session": {...}, "messages": [...]}) is imported as it is */
	jv o = jv_copy(q.root);
	jv sess = jreq_get(o, "session"), mark = jreq_get(o, "lmutils_session");
	if (jv_get_kind(mark) != JV_KIND_NULL && jv_get_kind(sess) == JV_KIND_OBJECT) {
		jv msgs_v = jreq_get(o, "messages");
		jv_free(o);
		o = jv_object_set(jv_copy(sess), jv_string("messages"), msgs_v);
	}
	jv_free(mark);
	jv_free(sess);
	bool ok = fields(&q, o, &f) && model_known(r, &q, f.model);
	jv list = jreq_get(o, "messages");
	if (ok && jv_get_kind(list) == JV_KIND_ARRAY)
		ok = import_msgs(&q, list, &msgs, &n_msgs);
	else if (ok && jv_get_kind(list) != JV_KIND_NULL)
		ok = jreq_fail(&q, "messages", "messages: must be an array");
	jv_free(list);
	jv_free(o);
	if (!ok) {
		rc = reply_error(r, 400, q.param, NULL, "%s", q.err.msg);
		goto done;
	}
	rc = db_session_new(w->db, f.title, f.model, f.settings, msgs, n_msgs, id, &e);
	if (rc == 0)
		rc = db_session_json(w->db, id, &out, &e);
	rc = rc ? db_error(r, rc, &e) : reply_text(r, 201, out);
done:
	msgs_free(msgs, n_msgs);
	fields_free(&f);
	jreq_free(&q);
	return rc;
}

static int get(struct req *r)
{
	struct webchat *w = webchat_of(r);
	struct lmu_err e = {{0}};
	char id[DB_ID_LEN + 1], *out;
	const char *rest;
	int rc = session_route(r, false, id, &rest);
	if (rc)
		return rc;
	if (!*rest) {
		rc = db_session_json(w->db, id, &out, &e);
		return rc ? db_error(r, rc, &e) : reply_text(r, 200, out);
	}
	if (strcmp(rest, "/messages") == 0) {
		rc = db_messages_json(w->db, id, &out, &e);
		return rc ? db_error(r, rc, &e) : reply_list(r, out);
	}
	if (strcmp(rest, "/export") == 0) {
		rc = db_export_json(w->db, id, &out, &e);
		if (rc)
			return db_error(r, rc, &e);
		char extra[128];
		snprintf(extra, sizeof extra, "Content-Disposition: attachment; filename=\"lm-serve-session-%.8s.json\"\r\n",
			 id);
		rc = reply(r, 200, "application/json", out, strlen(out), extra);
		free(out);
		return rc;
	}
	return reply_error(r, 404, NULL, NULL, "no route GET /api/sessions/%s", r->subpath);
}

static int patch(struct req *r)
{
	struct webchat *w = webchat_of(r);
	struct lmu_err e = {{0}};
	struct jreq q;
	struct fields f = {0};
	char id[DB_ID_LEN + 1], *out;
	const char *rest;
	int rc = session_route(r, true, id, &rest);

	if (rc)
		return rc;
	if ((rc = body(r, &q)))
		goto done;
	if (!fields(&q, q.root, &f) || !model_known(r, &q, f.model)) {
		rc = reply_error(r, 400, q.param, NULL, "%s", q.err.msg);
		goto done;
	}
	/* "model": null takes the model away (the server's default then) */
	const char *model = f.model ? f.model : f.model_null ? "" : NULL;
	rc = db_session_update(w->db, id, f.title, model, f.settings, &e);
	if (rc == 0)
		rc = db_session_json(w->db, id, &out, &e);
	rc = rc ? db_error(r, rc, &e) : reply_text(r, 200, out);
done:
	fields_free(&f);
	jreq_free(&q);
	return rc;
}

static int del(struct req *r)
{
	struct webchat *w = webchat_of(r);
	struct lmu_err e = {{0}};
	char id[DB_ID_LEN + 1];
	const char *rest;
	int rc = session_route(r, true, id, &rest);
	if (rc)
		return rc;
	rc = db_session_delete(w->db, id, &e);
	if (rc)
		return db_error(r, rc, &e);
	return reply(r, 204, "application/json", "", 0, NULL);
}

void sessions_routes(struct server *s)
{
	server_route(s, "GET", "/api/sessions", 0, list);
	server_route(s, "POST", "/api/sessions", 0, create);
	server_route(s, "GET", "/api/sessions/", ROUTE_PREFIX, get);
	server_route(s, "PATCH", "/api/sessions/", ROUTE_PREFIX, patch);
	server_route(s, "DELETE", "/api/sessions/", ROUTE_PREFIX, del);
}
