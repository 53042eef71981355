/* test-lineedit: the line editor's core (common/lineedit.c) driven by the
 * bytes a terminal sends: keys, escape sequences, a bracketed paste, the
 * history and its file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lineedit.h"
#include "tap.h"

/* Feed s; return the last action that was not LE_NONE. */
static enum le_action feed(struct line_edit *e, const char *s)
{
	enum le_action last = LE_NONE, a;
	for (; *s; s++)
		if ((a = le_feed(e, (unsigned char)*s)) != LE_NONE)
			last = a;
	return last;
}

static int line_is(const struct line_edit *e, const char *want)
{
	return e->len == strlen(want) && (e->len == 0 || memcmp(e->buf, want, e->len) == 0);
}

static void check(const char *keys, const char *want, enum le_action want_action, const char *name)
{
	struct line_edit e;
	le_init(&e);
	enum le_action a = feed(&e, keys);
	ok(line_is(&e, want) && a == want_action, "%s: '%.*s' (action %d)", name, (int)e.len, e.buf ? e.buf : "", a);
	le_free(&e);
}

int main(void)
{
	check("hello\r", "hello", LE_ACCEPT, "typing, Enter accepts");
	check("helo\033[D\033[Dl", "hello", LE_REDRAW, "Left twice, insert");
	check("abc\033OD\033OD\033OCX", "abXc", LE_REDRAW, "SS3 arrows (application mode)");
	check("world\033[Hhello \033[F!", "hello world!", LE_REDRAW, "Home, End");
	check("world\001hello \005!", "hello world!", LE_REDRAW, "Ctrl-A, Ctrl-E");
	check("caf\xc3\xa9\x7f" "e", "cafe", LE_REDRAW, "Backspace removes a whole UTF-8 character");
	check("\xc3\xa9t\xc3\xa9\033[D\033[D\033[DX", "X\xc3\xa9t\xc3\xa9", LE_REDRAW, "Left steps over UTF-8 characters");
	check("abc\033[D\033[D\033[3~", "ac", LE_REDRAW, "Delete");
	check("abc\002\002\004", "ac", LE_REDRAW, "Ctrl-D deletes in a line");
	check("\004", "", LE_EOF, "Ctrl-D on an empty line is the end of input");
	check("one two\002\002\002\013", "one ", LE_REDRAW, "Ctrl-K kills to the end");
	check("one two\002\002\002\025", "two", LE_REDRAW, "Ctrl-U kills to the start");
	check("one two three\027", "one two ", LE_REDRAW, "Ctrl-W kills a word back");
	check("one two\033[1;5DX", "one Xtwo", LE_REDRAW, "Ctrl-Left moves a word");
	check("one two\033bX", "one Xtwo", LE_REDRAW, "Alt-B moves a word");
	check("abc\003", "", LE_CANCEL, "Ctrl-C drops the line");
	check("abc\014", "abc", LE_CLEAR_SCREEN, "Ctrl-L clears the screen, the line stays");
	check("a\033[15~b\033[1;2Pc\033[Zd", "abcd", LE_REDRAW, "function keys and unknown sequences are ignored whole");
	check("\033[200~line one\rline two\r\nline three\033[201~", "line one\nline two\nline three", LE_REDRAW,
	      "a bracketed paste of three lines (CR, CR LF) is one line");
	check("\033[200~a\033[Ab\033[201~\r", "ab", LE_ACCEPT, "keys inside a paste are not keys; Enter after it accepts");
	check("\033[200~x\ty\033[201~", "x\ty", LE_REDRAW, "a pasted tab stays");

	struct line_edit e;
	le_init(&e);
	le_history_add(&e, "first", 5);
	le_history_add(&e, "second", 6);
	ok(!le_history_add(&e, "second", 6) && e.n_hist == 2, "a repeated entry is not added again");
	feed(&e, "draft");
	feed(&e, "\033[A");
	ok(line_is(&e, "second"), "Up: the last entry");
	feed(&e, "\020");
	ok(line_is(&e, "first"), "Ctrl-P: the one before");
	ok(feed(&e, "\033[A") == LE_NONE && line_is(&e, "first"), "Up at the oldest: nothing");
	feed(&e, "\033[B\016");
	ok(line_is(&e, "draft"), "Down twice: the draft is back");
	le_free(&e);

	/* Up first thing, on an editor that has no line yet (lm-chat
	 * --continue: its history is loaded, nothing typed; UBSan caught a
	 * copy from the buffer it had not made yet) */
	le_init(&e);
	le_history_add(&e, "only", 4);
	feed(&e, "\033[A");
	ok(line_is(&e, "only"), "Up before anything is typed: the last entry");
	feed(&e, "\033[B");
	ok(line_is(&e, ""), "... and Down: the empty line again");

	char path[] = "/tmp/test-lineedit.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	unlink(path);
	char file[64];
	snprintf(file, sizeof file, "%s/dir/history", path);
	le_reset(&e);
	le_history_add(&e, "two\nlines \\n", 12);
	ok(le_history_append(&e, file) == 0, "the history file is made, with its directory");
	le_history_add(&e, "plain", 5);
	ok(le_history_append(&e, file) == 0, "... and appended to");
	struct line_edit f;
	le_init(&f);
	le_history_load(&f, file);
	ok(f.n_hist == 2 && strcmp(f.hist[0], "two\nlines \\n") == 0 && strcmp(f.hist[1], "plain") == 0,
	   "a newline and a backslash survive the file");
	for (int i = 0; i < 2 * LE_MAX_HISTORY; i++) {
		char b[32];
		snprintf(b, sizeof b, "entry %d", i);
		if (le_history_add(&f, b, strlen(b)))
			le_history_append(&f, file);
	}
	le_free(&f);
	le_init(&f);
	le_history_load(&f, file);
	ok(f.n_hist == LE_MAX_HISTORY && strcmp(f.hist[LE_MAX_HISTORY - 1], "entry 1999") == 0,
	   "the file is kept to the last %d entries (%zu)", LE_MAX_HISTORY, f.n_hist);
	FILE *h = fopen(file, "r");
	int lines = 0, c;
	while (h && (c = getc(h)) != EOF)
		lines += c == '\n';
	if (h)
		fclose(h);
	ok(lines < 2 * LE_MAX_HISTORY, "... and does not grow past twice that (%d lines)", lines);
	remove(file);
	snprintf(file, sizeof file, "%s/dir", path);
	rmdir(file);
	rmdir(path);
	le_free(&f);
	le_free(&e);
	return tap_done();
}
