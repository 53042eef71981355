/* metrics.h - what GET /metrics reports, in the Prometheus text format
 * (version 0.0.4): requests by endpoint and status, prompt and generated
 * tokens, time to first token and request duration as histograms, and
 * per model its queue depth and busy sequences.  Every name starts with
 * lmserve_. */
#ifndef LMU_SERVE_METRICS_H
#define LMU_SERVE_METRICS_H

#include "json.h"
#include "models.h"

struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *mx);

/* One request answered: its endpoint (a route's path; a bounded set) and
 * status, duration; its tokens; ttft < 0 when it generated none. */
void metrics_request(struct metrics *mx, const char *endpoint, int status, double seconds, double ttft,
		     long long n_prompt, long long n_cached, long long n_gen);

/* The text of GET /metrics into w. */
void metrics_write(struct metrics *mx, struct models *ms, struct jw *w);

#endif
