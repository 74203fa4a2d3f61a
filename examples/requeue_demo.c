/* requeue_demo: one f2_cond_broadcast to 64 waiters, with requeue on and off.
 *
 * With requeue on (the default), broadcast wakes two waiters and moves the
 * other 62 onto the mutex word; every waiter re-takes the mutex in its contended
 * state, so each unlock then hands on to exactly one of them. With requeue off (f2_tune_set(F2_TUNE_REQUEUE, 0))
 * broadcast wakes all 64 at once and 63 of them run only to find the mutex
 * held and go back to sleep: the thundering herd. The demo prints, for each
 * mode, the median over several rounds of the context switches of the whole
 * process (getrusage) counted from the broadcast on (a waiter's sleep before it
 * is already counted, so each one here is a thread that woke, found the mutex
 * held and slept again, or was preempted) and the time from the broadcast
 * until every waiter has run. It checks that every waiter woke in every round (exit 1 otherwise);
 * the numbers are shown, not judged. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include <f2sync/f2sync.h>

#define WAITERS 64
#define ROUNDS  7

static f2_mutex_t lock = F2_MUTEX_INITIALIZER;
static f2_cond_t cond = F2_COND_INITIALIZER;
static f2_cond_t all_done = F2_COND_INITIALIZER;
static int generation, waiting, finished; /* guarded by lock */
static uint64_t work;                     /* guarded by lock */

static void *waiter(void *arg)
{
	(void)arg;
	f2_mutex_lock(&lock);
	int gen = generation;
	waiting++;
	while (generation == gen)
		f2_cond_wait(&cond, &lock);
	/* A little work with the mutex held, as a real waiter would do. */
	for (int i = 0; i < 2000; i++)
		work = work * 6364136223846793005ull + 1442695040888963407ull;
	if (++finished == WAITERS)
		f2_cond_signal(&all_done);
	f2_mutex_unlock(&lock);
	return NULL;
}

static long switches(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_nvcsw + ru.ru_nivcsw;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
	struct timespec t = { 0, ms * 1000000 };
	nanosleep(&t, NULL);
}

/* One round: 64 waiters asleep on cond, one broadcast. 0 if all woke. */
static int round_once(long *csw, double *secs)
{
	pthread_t t[WAITERS];

	waiting = finished = 0;
	for (int i = 0; i < WAITERS; i++)
		pthread_create(&t[i], NULL, waiter, NULL);
	for (;;) { /* all 64 inside f2_cond_wait */
		f2_mutex_lock(&lock);
		int n = waiting;
		f2_mutex_unlock(&lock);
		if (n == WAITERS)
			break;
		sleep_ms(1);
	}
	sleep_ms(20); /* let the last one get from its unlock into its park */

	long c0 = switches();
	double t0 = now();
	f2_mutex_lock(&lock);
	generation++;
	f2_cond_broadcast(&cond);
	while (finished < WAITERS)
		f2_cond_wait(&all_done, &lock);
	f2_mutex_unlock(&lock);
	*secs = now() - t0;
	*csw = switches() - c0;
	for (int i = 0; i < WAITERS; i++)
		pthread_join(t[i], NULL);
	return finished != WAITERS;
}

static int cmp_long(const void *a, const void *b)
{
	return (*(const long *)a > *(const long *)b) - (*(const long *)a < *(const long *)b);
}

static int cmp_double(const void *a, const void *b)
{
	return (*(const double *)a > *(const double *)b) - (*(const double *)a < *(const double *)b);
}

int main(void)
{
	int bad = 0;
	uint64_t original;

	f2_tune_get(F2_TUNE_REQUEUE, &original);
	printf("one broadcast to %d waiters, median of %d rounds:\n", WAITERS, ROUNDS);
	for (int on = 1; on >= 0; on--) {
		long csw[ROUNDS];
		double secs[ROUNDS];
		uint64_t got;

		if (f2_tune_set(F2_TUNE_REQUEUE, (uint64_t)on) || f2_tune_get(F2_TUNE_REQUEUE, &got) ||
		    got != (uint64_t)on) {
			fprintf(stderr, "f2_tune_set(F2_TUNE_REQUEUE, %d) did not take\n", on);
			return 1;
		}
		for (int r = 0; r < ROUNDS; r++)
			bad |= round_once(&csw[r], &secs[r]);
		qsort(csw, ROUNDS, sizeof csw[0], cmp_long);
		qsort(secs, ROUNDS, sizeof secs[0], cmp_double);
		printf("  requeue %-3s  context switches %5ld   time %8.1f us\n", on ? "on" : "off",
		       csw[ROUNDS / 2], secs[ROUNDS / 2] * 1e6);
	}
	f2_tune_set(F2_TUNE_REQUEUE, original);
	printf("%s\n", bad ? "WRONG: a waiter was not woken" : "every waiter woke in every round");
	return bad;
}
