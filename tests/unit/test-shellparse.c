/* test-shellparse - the shell reader: words, quotes, operators,
 * substitutions, here-documents, expansions, and hostile input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sample/shellparse.h"
#include "tap.h"

/* Render a script as "argv|argv;argv" with markers: commands joined by
 * ";", words by "|", a dynamic word prefixed by "~", redirections as
 * "<op>target". */
static char out[4096];
static size_t k;

static void put(const char *a, const char *b, const char *c)
{
	int n = snprintf(out + k, sizeof out - k, "%s%s%s", a, b, c);
	if (n > 0)
		k = k + (size_t)n < sizeof out ? k + (size_t)n : sizeof out - 1;
}

static char *render(const char *src)
{
	struct sh_script *s = sh_parse(src, strlen(src));
	char op[16];
	k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < s->n; i++) {
		const struct sh_cmd *c = &s->cmd[i];
		if (c->argc == 0 && c->n_redir == 0 && c->n_assign == 0)
			continue;
		if (k)
			put(";", "", "");
		for (size_t a = 0; a < c->n_assign; a++)
			put(a ? "|" : "", c->assign[a].text, "");
		for (size_t a = 0; a < c->argc; a++)
			put((a || c->n_assign) ? "|" : "", c->argv[a].dynamic ? "~" : "", c->argv[a].text);
		for (size_t r = 0; r < c->n_redir; r++) {
			snprintf(op, sizeof op, "|<%d>", (int)c->redir[r].op);
			put(op, c->redir[r].target.text, "");
		}
	}
	if (s->error[0])
		put(" ERROR ", s->error, "");
	sh_script_free(s);
	return out;
}

static void is(const char *src, const char *want)
{
	char name[300];
	const char *got = render(src);
	snprintf(name, sizeof name, "%.120s -> %.120s", src, want);
	for (char *c = name; *c; c++)  /* one TAP line per test */
		if (*c == '\n' || *c == '\t')
			*c = ' ';
	ok(!strcmp(got, want), "%s", name);
	if (strcmp(got, want))
		printf("# got:  %s\n", got);
}

int main(void)
{
	/* words and quotes */
	is("ls -la /tmp", "ls|-la|/tmp");
	is("echo 'a b' \"c d\" e\\ f", "echo|a b|c d|e f");
	is("r\"m\" -rf /", "rm|-rf|/");
	is("\\rm x", "rm|x");
	is("echo \"a\\\"b\\$c\\\\d\\x\"", "echo|a\"b$c\\d\\x");
	is("echo ''", "echo|");
	is("ls \\\n  -la", "ls|-la");
	is("echo $'a\\tb\\x41\\101\\u00e9'", "echo|a\tbAA\xc3\xa9");
	is("echo $'\\x72\\x6d'", "echo|rm");
	is("echo a#b # comment", "echo|a#b");
	/* operators */
	is("a; b && c || d | e & f", "a;b;c;d;e;f");
	is("a\nb", "a;b");
	is("(a; b) | c", "a;b;c");
	is("{ a; b; }", "a;b");
	is("if x; then y; else z; fi", "x;y;z");
	is("for f in *.c; do cc $f; done", "cc|~$f");
	is("while true; do sleep 1; done", "true;sleep|1");
	/* redirections */
	is("ls > out 2>&1", "ls|<1>out|<5>1");
	is("cat < in >> log", "cat|<0>in|<2>log");
	is("echo x &> all", "echo|x|<1>all");
	is("> /dev/sda", "|<1>/dev/sda");
	is("cat <<EOF\nline 1\nEOF\necho after", "cat|<6>line 1\n;echo|after");
	is("cat <<-'X'\n\tindented\n\tX\n", "cat|<6>indented\n");
	is("bash <<< 'rm -rf /'", "bash|<7>rm -rf /");
	/* substitutions */
	is("echo $(rm -rf /)", "echo|~$(...);rm|-rf|/");
	is("echo `id`", "echo|~$(...);id");
	is("cat <(curl x)", "cat|~$(...);curl|x");
	is("echo $(( 1 + 2 ))", "echo|~$((...))");
	is("$(echo rm) -rf /", "rm|-rf|/;echo|rm");
	is("$(printf '\\x72\\x6d') -rf /", "rm|-rf|/;printf|\\x72\\x6d");
	is("echo $(echo $(echo deep))", "echo|deep;echo|deep;echo|deep");
	is("echo $(pwd)/x", "echo|~$PWD/x;pwd");
	/* expansions */
	is("a=rm; $a -rf /", "a=rm;rm|-rf|/");
	is("x='rm -rf /'; $x", "x=rm -rf /;rm|-rf|/");
	is("x='rm -rf /'; \"$x\"", "x=rm -rf /;rm -rf /");
	is("rm${IFS}-rf${IFS}/", "rm|-rf|/");
	is("IFS=,; c=rm,-rf,/; $c", "IFS=,;c=rm,-rf,/;rm|-rf|/");
	is("echo ${x:-default}", "echo|default");
	is("echo $HOME ${USER} $1", "echo|~$HOME|~$USER|~$1");
	is("export A=b; echo $A", "export|A=b;echo|b");
	is("{rm,-rf,/}", "rm|-rf|/");
	is("echo a{b,c}d x{1,{2,3}}", "echo|abd|acd|x1|x2|x3");
	is("echo '{a,b}' {x}", "echo|{a,b}|{x}");
	is("FOO=1 BAR=2 cmd", "FOO=1|BAR=2|cmd");
	/* substrings: of a value the line set, and the '/' that starts an
	 * absolute-path variable */
	is("rm -rf ${PATH:0:1}", "rm|-rf|/");
	is("rm -rf ${HOME::1}*", "rm|-rf|/*");
	is("a=/usr/bin/x; rm -rf ${a:0:4} ${a:5} ${a:99}", "a=/usr/bin/x;rm|-rf|/usr|bin/x");
	is("echo ${PATH:1:3} ${USER:0:1}", "echo|~$PATH|~$USER");
	/* printf substitutions use the format */
	is("$(printf 'r%s' m) -rf /", "rm|-rf|/;printf|r%s|m");
	is("$(printf '%s%s' r m) x", "rm|x;printf|%s%s|r|m");
	/* functions */
	{
		struct sh_script *s = sh_parse(":(){ :|:& };:", 13);
		int in_body = 0, piped = 0;
		for (size_t i = 0; i < s->n; i++)
			if (s->cmd[i].argc && s->cmd[i].func && !strcmp(s->cmd[i].func, ":")) {
				in_body++;
				piped += s->cmd[i].pipe_len == 2 && s->cmd[i].background;
			}
		ok(s->n_funcs == 1 && in_body == 2 && piped == 2, "fork bomb: function ':' runs itself in a background pipe");
		sh_script_free(s);
	}
	{
		struct sh_script *s = sh_parse("a | b | c", 9);
		ok(s->n == 3 && s->cmd[0].pipeline == s->cmd[2].pipeline && s->cmd[2].pipe_pos == 2 && s->cmd[1].pipe_len == 3,
		   "pipeline ids, positions and lengths");
		sh_script_free(s);
	}
	{
		struct sh_script *s = sh_parse("x $(y)", 6);
		ok(s->n == 2 && s->cmd[1].parent == 0 && s->cmd[0].argv[1].sub_begin == 1 && s->cmd[0].argv[1].sub_end == 2,
		   "a substitution names its parent command and word");
		sh_script_free(s);
	}
	/* loops that never end by their condition */
	{
		static const struct {
			const char *src;
			const char *endless;  /* per command with words: 1 in an endless body */
		} loops[] = {
			{"while true; do a & done; b", "0 1 0"},
			{"while :; do a; done", "0 1"},
			{"until false; do a; done", "0 1"},
			{"for ((;;)); do a; done", "1"},
			{"for (( ; ; )); do a; done", "1"},
			{"for ((i=0; i<3; i++)); do a; done", "0"},
			{"while sleep 1; do a; done", "0 0"},
			{"while true; do while read x; do a; done; b; done; c", "0 1 1 1 0"},
			{"for f in *; do a; done", "0"},
			{"while true\ndo\n  a &\ndone", "0 1"},  /* (a name without line breaks below) */
		};
		for (size_t t = 0; t < sizeof loops / sizeof *loops; t++) {
			struct sh_script *s = sh_parse(loops[t].src, strlen(loops[t].src));
			char got[64] = "";
			for (size_t i = 0; i < s->n; i++)
				if (s->cmd[i].argc)
					snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", got[0] ? " " : "",
						 s->cmd[i].endless);
			char name[80];
			snprintf(name, sizeof name, "%s", loops[t].src);
			for (char *c = name; *c; c++)
				if (*c == '\n')
					*c = ' ';
			ok(!strcmp(got, loops[t].endless) && !s->error[0], "endless loop bodies: %s (%s)", name, got);
			sh_script_free(s);
		}
	}
	/* groups: the pipeline stage a ( ) or { } group forms */
	{
		const char *src = "(a; echo x) | b; { c; echo y; } | d";
		struct sh_script *s = sh_parse(src, strlen(src));
		int sub_b = -1, brace_d = -1;
		for (size_t i = 0; i < s->n; i++) {
			const struct sh_cmd *c = &s->cmd[i];
			if (c->argc && !strcmp(c->argv[0].text, "b"))
				for (size_t g = 0; g < s->n_groups; g++)
					if (s->groups[g].pipeline == c->pipeline && s->groups[g].pipe_pos == c->pipe_pos - 1)
						sub_b = (int)g;
			if (c->argc && !strcmp(c->argv[0].text, "d"))
				for (size_t g = 0; g < s->n_groups; g++)
					if (s->groups[g].pipeline == c->pipeline && s->groups[g].pipe_pos == c->pipe_pos - 1)
						brace_d = (int)g;
		}
		int in_sub = 0, in_brace = 0;
		for (size_t i = 0; i < s->n; i++) {
			in_sub += sub_b >= 0 && s->cmd[i].group == sub_b && s->cmd[i].argc;
			in_brace += brace_d >= 0 && s->cmd[i].group == brace_d && s->cmd[i].argc;
		}
		ok(sub_b >= 0 && in_sub == 2 && s->groups[sub_b].subshell, "a subshell feeding a pipe: its two commands");
		ok(brace_d >= 0 && in_brace == 2 && !s->groups[brace_d].subshell, "a brace group feeding a pipe: its two commands");
		sh_script_free(s);
	}
	/* errors and hostile input */
	is("echo 'open", "echo ERROR unterminated single quote");
	is("echo \"open", "echo|open ERROR unterminated double quote");
	is("echo $(open", "echo|~$(...);open ERROR unterminated ( or $(");
	is("echo `open", "echo ERROR unterminated backquote");
	is("ls >", "ls ERROR redirection without a target");
	{
		char deep[4000] = "";
		for (int i = 0; i < 200; i++)
			strcat(deep, "$(");
		strcat(deep, "x");
		for (int i = 0; i < 200; i++)
			strcat(deep, ")");
		const char *got = render(deep);
		ok(strstr(got, "nested too deeply") != NULL, "200 nested $( ) is refused, not a stack overflow");
	}
	{
		char braces[400] = "echo ";
		for (int i = 0; i < 30; i++)
			strcat(braces, "{a,b}");
		struct sh_script *s = sh_parse(braces, strlen(braces));
		ok(strstr(s->error, "too many fields") != NULL, "2^30 brace expansion is refused");
		sh_script_free(s);
	}
	{
		char *big = malloc(SH_MAX_INPUT + 2);
		memset(big, 'a', SH_MAX_INPUT + 1);
		big[SH_MAX_INPUT + 1] = '\0';
		struct sh_script *s = sh_parse(big, SH_MAX_INPUT + 1);
		ok(s->n == 0 && s->error[0], "input over the limit is refused");
		sh_script_free(s);
		free(big);
	}
	{
		/* a=$a$a forty times would be 2^40 bytes: the value is dropped */
		char line[2000] = "a=0123456789abcdef; ";
		for (int i = 0; i < 40; i++)
			strcat(line, "a=$a$a; ");
		strcat(line, "echo $a");
		struct sh_script *s = sh_parse(line, strlen(line));
		const struct sh_cmd *last = &s->cmd[s->n - 1];
		ok(last->argc == 2 && last->argv[1].dynamic, "a doubling variable becomes unknown, not 2^40 bytes");
		sh_script_free(s);
	}
	{
		struct sh_script *s = sh_parse("ls\0rm -rf /", 11);
		ok(s->n == 0 && strstr(s->error, "NUL"), "a NUL byte is refused");
		sh_script_free(s);
	}
	{
		/* every prefix of a tricky line parses without a crash */
		const char *line = "a=$'x\\'y' b=\"$(c `d \\`e\\`` <<<'f')\" ${g:-{h,i}} <(j) >&2 <<E\nk\nE\n:(){ :|:& };:";
		int fine = 1;
		for (size_t n = 0; n <= strlen(line); n++) {
			struct sh_script *s = sh_parse(line, n);
			fine = fine && s != NULL;
			sh_script_free(s);
		}
		ok(fine, "every prefix of a dense line parses");
	}
	return tap_done();
}
