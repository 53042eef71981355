/* lm-step - token batches in, logits frames out (lm-step(1)).
 *
 * This first version implements --info: a description of the model, the
 * first stage anyone can debug in isolation. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "gguf.h"
#include "info.h"
#include "model.h"
#include "modelpath.h"
#include "opt.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: %s -m MODEL --info [-v]\n"
		   "       %s -h | -V\n"
		   "Describe a GGUF model: architecture, hyper-parameters, tokenizer, tensors.\n"
		   "  -m MODEL   model file (default $LM_MODEL)\n"
		   "  --info     print the description and exit\n"
		   "  -v         with --info, also list every metadata key\n",
		   progname, progname);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"info", no_argument, NULL, 'I'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	const char *model = NULL;
	int info = 0, verbose = 0, c;
	struct lmu_err e = {{0}};
	struct hparams hp;
	struct gguf *g;

	lmu_init(argc, argv);
	while ((c = getopt_long(argc, argv, "m:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 'I': info = 1; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); out_close(); return 0;
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	model = model_resolve(opt_model(model));
	if (!info)
		die_usage("only --info is implemented so far");
	g = gguf_open_or_die(model);
	if (!hparams_load(g, &hp, &e)) {
		print_model_info(stdout, g, NULL, verbose);
		out_close();
		die("%s", e.msg);
	}
	print_model_info(stdout, g, &hp, verbose);
	gguf_close(g);
	out_close();
	return 0;
}
