/* engineopt.c - see engineopt.h. */
#include "engineopt.h"

#include "model.h"
#include "opt.h"

bool engine_opt(int c, const char *arg, struct engine_opts *o)
{
	switch (c) {
	case 'm': o->model = arg; return true;
	case 't': o->threads = (int)opt_int(arg, 1, 1024, "threads (-t)"); return true;
	case 'c': o->n_ctx = (uint32_t)opt_int(arg, 1, MAX_CTX, "context size (-c)"); return true;
	case ENGINE_OPT_PARALLEL:
		o->n_seq = (uint32_t)opt_int(arg, 1, ENGINE_MAX_PARALLEL, "--parallel");
		return true;
	default: return false;
	}
}
