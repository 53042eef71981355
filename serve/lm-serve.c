/* lm-serve - an HTTP server with the OpenAI API over the batched engine,
 * and a chat page with sessions (lm-serve(1)).
 *
 * The options, then: the models are named (-m) and found (the registry:
 * --models, the Hugging Face cache), the database is opened, the server
 * listens (the first line on stderr says where), the model of -m loads in
 * the background (GET /health answers 503 until it is ready; the others
 * load when a request names them), and the main thread waits for
 * SIGTERM or SIGINT.  Then it stops taking requests (they get 503), lets
 * the ones in flight finish for up to --shutdown-timeout seconds, cancels
 * what is left, waits for the step in flight to end them (up to
 * --cancel-timeout seconds), and exits 0.  The work is in server.c
 * (HTTP), routes_*.c (the API), models.c and sched.c (the model and its
 * scheduler thread). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engineopt.h"
#include "err.h"
#include "metrics.h"
#include "models.h"
#include "opt.h"
#include "routes.h"
#include "server.h"
#include "webchat.h"

#define MAX_KEY 1024
#define MAX_DIRS 64

struct options {
	const char *model, *alias;
	struct server_params sp;
	struct model_params mp;
	const char *key_file;
	double shutdown_s, cancel_s;
	struct webchat_params wp;
	const char *dirs[MAX_DIRS];
	uint32_t max_models;
	double keep_alive;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-m MODEL] [--models DIR]... [--db FILE] [--max-models N] [--keep-alive T]\n"
		   "       [--host ADDR] [--port N] [--parallel N] [--queue N] [-c N] [-t N]\n"
		   "       [--api-key-file FILE] [--cors ORIGIN] [--alias NAME] [--max-body BYTES]\n"
		   "       [--timeout S] [--idle S] [--http-threads N] [--shutdown-timeout S]\n"
		   "       [--cancel-timeout S] [--no-hf-cache] [-v]\n"
		   "       %s -h | -V\n"
		   "An HTTP server with the OpenAI API (and TGI's), and a chat page at /.\n"
		   "  -m MODEL               a model, loaded at start, the default (default $LM_MODEL)\n"
		   "  --models DIR           serve the models in DIR too (repeatable)\n"
		   "  --no-hf-cache          not the models of the Hugging Face cache\n"
		   "  --db FILE              sessions and registry (default $XDG_DATA_HOME/lmutils/lm-serve.db)\n"
		   "  --max-models N         models loaded at once, 0 = no limit (default 2)\n"
		   "  --keep-alive T         unload a model unused this long: 30s, 5m, 1h; -1 never (default 5m)\n"
		   "  --alias NAME           its name in the API (default: the file's name without .gguf)\n"
		   "  --host ADDR            address to listen on (default 127.0.0.1)\n"
		   "  --port N               port, 0 = any free one (default 8080)\n"
		   "  --parallel N           sequences decoded together (default 4)\n"
		   "  --queue N              requests that may wait for a sequence; more get 503 (default 64)\n"
		   "  -c, --ctx-size N       context of one sequence in tokens (default: the model's, at most %d)\n"
		   "  -t, --threads N        threads of the forward pass (default: every CPU)\n"
		   "  --api-key-file FILE    every route but /health needs 'Authorization: Bearer KEY'\n"
		   "  --cors ORIGIN          answer cross-origin requests from ORIGIN (* = any)\n"
		   "  --max-body BYTES       largest request body (default 4194304)\n"
		   "  --timeout S            to send a request; for a write that stalls (default 10)\n"
		   "  --idle S               close a kept-alive connection idle this long (default 5)\n"
		   "  --http-threads N       HTTP worker threads (default: parallel + queue + 8)\n"
		   "  --shutdown-timeout S   on SIGTERM, let requests finish this long (default 10)\n"
		   "  --cancel-timeout S     then cancel them, and wait this long for the step in flight (default 60)\n"
		   "  -v                     log the prompts too\n",
		progname, progname, MODEL_DEFAULT_CTX);
}

/* A time: seconds, or a number with s, m, h; -1 (or a negative number):
 * forever. */
static double duration(const char *s, const char *what)
{
	char *end;
	double x = strtod(s, &end), unit = 1;
	if (end == s)
		die_usage("%s: a time such as 30s, 5m, 1h, or -1 for never", what);
	if (*end == 's')
		end++;
	else if (*end == 'm')
		unit = 60, end++;
	else if (*end == 'h')
		unit = 3600, end++;
	if (*end || x != x)
		die_usage("%s: a time such as 30s, 5m, 1h, or -1 for never", what);
	if (x < 0)
		return -1;
	if (x * unit > 1e9)
		die_usage("%s: at most 1e9 seconds (-1: never)", what);
	return x * unit;
}

static void parse_options(int argc, char **argv, struct options *o)
{
	enum { HOST = 256, PORT, QUEUE, KEYFILE, CORS, ALIAS, MAXBODY, TIMEOUT, IDLE, HTTPTHREADS,
	       SHUTDOWN, CANCEL, DB, MODELS, NOHF, MAXMODELS, KEEPALIVE };
	static const struct option longopts[] = {
		ENGINE_LONGOPTS,
		{"alias", required_argument, NULL, ALIAS},
		{"host", required_argument, NULL, HOST},
		{"port", required_argument, NULL, PORT},
		{"queue", required_argument, NULL, QUEUE},
		{"api-key-file", required_argument, NULL, KEYFILE},
		{"cors", required_argument, NULL, CORS},
		{"max-body", required_argument, NULL, MAXBODY},
		{"timeout", required_argument, NULL, TIMEOUT},
		{"idle", required_argument, NULL, IDLE},
		{"http-threads", required_argument, NULL, HTTPTHREADS},
		{"shutdown-timeout", required_argument, NULL, SHUTDOWN},
		{"cancel-timeout", required_argument, NULL, CANCEL},
		{"db", required_argument, NULL, DB},
		{"models", required_argument, NULL, MODELS},
		{"no-hf-cache", no_argument, NULL, NOHF},
		{"max-models", required_argument, NULL, MAXMODELS},
		{"keep-alive", required_argument, NULL, KEEPALIVE},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct engine_opts eng = {0};
	int c;

	memset(o, 0, sizeof *o);
	o->sp.host = "127.0.0.1";
	o->sp.port = 8080;
	o->sp.max_body = 4u << 20;
	o->sp.timeout_ms = 10000;
	o->sp.idle_ms = 5000;
	o->mp.n_seq = 4;
	o->mp.queue = 64;
	o->shutdown_s = 10;
	o->cancel_s = 60;
	o->max_models = 2;
	o->keep_alive = 300;
	o->wp.reg.hf_cache = true;
	o->wp.reg.dirs = o->dirs;
	while ((c = getopt_long(argc, argv, ENGINE_SHORTOPTS "vhV", longopts, NULL)) != -1) {
		if (engine_opt(c, optarg, &eng))
			continue;
		switch (c) {
		case ALIAS:
			if (!*optarg || strlen(optarg) > 90)
				die_usage("--alias: a name of 1 to 90 bytes");
			o->alias = optarg;
			break;
		case HOST:
			if (!*optarg || strlen(optarg) > 255)
				die_usage("--host: an address is needed");
			o->sp.host = optarg;
			break;
		case PORT: o->sp.port = (int)opt_int(optarg, 0, 65535, "--port"); break;
		case QUEUE: o->mp.queue = (uint32_t)opt_int(optarg, 0, 100000, "--queue"); break;
		case KEYFILE: o->key_file = optarg; break;
		case CORS:
			if (!*optarg || strpbrk(optarg, "\r\n") || strlen(optarg) > 200)
				die_usage("--cors: an origin such as http://localhost:3000, or *");
			o->sp.cors = optarg;
			break;
		case MAXBODY: o->sp.max_body = (size_t)opt_int(optarg, 1024, 1ll << 30, "--max-body"); break;
		case TIMEOUT: o->sp.timeout_ms = (int)(opt_double(optarg, 0.1, 3600, "--timeout") * 1000); break;
		case IDLE: o->sp.idle_ms = (int)(opt_double(optarg, 0.1, 3600, "--idle") * 1000); break;
		case HTTPTHREADS: o->sp.threads = (int)opt_int(optarg, 2, 10000, "--http-threads"); break;
		case SHUTDOWN: o->shutdown_s = opt_double(optarg, 0, 3600, "--shutdown-timeout"); break;
		case CANCEL: o->cancel_s = opt_double(optarg, 0, 3600, "--cancel-timeout"); break;
		case DB:
			if (!*optarg)
				die_usage("--db: a file name is needed");
			o->wp.db = optarg;
			break;
		case MODELS:
			if (o->wp.reg.n_dirs == MAX_DIRS)
				die_usage("--models: at most %d directories", MAX_DIRS);
			o->dirs[o->wp.reg.n_dirs++] = optarg;
			break;
		case NOHF: o->wp.reg.hf_cache = false; break;
		case MAXMODELS: o->max_models = (uint32_t)opt_int(optarg, 0, 1000, "--max-models"); break;
		case KEEPALIVE: o->keep_alive = duration(optarg, "--keep-alive"); break;
		case 'v': o->sp.verbose = true; break;
		case 'h': usage(stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option (try -h)");
		}
	}
	if (optind != argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	o->model = eng.model;
	o->mp.n_threads = eng.threads;
	o->mp.n_ctx_seq = eng.n_ctx;
	if (eng.n_seq)
		o->mp.n_seq = eng.n_seq;
	if (!o->model && getenv("LM_MODEL") && *getenv("LM_MODEL"))
		o->model = getenv("LM_MODEL");
	/* for tests: a step that takes this many seconds longer (lm-serve(1)) */
	const char *delay = getenv("LMU_SERVE_STEP_DELAY");
	if (delay && *delay)
		o->mp.step_delay = opt_double(delay, 0, 3600, "LMU_SERVE_STEP_DELAY");
	if (!o->sp.threads)
		o->sp.threads = (int)(o->mp.n_seq + o->mp.queue + 8);
}

/* The key: the file's first line, without trailing white space. */
static char *read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[MAX_KEY + 2];
	struct stat st;

	if (!f)
		die("%s: %s", path, strerror(errno));
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		warnx_("%s: the key file can be read by others (chmod 600 %s)", path, path);
	if (!fgets(buf, sizeof buf, f))
		die("%s: the key file is empty", path);
	fclose(f);
	size_t n = strlen(buf);
	if (n > MAX_KEY)
		die("%s: a key of more than %d bytes", path, MAX_KEY);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = 0;
	if (n == 0)
		die("%s: the key file is empty", path);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x21 || buf[i] == 0x7f)
			die("%s: the key has a space or a control character", path);
	return xstrdup(buf);
}

/* Wait for a stop signal, at most ms (-1: as long as it takes); the
 * signal, or 0. */
static int wait_signal(const sigset_t *set, long ms)
{
	if (ms < 0) {
		int sig;
		while (sigwait(set, &sig) != 0)
			;
		return sig;
	}
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
	int sig = sigtimedwait(set, NULL, &ts);
	return sig > 0 ? sig : 0;
}

int main(int argc, char **argv)
{
	struct options o;
	char url[320], *key = NULL;
	sigset_t stop;

	lmu_init(argc, argv);
	parse_options(argc, argv, &o);
	if (o.key_file)
		o.sp.api_key = key = read_key(o.key_file);
	/* every thread started from here on leaves the stop signals to main */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	struct models *ms = models_new(&o.mp);
	models_policy(ms, o.max_models, o.keep_alive);
	struct srv_model *m = o.model ? models_add(ms, o.model, o.alias) : NULL;
	struct metrics *mx = metrics_new();
	struct server *srv = server_new(&o.sp, ms, mx);
	routes_openai(srv);
	routes_tgi(srv);
	routes_misc(srv);
	struct webchat *wc = webchat_open(srv, ms, mx, &o.wp);
	/* the model is loading (GET /health: 503) before the first request
	 * can come in, so that a 200 always means it is ready */
	if (m)
		models_load(ms, m);
	server_start(srv, url, sizeof url);
	fprintf(stderr, "%s: listening on %s\n", progname, url);
	fflush(stderr);
	webchat_start(wc);

	int sig = wait_signal(&stop, -1);
	fprintf(stderr, "%s: %s: stopping (new requests get 503; %.0f s for the ones in flight)\n", progname,
		sig == SIGINT ? "SIGINT" : "SIGTERM", o.shutdown_s);
	server_drain(srv);
	double until = mono_now() + o.shutdown_s;
	while (server_inflight(srv) && mono_now() < until)
		if (wait_signal(&stop, 50))
			break;  /* a second signal: do not wait */
	if (server_inflight(srv)) {
		/* a job ends when the step in flight does (it cannot be cut
		 * short), then its handler sends its stream's end: wait for
		 * that, however long the step takes, up to --cancel-timeout */
		fprintf(stderr, "%s: cancelling %d requests (waiting up to %.0f s for the step in flight)\n",
			progname, server_inflight(srv), o.cancel_s);
		models_cancel_all(ms);
		double t0 = mono_now();
		until = t0 + o.cancel_s;
		while (server_inflight(srv) && mono_now() < until)
			if (wait_signal(&stop, 20))
				break;  /* another signal: do not wait */
		if (server_inflight(srv)) {
			/* the handlers wait for their jobs, and the server's
			 * threads for them: nothing can be freed or joined */
			fprintf(stderr, "%s: %d requests did not end in %.1f s: exiting without them\n",
				progname, server_inflight(srv), mono_now() - t0);
			fflush(stderr);
			_exit(0);
		}
	}
	server_stop(srv);
	webchat_close(wc);
	models_free(ms);
	server_free(srv);
	metrics_free(mx);
	free(key);
	fprintf(stderr, "%s: stopped\n", progname);
	return 0;
}
