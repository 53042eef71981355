/* webchat.c - see webchat.h; also the registry's routes, GET /api/models
 * and POST /api/models/rescan. */
#include "webchat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

struct webchat *webchat_open(struct server *srv, struct models *ms, struct metrics *mx,
			     const struct webchat_params *p)
{
	struct webchat *w = xcalloc(1, sizeof *w);
	struct lmu_err e = {{0}};
	char *path = p->db ? xstrdup(p->db) : db_default_path(&e);

	if (!path)
		die("%s", e.msg);
	w->srv = srv;
	w->ms = ms;
	w->mx = mx;
	w->db = db_open(path, &e);
	if (!w->db)
		die("%s", e.msg);
	/* what the scan says waits until the server says where it listens */
	jw_printf(&w->report, "%s: sessions and registry in %s (schema version %d)\n", progname, path,
		  db_version(w->db));
	free(path);
	w->reg = registry_new(w->db, ms, &p->reg);
	if (registry_scan(w->reg, &w->report, &e) < 0)
		die("%s", e.msg);
	server_set_user(srv, w);
	page_routes(srv);
	sessions_routes(srv);
	models_routes(srv);
	w->ws = ws_new(w);
	return w;
}

void webchat_start(struct webchat *w)
{
	fwrite(w->report.b, 1, w->report.n, stderr);
	fflush(stderr);
	jw_free(&w->report);
	ws_start(w->ws);
}

void webchat_close(struct webchat *w)
{
	if (!w)
		return;
	ws_free(w->ws);
	registry_free(w->reg);
	db_close(w->db);
	free(w);
}

struct webchat *webchat_of(struct req *r)
{
	return server_user(r->srv);
}

/* ---- the guard ---- */

/* Is the host name (no port) a loopback one? */
static bool loopback(const char *h, size_t n)
{
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return true;
	if (n == 5 && strncmp(h, "[::1]", 5) == 0)
		return true;
	if (n == 3 && strncmp(h, "::1", 3) == 0)
		return true;
	if (n >= 7 && n <= 15 && strncmp(h, "127.", 4) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!isdigit((unsigned char)h[i]) && h[i] != '.')
				return false;
		return true;
	}
	return false;
}

/* The host part of a Host header ("name:port", "[v6]:port"). */
static size_t host_len(const char *host)
{
	if (host[0] == '[') {
		const char *e = strchr(host, ']');
		return e ? (size_t)(e - host) + 1 : strlen(host);
	}
	const char *c = strrchr(host, ':');
	return c ? (size_t)(c - host) : strlen(host);
}

const char *webchat_refuse(struct server *srv, const char *origin, const char *host)
{
	const struct server_params *p = server_params(srv);
	const char *bind = p->host;
	if (host && loopback(bind, strlen(bind)) && !loopback(host, host_len(host)))
		return "the server listens on a loopback address, and this request names another host "
		       "(DNS rebinding?): use http://127.0.0.1 or http://localhost";
	if (origin && *origin) {
		bool same = host && strncmp(origin, "http://", 7) == 0 && strcmp(origin + 7, host) == 0;
		bool allowed = p->cors && (strcmp(p->cors, "*") == 0 || strcmp(p->cors, origin) == 0);
		if (!same && !allowed)
			return "a page of another site may not use the chat (lm-serve --cors ORIGIN allows one)";
	}
	return NULL;
}

int webchat_guard(struct req *r)
{
	const char *why = webchat_refuse(r->srv, req_header(r, "Origin"), req_header(r, "Host"));
	if (why)
		return reply_error(r, 403, NULL, "forbidden_origin", "%s", why);
	return 0;
}

/* ---- /api/models ---- */

static int list_models(struct req *r)
{
	struct webchat *w = webchat_of(r);
	struct lmu_err e = {{0}};
	char *reg;
	int rc = webchat_guard(r);
	if (rc)
		return rc;
	if (registry_json(w->reg, &reg, &e) != 0)
		return reply_error(r, 500, NULL, NULL, "%s", e.msg);
	uint32_t max, loaded = models_loaded(w->ms, &max);
	size_t files;
	long long bytes;
	registry_hashing(w->reg, &files, &bytes);
	struct jw out = {0};
	jw_raw(&out, "{\"object\":\"list\",\"data\":");
	jw_raw(&out, reg);
	jw_printf(&out, ",\"loaded\":%u,\"max_models\":%u,\"hashing\":{\"files\":%zu,\"bytes\":%lld}}", loaded, max,
		  files, bytes);
	free(reg);
	rc = reply_json(r, 200, &out);
	jw_free(&out);
	return rc;
}

static int rescan(struct req *r)
{
	struct webchat *w = webchat_of(r);
	struct lmu_err e = {{0}};
	int rc = webchat_guard(r);
	if (rc)
		return rc;
	if (registry_scan(w->reg, NULL, &e) != 0)
		return reply_error(r, 500, NULL, NULL, "%s", e.msg);
	return list_models(r);
}

void models_routes(struct server *s)
{
	server_route(s, "GET", "/api/models", 0, list_models);
	server_route(s, "POST", "/api/models/rescan", 0, rescan);
}
