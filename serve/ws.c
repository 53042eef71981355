/* ws.c - the chat's WebSocket, /api/ws: the page sends a message of a
 * session, the server stores it, generates the reply with the session's
 * model and settings, streams it piece by piece, and stores it.  The
 * protocol (JSON text frames, lm-serve(1) "WEBSOCKET"):
 *
 *   client -> server
 *     {"type":"auth","key":KEY}              first, when the server has a key
 *     {"type":"chat","session":ID,"content":TEXT}
 *     {"type":"stop"}                        end the reply being generated
 *   server -> client
 *     {"type":"hello","version":V,"auth":BOOL}           on connecting
 *     {"type":"message","session":ID,"message":MSG}      the user's message, stored
 *     {"type":"loading","session":ID,"model":M}          the model is being loaded
 *     {"type":"start","session":ID,"model":M,"prompt_tokens":N,"dropped_messages":N}
 *     {"type":"token","session":ID,"text":PIECE}         the reply grows
 *     {"type":"done","session":ID,"message":MSG|null}    the reply, stored
 *     {"type":"error","session":ID|null,"code":C,"message":TEXT}
 *
 * civetweb gives each WebSocket a worker thread that reads its frames and
 * calls data(); a reply is generated on a thread of its own, so that the
 * reader can take a "stop" meanwhile.  One reply at a time per socket.
 * Writes from both threads go through mg_websocket_write, which locks the
 * connection.  When the socket closes, close() stops the reply and waits
 * for its thread before civetweb reuses the connection. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include "err.h"
#include "generate.h"
#include "webchat.h"

#define WS_PATH "/api/ws"
#define RESERVE_MAX 1024        /* positions kept free for a reply without max_tokens */

struct ws {
	struct webchat *w;
};

struct conn {
	struct ws *ws;
	struct mg_connection *mc;
	char addr[64];
	bool authed;
	struct jw frag;         /* a message arriving in fragments */

	pthread_mutex_t mu;     /* what follows */
	bool closed;
	bool thread;            /* th is to be joined */
	bool busy;              /* a reply is being made */
	bool stop;              /* asked to stop it */
	pthread_t th;
	struct job *job;        /* the reply's job, once submitted */
	struct srv_model *m;
};

struct task {
	struct conn *c;
	char sid[DB_ID_LEN + 1];
	char *content;
};

/* ---- sending ---- */

static int send_frame(struct conn *c, const struct jw *w)
{
	return mg_websocket_write(c->mc, MG_WEBSOCKET_OPCODE_TEXT, w->b, w->n) > 0 ? 0 : -1;
}

/* {"type":TYPE,"session":SID, + more (raw JSON members, or NULL) + } */
static void frame(struct jw *w, const char *type, const char *sid, const char *more)
{
	jw_reset(w);
	jw_raw(w, "{\"type\":");
	jw_cstr(w, type);
	jw_raw(w, ",\"session\":");
	if (sid)
		jw_cstr(w, sid);
	else
		jw_raw(w, "null");
	if (more) {
		jw_raw(w, ",");
		jw_raw(w, more);
	}
	jw_raw(w, "}");
}

static int send_msg(struct conn *c, const char *type, const char *sid, const char *more)
{
	struct jw w = {0};
	frame(&w, type, sid, more);
	int rc = send_frame(c, &w);
	jw_free(&w);
	return rc;
}

static void error_frame(struct jw *w, const char *sid, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void error_frame(struct jw *w, const char *sid, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct jw m = {0};
	jw_raw(&m, "\"code\":");
	jw_cstr(&m, code);
	jw_raw(&m, ",\"message\":");
	jw_cstr(&m, msg);
	jw_mem(&m, "", 1);
	frame(w, "error", sid, m.b);
	jw_free(&m);
}

#define send_error(c, ...)                                   \
	do {                                                 \
		struct jw w_ = {0};                          \
		error_frame(&w_, __VA_ARGS__);               \
		send_frame(c, &w_);                          \
		jw_free(&w_);                                \
	} while (0)

/* ---- a reply ---- */

struct reply {
	struct conn *c;
	const char *sid;
	struct jw text;         /* the whole reply so far */
	struct jw ev;
};

static int on_token(void *arg, const struct job_token *t, size_t index, const char *text, size_t n)
{
	struct reply *x = arg;
	(void)t;
	(void)index;
	jw_mem(&x->text, text, n);
	if (n == 0)
		return 0;
	jw_reset(&x->ev);
	jw_raw(&x->ev, "{\"type\":\"token\",\"session\":");
	jw_cstr(&x->ev, x->sid);
	jw_raw(&x->ev, ",\"text\":");
	jw_str(&x->ev, text, n);
	jw_raw(&x->ev, "}");
	return send_frame(x->c, &x->ev);
}

/* The session's settings as a job's parameters, and its system prompt.
 * What a session does not set is as lm-sample and lm-chat have it
 * (a repetition penalty of 1.1 over the last 64 tokens included, which
 * keeps small models from looping), with a random seed. */
static bool session_params(const char *settings, struct job_params *p, char **system, struct lmu_err *e)
{
	struct jreq q = {0};
	gen_defaults(p);
	uint64_t seed = p->gen.sampler.seed;
	sampler_defaults(&p->gen.sampler);
	p->gen.sampler.seed = seed;
	bool ok = jreq_parse(&q, settings, strlen(settings)) && gen_sampling(&q, q.root, p) &&
		  jreq_str(&q, q.root, "system", "system", system, NULL);
	if (!ok)
		err_set(e, "the session's settings: %s", q.err.msg);
	p->gen.n_stop = 0;  /* (settings have none; none may point into q) */
	jreq_free(&q);
	return ok;
}

/* The conversation's ids, dropping the oldest messages until it leaves
 * room for the reply; *dropped says how many went. */
static bool encode(struct srv_model *m, const char *system, const struct chat_msg *msgs, size_t n,
		   long long max_tokens, struct ids *out, size_t *dropped, struct lmu_err *e)
{
	struct chat_msg *conv = xcalloc(n + 1, sizeof *conv);
	size_t reserve = m->n_ctx_seq / 4 < RESERVE_MAX ? m->n_ctx_seq / 4 : RESERVE_MAX;
	if (max_tokens > 0 && (size_t)max_tokens < m->n_ctx_seq / 2)
		reserve = (size_t)max_tokens;
	bool ok = false;
	for (size_t first = 0; first < n; first++) {
		/* a conversation starts with a user's message */
		if (first > 0 && strcmp(msgs[first].role, "user") != 0 && first + 1 < n)
			continue;
		size_t k = 0;
		if (system && *system)
			conv[k++] = (struct chat_msg){"system", (char *)system};
		for (size_t i = first; i < n; i++)
			conv[k++] = msgs[i];
		out->n = 0;
		ok = model_encode_chat(m, conv, k, out, e);
		*dropped = first;
		if (!ok || out->n + reserve <= m->n_ctx_seq)
			break;
	}
	free(conv);
	return ok;
}

static const char *finish_name(int finish)
{
	switch (finish) {
	case JOB_EOG:
	case JOB_STOP: return "stop";
	case JOB_LENGTH: return "length";
	case JOB_FAILED: return "error";
	default: return "cancelled";
	}
}

/* Make the reply to content in session sid; its last frame (done, or an
 * error) goes into final, to be sent once the socket may take the next
 * message. */
static void chat(struct conn *c, const char *sid, const char *content, struct jw *final)
{
	struct webchat *w = c->ws->w;
	struct lmu_err e = {{0}};
	char *model_name = NULL, *settings = NULL, *system = NULL, *json = NULL;
	struct chat_msg *msgs = NULL;
	size_t n_msgs = 0, dropped = 0;
	struct srv_model *m = NULL;
	struct job *j = NULL;
	struct job_params p;
	struct ids prompt = {0};
	struct reply x = {.c = c, .sid = sid};
	struct jw more = {0};
	double t0 = mono_now();
	struct req r = {.srv = w->srv, .models = w->ms, .metrics = w->mx, .t0 = t0, .ttft = -1};

	if (!server_enter(w->srv)) {
		error_frame(final, sid, "stopping", "the server is stopping");
		return;
	}
	int rc = db_session_get(w->db, sid, &model_name, &settings, &msgs, &n_msgs, &e);
	if (rc) {
		error_frame(final, sid, rc == DB_NOTFOUND ? "session_not_found" : "database",
			   rc == DB_NOTFOUND ? "no such session" : "%s", e.msg);
		goto out;
	}
	if (!session_params(settings, &p, &system, &e)) {
		error_frame(final, sid, "settings", "%s", e.msg);
		goto out;
	}
	/* the user's message is stored before anything can go wrong */
	struct db_msg um = {.role = "user", .content = content, .prompt_tokens = -1, .cached_tokens = -1,
			    .completion_tokens = -1, .ttft = -1, .tokens_per_second = -1};
	rc = db_message_add(w->db, sid, &um, NULL, &json, &e);
	if (rc) {
		error_frame(final, sid, rc == DB_NOTFOUND ? "session_not_found" : "database", "%s",
			   rc == DB_NOTFOUND ? "no such session" : e.msg);
		goto out;
	}
	jw_raw(&more, "\"message\":");
	jw_raw(&more, json);
	jw_mem(&more, "", 1);
	send_msg(c, "message", sid, more.b);
	msgs = xreallocarray(msgs, n_msgs + 1, sizeof *msgs);
	msgs[n_msgs++] = (struct chat_msg){xstrdup("user"), xstrdup(content)};

	struct srv_model *want = models_find(w->ms, model_name);
	if (!want) {
		error_frame(final, sid, "model_not_found",
			   model_name ? "the model '%s' of this session is not available: pick another" : "%s",
			   model_name ? model_name : "this server has no model to chat with");
		goto out;
	}
	if (models_state(w->ms, want) != MODEL_READY) {
		jw_reset(&more);
		jw_raw(&more, "\"model\":");
		jw_cstr(&more, want->id);
		jw_mem(&more, "", 1);
		send_msg(c, "loading", sid, more.b);
	}
	if (models_acquire(w->ms, model_name, &m) != 0) {
		error_frame(final, sid, "model_not_found", "the model '%s' is not available", model_name ? model_name : "");
		goto out;
	}
	if (!encode(m, system, msgs, n_msgs, p.gen.max_tokens, &prompt, &dropped, &e)) {
		error_frame(final, sid, "template", "the model's chat template: %s", e.msg);
		goto out;
	}
	int status;
	pthread_mutex_lock(&c->mu);
	if (!c->stop) {
		j = gen_start(m, &prompt, &p, &status, &e);
		c->job = j;
		c->m = m;
	}
	bool stopped = c->stop;
	pthread_mutex_unlock(&c->mu);
	if (stopped) {
		frame(final, "done", sid, "\"message\":null,\"finish\":\"cancelled\"");
		goto out;
	}
	if (!j) {
		error_frame(final, sid, status == 503 ? "busy" : "context_length_exceeded", "%s", e.msg);
		goto out;
	}
	jw_reset(&more);
	jw_raw(&more, "\"model\":");
	jw_cstr(&more, m->id);
	jw_printf(&more, ",\"prompt_tokens\":%zu,\"dropped_messages\":%zu", prompt.n, dropped);
	jw_mem(&more, "", 1);
	send_msg(c, "start", sid, more.b);

	struct textout t;
	textout_init(&t, m->v, &j->p);
	struct gen_sink k = {.arg = &x, .out = on_token, .stream = false};
	int finish = gen_follow(&r, m, j, &t, &k);
	textout_free(&t);
	pthread_mutex_lock(&c->mu);
	c->job = NULL;
	pthread_mutex_unlock(&c->mu);
	if (finish < 0)
		finish = JOB_CANCELLED;  /* the client went away: the reply is kept as it is */

	/* the reply is stored, unless nothing came */
	size_t n_gen = j->n_tok;
	double tps = n_gen > 1 && j->t_end > j->t_first ? (double)(n_gen - 1) / (j->t_end - j->t_first) : -1;
	double ttft = j->t_first ? j->t_first - t0 : -1;
	tps = tps < 0 ? tps : (double)(long long)(tps * 100 + 0.5) / 100;
	ttft = ttft < 0 ? ttft : (double)(long long)(ttft * 1000 + 0.5) / 1000;
	free(json);
	json = NULL;
	if (x.text.n || (finish != JOB_CANCELLED && finish != JOB_FAILED)) {
		jw_mem(&x.text, "", 1);
		struct db_msg am = {.role = "assistant", .content = x.text.b, .model = m->id,
				    .finish = finish_name(finish), .prompt_tokens = (long long)prompt.n,
				    .cached_tokens = j->n_cached, .completion_tokens = (long long)n_gen,
				    .ttft = ttft, .tokens_per_second = tps};
		if (db_message_add(w->db, sid, &am, NULL, &json, &e) != 0)
			send_error(c, sid, "database", "the reply could not be stored: %s", e.msg);
	}
	jw_reset(&more);
	jw_raw(&more, "\"message\":");
	jw_raw(&more, json ? json : "null");
	jw_printf(&more, ",\"finish\":\"%s\"", finish_name(finish));
	if (finish == JOB_FAILED) {
		jw_raw(&more, ",\"error\":");
		jw_cstr(&more, j->error);
	}
	jw_mem(&more, "", 1);
	frame(final, "done", sid, more.b);
	metrics_request(w->mx, WS_PATH, 200, mono_now() - t0, ttft, (long long)prompt.n, j->n_cached,
			(long long)n_gen);
	fprintf(stderr, "%s: %s WS chat model=%s prompt=%zu cached=%u gen=%zu finish=%s %.3fs\n", progname, c->addr,
		m->id, prompt.n, j->n_cached, n_gen, finish_name(finish), mono_now() - t0);
out:
	if (m)
		gen_release(m, j);
	models_release(w->ms, m);
	server_leave(w->srv);
	chat_msgs_free(msgs, n_msgs);
	free(prompt.v);
	free(model_name);
	free(settings);
	free(system);
	free(json);
	jw_free(&more);
	jw_free(&x.text);
	jw_free(&x.ev);
}

static void *chat_thread(void *arg)
{
	struct task *t = arg;
	struct conn *c = t->c;
	struct jw final = {0};
	chat(c, t->sid, t->content, &final);
	pthread_mutex_lock(&c->mu);
	c->busy = false;
	pthread_mutex_unlock(&c->mu);
	send_frame(c, &final);
	jw_free(&final);
	free(t->content);
	free(t);
	return NULL;
}

/* ---- the socket ---- */

/* Take one message (a JSON object); false to close the socket. */
static bool message(struct conn *c, const char *data, size_t n)
{
	struct jreq q = {0};
	char *type = NULL, *sid = NULL, *content = NULL, *key = NULL;
	bool keep = true;
	const struct server_params *sp = server_params(c->ws->w->srv);

	if (!jreq_parse(&q, data, n) || !jreq_str(&q, q.root, "type", "type", &type, NULL) ||
	    !jreq_str(&q, q.root, "session", "session", &sid, NULL) ||
	    !jreq_str(&q, q.root, "content", "content", &content, NULL) ||
	    !jreq_str(&q, q.root, "key", "key", &key, NULL)) {
		send_error(c, NULL, "bad_message", "%s", q.err.msg);
		goto out;
	}
	if (!type) {
		send_error(c, NULL, "bad_message", "type: auth, chat or stop");
		goto out;
	}
	if (strcmp(type, "auth") == 0) {
		c->authed = !sp->api_key || (key && server_key_ok(c->ws->w->srv, key));
		if (!c->authed) {
			send_error(c, NULL, "invalid_api_key", "a valid key is needed");
			keep = false;
		}
		goto out;
	}
	if (!c->authed) {
		send_error(c, NULL, "invalid_api_key", "send {\"type\":\"auth\",\"key\":KEY} first");
		keep = false;
		goto out;
	}
	if (strcmp(type, "stop") == 0) {
		pthread_mutex_lock(&c->mu);
		if (c->busy) {
			c->stop = true;
			if (c->job)
				sched_cancel(c->m->sched, c->job);  /* it ends before its next token */
		}
		pthread_mutex_unlock(&c->mu);
		goto out;
	}
	if (strcmp(type, "chat") != 0) {
		send_error(c, sid, "bad_message", "type: '%.40s' is not auth, chat or stop", type);
		goto out;
	}
	if (!sid || !db_id_valid(sid) || !content || !*content) {
		send_error(c, sid && db_id_valid(sid) ? sid : NULL, "bad_message",
			   "a chat message needs a session id and some content");
		goto out;
	}
	pthread_mutex_lock(&c->mu);
	if (c->busy) {
		pthread_mutex_unlock(&c->mu);
		send_error(c, sid, "busy", "a reply is being generated: stop it first");
		goto out;
	}
	if (c->thread)
		pthread_join(c->th, NULL);  /* the last reply's thread, which has ended */
	struct task *t = xcalloc(1, sizeof *t);
	t->c = c;
	memcpy(t->sid, sid, DB_ID_LEN + 1);
	t->content = content;
	content = NULL;
	c->busy = true;
	c->stop = false;
	int rc = pthread_create(&c->th, NULL, chat_thread, t);
	c->thread = rc == 0;
	if (rc != 0) {
		c->busy = false;
		free(t->content);
		free(t);
	}
	pthread_mutex_unlock(&c->mu);
	if (rc != 0)
		send_error(c, sid, "server", "cannot start a thread: %s", strerror(rc));
out:
	free(type);
	free(sid);
	free(content);
	free(key);
	jreq_free(&q);
	return keep;
}

static int on_connect(const struct mg_connection *mc, void *arg)
{
	struct ws *ws = arg;
	const char *why = webchat_refuse(ws->w->srv, mg_get_header(mc, "Origin"), mg_get_header(mc, "Host"));
	if (why) {
		fprintf(stderr, "%s: %s WS refused: %s\n", progname, mg_get_request_info(mc)->remote_addr, why);
		return 1;
	}
	struct conn *c = xcalloc(1, sizeof *c);
	c->ws = ws;
	c->authed = !server_params(ws->w->srv)->api_key;
	snprintf(c->addr, sizeof c->addr, "%s", mg_get_request_info(mc)->remote_addr);
	pthread_mutex_init(&c->mu, NULL);
	mg_set_user_connection_data(mc, c);
	return 0;
}

static void on_ready(struct mg_connection *mc, void *arg)
{
	(void)arg;
	struct conn *c = mg_get_user_connection_data(mc);
	c->mc = mc;
	send_msg(c, "hello", NULL, c->authed ? "\"version\":\"" LMU_VERSION "\",\"auth\":false"
					     : "\"version\":\"" LMU_VERSION "\",\"auth\":true");
}

static int on_data(struct mg_connection *mc, int flags, char *data, size_t n, void *arg)
{
	(void)arg;
	struct conn *c = mg_get_user_connection_data(mc);
	int op = flags & 0xf;
	bool fin = flags & 0x80;
	size_t max = server_params(c->ws->w->srv)->max_body;

	if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
		return 0;
	if (op == MG_WEBSOCKET_OPCODE_PING || op == MG_WEBSOCKET_OPCODE_PONG)
		return 1;
	if (op == MG_WEBSOCKET_OPCODE_BINARY) {
		send_error(c, NULL, "bad_message", "messages are JSON text frames");
		return 1;
	}
	if (op == MG_WEBSOCKET_OPCODE_TEXT)
		jw_reset(&c->frag);
	if (c->frag.n + n > max) {
		send_error(c, NULL, "too_large", "a message of more than %zu bytes", max);
		return 0;
	}
	jw_mem(&c->frag, data, n);
	if (!fin)
		return 1;
	bool keep = message(c, c->frag.b ? c->frag.b : "", c->frag.n);
	jw_reset(&c->frag);
	return keep;
}

static void on_close(const struct mg_connection *mc, void *arg)
{
	(void)arg;
	struct conn *c = mg_get_user_connection_data(mc);
	if (!c)
		return;
	/* the reply stops at its next token (what came is stored) */
	pthread_mutex_lock(&c->mu);
	c->closed = true;
	c->stop = true;
	if (c->job)
		sched_cancel(c->m->sched, c->job);
	bool join = c->thread;
	pthread_mutex_unlock(&c->mu);
	if (join)
		pthread_join(c->th, NULL);
	pthread_mutex_destroy(&c->mu);
	jw_free(&c->frag);
	free(c);
	mg_set_user_connection_data(mc, NULL);
}

struct ws *ws_new(struct webchat *w)
{
	struct ws *ws = xcalloc(1, sizeof *ws);
	ws->w = w;
	return ws;
}

void ws_start(struct ws *ws)
{
	mg_set_websocket_handler(server_mg(ws->w->srv), WS_PATH, on_connect, on_ready, on_data, on_close, ws);
}

void ws_free(struct ws *ws)
{
	free(ws);
}
