/* tokenizer.c - the encoders.
 *
 * Both kinds work the same way: split out added tokens (a byte trie,
 * leftmost-longest as Hugging Face's added-vocabulary matcher), cut the
 * text between them into pieces (pretok.c for byte-level BPE; SentencePiece
 * has no pre-tokenizer, but its text can be cut into words where no token
 * can join them, see spm_fragment), then merge symbols within each piece,
 * always the best-ranked adjacent pair first, with a binary heap, so a
 * piece of n characters costs O(n log n) and not O(n^2).  Pieces already
 * seen come from a cache.
 *
 * Ranks.  Byte-level BPE: the merge's index in the merges list.  SPM from
 * GGUF: Hugging Face rebuilds merges from the vocabulary (transformers'
 * generate_merges) ordered by the merged token's score, then the longer
 * left part, then the longer right part, then token id; Gemma files use
 * the token's position instead of its score (their scores do not follow
 * the merge order).  A tokenizer.json SPM model has a merges list: its
 * index is the rank.  Ties between equal ranks go to the leftmost pair. */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "normalize.h"
#include "pretok.h"
#include "unicode.h"

#define SPACE_MARK "\xe2\x96\x81"  /* U+2581, SentencePiece's space */

/* ---- hash maps ---- */

/* A multiply-xorshift hash over 8-byte words: the lookups of SPM merging
 * are most of its time. */
static uint64_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, x;
	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&x, s, 8);
		h = (h ^ x) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
	}
	x = 0;
	memcpy(&x, s, n);
	h = (h ^ x) * 0x94d049bb133111ebull;
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 32);
}

static uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* text -> id, open addressing; keys are the key[] strings by id.  A slot
 * packs 24 bits of the hash, the key length (16 bits, 0xffff = longer)
 * and id + 1 (24 bits; 0 = empty), so a lookup touches the string only
 * when it almost surely matches: the table is most of SPM's time. */
struct text_map {
	uint64_t *slot;
	size_t mask;
	char **key;
	uint32_t *key_len;
};

#define TM_MAX_ID ((1u << 24) - 2)

static size_t pow2_at_least(size_t n)
{
	size_t c = 16;
	while (c < n)
		c *= 2;
	return c;
}

static void tm_init(struct text_map *m, size_t n)
{
	size_t cap = pow2_at_least(2 * n + 1);
	m->slot = xcalloc(cap, sizeof *m->slot);
	m->mask = cap - 1;
}

static uint64_t tm_tag(uint64_t h, size_t n)
{
	return (h >> 40) << 40 | (uint64_t)(n < 0xffff ? n : 0xffff) << 24;
}

/* the id of text s[0..n) whose hash_bytes is h, or -1 */
static int32_t tm_get_h(const struct text_map *m, const char *s, size_t n, uint64_t h)
{
	uint64_t tag = tm_tag(h, n);
	for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
		uint64_t v = m->slot[i];
		if (!v)
			return -1;
		if ((v & ~0xffffffull) == tag) {
			uint32_t id = (uint32_t)(v & 0xffffff) - 1;
			if (m->key_len[id] == n && memcmp(m->key[id], s, n) == 0)
				return (int32_t)id;
		}
	}
}

static int32_t tm_get(const struct text_map *m, const char *s, size_t n)
{
	return tm_get_h(m, s, n, hash_bytes(s, n));
}

/* Many lookups at once (n <= TM_BATCH): out[j] = tm_get(s[j], len[j]).
 * The table, the array of texts and the texts are far larger than the
 * caches, and one lookup waits for each in turn; here every lookup's read
 * of the table starts before any is used, then every candidate's place in
 * the array of texts, then its text.  Building the merges of a 150,000
 * token vocabulary (Qwen2) is 450,000 lookups, most of a program's start. */
#define TM_BATCH 64
static void tm_get_batch(const struct text_map *m, size_t n, const char *const *s, const size_t *len, int32_t *out)
{
	uint64_t h[TM_BATCH], v[TM_BATCH];
	size_t j;

	for (j = 0; j < n; j++) {
		h[j] = hash_bytes(s[j], len[j]);
		__builtin_prefetch(&m->slot[h[j] & m->mask]);
	}
	for (j = 0; j < n; j++) {
		v[j] = m->slot[h[j] & m->mask];
		if (v[j]) {
			__builtin_prefetch(&m->key[(v[j] & 0xffffff) - 1]);
			__builtin_prefetch(&m->key_len[(v[j] & 0xffffff) - 1]);
		}
	}
	for (j = 0; j < n; j++)
		if (v[j])
			__builtin_prefetch(m->key[(v[j] & 0xffffff) - 1]);
	for (j = 0; j < n; j++)
		out[j] = tm_get_h(m, s[j], len[j], h[j]);
}

/* insert; a later id with the same text replaces the earlier one (as a
 * Python dict built from the vocabulary does) */
static void tm_put_h(struct text_map *m, uint32_t id, uint64_t h)
{
	size_t n = m->key_len[id];
	uint64_t tag = tm_tag(h, n);
	for (size_t i = h & m->mask;; i = (i + 1) & m->mask) {
		uint64_t v = m->slot[i];
		uint32_t old = (uint32_t)(v & 0xffffff) - 1;
		if (!v || ((v & ~0xffffffull) == tag && m->key_len[old] == n && memcmp(m->key[old], m->key[id], n) == 0)) {
			m->slot[i] = tag | (id + 1);
			return;
		}
	}
}

/* (left id, right id) -> (rank, merged id) */
struct merge_map {
	uint64_t *key;  /* left << 32 | right, UINT64_MAX = empty */
	uint32_t *rank, *out;
	size_t mask;
};

static void mm_init(struct merge_map *m, size_t n)
{
	size_t cap = pow2_at_least(2 * n + 1);
	m->key = xmalloc(cap * sizeof *m->key);
	memset(m->key, 0xff, cap * sizeof *m->key);
	m->rank = xcalloc(cap, sizeof *m->rank);
	m->out = xcalloc(cap, sizeof *m->out);
	m->mask = cap - 1;
}

static bool mm_get(const struct merge_map *m, int32_t l, int32_t r, uint32_t *rank, int32_t *out)
{
	uint64_t k = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
	for (size_t i = hash_u64(k) & m->mask;; i = (i + 1) & m->mask) {
		if (m->key[i] == k) {
			*rank = m->rank[i];
			*out = (int32_t)m->out[i];
			return true;
		}
		if (m->key[i] == UINT64_MAX)
			return false;
	}
}

/* first entry wins: a duplicate merge keeps its best rank */
static void mm_put(struct merge_map *m, int32_t l, int32_t r, uint32_t rank, int32_t out)
{
	uint64_t k = (uint64_t)(uint32_t)l << 32 | (uint32_t)r;
	for (size_t i = hash_u64(k) & m->mask;; i = (i + 1) & m->mask) {
		if (m->key[i] == k)
			return;
		if (m->key[i] == UINT64_MAX) {
			m->key[i] = k;
			m->rank[i] = rank;
			m->out[i] = (uint32_t)out;
			return;
		}
	}
}

/* ---- added tokens: a byte trie ---- */

struct trie_node {
	int32_t child, sibling;  /* first child, next sibling; -1 = none */
	int32_t token;           /* token ending here, -1 = none */
	uint8_t byte;
	bool special;            /* the token is matched only with --special */
};

struct trie {
	struct trie_node *node;
	size_t n, cap;
	int32_t root_child[256];  /* the root's children, direct */
};

static int32_t trie_new_node(struct trie *t, uint8_t byte)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->node = xreallocarray(t->node, t->cap, sizeof *t->node);
	}
	t->node[t->n] = (struct trie_node){-1, -1, -1, byte, false};
	return (int32_t)t->n++;
}

static void trie_add(struct trie *t, const unsigned char *s, size_t n, int32_t token, bool special)
{
	int32_t cur;
	if (n == 0)
		return;
	if (t->root_child[s[0]] < 0)
		t->root_child[s[0]] = trie_new_node(t, s[0]);
	cur = t->root_child[s[0]];
	for (size_t i = 1; i < n; i++) {
		int32_t c = t->node[cur].child;
		while (c >= 0 && t->node[c].byte != s[i])
			c = t->node[c].sibling;
		if (c < 0) {
			c = trie_new_node(t, s[i]);
			t->node[c].sibling = t->node[cur].child;
			t->node[cur].child = c;
		}
		cur = c;
	}
	if (t->node[cur].token < 0) {
		t->node[cur].token = token;
		t->node[cur].special = special;
	}
}

/* Longest added token at s[0..n) usable in this mode: its length, 0 if none. */
static size_t trie_match(const struct trie *t, const unsigned char *s, size_t n, bool special, int32_t *token)
{
	size_t best = 0;
	int32_t cur = t->root_child[s[0]];
	for (size_t i = 1; cur >= 0; i++) {
		const struct trie_node *nd = &t->node[cur];
		if (nd->token >= 0 && (special || !nd->special)) {
			best = i;
			*token = nd->token;
		}
		if (i == n)
			break;
		int32_t c = nd->child;
		while (c >= 0 && t->node[c].byte != s[i])
			c = t->node[c].sibling;
		cur = c;
	}
	return best;
}

/* ---- the tokenizer ---- */

struct sym {
	int32_t id;       /* token, or -1 for a character not in the vocabulary */
	uint32_t start;   /* byte offset in the piece */
	uint32_t len;     /* bytes; 0 once merged into its left neighbour */
	uint32_t nchars;  /* characters (SPM rank tie-break) */
	int32_t prev, next;
};

struct cand {
	uint64_t key;   /* rank: smaller is better */
	uint32_t key2;  /* then this */
	uint32_t pos;   /* then the leftmost */
	uint32_t llen, rlen;  /* the pair's byte lengths when pushed: still the same pair? */
	int32_t out;    /* the merged token */
};

struct heap {
	struct cand *a;
	size_t n, cap;
};

struct word_cache {
	struct {
		uint64_t h;
		uint32_t off, ids_off;
		uint16_t len, nids;
	} *slot;
	size_t mask, used;
	char *bytes;
	int32_t *ids;
	size_t nbytes, nids, cap_bytes, cap_ids;
};

struct tokenizer {
	const struct vocab *v;
	struct vocab own;      /* the vocabulary, when tokenizer_open loaded it */
	struct gguf *g;
	bool owns_vocab;
	enum pretok pre;
	bool gemma_ranks;      /* SPM rank = token position (Gemma) */
	struct text_map tmap;  /* token text (SPM: with spaces spelled U+2581) -> id */
	char **respelled;      /* SPM: texts changed for the map, else NULL entries */
	struct merge_map merges;
	uint32_t *score_rank;  /* SPM from GGUF: dense rank of each token's score, best = 0 */
	int32_t byte_tok[256]; /* BPE: the token of each single byte; SPM: <0xNN> */
	struct trie added;
	bool spm_split;        /* SPM: words may be merged apart (see spm_fragment) */
	struct {
		int32_t id;
		uint32_t at;       /* byte offset of the U+2581 that follows another character */
	} *cross;              /* SPM: tokens with such a junction */
	size_t n_cross;
	/* scratch */
	struct pieces pieces;
	struct sym *sym;
	size_t sym_cap;
	struct heap heap;
	char *buf;
	size_t buf_cap;
	struct word_cache cache;
};

static void heap_push(struct heap *h, struct cand c)
{
	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 256;
		h->a = xreallocarray(h->a, h->cap, sizeof *h->a);
	}
	size_t i = h->n++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct cand *q = &h->a[p];
		if (q->key < c.key || (q->key == c.key && (q->key2 < c.key2 || (q->key2 == c.key2 && q->pos < c.pos))))
			break;
		h->a[i] = *q;
		i = p;
	}
	h->a[i] = c;
}

static bool less(const struct cand *a, const struct cand *b)
{
	if (a->key != b->key)
		return a->key < b->key;
	if (a->key2 != b->key2)
		return a->key2 < b->key2;
	return a->pos < b->pos;
}

static struct cand heap_pop(struct heap *h)
{
	struct cand top = h->a[0], last = h->a[--h->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct cand *best = &last;
		if (l < h->n && less(&h->a[l], best))
			m = l, best = &h->a[l];
		if (r < h->n && less(&h->a[r], best))
			m = r;
		if (m == i)
			break;
		h->a[i] = h->a[m];
		i = m;
	}
	if (h->n)
		h->a[i] = last;
	return top;
}

/* Byte-level alphabet (doc/formats.md "Byte-level BPE"): UTF-8 of the code point for byte b. */
static int byte_char(unsigned b, char *out)
{
	bool direct = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
	unsigned cp = b;
	if (!direct) {
		cp = 0x100;
		for (unsigned x = 0; x < b; x++)
			if (!((x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || x >= 0xae))
				cp++;
	}
	return utf8_encode(cp, out);
}

static bool all_spaces(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ')
			return false;
	return n > 0;
}

static int cmp_score_desc(const void *a, const void *b, void *ctx)
{
	const float *sc = ctx;
	float x = sc[*(const uint32_t *)a], y = sc[*(const uint32_t *)b];
	return (x < y) - (x > y);
}

/* SPM words: which tokens join a character to a following U+2581?  With
 * few of them, cutting the text there is safe where none occurs.  An
 * unknown character would fuse its <unk> with a neighbour's across a cut:
 * cut only when every byte has its fallback token. */
#define MAX_JUNCTIONS 256

static void find_junctions(struct tokenizer *t)
{
	const struct vocab *v = t->v;
	for (int b = 0; b < 256; b++)
		if (t->byte_tok[b] < 0 || !v->byte_fallback)
			return;
	for (uint32_t id = 0; id < v->n; id++) {
		const char *s = t->tmap.key[id];
		size_t len = t->tmap.key_len[id];
		for (size_t p = 1; p + 3 <= len; p++) {
			if (s[p] != '\xe2' || memcmp(s + p, SPACE_MARK, 3) != 0 ||
			    (p >= 3 && memcmp(s + p - 3, SPACE_MARK, 3) == 0))
				continue;
			if (t->n_cross == MAX_JUNCTIONS) {
				free(t->cross);
				t->cross = NULL;
				t->n_cross = 0;
				return;
			}
			t->cross = xreallocarray(t->cross, t->n_cross + 1, sizeof *t->cross);
			t->cross[t->n_cross].id = (int32_t)id;
			t->cross[t->n_cross].at = (uint32_t)p;
			t->n_cross++;
		}
	}
	t->spm_split = true;
}

struct tokenizer *tokenizer_new(const struct vocab *v, struct lmu_err *e)
{
	struct tokenizer *t = xcalloc(1, sizeof *t);
	uint32_t i;

	t->v = v;
	if (v->n > TM_MAX_ID) {
		err_set(e, "%u tokens: more than this tokenizer handles (%u)", v->n, TM_MAX_ID);
		free(t);
		return NULL;
	}
	if (v->kind == VOCAB_BPE) {
		int p = pretok_from_name(v->pre);
		if (p < 0) {
			err_set(e, "pre-tokenizer '%s' is not supported (supported: gpt-2, smollm, llama-bpe, qwen2 "
				   "and their aliases)", v->pre[0] ? v->pre : "(none)");
			free(t);
			return NULL;
		}
		t->pre = (enum pretok)p;
	} else {
		t->pre = PRETOK_NONE;
		t->gemma_ranks = strncmp(v->arch, "gemma", 5) == 0;
	}

	/* token texts; SPM: Hugging Face looks a run of spaces up as U+2581s */
	t->tmap.key = v->text;
	t->tmap.key_len = v->text_len;
	if (v->kind == VOCAB_SPM) {
		t->tmap.key = xcalloc(v->n, sizeof *t->tmap.key);
		t->tmap.key_len = xcalloc(v->n, sizeof *t->tmap.key_len);
		t->respelled = xcalloc(v->n, sizeof *t->respelled);
		for (i = 0; i < v->n; i++) {
			t->tmap.key[i] = v->text[i];
			t->tmap.key_len[i] = v->text_len[i];
			if (!v->from_json && all_spaces(v->text[i], v->text_len[i])) {
				size_t n = v->text_len[i];
				char *s = xmalloc(3 * n + 1);
				for (size_t k = 0; k < n; k++)
					memcpy(s + 3 * k, "\xe2\x96\x81", 3);
				s[3 * n] = 0;
				t->respelled[i] = s;
				t->tmap.key[i] = s;
				t->tmap.key_len[i] = (uint32_t)(3 * n);
			}
		}
	}
	/* TM_BATCH at a time, every one's slot read started before the first
	 * insert (as tm_get_batch) */
	tm_init(&t->tmap, v->n);
	for (uint32_t i0 = 0; i0 < v->n; i0 += TM_BATCH) {
		uint32_t end = v->n - i0 < TM_BATCH ? v->n : i0 + TM_BATCH;
		uint64_t h[TM_BATCH];
		for (i = i0; i < end; i++) {
			h[i - i0] = hash_bytes(t->tmap.key[i], t->tmap.key_len[i]);
			__builtin_prefetch(&t->tmap.slot[h[i - i0] & t->tmap.mask], 1);
		}
		for (i = i0; i < end; i++)
			if (v->type[i] != TOKEN_UNUSED || v->text_len[i])
				tm_put_h(&t->tmap, i, h[i - i0]);
	}

	/* merges: the ids of each merge's two parts and of their text joined,
	 * TM_BATCH / 2 merges at a time (tm_get_batch) */
	mm_init(&t->merges, v->n_merges);
	{
		enum { B = TM_BATCH / 2, MAX_JOINED = 4096 };
		char *joined = xmalloc((size_t)B * MAX_JOINED);
		const char *s[TM_BATCH];
		size_t len[TM_BATCH];
		int32_t id[TM_BATCH], m[TM_BATCH];
		uint32_t rank[B];
		for (uint32_t i0 = 0; i0 < v->n_merges; i0 += B) {
			size_t n = 0, nj = 0;
			for (i = i0; i < v->n_merges && i < i0 + B; i++) {
				struct gguf_str l, r;
				/* parts whose joined text is too long: Hugging Face
				 * refuses such a file, llama.cpp skips the merge */
				if (!vocab_merge(v, i, &l, &r) || l.len + r.len > MAX_JOINED)
					continue;
				s[2 * n] = l.s, len[2 * n] = l.len;
				s[2 * n + 1] = r.s, len[2 * n + 1] = r.len;
				rank[n++] = i;
			}
			tm_get_batch(&t->tmap, 2 * n, s, len, id);
			for (size_t j = 0; j < n; j++) {
				if (id[2 * j] < 0 || id[2 * j + 1] < 0)
					continue;  /* a part is no token: the merge is skipped */
				char *p = joined + nj * MAX_JOINED;
				memcpy(p, s[2 * j], len[2 * j]);
				memcpy(p + len[2 * j], s[2 * j + 1], len[2 * j + 1]);
				s[nj] = p, len[nj] = len[2 * j] + len[2 * j + 1];
				id[2 * nj] = id[2 * j], id[2 * nj + 1] = id[2 * j + 1], rank[nj] = rank[j];
				nj++;
			}
			tm_get_batch(&t->tmap, nj, s, len, m);
			for (size_t j = 0; j < nj; j++)
				if (m[j] >= 0)
					mm_put(&t->merges, id[2 * j], id[2 * j + 1], rank[j], m[j]);
		}
		free(joined);
	}
	if (v->kind == VOCAB_SPM && !v->n_merges && !t->gemma_ranks) {
		/* dense rank of the scores, best first */
		uint32_t *order = xcalloc(v->n, sizeof *order);
		t->score_rank = xcalloc(v->n, sizeof *t->score_rank);
		for (i = 0; i < v->n; i++)
			order[i] = i;
		if (v->score)
			qsort_r(order, v->n, sizeof *order, cmp_score_desc, v->score);
		uint32_t r = 0;
		for (i = 0; i < v->n; i++) {
			if (i && v->score && v->score[order[i]] != v->score[order[i - 1]])
				r++;
			t->score_rank[order[i]] = r;
		}
		free(order);
	}

	/* single-byte symbols */
	for (i = 0; i < 256; i++) {
		char s[8];
		int n;
		if (v->kind == VOCAB_BPE)
			n = byte_char(i, s);
		else
			n = snprintf(s, sizeof s, "<0x%02X>", i);
		t->byte_tok[i] = tm_get(&t->tmap, s, (size_t)n);
	}

	if (v->kind == VOCAB_SPM)
		find_junctions(t);

	/* added tokens, matched in the raw text before anything else */
	memset(t->added.root_child, 0xff, sizeof t->added.root_child);
	for (i = 0; i < v->n; i++) {
		uint8_t ty = v->type[i];
		if (ty == TOKEN_CONTROL || ty == TOKEN_UNKNOWN) {
			trie_add(&t->added, (const unsigned char *)v->text[i], v->text_len[i], (int32_t)i, true);
		} else if (ty == TOKEN_USER_DEFINED) {
			/* Hugging Face's GGUF loader adds a user-defined token only if
			 * its vocabulary has it: not the respelled runs of spaces */
			if (t->respelled && t->respelled[i])
				continue;
			trie_add(&t->added, (const unsigned char *)v->text[i], v->text_len[i], (int32_t)i, false);
		}
	}
	return t;
}

struct tokenizer *tokenizer_open(const char *model)
{
	struct tokenizer *t;
	struct vocab *v = xcalloc(1, sizeof *v);
	struct gguf *g;
	struct lmu_err e = {{0}};

	vocab_open_or_die(v, model, &g);
	t = tokenizer_new(v, &e);
	if (!t)
		die("%s: %s", model, e.msg);
	t->own = *v;
	free(v);
	t->v = &t->own;
	t->owns_vocab = true;
	t->g = g;
	return t;
}

const struct vocab *tokenizer_vocab(const struct tokenizer *t)
{
	return t->v;
}

void tokenizer_free(struct tokenizer *t)
{
	if (!t)
		return;
	if (t->respelled) {
		for (uint32_t i = 0; i < t->v->n; i++)
			free(t->respelled[i]);
		free(t->respelled);
		free(t->tmap.key);
		free(t->tmap.key_len);
	}
	free(t->tmap.slot);
	free(t->merges.key);
	free(t->merges.rank);
	free(t->merges.out);
	free(t->score_rank);
	free(t->added.node);
	free(t->cross);
	pieces_free(&t->pieces);
	free(t->sym);
	free(t->heap.a);
	free(t->buf);
	free(t->cache.slot);
	free(t->cache.bytes);
	free(t->cache.ids);
	if (t->owns_vocab) {
		vocab_free(&t->own);
		if (t->g)
			gguf_close(t->g);
	}
	free(t);
}

static void grow_sym(struct tokenizer *t, size_t n)
{
	if (n > t->sym_cap) {
		t->sym_cap = n;
		t->sym = xreallocarray(t->sym, n, sizeof *t->sym);
	}
}

/* ---- byte-level BPE ---- */

static void bpe_push_pair(struct tokenizer *t, int32_t a)
{
	struct sym *s = t->sym;
	int32_t b = s[a].next;
	uint32_t rank;
	int32_t out;
	if (b < 0 || s[a].id < 0 || s[b].id < 0 || !mm_get(&t->merges, s[a].id, s[b].id, &rank, &out))
		return;
	heap_push(&t->heap, (struct cand){rank, 0, (uint32_t)a, s[a].len, s[b].len, out});
}

/* Merge symbols a and b = a.next into a. */
static void merge_syms(struct sym *s, int32_t a, int32_t out)
{
	int32_t b = s[a].next;
	s[a].id = out;
	s[a].len += s[b].len;
	s[a].nchars += s[b].nchars;
	s[a].next = s[b].next;
	if (s[b].next >= 0)
		s[s[b].next].prev = a;
	s[b].len = 0;
}

/* Pop candidates until one is still current; false when none is left. */
static bool pop_valid(struct tokenizer *t, struct cand *c)
{
	while (t->heap.n) {
		*c = heap_pop(&t->heap);
		const struct sym *s = t->sym;
		int32_t b = s[c->pos].next;
		if (s[c->pos].len == c->llen && b >= 0 && s[b].len == c->rlen)
			return true;
	}
	return false;
}

static void bpe_word(struct tokenizer *t, const unsigned char *w, size_t n, struct ids *out)
{
	struct sym *s;
	struct cand c;

	if (t->v->ignore_merges) {
		/* the whole piece spelled in the byte alphabet */
		if (n * 2 + 1 > t->buf_cap) {
			t->buf_cap = n * 2 + 1;
			t->buf = xrealloc(t->buf, t->buf_cap);
		}
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			k += (size_t)byte_char(w[i], t->buf + k);
		int32_t id = tm_get(&t->tmap, t->buf, k);
		if (id >= 0) {
			ids_push(out, id);
			return;
		}
	}
	/* a byte with no token is left out before merging, as Hugging Face's
	 * byte-level models (no unk_token) do: its neighbours may then merge.
	 * SmolLM2 has no token for 0x1d. */
	grow_sym(t, n);
	s = t->sym;
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (t->byte_tok[w[i]] < 0)
			continue;
		s[m] = (struct sym){t->byte_tok[w[i]], (uint32_t)i, 1, 1, (int32_t)m - 1, -1};
		if (m)
			s[m - 1].next = (int32_t)m;
		m++;
	}
	if (m == 0)
		return;
	t->heap.n = 0;
	for (size_t i = 0; i + 1 < m; i++)
		bpe_push_pair(t, (int32_t)i);
	while (pop_valid(t, &c)) {
		int32_t a = (int32_t)c.pos;
		merge_syms(s, a, c.out);
		if (s[a].prev >= 0)
			bpe_push_pair(t, s[a].prev);
		bpe_push_pair(t, a);
	}
	for (int32_t i = 0; i >= 0; i = s[i].next)
		ids_push(out, s[i].id);
}

/* A cache of pieces already encoded: prose repeats its words. */
#define CACHE_SLOTS (1u << 18)
#define CACHE_MAX_PIECE 64

static void cache_reset(struct word_cache *c)
{
	if (!c->slot) {
		c->slot = xcalloc(CACHE_SLOTS, sizeof *c->slot);
		c->mask = CACHE_SLOTS - 1;
		c->cap_bytes = 1 << 23;
		c->cap_ids = 1 << 21;
		c->bytes = xmalloc(c->cap_bytes);
		c->ids = xmalloc(c->cap_ids * sizeof *c->ids);
	} else {
		memset(c->slot, 0, CACHE_SLOTS * sizeof *c->slot);
	}
	c->used = c->nbytes = c->nids = 0;
}

typedef void word_fn(struct tokenizer *t, const unsigned char *w, size_t n, struct ids *out);

static void cached_word(struct tokenizer *t, word_fn *fn, const unsigned char *w, size_t n, struct ids *out)
{
	struct word_cache *c = &t->cache;
	size_t i;

	if (n > CACHE_MAX_PIECE) {
		fn(t, w, n, out);
		return;
	}
	if (!c->slot)
		cache_reset(c);
	uint64_t h = hash_bytes(w, n) | 1;  /* 0 marks an empty slot */
	for (i = h & c->mask; c->slot[i].h; i = (i + 1) & c->mask) {
		if (c->slot[i].h == h && c->slot[i].len == n && memcmp(c->bytes + c->slot[i].off, w, n) == 0) {
			for (size_t k = 0; k < c->slot[i].nids; k++)
				ids_push(out, c->ids[c->slot[i].ids_off + k]);
			return;
		}
	}
	size_t before = out->n;
	fn(t, w, n, out);
	size_t nids = out->n - before;
	if (c->used * 2 > CACHE_SLOTS || c->nbytes + n > c->cap_bytes || c->nids + nids > c->cap_ids) {
		cache_reset(c);
		for (i = h & c->mask; c->slot[i].h; i = (i + 1) & c->mask)
			;
	}
	c->slot[i].h = h;
	c->slot[i].off = (uint32_t)c->nbytes;
	c->slot[i].len = (uint16_t)n;
	c->slot[i].ids_off = (uint32_t)c->nids;
	c->slot[i].nids = (uint16_t)nids;
	memcpy(c->bytes + c->nbytes, w, n);
	if (nids)
		memcpy(c->ids + c->nids, out->v + before, nids * sizeof *c->ids);
	c->nbytes += n;
	c->nids += nids;
	c->used++;
}

static void bpe_fragment(struct tokenizer *t, const char *s, size_t n, struct ids *out)
{
	size_t start = 0;
	pretok_split(t->pre, s, n, &t->pieces);
	for (size_t i = 0; i < t->pieces.n; i++) {
		size_t end = t->pieces.end[i];
		cached_word(t, bpe_word, (const unsigned char *)s + start, end - start, out);
		start = end;
	}
}

/* ---- SentencePiece-style BPE ---- */

static void spm_push_pair(struct tokenizer *t, const char *text, int32_t a)
{
	struct sym *s = t->sym;
	int32_t b = s[a].next;
	if (b < 0 || s[a].id < 0 || s[b].id < 0)
		return;
	struct cand c = {0, 0, (uint32_t)a, s[a].len, s[b].len, -1};
	if (t->v->n_merges) {
		uint32_t rank;
		if (!mm_get(&t->merges, s[a].id, s[b].id, &rank, &c.out))
			return;
		c.key = rank;
	} else {
		int32_t m = tm_get(&t->tmap, text + s[a].start, s[a].len + s[b].len);
		if (m < 0)
			return;
		uint32_t nl = s[a].nchars > 0xffff ? 0xffff : s[a].nchars;
		uint32_t nr = s[b].nchars > 0xffff ? 0xffff : s[b].nchars;
		uint64_t lens = (uint64_t)(0xffff - nl) << 16 | (0xffff - nr);
		c.out = m;
		if (t->gemma_ranks) {
			c.key = (uint64_t)(uint32_t)m << 32 | lens;
		} else {
			c.key = (uint64_t)t->score_rank[m] << 32 | lens;
			c.key2 = (uint32_t)m;
		}
	}
	heap_push(&t->heap, c);
}

static void spm_emit(struct tokenizer *t, const char *text, const struct sym *s, struct ids *out, bool *last_unk)
{
	if (s->id >= 0) {
		ids_push(out, s->id);
		*last_unk = false;
		return;
	}
	/* byte fallback: every byte must have its token, else one unknown */
	bool all = t->v->byte_fallback;
	for (uint32_t k = 0; all && k < s->len; k++)
		all = t->byte_tok[(unsigned char)text[s->start + k]] >= 0;
	if (all) {
		for (uint32_t k = 0; k < s->len; k++)
			ids_push(out, t->byte_tok[(unsigned char)text[s->start + k]]);
		*last_unk = false;
	} else if (t->v->unk >= 0 && !*last_unk) {
		ids_push(out, t->v->unk);  /* consecutive unknowns fuse into one */
		*last_unk = true;
	}
}

/* Merge within one segment of normalized text. */
static void spm_word(struct tokenizer *t, const unsigned char *w, size_t m, struct ids *out)
{
	const char *text = (const char *)w;
	size_t nsym = 0;
	struct cand c;

	grow_sym(t, m);
	struct sym *sy = t->sym;
	for (size_t i = 0; i < m;) {
		uint32_t cp;
		int len = utf8_decode(w + i, &cp);
		sy[nsym] = (struct sym){tm_get(&t->tmap, text + i, (size_t)len), (uint32_t)i, (uint32_t)len, 1,
					 (int32_t)nsym - 1, -1};
		if (nsym)
			sy[nsym - 1].next = (int32_t)nsym;
		nsym++;
		i += (size_t)len;
	}
	t->heap.n = 0;
	for (size_t i = 0; i + 1 < nsym; i++)
		spm_push_pair(t, text, (int32_t)i);
	while (pop_valid(t, &c)) {
		int32_t a = (int32_t)c.pos;
		merge_syms(sy, a, c.out);
		if (sy[a].prev >= 0)
			spm_push_pair(t, text, sy[a].prev);
		spm_push_pair(t, text, a);
	}
	bool last_unk = false;
	for (int32_t i = 0; i >= 0; i = sy[i].next)
		spm_emit(t, text, &sy[i], out, &last_unk);
}

/* May merging ever join the character before byte p (not a U+2581) with
 * the U+2581 at p?  Only if a token that has such a junction occurs in
 * the text across p (tokenizer_new lists them). */
static bool spm_joined_at(const struct tokenizer *t, const char *text, size_t m, size_t p)
{
	for (size_t i = 0; i < t->n_cross; i++) {
		int32_t id = t->cross[i].id;
		size_t k = t->cross[i].at, len = t->tmap.key_len[id];
		if (p >= k && p - k + len <= m && memcmp(text + p - k, t->tmap.key[id], len) == 0)
			return true;
	}
	return false;
}

static void spm_fragment(struct tokenizer *t, const char *s, size_t n, bool prefix, struct ids *out)
{
	size_t need = 3 * n + 4, m = 0;

	/* spaces become U+2581; the dummy prefix is one more */
	if (need > t->buf_cap) {
		t->buf_cap = need;
		t->buf = xrealloc(t->buf, need);
	}
	char *text = t->buf;
	if (prefix) {
		memcpy(text, SPACE_MARK, 3);
		m = 3;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ') {
			memcpy(text + m, SPACE_MARK, 3);
			m += 3;
		} else {
			text[m++] = s[i];
		}
	}
	if (!t->spm_split) {
		spm_word(t, (const unsigned char *)text, m, out);
		return;
	}
	/* Words: cut before each run of U+2581 that follows another
	 * character, where no merge can cross; each word then merges alone,
	 * through the cache.  The result is the same as merging the whole. */
	size_t start = 0;
	for (size_t p = 1; p + 3 <= m; p++) {
		if (text[p] != '\xe2' || memcmp(text + p, SPACE_MARK, 3) != 0 ||
		    (p >= 3 && memcmp(text + p - 3, SPACE_MARK, 3) == 0) ||
		    spm_joined_at(t, text, m, p))
			continue;
		cached_word(t, spm_word, (const unsigned char *)text + start, p - start, out);
		start = p;
	}
	if (m > start)
		cached_word(t, spm_word, (const unsigned char *)text + start, m - start, out);
}

/* ---- the whole text ---- */

static void encode_fragment(struct tokenizer *t, const char *s, size_t n, bool at_start, struct ids *out)
{
	const struct vocab *v = t->v;
	if (v->nfc) {
		/* the normalizer sees the text between added tokens */
		size_t len;
		char *norm = nfc(s, n, &len);
		bpe_fragment(t, norm, len, out);
		free(norm);
		return;
	}
	if (v->kind == VOCAB_BPE) {
		bpe_fragment(t, s, n, out);
		return;
	}
	bool prefix = v->add_space_prefix;
	if (prefix && v->prefix_rule != PREFIX_PREPEND) {
		/* Metaspace: no prefix on text that already starts with one */
		bool spaced = n && (s[0] == ' ' || (n >= 3 && memcmp(s, SPACE_MARK, 3) == 0));
		prefix = !spaced && (at_start || v->prefix_rule == PREFIX_EACH);
	}
	spm_fragment(t, s, n, prefix, out);
}

void tokenizer_encode(struct tokenizer *t, const char *text, size_t len, bool special, struct ids *out)
{
	const unsigned char *u = (const unsigned char *)text;
	size_t start = 0;

	for (size_t i = 0; i < len;) {
		int32_t tok;
		size_t k = t->added.root_child[u[i]] >= 0 ? trie_match(&t->added, u + i, len - i, special, &tok) : 0;
		if (!k) {
			i++;
			continue;
		}
		if (i > start)
			encode_fragment(t, text + start, i - start, start == 0, out);
		ids_push(out, tok);
		i += k;
		start = i;
	}
	if (len > start)
		encode_fragment(t, text + start, len - start, start == 0, out);
}
