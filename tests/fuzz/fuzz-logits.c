/* fuzz-logits - libFuzzer target for the streams' readers (common/stream.c)
 * as lm-sample uses them: logits frames, binary and text, one after another
 * until the end or an error, each sampled (sample/sampler.c) greedily and
 * with every filter on; and the same bytes read as a token stream.
 *
 *   make fuzz-logits FUZZ_TIME=600   seeded by frames written here
 *
 * A frame must be refused with a message or read whole: its vocabulary in
 * range, no NaN score, a sampled id inside it.  A crash, a sanitizer
 * report, a leak, a hang or a broken promise is a bug. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "../../sample/sampler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logits_frame f = {0};
	struct tok_batch b = {0};
	struct lmu_err e = {{0}};
	struct sampler_params greedy, filtered;
	struct sampler s1, s2;
	FILE *in;
	int r;

	if (size == 0)
		return 0;
	sampler_defaults(&greedy);
	greedy.temperature = 0;
	sampler_defaults(&filtered);
	filtered.temperature = 0.8;
	filtered.top_k = 5;
	filtered.top_p = 0.9;
	filtered.min_p = 0.05;
	filtered.repeat_penalty = 1.3;
	filtered.presence_penalty = 0.5;
	filtered.frequency_penalty = 0.5;
	filtered.repeat_last_n = 8;
	sampler_init(&s1, &greedy);
	sampler_init(&s2, &filtered);

	in = fmemopen((void *)data, size, "r");
	while ((r = logits_read(in, &f, &e)) == 1) {
		if (f.n_vocab == 0 || f.n_vocab > LOGITS_MAX_VOCAB)
			abort();
		for (uint32_t i = 0; i < f.n_vocab; i++)
			if (isnan(f.scores[i]))
				abort();  /* lm-logits(5): NaN is refused */
		int32_t a = sampler_sample(&s1, f.scores, f.n_vocab);
		int32_t c = sampler_sample(&s2, f.scores, f.n_vocab);
		if (a >= (int32_t)f.n_vocab || c >= (int32_t)f.n_vocab)
			abort();
		if (c >= 0)
			sampler_accept(&s2, c);
	}
	if (r < 0 && !e.msg[0])
		abort();  /* refused without a message */
	fclose(in);

	in = fmemopen((void *)data, size, "r");
	enum tok_read_status st;
	while ((st = tok_read(in, &b, 1000, &e)) != TOK_EOF && st != TOK_ERROR)
		for (size_t i = 0; i < b.n; i++)
			if (b.ids[i] < 0 || b.ids[i] >= 1000)
				abort();
	fclose(in);

	logits_frame_free(&f);
	tok_batch_free(&b);
	sampler_free(&s1);
	sampler_free(&s2);
	return 0;
}
