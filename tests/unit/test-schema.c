/* test-schema - the JSON Schema machine (sample/schema.h) byte by byte:
 * which schemas compile and what the others are told; texts accepted,
 * refused, complete or not; then random walks over the schemas of
 * tests/fixtures/schema/: every byte chosen at random among those the
 * machine takes, then closed by bytes that each lower the distance by one,
 * which must reach a complete value in exactly the distance it promised.
 * Each value must parse (libjq); with -w DIR they are also written to
 * DIR/NAME.txt, one per line, for tests/schema-validate.t to check with
 * Python's jsonschema. */
#include <jv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sample/schema.h"
#include "jsonfile.h"

#include "tap.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next_rand(void)
{
	return tap_xorshift(&rng);
}

static struct schema *compile(const char *text, struct lmu_err *e)
{
	return schema_parse(text, strlen(text), e);
}

/* Run text through the machine: -1 refused at some byte, 0 taken but
 * incomplete, 1 complete (distance 0). */
static int run(const struct schema *s, const char *text, size_t len)
{
	const struct byte_machine *m = schema_machine(s);
	unsigned char *st = calloc(1, m->state_size);
	int r;
	m->start(m->ctx, st);
	for (size_t i = 0; i < len; i++)
		if (!m->step(m->ctx, st, (unsigned char)text[i])) {
			free(st);
			return -1;
		}
	r = m->distance(m->ctx, st) == 0;
	free(st);
	return r;
}

static void compiles(const char *schema, const char *want_error)
{
	struct lmu_err e = {{0}};
	struct schema *s = compile(schema, &e);
	if (!want_error) {
		ok(s != NULL, "compiles: %s", schema);
		if (!s)
			printf("# %s\n", e.msg);
	} else {
		ok(!s && strstr(e.msg, want_error), "refused (%s): %s", want_error, schema);
		if (s || !strstr(e.msg, want_error))
			printf("# got: %s\n", s ? "(compiled)" : e.msg);
	}
	schema_free(s);
}

struct case_ {
	const char *text;
	int want;  /* -1 refused, 0 incomplete, 1 complete */
};

static void texts(const char *schema, const struct case_ *cases)
{
	struct lmu_err e = {{0}};
	struct schema *s = compile(schema, &e);
	if (!s) {
		ok(0, "compiles: %s (%s)", schema, e.msg);
		return;
	}
	for (const struct case_ *c = cases; c->text; c++) {
		int got = run(s, c->text, strlen(c->text));
		static const char *const what[] = {"refused", "incomplete", "complete"};
		jv shown = jv_dump_string(jv_string(c->text), 0);  /* on one line */
		ok(got == c->want, "%s: %s is %s", schema, jv_string_value(shown), what[c->want + 1]);
		jv_free(shown);
		if (got != c->want)
			printf("# got %s\n", what[got + 1]);
	}
	schema_free(s);
}

static void compile_cases(void)
{
	compiles("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}}, \"required\": [\"a\"]}", NULL);
	compiles("true", NULL);
	compiles("{}", NULL);
	compiles("{\"title\": \"x\", \"description\": \"y\", \"format\": \"date\", \"type\": \"string\", \"x-mine\": 1}", NULL);
	compiles("{\"$ref\": \"#/$defs/a\", \"$defs\": {\"a\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/a\"}}}}", NULL);
	compiles("{\"uniqueItems\": false, \"type\": \"array\"}", NULL);
	compiles("false", "no value satisfies it");
	compiles("[1, 2]", "a schema is an object or true");
	compiles("{\"type\": \"strin\"}", "type must be");
	compiles("{\"type\": \"string\", \"pattern\": \"^a\"}", "pattern is not supported");
	compiles("{\"properties\": {\"n\": {\"minimum\": 0}}}", "/properties/n: minimum is not supported");
	compiles("{\"required\": [\"a\"], \"properties\": {\"b\": true}}", "required \"a\" is not among the properties");
	compiles("{\"required\": \"a\"}", "required must be a list");
	compiles("{\"minLength\": -1}", "minLength must be a whole number");
	compiles("{\"minLength\": 1.5}", "minLength must be a whole number");
	compiles("{\"type\": \"string\", \"maxLength\": 21e+90}", NULL);  /* no limit in effect (fuzz-schema: a cast was undefined) */
	compiles("{\"type\": \"object\" \"required\": []}", "not JSON: byte 18: expected ',' or '}'");  /* the strict scanner (libjq 1.6 leaked here) */
	compiles("{\"minItems\": 3, \"maxItems\": 2}", "a minimum above its maximum");
	compiles("{\"enum\": []}", "enum must be a list of values");
	compiles("{\"type\": \"string\", \"enum\": [1, 2]}", "no value of enum/const has the type");
	compiles("{\"$ref\": \"#/nowhere\"}", "names nothing");
	compiles("{\"$ref\": \"other.json#/a\"}", "only references into the same document");
	compiles("{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}", "can both start with");
	compiles("{\"allOf\": [{\"type\": \"integer\"}, {\"type\": \"number\"}]}", "allOf is supported with one schema only");
	compiles("{\"$ref\": \"#\", \"type\": \"object\"}", "beside other keywords");
	compiles("{\"$ref\": \"#/$defs/a\", \"$defs\": {\"a\": {\"type\": \"object\", \"properties\": {\"a\": {\"$ref\": \"#/$defs/a\"}}, \"required\": [\"a\"]}}}",
		 "no finite value");
	compiles("{\"type\": \"array\", \"items\": [{\"type\": \"string\"}]}", "tuples");
	compiles("{\"properties\": {\"a\": false}, \"required\": [\"a\"]}", "its schema is false");
	compiles("{\"type\": \"object\"", "not JSON");
	compiles("{\"a\": 1} {}", "not JSON");
}

static void text_cases(void)
{
	texts("{\"type\": \"object\", \"properties\": {\"a\": {\"type\": \"integer\"}, \"b\": {\"type\": \"string\"}}, \"required\": [\"b\"]}",
	      (const struct case_[]){
		      {"{\"a\": 1, \"b\": \"x\"}", 1},
		      {"{\"b\":\"\"}", 1},
		      {" {\n\t\"b\" : \"x\" } ", -1},  /* nothing after the value */
		      {" {\n\t\"b\" : \"x\" }", 1},
		      {"\n {\"b\":\"x\"}", 1},
		      {"{\"a\": 1}", -1},             /* b is required */
		      {"{\"b\": \"x\", \"a\": 1}", -1},  /* the schema's order */
		      {"{\"a\": 1.5", -1},             /* an integer */
		      {"{\"a\": -0, \"b\": \"\\u00e9\\n\"}", 1},
		      {"{\"a\": 01", -1},
		      {"{\"a\": 1, \"b\": \"x\", \"c\": 2}", -1},  /* only the properties */
		      {"{\"a\": 12", 0},
		      {"{\"b\": \"\\ud800\"}", -1},    /* a lone surrogate */
		      {"{\"b\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", 1},
		      {"{\"b\": \"\xc0\xaf\"}", -1},   /* overlong */
		      {"{\"b\": \"\xed\xa0\x80\"}", -1},  /* a surrogate in UTF-8 */
		      {"{\"b\": \"a\tb\"}", -1},       /* a raw control byte */
		      {"{\"b\": \"x\"}}", -1},
		      {"{  \"b\": \"x\"}", -1},        /* a gap: one space, */
		      {"{\n\t  \"b\": \"x\"\n}", 1},  /* or a newline and indentation */
		      {"{\n\n\"b\": \"x\"}", -1},     /* not two newlines */
		      {"{\r\n\"b\": \"x\"}", -1},
		      {"{\t\"b\": \"x\"}", -1},
		      {"{\n                    \"b\": \"x\"}", 1},   /* 20 spaces of indentation */
		      {"{\n                     \"b\": \"x\"}", -1},  /* 21 */
		      {NULL, 0},
	      });
	texts("{\"type\": \"number\"}", (const struct case_[]){
		{"-12.5e+3", 1}, {"0.25", 1}, {"1E9", 1}, {"-", 0}, {"1.", 0}, {"1e", 0}, {"1e+", 0},
		{".5", -1}, {"+1", -1}, {"1e123", -1}, {"12345678901234567", -1}, {"1234567890123456", 1}, {NULL, 0},
	});
	texts("{\"enum\": [\"a\", \"ab\", 1, 12, null, {\"k\": [true]}]}", (const struct case_[]){
		{"\"a\"", 1}, {"\"ab\"", 1}, {"1", 1}, {"12", 1}, {"123", -1}, {"null", 1}, {"{\"k\":[true]}", 1},
		{"{\"k\": [true]}", -1},  /* values as compact JSON */
		{"\"b\"", -1}, {"nul", 0}, {"\"a", 0}, {NULL, 0},
	});
	texts("{\"type\": \"array\", \"items\": {\"type\": \"boolean\"}, \"minItems\": 1, \"maxItems\": 2}", (const struct case_[]){
		{"[]", -1}, {"[true]", 1}, {"[true, false]", 1}, {"[true,false,true]", -1}, {"[ true ]", 1}, {"[tru", 0},
		{NULL, 0},
	});
	texts("{\"type\": \"string\", \"minLength\": 2, \"maxLength\": 3}", (const struct case_[]){
		{"\"a\"", -1}, {"\"ab\"", 1}, {"\"\\u00e9\xc3\xa9\"", 1}, {"\"abcd\"", -1}, {"\"\\n\\t\\\\\"", 1}, {NULL, 0},
	});
	texts("{\"type\": \"object\", \"additionalProperties\": {\"type\": \"integer\"}}", (const struct case_[]){
		{"{}", 1}, {"{\"x\": 1, \"y z\": -2}", 1}, {"{\"x\": \"1\"}", -1}, {"{\"x\"}", -1}, {NULL, 0},
	});
	texts("{\"type\": \"object\", \"additionalProperties\": false}", (const struct case_[]){
		{"{}", 1}, {"{\"x\": 1}", -1}, {NULL, 0},
	});
	texts("{\"type\": [\"string\", \"null\"]}", (const struct case_[]){
		{"null", 1}, {"\"x\"", 1}, {"1", -1}, {"true", -1}, {NULL, 0},
	});
	texts("{\"anyOf\": [{\"type\": \"integer\"}, {\"type\": \"array\", \"items\": {\"const\": \"x\"}}]}", (const struct case_[]){
		{"7", 1}, {"[\"x\",\"x\"]", 1}, {"[\"y\"]", -1}, {"7.5", -1}, {NULL, 0},
	});
	texts("{\"$ref\": \"#/$defs/t\", \"$defs\": {\"t\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/t\"}}}}",
	      (const struct case_[]){{"[[],[[]]]", 1}, {"[[1]]", -1}, {NULL, 0}});
	texts("true", (const struct case_[]){
		{"{\"a\": [1, {\"b\": null}], \"c\": \"d\"}", 1}, {"[1, 2.5e3, true, false, null, \"\"]", 1}, {"\"x\"", 1},
		{"{\"a\" 1}", -1}, {"[1,]", -1}, {"{,}", -1}, {NULL, 0},
	});
	/* nesting beyond SCHEMA_MAX_DEPTH is refused, so the state stays bounded */
	char deep[80];
	memset(deep, '[', 40);
	deep[40] = 0;
	struct lmu_err e = {{0}};
	struct schema *any = compile("true", &e);
	ok(run(any, deep, 32) == 0 && run(any, deep, 33) == -1, "nesting stops at %d", SCHEMA_MAX_DEPTH);
	schema_free(any);
	struct schema *cmd = schema_json_cmd();
	ok(run(cmd, "{\"cmd\": \"ls -l\"}", 16) == 1 && run(cmd, "{\"cmd\": \"\"}", 11) == -1, "json-cmd: a non-empty cmd");
	ok(schema_min_bytes(cmd) == 11, "json-cmd: the shortest output is {\"cmd\":\"x\"}, 11 bytes");
	schema_free(cmd);
	struct schema *obj = schema_json_object();
	ok(run(obj, "{\"a\": [1]}", 10) == 1 && run(obj, "[1]", 3) == -1, "json: any object, nothing else");
	schema_free(obj);
}

/* Random walks: bytes at random among those taken, then the shortest
 * completion, one distance-lowering byte at a time. */
static void walk(const char *dir, const char *name, FILE *out, int runs)
{
	char path[1024];
	struct lmu_err e = {{0}};
	snprintf(path, sizeof path, "%s/%s.json", dir, name);
	size_t len;
	char *text = file_read(path, 1 << 20, &len, &e);
	struct schema *s = text ? schema_parse(text, len, &e) : NULL;
	free(text);
	if (!s) {
		ok(0, "%s compiles: %s", path, e.msg);
		return;
	}
	const struct byte_machine *m = schema_machine(s);
	unsigned char *st = calloc(1, m->state_size), *try = calloc(1, m->state_size);
	char buf[8192];
	int parsed = 0, promises = 0, stuck = 0;
	for (int r = 0; r < runs; r++) {
		size_t n = 0, target = next_rand() % 400;
		memset(st, 0, m->state_size);
		m->start(m->ctx, st);
		/* random bytes: a walk of the machine */
		while (n < target) {
			unsigned char ok_bytes[256];
			int k = 0;
			for (int b = 0; b < 256; b++) {
				memcpy(try, st, m->len(m->ctx, st));
				if (m->step(m->ctx, try, (unsigned char)b))
					ok_bytes[k++] = (unsigned char)b;
			}
			if (k == 0)
				break;  /* complete: nothing may follow */
			unsigned char b = ok_bytes[next_rand() % (unsigned)k];
			if (!m->step(m->ctx, st, b)) {
				stuck++;
				break;
			}
			buf[n++] = (char)b;
		}
		/* then close: each step one byte lower */
		uint32_t d = m->distance(m->ctx, st), promised = d;
		size_t closed_at = n;
		while (d > 0 && n < sizeof buf - 1) {
			int found = 0;
			for (int b = 0; b < 256 && !found; b++) {
				memcpy(try, st, m->len(m->ctx, st));
				if (m->step(m->ctx, try, (unsigned char)b) && m->distance(m->ctx, try) == d - 1) {
					memcpy(st, try, m->len(m->ctx, try));
					buf[n++] = (char)b;
					found = 1;
				}
			}
			if (!found)
				break;
			d--;
		}
		promises += d == 0 && n - closed_at == promised;
		if (d != 0)
			printf("# %s: no byte lowers distance %u after: %.*s\n", name, d, (int)n, buf);
		jv v = jv_parse_sized(buf, (int)n);
		if (jv_is_valid(v))
			parsed++;
		else if (parsed == r)
			printf("# %s: not JSON: %.*s\n", name, (int)n, buf);
		jv_free(v);
		if (out) {
			/* one per line: the bytes as a JSON string, so that raw
			 * newlines in the value's gaps survive */
			jv line = jv_dump_string(jv_string_sized(buf, (int)n), 0);
			fprintf(out, "%s\n", jv_string_value(line));
			jv_free(line);
		}
	}
	ok(stuck == 0 && promises == runs && parsed == runs,
	   "%s: %d random walks closed in the distance promised (%d) and parse (%d)", name, runs, promises, parsed);
	free(st);
	free(try);
	schema_free(s);
}

static const char *const fixtures[] = {
	"person", "weather", "tags", "user", "points", "shape", "counts", "recipe", "tree", "answer", NULL,
};

int main(int argc, char **argv)
{
	const char *wdir = argc == 3 && !strcmp(argv[1], "-w") ? argv[2] : NULL;
	const char *dir = "tests/fixtures/schema";
	compile_cases();
	text_cases();
	for (const char *const *f = fixtures; *f; f++) {
		FILE *out = NULL;
		if (wdir) {
			char path[1024];
			snprintf(path, sizeof path, "%s/%s.txt", wdir, *f);
			if (!(out = fopen(path, "w"))) {
				perror(path);
				return 2;
			}
		}
		walk(dir, *f, out, 200);
		if (out)
			fclose(out);
	}
	return tap_done();
}
