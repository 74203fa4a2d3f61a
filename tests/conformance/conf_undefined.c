/* Calls whose behaviour POSIX leaves undefined but which programs make, by
 * accident or by habit, and whose return value they may check: the answers
 * are glibc 2.36's (nptl: pthread_mutex_unlock.c, pthread_rwlock_unlock.c,
 * pthread_cond_wait.c, pthread_barrier_destroy.c), verified by this very suite
 * running against glibc; under the shim the same assertions hold, so both
 * return the same codes. Only the first answer is asserted where glibc leaves
 * the object corrupted behind it (an rwlock unlocked by nobody counts a
 * reader below zero, a double-unlocked mutex's user count wraps); the shim
 * leaves it intact. The errorcheck and recursive kinds keep EPERM. */
#include "conf.h"

static pthread_mutex_t s_normal = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t s_adapt = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static pthread_rwlock_t s_rw = PTHREAD_RWLOCK_INITIALIZER;

static void mutex_of(pthread_mutex_t *m, int type, int pshared)
{
	pthread_mutexattr_t a;

	CONF_OK(pthread_mutexattr_init(&a));
	CONF_OK(pthread_mutexattr_settype(&a, type));
	CONF_OK(pthread_mutexattr_setpshared(&a, pshared));
	CONF_OK(pthread_mutex_init(m, &a));
	CONF_OK(pthread_mutexattr_destroy(&a));
}

/* glibc's normal and adaptive unlock never checks the owner: 0, and the
 * mutex stays usable. */
START_TEST(unlock_unlocked_normal)
{
	static const int types[] = { PTHREAD_MUTEX_NORMAL, PTHREAD_MUTEX_ADAPTIVE_NP };
	pthread_mutex_t m;

	CONF_OK(pthread_mutex_unlock(&s_normal));
	CONF_OK(pthread_mutex_unlock(&s_adapt));
	for (int i = 0; i < 2; i++)
		for (int ps = 0; ps < 2; ps++) {
			mutex_of(&m, types[i], ps ? PTHREAD_PROCESS_SHARED : PTHREAD_PROCESS_PRIVATE);
			CONF_OK(pthread_mutex_unlock(&m));
			CONF_OK(pthread_mutex_unlock(&m));
			CONF_OK(pthread_mutex_lock(&m));
			ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY);
			CONF_OK(pthread_mutex_unlock(&m));
			CONF_OK(pthread_mutex_trylock(&m));
			CONF_OK(pthread_mutex_unlock(&m));
		}
}
END_TEST

START_TEST(unlock_unlocked_checked_kinds)
{
	static const int types[] = { PTHREAD_MUTEX_ERRORCHECK, PTHREAD_MUTEX_RECURSIVE };
	pthread_mutex_t m;

	for (int i = 0; i < 2; i++) {
		mutex_of(&m, types[i], PTHREAD_PROCESS_PRIVATE);
		ck_assert_int_eq(pthread_mutex_unlock(&m), EPERM);
		CONF_OK(pthread_mutex_destroy(&m));
	}
}
END_TEST

static void *lock_and_leave(void *m)
{
	return (void *)(long)pthread_mutex_lock(m);
}

/* A normal mutex locked by a thread that has gone: another thread's unlock
 * releases it (glibc: 0; no owner is tracked). */
START_TEST(unlock_normal_of_other)
{
	pthread_mutex_t m;
	pthread_t t;
	void *r;

	mutex_of(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_PROCESS_PRIVATE);
	CONF_OK(pthread_create(&t, NULL, lock_and_leave, &m));
	CONF_OK(pthread_join(t, &r));
	CONF_OK((int)(long)r);
	CONF_OK(pthread_mutex_unlock(&m));
	CONF_OK(pthread_mutex_trylock(&m));
	CONF_OK(pthread_mutex_unlock(&m));
}
END_TEST

/* glibc's rwlock unlock returns 0 whatever the state. */
START_TEST(unlock_unlocked_rwlock)
{
	pthread_rwlockattr_t a;
	pthread_rwlock_t rw;

	CONF_OK(pthread_rwlock_unlock(&s_rw));
	CONF_OK(pthread_rwlock_init(&rw, NULL));
	CONF_OK(pthread_rwlock_unlock(&rw));
	CONF_OK(pthread_rwlockattr_init(&a));
	CONF_OK(pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP));
	CONF_OK(pthread_rwlock_init(&rw, &a));
	CONF_OK(pthread_rwlock_unlock(&rw));
	CONF_OK(pthread_rwlockattr_destroy(&a));
}
END_TEST

static void *rdlock_and_leave(void *rw)
{
	return (void *)(long)pthread_rwlock_rdlock(rw);
}

static void *wrlock_and_leave(void *rw)
{
	return (void *)(long)pthread_rwlock_wrlock(rw);
}

/* Unlocking another thread's read or write lock: 0 (glibc takes the caller
 * for a reader when it is not the recorded writer). */
START_TEST(unlock_rwlock_of_other)
{
	void *(*const take[])(void *) = { rdlock_and_leave, wrlock_and_leave };
	pthread_rwlock_t rw;
	pthread_t t;
	void *r;

	for (int i = 0; i < 2; i++) {
		CONF_OK(pthread_rwlock_init(&rw, NULL));
		CONF_OK(pthread_create(&t, NULL, take[i], &rw));
		CONF_OK(pthread_join(t, &r));
		CONF_OK((int)(long)r);
		CONF_OK(pthread_rwlock_unlock(&rw));
	}
}
END_TEST

/* A condvar wait with a normal mutex the caller does not hold: glibc waits
 * (its release is a no-op), times out and returns holding the mutex. The
 * errorcheck and recursive kinds refuse with EPERM. */
START_TEST(cond_wait_unheld_mutex)
{
	static const struct timespec past = { 0, 0 };
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	pthread_mutex_t m;

	mutex_of(&m, PTHREAD_MUTEX_NORMAL, PTHREAD_PROCESS_PRIVATE);
	ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &past), ETIMEDOUT);
	ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY); /* we hold it now */
	CONF_OK(pthread_mutex_unlock(&m));
	struct timespec soon = conf_in(CLOCK_REALTIME, 20);
	ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &soon), ETIMEDOUT);
	ck_assert_int_eq(pthread_mutex_trylock(&m), EBUSY);
	CONF_OK(pthread_mutex_unlock(&m));

	for (int i = 0; i < 2; i++) {
		mutex_of(&m, i ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_ERRORCHECK,
			 PTHREAD_PROCESS_PRIVATE);
		ck_assert_int_eq(pthread_cond_timedwait(&c, &m, &past), EPERM);
		CONF_OK(pthread_mutex_trylock(&m)); /* still free */
		CONF_OK(pthread_mutex_unlock(&m));
	}
}
END_TEST

/* Destroying twice: 0 for every object (glibc marks nothing it checks). A
 * destroyed mutex refuses lock and unlock with EINVAL. */
START_TEST(destroy_twice)
{
	pthread_mutex_t m;
	pthread_cond_t c;
	pthread_rwlock_t rw;
	pthread_barrier_t b;

	CONF_OK(pthread_mutex_init(&m, NULL));
	CONF_OK(pthread_mutex_destroy(&m));
	CONF_OK(pthread_mutex_destroy(&m));
	ck_assert_int_eq(pthread_mutex_lock(&m), EINVAL);
	ck_assert_int_eq(pthread_mutex_trylock(&m), EINVAL);
	ck_assert_int_eq(pthread_mutex_unlock(&m), EINVAL);
	CONF_OK(pthread_cond_init(&c, NULL));
	CONF_OK(pthread_cond_destroy(&c));
	CONF_OK(pthread_cond_destroy(&c));
	CONF_OK(pthread_rwlock_init(&rw, NULL));
	CONF_OK(pthread_rwlock_destroy(&rw));
	CONF_OK(pthread_rwlock_destroy(&rw));
	CONF_OK(pthread_barrier_init(&b, NULL, 1));
	ck_assert_int_eq(pthread_barrier_wait(&b), PTHREAD_BARRIER_SERIAL_THREAD);
	CONF_OK(pthread_barrier_destroy(&b));
	CONF_OK(pthread_barrier_destroy(&b));
}
END_TEST

Suite *conf_undefined_suite(void)
{
	Suite *s = suite_create("undefined");
	TCase *tc = tcase_create("undefined");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unlock_unlocked_normal);
	tcase_add_test(tc, unlock_unlocked_checked_kinds);
	tcase_add_test(tc, unlock_normal_of_other);
	tcase_add_test(tc, unlock_unlocked_rwlock);
	tcase_add_test(tc, unlock_rwlock_of_other);
	tcase_add_test(tc, cond_wait_unheld_mutex);
	tcase_add_test(tc, destroy_twice);
	suite_add_tcase(s, tc);
	return s;
}
