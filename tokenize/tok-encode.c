/* tok-encode - text in, token ids out (one batch per line).
 * man tok-encode(1); the token stream is lm-tokens(5). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "err.h"
#include "opt.h"
#include "stream.h"
#include "tokenizer.h"
#include "unicode.h"

static const char usage_text[] =
	"usage: tok-encode -m MODEL [--special] [--bos|--no-bos] [--eos|--no-eos]\n"
	"                  [--lines] [--pieces|--count] [TEXT ...]\n"
	"       tok-encode -m MODEL --chat [--system S] [--user U] [--assistant A] ...\n"
	"                  [--no-generation-prompt] [--new N] [--template FILE] [--pieces|--count] [TEXT ...]\n"
	"  -m, --model MODEL   GGUF file or model directory (default $LM_MODEL)\n"
	"      --special       parse special tokens written in the text (<|im_start|> ...)\n"
	"      --bos, --no-bos add / do not add the BOS token (default: as the model says)\n"
	"      --eos, --no-eos add / do not add the EOS token (default: as the model says)\n"
	"      --lines         each input line is its own batch\n"
	"      --pieces        print \"id<TAB>piece\" per token instead of a batch\n"
	"      --count         print the number of tokens instead of the ids\n"
	"      --chat          render a conversation with the model's chat template;\n"
	"                      messages from --system/--user/--assistant (in order),\n"
	"                      else OpenAI-style JSON messages on stdin\n"
	"      --no-generation-prompt  leave out the assistant prompt at the end\n"
	"      --new N         only the tokens the last N messages add (KV reuse)\n"
	"      --template FILE use this chat template (Jinja) instead of the model's\n"
	"  -h, --help          this help;  -V, --version  the version\n"
	"TEXT arguments are joined by one space; without them stdin is read.\n"
	"With --chat, TEXT is one more user message after the option messages.\n";

struct opts {
	const char *model;
	bool special, lines, pieces, count;
	int bos, eos;  /* -1 = as the model says */
	bool chat, gen_prompt;
	long long n_new;  /* 0 = the whole conversation */
	const char *template_file;
	struct chat_msg *msgs;  /* from --system/--user/--assistant */
	size_t n_msgs;
};

static void add_msg(struct opts *o, const char *role, const char *content)
{
	o->msgs = xreallocarray(o->msgs, o->n_msgs + 1, sizeof *o->msgs);
	o->msgs[o->n_msgs].role = xstrdup(role);
	o->msgs[o->n_msgs].content = xstrdup(content);
	o->n_msgs++;
}

static void usage(void) __attribute__((noreturn));
static void usage(void)
{
	fputs(usage_text, stdout);
	out_close();
	exit(0);
}

static void parse_opts(int argc, char **argv, struct opts *o)
{
	enum { O_SPECIAL = 256, O_BOS, O_NO_BOS, O_EOS, O_NO_EOS, O_LINES, O_PIECES, O_COUNT, O_CHAT, O_SYSTEM,
	       O_USER, O_ASSISTANT, O_NO_GEN, O_NEW, O_TEMPLATE };
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'}, {"special", no_argument, 0, O_SPECIAL},
		{"bos", no_argument, 0, O_BOS}, {"no-bos", no_argument, 0, O_NO_BOS},
		{"eos", no_argument, 0, O_EOS}, {"no-eos", no_argument, 0, O_NO_EOS},
		{"lines", no_argument, 0, O_LINES}, {"pieces", no_argument, 0, O_PIECES},
		{"count", no_argument, 0, O_COUNT}, {"chat", no_argument, 0, O_CHAT},
		{"system", required_argument, 0, O_SYSTEM}, {"user", required_argument, 0, O_USER},
		{"assistant", required_argument, 0, O_ASSISTANT},
		{"no-generation-prompt", no_argument, 0, O_NO_GEN}, {"new", required_argument, 0, O_NEW},
		{"template", required_argument, 0, O_TEMPLATE},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
	};
	int c;

	*o = (struct opts){.bos = -1, .eos = -1, .gen_prompt = true};
	while ((c = getopt_long(argc, argv, "m:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case O_SPECIAL: o->special = true; break;
		case O_BOS: o->bos = 1; break;
		case O_NO_BOS: o->bos = 0; break;
		case O_EOS: o->eos = 1; break;
		case O_NO_EOS: o->eos = 0; break;
		case O_LINES: o->lines = true; break;
		case O_PIECES: o->pieces = true; break;
		case O_COUNT: o->count = true; break;
		case O_CHAT: o->chat = true; break;
		case O_SYSTEM: add_msg(o, "system", optarg); break;
		case O_USER: add_msg(o, "user", optarg); break;
		case O_ASSISTANT: add_msg(o, "assistant", optarg); break;
		case O_NO_GEN: o->gen_prompt = false; break;
		case O_NEW: o->n_new = opt_int(optarg, 1, 1 << 20, "--new"); break;
		case O_TEMPLATE: o->template_file = optarg; break;
		case 'h': usage();
		case 'V': opt_version();
		default: die_usage("unknown option");
		}
	}
	if (o->pieces && o->count)
		die_usage("--pieces and --count exclude each other");
	if (o->lines && optind < argc)
		die_usage("--lines reads stdin: give no TEXT arguments");
	if (!o->chat && (o->n_msgs || o->n_new || !o->gen_prompt || o->template_file))
		die_usage("--system, --user, --assistant, --new, --template and --no-generation-prompt need --chat");
	if (o->chat && (o->lines || o->special))
		die_usage("--chat takes its messages from options or stdin: no --lines or --special");
	if (o->chat && optind < argc) {
		/* the generation loop of doc/internals.md: `tok-encode --chat "TEXT"` is one more user message */
		size_t len = 0;
		for (int i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		char *text = xmalloc(len), *p = text;
		for (int i = optind; i < argc; i++)
			p += sprintf(p, "%s%s", i > optind ? " " : "", argv[i]);
		add_msg(o, "user", text);
		free(text);
		optind = argc;
	}
	o->model = opt_model(o->model);
}

/* A piece for eyes: printable UTF-8 as is, the rest escaped. */
static void put_piece(FILE *f, const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	for (size_t i = 0; i < n;) {
		int k = utf8_valid_len(s + i, n - i);
		if (k > 1) {
			fwrite(s + i, 1, (size_t)k, f);
			i += (size_t)k;
			continue;
		}
		unsigned char c = s[i++];
		if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\\')
			fputs("\\\\", f);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			putc(c, f);
	}
}

/* BOS when the option or the model says so (bos < 0: as the model says). */
static void add_bos(const struct vocab *v, const struct opts *o, int bos, struct ids *ids)
{
	if (bos < 0 ? !v->add_bos : !bos)
		return;
	if (v->bos < 0)
		die("%s: the model has no BOS token (--bos)", o->model);
	ids_push(ids, v->bos);
}

static void add_eos(const struct vocab *v, const struct opts *o, int eos, struct ids *ids)
{
	if (eos < 0 ? !v->add_eos : !eos)
		return;
	if (v->eos < 0)
		die("%s: the model has no EOS token (--eos)", o->model);
	ids_push(ids, v->eos);
}

/* Write the ids as the options say; return 0 once downstream has closed. */
static int put_ids(struct tokenizer *t, const struct opts *o, const struct ids *ids)
{
	const struct vocab *v = tokenizer_vocab(t);
	if (o->count) {
		printf("%zu\n", ids->n);
		return out_flush();
	}
	if (o->pieces) {
		for (size_t i = 0; i < ids->n; i++) {
			size_t n;
			const char *p = vocab_piece(v, ids->v[i], &n);
			printf("%d\t", ids->v[i]);
			put_piece(stdout, p, n);
			putchar('\n');
		}
		if (o->lines)
			putchar('\n');
		return out_flush();
	}
	return tok_write(stdout, ids->v, ids->n);
}

/* Encode one batch and write it; return 0 once downstream has closed. */
static int emit(struct tokenizer *t, const struct opts *o, const char *raw, size_t len, struct ids *ids)
{
	const struct vocab *v = tokenizer_vocab(t);
	size_t clean_len, bad;
	if (len > (1u << 30))  /* offsets inside the encoder are 32-bit */
		die("input of %zu bytes is larger than the 1 GiB tok-encode takes at once (try --lines)", len);
	char *text = utf8_repair(raw, len, &clean_len, &bad);

	if (bad)
		warnx_("input is not valid UTF-8: %zu ill-formed sequence%s replaced by U+FFFD", bad,
		       bad == 1 ? "" : "s");
	ids->n = 0;
	add_bos(v, o, o->bos, ids);
	tokenizer_encode(t, text, clean_len, o->special, ids);
	free(text);
	add_eos(v, o, o->eos, ids);
	return put_ids(t, o, ids);
}

static char *read_all(FILE *f, size_t *len);

/* --chat: render the conversation with the model's template and encode
 * it the way transformers' apply_chat_template does (chat_encode: the
 * template writes BOS and the control tokens; --bos / --eos add more). */
static void encode_chat(struct tokenizer *t, struct opts *o, struct ids *ids)
{
	const struct vocab *v = tokenizer_vocab(t);
	struct lmu_err e = {{0}};
	struct chat_msg *msgs = o->msgs;
	size_t n = o->n_msgs;
	char *json = NULL, *own_tmpl = NULL;
	const char *tmpl = NULL;

	if (o->template_file) {
		FILE *f = fopen(o->template_file, "rb");
		size_t len;
		if (!f)
			die("%s: %s", o->template_file, strerror(errno));
		own_tmpl = read_all(f, &len);
		fclose(f);
		if (strlen(own_tmpl) != len)
			die("%s: NUL byte in the template", o->template_file);
		tmpl = own_tmpl;
	}
	if (!tmpl)
		tmpl = chat_template_of(v, o->model);
	if (!tmpl)
		die("%s: the model has no chat template (give one with --template FILE)", o->model);
	if (!n) {
		size_t len;
		json = read_all(stdin, &len);
		if (!(msgs = chat_parse_json(json, len, &n, &e)))
			die("messages on standard input: %s", e.msg);
	}
	if (n == 0)
		die("--chat: no messages");
	if ((size_t)o->n_new > n)
		die_usage("--new %lld: there are only %zu messages", o->n_new, n);
	ids->n = 0;
	add_bos(v, o, o->bos == 1, ids);
	if (!chat_encode(t, tmpl, msgs, n, (size_t)o->n_new, o->gen_prompt, ids, &e))
		die("%s: chat template (%s): %s", o->model, chat_template_family(tmpl), e.msg);
	add_eos(v, o, o->eos == 1, ids);
	put_ids(t, o, ids);
	if (msgs != o->msgs)
		chat_msgs_free(msgs, n);
	free(json);
	free(own_tmpl);
}

static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = xmalloc(cap);
	for (;;) {
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (n == cap)
			buf = xrealloc(buf, cap *= 2);
		else if (got == 0)
			break;
	}
	if (ferror(f))
		die("reading standard input: %s", strerror(errno));
	buf[n] = 0;  /* n < cap: the loop grows the buffer when full */
	*len = n;
	return buf;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct ids ids = {0};
	struct tokenizer *t;

	lmu_init(argc, argv);
	parse_opts(argc, argv, &o);
	t = tokenizer_open(o.model);

	if (o.chat) {
		encode_chat(t, &o, &ids);
	} else if (optind < argc) {
		size_t len = 0;
		for (int i = optind; i < argc; i++)
			len += strlen(argv[i]) + 1;
		char *text = xmalloc(len + 1), *p = text;
		for (int i = optind; i < argc; i++)
			p += sprintf(p, i > optind ? " %s" : "%s", argv[i]);
		emit(t, &o, text, (size_t)(p - text), &ids);
		free(text);
	} else if (o.lines) {
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;
		while ((n = getline(&line, &cap, stdin)) >= 0) {
			if (n > 0 && line[n - 1] == '\n')
				n--;
			if (!emit(t, &o, line, (size_t)n, &ids))
				break;
		}
		if (ferror(stdin))
			die("reading standard input: %s", strerror(errno));
		free(line);
	} else {
		size_t len;
		char *text = read_all(stdin, &len);
		emit(t, &o, text, len, &ids);
		free(text);
	}
	free(ids.v);
	chat_msgs_free(o.msgs, o.n_msgs);
	tokenizer_free(t);
	out_close();
	return 0;
}
