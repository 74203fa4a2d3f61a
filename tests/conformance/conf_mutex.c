/* Mutexes: every static initializer, every kind's error codes, init/destroy,
 * timed locks on both clocks, and many threads on one lock. */
#include "conf.h"

static pthread_mutex_t s_normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_mutex_t s_err = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
static pthread_mutex_t s_adapt = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;

struct other {
	pthread_mutex_t *m;
	int (*op)(pthread_mutex_t *);
	int result;
};

static void *other_run(void *arg)
{
	struct other *o = arg;

	o->result = o->op(o->m);
	return NULL;
}

/* Runs op(m) on another thread and returns its result. */
static int on_other(pthread_mutex_t *m, int (*op)(pthread_mutex_t *))
{
	struct other o = { m, op, -1 };
	pthread_t t;

	CONF_OK(pthread_create(&t, NULL, other_run, &o));
	CONF_OK(pthread_join(t, NULL));
	return o.result;
}

START_TEST(normal_initializer)
{
	CONF_OK(pthread_mutex_lock(&s_normal));
	ck_assert_int_eq(pthread_mutex_trylock(&s_normal), EBUSY);
	ck_assert_int_eq(on_other(&s_normal, pthread_mutex_trylock), EBUSY);
	CONF_OK(pthread_mutex_unlock(&s_normal));
	CONF_OK(on_other(&s_normal, pthread_mutex_trylock));
	CONF_OK(pthread_mutex_unlock(&s_normal));
}
END_TEST

START_TEST(adaptive_initializer)
{
	CONF_OK(pthread_mutex_lock(&s_adapt));
	ck_assert_int_eq(pthread_mutex_trylock(&s_adapt), EBUSY);
	ck_assert_int_eq(on_other(&s_adapt, pthread_mutex_trylock), EBUSY);
	CONF_OK(pthread_mutex_unlock(&s_adapt));
	CONF_OK(pthread_mutex_trylock(&s_adapt));
	CONF_OK(pthread_mutex_unlock(&s_adapt));
}
END_TEST

static void check_recursive(pthread_mutex_t *m)
{
	CONF_OK(pthread_mutex_lock(m));
	CONF_OK(pthread_mutex_lock(m));
	CONF_OK(pthread_mutex_trylock(m));
	ck_assert_int_eq(on_other(m, pthread_mutex_trylock), EBUSY);
	ck_assert_int_eq(on_other(m, pthread_mutex_unlock), EPERM);
	CONF_OK(pthread_mutex_unlock(m));
	CONF_OK(pthread_mutex_unlock(m));
	ck_assert_int_eq(on_other(m, pthread_mutex_trylock), EBUSY);
	CONF_OK(pthread_mutex_unlock(m));
	ck_assert_int_eq(pthread_mutex_unlock(m), EPERM);
}

static void check_errorcheck(pthread_mutex_t *m)
{
	struct timespec t = conf_in(CLOCK_REALTIME, 10);

	ck_assert_int_eq(pthread_mutex_unlock(m), EPERM);
	CONF_OK(pthread_mutex_lock(m));
	ck_assert_int_eq(pthread_mutex_lock(m), EDEADLK);
	ck_assert_int_eq(pthread_mutex_timedlock(m, &t), EDEADLK);
	ck_assert_int_eq(pthread_mutex_trylock(m), EBUSY);
	ck_assert_int_eq(on_other(m, pthread_mutex_unlock), EPERM);
	CONF_OK(pthread_mutex_unlock(m));
	ck_assert_int_eq(pthread_mutex_unlock(m), EPERM);
}

START_TEST(recursive_initializer)
{
	check_recursive(&s_rec);
}
END_TEST

START_TEST(errorcheck_initializer)
{
	check_errorcheck(&s_err);
}
END_TEST

static void init_kind(pthread_mutex_t *m, int kind)
{
	pthread_mutexattr_t a;

	CONF_OK(pthread_mutexattr_init(&a));
	CONF_OK(pthread_mutexattr_settype(&a, kind));
	CONF_OK(pthread_mutex_init(m, &a));
	CONF_OK(pthread_mutexattr_destroy(&a));
}

START_TEST(kinds_from_attr)
{
	pthread_mutex_t m;

	init_kind(&m, PTHREAD_MUTEX_RECURSIVE);
	check_recursive(&m);
	CONF_OK(pthread_mutex_destroy(&m));
	init_kind(&m, PTHREAD_MUTEX_ERRORCHECK);
	check_errorcheck(&m);
	CONF_OK(pthread_mutex_destroy(&m));
	init_kind(&m, PTHREAD_MUTEX_NORMAL);
	CONF_OK(pthread_mutex_lock(&m));
	ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY);
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_mutex_destroy(&m));
}
END_TEST

START_TEST(init_destroy)
{
	pthread_mutex_t m;

	CONF_OK(pthread_mutex_init(&m, NULL));
	CONF_OK(pthread_mutex_lock(&m));
	ck_assert_int_eq(pthread_mutex_destroy(&m), EBUSY);
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_mutex_destroy(&m));
	CONF_OK(pthread_mutex_init(&m, NULL));
	CONF_OK(pthread_mutex_trylock(&m));
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_mutex_destroy(&m));
}
END_TEST

static int timedlock_rt(pthread_mutex_t *m)
{
	struct timespec t = conf_in(CLOCK_REALTIME, 50);
	int r = pthread_mutex_timedlock(m, &t);

	ck_assert(r != ETIMEDOUT || conf_reached(CLOCK_REALTIME, &t));
	return r;
}

static int clocklock_mono(pthread_mutex_t *m)
{
	struct timespec t = conf_in(CLOCK_MONOTONIC, 50);
	int r = pthread_mutex_clocklock(m, CLOCK_MONOTONIC, &t);

	ck_assert(r != ETIMEDOUT || conf_reached(CLOCK_MONOTONIC, &t));
	return r;
}

static int timedlock_bad_ns(pthread_mutex_t *m)
{
	struct timespec t = { 0, 1000000000L };

	return pthread_mutex_timedlock(m, &t);
}

static int timedlock_past(pthread_mutex_t *m)
{
	struct timespec t = { -1, 0 };

	return pthread_mutex_timedlock(m, &t);
}

START_TEST(timed_locks)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	struct timespec bad = { 0, -1 }, t = conf_in(CLOCK_MONOTONIC, 1000);

	/* free: the deadline is not looked at (glibc), the clock is */
	CONF_OK(pthread_mutex_timedlock(&m, &bad));
	CONF_OK(pthread_mutex_unlock(&m));
	ck_assert_int_eq(pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &t), EINVAL);
	CONF_OK(pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &t));
	/* held: ETIMEDOUT at the deadline on either clock, EINVAL for bad ns */
	ck_assert_int_eq(on_other(&m, timedlock_rt), ETIMEDOUT);
	ck_assert_int_eq(on_other(&m, clocklock_mono), ETIMEDOUT);
	ck_assert_int_eq(on_other(&m, timedlock_bad_ns), EINVAL);
	ck_assert_int_eq(on_other(&m, timedlock_past), ETIMEDOUT);
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(on_other(&m, timedlock_rt));
	CONF_OK(pthread_mutex_unlock(&m));
}
END_TEST

/* Robust and priority-inheritance mutexes are glibc's own. */
START_TEST(robust_and_pi)
{
	pthread_mutexattr_t a;
	pthread_mutex_t m;

	CONF_OK(pthread_mutexattr_init(&a));
	CONF_OK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
	CONF_OK(pthread_mutex_init(&m, &a));
	ck_assert_int_eq(on_other(&m, pthread_mutex_lock), 0);
	/* the owner died holding it */
	ck_assert_int_eq(pthread_mutex_lock(&m), EOWNERDEAD);
	CONF_OK(pthread_mutex_consistent(&m));
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_mutex_lock(&m));
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_mutex_destroy(&m));
	CONF_OK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_STALLED));
	CONF_OK(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
	CONF_OK(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK));
	CONF_OK(pthread_mutex_init(&m, &a));
	CONF_OK(pthread_mutex_lock(&m));
	ck_assert_int_eq(pthread_mutex_lock(&m), EDEADLK);
	ck_assert_int_eq(on_other(&m, pthread_mutex_trylock), EBUSY);
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_mutex_destroy(&m));
	CONF_OK(pthread_mutexattr_destroy(&a));
}
END_TEST

#define CONTENDERS 16
#define ROUNDS 20000
static pthread_mutex_t counter_lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *contend(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		CONF_OK(pthread_mutex_lock(&counter_lock));
		counter++;
		CONF_OK(pthread_mutex_unlock(&counter_lock));
	}
	return NULL;
}

START_TEST(contention)
{
	pthread_t t[CONTENDERS];

	for (int i = 0; i < CONTENDERS; i++)
		CONF_OK(pthread_create(&t[i], NULL, contend, NULL));
	for (int i = 0; i < CONTENDERS; i++)
		CONF_OK(pthread_join(t[i], NULL));
	ck_assert_int_eq(counter, (long)CONTENDERS * ROUNDS);
}
END_TEST

Suite *conf_mutex_suite(void)
{
	Suite *s = suite_create("mutex");
	TCase *tc = tcase_create("mutex");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, normal_initializer);
	tcase_add_test(tc, adaptive_initializer);
	tcase_add_test(tc, recursive_initializer);
	tcase_add_test(tc, errorcheck_initializer);
	tcase_add_test(tc, kinds_from_attr);
	tcase_add_test(tc, init_destroy);
	tcase_add_test(tc, timed_locks);
	tcase_add_test(tc, robust_and_pi);
	tcase_add_test(tc, contention);
	suite_add_tcase(s, tc);
	return s;
}
