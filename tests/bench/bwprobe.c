/* bwprobe - measure memory read bandwidth with T threads, the ceiling for
 * lm-bench.sh's roofline column.  Each thread sums its share of a buffer
 * much larger than the caches, several times, in each of these ways:
 *   pages:   4 KiB pages (what a decode reads from a model file cached
 *            in small pages) and transparent huge pages where the kernel
 *            gives them (madvise; stderr says what share it gave: what a
 *            decode reads from a file that common/mapfile.c's mapping got
 *            into 2 MiB folios);
 *   streams: 1, 2, 4 or 8 sequential streams per thread, a 64-byte line
 *            of each in turn (lm-step's decode reads 4);
 *   fetch:   no software prefetch, or each stream fetching 512 bytes
 *            ahead.
 * The fastest pass of the fastest way is printed in GB/s (a roofline is
 * an upper bound, and on a shared machine the slower passes measure the
 * neighbours); each way's figure goes to stderr, with the bandwidth per
 * second of the threads' own CPU time beside it (bytes / CPU time: what a
 * loaded machine would give if nothing else ran).
 *
 *   bwprobe [THREADS] [MIB]      default 1 thread, 1024 MiB */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PASSES 7
#define LINE 64

typedef uint64_t v4 __attribute__((vector_size(32), aligned(32)));

struct way {
	int huge, streams, pf;
};

struct job {
	const uint8_t *p;
	size_t n;
	struct way w;
	v4 sum;
	pthread_barrier_t *bar;
	double cpu;    /* the fastest pass's CPU time of this thread */
	double *secs;  /* per pass, written by thread 0 */
};

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The share p[0..n) as w.streams sub-ranges, a line of each in turn. */
static v4 sweep(const uint8_t *p, size_t n, struct way w)
{
	const size_t len = n / (size_t)w.streams / LINE * LINE;
	v4 acc[8] = {{0}};

	for (size_t i = 0; i < len; i += LINE)
		for (int k = 0; k < w.streams; k++) {
			const v4 *q = (const v4 *)(p + k * len + i);
			if (w.pf)
				__builtin_prefetch((const uint8_t *)q + w.pf);
			acc[k] += q[0] + q[1];
		}
	for (int k = 1; k < w.streams; k++)
		acc[0] ^= acc[k];
	return acc[0];
}

static void *run(void *arg)
{
	struct job *j = arg;
	for (int pass = 0; pass < PASSES; pass++) {
		pthread_barrier_wait(j->bar);
		double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
		j->sum += sweep(j->p, j->n, j->w);
		double c = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
		if (pass == 0 || c < j->cpu)
			j->cpu = c;
		pthread_barrier_wait(j->bar);
		if (j->secs)
			j->secs[pass] = clock_s(CLOCK_MONOTONIC) - t0;
	}
	return NULL;
}

/* One way over buf: the fastest pass's GB/s (wall), and by CPU time at
 * *cpu_gbs. */
static double measure(const uint8_t *buf, size_t bytes, int threads, struct way w, uint64_t *check, double *cpu_gbs)
{
	double secs[PASSES], best;
	pthread_t tid[64];
	struct job jobs[64];
	pthread_barrier_t bar;

	pthread_barrier_init(&bar, NULL, (unsigned)threads);
	for (int t = 0; t < threads; t++) {
		size_t lo = bytes / threads * t / LINE * LINE, hi = t == threads - 1 ? bytes : bytes / threads * (t + 1) / LINE * LINE;
		jobs[t] = (struct job){buf + lo, hi - lo, w, {0}, &bar, 0, t == 0 ? secs : NULL};
		pthread_create(&tid[t], NULL, run, &jobs[t]);
	}
	*cpu_gbs = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		for (int i = 0; i < 4; i++)
			*check += jobs[t].sum[i];
		*cpu_gbs += jobs[t].n / jobs[t].cpu / 1e9;
	}
	pthread_barrier_destroy(&bar);
	best = secs[0];
	for (int i = 1; i < PASSES; i++)
		if (secs[i] < best)
			best = secs[i];
	return bytes / best / 1e9;
}

/* The share of [p, p + bytes) the kernel backs with huge pages, from
 * /proc/self/smaps (-1 if it cannot be read). */
static double huge_share(const void *p, size_t bytes)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	int in = 0;
	unsigned long lo, hi, kib = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2)
			in = lo <= (uintptr_t)p && (uintptr_t)p < hi;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib * 1024.0 / bytes;
}

int main(int argc, char **argv)
{
	const int threads = argc > 1 ? atoi(argv[1]) : 1;
	const size_t mib = argc > 2 ? (size_t)atol(argv[2]) : 1024, bytes = mib << 20, align = 2 << 20;
	const int streams[] = {1, 2, 4, 8}, pfs[] = {0, 512};
	double top = 0;
	uint64_t check = 0;

	if (threads < 1 || threads > 64 || mib < 1) {
		fprintf(stderr, "usage: bwprobe [THREADS 1-64] [MIB]\n");
		return 2;
	}
	for (int huge = 0; huge < 2; huge++) {
		/* at a 2 MiB boundary, so that huge pages can back all of it */
		uint8_t *map = mmap(NULL, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			perror("bwprobe: mmap");
			return 1;
		}
		uint8_t *buf = map + (align - (uintptr_t)map % align) % align;
		madvise(buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
		for (size_t i = 0; i < bytes / 8; i++)
			((uint64_t *)buf)[i] = i * 0x9e3779b97f4a7c15ull;
		fprintf(stderr, "bwprobe: %s pages (%.0f %% huge):", huge ? "huge" : "4 KiB", 100 * huge_share(buf, bytes));
		for (size_t s = 0; s < sizeof streams / sizeof *streams; s++)
			for (size_t f = 0; f < sizeof pfs / sizeof *pfs; f++) {
				struct way w = {huge, streams[s], pfs[f]};
				double cpu, gbs = measure(buf, bytes, threads, w, &check, &cpu);
				fprintf(stderr, " %d%s %.2f (cpu %.2f)", w.streams, w.pf ? "+pf" : "", gbs, cpu);
				if (gbs > top)
					top = gbs;
			}
		fprintf(stderr, "\n");
		munmap(map, bytes + align);
	}
	printf("%.2f\n", top);
	fprintf(stderr, "bwprobe: %d thread(s), %zu MiB, GB/s of the fastest of %d passes for each way "
		"(streams per thread, +pf: fetching 512 bytes ahead); checksum %llx\n", threads, mib, PASSES,
		(unsigned long long)check);
	return 0;
}
