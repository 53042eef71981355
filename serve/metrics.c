/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static const double ttft_le[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double dur_le[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
#define N_TTFT (sizeof ttft_le / sizeof *ttft_le)
#define N_DUR (sizeof dur_le / sizeof *dur_le)

struct hist {
	unsigned long long bucket[16];  /* observations <= le[i] (cumulative when written) */
	unsigned long long count;
	double sum;
};

struct counter {
	char endpoint[64];
	int status;
	unsigned long long n;
};

struct metrics {
	pthread_mutex_t mu;
	struct counter *req;
	size_t n_req, cap_req;
	unsigned long long prompt_tokens, cached_tokens, gen_tokens;
	struct hist ttft, dur;
	double started;
};

struct metrics *metrics_new(void)
{
	struct metrics *mx = xcalloc(1, sizeof *mx);
	pthread_mutex_init(&mx->mu, NULL);
	mx->started = mono_now();
	return mx;
}

void metrics_free(struct metrics *mx)
{
	if (!mx)
		return;
	pthread_mutex_destroy(&mx->mu);
	free(mx->req);
	free(mx);
}

static void observe(struct hist *h, const double *le, size_t n, double x)
{
	for (size_t i = 0; i < n; i++)
		if (x <= le[i]) {
			h->bucket[i]++;
			break;
		}
	h->count++;
	h->sum += x;
}

void metrics_request(struct metrics *mx, const char *endpoint, int status, double seconds, double ttft,
		     long long n_prompt, long long n_cached, long long n_gen)
{
	pthread_mutex_lock(&mx->mu);
	size_t i;
	for (i = 0; i < mx->n_req; i++)
		if (mx->req[i].status == status && strcmp(mx->req[i].endpoint, endpoint) == 0)
			break;
	if (i == mx->n_req) {
		if (mx->n_req == mx->cap_req) {
			mx->cap_req = mx->cap_req ? 2 * mx->cap_req : 32;
			mx->req = xreallocarray(mx->req, mx->cap_req, sizeof *mx->req);
		}
		memset(&mx->req[i], 0, sizeof mx->req[i]);
		snprintf(mx->req[i].endpoint, sizeof mx->req[i].endpoint, "%s", endpoint);
		mx->req[i].status = status;
		mx->n_req++;
	}
	mx->req[i].n++;
	if (n_prompt > 0)
		mx->prompt_tokens += (unsigned long long)n_prompt;
	if (n_cached > 0)
		mx->cached_tokens += (unsigned long long)n_cached;
	if (n_gen > 0)
		mx->gen_tokens += (unsigned long long)n_gen;
	if (ttft >= 0)
		observe(&mx->ttft, ttft_le, N_TTFT, ttft);
	observe(&mx->dur, dur_le, N_DUR, seconds);
	pthread_mutex_unlock(&mx->mu);
}

static void write_hist(struct jw *w, const char *name, const char *help, const struct hist *h, const double *le,
		       size_t n)
{
	unsigned long long cum = 0;
	jw_printf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < n; i++) {
		cum += h->bucket[i];
		jw_printf(w, "%s_bucket{le=\"%g\"} %llu\n", name, le[i], cum);
	}
	jw_printf(w, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name, h->count, name, h->sum, name,
		  h->count);
}

/* A label value as the format wants it: backslash, quote and newline
 * escaped. */
static void label(struct jw *w, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			jw_printf(w, "\\%c", *s);
		else if (*s == '\n')
			jw_raw(w, "\\n");
		else
			jw_mem(w, s, 1);
	}
}

void metrics_write(struct metrics *mx, struct models *ms, struct jw *w)
{
	pthread_mutex_lock(&mx->mu);
	jw_raw(w, "# HELP lmserve_requests_total HTTP requests answered, by endpoint and status.\n"
		  "# TYPE lmserve_requests_total counter\n");
	for (size_t i = 0; i < mx->n_req; i++) {
		jw_raw(w, "lmserve_requests_total{endpoint=\"");
		label(w, mx->req[i].endpoint);
		jw_printf(w, "\",status=\"%d\"} %llu\n", mx->req[i].status, mx->req[i].n);
	}
	jw_printf(w,
		  "# HELP lmserve_prompt_tokens_total Prompt tokens of the requests answered.\n"
		  "# TYPE lmserve_prompt_tokens_total counter\nlmserve_prompt_tokens_total %llu\n"
		  "# HELP lmserve_prompt_tokens_cached_total Prompt tokens taken from a sequence's cache instead of evaluated.\n"
		  "# TYPE lmserve_prompt_tokens_cached_total counter\nlmserve_prompt_tokens_cached_total %llu\n"
		  "# HELP lmserve_generated_tokens_total Tokens generated.\n"
		  "# TYPE lmserve_generated_tokens_total counter\nlmserve_generated_tokens_total %llu\n",
		  mx->prompt_tokens, mx->cached_tokens, mx->gen_tokens);
	write_hist(w, "lmserve_time_to_first_token_seconds", "Seconds from a request's arrival to its first token.",
		   &mx->ttft, ttft_le, N_TTFT);
	write_hist(w, "lmserve_request_duration_seconds", "Seconds from a request's arrival to the end of its answer.",
		   &mx->dur, dur_le, N_DUR);
	jw_printf(w, "# HELP lmserve_uptime_seconds Seconds since the server started.\n"
		     "# TYPE lmserve_uptime_seconds gauge\nlmserve_uptime_seconds %.3f\n",
		  mono_now() - mx->started);
	pthread_mutex_unlock(&mx->mu);

	struct srv_model **m;
	size_t n = models_list(ms, &m);
	struct model_info *info = xcalloc(n ? n : 1, sizeof *info);
	for (size_t i = 0; i < n; i++)
		models_info(ms, m[i], &info[i]);
	uint32_t max_loaded, loaded = models_loaded(ms, &max_loaded);
	jw_printf(w, "# HELP lmserve_models_loaded Models loaded now.\n"
		     "# TYPE lmserve_models_loaded gauge\nlmserve_models_loaded %u\n"
		     "# HELP lmserve_models_max Models that may be loaded at once (--max-models; 0: no limit).\n"
		     "# TYPE lmserve_models_max gauge\nlmserve_models_max %u\n",
		  loaded, max_loaded);
	static const char *const gauges[][3] = {
		{"lmserve_model_loaded", "gauge", "1 when the model is loaded and ready, 0 otherwise."},
		{"lmserve_queue_depth", "gauge", "Requests waiting for a sequence."},
		{"lmserve_busy_sequences", "gauge", "Sequences generating for a request."},
		{"lmserve_sequences", "gauge", "Sequences the model can decode together (--parallel)."},
		{"lmserve_model_loads_total", "counter", "Times the model was loaded."},
		{"lmserve_model_unloads_total", "counter", "Times the model was closed (idle, or to make room)."},
		{"lmserve_model_load_seconds", "gauge", "Seconds the model's last load took."},
	};
	for (size_t g = 0; g < sizeof gauges / sizeof *gauges; g++) {
		jw_printf(w, "# HELP %s %s\n# TYPE %s %s\n", gauges[g][0], gauges[g][2], gauges[g][0], gauges[g][1]);
		for (size_t i = 0; i < n; i++) {
			const struct model_info *o = &info[i];
			jw_printf(w, "%s{model=\"", gauges[g][0]);
			label(w, m[i]->id);
			jw_raw(w, "\"} ");
			switch (g) {
			case 0: jw_printf(w, "%d\n", o->state == MODEL_READY); break;
			case 1: jw_printf(w, "%u\n", o->st.waiting); break;
			case 2: jw_printf(w, "%u\n", o->st.busy); break;
			case 3: jw_printf(w, "%u\n", o->n_seq); break;
			case 4: jw_printf(w, "%llu\n", o->n_loads); break;
			case 5: jw_printf(w, "%llu\n", o->n_unloads); break;
			default: jw_printf(w, "%.6f\n", o->load_seconds); break;
			}
		}
	}
	free(info);
	free(m);
}
