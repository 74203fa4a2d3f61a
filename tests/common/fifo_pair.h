/* Two SCHED_FIFO threads (priorities 20 and 10) pinned to one CPU, each
 * calling step() `rounds` times: the case where any wait loop that needs the
 * other thread to be scheduled (a spin, a sched_yield loop) livelocks, since
 * the higher-priority thread never lets the other one run. POSIX and glibc
 * only, so the pthread conformance program can use it too.
 *
 * fifo_pair_run returns how many rounds the slower thread completed once both
 * are done or limit_s seconds have passed (a livelocked pair is left running:
 * the failing Check test's process exits and takes it along), or -1 when the
 * system refuses SCHED_FIFO (not root, no CAP_SYS_NICE, no RT budget). The
 * main thread stays SCHED_OTHER and unpinned, so it keeps a CPU to watch. */
#ifndef F2_TEST_FIFO_PAIR_H
#define F2_TEST_FIFO_PAIR_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "first_cpu.h"
#include <stdio.h>
#include <time.h>

struct fifo_pair {
	void (*step)(void *arg);
	void *arg;
	long rounds;
	long done[2];  /* rounds completed per thread (atomic) */
};

struct fifo_pair_thread {
	struct fifo_pair *p;
	int id;
};

static void *fifo_pair_main(void *v)
{
	struct fifo_pair_thread *t = v;

	for (long i = 0; i < t->p->rounds; i++) {
		t->p->step(t->p->arg);
		__atomic_store_n(&t->p->done[t->id], i + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static long fifo_pair_min_done(struct fifo_pair *p)
{
	long a = __atomic_load_n(&p->done[0], __ATOMIC_RELAXED);
	long b = __atomic_load_n(&p->done[1], __ATOMIC_RELAXED);
	return a < b ? a : b;
}

static long fifo_pair_run(struct fifo_pair *p, int limit_s)
{
	static const int prio[2] = { 20, 10 };
	struct fifo_pair_thread th[2] = { { p, 0 }, { p, 1 } };
	pthread_t t[2];
	cpu_set_t one;
	int started = 0;

	CPU_ZERO(&one);
	CPU_SET(tu_first_cpu(), &one);
	for (int i = 0; i < 2; i++) {
		pthread_attr_t a;
		struct sched_param sp = { .sched_priority = prio[i] };
		int r;

		pthread_attr_init(&a);
		pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&a, SCHED_FIFO);
		pthread_attr_setschedparam(&a, &sp);
		pthread_attr_setaffinity_np(&a, sizeof one, &one);
		r = pthread_create(&t[i], &a, fifo_pair_main, &th[i]);
		pthread_attr_destroy(&a);
		if (r == EPERM && i == 0)
			return -1;
		if (r != 0)
			break;
		started++;
	}
	if (started < 2) {
		/* the first thread waits in step() for a partner that never comes:
		 * as refused, since the step cannot finish without it */
		return started == 0 ? -1 : 0;
	}
	struct timespec end, now, nap = { 0, 5 * 1000 * 1000 };
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += limit_s;
	do {
		if (fifo_pair_min_done(p) == p->rounds) {
			pthread_join(t[0], NULL);
			pthread_join(t[1], NULL);
			return p->rounds;
		}
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec ||
		 (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	return fifo_pair_min_done(p);
}

/* The test both barrier suites run: step() (one barrier wait) FIFO_PAIR_ROUNDS
 * times in each thread of the pair. Returns the rounds completed within
 * FIFO_PAIR_LIMIT_S, or -1 (after saying so on stderr, as `who`) where
 * SCHED_FIFO is refused. */
#define FIFO_PAIR_ROUNDS 10000
#define FIFO_PAIR_LIMIT_S 20

static long fifo_pair_test(const char *who, void (*step)(void *), void *arg)
{
	static struct fifo_pair p;
	long done;

	p = (struct fifo_pair){ step, arg, FIFO_PAIR_ROUNDS, { 0, 0 } };
	done = fifo_pair_run(&p, FIFO_PAIR_LIMIT_S);
	if (done < 0)
		fprintf(stderr, "%s: SCHED_FIFO refused here, FIFO pair test not run\n", who);
	return done;
}

#endif
