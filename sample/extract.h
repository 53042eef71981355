/* extract.h - find the shell command in a language model's answer.
 *
 * Tried in this order (the first that yields a command wins):
 *   json    the answer is (or holds) a JSON object with a string field
 *           "cmd" (or "command"), or a JSON string; parsed with libjq;
 *   fence   the first fenced code block (```sh ... ```), shell languages
 *           preferred, "$ " prompts removed;
 *   inline  the first `code span`, when the answer reads as prose (it
 *           starts with a capital letter or a backquote);
 *   plain   the whole answer, trimmed, "$ " prompts removed.
 * Pure text processing: nothing is run. */
#ifndef LMU_EXTRACT_H
#define LMU_EXTRACT_H

#include <stddef.h>

#include "err.h"

/* On success return a fresh string (the caller frees it) and set *source
 * to "json", "fence", "inline" or "plain"; return NULL with e set when no
 * command is found (an empty answer, a JSON object whose "cmd" is not a
 * string or is empty, an answer that starts as {"cmd": ... but is cut
 * short). */
char *extract_command(const char *text, size_t len, const char **source, struct lmu_err *e);

#endif
