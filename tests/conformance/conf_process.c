/* Processes: process-shared mutex, condvar, rwlock and barrier in MAP_SHARED
 * memory used by a parent and its forked child; and fork() in a program whose
 * other threads keep using locks, with the child using them afterwards. */
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"

struct shm {
	pthread_mutex_t m;
	pthread_cond_t c;
	pthread_rwlock_t rw;
	pthread_barrier_t b;
	long counter, rw_a, rw_b;
	int flag, serial;
};

#define P_ROUNDS 20000

static struct shm *shm_new(void)
{
	struct shm *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	pthread_rwlockattr_t ra;
	pthread_barrierattr_t ba;

	ck_assert_ptr_ne(s, MAP_FAILED);
	CONF_OK(pthread_mutexattr_init(&ma));
	CONF_OK(pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED));
	CONF_OK(pthread_mutex_init(&s->m, &ma));
	CONF_OK(pthread_condattr_init(&ca));
	CONF_OK(pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED));
	CONF_OK(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC));
	CONF_OK(pthread_cond_init(&s->c, &ca));
	CONF_OK(pthread_rwlockattr_init(&ra));
	CONF_OK(pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED));
	CONF_OK(pthread_rwlock_init(&s->rw, &ra));
	CONF_OK(pthread_barrierattr_init(&ba));
	CONF_OK(pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED));
	CONF_OK(pthread_barrier_init(&s->b, &ba, 2));
	return s;
}

/* Both processes run this; the child exits with 0 on success. */
static int side(struct shm *s, int child)
{
	struct timespec t;
	int v;

	for (int i = 0; i < P_ROUNDS; i++) {
		if (pthread_mutex_lock(&s->m))
			return 1;
		s->counter++;
		if (pthread_mutex_unlock(&s->m))
			return 2;
		if (pthread_rwlock_wrlock(&s->rw))
			return 3;
		s->rw_a++;
		s->rw_b++;
		pthread_rwlock_unlock(&s->rw);
		if (pthread_rwlock_rdlock(&s->rw) || s->rw_a != s->rw_b)
			return 4;
		pthread_rwlock_unlock(&s->rw);
	}
	for (int r = 0; r < 200; r++) {
		v = pthread_barrier_wait(&s->b);
		if (v == PTHREAD_BARRIER_SERIAL_THREAD)
			__atomic_fetch_add(&s->serial, 1, __ATOMIC_RELAXED);
		else if (v)
			return 5;
	}
	/* the child waits on the shared condvar until the parent signals */
	pthread_mutex_lock(&s->m);
	if (child) {
		while (!s->flag) {
			t = conf_in(CLOCK_MONOTONIC, 20000);
			if (pthread_cond_timedwait(&s->c, &s->m, &t))
				return 6;
		}
	} else {
		s->flag = 1;
		pthread_cond_broadcast(&s->c);
	}
	pthread_mutex_unlock(&s->m);
	return 0;
}

START_TEST(pshared_fork)
{
	struct shm *s = shm_new();
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(side(s, 1));
	conf_sleep_ms(5);
	ck_assert_int_eq(side(s, 0), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(s->counter, 2L * P_ROUNDS);
	ck_assert_int_eq(s->rw_a, 2L * P_ROUNDS);
	ck_assert_int_eq(s->serial, 200);
	munmap(s, sizeof(*s));
}
END_TEST

/* fork() while other threads use the locks: the atfork pattern keeps them
 * consistent, and the child can lock, wait and start threads of its own.
 * The recursive mutex, free at fork, must work in the child too (its owner
 * checks use the child's own thread id). A mutex held across fork by a thread
 * that does not exist in the child stays unusable there, on glibc too, and a
 * rwlock with readers queued at fork as well, so neither is tested. */
static pthread_mutex_t f_m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t f_rec = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static pthread_cond_t f_c = PTHREAD_COND_INITIALIZER;
static volatile int f_stop;
static long f_count;
static int f_started;

static void f_prepare(void)
{
	pthread_mutex_lock(&f_m);
}
static void f_release(void)
{
	pthread_mutex_unlock(&f_m);
}

static void *f_busy(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&f_started, 1, __ATOMIC_SEQ_CST);
	while (!__atomic_load_n(&f_stop, __ATOMIC_RELAXED)) {
		pthread_mutex_lock(&f_m);
		f_count++;
		pthread_cond_broadcast(&f_c);
		pthread_mutex_unlock(&f_m);
	}
	return NULL;
}

static void *f_child_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&f_m);
	f_count = -1;
	pthread_cond_signal(&f_c);
	pthread_mutex_unlock(&f_m);
	return NULL;
}

static int child_main(void)
{
	pthread_t t;

	if (pthread_mutex_lock(&f_rec) || pthread_mutex_unlock(&f_rec))
		return 1;
	pthread_mutex_lock(&f_m);
	f_count = 0;
	if (pthread_create(&t, NULL, f_child_thread, NULL))
		return 3;
	while (f_count != -1)
		pthread_cond_wait(&f_c, &f_m);
	pthread_mutex_unlock(&f_m);
	pthread_join(t, NULL);
	return 0;
}

START_TEST(fork_with_threads)
{
	pthread_t t[3];
	int status;

	CONF_OK(pthread_atfork(f_prepare, f_release, f_release));
	for (int i = 0; i < 3; i++)
		CONF_OK(pthread_create(&t[i], NULL, f_busy, NULL));
	/* Fork once they hammer the locks, not while they are still starting:
	 * a sanitizer runtime allocates in thread start-up under a lock that a
	 * fork would leave held in the child. */
	while (__atomic_load_n(&f_started, __ATOMIC_SEQ_CST) < 3)
		sched_yield();
	for (int i = 0; i < 8; i++) {
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(child_main());
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	__atomic_store_n(&f_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		CONF_OK(pthread_join(t[i], NULL));
}
END_TEST

Suite *conf_process_suite(void)
{
	Suite *s = suite_create("process");
	TCase *tc = tcase_create("process");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pshared_fork);
	tcase_add_test(tc, fork_with_threads);
	suite_add_tcase(s, tc);
	return s;
}
