/* schema.h - a subset of JSON Schema, compiled to a byte-level machine for
 * constrain.h: output that always parses as JSON and validates.
 *
 * Keywords (lm-sample(1) documents them for users):
 *   type            a name or a list: object, array, string, number,
 *                   integer, boolean, null
 *   properties, required, additionalProperties
 *                   an object with "properties" gets those properties only,
 *                   in the schema's order, every required one; without
 *                   "properties", any keys with values of
 *                   additionalProperties (a schema; true or absent: any
 *                   value; false: none)
 *   items, minItems, maxItems         (items absent: any value)
 *   minLength, maxLength              (in characters, as JSON Schema counts)
 *   enum, const     the values exactly as written (compact JSON)
 *   anyOf, oneOf    alternatives that start with different bytes (a string
 *                   or null, an object or an array, ...); allOf of one schema
 *   $ref            "#" or a JSON pointer into the same document
 *                   ("#/$defs/Name", "#/definitions/Name")
 *   true            any value
 * Annotations are read and ignored: title, description, default, examples,
 * format (an annotation in JSON Schema 2020-12), $schema, $id, $comment,
 * $defs, definitions, deprecated, readOnly, writeOnly.  Other keywords of
 * JSON Schema that restrict values (pattern, minimum, uniqueItems, ...) are
 * refused with a message, never silently ignored; unknown keywords are
 * ignored, as JSON Schema says.  A schema no finite value satisfies (a
 * required property that contains itself) is refused.
 *
 * The output: where JSON allows whitespace, none, one space, or a newline
 * and up to SCHEMA_MAX_WS spaces and tabs (as llama.cpp's JSON grammars,
 * so that a model cannot wander off into blank lines; none after the
 * value), numbers of at most 16 digits before and
 * after the point and a 2-digit exponent, strings with the escapes JSON
 * has (\uXXXX except surrogates: characters beyond the BMP as UTF-8),
 * valid UTF-8, nesting to SCHEMA_MAX_DEPTH. */
#ifndef LMU_SCHEMA_H
#define LMU_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "constrain.h"
#include "err.h"

#define SCHEMA_MAX_WS 20          /* indentation after a newline in a gap */
#define SCHEMA_MAX_DEPTH 32       /* nesting of the output: objects, arrays, values */
#define SCHEMA_MAX_NODES 4096     /* schemas after $ref, anyOf, ... */
#define SCHEMA_MAX_LITERAL 4096   /* bytes of one enum or const value */

struct schema;

/* A schema given as a JSON value (consumed), or as text; NULL with e set
 * ("schema: /properties/age: minimum is not supported ...") when it uses
 * what is not supported or no value satisfies it. */
struct schema *schema_new(jv value, struct lmu_err *e);
struct schema *schema_parse(const char *text, size_t len, struct lmu_err *e);
/* Shapes of their own: any JSON object; {"cmd": "<non-empty string>"}. */
struct schema *schema_json_object(void);
struct schema *schema_json_cmd(void);
/* The machine, valid while s lives. */
const struct byte_machine *schema_machine(const struct schema *s);
/* Bytes of the shortest output. */
uint32_t schema_min_bytes(const struct schema *s);
void schema_free(struct schema *s);

#endif
