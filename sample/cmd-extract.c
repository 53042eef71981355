/* cmd-extract - find the shell command in a model's answer and judge it.
 *
 * Reads the answer (a file or stdin), extracts the command (extract.h),
 * judges it (risk.h) and, with --request, the person's request too.  Prints
 * the command (or, with --json, the command, the risk level and the
 * reasons); the exit status carries the verdict.  It never runs anything. */
#include <errno.h>
#include <getopt.h>
#include <jv.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "extract.h"
#include "opt.h"
#include "risk.h"

#define MAX_INPUT (1 << 20)

struct options {
	bool json, quiet, raw;
	const char *request;
	const char *command;  /* -c: judge this, no extraction */
	const char *file;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cmd-extract [--json] [-q] [--request TEXT] [--raw] [FILE]\n"
		"       cmd-extract [--json] [-q] [--request TEXT] -c COMMAND\n"
		"       cmd-extract -h | -V\n"
		"Find the shell command in a model's answer (JSON {\"cmd\": ...}, a fenced\n"
		"block, inline code or plain text), print it and judge how dangerous it is.\n"
		"  -j, --json          print {\"cmd\", \"risk\", \"reasons\", \"source\"} as JSON\n"
		"  -r, --request TEXT  judge the person's request as well\n"
		"  -c, --command CMD   judge CMD as given (no extraction)\n"
		"      --raw           the input is the command itself (no extraction)\n"
		"  -q, --quiet         no reasons on stderr\n"
		"  -h, --help          this help;  -V, --version  the version\n"
		"Exit status: 0 safe, 3 moderate, 4 high, 5 critical, 1 error or no\n"
		"command found, 2 usage error.  Nothing is ever run.\n");
}

static void parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"request", required_argument, NULL, 'r'},
		{"command", required_argument, NULL, 'c'},
		{"raw", no_argument, NULL, 'R'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "jr:c:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': o->json = true; break;
		case 'r': o->request = optarg; break;
		case 'c': o->command = optarg; break;
		case 'R': o->raw = true; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); out_close(); exit(0);
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (optind < argc)
		o->file = argv[optind++];
	if (optind < argc)
		die_usage("too many arguments");
	if (o->command && (o->file || o->raw))
		die_usage("-c takes the command from the argument: no FILE or --raw with it");
}

static char *read_input(const char *path, size_t *len)
{
	FILE *f = path ? fopen(path, "rb") : stdin;
	if (!f)
		die("%s: cannot open: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		if (n + 1 >= cap) {
			if (cap > MAX_INPUT)
				die("%s: more than %d bytes: not a model's answer", path ? path : "stdin", MAX_INPUT);
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		size_t got = fread(buf + n, 1, cap - 1 - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (n > MAX_INPUT)
		die("%s: more than %d bytes: not a model's answer", path ? path : "stdin", MAX_INPUT);
	if (ferror(f))
		die("%s: read error: %s", path ? path : "stdin", strerror(errno));
	if (path)
		fclose(f);
	if (memchr(buf, '\0', n))
		die("%s: the input holds a NUL byte: not text", path ? path : "stdin");
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void print_json(const char *cmd, const char *source, const struct verdict *all,
		       const struct verdict *command, const struct verdict *request)
{
	jv o = jv_object();
	o = jv_object_set(o, jv_string("cmd"), jv_string(cmd));
	o = jv_object_set(o, jv_string("risk"), jv_string(risk_name(all->level)));
	jv reasons = jv_array();
	for (size_t i = 0; i < all->n; i++)
		reasons = jv_array_append(reasons, jv_string(all->reason[i]));
	o = jv_object_set(o, jv_string("reasons"), reasons);
	o = jv_object_set(o, jv_string("source"), jv_string(source));
	if (request) {
		o = jv_object_set(o, jv_string("command_risk"), jv_string(risk_name(command->level)));
		o = jv_object_set(o, jv_string("request_risk"), jv_string(risk_name(request->level)));
	}
	jv s = jv_dump_string(o, 0);
	printf("%s\n", jv_string_value(s));
	jv_free(s);
}

int main(int argc, char **argv)
{
	struct options o = {0};
	struct lmu_err e = {{0}};
	struct verdict command, request = {0}, all = {0};
	const char *source = "raw";
	char *input = NULL, *cmd;
	size_t len = 0;

	lmu_init(argc, argv);
	parse_options(argc, argv, &o);

	if (o.command) {
		cmd = xstrdup(o.command);
	} else {
		input = read_input(o.file, &len);
		if (o.raw) {
			cmd = xstrdup(input);
			size_t n = strlen(cmd);
			while (n > 0 && (cmd[n - 1] == '\n' || cmd[n - 1] == '\r'))
				cmd[--n] = '\0';
			if (n == 0)
				die("%s: no command in the input", o.file ? o.file : "stdin");
		} else if (!(cmd = extract_command(input, len, &source, &e))) {
			die("%s: %s", o.file ? o.file : "stdin", e.msg);
		}
	}

	risk_judge_command(cmd, strlen(cmd), &command);
	if (o.request) {
		risk_judge_request(o.request, &request);
		risk_judge_scope(o.request, &request, cmd, strlen(cmd), &command);
	}
	verdict_merge(&all, &command, "");
	if (o.request)
		verdict_merge(&all, &request, "request: ");

	if (o.json)
		print_json(cmd, source, &all, &command, o.request ? &request : NULL);
	else
		printf("%s\n", cmd);
	out_close();
	if (!o.quiet)
		for (size_t i = 0; i < all.n; i++)
			fprintf(stderr, "%s: %s\n", progname, all.reason[i]);

	int status = risk_exit_status(all.level);
	verdict_free(&command);
	verdict_free(&request);
	verdict_free(&all);
	free(cmd);
	free(input);
	return status;
}
