/* callout_workload [warm|fresh]: a contended mutex (plain and timed lock),
 * condvar (wait, timed wait, signal, broadcast), rwlock (read, write, timed)
 * and barrier workload, run with callout_probe.so preloaded. Fails (exit 1)
 * if the probe counted any allocator, pthread_once, dlopen or glibc mutex
 * call while the workload ran (docs/design/sync.md, "Lock paths call
 * nothing").
 *
 * Built twice: with F2_NATIVE against the f2 API, and without it against
 * pthreads, which the test runs with libf2sync-pthread.so preloaded.
 *   warm   each measured thread first runs the workload alone outside the
 *          window (its per-thread first uses are then behind it);
 *   fresh  other threads warm the process up and exit; the measured threads
 *          touch no lock before the window opens, so their first waits and
 *          wakes are measured too.
 * The measured threads are created before the window opens (thread creation
 * itself allocates); the main thread only sleeps while it is open. More
 * threads than CPUs, so that every kind of wait really sleeps. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef F2_NATIVE
#include "f2sync/barrier.h"
#include "f2sync/cond.h"
#include "f2sync/mutex.h"
#include "f2sync/rwlock.h"
typedef f2_mutex_t mutex_t;
typedef f2_cond_t cond_t;
typedef f2_rwlock_t rwlock_t;
typedef f2_barrier_t barrier_t;
#define MUTEX_INIT        F2_MUTEX_INITIALIZER
#define COND_INIT         F2_COND_INITIALIZER
#define RWLOCK_INIT       F2_RWLOCK_INITIALIZER
#define lock(m)           f2_mutex_lock(m)
#define timedlock(m, t)   f2_mutex_timedlock(m, t, CLOCK_REALTIME)
#define unlock(m)         f2_mutex_unlock(m)
#define cv_wait(c, m)        f2_cond_wait(c, m)
#define cv_timedwait(c, m, t) f2_cond_timedwait(c, m, t, CLOCK_REALTIME)
#define cv_signal(c)         f2_cond_signal(c)
#define cv_broadcast(c)      f2_cond_broadcast(c)
#define rdlock(r)         f2_rwlock_rdlock(r)
#define wrlock(r)         f2_rwlock_wrlock(r)
#define timedrdlock(r, t) f2_rwlock_timedrdlock(r, t, CLOCK_REALTIME)
#define timedwrlock(r, t) f2_rwlock_timedwrlock(r, t, CLOCK_REALTIME)
#define rwunlock(r)       f2_rwlock_unlock(r)
#define barrier_init(b, n) f2_barrier_init(b, n)
#define barrier_wait(b)   f2_barrier_wait(b)
#define SERIAL            F2_BARRIER_SERIAL_THREAD
#define API               "f2 API"
#else
typedef pthread_mutex_t mutex_t;
typedef pthread_cond_t cond_t;
typedef pthread_rwlock_t rwlock_t;
typedef pthread_barrier_t barrier_t;
#define MUTEX_INIT        PTHREAD_MUTEX_INITIALIZER
#define COND_INIT         PTHREAD_COND_INITIALIZER
#define RWLOCK_INIT       PTHREAD_RWLOCK_INITIALIZER
#define lock(m)           pthread_mutex_lock(m)
#define timedlock(m, t)   pthread_mutex_timedlock(m, t)
#define unlock(m)         pthread_mutex_unlock(m)
#define cv_wait(c, m)        pthread_cond_wait(c, m)
#define cv_timedwait(c, m, t) pthread_cond_timedwait(c, m, t)
#define cv_signal(c)         pthread_cond_signal(c)
#define cv_broadcast(c)      pthread_cond_broadcast(c)
#define rdlock(r)         pthread_rwlock_rdlock(r)
#define wrlock(r)         pthread_rwlock_wrlock(r)
#define timedrdlock(r, t) pthread_rwlock_timedrdlock(r, t)
#define timedwrlock(r, t) pthread_rwlock_timedwrlock(r, t)
#define rwunlock(r)       pthread_rwlock_unlock(r)
#define barrier_init(b, n) pthread_barrier_init(b, NULL, n)
#define barrier_wait(b)   pthread_barrier_wait(b)
#define SERIAL            PTHREAD_BARRIER_SERIAL_THREAD
#define API               "pthread API"
#endif

#define THREADS 6
#define ROUNDS  300
#define WARM    20

static mutex_t mx = MUTEX_INIT;
static cond_t cv = COND_INIT;
static rwlock_t rw = RWLOCK_INIT;
static barrier_t bar;
static long counter, shared_value, serials;
static unsigned arrived, generation;
static int ready, go, done, closed, failures;

#define CHECK(e) do { int r_ = (e); if (r_) fail(#e, r_); } while (0)

static void fail(const char *what, int err)
{
	/* reported after the window closes: no stdio in it */
	__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	(void)what;
	(void)err;
}

static struct timespec in_ns(long ns)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += ns;
	while (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	return t;
}

/* A round of everything: every thread must take part (the cond rendezvous and
 * the barrier wait for all). */
static void round_of(int id, int r)
{
	struct timespec t;

	/* mutex, plain and timed (a generous deadline: it must not time out) */
	for (int i = 0; i < 4; i++) {
		if ((i + r) % 2) {
			t = in_ns(2000000000L);
			CHECK(timedlock(&mx, &t));
		} else {
			CHECK(lock(&mx));
		}
		counter++;
		CHECK(unlock(&mx));
	}
	/* condvar rendezvous: untimed waits woken by broadcast on even rounds,
	 * timed waits woken one by one by signals on odd ones */
	CHECK(lock(&mx));
	unsigned g = generation;
	if (++arrived == THREADS) {
		arrived = 0;
		generation++;
		if (r % 2)
			for (int i = 0; i < THREADS - 1; i++)
				CHECK(cv_signal(&cv));
		else
			CHECK(cv_broadcast(&cv));
	} else {
		while (generation == g) {
			if (r % 2) {
				t = in_ns(50000000L);
				int e = cv_timedwait(&cv, &mx, &t);
				if (e && e != ETIMEDOUT)
					fail("timedwait", e);
			} else {
				CHECK(cv_wait(&cv, &mx));
			}
		}
	}
	CHECK(unlock(&mx));
	/* rwlock: mostly readers, a writer per thread and round, timed too */
	for (int i = 0; i < 4; i++) {
		t = in_ns(2000000000L);
		if (i == id % 4) {
			CHECK(r % 2 ? timedwrlock(&rw, &t) : wrlock(&rw));
			shared_value++;
		} else {
			CHECK(r % 3 ? rdlock(&rw) : timedrdlock(&rw, &t));
			if (__atomic_load_n(&shared_value, __ATOMIC_RELAXED) < 0)
				fail("shared_value", 0);
		}
		CHECK(rwunlock(&rw));
	}
	int b = barrier_wait(&bar);
	if (b == SERIAL)
		__atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
	else if (b)
		fail("barrier_wait", b);
}

static void wait_flag(int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) /* pairs with the release in main */
		sched_yield();
}

static int warm_each;

static void *measured(void *arg)
{
	int id = (int)(long)arg;

	if (warm_each)
		for (int r = 0; r < WARM; r++)
			round_of(id, r);
	__atomic_add_fetch(&ready, 1, __ATOMIC_RELEASE); /* pairs with the acquire in main */
	wait_flag(&go);
	for (int r = 0; r < ROUNDS; r++)
		round_of(id, r);
	__atomic_add_fetch(&done, 1, __ATOMIC_RELEASE); /* pairs with the acquire in main */
	wait_flag(&closed); /* a thread's exit frees memory: after the window */
	return NULL;
}

static void *warmer(void *arg)
{
	for (int r = 0; r < WARM; r++)
		round_of((int)(long)arg, r);
	return NULL;
}

static void wait_count(int *n, int want)
{
	struct timespec ms = { 0, 1000000 };
	while (__atomic_load_n(n, __ATOMIC_ACQUIRE) < want) /* pairs with the threads' release */
		nanosleep(&ms, NULL);
}

int main(int argc, char **argv)
{
	void (*window)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "f2probe_window");
	unsigned long (*report)(const char *) =
		(unsigned long (*)(const char *))dlsym(RTLD_DEFAULT, "f2probe_report");
	pthread_t t[THREADS];
	char what[64];
	long rounds;

	if (!window || !report) {
		fprintf(stderr, "callout_workload: run it with callout_probe.so preloaded\n");
		return 2;
	}
	window(0);
	warm_each = !(argc > 1 && !strcmp(argv[1], "fresh"));
	snprintf(what, sizeof(what), "callout_workload (%s, %s)", API, warm_each ? "warm" : "fresh");
	CHECK(barrier_init(&bar, THREADS));
	if (!warm_each) {
		for (long i = 0; i < THREADS; i++)
			if (pthread_create(&t[i], NULL, warmer, (void *)i))
				return 2;
		for (int i = 0; i < THREADS; i++)
			pthread_join(t[i], NULL);
	}
	for (long i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, measured, (void *)i))
			return 2;
	wait_count(&ready, THREADS);
	window(1);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE); /* pairs with the acquire in wait_flag */
	wait_count(&done, THREADS);
	window(0);
	__atomic_store_n(&closed, 1, __ATOMIC_RELEASE); /* pairs with the acquire in wait_flag */
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);

	rounds = ROUNDS + WARM; /* warm-up rounds by the measured threads or the warmers */
	if (failures || counter != 4L * THREADS * rounds || serials != rounds) {
		fprintf(stderr, "%s: workload failed: %d errors, counter %ld (want %ld), "
			"serial threads %ld (want %ld)\n", what, failures, counter,
			4L * THREADS * rounds, serials, rounds);
		return 1;
	}
	if (report(what)) {
		fprintf(stderr, "%s: FAIL: a lock path called out of f2sync\n", what);
		return 1;
	}
	printf("%s: %d threads x %d rounds, nothing called out\n", what, THREADS, ROUNDS);
	return 0;
}
