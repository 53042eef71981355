/* test-tokens: the token stream (lm-tokens(5)): batches, directives and
 * sequence tags read by tok_read() and by the descriptor reader
 * (tok_reader_next) alike, errors named by line and column, lines that
 * arrive in pieces, and what the writers write. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "stream.h"

#include "tap.h"

/* What one line reads as, in a few words ("batch @3 1 2", "directive
 * end", "error ..."), through tok_read or (fd) the descriptor reader. */
static void describe(const char *text, int fd_reader, char *out, size_t len)
{
	struct tok_batch b = {0};
	struct lmu_err e = {{0}};
	enum tok_read_status st;
	int n = 0;

	if (fd_reader) {
		int p[2];
		struct tok_reader r;
		if (pipe(p) != 0 || write(p[1], text, strlen(text)) != (ssize_t)strlen(text))
			die("pipe");
		close(p[1]);
		tok_reader_init(&r, p[0]);
		st = tok_reader_next(&r, &b, 100, -1, &e);
		tok_reader_free(&r);
		close(p[0]);
	} else {
		FILE *in = fmemopen((void *)text, strlen(text), "r");
		st = tok_read(in, &b, 100, &e);
		fclose(in);
	}
	if (st == TOK_ERROR) {
		snprintf(out, len, "error %s", e.msg);
	} else if (st == TOK_EOF) {
		snprintf(out, len, "eof");
	} else {
		n = snprintf(out, len, "%s", st == TOK_DIRECTIVE ? "directive" : "batch");
		if (b.tagged)
			n += snprintf(out + n, len - (size_t)n, " @%u", b.seq);
		if (st == TOK_DIRECTIVE)
			snprintf(out + n, len - (size_t)n, " %s", b.directive);
		else
			for (size_t i = 0; i < b.n; i++)
				n += snprintf(out + n, len - (size_t)n, " %d", b.ids[i]);
	}
	tok_batch_free(&b);
}

static void check(const char *text, const char *want)
{
	char got[2][512], name[600];
	for (int fd = 0; fd < 2; fd++) {
		describe(text, fd, got[fd], sizeof got[fd]);
		snprintf(name, sizeof name, "%s: '%.*s' reads as '%s'", fd ? "tok_reader" : "tok_read",
			 (int)strcspn(text, "\n"), text, want);
		int good = strncmp(got[fd], want, strlen(want)) == 0;
		ok(good, "%s", name);
		if (!good)
			printf("# got: %s\n", got[fd]);
	}
}

/* A pipe p and a token reader r on its reading end. */
static void pipe_reader(int p[2], struct tok_reader *r)
{
	if (pipe(p) != 0)
		die("pipe");
	tok_reader_init(r, p[0]);
}

int main(int argc, char **argv)
{
	lmu_init(argc, argv);

	check("1 2 3\n", "batch 1 2 3");
	check("  7\t8 \n", "batch 7 8");
	check("\n", "batch");
	check("!reset\n", "directive reset");
	check("# a comment\n5\n", "batch 5");
	check("@3 1 2\n", "batch @3 1 2");
	check("@0 9\n", "batch @0 9");
	check("@4294967295 1\n", "batch @4294967295 1");
	check("@12\n", "batch @12");
	check("@7 !end\n", "directive @7 end");
	check("@7\t!reset\n", "directive @7 reset");
	check("", "eof");
	check("1 2", "error token stream line 1: incomplete last line (no newline)");
	check("@4294967296 1\n", "error token stream line 1: sequence id at column 2 is too large");
	check("@ 1\n", "error token stream line 1: '@' must be followed by a sequence id");
	check("@x 1\n", "error token stream line 1: '@' must be followed by a sequence id");
	check("@3x 1\n", "error token stream line 1: unexpected character 'x' (0x78) at column 3");
	check("@3 @4 1\n", "error token stream line 1: unexpected character '@' (0x40) at column 4");
	check("1 @3\n", "error token stream line 1: unexpected character '@' (0x40) at column 3");
	check("@3 1 100\n", "error token stream line 1: id 100 is out of range (vocabulary has 100 ids)");
	check("1 2147483648\n", "error token stream line 1: id at column 3 is too large");
	check("1 2x\n", "error token stream line 1: unexpected character 'x' (0x78) at column 4");
	check("1\0002\n", "error token stream line 1: incomplete last line");  /* the C string ends at the NUL */

	/* the descriptor reader: a line that comes in pieces, TOK_AGAIN while
	 * it is incomplete, comments skipped, several lines in one read */
	{
		int p[2];
		struct tok_reader r;
		struct tok_batch b = {0};
		struct lmu_err e = {{0}};
		pipe_reader(p, &r);
		ok(tok_reader_next(&r, &b, 0, 0, &e) == TOK_AGAIN, "nothing there: TOK_AGAIN without waiting");
		ok(write(p[1], "@2 4", 4) == 4, "half a line written");
		ok(tok_reader_next(&r, &b, 0, 10, &e) == TOK_AGAIN, "half a line: TOK_AGAIN after the timeout");
		ok(write(p[1], "1 5\n# c\n6\n!end\n", 15) == 15, "the rest and more written");
		ok(tok_reader_next(&r, &b, 0, 0, &e) == TOK_BATCH && b.tagged && b.seq == 2 && b.n == 2 && b.ids[0] == 41 &&
		   b.ids[1] == 5 && b.lineno == 1, "the line is whole: @2 41 5 on line 1");
		ok(tok_reader_next(&r, &b, 0, 0, &e) == TOK_BATCH && !b.tagged && b.seq == 0 && b.n == 1 && b.ids[0] == 6 &&
		   b.lineno == 3, "the comment is skipped, line 3 is untagged");
		ok(tok_reader_next(&r, &b, 0, 0, &e) == TOK_DIRECTIVE && strcmp(b.directive, "end") == 0, "then !end");
		ok(tok_reader_next(&r, &b, 0, 0, &e) == TOK_AGAIN, "then nothing");
		close(p[1]);
		ok(tok_reader_next(&r, &b, 0, -1, &e) == TOK_EOF, "end of input");
		close(p[0]);
		tok_reader_free(&r);
		tok_batch_free(&b);
	}

	/* the reader spins before it sleeps only while waits are short: a
	 * wait of 20 ms (longer than TOK_SPIN_US) turns the spin off, one that
	 * finds a line at once turns it on again; the 20 ms timeout holds
	 * either way */
	{
		int p[2];
		struct tok_reader r;
		struct tok_batch b = {0};
		struct lmu_err e = {{0}};
		pipe_reader(p, &r);
		ok(r.spin, "a new reader spins");
		ok(tok_reader_next(&r, &b, 0, 20, &e) == TOK_AGAIN && !r.spin, "after a wait of 20 ms it does not");
		ok(write(p[1], "7\n", 2) == 2 && tok_reader_next(&r, &b, 0, 20, &e) == TOK_BATCH && b.ids[0] == 7 && r.spin,
		   "after a line that was there at once it spins again");
		ok(tok_reader_next(&r, &b, 0, 20, &e) == TOK_AGAIN && !r.spin, "and a 20 ms timeout still ends the wait");
		close(p[1]);
		close(p[0]);
		tok_reader_free(&r);
		tok_batch_free(&b);
	}

	/* writers */
	{
		char *buf = NULL;
		size_t len = 0;
		int32_t ids[] = {5, 6};
		FILE *out = open_memstream(&buf, &len);
		ok(tok_write(out, ids, 2) && tok_write_seq(out, 3, ids, 2) && tok_write_seq(out, 4, ids, 0) &&
		   tok_write_seq(out, -1, ids, 1) && tok_write_directive(out, 3, "end") &&
		   tok_write_directive(out, -1, "reset"), "write batches and directives");
		fclose(out);
		ok(strcmp(buf, "5 6\n@3 5 6\n@4\n5\n@3 !end\n!reset\n") == 0, "as lm-tokens(5) says");
		free(buf);
	}
	return tap_done();
}
