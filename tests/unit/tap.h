/* tap.h - the Test Anything Protocol for the C unit tests: ok() prints
 * "ok N - name" or "not ok N - name"; main() ends with
 * `return tap_done();`, which prints the plan "1..N" and gives the exit
 * status.  Included once per test program. */
#ifndef LMU_TAP_H
#define LMU_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int n_test, n_fail;

static void ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!cond)
		n_fail++;
}

static int tap_done(void) __attribute__((unused));
static int tap_done(void)
{
	printf("1..%d\n", n_test);
	return n_fail != 0;
}

#endif
