#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

/* A waiting thread spins (PAUSE, looking at the clock every SPIN_CLOCK of
 * them) up to its budget, then sleeps on a condition variable.  The budget
 * is a time, not a count: a PAUSE takes 11 ns on this machine's CPU
 * (measured under chrt -f), 25 on the one the figures below came from,
 * about 40 on others.  It adapts:
 *
 * - On an idle machine the gap between two steps is mostly a thread that
 *   finished its rows a little before the other.  With a fixed spin of
 *   256 PAUSEs, 16 SmolLM2 sequences at 2 threads put the worker to sleep
 *   before 81 % of the steps, and waking it (about 40 us in this VM) cost
 *   more than spinning, in wall and in CPU time: adapting took them from
 *   484-497 to 622-633 decode tokens/s and 1 sequence from 184-194 to
 *   259-262, each with a quarter less CPU time.  So a sleep that ends
 *   soon (within SHORT_SLEEP_NS) doubles the budget, up to SPIN_MAX, and
 *   a long one (the caller was away between tokens) drops it to SPIN_MIN.
 *   SPIN_MAX is SHORT_SLEEP_NS: a gap that counts as short is spun
 *   through the next time.  With at most 2048 PAUSEs (22 us here) the
 *   worker of lm-step alone (SmolLM2, 2 threads, under chrt -f, three
 *   runs) slept 1.1-1.7 times per token; with 200 us, 0.5.
 * - A caller that will be away for a while (lm-step waiting for its next
 *   line) says so (pool_rest): the workers sleep at once, and the budget
 *   stays as it was.  In the generation loop lm-sample needs a core in
 *   that gap, and with -t as many threads as cores (the default) a worker
 *   spinning through it takes that core: lm-sample's answer waited for
 *   the spin to end (SmolLM2, 2 threads, everything under chrt -f 10 on
 *   these 2 cores: 420 us from frame to next step instead of 60).
 * - On a machine with more runnable threads than cores the other thread
 *   is often descheduled, and spinning for it only takes the core from
 *   it: a fixed spin of 2048 made 1 SmolLM2 sequence at 2 threads, load 6,
 *   run at 62 decode tokens per CPU-second where 256 gave 105.  A thread
 *   that the system preempted (an involuntary context switch, counted
 *   every CHECK_WAITS waits) keeps to SPIN_MIN until CALM_CHECKS checks
 *   in a row find none.
 *   Yielding the core before sleeping was worse still (64 sched_yield
 *   calls, once here): a thread that yields goes to the back of the queue
 *   and is late for the next step, where a sleeping one is woken at once
 *   (lm-serve, SmolLM2, 2 threads, load 13-22 on 2 cores: 16 clients 4.6
 *   and 5.0 tokens/s with the yields, 31.1 and 31.5 without). */
#define SPIN_MIN 6000             /* ns (256 PAUSEs of 25 ns) */
#define SHORT_SLEEP_NS 200000
#define SPIN_MAX SHORT_SLEEP_NS
#define SPIN_CLOCK 32             /* PAUSEs between two looks at the clock (60 ns each) */
#define CHECK_WAITS 16
#define CALM_CHECKS 4

struct spinner {
	uint64_t spin;     /* ns to spin before sleeping */
	unsigned waits;
	long preempted;    /* involuntary context switches at the last check */
	unsigned calm;     /* checks in a row that found none since the one before */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The calling thread's involuntary context switches so far (0 where
 * the system does not count them per thread). */
static long preemptions(void)
{
#ifdef RUSAGE_THREAD
	struct rusage ru;
	if (getrusage(RUSAGE_THREAD, &ru) == 0)
		return ru.ru_nivcsw;
#endif
	return 0;
}

/* After a wait, which slept for slept_ns (0: the spin caught the event),
 * the calling thread's next budget. */
static void adapt(struct spinner *sp, uint64_t slept_ns)
{
	if (++sp->waits % CHECK_WAITS == 0) {
		long n = preemptions();
		sp->calm = n != sp->preempted ? 0 : sp->calm + 1;
		sp->preempted = n;
	}
	if (sp->calm < CALM_CHECKS || slept_ns >= SHORT_SLEEP_NS)
		sp->spin = SPIN_MIN;
	else if (slept_ns > 0 && sp->spin < SPIN_MAX)
		sp->spin *= 2;
}

/* Tell the core a spin-wait is going on (x86 PAUSE). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Whether the i-th PAUSE of a spin may go on: the clock is read every
 * SPIN_CLOCK of them, and the spin ends once it passes until. */
static inline bool spin_on(unsigned i, uint64_t until)
{
	return i % SPIN_CLOCK || now_ns() < until;
}

struct pool {
	int n;                  /* threads, including the caller */
	pthread_t *threads;     /* (n - 1) workers */
	pool_fn fn;
	void *arg;
	atomic_uint generation; /* bumped by each pool_run; workers start on a change */
	atomic_int pending;     /* workers still running the current call */
	atomic_bool quit;
	atomic_bool rest;       /* pool_rest: the workers sleep without spinning */
	atomic_uint *claimed;   /* (n) by index: the last generation run or taken for worker i (below) */
	pthread_mutex_t mu;
	pthread_cond_t start, done;
	int sleepers;           /* workers waiting on start (under mu) */
	int caller_waiting;     /* the caller waits on done (under mu) */
	struct spinner caller;  /* the caller's spin budget */
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
	struct spinner sp = {.spin = SPIN_MIN, .preempted = preemptions()};

	free(argp);
	for (;;) {
		unsigned g;
		uint64_t until = now_ns() + sp.spin;
		for (unsigned i = 1; (g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
		     !atomic_load(&p->quit) && !atomic_load_explicit(&p->rest, memory_order_relaxed) &&
		     spin_on(i, until); i++)
			cpu_relax();
		uint64_t t0 = 0;
		bool rested = false;
		if (g == seen && !atomic_load(&p->quit)) {
			rested = atomic_load_explicit(&p->rest, memory_order_relaxed);
			t0 = now_ns();
			pthread_mutex_lock(&p->mu);
			p->sleepers++;
			while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->quit))
				pthread_cond_wait(&p->start, &p->mu);
			p->sleepers--;
			pthread_mutex_unlock(&p->mu);
		}
		if (!rested)  /* a rest says nothing of the gaps to come */
			adapt(&sp, t0 ? now_ns() - t0 : 0);
		if (atomic_load(&p->quit))
			return NULL;
		seen = g;
		/* the call is this worker's unless the caller took its share
		 * (pool_run) while it slept */
		unsigned before = g - 1;
		if (!atomic_compare_exchange_strong_explicit(&p->claimed[wa.ith], &before, g, memory_order_acq_rel,
							     memory_order_acquire))
			continue;
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
	p->caller = (struct spinner){.spin = SPIN_MIN, .preempted = preemptions()};
	p->threads = xcalloc((size_t)p->n, sizeof *p->threads);
	p->claimed = xcalloc((size_t)p->n, sizeof *p->claimed);
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
	atomic_store_explicit(&p->rest, false, memory_order_relaxed);
	atomic_store(&p->pending, p->n - 1);
	pthread_mutex_lock(&p->mu);
	unsigned g = atomic_fetch_add_explicit(&p->generation, 1, memory_order_release) + 1;
	if (p->sleepers)
		pthread_cond_broadcast(&p->start);
	pthread_mutex_unlock(&p->mu);

	fn(arg, 0, p->n);
	/* A worker that has not started its share yet is asleep or was
	 * preempted: the caller runs the share itself rather than wait for
	 * it (fn gives the same results on any thread).  After a rest (the
	 * generation loop: lm-step waited for lm-sample's id) the first
	 * calls of a token are short, and waiting for a worker's wake-up
	 * (40-80 us in this VM, and often the caller's own sleep and
	 * wake-up after it) was most of the loop's cost at 2 threads.  The
	 * worker joins the next call it finds unclaimed. */
	for (int i = 1; i < p->n; i++) {
		unsigned before = g - 1;
		if (atomic_compare_exchange_strong_explicit(&p->claimed[i], &before, g, memory_order_acq_rel,
							    memory_order_acquire)) {
			fn(arg, i, p->n);
			atomic_fetch_sub_explicit(&p->pending, 1, memory_order_relaxed);
		}
	}

	if (atomic_load_explicit(&p->pending, memory_order_acquire)) {  /* the clock only when there is a wait */
		uint64_t until = now_ns() + p->caller.spin;
		for (unsigned i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) && spin_on(i, until); i++)
			cpu_relax();
	}
	uint64_t t0 = 0;
	if (atomic_load_explicit(&p->pending, memory_order_acquire)) {
		t0 = now_ns();
		pthread_mutex_lock(&p->mu);
		p->caller_waiting = 1;
		while (atomic_load(&p->pending))
			pthread_cond_wait(&p->done, &p->mu);
		p->caller_waiting = 0;
		pthread_mutex_unlock(&p->mu);
	}
	adapt(&p->caller, t0 ? now_ns() - t0 : 0);
}

void pool_rest(struct pool *p)
{
	atomic_store_explicit(&p->rest, true, memory_order_relaxed);
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
	free(p->claimed);
	free(p);
}

int cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}
