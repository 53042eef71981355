#include "stream.h"
#include "le.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- token stream ---- */

static enum tok_read_status bad_char(struct tok_batch *b, const char *p, struct lmu_err *e)
{
	err_set(e, "token stream line %lu: unexpected character '%c' (0x%02x) at column %zu", b->lineno,
		*p >= 32 && *p < 127 ? *p : '?', (unsigned char)*p, (size_t)(p - b->line) + 1);
	return TOK_ERROR;
}

/* A decimal number at *pp up to max, ended by a blank or the end of the
 * line; *pp moves past it.  -1 (e set, naming what) when it is too large,
 * -2 on a character that ends it badly. */
static int64_t parse_number(struct tok_batch *b, char **pp, uint64_t max, const char *what, struct lmu_err *e)
{
	char *p = *pp, *start = p;
	uint64_t v = 0;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max) {
			err_set(e, "token stream line %lu: %s at column %zu is too large", b->lineno, what,
				(size_t)(start - b->line) + 1);
			return -1;
		}
		p++;
	}
	if (p == start || (*p && *p != ' ' && *p != '\t')) {
		bad_char(b, p, e);
		return -2;
	}
	*pp = p;
	return (int64_t)v;
}

/* Parse b->line (NUL-terminated, no newline): an optional tag, then a
 * directive or a batch of ids. */
static enum tok_read_status parse_line(struct tok_batch *b, uint32_t n_vocab, struct lmu_err *e)
{
	char *p = b->line;

	b->tagged = false;
	b->seq = 0;
	if (*p == '@') {
		if (p[1] < '0' || p[1] > '9') {
			err_set(e, "token stream line %lu: '@' must be followed by a sequence id", b->lineno);
			return TOK_ERROR;
		}
		p++;
		int64_t s = parse_number(b, &p, TOK_MAX_SEQ, "sequence id", e);
		if (s < 0)
			return TOK_ERROR;
		b->tagged = true;
		b->seq = (uint32_t)s;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (*p == '!') {
		b->directive = p + 1;
		return TOK_DIRECTIVE;
	}
	b->directive = NULL;
	b->n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (*p < '0' || *p > '9')
			return bad_char(b, p, e);
		int64_t v = parse_number(b, &p, INT32_MAX, "id", e);
		if (v < 0)
			return TOK_ERROR;
		if (n_vocab && v >= n_vocab) {
			err_set(e, "token stream line %lu: id %lld is out of range (vocabulary has %u ids)",
				b->lineno, (long long)v, n_vocab);
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

/* A line of len bytes (its newline included) is in b->line: check it,
 * then parse it unless it is a comment (TOK_AGAIN: read the next). */
static enum tok_read_status take_line(struct tok_batch *b, size_t len, uint32_t n_vocab, struct lmu_err *e)
{
	b->lineno++;
	if (b->line[len - 1] != '\n') {
		err_set(e, "token stream line %lu: incomplete last line (no newline)", b->lineno);
		return TOK_ERROR;
	}
	b->line[--len] = 0;
	if (len != strlen(b->line)) {
		err_set(e, "token stream line %lu: NUL byte in line", b->lineno);
		return TOK_ERROR;
	}
	if (b->line[0] == '#')
		return TOK_AGAIN;
	return parse_line(b, n_vocab, e);
}

enum tok_read_status tok_read(FILE *in, struct tok_batch *b, uint32_t n_vocab, struct lmu_err *e)
{
	enum tok_read_status st;

	do {
		errno = 0;
		ssize_t len = getline(&b->line, &b->line_cap, in);
		if (len < 0) {
			if (ferror(in)) {
				err_set(e, "reading token stream: %s", strerror(errno));
				return TOK_ERROR;
			}
			return TOK_EOF;
		}
		st = take_line(b, (size_t)len, n_vocab, e);
	} while (st == TOK_AGAIN);
	return st;
}

void tok_reader_init(struct tok_reader *r, int fd)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
}

void tok_reader_free(struct tok_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof *r);
}

/* Read what the descriptor has, waiting at most timeout_ms for something:
 * 1 if bytes came, 0 if none (or end of input), -1 on an error. */
static int fill(struct tok_reader *r, int timeout_ms, struct lmu_err *e)
{
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
	ssize_t got;

	if (timeout_ms >= 0) {
		int n;
		while ((n = poll(&pfd, 1, timeout_ms)) < 0 && errno == EINTR)
			;
		if (n < 0) {
			err_set(e, "reading token stream: %s", strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
	}
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->len);
		r->start = 0;
	}
	if (r->cap - r->len < 65536) {
		r->cap = r->cap ? 2 * r->cap : 65536;
		r->buf = xrealloc(r->buf, r->cap);
	}
	while ((got = read(r->fd, r->buf + r->len, r->cap - r->len)) < 0 && errno == EINTR)
		;
	if (got < 0) {
		err_set(e, "reading token stream: %s", strerror(errno));
		return -1;
	}
	if (got == 0)
		r->eof = true;
	r->len += (size_t)got;
	return got > 0;
}

enum tok_read_status tok_reader_next(struct tok_reader *r, struct tok_batch *b, uint32_t n_vocab, int timeout_ms,
				     struct lmu_err *e)
{
	/* a line longer than this cannot hold a batch TOK_MAX_BATCH allows */
	const size_t max_line = (size_t)TOK_MAX_BATCH * 12 + 64;

	for (;;) {
		char *nl = r->len ? memchr(r->buf + r->start, '\n', r->len) : NULL;
		if (nl || (r->eof && r->len)) {
			size_t len = nl ? (size_t)(nl - (r->buf + r->start)) + 1 : r->len;
			if (len + 1 > b->line_cap) {
				b->line_cap = len + 1;
				b->line = xrealloc(b->line, b->line_cap);
			}
			memcpy(b->line, r->buf + r->start, len);
			b->line[len] = 0;
			r->start += len;
			r->len -= len;
			enum tok_read_status st = take_line(b, len, n_vocab, e);
			if (st != TOK_AGAIN)
				return st;
			continue;
		}
		if (r->eof)
			return TOK_EOF;
		if (r->len > max_line) {
			err_set(e, "token stream line %lu: longer than %zu bytes", b->lineno + 1, max_line);
			return TOK_ERROR;
		}
		int got = fill(r, timeout_ms, e);
		if (got < 0)
			return TOK_ERROR;
		if (got == 0 && !r->eof)
			return TOK_AGAIN;
	}
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

/* The line is formatted in one buffer, kept between calls (one stream per
 * process): tok-encode writes millions of ids in one batch, and printf per
 * id is slow. */
int tok_write_seq(FILE *out, int64_t seq, const int32_t *ids, size_t n)
{
	static char *buf;
	static size_t cap;
	size_t need = n * 12 + 32, o = 0;

	if (need > cap) {
		cap = need;
		buf = xrealloc(buf, cap);
	}
	if (seq >= 0)
		o += (size_t)snprintf(buf, cap, n ? "@%lld " : "@%lld", (long long)seq);
	for (size_t i = 0; i < n; i++) {
		char digits[12];
		int k = 0;
		uint32_t x = ids[i] < 0 ? -(uint32_t)ids[i] : (uint32_t)ids[i];
		do
			digits[k++] = (char)('0' + x % 10);
		while (x /= 10);
		if (i)
			buf[o++] = ' ';
		if (ids[i] < 0)
			buf[o++] = '-';
		while (k)
			buf[o++] = digits[--k];
	}
	buf[o++] = '\n';
	return finish_write(out, fwrite(buf, 1, o, out) == o);
}

int tok_write(FILE *out, const int32_t *ids, size_t n)
{
	return tok_write_seq(out, -1, ids, n);
}

int tok_write_directive(FILE *out, int64_t seq, const char *name)
{
	int ok = (seq < 0 ? fprintf(out, "!%s\n", name) : fprintf(out, "@%lld !%s\n", (long long)seq, name)) > 0;
	return finish_write(out, ok);
}

/* ---- logits stream ---- */

static void grow(struct logits_frame *f, uint32_t n)
{
	if (n > f->cap) {
		f->scores = xreallocarray(f->scores, n, sizeof *f->scores);
		f->cap = n;
	}
}

static int read_binary(FILE *in, struct logits_frame *f, struct lmu_err *e, uint64_t *off)
{
	unsigned char h[LOGITS_HDR_SIZE_SEQ];
	size_t got, size = LOGITS_HDR_SIZE;

	f->offset = *off;
	h[0] = 0x89;
	got = 1 + fread(h + 1, 1, LOGITS_HDR_SIZE - 1, in);
	if (got == LOGITS_HDR_SIZE && memcmp(h, LOGITS_MAGIC, 4) == 0 && get_le(h + 4, 4) == LOGITS_VERSION_SEQ) {
		size = LOGITS_HDR_SIZE_SEQ;
		got += fread(h + LOGITS_HDR_SIZE, 1, LOGITS_HDR_SIZE_SEQ - LOGITS_HDR_SIZE, in);
	}
	if (got != size) {
		err_set(e, "logits stream byte %llu: frame header cut short (%zu of %zu bytes)",
			(unsigned long long)f->offset, got, size);
		return -1;
	}
	if (memcmp(h, LOGITS_MAGIC, 4) != 0) {
		err_set(e, "logits stream byte %llu: bad frame magic", (unsigned long long)f->offset);
		return -1;
	}
	uint64_t version = get_le(h + 4, 4);
	if (version != LOGITS_VERSION && version != LOGITS_VERSION_SEQ) {
		err_set(e, "logits stream byte %llu: unsupported frame version %llu (this reader knows %d and %d)",
			(unsigned long long)f->offset, (unsigned long long)version, LOGITS_VERSION, LOGITS_VERSION_SEQ);
		return -1;
	}
	f->tagged = version == LOGITS_VERSION_SEQ;
	f->seq = f->tagged ? (uint32_t)get_le(h + 24, 4) : 0;
	if (f->tagged && get_le(h + 28, 4) != 0) {
		err_set(e, "logits stream byte %llu: reserved header field is %llu, not 0", (unsigned long long)f->offset,
			(unsigned long long)get_le(h + 28, 4));
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
	*off += size + 4ull * f->n_vocab;
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

/* "KEY=N" at *p (KEY with its '=' in key), N as header_num() reads it. */
static bool header_field(const char **p, const char *key, bool neg, long long max, long long *out)
{
	size_t k = strlen(key);
	if (strncmp(*p, key, k) != 0)
		return false;
	*p += k;
	return header_num(p, neg, max, out);
}

/* A text frame whose first byte c ('s' or 'p') the caller has read. */
static int read_text(FILE *in, int c, struct logits_frame *f, struct lmu_err *e, unsigned long *lineno)
{
	/* the line buffer is kept between frames (one stream per process) */
	static char *line;
	static size_t cap;
	const char *h;
	char *p, *end;
	ssize_t len;
	long long pos, seq = 0, tok, nv;
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
	/* "[seq=S ]pos=P token=T vocab=N": the first byte was consumed by
	 * the caller, put it back */
	memmove(line + 1, line, (size_t)len);
	line[0] = (char)c;
	h = line;
	f->tagged = c == 's';
	if ((f->tagged && (!header_field(&h, "seq=", false, TOK_MAX_SEQ, &seq) || *h++ != ' ')) ||
	    !header_field(&h, "pos=", false, INT64_MAX, &pos) || !header_field(&h, " token=", true, INT32_MAX, &tok) ||
	    !header_field(&h, " vocab=", false, LOGITS_MAX_VOCAB, &nv) || (*h && *h != ' ') || nv == 0 ||
	    tok < -1 || tok >= nv) {
		err_set(e, "logits stream line %lu: malformed text frame header", *lineno);
		goto out;
	}
	f->seq = (uint32_t)seq;
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
				(size_t)(p - line) + 1);
			goto out;
		}
		p = end + 1;
		float s = strtof(p, &end);
		if (end == p || (*end && *end != ' ') || isnan(s)) {
			err_set(e, "logits stream line %lu: bad score at column %zu", *lineno, (size_t)(p - line) + 1);
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
	if (c == 'p' || c == 's') {
		f->text = true;
		return read_text(in, c, f, e, &stream_line);
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

int logits_write(FILE *out, int64_t seq, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores)
{
	unsigned char h[LOGITS_HDR_SIZE_SEQ] = {0};
	size_t size = seq < 0 ? LOGITS_HDR_SIZE : LOGITS_HDR_SIZE_SEQ;
	int ok;

	memcpy(h, LOGITS_MAGIC, 4);
	put_le(h + 4, seq < 0 ? LOGITS_VERSION : LOGITS_VERSION_SEQ, 4);
	put_le(h + 8, n_vocab, 4);
	put_le(h + 12, (uint32_t)token, 4);
	put_le(h + 16, pos, 8);
	if (seq >= 0)
		put_le(h + 24, (uint64_t)seq, 4);
	ok = fwrite(h, 1, size, out) == size;
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

int logits_write_text(FILE *out, int64_t seq, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores,
		      uint32_t k)
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
	ok = seq < 0 || fprintf(out, "seq=%lld ", (long long)seq) > 0;
	ok = ok && fprintf(out, "pos=%llu token=%d vocab=%u", (unsigned long long)pos, token, n_vocab) > 0;
	for (uint32_t i = 0; i < n && ok; i++)
		ok = fprintf(out, " %u:%.9g", top[i], scores[top[i]]) > 0;
	if (ok)
		ok = putc('\n', out) != EOF;
	return finish_write(out, ok);
}
