/* routes.h - each family of routes registers itself with the server. */
#ifndef LMU_SERVE_ROUTES_H
#define LMU_SERVE_ROUTES_H

#include "server.h"

/* POST /v1/chat/completions, POST /v1/completions, GET /v1/models */
void routes_openai(struct server *s);
/* POST /v1/generate, POST /v1/generate_stream (text-generation-inference) */
void routes_tgi(struct server *s);
/* GET /health, GET /metrics, POST /tokenize, POST /detokenize */
void routes_misc(struct server *s);

#endif
