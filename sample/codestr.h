/* codestr.h - the strings a program builds, for judging the commands it
 * hands to a shell (risk.c: python -c, perl -e, node -e, ruby -e, php -r,
 * awk programs).
 *
 * Code often builds a command from pieces: 'rm -rf ' + d, "rm -r" . "f /",
 * ["rm", "-rf", "/"], " ".join(parts), f"rm -rf {d}", "rm -rf %s" % d.
 * code_strings() reads enough of Python, Perl, Ruby, JavaScript, PHP and
 * awk to put such pieces together: string literals (escapes decoded, the
 * code's own variables interpolated in double-quoted, f- and template
 * strings), variables assigned a string (= += .=), + and . between
 * strings, adjacent literals, lists and argument lists (their items joined
 * with spaces, quoted where needed, as a command's words), SEP.join(LIST),
 * STRING % VALUES and STRING.format(VALUES).  A piece it cannot know (a
 * variable set at run time, a function's result) becomes "$x": a value
 * known only when it runs, which is what the judge makes of it.  Pure text
 * processing; nothing is run. */
#ifndef LMU_CODESTR_H
#define LMU_CODESTR_H

#include <stddef.h>

#define CODESTR_MAX_TOKENS 8192   /* tokens read; the rest of the code is ignored */
#define CODESTR_MAX_STRINGS 256   /* values returned */
#define CODESTR_MAX_VALUE 65536   /* bytes of one value */

/* Every string value the code builds (each literal, each expression, each
 * list or argument list), distinct, in the order found; *n gets their
 * number.  Free with code_strings_free. */
char **code_strings(const char *code, size_t *n);
void code_strings_free(char **v, size_t n);

#endif
