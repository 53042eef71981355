#include "opt.h"
#include "err.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

long long opt_int(const char *s, long long min, long long max, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || *end != '\0')
		die_usage("%s: '%s' is not a whole number", what, s);
	if (errno == ERANGE || v < min || v > max)
		die_usage("%s: %s is out of range [%lld, %lld]", what, s, min, max);
	return v;
}

double opt_double(const char *s, double min, double max, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || isnan(v))
		die_usage("%s: '%s' is not a number", what, s);
	if (errno == ERANGE || v < min || v > max)
		die_usage("%s: %s is out of range [%g, %g]", what, s, min, max);
	return v;
}

void opt_version(void)
{
	printf("%s (lmutils) %s\n", progname, LMU_VERSION);
	out_close();
	exit(0);
}

const char *opt_model(const char *m)
{
	if (m && *m)
		return m;
	m = getenv("LM_MODEL");
	if (m && *m)
		return m;
	die_usage("no model: give -m MODEL or set LM_MODEL");
}
