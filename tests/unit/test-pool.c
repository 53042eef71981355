/* test-pool: the thread pool (forward/pool.h) under the patterns that
 * move its waiting threads between spinning and sleeping: calls back to
 * back, calls after the caller was away (the workers sleep), calls where
 * the caller finishes long before a worker (the caller sleeps) and the
 * reverse, and calls just after a rest (pool_rest: the workers go to
 * sleep at once, and the caller runs the shares of those that have not
 * woken yet, racing them for each).  Every call must run fn once on each
 * thread index, with the pool's size, and every write of every thread
 * must be visible to the caller when pool_run returns.  A lost wake-up hangs: an alarm ends the
 * test then, as a failure. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../forward/pool.h"
#include "tap.h"

#define MAX_THREADS 4

struct job {
	int n;                    /* the pool's size */
	unsigned call;            /* this call's number */
	unsigned ran[MAX_THREADS];   /* the last call each thread index ran */
	unsigned count[MAX_THREADS]; /* how many calls each ran */
	atomic_int bad;           /* a thread saw the wrong size or index */
	int slow;                 /* the index that works longest this call, -1 none */
	unsigned work_us;
};

static void busy_us(unsigned us)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000L + (t.tv_nsec - t0.tv_nsec) / 1000 < (long)us);
}

static void fn(void *arg, int ith, int nth)
{
	struct job *j = arg;
	if (nth != j->n || ith < 0 || ith >= nth) {
		atomic_fetch_add(&j->bad, 1);
		return;
	}
	if (ith == j->slow)
		busy_us(j->work_us);
	j->ran[ith] = j->call;  /* plain writes: pool_run must publish them */
	j->count[ith]++;
}

int main(void)
{
	uint64_t rng = 0x9e3779b97f4a7c15u;

	alarm(60);
	for (int n = 1; n <= MAX_THREADS; n++) {
		struct pool *p = pool_new(n);
		struct job j = {.n = n, .slow = -1};
		unsigned missed = 0, calls = 6000;

		ok(pool_size(p) == n, "pool_new(%d): %d threads", n, pool_size(p));
		for (unsigned c = 1; c <= calls; c++) {
			unsigned r = (unsigned)(tap_xorshift(&rng) % 16);
			j.call = c;
			j.slow = r < 4 ? (int)(r % (unsigned)n) : -1;  /* caller (0) or a worker slow */
			j.work_us = 20 + (unsigned)(tap_xorshift(&rng) % 300);
			if (r == 15)
				usleep(300);  /* away: the workers go to sleep */
			if (r == 14) {  /* a short rest: calls while the workers wake */
				pool_rest(p);
				usleep(tap_xorshift(&rng) % 60);
			}
			pool_run(p, fn, &j);
			for (int i = 0; i < n; i++)
				missed += j.ran[i] != c;
		}
		int counted = 1;
		for (int i = 0; i < n; i++)
			counted &= j.count[i] == calls;
		ok(!missed && counted && !atomic_load(&j.bad),
		   "%d threads, %u calls (slow caller, slow workers, idle gaps): each index once a call, every write "
		   "seen (%u missed, %d bad)", n, calls, missed, atomic_load(&j.bad));
		pool_free(p);
	}
	return tap_done();
}
