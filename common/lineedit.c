/* lineedit.c - the line editor of lineedit.h: the pure core, then the
 * history file, then the terminal. */
#include "lineedit.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include "err.h"

/* ---- the core ---- */

void le_init(struct line_edit *e)
{
	memset(e, 0, sizeof *e);
}

void le_free(struct line_edit *e)
{
	for (size_t i = 0; i < e->n_hist; i++)
		free(e->hist[i]);
	free(e->hist);
	free(e->buf);
	free(e->draft);
	memset(e, 0, sizeof *e);
}

void le_reset(struct line_edit *e)
{
	e->len = e->pos = 0;
	e->hist_at = e->n_hist;
	e->pasting = e->paste_cr = false;
	e->utf8_due = 0;
	e->seq_len = 0;
	free(e->draft);
	e->draft = NULL;
}

static void set_line(struct line_edit *e, const char *s, size_t n)
{
	if (n > e->cap) {
		e->cap = n;
		e->buf = xrealloc(e->buf, e->cap);
	}
	if (n)
		memcpy(e->buf, s, n);
	e->len = e->pos = n;
}

bool le_history_add(struct line_edit *e, const char *line, size_t len)
{
	if (len == 0)
		return false;
	if (e->n_hist && strlen(e->hist[e->n_hist - 1]) == len && memcmp(e->hist[e->n_hist - 1], line, len) == 0)
		return false;
	if (e->n_hist == LE_MAX_HISTORY) {
		free(e->hist[0]);
		memmove(e->hist, e->hist + 1, (e->n_hist - 1) * sizeof *e->hist);
		e->n_hist--;
	}
	e->hist = xreallocarray(e->hist, e->n_hist + 1, sizeof *e->hist);
	char *s = xmalloc(len + 1);
	memcpy(s, line, len);
	s[len] = '\0';
	e->hist[e->n_hist++] = s;
	e->hist_at = e->n_hist;
	return true;
}

static bool insert(struct line_edit *e, const char *s, size_t n)
{
	if (e->len + n > LE_MAX_LINE)
		return false;
	if (e->len + n > e->cap) {
		e->cap = (e->len + n) * 2;
		e->buf = xrealloc(e->buf, e->cap);
	}
	memmove(e->buf + e->pos + n, e->buf + e->pos, e->len - e->pos);
	memcpy(e->buf + e->pos, s, n);
	e->len += n;
	e->pos += n;
	return true;
}

static void erase(struct line_edit *e, size_t from, size_t to)
{
	memmove(e->buf + from, e->buf + to, e->len - to);
	e->len -= to - from;
	e->pos = from;
}

static bool is_cont(unsigned char b) { return (b & 0xc0) == 0x80; }

static size_t next_char(const struct line_edit *e, size_t p)
{
	if (p < e->len)
		p++;
	while (p < e->len && is_cont((unsigned char)e->buf[p]))
		p++;
	return p;
}

static size_t prev_char(const struct line_edit *e, size_t p)
{
	if (p > 0)
		p--;
	while (p > 0 && is_cont((unsigned char)e->buf[p]))
		p--;
	return p;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n'; }

static size_t word_left(const struct line_edit *e, size_t p)
{
	while (p > 0 && is_space(e->buf[p - 1]))
		p--;
	while (p > 0 && !is_space(e->buf[p - 1]))
		p--;
	return p;
}

static size_t word_right(const struct line_edit *e, size_t p)
{
	while (p < e->len && is_space(e->buf[p]))
		p++;
	while (p < e->len && !is_space(e->buf[p]))
		p++;
	return p;
}

/* Up (dir -1) or down (+1) the history; the new line is kept as a draft. */
static enum le_action walk_history(struct line_edit *e, int dir)
{
	if (dir < 0 && e->hist_at == 0)
		return LE_NONE;
	if (dir > 0 && e->hist_at >= e->n_hist)
		return LE_NONE;
	if (e->hist_at == e->n_hist) {
		free(e->draft);
		e->draft = xmalloc(e->len + 1);
		if (e->len)  /* (a line never typed in has no buffer yet) */
			memcpy(e->draft, e->buf, e->len);
		e->draft[e->len] = '\0';
	}
	e->hist_at = (size_t)((long)e->hist_at + dir);
	const char *s = e->hist_at == e->n_hist ? e->draft : e->hist[e->hist_at];
	set_line(e, s, strlen(s));
	return LE_REDRAW;
}

static bool seq_is(const struct line_edit *e, const char *s)
{
	return e->seq_len == strlen(s) && memcmp(e->seq, s, e->seq_len) == 0;
}

/* A complete escape sequence (ESC included in e->seq). */
static enum le_action escape(struct line_edit *e)
{
	size_t p = e->pos;

	if (seq_is(e, "\033[200~")) {
		e->pasting = true;
		e->paste_cr = false;
		return LE_NONE;
	}
	if (seq_is(e, "\033[201~")) {
		e->pasting = false;
		return LE_REDRAW;
	}
	if (e->pasting)  /* an escape inside pasted text: not a key, dropped */
		return LE_NONE;
	if (seq_is(e, "\033[A") || seq_is(e, "\033OA"))
		return walk_history(e, -1);
	if (seq_is(e, "\033[B") || seq_is(e, "\033OB"))
		return walk_history(e, +1);
	if (seq_is(e, "\033[C") || seq_is(e, "\033OC"))
		p = next_char(e, p);
	else if (seq_is(e, "\033[D") || seq_is(e, "\033OD"))
		p = prev_char(e, p);
	else if (seq_is(e, "\033[H") || seq_is(e, "\033OH") || seq_is(e, "\033[1~") || seq_is(e, "\033[7~"))
		p = 0;
	else if (seq_is(e, "\033[F") || seq_is(e, "\033OF") || seq_is(e, "\033[4~") || seq_is(e, "\033[8~"))
		p = e->len;
	else if (seq_is(e, "\033[1;5C") || seq_is(e, "\033[1;3C") || seq_is(e, "\033f"))
		p = word_right(e, p);
	else if (seq_is(e, "\033[1;5D") || seq_is(e, "\033[1;3D") || seq_is(e, "\033b"))
		p = word_left(e, p);
	else if (seq_is(e, "\033[3~")) {
		if (p < e->len)
			erase(e, p, next_char(e, p));
		return LE_REDRAW;
	} else
		return LE_NONE;  /* unknown: ignored whole */
	e->pos = p;
	return LE_REDRAW;
}

/* Is the escape sequence in e->seq complete?  CSI (ESC [) ends with a byte
 * in 0x40-0x7e, SS3 (ESC O) after one more byte, anything else (Alt-key)
 * after one byte. */
static bool seq_done(const struct line_edit *e)
{
	if (e->seq_len < 2)
		return false;
	unsigned char last = e->seq[e->seq_len - 1];
	if (e->seq[1] == '[')
		return e->seq_len >= 3 && last >= 0x40 && last <= 0x7e;
	if (e->seq[1] == 'O')
		return e->seq_len >= 3;
	return true;
}

enum le_action le_feed(struct line_edit *e, unsigned char c)
{
	if (e->seq_len) {
		e->seq[e->seq_len++] = c;
		if (seq_done(e)) {
			enum le_action a = escape(e);
			e->seq_len = 0;
			return a;
		}
		if (e->seq_len == sizeof e->seq)
			e->seq_len = 0;  /* too long to be a key: dropped */
		return LE_NONE;
	}
	if (c == 033) {
		e->seq[0] = c;
		e->seq_len = 1;
		return LE_NONE;
	}
	if (e->pasting) {
		/* pasted text is text: a line break is a newline (CR LF is one) */
		bool cr = c == '\r';
		if (c == '\n' && e->paste_cr)
			c = 0;
		e->paste_cr = cr;
		if (cr)
			c = '\n';
		if (c == '\n' || c == '\t' || c >= 0x20)
			insert(e, (const char *)&c, 1);
		return LE_NONE;
	}
	switch (c) {
	case 1: e->pos = 0; return LE_REDRAW;                          /* Ctrl-A */
	case 2: e->pos = prev_char(e, e->pos); return LE_REDRAW;       /* Ctrl-B */
	case 3: le_reset(e); return LE_CANCEL;                          /* Ctrl-C */
	case 4:                                                         /* Ctrl-D */
		if (e->len == 0)
			return LE_EOF;
		if (e->pos < e->len)
			erase(e, e->pos, next_char(e, e->pos));
		return LE_REDRAW;
	case 5: e->pos = e->len; return LE_REDRAW;                      /* Ctrl-E */
	case 6: e->pos = next_char(e, e->pos); return LE_REDRAW;       /* Ctrl-F */
	case 8: case 127:                                               /* Backspace */
		if (e->pos > 0)
			erase(e, prev_char(e, e->pos), e->pos);
		return LE_REDRAW;
	case '\t': insert(e, " ", 1); return LE_REDRAW;
	case '\r': case '\n': return LE_ACCEPT;
	case 11: e->len = e->pos; return LE_REDRAW;                     /* Ctrl-K */
	case 12: return LE_CLEAR_SCREEN;                                /* Ctrl-L */
	case 14: return walk_history(e, +1);                            /* Ctrl-N */
	case 16: return walk_history(e, -1);                            /* Ctrl-P */
	case 21: erase(e, 0, e->pos); return LE_REDRAW;                 /* Ctrl-U */
	case 23: erase(e, word_left(e, e->pos), e->pos); return LE_REDRAW;  /* Ctrl-W */
	default:
		if (c < 0x20)
			return LE_NONE;
		insert(e, (const char *)&c, 1);
		/* redraw once a character is whole */
		if (c >= 0xc0)
			e->utf8_due = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
		else if (c >= 0x80 && e->utf8_due > 0)
			e->utf8_due--;
		return e->utf8_due ? LE_NONE : LE_REDRAW;
	}
}

/* ---- the history file ---- */

void le_history_load(struct line_edit *e, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return;
	while ((n = getline(&line, &cap, f)) > 0) {
		size_t o = 0;
		for (ssize_t i = 0; i < n && line[i] != '\n'; i++) {
			if (line[i] == '\\' && i + 1 < n && (line[i + 1] == 'n' || line[i + 1] == '\\'))
				line[o++] = line[++i] == 'n' ? '\n' : '\\';
			else
				line[o++] = line[i];
		}
		le_history_add(e, line, o);
	}
	free(line);
	fclose(f);
	e->hist_at = e->n_hist;
}

static int write_entry(FILE *f, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			fputs("\\n", f);
		else if (s[i] == '\\')
			fputs("\\\\", f);
		else
			putc(s[i], f);
	}
	return putc('\n', f) == EOF ? -1 : 0;
}

/* mkdir -p of the directory part of path */
static void make_parent(const char *path)
{
	char *d = xstrdup(path);
	for (char *p = d + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(d, 0700);
			*p = '/';
		}
	free(d);
}

int le_history_append(struct line_edit *e, const char *path)
{
	size_t lines = 0;
	FILE *f;
	int c, r;

	if (e->n_hist == 0)
		return 0;
	make_parent(path);
	if ((f = fopen(path, "r"))) {
		while ((c = getc(f)) != EOF)
			lines += c == '\n';
		fclose(f);
	}
	if (lines + 1 >= 2 * LE_MAX_HISTORY) {  /* rewrite with what is kept */
		char *tmp = xmalloc(strlen(path) + 8);
		sprintf(tmp, "%s.new", path);
		if (!(f = fopen(tmp, "w"))) {
			free(tmp);
			return -1;
		}
		r = 0;
		for (size_t i = 0; i < e->n_hist && r == 0; i++)
			r = write_entry(f, e->hist[i], strlen(e->hist[i]));
		if (fclose(f) != 0 || r != 0 || rename(tmp, path) != 0) {
			remove(tmp);
			free(tmp);
			return -1;
		}
		free(tmp);
		return 0;
	}
	if (!(f = fopen(path, "a")))
		return -1;
	r = write_entry(f, e->hist[e->n_hist - 1], strlen(e->hist[e->n_hist - 1]));
	return fclose(f) != 0 || r != 0 ? -1 : 0;
}

/* ---- the terminal ---- */

static struct termios saved_tio;
static int saved_fd = -1, saved_out = -1;

static void restore_terminal(void)
{
	if (saved_fd < 0)
		return;
	if (saved_out >= 0)
		(void)!write(saved_out, "\033[?2004l", 8);
	tcsetattr(saved_fd, TCSADRAIN, &saved_tio);  /* keeping what was typed ahead */
	saved_fd = -1;
}

static void on_signal(int sig)
{
	restore_terminal();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int raw_mode(int fd, int out)
{
	struct termios t;
	if (tcgetattr(fd, &saved_tio) != 0)
		return -1;
	t = saved_tio;
	t.c_iflag &= ~(tcflag_t)(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
	t.c_lflag &= ~(tcflag_t)(ECHO | ICANON | IEXTEN | ISIG);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSADRAIN, &t) != 0)
		return -1;
	saved_fd = fd;
	saved_out = out;
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	(void)!write(out, "\033[?2004h", 8);
	return 0;
}

struct screen {
	char *s;  /* what is written, grown as needed */
	size_t n, cap;
	int cols;
	int cursor_row;  /* rows from the prompt's row to the cursor, last drawn */
};

static void put(struct screen *sc, const char *s, size_t n)
{
	if (sc->n + n > sc->cap) {
		sc->cap = (sc->n + n) * 2 + 64;
		sc->s = xrealloc(sc->s, sc->cap);
	}
	memcpy(sc->s + sc->n, s, n);
	sc->n += n;
}

static void putf(struct screen *sc, const char *fmt, int v)
{
	char b[32];
	int n = snprintf(b, sizeof b, fmt, v);
	put(sc, b, (size_t)n);
}

/* Columns taken by the line's bytes [0, upto), each character drawn as
 * draw_char() draws it. */
static size_t cells(const char *s, size_t upto)
{
	size_t w = 0;
	mbstate_t st;
	memset(&st, 0, sizeof st);
	for (size_t i = 0; i < upto;) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, s + i, upto - i, &st);
		if (k == 0 || k > upto - i) {  /* NUL, invalid or cut short: one cell a byte */
			memset(&st, 0, sizeof st);
			w++;
			i++;
			continue;
		}
		int cw = wc == L'\n' ? 1 : wcwidth(wc);
		w += cw < 0 ? 1 : (size_t)cw;
		i += k;
	}
	return w;
}

static void draw(struct screen *sc, const struct line_edit *e, const char *prompt, int out)
{
	size_t pw = cells(prompt, strlen(prompt));
	size_t total = pw + cells(e->buf, e->len), at = pw + cells(e->buf, e->pos);
	int cols = sc->cols > 0 ? sc->cols : 80;

	sc->n = 0;
	if (sc->cursor_row > 0)
		putf(sc, "\033[%dA", sc->cursor_row);
	put(sc, "\r\033[J", 4);
	put(sc, prompt, strlen(prompt));
	for (size_t i = 0; i < e->len; i++) {
		if (e->buf[i] == '\n')
			put(sc, "\xe2\x86\xb5", 3);  /* U+21B5: a newline in the line */
		else
			put(sc, e->buf + i, 1);
	}
	int end_row = (int)(total / (size_t)cols);
	if (total > 0 && total % (size_t)cols == 0)
		put(sc, "\r\n", 2);  /* the terminal waits to wrap: make it wrap */
	int row = (int)(at / (size_t)cols), col = (int)(at % (size_t)cols);
	if (end_row > row)
		putf(sc, "\033[%dA", end_row - row);
	put(sc, "\r", 1);
	if (col > 0)
		putf(sc, "\033[%dC", col);
	sc->cursor_row = row;
	(void)!write(out, sc->s, sc->n);
}

static int term_cols(int fd)
{
	struct winsize ws;
	return ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

/* Move to the end of the line and below it. */
static void finish(struct screen *sc, struct line_edit *e, const char *prompt, int out, const char *tail)
{
	size_t pos = e->pos;
	e->pos = e->len;
	draw(sc, e, prompt, out);
	e->pos = pos;
	(void)!write(out, tail, strlen(tail));
	sc->cursor_row = 0;
}

int le_read_line(struct line_edit *e, int in, int out, const char *prompt)
{
	struct screen sc = {0};
	int r = -1;

	le_reset(e);
	if (raw_mode(in, out) != 0)
		return -1;
	sc.cols = term_cols(out);
	draw(&sc, e, prompt, out);
	while (r < 0) {
		unsigned char c;
		ssize_t n = read(in, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {  /* the terminal went away */
			finish(&sc, e, prompt, out, "\r\n");
			r = e->len > 0;
			break;
		}
		sc.cols = term_cols(out);
		switch (le_feed(e, c)) {
		case LE_NONE: break;
		case LE_REDRAW: draw(&sc, e, prompt, out); break;
		case LE_ACCEPT: finish(&sc, e, prompt, out, "\r\n"); r = 1; break;
		case LE_EOF: finish(&sc, e, prompt, out, "\r\n"); r = 0; break;
		case LE_CANCEL:
			finish(&sc, e, prompt, out, "^C\r\n");
			draw(&sc, e, prompt, out);
			break;
		case LE_CLEAR_SCREEN:
			(void)!write(out, "\033[H\033[2J", 7);
			sc.cursor_row = 0;
			draw(&sc, e, prompt, out);
			break;
		}
	}
	restore_terminal();
	free(sc.s);
	return r;
}
