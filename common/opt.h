/* opt.h - bounds-checked option values (strtonum style): a bad or
 * out-of-range value is a usage error (exit 2), never clamped. */
#ifndef LMU_OPT_H
#define LMU_OPT_H

#include <stdint.h>

long long opt_int(const char *s, long long min, long long max, const char *what);
double opt_double(const char *s, double min, double max, const char *what);

/* Print "prog (lmutils) VERSION" and exit 0: the -V of every program. */
void opt_version(void) __attribute__((noreturn));

/* The model argument: -m, else $LM_MODEL, else a usage error. */
const char *opt_model(const char *m);

#endif
