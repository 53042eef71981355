/* test-logits: the logits stream (lm-logits(5)): binary and text frames
 * written and read back, and hostile frames refused with the offset. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "stream.h"
#include "tap.h"

/* Read one frame from the given bytes; return logits_read's result. */
static int read_bytes(const void *p, size_t n, struct logits_frame *f, struct lmu_err *e)
{
	FILE *in = fmemopen((void *)p, n, "r");
	int r = logits_read(in, f, e);
	fclose(in);
	return r;
}

/* Whether f's scores are what its frame says and nothing else: for a
 * top-k frame, -inf at every id it does not list (want: the scores it
 * was written from, or NULL for a frame that lists every id). */
static bool only_listed(const struct logits_frame *f, const float *want)
{
	for (uint32_t i = 0; i < f->n_vocab; i++) {
		bool in = false;
		for (uint32_t j = 0; j < f->k && !in; j++)
			in = f->ids[j] == i;
		if (in ? want && f->scores[i] != want[i] : !(isinf(f->scores[i]) && f->scores[i] < 0))
			return false;
	}
	return true;
}

/* test-logits -w DIR: the fuzzer's seeds (make fuzz-logits): streams of
 * good frames, binary and text, untagged and tagged, and broken ones. */
static int write_seeds(const char *dir)
{
	static const float scores[6] = {0.5f, -1.25f, 3.0f, 1e-7f, -INFINITY, 3.0f};
	static const char *const text[] = {
		"pos=1 token=2 vocab=5 1:2.5 3:9\n",
		"@3 pos=1 token=2 vocab=5 1:2.5\n",
		"pos=1 token=-1 vocab=6 0:-inf 5:1e30\n",
		"1 2 3\n!reset\n# c\n\n4\n",
		"pos=1 token=2 vocab=5 9:1.0\n",
	};
	char path[4096];
	for (int k = 0; k < 4; k++) {
		snprintf(path, sizeof path, "%s/frames%d", dir, k);
		FILE *out = fopen(path, "wb");
		if (!out)
			return 1;
		logits_write(out, k & 1 ? 5 : -1, 6, 2, 7, scores);
		logits_write_text(out, k & 1 ? 5 : -1, 6, 3, 8, scores, (uint32_t)(k + 1));
		if (k > 1)
			logits_write(out, -1, 1, 0, 0, scores);
		fclose(out);
	}
	for (size_t k = 0; k < sizeof text / sizeof *text; k++) {
		snprintf(path, sizeof path, "%s/text%zu", dir, k);
		FILE *out = fopen(path, "wb");
		if (!out)
			return 1;
		fputs(text[k], out);
		fclose(out);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "-w")) {
		mkdir(argv[2], 0777);
		return write_seeds(argv[2]);
	}
	float scores[5] = {0.5f, -1.25f, 3.0f, 1e-7f, -INFINITY};
	struct logits_frame f = {0};
	struct lmu_err e = {{0}};
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	lmu_init(argc, argv);

	out = open_memstream(&buf, &len);
	ok(logits_write(out, -1, 5, 2, 7, scores) == 1, "write a binary frame");
	ok(logits_write_text(out, -1, 5, 3, 8, scores, 3) == 1, "write a text frame of the 3 best");
	ok(logits_write(out, -1, 5, 4, 9, scores) == 1, "write a second binary frame after it");
	fclose(out);
	ok(len == 24 + 20 + strlen("pos=8 token=3 vocab=5 2:3 0:0.5 3:1.00000001e-07\n") + 24 + 20,
	   "frames follow with no padding");
	ok(memcmp(buf, "\x89LGT\x01\0\0\0\x05\0\0\0\x02\0\0\0\x07\0\0\0\0\0\0\0", 24) == 0,
	   "binary header: magic, version 1, n_vocab, token, pos, little-endian");
	ok(strstr(buf + 44, "pos=8 token=3 vocab=5 2:3 0:0.5 3:1.00000001e-07\n") == buf + 44,
	   "text frame: best first, 9 significant digits");

	FILE *in = fmemopen(buf, len, "r");
	int r1 = logits_read(in, &f, &e);
	ok(r1 == 1 && !f.text && f.n_vocab == 5 && f.token == 2 && f.pos == 7 &&
	   memcmp(f.scores, scores, sizeof scores) == 0, "binary frame reads back exactly");
	int r2 = logits_read(in, &f, &e);
	ok(r2 == 1 && f.text && f.token == 3 && f.pos == 8 && f.scores[2] == 3.0f && f.scores[0] == 0.5f &&
	   f.scores[3] == 1e-7f && isinf(f.scores[1]) && f.scores[1] < 0, "text frame reads back; unlisted ids are -inf");
	int r3 = logits_read(in, &f, &e);
	ok(r3 == 1 && !f.text && f.token == 4, "binary frame after a text frame");
	ok(logits_read(in, &f, &e) == 0, "clean end of stream");
	fclose(in);

	unsigned char h[24];
	memcpy(h, buf, 24);
	h[3] = 'X';
	ok(read_bytes(h, 24, &f, &e) == -1 && strstr(e.msg, "bad frame magic"), "bad magic refused");
	memcpy(h, buf, 24);
	h[4] = 4;
	ok(read_bytes(h, 24, &f, &e) == -1 && strstr(e.msg, "unsupported frame version 4"), "unknown version refused");
	memcpy(h, buf, 24);
	h[11] = 0x10;  /* n_vocab 0x10000005 > 2^24 */
	ok(read_bytes(h, 24, &f, &e) == -1 && strstr(e.msg, "out of range"), "huge vocabulary refused before allocating");
	ok(read_bytes(buf, 30, &f, &e) == -1 && strstr(e.msg, "cut short"), "truncated scores refused");
	ok(read_bytes(buf, 10, &f, &e) == -1 && strstr(e.msg, "header cut short"), "truncated header refused");
	static const char *const bad_text[] = {
		"pos=1 token=2 vocab=5 9:1.0\n",      /* id out of range */
		"pos=1 token=2 vocab=5 1:nan\n",      /* NaN */
		"pos=1 token=2 vocab=5 1:x\n",        /* not a number */
		"pos=1 token=9 vocab=5\n",            /* token out of range */
		"pos=1 token=2 vocab=5 1:2.0",        /* no newline */
		"pos=1 token=2 vocab=99999999 1:2\n", /* vocabulary too large */
		"pos=-1 token=2 vocab=5 1:2\n",       /* negative position */
		"pos=1 token=2 vocab=5x 1:2\n",       /* junk after the vocabulary */
		"pos=1  token=2 vocab=5 1:2\n",       /* not the header's shape */
		"pos=99999999999999999999 token=2 vocab=5\n",  /* position past 2^63 */
		"pos=1 token=2 vocab=5 1:2 nan:1\n",  /* an id that is not a number */
	};
	for (size_t i = 0; i < sizeof bad_text / sizeof *bad_text; i++)
		ok(read_bytes(bad_text[i], strlen(bad_text[i]), &f, &e) == -1 && strstr(e.msg, "line"),
		   "malformed text frame refused with its line: %.*s", (int)strcspn(bad_text[i], "\n"), bad_text[i]);
	static const char nul_text[] = "pos=1 token=2 vocab=5 1:2.5\0 3:9\n";
	ok(read_bytes(nul_text, sizeof nul_text - 1, &f, &e) == -1 && strstr(e.msg, ": NUL byte in a text frame"),
	   "a NUL byte in a text frame is refused, not taken as its end");
	ok(read_bytes("pos=3 token=-1 vocab=5 4:1\n", 27, &f, &e) == 1 && f.token == -1 && f.pos == 3 &&
	   f.scores[4] == 1.0f, "a text frame with token -1 reads");

	/* binary frames: a NaN score anywhere is refused, naming the id */
	float with_nan[5] = {0.5f, -1.25f, 3.0f, NAN, 1.0f};
	char *nb = NULL;
	size_t nlen = 0;
	out = open_memstream(&nb, &nlen);
	logits_write(out, -1, 5, 1, 2, scores);
	logits_write(out, -1, 5, 1, 3, with_nan);
	fclose(out);
	in = fmemopen(nb, nlen, "r");
	ok(logits_read(in, &f, &e) == 1, "binary frame before the NaN frame reads");
	ok(logits_read(in, &f, &e) == -1 && strstr(e.msg, ": the score of id 3 is NaN"),
	   "a NaN score in a binary frame is refused, naming the id: %s", e.msg);
	fclose(in);
	free(nb);

	ok(read_bytes("hello\n", 6, &f, &e) == -1 && strstr(e.msg, "not a logits frame"), "foreign bytes refused");
	free(buf);

	/* frames tagged with a sequence id: version 2, "seq=" */
	buf = NULL;
	out = open_memstream(&buf, &len);
	ok(logits_write(out, 4294967295ll, 5, 2, 7, scores) == 1, "write a tagged binary frame");
	ok(logits_write_text(out, 12, 5, 3, 8, scores, 2) == 1, "write a tagged text frame");
	ok(logits_write(out, -1, 5, 4, 9, scores) == 1, "then an untagged one");
	fclose(out);
	ok(len == 32 + 20 + strlen("seq=12 pos=8 token=3 vocab=5 2:3 0:0.5\n") + 24 + 20, "tagged binary header is 32 bytes");
	ok(memcmp(buf, "\x89LGT\x02\0\0\0\x05\0\0\0\x02\0\0\0\x07\0\0\0\0\0\0\0\xff\xff\xff\xff\0\0\0\0", 32) == 0,
	   "version 2 header: seq at offset 24, reserved 0 at 28");
	ok(strstr(buf + 52, "seq=12 pos=8 token=3 vocab=5 2:3 0:0.5\n") == buf + 52, "text frame starts with seq=");
	in = fmemopen(buf, len, "r");
	r1 = logits_read(in, &f, &e);
	ok(r1 == 1 && f.tagged && f.seq == 4294967295u && f.n_vocab == 5 && f.token == 2 && f.pos == 7 &&
	   memcmp(f.scores, scores, sizeof scores) == 0, "tagged binary frame reads back exactly");
	r2 = logits_read(in, &f, &e);
	ok(r2 == 1 && f.text && f.tagged && f.seq == 12 && f.pos == 8 && f.scores[2] == 3.0f, "tagged text frame reads back");
	r3 = logits_read(in, &f, &e);
	ok(r3 == 1 && !f.tagged && f.seq == 0 && f.token == 4, "an untagged frame after them is sequence 0");
	fclose(in);
	unsigned char h2[32];
	memcpy(h2, buf, 32);
	h2[28] = 1;
	ok(read_bytes(h2, 32, &f, &e) == -1 && strstr(e.msg, "reserved"), "non-zero reserved field refused");
	ok(read_bytes(buf, 28, &f, &e) == -1 && strstr(e.msg, "header cut short (28 of 32 bytes)"),
	   "truncated version 2 header refused");
	static const char *const bad_seq[] = {
		"seq=4294967296 pos=1 token=2 vocab=5 1:1\n", /* seq too large */
		"seq=-1 pos=1 token=2 vocab=5 1:1\n",         /* negative */
		"seq=1pos=1 token=2 vocab=5 1:1\n",           /* no space */
		"seq= pos=1 token=2 vocab=5 1:1\n",           /* no number */
		"seq=1  pos=1 token=2 vocab=5 1:1\n",         /* two spaces */
		"seq=1 token=2 vocab=5 1:1\n",                /* no position */
		"sequence=1 pos=1 token=2 vocab=5\n",         /* another key */
	};
	for (size_t i = 0; i < sizeof bad_seq / sizeof *bad_seq; i++) {
		char name[96];
		snprintf(name, sizeof name, "malformed text frame header %zu refused", i + 1);
		ok(read_bytes(bad_seq[i], strlen(bad_seq[i]), &f, &e) == -1 && strstr(e.msg, "malformed text frame header"),
		   name);
	}
	free(buf);

	/* top-k frames: version 3 */
	float big[1000];
	uint32_t n = 1000;
	double want = 0;
	for (uint32_t i = 0; i < n; i++)
		big[i] = (float)((i * 7919) % 1000) / 50.0f - 10.0f;  /* distinct, -10 .. 9.98 */
	big[17] = -INFINITY;
	big[400] = 40;  /* the best by far */
	/* the 3 best: 400 (40), then the two ids scoring 9.98 and 9.96 */
	buf = NULL;
	out = open_memstream(&buf, &len);
	ok(logits_write_top(out, -1, n, 5, 6, big, 3) == 1, "write a top-3 frame");
	ok(logits_write_top(out, 77, 5, 1, 2, scores, 9) == 1, "write a tagged top-k frame asking for more ids than there are");
	fclose(out);
	ok(len == 40 + 3 * 8 + 40 + 5 * 8, "top-k frame: a 40-byte header and 8 bytes per id");
	ok(memcmp(buf, "\x89LGT\x03\0\0\0\xe8\x03\0\0\x05\0\0\0\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x03\0\0\0", 36) == 0,
	   "version 3 header: seq 0 and flags 0 when untagged, k at offset 32");
	in = fmemopen(buf, len, "r");
	r1 = logits_read(in, &f, &e);
	uint32_t second = 0;
	for (uint32_t i = 0; i < n; i++)
		if (i != 400 && big[i] > big[second])
			second = i;
	ok(r1 == 1 && f.k == 3 && !f.tagged && f.n_vocab == n && f.token == 5 && f.pos == 6 && f.ids[0] == 400 &&
	   f.ids[1] == second && f.scores[400] == 40 && isinf(f.scores[0]) && f.scores[f.ids[2]] < f.scores[second],
	   "top-k frame reads back: ids best first, the others -inf");
	for (uint32_t i = 0; i < n; i++)
		if (i != f.ids[0] && i != f.ids[1] && i != f.ids[2] && big[i] > -INFINITY)
			want += exp((double)big[i] - 9.0);
	want = 9.0 + log(want);
	ok(fabs(f.rest - want) < 2e-6 * fabs(want), "rest is the log-sum-exp of the unlisted scores (%.7f, want %.7f)",
	   (double)f.rest, want);
	r2 = logits_read(in, &f, &e);
	ok(r2 == 1 && f.k == 5 && f.tagged && f.seq == 77 && f.ids[0] == 2 && f.ids[3] == 1 && f.ids[4] == 4 &&
	   f.rest == -INFINITY, "a tagged frame listing every id (k capped at n_vocab): rest -inf");
	ok(logits_read(in, &f, &e) == 0, "clean end after top-k frames");
	fclose(in);
	/* hostile top-k frames: change one field of the first frame */
	static const struct { size_t at; uint32_t v; const char *msg, *name; } bad_top[] = {
		{28, 2, "unknown flags", "unknown flag bits"},
		{24, 3, "untagged frame of sequence 3", "a sequence id without the tagged flag"},
		{32, 0, "0 entries", "no entries"},
		{32, 1001, "1001 entries", "more entries than ids"},
		{36, 0x7fc00000, "bad log-sum-exp", "NaN rest"},
		{36, 0x7f800000, "bad log-sum-exp", "+inf rest"},
		{40, 1000, "out of range", "an id out of range"},
		{48, 400, "listed twice", "an id listed twice"},
		{52, 0x42c80000, "out of order", "a score above the one before it"},
		{44, 0x7fc00000, "is NaN", "a NaN score"},
	};
	for (size_t i = 0; i < sizeof bad_top / sizeof *bad_top; i++) {
		unsigned char t[64];
		memcpy(t, buf, 64);
		for (int j = 0; j < 4; j++)
			t[bad_top[i].at + j] = (unsigned char)(bad_top[i].v >> 8 * j);
		ok(read_bytes(t, 64, &f, &e) == -1 && strstr(e.msg, bad_top[i].msg),
		   "top-k frame with %s refused: %s", bad_top[i].name, e.msg);
	}
	ok(read_bytes(buf, 60, &f, &e) == -1 && strstr(e.msg, "cut short (2 of 3 entries)"), "truncated entries refused");
	ok(read_bytes(buf, 38, &f, &e) == -1 && strstr(e.msg, "header cut short (38 of 40 bytes)"),
	   "truncated version 3 header refused");
	/* the same id may be listed again by the next frame (nothing kept) */
	in = fmemopen(buf, 64, "r");
	ok(logits_read(in, &f, &e) == 1 && read_bytes(buf, 64, &f, &e) == 1, "a valid frame reads again after refusals");
	fclose(in);
	ok(only_listed(&f, big), "after refused frames, every id but the 3 listed reads -inf");
	free(buf);

	/* a reader resets only the ids the last top-k frame listed: frames of
	 * other ids, other vocabulary sizes, whole frames and a refused frame
	 * between them leave no score of an earlier frame behind */
	{
		float other[1000], small[4] = {1, 2, 3, 4};
		for (uint32_t i = 0; i < n; i++)
			other[i] = (float)((i * 104729) % 1000) / 50.0f - 10.0f;
		buf = NULL;
		out = open_memstream(&buf, &len);
		ok(logits_write_top(out, -1, n, 1, 1, big, 20) == 1 && logits_write_top(out, -1, n, 1, 2, other, 20) == 1 &&
		   logits_write_top(out, -1, 4, 1, 3, small, 2) == 1 && logits_write_top(out, -1, n, 1, 4, big, 50) == 1 &&
		   logits_write(out, -1, 4, 1, 5, small) == 1 && logits_write_top(out, -1, n, 1, 6, other, 7) == 1,
		   "write top-k frames of other ids and sizes, and a whole frame");
		size_t cut = ftell(out);
		ok(logits_write_top(out, -1, n, 1, 7, big, 30) == 1 && logits_write_top(out, -1, n, 1, 8, other, 5) == 1,
		   "and two more");
		fclose(out);
		const struct { uint32_t k; const float *want; } seq[] = {{20, big}, {20, other}, {2, small},
			{50, big}, {0, small}, {7, other}};
		in = fmemopen(buf, cut, "r");
		for (size_t i = 0; i < sizeof seq / sizeof *seq; i++)
			ok(logits_read(in, &f, &e) == 1 && f.k == seq[i].k &&
			   (f.k ? only_listed(&f, seq[i].want) : memcmp(f.scores, small, sizeof small) == 0), "frame %zu of the mixed stream reads exactly", i + 1);
		fclose(in);
		/* the frame of 30 cut after 10 of its entries, then one of 5 */
		ok(read_bytes(buf + cut, 40 + 10 * 8, &f, &e) == -1, "a frame cut short is refused");
		ok(read_bytes(buf + cut + 40 + 30 * 8, 40 + 5 * 8, &f, &e) == 1 && f.k == 5 && only_listed(&f, other),
		   "the next frame reads exactly: nothing of the refused one is left");
		free(buf);
	}
	logits_frame_free(&f);
	return tap_done();
}
