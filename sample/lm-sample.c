/* lm-sample - logits frames in, one token id per line out (lm-sample(1)).
 *
 * The stage that closes the generation loop: for each frame it chooses an
 * id (gen.h: the sampler and the rules that end a generation), prints it
 * at once, and decides whether generation is over (end-of-generation id,
 * -n reached, a stop string).  When it is over it exits, which ends the
 * loop: tee closes the fifo, lm-step sees the end of its input.  The ids it
 * ends on are never printed, so nothing more is fed back to lm-step.
 *
 * Frames tagged with a sequence id (several sequences through one lm-step)
 * each get a generation of their own; their ids go out tagged "@S id", and
 * a sequence that is over gets "@S !end" (lm-step frees it).  lm-sample
 * then exits when --sequences N of them are over. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "constrain.h"
#include "jsonfile.h"
#include "err.h"
#include "gen.h"
#include "oai.h"
#include "gguf.h"
#include "modelpath.h"
#include "opt.h"
#include "recommend.h"
#include "sampler.h"
#include "schema.h"
#include "stream.h"
#include "vocab.h"

#define MAX_TOP_LOGPROBS 100

struct options {
	const char *model;
	struct gen_params gen;
	unsigned given;          /* SP_* bits of the settings given as options */
	bool show_settings;
	bool spin;               /* --spin: poll for frames as they are due */
	bool seeded;
	long long n_sequences;   /* tagged sequences to see end; 0 = until the input ends */
	const char *logprobs;    /* file, "-" = stderr, NULL = none */
	uint32_t top_logprobs;
	const char *prompt_ids;
	const char *seq_params;  /* --seq-params FILE */
	const char *constrain;   /* --constrain SHAPE (json-schema, json, json-cmd), NULL = none */
	const char *schema_file; /* json-schema: the file */
	const char *constrain_opt;  /* "--schema" or "--constrain", for messages */
	const char *feed;        /* --feed FILE: the ids lm-step evaluates next */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-m MODEL] [--temperature T] [--top-k K] [--top-p P] [--min-p P]\n"
		   "       [--repeat-penalty R] [--presence-penalty P] [--frequency-penalty F]\n"
		   "       [--repeat-last-n N] [--prompt-ids FILE] [--seed S] [-n N] [--ignore-eos]\n"
		   "       [--stop STR]... [--logprobs FILE] [--top-logprobs K] [--schema FILE]\n"
		   "       [--constrain SHAPE] [--sequences N] [--seq-params FILE] [--feed FILE]\n"
		   "       [--show-settings]\n"
		   "       %s -h | -V\n"
		   "Logits frames in (binary or text), one token id per line out.\n"
		   "  -m MODEL               end-of-generation ids and token texts (default $LM_MODEL)\n"
		   "Settings the model recommends (general.sampling.* keys, generation_config.json)\n"
		   "replace the defaults below; options replace both.\n"
		   "  --temperature T        0 = greedy (default 0.8; also --temp)\n"
		   "  --top-k K              keep the K best ids, 0 = off (default 40)\n"
		   "  --top-p P              keep the best ids whose probability reaches P (default 0.95)\n"
		   "  --min-p P              keep ids at least P times as likely as the best (default 0.05)\n"
		   "  --repeat-penalty R     divide the logits of recent ids by R, 1 = off (default 1.1)\n"
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
		   "  --schema FILE          only JSON that validates against the JSON Schema in FILE\n"
		   "                         (the subset lm-sample(1) lists)\n"
		   "  --constrain SHAPE      only output of that shape: json-schema=FILE (as --schema),\n"
		   "                         json (any JSON object), json-cmd (JSON {\"cmd\": \"...\"})\n"
		   "  --sequences N          with tagged frames: exit when N sequences are over\n"
		   "  --seq-params FILE      JSON lines {\"seq\": S, \"seed\": ..., \"temperature\": ...}: settings per sequence\n"
		   "  --feed FILE            also write the ids to FILE, first, less each generation's\n"
		   "                         last: the generation loop's fifo to lm-step, without tee\n"
		   "  --spin                 wait for each frame partly by polling, from a little before\n"
		   "                         it is due (as long as the last took): for a core of its own\n"
		   "  --show-settings        print the settings in force (NAME=VALUE (SOURCE)) and exit\n",
		progname, progname);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { TEMP = 256, TOPK, TOPP, MINP, REPP, PRESP, FREQP, LASTN, SEED, IGNEOS, STOP,
	       LOGP, TOPLOGP, PROMPTIDS, CONSTRAIN, SCHEMA, SEQUENCES, SEQPARAMS, FEED, SPIN, SHOW };
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
		{"seq-params", required_argument, NULL, SEQPARAMS},
		{"seed", required_argument, NULL, SEED},
		{"max-tokens", required_argument, NULL, 'n'},
		{"n-predict", required_argument, NULL, 'n'},
		{"ignore-eos", no_argument, NULL, IGNEOS},
		{"stop", required_argument, NULL, STOP},
		{"logprobs", required_argument, NULL, LOGP},
		{"top-logprobs", required_argument, NULL, TOPLOGP},
		{"constrain", required_argument, NULL, CONSTRAIN},
		{"schema", required_argument, NULL, SCHEMA},
		{"sequences", required_argument, NULL, SEQUENCES},
		{"feed", required_argument, NULL, FEED},
		{"spin", no_argument, NULL, SPIN},
		{"show-settings", no_argument, NULL, SHOW},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	int c;

	struct sampler_params *par = &o->gen.sampler;

	memset(o, 0, sizeof *o);
	sampler_defaults(par);
	o->top_logprobs = 5;
	while ((c = getopt_long(argc, argv, "m:n:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case TEMP:
			par->temperature = opt_double(optarg, 0, 1e6, "temperature");
			o->given |= SP_TEMPERATURE;
			break;
		case TOPK:
			par->top_k = (uint32_t)opt_int(optarg, 0, LOGITS_MAX_VOCAB, "top-k");
			o->given |= SP_TOP_K;
			break;
		case TOPP:
			par->top_p = opt_double(optarg, 0, 1, "top-p");
			o->given |= SP_TOP_P;
			break;
		case MINP:
			par->min_p = opt_double(optarg, 0, 1, "min-p");
			o->given |= SP_MIN_P;
			break;
		case REPP:
			par->repeat_penalty = opt_double(optarg, 1e-6, 1e6, "repeat-penalty");
			o->given |= SP_REPEAT_PENALTY;
			break;
		case PRESP:
			par->presence_penalty = opt_double(optarg, -1e6, 1e6, "presence-penalty");
			o->given |= SP_PRESENCE_PENALTY;
			break;
		case FREQP:
			par->frequency_penalty = opt_double(optarg, -1e6, 1e6, "frequency-penalty");
			o->given |= SP_FREQUENCY_PENALTY;
			break;
		case LASTN:
			par->repeat_last_n = opt_int(optarg, -1, 1 << 24, "repeat-last-n");
			o->given |= SP_REPEAT_LAST_N;
			break;
		case SPIN: o->spin = true; break;
		case SHOW: o->show_settings = true; break;
		case PROMPTIDS: o->prompt_ids = optarg; break;
		case SEQPARAMS: o->seq_params = optarg; break;
		case 's':
		case SEED:
			par->seed = (uint64_t)opt_int(optarg, 0, INT64_MAX, "seed");
			o->seeded = true;
			break;
		case 'n': o->gen.max_tokens = opt_int(optarg, 0, INT64_MAX, "max-tokens"); break;
		case IGNEOS: o->gen.ignore_eos = true; break;
		case STOP:
			if (o->gen.n_stop == GEN_MAX_STOPS)
				die_usage("at most %d stop strings", GEN_MAX_STOPS);
			if (!*optarg || strlen(optarg) > GEN_MAX_STOP_LEN)
				die_usage("a stop string must have 1 to %d bytes", GEN_MAX_STOP_LEN);
			o->gen.stop[o->gen.n_stop++] = optarg;
			break;
		case LOGP: o->logprobs = optarg; break;
		case FEED: o->feed = optarg; break;
		case TOPLOGP: o->top_logprobs = (uint32_t)opt_int(optarg, 0, MAX_TOP_LOGPROBS, "top-logprobs"); break;
		case CONSTRAIN:
			if (!strncmp(optarg, "json-schema=", 12)) {
				if (!optarg[12])
					die_usage("--constrain json-schema=FILE: no file given");
				o->constrain = "json-schema";
				o->schema_file = optarg + 12;
				o->constrain_opt = "--constrain";
			} else if (!strcmp(optarg, "json-cmd") || !strcmp(optarg, "json")) {
				o->constrain = optarg;
				o->constrain_opt = "--constrain";
			} else {
				die_usage("--constrain: unknown shape '%s' (known: json-schema=FILE, json, json-cmd)", optarg);
			}
			break;
		case SCHEMA:
			if (!*optarg)
				die_usage("--schema: no file given");
			o->constrain = "json-schema";
			o->schema_file = optarg;
			o->constrain_opt = "--schema";
			break;
		case SEQUENCES: o->n_sequences = opt_int(optarg, 1, INT64_MAX, "sequences"); break;
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
	if (o->gen.n_stop && !o->model)
		die_usage("--stop needs the model's token texts: give -m MODEL");
	if (o->constrain && !o->model)
		die_usage("%s needs the model's token texts: give -m MODEL", o->constrain_opt);
	if (o->constrain && o->gen.ignore_eos)
		die_usage("%s ends on the end-of-sequence id: it excludes --ignore-eos", o->constrain_opt);
	if (!o->seeded && getrandom(&par->seed, sizeof par->seed, 0) != sizeof par->seed)
		die("cannot get a random seed");
}

/* One sequence of the frames: untagged (sequence 0, today's single
 * generation) or tagged "@S". */
struct seq {
	uint32_t id;
	bool tagged;
	bool over;
	bool closed;             /* said that the constraint closed early */
	struct gen *g;           /* NULL once over */
	struct constraint *cons; /* --constrain: its own state */
	int32_t *prompt;         /* (n_prompt) --prompt-ids lines of this sequence, until it starts */
	size_t n_prompt;
	struct oai_request *par; /* --seq-params: its own settings, or NULL */
};

/* The sequences seen, found by id through an open-addressing table (an
 * id ends once; the ones that are over stay, so that a frame that was
 * already on its way for one is dropped, not taken for a new sequence). */
struct seqs {
	struct seq *v;           /* (cap) */
	uint32_t *slot;          /* (cap) index into v + 1, 0 = empty */
	size_t n, cap;
};

static size_t hash_u32(uint32_t id, size_t cap)
{
	return (size_t)((id * 0x9e3779b97f4a7c15ull) >> 17) & (cap - 1);
}

static struct seq *seq_find(struct seqs *t, uint32_t id, bool tagged, bool create)
{
	size_t h;
	if (t->cap) {
		for (h = hash_u32(id, t->cap); t->slot[h]; h = (h + 1) & (t->cap - 1)) {
			struct seq *q = &t->v[t->slot[h] - 1];
			if (q->id == id)
				return q;
		}
	}
	if (!create)
		return NULL;
	if (2 * (t->n + 1) > t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 16;
		uint32_t *slot = xcalloc(cap, sizeof *slot);
		for (size_t i = 0; i < t->n; i++) {
			for (h = hash_u32(t->v[i].id, cap); slot[h]; h = (h + 1) & (cap - 1))
				;
			slot[h] = (uint32_t)i + 1;
		}
		free(t->slot);
		t->slot = slot;
		t->v = xreallocarray(t->v, cap, sizeof *t->v);
		t->cap = cap;
	}
	for (h = hash_u32(id, t->cap); t->slot[h]; h = (h + 1) & (t->cap - 1))
		;
	t->slot[h] = (uint32_t)t->n + 1;
	t->v[t->n] = (struct seq){.id = id, .tagged = tagged};
	return &t->v[t->n++];
}

static void seq_end(struct seq *q)
{
	gen_free(q->g);
	q->g = NULL;
	if (q->cons)
		constraint_free(q->cons);
	q->cons = NULL;
	free(q->prompt);
	q->prompt = NULL;
	q->n_prompt = 0;
	if (q->par)
		oai_request_free(q->par);
	free(q->par);
	q->par = NULL;
	q->over = true;
}

static void seqs_free(struct seqs *t)
{
	for (size_t i = 0; i < t->n; i++)
		seq_end(&t->v[i]);
	free(t->v);
	free(t->slot);
}

/* --prompt-ids: the batches of each sequence start its window of
 * penalties (untagged ones: sequence 0). */
static void read_prompt_ids(const char *path, struct seqs *t, uint32_t n_vocab)
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
		if (st != TOK_BATCH || b.n == 0)
			continue;
		struct seq *q = seq_find(t, b.seq, b.tagged, true);
		q->prompt = xreallocarray(q->prompt, q->n_prompt + b.n, sizeof *q->prompt);
		memcpy(q->prompt + q->n_prompt, b.ids, b.n * sizeof *b.ids);
		q->n_prompt += b.n;
	}
	tok_batch_free(&b);
	fclose(f);
}

/* --seq-params: each line {"seq": S, field: value ...} gives sequence S
 * settings of its own, the command line's where it gives none (oai.h:
 * temperature, top_p, top_k, min_p, seed, max_tokens, stop, presence_penalty,
 * frequency_penalty, repeat_penalty). */
static void read_seq_params(const char *path, struct seqs *t, const struct gen_params *defaults)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	ssize_t len;

	if (!f)
		die("%s: %s", path, strerror(errno));
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		jv v = jv_parse_sized(line, (int)len);
		jv s = jv_get_kind(v) == JV_KIND_OBJECT ? jv_object_get(jv_copy(v), jv_string("seq")) : jv_invalid();
		double id = jv_get_kind(s) == JV_KIND_NUMBER ? jv_number_value(s) : -1;
		struct jreq e = {.root = jv_null()};
		if (!(id >= 0 && id <= TOK_MAX_SEQ && id == (double)(uint32_t)id))
			die("%s:%lu: a JSON object with \"seq\": a sequence id", path, lineno);
		struct seq *q = seq_find(t, (uint32_t)id, true, true);
		if (q->par)
			die("%s:%lu: sequence %u has settings already", path, lineno, (uint32_t)id);
		q->par = xcalloc(1, sizeof *q->par);
		q->par->gen = *defaults;  /* its stop strings are the command line's */
		if (!oai_apply(v, q->par, &e))
			die("%s:%lu: %s", path, lineno, e.err.msg);
		jv_free(s);
		jv_free(v);
	}
	if (ferror(f))
		die("%s: %s", path, strerror(errno));
	free(line);
	fclose(f);
}

/* One line per printed id: "[@S<TAB>]index<TAB>id<TAB>logprob<TAB>id:logprob
 * ..." with the log-probabilities of the model's own distribution (before
 * penalties, temperature and truncation). */
static void write_logprobs(FILE *f, const struct seq *q, long long index, int32_t id, const struct logits_frame *fr,
			   uint32_t k, int32_t *top)
{
	double lse = logsumexp(fr->scores, fr->n_vocab);
	uint32_t m = top_ids(fr->scores, fr->n_vocab, k, top);

	if (fr->rest > -INFINITY)  /* a top-k frame: the ids it leaves out */
		lse = lse > fr->rest ? lse + log1p(exp(fr->rest - lse)) : fr->rest + log1p(exp(lse - fr->rest));

	if (q->tagged)
		fprintf(f, "@%u\t", q->id);
	fprintf(f, "%lld\t%d\t%.6f\t", index, id, (double)fr->scores[id] - lse);
	for (uint32_t i = 0; i < m; i++)
		fprintf(f, i ? " %d:%.6f" : "%d:%.6f", top[i], (double)fr->scores[top[i]] - lse);
	putc('\n', f);
	if (fflush(f) != 0 && errno != EPIPE)
		die("writing log-probabilities: %s", strerror(errno));
}

/* --constrain SHAPE, --schema FILE: the schema, or die with the reason. */
static struct schema *schema_of(const struct options *o)
{
	const char *shape = o->constrain, *path = o->schema_file;
	struct lmu_err e = {{0}};
	struct schema *s;
	if (!strcmp(shape, "json-cmd"))
		return schema_json_cmd();
	if (!strcmp(shape, "json"))
		return schema_json_object();
	size_t len;
	char *text = file_read(path, JSON_MAX_SIZE, &len, &e);
	if (!text)
		die("%s: %s", o->constrain_opt, e.msg);
	s = schema_parse(text, len, &e);
	free(text);
	if (!s)
		die("%s: %s: %s", o->constrain_opt, path, e.msg);
	return s;
}

/* The settings the model recommends (recommend.h), under the options
 * given: from the GGUF's general.sampling.* keys, or from the
 * generation_config.json of a model directory.  A bad value is a
 * warning, not a refusal of the model.  Returns the SP_* bits taken. */
static unsigned apply_recommended(struct options *o, const struct gguf *g)
{
	struct sampler_params rec = o->gen.sampler;
	struct lmu_err e = {{0}};
	struct model_loc loc;
	int bits = 0;

	model_locate(o->model, &loc);
	const char *path = loc.gguf ? loc.gguf : loc.dir;
	if (g) {
		bits = recommend_gguf(g, &rec, &e);
	} else if (loc.dir) {
		char *file = xmalloc(strlen(loc.dir) + sizeof "/generation_config.json");
		FILE *f;
		sprintf(file, "%s/generation_config.json", loc.dir);
		if ((f = fopen(file, "r"))) {
			char buf[1 << 16];
			size_t n = fread(buf, 1, sizeof buf, f);
			bits = recommend_json(buf, n, &rec, &e);
			fclose(f);
		}
		free(file);
	}
	if (bits < 0)
		warnx_("%s: %s (the model's recommended settings are ignored)", path, e.msg);
	model_loc_free(&loc);
	if (bits < 0)
		return 0;
	bits &= (int)~o->given;
	sampler_params_take(&o->gen.sampler, &rec, (unsigned)bits);
	return (unsigned)bits;
}

/* --show-settings: each setting in force and where it comes from. */
static void print_settings(const struct options *o, unsigned from_model)
{
	const struct sampler_params *p = &o->gen.sampler;
	const struct {
		const char *name;
		unsigned bit;
		double v;
	} rows[] = {
		{"temperature", SP_TEMPERATURE, p->temperature},
		{"top-k", SP_TOP_K, p->top_k},
		{"top-p", SP_TOP_P, p->top_p},
		{"min-p", SP_MIN_P, p->min_p},
		{"repeat-penalty", SP_REPEAT_PENALTY, p->repeat_penalty},
		{"presence-penalty", SP_PRESENCE_PENALTY, p->presence_penalty},
		{"frequency-penalty", SP_FREQUENCY_PENALTY, p->frequency_penalty},
		{"repeat-last-n", SP_REPEAT_LAST_N, (double)p->repeat_last_n},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		printf("%s=%g (%s)\n", rows[i].name, rows[i].v,
		       o->given & rows[i].bit ? "option" : from_model & rows[i].bit ? "model" : "default");
	if (o->seeded)
		printf("seed=%llu (option)\n", (unsigned long long)p->seed);
	else
		printf("seed=random\n");
	/* the smallest lm-step --top K whose every frame is taken (0: none):
	 * a constraint masks ids the frame lists, log-probabilities want the
	 * alternatives listed, --seq-params has each sequence's own settings */
	uint32_t k = o->constrain || o->seq_params ? 0 : sampler_top_always(p);
	if (k && o->logprobs && o->top_logprobs > k)
		k = o->top_logprobs;
	printf("exact-top=%u\n", k);
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

/* --feed FILE.  "/dev/fd/N" is descriptor N itself, as the shell's
 * redirections take it, not a new open of what it points to: the loop's
 * fifo, opened by the shell together with lm-step's end, is not opened
 * again, since an open for writing waits for a reader, and lm-step may
 * have failed and gone by then. */
static FILE *open_feed(const char *path)
{
	FILE *f;
	char *end;
	long fd = -1;

	errno = 0;
	if (strncmp(path, "/dev/fd/", 8) == 0 && path[8] >= '0' && path[8] <= '9')
		fd = strtol(path + 8, &end, 10);
	if (fd >= 0 && !*end && fd <= INT_MAX && errno == 0)
		f = fdopen((int)fd, "w");
	else
		f = fopen(path, "w");
	if (!f)
		die("--feed %s: %s", path, strerror(errno));
	return f;
}

struct sampler_ctx {
	const struct options *o;
	const struct vocab *v;   /* NULL without -m */
	struct schema *schema;   /* --constrain */
	struct constraint_vocab *cv;
	FILE *lp;
	FILE *feed;              /* --feed */
	float *masked;           /* (n_vocab) a frame's scores under the constraint */
	int32_t top[MAX_TOP_LOGPROBS];
	long long n_over;        /* tagged sequences that are over */
};

/* The generation of the frame's sequence, started at its first frame;
 * NULL for a sequence that is already over. */
static struct seq *seq_of(struct sampler_ctx *x, struct seqs *t, const struct logits_frame *fr)
{
	struct seq *q = seq_find(t, fr->seq, fr->tagged, true);
	if (q->over)
		return NULL;
	q->tagged = fr->tagged;
	if (!q->g) {
		const struct gen_params *par = q->par ? &q->par->gen : &x->o->gen;
		if (par->n_stop && !x->v)
			die("sequence %u: stop strings need the model's token texts: give -m MODEL", q->id);
		q->g = gen_new(par, x->v);
		gen_prompt(q->g, q->prompt, q->n_prompt);
		free(q->prompt);
		q->prompt = NULL;
		if (x->schema)
			q->cons = constraint_new(x->cv, schema_machine(x->schema));
	}
	return q;
}

/* Choose and print the id that answers one frame.  Return 0 when the
 * output is closed or the untagged sequence is over (lm-sample is done),
 * 1 to go on. */
static int answer(struct sampler_ctx *x, struct seq *q, const struct logits_frame *fr)
{
	const float *scores = fr->scores;
	int64_t tag = q->tagged ? (int64_t)q->id : -1;
	int32_t id;

	/* with a model, ids mean its tokens (end of generation, stop
	 * strings, the constraint): frames of another vocabulary are an error,
	 * not ids read the wrong way */
	if (x->v && fr->n_vocab != x->v->n)
		die("logits frame at %s %llu: %u scores, but the vocabulary of %s has %u tokens",
		    fr->text ? "line" : "byte", (unsigned long long)fr->offset, fr->n_vocab, x->o->model, x->v->n);
	if (q->cons) {
		scores = constraint_mask_copy(q->cons, fr->scores, fr->n_vocab, gen_left(q->g), x->masked);
		if (constraint_closed(q->cons) && !q->closed) {
			q->closed = true;
			warnx_("%s: %lld tokens left: closing the JSON value early", x->o->constrain_opt, gen_left(q->g));
		}
	}
	if (fr->k) {  /* a frame of the k best ids: only where that is exact */
		const char *why;
		if (!sampler_top_exact(gen_sampler(q->g), scores, fr->n_vocab, fr->ids, fr->k, fr->scores[fr->ids[fr->k - 1]],
				       fr->rest, q->cons != NULL, &why))
			die("logits frame at byte %llu lists the %u best of %u ids, which these settings cannot sample "
			    "exactly: %s (give lm-step a larger --top, or leave it out)",
			    (unsigned long long)fr->offset, fr->k, fr->n_vocab, why);
		if (x->lp && x->o->top_logprobs > fr->k)
			die("logits frame at byte %llu lists %u ids, fewer than --top-logprobs %u",
			    (unsigned long long)fr->offset, fr->k, x->o->top_logprobs);
	}
	long long index = gen_emitted(q->g);
	int st = gen_next_top(q->g, scores, fr->n_vocab, fr->k ? fr->ids : NULL, fr->k, fr->rest, &id);
	if (st < 0)
		die("logits frame at %s %llu: no finite score to choose from", fr->text ? "line" : "byte",
		    (unsigned long long)fr->offset);
	bool over = st != GEN_TOKEN;
	if (st == GEN_TOKEN || st == GEN_LAST) {
		if (x->lp)
			write_logprobs(x->lp, q, index, id, fr, x->o->top_logprobs, x->top);
		if (q->cons && constraint_accept(q->cons, id) != 0)
			die("%s: sampled id %d that the constraint does not allow", x->o->constrain_opt, id);
		if (q->cons && constraint_complete(q->cons))
			over = true;  /* only end-of-sequence can follow */
		/* the feed first: it is what the loop waits for; the id that
		 * ends a generation needs no frame, so lm-step is not given it */
		if (x->feed && !over && !tok_write_seq(x->feed, tag, &id, 1))
			return 0;  /* lm-step has gone: it says why */
		if (!tok_write_seq(stdout, tag, &id, 1))
			return 0;  /* downstream closed: a normal end */
	}
	if (!over)
		return 1;
	seq_end(q);
	if (!q->tagged)
		return 0;
	x->n_over++;
	if (x->feed && !tok_write_directive(x->feed, tag, "end"))
		return 0;
	if (!tok_write_directive(stdout, tag, "end"))
		return 0;
	return !(x->o->n_sequences && x->n_over >= x->o->n_sequences);
}

int main(int argc, char **argv)
{
	struct options o;
	struct logits_frame fr = {0};
	struct lmu_err e = {{0}};
	struct vocab v = {0};
	struct gguf *g = NULL;
	struct seqs seqs = {0};
	struct sampler_ctx x = {.o = &o};
	unsigned from_model = 0;  /* SP_* bits of the model's recommended settings */
	int r;

	lmu_init(argc, argv);
	parse_options(argc, argv, &o);
	if (o.model) {
		vocab_open_or_die(&v, o.model, &g);
		x.v = &v;
		from_model = apply_recommended(&o, g);
	}
	if (o.constrain) {
		x.schema = schema_of(&o);
		if (!(x.cv = constraint_vocab_of(&v, &e)))
			die("%s: %s: %s", o.constrain_opt, o.model, e.msg);
		x.masked = xcalloc(v.n, sizeof *x.masked);
		if (o.gen.max_tokens && (unsigned long long)o.gen.max_tokens < schema_min_bytes(x.schema))
			warnx_("%s: -n %lld may be too few tokens for the shortest output (%u bytes)", o.constrain_opt,
			       o.gen.max_tokens, schema_min_bytes(x.schema));
	}
	widen_input_pipe();
	if (o.seq_params)
		read_seq_params(o.seq_params, &seqs, &o.gen);
	if (o.prompt_ids)  /* without a model, ids are bounded by what a frame can hold */
		read_prompt_ids(o.prompt_ids, &seqs, o.model ? v.n : LOGITS_MAX_VOCAB);
	/* after every check of the options, so that a script can take the
	 * settings and know the options good */
	if (o.show_settings) {
		print_settings(&o, from_model);
		goto done;
	}
	if (o.feed)
		x.feed = open_feed(o.feed);
	if (o.logprobs) {
		x.lp = strcmp(o.logprobs, "-") == 0 ? stderr : fopen(o.logprobs, "w");
		if (!x.lp)
			die("%s: %s", o.logprobs, strerror(errno));
	}

	struct logits_waiter w = {.spin = o.spin};
	for (;;) {
		logits_await(stdin, &w);
		r = logits_read(stdin, &fr, &e);
		if (r == 0)
			break;
		if (r < 0)
			die("%s", e.msg);
		struct seq *q = seq_of(&x, &seqs, &fr);
		if (q && !answer(&x, q, &fr))
			break;
	}
done:
	if (x.feed)  /* lm-step sees the end of its input (first: it ends */
		fclose(x.feed);  /* while this process does) */
	out_close();
	if (x.lp && x.lp != stderr && fclose(x.lp) != 0)
		die("%s: %s", o.logprobs, strerror(errno));
	logits_frame_free(&fr);
	seqs_free(&seqs);
	free(x.masked);
	constraint_vocab_free(x.cv);
	schema_free(x.schema);
	if (o.model)
		vocab_free(&v);
	gguf_close(g);
	return 0;
}
