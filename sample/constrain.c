/* constrain.c - masks from a byte-level machine over a vocabulary (see
 * constrain.h). */
#include "constrain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 160

struct constraint_vocab {
	uint32_t n_vocab;
	int32_t eos;
	char *bytes;         /* all pieces, one after another */
	uint32_t *offset;    /* (n_vocab + 1) piece i is bytes[offset[i]..offset[i+1]) */
	uint32_t *order;     /* (n_sorted) the ids with a piece, their pieces in byte order */
	uint32_t *lcp;       /* (n_sorted) bytes order[i] shares with order[i - 1] */
	uint32_t n_sorted;
	uint32_t longest;    /* bytes of the longest piece */
};

/* The tokens allowed in one state, in one mode. */
struct cached {
	unsigned char *key;  /* the state's bytes */
	size_t key_len;
	uint64_t hash;
	bool closing;
	uint32_t distance;   /* of the state */
	uint64_t *allowed;   /* (n_vocab bits) */
	/* normal mode: the allowed ids after which the distance grows, the
	 * largest distance first, for the budget */
	uint32_t *grow_id, *grow_dist;
	size_t n_grow, cap_grow;
};

struct constraint {
	const struct constraint_vocab *v;
	const struct byte_machine *m;
	unsigned char *state;  /* (state_size) */
	unsigned char *runs;   /* (longest + 1) * state_size: the states along a piece */
	bool closed, complete;
	struct cached cache[CACHE_SLOTS];
	int n_cache, next_evict;
};

/* ---- the vocabulary ---- */

static int cmp_piece(const void *pa, const void *pb, void *arg)
{
	const struct constraint_vocab *v = arg;
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;
	uint32_t la = v->offset[a + 1] - v->offset[a], lb = v->offset[b + 1] - v->offset[b];
	int r = memcmp(v->bytes + v->offset[a], v->bytes + v->offset[b], la < lb ? la : lb);
	if (r)
		return r;
	return la < lb ? -1 : la > lb ? 1 : (a > b) - (a < b);
}

struct constraint_vocab *constraint_vocab_new(const char *const *piece, const size_t *piece_len, uint32_t n_vocab,
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
	struct constraint_vocab *v = xcalloc(1, sizeof *v);
	v->n_vocab = n_vocab;
	v->eos = eos_id;
	v->bytes = xmalloc(total ? total : 1);
	v->offset = xreallocarray(NULL, (size_t)n_vocab + 1, sizeof *v->offset);
	v->order = xreallocarray(NULL, n_vocab, sizeof *v->order);
	uint32_t at = 0;
	for (uint32_t i = 0; i < n_vocab; i++) {
		v->offset[i] = at;
		if (piece_len[i])
			memcpy(v->bytes + at, piece[i], piece_len[i]);
		at += (uint32_t)piece_len[i];
		if (piece_len[i] && (int32_t)i != eos_id)
			v->order[v->n_sorted++] = i;
		if (piece_len[i] > v->longest)
			v->longest = (uint32_t)piece_len[i];
	}
	v->offset[n_vocab] = at;
	qsort_r(v->order, v->n_sorted, sizeof *v->order, cmp_piece, v);
	v->lcp = xcalloc(v->n_sorted ? v->n_sorted : 1, sizeof *v->lcp);
	for (uint32_t i = 1; i < v->n_sorted; i++) {
		const char *a = v->bytes + v->offset[v->order[i - 1]], *b = v->bytes + v->offset[v->order[i]];
		uint32_t la = v->offset[v->order[i - 1] + 1] - v->offset[v->order[i - 1]];
		uint32_t lb = v->offset[v->order[i] + 1] - v->offset[v->order[i]];
		uint32_t k = 0;
		while (k < la && k < lb && a[k] == b[k])
			k++;
		v->lcp[i] = k;
	}
	return v;
}

struct constraint_vocab *constraint_vocab_of(const struct vocab *v, struct lmu_err *e)
{
	if (v->eos < 0) {
		err_set(e, "the model has no end-of-sequence token");
		return NULL;
	}
	const char **piece = xcalloc(v->n, sizeof *piece);
	size_t *len = xcalloc(v->n, sizeof *len);
	for (uint32_t i = 0; i < v->n; i++) {
		if (vocab_is_special(v, (int32_t)i))
			piece[i] = "";
		else
			piece[i] = vocab_piece(v, (int32_t)i, &len[i]);
	}
	struct constraint_vocab *cv = constraint_vocab_new(piece, len, v->n, v->eos, e);
	free(piece);
	free(len);
	return cv;
}

uint32_t constraint_vocab_size(const struct constraint_vocab *cv) { return cv->n_vocab; }

void constraint_vocab_free(struct constraint_vocab *cv)
{
	if (!cv)
		return;
	free(cv->bytes);
	free(cv->offset);
	free(cv->order);
	free(cv->lcp);
	free(cv);
}

/* ---- the allowed sets ---- */

static uint64_t hash_bytes(const unsigned char *p, size_t n, bool closing)
{
	uint64_t h = 0xcbf29ce484222325ull ^ closing;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void grow_push(struct cached *s, uint32_t id, uint32_t dist)
{
	if (s->n_grow == s->cap_grow) {
		s->cap_grow = s->cap_grow ? 2 * s->cap_grow : 64;
		s->grow_id = xreallocarray(s->grow_id, s->cap_grow, sizeof *s->grow_id);
		s->grow_dist = xreallocarray(s->grow_dist, s->cap_grow, sizeof *s->grow_dist);
	}
	s->grow_id[s->n_grow] = id;
	s->grow_dist[s->n_grow++] = dist;
}

/* Sort the growing ids by distance, the largest first (insertion sort on
 * the distances, which are few and mostly equal; ids move with them). */
static void grow_sort(struct cached *s)
{
	for (size_t i = 1; i < s->n_grow; i++) {
		uint32_t id = s->grow_id[i], d = s->grow_dist[i];
		size_t j = i;
		for (; j > 0 && s->grow_dist[j - 1] < d; j--) {
			s->grow_id[j] = s->grow_id[j - 1];
			s->grow_dist[j] = s->grow_dist[j - 1];
		}
		s->grow_id[j] = id;
		s->grow_dist[j] = d;
	}
}

/* Run the machine over every token from the current state: the tokens in
 * byte order, each starting from the states its shared prefix reached. */
static void compute(struct constraint *c, struct cached *s)
{
	const struct constraint_vocab *v = c->v;
	const struct byte_machine *m = c->m;
	size_t ss = m->state_size;
	uint32_t here = s->distance;
	uint32_t good = 0;              /* runs[0..good] hold the states after that many bytes */
	uint32_t refused = UINT32_MAX;  /* the byte of the last piece that was refused */

	memcpy(c->runs, c->state, m->len(m->ctx, c->state));
	for (uint32_t i = 0; i < v->n_sorted; i++) {
		uint32_t id = v->order[i], shared = v->lcp[i];
		const unsigned char *p = (const unsigned char *)v->bytes + v->offset[id];
		uint32_t n = v->offset[id + 1] - v->offset[id];
		if (shared < good)
			good = shared;
		if (refused != UINT32_MAX && refused < shared)
			continue;  /* it starts with the refused prefix */
		refused = UINT32_MAX;
		for (; good < n; good++) {
			unsigned char *from = c->runs + good * ss, *to = from + ss;
			memcpy(to, from, m->len(m->ctx, from));
			if (!m->step(m->ctx, to, p[good])) {
				refused = good;
				break;
			}
		}
		if (refused != UINT32_MAX)
			continue;
		uint32_t next = m->distance(m->ctx, c->runs + n * ss);
		if (s->closing ? next < here : true)
			s->allowed[id / 64] |= 1ull << (id % 64);
		if (!s->closing && next > here)
			grow_push(s, id, next);
	}
	if (here == 0)
		s->allowed[v->eos / 64] |= 1ull << (v->eos % 64);
	grow_sort(s);
}

/* The allowed set of the current state in one mode, from the cache or
 * computed (evicting the oldest entry when the cache is full). */
static struct cached *lookup(struct constraint *c, bool closing)
{
	size_t len = c->m->len(c->m->ctx, c->state);
	uint64_t h = hash_bytes(c->state, len, closing);
	for (int i = 0; i < c->n_cache; i++) {
		struct cached *s = &c->cache[i];
		if (s->hash == h && s->closing == closing && s->key_len == len && !memcmp(s->key, c->state, len))
			return s;
	}
	size_t words = (c->v->n_vocab + 63) / 64;
	struct cached *s;
	if (c->n_cache < CACHE_SLOTS) {
		s = &c->cache[c->n_cache++];
		s->allowed = xcalloc(words, sizeof *s->allowed);
	} else {
		s = &c->cache[c->next_evict];
		c->next_evict = (c->next_evict + 1) % CACHE_SLOTS;
		memset(s->allowed, 0, words * sizeof *s->allowed);
		free(s->key);
	}
	s->key = xmalloc(len ? len : 1);
	memcpy(s->key, c->state, len);
	s->key_len = len;
	s->hash = h;
	s->closing = closing;
	s->n_grow = 0;
	s->distance = c->m->distance(c->m->ctx, c->state);
	compute(c, s);
	return s;
}

/* Can the machine take no byte at all from the current state? */
static bool stuck(struct constraint *c)
{
	const struct byte_machine *m = c->m;
	unsigned char *try = c->runs;
	size_t len = m->len(m->ctx, c->state);
	for (int b = 0; b < 256; b++) {
		memcpy(try, c->state, len);
		if (m->step(m->ctx, try, (unsigned char)b))
			return false;
	}
	return true;
}

struct constraint *constraint_new(const struct constraint_vocab *cv, const struct byte_machine *m)
{
	struct constraint *c = xcalloc(1, sizeof *c);
	c->v = cv;
	c->m = m;
	c->state = xcalloc(1, m->state_size);
	c->runs = xcalloc((size_t)cv->longest + 1, m->state_size);
	constraint_reset(c);
	return c;
}

void constraint_reset(struct constraint *c)
{
	memset(c->state, 0, c->m->state_size);
	c->m->start(c->m->ctx, c->state);
	c->closed = false;
	c->complete = c->m->distance(c->m->ctx, c->state) == 0 && stuck(c);
}

static void apply(const struct constraint *c, const uint64_t *allowed, float *logits)
{
	uint32_t n = c->v->n_vocab;
	for (uint32_t w = 0; w < (n + 63) / 64; w++) {
		uint64_t bits = allowed[w];
		if (bits == ~0ull)
			continue;
		uint32_t end = w * 64 + 64 < n ? w * 64 + 64 : n;
		for (uint32_t id = w * 64; id < end; id++)
			if (!(bits >> (id % 64) & 1))
				logits[id] = -INFINITY;
	}
}

void constraint_mask(struct constraint *c, float *logits, long long left)
{
	uint32_t here = c->m->distance(c->m->ctx, c->state);
	if (left < 0 || (long long)here < left) {
		struct cached *s = lookup(c, false);
		apply(c, s->allowed, logits);
		/* after this token, left - 1 remain: no more than that to write */
		for (size_t i = 0; left >= 0 && i < s->n_grow && s->grow_dist[i] > left - 1; i++)
			logits[s->grow_id[i]] = -INFINITY;
		c->closed = false;
	} else {
		apply(c, lookup(c, true)->allowed, logits);
		c->closed = here > 0;
	}
}

float *constraint_mask_copy(struct constraint *c, const float *logits, uint32_t n, long long left, float *out)
{
	memcpy(out, logits, (size_t)c->v->n_vocab * sizeof *out);
	for (uint32_t i = c->v->n_vocab; i < n; i++)
		out[i] = -INFINITY;
	constraint_mask(c, out, left);
	return out;
}

bool constraint_closed(const struct constraint *c) { return c->closed; }

int constraint_accept(struct constraint *c, int32_t id)
{
	const struct constraint_vocab *v = c->v;
	const struct byte_machine *m = c->m;
	if (id < 0 || (uint32_t)id >= v->n_vocab)
		return -1;
	if (id == v->eos)
		return m->distance(m->ctx, c->state) == 0 ? 0 : -1;
	uint32_t a = v->offset[id], z = v->offset[id + 1];
	if (a == z)
		return -1;  /* control tokens and empty pieces */
	unsigned char *try = c->runs;
	memcpy(try, c->state, m->len(m->ctx, c->state));
	for (uint32_t i = a; i < z; i++)
		if (!m->step(m->ctx, try, (unsigned char)v->bytes[i]))
			return -1;
	memcpy(c->state, try, m->len(m->ctx, try));
	c->complete = m->distance(m->ctx, c->state) == 0 && stuck(c);
	return 0;
}

bool constraint_complete(const struct constraint *c) { return c->complete; }

uint32_t constraint_distance(const struct constraint *c) { return c->m->distance(c->m->ctx, c->state); }

void constraint_free(struct constraint *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_cache; i++) {
		free(c->cache[i].key);
		free(c->cache[i].allowed);
		free(c->cache[i].grow_id);
		free(c->cache[i].grow_dist);
	}
	free(c->state);
	free(c->runs);
	free(c);
}
