/* modelpath.h - what -m MODEL names (design.md): a .gguf file, a model
 * directory, or a repo id (ORG/NAME) found in the local Hugging Face cache. */
#ifndef LMU_MODELPATH_H
#define LMU_MODELPATH_H

/* Resolve MODEL to the path of a GGUF file (a fresh string), or die with
 * a message that says what was looked for.  A directory is searched for
 * exactly one *.gguf file. */
char *model_resolve(const char *model);

#endif
