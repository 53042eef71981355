/* tok-decode - token batches in, UTF-8 text out, flushed per batch.
 * man tok-decode(1); the token stream is lm-tokens(5). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"
#include "opt.h"
#include "stream.h"
#include "unicode.h"
#include "vocab.h"

static const char usage_text[] =
	"usage: tok-decode -m MODEL [--special]\n"
	"  -m, --model MODEL   GGUF file or model directory (default $LM_MODEL)\n"
	"      --special       print special tokens (<|im_end|> ...) instead of skipping them\n"
	"  -h, --help          this help;  -V, --version  the version\n"
	"Reads token batches (lm-tokens(5)) on stdin, writes the text.\n";

/* Bytes decoded but not yet written: an incomplete UTF-8 character at the
 * end of a batch waits for the next one. */
struct pending {
	char *b;
	size_t n, cap;
};

static void append(struct pending *p, const char *s, size_t n)
{
	if (p->n + n > p->cap) {
		p->cap = 2 * (p->n + n) + 64;
		p->b = xrealloc(p->b, p->cap);
	}
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

/* Write what forms whole characters (all of it at the end); ill-formed
 * bytes become U+FFFD as in Hugging Face's decode.  0 if downstream closed. */
static int flush_text(struct pending *p, bool at_end)
{
	size_t n = at_end ? p->n : utf8_complete_prefix((const unsigned char *)p->b, p->n);
	size_t len;
	char *s = utf8_repair(p->b, n, &len, NULL);
	size_t ok = fwrite(s, 1, len, stdout);
	free(s);
	if (n)  /* p->b is NULL before the first byte */
		memmove(p->b, p->b + n, p->n - n);
	p->n -= n;
	if (ok != len) {
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
	struct pending p = {0};
	struct lmu_err e = {{0}};
	bool at_start = true;  /* SPM with a dummy prefix: drop the first space */
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

	while ((st = tok_read(stdin, &b, v.n, &e)) != TOK_EOF) {
		if (st == TOK_ERROR)
			die("%s", e.msg);
		if (st == TOK_DIRECTIVE) {
			/* "!reset" starts a new sequence: a new dummy prefix */
			if (strcmp(b.directive, "reset") == 0)
				at_start = true;
			continue;
		}
		for (size_t i = 0; i < b.n; i++) {
			size_t n;
			const char *s;
			if (!special && vocab_is_special(&v, b.ids[i]))
				continue;
			s = vocab_piece(&v, b.ids[i], &n);
			if (at_start && v.kind == VOCAB_SPM && v.add_space_prefix && n && s[0] == ' ')
				s++, n--;
			at_start = false;
			append(&p, s, n);
		}
		if (!flush_text(&p, false))
			goto done;
	}
	flush_text(&p, true);
done:
	free(p.b);
	tok_batch_free(&b);
	vocab_free(&v);
	if (g)
		gguf_close(g);
	out_close();
	return 0;
}
