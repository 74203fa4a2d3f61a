/* Priority order of a reader-writer lock's SCHED_FIFO waiters (POSIX, under
 * the Thread Execution Scheduling option): when the lock becomes available,
 * its waiters acquire it in priority order, and at equal priority a writer
 * before a reader. POSIX and glibc only, so the pthread conformance program
 * and the sync layer's suite use the same scenario.
 *
 * A driver thread (SCHED_FIFO 60) and every waiter run pinned to one CPU, so
 * that the scheduler, not CPU placement, decides who runs. The driver takes
 * the write lock, starts the waiters one by one in an order that is neither
 * priority order nor its reverse, and lets each run until it sleeps in the
 * lock (its /proc state is S); then it unlocks and joins them. Each waiter
 * records its rank of acquisition and unlocks at once.
 *
 * rt_order_run returns 1 once every waiter has acquired (order in
 * ord->got), 0 when a waiter never reached its sleep within a few seconds, or
 * -1 (after saying so on stderr, as `who`) where SCHED_FIFO is refused. */
#ifndef F2_TEST_RT_ORDER_H
#define F2_TEST_RT_ORDER_H

#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "first_cpu.h"
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RT_ORDER_N 6

struct rt_order_ops {
	void *lock;
	void (*rdlock)(void *lock);
	void (*wrlock)(void *lock);
	void (*unlock)(void *lock);
};

struct rt_order_waiter {
	struct rt_order *ord;
	int prio, writer;
	int tid;          /* atomic: set just before it locks */
	pthread_t t;
};

struct rt_order {
	struct rt_order_ops ops;
	struct rt_order_waiter w[RT_ORDER_N];
	int got[RT_ORDER_N]; /* waiter index by rank of acquisition */
	int next;            /* atomic: the next rank */
	int ok;              /* the driver's result */
	int cpu;
};

/* Created in this order: the expected acquisition order is
 * R30, W20, R20, W15, W10, R10. */
static const struct { int prio, writer; } rt_order_plan[RT_ORDER_N] = {
	{ 10, 0 }, { 10, 1 }, { 20, 0 }, { 15, 1 }, { 30, 0 }, { 20, 1 },
};

/* Priority order as a key: higher first, a writer before a reader. */
static inline int rt_order_key(const struct rt_order_waiter *w)
{
	return w->prio * 2 + w->writer;
}

static void *rt_order_waiter_main(void *v)
{
	struct rt_order_waiter *w = v;
	struct rt_order *o = w->ord;

	__atomic_store_n(&w->tid, (int)syscall(SYS_gettid), __ATOMIC_RELEASE);
	if (w->writer)
		o->ops.wrlock(o->ops.lock);
	else
		o->ops.rdlock(o->ops.lock);
	o->got[__atomic_fetch_add(&o->next, 1, __ATOMIC_RELAXED)] = (int)(w - o->w);
	o->ops.unlock(o->ops.lock);
	return NULL;
}

/* 1 when thread tid sleeps (state S in /proc). */
static int rt_order_sleeping(int tid)
{
	char path[64], buf[256];
	FILE *f;
	int n;

	snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = (int)fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n > 0 ? n : 0] = 0;
	/* "tid (comm) S ...": the state follows the last ')' */
	for (int i = n - 1; i > 0; i--)
		if (buf[i] == ')')
			return i + 2 < n && buf[i + 2] == 'S';
	return 0;
}

/* Waits (napping, so lower-priority threads on the CPU run) until waiter w
 * sleeps in the lock; 0 if it does not within about 5 s. */
static int rt_order_await_sleep(struct rt_order_waiter *w)
{
	struct timespec nap = { 0, 1000 * 1000 };
	int tid;

	for (int i = 0; i < 5000; i++) {
		nanosleep(&nap, NULL);
		tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);
		if (tid && rt_order_sleeping(tid))
			return 1;
	}
	return 0;
}

static int rt_order_attr(pthread_attr_t *a, int prio, int cpu)
{
	struct sched_param sp = { .sched_priority = prio };
	cpu_set_t one;

	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	pthread_attr_init(a);
	pthread_attr_setinheritsched(a, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(a, SCHED_FIFO);
	pthread_attr_setschedparam(a, &sp);
	return pthread_attr_setaffinity_np(a, sizeof one, &one);
}

static void *rt_order_driver(void *v)
{
	struct rt_order *o = v;
	int started = 0, ok = 1;

	o->ops.wrlock(o->ops.lock);
	for (int i = 0; i < RT_ORDER_N && ok; i++) {
		struct rt_order_waiter *w = &o->w[i];
		pthread_attr_t a;

		*w = (struct rt_order_waiter){ .ord = o, .prio = rt_order_plan[i].prio,
					       .writer = rt_order_plan[i].writer };
		rt_order_attr(&a, w->prio, o->cpu);
		ok = pthread_create(&w->t, &a, rt_order_waiter_main, w) == 0;
		pthread_attr_destroy(&a);
		started += ok;
		ok = ok && rt_order_await_sleep(w);
	}
	/* all asleep in the lock: the driver (the highest priority) releases
	 * it, then blocks in join, and the scheduler runs the woken waiters */
	o->ops.unlock(o->ops.lock);
	for (int i = 0; i < started; i++)
		pthread_join(o->w[i].t, NULL);
	o->ok = ok;
	return NULL;
}

static int rt_order_run(const char *who, struct rt_order *o)
{
	pthread_attr_t a;
	pthread_t t;
	int r;

	o->next = 0;
	o->ok = 0;
	o->cpu = tu_first_cpu();
	rt_order_attr(&a, 60, o->cpu);
	r = pthread_create(&t, &a, rt_order_driver, o);
	pthread_attr_destroy(&a);
	if (r == EPERM) {
		fprintf(stderr, "%s: SCHED_FIFO refused here, priority order test not run\n", who);
		return -1;
	}
	if (r != 0)
		return 0;
	pthread_join(t, NULL);
	return o->ok && __atomic_load_n(&o->next, __ATOMIC_RELAXED) == RT_ORDER_N;
}

/* 1 if the waiters acquired in priority order, writers first at equal
 * priority; describes the order into buf either way. */
static int rt_order_in_order(const struct rt_order *o, char *buf, size_t len)
{
	int good = 1;
	size_t at = 0;

	for (int i = 0; i < RT_ORDER_N; i++) {
		const struct rt_order_waiter *w = &o->w[o->got[i]];
		if (i > 0 && rt_order_key(w) > rt_order_key(&o->w[o->got[i - 1]]))
			good = 0;
		if (at < len)
			at += (size_t)snprintf(buf + at, len - at, "%s%c%d", i ? " " : "",
					       w->writer ? 'W' : 'R', w->prio);
	}
	return good;
}

#endif
