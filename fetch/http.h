/* http.h - the few HTTP requests hf-fetch makes, on libcurl, with one retry
 * policy: timeouts, dropped connections, 408, 429 and 5xx are retried with
 * exponential backoff (Retry-After honoured); other 4xx are answers, never
 * retried; "cannot connect" is reported at once so that the caller can fall
 * back to the cache; a server that sends nothing at all is given up after
 * answer_timeout seconds however many retries are left. */
#ifndef LMU_HTTP_H
#define LMU_HTTP_H

#include <stdint.h>
#include <sys/types.h>

struct http_cfg {
	int retries;		/* extra attempts after the first */
	double backoff;		/* first wait in seconds, doubled each time */
	double max_wait;	/* cap on any single wait, Retry-After included */
	long low_speed_limit;	/* bytes/s ... */
	long low_speed_time;	/* ... sustained this many seconds aborts */
	long connect_timeout;
	double answer_timeout;	/* a request whose server has sent nothing for this
				 * long, retries included, fails without more retries */
	const char *token;	/* sent as Authorization: Bearer, only to the endpoint host */
	int progress;		/* draw progress bars on stderr */
	int quiet;		/* no retry notices */
};

enum http_fail {
	HTTP_OK,
	HTTP_STATUS,	/* the server answered with a non-2xx status */
	HTTP_NONET,	/* could not resolve or connect */
	HTTP_TRANSPORT,	/* timeouts or broken transfers, retries used up */
	HTTP_BAD,	/* the answer broke the protocol (message in .msg) */
};

struct http_res {
	enum http_fail fail;
	long status;
	char msg[512];		/* transport or protocol error */
	char *body;		/* API answers and error pages (capped) */
	size_t len;
	char next[2048];	/* Link: <...>; rel="next" */
	char err_code[64];	/* X-Error-Code */
	char err_msg[256];	/* X-Error-Message */
	/* From the first response of a resolve request (before redirects). */
	char repo_commit[64];	/* X-Repo-Commit */
	char etag[160];		/* X-Linked-Etag, else ETag, quotes and W/ stripped */
	int64_t linked_size;	/* X-Linked-Size, else Content-Length; -1 unknown */
};

struct progress {
	const char *name;
	int64_t file_size;
	int64_t total_size, total_done;	/* across every file of this run */
};

void http_init(const struct http_cfg *cfg);
void http_cleanup(void);
void http_res_free(struct http_res *r);

/* R must start zeroed ({0}); each call frees what R held before. */

/* GET URL into r->body (at most MAX bytes).  Returns 1 on a 2xx answer. */
int http_get(const char *url, size_t max, struct http_res *r);

/* GET URL into the file PATH (opened without truncation): resume with
 * Range from its current length; a 200 answer to a Range request restarts
 * the file.  SIZE (or -1) bounds what may be written.  Returns 1 when the
 * transfer completed. */
int http_download(const char *url, const char *path, int64_t size, struct progress *pg,
		  struct http_res *r);

/* bytes as people read them: "812 B", "97.6 MiB" (powers of 1024) */
void human_size(char *buf, size_t cap, double bytes);

/* Set by SIGINT/SIGTERM: transfers stop, partial files are kept for resume. */
extern volatile int http_interrupted;

#endif
