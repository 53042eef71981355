/* test-shellparse - the shell reader: words, quotes, operators,
 * substitutions, here-documents, expansions, and hostile input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sample/shellparse.h"

static int n_test, n_fail;

static void ok(int cond, const char *name)
{
	printf("%s %d - %s\n", cond ? "ok" : "not ok", ++n_test, name);
	if (!cond)
		n_fail++;
}

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
	ok(!strcmp(got, want), name);
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
	printf("1..%d\n", n_test);
	return n_fail != 0;
}
