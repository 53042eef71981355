/* bwprobe - measure memory read bandwidth with T threads: each thread sums
 * its share of a buffer much larger than the caches (as four sequential
 * streams, which read faster than one), several times; the
 * fastest pass is reported in GB/s (a roofline is an upper bound, and on a
 * shared machine the slower passes measure the neighbours).  Used by
 * lm-bench.sh for the roofline.
 *
 *   bwprobe [THREADS] [MIB]      default 1 thread, 1024 MiB */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct job {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
	pthread_barrier_t *bar;
	int passes;
	double *secs;  /* per pass, written by thread 0 */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *run(void *arg)
{
	struct job *j = arg;
	for (int pass = 0; pass < j->passes; pass++) {
		double t0 = 0;
		pthread_barrier_wait(j->bar);
		if (j->secs)
			t0 = now();
		/* four sequential streams, a quarter of the share each */
		uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		const uint64_t *q0 = j->p, *q1 = q0 + j->n / 4, *q2 = q1 + j->n / 4, *q3 = q2 + j->n / 4;
		for (size_t i = 0; i < j->n / 4; i++) {
			s0 += q0[i];
			s1 += q1[i];
			s2 += q2[i];
			s3 += q3[i];
		}
		j->sum += s0 ^ s1 ^ s2 ^ s3;
		pthread_barrier_wait(j->bar);
		if (j->secs)
			j->secs[pass] = now() - t0;
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1, passes = 7;
	size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024;
	size_t n = mib << 17;  /* uint64 words */
	uint64_t *buf = aligned_alloc(64, n * 8), total = 0;
	double secs[16];
	pthread_t tid[64];
	struct job jobs[64];
	pthread_barrier_t bar;

	if (threads < 1 || threads > 64 || !buf) {
		fprintf(stderr, "usage: bwprobe [THREADS 1-64] [MIB]\n");
		return 2;
	}
	for (size_t i = 0; i < n; i++)
		buf[i] = i * 0x9e3779b97f4a7c15ull;
	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	for (int t = 0; t < threads; t++) {
		size_t lo = n / threads * t, hi = t == threads - 1 ? n : n / threads * (t + 1);
		jobs[t] = (struct job){buf + lo, hi - lo, 0, &bar, passes, t == 0 ? secs : NULL};
		pthread_create(&tid[t], NULL, run, &jobs[t]);
	}
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		total += jobs[t].sum;
	}
	qsort(secs, passes, sizeof *secs, cmp);
	printf("%.2f\n", n * 8.0 / secs[0] / 1e9);
	fprintf(stderr, "bwprobe: %d thread(s), %zu MiB, fastest of %d passes (checksum %llx)\n", threads, mib,
		passes, (unsigned long long)total);
	return 0;
}
