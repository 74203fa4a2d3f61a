/* Condition variables: the initializer, signal/broadcast wakeups, timed waits
 * on both clocks and the clock attribute, error codes, recursive and errorcheck
 * mutexes, and cancellation of a waiter. */
#include <stdlib.h>

#include "conf.h"

static pthread_cond_t s_cond = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_ready, s_woken;

static void *waiter(void *arg)
{
	(void)arg;
	CONF_OK(pthread_mutex_lock(&s_lock));
	while (!s_ready)
		CONF_OK(pthread_cond_wait(&s_cond, &s_lock));
	s_woken++;
	CONF_OK(pthread_mutex_unlock(&s_lock));
	return NULL;
}

#define WAITERS 12

START_TEST(initializer_broadcast)
{
	pthread_t t[WAITERS];

	for (int i = 0; i < WAITERS; i++)
		CONF_OK(pthread_create(&t[i], NULL, waiter, NULL));
	conf_sleep_ms(20);
	CONF_OK(pthread_mutex_lock(&s_lock));
	s_ready = 1;
	CONF_OK(pthread_cond_broadcast(&s_cond));
	CONF_OK(pthread_mutex_unlock(&s_lock));
	for (int i = 0; i < WAITERS; i++)
		CONF_OK(pthread_join(t[i], NULL));
	ck_assert_int_eq(s_woken, WAITERS);
}
END_TEST

/* A bounded queue on one mutex and two condvars: no item lost, none twice. */
#define QSIZE 8
#define ITEMS 20000
#define PRODUCERS 4
static struct {
	pthread_mutex_t m;
	pthread_cond_t not_full, not_empty;
	int buf[QSIZE], head, count;
	long sum;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
	{ 0 }, 0, 0, 0 };

static void *producer(void *arg)
{
	(void)arg;
	for (int i = 1; i <= ITEMS; i++) {
		CONF_OK(pthread_mutex_lock(&q.m));
		while (q.count == QSIZE)
			CONF_OK(pthread_cond_wait(&q.not_full, &q.m));
		q.buf[(q.head + q.count++) % QSIZE] = i;
		CONF_OK(pthread_cond_signal(&q.not_empty));
		CONF_OK(pthread_mutex_unlock(&q.m));
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (int i = 0; i < ITEMS; i++) {
		CONF_OK(pthread_mutex_lock(&q.m));
		while (q.count == 0)
			CONF_OK(pthread_cond_wait(&q.not_empty, &q.m));
		q.sum += q.buf[q.head];
		q.head = (q.head + 1) % QSIZE;
		q.count--;
		CONF_OK(pthread_cond_signal(&q.not_full));
		CONF_OK(pthread_mutex_unlock(&q.m));
	}
	return NULL;
}

START_TEST(signal_queue)
{
	pthread_t p[PRODUCERS], c[PRODUCERS];

	for (int i = 0; i < PRODUCERS; i++) {
		CONF_OK(pthread_create(&p[i], NULL, producer, NULL));
		CONF_OK(pthread_create(&c[i], NULL, consumer, NULL));
	}
	for (int i = 0; i < PRODUCERS; i++) {
		CONF_OK(pthread_join(p[i], NULL));
		CONF_OK(pthread_join(c[i], NULL));
	}
	ck_assert_int_eq(q.sum, (long)PRODUCERS * ITEMS * (ITEMS + 1) / 2);
}
END_TEST

START_TEST(timed_clocks)
{
	pthread_cond_t c;
	pthread_condattr_t a;
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec t;
	clockid_t clk;

	CONF_OK(pthread_mutex_lock(&m));
	/* default: CLOCK_REALTIME */
	CONF_OK(pthread_cond_init(&c, NULL));
	t = conf_in(CLOCK_REALTIME, 50);
	ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &t), ETIMEDOUT);
	ck_assert(conf_reached(CLOCK_REALTIME, &t));
	CONF_OK(pthread_cond_destroy(&c));
	/* the clock attribute is honoured: a monotonic deadline, far in the
	 * realtime past, still waits until the monotonic clock reaches it */
	CONF_OK(pthread_condattr_init(&a));
	CONF_OK(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
	CONF_OK(pthread_condattr_getclock(&a, &clk));
	ck_assert_int_eq(clk, CLOCK_MONOTONIC);
	CONF_OK(pthread_cond_init(&c, &a));
	t = conf_in(CLOCK_MONOTONIC, 50);
	ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &t), ETIMEDOUT);
	ck_assert(conf_reached(CLOCK_MONOTONIC, &t));
	/* clockwait takes its own clock */
	t = conf_in(CLOCK_REALTIME, 30);
	ck_assert_int_eq(pthread_cond_clockwait(&c, &m, CLOCK_REALTIME, &t), ETIMEDOUT);
	ck_assert(conf_reached(CLOCK_REALTIME, &t));
	t = conf_in(CLOCK_MONOTONIC, 30);
	ck_assert_int_eq(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &t), ETIMEDOUT);
	ck_assert(conf_reached(CLOCK_MONOTONIC, &t));
	/* errors */
	ck_assert_int_eq(pthread_cond_clockwait(&c, &m, CLOCK_PROCESS_CPUTIME_ID, &t), EINVAL);
	t.tv_nsec = 1000000000L;
	ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &t), EINVAL);
	t.tv_nsec = -1;
	ck_assert_int_eq(pthread_cond_clockwait(&c, &m, CLOCK_MONOTONIC, &t), EINVAL);
	t.tv_sec = -1;
	t.tv_nsec = 0;
	ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &t), ETIMEDOUT);
	/* the mutex is held again after every return */
	ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY);
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_cond_destroy(&c));
	CONF_OK(pthread_condattr_destroy(&a));
}
END_TEST

START_TEST(mutex_kinds)
{
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	pthread_mutex_t e = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
	pthread_mutex_t r = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
	struct timespec t = conf_in(CLOCK_REALTIME, 20);

	/* errorcheck mutex not held: EPERM */
	ck_assert_int_eq(pthread_cond_timedwait(&c, &e, &t), EPERM);
	CONF_OK(pthread_mutex_lock(&e));
	ck_assert_int_eq(pthread_cond_timedwait(&c, &e, &t), ETIMEDOUT);
	ck_assert_int_eq(pthread_mutex_lock(&e), EDEADLK);
	CONF_OK(pthread_mutex_unlock(&e));
	/* a recursive mutex keeps its count across the wait */
	CONF_OK(pthread_mutex_lock(&r));
	CONF_OK(pthread_mutex_lock(&r));
	t = conf_in(CLOCK_REALTIME, 20);
	ck_assert_int_eq(pthread_cond_timedwait(&c, &r, &t), ETIMEDOUT);
	CONF_OK(pthread_mutex_unlock(&r));
	CONF_OK(pthread_mutex_unlock(&r));
	ck_assert_int_eq(pthread_mutex_unlock(&r), EPERM);
}
END_TEST

/* A robust mutex (glibc's own object under the shim) with a condvar. */
static pthread_mutex_t r_lock;
static pthread_cond_t r_cond = PTHREAD_COND_INITIALIZER;
static int r_flag;

static void *r_signaller(void *arg)
{
	(void)arg;
	CONF_OK(pthread_mutex_lock(&r_lock));
	r_flag = 1;
	CONF_OK(pthread_cond_signal(&r_cond));
	CONF_OK(pthread_mutex_unlock(&r_lock));
	return NULL;
}

START_TEST(robust_mutex)
{
	pthread_mutexattr_t a;
	struct timespec t;
	pthread_t s;

	CONF_OK(pthread_mutexattr_init(&a));
	CONF_OK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	CONF_OK(pthread_mutex_init(&r_lock, &a));
	CONF_OK(pthread_mutex_lock(&r_lock));
	t = conf_in(CLOCK_REALTIME, 20);
	ck_assert_int_eq(pthread_cond_timedwait(&r_cond, &r_lock, &t), ETIMEDOUT);
	CONF_OK(pthread_create(&s, NULL, r_signaller, NULL));
	while (!r_flag)
		CONF_OK(pthread_cond_wait(&r_cond, &r_lock));
	CONF_OK(pthread_mutex_unlock(&r_lock));
	CONF_OK(pthread_join(s, NULL));
	CONF_OK(pthread_mutex_destroy(&r_lock));
	CONF_OK(pthread_mutexattr_destroy(&a));
}
END_TEST

/* pthread_cond_destroy with waiters. The shim returns EBUSY while they sleep
 * unwoken (POSIX's recommendation; glibc blocks until they leave, so that
 * half runs under the shim only). Right after the broadcast that woke them,
 * while they are still on their way out, destroy returns 0 and the condvar is
 * freed at once (glibc: destroy waits for them; the shim: they need nothing
 * more of it). */
#define D_WAITERS 4
static pthread_mutex_t d_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t *d_cond;
static int d_go, d_ready;

static void *d_waiter(void *arg)
{
	(void)arg;
	CONF_OK(pthread_mutex_lock(&d_lock));
	d_ready++;
	while (!d_go)
		CONF_OK(pthread_cond_wait(d_cond, &d_lock));
	CONF_OK(pthread_mutex_unlock(&d_lock));
	return NULL;
}

START_TEST(destroy_busy)
{
	pthread_t t[D_WAITERS];
	int ready = 0;

	d_cond = malloc(sizeof(*d_cond));
	ck_assert_ptr_nonnull(d_cond);
	CONF_OK(pthread_cond_init(d_cond, NULL));
	d_go = 0;
	d_ready = 0;
	for (int i = 0; i < D_WAITERS; i++)
		CONF_OK(pthread_create(&t[i], NULL, d_waiter, NULL));
	while (ready < D_WAITERS) {
		conf_sleep_ms(1);
		CONF_OK(pthread_mutex_lock(&d_lock));
		ready = d_ready;
		CONF_OK(pthread_mutex_unlock(&d_lock));
	}
	if (conf_resolves_to_shim("pthread_cond_destroy")) {
		/* EBUSY once they sleep (they all released the mutex already) */
		int i = 0;
		while (pthread_cond_destroy(d_cond) != EBUSY) {
			ck_assert_int_lt(i++, 10000);
			conf_sleep_ms(1);
		}
	}
	CONF_OK(pthread_mutex_lock(&d_lock));
	d_go = 1;
	CONF_OK(pthread_cond_broadcast(d_cond));
	CONF_OK(pthread_mutex_unlock(&d_lock));
	CONF_OK(pthread_cond_destroy(d_cond));
	free(d_cond);
	for (int i = 0; i < D_WAITERS; i++)
		CONF_OK(pthread_join(t[i], NULL));
}
END_TEST

/* Cancellation: the cleanup handler runs with the mutex re-acquired. */
static pthread_mutex_t k_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_cond_t k_cond = PTHREAD_COND_INITIALIZER;
static int k_waiting, k_unlock_result = -1;

/* The threads that get cancelled use no Check assertions: an assertion's
 * bookkeeping would be cut off by the unwind. */
static void k_cleanup(void *arg)
{
	(void)arg;
	/* 0 only if this thread holds the errorcheck mutex */
	k_unlock_result = pthread_mutex_unlock(&k_lock);
}

static void *k_waiter(void *arg)
{
	int how = *(int *)arg;
	struct timespec t;

	if (pthread_mutex_lock(&k_lock))
		abort();
	k_waiting = 1;
	pthread_cleanup_push(k_cleanup, NULL);
	for (;;) {
		if (how == 0) {
			pthread_cond_wait(&k_cond, &k_lock);
		} else if (how == 1) {
			t = conf_in(CLOCK_REALTIME, 60000);
			pthread_cond_timedwait(&k_cond, &k_lock, &t);
		} else {
			t = conf_in(CLOCK_MONOTONIC, 60000);
			pthread_cond_clockwait(&k_cond, &k_lock, CLOCK_MONOTONIC, &t);
		}
	}
	pthread_cleanup_pop(0);
	return NULL;
}

START_TEST(cancel_waiter)
{
	int how = _i;
	pthread_t t;
	void *res;

	k_waiting = 0;
	k_unlock_result = -1;
	CONF_OK(pthread_create(&t, NULL, k_waiter, &how));
	for (;;) {
		if (pthread_mutex_lock(&k_lock))
		abort();
		int w = k_waiting;
		CONF_OK(pthread_mutex_unlock(&k_lock));
		if (w)
			break;
		conf_sleep_ms(1);
	}
	conf_sleep_ms(20); /* most likely asleep in the wait by now; either way works */
	CONF_OK(pthread_cancel(t));
	CONF_OK(pthread_join(t, &res));
	ck_assert_ptr_eq(res, PTHREAD_CANCELED);
	ck_assert_int_eq(k_unlock_result, 0);
	CONF_OK(pthread_mutex_trylock(&k_lock));
	CONF_OK(pthread_mutex_unlock(&k_lock));
}
END_TEST

/* A cancel request pending before the wait is acted on at entry. */
static void *k_pending(void *arg)
{
	(void)arg;
	if (pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL))
		abort();
	if (pthread_mutex_lock(&k_lock))
		abort();
	k_waiting = 1;
	while (k_waiting != 2)
		pthread_cond_wait(&k_cond, &k_lock);
	pthread_cleanup_push(k_cleanup, NULL);
	if (pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL))
		abort();
	pthread_cond_wait(&k_cond, &k_lock);
	pthread_cleanup_pop(0);
	return NULL;
}

START_TEST(cancel_pending)
{
	pthread_t t;
	void *res;

	k_waiting = 0;
	k_unlock_result = -1;
	CONF_OK(pthread_create(&t, NULL, k_pending, NULL));
	for (;;) {
		CONF_OK(pthread_mutex_lock(&k_lock));
		if (k_waiting) {
			CONF_OK(pthread_cancel(t)); /* disabled: stays pending */
			k_waiting = 2;
			CONF_OK(pthread_cond_broadcast(&k_cond));
			CONF_OK(pthread_mutex_unlock(&k_lock));
			break;
		}
		CONF_OK(pthread_mutex_unlock(&k_lock));
		conf_sleep_ms(1);
	}
	CONF_OK(pthread_join(t, &res));
	ck_assert_ptr_eq(res, PTHREAD_CANCELED);
	ck_assert_int_eq(k_unlock_result, 0);
}
END_TEST

Suite *conf_cond_suite(void)
{
	Suite *s = suite_create("cond");
	TCase *tc = tcase_create("cond");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, initializer_broadcast);
	tcase_add_test(tc, signal_queue);
	tcase_add_test(tc, timed_clocks);
	tcase_add_test(tc, mutex_kinds);
	tcase_add_test(tc, robust_mutex);
	tcase_add_test(tc, destroy_busy);
	tcase_add_loop_test(tc, cancel_waiter, 0, 3);
	tcase_add_test(tc, cancel_pending);
	suite_add_tcase(s, tc);
	return s;
}
