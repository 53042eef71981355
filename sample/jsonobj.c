/* jsonobj.c - the JSON object machine over a vocabulary (see jsonobj.h). */
#include "jsonobj.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

enum mode {
	M_START,      /* before the '{' */
	M_OBJ_FIRST,  /* after '{': a key or '}' */
	M_OBJ_KEY,    /* after ',' in an object: a key */
	M_COLON,      /* after a key */
	M_VALUE,      /* after ':' or ',' in an array */
	M_ARR_FIRST,  /* after '[': a value or ']' */
	M_AFTER,      /* after a value: ',' or the closing bracket */
	M_STR,        /* in a string: aux = UTF-8 bytes due (bits 0-1), what the next one may be (bits 2-4) */
	M_ESC,        /* after '\' */
	M_HEX,        /* in \uXXXX: aux = digits seen (bits 0-1), the first was d (bit 2), a low
			 surrogate is due (bit 3), this one is a high surrogate (bit 4) */
	M_LOW_BS,     /* after a high surrogate's escape: its low half's '\' */
	M_LOW_U,      /* ... and its 'u' */
	M_NUM_MINUS,  /* after '-' (aux: characters of the number, in every number state) */
	M_NUM_ZERO,   /* after a leading 0 */
	M_NUM_INT,    /* in the integer part */
	M_NUM_DOT,    /* after '.' */
	M_NUM_FRAC,   /* in the fraction */
	M_NUM_E,      /* after 'e' */
	M_NUM_ESIGN,  /* after the exponent's sign */
	M_NUM_EXP,    /* in the exponent */
	M_LIT,        /* in true, false or null: aux = which (bits 4-5), letters matched (bits 0-3) */
	M_DONE,       /* the object is closed */
};

/* The state: a mode, its aux, whether the string being read is a key,
 * and the stack (bit i: level i is an object). */
struct st {
	uint8_t mode, aux, key, depth;
	uint32_t stack;
};

struct cached {
	uint64_t key;
	uint64_t *allowed;      /* (n bits) */
};

struct jsonobj {
	uint32_t n;
	const char *const *piece;
	const uint32_t *len;
	const bool *end;
	struct st s;
	const uint64_t *allowed;  /* of s */
	struct cached cache[JSONOBJ_CACHE];
	int n_cache, next_evict;
};

static const char *const literal[] = {"true", "false", "null"};

static bool is_ws(unsigned char b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }
static bool is_digit(unsigned char b) { return b >= '0' && b <= '9'; }

static bool is_hex(unsigned char b)
{
	return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

static bool top_is_object(const struct st *s) { return s->stack >> (s->depth - 1) & 1; }

static bool set(struct st *s, enum mode m, unsigned aux)
{
	s->mode = (uint8_t)m;
	s->aux = (uint8_t)aux;
	return true;
}

/* White space in a gap: counted, limited. */
static bool gap(struct st *s)
{
	if (s->aux >= JSONOBJ_MAX_WS)
		return false;
	s->aux++;
	return true;
}

static bool push(struct st *s, bool object)
{
	if (s->depth == JSONOBJ_MAX_DEPTH)
		return false;
	s->stack = (s->stack & ~(1u << s->depth)) | (uint32_t)object << s->depth;
	s->depth++;
	s->key = 0;
	return set(s, object ? M_OBJ_FIRST : M_ARR_FIRST, 0);
}

static bool pop(struct st *s)
{
	s->depth--;
	return set(s, s->depth ? M_AFTER : M_DONE, 0);
}

/* The end of a value (a string, a number, a literal). */
static bool value_end(struct st *s)
{
	s->key = 0;
	return set(s, M_AFTER, 0);
}

static bool value_start(struct st *s, unsigned char b)
{
	switch (b) {
	case '{': return push(s, true);
	case '[': return push(s, false);
	case '"': s->key = 0; return set(s, M_STR, 0);
	case '-': return set(s, M_NUM_MINUS, 1);
	case '0': return set(s, M_NUM_ZERO, 1);
	case 't': return set(s, M_LIT, 0 << 4 | 1);
	case 'f': return set(s, M_LIT, 1 << 4 | 1);
	case 'n': return set(s, M_LIT, 2 << 4 | 1);
	default: return is_digit(b) ? set(s, M_NUM_INT, 1) : false;
	}
}

/* After a value: ',' or the bracket that closes the level. */
static bool after(struct st *s, unsigned char b)
{
	if (is_ws(b))
		return gap(s);
	bool obj = top_is_object(s);
	if (b == ',')
		return set(s, obj ? M_OBJ_KEY : M_VALUE, 0);
	if (b == (obj ? '}' : ']'))
		return pop(s);
	return false;
}

/* A byte in a string.  UTF-8 as common/json.c takes it: no overlong
 * forms, no surrogates, nothing past U+10FFFF (the second byte's range is
 * kept in aux bits 2-4). */
static bool in_string(struct st *s, unsigned char b)
{
	static const unsigned char lo[] = {0x80, 0xa0, 0x80, 0x90, 0x80}, hi[] = {0xbf, 0xbf, 0x9f, 0xbf, 0x8f};
	unsigned due = s->aux & 3, range = s->aux >> 2;
	if (due)
		return b >= lo[range] && b <= hi[range] ? set(s, M_STR, due - 1) : false;
	if (b == '"') {
		if (s->key) {
			s->key = 0;
			return set(s, M_COLON, 0);
		}
		return value_end(s);
	}
	if (b == '\\')
		return set(s, M_ESC, 0);
	if (b < 0x20)
		return false;
	if (b < 0x80)
		return set(s, M_STR, 0);
	if (b >= 0xc2 && b <= 0xdf)
		return set(s, M_STR, 1);
	if (b == 0xe0)
		return set(s, M_STR, 2 | 1 << 2);
	if (b == 0xed)
		return set(s, M_STR, 2 | 2 << 2);
	if (b >= 0xe1 && b <= 0xef)
		return set(s, M_STR, 2);
	if (b == 0xf0)
		return set(s, M_STR, 3 | 3 << 2);
	if (b == 0xf4)
		return set(s, M_STR, 3 | 4 << 2);
	if (b >= 0xf1 && b <= 0xf3)
		return set(s, M_STR, 3);
	return false;
}

/* A hex digit of \uXXXX; surrogates only as a high-low pair. */
static bool hex_digit(struct st *s, unsigned char b)
{
	unsigned seen = s->aux & 3, first_d = s->aux >> 2 & 1, low_due = s->aux >> 3 & 1, high = s->aux >> 4 & 1;
	if (!is_hex(b))
		return false;
	bool d = b == 'd' || b == 'D';
	if (seen == 0) {
		if (low_due && !d)
			return false;
		first_d = d;
	} else if (seen == 1 && first_d) {
		bool hi8 = b >= '8' && b <= '9', ab = b == 'a' || b == 'A' || b == 'b' || b == 'B';
		bool cf = is_hex(b) && !is_digit(b) && !ab;
		if (low_due && !cf)
			return false;
		if (!low_due && cf)
			return false;  /* a lone low surrogate */
		high = !low_due && (hi8 || ab);
	} else if (seen == 1 && low_due) {
		return false;
	}
	if (seen == 3)
		return high ? set(s, M_LOW_BS, 0) : set(s, M_STR, 0);
	return set(s, M_HEX, (seen + 1) | first_d << 2 | low_due << 3 | high << 4);
}

/* A byte of a number; a byte that cannot continue it ends the number
 * when it may end there, and is then read after the value. */
static bool number(struct st *s, unsigned char b)
{
	enum mode m = s->mode, next;
	bool can_end = m == M_NUM_ZERO || m == M_NUM_INT || m == M_NUM_FRAC || m == M_NUM_EXP;
	switch (m) {
	case M_NUM_MINUS: next = b == '0' ? M_NUM_ZERO : is_digit(b) ? M_NUM_INT : M_DONE; break;
	case M_NUM_ZERO: next = b == '.' ? M_NUM_DOT : (b == 'e' || b == 'E') ? M_NUM_E : M_DONE; break;
	case M_NUM_INT:
		next = is_digit(b) ? M_NUM_INT : b == '.' ? M_NUM_DOT : (b == 'e' || b == 'E') ? M_NUM_E : M_DONE;
		break;
	case M_NUM_DOT: next = is_digit(b) ? M_NUM_FRAC : M_DONE; break;
	case M_NUM_FRAC: next = is_digit(b) ? M_NUM_FRAC : (b == 'e' || b == 'E') ? M_NUM_E : M_DONE; break;
	case M_NUM_E: next = (b == '+' || b == '-') ? M_NUM_ESIGN : is_digit(b) ? M_NUM_EXP : M_DONE; break;
	case M_NUM_ESIGN:
	case M_NUM_EXP: next = is_digit(b) ? M_NUM_EXP : M_DONE; break;
	default: return false;
	}
	if (next != M_DONE)
		return s->aux < JSONOBJ_MAX_DIGITS ? set(s, next, s->aux + 1u) : false;
	if (!can_end)
		return false;
	value_end(s);
	return after(s, b);
}

static bool step(struct st *s, unsigned char b)
{
	switch ((enum mode)s->mode) {
	case M_START:
		if (is_ws(b))
			return gap(s);
		return b == '{' && push(s, true);
	case M_OBJ_FIRST:
		if (b == '}')
			return pop(s);
		/* fall through */
	case M_OBJ_KEY:
		if (is_ws(b))
			return gap(s);
		if (b != '"')
			return false;
		s->key = 1;
		return set(s, M_STR, 0);
	case M_COLON:
		if (is_ws(b))
			return gap(s);
		return b == ':' && set(s, M_VALUE, 0);
	case M_ARR_FIRST:
		if (b == ']')
			return pop(s);
		/* fall through */
	case M_VALUE:
		if (is_ws(b))
			return gap(s);
		return value_start(s, b);
	case M_AFTER:
		return after(s, b);
	case M_STR:
		return in_string(s, b);
	case M_ESC:
		if (b == 'u')
			return set(s, M_HEX, 0);
		return b && strchr("\"\\/bfnrt", b) && set(s, M_STR, 0);
	case M_HEX:
		return hex_digit(s, b);
	case M_LOW_BS:
		return b == '\\' && set(s, M_LOW_U, 0);
	case M_LOW_U:
		return b == 'u' && set(s, M_HEX, 1 << 3);
	case M_LIT: {
		const char *w = literal[s->aux >> 4];
		unsigned k = s->aux & 15;
		if (b != (unsigned char)w[k])
			return false;
		if (w[k + 1] == 0)
			return value_end(s);
		return set(s, M_LIT, (s->aux & 0x30) | (k + 1));
	}
	case M_DONE:
		return false;
	default:
		return number(s, b);
	}
}

/* The state after token id from s: false when it cannot come. */
static bool run(const struct jsonobj *c, struct st *s, int32_t id)
{
	uint32_t n = c->len[id];
	const unsigned char *p = (const unsigned char *)c->piece[id];
	if (n == 0 || c->end[id])
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (!step(s, p[i]))
			return false;
	return true;
}

static uint64_t state_key(const struct st *s)
{
	uint32_t live = s->depth ? (uint32_t)((2ull << (s->depth - 1)) - 1) : 0;
	return (uint64_t)s->mode | (uint64_t)s->aux << 8 | (uint64_t)s->key << 16 | (uint64_t)s->depth << 17 |
	       (uint64_t)(s->stack & live) << 24;
}

/* The allowed set of the current state, from the cache or computed. */
static void load_state(struct jsonobj *c)
{
	uint64_t key = state_key(&c->s);
	size_t words = (c->n + 63) / 64;
	for (int i = 0; i < c->n_cache; i++)
		if (c->cache[i].key == key) {
			c->allowed = c->cache[i].allowed;
			return;
		}
	struct cached *slot;
	if (c->n_cache < JSONOBJ_CACHE) {
		slot = &c->cache[c->n_cache++];
		slot->allowed = xcalloc(words, sizeof *slot->allowed);
	} else {
		slot = &c->cache[c->next_evict];
		c->next_evict = (c->next_evict + 1) % JSONOBJ_CACHE;
		memset(slot->allowed, 0, words * sizeof *slot->allowed);
	}
	slot->key = key;
	bool done = c->s.mode == M_DONE;
	for (uint32_t id = 0; id < c->n; id++) {
		struct st s = c->s;
		if (done ? c->end[id] : run(c, &s, (int32_t)id))
			slot->allowed[id / 64] |= 1ull << (id % 64);
	}
	c->allowed = slot->allowed;
}

struct jsonobj *jsonobj_new(uint32_t n, const char *const *piece, const uint32_t *len, const bool *end)
{
	struct jsonobj *c = xcalloc(1, sizeof *c);
	c->n = n;
	c->piece = piece;
	c->len = len;
	c->end = end;
	load_state(c);
	return c;
}

void jsonobj_free(struct jsonobj *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_cache; i++)
		free(c->cache[i].allowed);
	free(c);
}

void jsonobj_mask(struct jsonobj *c, float *logits)
{
	for (uint32_t w = 0; w < (c->n + 63) / 64; w++) {
		uint64_t bits = c->allowed[w];
		if (bits == ~0ull)
			continue;
		uint32_t end = w * 64 + 64 < c->n ? w * 64 + 64 : c->n;
		for (uint32_t id = w * 64; id < end; id++)
			if (!(bits >> (id % 64) & 1))
				logits[id] = -INFINITY;
	}
}

int jsonobj_accept(struct jsonobj *c, int32_t id)
{
	if (id < 0 || (uint32_t)id >= c->n || !(c->allowed[id / 64] >> (id % 64) & 1))
		return -1;
	if (c->s.mode == M_DONE)
		return 0;  /* an end-of-generation id: the state stays done */
	run(c, &c->s, id);
	load_state(c);
	return 0;
}

bool jsonobj_complete(const struct jsonobj *c) { return c->s.mode == M_DONE; }
