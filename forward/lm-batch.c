/* lm-batch - OpenAI Batch API requests in, results out (lm-batch(1)).
 *
 * Reads JSON lines of requests ({"custom_id", "method", "url", "body"} for
 * /v1/chat/completions and /v1/completions), keeps up to --parallel of
 * them generating at once in one engine (engine.h: the sequences of a
 * step share one pass over the weights), and appends a JSON line per
 * request to the output file as each one ends, in any order, each line
 * with one write().  A rerun on the same output skips the custom_ids
 * already there (a torn last line, from a kill, is cut off first), so an
 * interrupted job is resumed by running it again.  --shard i/n takes every
 * n-th request, so that n machines can split a file without talking to
 * each other; a result depends only on the model, the request and --seed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>

#include "constrain.h"
#include "detok.h"
#include "engine.h"
#include "engineopt.h"
#include "err.h"
#include "gen.h"
#include "oai.h"
#include "opt.h"
#include "prompt.h"
#include "schema.h"
#include "tokenizer.h"

struct options {
	const char *model;       /* -m: a GGUF file, a model directory, a repo id; also the responses' "model" */
	const char *input;       /* NULL or "-": standard input */
	const char *output;      /* NULL: standard output (no resuming) */
	uint32_t parallel;
	int threads;
	uint32_t ctx;            /* positions of each request's context (0: the model's) */
	uint32_t shard_i, shard_n;
	uint64_t seed;
	bool verbose, quiet;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s -m MODEL [-o OUTPUT] [--parallel N] [-t N] [-c N] [--shard I/N] [--seed S]\n"
		   "       [-q] [-v] [INPUT]\n"
		   "       %s -h | -V\n"
		   "OpenAI Batch API request lines (INPUT, default standard input) in, result lines out.\n"
		   "  -m MODEL        model file (default $LM_MODEL)\n"
		   "  -o OUTPUT       append results to OUTPUT, skipping the requests already there\n"
		   "                  (default: standard output, no resuming)\n"
		   "  --parallel N    requests generating at once (default 8)\n"
		   "  -t N            threads (default: every online CPU)\n"
		   "  -c N            positions of each request's context, prompt and answer (default: the model's)\n"
		   "  --shard I/N     only the requests whose number (from 0, in input order) is I modulo N\n"
		   "  --seed S        seed of requests that give none, mixed with their custom_id (default 0)\n"
		   "  -q              no progress bar\n"
		   "  -v              statistics on stderr at the end\n",
		progname, progname);
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { SHARD = 256, SEED };
	static const struct option longopts[] = {
		ENGINE_LONGOPTS,
		{"output", required_argument, NULL, 'o'},
		{"shard", required_argument, NULL, SHARD},
		{"seed", required_argument, NULL, SEED},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct engine_opts eng = {0};
	int c;

	memset(o, 0, sizeof *o);
	o->parallel = 8;
	o->shard_n = 1;
	while ((c = getopt_long(argc, argv, ENGINE_SHORTOPTS "o:qvhV", longopts, NULL)) != -1) {
		if (engine_opt(c, optarg, &eng))
			continue;
		switch (c) {
		case 'o': o->output = optarg; break;
		case SHARD: {
			const char *slash = strchr(optarg, '/');
			if (!slash || slash == optarg)
				die_usage("--shard wants I/N, like 0/4");
			char *i = xstrdup(optarg);
			i[slash - optarg] = 0;
			o->shard_n = (uint32_t)opt_int(slash + 1, 1, 1 << 20, "--shard N");
			o->shard_i = (uint32_t)opt_int(i, 0, o->shard_n - 1, "--shard I (from 0 to N-1)");
			free(i);
			break;
		}
		case SEED: o->seed = (uint64_t)opt_int(optarg, 0, INT64_MAX, "--seed"); break;
		case 'q': o->quiet = true; break;
		case 'v': o->verbose = true; break;
		case 'h': usage(stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option (try -h)");
		}
	}
	if (optind + 1 < argc)
		die_usage("unexpected argument '%s'", argv[optind + 1]);
	if (optind < argc)
		o->input = argv[optind];
	o->model = opt_model(eng.model);
	o->threads = eng.threads;
	o->ctx = eng.n_ctx;
	if (eng.n_seq)
		o->parallel = eng.n_seq;
}

static uint64_t fnv1a(const char *s, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

/* ---- a set of strings (custom_ids) ---- */

struct strset {
	char **v;                /* (cap) NULL = empty */
	size_t n, cap;
};

/* Add s (copied); false if it was there already. */
static bool strset_add(struct strset *t, const char *s)
{
	if (2 * (t->n + 1) > t->cap) {
		struct strset u = {.cap = t->cap ? 2 * t->cap : 1024};
		u.v = xcalloc(u.cap, sizeof *u.v);
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i]) {
				size_t h = fnv1a(t->v[i], strlen(t->v[i]), 0xcbf29ce484222325ull) & (u.cap - 1);
				while (u.v[h])
					h = (h + 1) & (u.cap - 1);
				u.v[h] = t->v[i];
			}
		free(t->v);
		t->v = u.v;
		t->cap = u.cap;
	}
	size_t h = fnv1a(s, strlen(s), 0xcbf29ce484222325ull) & (t->cap - 1);
	for (; t->v[h]; h = (h + 1) & (t->cap - 1))
		if (strcmp(t->v[h], s) == 0)
			return false;
	t->v[h] = xstrdup(s);
	t->n++;
	return true;
}

static bool strset_has(const struct strset *t, const char *s)
{
	if (!t->cap)
		return false;
	for (size_t h = fnv1a(s, strlen(s), 0xcbf29ce484222325ull) & (t->cap - 1); t->v[h]; h = (h + 1) & (t->cap - 1))
		if (strcmp(t->v[h], s) == 0)
			return true;
	return false;
}

static void strset_free(struct strset *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i]);
	free(t->v);
}

/* ---- the input ---- */

struct request {
	const char *line;        /* in the input buffer, NUL-terminated */
	unsigned long lineno;
	char *custom_id;
	enum oai_kind kind;
};

static char *read_file(const char *path, size_t *len)
{
	FILE *f = path && strcmp(path, "-") != 0 ? fopen(path, "rb") : stdin;
	size_t cap = 1 << 16, n = 0, got;
	char *buf = xmalloc(cap + 1);

	if (!f)
		die("%s: %s", path, strerror(errno));
	while ((got = fread(buf + n, 1, cap - n, f)) > 0)
		if ((n += got) == cap)
			buf = xrealloc(buf, (cap *= 2) + 1);
	if (ferror(f))
		die("%s: %s", path && strcmp(path, "-") != 0 ? path : "standard input", strerror(errno));
	if (f != stdin)
		fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

/* Split the input into request lines and check each one's envelope:
 * JSON, a custom_id met once, POST to a route we serve, a body object.
 * Anything wrong stops the job before it starts, as the Batch API's
 * validation does: the message names the line. */
static struct request *read_requests(const char *name, char *buf, size_t len, size_t *n_req)
{
	struct request *r = NULL;
	struct strset ids = {0};
	size_t n = 0, cap = 0;
	unsigned long lineno = 0;

	for (char *p = buf; p < buf + len;) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p)), *end = nl ? nl : buf + len;
		lineno++;
		*end = 0;
		if (strlen(p) != (size_t)(end - p))
			die("%s:%lu: NUL byte in a request line", name, lineno);
		const char *q = p;
		while (*q == ' ' || *q == '\t' || *q == '\r')
			q++;
		if (*q) {
			jv v = jv_parse(p);
			if (!jv_is_valid(v)) {
				jv m = jv_invalid_get_msg(v);
				die("%s:%lu: not JSON: %s", name, lineno,
				    jv_get_kind(m) == JV_KIND_STRING ? jv_string_value(m) : "?");
			}
			if (jv_get_kind(v) != JV_KIND_OBJECT)
				die("%s:%lu: a request line must be a JSON object", name, lineno);
			jv id = jv_object_get(jv_copy(v), jv_string("custom_id"));
			jv method = jv_object_get(jv_copy(v), jv_string("method"));
			jv url = jv_object_get(jv_copy(v), jv_string("url"));
			jv body = jv_object_get(jv_copy(v), jv_string("body"));
			if (jv_get_kind(id) != JV_KIND_STRING || !*jv_string_value(id))
				die("%s:%lu: 'custom_id' must be a non-empty string", name, lineno);
			if (jv_get_kind(method) != JV_KIND_STRING || strcmp(jv_string_value(method), "POST") != 0)
				die("%s:%lu: 'method' must be \"POST\"", name, lineno);
			int kind = jv_get_kind(url) == JV_KIND_STRING ? oai_kind_of_url(jv_string_value(url)) : -1;
			if (kind < 0)
				die("%s:%lu: 'url' must be \"/v1/chat/completions\" or \"/v1/completions\"", name, lineno);
			if (jv_get_kind(body) != JV_KIND_OBJECT)
				die("%s:%lu: 'body' must be a JSON object", name, lineno);
			if (!strset_add(&ids, jv_string_value(id)))
				die("%s:%lu: custom_id '%s' is used twice", name, lineno, jv_string_value(id));
			if (n == cap)
				r = xreallocarray(r, cap = cap ? 2 * cap : 256, sizeof *r);
			r[n++] = (struct request){p, lineno, xstrdup(jv_string_value(id)), (enum oai_kind)kind};
			jv_free(id), jv_free(method), jv_free(url), jv_free(body), jv_free(v);
		}
		p = end + 1;
	}
	strset_free(&ids);
	*n_req = n;
	return r;
}

/* The custom_ids the output already has.  A last line without its newline
 * (a write cut short by a kill) is cut off, so that the file ends with a
 * whole line; a line that is not a result is an error: we never append to
 * a file we do not understand. */
static void read_done(const char *path, int fd, struct strset *done)
{
	struct stat st;
	size_t len;
	char *buf;

	if (fstat(fd, &st) != 0)
		die("%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return;  /* a pipe or a terminal: nothing to resume */
	buf = read_file(path, &len);
	size_t whole = len;
	while (whole > 0 && buf[whole - 1] != '\n')
		whole--;
	if (whole < len) {
		warnx_("%s: the last line is cut short (%zu bytes, an interrupted run): dropping it", path, len - whole);
		if (ftruncate(fd, (off_t)whole) != 0)
			die("%s: %s", path, strerror(errno));
	}
	unsigned long lineno = 0;
	for (char *p = buf; p < buf + whole;) {
		char *nl = memchr(p, '\n', (size_t)(buf + whole - p));
		*nl = 0;
		lineno++;
		jv v = jv_parse(p);
		jv id = jv_get_kind(v) == JV_KIND_OBJECT ? jv_object_get(jv_copy(v), jv_string("custom_id")) : jv_invalid();
		if (jv_get_kind(id) != JV_KIND_STRING)
			die("%s:%lu: not a result line of lm-batch: refusing to append to this file", path, lineno);
		strset_add(done, jv_string_value(id));
		jv_free(id);
		jv_free(v);
		p = nl + 1;
	}
	free(buf);
}

/* ---- requests at work ---- */

struct job {
	const struct request *req;
	struct oai_request r;
	struct gen *g;
	struct ids out;          /* the ids generated */
	int32_t stop_id;         /* the id that completed a stop string, or -1 */
	uint32_t n_prompt;
	struct constraint *cons; /* response_format json_object or json_schema, else NULL */
	bool closed;             /* the constraint closed the value early for the budget */
};

struct batch {
	const struct options *o;
	struct engine *eng;
	struct tokenizer *tok;
	uint32_t n_vocab, ctx;
	int out_fd;
	const char *out_name;
	char fingerprint[32];
	long long created;       /* SOURCE_DATE_EPOCH, or -1: the time of each result */
	struct job *jobs;        /* (parallel) by engine slot */
	struct constraint_vocab *cv;  /* the vocabulary indexed for response_format (made at the first) */
	float *masked;           /* (n_vocab) logits under a job's constraint */
	uint32_t active;         /* jobs in the engine */
	/* progress */
	size_t total, done, failed;
	uint64_t tokens;
	double t0, last_draw;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Append one result line with one write (a kill leaves it whole or
 * absent; a torn line from a failing disk is cut off by the next run). */
static void write_line(struct batch *b, jv line)
{
	jv s = jv_dump_string(line, 0);
	size_t len = (size_t)jv_string_length_bytes(jv_copy(s));
	char *buf = xmalloc(len + 1);
	memcpy(buf, jv_string_value(s), len);
	buf[len] = '\n';
	jv_free(s);
	for (size_t off = 0; off < len + 1;) {
		ssize_t w = write(b->out_fd, buf + off, len + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EPIPE)
			exit(0);  /* downstream closed: a normal end */
		if (w <= 0)
			die("%s: %s", b->out_name, strerror(w < 0 ? errno : EIO));
		off += (size_t)w;
	}
	free(buf);
}

static void result(struct batch *b, const struct request *req, int status, jv body)
{
	char id[40], rid[40];
	uint64_t h = fnv1a(req->custom_id, strlen(req->custom_id), 0xcbf29ce484222325ull);
	snprintf(id, sizeof id, "batch_req_%016llx", (unsigned long long)h);
	snprintf(rid, sizeof rid, "req_%016llx", (unsigned long long)h);
	jv resp = jv_object_set(jv_object(), jv_string("status_code"), jv_number(status));
	resp = jv_object_set(resp, jv_string("request_id"), jv_string(rid));
	resp = jv_object_set(resp, jv_string("body"), body);
	jv line = jv_object_set(jv_object(), jv_string("id"), jv_string(id));
	line = jv_object_set(line, jv_string("custom_id"), jv_string(req->custom_id));
	line = jv_object_set(line, jv_string("response"), resp);
	line = jv_object_set(line, jv_string("error"), jv_null());
	write_line(b, line);
	b->done++;
	if (status != 200)
		b->failed++;
}

static void fail(struct batch *b, const struct request *req, const char *msg, const char *param)
{
	result(b, req, 400, oai_error_body(msg, "invalid_request_error", param, NULL));
}

/* The answer of a job that is over; its sequence is closed. */
static void finish(struct batch *b, int seq, bool length)
{
	struct job *j = &b->jobs[seq];
	struct detok d;
	size_t len;
	char id[48];

	detok_init(&d, tokenizer_vocab(b->tok), false);
	for (size_t i = 0; i < j->out.n; i++)
		detok_push(&d, j->out.v[i]);
	if (j->stop_id >= 0)  /* the stop string is found in the text, then cut off */
		detok_push(&d, j->stop_id);
	const char *text = detok_take(&d, true, &len);
	struct oai_result res = {text, oai_cut_at_stop(&j->r.gen, text, len), j->n_prompt, (uint32_t)j->out.n, length};
	snprintf(id, sizeof id, "%s-%016llx", j->r.kind == OAI_CHAT ? "chatcmpl" : "cmpl",
		 (unsigned long long)fnv1a(j->req->custom_id, strlen(j->req->custom_id), 0xcbf29ce484222325ull));
	result(b, j->req, 200, oai_response(j->r.kind, id, b->o->model, b->created >= 0 ? b->created : time(NULL),
					    b->fingerprint, &res));
	detok_free(&d);
	engine_seq_close(b->eng, seq);
	b->active--;
	gen_free(j->g);
	constraint_free(j->cons);
	oai_request_free(&j->r);
	free(j->out.v);
	memset(j, 0, sizeof *j);
}

/* What lm-batch does not do, of what oai.h reads. */
static bool batch_can(struct jreq *q, const struct oai_request *r)
{
	if (r->stream)
		return jreq_fail(q, "stream", "stream: not supported by lm-batch (answers are whole)");
	if (r->top_logprobs >= 0)
		return jreq_fail(q, "logprobs", "logprobs: not supported by lm-batch");
	if (r->echo)
		return jreq_fail(q, "echo", "echo: not supported by lm-batch");
	if (r->prompt_ids)
		return jreq_fail(q, "prompt", "prompt: token ids are not supported by lm-batch (give the text)");
	return true;
}

/* Start a request in a free slot, or answer it at once if it is not one
 * we can run. */
static void start(struct batch *b, const struct request *req)
{
	struct jreq q = {.root = jv_null()};
	struct lmu_err e = {{0}};
	struct ids prompt = {0};
	jv line = jv_parse(req->line), body = jv_object_get(line, jv_string("body"));
	struct job j = {.req = req, .stop_id = -1};

	struct gen_params dflt;
	oai_defaults(&dflt);
	bool ok = oai_request_parse(body, req->kind, &dflt, &j.r, &q) && batch_can(&q, &j.r);
	jv_free(body);
	if (!ok) {
		oai_request_free(&j.r);
		fail(b, req, q.err.msg, q.param[0] ? q.param : NULL);
		return;
	}
	ok = req->kind == OAI_CHAT ? prompt_chat(b->tok, NULL, j.r.msgs, j.r.n_msgs, &prompt, &e)
				   : prompt_text(b->tok, j.r.prompt, j.r.prompt_len, &prompt, &e);
	if (ok && prompt.n == 0)
		ok = (err_set(&e, "the prompt is empty"), false);
	if (ok && prompt.n >= b->ctx)
		ok = (err_set(&e, "the prompt has %zu tokens: the context holds %u (lm-batch -c)", prompt.n, b->ctx), false);
	if (!ok) {
		oai_request_free(&j.r);
		free(prompt.v);
		fail(b, req, e.msg, req->kind == OAI_CHAT ? "messages" : "prompt");
		return;
	}
	if (!j.r.seeded)  /* a seed of its own, the same on every run and machine */
		j.r.gen.sampler.seed = fnv1a(req->custom_id, strlen(req->custom_id), b->o->seed ^ 0xcbf29ce484222325ull);
	if (j.r.schema) {
		if (!b->cv && !(b->cv = constraint_vocab_of(tokenizer_vocab(b->tok), &e)))
			die("response_format: %s", e.msg);
		j.cons = constraint_new(b->cv, schema_machine(j.r.schema));
	}
	j.g = gen_new(&j.r.gen, tokenizer_vocab(b->tok));
	j.n_prompt = (uint32_t)prompt.n;
	int seq = engine_seq_open(b->eng);
	if (seq < 0 || engine_submit(b->eng, seq, prompt.v, (uint32_t)prompt.n, 0, 0, &e) != 0)
		die("engine: %s", seq < 0 ? "no free sequence" : e.msg);
	b->jobs[seq] = j;
	b->active++;
	free(prompt.v);
}

static int on_logits(void *arg, const struct engine_logits *o)
{
	struct batch *b = arg;
	struct job *j = &b->jobs[o->seq];
	struct lmu_err e = {{0}};
	int32_t id;

	const float *logits = o->logits;
	if (j->cons) {
		/* tokens left: the budget's, and the context's (this one, and
		 * one for each position still free) */
		long long left = gen_left(j->g), room = (long long)b->ctx - engine_seq_n_pos(b->eng, o->seq) + 1;
		if (left < 0 || room < left)
			left = room;
		logits = constraint_mask_copy(j->cons, logits, o->n_vocab, left, b->masked);
		j->closed |= constraint_closed(j->cons);
	}
	int st = gen_next(j->g, logits, o->n_vocab, &id);
	switch (st) {
	case GEN_TOKEN:
	case GEN_LAST:
		if (j->cons && constraint_accept(j->cons, id) != 0)
			die("request '%s': the sampler chose id %d, which response_format refuses", j->req->custom_id, id);
		ids_push(&j->out, id);
		b->tokens++;
		if (j->cons && constraint_complete(j->cons))  /* only end of sequence can follow */
			finish(b, o->seq, j->closed);
		else if (st == GEN_LAST || engine_seq_n_pos(b->eng, o->seq) >= b->ctx)
			finish(b, o->seq, true);
		else if (engine_submit(b->eng, o->seq, &id, 1, 0, 0, &e) != 0)
			die("engine: %s", e.msg);
		break;
	case GEN_STOP:
		j->stop_id = id;
		/* fall through */
	case GEN_EOG:
		finish(b, o->seq, false);
		break;
	default:
		die("request '%s': the model gave no finite score", j->req->custom_id);
	}
	return 1;
}

static void progress(struct batch *b, bool last)
{
	double t = now(), dt = t - b->t0;
	if (!last && t - b->last_draw < 0.25)
		return;
	b->last_draw = t;
	double rate = dt > 0 ? (double)b->tokens / dt : 0, per = b->done ? dt / (double)b->done : 0;
	long eta = (long)(per * (double)(b->total - b->done) + 0.5);
	fprintf(stderr, "\r%s: %zu/%zu done, %zu failed, %.1f tok/s, ETA %ldm%02lds \033[K%s", progname, b->done,
		b->total, b->failed, rate, eta / 60, eta % 60, last ? "\n" : "");
}

int main(int argc, char **argv)
{
	struct options o;
	struct batch b = {0};
	struct strset done = {0};
	size_t len, n_req, n_skip = 0, n_other = 0;

	lmu_init(argc, argv);
	parse_options(argc, argv, &o);
	const char *in_name = o.input && strcmp(o.input, "-") != 0 ? o.input : "standard input";
	char *input = read_file(o.input, &len);
	struct request *req = read_requests(in_name, input, len, &n_req);

	b.o = &o;
	b.out_name = o.output ? o.output : "standard output";
	b.out_fd = 1;
	if (o.output) {
		b.out_fd = open(o.output, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (b.out_fd < 0)
			die("%s: %s", o.output, strerror(errno));
		read_done(o.output, b.out_fd, &done);
	}
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	b.created = sde && *sde ? opt_int(sde, 0, INT64_MAX, "SOURCE_DATE_EPOCH") : -1;

	/* this shard's requests that are not done yet */
	size_t *todo = xcalloc(n_req + 1, sizeof *todo);
	for (size_t i = 0; i < n_req; i++) {
		if (i % o.shard_n != o.shard_i)
			n_other++;
		else if (strset_has(&done, req[i].custom_id))
			n_skip++;
		else
			todo[b.total++] = i;
	}

	if (b.total) {
		/* every request has a whole context of its own (the pool holds
		 * --parallel of them), so that its answer never depends on the others */
		struct engine_params ep = {.n_seq = o.parallel, .n_ctx_seq = o.ctx, .n_threads = o.threads};
		b.tok = tokenizer_open(o.model);
		chat_template_of(tokenizer_vocab(b.tok), o.model);  /* says so when the built-in one is used */
		b.eng = engine_open(o.model, &ep);
		b.ctx = engine_n_ctx_seq(b.eng);
		b.n_vocab = engine_model(b.eng)->hp.n_vocab;
		if (b.n_vocab < tokenizer_vocab(b.tok)->n)
			die("%s: the model has %u logits but its vocabulary %u tokens", o.model, b.n_vocab,
			    tokenizer_vocab(b.tok)->n);
		b.masked = xmalloc((size_t)b.n_vocab * sizeof *b.masked);
		snprintf(b.fingerprint, sizeof b.fingerprint, "fp_%016llx", (unsigned long long)engine_model(b.eng)->id);
		b.jobs = xcalloc(o.parallel, sizeof *b.jobs);
	}
	bool bar = !o.quiet && isatty(2) && b.total;
	b.t0 = now();
	size_t next = 0;
	while (next < b.total || (b.eng && engine_has_input(b.eng))) {
		while (next < b.total && b.active < o.parallel)
			start(&b, &req[todo[next++]]);
		if (engine_has_input(b.eng))
			engine_step(b.eng, on_logits, &b);
		if (bar)
			progress(&b, false);
	}
	if (bar)
		progress(&b, true);
	if (o.verbose) {
		double dt = now() - b.t0;
		fprintf(stderr, "%s: %zu requests answered (%zu failed) in %.1f s: %.2f requests/s, %llu tokens generated, "
				"%.1f tokens/s; %zu were done before, %zu belong to other shards\n",
			progname, b.done, b.failed, dt, dt > 0 ? (double)b.done / dt : 0, (unsigned long long)b.tokens,
			dt > 0 ? (double)b.tokens / dt : 0, n_skip, n_other);
	}
	if (b.out_fd != 1 && close(b.out_fd) != 0)
		die("%s: %s", o.output, strerror(errno));
	for (size_t i = 0; i < n_req; i++)
		free(req[i].custom_id);
	free(req);
	free(todo);
	free(b.jobs);
	free(b.masked);
	constraint_vocab_free(b.cv);
	strset_free(&done);
	if (b.eng)
		engine_close(b.eng);
	if (b.tok)
		tokenizer_free(b.tok);
	free(input);
	out_close();
	return 0;
}
