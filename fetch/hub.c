#include "hub.h"

#include <ctype.h>
#include <jv.h>
#include <stdlib.h>
#include <string.h>

#include "modelpath.h"

#define MAX_PAGE (32u << 20)	/* bytes in one API answer */
#define MAX_FILES 1000000
/* Pages of one listing or search.  The Hub sends up to 1000 entries a page
 * (files and folders): 10000 pages hold ten times the files we accept,
 * while a server that sends one entry a page forever is stopped after
 * 10000 requests instead of 100000. */
#define MAX_PAGES 10000

static int is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return s[n] == '\0';
}

void hub_printable(char *dst, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < cap; i++)
		dst[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	dst[i] = '\0';
}

/* A jv string as a C string, refused when it holds a NUL. */
static const char *jv_cstr(jv v)
{
	const char *s;

	if (jv_get_kind(v) != JV_KIND_STRING)
		return NULL;
	s = jv_string_value(v);
	if (strlen(s) != (size_t)jv_string_length_bytes(jv_copy(v)))
		return NULL;
	return s;
}

static int jv_size(jv v, int64_t *out)
{
	double d;

	if (jv_get_kind(v) != JV_KIND_NUMBER)
		return 0;
	d = jv_number_value(v);
	if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
		return 0;
	*out = (int64_t)d;
	return 1;
}

/* libjq 1.6 leaks the pending string when two values lack a separator
 * (`["a" "b"]`: "Expected separator between values"); a few bytes per bad
 * answer, in a process about to exit.  Tell LeakSanitizer (SAN=1 builds;
 * these hooks are unused otherwise) that this one leak is known; the full
 * unwinder is needed to see jv_parser_next, as libjq has no frame pointers. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:jv_parser_next\n";
}
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

static jv parse(const char *json, size_t len, struct lmu_err *e)
{
	jv v;

	if (len > MAX_PAGE) {
		err_set(e, "answer too large");
		return jv_invalid();
	}
	if (!json || len == 0) {
		err_set(e, "the server's answer is empty");
		return jv_invalid();
	}
	v = jv_parse_sized(json, (int)len);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);
		err_set(e, "the server's answer is not JSON (%s)",
			jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "?");
		jv_free(msg);
		return jv_invalid();
	}
	return v;
}

static void refuse(struct hub_list *l, const char *name)
{
	char buf[256];

	hub_printable(buf, sizeof buf, name);
	l->refused = xreallocarray(l->refused, l->nrefused + 1, sizeof *l->refused);
	l->refused[l->nrefused++] = xstrdup(buf);
}

int hub_parse_tree(const char *json, size_t len, struct hub_list *l, struct lmu_err *e)
{
	jv arr = parse(json, len, e);
	int i, n;

	if (!jv_is_valid(arr))
		return 0;
	if (jv_get_kind(arr) != JV_KIND_ARRAY) {
		jv_free(arr);
		err_set(e, "the tree listing is not a JSON array");
		return 0;
	}
	n = jv_array_length(jv_copy(arr));
	for (i = 0; i < n; i++) {
		jv ent = jv_array_get(jv_copy(arr), i);
		jv type, path, oid, size, lfs;
		const char *tp, *ps, *os;
		struct hub_file f;
		int ok = 1;

		if (jv_get_kind(ent) != JV_KIND_OBJECT) {
			jv_free(ent);
			jv_free(arr);
			err_set(e, "tree entry %d is not an object", i);
			return 0;
		}
		type = jv_object_get(jv_copy(ent), jv_string("type"));
		tp = jv_cstr(type);
		if (!tp || strcmp(tp, "file") != 0) {	/* directories and the like */
			jv_free(type);
			jv_free(ent);
			continue;
		}
		path = jv_object_get(jv_copy(ent), jv_string("path"));
		oid = jv_object_get(jv_copy(ent), jv_string("oid"));
		size = jv_object_get(jv_copy(ent), jv_string("size"));
		lfs = jv_object_get(jv_copy(ent), jv_string("lfs"));
		memset(&f, 0, sizeof f);
		ps = jv_cstr(path);
		os = jv_cstr(oid);
		if (!ps) {
			err_set(e, "tree entry %d has no path", i);
			ok = 0;
		} else if (!os || !is_hex(os, 40)) {
			err_set(e, "tree entry %d: no 40-hex oid", i);
			ok = 0;
		} else if (!jv_size(jv_copy(size), &f.size)) {
			err_set(e, "tree entry %d: bad size", i);
			ok = 0;
		} else {
			memcpy(f.oid, os, 41);
		}
		if (ok && jv_get_kind(lfs) == JV_KIND_OBJECT) {
			jv lo = jv_object_get(jv_copy(lfs), jv_string("oid"));
			jv ls = jv_object_get(jv_copy(lfs), jv_string("size"));
			const char *s = jv_cstr(lo);
			if (!s || !is_hex(s, 64) || !jv_size(jv_copy(ls), &f.size)) {
				err_set(e, "tree entry %d: bad lfs record", i);
				ok = 0;
			} else {
				memcpy(f.sha256, s, 65);
			}
			jv_free(lo);
			jv_free(ls);
		}
		if (ok) {
			if (!hf_safe_relpath(ps)) {
				refuse(l, ps);
			} else if (l->n >= MAX_FILES) {
				err_set(e, "more than %d files in the listing", MAX_FILES);
				ok = 0;
			} else {
				f.path = xstrdup(ps);
				l->f = xreallocarray(l->f, l->n + 1, sizeof *l->f);
				l->f[l->n++] = f;
			}
		}
		jv_free(type);
		jv_free(path);
		jv_free(oid);
		jv_free(size);
		jv_free(lfs);
		jv_free(ent);
		if (!ok) {
			jv_free(arr);
			return 0;
		}
	}
	jv_free(arr);
	return 1;
}

void hub_list_free(struct hub_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->f[i].path);
	for (i = 0; i < l->nrefused; i++)
		free(l->refused[i]);
	free(l->f);
	free(l->refused);
	memset(l, 0, sizeof *l);
}

int hub_parse_commit(const char *json, size_t len, char commit[41], struct lmu_err *e)
{
	jv v = parse(json, len, e), sha;
	const char *s;
	int ok = 0;

	if (!jv_is_valid(v))
		return 0;
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		err_set(e, "the repo info is not a JSON object");
		return 0;
	}
	sha = jv_object_get(v, jv_string("sha"));
	s = jv_cstr(sha);
	if (s && is_hex(s, 40)) {
		memcpy(commit, s, 41);
		ok = 1;
	} else {
		err_set(e, "the repo info has no 40-hex \"sha\"");
	}
	jv_free(sha);
	return ok;
}

char *hub_escape(const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(3 * strlen(s) + 1), *q = out;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~", c) || (keep_slash && c == '/')) {
			*q++ = (char)c;
		} else {
			*q++ = '%';
			*q++ = hex[c >> 4];
			*q++ = hex[c & 15];
		}
	}
	*q = '\0';
	return out;
}

/* A set of strings (the links followed, the paths listed), to notice a
 * server that repeats itself: open addressing on FNV-1a, grown at half
 * full. */
struct strset {
	char **slot;
	size_t n, cap;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

/* Add a copy of S; 1 if it was new, 0 if it was there already. */
static int strset_add(struct strset *set, const char *s)
{
	size_t i;

	if (2 * (set->n + 1) > set->cap) {
		struct strset big = {xcalloc(set->cap ? 2 * set->cap : 64, sizeof *big.slot), 0,
				     set->cap ? 2 * set->cap : 64};
		for (i = 0; i < set->cap; i++)
			if (set->slot[i]) {
				size_t k = fnv1a(set->slot[i]) & (big.cap - 1);
				while (big.slot[k])
					k = (k + 1) & (big.cap - 1);
				big.slot[k] = set->slot[i];
				big.n++;
			}
		free(set->slot);
		*set = big;
	}
	for (i = fnv1a(s) & (set->cap - 1); set->slot[i]; i = (i + 1) & (set->cap - 1))
		if (strcmp(set->slot[i], s) == 0)
			return 0;
	set->slot[i] = xstrdup(s);
	set->n++;
	return 1;
}

static void strset_free(struct strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slot[i]);
	free(set->slot);
	memset(set, 0, sizeof *set);
}

/* A pagination link must stay on the endpoint: the token goes with it. */
static int same_endpoint(const char *ep, const char *url)
{
	size_t n = strlen(ep);
	return strncmp(url, ep, n) == 0 && url[n] == '/';
}

int hub_commit(const char *ep, const char *repo, const char *rev, char commit[41],
	       struct http_res *r, struct lmu_err *e)
{
	char *erev = hub_escape(rev, 0);
	char *url = xmalloc(strlen(ep) + strlen(repo) + strlen(erev) + 32);
	int ok;

	sprintf(url, "%s/api/models/%s/revision/%s", ep, repo, erev);
	ok = http_get(url, MAX_PAGE, r) && hub_parse_commit(r->body, r->len, commit, e);
	free(url);
	free(erev);
	return ok;
}

/* Paginated answers (the Link header): move *url to the next page.  1 if
 * there is one, 0 after the last page, -1 with e set if it leads off the
 * endpoint (a server must not send us, and our token, elsewhere), back to
 * a page already fetched (SEEN holds their links: a loop), or past
 * MAX_PAGES. */
static int next_page(const char *ep, const struct http_res *r, const char *what, char **url,
		     struct strset *seen, struct lmu_err *e)
{
	if (!r->next[0])
		return 0;
	if (!same_endpoint(ep, r->next)) {
		err_set(e, "the %s's next page (%.200s) is not on %s", what, r->next, ep);
		return -1;
	}
	strset_add(seen, *url);
	if (!strset_add(seen, r->next)) {
		err_set(e, "the %s's next page (%.200s) was fetched before: the server's pages go round in a loop",
			what, r->next);
		return -1;
	}
	if (seen->n > MAX_PAGES) {
		err_set(e, "the %s goes on for more than %d pages", what, MAX_PAGES);
		return -1;
	}
	free(*url);
	*url = xstrdup(r->next);
	return 1;
}

/* Files of the listing from index FROM on that were listed before: a
 * server whose pages repeat under new links.  1 if all are new. */
static int all_new(const struct hub_list *l, size_t from, struct strset *paths, struct lmu_err *e)
{
	char shown[256];

	for (size_t i = from; i < l->n; i++)
		if (!strset_add(paths, l->f[i].path)) {
			hub_printable(shown, sizeof shown, l->f[i].path);
			err_set(e, "the tree listing names %s twice: the server's pages repeat themselves", shown);
			return 0;
		}
	return 1;
}

int hub_list(const char *ep, const char *repo, const char *commit, struct hub_list *l,
	     struct http_res *r, struct lmu_err *e)
{
	char *url = xmalloc(strlen(ep) + strlen(repo) + 128);
	struct strset seen = {0}, paths = {0};
	int more;

	sprintf(url, "%s/api/models/%s/tree/%s?recursive=true&expand=false", ep, repo, commit);
	do {
		size_t before = l->n;
		more = -1;
		if (!http_get(url, MAX_PAGE, r) || !hub_parse_tree(r->body, r->len, l, e) ||
		    !all_new(l, before, &paths, e))
			break;
		more = next_page(ep, r, "listing", &url, &seen, e);
	} while (more > 0);
	free(url);
	strset_free(&seen);
	strset_free(&paths);
	return more == 0;
}

static void field(FILE *out, jv obj, const char *key, int last)
{
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	char buf[256];

	if (jv_get_kind(v) == JV_KIND_NUMBER)
		fprintf(out, "%.0f", jv_number_value(v));
	else if (jv_cstr(v)) {
		hub_printable(buf, sizeof buf, jv_cstr(v));
		fputs(buf, out);
	} else
		fputc('-', out);
	fputc(last ? '\n' : '\t', out);
	jv_free(v);
}

int hub_search(const char *ep, const char *query, const char *author, long limit, FILE *out,
	       struct http_res *r, struct lmu_err *e)
{
	char *q = hub_escape(query, 0), *a = author ? hub_escape(author, 0) : NULL;
	char *url = xmalloc(strlen(ep) + strlen(q) + (a ? strlen(a) : 0) + 128);
	struct strset seen = {0};
	long printed = 0;
	int more = 1;

	sprintf(url, "%s/api/models?search=%s%s%s&sort=downloads&direction=-1&limit=%ld", ep, q,
		a ? "&author=" : "", a ? a : "", limit);
	free(q);
	free(a);
	while (more > 0 && printed < limit) {
		jv arr;
		int i, n;

		more = -1;
		if (!http_get(url, MAX_PAGE, r))
			break;
		arr = parse(r->body, r->len, e);
		if (!jv_is_valid(arr) || jv_get_kind(arr) != JV_KIND_ARRAY) {
			if (jv_is_valid(arr))
				err_set(e, "the search answer is not a JSON array");
			jv_free(arr);
			break;
		}
		n = jv_array_length(jv_copy(arr));
		for (i = 0; i < n && printed < limit; i++) {
			jv m = jv_array_get(jv_copy(arr), i);
			if (jv_get_kind(m) == JV_KIND_OBJECT) {
				field(out, m, "id", 0);
				field(out, m, "downloads", 0);
				field(out, m, "likes", 0);
				field(out, m, "pipeline_tag", 1);
				printed++;
			}
			jv_free(m);
		}
		jv_free(arr);
		/* downstream closed: a normal end */
		more = !out_flush() || n == 0 ? 0 : next_page(ep, r, "search", &url, &seen, e);
	}
	free(url);
	strset_free(&seen);
	return more >= 0;
}

void hub_die(const struct http_res *r, const struct lmu_err *e, const char *ep, const char *repo,
	     const char *rev, const char *file, int token_sent)
{
	const char *code = r->err_code;
	const char *tok = token_sent ? "a token was sent but gives no access"
				     : "no token was sent: set HF_TOKEN, or put the token in $HF_HOME/token (hf auth login)";
	char f[256] = "";

	if (file)
		hub_printable(f, sizeof f, file);
	switch (r->fail) {
	case HTTP_OK:
		die("%s: %s", repo, e && e->msg[0] ? e->msg : "bad answer from the server");
	case HTTP_NONET:
		die("%s: cannot reach %s (%s); check the network, or set HF_ENDPOINT for a mirror",
		    repo, ep, r->msg);
	case HTTP_TRANSPORT:
		die("%s%s%s: %s", repo, file ? ": " : "", f, r->msg);
	case HTTP_BAD:
		die("%s%s%s: %s", repo, file ? ": " : "", f, r->msg);
	case HTTP_STATUS:
		break;
	}
	if (strcmp(code, "GatedRepo") == 0)
		die("%s is a gated repo (HTTP %ld): request access at %s/%s, then set HF_TOKEN to a "
		    "token of that account (%s)", repo, r->status, ep, repo, tok);
	if (r->status == 401 && strstr(r->err_msg, "Invalid credentials"))
		die("%s: the token was refused (HTTP 401, invalid credentials): check HF_TOKEN or "
		    "the token file", repo);
	if (r->status == 401)
		die("%s: repository not found, private, or gated (HTTP 401); %s", repo, tok);
	if (r->status == 403)
		die("%s%s%s: access denied (HTTP 403%s%s); %s", repo, file ? ": " : "", f,
		    r->err_msg[0] ? ": " : "", r->err_msg, tok);
	if (r->status == 404) {
		if (strcmp(code, "RevisionNotFound") == 0)
			die("%s: revision '%s' not found (HTTP 404)", repo, rev);
		if (strcmp(code, "EntryNotFound") == 0 || file)
			die("%s: %s: no such file at revision %s (HTTP 404)", repo, f, rev);
		die("%s: repository not found (HTTP 404); check the name%s", repo,
		    token_sent ? "" : ", or set HF_TOKEN if it is private");
	}
	if (r->status == 429)
		die("%s: rate limited (HTTP 429) after every retry; try again later%s", repo,
		    token_sent ? "" : ", or set HF_TOKEN");
	if (r->status >= 500)
		die("%s: server error (HTTP %ld) after every retry; try again later", repo, r->status);
	die("%s%s%s: HTTP %ld%s%s", repo, file ? ": " : "", f, r->status, r->err_msg[0] ? ": " : "",
	    r->err_msg);
}
