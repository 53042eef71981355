/* lm-readline - read one line from the terminal, with editing and
 * history, and print it (lm-readline(1)): the line editor of lm-chat. */
#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "lineedit.h"
#include "opt.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-p PROMPT] [--history FILE]\n"
		   "       %s -h | -V\n"
		   "Read one line from the terminal, with line editing, and print it.\n"
		   "  -p, --prompt PROMPT   shown before the line (default \"> \")\n"
		   "  --history FILE        earlier lines for Up/Down; the line is added to it\n"
		   "Not on a terminal: the next line of stdin, as it is.\n"
		   "Exit status: 0 a line, 1 end of input, 2 usage.\n",
		progname, progname);
}

int main(int argc, char **argv)
{
	enum { HISTORY = 256 };
	static const struct option longopts[] = {
		{"prompt", required_argument, NULL, 'p'},
		{"history", required_argument, NULL, HISTORY},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *prompt = "> ", *history = NULL;
	struct line_edit e;
	int c, r;

	lmu_init(argc, argv);
	while ((c = getopt_long(argc, argv, "p:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': prompt = optarg; break;
		case HISTORY: history = optarg; break;
		case 'h': usage(stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	le_init(&e);
	if (!isatty(0) || !isatty(2)) {  /* a script: the line as it comes */
		char *line = NULL;
		size_t cap = 0;
		ssize_t n = getline(&line, &cap, stdin);
		if (n > 0)
			fwrite(line, 1, (size_t)n, stdout);
		free(line);
		out_close();
		return n > 0 ? 0 : 1;
	}
	setlocale(LC_CTYPE, "");
	if (MB_CUR_MAX == 1)
		setlocale(LC_CTYPE, "C.UTF-8");
	if (history)
		le_history_load(&e, history);
	r = le_read_line(&e, 0, 2, prompt);
	if (r < 0)
		die("cannot set up the terminal");
	if (r > 0) {
		fwrite(e.buf, 1, e.len, stdout);
		putchar('\n');
		if (history && le_history_add(&e, e.buf, e.len)) {
			if (le_history_append(&e, history) != 0)
				warnx_("%s: cannot add the line to the history", history);
		}
	}
	le_free(&e);
	out_close();
	return r > 0 ? 0 : 1;
}
