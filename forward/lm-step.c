/* lm-step - token batches in, logits frames out (lm-step(1)).
 *
 * Each batch (a line of ids) is appended to the context of its sequence
 * and evaluated as a whole; the answer is one logits frame for its last
 * position, or one per position with --all-logits.  "!reset" empties a
 * sequence's context, "!end" ends the sequence.  Lines tagged "@S" belong
 * to sequence S, the others to sequence 0; the sequences with input are
 * evaluated together, one step at a time (engine.h).  With --state the
 * context of one sequence lives on in a file between runs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "engineopt.h"
#include "err.h"
#include "gguf.h"
#include "hfmodel.h"
#include "info.h"
#include "model.h"
#include "opt.h"
#include "pool.h"
#include "quant.h"
#include "requant.h"
#include "state.h"
#include "stream.h"

#define DEFAULT_TEXT_K 10
#define DEFAULT_BATCH_WAIT 100

struct options {
	const char *model;   /* -m: a GGUF file, a model directory, a repo id */
	const char *state;
	uint32_t state_seq;  /* the sequence --state holds */
	int threads;         /* 0: every online CPU */
	uint32_t n_ctx;      /* 0: the model's */
	uint32_t n_seq;      /* --parallel */
	int batch_wait;      /* ms to wait for the replies to a step's frames */
	uint32_t text_k;     /* 0: binary frames */
	uint32_t top_k;      /* binary top-k frames of this many ids; 0: every id */
	bool all_logits;
	bool quant_act;
	enum ggml_type quant;  /* -q: quantize the float matrices at load (GGML_F32: no) */
	bool info, verbose;
	char **files;        /* the FILE operands, read one after another */
	int n_files;         /* 0: standard input */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s -m MODEL [-q TYPE] [-t N] [-c N] [--parallel N] [--state FILE [--state-seq S]]\n"
		   "       [--text[=K] | --top K] [--all-logits] [--quant-act] [--batch-wait MS] [-v] [FILE ...]\n"
		   "       %s -m MODEL [-q TYPE] --info [-v]\n"
		   "       %s -h | -V\n"
		   "Token batches (lines of ids) from the FILEs one after another ('-' or none:\n"
		   "standard input), one logits frame per batch on stdout.\n"
		   "  -m MODEL          a .gguf file, a model directory or a cached repo id (default $LM_MODEL)\n"
		   "  -q TYPE           quantize the model's F32/F16/BF16 matrices at load: Q8_0 Q4_0 Q4_1 Q4_K\n"
		   "  -t N              threads (default: every online CPU)\n"
		   "  -c N              KV cache size in positions, all sequences together (default: the model's)\n"
		   "  --parallel N      sequences open at once (default 1)\n"
		   "  --state FILE      load the context from FILE if it exists, save it there at the end\n"
		   "  --state-seq S     the sequence whose context --state holds (default 0)\n"
		   "  --text[=K]        text frames with the K best scores (default %d) instead of binary\n"
		   "  --top K           binary frames of the K best scores and the log-sum-exp of the rest\n"
		   "  --all-logits      a frame for every position, not only each batch's last\n"
		   "  --quant-act       8-bit activations as llama.cpp's: less exact, faster only where lm-step(1) says\n"
		   "  --batch-wait MS   wait up to MS for the answers to a step's frames (default %d)\n"
		   "  --info            describe the model and exit (-v: every metadata key)\n"
		   "  -v                with --info, every metadata key; else statistics on stderr at the end\n",
		progname, progname, progname, DEFAULT_TEXT_K, DEFAULT_BATCH_WAIT);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { STATE = 256, STATE_SEQ, TEXT, TOP, ALL_LOGITS, QUANT_ACT, INFO, BATCH_WAIT };
	static const struct option longopts[] = {
		ENGINE_LONGOPTS,
		{"quantize", required_argument, NULL, 'q'},
		{"state", required_argument, NULL, STATE},
		{"state-seq", required_argument, NULL, STATE_SEQ},
		{"text", optional_argument, NULL, TEXT},
		{"top", required_argument, NULL, TOP},
		{"all-logits", no_argument, NULL, ALL_LOGITS},
		{"quant-act", no_argument, NULL, QUANT_ACT},
		{"batch-wait", required_argument, NULL, BATCH_WAIT},
		{"info", no_argument, NULL, INFO},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct engine_opts eng = {0};
	int c;

	memset(o, 0, sizeof *o);
	o->n_seq = 1;
	o->batch_wait = DEFAULT_BATCH_WAIT;
	while ((c = getopt_long(argc, argv, ENGINE_SHORTOPTS "q:vhV", longopts, NULL)) != -1) {
		if (engine_opt(c, optarg, &eng))
			continue;
		switch (c) {
		case 'q':
			if ((o->quant = quant_type_named(optarg)) == GGML_NTYPES)
				die_usage("-q: unknown type '%s' (known: Q8_0, Q4_0, Q4_1, Q4_K)", optarg);
			break;
		case STATE: o->state = optarg; break;
		case STATE_SEQ: o->state_seq = (uint32_t)opt_int(optarg, 0, TOK_MAX_SEQ, "--state-seq"); break;
		case TEXT:
			o->text_k = optarg ? (uint32_t)opt_int(optarg, 1, LOGITS_MAX_VOCAB, "--text K") : DEFAULT_TEXT_K;
			break;
		case TOP: o->top_k = (uint32_t)opt_int(optarg, 1, LOGITS_MAX_VOCAB, "--top K"); break;
		case ALL_LOGITS: o->all_logits = true; break;
		case QUANT_ACT: o->quant_act = true; break;
		case BATCH_WAIT: o->batch_wait = (int)opt_int(optarg, 0, 3600000, "--batch-wait"); break;
		case INFO: o->info = true; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	o->files = argv + optind;
	o->n_files = argc - optind;
	if (o->info && o->n_files)
		die_usage("--info reads no input: unexpected argument '%s'", o->files[0]);
	/* a name mistyped fails now, not after the model is loaded and the
	 * files before it are evaluated (each is opened when its turn comes:
	 * a fifo's writer may not be there yet) */
	for (int i = 0; i < o->n_files; i++)
		if (strcmp(o->files[i], "-") != 0 && access(o->files[i], R_OK) != 0)
			die("%s: %s", o->files[i], strerror(errno));
	if (o->text_k && o->top_k)
		die_usage("--text and --top exclude each other");
	o->model = opt_model(eng.model);
	o->threads = eng.threads;
	o->n_ctx = eng.n_ctx;
	if (eng.n_seq)
		o->n_seq = eng.n_seq;
}

static int info(const struct options *o)
{
	struct lmu_err e = {{0}};
	struct hparams hp;
	struct gguf *g = model_open(o->model);

	if (o->quant != GGML_F32)
		g = gguf_quantize(g, o->quant, o->threads ? o->threads : cpu_count());
	if (!hparams_load(g, &hp, &e)) {
		print_model_info(stdout, g, NULL, o->verbose);
		out_close();
		die("%s", e.msg);
	}
	print_model_info(stdout, g, &hp, o->verbose);
	gguf_close(g);
	out_close();
	return 0;
}

/* The stream's sequence ids and the engine's slots: the stream names a
 * sequence as it likes ("@S"), the engine numbers its slots. */
struct stream_seq {
	bool used;
	uint32_t id;         /* S */
	bool awaited;        /* a frame went out for its last batch and no line came back since */
};

struct stepper {
	struct engine *eng;
	struct stream_seq *map;  /* (n_seq) by slot */
	uint32_t n_seq;
	uint32_t n_vocab;
	uint32_t text_k, top_k;
};

/* The slot of stream sequence id, or -1. */
static int slot_of(const struct stepper *st, uint32_t id)
{
	for (uint32_t i = 0; i < st->n_seq; i++)
		if (st->map[i].used && st->map[i].id == id)
			return (int)i;
	return -1;
}

/* The slot of stream sequence id, opened on its first line. */
static int slot_for(struct stepper *st, uint32_t id, unsigned long lineno)
{
	int s = slot_of(st, id);
	if (s >= 0)
		return s;
	s = engine_seq_open(st->eng);
	if (s < 0)
		die("token stream line %lu: sequence %u cannot start: all %u sequences are in use "
		    "(use a larger --parallel, or end one with '@S !end')", lineno, id, st->n_seq);
	st->map[s] = (struct stream_seq){.used = true, .id = id};
	return s;
}

/* A frame's user field: whether its batch was tagged, and the stream id. */
#define USER_TAGGED (1ull << 32)

static int emit(void *arg, const struct engine_logits *o)
{
	struct stepper *st = arg;
	int64_t seq = o->user & USER_TAGGED ? (int64_t)(uint32_t)o->user : -1;
	if (o->last)
		st->map[o->seq].awaited = true;
	if (st->text_k)
		return logits_write_text(stdout, seq, o->n_vocab, o->token, o->pos, o->logits, st->text_k);
	if (st->top_k)
		return logits_write_top(stdout, seq, o->n_vocab, o->token, o->pos, o->logits, st->top_k);
	return logits_write(stdout, seq, o->n_vocab, o->token, o->pos, o->logits);
}

/* The frame writers' passes over the scores on the engine's threads
 * (logits_set_runner): they are idle while a frame is written. */
static void run_on_engine(void *eng, void (*fn)(void *arg, int ith, int nth), void *arg)
{
	engine_run(eng, fn, arg);
}

/* The reader waits for input: the engine's threads sleep (engine_rest),
 * so that the writer of the next line (lm-sample in the generation loop,
 * with -t as many threads as cores) has a core. */
static void rest_engine(void *eng)
{
	engine_rest(eng);
}

/* Act on a line (its sequence has no input queued). */
static void take(struct stepper *st, const struct tok_batch *b, enum tok_read_status r, bool all_logits)
{
	int s = slot_of(st, b->seq);
	struct lmu_err e = {{0}};

	if (s >= 0)
		st->map[s].awaited = false;
	if (r == TOK_DIRECTIVE) {
		if (strcmp(b->directive, "reset") == 0) {
			if (s >= 0)
				engine_seq_reset(st->eng, s);
		} else if (strcmp(b->directive, "end") == 0) {
			if (s >= 0) {
				engine_seq_close(st->eng, s);
				st->map[s].used = false;
			}
		} else {
			die("token stream line %lu: unknown directive '!%s' (known: !reset, !end)", b->lineno, b->directive);
		}
		return;
	}
	if (b->n == 0)
		return;  /* an empty batch: no frame */
	s = slot_for(st, b->seq, b->lineno);
	if (engine_submit(st->eng, s, b->ids, (uint32_t)b->n, all_logits ? ENGINE_ALL_LOGITS : 0,
			  (b->tagged ? USER_TAGGED : 0) | b->seq, &e) != 0)
		die("token stream line %lu: %s: use a larger -c or '!reset'", b->lineno, e.msg);
}

/* Does the line's sequence still have input queued?  Then the line waits
 * for the next step: a sequence's lines are taken in order, at most one
 * batch of each is queued, and the rest of the input waits in the pipe,
 * not in memory. */
static bool must_wait(const struct stepper *st, const struct tok_batch *b)
{
	int s = slot_of(st, b->seq);
	return s >= 0 && engine_seq_queued(st->eng, s) > 0;
}

/* How long to wait for more lines: not at all when there is nothing to
 * evaluate (-1, as long as it takes), else a while if a sequence that had
 * a frame in the last step has not answered yet (its answer can join the
 * next step), else not at all. */
static int gather_timeout(const struct stepper *st, int batch_wait)
{
	if (!engine_has_input(st->eng))
		return -1;
	for (uint32_t i = 0; i < st->n_seq; i++)
		if (st->map[i].used && st->map[i].awaited)
			return batch_wait;
	return 0;
}

/* The descriptor of input file i: standard input for "-". */
static int open_input(const struct options *o, int i)
{
	if (strcmp(o->files[i], "-") == 0)
		return 0;
	int fd = open(o->files[i], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", o->files[i], strerror(errno));
	return fd;
}

/* Read fd with rd; while it waits for input, the engine's threads rest. */
static void reader_init(struct tok_reader *rd, int fd, struct engine *eng)
{
	tok_reader_init(rd, fd);
	rd->on_wait = rest_engine;
	rd->wait_ctx = eng;
}

/* Done with the input file rd reads (standard input stays open). */
static void close_input(struct tok_reader *rd)
{
	if (rd->fd != 0)
		close(rd->fd);
	tok_reader_free(rd);
}

int main(int argc, char **argv)
{
	struct options o;
	struct lmu_err e = {{0}};
	struct tok_batch batch = {0};
	struct tok_reader rd;
	struct engine_params ep = {0};
	struct stepper st = {0};
	enum tok_read_status r = TOK_AGAIN;
	bool held = false, eof = false;
	int next_file = 0;

	lmu_init(argc, argv);
	parse_options(argc, argv, &o);
	if (o.info)
		return info(&o);

	ep.n_ctx = o.n_ctx;
	ep.n_seq = o.n_seq;
	ep.n_threads = o.threads;
	ep.all_logits = o.all_logits;
	ep.quant_act = o.quant_act;
	ep.quant = o.quant;
	st.eng = engine_open(o.model, &ep);
	st.n_seq = o.n_seq;
	st.map = xcalloc(o.n_seq, sizeof *st.map);
	st.n_vocab = engine_model(st.eng)->hp.n_vocab;
	st.text_k = o.text_k;
	st.top_k = o.top_k;
	logits_set_runner(run_on_engine, st.eng);
	const struct hparams *hp = &engine_model(st.eng)->hp;
	if (engine_n_ctx_seq(st.eng) > hp->n_ctx_train && hp->n_ctx_train)
		warnx_("-c %u is above the %u positions the model was trained on: expect worse text past %u",
		       engine_n_ctx_seq(st.eng), hp->n_ctx_train, hp->n_ctx_train);
	int lock = o.state ? state_lock(o.state) : -1;
	if (o.state)
		engine_seq_load(st.eng, slot_for(&st, o.state_seq, 0), o.state);
	reader_init(&rd, o.n_files ? open_input(&o, next_file++) : 0, st.eng);

	for (;;) {
		if (held && !must_wait(&st, &batch)) {
			take(&st, &batch, r, o.all_logits);
			held = false;
		}
		/* gather every line already there (see must_wait) */
		while (!held && !eof) {
			r = tok_reader_next(&rd, &batch, st.n_vocab, gather_timeout(&st, o.batch_wait), &e);
			if (r == TOK_ERROR)
				die("%s", e.msg);
			if (r == TOK_AGAIN)
				break;
			if (r == TOK_EOF && next_file < o.n_files) {
				/* the next file: its lines follow the last one's
				 * (and are numbered on from it) */
				close_input(&rd);
				reader_init(&rd, open_input(&o, next_file++), st.eng);
				continue;
			}
			if (r == TOK_EOF)
				eof = true;
			else if (must_wait(&st, &batch))
				held = true;
			else
				take(&st, &batch, r, o.all_logits);
		}
		if (!engine_has_input(st.eng)) {
			if (eof)
				break;
			continue;
		}
		if (engine_step(st.eng, emit, &st) < 0)
			break;  /* downstream closed: a normal end */
	}
	/* also after downstream closed the pipe: what was evaluated is kept */
	if (o.state) {
		int s = slot_for(&st, o.state_seq, batch.lineno);
		engine_seq_save(st.eng, s, o.state);
		close(lock);
	}
	if (o.verbose) {
		struct engine_stats es;
		engine_stats(st.eng, &es);
		int s0 = slot_of(&st, 0);
		fprintf(stderr, "%s: %llu positions evaluated, context %u of %u, %d threads, kernels %s, %s\n", progname,
			(unsigned long long)es.n_evaluated, s0 >= 0 ? engine_seq_n_pos(st.eng, s0) : 0,
			engine_n_ctx_seq(st.eng), engine_n_threads(st.eng), quant_kernel_name(),
			o.quant_act ? "8-bit activations (--quant-act)" : "exact activations");
		if (o.n_seq > 1)
			fprintf(stderr, "%s: %llu steps, %u sequences open, %u of %u positions in use\n", progname,
				(unsigned long long)es.n_steps, es.n_open, es.n_used, engine_n_ctx(st.eng));
	}
	close_input(&rd);
	tok_batch_free(&batch);
	free(st.map);
	engine_close(st.eng);
	out_close();
	return 0;
}
