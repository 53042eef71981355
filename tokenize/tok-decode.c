/* tok-decode - token batches in, UTF-8 text out, flushed per batch.
 * man tok-decode(1); the token stream is lm-tokens(5).
 *
 * Untagged batches (one sequence) are text streamed as it comes.  Batches
 * tagged "@S" (several sequences through one lm-step) are decoded per
 * sequence and each sequence's text is written as one JSON line when it
 * ends ("@S !end", or the end of input); --seq S streams one sequence's
 * text instead. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "detok.h"
#include "err.h"
#include "gguf.h"
#include "opt.h"
#include "stream.h"
#include "vocab.h"

static const char usage_text[] =
	"usage: tok-decode -m MODEL [--special] [--seq S]\n"
	"  -m, --model MODEL   GGUF file or model directory (default $LM_MODEL)\n"
	"      --special       print special tokens (<|im_end|> ...) instead of skipping them\n"
	"      --seq S         stream only sequence S of a tagged stream\n"
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

/* A tagged sequence being decoded. */
struct seq_text {
	bool used;
	uint32_t id;
	struct detok d;
};

/* The decoder of tagged sequence id, started at its first line. */
static struct seq_text *seq_text(struct seq_text **v, size_t *n, uint32_t id, const struct vocab *vocab,
				 bool special)
{
	size_t at = *n;
	for (size_t i = 0; i < *n; i++) {
		if ((*v)[i].used && (*v)[i].id == id)
			return &(*v)[i];
		if (!(*v)[i].used && at == *n)
			at = i;
	}
	if (at == *n)
		*v = xreallocarray(*v, ++*n, sizeof **v);
	(*v)[at].used = true;
	(*v)[at].id = id;
	detok_init(&(*v)[at].d, vocab, special);
	return &(*v)[at];
}

/* Write a tagged sequence's text as the JSON line {"seq": S, "text": "..."}
 * and forget the sequence.  0 if downstream closed. */
static int write_json(struct seq_text *q)
{
	size_t len;
	const char *text = detok_take(&q->d, true, &len);
	jv o = jv_object_set(jv_object(), jv_string("seq"), jv_number(q->id));
	o = jv_object_set(o, jv_string("text"), jv_string_sized(text, (int)len));
	jv d = jv_dump_string(o, 0);
	int ok = printf("%s\n", jv_string_value(d)) >= 0;
	jv_free(d);
	detok_free(&q->d);
	q->used = false;
	if (!ok) {
		if (errno == EPIPE)
			return 0;
		die("write error on standard output: %s", strerror(errno));
	}
	return out_flush();
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'}, {"special", no_argument, 0, 's'}, {"seq", required_argument, 0, 'S'},
		{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
	};
	const char *model = NULL;
	bool special = false;
	struct vocab v;
	struct gguf *g;
	struct tok_batch b = {0};
	struct detok d;
	struct lmu_err e = {{0}};
	long long only = -1;           /* --seq */
	struct seq_text *seqs = NULL;  /* tagged sequences being decoded */
	size_t n_seqs = 0;
	int c, st;

	lmu_init(argc, argv);
	while ((c = getopt_long(argc, argv, "m:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 's': special = true; break;
		case 'S': only = opt_int(optarg, 0, TOK_MAX_SEQ, "--seq"); break;
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
		/* the stream's decoder, or a tagged sequence's (--seq: only its lines) */
		struct detok *dd = &d;
		if (only >= 0 ? b.seq != only : b.tagged) {
			if (only >= 0)
				continue;
			struct seq_text *q = seq_text(&seqs, &n_seqs, b.seq, &v, special);
			if (st == TOK_DIRECTIVE && strcmp(b.directive, "end") == 0) {
				if (!write_json(q))
					goto done;
				continue;
			}
			dd = &q->d;
		}
		if (st == TOK_DIRECTIVE) {
			/* "!reset" starts a new sequence: a new dummy prefix */
			if (strcmp(b.directive, "reset") == 0)
				detok_reset(dd);
			continue;
		}
		for (size_t i = 0; i < b.n; i++)
			detok_push(dd, b.ids[i]);
		if (dd == &d && !write_text(&d, false))
			goto done;
	}
	write_text(&d, true);
	for (size_t i = 0; i < n_seqs; i++)
		if (seqs[i].used && !write_json(&seqs[i]))
			goto done;
done:
	for (size_t i = 0; i < n_seqs; i++)
		if (seqs[i].used)
			detok_free(&seqs[i].d);
	free(seqs);
	detok_free(&d);
	tok_batch_free(&b);
	vocab_free(&v);
	if (g)
		gguf_close(g);
	out_close();
	return 0;
}
