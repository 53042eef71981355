/* err.h - one error policy for every lmutils program.
 *
 * Messages go to stderr as "prog: context: message".  Exit status 1 means a
 * runtime failure (bad model, bad stream, I/O), 2 a usage error.  Library
 * code that meets a fatal error may call die(); callers stay simple.
 * Code that must not exit (parsers used by tests and fuzzers) reports into an
 * error buffer instead (see struct lmu_err) and lets the caller decide. */
#ifndef LMU_ERR_H
#define LMU_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define LMU_VERSION "0.1.0"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

extern const char *progname;

/* Set progname from argv[0], ignore SIGPIPE (EPIPE is handled as a normal
 * end, doc/internals.md "Stream rules" 4), and make stdout fully buffered. */
void lmu_init(int argc, char **argv);

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void die_usage(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An error message written by non-exiting code. */
struct lmu_err {
	char msg[256];
};
void err_set(struct lmu_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation that dies on failure, with a message naming the size. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);

/* Stream output helpers implementing doc/internals.md "Stream rules" 2 and 4: write and
 * flush; on EPIPE return 0 (downstream closed: stop quietly), on any other
 * error die, on success return 1. */
int out_flush(void);
/* Flush and close stdout at exit; a failure changes the exit status. */
void out_close(void);

#endif
