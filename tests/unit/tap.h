/* tap.h - the Test Anything Protocol for the C unit tests: ok() prints
 * "ok N - name" or "not ok N - name"; main() ends with
 * `return tap_done();`, which prints the plan "1..N" and gives the exit
 * status.  Included once per test program. */
#ifndef LMU_TAP_H
#define LMU_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static int n_test, n_fail;

/* The tests' random numbers: one xorshift64 step of the state *s (each
 * test keeps its own state and seed, so that its cases stay the same). */
static uint64_t tap_xorshift(uint64_t *s) __attribute__((unused));
static uint64_t tap_xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

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
