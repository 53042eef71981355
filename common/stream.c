#include "stream.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- token stream ---- */

enum tok_read_status tok_read(FILE *in, struct tok_batch *b, uint32_t n_vocab, struct lmu_err *e)
{
	ssize_t len;

	for (;;) {
		errno = 0;
		len = getline(&b->line, &b->line_cap, in);
		if (len < 0) {
			if (ferror(in)) {
				err_set(e, "reading token stream: %s", strerror(errno));
				return TOK_ERROR;
			}
			return TOK_EOF;
		}
		b->lineno++;
		if (b->line[len - 1] != '\n') {
			err_set(e, "token stream line %lu: incomplete last line (no newline)", b->lineno);
			return TOK_ERROR;
		}
		b->line[--len] = 0;
		if ((size_t)len != strlen(b->line)) {
			err_set(e, "token stream line %lu: NUL byte in line", b->lineno);
			return TOK_ERROR;
		}
		if (b->line[0] == '#')
			continue;
		break;
	}
	if (b->line[0] == '!') {
		b->directive = b->line + 1;
		return TOK_DIRECTIVE;
	}
	b->directive = NULL;
	b->n = 0;
	for (char *p = b->line;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (*p < '0' || *p > '9') {
			err_set(e, "token stream line %lu: unexpected character '%c' (0x%02x) at column %zu",
				b->lineno, *p >= 32 && *p < 127 ? *p : '?', (unsigned char)*p, (size_t)(p - b->line) + 1);
			return TOK_ERROR;
		}
		unsigned long long v = 0;
		char *start = p;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (unsigned)(*p - '0');
			if (v > INT32_MAX) {
				err_set(e, "token stream line %lu: id at column %zu is too large", b->lineno,
					(size_t)(start - b->line) + 1);
				return TOK_ERROR;
			}
			p++;
		}
		if (*p && *p != ' ' && *p != '\t') {
			err_set(e, "token stream line %lu: unexpected character '%c' (0x%02x) at column %zu",
				b->lineno, *p >= 32 && *p < 127 ? *p : '?', (unsigned char)*p, (size_t)(p - b->line) + 1);
			return TOK_ERROR;
		}
		if (n_vocab && v >= n_vocab) {
			err_set(e, "token stream line %lu: id %llu is out of range (vocabulary has %u ids)",
				b->lineno, v, n_vocab);
			return TOK_ERROR;
		}
		if (b->n == TOK_MAX_BATCH) {
			err_set(e, "token stream line %lu: more than %u ids in one batch", b->lineno, TOK_MAX_BATCH);
			return TOK_ERROR;
		}
		if (b->n == b->cap) {
			b->cap = b->cap ? 2 * b->cap : 64;
			b->ids = xreallocarray(b->ids, b->cap, sizeof *b->ids);
		}
		b->ids[b->n++] = (int32_t)v;
	}
	return TOK_BATCH;
}

void tok_batch_free(struct tok_batch *b)
{
	free(b->ids);
	free(b->line);
	memset(b, 0, sizeof *b);
}

static int finish_write(FILE *out, int ok)
{
	if (ok && fflush(out) == 0)
		return 1;
	if (errno == EPIPE)
		return 0;
	die("write error: %s", strerror(errno));
}

int tok_write(FILE *out, const int32_t *ids, size_t n)
{
	int ok = 1;
	for (size_t i = 0; i < n && ok; i++)
		ok = fprintf(out, i ? " %d" : "%d", ids[i]) > 0;
	if (ok)
		ok = putc('\n', out) != EOF;
	return finish_write(out, ok);
}

/* ---- logits stream ---- */

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

static uint64_t get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void grow(struct logits_frame *f, uint32_t n)
{
	if (n > f->cap) {
		f->scores = xreallocarray(f->scores, n, sizeof *f->scores);
		f->cap = n;
	}
}

static int read_binary(FILE *in, struct logits_frame *f, struct lmu_err *e, uint64_t *off)
{
	unsigned char h[LOGITS_HDR_SIZE];
	size_t got;

	f->offset = *off;
	h[0] = 0x89;
	got = 1 + fread(h + 1, 1, sizeof h - 1, in);
	if (got != sizeof h) {
		err_set(e, "logits stream byte %llu: frame header cut short (%zu of %d bytes)",
			(unsigned long long)f->offset, got, LOGITS_HDR_SIZE);
		return -1;
	}
	if (memcmp(h, LOGITS_MAGIC, 4) != 0) {
		err_set(e, "logits stream byte %llu: bad frame magic", (unsigned long long)f->offset);
		return -1;
	}
	if (get_le(h + 4, 4) != LOGITS_VERSION) {
		err_set(e, "logits stream byte %llu: unsupported frame version %llu (this reader knows %d)",
			(unsigned long long)f->offset, (unsigned long long)get_le(h + 4, 4), LOGITS_VERSION);
		return -1;
	}
	f->n_vocab = (uint32_t)get_le(h + 8, 4);
	f->token = (int32_t)(uint32_t)get_le(h + 12, 4);
	f->pos = get_le(h + 16, 8);
	if (f->n_vocab == 0 || f->n_vocab > LOGITS_MAX_VOCAB) {
		err_set(e, "logits stream byte %llu: vocabulary size %u out of range [1, %u]",
			(unsigned long long)f->offset, f->n_vocab, LOGITS_MAX_VOCAB);
		return -1;
	}
	grow(f, f->n_vocab);
	got = fread(f->scores, 4, f->n_vocab, in);
	if (got != f->n_vocab) {
		err_set(e, "logits stream byte %llu: frame cut short (%zu of %u scores)",
			(unsigned long long)f->offset, got, f->n_vocab);
		return -1;
	}
	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		for (uint32_t i = 0; i < f->n_vocab; i++) {
			uint32_t u;
			memcpy(&u, &f->scores[i], 4);
			u = __builtin_bswap32(u);
			memcpy(&f->scores[i], &u, 4);
		}
	for (uint32_t i = 0; i < f->n_vocab; i++)
		if (isnan(f->scores[i])) {
			err_set(e, "logits stream byte %llu: the score of id %u is NaN",
				(unsigned long long)f->offset, i);
			return -1;
		}
	*off += LOGITS_HDR_SIZE + 4ull * f->n_vocab;
	return 1;
}

/* A decimal number of a text frame's header: optional '-' (when NEG),
 * digits, at most MAX; *p moves past it.  False if there is none. */
static bool header_num(const char **p, bool neg, long long max, long long *out)
{
	const char *s = *p;
	bool minus = neg && *s == '-';
	long long v = 0;

	s += minus;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (*s - '0')) / 10)
			return false;
		v = v * 10 + (*s - '0');
	}
	*p = s;
	*out = minus ? -v : v;
	return true;
}

static int read_text(FILE *in, struct logits_frame *f, struct lmu_err *e, unsigned long *lineno)
{
	/* the line buffer is kept between frames (one stream per process) */
	static char *line;
	static size_t cap;
	const char *h;
	char *p, *end;
	ssize_t len;
	long long pos, tok, nv;
	int ret = -1;

	len = getline(&line, &cap, in);
	(*lineno)++;
	f->offset = *lineno;
	if (len <= 0 || line[len - 1] != '\n') {
		err_set(e, "logits stream line %lu: text frame cut short (no newline)", *lineno);
		goto out;
	}
	line[len - 1] = 0;
	if (strlen(line) != (size_t)len - 1) {
		err_set(e, "logits stream line %lu: NUL byte in a text frame", *lineno);
		goto out;
	}
	/* "pos=P token=T vocab=N", the 'p' consumed by the caller */
	h = line;
	if (strncmp(h, "os=", 3) != 0 || (h += 3, !header_num(&h, false, INT64_MAX, &pos)) ||
	    strncmp(h, " token=", 7) != 0 || (h += 7, !header_num(&h, true, INT32_MAX, &tok)) ||
	    strncmp(h, " vocab=", 7) != 0 || (h += 7, !header_num(&h, false, LOGITS_MAX_VOCAB, &nv)) ||
	    (*h && *h != ' ') || nv == 0 || tok < -1 || tok >= nv) {
		err_set(e, "logits stream line %lu: malformed text frame header", *lineno);
		goto out;
	}
	f->pos = (uint64_t)pos;
	f->token = (int32_t)tok;
	f->n_vocab = (uint32_t)nv;
	grow(f, f->n_vocab);
	for (uint32_t i = 0; i < f->n_vocab; i++)
		f->scores[i] = -INFINITY;
	p = line + (h - line);
	for (;;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		errno = 0;
		long long id = strtoll(p, &end, 10);
		if (end == p || *end != ':' || id < 0 || id >= nv) {
			err_set(e, "logits stream line %lu: bad id:score pair at column %zu", *lineno,
				(size_t)(p - line) + 2);
			goto out;
		}
		p = end + 1;
		float s = strtof(p, &end);
		if (end == p || (*end && *end != ' ') || isnan(s)) {
			err_set(e, "logits stream line %lu: bad score at column %zu", *lineno, (size_t)(p - line) + 2);
			goto out;
		}
		f->scores[id] = s;
		p = end;
	}
	ret = 1;
out:
	return ret;
}

/* Position in the stream: bytes read for binary frames, lines for text
 * frames.  One stream has one reader per process, so static is enough. */
static uint64_t stream_off;
static unsigned long stream_line;

int logits_read(FILE *in, struct logits_frame *f, struct lmu_err *e)
{
	int c = getc(in);
	if (c == EOF) {
		if (ferror(in)) {
			err_set(e, "reading logits stream: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (c == 0x89) {
		f->text = false;
		return read_binary(in, f, e, &stream_off);
	}
	if (c == 'p') {
		f->text = true;
		return read_text(in, f, e, &stream_line);
	}
	err_set(e, "logits stream byte %llu: not a logits frame (first byte 0x%02x)",
		(unsigned long long)stream_off, (unsigned)c);
	return -1;
}

void logits_frame_free(struct logits_frame *f)
{
	free(f->scores);
	memset(f, 0, sizeof *f);
}

int logits_write(FILE *out, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores)
{
	unsigned char h[LOGITS_HDR_SIZE];
	int ok;

	memcpy(h, LOGITS_MAGIC, 4);
	put_le(h + 4, LOGITS_VERSION, 4);
	put_le(h + 8, n_vocab, 4);
	put_le(h + 12, (uint32_t)token, 4);
	put_le(h + 16, pos, 8);
	ok = fwrite(h, 1, sizeof h, out) == sizeof h;
	if (ok && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
		ok = fwrite(scores, 4, n_vocab, out) == n_vocab;
	} else {
		for (uint32_t i = 0; ok && i < n_vocab; i++) {
			unsigned char b[4];
			uint32_t u;
			memcpy(&u, &scores[i], 4);
			put_le(b, u, 4);
			ok = fwrite(b, 1, 4, out) == 4;
		}
	}
	return finish_write(out, ok);
}

int logits_write_text(FILE *out, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores, uint32_t k)
{
	/* the top-k ids; grown, never freed, so that a frame loop does not
	 * allocate (one stream per process) */
	static uint32_t *top;
	static uint32_t top_cap;
	uint32_t n = 0;
	int ok;

	if (k > n_vocab)
		k = n_vocab;
	if (k > top_cap) {
		top = xreallocarray(top, k, sizeof *top);
		top_cap = k;
	}
	/* keep the k best in descending order (insertion; k is small) */
	for (uint32_t i = 0; i < n_vocab; i++) {
		if (n == k && (k == 0 || !(scores[i] > scores[top[k - 1]])))
			continue;
		uint32_t j = n < k ? n++ : k - 1;
		while (j > 0 && scores[i] > scores[top[j - 1]]) {
			top[j] = top[j - 1];
			j--;
		}
		top[j] = i;
	}
	ok = fprintf(out, "pos=%llu token=%d vocab=%u", (unsigned long long)pos, token, n_vocab) > 0;
	for (uint32_t i = 0; i < n && ok; i++)
		ok = fprintf(out, " %u:%.9g", top[i], scores[top[i]]) > 0;
	if (ok)
		ok = putc('\n', out) != EOF;
	return finish_write(out, ok);
}
