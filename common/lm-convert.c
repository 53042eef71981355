/* lm-convert - a model directory (or any model -m takes) in, a GGUF file
 * out, optionally quantized (lm-convert(1)).
 *
 * The model is opened as lm-step opens it (model_open: a directory becomes
 * the GGUF llama.cpp's converter would make of it), its float matrices are
 * quantized with -q (gguf_quantize), the tokenizer of a directory is added
 * as GGUF keys, and the whole is written to OUT through a temporary file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "gguf.h"
#include "hfmodel.h"
#include "modelpath.h"
#include "opt.h"
#include "vocab.h"
#include "../forward/pool.h"
#include "../forward/requant.h"

static const char usage_text[] =
	"usage: lm-convert [-q TYPE] [-t N] [-v] MODEL OUT.gguf\n"
	"  MODEL               a model directory (config.json, safetensors, tokenizer.json),\n"
	"                      or anything else -m takes (lm-model(7))\n"
	"  -q, --quantize TYPE quantize the F32/F16/BF16 matrices: Q8_0 Q4_0 Q4_1 Q4_K\n"
	"  -t, --threads N     threads for -q (default: every online CPU)\n"
	"  -v, --verbose       say what was written\n"
	"  -h, --help          this help;  -V, --version  the version\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"quantize", required_argument, NULL, 'q'},
		{"threads", required_argument, NULL, 't'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	enum ggml_type quant = GGML_F32;
	int threads = 0, c;
	bool verbose = false;
	struct lmu_err e = {{0}};
	struct vocab v;

	lmu_init(argc, argv);
	while ((c = getopt_long(argc, argv, "q:t:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'q':
			if ((quant = quant_type_named(optarg)) == GGML_NTYPES)
				die_usage("-q: unknown type '%s' (known: Q8_0, Q4_0, Q4_1, Q4_K)", optarg);
			break;
		case 't': threads = (int)opt_int(optarg, 1, 1024, "threads (-t)"); break;
		case 'v': verbose = true; break;
		case 'h': fputs(usage_text, stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (argc - optind != 2)
		die_usage("give a model and an output file");
	const char *model = argv[optind], *out = argv[optind + 1];

	struct gguf *g = model_open(model);
	/* a directory's tokenizer.json becomes keys; without one, the file has
	 * no tokenizer (lm-step runs it, llama.cpp does not load it) */
	bool tokenizer = gguf_find(g, "tokenizer.ggml.model") != NULL, vocab = false;
	if (!tokenizer) {
		struct model_loc loc;
		struct stat st;
		char *tj;
		model_locate(model, &loc);
		const char *where = loc.dir ? loc.dir : loc.gguf;
		tj = xmalloc(strlen(where) + 16);
		sprintf(tj, "%s/tokenizer.json", where);
		if (loc.dir && stat(tj, &st) == 0) {
			if (!vocab_load_dir(&v, loc.dir, &e))
				die("%s", e.msg);
			vocab = true;
		} else {
			warnx_("%s: no tokenizer: %s gets none (lm-step runs it; llama.cpp does not load it)", where, out);
		}
		free(tj);
		model_loc_free(&loc);
	}
	if (quant != GGML_F32)
		g = gguf_quantize(g, quant, threads ? threads : cpu_count());
	if (!model_write_gguf(g, vocab ? &v : NULL, out, &e))
		die("%s", e.msg);
	if (verbose) {
		uint64_t bytes = 0;
		for (uint64_t i = 0; i < g->n_tensors; i++)
			bytes += g->tensors[i].nbytes;
		fprintf(stderr, "%s: %s: %llu tensors, %.1f MB of weights%s%s\n", progname, out,
			(unsigned long long)g->n_tensors, bytes / 1e6, vocab ? ", the directory's tokenizer" : "",
			quant != GGML_F32 ? ", quantized" : "");
	}
	if (vocab)
		vocab_free(&v);
	gguf_close(g);
	out_close();
	return 0;
}
