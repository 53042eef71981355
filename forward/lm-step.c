/* lm-step - token batches in, logits frames out (lm-step(1)).
 *
 * Each batch (a line of ids) is appended to the context and evaluated as
 * a whole; the answer is one logits frame for its last position, or one
 * per position with --all-logits.  "!reset" empties the context.  With
 * --state the context lives on in a file between runs. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"
#include "info.h"
#include "transformer.h"
#include "model.h"
#include "modelpath.h"
#include "opt.h"
#include "pool.h"
#include "quant.h"
#include "state.h"
#include "stream.h"

#define DEFAULT_TEXT_K 10

struct options {
	char *model;         /* resolved GGUF path (owned) */
	const char *state;
	int threads;         /* 0: every online CPU */
	uint32_t n_ctx;      /* 0: the model's */
	uint32_t text_k;     /* 0: binary frames */
	bool all_logits;
	bool quant_act;
	bool info, verbose;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s -m MODEL [-t N] [-c N] [--state FILE] [--text[=K]] [--all-logits] [--quant-act] [-v]\n"
		   "       %s -m MODEL --info [-v]\n"
		   "       %s -h | -V\n"
		   "Token batches (lines of ids) on stdin, one logits frame per batch on stdout.\n"
		   "  -m MODEL        model file (default $LM_MODEL)\n"
		   "  -t N            threads (default: every online CPU)\n"
		   "  -c N            context size in positions (default: the model's)\n"
		   "  --state FILE    load the context from FILE if it exists, save it there at the end\n"
		   "  --text[=K]      text frames with the K best scores (default %d) instead of binary\n"
		   "  --all-logits    a frame for every position, not only each batch's last\n"
		   "  --quant-act     quantize activations for integer dot products (faster, less exact)\n"
		   "  --info          describe the model and exit (-v: every metadata key)\n"
		   "  -v              with --info, every metadata key; else statistics on stderr at the end\n",
		   progname, progname, progname, DEFAULT_TEXT_K);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"threads", required_argument, NULL, 't'},
		{"ctx-size", required_argument, NULL, 'c'},
		{"state", required_argument, NULL, 'S'},
		{"text", optional_argument, NULL, 'T'},
		{"all-logits", no_argument, NULL, 'A'},
		{"quant-act", no_argument, NULL, 'Q'},
		{"info", no_argument, NULL, 'I'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *model = NULL;
	int c;

	memset(o, 0, sizeof *o);
	while ((c = getopt_long(argc, argv, "m:t:c:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 't': o->threads = (int)opt_int(optarg, 1, 1024, "threads (-t)"); break;
		case 'c': o->n_ctx = (uint32_t)opt_int(optarg, 1, 1 << 24, "context size (-c)"); break;
		case 'S': o->state = optarg; break;
		case 'T':
			o->text_k = optarg ? (uint32_t)opt_int(optarg, 1, LOGITS_MAX_VOCAB, "--text K") : DEFAULT_TEXT_K;
			break;
		case 'A': o->all_logits = true; break;
		case 'Q': o->quant_act = true; break;
		case 'I': o->info = true; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	o->model = model_resolve(opt_model(model));
}

static int info(const struct options *o)
{
	struct lmu_err e = {{0}};
	struct hparams hp;
	struct gguf *g = gguf_open_or_die(o->model);

	if (!hparams_load(g, &hp, &e)) {
		print_model_info(stdout, g, NULL, o->verbose);
		out_close();
		die("%s", e.msg);
	}
	print_model_info(stdout, g, &hp, o->verbose);
	gguf_close(g);
	free(o->model);
	out_close();
	return 0;
}

struct emitter {
	uint32_t n_vocab;
	uint32_t text_k;
};

static int emit(void *arg, int32_t token, uint64_t pos, const float *logits)
{
	const struct emitter *em = arg;
	if (em->text_k)
		return logits_write_text(stdout, em->n_vocab, token, pos, logits, em->text_k);
	return logits_write(stdout, em->n_vocab, token, pos, logits);
}

int main(int argc, char **argv)
{
	struct options o;
	struct lmu_err e = {{0}};
	struct tok_batch batch = {0};
	struct transformer *t;
	struct context *c;
	struct emitter em;
	enum tok_read_status r;
	int open = 1;

	lmu_init(argc, argv);
	parse_options(argc, argv, &o);
	if (o.info)
		return info(&o);

	t = transformer_open(o.model);
	if (o.n_ctx > t->hp.n_ctx_train && t->hp.n_ctx_train)
		warnx_("-c %u is above the %u positions the model was trained on: expect worse text past %u",
		       o.n_ctx, t->hp.n_ctx_train, t->hp.n_ctx_train);
	c = context_new(t, o.n_ctx, o.threads ? o.threads : cpu_count(), o.all_logits);
	c->quant_act = o.quant_act;
	if (o.state)
		state_load(c, o.state);
	em.n_vocab = t->hp.n_vocab;
	em.text_k = o.text_k;

	while (open && (r = tok_read(stdin, &batch, t->hp.n_vocab, &e)) != TOK_EOF) {
		if (r == TOK_ERROR)
			die("%s", e.msg);
		if (r == TOK_DIRECTIVE) {
			if (strcmp(batch.directive, "reset") != 0)
				die("token stream line %lu: unknown directive '!%s' (known: !reset)", batch.lineno,
				    batch.directive);
			context_reset(c);
			continue;
		}
		if (batch.n == 0)
			continue;  /* an empty batch: no frame */
		if (batch.n > c->n_ctx - c->n_pos)
			die("token stream line %lu: a batch of %zu ids does not fit in the context "
			    "(%u of %u positions used): use a larger -c or '!reset'",
			    batch.lineno, batch.n, c->n_pos, c->n_ctx);
		open = context_eval(c, batch.ids, (uint32_t)batch.n, emit, &em);
	}
	/* also after downstream closed the pipe: what was evaluated is kept */
	if (o.state)
		state_save(c, o.state);
	if (o.verbose)
		fprintf(stderr, "%s: %llu positions evaluated, context %u of %u, %d threads, kernels %s, %s\n", progname,
			(unsigned long long)c->n_evaluated, c->n_pos, c->n_ctx, pool_size(c->pool),
			quant_kernel_name(), c->quant_act ? "8-bit activations (--quant-act)" : "exact activations");
	tok_batch_free(&batch);
	context_free(c);
	transformer_close(t);
	free(o.model);
	out_close();
	return 0;
}
