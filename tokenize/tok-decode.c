/* tok-decode - token batches in, UTF-8 text out, flushed per batch.
 * man tok-decode(1); the token stream is lm-tokens(5). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "detok.h"
#include "err.h"
#include "gguf.h"
#include "opt.h"
#include "stream.h"
#include "vocab.h"

static const char usage_text[] =
	"usage: tok-decode -m MODEL [--special]\n"
	"  -m, --model MODEL   GGUF file or model directory (default $LM_MODEL)\n"
	"      --special       print special tokens (<|im_end|> ...) instead of skipping them\n"
	"  -h, --help          this help;  -V, --version  the version\n"
	"Reads token batches (lm-tokens(5)) on stdin, writes the text.\n";

/* Write what is final; 0 if downstream closed. */
static int write_text(struct detok *d, bool at_end)
{
	size_t len;
	const char *s = detok_take(d, at_end, &len);

	if (fwrite(s, 1, len, stdout) != len) {
		if (errno == EPIPE)
			return 0;
		die("write error on standard output: %s", strerror(errno));
	}
	return out_flush();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'}, {"special", no_argument, 0, 's'},
		{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
	};
	const char *model = NULL;
	bool special = false;
	struct vocab v;
	struct gguf *g;
	struct tok_batch b = {0};
	struct detok d;
	struct lmu_err e = {{0}};
	int c, st;

	lmu_init(argc, argv);
	while ((c = getopt_long(argc, argv, "m:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 's': special = true; break;
		case 'h':
			fputs(usage_text, stdout);
			out_close();
			return 0;
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	model = opt_model(model);
	vocab_open_or_die(&v, model, &g);

	detok_init(&d, &v, special);
	while ((st = tok_read(stdin, &b, v.n, &e)) != TOK_EOF) {
		if (st == TOK_ERROR)
			die("%s", e.msg);
		if (st == TOK_DIRECTIVE) {
			/* "!reset" starts a new sequence: a new dummy prefix */
			if (strcmp(b.directive, "reset") == 0)
				detok_reset(&d);
			continue;
		}
		for (size_t i = 0; i < b.n; i++)
			detok_push(&d, b.ids[i]);
		if (!write_text(&d, false))
			goto done;
	}
	write_text(&d, true);
done:
	detok_free(&d);
	tok_batch_free(&b);
	vocab_free(&v);
	if (g)
		gguf_close(g);
	out_close();
	return 0;
}
