/* server.h - lm-serve's HTTP layer over civetweb: a table of routes,
 * what every request goes through (authentication, CORS, limits, the
 * access log, the request metrics), and the ways to answer (JSON,
 * OpenAI-shaped errors, server-sent events).
 *
 * civetweb runs a pool of worker threads; each request is one call of
 * its route's handler on a worker, which may block (waiting for tokens)
 * and write as long as it likes.  The routes live in their own files
 * (routes_*.c) and register themselves with server_route(). */
#ifndef LMU_SERVE_SERVER_H
#define LMU_SERVE_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"
#include "metrics.h"
#include "models.h"

struct mg_connection;
struct mg_context;
struct mg_request_info;

struct server_params {
	const char *host;       /* address to bind (default 127.0.0.1) */
	int port;               /* 0: any free port */
	const char *api_key;    /* NULL: no key asked for */
	const char *cors;       /* NULL: no CORS headers; else the allowed origin */
	size_t max_body;        /* bytes of a request body */
	int timeout_ms;         /* to send a request's head and body; a write that stalls this long fails */
	int idle_ms;            /* a kept-alive connection idle this long is closed */
	int threads;            /* HTTP worker threads */
	bool verbose;           /* log the prompts too */
};

struct server;

/* One request being answered. */
struct req {
	struct server *srv;
	struct models *models;
	struct metrics *metrics;
	struct mg_connection *conn;
	const struct mg_request_info *ri;
	const char *route;      /* the path of the route that took it (the metrics' endpoint) */
	const char *subpath;    /* ROUTE_PREFIX: what follows the route's path */
	bool verbose;
	double t0;              /* when it came (mono_now) */
	int status;             /* what was answered */
	char *body;             /* req_body(): the body, NUL-terminated */
	size_t n_body;
	/* for the access log and the metrics */
	long long n_prompt, n_gen, n_cached;
	double ttft;            /* seconds to the first token; < 0: none */
	char model[96];         /* the model that answered */
	char *note;             /* with -v: the prompt, for the log (owned) */
	/* server-sent events */
	bool sse, chunked;
	/* req_client_gone(): the connection's socket (-1: not found) */
	int sock;
	bool sock_looked;
};

typedef int (*route_fn)(struct req *r);

enum {
	ROUTE_PREFIX = 1,       /* the path and everything under it ("/api/x/" + more) */
	ROUTE_PUBLIC = 2,       /* no key needed (GET /health) */
};

struct server *server_new(const struct server_params *p, struct models *ms, struct metrics *mx);
/* Add a route (before server_start); method "GET", "POST", ... */
void server_route(struct server *s, const char *method, const char *path, unsigned flags, route_fn fn);
/* Listen; the URL listened on goes into url.  Dies with a message when
 * the address cannot be had. */
void server_start(struct server *s, char *url, size_t n);
/* From now on new requests get 503 (the server is stopping). */
void server_drain(struct server *s);
/* Requests being answered now. */
int server_inflight(struct server *s);
/* Stop listening, wait for the handlers to return. */
void server_stop(struct server *s);
void server_free(struct server *s);
/* For what the table does not cover (WebSocket handlers). */
struct mg_context *server_mg(struct server *s);
/* A pointer for the routes' own state (the chat's database). */
void server_set_user(struct server *s, void *user);
void *server_user(const struct server *s);
const struct server_params *server_params(const struct server *s);
/* Work outside the table (a message on a WebSocket) counted as a request
 * in flight, so that a stop waits for it: false when the server stops. */
bool server_enter(struct server *s);
void server_leave(struct server *s);
/* Is given the key (--api-key-file)?  Compared in constant time. */
bool server_key_ok(const struct server *s, const char *given);

/* Read the whole body into r->body (0), or answer 400/408/413 and return
 * that status. */
int req_body(struct req *r);
/* A request header, or NULL. */
const char *req_header(struct req *r, const char *name);

/* Answer with a whole body; extra: more header lines ("Name: value\r\n"
 * each) or NULL.  Return status. */
int reply(struct req *r, int status, const char *ctype, const char *body, size_t n, const char *extra);
int reply_json(struct req *r, int status, const struct jw *w);
/* The OpenAI error shape: {"error":{"message","type","param","code"}};
 * type NULL: from the status. */
int reply_error(struct req *r, int status, const char *param, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Server-sent events: the head (200, text/event-stream), then one event
 * per call ("data: " + data + blank line); -1 once the client is gone.
 * sse_comment() sends a comment line that clients ignore (to find out
 * whether the client is still there).  sse_end() ends the body. */
int sse_begin(struct req *r);
int sse_send(struct req *r, const char *data, size_t n);
int sse_comment(struct req *r);
int sse_end(struct req *r);

/* Has the client closed its end of the connection (a request it no
 * longer waits for)?  For answers that write nothing until the end, where
 * a failed write cannot tell.  The client's closing is seen when the
 * socket is readable with nothing left (POLLRDHUP): a client that shuts
 * down only its sending side after the request counts as gone too. */
bool req_client_gone(struct req *r);

#endif
