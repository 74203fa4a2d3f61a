/* Reader-writer locks: both initializers and their kinds, sharing and
 * exclusion, EDEADLK, timed locks on both clocks, and contention. */
#include "conf.h"
#include "../common/rt_order.h"

static pthread_rwlock_t s_rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_rwlock_t s_wnr = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

struct job {
	pthread_rwlock_t *rw;
	int (*op)(pthread_rwlock_t *);
	int result;
	int unlock;   /* unlock after a successful op */
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	j->result = j->op(j->rw);
	if (j->result == 0 && j->unlock)
		CONF_OK(pthread_rwlock_unlock(j->rw));
	return NULL;
}

static int on_other(pthread_rwlock_t *rw, int (*op)(pthread_rwlock_t *))
{
	struct job j = { rw, op, -1, 1 };
	pthread_t t;

	CONF_OK(pthread_create(&t, NULL, job_run, &j));
	CONF_OK(pthread_join(t, NULL));
	return j.result;
}

static void check_basics(pthread_rwlock_t *rw)
{
	struct timespec t = conf_in(CLOCK_REALTIME, 10);

	CONF_OK(pthread_rwlock_rdlock(rw));
	CONF_OK(on_other(rw, pthread_rwlock_tryrdlock));
	ck_assert_int_eq(on_other(rw, pthread_rwlock_trywrlock), EBUSY);
	CONF_OK(pthread_rwlock_unlock(rw));
	CONF_OK(pthread_rwlock_wrlock(rw));
	ck_assert_int_eq(pthread_rwlock_wrlock(rw), EDEADLK);
	ck_assert_int_eq(pthread_rwlock_rdlock(rw), EDEADLK);
	ck_assert_int_eq(pthread_rwlock_timedwrlock(rw, &t), EDEADLK);
	ck_assert_int_eq(pthread_rwlock_trywrlock(rw), EBUSY);
	ck_assert_int_eq(pthread_rwlock_tryrdlock(rw), EBUSY);
	ck_assert_int_eq(on_other(rw, pthread_rwlock_tryrdlock), EBUSY);
	CONF_OK(pthread_rwlock_unlock(rw));
	CONF_OK(on_other(rw, pthread_rwlock_trywrlock));
}

START_TEST(initializers)
{
	check_basics(&s_rw);
	check_basics(&s_wnr);
}
END_TEST

START_TEST(init_kinds)
{
	pthread_rwlockattr_t a;
	pthread_rwlock_t rw;
	int k;

	CONF_OK(pthread_rwlockattr_init(&a));
	CONF_OK(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
	CONF_OK(pthread_rwlockattr_getkind_np(&a, &k));
	ck_assert_int_eq(k, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	CONF_OK(pthread_rwlock_init(&rw, &a));
	check_basics(&rw);
	CONF_OK(pthread_rwlock_destroy(&rw));
	CONF_OK(pthread_rwlock_init(&rw, NULL));
	check_basics(&rw);
	CONF_OK(pthread_rwlock_destroy(&rw));
	CONF_OK(pthread_rwlockattr_destroy(&a));
}
END_TEST

static int timedrd_rt(pthread_rwlock_t *rw)
{
	struct timespec t = conf_in(CLOCK_REALTIME, 40);
	int r = pthread_rwlock_timedrdlock(rw, &t);

	ck_assert(r != ETIMEDOUT || conf_reached(CLOCK_REALTIME, &t));
	return r;
}

static int clockwr_mono(pthread_rwlock_t *rw)
{
	struct timespec t = conf_in(CLOCK_MONOTONIC, 40);
	int r = pthread_rwlock_clockwrlock(rw, CLOCK_MONOTONIC, &t);

	ck_assert(r != ETIMEDOUT || conf_reached(CLOCK_MONOTONIC, &t));
	return r;
}

static int clockrd_mono(pthread_rwlock_t *rw)
{
	struct timespec t = conf_in(CLOCK_MONOTONIC, 40);
	int r = pthread_rwlock_clockrdlock(rw, CLOCK_MONOTONIC, &t);

	ck_assert(r != ETIMEDOUT || conf_reached(CLOCK_MONOTONIC, &t));
	return r;
}

START_TEST(timed)
{
	pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
	struct timespec bad = { 0, 1000000000L }, t = conf_in(CLOCK_MONOTONIC, 1000);

	/* glibc checks clock and nanoseconds before anything else */
	ck_assert_int_eq(pthread_rwlock_timedrdlock(&rw, &bad), EINVAL);
	ck_assert_int_eq(pthread_rwlock_timedwrlock(&rw, &bad), EINVAL);
	ck_assert_int_eq(pthread_rwlock_clockrdlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &t), EINVAL);
	ck_assert_int_eq(pthread_rwlock_clockwrlock(&rw, CLOCK_PROCESS_CPUTIME_ID, &t), EINVAL);
	CONF_OK(pthread_rwlock_clockrdlock(&rw, CLOCK_MONOTONIC, &t));
	ck_assert_int_eq(on_other(&rw, clockwr_mono), ETIMEDOUT);
	CONF_OK(pthread_rwlock_unlock(&rw));
	CONF_OK(pthread_rwlock_wrlock(&rw));
	ck_assert_int_eq(on_other(&rw, timedrd_rt), ETIMEDOUT);
	ck_assert_int_eq(on_other(&rw, clockrd_mono), ETIMEDOUT);
	CONF_OK(pthread_rwlock_unlock(&rw));
	CONF_OK(on_other(&rw, clockwr_mono));
}
END_TEST

/* Prefer-reader (the default): a reader gets in while a writer waits, so a
 * thread may take a second read lock. Writer-nonrecursive: a waiting writer
 * holds new readers back. */
static void *blocked_writer(void *arg)
{
	CONF_OK(pthread_rwlock_wrlock(arg));
	CONF_OK(pthread_rwlock_unlock(arg));
	return NULL;
}

START_TEST(kind_preference)
{
	pthread_rwlock_t rd = PTHREAD_RWLOCK_INITIALIZER;
	pthread_rwlock_t wr = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
	struct timespec t;
	pthread_t w;
	int r = 0;

	CONF_OK(pthread_rwlock_rdlock(&rd));
	CONF_OK(pthread_create(&w, NULL, blocked_writer, &rd));
	conf_sleep_ms(30);
	t = conf_in(CLOCK_REALTIME, 5000);
	CONF_OK(pthread_rwlock_timedrdlock(&rd, &t));
	CONF_OK(on_other(&rd, pthread_rwlock_tryrdlock));
	CONF_OK(pthread_rwlock_unlock(&rd));
	CONF_OK(pthread_rwlock_unlock(&rd));
	CONF_OK(pthread_join(w, NULL));

	CONF_OK(pthread_rwlock_rdlock(&wr));
	CONF_OK(pthread_create(&w, NULL, blocked_writer, &wr));
	/* once the writer waits, new readers are refused */
	for (int i = 0; i < 5000; i++) {
		r = on_other(&wr, pthread_rwlock_tryrdlock);
		if (r == EBUSY)
			break;
		conf_sleep_ms(1);
	}
	ck_assert_int_eq(r, EBUSY);
	CONF_OK(pthread_rwlock_unlock(&wr));
	CONF_OK(pthread_join(w, NULL));
}
END_TEST

#define RW_THREADS 12
#define RW_ROUNDS 5000
static pthread_rwlock_t c_rw = PTHREAD_RWLOCK_INITIALIZER;
static long c_a, c_b;

static void *rw_worker(void *arg)
{
	long id = (long)arg;

	for (int i = 0; i < RW_ROUNDS; i++) {
		if ((i + id) % 4 == 0) {
			CONF_OK(pthread_rwlock_wrlock(&c_rw));
			c_a++;
			c_b++;
		} else {
			CONF_OK(pthread_rwlock_rdlock(&c_rw));
			ck_assert_int_eq(c_a, c_b);
		}
		CONF_OK(pthread_rwlock_unlock(&c_rw));
	}
	return NULL;
}

START_TEST(contention)
{
	pthread_t t[RW_THREADS];
	long writes = 0;

	for (long i = 0; i < RW_THREADS; i++)
		CONF_OK(pthread_create(&t[i], NULL, rw_worker, (void *)i));
	for (int i = 0; i < RW_THREADS; i++)
		CONF_OK(pthread_join(t[i], NULL));
	for (long id = 0; id < RW_THREADS; id++)
		for (int i = 0; i < RW_ROUNDS; i++)
			writes += (i + id) % 4 == 0;
	ck_assert_int_eq(c_a, writes);
	ck_assert_int_eq(c_b, writes);
}
END_TEST

static void rt_rd(void *l) { CONF_OK(pthread_rwlock_rdlock(l)); }
static void rt_wr(void *l) { CONF_OK(pthread_rwlock_wrlock(l)); }
static void rt_un(void *l) { CONF_OK(pthread_rwlock_unlock(l)); }

/* POSIX (Thread Execution Scheduling): SCHED_FIFO waiters acquire in
 * priority order when the lock becomes available, a writer before a reader
 * of equal priority; for the default kind (_i = 0) and the writer kind. glibc
 * does not (its default prefers readers, and its writers queue in FIFO
 * order), so the order is asserted under the shim only; against glibc the
 * run checks that every waiter got the lock and prints the order. */
START_TEST(rt_priority_order)
{
	static pthread_rwlock_t rw;
	static struct rt_order o = { .ops = { &rw, rt_rd, rt_wr, rt_un } };
	pthread_rwlockattr_t a;
	char got[128];
	int r, in_order;

	CONF_OK(pthread_rwlockattr_init(&a));
	if (_i)
		CONF_OK(pthread_rwlockattr_setkind_np(&a,
				PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
	CONF_OK(pthread_rwlock_init(&rw, &a));
	CONF_OK(pthread_rwlockattr_destroy(&a));
	r = rt_order_run("conf_rwlock", &o);
	if (r < 0)
		return;
	ck_assert_msg(r == 1, "a waiter never slept in the lock, or never got it");
	in_order = rt_order_in_order(&o, got, sizeof got);
	if (conf_resolves_to_shim("pthread_rwlock_unlock"))
		ck_assert_msg(in_order, "kind %d: acquired as %s; expected R30 W20 R20 W15 W10 R10",
			      _i, got);
	else
		fprintf(stderr, "conf_rwlock: glibc, kind %d: acquired as %s (%s priority order)\n",
			_i, got, in_order ? "in" : "not in");
	CONF_OK(pthread_rwlock_destroy(&rw));
}
END_TEST

Suite *conf_rwlock_suite(void)
{
	Suite *s = suite_create("rwlock");
	TCase *tc = tcase_create("rwlock");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, initializers);
	tcase_add_test(tc, init_kinds);
	tcase_add_test(tc, timed);
	tcase_add_test(tc, kind_preference);
	tcase_add_test(tc, contention);
	tcase_add_loop_test(tc, rt_priority_order, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
