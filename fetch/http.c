#include "http.h"
#include "err.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

volatile int http_interrupted;

static struct http_cfg cfg;
static CURL *curl;
static struct curl_slist *auth_hdr;

static void on_signal(int sig)
{
	(void)sig;
	http_interrupted = 1;
}

void http_init(const struct http_cfg *c)
{
	struct sigaction sa;

	cfg = *c;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || !(curl = curl_easy_init()))
		die("cannot initialise libcurl");
	if (cfg.token) {
		/* Kept out of every message; curl sends a custom Authorization
		 * header only to the host of the first request, never to the
		 * host a redirect leads to (the CDN). */
		char *h = xmalloc(strlen(cfg.token) + 32);
		sprintf(h, "Authorization: Bearer %s", cfg.token);
		auth_hdr = curl_slist_append(NULL, h);
		memset(h, 0, strlen(h));
		free(h);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

void http_cleanup(void)
{
	curl_slist_free_all(auth_hdr);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
}

void http_res_free(struct http_res *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

/* ---- response headers ---- */

struct xfer {
	struct http_res *r;
	int nresp;		/* responses seen so far (redirects count) */
	double retry_after;
	/* memory sink */
	size_t max;
	size_t cap;
	/* file sink */
	int fd;
	int64_t have;		/* bytes in the file */
	int64_t start;		/* bytes present when this attempt began */
	int64_t size;		/* expected size or -1 */
	int decided;		/* the final status has been looked at */
	int to_file;		/* body goes to the file (2xx), else to r->body */
	int ranged;		/* this attempt asked for a Range */
	char content_range[128];
	int64_t content_length;
	struct progress *pg;
	double last_draw;
	double t0;		/* when the first attempt of this request began */
	int answered;		/* the server has sent something (a header line) */
	int silent;		/* stopped: nothing from the server for answer_timeout */
};

static void trim(char *s)
{
	size_t n = strlen(s);
	char *p = s;

	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	memmove(s, p, strlen(p) + 1);
}

static void copy_value(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
	trim(dst);
}

static void strip_etag(char *e)
{
	size_t n;

	if (strncmp(e, "W/", 2) == 0)
		memmove(e, e + 2, strlen(e + 2) + 1);
	n = strlen(e);
	if (n >= 2 && e[0] == '"' && e[n - 1] == '"') {
		memmove(e, e + 1, n - 2);
		e[n - 2] = '\0';
	}
}

/* Link: <url>; rel="next", possibly among other links. */
static void parse_link(const char *v, char *next, size_t cap)
{
	const char *p = v;

	while ((p = strchr(p, '<'))) {
		const char *end = strchr(p, '>');
		const char *comma;
		if (!end)
			return;
		comma = strchr(end, ',');
		const char *rel = strstr(end, "rel=\"next\"");
		if (!rel)
			rel = strstr(end, "rel=next");
		if (rel && (!comma || rel < comma)) {
			size_t n = (size_t)(end - p - 1);
			if (n < cap) {
				memcpy(next, p + 1, n);
				next[n] = '\0';
			}
			return;
		}
		p = end;
	}
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	struct http_res *r = x->r;
	size_t len = size * n;
	const char *colon;
	char name[64];
	char val[2048];
	size_t nl;

	x->answered = 1;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response begins: a redirect's headers are replaced,
		 * except the first response's identity headers. */
		x->nresp++;
		r->next[0] = r->err_code[0] = r->err_msg[0] = '\0';
		x->content_range[0] = '\0';
		x->content_length = -1;
		x->retry_after = -1;
		return len;
	}
	colon = memchr(buf, ':', len);
	if (!colon)
		return len;
	nl = (size_t)(colon - buf);
	if (nl >= sizeof name)
		return len;
	memcpy(name, buf, nl);
	name[nl] = '\0';
	copy_value(val, sizeof val, colon + 1, len - nl - 1);
	if (strcasecmp(name, "link") == 0) {
		parse_link(val, r->next, sizeof r->next);
	} else if (strcasecmp(name, "x-error-code") == 0) {
		copy_value(r->err_code, sizeof r->err_code, val, strlen(val));
	} else if (strcasecmp(name, "x-error-message") == 0) {
		copy_value(r->err_msg, sizeof r->err_msg, val, strlen(val));
	} else if (strcasecmp(name, "content-range") == 0) {
		copy_value(x->content_range, sizeof x->content_range, val, strlen(val));
	} else if (strcasecmp(name, "content-length") == 0) {
		x->content_length = strtoll(val, NULL, 10);
		if (x->nresp == 1 && r->linked_size < 0)
			r->linked_size = x->content_length;
	} else if (strcasecmp(name, "retry-after") == 0) {
		char *end;
		double s = strtod(val, &end);
		if (end != val && *end == '\0' && s >= 0) {
			x->retry_after = s;
		} else {
			time_t t = curl_getdate(val, NULL);
			if (t != -1)
				x->retry_after = difftime(t, time(NULL)) > 0 ? difftime(t, time(NULL)) : 0;
		}
	} else if (x->nresp == 1) {
		if (strcasecmp(name, "x-repo-commit") == 0) {
			copy_value(r->repo_commit, sizeof r->repo_commit, val, strlen(val));
		} else if (strcasecmp(name, "x-linked-etag") == 0) {
			copy_value(r->etag, sizeof r->etag, val, strlen(val));
			strip_etag(r->etag);
		} else if (strcasecmp(name, "etag") == 0 && !r->etag[0]) {
			copy_value(r->etag, sizeof r->etag, val, strlen(val));
			strip_etag(r->etag);
		} else if (strcasecmp(name, "x-linked-size") == 0) {
			r->linked_size = strtoll(val, NULL, 10);
		}
	}
	return len;
}

/* ---- bodies ---- */

static int mem_append(struct xfer *x, const char *p, size_t n)
{
	struct http_res *r = x->r;

	if (r->len + n > x->max) {
		snprintf(r->msg, sizeof r->msg, "answer larger than %zu bytes", x->max);
		return 0;
	}
	if (r->len + n + 1 > x->cap) {
		x->cap = (r->len + n + 1) * 2;
		r->body = xrealloc(r->body, x->cap);
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	r->body[r->len] = '\0';
	return 1;
}

static size_t on_mem(char *p, size_t size, size_t n, void *arg)
{
	return mem_append(arg, p, size * n) ? size * n : 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		p += k;
		n -= (size_t)k;
	}
	return 1;
}

/* Decide, on the first byte of the final answer, where the body goes. */
static int decide(struct xfer *x)
{
	struct http_res *r = x->r;
	long status = 0;

	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	x->decided = 1;
	if (status < 200 || status > 299) {
		x->to_file = 0;	/* an error page: keep a little of it */
		return 1;
	}
	x->to_file = 1;
	if (status == 206) {
		long long a, b, total;
		if (!x->ranged || sscanf(x->content_range, "bytes %lld-%lld/%lld", &a, &b, &total) < 2 ||
		    a != x->have) {
			snprintf(r->msg, sizeof r->msg, "server sent a range (%s) that does not start at byte %lld",
				 x->content_range, (long long)x->have);
			return 0;
		}
		return 1;
	}
	if (x->have > 0) {
		/* The server ignored Range and sends the whole file: restart,
		 * never append (doc/formats.md "Hub downloads"). */
		if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) != 0) {
			snprintf(r->msg, sizeof r->msg, "cannot restart the file: %s", strerror(errno));
			return 0;
		}
		if (!cfg.quiet)
			warnx_("%s: the server ignored the Range request; restarting the file",
			       x->pg ? x->pg->name : "download");
		if (x->pg)
			x->pg->total_done -= x->have;
		x->have = x->start = 0;
	}
	return 1;
}

static size_t on_file(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (!x->decided && !decide(x))
		return 0;
	if (!x->to_file) {
		if (x->r->len + len > x->max)
			return len;	/* error pages are truncated, not fatal */
		return mem_append(x, p, len) ? len : 0;
	}
	if (x->size >= 0 && x->have + (int64_t)len > x->size) {
		snprintf(x->r->msg, sizeof x->r->msg, "server sent more than the %lld bytes the listing gives",
			 (long long)x->size);
		return 0;
	}
	if (!write_all(x->fd, p, len)) {
		snprintf(x->r->msg, sizeof x->r->msg, "write: %s", strerror(errno));
		return 0;
	}
	x->have += (int64_t)len;
	if (x->pg)
		x->pg->total_done += (int64_t)len;
	return len;
}

/* ---- progress ---- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void human_size(char *buf, size_t cap, double v)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, cap, i ? "%.1f %s" : "%.0f %s", v, u[i]);
}

static double draw_t0;
static int64_t draw_done0;

static void draw(struct xfer *x, int final)
{
	struct progress *pg = x->pg;
	char a[32], b[32], rate[32], eta[32] = "";
	double t = now(), el = t - draw_t0, bps;
	int pf, pt;

	if (!final && t - x->last_draw < 0.1)
		return;
	x->last_draw = t;
	bps = el > 0 ? (double)(x->have - draw_done0) / el : 0;
	pf = pg->file_size > 0 ? (int)(100.0 * (double)x->have / (double)pg->file_size) : 0;
	pt = pg->total_size > 0 ? (int)(100.0 * (double)pg->total_done / (double)pg->total_size) : 0;
	human_size(a, sizeof a, (double)x->have);
	human_size(b, sizeof b, (double)(pg->file_size > 0 ? pg->file_size : 0));
	human_size(rate, sizeof rate, bps);
	if (bps > 0 && pg->total_size > pg->total_done) {
		long s = (long)((double)(pg->total_size - pg->total_done) / bps);
		snprintf(eta, sizeof eta, " ETA %ld:%02ld", s / 60, s % 60);
	}
	fprintf(stderr, "\r\033[K%.40s %3d%% %s/%s %s/s | total %3d%%%s", pg->name, pf, a, b, rate,
		pt, eta);
	if (final)
		fputc('\n', stderr);
	fflush(stderr);
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;
	(void)dt; (void)dn; (void)ut; (void)un;
	if (http_interrupted)
		return 1;
	if (!x->answered && now() - x->t0 > cfg.answer_timeout) {
		x->silent = 1;
		return 1;
	}
	if (cfg.progress && x->pg)
		draw(x, 0);
	return 0;
}

/* ---- one request, with retries ---- */

static int retryable_status(long s)
{
	return s == 408 || s == 429 || (s >= 500 && s <= 599);
}

static int retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

static void sleep_s(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !http_interrupted)
		;
}

static int perform(const char *url, struct xfer *x)
{
	struct http_res *r = x->r;
	char errbuf[CURL_ERROR_SIZE] = "";
	char range[64];
	int attempt;

	x->t0 = now();
	x->answered = x->silent = 0;
	for (attempt = 0;; attempt++) {
		CURLcode cc;
		double wait;
		int to_file = x->fd >= 0;

		curl_easy_reset(curl);
		http_res_free(r);
		x->cap = 0;
		r->status = 0;
		r->msg[0] = r->next[0] = r->err_code[0] = r->err_msg[0] = '\0';
		r->repo_commit[0] = r->etag[0] = '\0';
		r->linked_size = -1;
		x->nresp = 0;
		x->decided = 0;
		x->retry_after = -1;
		x->ranged = 0;
		errbuf[0] = '\0';
		curl_easy_setopt(curl, CURLOPT_URL, url);
		curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
		curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(curl, CURLOPT_USERAGENT, "hf-fetch/" LMU_VERSION " (lmutils)");
		curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, to_file ? "identity" : "");
		curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, cfg.connect_timeout);
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, cfg.low_speed_limit);
		curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, cfg.low_speed_time);
		curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(curl, CURLOPT_HEADERDATA, x);
		curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, to_file ? on_file : on_mem);
		curl_easy_setopt(curl, CURLOPT_WRITEDATA, x);
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, x);
		if (auth_hdr)
			curl_easy_setopt(curl, CURLOPT_HTTPHEADER, auth_hdr);
		if (to_file) {
			struct stat st;
			if (fstat(x->fd, &st) != 0)
				die("fstat: %s", strerror(errno));
			x->have = x->start = st.st_size;
			if (x->size >= 0 && x->have > x->size) {
				/* Longer than the file can be: not ours to resume. */
				if (ftruncate(x->fd, 0) != 0)
					die("ftruncate: %s", strerror(errno));
				x->have = x->start = 0;
			}
			if (lseek(x->fd, x->have, SEEK_SET) < 0)
				die("lseek: %s", strerror(errno));
			if (x->size >= 0 && x->have == x->size && x->size > 0) {
				r->status = 200;	/* already complete: nothing to ask */
				r->fail = HTTP_OK;
				return 1;
			}
			if (x->have > 0) {
				snprintf(range, sizeof range, "%lld-", (long long)x->have);
				curl_easy_setopt(curl, CURLOPT_RANGE, range);
				x->ranged = 1;
			}
			if (x->pg) {
				draw_t0 = now();
				draw_done0 = x->have;
			}
		}
		cc = curl_easy_perform(curl);
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
		if (http_interrupted) {
			r->fail = HTTP_TRANSPORT;
			snprintf(r->msg, sizeof r->msg, "interrupted");
			if (cfg.progress && x->pg)
				fputc('\n', stderr);
			return 0;
		}
		if (cc == CURLE_OK && r->status >= 200 && r->status <= 299) {
			if (to_file && x->size >= 0 && x->have != x->size) {
				/* A clean end before the listed size: the
				 * connection was cut; resume. */
				snprintf(r->msg, sizeof r->msg, "transfer ended at %lld of %lld bytes",
					 (long long)x->have, (long long)x->size);
				cc = CURLE_PARTIAL_FILE;
			} else {
				if (cfg.progress && x->pg)
					draw(x, 1);
				r->fail = HTTP_OK;
				return 1;
			}
		}
		if (cc == CURLE_OK) {
			r->fail = HTTP_STATUS;
			if (!retryable_status(r->status))
				return 0;
		} else if (cc == CURLE_WRITE_ERROR) {
			r->fail = HTTP_BAD;	/* our own checks stopped it: r->msg */
			return 0;
		} else if (cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_CONNECT ||
			   cc == CURLE_COULDNT_RESOLVE_PROXY) {
			r->fail = HTTP_NONET;
			snprintf(r->msg, sizeof r->msg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
			return 0;
		} else {
			r->fail = HTTP_TRANSPORT;
			if (!r->msg[0] || cc != CURLE_PARTIAL_FILE)
				snprintf(r->msg, sizeof r->msg, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
			if (x->silent || (!x->answered && now() - x->t0 >= cfg.answer_timeout)) {
				/* a server that answers nothing will not answer
				 * the next attempt either: give up within
				 * answer_timeout */
				snprintf(r->msg, sizeof r->msg, "the server sent nothing in %.0f s", now() - x->t0);
				if (cfg.progress && x->pg)
					fputc('\n', stderr);
				return 0;
			}
			if (!retryable_curl(cc))
				return 0;
		}
		if (cfg.progress && x->pg)
			fputc('\n', stderr);
		if (attempt >= cfg.retries)
			return 0;
		wait = cfg.backoff * pow(2, attempt);
		if (x->retry_after >= 0)
			wait = x->retry_after;
		if (wait > cfg.max_wait)
			wait = cfg.max_wait;
		if (!cfg.quiet) {
			if (r->fail == HTTP_STATUS)
				warnx_("%s: HTTP %ld; retrying in %.1f s (%d of %d)", url, r->status, wait,
				       attempt + 1, cfg.retries);
			else
				warnx_("%s: %s; retrying in %.1f s (%d of %d)", url, r->msg, wait,
				       attempt + 1, cfg.retries);
		}
		sleep_s(wait);
		if (http_interrupted)
			return 0;
	}
}

int http_get(const char *url, size_t max, struct http_res *r)
{
	struct xfer x;

	memset(&x, 0, sizeof x);
	http_res_free(r);
	memset(r, 0, sizeof *r);
	x.r = r;
	x.fd = -1;
	x.max = max;
	x.size = -1;
	return perform(url, &x);
}

int http_download(const char *url, const char *path, int64_t size, struct progress *pg,
		  struct http_res *r)
{
	struct xfer x;
	int ok, fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	http_res_free(r);
	memset(r, 0, sizeof *r);
	if (fd < 0) {
		r->fail = HTTP_BAD;
		snprintf(r->msg, sizeof r->msg, "%s: %s", path, strerror(errno));
		return 0;
	}
	memset(&x, 0, sizeof x);
	x.r = r;
	x.fd = fd;
	x.max = 64 * 1024;
	x.size = size;
	x.pg = pg;
	if (pg) {	/* bytes resumed from an earlier run count as done */
		struct stat st;
		if (fstat(fd, &st) == 0 && (size < 0 || st.st_size <= size))
			pg->total_done += st.st_size;
	}
	ok = perform(url, &x);
	if (ok && fsync(fd) != 0) {
		r->fail = HTTP_BAD;
		snprintf(r->msg, sizeof r->msg, "%s: fsync: %s", path, strerror(errno));
		ok = 0;
	}
	if (close(fd) != 0 && ok) {
		r->fail = HTTP_BAD;
		snprintf(r->msg, sizeof r->msg, "%s: close: %s", path, strerror(errno));
		ok = 0;
	}
	return ok;
}
