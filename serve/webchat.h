/* webchat.h - lm-serve's chat in the browser: the page (GET /), the
 * sessions kept in the database (sessions.c: /api/sessions), the model
 * registry (registry.c: /api/models), and the WebSocket the page streams
 * replies over (ws.c: /api/ws).
 *
 * The routes of the chat hold private data (conversations), so beyond the
 * key (--api-key-file) they are guarded against other web sites: a request
 * that a browser sends on behalf of another origin (its Origin header
 * names another site than the server, and not --cors) gets 403, and when
 * the server listens on a loopback address, a request whose Host is not a
 * loopback name (DNS rebinding: a site whose name resolves to 127.0.0.1)
 * gets 403 too. */
#ifndef LMU_SERVE_WEBCHAT_H
#define LMU_SERVE_WEBCHAT_H

#include <stdbool.h>

#include "db.h"
#include "registry.h"
#include "server.h"

struct webchat_params {
	const char *db;                 /* the database file (NULL: db_default_path) */
	struct registry_params reg;
};

struct webchat {
	struct server *srv;
	struct models *ms;
	struct metrics *mx;
	struct db *db;
	struct registry *reg;
	struct ws *ws;                  /* ws.c's state */
	struct jw report;               /* what opening said, for webchat_start */
};

/* Open the database (dies with a message when it cannot be used), scan the
 * registry, and add the routes (before server_start). */
struct webchat *webchat_open(struct server *srv, struct models *ms, struct metrics *mx,
			     const struct webchat_params *p);
/* After server_start (and its line on stderr): what opening found, on
 * stderr, and the WebSocket endpoint. */
void webchat_start(struct webchat *w);
/* After server_stop: stop the hashing, close the database. */
void webchat_close(struct webchat *w);

/* The chat state of a request's server. */
struct webchat *webchat_of(struct req *r);

/* The guard above, for a request with these headers: NULL when it may
 * pass, else why not. */
const char *webchat_refuse(struct server *srv, const char *origin, const char *host);
/* The guard for a route: 0, or the status answered (403). */
int webchat_guard(struct req *r);

/* The routes of each part. */
void page_routes(struct server *s);
void sessions_routes(struct server *s);
void models_routes(struct server *s);
struct ws *ws_new(struct webchat *w);
void ws_start(struct ws *ws);
void ws_free(struct ws *ws);

/* A session's generation settings (sessions.c): the JSON object of
 * settings checked, written back in a canonical form (*out, malloc'd), or
 * false with the message in e naming the setting. */
bool settings_check(const char *json, size_t n, char **out, struct lmu_err *e);

#endif
