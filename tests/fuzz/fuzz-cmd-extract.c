/* fuzz-cmd-extract - libFuzzer target for cmd-extract's readers and judge:
 * extraction from a model's answer (sample/extract.c), the shell reader
 * (sample/shellparse.c), the rule table (sample/risk.c), the strings of
 * interpreter code (sample/codestr.c) and the request patterns.
 *
 *   make fuzz-cmd-extract FUZZ_TIME=600   seeded by the commands of
 *                                         tests/fixtures/cmd-risk.tsv
 *
 * The input is judged as a command line, as an answer (the command found in
 * it judged in turn), as interpreter code and as a request; the verdict
 * must be well formed.  A crash, a sanitizer report, a leak, a hang or a
 * malformed verdict is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../sample/codestr.h"
#include "../../sample/extract.h"
#include "../../sample/risk.h"
#include "../../sample/shellparse.h"

static void check(const struct verdict *v)
{
	enum risk_level top = RISK_SAFE;
	for (size_t i = 0; i < v->n; i++) {
		const char *r = v->reason[i];
		enum risk_level l = !strncmp(r, "critical: ", 10) ? RISK_CRITICAL : !strncmp(r, "high: ", 6) ? RISK_HIGH
			: !strncmp(r, "moderate: ", 10) ? RISK_MODERATE : RISK_SAFE;
		if (l == RISK_SAFE)
			abort();  /* every reason names its level */
		if (l > top)
			top = l;
	}
	if (top != v->level)
		abort();  /* the verdict is the highest level of its reasons */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct verdict v, req;
	struct lmu_err e = {{0}};
	const char *source = "";
	size_t n;

	memcpy(text, data, size);
	text[size] = '\0';

	risk_judge_command(text, size, &v);
	check(&v);
	risk_judge_request(text, &req);
	check(&req);
	risk_judge_scope(text, &req, text, size, &v);
	check(&v);
	verdict_free(&v);
	verdict_free(&req);

	char *cmd = extract_command(text, size, &source, &e);
	if (cmd) {
		risk_judge_command(cmd, strlen(cmd), &v);
		check(&v);
		verdict_free(&v);
		free(cmd);
	} else if (!e.msg[0]) {
		abort();  /* no command and no reason why */
	}

	if (strlen(text) == size) {
		char **s = code_strings(text, &n);
		if (n > CODESTR_MAX_STRINGS)
			abort();
		for (size_t i = 0; i < n; i++)
			if (strlen(s[i]) > CODESTR_MAX_VALUE)
				abort();
		code_strings_free(s, n);
	}
	free(text);
	return 0;
}
