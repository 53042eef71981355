/* schema.c - JSON Schema (the subset schema.h lists) compiled to a graph
 * of nodes, and the byte-level machine that walks it: a stack of frames,
 * one per value being written (see schema.h). */
#include "schema.h"

#include "json.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- the compiled schema ---- */

enum {
	T_NULL = 1, T_BOOLEAN = 2, T_OBJECT = 4, T_ARRAY = 8, T_NUMBER = 16, T_INTEGER = 32, T_STRING = 64,
	T_ANY = 127
};

#define INF 0x3fffffffu        /* no value: sizes and depths saturate here */
#define UNLIMITED UINT32_MAX   /* maxItems, maxLength not given */
#define MAX_COUNT (1u << 20)   /* largest minItems, maxLength, ... taken */
#define NODE_ANY 0             /* true: any JSON value */
#define NODE_KEY 1             /* the keys of an object without properties */
#define LIT_BOOL 0             /* literals 0, 1: false, true; 2: null */
#define LIT_NULL 2

struct literal {
	char *s;
	uint32_t len;
};

struct prop {
	char *key;          /* the name as JSON, quotes included */
	uint32_t key_len;
	uint32_t node;
	bool required;
};

struct node {
	uint8_t types;
	bool declared;        /* object: "properties" given; only those are written */
	int32_t addl;         /* object without properties: node of the values, -1: none */
	uint32_t items;       /* array: node of the items */
	uint32_t min_items, max_items, min_len, max_len;
	uint32_t lit0, n_lit; /* enum, const: literals lit[lit0 ..], sorted */
	uint32_t alt0, n_alt; /* anyOf, $ref: alternatives alt[alt0 ..] */
	uint32_t prop0, n_prop;  /* props prop[prop0 ..]; rest[prop0 + node index ..] */
	uint32_t rest0;       /* (n_prop + 1) req_rest[], next_req[] */
	/* by fixed point: the shortest value (bytes), the frames it needs,
	 * and the bytes a value can start with */
	uint32_t size, size_obj, size_arr;
	uint32_t depth, depth_obj, depth_arr;
	uint64_t first[4];
};

struct ref {
	char *ref;
	uint32_t node;
};

struct schema {
	struct node *node;
	uint32_t n_node, cap_node;
	struct prop *prop;
	uint32_t n_prop, cap_prop;
	struct literal *lit;
	uint32_t n_lit, cap_lit;
	uint32_t *alt;
	uint32_t n_alt, cap_alt;
	/* per object, n_prop + 1 entries from rest0: req_rest[j], the bytes
	 * of the required properties from j on (each with its comma);
	 * next_req[j], the first required one from j on (n_prop: none) */
	uint32_t *req_rest, *next_req;
	uint32_t n_rest, cap_rest;
	uint32_t root;
	struct byte_machine m;
	/* while compiling */
	jv doc;
	struct ref *refs;
	uint32_t n_refs;
	struct lmu_err *e;
};

static uint32_t add(uint32_t a, uint32_t b) { return a >= INF || b >= INF || a + b >= INF ? INF : a + b; }
static uint32_t mul(uint32_t a, uint32_t b) { return a && b && (a >= INF || b >= INF || (uint64_t)a * b >= INF) ? INF : a * b; }
static uint32_t min2(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint32_t max2(uint32_t a, uint32_t b) { return a > b ? a : b; }

static bool has_byte(const uint64_t *set, unsigned char b) { return set[b / 64] >> (b % 64) & 1; }
static void set_byte(uint64_t *set, unsigned char b) { set[b / 64] |= 1ull << (b % 64); }

/* ---- compiling ---- */

#define GROW(arr, n, cap)                                                                      \
	do {                                                                                   \
		if ((n) == (cap)) {                                                            \
			(cap) = (cap) ? 2 * (cap) : 16;                                        \
			(arr) = xreallocarray((arr), (cap), sizeof *(arr));                    \
		}                                                                              \
	} while (0)

static int new_node(struct schema *s, const char *path)
{
	if (s->n_node >= SCHEMA_MAX_NODES) {
		err_set(s->e, "schema: %s: more than %d schemas", path, SCHEMA_MAX_NODES);
		return -1;
	}
	GROW(s->node, s->n_node, s->cap_node);
	struct node *n = &s->node[s->n_node];
	memset(n, 0, sizeof *n);
	n->types = T_ANY;
	n->addl = NODE_ANY;
	n->items = NODE_ANY;
	n->max_items = n->max_len = UNLIMITED;
	n->size = n->size_obj = n->size_arr = INF;
	n->depth = n->depth_obj = n->depth_arr = INF;
	return (int)s->n_node++;
}

static uint32_t add_literal(struct schema *s, const char *text, size_t len)
{
	GROW(s->lit, s->n_lit, s->cap_lit);
	s->lit[s->n_lit].s = xmalloc(len ? len : 1);
	memcpy(s->lit[s->n_lit].s, text, len);
	s->lit[s->n_lit].len = (uint32_t)len;
	return s->n_lit++;
}

static int cmp_literal(const void *pa, const void *pb)
{
	const struct literal *a = pa, *b = pb;
	int r = memcmp(a->s, b->s, min2(a->len, b->len));
	return r ? r : (a->len > b->len) - (a->len < b->len);
}

/* Keywords by what they do; the rest (annotations, unknown ones) are
 * ignored. */
static const char *const supported[] = {
	"type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "minLength",
	"maxLength", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", NULL,
};
static const char *const refused[] = {
	"pattern", "patternProperties", "propertyNames", "minimum", "maximum", "exclusiveMinimum",
	"exclusiveMaximum", "multipleOf", "minProperties", "maxProperties", "dependentRequired",
	"dependentSchemas", "dependencies", "not", "if", "then", "else", "uniqueItems", "contains", "minContains",
	"maxContains", "prefixItems", "additionalItems", "unevaluatedProperties", "unevaluatedItems",
	"$dynamicRef", "$recursiveRef", NULL,
};

static bool in_list(const char *const *list, const char *k)
{
	for (; *list; list++)
		if (!strcmp(*list, k))
			return true;
	return false;
}

static int compile(struct schema *s, jv sch, const char *path, int depth);

/* path + "/" + key, for messages */
static void subpath(char *out, size_t size, const char *path, const char *key)
{
	snprintf(out, size, "%s/%s", path, key);
}

/* A count keyword: a whole number 0..MAX_COUNT. */
static int count_of(struct schema *s, jv sch, const char *key, const char *path, uint32_t *out)
{
	jv v = jv_object_get(jv_copy(sch), jv_string(key));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return 0;
	}
	double d = jv_get_kind(v) == JV_KIND_NUMBER ? jv_number_value(v) : -1;
	jv_free(v);
	if (d < 0 || d != floor(d)) {  /* (a cast of 1e90 would be undefined) */
		err_set(s->e, "schema: %s: %s must be a whole number", path, key);
		return -1;
	}
	*out = d > MAX_COUNT ? MAX_COUNT : (uint32_t)d;
	return 0;
}

static uint8_t type_of_name(const char *t)
{
	static const struct {
		const char *name;
		uint8_t type;
	} names[] = {
		{"null", T_NULL}, {"boolean", T_BOOLEAN}, {"object", T_OBJECT}, {"array", T_ARRAY},
		{"number", T_NUMBER}, {"integer", T_INTEGER}, {"string", T_STRING},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(t, names[i].name))
			return names[i].type;
	return 0;
}

static uint8_t types_of_value(jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_NULL: return T_NULL;
	case JV_KIND_TRUE:
	case JV_KIND_FALSE: return T_BOOLEAN;
	case JV_KIND_NUMBER: return jv_is_integer(jv_copy(v)) ? T_NUMBER | T_INTEGER : T_NUMBER;
	case JV_KIND_STRING: return T_STRING;
	case JV_KIND_ARRAY: return T_ARRAY;
	case JV_KIND_OBJECT: return T_OBJECT;
	default: return 0;
	}
}

/* "type": its bits; 0 with e set if bad.  Absent: T_ANY. */
static int read_types(struct schema *s, jv sch, const char *path, uint8_t *types)
{
	jv t = jv_object_get(jv_copy(sch), jv_string("type"));
	*types = 0;
	if (!jv_is_valid(t)) {
		jv_free(t);
		*types = T_ANY;
		return 0;
	}
	if (jv_get_kind(t) == JV_KIND_STRING) {
		*types = type_of_name(jv_string_value(t));
	} else if (jv_get_kind(t) == JV_KIND_ARRAY) {
		jv_array_foreach(t, i, x) {
			uint8_t one = jv_get_kind(x) == JV_KIND_STRING ? type_of_name(jv_string_value(x)) : 0;
			jv_free(x);
			if (!one) {
				*types = 0;
				break;
			}
			*types |= one;
		}
	}
	jv_free(t);
	if (!*types) {
		err_set(s->e, "schema: %s: type must be object, array, string, number, integer, boolean, null or a list of them", path);
		return -1;
	}
	return 0;
}

/* enum, const: the values as compact JSON that the types allow, sorted,
 * without duplicates. */
static int compile_literals(struct schema *s, uint32_t at, jv sch, uint8_t types, const char *path)
{
	jv values;
	jv c = jv_object_get(jv_copy(sch), jv_string("const"));
	if (jv_is_valid(c)) {
		values = jv_array_append(jv_array(), c);
	} else {
		jv_free(c);
		values = jv_object_get(jv_copy(sch), jv_string("enum"));
		if (jv_get_kind(values) != JV_KIND_ARRAY || jv_array_length(jv_copy(values)) == 0) {
			jv_free(values);
			err_set(s->e, "schema: %s: enum must be a list of values", path);
			return -1;
		}
	}
	uint32_t lit0 = s->n_lit;
	jv_array_foreach(values, i, v) {
		if (types_of_value(v) & types) {
			jv text = jv_dump_string(v, 0);
			size_t len = (size_t)jv_string_length_bytes(jv_copy(text));
			if (len > SCHEMA_MAX_LITERAL) {
				jv_free(text);
				jv_free(values);
				err_set(s->e, "schema: %s: an enum value of %zu bytes (at most %d)", path, len, SCHEMA_MAX_LITERAL);
				return -1;
			}
			add_literal(s, jv_string_value(text), len);
			jv_free(text);
		} else {
			jv_free(v);
		}
	}
	jv_free(values);
	uint32_t n = s->n_lit - lit0;
	if (n == 0) {
		err_set(s->e, "schema: %s: no value of enum/const has the type given", path);
		return -1;
	}
	qsort(s->lit + lit0, n, sizeof *s->lit, cmp_literal);
	uint32_t k = 1;
	for (uint32_t i = 1; i < n; i++) {
		if (cmp_literal(&s->lit[lit0 + i], &s->lit[lit0 + k - 1]) == 0)
			free(s->lit[lit0 + i].s);
		else
			s->lit[lit0 + k++] = s->lit[lit0 + i];
	}
	s->n_lit = lit0 + k;
	s->node[at].lit0 = lit0;
	s->node[at].n_lit = k;
	return 0;
}

/* A node whose value is one of its alternatives (anyOf, oneOf; $ref and
 * allOf of one schema are alternatives of one). */
static int add_alternatives(struct schema *s, uint32_t at, const uint32_t *alts, uint32_t n)
{
	s->node[at].alt0 = s->n_alt;
	s->node[at].n_alt = n;
	for (uint32_t i = 0; i < n; i++) {
		GROW(s->alt, s->n_alt, s->cap_alt);
		s->alt[s->n_alt++] = alts[i];
	}
	return (int)at;
}

/* $ref: "#" or "#/a/b" (JSON pointer, ~0 ~1 undone) into the document;
 * each target compiled once, so references may be recursive. */
static int compile_ref(struct schema *s, const char *ref, const char *path, int depth)
{
	for (uint32_t i = 0; i < s->n_refs; i++)
		if (!strcmp(s->refs[i].ref, ref))
			return (int)s->refs[i].node;
	if (ref[0] != '#' || (ref[1] && ref[1] != '/')) {
		err_set(s->e, "schema: %s: $ref \"%.60s\": only references into the same document (#/...) are supported", path, ref);
		return -1;
	}
	jv target = jv_copy(s->doc);
	const char *p = ref + 1;
	while (*p == '/' && jv_is_valid(target)) {
		const char *end = strchr(p + 1, '/');
		size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);
		char *tok = xmalloc(len + 1), *o = tok;
		for (size_t i = 0; i < len; i++) {
			char ch = p[1 + i];
			if (ch == '~' && i + 1 < len && (p[2 + i] == '0' || p[2 + i] == '1')) {
				ch = p[2 + i] == '0' ? '~' : '/';
				i++;
			}
			*o++ = ch;
		}
		*o = 0;
		if (jv_get_kind(target) == JV_KIND_OBJECT) {
			target = jv_object_get(target, jv_string(tok));
		} else if (jv_get_kind(target) == JV_KIND_ARRAY && *tok && strspn(tok, "0123456789") == strlen(tok)) {
			target = jv_array_get(target, atoi(tok));
		} else {
			jv_free(target);
			target = jv_invalid();
		}
		free(tok);
		p += 1 + len;
	}
	if (!jv_is_valid(target)) {
		jv_free(target);
		err_set(s->e, "schema: %s: $ref \"%.60s\" names nothing in the document", path, ref);
		return -1;
	}
	/* an alternative of one, so that the target may refer back to it */
	int at = new_node(s, path);
	if (at < 0) {
		jv_free(target);
		return -1;
	}
	s->refs = xreallocarray(s->refs, s->n_refs + 1, sizeof *s->refs);
	s->refs[s->n_refs].ref = xstrdup(ref);
	s->refs[s->n_refs++].node = (uint32_t)at;
	int t = compile(s, target, ref + 1, depth + 1);
	jv_free(target);
	if (t < 0)
		return -1;
	uint32_t alt = (uint32_t)t;
	return add_alternatives(s, (uint32_t)at, &alt, 1);
}

static void free_props(struct prop *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		free(p[i].key);
	free(p);
}

/* properties, required, additionalProperties of node at */
static int compile_object(struct schema *s, uint32_t at, jv sch, const char *path, int depth)
{
	char sub[256];
	jv props = jv_object_get(jv_copy(sch), jv_string("properties"));
	jv req = jv_object_get(jv_copy(sch), jv_string("required"));
	jv addl = jv_object_get(jv_copy(sch), jv_string("additionalProperties"));
	int r = -1;

	if (jv_is_valid(req) && jv_get_kind(req) != JV_KIND_ARRAY) {
		err_set(s->e, "schema: %s: required must be a list of names", path);
		goto out;
	}
	if (jv_is_valid(props)) {
		if (jv_get_kind(props) != JV_KIND_OBJECT) {
			err_set(s->e, "schema: %s: properties must be an object", path);
			goto out;
		}
		s->node[at].declared = true;
		/* the properties first (their nodes may be compiled meanwhile,
		 * so the props of this node are gathered, then stored together) */
		uint32_t n = 0, cap = 0;
		struct prop *mine = NULL;
		jv_object_foreach(props, key, value) {
			subpath(sub, sizeof sub, path, "properties");
			snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "/%s", jv_string_value(key));
			bool required = false;
			if (jv_is_valid(req)) {
				jv_array_foreach(req, i, name) {
					if (jv_get_kind(name) == JV_KIND_STRING && jv_equal(jv_copy(name), jv_copy(key)))
						required = true;
					jv_free(name);
				}
			}
			if (jv_get_kind(value) == JV_KIND_FALSE) {
				jv_free(key);
				jv_free(value);
				if (required) {
					err_set(s->e, "schema: %s: required, but its schema is false", sub);
					free_props(mine, n);
					goto out;
				}
				continue;
			}
			int child = compile(s, value, sub, depth + 1);
			jv_free(value);
			if (child < 0) {
				jv_free(key);
				free_props(mine, n);
				goto out;
			}
			jv text = jv_dump_string(key, 0);
			GROW(mine, n, cap);
			mine[n].key_len = (uint32_t)jv_string_length_bytes(jv_copy(text));
			mine[n].key = xmalloc(mine[n].key_len);
			memcpy(mine[n].key, jv_string_value(text), mine[n].key_len);
			mine[n].node = (uint32_t)child;
			mine[n].required = required;
			n++;
			jv_free(text);
		}
		s->node[at].prop0 = s->n_prop;
		s->node[at].n_prop = n;
		for (uint32_t i = 0; i < n; i++) {
			GROW(s->prop, s->n_prop, s->cap_prop);
			s->prop[s->n_prop++] = mine[i];
		}
		free(mine);
	}
	if (jv_is_valid(req)) {
		jv_array_foreach(req, i, name) {
			bool found = false;
			if (jv_get_kind(name) != JV_KIND_STRING) {
				jv_free(name);
				err_set(s->e, "schema: %s: required must be a list of names", path);
				goto out;
			}
			const struct node *n = &s->node[at];
			jv text = jv_dump_string(jv_copy(name), 0);
			for (uint32_t k = 0; k < n->n_prop; k++) {
				const struct prop *p = &s->prop[n->prop0 + k];
				found |= p->key_len == (uint32_t)jv_string_length_bytes(jv_copy(text)) &&
					 !memcmp(p->key, jv_string_value(text), p->key_len);
			}
			jv_free(text);
			if (!found) {
				err_set(s->e, "schema: %s: required \"%.60s\" is not among the properties (only those are written)",
					path, jv_string_value(name));
				jv_free(name);
				goto out;
			}
			jv_free(name);
		}
	}
	if (!s->node[at].declared && jv_is_valid(addl)) {
		if (jv_get_kind(addl) == JV_KIND_FALSE) {
			s->node[at].addl = -1;
		} else {
			subpath(sub, sizeof sub, path, "additionalProperties");
			int child = compile(s, addl, sub, depth + 1);
			if (child < 0)
				goto out;
			s->node[at].addl = child;
		}
	}
	r = 0;
out:
	jv_free(props);
	jv_free(req);
	jv_free(addl);
	return r;
}

/* Compile schema sch (borrowed) into a new node; its index, or -1. */
static int compile(struct schema *s, jv sch, const char *path, int depth)
{
	char sub[256];
	if (depth > 64) {
		err_set(s->e, "schema: %s: nested more than 64 deep", path);
		return -1;
	}
	if (jv_get_kind(sch) == JV_KIND_TRUE)
		return NODE_ANY;
	if (jv_get_kind(sch) == JV_KIND_FALSE) {
		err_set(s->e, "schema: %s: false: no value satisfies it", path);
		return -1;
	}
	if (jv_get_kind(sch) != JV_KIND_OBJECT) {
		err_set(s->e, "schema: %s: a schema is an object or true, not %s", path, jv_kind_name(jv_get_kind(sch)));
		return -1;
	}

	/* which keywords: refused ones are errors; restricting ones counted */
	int n_restrict = 0;
	bool obj_kw = false, arr_kw = false, str_kw = false;
	const char *bad = NULL;
	jv_object_foreach(sch, key, value) {
		const char *k = jv_string_value(key);
		if (in_list(refused, k) && !(!strcmp(k, "uniqueItems") && jv_get_kind(value) == JV_KIND_FALSE))
			bad = k;
		if (in_list(supported, k)) {
			n_restrict++;
			obj_kw |= !strcmp(k, "properties") || !strcmp(k, "required") || !strcmp(k, "additionalProperties");
			arr_kw |= !strcmp(k, "items") || !strcmp(k, "minItems") || !strcmp(k, "maxItems");
			str_kw |= !strcmp(k, "minLength") || !strcmp(k, "maxLength");
		}
		if (bad) {
			err_set(s->e, "schema: %s: %s is not supported (lm-sample(1) lists what is)", path, k);
			jv_free(key);
			jv_free(value);
			return -1;
		}
		jv_free(key);
		jv_free(value);
	}

	/* $ref, allOf of one, anyOf/oneOf: alternatives, alone */
	static const char *const alone[] = {"$ref", "allOf", "anyOf", "oneOf"};
	for (size_t w = 0; w < 4; w++) {
		jv v = jv_object_get(jv_copy(sch), jv_string(alone[w]));
		if (!jv_is_valid(v)) {
			jv_free(v);
			continue;
		}
		if (n_restrict > 1) {
			jv_free(v);
			err_set(s->e, "schema: %s: %s beside other keywords is not supported (only annotations)", path, alone[w]);
			return -1;
		}
		if (w == 0) {
			if (jv_get_kind(v) != JV_KIND_STRING) {
				jv_free(v);
				err_set(s->e, "schema: %s: $ref must be a string", path);
				return -1;
			}
			int r = compile_ref(s, jv_string_value(v), path, depth);
			jv_free(v);
			return r;
		}
		int len = jv_get_kind(v) == JV_KIND_ARRAY ? jv_array_length(jv_copy(v)) : 0;
		if (len < 1 || (w == 1 && len != 1)) {
			jv_free(v);
			err_set(s->e, "schema: %s: %s", path,
				w == 1 ? "allOf is supported with one schema only" : "anyOf/oneOf must be a non-empty list of schemas");
			return -1;
		}
		int at = new_node(s, path);
		uint32_t *alts = xcalloc((size_t)len, sizeof *alts);
		for (int i = 0; at >= 0 && i < len; i++) {
			snprintf(sub, sizeof sub, "%s/%s/%d", path, alone[w], i);
			jv a = jv_array_get(jv_copy(v), i);
			int r = compile(s, a, sub, depth + 1);
			jv_free(a);
			if (r < 0)
				at = -1;
			else
				alts[i] = (uint32_t)r;
		}
		jv_free(v);
		if (at >= 0)
			add_alternatives(s, (uint32_t)at, alts, (uint32_t)len);
		free(alts);
		return at;
	}

	uint8_t types;
	if (read_types(s, sch, path, &types) < 0)
		return -1;
	int at = new_node(s, path);
	if (at < 0)
		return -1;
	if (jv_object_has(jv_copy(sch), jv_string("enum")) || jv_object_has(jv_copy(sch), jv_string("const"))) {
		bool typed = jv_object_has(jv_copy(sch), jv_string("type"));
		if (n_restrict > 1 + typed) {
			err_set(s->e, "schema: %s: enum/const beside keywords other than type is not supported", path);
			return -1;
		}
		return compile_literals(s, (uint32_t)at, sch, types, path) < 0 ? -1 : at;
	}
	if (!jv_object_has(jv_copy(sch), jv_string("type")) && (obj_kw || arr_kw || str_kw))
		types = (uint8_t)((obj_kw ? T_OBJECT : 0) | (arr_kw ? T_ARRAY : 0) | (str_kw ? T_STRING : 0));
	s->node[at].types = types;

	if (compile_object(s, (uint32_t)at, sch, path, depth) < 0)
		return -1;
	uint32_t min_items = 0, max_items = UNLIMITED, min_len = 0, max_len = UNLIMITED;
	if (count_of(s, sch, "minItems", path, &min_items) < 0 || count_of(s, sch, "maxItems", path, &max_items) < 0 ||
	    count_of(s, sch, "minLength", path, &min_len) < 0 || count_of(s, sch, "maxLength", path, &max_len) < 0)
		return -1;
	if ((max_items != UNLIMITED && min_items > max_items) || (max_len != UNLIMITED && min_len > max_len)) {
		err_set(s->e, "schema: %s: a minimum above its maximum: no value satisfies it", path);
		return -1;
	}
	s->node[at].min_items = min_items;
	s->node[at].max_items = max_items;
	s->node[at].min_len = min_len;
	s->node[at].max_len = max_len;
	jv items = jv_object_get(jv_copy(sch), jv_string("items"));
	if (jv_get_kind(items) == JV_KIND_FALSE) {
		s->node[at].max_items = 0;
		if (min_items > 0) {
			jv_free(items);
			err_set(s->e, "schema: %s: items false with minItems: no value satisfies it", path);
			return -1;
		}
	} else if (jv_is_valid(items)) {
		if (jv_get_kind(items) == JV_KIND_ARRAY) {
			jv_free(items);
			err_set(s->e, "schema: %s: items as a list (tuples) is not supported", path);
			return -1;
		}
		subpath(sub, sizeof sub, path, "items");
		int child = compile(s, items, sub, depth + 1);
		if (child < 0) {
			jv_free(items);
			return -1;
		}
		s->node[at].items = (uint32_t)child;
	}
	jv_free(items);
	return at;
}

/* ---- the fixed point: shortest values, depths, first bytes ---- */

static void props_rest(struct schema *s, struct node *n)
{
	uint32_t *rest = s->req_rest + n->rest0, *next = s->next_req + n->rest0;
	rest[n->n_prop] = 0;
	next[n->n_prop] = n->n_prop;
	for (uint32_t j = n->n_prop; j-- > 0;) {
		const struct prop *p = &s->prop[n->prop0 + j];
		rest[j] = rest[j + 1];
		next[j] = next[j + 1];
		if (p->required) {
			rest[j] = add(rest[j], add(p->key_len + 2, s->node[p->node].size));
			next[j] = j;
		}
	}
}

/* One round over every node; true if anything changed. */
static bool settle(struct schema *s)
{
	bool changed = false;
	for (uint32_t i = 0; i < s->n_node; i++) {
		struct node *n = &s->node[i];
		uint32_t size = INF, size_obj = INF, size_arr = INF, depth = INF, depth_obj = INF, depth_arr = INF;
		uint64_t first[4] = {0};
		if (n->n_alt) {
			for (uint32_t k = 0; k < n->n_alt; k++) {
				const struct node *a = &s->node[s->alt[n->alt0 + k]];
				size = min2(size, a->size);
				depth = min2(depth, a->depth);
				for (int w = 0; w < 4; w++)
					first[w] |= a->first[w];
			}
		} else if (n->n_lit) {
			for (uint32_t k = 0; k < n->n_lit; k++) {
				const struct literal *l = &s->lit[n->lit0 + k];
				size = min2(size, l->len);
				if (l->len)
					set_byte(first, (unsigned char)l->s[0]);
			}
			depth = 1;
		} else {
			if (n->types & T_OBJECT) {
				if (n->declared) {
					props_rest(s, n);
					uint32_t r = s->req_rest[n->rest0];
					size_obj = r ? add(r, 1) : 2;  /* the first comma is the '{' */
					depth_obj = 1;
					for (uint32_t j = 0; j < n->n_prop; j++) {
						const struct prop *p = &s->prop[n->prop0 + j];
						if (p->required)
							depth_obj = max2(depth_obj, add(1, s->node[p->node].depth));
					}
				} else {
					size_obj = 2;
					depth_obj = 1;
				}
				set_byte(first, '{');
			}
			if (n->types & T_ARRAY) {
				const struct node *it = &s->node[n->items];
				size_arr = n->min_items ? add(add(1, mul(n->min_items, it->size)), n->min_items) : 2;
				depth_arr = n->min_items ? add(1, it->depth) : 1;
				set_byte(first, '[');
			}
			if (n->types & T_STRING) {
				size = min2(size, add(2, n->min_len));
				set_byte(first, '"');
			}
			if (n->types & (T_NUMBER | T_INTEGER)) {
				size = 1;
				set_byte(first, '-');
				for (int d = '0'; d <= '9'; d++)
					set_byte(first, (unsigned char)d);
			}
			if (n->types & T_BOOLEAN) {
				size = min2(size, 4);
				set_byte(first, 't');
				set_byte(first, 'f');
			}
			if (n->types & T_NULL) {
				size = min2(size, 4);
				set_byte(first, 'n');
			}
			if (size_obj < INF || size_arr < INF || size < INF)
				depth = min2(size < INF ? 1 : INF, min2(size_obj < INF ? depth_obj : INF, size_arr < INF ? depth_arr : INF));
			size = min2(size, min2(size_obj, size_arr));
		}
		if (size != n->size || size_obj != n->size_obj || size_arr != n->size_arr || depth != n->depth ||
		    depth_obj != n->depth_obj || depth_arr != n->depth_arr || memcmp(first, n->first, sizeof first)) {
			n->size = size;
			n->size_obj = size_obj;
			n->size_arr = size_arr;
			n->depth = depth;
			n->depth_obj = depth_obj;
			n->depth_arr = depth_arr;
			memcpy(n->first, first, sizeof first);
			changed = true;
		}
	}
	return changed;
}

static const struct byte_machine machine_template;

static int finish(struct schema *s)
{
	for (uint32_t i = 0; i < s->n_node; i++) {
		struct node *n = &s->node[i];
		if (n->declared) {
			n->rest0 = s->n_rest;
			for (uint32_t j = 0; j <= n->n_prop; j++) {
				GROW(s->req_rest, s->n_rest, s->cap_rest);
				s->n_rest++;
			}
		}
	}
	s->next_req = xcalloc(s->n_rest ? s->n_rest : 1, sizeof *s->next_req);
	if (!s->req_rest)
		s->req_rest = xcalloc(1, sizeof *s->req_rest);
	while (settle(s))
		;
	/* alternatives must differ in their first byte, so that the first
	 * byte written chooses one */
	for (uint32_t i = 0; i < s->n_node; i++) {
		const struct node *n = &s->node[i];
		for (uint32_t a = 0; n->n_alt > 1 && a < n->n_alt; a++)
			for (uint32_t b = a + 1; b < n->n_alt; b++) {
				const uint64_t *fa = s->node[s->alt[n->alt0 + a]].first, *fb = s->node[s->alt[n->alt0 + b]].first;
				for (int c = 0; c < 256; c++)
					if (has_byte(fa, (unsigned char)c) && has_byte(fb, (unsigned char)c)) {
						err_set(s->e, "schema: anyOf/oneOf: alternatives %u and %u can both start with '%c'; only "
							"alternatives that start differently (a string or null, ...) are supported", a, b, c);
						return -1;
					}
			}
	}
	const struct node *root = &s->node[s->root];
	if (root->size >= INF) {
		err_set(s->e, "schema: no finite value satisfies it (a required property that contains itself?)");
		return -1;
	}
	if (root->depth > SCHEMA_MAX_DEPTH) {
		err_set(s->e, "schema: its shortest value nests deeper than %d", SCHEMA_MAX_DEPTH);
		return -1;
	}
	s->m = machine_template;
	s->m.ctx = s;
	return 0;
}

static struct schema *schema_alloc(struct lmu_err *e)
{
	struct schema *s = xcalloc(1, sizeof *s);
	s->e = e;
	s->doc = jv_null();
	add_literal(s, "false", 5);
	add_literal(s, "true", 4);
	add_literal(s, "null", 4);
	new_node(s, "");  /* NODE_ANY */
	new_node(s, "");  /* NODE_KEY */
	s->node[NODE_KEY].types = T_STRING;
	return s;
}

struct schema *schema_new(jv value, struct lmu_err *e)
{
	struct schema *s = schema_alloc(e);
	s->doc = value;
	int root = compile(s, value, "", 0);
	if (root >= 0) {
		s->root = (uint32_t)root;
		if (finish(s) == 0) {
			jv_free(s->doc);
			s->doc = jv_null();
			for (uint32_t i = 0; i < s->n_refs; i++)
				free(s->refs[i].ref);
			free(s->refs);
			s->refs = NULL;
			s->n_refs = 0;
			s->e = NULL;
			return s;
		}
	}
	schema_free(s);
	return NULL;
}

struct schema *schema_parse(const char *text, size_t len, struct lmu_err *e)
{
	if (len > (1u << 30)) {
		err_set(e, "schema: %zu bytes", len);
		return NULL;
	}
	/* the strict scanner first (common/json.h): libjq 1.6 leaks on some
	 * malformed text, and the scanner's message says where it is wrong */
	struct js j = {.p = (const uint8_t *)text, .n = len, .name = "schema: not JSON", .part = "byte", .e = e};
	if (!js_skip(&j, 0) || !js_end(&j))
		return NULL;  /* "schema: not JSON: byte N: what" */
	jv v = jv_parse_sized(text, (int)len);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);
		err_set(e, "schema: not JSON: %s", jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) : "?");
		jv_free(msg);
		return NULL;
	}
	return schema_new(v, e);
}

static struct schema *builtin(const char *text)
{
	struct lmu_err e = {{0}};
	struct schema *s = schema_parse(text, strlen(text), &e);
	if (!s)
		die("built-in %s", e.msg);
	return s;
}

struct schema *schema_json_object(void) { return builtin("{\"type\": \"object\"}"); }

struct schema *schema_json_cmd(void)
{
	return builtin("{\"type\": \"object\", \"properties\": {\"cmd\": {\"type\": \"string\", \"minLength\": 1}},"
		       " \"required\": [\"cmd\"]}");
}

const struct byte_machine *schema_machine(const struct schema *s) { return &s->m; }

uint32_t schema_min_bytes(const struct schema *s) { return s->node[s->root].size; }

void schema_free(struct schema *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->n_prop; i++)
		free(s->prop[i].key);
	for (uint32_t i = 0; i < s->n_lit; i++)
		free(s->lit[i].s);
	for (uint32_t i = 0; i < s->n_refs; i++)
		free(s->refs[i].ref);
	jv_free(s->doc);
	free(s->refs);
	free(s->node);
	free(s->prop);
	free(s->lit);
	free(s->alt);
	free(s->req_rest);
	free(s->next_req);
	free(s);
}

/* ---- the machine ---- */

/* What a frame is in the middle of. */
enum kind {
	F_VALUE,     /* before a value (whitespace) */
	F_OBJ_OPEN,  /* after '{' */
	F_OBJ_KEY,   /* in a declared key: a props done, b the candidate, c bytes matched */
	F_OBJ_COLON, /* after a key: a props done */
	F_OBJ_NEXT,  /* after a value: a props done */
	F_OBJ_COMMA, /* after ',': a props done */
	F_ARR_OPEN,  /* after '[' */
	F_ARR_NEXT,  /* after an item: a items (counted up to the limits) */
	F_STR,       /* in a string: sub UTF-8 bytes due (and the next one's range), a characters */
	F_STR_ESC,   /* after '\' */
	F_STR_HEX,   /* in \uXXXX: sub digits seen (+8 if the first was d) */
	F_NUM,       /* in a number: sub the part, a its digits */
	F_LIT,       /* in an enum/const value or true/false/null: a the literal, b bytes matched, c the end of the range */
};

enum { N_MINUS = 1, N_ZERO, N_INT, N_DOT, N_FRAC, N_E, N_ESIGN, N_EXP };
#define NUM_DIGITS 16
#define EXP_DIGITS 2

/* Every field not in use is zero, so that equal states have equal bytes. */
struct frame {
	uint32_t node;
	uint8_t kind, sub, ws, pad;
	uint32_t a, b, c;
};

struct mstate {
	uint32_t depth;
	struct frame f[SCHEMA_MAX_DEPTH];
};

enum { NO, YES, AGAIN };  /* AGAIN: the value ended before this byte */

static bool is_ws(unsigned char b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }

/* Whitespace b in a gap: one space, or a newline and up to SCHEMA_MAX_WS
 * spaces and tabs of indentation (ws counts the newline and them; a lone
 * space is WS_SPACE). */
#define WS_SPACE 255
static int gap(struct frame *f, unsigned char b)
{
	if (f->ws == 0 && (b == ' ' || b == '\n')) {
		f->ws = b == ' ' ? WS_SPACE : 1;
		return YES;
	}
	if (f->ws == 0 || f->ws == WS_SPACE || b == '\n' || b == '\r' || f->ws > SCHEMA_MAX_WS)
		return NO;
	f->ws++;
	return YES;
}

static void become(struct frame *f, int kind)
{
	f->kind = (uint8_t)kind;
	f->sub = f->ws = 0;
	f->b = f->c = 0;
}

/* A value of node at the next frame: does it fit, and is there one? */
static bool fits(const struct schema *s, uint32_t node, uint32_t at)
{
	const struct node *n = &s->node[node];
	return n->size < INF && at + n->depth <= SCHEMA_MAX_DEPTH;
}

static struct frame *push(struct mstate *st, uint32_t node)
{
	struct frame *f = &st->f[st->depth++];
	memset(f, 0, sizeof *f);
	f->node = node;
	return f;
}

static const struct prop *prop_of(const struct schema *s, const struct node *n, uint32_t j)
{
	return &s->prop[n->prop0 + j];
}

/* The properties that may come next after a done: up to the first
 * required one (none may be skipped). */
static uint32_t last_candidate(const struct schema *s, const struct node *n, uint32_t a)
{
	uint32_t next = s->next_req[n->rest0 + a];
	return next < n->n_prop ? next : n->n_prop - 1;
}

static bool candidate(const struct schema *s, const struct node *n, uint32_t j, uint32_t at)
{
	return fits(s, prop_of(s, n, j)->node, at + 1);
}

/* Can another property come (after a ',')? */
static bool more_props(const struct schema *s, const struct node *n, uint32_t a, uint32_t at)
{
	if (!n->declared)
		return n->addl >= 0 && fits(s, (uint32_t)n->addl, at + 1);
	for (uint32_t j = a; j < n->n_prop && j <= last_candidate(s, n, a); j++)
		if (candidate(s, n, j, at))
			return true;
	return false;
}

static bool may_close(const struct schema *s, const struct node *n, uint32_t a)
{
	return !n->declared || s->next_req[n->rest0 + a] == n->n_prop;
}

/* A key's first byte '"': a declared key starts, or a free one (a
 * string frame above this one). */
static int key_start(const struct schema *s, struct mstate *st, struct frame *f, uint32_t at)
{
	const struct node *n = &s->node[f->node];
	if (!n->declared) {
		if (n->addl < 0 || !fits(s, (uint32_t)n->addl, at + 1))
			return NO;
		uint32_t a = f->a;
		become(f, F_OBJ_COLON);
		f->a = a;
		push(st, NODE_KEY)->kind = F_STR;
		return YES;
	}
	for (uint32_t j = f->a; j < n->n_prop && j <= last_candidate(s, n, f->a); j++)
		if (candidate(s, n, j, at)) {
			uint32_t a = f->a;
			become(f, F_OBJ_KEY);
			f->a = a;
			f->b = j;
			f->c = 1;
			return YES;
		}
	return NO;
}

static int key_byte(const struct schema *s, struct frame *f, unsigned char b, uint32_t at)
{
	const struct node *n = &s->node[f->node];
	const struct prop *cur = prop_of(s, n, f->b);
	uint32_t pos = f->c;
	for (uint32_t j = f->b; j < n->n_prop && j <= last_candidate(s, n, f->a); j++) {
		const struct prop *p = prop_of(s, n, j);
		if (p->key_len <= pos || (unsigned char)p->key[pos] != b || memcmp(p->key, cur->key, pos) ||
		    !candidate(s, n, j, at))
			continue;
		if (pos + 1 == p->key_len) {
			become(f, F_OBJ_COLON);
			f->a = j + 1;
		} else {
			f->b = j;
			f->c = pos + 1;
		}
		return YES;
	}
	return NO;
}

/* Literal lit[a] with b bytes matched; the range ends at c.  The value
 * ends when it is whole and no other literal goes on from it. */
static int lit_end(const struct schema *s, struct mstate *st, const struct frame *f)
{
	const struct literal *l = &s->lit[f->a];
	if (l->len == f->b) {
		const struct literal *next = f->a + 1 < f->c ? &s->lit[f->a + 1] : NULL;
		if (!next || next->len <= f->b || memcmp(next->s, l->s, f->b))
			st->depth--;
	}
	return YES;
}

static int lit_byte(const struct schema *s, struct mstate *st, struct frame *f, unsigned char b)
{
	const struct literal *cur = &s->lit[f->a];
	uint32_t pos = f->b;
	for (uint32_t j = f->a; j < f->c; j++) {
		const struct literal *l = &s->lit[j];
		if (l->len < pos || memcmp(l->s, cur->s, pos))
			break;  /* sorted: no more with this prefix */
		if (l->len > pos && (unsigned char)l->s[pos] == b) {
			f->a = j;
			f->b = pos + 1;
			return lit_end(s, st, f);
		}
	}
	return cur->len == pos ? AGAIN : NO;
}

static int lit_start(const struct schema *s, struct mstate *st, struct frame *f, uint32_t lo, uint32_t hi,
		     unsigned char b)
{
	for (uint32_t j = lo; j < hi; j++)
		if (s->lit[j].len && (unsigned char)s->lit[j].s[0] == b) {
			become(f, F_LIT);
			f->a = j;
			f->b = 1;
			f->c = hi;
			return lit_end(s, st, f);
		}
	return NO;
}

/* The count of items or characters kept in a frame: only up to where the
 * limits stop caring, so that states stay few. */
static uint32_t count_up(uint32_t a, uint32_t min, uint32_t max)
{
	uint32_t cap = max != UNLIMITED ? max : min;
	return a < cap ? a + 1 : a;
}

static int value_start(const struct schema *s, struct mstate *st, struct frame *f, unsigned char b, uint32_t at)
{
	if (is_ws(b))
		return gap(f, b);
	const struct node *n = &s->node[f->node];
	while (n->n_alt) {
		uint32_t k = 0;
		while (k < n->n_alt && !has_byte(s->node[s->alt[n->alt0 + k]].first, b))
			k++;
		if (k == n->n_alt)
			return NO;
		f->node = s->alt[n->alt0 + k];
		n = &s->node[f->node];
	}
	if (n->n_lit)
		return lit_start(s, st, f, n->lit0, n->lit0 + n->n_lit, b);
	switch (b) {
	case '{':
		if (!(n->types & T_OBJECT) || n->size_obj >= INF || at + n->depth_obj > SCHEMA_MAX_DEPTH)
			return NO;
		become(f, F_OBJ_OPEN);
		return YES;
	case '[':
		if (!(n->types & T_ARRAY) || n->size_arr >= INF || at + n->depth_arr > SCHEMA_MAX_DEPTH)
			return NO;
		become(f, F_ARR_OPEN);
		return YES;
	case '"':
		if (!(n->types & T_STRING))
			return NO;
		become(f, F_STR);
		return YES;
	case 't':
	case 'f':
		return n->types & T_BOOLEAN ? lit_start(s, st, f, LIT_BOOL, LIT_BOOL + 2, b) : NO;
	case 'n':
		return n->types & T_NULL ? lit_start(s, st, f, LIT_NULL, LIT_NULL + 1, b) : NO;
	default:
		if (!(n->types & (T_NUMBER | T_INTEGER)) || !(b == '-' || (b >= '0' && b <= '9')))
			return NO;
		become(f, F_NUM);
		f->sub = b == '-' ? N_MINUS : b == '0' ? N_ZERO : N_INT;
		f->a = b >= '1' && b <= '9';
		return YES;
	}
}

static int num_byte(const struct schema *s, struct frame *f, unsigned char b)
{
	bool digit = b >= '0' && b <= '9', real = s->node[f->node].types & T_NUMBER;
	switch (f->sub) {
	case N_MINUS:
		if (!digit)
			return NO;
		f->sub = b == '0' ? N_ZERO : N_INT;
		f->a = b != '0';
		return YES;
	case N_ZERO:
	case N_INT:
	case N_FRAC:
		if (digit) {
			if (f->sub == N_ZERO || f->a >= NUM_DIGITS)
				return NO;
			f->a++;
			return YES;
		}
		if (b == '.' && real && f->sub != N_FRAC) {
			f->sub = N_DOT;
			f->a = 0;
			return YES;
		}
		if ((b == 'e' || b == 'E') && real) {
			f->sub = N_E;
			f->a = 0;
			return YES;
		}
		return AGAIN;
	case N_DOT:
		if (!digit)
			return NO;
		f->sub = N_FRAC;
		f->a = 1;
		return YES;
	case N_E:
	case N_ESIGN:
		if (f->sub == N_E && (b == '+' || b == '-')) {
			f->sub = N_ESIGN;
			return YES;
		}
		if (!digit)
			return NO;
		f->sub = N_EXP;
		f->a = 1;
		return YES;
	case N_EXP:
	default:
		if (!digit)
			return AGAIN;
		if (f->a >= EXP_DIGITS)
			return NO;
		f->a++;
		return YES;
	}
}

/* UTF-8: the range of the byte after a lead byte (sub >> 2): 80-BF, or
 * narrower to refuse overlong forms, surrogates and code points past
 * U+10FFFF. */
static const unsigned char utf8_lo[] = {0x80, 0xa0, 0x80, 0x90, 0x80};
static const unsigned char utf8_hi[] = {0xbf, 0xbf, 0x9f, 0xbf, 0x8f};

static int str_byte(const struct schema *s, struct mstate *st, struct frame *f, unsigned char b)
{
	const struct node *n = &s->node[f->node];
	unsigned due = f->sub & 3, range = f->sub >> 2;
	if (due) {
		if (b < utf8_lo[range] || b > utf8_hi[range])
			return NO;
		f->sub = (uint8_t)(due - 1);
		return YES;
	}
	if (b == '"') {
		if (f->a < n->min_len)
			return NO;
		st->depth--;
		return YES;
	}
	if (b < 0x20 || b == 0x7f || (b >= 0x80 && b < 0xc2) || b > 0xf4)
		return NO;
	if (n->max_len != UNLIMITED && f->a >= n->max_len)
		return NO;
	f->a = count_up(f->a, n->min_len, n->max_len);
	if (b == '\\')
		f->kind = F_STR_ESC;
	else if (b >= 0xf0)
		f->sub = (uint8_t)(3 | (b == 0xf0 ? 3 : b == 0xf4 ? 4 : 0) << 2);
	else if (b >= 0xe0)
		f->sub = (uint8_t)(2 | (b == 0xe0 ? 1 : b == 0xed ? 2 : 0) << 2);
	else if (b >= 0xc2)
		f->sub = 1;
	return YES;
}

static bool is_hex(unsigned char b)
{
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

/* The top frame takes b. */
static int frame_byte(const struct schema *s, struct mstate *st, unsigned char b)
{
	uint32_t at = st->depth - 1;
	struct frame *f = &st->f[at];
	const struct node *n = &s->node[f->node];
	switch ((enum kind)f->kind) {
	case F_VALUE:
		return value_start(s, st, f, b, at);
	case F_OBJ_OPEN:
	case F_OBJ_COMMA:
		if (is_ws(b))
			return gap(f, b);
		if (b == '}' && f->kind == F_OBJ_OPEN && may_close(s, n, 0)) {
			st->depth--;
			return YES;
		}
		return b == '"' ? key_start(s, st, f, at) : NO;
	case F_OBJ_KEY:
		return key_byte(s, f, b, at);
	case F_OBJ_COLON:
		if (is_ws(b))
			return gap(f, b);
		if (b != ':')
			return NO;
		{
			uint32_t a = f->a;
			become(f, F_OBJ_NEXT);
			f->a = a;
			push(st, n->declared ? prop_of(s, n, a - 1)->node : (uint32_t)n->addl);
		}
		return YES;
	case F_OBJ_NEXT:
		if (is_ws(b))
			return gap(f, b);
		if (b == ',' && more_props(s, n, f->a, at)) {
			uint32_t a = f->a;
			become(f, F_OBJ_COMMA);
			f->a = a;
			return YES;
		}
		if (b == '}' && may_close(s, n, f->a)) {
			st->depth--;
			return YES;
		}
		return NO;
	case F_ARR_OPEN:
		if (is_ws(b))
			return gap(f, b);
		if (b == ']') {
			if (n->min_items)
				return NO;
			st->depth--;
			return YES;
		}
		if (n->max_items == 0 || !fits(s, n->items, at + 1))
			return NO;
		become(f, F_ARR_NEXT);
		f->a = count_up(0, n->min_items, n->max_items);
		push(st, n->items);
		return frame_byte(s, st, b);
	case F_ARR_NEXT:
		if (is_ws(b))
			return gap(f, b);
		if (b == ']') {
			if (f->a < n->min_items)
				return NO;
			st->depth--;
			return YES;
		}
		if (b != ',' || (n->max_items != UNLIMITED && f->a >= n->max_items) || !fits(s, n->items, at + 1))
			return NO;
		f->ws = 0;
		f->a = count_up(f->a, n->min_items, n->max_items);
		push(st, n->items);
		return YES;
	case F_STR:
		return str_byte(s, st, f, b);
	case F_STR_ESC:
		if (b == 'u') {
			f->kind = F_STR_HEX;
			f->sub = 0;
			return YES;
		}
		if (!b || !strchr("\"\\/bfnrt", b))
			return NO;
		f->kind = F_STR;
		return YES;
	case F_STR_HEX: {
		unsigned seen = f->sub & 7, d = f->sub & 8;
		if (!is_hex(b))
			return NO;
		if (seen == 0 && (b == 'd' || b == 'D'))
			d = 8;
		if (seen == 1 && d && !(b >= '0' && b <= '7'))
			return NO;  /* D800-DFFF: surrogates */
		if (seen == 3) {
			f->kind = F_STR;
			f->sub = 0;
		} else {
			f->sub = (uint8_t)((seen + 1) | d);
		}
		return YES;
	}
	case F_NUM:
		return num_byte(s, f, b);
	case F_LIT:
		return lit_byte(s, st, f, b);
	}
	return NO;
}

static void m_start(const void *ctx, void *stp)
{
	const struct schema *s = ctx;
	struct mstate *st = stp;
	st->depth = 0;
	push(st, s->root);
}

static bool m_step(const void *ctx, void *stp, unsigned char b)
{
	struct mstate *st = stp;
	while (st->depth > 0) {
		int r = frame_byte(ctx, st, b);
		if (r != AGAIN)
			return r == YES;
		st->depth--;  /* a number or literal ended before b: b is its parent's */
	}
	return false;  /* after the value, nothing */
}

static size_t m_len(const void *ctx, const void *stp)
{
	(void)ctx;
	const struct mstate *st = stp;
	return offsetof(struct mstate, f) + st->depth * sizeof(struct frame);
}

/* The fewest bytes that finish frame f (at index at), not counting the
 * frames above it: a frame below the top is already in the state it takes
 * when the one above it ends. */
static uint32_t rest(const struct schema *s, const struct frame *f, uint32_t at)
{
	const struct node *n = &s->node[f->node];
	const uint32_t *req = n->declared ? s->req_rest + n->rest0 : NULL;
	uint32_t best;
	switch ((enum kind)f->kind) {
	case F_VALUE:
		return n->size;
	case F_OBJ_OPEN:
		return req && req[0] ? req[0] : 1;
	case F_OBJ_COMMA:
		if (!n->declared)
			return add(s->node[n->addl].size, 4);  /* "": */
		if (req[f->a])
			return req[f->a];
		best = INF;
		for (uint32_t j = f->a; j < n->n_prop; j++)
			if (candidate(s, n, j, at))
				best = min2(best, add(prop_of(s, n, j)->key_len + 2, s->node[prop_of(s, n, j)->node].size));
		return best;
	case F_OBJ_KEY: {
		const struct prop *cur = prop_of(s, n, f->b);
		best = INF;
		for (uint32_t j = f->b; j < n->n_prop && j <= last_candidate(s, n, f->a); j++) {
			const struct prop *p = prop_of(s, n, j);
			if (p->key_len >= f->c && !memcmp(p->key, cur->key, f->c) && candidate(s, n, j, at))
				best = min2(best, add(p->key_len - f->c + 2, add(s->node[p->node].size, req[j + 1])));
		}
		return best;
	}
	case F_OBJ_COLON:
		if (!n->declared)
			return add(s->node[n->addl].size, 2);
		return add(2, add(s->node[prop_of(s, n, f->a - 1)->node].size, req[f->a]));
	case F_OBJ_NEXT:
		return add(req ? req[f->a] : 0, 1);
	case F_ARR_OPEN:
		return n->min_items ? add(mul(n->min_items, add(s->node[n->items].size, 1)), 0) : 1;
	case F_ARR_NEXT:
		return add(mul(n->min_items > f->a ? n->min_items - f->a : 0, add(s->node[n->items].size, 1)), 1);
	case F_STR:
		return (f->sub & 3) + 1 + (n->min_len > f->a ? n->min_len - f->a : 0);
	case F_STR_ESC:
		return 2 + (n->min_len > f->a ? n->min_len - f->a : 0);
	case F_STR_HEX:
		return 4 - (f->sub & 7) + 1 + (n->min_len > f->a ? n->min_len - f->a : 0);
	case F_NUM:
		return f->sub == N_ZERO || f->sub == N_INT || f->sub == N_FRAC || f->sub == N_EXP ? 0 : 1;
	case F_LIT:
		best = INF;
		for (uint32_t j = f->a; j < f->c; j++) {
			const struct literal *l = &s->lit[j];
			if (l->len < f->b || memcmp(l->s, s->lit[f->a].s, f->b))
				break;
			best = min2(best, l->len - f->b);
		}
		return best;
	}
	return INF;
}

static uint32_t m_distance(const void *ctx, const void *stp)
{
	const struct mstate *st = stp;
	uint32_t d = 0;
	for (uint32_t i = 0; i < st->depth; i++)
		d = add(d, rest(ctx, &st->f[i], i));
	return d;
}

static const struct byte_machine machine_template = {
	.state_size = sizeof(struct mstate),
	.start = m_start,
	.step = m_step,
	.len = m_len,
	.distance = m_distance,
};
