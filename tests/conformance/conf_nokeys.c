/* A program that takes every pthread key there is, then uses every primitive
 * libf2sync-pthread replaces, with timed waits and a cancellation: the shim
 * keeps its per-thread state in TLS and must neither abort nor fail for want of
 * a key (issue 11). Runs against glibc (the reference) and under the shim on
 * every backend; exits 0 when every check holds, else names the first that
 * failed. Plain C, no Check: Check itself would want resources once the keys
 * are gone. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf_plain.h"

#define OK(call) CHECK((call) == 0)

/* Creates keys until pthread_key_create fails; it must fail with EAGAIN. */
static int take_all_keys(void)
{
	pthread_key_t k;
	int n = 0, r;

	while ((r = pthread_key_create(&k, NULL)) == 0)
		n++;
	CHECK(r == EAGAIN);
	return n;
}

static pthread_mutex_t held_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t held_rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t hold_b;

/* Holds held_m and held_rw (mode by arg) until the main thread passes the
 * barrier a second time. */
static void *holder(void *arg)
{
	int write = arg != NULL;

	OK(pthread_mutex_lock(&held_m));
	OK(write ? pthread_rwlock_wrlock(&held_rw) : pthread_rwlock_rdlock(&held_rw));
	pthread_barrier_wait(&hold_b);
	pthread_barrier_wait(&hold_b);
	OK(pthread_rwlock_unlock(&held_rw));
	OK(pthread_mutex_unlock(&held_m));
	return NULL;
}

static void mutex_kinds(void)
{
	static const int kinds[] = { PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_RECURSIVE,
				     PTHREAD_MUTEX_ERRORCHECK };
	pthread_mutexattr_t a;
	pthread_mutex_t m;

	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		struct timespec d = conf_in(CLOCK_REALTIME, 100);
		OK(pthread_mutexattr_init(&a));
		OK(pthread_mutexattr_settype(&a, kinds[i]));
		OK(pthread_mutex_init(&m, &a));
		OK(pthread_mutex_lock(&m));
		OK(pthread_mutex_unlock(&m));
		OK(pthread_mutex_trylock(&m));
		OK(pthread_mutex_unlock(&m));
		OK(pthread_mutex_timedlock(&m, &d));
		OK(pthread_mutex_unlock(&m));
		d = conf_in(CLOCK_MONOTONIC, 100);
		OK(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &d));
		OK(pthread_mutex_unlock(&m));
		OK(pthread_mutex_destroy(&m));
		OK(pthread_mutexattr_destroy(&a));
	}
}

/* Timed calls that must time out while another thread holds the lock. */
static void timeouts(int write)
{
	pthread_t t;
	struct timespec d;

	OK(pthread_barrier_init(&hold_b, NULL, 2));
	OK(pthread_create(&t, NULL, holder, write ? &t : NULL));
	pthread_barrier_wait(&hold_b);
	d = conf_in(CLOCK_REALTIME, 20);
	CHECK(pthread_mutex_timedlock(&held_m, &d) == ETIMEDOUT);
	d = conf_in(CLOCK_REALTIME, 20);
	CHECK(pthread_rwlock_timedwrlock(&held_rw, &d) == ETIMEDOUT);
	if (write) {
		d = conf_in(CLOCK_MONOTONIC, 20);
		CHECK(pthread_rwlock_clockrdlock(&held_rw, CLOCK_MONOTONIC, &d) == ETIMEDOUT);
		CHECK(pthread_rwlock_tryrdlock(&held_rw) == EBUSY);
	} else {
		d = conf_in(CLOCK_REALTIME, 20);
		OK(pthread_rwlock_timedrdlock(&held_rw, &d));
		OK(pthread_rwlock_unlock(&held_rw));
		CHECK(pthread_rwlock_trywrlock(&held_rw) == EBUSY);
	}
	pthread_barrier_wait(&hold_b);
	OK(pthread_join(t, NULL));
	OK(pthread_barrier_destroy(&hold_b));
}

/* Mutex + condvar + rwlock + barrier under contention: exact counts. */
#define THREADS 6
#define ROUNDS 2000
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cc = PTHREAD_COND_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t bar;
static long counter, rw_counter, turn;

static void *worker(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < ROUNDS; i++) {
		OK(pthread_mutex_lock(&cm));
		counter++;
		OK(pthread_mutex_unlock(&cm));
		if (i % 3 == 0) {
			OK(pthread_rwlock_wrlock(&rw));
			rw_counter++;
			OK(pthread_rwlock_unlock(&rw));
		} else {
			OK(pthread_rwlock_rdlock(&rw));
			CHECK(rw_counter >= 0);
			OK(pthread_rwlock_unlock(&rw));
		}
		if (i % 100 == 0) {
			int r = pthread_barrier_wait(&bar);
			CHECK(r == 0 || r == PTHREAD_BARRIER_SERIAL_THREAD);
		}
	}
	/* a ring: each thread waits for its turn, timed waits mixed in */
	for (int i = 0; i < 20; i++) {
		OK(pthread_mutex_lock(&cm));
		while (turn % THREADS != id) {
			if (i % 2) {
				struct timespec d = conf_in(CLOCK_REALTIME, 5);
				int r = pthread_cond_timedwait(&cc, &cm, &d);
				CHECK(r == 0 || r == ETIMEDOUT);
			} else {
				OK(pthread_cond_wait(&cc, &cm));
			}
		}
		turn++;
		OK(pthread_cond_broadcast(&cc));
		OK(pthread_mutex_unlock(&cm));
	}
	return NULL;
}

static void contention(void)
{
	pthread_t t[THREADS];

	OK(pthread_barrier_init(&bar, NULL, THREADS));
	for (long i = 0; i < THREADS; i++)
		OK(pthread_create(&t[i], NULL, worker, (void *)i));
	for (int i = 0; i < THREADS; i++)
		OK(pthread_join(t[i], NULL));
	CHECK(counter == (long)THREADS * ROUNDS);
	CHECK(rw_counter == (long)THREADS * ((ROUNDS + 2) / 3));
	CHECK(turn == (long)THREADS * 20);
	OK(pthread_barrier_destroy(&bar));
}

/* A thread blocked in pthread_cond_wait is cancelled: its cleanup handler
 * runs with the (errorcheck) mutex re-acquired, which only the owner can
 * unlock without EPERM. */
static pthread_mutex_t em;
static pthread_cond_t ec = PTHREAD_COND_INITIALIZER;
static int waiting, cleanup_unlock = -1;

static void cleanup(void *arg)
{
	cleanup_unlock = pthread_mutex_unlock(arg);
}

static void *cancelled(void *arg)
{
	(void)arg;
	if (pthread_mutex_lock(&em))
		return NULL;
	pthread_cleanup_push(cleanup, &em);
	waiting = 1;
	for (;;) /* nobody signals: only the cancel ends this */
		pthread_cond_wait(&ec, &em);
	pthread_cleanup_pop(0);
	return NULL;
}

static void cancellation(void)
{
	pthread_mutexattr_t a;
	pthread_t t;
	void *ret;

	OK(pthread_mutexattr_init(&a));
	OK(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK));
	OK(pthread_mutex_init(&em, &a));
	OK(pthread_create(&t, NULL, cancelled, NULL));
	for (;;) {
		OK(pthread_mutex_lock(&em));
		int w = waiting;
		OK(pthread_mutex_unlock(&em));
		if (w)
			break;
		sched_yield();
	}
	/* waiting was set under em and the waiter keeps em until it sleeps:
	 * having taken em after it, we know the waiter is inside the wait */
	OK(pthread_cancel(t));
	OK(pthread_join(t, &ret));
	CHECK(ret == PTHREAD_CANCELED);
	CHECK(cleanup_unlock == 0);
	OK(pthread_mutex_trylock(&em));
	OK(pthread_mutex_unlock(&em));
	OK(pthread_mutex_destroy(&em));
}

int main(void)
{
	int keys = take_all_keys();

	CHECK(keys > 0 && keys <= PTHREAD_KEYS_MAX);
	mutex_kinds();
	timeouts(0);
	timeouts(1);
	contention();
	cancellation();
	printf("conf_nokeys: %d keys taken by the program, all checks passed\n", keys);
	return 0;
}
