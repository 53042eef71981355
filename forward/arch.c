/* arch.c - the table of architectures (arch.h says how to add one). */
#include "arch.h"

#include <stdio.h>
#include <string.h>

static const struct arch *const archs[] = {
	&arch_llama,
	&arch_qwen2,
	&arch_gemma3,
	&arch_phi3,
	&arch_granite,
};

const struct arch *arch_find(const char *name)
{
	for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
		if (strcmp(archs[i]->name, name) == 0)
			return archs[i];
	return NULL;
}

void arch_names(char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof archs / sizeof *archs && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? ", " : "", archs[i]->name);
}
