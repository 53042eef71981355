/* test-chat.c - chat templates against transformers' own renderer.
 *
 * tests/fixtures/chat/NAME.jinja are real model templates and a few
 * synthetic ones; NAME.cases hold what transformers' render_jinja_template
 * made of a set of conversations (tests/ref/chat-fixtures.py).  Every case
 * must match byte for byte, or fail where transformers failed.  Then the
 * append rule, JSON messages, and hostile templates. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jv.h>

#include "../../tokenize/chat.h"
#include "gguf.h"

#include "tap.h"

#define FIXDIR "tests/fixtures/chat/"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 == 0)
			buf = xrealloc(buf, cap *= 2);
	}
	fclose(f);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

/* A jv string field as a malloc'd C string, NULL if absent or null. */
static char *field(jv obj, const char *key)
{
	jv v = jv_object_get(jv_copy(obj), jv_string(key));
	char *s = NULL;
	if (jv_get_kind(v) == JV_KIND_STRING) {
		int n = jv_string_length_bytes(jv_copy(v));
		s = xmalloc((size_t)n + 1);
		memcpy(s, jv_string_value(v), (size_t)n);
		s[n] = 0;
	}
	jv_free(v);
	return s;
}

static void show_diff(const char *got, const char *want)
{
	size_t i = 0;
	while (got[i] && got[i] == want[i])
		i++;
	size_t from = i > 30 ? i - 30 : 0;
	printf("#   differ at byte %zu\n#   got:  \"%.60s\"\n#   want: \"%.60s\"\n", i, got + from, want + from);
}

/* Every case of NAME.cases against NAME.jinja, or against the template
 * given. */
static void run_cases(const char *name, const char *given)
{
	char path[256];
	snprintf(path, sizeof path, FIXDIR "%s.jinja", name);
	char *tmpl = given ? xstrdup(given) : slurp(path, NULL);
	snprintf(path, sizeof path, FIXDIR "%s.cases", name);
	size_t clen;
	char *cases = slurp(path, &clen);
	if (!tmpl || !cases) {
		ok(0, "%s: fixture files present (run from the source root)", name);
		free(tmpl);
		free(cases);
		return;
	}
	struct lmu_err e = {{0}};
	ok(chat_template_check(tmpl, &e) == 0, "%s: template parses %s", name, e.msg);
	int n = 0, pass = 0;
	for (char *line = cases, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			nl = line + strlen(line) - 1;
		*nl = 0;
		n++;
		jv c = jv_parse(line);
		size_t nm = 0;
		struct chat_msg *m = chat_parse_json(line, strlen(line), &nm, &e);
		char *bos = field(c, "bos"), *eos = field(c, "eos"), *expect = field(c, "expect");
		char *append = field(c, "append"), *error = field(c, "error");
		jv agpv = jv_object_get(jv_copy(c), jv_string("agp"));
		bool agp = jv_get_kind(agpv) == JV_KIND_TRUE;
		jv newv = jv_object_get(jv_copy(c), jv_string("new"));
		size_t n_new = jv_get_kind(newv) == JV_KIND_NUMBER ? (size_t)jv_number_value(newv) : 0;
		jv_free(agpv);
		jv_free(newv);
		jv_free(c);
		char *got = NULL;
		memset(&e, 0, sizeof e);
		if (m)
			got = n_new ? chat_render_append(tmpl, m, nm, n_new, agp, bos, eos, &e)
			            : chat_render(tmpl, m, nm, agp, bos, eos, &e);
		const char *want = n_new ? append : expect;
		int good;
		if (!m) {
			good = 0;
			printf("#   %s case %d: messages: %s\n", name, n, e.msg);
		} else if (error) {
			/* the same failure: raise_exception's text, or any error */
			const char *msg = strncmp(error, "TemplateError: ", 15) ? NULL : error + 15;
			if (!strcmp(error, "not a prefix"))
				msg = "rewrites earlier turns";
			good = !got && (!msg || strstr(e.msg, msg));
			if (!good)
				printf("#   %s case %d: want error \"%s\", got %s%s\n", name, n, error,
				       got ? "a rendering" : "error: ", got ? "" : e.msg);
		} else {
			good = got && want && !strcmp(got, want);
			if (!good && got && want)
				show_diff(got, want);
			else if (!good)
				printf("#   %s case %d: error: %s\n", name, n, e.msg);
		}
		pass += good;
		free(got);
		free(bos);
		free(eos);
		free(expect);
		free(append);
		free(error);
		chat_msgs_free(m, nm);
	}
	ok(n > 0 && pass == n, "%s%s: %d/%d cases match transformers", name, given ? " (built-in template)" : "", pass, n);
	free(tmpl);
	free(cases);
}

static void run_fixture(const char *name)
{
	run_cases(name, NULL);
}

static void check_family(const char *name, const char *want)
{
	char path[256];
	snprintf(path, sizeof path, FIXDIR "%s.jinja", name);
	char *t = slurp(path, NULL);
	const char *got = chat_template_family(t);
	ok(!strcmp(got, want), "family of %s is %s (got %s)", name, want, got);
	free(t);
}

/* The template read straight from the test model equals the fixture, so
 * the fixtures speak for what tok-encode --chat will see. */
static void check_gguf_template(void)
{
	const char *path = "models/smollm2-135m-instruct-q4_1.gguf";
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("ok %d # SKIP %s not present (make model)\n", ++n_test, path);
		return;
	}
	fclose(f);
	struct lmu_err e = {{0}};
	struct gguf *g = gguf_open(path, &e);
	char *t = g ? gguf_get_strdup(g, "tokenizer.chat_template") : NULL;
	char *fix = slurp(FIXDIR "smollm2.jinja", NULL);
	ok(t && fix && !strcmp(t, fix), "SmolLM2 GGUF chat template equals the fixture");
	free(t);
	free(fix);
	if (g)
		gguf_close(g);
}

static struct chat_msg M(const char *role, const char *content)
{
	return (struct chat_msg){(char *)role, (char *)content};
}

static void test_append(void)
{
	struct lmu_err e = {{0}};
	char *t = slurp(FIXDIR "smollm2.jinja", NULL);
	struct chat_msg c[] = {M("user", "hi"), M("assistant", "hello"), M("user", "bye")};
	char *all = chat_render_append(t, c, 3, 3, true, NULL, NULL, &e);
	char *full = chat_render(t, c, 3, true, NULL, NULL, &e);
	ok(all && full && !strcmp(all, full), "append: n_new == n_msgs gives the whole rendering");
	free(all);
	free(full);
	char *two = chat_render_append(t, c, 3, 2, true, NULL, NULL, &e);
	ok(two && !strcmp(two, "<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nbye<|im_end|>\n"
	                       "<|im_start|>assistant\n"),
	   "append: the last two turns of a ChatML conversation");
	free(two);
	ok(!chat_render_append(t, c, 3, 0, true, NULL, NULL, &e) && strstr(e.msg, "0 new"),
	   "append: n_new = 0 is an error");
	ok(!chat_render_append(t, c, 3, 4, true, NULL, NULL, &e), "append: n_new > n_msgs is an error");
	free(t);
	/* a template that marks the last turn rewrites the previous one */
	const char *rewrite = "{% for m in messages %}{% if loop.last %}LAST:{% endif %}{{ m.content }};{% endfor %}";
	char *r = chat_render_append(rewrite, c, 3, 1, false, NULL, NULL, &e);
	ok(!r && strstr(e.msg, "rewrites earlier turns"), "append: a rewriting template is refused (%s)", e.msg);
	free(r);
}

static void test_json(void)
{
	struct lmu_err e = {{0}};
	size_t n;
	struct chat_msg *m;
	const char *good = "[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":[{\"type\":"
	                   "\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"\\u00e9b\"}]},"
	                   "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[]}]";
	m = chat_parse_json(good, strlen(good), &n, &e);
	ok(m && n == 3 && !strcmp(m[0].role, "system") && !strcmp(m[1].content, "a\xc3\xa9" "b") && !m[2].content,
	   "json: array with text parts and null content");
	chat_msgs_free(m, n);
	const char *obj = "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	m = chat_parse_json(obj, strlen(obj), &n, &e);
	ok(m && n == 1 && !strcmp(m[0].content, "hi"), "json: object with a messages array");
	chat_msgs_free(m, n);
	m = chat_parse_json("[]", 2, &n, &e);
	ok(m && n == 0, "json: an empty list is valid");
	chat_msgs_free(m, n);
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{"[{\"role\":\"user\",\"content\":\"x\"}", "invalid JSON"},
		{"", "invalid JSON"},
		{"\"hello\"", "expected an array"},
		{"{\"msgs\":[]}", "no \"messages\""},
		{"[{\"role\":\"user\",\"content\":\"x\"}, 3]", "messages[1]: expected an object"},
		{"[{\"content\":\"x\"}]", "messages[0]: \"role\""},
		{"[{\"role\":7,\"content\":\"x\"}]", "messages[0]: \"role\""},
		{"[{\"role\":\"user\",\"content\":5}]", "messages[0]: content must be"},
		{"[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]", "type 'image_url'"},
		{"[{\"role\":\"user\",\"content\":[\"x\"]}]", "content part 0"},
		{"[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]", "NUL"},
	};
	/* deeply nested JSON: jq's parser refuses it, we report, nothing crashes */
	{
		size_t depth = 100000;
		char *deep = xmalloc(2 * depth + 1);
		memset(deep, '[', depth);
		memset(deep + depth, ']', depth);
		deep[2 * depth] = 0;
		m = chat_parse_json(deep, 2 * depth, &n, &e);
		ok(!m && e.msg[0], "json: 100000 nested arrays rejected: %s", e.msg);
		chat_msgs_free(m, n);
		free(deep);
	}
	/* mutated documents: parsed or refused with a message, never a crash.
	 * In a child that leaves with _exit(): jq 1.6's parser leaks a value
	 * on some bad input ("Expected separator between values" after a
	 * string or number: ["a" "b"], [0"a"]), and LeakSanitizer's exit check
	 * would blame that on this test. */
	{
		int fd[2];
		if (pipe(fd) != 0) {
			ok(0, "json: pipe for the mutation child");
		} else {
			pid_t pid = fork();
			if (pid == 0) {
				close(fd[0]);
				const char *base = "{\"messages\":[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\","
				                   "\"content\":[{\"type\":\"text\",\"text\":\"a\\u00e9\"}]},{\"role\":"
				                   "\"assistant\",\"content\":null}]}";
				static const char alphabet[] = "{}[]\":,nul0 \\x";
				size_t len = strlen(base);
				char *buf = xmalloc(len + 1);
				unsigned long long seed = 7;
				int counts[3] = {0, 0, 0}; /* parsed, refused, refused without a message */
				for (int k = 0; k < 2000; k++) {
					memcpy(buf, base, len + 1);
					for (int q = 0; q < 1 + k % 3; q++) {
						seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
						buf[(seed >> 33) % len] = alphabet[(seed >> 20) % (sizeof alphabet - 1)];
					}
					memset(&e, 0, sizeof e);
					m = chat_parse_json(buf, len, &n, &e);
					counts[m ? 0 : e.msg[0] ? 1 : 2]++;
					chat_msgs_free(m, n);
				}
				free(buf);
				ssize_t w = write(fd[1], counts, sizeof counts);
				_exit(w == (ssize_t)sizeof counts ? 0 : 1);
			}
			close(fd[1]);
			int counts[3] = {0, 0, -1}, status = 0;
			ssize_t r = read(fd[0], counts, sizeof counts);
			close(fd[0]);
			waitpid(pid, &status, 0);
			ok(pid > 0 && r == (ssize_t)sizeof counts && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
			       counts[2] == 0 && counts[0] + counts[1] == 2000,
			   "json: 2000 mutated documents: %d parsed, %d refused with a message", counts[0], counts[1]);
		}
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		memset(&e, 0, sizeof e);
		m = chat_parse_json(bad[i].json, strlen(bad[i].json), &n, &e);
		ok(!m && strstr(e.msg, bad[i].msg), "json: bad input %zu rejected: %s", i, e.msg);
		chat_msgs_free(m, n);
	}
}

/* A template that must fail with a message containing want. */
static void expect_fail(const char *name, const char *tmpl, const char *want)
{
	struct lmu_err e = {{0}};
	struct chat_msg c[] = {M("user", "hi")};
	char *r = chat_render(tmpl, c, 1, true, "<s>", "</s>", &e);
	ok(!r && strstr(e.msg, want), "hostile: %s: %s", name, e.msg);
	free(r);
}

static char *repeat(const char *a, int n, const char *mid, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
	char *s = xmalloc(la * (size_t)n + lm + lb * (size_t)n + 1), *p = s;
	for (int i = 0; i < n; i++, p += la)
		memcpy(p, a, la);
	memcpy(p, mid, lm);
	p += lm;
	for (int i = 0; i < n; i++, p += lb)
		memcpy(p, b, lb);
	*p = 0;
	return s;
}

static void test_hostile(void)
{
	expect_fail("unterminated {{", "hello {{ messages[0].role", "line 1 col 7: unterminated {{");
	expect_fail("unterminated {%", "a\n{% if true", "line 2 col 1: unterminated {%");
	expect_fail("unterminated comment", "{# never closed", "unterminated comment");
	expect_fail("unterminated string", "{{ 'abc }}", "unterminated string");
	expect_fail("missing endif", "{% if true %}x", "unclosed 'if' block: missing 'endif'");
	expect_fail("missing endfor", "{% for m in messages %}x{% if 1 %}{% endif %}", "missing 'endfor'");
	expect_fail("stray endfor", "x{% endfor %}", "unexpected 'endfor'");
	expect_fail("call block", "{% macro f() %}{{ caller() }}{% endmacro %}{% call f() %}x{% endcall %}",
	            "unsupported statement 'call'");
	expect_fail("macro arguments", "{% macro f(a) %}{% endmacro %}{{ f(1, 2) }}", "takes at most 1");
	expect_fail("recursive macro", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "too deeply");
	expect_fail("include", "{% include 'x' %}", "unsupported statement 'include'");
	expect_fail("unterminated raw", "a {% raw %} b {% endraw", "missing {% endraw %}");
	expect_fail("unknown filter", "{{ messages | shuffle }}", "line 1 col 15: unsupported filter 'shuffle'");
	expect_fail("unknown test", "{{ 1 is prime }}", "unsupported test 'prime'");
	expect_fail("unknown method", "{{ 'a'.zfill(3) }}", "undefined and cannot be called");
	expect_fail("undefined attribute", "{{ nothing.role }}", "cannot read 'role' of an undefined value nothing");
	expect_fail("raise_exception", "{{ raise_exception('no system role') }}", "template error: no system role");
	expect_fail("bad character", "{{ a ? b }}", "unexpected character '?'");
	expect_fail("str + int", "{{ 'a' + 1 }}", "unsupported operand types for +: str and int");
	expect_fail("division by zero", "{{ 1 // 0 }}", "division or modulo by zero");
	expect_fail("overflow", "{{ 9223372036854775807 + 1 }}", "integer overflow");
	expect_fail("non-ASCII upper", "{{ 'é' | upper }}", "non-ASCII");
	expect_fail("break outside loop", "{% break %}", "outside a loop");
	char *s = repeat("(", 5000, "1", ")");
	char *t = xmalloc(strlen(s) + 8);
	sprintf(t, "{{ %s }}", s);
	expect_fail("5000 nested parentheses", t, "nested more than");
	free(s);
	free(t);
	s = repeat("{% if true %}", 3000, "x", "{% endif %}");
	expect_fail("3000 nested ifs", s, "nested more than");
	free(s);
	s = repeat("1 + ", 20000, "1", "");
	t = xmalloc(strlen(s) + 8);
	sprintf(t, "{{ %s }}", s);
	expect_fail("a 20000-term sum", t, "nested too deeply");
	free(s);
	free(t);
	expect_fail("huge range", "{% for i in range(1000000000) %}x{% endfor %}", "too large");
	expect_fail("endless output", "{% for i in range(100000) %}{% for k in range(100) %}{{ 'xxxxxxxxxx' * 10 }}"
	            "{% endfor %}{% endfor %}", "exceeds");
	expect_fail("string doubling", "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
	            "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s | length }}", "longer than");
	expect_fail("too many steps", "{% for i in range(3000) %}{% for k in range(3000) %}{{ '' }}{% endfor %}{% endfor %}",
	            "steps");
	expect_fail("repeat bomb", "{{ 'x' * 100000000000 }}", "longer than");
	expect_fail("deeply nested list printed", "{% set ns = namespace(l=[]) %}{% for i in range(5000) %}"
	            "{% set ns.l = [ns.l] %}{% endfor %}{{ ns.l }}", "nested too deeply");
	expect_fail("deeply nested list compared", "{% set ns = namespace(l=[], m=[]) %}{% for i in range(5000) %}"
	            "{% set ns.l = [ns.l] %}{% set ns.m = [ns.m] %}{% endfor %}{{ ns.l == ns.m }}", "nested too deeply");
	expect_fail("range near the integer limits", "{{ range(-9223372036854775807, 9223372036854775807) | length }}",
	            "too large");
	expect_fail("int of infinity", "{{ (1e308 * 10) | int }}", "does not fit");
	struct lmu_err e = {{0}};
	ok(chat_template_check("{% for x in y %}{{ x | bogus }}{% endfor %}", &e) == 0,
	   "check: an unknown filter is a render-time error, the template parses");
	ok(chat_template_check("{% for x in y %}", &e) == -1 && strstr(e.msg, "endfor"),
	   "check: an unclosed loop does not parse");
	ok(!chat_render(NULL, NULL, 0, false, NULL, NULL, &e), "render: a NULL template is an error");
}

/* Small semantics checks where the answer is plain Jinja/Python. */
static void test_semantics(void)
{
	static const struct {
		const char *tmpl, *want;
	} t[] = {
		{"{{ messages[0].content | trim }}|{{ messages | length }}", "hi|1"},
		{"{{ 'a,b,,c'.split(',') }}", "['a', 'b', '', 'c']"},
		{"{{ ' a  b '.split() | join('-') }}", "a-b"},
		{"{{ 'a b  c '.split(none, 1) }}{{ ' a b '.split(maxsplit=0) }}{{ 'a,b,c'.split(',', 1) }}{{ ''.split() }}"
		 "{{ ''.split(',') }}{{ '  '.split(none, 0) }}", "['a', 'b  c ']['a b ']['a', 'b,c'][]['']"
		 "[]"},
		{"{{ [1, 2.5, none, true, 'x'] }}", "[1, 2.5, None, True, 'x']"},
		{"{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 0.1 + 0.2 }}", "3 -4 2 3.5 1024 0.30000000000000004"},
		{"{{ 1e20 }} {{ 1e-5 }} {{ 1.5e16 }} {{ 123.0 }}", "1e+20 1e-05 1.5e+16 123.0"},
		{"{{ 'héllo'[1] }}{{ 'héllo'[::-1] }}{{ 'héllo' | length }}", "éolléh5"},
		{"{% set ns = namespace(n=0) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}", "10"},
		{"{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + 10 %}{{ x }},{% endfor %}{{ x }}", "11,11,1"},
		{"{% for i in range(10) if i is odd %}{{ loop.index }}/{{ loop.length }}{{ ',' if not loop.last }}{% endfor %}",
		 "1/5,2/5,3/5,4/5,5/5"},
		{"{% for i in range(5) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}", "02"},
		{"{% for k, v in {'a': 1, 'b': [2]} | items %}{{ k }}={{ v }};{% endfor %}", "a=1;b=[2];"},
		{"{{ {'b': 'é\\n', 'a': [1, none]} | tojson }}", "{\"b\": \"é\\n\", \"a\": [1, null]}"},
		{"{{ {'a': [1, {}]} | tojson(indent=2) }}", "{\n  \"a\": [\n    1,\n    {}\n  ]\n}"},
		{"{{ x | default('d') }}{{ '' | default('e', true) }}{{ none is none }}{{ y is defined }}", "deTrueFalse"},
		{"{{ 'a' ~ 1 ~ none ~ undefined_thing }}", "a1None"},
		{"{{ 'a' in 'cat' }}{{ 2 not in [1, 3] }}{{ 'k' in {'k': 1} }}", "TrueTrueTrue"},
		{"{{ [3, 1, 2][1:] }}{{ [3, 1, 2][-1] }}{{ [3, 1, 2][5] }}", "[1, 2]2"},
		{"{{ 1 < 2 < 3 }}{{ 3 > 2 > 2 }}{{ 'b' > 'a' }}", "TrueFalseTrue"},
		{"{{ 'x' if false }}|{{ 'y' if false else 'z' }}", "|z"},
		{"{{ messages | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }}", "[' hi ']"},
		{"{{ 'Hello World'.startswith('Hell') }}{{ 'abc'.endswith(('x', 'c')) }}{{ 'aXbX'.replace('X', '-') }}",
		 "TrueTruea-b-"},
		{"{{ \"it's\" }} {{ ['it\\'s'] }} {{ '\\u00e9\\x41\\101' }}", "it's [\"it's\"] éAA"},
		{"a  \n  {% if true %}  \n b {% endif %}\n c  {#- x #}  d \n", "a  \n  \n b  c  d "},
		{"{%- set a = 1 -%}\n  {{- a -}}  \n{%+ if true %}x{% endif +%}\ny", "1x\ny"},
		{"a\n  {%+ if true %}x{% endif %}\n  {%- if true +%}\ny{% endif %}", "a\n  x\ny"},
		{"{% set t %}{{ 'in' }}side{% endset %}[{{ t }}]", "[inside]"},
		{"{% generation %}{{ 'gen' }}{% endgeneration %}", "gen"},
		{"a {% raw %}{{ x }}\n  {% if %}{% endraw %}\nb|a\n  {% raw -%}  x  \n  {%- endraw %} b|"
		 "{%- raw %} y {% endraw -%}  \n z|x\n   {% raw %}r\n   {% endraw %}\n   q",
		 "a {{ x }}\n  {% if %}b|a\nx b| y z|x\nr\n   q"},
		{"{% set s = \"hello they're 1st-class (x) [y]z  ABC\\tdEF\" %}{{ s | title }}|{{ s.title() }}|{{ s | capitalize }}",
		 "Hello They're 1st-Class (X) [Y]z  Abc\tDef|Hello They'Re 1St-Class (X) [Y]Z  Abc\tDef|"
		 "Hello they're 1st-class (x) [y]z  abc\tdef"},
		{"{% set t | upper | replace('A', '4') %}abc{% endset %}{{ t }}", "4BC"},
		{"{% set x = 1 %}{% filter trim %}{% set x = 2 %}{{ x }}{% endfilter %}{{ x }}|{% set b %}{% set x = 3 %}"
		 "{{ x }}{% endset %}{{ b }}{{ x }}|{% generation %}{% set x = 4 %}{{ x }}{% endgeneration %}{{ x }}|"
		 "{% set ns = namespace(a=1) %}{% filter trim %}{% set ns.a = 2 %}{% endfilter %}{{ ns.a }}", "21|31|41|2"},
		{"<{% filter upper | replace('B', '8') %}ab{{ 'c' }}{% filter trim %}  d  {% endfilter %}{% endfilter %}>",
		 "<A8CD>"},
		{"{% macro f(a, b='B', c=none) -%}\n  [{{ a }}{{ b }}{{ c }}{{ messages | length }}]\n{%- endmacro %}"
		 "{{ f(1) }}{{ f(2, c=3) }}{% set g = f %}{{ g('x', 'y') | length }}", "[1BNone1][2B31]9"},
		{"{% macro fact(n) %}{{ 1 if n <= 1 else n * fact(n - 1) | int }}{% endmacro %}{{ fact(5) }}", "120"},
		{"{{ bos_token }}{{ eos_token }}{{ tools }}{{ add_generation_prompt }}", "<s></s>NoneTrue"},
		{"{{ strftime_now('%Y') | length }}{{ strftime_now is defined }}", "4True"},
		{"{{ [1, 2, 3][1::9223372036854775807] }}{{ [1, 2, 3][::-9223372036854775807] }}{{ 'abc'[::-2] }}"
		 "{{ range(9223372036854775806, 9223372036854775807) | list }}{{ (-9223372036854775807 - 1) is divisibleby(-1) }}",
		 "[2][3]ca[9223372036854775806]True"},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		struct lmu_err e = {{0}};
		struct chat_msg c[] = {M("user", " hi ")};
		char *r = chat_render(t[i].tmpl, c, 1, true, "<s>", "</s>", &e);
		ok(r && !strcmp(r, t[i].want), "semantics %zu", i);
		if (r && strcmp(r, t[i].want))
			show_diff(r, t[i].want);
		else if (!r)
			printf("#   error: %s\n", e.msg);
		free(r);
	}
}

/* Mutated copies of the real templates (bytes flipped, cut, duplicated):
 * each must render or fail with a message, never crash or hang.  Run
 * under `make SAN=1 test` this is a small deterministic fuzzer. */
static void test_mutations(void)
{
	static const char *const names[] = {"smollm2", "qwen2.5", "gemma3", "llama3.1", "llama2", "synthetic"};
	static const char alphabet[] = "{}%#-+'\"()[]|.,:=~ \n\\abxyz019";
	unsigned long long seed = 42;
	int crashes = 0, rendered = 0, failed = 0;
	struct chat_msg c[] = {M("system", "s"), M("user", "u {{ x }}"), M("assistant", "a"), M("user", "")};
	for (size_t t = 0; t < sizeof names / sizeof *names; t++) {
		char path[256];
		snprintf(path, sizeof path, FIXDIR "%s.jinja", names[t]);
		size_t len;
		char *orig = slurp(path, &len);
		if (!orig)
			continue;
		char *buf = xmalloc(2 * len + 2);
		for (int k = 0; k < 300; k++) {
			memcpy(buf, orig, len + 1);
			size_t n = len;
			for (int m = 0; m < 1 + k % 4; m++) {
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				size_t at = (size_t)(seed >> 33) % (n ? n : 1);
				switch ((seed >> 20) % 4) {
				case 0: buf[at] = alphabet[(seed >> 40) % (sizeof alphabet - 1)]; break;
				case 1: n = at; buf[n] = 0; break;                       /* cut */
				case 2: memmove(buf + at, buf + at + 1, n - at); n--; break; /* delete */
				default: /* duplicate a span */
					if (n + 16 < 2 * len) {
						memmove(buf + at + 16, buf + at, n - at + 1);
						n += 16;
					}
				}
			}
			struct lmu_err e = {{0}};
			char *r = chat_render(buf, c, 4, k & 1, "<s>", "</s>", &e);
			if (r)
				rendered++;
			else if (e.msg[0])
				failed++;
			else
				crashes++;
			free(r);
		}
		free(buf);
		free(orig);
	}
	ok(crashes == 0 && rendered + failed == 1800,
	   "mutations: 1800 mutated templates: %d rendered, %d failed with a message", rendered, failed);
}

/* test-chat --render TEMPLATES MESSAGES: the driver of tests/ref/chat-fuzz.py.
 * TEMPLATES holds templates separated by 0x1e; each is rendered without
 * and with the generation prompt, one line each: "OK text" (newlines and
 * backslashes escaped) or "ERR message". */
static int render_mode(const char *tpath, const char *mpath)
{
	size_t mlen, n;
	char *all = slurp(tpath, NULL), *js = slurp(mpath, &mlen);
	struct lmu_err e = {{0}};
	struct chat_msg *m = all && js ? chat_parse_json(js, mlen, &n, &e) : NULL;
	if (!m) {
		fprintf(stderr, "test-chat: %s\n", all && js ? e.msg : "cannot read the input files");
		return 1;
	}
	for (char *t = all; t;) {
		char *sep = strchr(t, '\x1e');
		if (sep)
			*sep = 0;
		for (int agp = 0; agp < 2; agp++) {
			memset(&e, 0, sizeof e);
			char *r = chat_render(t, m, n, agp, "<s>", "</s>", &e);
			if (!r) {
				printf("ERR %s\n", e.msg);
				continue;
			}
			fputs("OK ", stdout);
			for (char *p = r; *p; p++)
				fputs(*p == '\n' ? "\\n" : *p == '\\' ? "\\\\" : (char[]){*p, 0}, stdout);
			putchar('\n');
			free(r);
		}
		t = sep ? sep + 1 : NULL;
	}
	chat_msgs_free(m, n);
	free(all);
	free(js);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--render"))
		return render_mode(argv[2], argv[3]);
	static const char *const fixtures[][2] = {
		{"smollm2", "chatml"}, {"qwen2.5", "chatml"}, {"gemma3", "gemma"}, {"llama3", "llama3"},
		{"llama3.1", "llama3"}, {"llama2", "llama2"}, {"mistral", "mistral"}, {"mistral-nemo", "mistral"},
		{"qwen3", "chatml"}, {"deepseek-r1-distill", "unknown"}, {"phi3.5", "unknown"}, {"synthetic", "unknown"},
	};
	for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
		run_fixture(fixtures[i][0]);
		check_family(fixtures[i][0], fixtures[i][1]);
	}
	ok(!strcmp(chat_template_family(NULL), "unknown"), "family of no template is unknown");
	check_gguf_template();
	/* the built-in Gemma 3 template renders what Google's does */
	run_cases("gemma3", chat_builtin_template("gemma3"));
	ok(!chat_builtin_template("llama") && !chat_builtin_template(""), "no built-in template for llama");
	test_append();
	test_json();
	test_hostile();
	test_semantics();
	test_mutations();
	return tap_done();
}
