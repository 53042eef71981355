/* constrain.c - the {"cmd": "<string>"} state machine over a vocabulary
 * (see constrain.h). */
#include "constrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A state is (kind << 8) | aux: aux counts whitespace in a gap, the
 * letters of the key matched, the UTF-8 continuation bytes still due, or
 * the hex digits of a \u escape seen. */
enum kind {
	K_START,      /* before '{' */
	K_OBJECT,     /* after '{', before the key's '"' */
	K_KEY,        /* in the key: aux letters of "cmd" matched */
	K_KEY_END,    /* after the key, before ':' */
	K_COLON,      /* after ':', before the value's '"' */
	K_STR_FIRST,  /* just inside the value: it must not end at once */
	K_STR,        /* in the value: aux UTF-8 continuation bytes due */
	K_ESC,        /* after '\' */
	K_HEX,        /* in \uXXXX: aux digits seen */
	K_VALUE_END,  /* after the value, before '}' */
	K_DONE,       /* after '}' */
};

#define REJECT 0xffffu
#define STATE(kind, aux) ((uint16_t)((kind) << 8 | (aux)))
#define CACHE_SLOTS 160

struct cached {
	uint32_t key;       /* state, plus 0x10000 in closing mode */
	uint64_t *allowed;  /* (n_vocab bits) */
};

struct constraint {
	uint32_t n_vocab;
	int32_t eos;
	bool closing;          /* only tokens that bring the end closer */
	char *bytes;           /* all pieces, one after another */
	uint32_t *offset;      /* (n_vocab + 1) piece i is bytes[offset[i]..offset[i+1]) */
	uint16_t state;
	const uint64_t *allowed;  /* for the current state */
	struct cached cache[CACHE_SLOTS];
	int n_cache, next_evict;
};

static bool is_ws(unsigned char b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

static bool is_hex(unsigned char b)
{
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

/* Whitespace in a gap, or the byte that ends the gap. */
static uint16_t gap(unsigned aux, unsigned char b, unsigned char want, enum kind here, uint16_t next)
{
	if (is_ws(b))
		return aux < CONSTRAIN_MAX_WS ? STATE(here, aux + 1) : REJECT;
	return b == want ? next : REJECT;
}

static uint16_t in_string(unsigned aux, unsigned char b)
{
	if (aux > 0)  /* a UTF-8 continuation byte is due */
		return (b & 0xc0) == 0x80 ? STATE(K_STR, aux - 1) : REJECT;
	if (b == '"')
		return STATE(K_VALUE_END, 0);
	if (b == '\\')
		return STATE(K_ESC, 0);
	if (b < 0x20 || b == 0x7f)
		return REJECT;
	if (b < 0x80)
		return STATE(K_STR, 0);
	if (b >= 0xc2 && b <= 0xdf)
		return STATE(K_STR, 1);
	if (b >= 0xe0 && b <= 0xef)
		return STATE(K_STR, 2);
	if (b >= 0xf0 && b <= 0xf4)
		return STATE(K_STR, 3);
	return REJECT;
}

static uint16_t step(uint16_t s, unsigned char b)
{
	unsigned aux = s & 0xff;
	switch ((enum kind)(s >> 8)) {
	case K_START:
		return gap(aux, b, '{', K_START, STATE(K_OBJECT, 0));
	case K_OBJECT:
		return gap(aux, b, '"', K_OBJECT, STATE(K_KEY, 0));
	case K_KEY:
		if (aux < 3)
			return b == (unsigned char)"cmd"[aux] ? STATE(K_KEY, aux + 1) : REJECT;
		return b == '"' ? STATE(K_KEY_END, 0) : REJECT;
	case K_KEY_END:
		return gap(aux, b, ':', K_KEY_END, STATE(K_COLON, 0));
	case K_COLON:
		return gap(aux, b, '"', K_COLON, STATE(K_STR_FIRST, 0));
	case K_STR_FIRST:
		return b == '"' ? REJECT : in_string(0, b);
	case K_STR:
		return in_string(aux, b);
	case K_ESC:
		if (b == 'u')
			return STATE(K_HEX, 0);
		return (b && strchr("\"\\/bfnrt", b)) ? STATE(K_STR, 0) : REJECT;
	case K_HEX:
		if (!is_hex(b))
			return REJECT;
		return aux == 3 ? STATE(K_STR, 0) : STATE(K_HEX, aux + 1);
	case K_VALUE_END:
		return gap(aux, b, '}', K_VALUE_END, STATE(K_DONE, 0));
	case K_DONE:
	default:
		return REJECT;
	}
}

/* Bytes still needed, at the least, to close the object from state s:
 * each token accepted in closing mode lowers it, so at most 12 tokens
 * close any prefix. */
static unsigned distance(uint16_t s)
{
	unsigned aux = s & 0xff;
	switch ((enum kind)(s >> 8)) {
	case K_DONE: return 0;
	case K_VALUE_END: return 1;
	case K_STR: return 2 + aux;
	case K_HEX: return 2 + (4 - aux);
	case K_ESC: return 3;
	case K_STR_FIRST: return 3;
	case K_COLON: return 5;
	case K_KEY_END: return 6;
	case K_KEY: return 7 + (3 - aux);
	case K_OBJECT: return 11;
	case K_START: default: return 12;
	}
}

/* The state after token id's bytes, or REJECT. */
static uint16_t run(const struct constraint *c, uint16_t s, int32_t id)
{
	uint32_t a = c->offset[id], z = c->offset[id + 1];
	if (a == z)
		return REJECT;  /* control tokens and empty pieces */
	for (uint32_t i = a; i < z && s != REJECT; i++)
		s = step(s, (unsigned char)c->bytes[i]);
	return s;
}

/* The allowed set of the current state, from the cache or computed. */
static void load_state(struct constraint *c)
{
	uint32_t key = c->state | (c->closing ? 0x10000u : 0);
	for (int i = 0; i < c->n_cache; i++)
		if (c->cache[i].key == key) {
			c->allowed = c->cache[i].allowed;
			return;
		}
	struct cached *slot;
	if (c->n_cache < CACHE_SLOTS) {
		slot = &c->cache[c->n_cache++];
		slot->allowed = xcalloc((c->n_vocab + 63) / 64, sizeof *slot->allowed);
	} else {
		slot = &c->cache[c->next_evict];
		c->next_evict = (c->next_evict + 1) % CACHE_SLOTS;
		memset(slot->allowed, 0, (c->n_vocab + 63) / 64 * sizeof *slot->allowed);
	}
	slot->key = key;
	if (c->state == STATE(K_DONE, 0)) {
		slot->allowed[c->eos / 64] |= 1ull << (c->eos % 64);
	} else {
		unsigned here = distance(c->state);
		for (uint32_t id = 0; id < c->n_vocab; id++) {
			if ((int32_t)id == c->eos)
				continue;
			uint16_t next = run(c, c->state, (int32_t)id);
			if (next != REJECT && (!c->closing || distance(next) < here))
				slot->allowed[id / 64] |= 1ull << (id % 64);
		}
	}
	c->allowed = slot->allowed;
}

struct constraint *constraint_new_json_cmd(const char *const *piece, const size_t *piece_len, uint32_t n_vocab,
					   int32_t eos_id, struct lmu_err *e)
{
	if (n_vocab == 0 || n_vocab > CONSTRAIN_MAX_VOCAB) {
		err_set(e, "constraint: vocabulary of %u tokens (1 to %u allowed)", n_vocab, CONSTRAIN_MAX_VOCAB);
		return NULL;
	}
	if (eos_id < 0 || (uint32_t)eos_id >= n_vocab) {
		err_set(e, "constraint: end-of-sequence id %d outside the vocabulary of %u", eos_id, n_vocab);
		return NULL;
	}
	uint64_t total = 0;
	for (uint32_t i = 0; i < n_vocab; i++) {
		if (piece_len[i] > CONSTRAIN_MAX_PIECE || (piece_len[i] > 0 && !piece[i])) {
			err_set(e, "constraint: token %u: piece of %zu bytes", i, piece_len[i]);
			return NULL;
		}
		total += piece_len[i];
	}
	if (total >= UINT32_MAX) {
		err_set(e, "constraint: %llu bytes of pieces", (unsigned long long)total);
		return NULL;
	}
	struct constraint *c = xcalloc(1, sizeof *c);
	c->n_vocab = n_vocab;
	c->eos = eos_id;
	c->bytes = xmalloc(total ? total : 1);
	c->offset = xreallocarray(NULL, (size_t)n_vocab + 1, sizeof *c->offset);
	uint32_t at = 0;
	for (uint32_t i = 0; i < n_vocab; i++) {
		c->offset[i] = at;
		if (piece_len[i])
			memcpy(c->bytes + at, piece[i], piece_len[i]);
		at += (uint32_t)piece_len[i];
	}
	c->offset[n_vocab] = at;
	constraint_reset(c);
	return c;
}

void constraint_reset(struct constraint *c)
{
	c->state = STATE(K_START, 0);
	c->closing = false;
	load_state(c);
}

void constraint_set_closing(struct constraint *c, bool closing)
{
	c->closing = closing;
	load_state(c);
}

void constraint_mask(const struct constraint *c, float *logits)
{
	for (uint32_t w = 0; w < (c->n_vocab + 63) / 64; w++) {
		uint64_t bits = c->allowed[w];
		if (bits == ~0ull)
			continue;
		uint32_t end = w * 64 + 64 < c->n_vocab ? w * 64 + 64 : c->n_vocab;
		for (uint32_t id = w * 64; id < end; id++)
			if (!(bits >> (id % 64) & 1))
				logits[id] = -INFINITY;
	}
}

int constraint_accept(struct constraint *c, int32_t id)
{
	if (id < 0 || (uint32_t)id >= c->n_vocab || !(c->allowed[id / 64] >> (id % 64) & 1))
		return -1;
	if (id == c->eos)
		return 0;  /* allowed only when complete: the state stays done */
	c->state = run(c, c->state, id);
	load_state(c);
	return 0;
}

bool constraint_complete(const struct constraint *c) { return c->state == STATE(K_DONE, 0); }

void constraint_free(struct constraint *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_cache; i++)
		free(c->cache[i].allowed);
	free(c->bytes);
	free(c->offset);
	free(c);
}
