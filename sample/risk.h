/* risk.h - how dangerous is a shell command, or a request for one?
 *
 * risk_judge_command() parses the command with shellparse.h and runs a
 * rule table over every simple command inside it (after unwrapping sudo,
 * env, xargs, find -exec, sh -c, eval, decoders piped into a shell, ...).
 * risk_judge_request() looks for destructive intent in the words of a
 * person's request.  Both only read text: nothing is ever run.
 *
 * Levels, each with the exit status cmd-extract gives it:
 *   safe 0, moderate 3 (look before running), high 4 (can do real damage,
 *   run only if meant), critical 5 (destroys the system or its data, hands
 *   it to others: never run). */
#ifndef LMU_RISK_H
#define LMU_RISK_H

#include <stddef.h>

enum risk_level { RISK_SAFE, RISK_MODERATE, RISK_HIGH, RISK_CRITICAL };

struct verdict {
	enum risk_level level;   /* the highest level of the reasons */
	char **reason;           /* (n) "LEVEL: CATEGORY: what and why", highest first */
	size_t n;
};

void risk_judge_command(const char *cmd, size_t len, struct verdict *v);
void risk_judge_request(const char *text, struct verdict *v);
/* A request for a risky change to the whole system ("every file on the
 * whole system", "system-wide"; req is its verdict) answered by a command
 * that touches paths outside the working directory: the command's verdict
 * *cmd_v becomes at least high, whatever the paths look like ("chmod 644
 * /path/to/FILES" does not look like the whole system, but that is what
 * was asked for). */
void risk_judge_scope(const char *request, const struct verdict *req, const char *cmd, size_t len,
		      struct verdict *cmd_v);
/* Add src's reasons to dst (prefixing each with prefix) and raise its level. */
void verdict_merge(struct verdict *dst, const struct verdict *src, const char *prefix);
void verdict_free(struct verdict *v);

const char *risk_name(enum risk_level r);
int risk_exit_status(enum risk_level r);

#endif
