/* thread_pool: a fixed pool of workers whose phases are separated by one
 * reusable f2_barrier_t.
 *
 * Each round runs three phases over a shared array of N numbers:
 *   fill:    worker w writes its own slice: a[i] = i + round
 *   combine: worker w reads its neighbours' slices: b[i] = a[i-1] + a[i] + a[i+1]
 *            (this is only right if every fill finished: the barrier's job)
 *   reduce:  the one worker that got F2_BARRIER_SERIAL_THREAD sums b and
 *            checks the sum against the closed form.
 * The program exits 1 if any round's sum is wrong or a round has other than
 * exactly one serial thread. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include <f2sync/f2sync.h>

#define WORKERS 6        /* more than the cores of a small machine */
#define N       (WORKERS * 5000)
#define ROUNDS  200

static f2_barrier_t barrier;
static int64_t a[N], b[N];
static int serials[ROUNDS];      /* written by each round's serial thread only */
static int wrong_rounds;

static int64_t at(int64_t i)
{
	return a[(i + N) % N];
}

/* Sum over i of (a[i-1] + a[i] + a[i+1]) with a[i] = i + r: 3 * sum(a). */
static int64_t expected(int r)
{
	return 3 * ((int64_t)N * (N - 1) / 2 + (int64_t)N * r);
}

static void *worker(void *arg)
{
	int w = (int)(intptr_t)arg;
	int lo = w * (N / WORKERS), hi = lo + N / WORKERS;

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = lo; i < hi; i++)
			a[i] = i + r;
		f2_barrier_wait(&barrier);                       /* fill done */
		for (int i = lo; i < hi; i++)
			b[i] = at(i - 1) + at(i) + at(i + 1);
		if (f2_barrier_wait(&barrier) == F2_BARRIER_SERIAL_THREAD) { /* combine done */
			int64_t sum = 0;
			for (int i = 0; i < N; i++)
				sum += b[i];
			serials[r]++;
			if (sum != expected(r))
				wrong_rounds++;
		}
		f2_barrier_wait(&barrier);                       /* reduce done */
	}
	return NULL;
}

int main(void)
{
	pthread_t t[WORKERS];
	int bad = 0;

	if (f2_barrier_init(&barrier, WORKERS)) {
		fprintf(stderr, "f2_barrier_init failed\n");
		return 1;
	}
	for (int w = 0; w < WORKERS; w++)
		pthread_create(&t[w], NULL, worker, (void *)(intptr_t)w);
	for (int w = 0; w < WORKERS; w++)
		pthread_join(t[w], NULL);
	for (int r = 0; r < ROUNDS; r++)
		bad |= serials[r] != 1;
	if (f2_barrier_destroy(&barrier))
		bad = 1;
	printf("%d workers, %d rounds of 3 phases over %d numbers: %d wrong sums, %s\n", WORKERS,
	       ROUNDS, N, wrong_rounds, bad ? "serial thread count WRONG" : "one serial thread per round");
	return bad || wrong_rounds;
}
