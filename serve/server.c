/* server.c - see server.h. */
#include "server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <civetweb.h>

#include "err.h"

#define MAX_ROUTES 64

struct route {
	char method[8];
	char path[64];
	size_t len;
	unsigned flags;
	route_fn fn;
};

struct server {
	struct server_params p;
	struct models *models;
	struct metrics *metrics;
	struct mg_context *ctx;
	struct route routes[MAX_ROUTES];
	size_t n_routes;
	atomic_bool draining;
	atomic_int inflight;
	pthread_mutex_t log_mu;
	void *user;
};

struct server *server_new(const struct server_params *p, struct models *ms, struct metrics *mx)
{
	struct server *s = xcalloc(1, sizeof *s);
	s->p = *p;
	s->models = ms;
	s->metrics = mx;
	atomic_init(&s->draining, false);
	atomic_init(&s->inflight, 0);
	pthread_mutex_init(&s->log_mu, NULL);
	return s;
}

void server_route(struct server *s, const char *method, const char *path, unsigned flags, route_fn fn)
{
	if (s->n_routes == MAX_ROUTES || strlen(method) >= sizeof s->routes[0].method ||
	    strlen(path) >= sizeof s->routes[0].path)
		die("server_route: too many routes, or a name too long");
	struct route *r = &s->routes[s->n_routes++];
	snprintf(r->method, sizeof r->method, "%s", method);
	snprintf(r->path, sizeof r->path, "%s", path);
	r->len = strlen(path);
	r->flags = flags;
	r->fn = fn;
}

struct mg_context *server_mg(struct server *s)
{
	return s->ctx;
}

void server_set_user(struct server *s, void *user)
{
	s->user = user;
}

void *server_user(const struct server *s)
{
	return s->user;
}

const struct server_params *server_params(const struct server *s)
{
	return &s->p;
}

bool server_enter(struct server *s)
{
	atomic_fetch_add(&s->inflight, 1);
	if (atomic_load(&s->draining)) {
		atomic_fetch_sub(&s->inflight, 1);
		return false;
	}
	return true;
}

void server_leave(struct server *s)
{
	atomic_fetch_sub(&s->inflight, 1);
}

/* ---- answering ---- */

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Internal Server Error";
	}
}

static bool http11(const struct req *r)
{
	return r->ri->http_version && strcmp(r->ri->http_version, "1.1") == 0;
}

/* The head of an answer, with the headers every answer has. */
static void head(struct req *r, struct jw *h, int status, const char *ctype, const char *extra)
{
	jw_printf(h, "HTTP/%s %d %s\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n",
		  http11(r) ? "1.1" : "1.0", status, status_text(status), ctype);
	if (r->srv->p.cors)
		jw_printf(h, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n", r->srv->p.cors);
	if (extra)
		jw_raw(h, extra);
}

int reply(struct req *r, int status, const char *ctype, const char *body, size_t n, const char *extra)
{
	struct jw h = {0};
	head(r, &h, status, ctype, extra);
	jw_printf(&h, "Content-Length: %zu\r\n\r\n", n);
	jw_mem(&h, body, n);
	mg_write(r->conn, h.b, h.n);
	jw_free(&h);
	r->status = status;
	return status;
}

int reply_json(struct req *r, int status, const struct jw *w)
{
	return reply(r, status, "application/json", w->b ? w->b : "", w->n, NULL);
}

static const char *error_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 503: return "server_busy_error";
	default: return status >= 500 ? "server_error" : "invalid_request_error";
	}
}

int reply_error(struct req *r, int status, const char *param, const char *code, const char *fmt, ...)
{
	char msg[512];
	struct jw w = {0};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	jw_raw(&w, "{\"error\":{\"message\":");
	jw_cstr(&w, msg);
	jw_raw(&w, ",\"type\":");
	jw_cstr(&w, error_type(status));
	jw_raw(&w, ",\"param\":");
	if (param && *param)
		jw_cstr(&w, param);
	else
		jw_raw(&w, "null");
	jw_raw(&w, ",\"code\":");
	if (code)
		jw_cstr(&w, code);
	else
		jw_raw(&w, "null");
	jw_raw(&w, "}}");
	const char *extra = NULL;
	if (status == 503)
		extra = "Retry-After: 1\r\n";
	else if (status == 401)
		extra = "WWW-Authenticate: Bearer\r\n";
	if (status == 413 || status == 408)
		mg_disable_connection_keep_alive(r->conn);  /* the rest of the body is not read */
	reply(r, status, "application/json", w.b, w.n, extra);
	jw_free(&w);
	return status;
}

int sse_begin(struct req *r)
{
	struct jw h = {0};
	r->chunked = http11(r);
	head(r, &h, 200, "text/event-stream", r->chunked ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n");
	jw_raw(&h, "X-Accel-Buffering: no\r\n\r\n");
	if (!r->chunked)
		mg_disable_connection_keep_alive(r->conn);
	int rc = mg_write(r->conn, h.b, h.n);
	jw_free(&h);
	r->sse = true;
	r->status = 200;
	return rc > 0 ? 0 : -1;
}

/* Write a piece of the event stream: one chunk of the chunked encoding
 * (in one write, so that each event leaves at once). */
static int stream_write(struct req *r, const char *a, size_t na, const char *b, size_t nb, const char *c,
			size_t nc)
{
	struct jw w = {0};
	if (r->chunked)
		jw_printf(&w, "%zx\r\n", na + nb + nc);
	jw_mem(&w, a, na);
	jw_mem(&w, b, nb);
	jw_mem(&w, c, nc);
	if (r->chunked)
		jw_mem(&w, "\r\n", 2);
	int rc = mg_write(r->conn, w.b, w.n);
	int ok = rc == (int)w.n ? 0 : -1;
	jw_free(&w);
	return ok;
}

int sse_send(struct req *r, const char *data, size_t n)
{
	return stream_write(r, "data: ", 6, data, n, "\n\n", 2);
}

int sse_comment(struct req *r)
{
	return stream_write(r, ":\n\n", 3, "", 0, "", 0);
}

/* The numeric address and port of a socket address; false if it is not
 * an IP one. */
static bool addr_of(const struct sockaddr_storage *a, char *buf, size_t n, int *port)
{
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)a;
		*port = ntohs(v4->sin_port);
		return inet_ntop(AF_INET, &v4->sin_addr, buf, (socklen_t)n) != NULL;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)a;
		*port = ntohs(v6->sin6_port);
		return inet_ntop(AF_INET6, &v6->sin6_addr, buf, (socklen_t)n) != NULL;
	}
	return false;
}

/* civetweb does not hand out a connection's socket: it is the descriptor
 * of this process whose peer is the client's address and port and whose
 * own port is the one the request came to (TCP's four numbers name one
 * connection).  -1 if none is found. */
static int find_socket(const struct mg_request_info *ri)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int found = -1;
	char want[64], got[64];

	if (!d)
		return -1;
	/* civetweb writes an IPv6 address in brackets */
	snprintf(want, sizeof want, "%s", ri->remote_addr[0] == '[' ? ri->remote_addr + 1 : ri->remote_addr);
	want[strcspn(want, "]")] = 0;
	while (found < 0 && (de = readdir(d))) {
		int fd = atoi(de->d_name), port;
		struct sockaddr_storage a;
		socklen_t len = sizeof a;
		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d))
			continue;
		if (getpeername(fd, (struct sockaddr *)&a, &len) != 0 || !addr_of(&a, got, sizeof got, &port) ||
		    port != ri->remote_port || strcmp(got, want) != 0)
			continue;
		len = sizeof a;
		if (getsockname(fd, (struct sockaddr *)&a, &len) == 0 && addr_of(&a, got, sizeof got, &port) &&
		    port == ri->server_port)
			found = fd;
	}
	closedir(d);
	return found;
}

bool req_client_gone(struct req *r)
{
	if (!r->ri)
		return false;  /* not an HTTP request (a WebSocket message) */
	if (!r->sock_looked) {
		r->sock = find_socket(r->ri);
		r->sock_looked = true;
	}
	if (r->sock < 0)
		return false;
	struct pollfd p = {.fd = r->sock, .events = POLLRDHUP};
	return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

int sse_end(struct req *r)
{
	if (!r->chunked)
		return 0;
	return mg_write(r->conn, "0\r\n\r\n", 5) == 5 ? 0 : -1;
}

/* ---- reading ---- */

const char *req_header(struct req *r, const char *name)
{
	return mg_get_header(r->conn, name);
}

int req_body(struct req *r)
{
	size_t max = r->srv->p.max_body, cap = 0, n = 0;
	long long len = r->ri->content_length;
	double until = r->t0 + r->srv->p.timeout_ms / 1000.0;
	char *b = NULL;

	if (len > (long long)max)
		return reply_error(r, 413, NULL, NULL, "the request body has %lld bytes, more than the %zu allowed", len,
				   max);
	const char *expect = req_header(r, "Expect");
	if (expect && strcasecmp(expect, "100-continue") == 0)
		mg_printf(r->conn, "HTTP/1.1 100 Continue\r\n\r\n");
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : (len > 0 ? (size_t)len + 1 : 4096);
			if (cap > max + 1)
				cap = max + 1;
			b = xrealloc(b, cap + 1);
		}
		int k = mg_read(r->conn, b + n, cap - n);
		if (k < 0 || (k == 0 && len >= 0 && (long long)n < len)) {
			free(b);
			mg_disable_connection_keep_alive(r->conn);
			r->status = 400;
			return 400;  /* the client went away: nobody to answer */
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max) {
			free(b);
			return reply_error(r, 413, NULL, NULL, "the request body is larger than the %zu bytes allowed", max);
		}
		if (len >= 0 && (long long)n >= len)
			break;
		if (mono_now() > until) {
			free(b);
			return reply_error(r, 408, NULL, NULL, "the request body took longer than %d ms",
					   r->srv->p.timeout_ms);
		}
	}
	b = b ? b : xmalloc(1);
	b[n] = 0;
	r->body = b;
	r->n_body = n;
	return 0;
}

/* ---- the one handler ---- */

bool server_key_ok(const struct server *s, const char *given)
{
	/* the same time wherever the first difference is; never logged */
	const char *key = s->p.api_key;
	size_t kn = strlen(key), an = strlen(given);
	unsigned char diff = an != kn;
	for (size_t i = 0; i < an; i++)
		diff |= (unsigned char)given[i] ^ (unsigned char)key[i % (kn ? kn : 1)];
	return diff == 0 && kn > 0;
}

/* Is the key of an Authorization header right? */
static bool key_ok(const struct server *s, const char *auth)
{
	if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	while (*auth == ' ')
		auth++;
	return server_key_ok(s, auth);
}

static void access_log(struct server *s, struct req *r)
{
	char line[1024];
	const char *addr = r->ri->remote_addr;
	int k = snprintf(line, sizeof line, "%s: %s %s %s %d", progname, addr, r->ri->request_method,
			 r->ri->local_uri ? r->ri->local_uri : "?", r->status);
	if (k < 0)
		return;
	if (r->model[0] && (size_t)k < sizeof line)
		k += snprintf(line + k, sizeof line - (size_t)k, " model=%s", r->model);
	if ((r->n_prompt || r->n_gen) && (size_t)k < sizeof line)
		k += snprintf(line + k, sizeof line - (size_t)k, " prompt=%lld cached=%lld gen=%lld", r->n_prompt,
			      r->n_cached, r->n_gen);
	if (r->ttft >= 0 && (size_t)k < sizeof line)
		k += snprintf(line + k, sizeof line - (size_t)k, " ttft=%.3fs", r->ttft);
	if ((size_t)k < sizeof line)
		k += snprintf(line + k, sizeof line - (size_t)k, " %.3fs\n", mono_now() - r->t0);
	if ((size_t)k >= sizeof line) {
		k = (int)sizeof line - 1;
		line[k - 1] = '\n';
	}
	pthread_mutex_lock(&s->log_mu);
	fwrite(line, 1, (size_t)k, stderr);
	if (r->note) {
		struct jw w = {0};
		jw_cstr(&w, r->note);
		fprintf(stderr, "%s:   prompt %s\n", progname, w.b);
		jw_free(&w);
	}
	fflush(stderr);
	pthread_mutex_unlock(&s->log_mu);
}

static int dispatch(struct server *s, struct req *r)
{
	const char *path = r->ri->local_uri ? r->ri->local_uri : "";
	const char *method = r->ri->request_method;
	struct route *hit = NULL;
	bool other_method = false;

	for (size_t i = 0; i < s->n_routes; i++) {
		struct route *rt = &s->routes[i];
		bool match = strcmp(path, rt->path) == 0 ||
			     (rt->flags & ROUTE_PREFIX && strncmp(path, rt->path, rt->len) == 0);
		if (!match)
			continue;
		if (strcmp(method, rt->method) == 0) {
			hit = rt;
			break;
		}
		other_method = true;
	}
	r->route = hit ? hit->path : "other";
	if (s->p.cors && strcmp(method, "OPTIONS") == 0 && (hit || other_method)) {
		char extra[256];
		snprintf(extra, sizeof extra,
			 "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
			 "Access-Control-Allow-Headers: Authorization, Content-Type\r\n"
			 "Access-Control-Max-Age: 600\r\n");
		return reply(r, 204, "text/plain", "", 0, extra);
	}
	if (!hit && other_method)
		return reply_error(r, 405, NULL, NULL, "%s is not allowed on %s", method, path);
	if (!hit)
		return reply_error(r, 404, NULL, NULL, "no route %s %s", method, path);
	if (!(hit->flags & ROUTE_PUBLIC) && s->p.api_key && !key_ok(s, req_header(r, "Authorization")))
		return reply_error(r, 401, NULL, "invalid_api_key",
				   "a valid key is needed: send the header 'Authorization: Bearer KEY'");
	if (atomic_load(&s->draining))
		return reply_error(r, 503, NULL, NULL, "the server is stopping");
	r->subpath = path + hit->len;
	return hit->fn(r);
}

static int handler(struct mg_connection *conn, void *arg)
{
	struct server *s = arg;
	struct req r = {
		.srv = s, .models = s->models, .metrics = s->metrics, .conn = conn, .ri = mg_get_request_info(conn),
		.verbose = s->p.verbose, .t0 = mono_now(), .ttft = -1,
	};
	atomic_fetch_add(&s->inflight, 1);
	int status = dispatch(s, &r);
	if (!r.status)
		r.status = status;
	access_log(s, &r);
	metrics_request(s->metrics, r.route, r.status, mono_now() - r.t0, r.ttft, r.n_prompt, r.n_cached, r.n_gen);
	free(r.body);
	free(r.note);
	atomic_fetch_sub(&s->inflight, 1);
	return r.status;
}

static int log_message(const struct mg_connection *conn, const char *msg)
{
	(void)conn;
	if (strstr(msg, "timeout") || strstr(msg, "Timeout"))
		return 1;  /* a client that sent nothing in time: no news */
	fprintf(stderr, "%s: civetweb: %s\n", progname, msg);
	return 1;
}

void server_start(struct server *s, char *url, size_t n)
{
	char listen[300], threads[16], timeout[16], idle[16], queue[16];
	struct mg_callbacks cb = {0};
	struct mg_server_port ports[4];

	bool v6 = strchr(s->p.host, ':') != NULL;
	snprintf(listen, sizeof listen, v6 ? "[%s]:%d" : "%s:%d", s->p.host, s->p.port);
	snprintf(threads, sizeof threads, "%d", s->p.threads);
	snprintf(timeout, sizeof timeout, "%d", s->p.timeout_ms);
	snprintf(idle, sizeof idle, "%d", s->p.idle_ms);
	snprintf(queue, sizeof queue, "%d", s->p.threads);
	const char *opts[] = {
		"listening_ports", listen,
		"num_threads", threads,
		"request_timeout_ms", timeout,
		"keep_alive_timeout_ms", idle,
		"enable_keep_alive", "yes",
		"tcp_nodelay", "1",
		"connection_queue", queue,
		"max_request_size", "65536",
		"enable_directory_listing", "no",
		"decode_url", "yes",
		/* civetweb answers CORS preflights itself, allowing any origin,
		 * unless these are empty: the routes decide (--cors) */
		"access_control_allow_origin", "",
		"access_control_allow_methods", "",
		"access_control_allow_headers", "",
		/* a WebSocket that sends nothing for this long is pinged; one that
		 * answers no ping for several of these is closed */
		"websocket_timeout_ms", "10000",
		"enable_websocket_ping_pong", "yes",
		NULL,
	};
	cb.log_message = log_message;
	mg_init_library(0);
	s->ctx = mg_start(&cb, s, opts);
	if (!s->ctx)
		die("cannot listen on %s (in use, or not an address of this machine?)", listen);
	mg_set_request_handler(s->ctx, "**", handler, s);
	int np = mg_get_server_ports(s->ctx, 4, ports);
	if (np < 1)
		die("cannot find the port listened on");
	snprintf(url, n, v6 ? "http://[%s]:%d" : "http://%s:%d", s->p.host, ports[0].port);
}

void server_drain(struct server *s)
{
	atomic_store(&s->draining, true);
}

int server_inflight(struct server *s)
{
	return atomic_load(&s->inflight);
}

void server_stop(struct server *s)
{
	if (s->ctx)
		mg_stop(s->ctx);
	s->ctx = NULL;
	mg_exit_library();
}

void server_free(struct server *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->log_mu);
	free(s);
}
