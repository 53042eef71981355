#ifndef LMU_INFO_H
#define LMU_INFO_H

#include <stdio.h>

#include "gguf.h"
#include "model.h"

/* lm-step --info: architecture, hyper-parameters, tokenizer, and a table
 * of tensors with totals per type.  hp may be NULL when the architecture is
 * not supported (the file is still described). */
void print_model_info(FILE *out, const struct gguf *g, const struct hparams *hp, int verbose);

#endif
