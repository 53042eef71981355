/* lineedit.h - a small line editor for lm-readline(1) (and lm-chat(1)).
 *
 * Two layers.  The core is pure: struct line_edit holds the line (UTF-8
 * bytes, the cursor at a character boundary) and the history, and
 * le_feed() takes the terminal's input one byte at a time (escape
 * sequences, control keys, a bracketed paste) and says what the terminal
 * must do (redraw, accept, ...); the tests drive it with byte strings.
 * The terminal layer (le_read_line) puts the terminal in raw mode, turns on
 * bracketed paste, draws the prompt and the line (wrapped to the width of
 * the terminal, a newline in the line shown as U+21B5), and restores the
 * terminal on every way out.
 *
 * Keys: printable text inserts; Enter accepts (inside a paste it inserts a
 * newline, so a paste of several lines is one line); Left/Right, Ctrl-B/F
 * move by a character, Ctrl-Left/Right and Alt-B/F by a word, Home/End,
 * Ctrl-A/E to the ends; Backspace, Delete, Ctrl-D (end of input on an
 * empty line), Ctrl-K/U to the end/start, Ctrl-W a word back; Up/Down,
 * Ctrl-P/N walk the history; Ctrl-L clears the screen; Ctrl-C drops the
 * line and starts again.  Unknown escape sequences are ignored whole, so
 * arrows and function keys never end up in the line. */
#ifndef LMU_LINEEDIT_H
#define LMU_LINEEDIT_H

#include <stdbool.h>
#include <stddef.h>

#define LE_MAX_LINE (1u << 20)  /* bytes of one line (a paste included) */
#define LE_MAX_HISTORY 1000     /* entries kept */

enum le_action {
	LE_NONE,          /* nothing to show */
	LE_REDRAW,        /* the line or the cursor changed */
	LE_ACCEPT,        /* Enter: the line is done */
	LE_EOF,           /* Ctrl-D on an empty line */
	LE_CANCEL,        /* Ctrl-C: the line was dropped */
	LE_CLEAR_SCREEN,  /* Ctrl-L */
};

struct line_edit {
	char *buf;           /* (cap) the line, len bytes, not NUL-terminated */
	size_t len, cap, pos;
	char **hist;         /* (n_hist) oldest first; the entry being edited is buf */
	size_t n_hist, hist_at;  /* hist_at == n_hist: the new line */
	char *draft;         /* the new line, kept while browsing the history */
	bool pasting;        /* between ESC [200~ and ESC [201~ */
	bool paste_cr;       /* the last byte pasted was CR (CR LF is one newline) */
	unsigned utf8_due;   /* continuation bytes still due for a whole character */
	unsigned char seq[16];  /* an escape sequence being read */
	size_t seq_len;
};

void le_init(struct line_edit *e);
void le_free(struct line_edit *e);
/* Add an entry to the history (not empty, not the same as the last one:
 * false then); the oldest go beyond LE_MAX_HISTORY. */
bool le_history_add(struct line_edit *e, const char *line, size_t len);
/* Clear the line (for the next one); the history stays. */
void le_reset(struct line_edit *e);
enum le_action le_feed(struct line_edit *e, unsigned char byte);

/* The history file: one entry per line, "\n" and "\\" escaped as \n and \\. */
void le_history_load(struct line_edit *e, const char *path);
/* Append the last entry of the history to path (creating it, and its
 * directory); rewrite it with the entries kept when it has twice as many.
 * Returns 0 or -1 with errno set. */
int le_history_append(struct line_edit *e, const char *path);

/* Read one line from the terminal on fd in (echo, prompt on fd out).
 * Returns 1 with the line in e->buf (e->len bytes), 0 at end of input. */
int le_read_line(struct line_edit *e, int in, int out, const char *prompt);

#endif
