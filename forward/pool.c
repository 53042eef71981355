#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"

/* A waiting thread spins (PAUSE, about 25 ns each here) SPIN times, then
 * sleeps on a condition variable.  Spinning covers the gap between two
 * steps of a layer; a long spin measured slower on a shared 2-core
 * machine.  So did yielding the core before sleeping (64 sched_yield
 * calls, once here): on a machine with more runnable threads than cores
 * a thread that yields goes to the back of the queue and is late for the
 * next step, where a sleeping one is woken at once.  lm-serve against
 * itself, SmolLM2, 2 threads, load average 13-22 on 2 cores: 16 clients
 * 4.6 and 5.0 tokens/s with the yields, 31.1 and 31.5 without; 4 clients
 * 14.4, 13.6 and 24.6, 23.1; lm-step alone decoding 18.2, 19.2 and 20.6,
 * 18.2 (noise). */
#define SPIN 256

/* Tell the core a spin-wait is going on (x86 PAUSE). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

struct pool {
	int n;                  /* threads, including the caller */
	pthread_t *threads;     /* (n - 1) workers */
	pool_fn fn;
	void *arg;
	atomic_uint generation; /* bumped by each pool_run; workers start on a change */
	atomic_int pending;     /* workers still running the current call */
	atomic_bool quit;
	pthread_mutex_t mu;
	pthread_cond_t start, done;
	int sleepers;           /* workers waiting on start (under mu) */
	int caller_waiting;     /* the caller waits on done (under mu) */
};

struct worker_arg {
	struct pool *p;
	int ith;
};

static void *worker(void *argp)
{
	struct worker_arg wa = *(struct worker_arg *)argp;
	struct pool *p = wa.p;
	unsigned seen = 0;

	free(argp);
	for (;;) {
		unsigned g;
		int spins = 0;
		while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
		       !atomic_load(&p->quit) && spins++ < SPIN)
			cpu_relax();
		if (g == seen && !atomic_load(&p->quit)) {
			pthread_mutex_lock(&p->mu);
			p->sleepers++;
			while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->quit))
				pthread_cond_wait(&p->start, &p->mu);
			p->sleepers--;
			pthread_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->quit))
			return NULL;
		seen = g;
		p->fn(p->arg, wa.ith, p->n);
		if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
			pthread_mutex_lock(&p->mu);
			if (p->caller_waiting)
				pthread_cond_signal(&p->done);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

struct pool *pool_new(int n_threads)
{
	struct pool *p = xcalloc(1, sizeof *p);

	p->n = n_threads < 1 ? 1 : n_threads;
	p->threads = xcalloc((size_t)p->n, sizeof *p->threads);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->start, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 1; i < p->n; i++) {
		struct worker_arg *wa = xmalloc(sizeof *wa);
		wa->p = p;
		wa->ith = i;
		int r = pthread_create(&p->threads[i - 1], NULL, worker, wa);
		if (r != 0)
			die("cannot start thread %d of %d: %s", i + 1, p->n, strerror(r));
	}
	return p;
}

void pool_run(struct pool *p, pool_fn fn, void *arg)
{
	if (p->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	atomic_store(&p->pending, p->n - 1);
	pthread_mutex_lock(&p->mu);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
	if (p->sleepers)
		pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);

	fn(arg, 0, p->n);

	for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) && spins < SPIN; spins++)
		cpu_relax();
	if (atomic_load_explicit(&p->pending, memory_order_acquire)) {
		pthread_mutex_lock(&p->mu);
		p->caller_waiting = 1;
		while (atomic_load(&p->pending))
			pthread_cond_wait(&p->done, &p->mu);
		p->caller_waiting = 0;
		pthread_mutex_unlock(&p->mu);
	}
}

int pool_size(const struct pool *p)
{
	return p->n;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->quit, true);
	pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->threads[i - 1], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->start);
	pthread_cond_destroy(&p->done);
	free(p->threads);
	free(p);
}

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}
