#include "codestr.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define MAX_VARS 64
#define MAX_DEPTH 32

struct tok {
	char kind;     /* 's' string, 'n' name, 'd' number, 'p' punctuation */
	char *text;    /* a string's value (escapes decoded), a name, a number, an operator */
	bool interp;   /* "...", `...`: $x ${x} #{x} are variables */
	bool fstr;     /* f"...": {x} is a variable */
};

struct code {
	struct tok *t;
	size_t n, cap;
	char *var_name[MAX_VARS], *var_value[MAX_VARS];
	size_t n_vars;
	char **out;
	size_t n_out;
};

/* ---- growing strings, cut at CODESTR_MAX_VALUE ---- */

struct str {
	char *p;
	size_t n, cap;
};

static void str_add(struct str *s, const char *p, size_t n)
{
	if (s->n + n > CODESTR_MAX_VALUE)
		n = CODESTR_MAX_VALUE - s->n;
	if (s->n + n + 1 > s->cap) {
		s->cap = 2 * (s->n + n + 1);
		s->p = xrealloc(s->p, s->cap);
	}
	memcpy(s->p + s->n, p, n);
	s->n += n;
	s->p[s->n] = '\0';
}

static void str_adds(struct str *s, const char *p) { str_add(s, p, strlen(p)); }

static char *str_take(struct str *s)
{
	char *p = s->p ? s->p : xstrdup("");
	memset(s, 0, sizeof *s);
	return p;
}

/* ---- tokens ---- */

static void push(struct code *c, char kind, const char *text, size_t n)
{
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->t = xreallocarray(c->t, c->cap, sizeof *c->t);
	}
	struct tok *t = &c->t[c->n++];
	memset(t, 0, sizeof *t);
	t->kind = kind;
	t->text = xmalloc(n + 1);
	memcpy(t->text, text, n);
	t->text[n] = '\0';
}

static int hexval(int ch)
{
	return isdigit(ch) ? ch - '0' : isxdigit(ch) ? tolower(ch) - 'a' + 10 : -1;
}

/* A quoted string at s[i]; returns the index after it. */
static size_t read_string(struct code *c, const char *s, size_t len, size_t i, bool raw, bool fstr)
{
	char q = s[i];
	bool triple = q != '`' && i + 2 < len && s[i + 1] == q && s[i + 2] == q;
	struct str v = {0};
	i += triple ? 3 : 1;
	while (i < len) {
		if (triple ? (i + 2 < len && s[i] == q && s[i + 1] == q && s[i + 2] == q) : s[i] == q) {
			i += triple ? 3 : 1;
			break;
		}
		if (s[i] == '\\' && i + 1 < len && !raw) {
			char e = s[i + 1], ch[1];
			i += 2;
			if (e == 'x' && i + 1 < len && hexval((unsigned char)s[i]) >= 0 && hexval((unsigned char)s[i + 1]) >= 0) {
				ch[0] = (char)(hexval((unsigned char)s[i]) << 4 | hexval((unsigned char)s[i + 1]));
				i += 2;
			} else {
				ch[0] = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
			}
			if (ch[0])
				str_add(&v, ch, 1);
			continue;
		}
		str_add(&v, s + i, 1);
		i++;
	}
	char *text = str_take(&v);
	push(c, 's', text, strlen(text));
	free(text);
	c->t[c->n - 1].interp = !raw && (q == '"' || q == '`');
	c->t[c->n - 1].fstr = fstr;
	return i;
}

/* A Python string prefix (r, b, f, u and pairs) right before a quote. */
static bool string_prefix(const char *p, size_t n, bool *raw, bool *fstr)
{
	if (n == 0 || n > 2)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!strchr("rRbBfFuU", p[k]))
			return false;
	*raw = memchr(p, 'r', n) || memchr(p, 'R', n);
	*fstr = memchr(p, 'f', n) || memchr(p, 'F', n);
	return true;
}

static void tokenize(struct code *c, const char *s)
{
	static const char *const ops[] = {"==", "!=", "<=", ">=", "=>", "+=", ".=", "->", "::", "=~", "**", "&&",
		"||", NULL};
	size_t len = strlen(s), i = 0;
	while (i < len && c->n < CODESTR_MAX_TOKENS) {
		unsigned char ch = (unsigned char)s[i];
		if (isspace(ch)) {
			i++;
		} else if (ch == '#' && !(i + 1 < len && s[i + 1] == '{')) {
			while (i < len && s[i] != '\n')  /* a comment (Python, Perl, Ruby, awk) */
				i++;
		} else if (ch == '\'' || ch == '"' || ch == '`') {
			i = read_string(c, s, len, i, false, false);
		} else if (isalpha(ch) || ch == '_' ||
			   ((ch == '$' || ch == '@') && i + 1 < len && (isalnum((unsigned char)s[i + 1]) || s[i + 1] == '_'))) {
			size_t b = i++;
			bool raw, fstr;
			while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '_'))
				i++;
			if (i < len && (s[i] == '\'' || s[i] == '"') && string_prefix(s + b, i - b, &raw, &fstr))
				i = read_string(c, s, len, i, raw, fstr);
			else
				push(c, 'n', s + b, i - b);
		} else if (isdigit(ch)) {
			size_t b = i;
			while (i < len && (isalnum((unsigned char)s[i]) || s[i] == '.'))
				i++;
			push(c, 'd', s + b, i - b);
		} else {
			size_t n = 1;
			for (const char *const *o = ops; *o; o++)
				if (i + 1 < len && s[i] == (*o)[0] && s[i + 1] == (*o)[1])
					n = 2;
			push(c, 'p', s + i, n);
			i += n;
		}
	}
}

/* ---- variables ---- */

static const char *var_get(const struct code *c, const char *name)
{
	for (size_t k = c->n_vars; k-- > 0;)
		if (!strcmp(c->var_name[k], name))
			return c->var_value[k];
	return NULL;
}

static void var_set(struct code *c, const char *name, char *value)
{
	for (size_t k = 0; k < c->n_vars; k++)
		if (!strcmp(c->var_name[k], name)) {
			free(c->var_value[k]);
			c->var_value[k] = value;
			return;
		}
	if (c->n_vars == MAX_VARS) {
		free(value);
		return;
	}
	c->var_name[c->n_vars] = xstrdup(name);
	c->var_value[c->n_vars++] = value;
}

/* A string's text with the code's known variables put in: $x ${x} #{x}
 * in interpolating strings, {x} in f-strings; others stay as written. */
static char *interpolate(const struct code *c, const struct tok *t)
{
	struct str v = {0};
	const char *p = t->text;
	if (!t->interp && !t->fstr)
		return xstrdup(p);
	while (*p) {
		char name[128];
		size_t n = 0, skip = 0;
		bool sigil = false;
		if ((t->interp && (p[0] == '#' || p[0] == '$') && p[1] == '{') || (t->fstr && p[0] == '{' && p[1] != '{')) {
			const char *b = p + (p[0] == '{' ? 1 : 2), *e = strchr(b, '}');
			if (e && (size_t)(e - b) < sizeof name - 1) {
				n = (size_t)(e - b);
				skip = (size_t)(e + 1 - p);
				memcpy(name, b, n);
			}
		} else if (t->interp && (p[0] == '$' || p[0] == '@') && (isalpha((unsigned char)p[1]) || p[1] == '_')) {
			const char *e = p + 1;
			while (isalnum((unsigned char)*e) || *e == '_')
				e++;
			if ((size_t)(e - p) < sizeof name - 1) {
				n = (size_t)(e - p);
				skip = n;
				memcpy(name, p, n);
				sigil = true;
			}
		}
		name[n] = '\0';
		const char *value = n ? var_get(c, name) : NULL;
		if (!value && n && !sigil) {  /* ${x} in Perl is $x */
			char with[130];
			snprintf(with, sizeof with, "$%s", name);
			value = var_get(c, with);
		}
		if (value) {
			str_adds(&v, value);
			p += skip;
		} else if (t->fstr && p[0] == '{' && p[1] == '{') {
			str_add(&v, "{", 1);
			p += 2;
		} else {
			str_add(&v, p, 1);
			p++;
		}
	}
	return str_take(&v);
}

/* ---- expressions ---- */

static bool is_p(const struct code *c, size_t i, const char *op)
{
	return i < c->n && c->t[i].kind == 'p' && !strcmp(c->t[i].text, op);
}

/* Past the balanced group that opens at i; returns the index after it. */
static size_t skip_group(const struct code *c, size_t i)
{
	int depth = 0;
	for (; i < c->n; i++) {
		if (is_p(c, i, "(") || is_p(c, i, "[") || is_p(c, i, "{"))
			depth++;
		else if ((is_p(c, i, ")") || is_p(c, i, "]") || is_p(c, i, "}")) && --depth <= 0)
			return i + 1;
	}
	return i;
}

struct items {
	char **v;   /* (n) a value, or NULL where an item is not a string expression */
	size_t n;
};

static void items_free(struct items *it)
{
	for (size_t k = 0; k < it->n; k++)
		free(it->v[k]);
	free(it->v);
	memset(it, 0, sizeof *it);
}

/* Items joined with spaces as a command's words: quoted where a word holds
 * a space or a quote; a single item as it is (a command line). */
static char *join_words(const struct items *it, const char *sep)
{
	struct str v = {0};
	size_t known = 0;
	for (size_t k = 0; k < it->n; k++)
		known += it->v[k] != NULL;
	if (known == 0)
		return NULL;
	bool first = true;
	for (size_t k = 0; k < it->n; k++) {
		const char *w = it->v[k];
		if (!w)
			continue;
		if (!first)
			str_adds(&v, sep);
		first = false;
		if (!sep[0] || known == 1 || !w[strcspn(w, " \t\n'\"")]) {
			str_adds(&v, w);
			continue;
		}
		str_add(&v, "'", 1);
		for (; *w; w++)
			str_adds(&v, *w == '\'' ? "'\\''" : (char[]){*w, 0});
		str_add(&v, "'", 1);
	}
	return str_take(&v);
}

static char *expr(struct code *c, size_t *i, int depth);
static void collect(struct code *c, char *v);

/* The items of the ( or [ group at *i; *i moves past its end. */
static void group_items(struct code *c, size_t *i, int depth, struct items *it)
{
	const char *close = is_p(c, *i, "(") ? ")" : "]";
	memset(it, 0, sizeof *it);
	(*i)++;
	while (*i < c->n && !is_p(c, *i, close)) {
		size_t k = *i;
		char *v = expr(c, &k, depth + 1);
		if (!(v && (is_p(c, k, ",") || is_p(c, k, close)))) {
			/* not a string expression (name=value, a comparison):
			 * skip to the next item */
			free(v);
			v = NULL;
			for (k = *i; k < c->n && !is_p(c, k, ",") && !is_p(c, k, close);)
				k = (is_p(c, k, "(") || is_p(c, k, "[") || is_p(c, k, "{")) ? skip_group(c, k) : k + 1;
		}
		if (it->n < 1024) {
			it->v = xreallocarray(it->v, it->n + 1, sizeof *it->v);
			it->v[it->n++] = v;
		} else {
			free(v);
		}
		*i = k;
		if (is_p(c, *i, ","))
			(*i)++;
	}
	if (*i < c->n)
		(*i)++;
}

/* FORMAT % VALUES: %s, %d ... take the values in turn, %% is %. */
static char *percent_format(const char *fmt, const struct items *it)
{
	struct str v = {0};
	size_t next = 0;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			str_add(&v, p, 1);
			continue;
		}
		const char *q = p + 1;
		while (*q && strchr("-+ #0123456789.", *q))
			q++;
		if (*q == '%') {
			str_add(&v, "%", 1);
		} else if (*q && strchr("sdirfxXeEgGcu", *q)) {
			str_adds(&v, next < it->n && it->v[next] ? it->v[next] : "$x");
			next++;
		} else {
			str_add(&v, p, 1);
			continue;
		}
		p = q;
	}
	return str_take(&v);
}

/* FORMAT.format(VALUES): {} and {N} take the values; {{ is {. */
static char *brace_format(const char *fmt, const struct items *it)
{
	struct str v = {0};
	size_t next = 0;
	for (const char *p = fmt; *p; p++) {
		const char *e;
		if (p[0] == '{' && p[1] == '{') {
			str_add(&v, "{", 1);
			p++;
		} else if (p[0] == '{' && (e = strchr(p, '}'))) {
			size_t k = isdigit((unsigned char)p[1]) ? (size_t)atoi(p + 1) : next++;
			str_adds(&v, k < it->n && it->v[k] ? it->v[k] : "$x");
			p = e;
		} else {
			str_add(&v, p, 1);
		}
	}
	return str_take(&v);
}

/* .join .format .replace .lower .upper .strip on a value; other methods
 * leave it as it is. */
static char *method(struct code *c, size_t *i, int depth, char *v)
{
	while (is_p(c, *i, ".") && *i + 2 < c->n && c->t[*i + 1].kind == 'n' && is_p(c, *i + 2, "(")) {
		const char *name = c->t[*i + 1].text;
		struct items args, list = {0};
		size_t k = *i + 2;
		if (!strcmp(name, "join") && (is_p(c, k + 1, "[") || is_p(c, k + 1, "("))) {
			size_t l = k + 1;
			group_items(c, &l, depth + 1, &list);
		}
		group_items(c, &k, depth + 1, &args);
		char *r = NULL;
		if (!strcmp(name, "join"))
			r = list.n ? join_words(&list, v) : xstrdup("$x");
		else if (!strcmp(name, "format"))
			r = brace_format(v, &args);
		else if (!strcmp(name, "lower") || !strcmp(name, "upper"))
			for (char *p = r = xstrdup(v); *p; p++)
				*p = (char)(name[0] == 'l' ? tolower((unsigned char)*p) : toupper((unsigned char)*p));
		else if (!strcmp(name, "replace") && args.n >= 2 && args.v[0] && args.v[1] && args.v[0][0]) {
			struct str s = {0};
			size_t from = strlen(args.v[0]);
			for (const char *p = v; *p;) {
				if (!strncmp(p, args.v[0], from)) {
					str_adds(&s, args.v[1]);
					p += from;
				} else {
					str_add(&s, p++, 1);
				}
			}
			r = str_take(&s);
		}
		if (r) {
			free(v);
			v = r;
		} else {  /* x.execSync(ARGS), x.run(ARGS): what it is given */
			collect(c, join_words(&args, " "));
		}
		items_free(&args);
		items_free(&list);
		*i = k;
	}
	return v;
}

/* One piece: a string, a variable, a number, a list or argument list,
 * with the methods called on it.  NULL if none starts at *i. */
static char *term(struct code *c, size_t *i, int depth)
{
	char *v = NULL;
	if (*i >= c->n || depth > MAX_DEPTH)
		return NULL;
	const struct tok *t = &c->t[*i];
	if (t->kind == 's') {
		v = interpolate(c, t);
		(*i)++;
	} else if (t->kind == 'd') {
		v = xstrdup(t->text);
		(*i)++;
	} else if (t->kind == 'n') {
		const char *known = var_get(c, t->text);
		(*i)++;
		/* a.b.c(ARGS): a function's result, known only when it runs;
		 * what it is given is a value of its own (os.system(...)) */
		bool call = false;
		while (is_p(c, *i, ".") && *i + 1 < c->n && c->t[*i + 1].kind == 'n' && c->t[*i + 1].text[0] != '$')
			*i += 2, known = NULL;
		if (is_p(c, *i, "(")) {
			struct items it;
			group_items(c, i, depth, &it);
			collect(c, join_words(&it, " "));
			items_free(&it);
			call = true;
		}
		v = xstrdup(known && !call ? known : "$x");
	} else if (is_p(c, *i, "(") || is_p(c, *i, "[")) {
		struct items it;
		group_items(c, i, depth, &it);
		v = join_words(&it, " ");
		items_free(&it);
	}
	return v ? method(c, i, depth, v) : NULL;
}

static char *concat(char *a, char *b)
{
	struct str s = {0};
	str_adds(&s, a);
	str_adds(&s, b);
	free(a);
	free(b);
	return str_take(&s);
}

/* Pieces joined by + and . (and adjacent strings), and FORMAT % VALUES. */
static char *expr(struct code *c, size_t *i, int depth)
{
	char *v = term(c, i, depth);
	while (v && *i < c->n) {
		size_t k = *i;
		const struct tok *t = &c->t[k];
		bool sigil_next = k + 1 < c->n && c->t[k + 1].kind == 'n' && (c->t[k + 1].text[0] == '$' || c->t[k + 1].text[0] == '@');
		if (is_p(c, k, "+") ||
		    (is_p(c, k, ".") && k + 1 < c->n && (c->t[k + 1].kind == 's' || is_p(c, k + 1, "(") || sigil_next))) {
			k++;
		} else if (t->kind == 's' || (t->kind == 'n' && (t->text[0] == '$'))) {
			/* "a" "b" (Python, awk), "rm " $1 (awk) */
		} else if (is_p(c, k, "%") && k + 1 < c->n) {
			struct items it = {0};
			k++;
			if (is_p(c, k, "(")) {
				group_items(c, &k, depth + 1, &it);
			} else {
				it.v = xmalloc(sizeof *it.v);
				it.v[0] = term(c, &k, depth + 1);
				it.n = 1;
			}
			char *r = percent_format(v, &it);
			items_free(&it);
			free(v);
			v = r;
			*i = k;
			continue;
		} else {
			break;
		}
		char *r = term(c, &k, depth + 1);
		if (!r)
			break;
		v = concat(v, r);
		*i = k;
	}
	return v;
}

/* ---- the values ---- */

static void collect(struct code *c, char *v)
{
	if (!v)
		return;
	for (size_t k = 0; k < c->n_out; k++)
		if (!strcmp(c->out[k], v)) {
			free(v);
			return;
		}
	if (c->n_out == CODESTR_MAX_STRINGS) {
		free(v);
		return;
	}
	c->out = xreallocarray(c->out, c->n_out + 1, sizeof *c->out);
	c->out[c->n_out++] = v;
}

char **code_strings(const char *code, size_t *n)
{
	struct code c = {0};
	tokenize(&c, code);
	/* every literal on its own, then every expression from its start:
	 * assignments set variables, later code sees them */
	for (size_t i = 0; i < c.n; i++)
		if (c.t[i].kind == 's')
			collect(&c, interpolate(&c, &c.t[i]));
	for (size_t i = 0; i < c.n;) {
		const struct tok *t = &c.t[i];
		size_t k;
		if (t->kind == 'n' && (is_p(&c, i + 1, "=") || is_p(&c, i + 1, "+=") || is_p(&c, i + 1, ".="))) {
			k = i + 2;
			char *v = expr(&c, &k, 0);
			if (v && !is_p(&c, i + 1, "=")) {
				const char *old = var_get(&c, t->text);
				v = concat(xstrdup(old ? old : "$x"), v);
			}
			if (v) {
				collect(&c, xstrdup(v));
				var_set(&c, t->text, v);
			}
			i = k > i + 2 ? k : i + 1;
		} else if (t->kind == 's' || is_p(&c, i, "(") || is_p(&c, i, "[")) {
			k = i;
			collect(&c, expr(&c, &k, 0));
			i = k > i ? k : i + 1;
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.t[i].text);
	free(c.t);
	for (size_t i = 0; i < c.n_vars; i++) {
		free(c.var_name[i]);
		free(c.var_value[i]);
	}
	*n = c.n_out;
	return c.out;
}

void code_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
