/* f2_barrier_t: error codes, one serial thread per round, rounds really
 * separate the threads, reuse at once, EBUSY while a round is in progress,
 * destroy and free right after wait returns (ASan), nobody waits for a
 * released thread to leave, and with more threads than CPUs a waiter yields
 * once before it parks. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "f2sync/barrier.h"
#include "f2sync/runtime.h"
#include "common/testutil.h"
#include "common/fifo_pair.h"

#define CK(x) ck_assert_int_eq((x), 0)

static pthread_t spawn(void *(*fn)(void *), void *arg)
{
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, fn, arg), 0);
	return t;
}

START_TEST(test_init_destroy_errors)
{
	f2_barrier_t b;

	ck_assert_uint_le(sizeof(f2_barrier_t), 32);
	memset(&b, 0, sizeof b);
	ck_assert_int_eq(f2_barrier_wait(&b), EINVAL);    /* never initialised */
	ck_assert_int_eq(f2_barrier_destroy(&b), EINVAL);
	ck_assert_int_eq(f2_barrier_init(&b, 0), EINVAL);
	ck_assert_int_eq(f2_barrier_init(&b, F2_BARRIER_MAX + 1u), EINVAL);
	CK(f2_barrier_init(&b, F2_BARRIER_MAX));
	CK(f2_barrier_destroy(&b));
	CK(f2_barrier_init(&b, 3));
	CK(f2_barrier_destroy(&b));
	ck_assert_int_eq(f2_barrier_destroy(&b), EINVAL); /* twice */
	ck_assert_int_eq(f2_barrier_wait(&b), EINVAL);    /* destroyed */
	/* white-box: waiters spin only when the threads fit the online CPUs */
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	CK(f2_barrier_init(&b, (unsigned)cpus + 1));
	ck_assert_uint_eq(b.count >> 31, 0); /* bit 31: waiters spin */
	CK(f2_barrier_destroy(&b));
	CK(f2_barrier_init(&b, (unsigned)cpus));
	ck_assert_uint_eq(b.count >> 31, 1);
	CK(f2_barrier_destroy(&b));
	CK(f2_barrier_init(&b, 1));                       /* re-init */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(f2_barrier_wait(&b), F2_BARRIER_SERIAL_THREAD);
	CK(f2_barrier_destroy(&b));
}
END_TEST

/* ---- rounds ------------------------------------------------------------- */

#define ROUNDS 2000

struct rounds {
	f2_barrier_t b;
	unsigned n;
	unsigned arrived[ROUNDS];  /* threads that reached round r */
	unsigned serial[ROUNDS];   /* serial returns in round r */
	int early;                 /* someone left round r before all arrived */
	int bad_ret;
};

static void *rounds_thread(void *p)
{
	struct rounds *s = p;
	for (int r = 0; r < ROUNDS; r++) {
		__atomic_add_fetch(&s->arrived[r], 1, __ATOMIC_RELAXED);
		int ret = f2_barrier_wait(&s->b);
		if (ret == F2_BARRIER_SERIAL_THREAD)
			__atomic_add_fetch(&s->serial[r], 1, __ATOMIC_RELAXED);
		else if (ret != 0)
			__atomic_store_n(&s->bad_ret, 1, __ATOMIC_RELAXED);
		/* the barrier orders the relaxed increments of every thread */
		if (__atomic_load_n(&s->arrived[r], __ATOMIC_RELAXED) != s->n)
			__atomic_store_n(&s->early, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static const unsigned thread_counts[] = { 2, 3, 5, 16 };

/* Exactly one serial return per round, nobody leaves a round before all
 * arrived, rounds back to back with no pause (reuse at once); 16 threads is
 * more than the cores. */
START_TEST(test_serial_once_per_round)
{
	static struct rounds s;
	unsigned n = thread_counts[_i];
	pthread_t t[16];

	memset(&s, 0, sizeof s);
	s.n = n;
	CK(f2_barrier_init(&s.b, n));
	for (unsigned i = 0; i < n; i++)
		t[i] = spawn(rounds_thread, &s);
	for (unsigned i = 0; i < n; i++)
		CK(pthread_join(t[i], NULL));
	ck_assert_int_eq(s.early, 0);
	ck_assert_int_eq(s.bad_ret, 0);
	for (int r = 0; r < ROUNDS; r++)
		ck_assert_uint_eq(s.serial[r], 1);
	CK(f2_barrier_destroy(&s.b));
}
END_TEST

/* ---- destroy while in use -------------------------------------------------- */

struct one {
	f2_barrier_t *b;
	int ret;
};

static void *one_wait(void *p)
{
	struct one *w = p;
	w->ret = f2_barrier_wait(w->b);
	return NULL;
}

START_TEST(test_destroy_busy)
{
	f2_barrier_t b;
	struct one w = { &b, -2 };

	CK(f2_barrier_init(&b, 2));
	pthread_t t = spawn(one_wait, &w);
	/* white-box: an arrival makes the word nonzero (an idle round is 0) */
	while (__atomic_load_n(&b.seq, __ATOMIC_ACQUIRE) == 0)
		sched_yield();
	ck_assert_int_eq(f2_barrier_destroy(&b), EBUSY);
	ck_assert_int_eq(f2_barrier_destroy(&b), EBUSY);
	int mine = f2_barrier_wait(&b); /* the barrier still works */
	CK(pthread_join(t, NULL));
	ck_assert_int_eq(mine + w.ret, F2_BARRIER_SERIAL_THREAD);
	CK(f2_barrier_destroy(&b));
}
END_TEST

/* ---- nobody waits for the others to leave --------------------------------- */

/* A thread released from its park is stalled (in the runtime's after-park
 * hook) before it leaves the wait: every other thread of the round, the first
 * arrival included, must still return. The old design made the first arrival
 * wait until every other thread had left the round's state on its stack. */
static _Thread_local int stall_me;
static long parks;            /* atomic: parks begun */
static int stall_go;          /* atomic: lets the stalled thread go on */

static void count_park(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&parks, 1, __ATOMIC_RELEASE);
}

static void stall_after_park(void *arg)
{
	(void)arg;
	while (stall_me && !__atomic_load_n(&stall_go, __ATOMIC_ACQUIRE))
		usleep(1000);
}

static void *stalled_wait(void *p)
{
	struct one *w = p;
	stall_me = 1;
	w->ret = f2_barrier_wait(w->b);
	return NULL;
}

static void wait_parks(long n)
{
	while (__atomic_load_n(&parks, __ATOMIC_ACQUIRE) < n)
		usleep(1000);
	usleep(20000); /* let the parker reach its futex wait (a wake before it is absorbed too) */
}

START_TEST(test_no_wait_for_leavers)
{
	static f2_barrier_t b;
	struct one first = { &b, -2 }, stalled = { &b, -2 };

	CK(f2_barrier_init(&b, 3));
	__atomic_store_n(&parks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&stall_go, 0, __ATOMIC_RELAXED);
	CK(f2_set_park_hooks(count_park, stall_after_park, NULL));
	pthread_t t1 = spawn(one_wait, &first);      /* the first arrival */
	wait_parks(1);
	pthread_t t2 = spawn(stalled_wait, &stalled);
	wait_parks(2);
	int mine = f2_barrier_wait(&b);              /* the last arrival */
	ck_assert_int_eq(mine, F2_BARRIER_SERIAL_THREAD);
	struct timespec limit;
	clock_gettime(CLOCK_REALTIME, &limit);
	limit.tv_sec += 20;
	ck_assert_msg(pthread_timedjoin_np(t1, NULL, &limit) == 0,
		      "the first arrival waits for a released thread to leave");
	ck_assert_int_eq(first.ret, 0);
	CK(f2_barrier_destroy(&b));                   /* nobody uses it any more */
	__atomic_store_n(&stall_go, 1, __ATOMIC_RELEASE);
	CK(pthread_join(t2, NULL));
	ck_assert_int_eq(stalled.ret, 0);
	CK(f2_set_park_hooks(NULL, NULL, NULL));
}
END_TEST

/* A round in which a waiter had parked before the last arrival came (its
 * spin gave up) makes the next three rounds park without spinning; each
 * reset counts that down (white-box: joined bits 29-30, barrier.md). */
START_TEST(test_spin_backoff)
{
	static f2_barrier_t b;
	struct one first = { &b, -2 };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	CK(f2_barrier_init(&b, 2));
	unsigned spins = b.count >> 31;               /* 2 threads fit the CPUs */
	ck_assert_uint_eq(spins, cpus >= 2);
	__atomic_store_n(&parks, 0, __ATOMIC_RELAXED);
	CK(f2_set_park_hooks(count_park, NULL, NULL));
	pthread_t t = spawn(one_wait, &first);
	wait_parks(1);                                /* it spun, gave up, parked */
	ck_assert_int_eq(f2_barrier_wait(&b), F2_BARRIER_SERIAL_THREAD);
	CK(pthread_join(t, NULL));
	CK(f2_set_park_hooks(NULL, NULL, NULL));
	for (unsigned left = 3; ; left--) {
		unsigned backoff = __atomic_load_n(&b.joined, __ATOMIC_ACQUIRE) >> 29 & 3;
		ck_assert_uint_eq(backoff, spins ? left : 0);
		if (!left)
			break;
		t = spawn(one_wait, &first);
		f2_barrier_wait(&b);
		CK(pthread_join(t, NULL));
	}
	CK(f2_barrier_destroy(&b));
}
END_TEST

/* ---- more threads than CPUs: give the CPU away before parking -------------- */

/* The test's own sched_yield (the library is linked in statically, so its
 * calls come here): while hold_yields is set, a yield is counted and lasts
 * until the round is over, as if the yielder's CPU had run the last arrival
 * meanwhile; otherwise it is the plain system call. */
static int hold_yields;       /* atomic */
static long held_yields;      /* atomic: yields begun while holding */
static int round_over;        /* atomic */

int sched_yield(void)
{
	if (__atomic_load_n(&hold_yields, __ATOMIC_ACQUIRE)) {
		__atomic_add_fetch(&held_yields, 1, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&round_over, __ATOMIC_ACQUIRE))
			usleep(1000);
	}
	return (int)syscall(SYS_sched_yield);
}

/* With more threads than CPUs a waiter yields once before it parks
 * (barrier.md, "Waiting"): a round whose last thread arrives during those
 * yields ends with no park and no wake. Before, every waiter parked at once. */
START_TEST(test_yield_before_park)
{
	static f2_barrier_t b;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = (unsigned)(cpus > 0 ? cpus : 1) + 1;
	struct one *w = calloc(n, sizeof *w);
	pthread_t *t = calloc(n, sizeof *t);

	ck_assert(w && t);
	CK(f2_barrier_init(&b, n));
	ck_assert_uint_eq(b.count >> 31, 0);          /* more threads than CPUs: no spin */
	__atomic_store_n(&parks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&held_yields, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&round_over, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&hold_yields, 1, __ATOMIC_RELEASE);
	CK(f2_set_park_hooks(count_park, NULL, NULL));
	for (unsigned i = 0; i + 1 < n; i++) {
		w[i] = (struct one){ &b, -2 };
		t[i] = spawn(one_wait, &w[i]);
	}
	/* every waiter is either in its yield or parked (the old design) */
	while (__atomic_load_n(&held_yields, __ATOMIC_ACQUIRE) +
	       __atomic_load_n(&parks, __ATOMIC_ACQUIRE) < (long)n - 1)
		usleep(1000);
	ck_assert_int_eq(f2_barrier_wait(&b), F2_BARRIER_SERIAL_THREAD);
	__atomic_store_n(&round_over, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i + 1 < n; i++) {
		CK(pthread_join(t[i], NULL));
		ck_assert_int_eq(w[i].ret, 0);
	}
	__atomic_store_n(&hold_yields, 0, __ATOMIC_RELEASE);
	CK(f2_set_park_hooks(NULL, NULL, NULL));
	ck_assert_int_eq(__atomic_load_n(&held_yields, __ATOMIC_ACQUIRE), (long)n - 1);
	ck_assert_int_eq(__atomic_load_n(&parks, __ATOMIC_ACQUIRE), 0);
	CK(f2_barrier_destroy(&b));
	free(w);
	free(t);
}
END_TEST

/* ---- free right after wait --------------------------------------------------- */

struct freeing {
	f2_barrier_t outer;        /* separates the iterations */
	f2_barrier_t *inner;       /* a fresh heap barrier each iteration */
	unsigned n;
	int iters;
	int by_serial;             /* the serial thread frees, else thread 0 */
	int destroy_ret;
};

struct freeing_arg {
	struct freeing *f;
	unsigned id;
};

static void *freeing_thread(void *p)
{
	struct freeing_arg *a = p;
	struct freeing *f = a->f;

	for (int i = 0; i < f->iters; i++) {
		if (a->id == 0) {
			f->inner = malloc(sizeof *f->inner);
			CK(f2_barrier_init(f->inner, f->n));
		}
		f2_barrier_wait(&f->outer);  /* publishes inner */
		f2_barrier_t *b = f->inner;
		int r = f2_barrier_wait(b);
		int mine = f->by_serial ? r == F2_BARRIER_SERIAL_THREAD : a->id == 0;
		if (mine) {
			/* others may still be returning from wait: they no longer use b */
			int d = f2_barrier_destroy(b);
			if (d)
				f->destroy_ret = d;
			free(b);
		}
		f2_barrier_wait(&f->outer);  /* b is gone before the next malloc */
	}
	return NULL;
}

START_TEST(test_free_right_after_wait)
{
	static struct freeing f;
	struct freeing_arg a[8];
	pthread_t t[8];

	memset(&f, 0, sizeof f);
	f.n = 8;
	f.iters = 400;
	f.by_serial = _i;
	CK(f2_barrier_init(&f.outer, f.n));
	for (unsigned i = 0; i < f.n; i++) {
		a[i] = (struct freeing_arg){ &f, i };
		t[i] = spawn(freeing_thread, &a[i]);
	}
	for (unsigned i = 0; i < f.n; i++)
		CK(pthread_join(t[i], NULL));
	ck_assert_int_eq(f.destroy_ret, 0);
	CK(f2_barrier_destroy(&f.outer));
}
END_TEST

/* ---- SCHED_FIFO: no wait may need the other thread to run ------------------- */

static void fifo_step(void *b)
{
	int r = f2_barrier_wait(b);
	ck_assert(r == 0 || r == F2_BARRIER_SERIAL_THREAD);
}

/* Two FIFO threads of different priorities on one CPU: a spin or yield loop
 * in the higher one that waits for the lower one never ends (the old owner's
 * exit loop completed zero rounds here). Parking lets the lower one run. */
START_TEST(test_sched_fifo_pair)
{
	static f2_barrier_t b;

	CK(f2_barrier_init(&b, 2));
	long done = fifo_pair_test("check_barrier", fifo_step, &b);
	if (done < 0)
		return;
	ck_assert_msg(done == FIFO_PAIR_ROUNDS, "livelock: %ld of %d rounds in %d s", done,
		      FIFO_PAIR_ROUNDS, FIFO_PAIR_LIMIT_S);
	CK(f2_barrier_destroy(&b));
}
END_TEST

Suite *barrier_suite(void)
{
	Suite *s = suite_create("barrier");
	TCase *tc = tcase_create("contract");
	tcase_add_test(tc, test_init_destroy_errors);
	tcase_add_test(tc, test_destroy_busy);
	tcase_add_test(tc, test_no_wait_for_leavers);
	tcase_add_test(tc, test_spin_backoff);
	tcase_add_test(tc, test_yield_before_park);
	suite_add_tcase(s, tc);

	tc = tcase_create("rounds");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_serial_once_per_round, 0, 4);
	tcase_add_loop_test(tc, test_free_right_after_wait, 0, 2);
	tcase_add_test(tc, test_sched_fifo_pair);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(barrier_suite());
}
