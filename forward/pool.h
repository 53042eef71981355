/* pool.h - a persistent pthread pool for the forward pass.
 *
 * pool_run(p, fn, arg) calls fn(arg, i, n) once for each index i of the
 * n threads (the caller is 0) and returns when all have finished: one
 * synchronisation point per call.  Index i runs on worker i, or on the
 * caller when the worker has not started it by the time the caller's own
 * share is done (it is asleep or preempted): fn may depend on i, never on
 * the thread that runs it.  A waiting thread spins before it sleeps, so
 * that back-to-back calls in the layer loop do not pay a wake-up each;
 * how long adapts to the waits it sees and to whether the system
 * preempts it (pool.c). */
#ifndef LMU_POOL_H
#define LMU_POOL_H

typedef void (*pool_fn)(void *arg, int ith, int nth);

struct pool;

struct pool *pool_new(int n_threads);
void pool_run(struct pool *p, pool_fn fn, void *arg);
/* The caller will be away for a while (it waits for input): the workers
 * sleep until the next pool_run instead of spinning (pool.c). */
void pool_rest(struct pool *p);
int pool_size(const struct pool *p);
void pool_free(struct pool *p);

/* The number of online CPUs (at least 1). */
int cpu_count(void);

#endif
