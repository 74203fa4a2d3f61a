/* A program that sandboxes itself while its threads contend on pthread
 * mutexes: another thread installs a seccomp filter making membarrier(2) fail
 * (EPERM, or ENOSYS with argument "enosys") at a moment drawn from the clock.
 * Under the shim that takes the store unlock's fence away mid-run
 * (docs/design/mutex.md, "Losing membarrier"): nothing may abort or hang, and
 * the counts must be exact. At the end one thread blocks on a mutex that
 * another holds uncontended, the mark that needs the fence once more. Runs
 * against glibc (the reference) and under the shim on every backend; exits 0
 * when every check holds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "../common/deny_membarrier.h"
#include "conf_plain.h"


#define THREADS 8 /* more than the CPUs of the test machine */
#define MUTEXES 4

static pthread_mutex_t m[MUTEXES] = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};
static long count[MUTEXES];
static int stop, err;

static long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000L + t.tv_nsec / 1000;
}

/* Locks (every fourth time with a deadline 0.2 ms away) until stop; returns
 * its acquisitions. */
static void *worker(void *arg)
{
	unsigned x = (unsigned)(long)arg * 2654435761u + 1;
	long mine = 0;

	for (long i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++) {
		int k = (int)((x = x * 1103515245u + 12345u) >> 16) % MUTEXES;
		if (i % 4 == 0) {
			struct timespec d;
			int r;
			clock_gettime(CLOCK_REALTIME, &d);
			d.tv_nsec += 200000;
			if (d.tv_nsec >= 1000000000L) {
				d.tv_sec++;
				d.tv_nsec -= 1000000000L;
			}
			r = pthread_mutex_timedlock(&m[k], &d);
			if (r == ETIMEDOUT)
				continue;
			CHECK(r == 0);
		} else {
			CHECK(pthread_mutex_lock(&m[k]) == 0);
		}
		count[k]++;
		CHECK(pthread_mutex_unlock(&m[k]) == 0);
		mine++;
	}
	return (void *)mine;
}

static void *sandboxer(void *arg)
{
	(void)arg;
	usleep((useconds_t)(now_us() % 100000)); /* somewhere in the first 0.1 s */
	CHECK(deny_membarrier(err) == 0);
	return NULL;
}

static pthread_mutex_t last = PTHREAD_MUTEX_INITIALIZER;

static void *last_locker(void *arg)
{
	(void)arg;
	CHECK(pthread_mutex_lock(&last) == 0);
	CHECK(pthread_mutex_unlock(&last) == 0);
	return NULL;
}

/* One run, in a child process (the filter stays there). */
static void run(void)
{
	pthread_t t[THREADS], sb, lt;
	long total = 0;

	alarm(120); /* a lost wakeup hangs: make it a failure */
	for (long i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0);
	CHECK(pthread_create(&sb, NULL, sandboxer, NULL) == 0);
	CHECK(pthread_join(sb, NULL) == 0);
	usleep(300000); /* keep contending well after the filter */
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < THREADS; i++) {
		void *v;
		CHECK(pthread_join(t[i], &v) == 0);
		total += (long)v;
	}
	CHECK(count[0] + count[1] + count[2] + count[3] == total);
	for (int k = 0; k < MUTEXES; k++) {
		CHECK(pthread_mutex_trylock(&m[k]) == 0);
		CHECK(pthread_mutex_unlock(&m[k]) == 0);
	}
	/* held uncontended, then a waiter marks it: under the shim the fence */
	CHECK(pthread_mutex_lock(&last) == 0);
	CHECK(pthread_create(&lt, NULL, last_locker, NULL) == 0);
	usleep(20000);
	CHECK(pthread_mutex_unlock(&last) == 0);
	CHECK(pthread_join(lt, NULL) == 0);
	printf("conf_seccomp: %ld acquisitions, membarrier denied with %s\n", total,
	       err == ENOSYS ? "ENOSYS" : "EPERM");
	exit(0);
}

int main(void)
{
	static const int errs[] = { EPERM, ENOSYS };

	for (int i = 0; i < 2; i++) {
		int st;
		pid_t pid;

		fflush(stdout);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			err = errs[i];
			run();
		}
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	return 0;
}
