/* hub.h - the Hugging Face Hub API as hf-fetch uses it (doc/formats.md "Hub endpoints"):
 * revision -> commit, the recursive tree listing (paginated), search, and
 * the messages that tell the user the way out of each error. */
#ifndef LMU_HUB_H
#define LMU_HUB_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "http.h"

struct hub_file {
	char *path;
	int64_t size;
	char oid[41];		/* git blob sha1 */
	char sha256[65];	/* LFS files only, else "" */
};

struct hub_list {
	struct hub_file *f;
	size_t n;
	char **refused;		/* unsafe names the server sent, never used as paths */
	size_t nrefused;
};

/* Parse one page of a tree listing and append its files to L.  Unsafe
 * paths go to L->refused.  Returns 0 with E filled on malformed JSON. */
int hub_parse_tree(const char *json, size_t len, struct hub_list *l, struct lmu_err *e);
void hub_list_free(struct hub_list *l);

/* Parse a repo-info answer: its "sha" (40 hex). */
int hub_parse_commit(const char *json, size_t len, char commit[41], struct lmu_err *e);

/* Each returns 1 on success, else 0 with R describing the failure. */
int hub_commit(const char *ep, const char *repo, const char *rev, char commit[41],
	       struct http_res *r, struct lmu_err *e);
int hub_list(const char *ep, const char *repo, const char *commit, struct hub_list *l,
	     struct http_res *r, struct lmu_err *e);
int hub_search(const char *ep, const char *query, const char *author, long limit, FILE *out,
	       struct http_res *r, struct lmu_err *e);

/* The revision or file path escaped for a URL ('/' kept when KEEP_SLASH). */
char *hub_escape(const char *s, int keep_slash);

/* Copy S for a message: control characters become '?'. */
void hub_printable(char *dst, size_t cap, const char *s);

/* Die with the message for a failed request about REPO (and FILE, when
 * it was a file download), naming what to do. */
void hub_die(const struct http_res *r, const struct lmu_err *e, const char *ep, const char *repo,
	     const char *rev, const char *file, int token_sent) __attribute__((noreturn));

#endif
