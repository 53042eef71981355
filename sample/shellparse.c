/* shellparse.c - a static reader for shell command lines (see shellparse.h).
 *
 * One pass over the bytes, recursive descent: parse_list() splits a list on
 * its operators, parse_simple() collects the words and redirections of one
 * simple command, read_word() turns the source of one word into fields.
 * Substitutions are parsed in place (or, for backticks, from their
 * unescaped text) and their commands are appended to the same list, so the
 * caller sees every command a shell could run, however deeply hidden. */
#include "shellparse.h"
#include "err.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Unquoted brace characters are kept as these bytes until brace expansion,
 * so that quoted or expanded braces are never expanded. */
#define BR_OPEN '\001'
#define BR_COMMA '\002'
#define BR_CLOSE '\003'

struct buf {
	char *p;
	size_t n, cap;
};

static void buf_add(struct buf *b, char c)
{
	if (b->n + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 32;
		b->p = xrealloc(b->p, b->cap);
	}
	b->p[b->n++] = c;
	b->p[b->n] = '\0';
}

static void buf_adds(struct buf *b, const char *s)
{
	while (*s)
		buf_add(b, *s++);
}

static char *buf_take(struct buf *b)
{
	char *s = b->p ? b->p : xstrdup("");
	b->p = NULL;
	b->n = b->cap = 0;
	return s;
}

struct var {
	char *name, *value;
};

/* What all the (sub)parsers of one script share. */
struct ctx {
	struct sh_script *out;
	size_t cap_cmd;
	struct var *vars;
	size_t n_vars;
	const char *pending_func;  /* "f()" seen, its body not yet opened */
	bool failed;
};

#define MAX_FRAMES 64
#define MAX_HEREDOCS 16

struct heredoc {
	int cmd, redir;
	char *delim;
	bool strip_tabs;
};

#define MAX_LOOPS 32

/* A while, until, for or select loop between its keyword and its done. */
struct loop {
	char kind;       /* 'w' while, 'u' until, 'f' for and select */
	int cond_begin;  /* while/until: the first command of the condition */
	bool endless;    /* its condition never ends it */
	bool in_body;    /* after its do */
};

struct parser {
	struct ctx *c;
	const char *s;
	size_t len, pos;
	int depth;
	int cur_cmd;                    /* command being built, -1 between commands */
	const char *frames[MAX_FRAMES]; /* function name of each open { or ( */
	int frame_group[MAX_FRAMES];    /* and its group in out->groups, -1 if none */
	int n_frames;
	struct heredoc here[MAX_HEREDOCS];
	int n_here;
	struct loop loops[MAX_LOOPS];   /* the open loops, innermost last */
	int n_loops;
	int endless_bodies;             /* open loops that never end, inside their body */
};

static void parse_list(struct parser *p, int stop);

static void fail(struct parser *p, const char *fmt, const char *what)
{
	if (!p->c->failed) {
		snprintf(p->c->out->error, sizeof p->c->out->error, fmt, what);
		p->c->failed = true;
	}
}

static int peek(const struct parser *p, size_t ahead)
{
	return p->pos + ahead < p->len ? (unsigned char)p->s[p->pos + ahead] : -1;
}

const char *sh_basename(const char *name)
{
	const char *s = strrchr(name, '/');
	return s && s[1] ? s + 1 : name;
}

/* ---- variables ---- */

static struct var *var_find(struct ctx *c, const char *name, size_t n)
{
	for (size_t i = 0; i < c->n_vars; i++)
		if (strlen(c->vars[i].name) == n && !memcmp(c->vars[i].name, name, n))
			return &c->vars[i];
	return NULL;
}

/* Set (value != NULL) or forget (value == NULL: no longer known). */
static void var_set(struct ctx *c, const char *name, size_t n, const char *value)
{
	struct var *v = var_find(c, name, n);
	if (value && strlen(value) > SH_MAX_VALUE)
		value = NULL;  /* too big to follow: unknown from here on */
	if (v) {
		free(v->value);
		v->value = value ? xstrdup(value) : NULL;
		return;
	}
	if (!value || c->n_vars >= 256)
		return;
	c->vars = xreallocarray(c->vars, c->n_vars + 1, sizeof *c->vars);
	v = &c->vars[c->n_vars++];
	v->name = xmalloc(n + 1);
	memcpy(v->name, name, n);
	v->name[n] = '\0';
	v->value = xstrdup(value);
}

/* The value of a variable the script set; IFS has its default. */
static const char *var_get(struct ctx *c, const char *name, size_t n)
{
	struct var *v = var_find(c, name, n);
	if (v)
		return v->value;
	if (n == 3 && !memcmp(name, "IFS", 3))
		return " \t\n";
	return NULL;
}

static bool is_name_start(int c) { return c == '_' || (c >= 0 && c < 128 && isalpha(c)); }
static bool is_name_char(int c) { return c == '_' || (c >= 0 && c < 128 && isalnum(c)); }

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || !is_name_start((unsigned char)s[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_name_char((unsigned char)s[i]))
			return false;
	return true;
}

/* ---- C escapes, as in $'...' and printf ---- */

static void put_utf8(struct buf *b, uint32_t u)
{
	if (u < 0x80) {
		buf_add(b, (char)u);
	} else if (u < 0x800) {
		buf_add(b, (char)(0xc0 | u >> 6));
		buf_add(b, (char)(0x80 | (u & 0x3f)));
	} else if (u < 0x10000) {
		buf_add(b, (char)(0xe0 | u >> 12));
		buf_add(b, (char)(0x80 | (u >> 6 & 0x3f)));
		buf_add(b, (char)(0x80 | (u & 0x3f)));
	} else if (u < 0x110000) {
		buf_add(b, (char)(0xf0 | u >> 18));
		buf_add(b, (char)(0x80 | (u >> 12 & 0x3f)));
		buf_add(b, (char)(0x80 | (u >> 6 & 0x3f)));
		buf_add(b, (char)(0x80 | (u & 0x3f)));
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode s[0..n) into b; a NUL byte ends the string as it does in bash. */
static void decode_c_escapes(const char *s, size_t n, struct buf *b)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t v;
		int d, k;
		if (s[i] != '\\' || i + 1 >= n) {
			if (s[i] == '\0')
				return;
			buf_add(b, s[i]);
			continue;
		}
		char e = s[++i];
		switch (e) {
		case 'a': buf_add(b, '\a'); break;
		case 'b': buf_add(b, '\b'); break;
		case 'e': case 'E': buf_add(b, 033); break;
		case 'f': buf_add(b, '\f'); break;
		case 'n': buf_add(b, '\n'); break;
		case 'r': buf_add(b, '\r'); break;
		case 't': buf_add(b, '\t'); break;
		case 'v': buf_add(b, '\v'); break;
		case 'c':
			if (i + 1 < n)
				buf_add(b, (char)(s[++i] & 0x1f));
			break;
		case 'x': case 'u': case 'U':
			v = 0;
			for (k = 0; k < (e == 'x' ? 2 : e == 'u' ? 4 : 8) && i + 1 < n && (d = hexval((unsigned char)s[i + 1])) >= 0; k++, i++)
				v = v * 16 + (uint32_t)d;
			if (k == 0) {
				buf_add(b, '\\');
				buf_add(b, e);
			} else if (v == 0) {
				return;
			} else if (e == 'x') {
				buf_add(b, (char)v);
			} else {
				put_utf8(b, v);
			}
			break;
		default:
			if (e >= '0' && e <= '7') {
				v = (uint32_t)(e - '0');
				if (e == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7')
					v = 0;  /* printf's \0NNN */
				for (k = 1; k < 4 && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7'; k++)
					v = v * 8 + (uint32_t)(s[++i] - '0');
				if ((v & 0xff) == 0)
					return;
				buf_add(b, (char)(v & 0xff));
			} else if (e == '\\' || e == '\'' || e == '"' || e == '?') {
				buf_add(b, e);
			} else {
				buf_add(b, '\\');
				buf_add(b, e);
			}
		}
	}
}

char *sh_c_escapes(const char *s, size_t n)
{
	struct buf b = {0};
	decode_c_escapes(s, n, &b);
	return buf_take(&b);
}

/* ---- the command list ---- */

static struct sh_cmd *cmd_at(struct parser *p, int i) { return &p->c->out->cmd[i]; }

static const char *current_func(const struct parser *p)
{
	for (int i = p->n_frames - 1; i >= 0; i--)
		if (p->frames[i])
			return p->frames[i];
	return NULL;
}

static int new_cmd(struct parser *p, int pipeline, int pipe_pos)
{
	struct sh_script *s = p->c->out;
	if (s->n >= SH_MAX_COMMANDS) {
		fail(p, "%s", "too many commands");
		return -1;
	}
	if (s->n == p->c->cap_cmd) {
		p->c->cap_cmd = p->c->cap_cmd ? p->c->cap_cmd * 2 : 16;
		s->cmd = xreallocarray(s->cmd, p->c->cap_cmd, sizeof *s->cmd);
	}
	struct sh_cmd *c = &s->cmd[s->n];
	memset(c, 0, sizeof *c);
	c->pipeline = pipeline;
	c->pipe_pos = pipe_pos;
	c->parent = p->cur_cmd;
	c->depth = p->depth;
	c->func = current_func(p);
	c->endless = p->endless_bodies > 0;
	c->group = p->n_frames > 0 ? p->frame_group[p->n_frames - 1] : -1;
	return (int)s->n++;
}

/* Open a ( or { group; pipeline and pos name the stage it forms when known
 * at its start (a subshell), else -1 (a brace group: known at its end). */
static void push_frame(struct parser *p, int pipeline, int pos)
{
	struct sh_script *s = p->c->out;
	int g = -1;
	if (p->n_frames >= MAX_FRAMES) {
		fail(p, "%s", "groups nested too deeply");
		return;
	}
	if (s->n_groups < SH_MAX_COMMANDS) {
		s->groups = xreallocarray(s->groups, s->n_groups + 1, sizeof *s->groups);
		s->groups[s->n_groups] = (struct sh_group){pipeline, pos, pipeline >= 0};
		g = (int)s->n_groups++;
	}
	p->frame_group[p->n_frames] = g;
	p->frames[p->n_frames++] = p->c->pending_func;
	p->c->pending_func = NULL;
}

/* Close the innermost group; a brace group forms the stage of command ci,
 * where its '}' stood. */
static void pop_frame(struct parser *p, int ci)
{
	if (p->n_frames > 0) {
		int g = p->frame_group[--p->n_frames];
		struct sh_group *gr = g >= 0 ? &p->c->out->groups[g] : NULL;
		if (gr && gr->pipeline < 0 && ci >= 0) {
			gr->pipeline = cmd_at(p, ci)->pipeline;
			gr->pipe_pos = cmd_at(p, ci)->pipe_pos;
		}
	}
}

/* ---- words ---- */

struct wordvec {
	struct sh_word *w;
	size_t n;
};

static void wordvec_push(struct wordvec *v, struct sh_word w)
{
	v->w = xreallocarray(v->w, v->n + 1, sizeof *v->w);
	v->w[v->n++] = w;
}

/* One word being read: the field under construction and the finished ones. */
struct wctx {
	struct parser *p;
	struct buf b;
	bool dyn, lead, has, quoted_any;
	bool single;         /* assignment or redirection target: no splitting, no braces */
	int sub_begin, sub_end;
	struct wordvec out;
	int budget;          /* fields left */
};

static void emit_field(struct wctx *w, const char *s, size_t n)
{
	struct sh_word f = {0};
	struct buf b = {0};
	if (w->budget <= 0) {
		fail(w->p, "%s", "a word expands to too many fields");
		return;
	}
	w->budget--;
	for (size_t i = 0; i < n; i++)
		buf_add(&b, s[i] == BR_OPEN ? '{' : s[i] == BR_COMMA ? ',' : s[i] == BR_CLOSE ? '}' : s[i]);
	f.text = buf_take(&b);
	f.dynamic = w->dyn;
	f.lead_dynamic = w->lead;
	wordvec_push(&w->out, f);
}

/* Bash brace expansion over the sentinel bytes: a{b,c}d -> abd acd. */
static void brace_expand(struct wctx *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] != BR_OPEN)
			continue;
		int depth = 0;
		size_t j, commas = 0;
		for (j = i; j < n; j++) {
			if (s[j] == BR_OPEN)
				depth++;
			else if (s[j] == BR_CLOSE && --depth == 0)
				break;
			else if (s[j] == BR_COMMA && depth == 1)
				commas++;
		}
		if (j == n || commas == 0)
			continue;
		size_t start = i + 1;
		depth = 0;
		for (size_t k = i + 1; k <= j && !w->p->c->failed; k++) {
			if (s[k] == BR_OPEN)
				depth++;
			else if (s[k] == BR_CLOSE && k < j)
				depth--;
			if (k == j || (s[k] == BR_COMMA && depth == 0)) {
				struct buf alt = {0};
				for (size_t m = 0; m < i; m++)
					buf_add(&alt, s[m]);
				for (size_t m = start; m < k; m++)
					buf_add(&alt, s[m]);
				for (size_t m = j + 1; m < n; m++)
					buf_add(&alt, s[m]);
				brace_expand(w, alt.p ? alt.p : "", alt.n);
				free(alt.p);
				start = k + 1;
			}
		}
		return;
	}
	emit_field(w, s, n);
}

static void field_end(struct wctx *w)
{
	if (w->has) {
		if (w->single)
			emit_field(w, w->b.p ? w->b.p : "", w->b.n);
		else
			brace_expand(w, w->b.p ? w->b.p : "", w->b.n);
	}
	free(w->b.p);
	memset(&w->b, 0, sizeof w->b);
	w->dyn = w->lead = w->has = false;
}

static void add_lit(struct wctx *w, char c, bool quoted)
{
	if (w->b.n >= SH_MAX_WORD) {
		fail(w->p, "%s", "a word grows too long");
		return;
	}
	if (c >= BR_OPEN && c <= BR_CLOSE)
		c = '?';
	if (!quoted && !w->single)
		c = c == '{' ? BR_OPEN : c == ',' ? BR_COMMA : c == '}' ? BR_CLOSE : c;
	buf_add(&w->b, c);
	w->has = true;
}

static void add_dyn(struct wctx *w, const char *text)
{
	if (w->b.n == 0)
		w->lead = true;
	w->dyn = true;
	w->has = true;
	while (*text)
		add_lit(w, *text++, true);
}

/* A value the script set: unquoted, it is split into fields on IFS. */
static void add_value(struct wctx *w, const char *v, bool quoted)
{
	const char *ifs = var_get(w->p->c, "IFS", 3);
	if (quoted || w->single) {
		w->has = true;
		while (*v)
			add_lit(w, *v++, true);
		return;
	}
	for (; *v; v++) {
		if (strchr(ifs, *v) && *v) {
			field_end(w);
			if (!strchr(" \t\n", *v))
				w->has = false;
		} else {
			add_lit(w, *v, true);
		}
	}
}

char *sh_printf(const struct sh_word *a, size_t n)
{
	struct buf out = {0};
	char *fmt = sh_c_escapes(a[0].text, strlen(a[0].text));
	size_t next = 1;
	do {
		bool converted = false;
		for (const char *f = fmt; *f; f++) {
			if (*f != '%') {
				buf_add(&out, *f);
				continue;
			}
			f++;
			while (*f && strchr("-+ #0123456789.", *f))
				f++;
			if (!*f)
				break;
			if (*f == '%') {
				buf_add(&out, '%');
				continue;
			}
			converted = true;
			const char *arg = next < n ? a[next++].text : "";
			if (*f == 'b') {
				char *d = sh_c_escapes(arg, strlen(arg));
				buf_adds(&out, d);
				free(d);
			} else {
				buf_adds(&out, arg);
			}
		}
		if (!converted)
			break;
	} while (next < n && out.n < SH_MAX_VALUE);
	free(fmt);
	return buf_take(&out);
}

/* A substitution whose commands are [begin, end): when it is one echo or
 * printf of fixed words, its output is known; otherwise it is dynamic. */
static void add_subst_result(struct wctx *w, int begin, int end, bool quoted)
{
	struct sh_script *s = w->p->c->out;
	if (w->sub_begin < 0)
		w->sub_begin = begin;
	w->sub_end = end;
	bool single = end > begin;
	for (int i = begin + 1; i < end; i++)
		single = single && s->cmd[i].parent >= begin;  /* nested in the first one */
	if (single && s->cmd[begin].argc >= 1 && s->cmd[begin].n_redir == 0) {
		struct sh_cmd *c = &s->cmd[begin];
		const char *name = c->argv[0].text;
		bool is_echo = !strcmp(name, "echo"), is_printf = !strcmp(name, "printf");
		bool fixed = is_echo || is_printf;
		for (size_t i = 1; i < c->argc; i++)
			fixed = fixed && !c->argv[i].dynamic;
		if (fixed) {
			struct buf b = {0};
			size_t i = 1;
			while (is_echo && i < c->argc && (!strcmp(c->argv[i].text, "-n") || !strcmp(c->argv[i].text, "-e") || !strcmp(c->argv[i].text, "-E")))
				i++;
			if (is_printf && i < c->argc) {
				char *t = sh_printf(c->argv + i, c->argc - i);
				buf_adds(&b, t);
				free(t);
				i = c->argc;
			}
			for (size_t first = i; i < c->argc; i++) {
				if (i > first)
					buf_add(&b, ' ');
				buf_adds(&b, c->argv[i].text);
			}
			while (b.n > 0 && b.p[b.n - 1] == '\n')
				b.p[--b.n] = '\0';
			add_value(w, b.p ? b.p : "", quoted);
			free(b.p);
			return;
		}
	}
	/* $(pwd) is the working directory: keep that fact for the judge */
	if (single && s->cmd[begin].argc == 1 && !strcmp(s->cmd[begin].argv[0].text, "pwd"))
		add_dyn(w, "$PWD");
	else
		add_dyn(w, "$(...)");
}

static void sub_parse_text(struct parser *p, const char *text, size_t n);

static void parse_subshell_body(struct parser *p)
{
	if (++p->depth > SH_MAX_DEPTH) {
		fail(p, "%s", "substitutions nested too deeply");
		return;
	}
	parse_list(p, ')');
	p->depth--;
	if (peek(p, 0) == ')')
		p->pos++;
	else
		fail(p, "%s", "unterminated $( or (");
}

/* $( ... ) or <( ... ) / >( ... ): p->pos is just after the '('. */
static void command_subst(struct wctx *w, bool quoted)
{
	struct parser *p = w->p;
	int begin = (int)p->c->out->n;
	parse_subshell_body(p);
	add_subst_result(w, begin, (int)p->c->out->n, quoted);
}

/* `...`: p->pos is just after the opening backquote. */
static void backquote_subst(struct wctx *w, bool quoted)
{
	struct parser *p = w->p;
	struct buf text = {0};
	int begin = (int)p->c->out->n;
	for (;;) {
		int c = peek(p, 0);
		if (c < 0) {
			fail(p, "%s", "unterminated backquote");
			free(text.p);
			return;
		}
		p->pos++;
		if (c == '`')
			break;
		if (c == '\\' && (peek(p, 0) == '`' || peek(p, 0) == '\\' || peek(p, 0) == '$')) {
			c = peek(p, 0);
			p->pos++;
		}
		buf_add(&text, (char)c);
	}
	sub_parse_text(p, text.p ? text.p : "", text.n);
	free(text.p);
	add_subst_result(w, begin, (int)p->c->out->n, quoted);
}

static void read_dquote(struct wctx *w);

/* ${NAME:OFFSET} and ${NAME:OFFSET:LENGTH} (in[0..n), the name
 * name_len bytes, its value v or NULL when unknown) with decimal numbers:
 * the substring into *out, when it is known.  Variables that always hold
 * an absolute path are known to start with '/', so ${PATH:0:1} is "/". */
static bool substring(const char *in, size_t n, size_t name_len, const char *v, struct buf *out)
{
	static const char *const absolute[] = {"PATH", "HOME", "PWD", "OLDPWD", "SHELL", NULL};
	size_t k = name_len + 1, off = 0, len = SIZE_MAX, have;
	char name[16];
	if (name_len == 0 || name_len >= n || in[name_len] != ':' || k >= n ||
	    !(isdigit((unsigned char)in[k]) || in[k] == ':'))  /* ${x::1}: offset 0 */
		return false;
	for (; k < n && isdigit((unsigned char)in[k]) && off < SH_MAX_WORD; k++)
		off = off * 10 + (size_t)(in[k] - '0');
	if (k < n) {
		if (in[k++] != ':')
			return false;
		for (len = 0; k < n && isdigit((unsigned char)in[k]) && len < SH_MAX_WORD; k++)
			len = len * 10 + (size_t)(in[k] - '0');
		if (k < n)
			return false;
	}
	snprintf(name, sizeof name, "%.*s", (int)(name_len < 15 ? name_len : 15), in);
	for (const char *const *a = absolute; !v && name_len < 15 && *a; a++)
		if (!strcmp(name, *a) && off == 0 && len == 1)
			v = "/";
	if (!v)
		return false;
	have = strlen(v);
	for (size_t i = off; i < have && i - off < len; i++)
		buf_add(out, v[i]);
	return true;
}

/* p->pos is at '$'. */
static void expand_dollar(struct wctx *w, bool quoted)
{
	struct parser *p = w->p;
	int c = peek(p, 1);
	if (c == '\'' && !quoted) {
		size_t start = p->pos + 2, i = start;
		while (i < p->len && p->s[i] != '\'')
			i += p->s[i] == '\\' && i + 1 < p->len ? 2 : 1;
		if (i >= p->len) {
			fail(p, "%s", "unterminated $'");
			return;
		}
		struct buf b = {0};
		decode_c_escapes(p->s + start, i - start, &b);
		w->has = true;
		for (size_t k = 0; k < b.n; k++)
			add_lit(w, b.p[k], true);
		free(b.p);
		p->pos = i + 1;
	} else if (c == '"' && !quoted) {
		p->pos += 2;
		read_dquote(w);
	} else if (c == '(' && peek(p, 2) == '(') {
		int depth = 0;
		size_t i;
		for (i = p->pos + 1; i < p->len; i++) {
			if (p->s[i] == '(')
				depth++;
			else if (p->s[i] == ')' && --depth == 0)
				break;
		}
		if (i >= p->len) {
			fail(p, "%s", "unterminated $((");
			return;
		}
		p->pos = i + 1;
		add_dyn(w, "$((...))");
	} else if (c == '(') {
		p->pos += 2;
		command_subst(w, quoted);
	} else if (c == '{') {
		size_t start = p->pos + 2, i = start;
		int depth = 1;
		for (; i < p->len; i++) {
			if (p->s[i] == '{')
				depth++;
			else if (p->s[i] == '}' && --depth == 0)
				break;
		}
		if (i >= p->len) {
			fail(p, "%s", "unterminated ${");
			return;
		}
		const char *in = p->s + start;
		size_t n = i - start, name_len = 0;
		while (name_len < n && is_name_char((unsigned char)in[name_len]))
			name_len++;
		p->pos = i + 1;
		const char *v = valid_name(in, name_len) ? var_get(p->c, in, name_len) : NULL;
		struct buf text = {0};
		if (name_len == n && v) {
			add_value(w, v, quoted);
		} else if (valid_name(in, name_len) && name_len < n && !v &&
			   (in[name_len] == '-' || in[name_len] == '=' ||
			    (in[name_len] == ':' && name_len + 1 < n && (in[name_len + 1] == '-' || in[name_len + 1] == '=')))) {
			/* ${x:-word} with x unset: the default, quotes removed. */
			size_t k = name_len + (in[name_len] == ':' ? 2 : 1);
			for (; k < n; k++)
				if (in[k] != '"' && in[k] != '\'')
					buf_add(&text, in[k]);
			add_value(w, text.p ? text.p : "", quoted);
		} else if (substring(in, n, name_len, v, &text)) {
			add_value(w, text.p ? text.p : "", quoted);
		} else {
			buf_add(&text, '$');
			for (size_t k = 0; k < (name_len ? name_len : n); k++)
				buf_add(&text, in[k]);
			add_dyn(w, text.p);
		}
		free(text.p);
	} else if (is_name_start(c)) {
		size_t start = p->pos + 1, i = start;
		while (i < p->len && is_name_char((unsigned char)p->s[i]))
			i++;
		const char *v = var_get(p->c, p->s + start, i - start);
		if (v) {
			add_value(w, v, quoted);
		} else {
			struct buf text = {0};
			buf_add(&text, '$');
			for (size_t k = start; k < i; k++)
				buf_add(&text, p->s[k]);
			add_dyn(w, text.p);
			free(text.p);
		}
		p->pos = i;
	} else if (c >= 0 && (isdigit(c) || strchr("@*#?$!-", c))) {
		char t[3] = {'$', (char)c, 0};
		add_dyn(w, t);
		p->pos += 2;
	} else {
		add_lit(w, '$', quoted);
		p->pos++;
	}
}

/* p->pos is just after the opening '"'. */
static void read_dquote(struct wctx *w)
{
	struct parser *p = w->p;
	w->has = true;
	w->quoted_any = true;
	for (;;) {
		int c = peek(p, 0);
		if (c < 0) {
			fail(p, "%s", "unterminated double quote");
			return;
		}
		if (c == '"') {
			p->pos++;
			return;
		}
		if (c == '\\') {
			int n = peek(p, 1);
			if (n == '\n') {
				p->pos += 2;
			} else if (n >= 0 && strchr("$`\"\\", n)) {
				add_lit(w, (char)n, true);
				p->pos += 2;
			} else {
				add_lit(w, '\\', true);
				p->pos++;
			}
		} else if (c == '$') {
			expand_dollar(w, true);
		} else if (c == '`') {
			p->pos++;
			backquote_subst(w, true);
		} else {
			add_lit(w, (char)c, true);
			p->pos++;
		}
		if (p->c->failed)
			return;
	}
}

static bool is_meta(int c)
{
	return c < 0 || (c != 0 && strchr(" \t\n;&|()<>", c));
}

/* Read one word at p->pos into fields appended to *out. */
static void read_word(struct parser *p, bool single, struct wordvec *out, bool *quoted_any)
{
	struct wctx w = {.p = p, .single = single, .sub_begin = -1, .sub_end = -1, .budget = SH_MAX_FIELDS};
	size_t first = out->n;
	w.out = *out;
	if ((peek(p, 0) == '<' || peek(p, 0) == '>') && peek(p, 1) == '(') {
		p->pos += 2;
		command_subst(&w, true);
	}
	while (!p->c->failed) {
		int c = peek(p, 0);
		if (is_meta(c))
			break;
		if (c == '\\') {
			int n = peek(p, 1);
			if (n == '\n') {
				p->pos += 2;
			} else if (n >= 0) {
				add_lit(&w, (char)n, true);
				w.quoted_any = true;
				p->pos += 2;
			} else {
				add_lit(&w, '\\', true);
				p->pos++;
			}
		} else if (c == '\'') {
			size_t i = p->pos + 1;
			while (i < p->len && p->s[i] != '\'')
				i++;
			if (i >= p->len) {
				fail(p, "%s", "unterminated single quote");
				break;
			}
			w.has = w.quoted_any = true;
			for (size_t k = p->pos + 1; k < i; k++)
				add_lit(&w, p->s[k], true);
			p->pos = i + 1;
		} else if (c == '"') {
			p->pos++;
			read_dquote(&w);
		} else if (c == '$') {
			if (peek(p, 1) == '\'' || peek(p, 1) == '"')
				w.quoted_any = true;
			expand_dollar(&w, false);
		} else if (c == '`') {
			p->pos++;
			backquote_subst(&w, false);
		} else {
			add_lit(&w, (char)c, false);
			p->pos++;
		}
	}
	field_end(&w);
	for (size_t i = first; i < w.out.n; i++) {
		w.out.w[i].sub_begin = w.sub_begin;
		w.out.w[i].sub_end = w.sub_end;
	}
	*out = w.out;
	if (quoted_any)
		*quoted_any = w.quoted_any;
}

/* Words in a single-field context (assignment value, redirection target). */
static struct sh_word read_single(struct parser *p)
{
	struct wordvec v = {0};
	struct sh_word w = {0};
	read_word(p, true, &v, NULL);
	if (v.n > 0) {
		w = v.w[0];
		for (size_t i = 1; i < v.n; i++)
			free(v.w[i].text);
	} else {
		w.text = xstrdup("");
		w.sub_begin = w.sub_end = -1;
	}
	free(v.w);
	return w;
}

/* ---- commands ---- */

static void skip_blanks(struct parser *p)
{
	for (;;) {
		int c = peek(p, 0);
		if (c == ' ' || c == '\t' || c == '\r')
			p->pos++;
		else if (c == '\\' && peek(p, 1) == '\n')
			p->pos += 2;
		else
			return;
	}
}

static void skip_comment(struct parser *p)
{
	if (peek(p, 0) == '#')
		while (p->pos < p->len && p->s[p->pos] != '\n')
			p->pos++;
}

static bool redir_ahead(const struct parser *p)
{
	size_t i = 0;
	while (isdigit(peek(p, i)))
		i++;
	int c = peek(p, i);
	if (c == '&' && i == 0)
		return peek(p, 1) == '>';
	return (c == '<' || c == '>') && peek(p, i + 1) != '(';
}

static void parse_redir(struct parser *p, int ci)
{
	struct sh_redir r = {.fd = -1};
	bool heredoc_strip = false;
	if (isdigit(peek(p, 0))) {
		long fd = 0;
		while (isdigit(peek(p, 0))) {
			fd = fd < 100000 ? fd * 10 + (peek(p, 0) - '0') : fd;
			p->pos++;
		}
		r.fd = (int)fd;
	}
	const char *s = p->s + p->pos;
	size_t left = p->len - p->pos;
#define OP(str) (left >= sizeof str - 1 && !memcmp(s, str, sizeof str - 1) && (p->pos += sizeof str - 1, 1))
	if (OP("&>>")) {
		r.op = SH_R_APPEND;
		r.both = true;
	} else if (OP("&>")) {
		r.op = SH_R_OUT;
		r.both = true;
	} else if (OP("<<<")) {
		r.op = SH_R_HERESTR;
	} else if (OP("<<-")) {
		r.op = SH_R_HEREDOC;
		heredoc_strip = true;
	} else if (OP("<<")) {
		r.op = SH_R_HEREDOC;
	} else if (OP("<&")) {
		r.op = SH_R_DUP_IN;
	} else if (OP("<>")) {
		r.op = SH_R_INOUT;
	} else if (OP("<")) {
		r.op = SH_R_IN;
	} else if (OP(">>")) {
		r.op = SH_R_APPEND;
	} else if (OP(">&")) {
		r.op = SH_R_DUP_OUT;
	} else if (OP(">|") || OP(">")) {
		r.op = SH_R_OUT;
	}
#undef OP
	skip_blanks(p);
	if (is_meta(peek(p, 0)) && !((peek(p, 0) == '<' || peek(p, 0) == '>') && peek(p, 1) == '(')) {
		fail(p, "%s", "redirection without a target");
		return;
	}
	r.target = read_single(p);
	/* >&word with a non-number target is &>word in bash */
	if (r.op == SH_R_DUP_OUT && r.fd < 0 && strspn(r.target.text, "0123456789-") != strlen(r.target.text)) {
		r.op = SH_R_OUT;
		r.both = true;
	}
	struct sh_cmd *c = cmd_at(p, ci);
	c->redir = xreallocarray(c->redir, c->n_redir + 1, sizeof *c->redir);
	c->redir[c->n_redir] = r;
	if (r.op == SH_R_HEREDOC) {
		if (p->n_here >= MAX_HEREDOCS) {
			fail(p, "%s", "too many here-documents");
		} else {
			struct heredoc *h = &p->here[p->n_here++];
			h->cmd = ci;
			h->redir = (int)c->n_redir;
			h->delim = xstrdup(r.target.text);
			h->strip_tabs = heredoc_strip;
			free(r.target.text);
			c->redir[c->n_redir].target.text = xstrdup("");
		}
	}
	c->n_redir++;
}

/* After a newline: the bodies of the here-documents opened on that line. */
static void read_heredocs(struct parser *p)
{
	for (int h = 0; h < p->n_here; h++) {
		struct heredoc *d = &p->here[h];
		struct buf body = {0};
		while (p->pos < p->len) {
			size_t start = p->pos, end = start;
			while (end < p->len && p->s[end] != '\n')
				end++;
			p->pos = end < p->len ? end + 1 : end;
			if (d->strip_tabs)
				while (start < end && p->s[start] == '\t')
					start++;
			if (end - start == strlen(d->delim) && !memcmp(p->s + start, d->delim, end - start))
				break;
			for (size_t k = start; k < end; k++)
				buf_add(&body, p->s[k]);
			buf_add(&body, '\n');
		}
		struct sh_word *t = &cmd_at(p, d->cmd)->redir[d->redir].target;
		free(t->text);
		t->text = buf_take(&body);
		free(d->delim);
	}
	p->n_here = 0;
}

static bool is_word(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static void add_func(struct parser *p, const char *name)
{
	struct sh_script *s = p->c->out;
	if (s->n_funcs >= 256)
		return;
	s->funcs = xreallocarray(s->funcs, s->n_funcs + 1, sizeof *s->funcs);
	s->funcs[s->n_funcs] = xstrdup(name);
	p->c->pending_func = s->funcs[s->n_funcs++];
}

/* Variables a finished command sets for the commands after it. */
static void note_assignments(struct parser *p, const struct sh_cmd *c)
{
	static const char *const declarers[] = {"export", "declare", "typeset", "local", "readonly", NULL};
	const struct sh_word *w = c->assign;
	size_t n = c->n_assign;
	if (c->argc > 0) {
		if (is_word(c->argv[0].text, declarers)) {
			w = c->argv + 1;
			n = c->argc - 1;
		} else if (!strcmp(c->argv[0].text, "unset") || !strcmp(c->argv[0].text, "read")) {
			for (size_t i = 1; i < c->argc; i++)
				var_set(p->c, c->argv[i].text, strlen(c->argv[i].text), NULL);
			return;
		} else {
			return;  /* prefix assignments hold for that command only */
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(w[i].text, '=');
		if (eq && valid_name(w[i].text, (size_t)(eq - w[i].text)))
			var_set(p->c, w[i].text, (size_t)(eq - w[i].text), w[i].dynamic ? NULL : eq + 1);
	}
}

/* A loop keyword at the start of command ci: follow the loop far enough
 * to know which commands run in the body of one that never ends. */
static void loop_keyword(struct parser *p, int ci, const char *kw)
{
	struct loop *l = p->n_loops > 0 ? &p->loops[p->n_loops - 1] : NULL;
	if (!strcmp(kw, "while") || !strcmp(kw, "until") || !strcmp(kw, "for")) {
		if (p->n_loops == MAX_LOOPS) {
			fail(p, "%s", "loops nested too deeply");
			return;
		}
		p->loops[p->n_loops++] = (struct loop){.kind = kw[0], .cond_begin = ci};
	} else if (!strcmp(kw, "do") && l && !l->in_body) {
		if (l->kind != 'f') {
			/* one command, true or : (while), false (until) */
			const struct sh_cmd *cond = cmd_at(p, l->cond_begin);
			bool one = ci == l->cond_begin + 1 && cond->argc == 1 && !cond->argv[0].dynamic &&
				   cond->n_redir == 0;
			const char *t = one ? cond->argv[0].text : "";
			l->endless = l->kind == 'w' ? (!strcmp(t, "true") || !strcmp(t, ":")) : !strcmp(t, "false");
		}
		l->in_body = true;
		if (l->endless) {
			p->endless_bodies++;
			cmd_at(p, ci)->endless = true;
		}
	} else if (!strcmp(kw, "done") && l) {
		if (l->in_body && l->endless)
			p->endless_bodies--;
		p->n_loops--;
	}
}

/* for (( init; cond; step )): p->pos is at the first '('.  An empty
 * condition never ends the loop. */
static void for_arithmetic(struct parser *p)
{
	size_t i = p->pos + 2, semi[2], n_semi = 0;
	int depth = 0;
	for (; i < p->len; i++) {
		if (p->s[i] == '(')
			depth++;
		else if (p->s[i] == ')' && depth-- == 0)
			break;
		else if (p->s[i] == ';' && depth == 0 && n_semi < 2)
			semi[n_semi++] = i;
	}
	if (i + 1 >= p->len || p->s[i + 1] != ')') {
		fail(p, "%s", "unterminated for ((");
		return;
	}
	bool empty = n_semi == 2;
	for (size_t k = n_semi == 2 ? semi[0] + 1 : 0; empty && k < semi[1]; k++)
		empty = p->s[k] == ' ' || p->s[k] == '\t';
	p->loops[p->n_loops - 1].endless = empty;
	p->pos = i + 2;
}

static void parse_simple(struct parser *p, int pipeline, int pipe_pos)
{
	static const char *const skipped[] = {"if", "then", "else", "elif", "fi", "do", "done",
		"while", "until", "!", "time", "esac", "in", NULL};
	static const char *const headers[] = {"for", "select", "case", NULL};
	int ci = new_cmd(p, pipeline, pipe_pos);
	bool header = false;  /* "for x in ...": words that are not a command */
	int saved = p->cur_cmd;
	if (ci < 0)
		return;
	p->cur_cmd = ci;
	for (;;) {
		skip_blanks(p);
		int c = peek(p, 0);
		if (p->c->failed || c < 0)
			break;
		if (redir_ahead(p)) {
			parse_redir(p, ci);
			continue;
		}
		if (c == '\n' || c == ';' || c == '|' || c == ')' || c == '&')
			break;
		if (c == '#') {  /* a word starting with # begins a comment */
			skip_comment(p);
			continue;
		}
		if (c == '(' && peek(p, 1) == '(' && header && p->n_loops > 0 &&
		    p->loops[p->n_loops - 1].kind == 'f' && !p->loops[p->n_loops - 1].in_body) {
			for_arithmetic(p);
			continue;
		}
		if (c == '(') {
			struct sh_cmd *cmd = cmd_at(p, ci);
			size_t i = p->pos + 1;
			while (i < p->len && (p->s[i] == ' ' || p->s[i] == '\t'))
				i++;
			if (cmd->argc == 1 && i < p->len && p->s[i] == ')') {
				add_func(p, cmd->argv[0].text);
				free(cmd->argv[0].text);
				cmd->argc = 0;
				p->pos = i + 1;
				continue;
			}
			break;
		}
		struct sh_cmd *cmd = cmd_at(p, ci);
		size_t name_len = 0;
		while (is_name_char(peek(p, name_len)))
			name_len++;
		if (cmd->argc == 0 && !header && name_len > 0 && is_name_start(peek(p, 0)) && peek(p, name_len) == '=') {
			size_t start = p->pos;
			p->pos += name_len + 1;
			struct sh_word value = read_single(p);
			struct buf b = {0};
			for (size_t k = 0; k < name_len + 1; k++)
				buf_add(&b, p->s[start + k]);
			buf_adds(&b, value.text);
			free(value.text);
			value.text = buf_take(&b);
			cmd = cmd_at(p, ci);
			cmd->assign = xreallocarray(cmd->assign, cmd->n_assign + 1, sizeof *cmd->assign);
			cmd->assign[cmd->n_assign++] = value;
			continue;
		}
		struct wordvec v = {0};
		bool quoted = false;
		read_word(p, false, &v, &quoted);
		cmd = cmd_at(p, ci);
		for (size_t i = 0; i < v.n; i++) {
			struct sh_word *w = &v.w[i];
			if (cmd->argc == 0 && !header && !quoted && !w->dynamic && v.n == 1) {
				if (!strcmp(w->text, "{")) {
					push_frame(p, -1, -1);
					/* the command begun here is the group's first */
					cmd_at(p, ci)->group = p->n_frames > 0 ? p->frame_group[p->n_frames - 1] : -1;
					free(w->text);
					continue;
				}
				if (!strcmp(w->text, "}")) {
					pop_frame(p, ci);
					free(w->text);
					continue;
				}
				if (!strcmp(w->text, "function")) {
					struct wordvec name = {0};
					skip_blanks(p);
					read_word(p, true, &name, NULL);
					if (name.n > 0)
						add_func(p, name.w[0].text);
					for (size_t k = 0; k < name.n; k++)
						free(name.w[k].text);
					free(name.w);
					skip_blanks(p);
					if (peek(p, 0) == '(' && peek(p, 1) == ')')
						p->pos += 2;
					free(w->text);
					continue;
				}
				if (is_word(w->text, skipped)) {
					loop_keyword(p, ci, w->text);
					free(w->text);
					continue;
				}
				if (is_word(w->text, headers)) {
					header = true;
					if (strcmp(w->text, "case") != 0)
						loop_keyword(p, ci, "for");
				}
			}
			if (header) {
				free(w->text);
				continue;
			}
			if (cmd->argc == 0)
				cmd->func = current_func(p);
			cmd->argv = xreallocarray(cmd->argv, cmd->argc + 1, sizeof *cmd->argv);
			cmd->argv[cmd->argc++] = *w;
		}
		free(v.w);
	}
	note_assignments(p, cmd_at(p, ci));
	p->cur_cmd = saved;
}

static void mark_background(struct parser *p, int pipeline)
{
	struct sh_script *s = p->c->out;
	for (size_t i = 0; i < s->n; i++)
		if (s->cmd[i].pipeline == pipeline)
			s->cmd[i].background = true;
}

/* A list up to end of input (stop 0) or up to an unmatched ')' (stop ')'). */
static void parse_list(struct parser *p, int stop)
{
	int pipeline = -1, pos = 0;
	for (;;) {
		skip_blanks(p);
		skip_comment(p);
		int c = peek(p, 0);
		if (p->c->failed)
			return;
		if (c < 0) {
			if (stop)
				fail(p, "%s", "unterminated ( or $(");
			return;
		}
		if (c == ')') {
			if (stop == ')')
				return;
			p->pos++;  /* a case pattern's ')' */
			pipeline = -1;
		} else if (c == '\n') {
			p->pos++;
			pipeline = -1;
			read_heredocs(p);
		} else if (c == ';') {
			p->pos++;
			pipeline = -1;
		} else if (c == '&' && peek(p, 1) == '&') {
			p->pos += 2;
			pipeline = -1;
		} else if (c == '&' && peek(p, 1) != '>') {
			p->pos++;
			if (pipeline >= 0)
				mark_background(p, pipeline);
			pipeline = -1;
		} else if (c == '|' && peek(p, 1) == '|') {
			p->pos += 2;
			pipeline = -1;
		} else if (c == '|') {
			p->pos += peek(p, 1) == '&' ? 2 : 1;
			if (pipeline < 0)
				pipeline = p->c->out->n_pipelines++;
			pos++;
		} else if (c == '(') {
			p->pos++;
			if (pipeline < 0) {
				pipeline = p->c->out->n_pipelines++;
				pos = 0;
			}
			push_frame(p, pipeline, pos);
			parse_subshell_body(p);
			pop_frame(p, -1);
		} else {
			if (pipeline < 0) {
				pipeline = p->c->out->n_pipelines++;
				pos = 0;
			}
			parse_simple(p, pipeline, pos);
		}
	}
}

static void sub_parse_text(struct parser *p, const char *text, size_t n)
{
	struct parser sub = {.c = p->c, .s = text, .len = n, .depth = p->depth + 1, .cur_cmd = p->cur_cmd};
	if (sub.depth > SH_MAX_DEPTH) {
		fail(p, "%s", "substitutions nested too deeply");
		return;
	}
	sub.frames[0] = current_func(p);
	sub.frame_group[0] = -1;  /* what a substitution writes goes into a word */
	sub.n_frames = 1;
	parse_list(&sub, 0);
	read_heredocs(&sub);
}

struct sh_script *sh_parse(const char *src, size_t len)
{
	struct sh_script *s = xcalloc(1, sizeof *s);
	struct ctx c = {.out = s};
	struct parser p = {.c = &c, .s = src, .len = len, .cur_cmd = -1};
	if (len > SH_MAX_INPUT) {
		snprintf(s->error, sizeof s->error, "command longer than %d bytes", SH_MAX_INPUT);
		return s;
	}
	if (memchr(src, '\0', len)) {
		snprintf(s->error, sizeof s->error, "command contains a NUL byte");
		return s;
	}
	parse_list(&p, 0);
	read_heredocs(&p);
	for (int h = 0; h < p.n_here; h++)
		free(p.here[h].delim);
	/* pipeline lengths */
	for (size_t i = 0; i < s->n; i++) {
		int len_ = 0;
		for (size_t j = 0; j < s->n; j++)
			if (s->cmd[j].pipeline == s->cmd[i].pipeline && s->cmd[j].pipe_pos + 1 > len_)
				len_ = s->cmd[j].pipe_pos + 1;
		s->cmd[i].pipe_len = len_;
	}
	for (size_t i = 0; i < c.n_vars; i++) {
		free(c.vars[i].name);
		free(c.vars[i].value);
	}
	free(c.vars);
	return s;
}

static void word_free(struct sh_word *w) { free(w->text); }

void sh_script_free(struct sh_script *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		struct sh_cmd *c = &s->cmd[i];
		for (size_t k = 0; k < c->argc; k++)
			word_free(&c->argv[k]);
		for (size_t k = 0; k < c->n_assign; k++)
			word_free(&c->assign[k]);
		for (size_t k = 0; k < c->n_redir; k++)
			word_free(&c->redir[k].target);
		free(c->argv);
		free(c->assign);
		free(c->redir);
	}
	for (size_t i = 0; i < s->n_funcs; i++)
		free(s->funcs[i]);
	free(s->funcs);
	free(s->groups);
	free(s->cmd);
	free(s);
}
