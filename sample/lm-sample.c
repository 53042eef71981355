/* lm-sample - logits frames in, one token id per line out (lm-sample(1)).
 *
 * The stage that closes the generation loop: for each frame it chooses an
 * id (sampler.h), prints it at once, and decides whether generation is over
 * (end-of-generation id, -n reached, a stop string).  When it is over it
 * exits, which ends the loop: tee closes the fifo, lm-step sees the end of
 * its input.  The ids it ends on are never printed, so nothing more is fed
 * back to lm-step. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "constrain.h"
#include "err.h"
#include "gguf.h"
#include "modelpath.h"
#include "opt.h"
#include "sampler.h"
#include "stream.h"
#include "vocab.h"

#define MAX_STOPS 16
#define MAX_STOP_LEN 1024
#define MAX_TOP_LOGPROBS 100

struct options {
	const char *model;
	struct sampler_params par;
	bool seeded;
	long long max_tokens;    /* 0 = no limit */
	bool ignore_eos;
	const char *stop[MAX_STOPS];
	int n_stop;
	const char *logprobs;    /* file, "-" = stderr, NULL = none */
	uint32_t top_logprobs;
	const char *prompt_ids;
	bool constrain_json_cmd;  /* --constrain json-cmd */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-m MODEL] [--temperature T] [--top-k K] [--top-p P] [--min-p P]\n"
		   "       [--repeat-penalty R] [--presence-penalty P] [--frequency-penalty F]\n"
		   "       [--repeat-last-n N] [--prompt-ids FILE] [--seed S] [-n N] [--ignore-eos]\n"
		   "       [--stop STR]... [--logprobs FILE] [--top-logprobs K] [--constrain json-cmd]\n"
		   "       %s -h | -V\n"
		   "Logits frames in (binary or text), one token id per line out.\n"
		   "  -m MODEL               end-of-generation ids and token texts (default $LM_MODEL)\n"
		   "  --temperature T        0 = greedy (default 0.8; also --temp)\n"
		   "  --top-k K              keep the K best ids, 0 = off (default 40)\n"
		   "  --top-p P              keep the best ids whose probability reaches P (default 0.95)\n"
		   "  --min-p P              keep ids at least P times as likely as the best (default 0.05)\n"
		   "  --repeat-penalty R     divide the logits of recent ids by R (default 1 = off)\n"
		   "  --presence-penalty P   subtract P from the logits of recent ids (default 0)\n"
		   "  --frequency-penalty F  subtract F per occurrence among recent ids (default 0)\n"
		   "  --repeat-last-n N      the window of recent ids, -1 = all (default 64)\n"
		   "  --prompt-ids FILE      token batches that start the window (the prompt)\n"
		   "  -s, --seed S           seed of the generator (default: random)\n"
		   "  -n, --max-tokens N     stop after N ids, 0 = no limit (default 0; also --n-predict)\n"
		   "  --ignore-eos           do not stop on end-of-generation ids\n"
		   "  --stop STR             stop when the text generated contains STR (repeatable)\n"
		   "  --logprobs FILE        per-token log-probabilities to FILE (- = stderr)\n"
		   "  --top-logprobs K       with --logprobs, also the K best alternatives (default 5)\n"
		   "  --constrain json-cmd   only output that is valid JSON {\"cmd\": \"...\"}\n",
		progname, progname);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { TEMP = 256, TOPK, TOPP, MINP, REPP, PRESP, FREQP, LASTN, SEED, IGNEOS, STOP,
	       LOGP, TOPLOGP, PROMPTIDS, CONSTRAIN };
	static const struct option longopts[] = {
		{"model", required_argument, NULL, 'm'},
		{"temperature", required_argument, NULL, TEMP},
		{"temp", required_argument, NULL, TEMP},
		{"top-k", required_argument, NULL, TOPK},
		{"top-p", required_argument, NULL, TOPP},
		{"min-p", required_argument, NULL, MINP},
		{"repeat-penalty", required_argument, NULL, REPP},
		{"presence-penalty", required_argument, NULL, PRESP},
		{"frequency-penalty", required_argument, NULL, FREQP},
		{"repeat-last-n", required_argument, NULL, LASTN},
		{"prompt-ids", required_argument, NULL, PROMPTIDS},
		{"seed", required_argument, NULL, SEED},
		{"max-tokens", required_argument, NULL, 'n'},
		{"n-predict", required_argument, NULL, 'n'},
		{"ignore-eos", no_argument, NULL, IGNEOS},
		{"stop", required_argument, NULL, STOP},
		{"logprobs", required_argument, NULL, LOGP},
		{"top-logprobs", required_argument, NULL, TOPLOGP},
		{"constrain", required_argument, NULL, CONSTRAIN},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	int c;

	memset(o, 0, sizeof *o);
	sampler_defaults(&o->par);
	o->top_logprobs = 5;
	while ((c = getopt_long(argc, argv, "m:n:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case TEMP: o->par.temperature = opt_double(optarg, 0, 1e6, "temperature"); break;
		case TOPK: o->par.top_k = (uint32_t)opt_int(optarg, 0, LOGITS_MAX_VOCAB, "top-k"); break;
		case TOPP: o->par.top_p = opt_double(optarg, 0, 1, "top-p"); break;
		case MINP: o->par.min_p = opt_double(optarg, 0, 1, "min-p"); break;
		case REPP: o->par.repeat_penalty = opt_double(optarg, 1e-6, 1e6, "repeat-penalty"); break;
		case PRESP: o->par.presence_penalty = opt_double(optarg, -1e6, 1e6, "presence-penalty"); break;
		case FREQP: o->par.frequency_penalty = opt_double(optarg, -1e6, 1e6, "frequency-penalty"); break;
		case LASTN: o->par.repeat_last_n = opt_int(optarg, -1, 1 << 24, "repeat-last-n"); break;
		case PROMPTIDS: o->prompt_ids = optarg; break;
		case 's':
		case SEED:
			o->par.seed = (uint64_t)opt_int(optarg, 0, INT64_MAX, "seed");
			o->seeded = true;
			break;
		case 'n': o->max_tokens = opt_int(optarg, 0, INT64_MAX, "max-tokens"); break;
		case IGNEOS: o->ignore_eos = true; break;
		case STOP:
			if (o->n_stop == MAX_STOPS)
				die_usage("at most %d stop strings", MAX_STOPS);
			if (!*optarg || strlen(optarg) > MAX_STOP_LEN)
				die_usage("a stop string must have 1 to %d bytes", MAX_STOP_LEN);
			o->stop[o->n_stop++] = optarg;
			break;
		case LOGP: o->logprobs = optarg; break;
		case TOPLOGP: o->top_logprobs = (uint32_t)opt_int(optarg, 0, MAX_TOP_LOGPROBS, "top-logprobs"); break;
		case CONSTRAIN:
			if (strcmp(optarg, "json-cmd") != 0)
				die_usage("--constrain: unknown shape '%s' (known: json-cmd)", optarg);
			o->constrain_json_cmd = true;
			break;
		case 'h': usage(stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option (try -h)");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (!o->model)
		o->model = getenv("LM_MODEL");
	if (o->model && !*o->model)
		o->model = NULL;
	if (o->n_stop && !o->model)
		die_usage("--stop needs the model's token texts: give -m MODEL");
	if (o->constrain_json_cmd && !o->model)
		die_usage("--constrain needs the model's token texts: give -m MODEL");
	if (o->constrain_json_cmd && o->ignore_eos)
		die_usage("--constrain ends on the end-of-sequence id: it excludes --ignore-eos");
	if (!o->seeded && getrandom(&o->par.seed, sizeof o->par.seed, 0) != sizeof o->par.seed)
		die("cannot get a random seed");
}

/* The decoded text of the last few tokens, enough to see a stop string
 * that spans tokens: at most (longest stop string - 1) bytes are kept
 * between tokens, so a match always involves the newest token. */
struct stop_matcher {
	const char **stop;
	int n;
	size_t keep;    /* longest stop string - 1 */
	char *buf;
	size_t len, cap;
};

static bool stop_seen(struct stop_matcher *m, const char *piece, size_t len)
{
	if (m->n == 0)
		return false;
	if (m->len + len > m->cap) {
		m->cap = m->len + len;
		m->buf = xrealloc(m->buf, m->cap);
	}
	memcpy(m->buf + m->len, piece, len);
	m->len += len;
	for (int i = 0; i < m->n; i++)
		if (memmem(m->buf, m->len, m->stop[i], strlen(m->stop[i])))
			return true;
	if (m->len > m->keep) {
		memmove(m->buf, m->buf + m->len - m->keep, m->keep);
		m->len = m->keep;
	}
	return false;
}

static void read_prompt_ids(const char *path, struct sampler *s, uint32_t n_vocab)
{
	FILE *f = fopen(path, "r");
	struct tok_batch b = {0};
	struct lmu_err e = {{0}};
	enum tok_read_status st;

	if (!f)
		die("%s: %s", path, strerror(errno));
	while ((st = tok_read(f, &b, n_vocab, &e)) != TOK_EOF) {
		if (st == TOK_ERROR)
			die("%s: %s", path, e.msg);
		if (st == TOK_BATCH)
			for (size_t i = 0; i < b.n; i++)
				sampler_accept(s, b.ids[i]);
	}
	tok_batch_free(&b);
	fclose(f);
}

/* One line per printed id: "index<TAB>id<TAB>logprob<TAB>id:logprob ..."
 * with the log-probabilities of the model's own distribution (before
 * penalties, temperature and truncation). */
static void write_logprobs(FILE *f, long long index, int32_t id, const struct logits_frame *fr, uint32_t k,
			   int32_t *top)
{
	double lse = logsumexp(fr->scores, fr->n_vocab);
	uint32_t m = top_ids(fr->scores, fr->n_vocab, k, top);

	fprintf(f, "%lld\t%d\t%.6f\t", index, id, (double)fr->scores[id] - lse);
	for (uint32_t i = 0; i < m; i++)
		fprintf(f, i ? " %d:%.6f" : "%d:%.6f", top[i], (double)fr->scores[top[i]] - lse);
	putc('\n', f);
	if (fflush(f) != 0 && errno != EPIPE)
		die("writing log-probabilities: %s", strerror(errno));
}

/* The JSON-shape constraint over the model's vocabulary: each token stands
 * for the bytes it decodes to; special tokens stand for nothing and are
 * never allowed (constrain.h). */
static struct constraint *json_cmd_constraint(const struct vocab *v)
{
	const char **piece = xcalloc(v->n, sizeof *piece);
	size_t *len = xcalloc(v->n, sizeof *len);
	struct lmu_err e = {{0}};
	struct constraint *c;

	if (v->eos < 0)
		die("--constrain: the model has no end-of-sequence token");
	for (uint32_t i = 0; i < v->n; i++) {
		if (vocab_is_special(v, (int32_t)i))
			piece[i] = "";
		else
			piece[i] = vocab_piece(v, (int32_t)i, &len[i]);
	}
	c = constraint_new_json_cmd(piece, len, v->n, v->eos, &e);
	if (!c)
		die("--constrain: %s", e.msg);
	free(piece);
	free(len);
	return c;
}

/* A binary frame of a 49152-id vocabulary is 192 KiB, three times a
 * default pipe's 64 KiB: lm-step would write it in pieces, waiting for
 * lm-sample to drain each one, at every token of the loop.  A pipe that
 * holds a whole frame saves those round trips.  Best effort: the kernel
 * may refuse (fs.pipe-max-size), and nothing depends on it. */
static void widen_input_pipe(void)
{
	struct stat st;
	if (fstat(0, &st) == 0 && S_ISFIFO(st.st_mode))
		(void)fcntl(0, F_SETPIPE_SZ, 1 << 20);
}

int main(int argc, char **argv)
{
	struct options o;
	struct sampler s;
	struct logits_frame fr = {0};
	struct lmu_err e = {{0}};
	struct vocab v = {0};
	struct gguf *g = NULL;
	struct stop_matcher sm = {0};
	FILE *lp = NULL;
	struct constraint *cons = NULL;
	float *masked = NULL;  /* (n_vocab) the frame's scores under the constraint */
	int32_t top[MAX_TOP_LOGPROBS];
	long long emitted = 0;
	int r;

	lmu_init(argc, argv);
	parse_options(argc, argv, &o);
	if (o.model) {
		char *path = model_resolve(o.model);
		g = gguf_open_or_die(path);
		if (!vocab_load_gguf(&v, g, &e))
			die("%s: %s", path, e.msg);
		free(path);
	}
	if (o.constrain_json_cmd) {
		cons = json_cmd_constraint(&v);
		masked = xcalloc(v.n, sizeof *masked);
	}
	widen_input_pipe();
	sampler_init(&s, &o.par);
	if (o.prompt_ids)  /* without a model, ids are bounded by what a frame can hold */
		read_prompt_ids(o.prompt_ids, &s, g ? v.n : LOGITS_MAX_VOCAB);
	sm.stop = o.stop;
	sm.n = o.n_stop;
	for (int i = 0; i < o.n_stop; i++)
		if (strlen(o.stop[i]) - 1 > sm.keep)
			sm.keep = strlen(o.stop[i]) - 1;
	if (o.logprobs) {
		lp = strcmp(o.logprobs, "-") == 0 ? stderr : fopen(o.logprobs, "w");
		if (!lp)
			die("%s: %s", o.logprobs, strerror(errno));
	}

	while (o.max_tokens == 0 || emitted < o.max_tokens) {
		r = logits_read(stdin, &fr, &e);
		if (r == 0)
			break;
		if (r < 0)
			die("%s", e.msg);
		const float *scores = fr.scores;
		if (cons) {
			if (fr.n_vocab != v.n)
				die("logits frame at %s %llu: %u scores, but the vocabulary has %u tokens",
				    fr.text ? "line" : "byte", (unsigned long long)fr.offset, fr.n_vocab, v.n);
			if (o.max_tokens && o.max_tokens - emitted == CONSTRAIN_MAX_CLOSE) {
				constraint_set_closing(cons, true);
				warnx_("--constrain: %d tokens left: closing the JSON object early", CONSTRAIN_MAX_CLOSE);
			}
			memcpy(masked, fr.scores, (size_t)v.n * sizeof *masked);
			constraint_mask(cons, masked);
			scores = masked;
		}
		int32_t id = sampler_sample(&s, scores, fr.n_vocab);
		if (id < 0)
			die("logits frame at %s %llu: no finite score to choose from",
			    fr.text ? "line" : "byte", (unsigned long long)fr.offset);
		bool known = g && (uint32_t)id < v.n;
		if (known && v.eog[id] && !o.ignore_eos)
			break;
		if (known && !vocab_is_special(&v, id)) {
			size_t len;
			const char *piece = vocab_piece(&v, id, &len);
			if (stop_seen(&sm, piece, len))
				break;
		}
		if (lp)
			write_logprobs(lp, emitted, id, &fr, o.top_logprobs, top);
		if (cons && constraint_accept(cons, id) != 0)
			die("--constrain: sampled id %d that the constraint does not allow", id);
		if (!tok_write(stdout, &id, 1))
			break;  /* downstream closed: a normal end */
		sampler_accept(&s, id);
		emitted++;
		if (cons && constraint_complete(cons))
			break;  /* only end-of-sequence can follow */
	}
	out_close();
	if (lp && lp != stderr && fclose(lp) != 0)
		die("%s: %s", o.logprobs, strerror(errno));
	logits_frame_free(&fr);
	sampler_free(&s);
	free(sm.buf);
	free(masked);
	if (cons)
		constraint_free(cons);
	if (g) {
		vocab_free(&v);
		gguf_close(g);
	}
	return 0;
}
