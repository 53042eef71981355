/* extract.c - find the shell command in a model's answer (see extract.h). */
#include "extract.h"
#include "json.h"

#include <ctype.h>
#include <jv.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const cmd_keys[] = {"cmd", "command", "shell", "bash", NULL};

/* 1: found (*out set), 0: not JSON or no command key, -1: a command key
 * whose value is not a usable string (e set). */
static int from_json(const char *s, size_t n, char **out, struct lmu_err *e)
{
	/* checked before libjq sees it: libjq 1.6 leaks on some malformed
	 * text ({"cmd""cmd": ...) */
	if (n == 0 || n > (1u << 30) || !json_valid(s, n))
		return 0;
	jv v = jv_parse_sized(s, (int)n);
	int rc = 0;
	if (!jv_is_valid(v)) {
		jv_free(v);
		return 0;
	}
	if (jv_get_kind(v) == JV_KIND_STRING) {
		*out = xstrdup(jv_string_value(v));
		rc = 1;
	} else if (jv_get_kind(v) == JV_KIND_OBJECT) {
		for (const char *const *k = cmd_keys; *k && rc == 0; k++) {
			jv f = jv_object_get(jv_copy(v), jv_string(*k));
			if (jv_get_kind(f) == JV_KIND_STRING) {
				*out = xstrdup(jv_string_value(f));
				rc = 1;
			} else if (jv_is_valid(f) && jv_get_kind(f) != JV_KIND_NULL) {
				err_set(e, "the JSON field \"%s\" is not a string", *k);
				rc = -1;
			}
			jv_free(f);
		}
	}
	jv_free(v);
	return rc;
}

static void trim(const char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* Copy s[0..n) dropping a "$ " prompt at the start of each line. */
static char *strip_prompts(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	bool line_start = true;
	for (size_t i = 0; i < n; i++) {
		if (line_start && s[i] == '$' && i + 1 < n && s[i + 1] == ' ') {
			i++;
			continue;
		}
		*o++ = s[i];
		line_start = s[i] == '\n';
	}
	*o = '\0';
	return out;
}

/* How much a fence's language says "shell": 2 a shell or JSON, 1 none
 * given, 0 another language. */
static int shell_rank(const char *lang, size_t n)
{
	static const char *const langs[] = {"sh", "bash", "shell", "zsh", "console", "terminal", "shell-session",
		"shellsession", "ksh", "fish", "json", NULL};
	if (n == 0)
		return 1;
	for (const char *const *l = langs; *l; l++)
		if (strlen(*l) == n && !strncasecmp(lang, *l, n))
			return 2;
	return 0;
}

/* The first fenced block, a shell one if any, else an unlabelled one; 1 found, 0 none,
 * -1 error from a JSON block. */
static int from_fence(const char *s, size_t n, char **out, bool *json, struct lmu_err *e)
{
	const char *best = NULL, *best_lang = NULL;
	size_t best_n = 0, best_lang_n = 0;
	int best_rank = -1;
	for (size_t i = 0; i + 3 <= n; i++) {
		if (!(i == 0 || s[i - 1] == '\n'))
			continue;
		size_t k = i;
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		if (k + 3 > n || !(memcmp(s + k, "```", 3) == 0 || memcmp(s + k, "~~~", 3) == 0))
			continue;
		char fence = s[k];
		const char *lang = s + k + 3;
		while (lang < s + n && *lang == fence)
			lang++;
		size_t lang_n = 0;
		while (lang + lang_n < s + n && lang[lang_n] != '\n' && !isspace((unsigned char)lang[lang_n]))
			lang_n++;
		const char *body = memchr(lang, '\n', (size_t)(s + n - lang));
		if (!body)
			break;
		body++;
		/* the closing fence: three fence characters at a line start */
		const char *end = NULL;
		for (const char *p = body; p + 3 <= s + n; p++) {
			if (p != body && p[-1] != '\n')
				continue;
			const char *q = p;
			while (q < s + n && (*q == ' ' || *q == '\t'))
				q++;
			if (q + 3 <= s + n && q[0] == fence && q[1] == fence && q[2] == fence) {
				end = p;
				break;
			}
		}
		if (!end)
			end = s + n;
		int rank = shell_rank(lang, lang_n);
		if (rank > best_rank) {
			best = body;
			best_n = (size_t)(end - body);
			best_lang = lang;
			best_lang_n = lang_n;
			best_rank = rank;
		}
		if (best_rank == 2)
			break;
		const char *next = memchr(end, '\n', (size_t)(s + n - end));
		if (!next)
			break;
		i = (size_t)(next - s);
	}
	if (!best)
		return 0;
	const char *b = best;
	size_t bn = best_n;
	trim(&b, &bn);
	int rc = from_json(b, bn, out, e);
	if (rc != 0 || (best_lang_n == 4 && !strncasecmp(best_lang, "json", 4))) {
		*json = rc != 0;
		return rc;
	}
	*out = strip_prompts(b, bn);
	return 1;
}

static char *from_inline(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '`')
			continue;
		size_t k = i + 1;
		while (k < n && s[k] != '`' && s[k] != '\n')
			k++;
		if (k >= n || s[k] != '`') {
			i = k;
			continue;
		}
		const char *c = s + i + 1;
		size_t cn = k - i - 1;
		trim(&c, &cn);
		if (cn > 0)
			return strip_prompts(c, cn);
		i = k;
	}
	return NULL;
}

/* An answer that starts with a backquote is prose with a code span
 * ("`ls -la` lists the files") unless the first line goes on as a command
 * after the span: "`echo rm` -rf /" is a command whose first word is a
 * substitution, to be judged whole. */
static bool starts_with_substitution(const char *s, size_t n)
{
	size_t k = 1;
	while (k < n && s[k] != '`' && s[k] != '\n')
		k++;
	if (k >= n || s[k] != '`')
		return false;
	for (k++; k < n && (s[k] == ' ' || s[k] == '\t'); k++)
		;
	return k < n && (strchr("-/~$|&;<>`'\"*", s[k]) || isdigit((unsigned char)s[k]));
}

char *extract_command(const char *text, size_t len, const char **source, struct lmu_err *e)
{
	const char *s = text;
	size_t n = len;
	char *out = NULL;
	bool json = false;
	int rc;

	trim(&s, &n);
	if (n == 0) {
		err_set(e, "the answer is empty");
		return NULL;
	}
	/* JSON: the whole answer, or the span from the first '{' to the last '}' */
	rc = from_json(s, n, &out, e);
	if (rc == 0) {
		const char *open = memchr(s, '{', n);
		const char *close = NULL;
		for (const char *p = s + n; p > s; p--)
			if (p[-1] == '}') {
				close = p;
				break;
			}
		if (open && close && close > open)
			rc = from_json(open, (size_t)(close - open), &out, e);
	}
	if (rc < 0)
		return NULL;
	if (rc == 0 && s[0] == '{' && (strstr(s, "\"cmd\"") || strstr(s, "\"command\""))) {
		/* {"cmd": "ls -l -w -w ... : generation stopped before the end;
		 * a command cut short must not be guessed at */
		err_set(e, "the JSON answer is cut short (no closing quote or brace)");
		return NULL;
	}
	if (rc > 0) {
		*source = "json";
	} else if ((rc = from_fence(s, n, &out, &json, e)) != 0) {
		if (rc < 0)
			return NULL;
		*source = json ? "json" : "fence";
	} else if ((isupper((unsigned char)s[0]) || (s[0] == '`' && !starts_with_substitution(s, n))) &&
		   (out = from_inline(s, n))) {
		*source = "inline";
	} else {
		if (n > 8 && !strncasecmp(s, "command:", 8)) {
			s += 8;
			n -= 8;
			trim(&s, &n);
		}
		out = strip_prompts(s, n);
		*source = "plain";
	}
	const char *c = out;
	size_t cn = strlen(out);
	trim(&c, &cn);
	if (cn == 0) {
		free(out);
		err_set(e, "no command in the answer");
		return NULL;
	}
	memmove(out, c, cn);
	out[cn] = '\0';
	return out;
}
