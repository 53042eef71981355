#include "stream.h"
#include "le.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vec8.h"

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
	r->spin = true;
}

void tok_reader_free(struct tok_reader *r)
{
	free(r->buf);
	memset(r, 0, sizeof *r);
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Wait at most timeout_ms (-1: no limit) for the descriptor to have
 * something: 1 if it has, 0 if not, -1 on an error.  It polls without
 * sleeping first, for up to TOK_SPIN_US, when the last wait was shorter
 * than that (tok_reader_next). */
static int await(struct tok_reader *r, int timeout_ms, struct lmu_err *e)
{
	struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
	int64_t t0 = now_us(), spin = r->spin ? TOK_SPIN_US : 0;
	int n;

	if (timeout_ms >= 0 && spin > 1000ll * timeout_ms)
		spin = 1000ll * timeout_ms;
	for (bool first = true;; first = false) {  /* the spin (none: one look) */
		n = poll(&pfd, 1, 0);
		if (n > 0 || (n < 0 && errno != EINTR))
			break;
		n = 0;
		if (first && timeout_ms != 0 && r->on_wait)
			r->on_wait(r->wait_ctx);
		if (now_us() - t0 >= spin)
			break;
	}
	if (n == 0 && timeout_ms != 0) {
		int left = timeout_ms < 0 ? -1 : timeout_ms - (int)((now_us() - t0) / 1000);
		while ((n = poll(&pfd, 1, timeout_ms >= 0 && left < 0 ? 0 : left)) < 0 && errno == EINTR)
			;
	}
	if (n < 0) {
		err_set(e, "reading token stream: %s", strerror(errno));
		return -1;
	}
	if (timeout_ms != 0)
		r->spin = now_us() - t0 < TOK_SPIN_US;
	return n > 0;
}

/* Read what the descriptor has, waiting at most timeout_ms for something:
 * 1 if bytes came, 0 if none (or end of input), -1 on an error. */
static int fill(struct tok_reader *r, int timeout_ms, struct lmu_err *e)
{
	ssize_t got;
	int n;

	if ((n = await(r, timeout_ms, e)) <= 0)
		return n;
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

/* The listed entries of a top-k frame (version 3): k (id, score) pairs,
 * best first, expanded into f->scores (unlisted ids -inf) and f->ids. */
static int read_top_entries(FILE *in, struct logits_frame *f, struct lmu_err *e)
{
	/* ids seen in this frame, to refuse one listed twice; cleared after */
	static unsigned char *seen;
	static uint32_t seen_cap;
	int ret = -1;

	if (f->k > f->ids_cap) {
		f->ids = xreallocarray(f->ids, f->k, sizeof *f->ids);
		f->ids_cap = f->k;
	}
	if (f->n_vocab > seen_cap) {
		seen = xrealloc(seen, f->n_vocab);
		memset(seen, 0, f->n_vocab);
		seen_cap = f->n_vocab;
	}
	/* every score -inf: only the ids the last top-k frame listed, if it
	 * was the last frame read, and what lies past the ids it covered */
	uint32_t blank = f->blank;
	for (uint32_t i = 0; blank && i < f->n_listed; i++)
		f->scores[f->ids[i]] = -INFINITY;
	for (uint32_t i = blank; i < f->n_vocab; i++)
		f->scores[i] = -INFINITY;
	f->blank = blank > f->n_vocab ? blank : f->n_vocab;
	uint32_t i = 0, have = 0;  /* entries read so far */
	unsigned char chunk[512][8];
	for (; i < f->k; i++) {
		if (i == have) {
			uint32_t want = f->k - i < 512 ? f->k - i : 512;
			have += (uint32_t)fread(chunk, 8, want, in);
			if (have < i + want) {
				err_set(e, "logits stream byte %llu: frame cut short (%u of %u entries)",
					(unsigned long long)f->offset, have, f->k);
				goto out;
			}
		}
		const unsigned char *b = chunk[i % 512];
		uint32_t id = (uint32_t)get_le(b, 4), u = (uint32_t)get_le(b + 4, 4);
		float sc;
		memcpy(&sc, &u, 4);
		if (id >= f->n_vocab || seen[id]) {
			err_set(e, "logits stream byte %llu: entry %u: id %u %s", (unsigned long long)f->offset, i, id,
				id >= f->n_vocab ? "out of range" : "listed twice");
			goto out;
		}
		if (isnan(sc)) {
			err_set(e, "logits stream byte %llu: the score of id %u is NaN", (unsigned long long)f->offset, id);
			goto out;
		}
		/* best first, ties to the lower id: the bound on the unlisted
		 * scores is then the last one */
		if (i > 0 && (sc > f->scores[f->ids[i - 1]] || (sc == f->scores[f->ids[i - 1]] && id < f->ids[i - 1]))) {
			err_set(e, "logits stream byte %llu: entry %u (id %u) is out of order", (unsigned long long)f->offset,
				i, id);
			goto out;
		}
		seen[id] = 1;
		f->ids[i] = id;
		f->scores[id] = sc;
	}
	ret = 1;
out:
	f->n_listed = i;
	while (i-- > 0)
		seen[f->ids[i]] = 0;
	return ret;
}

static int read_binary(FILE *in, struct logits_frame *f, struct lmu_err *e, uint64_t *off)
{
	unsigned char h[LOGITS_HDR_SIZE_TOP];
	size_t got, size = LOGITS_HDR_SIZE;

	f->offset = *off;
	h[0] = 0x89;
	got = 1 + fread(h + 1, 1, LOGITS_HDR_SIZE - 1, in);
	uint64_t version = got == LOGITS_HDR_SIZE && memcmp(h, LOGITS_MAGIC, 4) == 0 ? get_le(h + 4, 4) : 0;
	if (version == LOGITS_VERSION_SEQ || version == LOGITS_VERSION_TOP) {
		size = version == LOGITS_VERSION_SEQ ? LOGITS_HDR_SIZE_SEQ : LOGITS_HDR_SIZE_TOP;
		got += fread(h + LOGITS_HDR_SIZE, 1, size - LOGITS_HDR_SIZE, in);
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
	version = get_le(h + 4, 4);
	if (version != LOGITS_VERSION && version != LOGITS_VERSION_SEQ && version != LOGITS_VERSION_TOP) {
		err_set(e, "logits stream byte %llu: unsupported frame version %llu (this reader knows %d, %d and %d)",
			(unsigned long long)f->offset, (unsigned long long)version, LOGITS_VERSION, LOGITS_VERSION_SEQ,
			LOGITS_VERSION_TOP);
		return -1;
	}
	f->k = 0;
	f->rest = -INFINITY;
	if (version == LOGITS_VERSION_TOP) {
		uint64_t flags = get_le(h + 28, 4);
		uint32_t rest = (uint32_t)get_le(h + 36, 4);
		if (flags > 1) {
			err_set(e, "logits stream byte %llu: unknown flags 0x%llx in a top-k frame", (unsigned long long)f->offset,
				(unsigned long long)flags);
			return -1;
		}
		f->tagged = flags & 1;
		f->k = (uint32_t)get_le(h + 32, 4);
		memcpy(&f->rest, &rest, 4);
	} else {
		f->tagged = version == LOGITS_VERSION_SEQ;
		if (f->tagged && get_le(h + 28, 4) != 0) {
			err_set(e, "logits stream byte %llu: reserved header field is %llu, not 0",
				(unsigned long long)f->offset, (unsigned long long)get_le(h + 28, 4));
			return -1;
		}
	}
	f->seq = version != LOGITS_VERSION ? (uint32_t)get_le(h + 24, 4) : 0;
	if (!f->tagged && f->seq != 0) {
		err_set(e, "logits stream byte %llu: an untagged frame of sequence %u", (unsigned long long)f->offset, f->seq);
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
	if (version == LOGITS_VERSION_TOP) {
		if (f->k == 0 || f->k > f->n_vocab) {
			err_set(e, "logits stream byte %llu: %u entries in a top-k frame of %u ids", (unsigned long long)f->offset,
				f->k, f->n_vocab);
			return -1;
		}
		if (isnan(f->rest) || f->rest == INFINITY || (f->k == f->n_vocab && f->rest != -INFINITY)) {
			err_set(e, "logits stream byte %llu: bad log-sum-exp of the unlisted scores (%g)",
				(unsigned long long)f->offset, (double)f->rest);
			return -1;
		}
		if (read_top_entries(in, f, e) < 0)
			return -1;
		*off += size + 8ull * f->k;
		return 1;
	}
	f->blank = 0;
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
	f->k = 0;
	f->rest = -INFINITY;
	grow(f, f->n_vocab);
	f->blank = 0;
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

/* Whether in's buffer may hold bytes not read yet.  glibc says exactly;
 * elsewhere "maybe", and logits_await does not spin. */
static bool maybe_buffered(FILE *in)
{
#ifdef __GLIBC__
	return in->_IO_read_ptr < in->_IO_read_end;
#else
	(void)in;
	return true;
#endif
}

/* Poll fd for input for at most timeout_us (-1: no limit): whether it has
 * some (or its end, or an error). */
static bool poll_us(int fd, int64_t timeout_us)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	struct timespec ts = {.tv_sec = timeout_us / 1000000, .tv_nsec = timeout_us % 1000000 * 1000};
	int n;

	while ((n = ppoll(&pfd, 1, timeout_us < 0 ? NULL : &ts, NULL)) < 0 && errno == EINTR)
		;
	return n != 0;
}

void logits_await(FILE *in, struct logits_waiter *w)
{
	int fd = fileno(in);
	int64_t t0 = now_us(), last = w->last_us;

	if (!w->spin || fd < 0 || maybe_buffered(in) || poll_us(fd, 0))
		return;  /* logits_read's own wait, or none: last_us stays */
	bool ready = false;
	if (last >= LOGITS_SPIN_MIN_WAIT_US && last <= LOGITS_SPIN_MAX_WAIT_US) {
		int64_t margin = LOGITS_SPIN_MARGIN_US + last / 16;
		ready = poll_us(fd, last - margin);
		while (!ready && now_us() - t0 < last + margin)
			ready = poll_us(fd, 0);
	}
	if (!ready)
		poll_us(fd, -1);
	w->last_us = now_us() - t0;
}

void logits_frame_free(struct logits_frame *f)
{
	free(f->scores);
	free(f->ids);
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

/* ---- the k best ids of a frame ----
 *
 * logits_top() in three passes over the scores (for 49152 ids and k 104,
 * about 12 us of CPU time for the first two where inserting each id in
 * order took about 70, and 40 for the third, e^x of every id):
 *  1. a bound: the maxima of about 4k disjoint groups of ids (strided
 *     lanes of blocks); the k-th largest of them, t, is a score that k
 *     distinct ids reach, so no id below t is among the k best;
 *  2. the candidates: the ids not below t (about 2k on real frames),
 *     each as one integer key that orders them as the frame must (score,
 *     then the lower id), selected and sorted;
 *  3. the log-sum-exp of the ids left out, relative to the largest of
 *     them.  Its terms and their order are fixed, so that the frame does
 *     not depend on how the ids were chosen nor on how many threads took
 *     part: e^x as exp8() computes it, in chunks of REST_CHUNK ids, each
 *     16 ids at a time with each of the 16 lanes summed in double on its
 *     own, the ids past the last 16 added one by one; then the chunks'
 *     sums in order.  A listed id is known by its score and id alone.
 * The three passes run on the threads of logits_set_runner(), each thread
 * on its share of the blocks or chunks, each result in a slot of its own:
 * about 60 % of the time at 2 threads, the same bits. */

#define REST_CHUNK 4096    /* ids of a partial sum in pass 3 (a multiple of 16) */
#define PAR_MIN_IDS 16384  /* fewer ids: one thread (a pool_run costs a few us) */

static logits_run_fn par_run;
static void *par_ctx;

void logits_set_runner(logits_run_fn run, void *ctx)
{
	par_run = run;
	par_ctx = ctx;
}

/* Thread ith of nth's share of n items: [*lo, *hi) */
static void share(size_t n, int ith, int nth, size_t *lo, size_t *hi)
{
	*lo = n * (size_t)ith / (size_t)nth;
	*hi = n * (size_t)(ith + 1) / (size_t)nth;
}

/* The chunks of REST_CHUNK ids of a frame of n, and where chunk c ends */
static size_t n_chunks(uint32_t n) { return (n + REST_CHUNK - 1) / REST_CHUNK; }
static uint32_t chunk_end(uint32_t n, size_t c) { return n - c * REST_CHUNK > REST_CHUNK ? (uint32_t)(c + 1) * REST_CHUNK : n; }

/* fn(arg, ith, nth) on the runner's threads when there are n ids or
 * more, else on this one */
static void par_for(uint32_t n, void (*fn)(void *arg, int ith, int nth), void *arg)
{
	if (par_run && n >= PAR_MIN_IDS)
		par_run(par_ctx, fn, arg);
	else
		fn(arg, 0, 1);
}

/* A score and its id as one key: a larger key ranks first (the higher
 * score, then the lower id).  -0 counts as +0, as in a comparison. */
static inline uint64_t rank_key(float s, uint32_t id)
{
	uint32_t u;

	s += 0.0f;  /* -0 + 0 = +0 */
	memcpy(&u, &s, 4);
	u = u >> 31 ? ~u : u | 0x80000000u;
	return (uint64_t)u << 32 | (UINT32_MAX - id);
}

static inline uint32_t key_id(uint64_t key)
{
	return UINT32_MAX - (uint32_t)key;
}

static void sort_small(uint64_t *a, size_t n)  /* largest first */
{
	for (size_t i = 1; i < n; i++) {
		uint64_t x = a[i];
		size_t j = i;
		for (; j > 0 && a[j - 1] < x; j--)
			a[j] = a[j - 1];
		a[j] = x;
	}
}

static int cmp_desc(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? 1 : a > b ? -1 : 0;
}

/* Partition a[0..n) (n >= 3, distinct keys) around the median of its
 * first, middle and last: the keys above it first, then it; return its
 * place. */
static size_t partition(uint64_t *a, size_t n)
{
	uint64_t t, *x = a, *y = a + n / 2, *z = a + n - 1;
#define SWAP(p, q) (t = *(p), *(p) = *(q), *(q) = t)
	if (*x < *y)
		SWAP(x, y);
	if (*y < *z)
		SWAP(y, z);
	if (*x < *y)
		SWAP(x, y);
	SWAP(y, z);  /* the median last */
	/* without a branch to mispredict: a[i..j) stays below the pivot */
	size_t i = 0;
	for (size_t j = 0; j + 1 < n; j++) {
		uint64_t x = a[j];
		a[j] = a[i];
		a[i] = x;
		i += x > *z;
	}
	SWAP(a + i, z);
#undef SWAP
	return i;
}

/* Reorder a[0..n) so that a[0..k) holds its k largest (in any order). */
static void select_desc(uint64_t *a, size_t n, size_t k)
{
	int depth = 64;

	while (n > 16 && k > 0 && k < n) {
		if (depth-- == 0) {
			qsort(a, n, sizeof *a, cmp_desc);
			return;
		}
		size_t p = partition(a, n);
		if (p == k || p + 1 == k)
			return;
		if (p > k) {
			n = p;
		} else {
			a += p + 1;
			n -= p + 1;
			k -= p + 1;
		}
	}
	if (k > 0 && k < n)
		sort_small(a, n);
}

/* Scratch of the frame being selected or written (one stream per
 * process): *p grown to n elements of size bytes, never freed, so that a
 * frame loop does not allocate. */
static void *scratch(void *p, size_t *cap, size_t n, size_t size)
{
	void **pp = p;
	if (n > *cap) {
		*pp = xreallocarray(*pp, n, size);
		*cap = n;
	}
	return *pp;
}

static uint64_t *sel_keys;
static float *sel_max;
static size_t sel_keys_cap, sel_max_cap;

/* The larger of a and b in each lane, b where a is NaN. */
static inline v8 max8(v8 a, v8 b)
{
	v8i gt = a > b;
	return (v8)(((v8i)a & gt) | ((v8i)b & ~gt));
}

/* Bit j set where lane j of m is set (all ones). */
static inline unsigned mask8(v8i m)
{
#ifdef __AVX__
	return (unsigned)__builtin_ia32_movmskps256((v8)m);
#else
	unsigned b = 0;
	for (int j = 0; j < 8; j++)
		b |= (unsigned)(m[j] & 1) << j;
	return b;
#endif
}

/* This thread's share of pass 1's blocks of r vectors: block b's 32
 * maxima at sel_max[32 b] */
struct bound_job {
	const float *s;
	size_t nvec, r, nb;
};

static void bound_blocks(void *arg, int ith, int nth)
{
	const v8 ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
	const struct bound_job *j = arg;
	const float *s = j->s;

	size_t b, b1;

	for (share(j->nb, ith, nth, &b, &b1); b < b1; b++) {
		v8 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
		size_t v = b * j->r, end = v + j->r < j->nvec ? v + j->r : j->nvec;
		for (; v + 4 <= end; v += 4) {
			m0 = max8(load8(s + 8 * v), m0);
			m1 = max8(load8(s + 8 * v + 8), m1);
			m2 = max8(load8(s + 8 * v + 16), m2);
			m3 = max8(load8(s + 8 * v + 24), m3);
		}
		for (; v < end; v++)
			m0 = max8(load8(s + 8 * v), m0);
		memcpy(sel_max + 32 * b, &m0, sizeof m0);
		memcpy(sel_max + 32 * b + 8, &m1, sizeof m1);
		memcpy(sel_max + 32 * b + 16, &m2, sizeof m2);
		memcpy(sel_max + 32 * b + 24, &m3, sizeof m3);
	}
}

/* Pass 1: a score that k distinct ids reach (NaN aside), -inf when the
 * frame is too small for the bound to pay. */
static float top_bound(const float *s, uint32_t n, uint32_t k)
{
	/* blocks of r vectors, 32 groups each (4 running maxima of 8 lanes):
	 * about 4k groups of n / 4k ids */
	size_t nvec = n / 8, r = ((size_t)n / (k ? k : 1) + 3) & ~(size_t)3, nb, g;

	if (k == 0 || n / 16 < k)
		return -INFINITY;
	nb = (nvec + r - 1) / r;
	scratch(&sel_max, &sel_max_cap, 32 * nb + 1, sizeof *sel_max);
	par_for(n, bound_blocks, &(struct bound_job){.s = s, .nvec = nvec, .r = r, .nb = nb});
	g = 32 * nb;
	float t = -INFINITY;
	for (size_t i = 8 * nvec; i < n; i++)
		if (s[i] > t)
			t = s[i];
	sel_max[g++] = t;
	if (g <= k)
		return -INFINITY;
	uint64_t *key = scratch(&sel_keys, &sel_keys_cap, g, sizeof *sel_keys);
	for (size_t i = 0; i < g; i++)
		key[i] = rank_key(sel_max[i], (uint32_t)i);
	select_desc(key, g, k);
	uint64_t least = key[0];
	for (size_t i = 1; i < k; i++)
		if (key[i] < least)
			least = key[i];
	return sel_max[key_id(least)];
}

/* The largest score below t, -inf if none (NaN aside). */
static float max_below(const float *s, uint32_t n, float t)
{
	const v8 ninf = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
	v8 m = ninf;
	float best = -INFINITY;
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		v8 x = load8(s + i);
		v8i lt = x < t;
		m = max8((v8)(((v8i)x & lt) | ((v8i)ninf & ~lt)), m);
	}
	for (int j = 0; j < 8; j++)
		if (m[j] > best)
			best = m[j];
	for (; i < n; i++)
		if (s[i] < t && s[i] > best)
			best = s[i];
	return best;
}

/* Pass 3: the log of the sum of e^score over the ids that are not listed,
 * the listed ones being those that rank at or above (v, last): scoring
 * above v, or v with an id at most last.  m is the largest unlisted
 * score. */
struct rest_job {
	const float *scores;
	uint32_t n;
	float v, m;
	int32_t last;
	double *part;  /* each chunk's sum */
};

typedef float v4 __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));

/* Pass 3's terms of 8 ids from p, whose ids are idx: e^(x - m), 0 where
 * that is below e^-87 (-inf among them) or the id is listed */
static inline v8 rest_terms(const float *p, v8i idx, float m, v8 cut, v8 v, v8i last)
{
	v8 s = load8(p), x = s - m, e = exp8(x);
	v8i skip = (x < cut) | (s > v) | ((s == v) & (idx <= last));
	return (v8)((v8i)e & ~skip);
}

/* acc (lanes 0-3, then 4-7) += e's 8 lanes, in double */
static inline void add_wide(v4d acc[2], v8 e)
{
	v4 a, b;
	memcpy(&a, &e, sizeof a);
	memcpy(&b, (char *)&e + sizeof a, sizeof b);
	acc[0] += __builtin_convertvector(a, v4d);
	acc[1] += __builtin_convertvector(b, v4d);
}

/* This thread's share of the chunks: chunk c's sum in part[c].  The
 * vectors are of 8 floats, not 16: without AVX-512, GCC split this loop's
 * 16-lane comparisons into scalar code (290 us a SmolLM2 frame on 1
 * thread of an AVX2 host, against 30 with these; the same bits). */
static void rest_chunks(void *arg, int ith, int nth)
{
	const struct rest_job *j = arg;
	const float *scores = j->scores;
	const v8 cut = (v8){0} - 87, vv = (v8){0} + j->v;
	const v8i lastv = (v8i){0} + j->last;
	const float m = j->m, v = j->v;
	size_t c, c1;

	for (share(n_chunks(j->n), ith, nth, &c, &c1); c < c1; c++) {
		uint32_t i = (uint32_t)c * REST_CHUNK, end = chunk_end(j->n, c);
		v8i idx = (v8i){0, 1, 2, 3, 4, 5, 6, 7} + (int32_t)i;
		v4d lo[2] = {{0}}, hi[2] = {{0}};
		double sum = 0;
		/* 16 ids at a time, each of the 16 lanes summed in double on
		 * its own (ids i + j in lo, i + 8 + j in hi); lane j and
		 * j + 8 are added, then those 8 pairwise */
		for (; i + 16 <= end; i += 16, idx += 16) {
			add_wide(lo, rest_terms(scores + i, idx, m, cut, vv, lastv));
			add_wide(hi, rest_terms(scores + i + 8, idx + 8, m, cut, vv, lastv));
		}
		for (; i < end; i++) {
			bool listed = scores[i] > v || (scores[i] == v && (int32_t)i <= j->last);
			if (!listed && scores[i] - m >= -87)
				sum += exp((double)scores[i] - m);
		}
		v4d l0 = lo[0] + hi[0], l1 = lo[1] + hi[1];
		j->part[c] = sum + (((l0[0] + l0[1]) + (l0[2] + l0[3])) + ((l1[0] + l1[1]) + (l1[2] + l1[3])));
	}
}

static double *rest_part;
static size_t rest_part_cap;

static double rest_sum(const float *scores, uint32_t n, float v, int32_t last, float m)
{
	size_t nc = n_chunks(n);
	double sum = 0;

	if (m == INFINITY || m == -INFINITY)
		return m;
	struct rest_job j = {.scores = scores, .n = n, .v = v, .m = m, .last = last,
			     .part = scratch(&rest_part, &rest_part_cap, nc, sizeof *rest_part)};
	par_for(n, rest_chunks, &j);
	for (size_t c = 0; c < nc; c++)
		sum += j.part[c];
	return m + log(sum);
}

/* Pass 2 in chunks of REST_CHUNK ids, this thread's share: chunk c's
 * candidates (the ids not below t; a NaN is not below t either) at
 * key[REST_CHUNK c], n_cand[c] of them, and whether it has a NaN in
 * has_nan[c]. */
struct cand_job {
	const float *s;
	uint32_t n;
	float t;
	uint64_t *key;
	uint32_t *n_cand;
	bool *has_nan;
};

static void cand_chunks(void *arg, int ith, int nth)
{
	const struct cand_job *j = arg;
	const float *scores = j->s;
	size_t ch, ch1;

	for (share(n_chunks(j->n), ith, nth, &ch, &ch1); ch < ch1; ch++) {
		uint32_t i = (uint32_t)ch * REST_CHUNK, end = chunk_end(j->n, ch);
		uint64_t *key = j->key + i;
		uint32_t c = 0;
		bool nan = false;
		for (; i + 8 <= end; i += 8) {
			for (unsigned b = mask8(~(load8(scores + i) < j->t)); b; b &= b - 1) {
				uint32_t id = i + (uint32_t)__builtin_ctz(b);
				key[c++] = rank_key(scores[id], id);
				nan |= scores[id] != scores[id];
			}
		}
		for (; i < end; i++)
			if (!(scores[i] < j->t)) {
				key[c++] = rank_key(scores[i], i);
				nan |= scores[i] != scores[i];
			}
		j->n_cand[ch] = c;
		j->has_nan[ch] = nan;
	}
}

static uint32_t *cand_n;
static bool *cand_nan;
static size_t cand_n_cap, cand_nan_cap;

uint32_t logits_top(const float *scores, uint32_t n, uint32_t k, uint32_t *top, float *rest)
{
	float t = k ? top_bound(scores, n, k) : INFINITY;
	size_t nc = n_chunks(n), c = 0;
	struct cand_job cj = {.s = scores, .n = n, .t = t,
			     .key = scratch(&sel_keys, &sel_keys_cap, n, sizeof *sel_keys),
			     .n_cand = scratch(&cand_n, &cand_n_cap, nc, sizeof *cand_n),
			     .has_nan = scratch(&cand_nan, &cand_nan_cap, nc, sizeof *cand_nan)};
	uint64_t *key = cj.key;
	bool nan = false;
	uint32_t i;

	if (k > n)
		k = n;
	/* pass 2: the candidates, gathered chunk after chunk */
	par_for(n, cand_chunks, &cj);
	for (size_t ch = 0; ch < nc; ch++) {
		memmove(key + c, key + ch * REST_CHUNK, cj.n_cand[ch] * sizeof *key);
		c += cj.n_cand[ch];
		nan |= cj.has_nan[ch];
	}
	if (nan) {  /* the NaN ids alone, so that readers refuse the frame */
		uint32_t m = 0;
		for (i = 0; i < n && m < k; i++)
			if (scores[i] != scores[i])
				top[m++] = i;
		if (rest)
			*rest = NAN;
		return m;
	}
	/* c >= k: t is -inf (every id a candidate) or k ids reach it */
	select_desc(key, c, k);
	qsort(key, k, sizeof *key, cmp_desc);
	for (i = 0; i < k; i++)
		top[i] = key_id(key[i]);
	if (rest) {
		float m = -INFINITY;
		if (c > k) {
			uint64_t best = key[k];
			for (size_t j = k + 1; j < c; j++)
				if (key[j] > best)
					best = key[j];
			m = scores[key_id(best)];
		} else if (k < n) {
			m = max_below(scores, n, t);
		}
		*rest = k == n ? -INFINITY
		      : (float)rest_sum(scores, n, k ? scores[top[k - 1]] : INFINITY, k ? (int32_t)top[k - 1] : -1, m);
	}
	return k;
}

/* The top-k ids of the frame being written */
static uint32_t *write_top;
static size_t write_top_cap;

int logits_write_text(FILE *out, int64_t seq, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores,
		      uint32_t k)
{
	uint32_t *top = scratch(&write_top, &write_top_cap, k < n_vocab ? k : n_vocab, sizeof *write_top), n = logits_top(scores, n_vocab, k, top, NULL);
	int ok;

	ok = seq < 0 || fprintf(out, "seq=%lld ", (long long)seq) > 0;
	ok = ok && fprintf(out, "pos=%llu token=%d vocab=%u", (unsigned long long)pos, token, n_vocab) > 0;
	for (uint32_t i = 0; i < n && ok; i++)
		ok = fprintf(out, " %u:%.9g", top[i], scores[top[i]]) > 0;
	if (ok)
		ok = putc('\n', out) != EOF;
	return finish_write(out, ok);
}

int logits_write_top(FILE *out, int64_t seq, uint32_t n_vocab, int32_t token, uint64_t pos, const float *scores,
		     uint32_t k)
{
	unsigned char h[LOGITS_HDR_SIZE_TOP] = {0};
	float rest;
	uint32_t *top = scratch(&write_top, &write_top_cap, k < n_vocab ? k : n_vocab, sizeof *write_top), n = logits_top(scores, n_vocab, k, top, &rest);
	uint32_t r;
	int ok;

	memcpy(h, LOGITS_MAGIC, 4);
	put_le(h + 4, LOGITS_VERSION_TOP, 4);
	put_le(h + 8, n_vocab, 4);
	put_le(h + 12, (uint32_t)token, 4);
	put_le(h + 16, pos, 8);
	put_le(h + 24, seq < 0 ? 0 : (uint64_t)seq, 4);
	put_le(h + 28, seq >= 0, 4);
	put_le(h + 32, n, 4);
	memcpy(&r, &rest, 4);
	put_le(h + 36, r, 4);
	ok = fwrite(h, 1, sizeof h, out) == sizeof h;
	for (uint32_t i = 0; ok && i < n; i++) {
		unsigned char b[8];
		uint32_t u;
		memcpy(&u, &scores[top[i]], 4);
		put_le(b, top[i], 4);
		put_le(b + 4, u, 4);
		ok = fwrite(b, 1, 8, out) == 8;
	}
	return finish_write(out, ok);
}
